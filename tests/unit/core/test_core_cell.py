"""Periodic-cell helpers: widths, fractional coordinates, wrapping, minimum image, LAMMPS boxes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from glassfix.core import (
    cell_to_lammps_box,
    lammps_box_to_cell,
    minimum_image,
    perpendicular_widths,
    to_cartesian,
    to_fractional,
    wrap_positions,
)

TRICLINIC_3D = np.array([[6.0, 0.0, 0.0], [4.5, 5.0, 0.0], [-3.0, 3.5, 5.5]])
TRICLINIC_2D = np.array([[10.0, 0.0], [7.0, 8.0]])


def test_perpendicular_widths():
    np.testing.assert_allclose(perpendicular_widths(np.diag([2.0, 3.0, 4.0])), [2.0, 3.0, 4.0])
    # Lower-triangular (LAMMPS) cells: the width along z is lz, along y it is the distance between the
    # planes spanned by a and c, and so on; check against volume / face area.
    for cell in (TRICLINIC_3D, TRICLINIC_2D):
        vol = abs(np.linalg.det(cell))
        d = cell.shape[0]
        expected = []
        for a in range(d):
            others = np.delete(cell, a, axis=0)
            area = np.linalg.norm(np.cross(*others)) if d == 3 else np.linalg.norm(others[0])
            expected.append(vol / area)
        np.testing.assert_allclose(perpendicular_widths(cell), expected, rtol=1e-14)
    np.testing.assert_allclose(perpendicular_widths(TRICLINIC_3D)[2], 5.5)
    np.testing.assert_allclose(perpendicular_widths(TRICLINIC_2D)[1], 8.0)


@pytest.mark.parametrize("cell", [TRICLINIC_3D, TRICLINIC_2D])
def test_fractional_round_trip(cell):
    rng = np.random.default_rng(0)
    origin = rng.normal(size=cell.shape[0])
    x = rng.normal(scale=20.0, size=(50, cell.shape[0]))
    s = to_fractional(x, cell, origin)
    np.testing.assert_allclose(to_cartesian(s, cell, origin), x, atol=1e-12)
    np.testing.assert_allclose(origin + s @ cell, x, atol=1e-12)
    # A single vector works too.
    np.testing.assert_allclose(to_fractional(x[0], cell, origin), s[0])


@pytest.mark.parametrize("cell", [TRICLINIC_3D, TRICLINIC_2D, np.diag([3.0, 4.0, 5.0])])
def test_wrap_positions(cell):
    rng = np.random.default_rng(1)
    d = cell.shape[0]
    origin = rng.normal(size=d)
    s = rng.random((100, d))
    inside = origin + s @ cell
    jumps = rng.integers(-30, 31, size=(100, d))
    outside = inside + jumps @ cell
    wrapped = wrap_positions(outside, cell, origin)
    np.testing.assert_allclose(wrapped, inside, atol=1e-11)
    sw = to_fractional(wrapped, cell, origin)
    assert (sw > -1e-12).all() and (sw < 1 + 1e-12).all()


def test_wrap_partial_pbc_and_edges():
    cell = np.diag([2.0, 3.0, 4.0])
    x = np.array([[-0.5, 7.0, -9.0], [2.0, -1e-17, 4.5]])
    w = wrap_positions(x, cell, pbc=[True, True, False])
    np.testing.assert_allclose(w, [[1.5, 1.0, -9.0], [0.0, 0.0, 4.5]], atol=1e-15)
    # Open-axis components are left bit-identical.
    assert w[0, 2] == -9.0 and w[1, 2] == 4.5
    # -1e-17 would wrap to exactly L by rounding; it must land at 0 (inside [0, L)).
    assert w[1, 1] == 0.0


def brute_minimum_image(v, cell, pbc):
    """Shortest image of each vector by trying every lattice translation that could possibly be shorter.

    If |v + n @ cell| <= |v| then |s_a + n_a| <= |v| / w_a and |s_a| <= |v| / w_a, so |n_a| <= 2|v| / w_a.
    """
    widths = perpendicular_widths(cell)
    vmax = np.linalg.norm(v, axis=1).max()
    reach = [int(np.ceil(2 * vmax / w)) if p else 0 for w, p in zip(widths, pbc)]
    n = np.array(list(itertools.product(*[range(-r, r + 1) for r in reach])), dtype=np.float64)
    translations = n @ cell
    out = np.empty_like(v)
    for k, vec in enumerate(v):
        cand = vec + translations
        out[k] = cand[np.argmin(np.einsum("ij,ij->i", cand, cand))]
    return out


@pytest.mark.parametrize(
    "cell,pbc",
    [
        (TRICLINIC_3D, [True, True, True]),
        (TRICLINIC_3D, [True, False, True]),
        (TRICLINIC_2D, [True, True]),
        # Very skewed (tilt 3.4 box lengths): needs more than the +-1 neighbouring images.
        (np.array([[1.0, 0.0, 0.0], [3.4, 1.0, 0.0], [0.3, -2.6, 1.2]]), [True, True, True]),
    ],
)
def test_minimum_image_matches_brute_force(cell, pbc):
    rng = np.random.default_rng(2)
    pbc = np.array(pbc)
    scale = 6.0 * perpendicular_widths(cell).min()
    v = rng.normal(scale=scale, size=(100, cell.shape[0]))
    mi = minimum_image(v, cell, pbc)
    ref = brute_minimum_image(v, cell, pbc)
    np.testing.assert_allclose(np.linalg.norm(mi, axis=1), np.linalg.norm(ref, axis=1), atol=1e-12)
    # The result is v plus an integer lattice translation along periodic axes only.
    n = (mi - v) @ np.linalg.inv(cell)
    np.testing.assert_allclose(n, np.round(n), atol=1e-9)
    assert np.all(np.round(n)[:, ~pbc] == 0)


def test_minimum_image_shapes():
    cell = np.diag([2.0, 2.0, 2.0])
    np.testing.assert_allclose(minimum_image(np.array([1.9, -1.2, 0.4]), cell), [-0.1, 0.8, 0.4])
    assert minimum_image(np.zeros((0, 3)), cell).shape == (0, 3)
    np.testing.assert_array_equal(minimum_image(np.array([[5.0, 5.0, 5.0]]), cell, pbc=False), [[5, 5, 5]])


def test_lammps_box_round_trip_3d():
    lo = np.array([-1.5, 0.25, 3.0])
    hi = np.array([4.5, 5.25, 8.5])
    cell, origin = lammps_box_to_cell(lo, hi, xy=1.2, xz=-0.7, yz=0.4)
    np.testing.assert_array_equal(cell, [[6.0, 0, 0], [1.2, 5.0, 0], [-0.7, 0.4, 5.5]])
    np.testing.assert_array_equal(origin, lo)
    box = cell_to_lammps_box(cell, origin)
    np.testing.assert_array_equal(box["lo"], lo)
    np.testing.assert_array_equal(box["hi"], hi)
    assert (box["xy"], box["xz"], box["yz"]) == (1.2, -0.7, 0.4)


def test_lammps_box_round_trip_2d():
    cell, origin = lammps_box_to_cell([0.0, -2.0], [10.0, 6.0], xy=7.0)
    np.testing.assert_array_equal(cell, TRICLINIC_2D)
    box = cell_to_lammps_box(cell, origin)
    np.testing.assert_array_equal(box["hi"], [10.0, 6.0])
    assert box["xy"] == 7.0 and box["xz"] == 0.0 and box["yz"] == 0.0
    with pytest.raises(ValueError, match="2D"):
        lammps_box_to_cell([0, 0], [1, 1], xz=0.5)


def test_cell_to_lammps_box_rejects_non_lammps_cells():
    with pytest.raises(ValueError, match="lower-triangular"):
        cell_to_lammps_box(TRICLINIC_3D.T)
    with pytest.raises(ValueError, match="positive"):
        cell_to_lammps_box(np.diag([1.0, -1.0, 1.0]))
    with pytest.raises(ValueError, match="positive"):
        lammps_box_to_cell([0, 0, 0], [1, 0, 1])
    with pytest.raises(ValueError):
        perpendicular_widths(np.eye(4))
