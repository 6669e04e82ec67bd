import os
from pathlib import Path

import numpy as np
import pytest

from glassfix.core.frame import Frame
from glassfix.core.neighbors import neighbor_list
from glassfix.labels.propensity import (
    cage_relative_displacements,
    isoconfigurational_average,
    propensity,
    split_half_noise_ceiling,
)
from helpers import REPO


def shared_dir() -> Path:
    env = os.environ.get("GLASSFIX_SHARED")
    return Path(env) if env else REPO.parent / "shared"


BOTAN_CONFIG = shared_dir() / "data" / "ka3d_T0.44_iso_tc07" / "train" / "isoconfig_N4096T0.44_1_tc07.npz"
BOTAN_REFERENCE = shared_dir() / "data" / "botan_reference" / "reference_forward_config1.npz"


def propensity_bruteforce(x0, reps, kind="abs", cage=None):
    R, N, d = reps.shape
    out = np.zeros(N)
    for i in range(N):
        acc = 0.0
        for r in range(R):
            u = reps[r, i] - x0[i]
            if cage is not None:
                if not cage[i]:
                    acc = np.nan
                    break
                mean = np.zeros(d)
                for j in cage[i]:
                    mean += reps[r, j] - x0[j]
                u = u - mean / len(cage[i])
            s = float(np.sum(u * u))
            acc += np.sqrt(s) if kind == "abs" else s
        out[i] = acc / R
    return out


def cage_bruteforce(x0, L, rc):
    N = len(x0)
    cage = []
    for i in range(N):
        c = []
        for j in range(N):
            v = x0[j] - x0[i]
            v -= L * np.round(v / L)
            if j != i and np.sqrt(np.sum(v * v)) < rc:
                c.append(j)
        cage.append(c)
    return cage


def random_system(seed, N=120, R=6, d=3, L=6.0, step=0.4):
    rng = np.random.default_rng(seed)
    x0 = rng.uniform(0, L, size=(N, d))
    reps = x0[None] + rng.normal(scale=step, size=(R, N, d)) + rng.normal(scale=step, size=(1, N, d))
    return x0, reps, L


@pytest.mark.parametrize("kind", ["abs", "sq"])
@pytest.mark.parametrize("d", [2, 3])
def test_propensity_matches_bruteforce(kind, d):
    x0, reps, _ = random_system(d, d=d)
    got = propensity(x0, reps, kind=kind)
    np.testing.assert_allclose(got, propensity_bruteforce(x0, reps, kind), rtol=1e-13, atol=0)
    per = propensity(x0, reps, kind=kind, per_replica=True)
    assert per.shape == reps.shape[:2]
    np.testing.assert_allclose(isoconfigurational_average(per), got, rtol=1e-14)
    # a single run given as (N, d)
    np.testing.assert_allclose(propensity(x0, reps[0], kind=kind), per[0], rtol=1e-14)


@pytest.mark.parametrize("kind", ["abs", "sq"])
def test_cage_relative_matches_bruteforce(kind):
    x0, reps, L = random_system(7, N=100, L=6.0)
    rc = 1.3
    frame = Frame(positions=x0, types=np.zeros(len(x0), dtype=int), cell=np.eye(3) * L)
    nl = neighbor_list(frame, rc)
    cage = cage_bruteforce(x0, L, rc)
    got = propensity(x0, reps, kind=kind, cage_relative=True, cage_neighbors=nl)
    ref = propensity_bruteforce(x0, reps, kind, cage=cage)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-14)
    # CSR tuple form and the displacement helper agree
    got2 = propensity(x0, reps, kind=kind, cage_relative=True, cage_neighbors=(nl.offsets, nl.neighbors))
    np.testing.assert_array_equal(got, got2)
    cr = cage_relative_displacements(reps[0] - x0, nl)
    assert cr.shape == x0.shape


def test_cage_relative_removes_collective_motion_and_empty_cage_is_nan():
    rng = np.random.default_rng(3)
    L = 5.0
    x0 = rng.uniform(0, L, size=(60, 3))
    frame = Frame(positions=x0, types=np.zeros(60, dtype=int), cell=np.eye(3) * L)
    nl = neighbor_list(frame, 1.5)
    shift = np.array([0.7, -0.3, 1.1])
    reps = x0[None] + shift  # the whole system drifts: cage-relative propensity vanishes
    cr = propensity(x0, np.repeat(reps, 3, axis=0), cage_relative=True, cage_neighbors=nl)
    ok = nl.counts() > 0
    assert np.abs(cr[ok]).max() < 1e-14
    assert np.isnan(cr[~ok]).all()
    np.testing.assert_allclose(propensity(x0, reps), np.linalg.norm(shift))
    empty = (np.zeros(61, dtype=np.int64), np.zeros(0, dtype=np.int64))
    assert np.isnan(propensity(x0, reps, cage_relative=True, cage_neighbors=empty)).all()


