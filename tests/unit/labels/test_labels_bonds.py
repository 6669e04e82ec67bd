import os
from pathlib import Path

import numpy as np
import pytest

from glassfix.core.frame import Frame
from glassfix.labels.bonds import bond_breaking, cutoff_matrix, pair_targets
from helpers import REPO


def shared_dir() -> Path:
    env = os.environ.get("GLASSFIX_SHARED")
    return Path(env) if env else REPO.parent / "shared"


BOTAN_CONFIG = shared_dir() / "data" / "ka3d_T0.44_iso_tc07" / "train" / "isoconfig_N4096T0.44_1_tc07.npz"
BOTAN_REFERENCE = shared_dir() / "data" / "botan_reference" / "reference_forward_config1.npz"
BOTAN_L = 15.05658
HAVE_BOTAN = BOTAN_CONFIG.exists() and BOTAN_REFERENCE.exists()


def mi(v, L):
    return v - L * np.round(v / L)


def pairs_bruteforce(x0, L, r_edge):
    """Sorted (i, j, r_ij(0)) for 0 < |r_ij(0)| < r_edge, minimum image in a cubic box (r_edge < L/2)."""
    out = []
    for i in range(len(x0)):
        for j in range(len(x0)):
            v = mi(x0[j] - x0[i], L)
            r = np.sqrt(np.sum(v * v))
            if i != j and r < r_edge:
                out.append((i, j, v))
    return out


def pair_targets_bruteforce(x0, reps, L, r_edge, form):
    pairs = pairs_bruteforce(x0, L, r_edge)
    R = reps.shape[0]
    tgt = np.zeros(len(pairs))
    for e, (i, j, v0) in enumerate(pairs):
        acc = 0.0
        for r in range(R):
            if form == "minimum_image":
                vt = mi(reps[r, j] - reps[r, i], L)
            else:
                vt = v0 + (reps[r, j] - x0[j]) - (reps[r, i] - x0[i])
            acc += np.sqrt(np.sum(vt * vt)) - np.sqrt(np.sum(v0 * v0))
        tgt[e] = acc / R
    ei = np.array([[p[0] for p in pairs], [p[1] for p in pairs]], dtype=np.int64)
    return ei, tgt


def random_system(seed, N=110, R=5, L=6.0, step=0.35):
    rng = np.random.default_rng(seed)
    x0 = rng.uniform(0, L, size=(N, 3))
    reps = x0[None] + rng.normal(scale=step, size=(R, N, 3))
    types = (rng.uniform(size=N) < 0.3).astype(int)
    return Frame(positions=x0, types=types, cell=np.eye(3) * L), reps, L


@pytest.mark.parametrize("form", ["robust", "minimum_image"])
def test_pair_targets_match_bruteforce(form):
    frame, reps, L = random_system(1)
    # one pair that separates by more than half the box: the two forms must then disagree on it
    reps[:, 0] = frame.positions[0] + np.array([2.9, 0.0, 0.0])
    ei, tgt = pair_targets(frame, reps, r_edge=2.0, form=form)
    rei, rtgt = pair_targets_bruteforce(frame.positions, reps, L, 2.0, form)
    np.testing.assert_array_equal(ei, rei)
    np.testing.assert_allclose(tgt, rtgt, rtol=1e-12, atol=1e-13)
    _, per = pair_targets(frame, reps, r_edge=2.0, form=form, per_replica=True)
    assert per.shape == (reps.shape[0], ei.shape[1])
    np.testing.assert_allclose(per.mean(axis=0), tgt, rtol=1e-14, atol=1e-15)
    other = pair_targets(frame, reps, r_edge=2.0, form="minimum_image" if form == "robust" else "robust")[1]
    assert (np.abs(other - tgt) > 0.1).sum() >= 2  # pairs with atom 0 cross half the box
    # symmetric label: E_ij = E_ji
    key = {(a, b): k for k, (a, b) in enumerate(ei.T)}
    back = np.array([key[(b, a)] for a, b in ei.T])
    np.testing.assert_allclose(tgt, tgt[back], rtol=1e-12, atol=1e-14)


