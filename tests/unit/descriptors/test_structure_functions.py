"""RadialStructureFunctions against a brute-force reference (pairs × periodic images), invariances, contracts."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from glassfix.core.frame import Frame, NeighborList
from glassfix.descriptors.base import descriptor_from_spec
from glassfix.descriptors.structure_functions import RadialStructureFunctions

# ---------------------------------------------------------------------------------------------------
# brute-force helpers (independent of glassfix.core.neighbors)
# ---------------------------------------------------------------------------------------------------


from helpers.radial_reference import assert_close, brute_neighbor_list, image_shifts, ka_frame, reference_G  # noqa: E402,F401


FRAMES = {
    "cubic3d": lambda: ka_frame(300, 3),
    "triclinic3d": lambda: ka_frame(200, 3, tilt=True, seed=1),
    "square2d": lambda: ka_frame(300, 2, seed=2),
}


@pytest.mark.parametrize("name", list(FRAMES))
@pytest.mark.parametrize("cutoff_fn", ["none", "cosine"])
def test_matches_bruteforce(name: str, cutoff_fn: str) -> None:
    frame = FRAMES[name]()
    desc = RadialStructureFunctions(2, cutoff_fn=cutoff_fn)  # thesis grid 0.0..4.9, δ = 0.1, rc = 5.4
    centers = np.arange(0, frame.n_atoms, 3) if cutoff_fn == "cosine" else None  # keep the runtime small
    nl = brute_neighbor_list(frame, desc.cutoff, centers)
    G = desc.compute(frame, neighbors=nl)
    ref = reference_G(frame, desc.mus, desc.delta, desc.cutoff, 2, cutoff_fn, centers)
    assert G.dtype == np.float64 and G.shape == ref.shape == (nl.n_centers, 100)
    assert np.abs(ref).max() > 1.0  # the comparison is not trivially 0 == 0
    assert_close(G, ref)


GRIDS = {
    "nonuniform": (np.array([0.3, 0.5, 0.55, 0.9, 1.4, 2.6, 3.0]), 0.1, None),  # direct-exp path
    "narrow": (np.arange(0.2, 3.0, 0.1), 0.01, 3.5),  # h/δ = 10: ratios underflow
    "wide": (np.arange(0.0, 5.0, 0.05), 1.0, 5.5),  # every term significant: worst error growth
    "far_below": (np.arange(0.5, 1.0, 0.1), 0.1, 6.0),  # most r far above the grid
    "far_above": (np.arange(4.0, 5.0, 0.1), 0.1, 5.0),  # most r below the grid
}


@pytest.mark.parametrize("grid", list(GRIDS))
def test_grids_match_bruteforce(grid: str) -> None:
    mus, delta, cutoff = GRIDS[grid]
    frame = ka_frame(150, 2, seed=9)
    desc = RadialStructureFunctions(2, mus=mus, delta=delta, cutoff=cutoff, cutoff_fn="cosine")
    assert desc._uniform == (grid != "nonuniform")
    G = desc.compute(frame, neighbors=brute_neighbor_list(frame, desc.cutoff))
    ref = reference_G(frame, desc.mus, desc.delta, desc.cutoff, 2, "cosine")
    assert_close(G, ref)
    # also per feature (column): relative to that feature's own scale over the atoms. Terms below
    # 1e-18 are skipped by the kernel (see _NEGLIGIBLE), so features that are empty by construction
    # (grid points no neighbour comes near, ~1e-20 and below) are compared absolutely.
    col_scale = np.abs(ref).max(axis=0)
    err = np.abs(G - ref).max(axis=0)
    assert np.all(err <= np.maximum(1e-10 * col_scale, 1e-16))


def test_species_channel_uses_neighbour_type() -> None:
    """A lone A–B pair at r = 1: the A atom sees exactly 1 in G_B(r=1.0), nothing in G_A."""
    frame = Frame(positions=[[0.0, 0, 0], [1.0, 0, 0]], types=[0, 1], cell=np.eye(3) * 20.0)
    desc = RadialStructureFunctions(2, mus=[0.5, 1.0, 1.5], delta=0.2)
    G = desc.compute(frame, neighbors=brute_neighbor_list(frame, desc.cutoff))
    assert desc.names == [f"G_{s}(r={m})" for s in "AB" for m in ("0.50", "1.00", "1.50")]
    assert np.array_equal(G[0, :3], np.zeros(3)) and G[0, 4] == 1.0
    assert np.array_equal(G[1, 3:], np.zeros(3)) and G[1, 1] == 1.0
    np.testing.assert_allclose(G[0, 3], math.exp(-0.25 / 0.08), rtol=1e-15)


def test_uses_own_neighbor_list_when_available() -> None:
    pytest.importorskip("glassfix.core.neighbors")
    frame = FRAMES["triclinic3d"]()
    desc = RadialStructureFunctions(2, mus=np.arange(0.5, 3.0, 0.1))
    G = desc.compute(frame, centers=np.arange(0, 200, 7))
    ref = reference_G(frame, desc.mus, desc.delta, desc.cutoff, 2, centers=np.arange(0, 200, 7))
    assert_close(G, ref)


# ---------------------------------------------------------------------------------------------------
# invariances and list handling
# ---------------------------------------------------------------------------------------------------


def _G(frame: Frame, desc: RadialStructureFunctions, cutoff: float | None = None) -> np.ndarray:
    return desc.compute(frame, neighbors=brute_neighbor_list(frame, cutoff or desc.cutoff))


@pytest.fixture(scope="module")
def small_case():
    frame = ka_frame(150, 3, seed=3)
    desc = RadialStructureFunctions(2, mus=np.arange(0.0, 3.0, 0.1), species_names=["A", "B"])
    return frame, desc, _G(frame, desc)


def test_translation_invariance(small_case) -> None:
    frame, desc, G = small_case
    moved = Frame(positions=frame.positions + np.array([0.37, -1.9, 12.3]), types=frame.types, cell=frame.cell)
    assert_close(_G(moved, desc), G, rel=1e-11)


def test_permutation_invariance(small_case) -> None:
    frame, desc, G = small_case
    perm = np.random.default_rng(7).permutation(frame.n_atoms)
    shuffled = Frame(positions=frame.positions[perm], types=frame.types[perm], cell=frame.cell)
    assert_close(_G(shuffled, desc), G[perm], rel=1e-12)


def test_periodic_image_invariance(small_case) -> None:
    frame, desc, G = small_case
    rng = np.random.default_rng(8)
    jumps = rng.integers(-1, 2, size=(frame.n_atoms, 3)) @ frame.cell  # move atoms by lattice vectors
    imaged = Frame(positions=frame.positions + jumps, types=frame.types, cell=frame.cell)
    nl = brute_neighbor_list(imaged, desc.cutoff, extra=1)  # atoms now lie up to 1 box out
    assert_close(desc.compute(imaged, neighbors=nl), G, rel=1e-11)


def test_overlong_list_is_filtered_bit_for_bit(small_case) -> None:
    """A LAMMPS-style list to cutoff + skin gives exactly the exact list's features."""
    frame, desc, G = small_case
    long_nl = brute_neighbor_list(frame, desc.cutoff + 0.5)
    assert long_nl.n_pairs > brute_neighbor_list(frame, desc.cutoff).n_pairs
    assert np.array_equal(desc.compute(frame, neighbors=long_nl), G)


