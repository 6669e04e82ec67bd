"""glassfix.analysis.looseness_stats on constructed cases: a planted exponential/logistic p(1|L) is recovered,
the SACF matches an O(N²) minimum-image loop, recovers the decay length of a field with a known exponential
correlation and is ~0 for uncorrelated values; the per-particle TACF of an AR(1) series is φ^k (times the
signal fraction after a white-noise first-interval drop); the ⟨L⟩(t) slopes, the label scan on a planted
signal, the Hill exponent of a Pareto sample and ΔL*(N) ∝ N^−1/2 for uncorrelated values."""

from __future__ import annotations

import numpy as np
import pytest

from glassfix.analysis.looseness_stats import (
    decay_length, fit_exponential, hill_exponent, l_distributions, label_scan, loose_given_l, series_trends,
    spatial_autocorrelation, temporal_autocorrelation, voxel_field, voxel_fluctuations, crossing_times,
)


def test_planted_exponential_p1_given_l_is_recovered():
    rng = np.random.default_rng(1)
    L = rng.uniform(0, 1, 400_000)
    a, k = np.log(1e-3), 4.0                      # p = 1e-3·e^{4L}: 1e-3 … 0.055
    loose = rng.random(L.size) < np.exp(a + k * L)
    res = loose_given_l(L, loose, np.linspace(0, 1, 11))
    assert res.n.sum() == L.size and res.n_r.sum() == loose.sum()
    # the binomial errors cover the truth in nearly every bin
    truth = np.exp(a + k * res.centers)
    assert np.mean(np.abs(res.p - truth) < 3 * res.err) >= 0.9
    fit = fit_exponential(res)
    assert fit.k == pytest.approx(k, abs=4 * fit.k_err) and abs(fit.k - k) < 0.3
    assert fit.a == pytest.approx(a, abs=0.2) and fit.r2 > 0.98


def test_planted_logistic_p1_given_l_is_monotone_and_matches():
    rng = np.random.default_rng(2)
    L = rng.uniform(0, 1, 200_000)
    p = 1 / (1 + np.exp(-(-6 + 8 * L)))
    loose = rng.random(L.size) < p
    res = loose_given_l(L, loose, np.linspace(0, 1, 21))
    assert np.all(np.diff(res.p) > -3 * (res.err[1:] + res.err[:-1]))
    truth = 1 / (1 + np.exp(-(-6 + 8 * res.centers)))
    assert np.max(np.abs(res.p - truth) / res.err) < 4.5
    d = l_distributions(L, loose, np.linspace(0, 1, 21))
    w = np.diff(d["edges"])
    for key in ("all", "loose", "tight"):
        assert np.sum(d[key] * w) == pytest.approx(1.0)
    assert d["loose"][-1] > d["tight"][-1] and d["loose"][0] < d["tight"][0]


def _points(n, box, rng):
    return rng.uniform(0, box, (n, 3)), np.eye(3) * box


def test_sacf_matches_minimum_image_loop():
    rng = np.random.default_rng(3)
    box = 6.0
    pos, cell = _points(300, box, rng)
    v = rng.normal(size=300) + pos[:, 0] / box      # some structure
    res = spatial_autocorrelation([(pos, cell, v)], r_max=2.5, n_bins=10)
    d = v - v.mean()
    num, cnt = np.zeros(10), np.zeros(10)
    for i in range(300):
        dr = pos - pos[i]
        dr -= box * np.round(dr / box)
        r = np.linalg.norm(dr, axis=1)
        for j in np.flatnonzero((r > 0) & (r < 2.5)):
            b = int(r[j] / 0.25)
            num[b] += d[i] * d[j]
            cnt[b] += 1
    assert np.array_equal(res.pairs, cnt.astype(int))
    np.testing.assert_allclose(res.c, num / cnt / np.mean(d * d), rtol=1e-10, atol=1e-12)