def test_robust_follows_pairs_across_half_box_and_deformed_boxes():
    L = 6.0
    x0 = np.array([[1.0, 1.0, 1.0], [2.5, 1.0, 1.0], [4.0, 4.0, 4.0]])
    frame = Frame(positions=x0, types=[0, 0, 0], cell=np.eye(3) * L)
    xt = x0.copy()
    xt[0, 0] -= 1.0
    xt[1, 0] += 1.0  # separation 3.5 > L/2
    ei, rob = pair_targets(frame, xt, r_edge=2.0)
    _, mim = pair_targets(frame, xt, r_edge=2.0, form="minimum_image")
    np.testing.assert_array_equal(ei, [[0, 1], [1, 0]])
    np.testing.assert_allclose(rob, [2.0, 2.0], atol=1e-14)  # 3.5 − 1.5
    np.testing.assert_allclose(mim, [1.0, 1.0], atol=1e-14)  # wrapped to 2.5
    # affine deformation of positions and box: |F r0| − |r0| for every pair (triclinic, unwrapped input)
    rng = np.random.default_rng(2)
    cell0 = np.array([[6.0, 0, 0], [1.0, 5.5, 0], [-0.7, 0.4, 6.3]])
    x = rng.uniform(0, 1, size=(150, 3)) @ cell0 + rng.integers(-2, 3, size=(150, 1)) * cell0[1]
    f = Frame(positions=x, types=np.zeros(150, dtype=int), cell=cell0)
    F = np.eye(3) + 0.3 * rng.uniform(-1, 1, size=(3, 3))
    ei, tgt = pair_targets(f, x @ F.T, r_edge=1.8, cell_t=cell0 @ F.T)
    from glassfix.core.neighbors import neighbor_list
    nl = neighbor_list(f, 1.8)
    src, dst = nl.centers[nl.center_of_pair()], nl.neighbors
    order = np.lexsort((dst, src))
    v0 = nl.vectors[order]
    np.testing.assert_array_equal(ei, np.stack([src[order], dst[order]]))
    np.testing.assert_allclose(tgt, np.linalg.norm(v0 @ F.T, axis=1) - np.linalg.norm(v0, axis=1), atol=1e-12)


def test_pair_targets_argument_checks():
    frame, reps, L = random_system(3, N=20)
    with pytest.raises(ValueError):
        pair_targets(frame, reps, r_edge=3.0, form="minimum_image")  # not below L/2
    with pytest.raises(ValueError):
        pair_targets(frame, reps, form="wrapped")
    with pytest.raises(ValueError):
        pair_targets(frame, reps[:, :-1])


def bond_breaking_bruteforce(x0, types, reps, L, cin, cout, centers):
    out = np.zeros((reps.shape[0], len(centers)))
    for c, i in enumerate(centers):
        bonds = []
        for j in range(len(x0)):
            v = mi(x0[j] - x0[i], L)
            if j != i and np.sqrt(np.sum(v * v)) < cin[types[i], types[j]]:
                bonds.append((j, v))
        for r in range(reps.shape[0]):
            if not bonds:
                out[r, c] = np.nan
                continue
            alive = 0
            for j, v in bonds:
                vt = v + (reps[r, j] - x0[j]) - (reps[r, i] - x0[i])
                alive += np.sqrt(np.sum(vt * vt)) < cout[types[i], types[j]]
            out[r, c] = alive / len(bonds)
    return out


@pytest.mark.parametrize("hysteresis", [False, True])
def test_bond_breaking_matches_bruteforce(hysteresis):
    frame, reps, L = random_system(5, step=0.3)
    sigma = np.array([[1.0, 0.8], [0.8, 0.88]])
    cin = cutoff_matrix(sigma, 1.485)
    cout = cutoff_matrix(sigma, 1.7) if hysteresis else cin
    centers = np.flatnonzero(frame.types == 0)
    got = bond_breaking(frame, reps, cin, cout if hysteresis else None, centers=centers, per_replica=True)
    ref = bond_breaking_bruteforce(frame.positions, frame.types, reps, L, cin, cout, centers)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-15)
    assert 0.2 < np.nanmean(got) < 0.99
    mean = bond_breaking(frame, reps, cin, cout if hysteresis else None, centers=centers)
    np.testing.assert_allclose(mean, ref.mean(axis=0), atol=1e-15)
    # minimum-image form agrees while no pair separates beyond half the box
    mim = bond_breaking(frame, reps, cin, cout, centers=centers, form="minimum_image", per_replica=True)
    np.testing.assert_allclose(mim, ref, atol=1e-15)


def test_bond_breaking_simple_cases():
    L = 6.0
    g = np.arange(6, dtype=float)
    x0 = np.array([[a, b, c] for a in g for b in g for c in g])  # simple cubic, 6 bonds within 1.2
    frame = Frame(positions=x0, types=np.zeros(len(x0), dtype=int), cell=np.eye(3) * L)
    assert np.all(bond_breaking(frame, x0, 1.2) == 1.0)
    xt = x0.copy()
    xt[0] += [2.5, 2.5, 0.0]  # unwrapped far move: atom 0 loses all 6 bonds, each neighbour loses 1
    cb = bond_breaking(frame, xt, 1.2)
    assert cb[0] == 0.0
    nbr = np.flatnonzero(np.isclose(np.linalg.norm(mi(x0 - x0[0], L), axis=1), 1.0))
    assert len(nbr) == 6
    np.testing.assert_allclose(cb[nbr], 5 / 6)
    rest = np.setdiff1d(np.arange(len(x0)), np.append(nbr, 0))
    assert np.all(cb[rest] == 1.0)
    # hysteresis: stretching bonds to 1.3 breaks them for b = 1.2 but not for b = 1.4
    xs = x0 * 1.3
    assert np.all(bond_breaking(frame, xs, 1.2, cell_t=np.eye(3) * L * 1.3) == 0.0)
    assert np.all(bond_breaking(frame, xs, 1.2, 1.4, cell_t=np.eye(3) * L * 1.3) == 1.0)
    _, stretch = pair_targets(frame, xs, r_edge=1.2, cell_t=np.eye(3) * L * 1.3)
    np.testing.assert_allclose(stretch, 0.3, atol=1e-14)
    # without the deformed box the wrap-around bonds (image translation n != 0) come out wrong
    _, wrong = pair_targets(frame, xs, r_edge=1.2)
    assert np.isclose(wrong, -0.5).sum() == 2 * 36 * 3
    # no bond at t = 0 → NaN
    assert np.isnan(bond_breaking(frame, x0, 0.5)).all()
    with pytest.raises(ValueError):
        bond_breaking(frame, x0, 1.2, 1.0)  # cut_out < cut_in
    with pytest.raises(ValueError):
        bond_breaking(frame, x0, np.array([[1.2, 1.0], [1.1, 1.2]]))  # not symmetric


