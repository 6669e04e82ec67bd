"""The fused cell-list radial kernels (whole periodic frames) against the brute-force reference."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from glassfix.core.frame import Frame
from glassfix.core.neighbors import neighbor_list
from glassfix.descriptors._radial_fused import fused_layout
from glassfix.descriptors.structure_functions import RadialStructureFunctions

from helpers.radial_reference import assert_close, ka_frame, reference_G

# (n, dim, tilt, cutoff, grid, cutoff_fn): every case is wide enough for the fused path (asserted).
CASES = {
    "3d": (700, 3, False, 2.5, np.arange(0.0, 2.5, 0.1), "none"),
    "3d-cosine": (700, 3, False, 2.5, np.arange(0.0, 2.5, 0.1), "cosine"),
    "3d-triclinic": (1200, 3, True, 1.8, np.arange(0.5, 1.8, 0.1), "none"),
    "2d": (900, 2, False, 3.0, np.arange(0.0, 3.0, 0.1), "none"),
    "3d-nonuniform": (700, 3, False, 2.5, np.array([0.8, 0.95, 1.3, 1.31, 2.2]), "none"),
    "3d-subdivided": (1200, 3, False, 3.0, np.arange(0.0, 3.0, 0.1), "none"),  # cells of r_c/2
}


def _threads() -> list[int]:
    return [1, 2] if numba.config.NUMBA_NUM_THREADS >= 2 else [1]


_REFERENCE: dict[str, np.ndarray] = {}


@pytest.fixture(params=sorted(CASES))
def case(request):
    n, dim, tilt, cutoff, mus, fn = CASES[request.param]
    frame = ka_frame(n, dim, tilt=tilt, seed=3)
    desc = RadialStructureFunctions(2, mus=mus, delta=0.1, cutoff=cutoff, cutoff_fn=fn)
    assert fused_layout(frame.positions, frame.cell, frame.origin, frame.pbc, cutoff) is not None
    if request.param not in _REFERENCE:  # the brute force is the slow part: once per case
        _REFERENCE[request.param] = reference_G(frame, desc.mus, desc.delta, desc.cutoff, 2, desc.cutoff_fn)
    return frame, desc, _REFERENCE[request.param]


@pytest.mark.parametrize("threads", _threads())
def test_fused_matches_bruteforce_and_generic(case, threads) -> None:
    frame, desc, ref = case
    old = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        got = desc.compute(frame)
    finally:
        numba.set_num_threads(old)
    assert_close(got, ref, rel=1e-12)
    generic = desc.compute(frame, neighbors=neighbor_list(frame, desc.cutoff))
    # only the summation order differs: round-off of the largest feature
    assert np.abs(got - generic).max() <= 1e-14 * np.abs(generic).max()


def test_fused_invariances() -> None:
    n, dim, tilt, cutoff, mus, fn = CASES["3d-triclinic"]
    frame = ka_frame(n, dim, tilt=tilt, seed=5)
    assert fused_layout(frame.positions, frame.cell, frame.origin, frame.pbc, cutoff) is not None
    desc = RadialStructureFunctions(2, mus=mus, cutoff=cutoff)
    G = desc.compute(frame)
    rng = np.random.default_rng(0)
    moved = Frame(positions=frame.positions + rng.normal(size=3), types=frame.types, cell=frame.cell,
                  origin=frame.origin)
    assert_close(desc.compute(moved), G, rel=1e-12)
    perm = rng.permutation(frame.n_atoms)
    permuted = Frame(positions=frame.positions[perm], types=frame.types[perm], cell=frame.cell,
                     origin=frame.origin)
    assert_close(desc.compute(permuted), G[perm], rel=1e-12)
    jumps = rng.integers(-2, 3, size=(frame.n_atoms, 3)) @ frame.cell
    imaged = Frame(positions=frame.positions + jumps, types=frame.types, cell=frame.cell, origin=frame.origin)
    assert_close(desc.compute(imaged), G, rel=1e-12)


def test_small_or_open_boxes_fall_back() -> None:
    frame = ka_frame(150, 3, seed=1)  # L = 5.0 < 3 cutoffs of 2.5: generic path
    desc = RadialStructureFunctions(2, mus=np.arange(0.0, 2.5, 0.1), cutoff=2.5)
    assert fused_layout(frame.positions, frame.cell, frame.origin, frame.pbc, 2.5) is None
    assert_close(desc.compute(frame), reference_G(frame, desc.mus, desc.delta, 2.5, 2), rel=1e-12)
    big = ka_frame(700, 3, seed=2)
    open_z = Frame(positions=big.positions, types=big.types, cell=big.cell, origin=big.origin,
                   pbc=[True, True, False])
    assert fused_layout(open_z.positions, open_z.cell, open_z.origin, open_z.pbc, 2.5) is None
    assert_close(desc.compute(open_z), reference_G(open_z, desc.mus, desc.delta, 2.5, 2), rel=1e-12)