def _exponential_field(xi, box, m, rng):
    """Gaussian random field on an m³ periodic grid with correlation exp(−r/ξ) (3D spectrum ∝ (1+k²ξ²)^−2)."""
    k = 2 * np.pi * np.fft.fftfreq(m, d=box / m)
    kk = np.sqrt(k[:, None, None] ** 2 + k[None, :, None] ** 2 + k[None, None, :] ** 2)
    amp = np.sqrt(1.0 / (1 + (kk * xi) ** 2) ** 2)
    f = np.fft.ifftn(amp * np.fft.fftn(rng.normal(size=(m, m, m)))).real
    return f / f.std()


@pytest.mark.parametrize("xi", [0.6, 1.2])
def test_sacf_recovers_a_known_exponential_decay_length(xi):
    rng = np.random.default_rng(4)
    box, m = 16.0, 96
    snaps = []
    for _ in range(3):
        f = _exponential_field(xi, box, m, rng)
        pos, cell = _points(6000, box, rng)
        g = np.floor(pos / box * m).astype(int) % m
        snaps.append((pos, cell, f[g[:, 0], g[:, 1], g[:, 2]]))
    res = spatial_autocorrelation(snaps, r_max=4.0, n_bins=32)
    dl = decay_length(res.r, res.c, floor=0.08)
    assert dl["xi"] == pytest.approx(xi, rel=0.15)
    assert dl["r_e"] == pytest.approx(xi, rel=0.15)


def test_sacf_of_uncorrelated_values_is_zero():
    rng = np.random.default_rng(5)
    pos, cell = _points(4000, 14.0, rng)
    res = spatial_autocorrelation([(pos, cell, rng.uniform(size=4000))], r_max=3.0, n_bins=12)
    ok = res.pairs > 0
    assert np.all(np.abs(res.c[ok]) < 5 * res.err[ok])
    assert np.isnan(decay_length(res.r, res.c)["xi"])


def test_tacf_of_ar1_series():
    rng = np.random.default_rng(6)
    phi, S, n = 0.8, 400, 500
    x = np.zeros((S, n))
    x[0] = rng.normal(size=n)
    for t in range(1, S):
        x[t] = phi * x[t - 1] + np.sqrt(1 - phi ** 2) * rng.normal(size=n)
    res = temporal_autocorrelation([x[:200], x[200:]], max_lag=12)
    np.testing.assert_allclose(res.c[:8], phi ** np.arange(8), atol=0.02)
    assert res.first_drop == pytest.approx(1 - phi, abs=0.02)
    assert np.isnan(res.zero_lag)
    # white measurement noise of equal variance: a first-interval drop to 1/2, then the AR(1) decay
    noisy = x + rng.normal(size=x.shape)
    r2 = temporal_autocorrelation([noisy], max_lag=12)
    np.testing.assert_allclose(r2.c[1:8], 0.5 * phi ** np.arange(1, 8), atol=0.02)
    assert r2.first_drop == pytest.approx(1 - 0.5 * phi, abs=0.02)
    assert r2.lag_e == 1 + np.ceil(1 / -np.log(phi) - 1e-9)   # c(k) < c(1)/e first at k − 1 > 1/|ln φ|


def test_tacf_negative_lobe_and_zero_crossing():
    t = np.arange(60)
    x = np.cos(2 * np.pi * t / 20)[:, None] * np.array([[1.0, -1.0]])   # mean 0 per snapshot
    res = temporal_autocorrelation([x], max_lag=15)
    assert res.zero_lag == 5 and res.min_lag == 10 and res.minimum < -0.9


def test_series_trends_slopes_and_correlation():
    rng = np.random.default_rng(7)
    t = np.arange(1, 101) * 100.0
    L = 0.4 - 0.01 * np.log(t) + rng.normal(0, 1e-4, t.size)
    eps = -0.02 - 0.003 * np.log(t)
    tr = series_trends(np.append(0.0, t), np.append(0.5, L), np.append(0.0, eps))
    assert tr.n == 100 and tr.slope_L == pytest.approx(-0.01, abs=1e-4)
    assert tr.slope_eps == pytest.approx(-0.003, rel=1e-9) and tr.pearson > 0.99 and tr.r2_L > 0.99


