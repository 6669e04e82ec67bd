"""neighbor_list against a brute-force all-pairs, all-images reference written here in plain numpy."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from glassfix.core import Frame, NeighborList, neighbor_list, perpendicular_widths


def brute_force(frame: Frame, cutoff: float, centers=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(center atom, neighbour atom, vector) for every image with 0 < r < cutoff, by exhaustive search."""
    pos, cell, pbc = frame.positions, frame.cell, frame.pbc
    d = frame.dim
    centers = np.arange(frame.n_atoms) if centers is None else np.asarray(centers)
    widths = perpendicular_widths(cell)
    # After removing the nearest lattice translation, |s_a| <= 1/2, and an image within the cutoff has
    # |s_a + k| < cutoff / w_a, so |k| <= ceil(cutoff / w_a) + 1 covers every image.
    ranges = [range(-(int(np.ceil(cutoff / widths[a])) + 1), int(np.ceil(cutoff / widths[a])) + 2)
              if pbc[a] else range(0, 1) for a in range(d)]
    shifts = np.array(list(itertools.product(*ranges)), dtype=np.float64)
    inv = np.linalg.inv(cell)
    ci, nj, vv = [], [], []
    for i in centers:
        delta = pos - pos[i]
        base = -np.round(delta @ inv) * pbc
        # vec[k, j] = r_j - r_i + (base_j + shift_k) @ cell, all shifts and atoms at once.
        vec = delta[None] + (base[None] + shifts[:, None]) @ cell
        r = np.sqrt((vec ** 2).sum(axis=2))
        k, j = np.nonzero((r > 0) & (r < cutoff))
        ci.append(np.full(j.size, i))
        nj.append(j)
        vv.append(vec[k, j])
    return np.concatenate(ci), np.concatenate(nj), np.concatenate(vv).reshape(-1, d)