def test_deterministic_and_rows_independent_of_batch(small_case) -> None:
    frame, desc, G = small_case
    assert np.array_equal(_G(frame, desc), G)
    sub = np.array([5, 0, 77, 3])
    nl = brute_neighbor_list(frame, desc.cutoff, sub)
    assert np.array_equal(desc.compute(frame, neighbors=nl), G[sub])


def test_local_plus_ghost_frame_like_lammps() -> None:
    """Non-periodic frame of local atoms + explicit ghost images, list to cutoff + skin (plugin path)."""
    frame = ka_frame(120, 2, seed=4)
    desc = RadialStructureFunctions(2, mus=np.arange(0.0, 4.0, 0.1))
    shifts = image_shifts(frame, desc.cutoff)
    ghosts = (frame.positions[None, :, :] + shifts[:, None, :]).reshape(-1, 2)
    gtypes = np.tile(frame.types, len(shifts))
    keep = ~np.all(shifts == 0, axis=1).repeat(frame.n_atoms)
    pos = np.concatenate([frame.positions, ghosts[keep]])
    types = np.concatenate([frame.types, gtypes[keep]])
    ext = Frame(positions=pos, types=types, cell=np.eye(2), pbc=[False, False])
    rc_list = desc.cutoff + 0.3
    offsets, nbrs, vecs = [0], [], []
    for i in range(frame.n_atoms):
        v = pos - pos[i]
        r = np.linalg.norm(v, axis=1)
        jj = np.nonzero((r > 0) & (r < rc_list))[0]
        nbrs.append(jj), vecs.append(v[jj]), offsets.append(offsets[-1] + jj.size)
    nl = NeighborList(np.arange(frame.n_atoms), np.array(offsets), np.concatenate(nbrs), np.concatenate(vecs), rc_list)
    G = desc.compute(ext, neighbors=nl)
    assert_close(G, reference_G(frame, desc.mus, desc.delta, desc.cutoff, 2))