def test_label_scan_planted_signal_and_sizes():
    rng = np.random.default_rng(8)
    n = 6000
    X = rng.normal(size=(n, 3))
    d2_informative = np.exp(1.5 * X[:, 0] + rng.normal(size=n)) * 0.05
    d2_noise = np.exp(rng.normal(size=n)) * 0.05
    scan = label_scan({1: X, 10: X}, {1: d2_informative, 10: d2_noise}, [0.05, 0.25, 5.0], per_class=500,
                      n_bootstrap=3, seed=0)
    assert scan.n.tolist() == [[n] * 3] * 2
    assert np.array_equal(scan.n_loose, np.array([[np.sum(d2 > d) for d in (0.05, 0.25, 5.0)]
                                                  for d2 in (d2_informative, d2_noise)]))
    assert scan.per_class[0, 0] == 500 and scan.per_class[0, 1] == min(500, scan.n_loose[0, 1])
    assert scan.bacc[0, 0] > 0.8 and abs(scan.bacc[1, 0] - 0.5) < 0.06
    assert np.isnan(scan.bacc[1, 2]) or scan.per_class[1, 2] >= 10       # too few loose: not scored
    assert scan.fraction[0, 0] == pytest.approx(np.mean(d2_informative > 0.05))


def test_hill_exponent_of_a_pareto_sample():
    rng = np.random.default_rng(9)
    x = 0.1 * (1 - rng.random(50_000)) ** (-1 / 1.5)     # PDF ∝ x^−2.5 above 0.1
    a, err, n = hill_exponent(x, 0.1)
    assert n == 50_000 and a == pytest.approx(2.5, abs=4 * err)
    assert np.isnan(hill_exponent(x[:3], 0.1)[0])


def test_voxel_fluctuations_of_uncorrelated_values_scale_as_inverse_sqrt():
    rng = np.random.default_rng(10)
    snaps = [(rng.random((8000, 3)), rng.random(8000)) for _ in range(3)]
    res = voxel_fluctuations(snaps, [2, 3, 4, 6, 8])
    assert res["slope"] == pytest.approx(-0.5, abs=0.06)
    assert res["n_per_voxel"][0] == pytest.approx(1000)


def test_voxel_field_means_and_empty_voxels():
    frac = np.array([[[0.1, 0.1, 0.1], [0.2, 0.2, 0.2], [0.9, 0.9, 0.9]]])
    f = voxel_field(frac, np.array([[1.0, 3.0, 5.0]]), 2)
    assert f.shape == (1, 8) and f[0, 0] == 2.0 and f[0, 7] == 5.0 and np.isnan(f[0, 1:7]).all()


def test_tacf_skips_empty_voxels_and_crossing_times():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(50, 30))
    holed = x.copy()
    holed[:, 0] = np.nan          # an always-empty voxel is the same as no voxel
    np.testing.assert_allclose(temporal_autocorrelation([holed], 5).c, temporal_autocorrelation([x[:, 1:]], 5).c,
                               rtol=1e-12)
    holed[3, 5] = np.nan          # one empty entry removes its pairs only
    assert temporal_autocorrelation([holed], 5).pairs[2] == 29 * 48 - 2
    t = np.arange(420)[:, None]               # whole periods of 10, 42; many of 18, 26
    periods = np.array([10, 18, 26, 42])
    cos = np.cos(2 * np.pi * t / periods[None, :])
    tc = crossing_times(np.concatenate([cos, np.ones((420, 1))], axis=1), 30)
    # the autocorrelation of a long cosine of period P first reaches ≤ 0 at the quarter period
    np.testing.assert_array_equal(tc[:4], np.ceil(periods / 4))
    assert np.isnan(tc[4])                                  # no variance