def test_argument_checks():
    x0, reps, _ = random_system(1, N=10)
    with pytest.raises(ValueError):
        propensity(x0, reps, kind="rms")
    with pytest.raises(ValueError):
        propensity(x0, reps[:, :5])
    with pytest.raises(ValueError):
        propensity(x0, reps, cage_relative=True)
    with pytest.raises(ValueError):
        split_half_noise_ceiling(reps[:1], x0)


def test_split_half_known_noise_values():
    # per-replica label v_ri = s_i + sigma * eps: halves of h replicas correlate as 1 / (1 + sigma²/h),
    # the R-replica label has reliability 1 / (1 + sigma²/R), the ceiling is its square root
    rng = np.random.default_rng(0)
    N, R, sigma = 20000, 16, 2.0
    s = rng.normal(size=N)
    vals = s[None] + sigma * rng.normal(size=(R, N))
    nc = split_half_noise_ceiling(vals, n_splits=20, seed=1)
    h = R // 2
    assert nc.n_half == h and nc.n_replicas == R and nc.per_split.shape == (20,)
    assert nc.r_half == pytest.approx(1 / (1 + sigma**2 / h), abs=0.01)
    assert nc.reliability == pytest.approx(1 / (1 + sigma**2 / R), abs=0.01)
    assert nc.ceiling == pytest.approx(np.sqrt(1 / (1 + sigma**2 / R)), abs=0.01)
    # the actual correlation of the R-replica label with the truth is the ceiling
    assert np.corrcoef(vals.mean(axis=0), s)[0, 1] == pytest.approx(nc.ceiling, abs=0.01)
    # Spearman–Brown with k = R / h
    assert nc.reliability == pytest.approx(2 * nc.r_half / (1 + nc.r_half), rel=1e-12)
    # odd R: one replica left out of each split, k = R / h
    nc5 = split_half_noise_ceiling(vals[:5], n_splits=10, seed=2)
    k = 5 / 2
    assert nc5.n_half == 2
    assert nc5.reliability == pytest.approx(k * nc5.r_half / (1 + (k - 1) * nc5.r_half), rel=1e-12)
    # deterministic for a fixed seed; mask selects items
    again = split_half_noise_ceiling(vals, n_splits=20, seed=1)
    assert again.r_half == nc.r_half
    m = np.zeros(N, dtype=bool)
    m[: N // 2] = True
    ncm = split_half_noise_ceiling(vals, n_splits=20, seed=1, mask=m)
    assert ncm.r_half == pytest.approx(nc.r_half, abs=0.02)


def test_split_half_known_noise_positions():
    # displacement along x: |Δr_i| = s_i + sigma * eps exactly when s_i ≫ sigma
    rng = np.random.default_rng(4)
    N, R, sigma = 20000, 8, 0.5
    s = 10.0 + rng.normal(size=N)
    x0 = rng.uniform(0, 20, size=(N, 3))
    reps = np.repeat(x0[None], R, axis=0)
    reps[:, :, 0] += s[None] + sigma * rng.normal(size=(R, N))
    nc = split_half_noise_ceiling(reps, x0, n_splits=10, seed=0)
    assert nc.r_half == pytest.approx(1 / (1 + sigma**2 / (R // 2)), abs=0.01)
    assert nc.reliability == pytest.approx(1 / (1 + sigma**2 / R), abs=0.01)
    # pure noise: no reliability, ceiling undefined
    vals = rng.normal(size=(8, 5000))
    nc0 = split_half_noise_ceiling(vals, n_splits=10, seed=0)
    assert abs(nc0.r_half) < 0.05


@pytest.mark.skipif(not (BOTAN_CONFIG.exists() and BOTAN_REFERENCE.exists()),
                    reason=f"shared BOTAN data not found under {shared_dir()} (set GLASSFIX_SHARED)")
def test_botan_reference_propensity():
    cfg = np.load(BOTAN_CONFIG)
    ref = np.load(BOTAN_REFERENCE)
    got = propensity(cfg["initial_positions"], cfg["positions"])
    target = ref["target_node"]
    assert got.shape == target.shape == (4096,)
    # the reference label is float32: agreement to float32 round-off (in fact bit-identical after casting)
    np.testing.assert_allclose(got, target, rtol=2.0**-23, atol=0)
    assert np.array_equal(got.astype(np.float32), target)
    nc = split_half_noise_ceiling(cfg["positions"], cfg["initial_positions"], n_splits=20, seed=0,
                                  mask=cfg["types"] == 0)
    assert 0.3 < nc.r_half < 0.9 and nc.r_half < nc.reliability < nc.ceiling < 1