# ---------------------------------------------------------------------------------------------------
# contract checks
# ---------------------------------------------------------------------------------------------------


def test_short_list_rejected() -> None:
    frame = ka_frame(60, 3, rho=0.5, seed=5)
    desc = RadialStructureFunctions(2, mus=np.arange(0.0, 2.0, 0.1))
    with pytest.raises(ValueError, match="shorter than the descriptor's receptive field"):
        desc.compute(frame, neighbors=brute_neighbor_list(frame, desc.cutoff - 0.5))


def test_unknown_type_rejected() -> None:
    frame = Frame(positions=[[0.0, 0, 0], [1.0, 0, 0]], types=[0, 2], cell=np.eye(3) * 20.0)
    desc = RadialStructureFunctions(2, mus=[1.0])
    with pytest.raises(ValueError, match="species"):
        desc.compute(frame, neighbors=brute_neighbor_list(frame, desc.cutoff))


def test_spec_round_trip_and_registry(small_case) -> None:
    frame, desc, G = small_case
    spec = json.loads(json.dumps(desc.spec()))
    assert spec["kind"] == "radial_structure_functions"
    assert set(spec) >= {"n_species", "mus", "delta", "cutoff", "cutoff_fn", "species_names"}
    again = descriptor_from_spec(spec)
    assert again.spec() == desc.spec() and again.names == desc.names
    assert np.array_equal(_G(frame, again), G)
    with pytest.raises(ValueError, match="unknown descriptor kind 'bogus'"):
        descriptor_from_spec({"kind": "bogus"})
    with pytest.raises(ValueError, match="invalid"):
        descriptor_from_spec({**spec, "not_a_parameter": 1})


def test_defaults_follow_thesis() -> None:
    desc = RadialStructureFunctions(2)
    assert desc.n_features == 100 and desc.mus.size == 50
    assert desc.cutoff == pytest.approx(5.4) and desc.delta == 0.1
    assert desc.names[0] == "G_A(r=0.00)" and desc.names[50] == "G_B(r=0.00)" and desc.names[-1] == "G_B(r=4.90)"
    with pytest.raises(ValueError):
        RadialStructureFunctions(2, cutoff_fn="tanh")
    with pytest.raises(ValueError):
        RadialStructureFunctions(2, delta=0.0)


def test_empty_centre_list_and_isolated_atom() -> None:
    frame = Frame(positions=[[0.0, 0, 0], [9.0, 0, 0]], types=[0, 1], cell=np.eye(3) * 20.0)
    desc = RadialStructureFunctions(2, mus=[1.0, 2.0])
    nl = brute_neighbor_list(frame, desc.cutoff)
    assert nl.n_pairs == 0
    assert np.array_equal(desc.compute(frame, neighbors=nl), np.zeros((2, 4)))
    empty = brute_neighbor_list(frame, desc.cutoff, centers=np.zeros(0, np.int64))
    assert desc.compute(frame, neighbors=empty).shape == (0, 4)