@pytest.fixture(scope="module")
def botan():
    if not HAVE_BOTAN:
        pytest.skip(f"shared BOTAN data not found under {shared_dir()} (set GLASSFIX_SHARED)")
    cfg = np.load(BOTAN_CONFIG)
    ref = np.load(BOTAN_REFERENCE)
    frame = Frame(positions=cfg["initial_positions"], types=cfg["types"], cell=np.eye(3) * BOTAN_L)
    return frame, cfg["positions"], ref


# The reference computes in float32 with coordinates up to L ≈ 15: its round-off is a few ulp of L.
F32_TOL = 8 * np.finfo(np.float32).eps * BOTAN_L  # 1.4e-5


def test_botan_reference_pair_targets_minimum_image(botan):
    frame, reps, ref = botan
    ei, tgt = pair_targets(frame, reps, r_edge=2.0, form="minimum_image")
    rei = ref["edge_index"].astype(np.int64)
    assert ei.shape == rei.shape == (2, 166484)
    np.testing.assert_array_equal(ei, rei)  # same edge set, same (src, dst) order
    np.testing.assert_allclose(tgt, ref["target_edge"], rtol=0, atol=F32_TOL)


def test_botan_reference_pair_targets_robust(botan):
    frame, reps, ref = botan
    ei, rob = pair_targets(frame, reps, r_edge=2.0, form="robust")
    np.testing.assert_array_equal(ei, ref["edge_index"].astype(np.int64))
    # pairs whose unwrapped separation crosses half the box in at least one replica
    L = BOTAN_L
    x0 = frame.positions
    src, dst = ei
    v0 = mi(x0[dst] - x0[src], L)
    disp = reps - x0[None]
    crosses = np.zeros(ei.shape[1], dtype=bool)
    for r in range(reps.shape[0]):
        crosses |= (np.abs(v0 + disp[r, dst] - disp[r, src]) > L / 2).any(axis=1)
    assert crosses.sum() == 56
    diff = np.abs(rob - ref["target_edge"])
    np.testing.assert_allclose(rob[~crosses], ref["target_edge"][~crosses], rtol=0, atol=F32_TOL)
    assert diff[crosses].min() > 1e-3  # the reference wraps these pairs; the robust form does not
    assert np.array_equal(np.flatnonzero(diff > F32_TOL), np.flatnonzero(crosses))


@pytest.mark.parametrize("case", ["tri3d", "slab", "tri2d"])
def test_minimum_image_kernel_matches_core(case):
    from glassfix.core.cell import minimum_image
    from glassfix.labels.bonds import _pair_distances_t

    rng = np.random.default_rng(11)
    if case == "tri3d":
        cell, pbc = np.array([[6.0, 0, 0], [2.9, 5.5, 0], [-2.7, 2.1, 6.3]]), [True, True, True]
    elif case == "slab":
        cell, pbc = np.array([[6.0, 0, 0], [1.5, 5.5, 0], [0.5, 0.3, 4.0]]), [True, True, False]
    else:
        cell, pbc = np.array([[7.0, 0], [3.4, 6.1]]), [True, True]
    d = cell.shape[0]
    n = 60
    x = rng.uniform(0, 1, size=(n, d)) @ cell
    frame = Frame(positions=x, types=np.zeros(n, dtype=int), cell=cell, pbc=pbc)
    reps = x[None] + rng.normal(scale=2.0, size=(3, n, d))
    src = rng.integers(0, n, size=500)
    dst = rng.integers(0, n, size=500)
    got = _pair_distances_t(frame, src, dst, None, reps, x, cell, "minimum_image")
    for r in range(3):
        ref = np.linalg.norm(minimum_image(reps[r, dst] - reps[r, src], cell, pbc), axis=1)
        np.testing.assert_allclose(got[r], ref, rtol=1e-12, atol=1e-12)