def flatten(nl: NeighborList) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(center atom, neighbour atom, vector) per pair of a CSR list."""
    return nl.centers[nl.center_of_pair()], nl.neighbors, nl.vectors


def sort_pairs(ci, nj, vv, decimals: int = 6):
    """Canonical order: by centre, neighbour, then rounded vector."""
    rounded = np.round(vv, decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
    keys = [rounded[:, a] for a in reversed(range(vv.shape[1]))] + [nj, ci]
    order = np.lexsort(keys)
    return ci[order], nj[order], vv[order], rounded[order]


def assert_same_pairs(a, b, atol: float = 1e-12) -> None:
    """Equal as multisets of (centre, neighbour, rounded vector), with vectors equal to atol."""
    ca, na, va, ra = sort_pairs(*a)
    cb, nb, vb, rb = sort_pairs(*b)
    assert ca.shape == cb.shape, f"{ca.size} pairs vs {cb.size} reference pairs"
    np.testing.assert_array_equal(ca, cb)
    np.testing.assert_array_equal(na, nb)
    np.testing.assert_array_equal(ra, rb)
    np.testing.assert_allclose(va, vb, rtol=0, atol=atol)


def check_against_brute(frame: Frame, cutoff: float, centers=None) -> NeighborList:
    nl = neighbor_list(frame, cutoff, centers)
    assert nl.cutoff == cutoff
    assert nl.vectors.shape == (nl.n_pairs, frame.dim)
    d = nl.distances()
    assert ((d > 0) & (d < cutoff)).all()
    assert_same_pairs(flatten(nl), brute_force(frame, cutoff, centers))
    return nl


def random_frame(cell, n, rng, pbc=None, dim=None) -> Frame:
    cell = np.asarray(cell, dtype=np.float64)
    s = rng.random((n, cell.shape[0]))
    origin = rng.normal(size=cell.shape[0])
    return Frame(positions=origin + s @ cell, types=np.zeros(n, dtype=int), cell=cell, origin=origin, pbc=pbc)


TRICLINIC_3D = np.array([[6.0, 0.0, 0.0], [4.5, 5.0, 0.0], [-3.0, 3.5, 5.5]])


def test_orthorhombic_3d():
    rng = np.random.default_rng(1)
    frame = random_frame(np.diag([8.0, 9.0, 7.5]), 500, rng)
    nl = check_against_brute(frame, 2.5)
    assert nl.n_pairs > 0
    # Without self-images, every pair appears once from each side.
    assert nl.n_pairs % 2 == 0


def test_strongly_triclinic_3d():
    rng = np.random.default_rng(2)
    check_against_brute(random_frame(TRICLINIC_3D, 300, rng), 2.2)


def test_rotated_general_cell_3d():
    # Not LAMMPS-restricted (rotated, upper entries non-zero): the cell list only needs a full-rank cell.
    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    check_against_brute(random_frame(TRICLINIC_3D @ q, 200, rng), 2.0)


def test_orthorhombic_2d():
    rng = np.random.default_rng(4)
    check_against_brute(random_frame(np.diag([12.0, 10.0]), 400, rng), 1.7)


def test_triclinic_2d():
    rng = np.random.default_rng(5)
    check_against_brute(random_frame([[10.0, 0.0], [7.0, 8.0]], 300, rng), 1.9)


def test_cutoff_larger_than_box_gives_all_images_3d():
    rng = np.random.default_rng(6)
    frame = random_frame([[2.0, 0.0, 0.0], [0.7, 1.8, 0.0], [0.4, -0.5, 2.2]], 5, rng)
    nl = check_against_brute(frame, 4.5)
    ci, nj, _ = flatten(nl)
    # Atoms see their own periodic images.
    assert (ci == nj).any()
    # Many images of the same neighbour.
    assert np.bincount(nj[ci == 0], minlength=5).max() > 5


def test_cutoff_larger_than_box_2d():
    rng = np.random.default_rng(7)
    check_against_brute(random_frame([[1.5, 0.0], [0.6, 1.2]], 4, rng), 3.3)


def test_single_atom_sees_only_its_images():
    frame = Frame(positions=[[0.3, 0.2, 0.1]], types=[0], cell=np.diag([1.0, 1.5, 2.0]))
    nl = check_against_brute(frame, 1.6)
    np.testing.assert_array_equal(nl.neighbors, 0)
    # +-a, +-b, +-(a+b) do not all fit: |a|=1, |b|=1.5, |a+b|=1.80; so +-a, +-b.
    assert nl.n_pairs == 4


def test_mixed_pbc_open_z():
    rng = np.random.default_rng(8)
    frame = random_frame(np.diag([7.0, 6.0, 5.0]), 300, rng, pbc=[True, True, False])
    # Atoms spread well beyond the nominal z extent: open axes bin the actual positions.
    frame.positions[:, 2] = rng.uniform(-10.0, 20.0, size=300)
    check_against_brute(frame, 2.4)


def test_mixed_pbc_triclinic_open_x():
    rng = np.random.default_rng(9)
    frame = random_frame(TRICLINIC_3D, 200, rng, pbc=[False, True, True])
    check_against_brute(frame, 2.6)


def test_all_open():
    rng = np.random.default_rng(10)
    frame = random_frame(np.diag([5.0, 5.0, 5.0]), 150, rng, pbc=[False, False, False])
    check_against_brute(frame, 1.5)


def test_open_axis_with_degenerate_cell_row():
    rng = np.random.default_rng(11)
    frame = random_frame(np.diag([6.0, 6.0, 4.0]), 150, rng, pbc=[True, True, False])
    flat = Frame(frame.positions, frame.types, np.diag([6.0, 6.0, 0.0]), frame.origin, frame.pbc)
    assert_same_pairs(flatten(neighbor_list(flat, 2.0)), flatten(neighbor_list(frame, 2.0)))


def test_subset_of_centres():
    rng = np.random.default_rng(12)
    frame = random_frame(TRICLINIC_3D, 250, rng)
    centers = np.array([5, 0, 249, 17, 17, 100])
    nl = check_against_brute(frame, 2.3, centers)
    np.testing.assert_array_equal(nl.centers, centers)
    full = neighbor_list(frame, 2.3)
    for k, c in enumerate(centers):
        np.testing.assert_array_equal(
            nl.neighbors[nl.offsets[k]:nl.offsets[k + 1]], full.neighbors[full.offsets[c]:full.offsets[c + 1]]
        )


@pytest.mark.parametrize("cell", [TRICLINIC_3D, np.diag([6.0, 7.0]), np.diag([4.0, 4.0, 4.0])])
def test_unwrapped_positions_far_outside(cell):
    rng = np.random.default_rng(13)
    wrapped = random_frame(cell, 200, rng)
    jumps = rng.integers(-40, 41, size=(200, wrapped.dim))
    far = Frame(wrapped.positions + jumps @ wrapped.cell, wrapped.types, wrapped.cell, wrapped.origin)
    nl = check_against_brute(far, 2.1)
    assert_same_pairs(flatten(nl), flatten(neighbor_list(wrapped, 2.1)), atol=1e-11)


def test_translation_invariance():
    rng = np.random.default_rng(14)
    frame = random_frame(TRICLINIC_3D, 200, rng)
    moved = Frame(frame.positions + np.array([13.3, -7.1, 2.9]), frame.types, frame.cell, frame.origin)
    assert_same_pairs(flatten(neighbor_list(moved, 2.2)), flatten(neighbor_list(frame, 2.2)), atol=1e-11)


def test_permutation_invariance():
    rng = np.random.default_rng(15)
    frame = random_frame(TRICLINIC_3D, 200, rng)
    perm = rng.permutation(200)
    permuted = Frame(frame.positions[perm], frame.types[perm], frame.cell, frame.origin)
    ci, nj, vv = flatten(neighbor_list(permuted, 2.2))
    # Map permuted indices back to the original atoms.
    assert_same_pairs((perm[ci], perm[nj], vv), flatten(neighbor_list(frame, 2.2)))


def test_deterministic_and_within_consistent():
    rng = np.random.default_rng(16)
    frame = random_frame(np.diag([8.0, 8.0, 8.0]), 400, rng)
    a = neighbor_list(frame, 2.5)
    b = neighbor_list(frame, 2.5)
    np.testing.assert_array_equal(a.offsets, b.offsets)
    np.testing.assert_array_equal(a.neighbors, b.neighbors)
    np.testing.assert_array_equal(a.vectors, b.vectors)
    assert_same_pairs(flatten(a.within(1.5)), flatten(neighbor_list(frame, 1.5)))


def test_tiny_cutoff_in_big_box_caps_cells():
    rng = np.random.default_rng(17)
    frame = random_frame(np.diag([1000.0, 1000.0, 1000.0]), 50, rng)
    nl = check_against_brute(frame, 1e-3)
    assert nl.n_pairs == 0


def test_empty_and_invalid():
    empty = Frame(np.zeros((0, 3)), np.zeros(0, dtype=int), np.eye(3))
    nl = neighbor_list(empty, 1.0)
    assert nl.n_centers == 0 and nl.n_pairs == 0
    frame = Frame(np.zeros((2, 2)), [0, 0], np.eye(2))
    with pytest.raises(ValueError):
        neighbor_list(frame, 0.0)
    with pytest.raises(ValueError):
        neighbor_list(frame, 1.0, centers=[2])
    # Two atoms at the same point are not neighbours (r must be > 0), but they see each other's images.
    nl = neighbor_list(frame, 1.2)
    assert nl.n_pairs == 2 * 4 * 2
