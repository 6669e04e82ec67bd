"""tGlassMLP analyses on constructed cases with known answers: Pearson, split-half ceiling, χ4, S4/ξ4, chords,
ξ_int, TTS shifts, Arrhenius and the C ↔ t conversion."""

from __future__ import annotations

import numpy as np
import pytest

from glassfix.analysis.heterogeneity import (allowed_wavevectors, chi4_from_means, chi4_from_values, fit_oz,
                                             fit_s4_higher, pearson, pearson_per_config, s4_radial,
                                             split_half_ceiling)
from glassfix.analysis.lengths import (JUNG_LAYOUT, JUNG_LENGTHS, chord_lengths, intrinsic_length,
                                      intrinsic_length_by_feature, lattice_activity)
from glassfix.analysis.tts import (c_to_time, crossing_time, fit_arrhenius, isotonic_decreasing, time_to_c,
                                   tts_taus)


# ---------------------------------------------------------------------------------------------- Pearson
def test_pearson_per_config_differs_from_pooled():
    # within each configuration the prediction is perfect (config 0) or reversed (config 1): mean 0;
    # pooled, the offset between configurations dominates and the correlation is high
    lab = [np.array([0.0, 1.0, 2.0]), np.array([10.0, 11.0, 12.0])]
    pred = [np.array([0.0, 1.0, 2.0]), np.array([12.0, 11.0, 10.0])]
    r = pearson_per_config(lab, pred)
    assert r["values"] == pytest.approx([1.0, -1.0])
    assert r["per_config"] == pytest.approx(0.0, abs=1e-12)
    ref = np.corrcoef(np.concatenate(lab), np.concatenate(pred))[0, 1]
    assert r["pooled"] == pytest.approx(ref, rel=1e-12)
    assert r["pooled"] > 0.9


def test_pearson_drops_nan_and_constant_is_nan():
    assert pearson([1, 2, np.nan, 4], [2, 4, 5, 8]) == pytest.approx(1.0)
    assert np.isnan(pearson([1, 1, 1], [1, 2, 3]))


def test_split_half_ceiling_matches_signal_plus_noise():
    rng = np.random.default_rng(1)
    n, R, sig_noise = 20000, 8, 2.0
    s = rng.normal(size=n)
    reps = s[None] + sig_noise * rng.normal(size=(R, n))
    out = split_half_ceiling([reps], n_splits=4, seed=0)
    # half-means of R/2 replicas: r_½ = 1/(1 + σ²/(R/2)); the full mean: reliability 1/(1 + σ²/R)
    assert out["r_half"] == pytest.approx(1 / (1 + sig_noise ** 2 / (R / 2)), abs=0.02)
    assert out["reliability"] == pytest.approx(1 / (1 + sig_noise ** 2 / R), abs=0.02)
    # the ceiling is the correlation of the noise-free signal with the R-replica mean
    assert out["ceiling"] == pytest.approx(pearson(s, reps.mean(axis=0)), abs=0.02)


# ---------------------------------------------------------------------------------------------- χ4
def test_chi4_from_values_known_variance():
    n1, d = 100, 0.05
    base = np.linspace(0.2, 0.8, n1)
    base -= base.mean() - 0.5
    vals = [base + d, base - d, base + d, base - d]  # per-configuration means 0.5 ± d
    assert chi4_from_values(vals) == pytest.approx(n1 * d ** 2, rel=1e-12)
    assert chi4_from_means(np.array([[0.5 + d, 1.0], [0.5 - d, 1.0]]), n1) == pytest.approx([n1 * d ** 2, 0.0])
    with pytest.raises(ValueError, match="at least 2"):
        chi4_from_means(np.array([[0.5]]), n1)


# ---------------------------------------------------------------------------------------------- S4, ξ4
def test_s4_radial_matches_brute_force():
    rng = np.random.default_rng(3)
    box = np.array([7.0, 7.0])
    pos = [rng.uniform(0, 7, size=(30, 2)) for _ in range(3)]
    val = [rng.uniform(size=30) for _ in range(3)]
    q, s4, cnt = s4_radial(pos, val, box, q_max=3.0, chunk=7)
    mean = np.concatenate(val).mean()
    qv = allowed_wavevectors(box, 3.0)
    # brute force over every q vector and particle, then the same radial bins
    sq = np.zeros(len(qv))
    for x, v in zip(pos, val):
        for k, qq in enumerate(qv):
            w = sum((v[i] - mean) * np.exp(1j * qq @ x[i]) for i in range(len(v)))
            sq[k] += abs(w) ** 2 / len(v) / len(pos)
    qn = np.linalg.norm(qv, axis=1)
    b = np.floor(qn / (2 * np.pi / 7) + 1e-9).astype(int)
    ref = [sq[b == k].mean() for k in np.unique(b)]
    assert s4 == pytest.approx(ref, rel=1e-10)
    assert cnt.sum() == len(qv)
    # one of each ±q pair and none at q = 0
    assert len({tuple(np.round(v, 9)) for v in np.concatenate([qv, -qv])}) == 2 * len(qv)


@pytest.mark.parametrize("xi", [2.0, 5.0])
def test_oz_fit_recovers_xi(xi):
    q = np.linspace(0.1, 0.6, 12)
    s4 = 30.0 / (1 + (q * xi) ** 2)
    fit = fit_oz(q, s4, 0.0, 0.6)
    assert fit.xi == pytest.approx(xi, rel=1e-6)
    assert fit.chi4 == pytest.approx(30.0, rel=1e-6)


def test_higher_order_fit_recovers_A():
    q = np.linspace(0.2, 0.6, 15)
    xi, A = 4.0, 0.3
    s4 = 12.0 / (1 + (q * xi) ** 2 + A * (q * xi) ** 3)
    fit = fit_s4_higher(q, s4)
    assert (fit.chi4, fit.xi, fit.A) == pytest.approx((12.0, xi, A), rel=1e-4)
    with pytest.raises(ValueError, match=">= 2 points"):
        fit_oz(q, s4, 1.0, 2.0)


# ---------------------------------------------------------------------------------------------- chords
def _lattice_config(pattern: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # one particle at the centre of every unit site; propensity 0 (active) where pattern is 1, else 1
    nx, ny = pattern.shape
    ii, jj = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    pos = np.stack([ii.ravel() + 0.5, jj.ravel() + 0.5], axis=1)
    prop = np.where(pattern.ravel() == 1, 0.0, 1.0)
    return pos, prop, np.array([float(nx), float(ny)])


def test_chords_on_hand_made_lattice():
    pat = np.array([[1, 1, 0, 0, 1],   # row 0: a run of 2 wrapping into a run of 1 → one chord of 3
                    [0, 0, 0, 0, 0],
                    [1, 1, 1, 1, 1],   # row 2: mobile everywhere → one chord of 5
                    [0, 1, 0, 1, 0]])  # row 3: two chords of 1
    pos, prop, box = _lattice_config(pat)
    got = sorted(chord_lengths(pos, prop, box, spacing=1.0, threshold=0.5))
    # rows (along y): 3, 5, 1, 1; columns (along x, periodic over 4 rows): col0 [1,0,1,0] → 1, 1;
    # col1 [1,0,1,1] → 1 + wrap (rows 2,3,0) = 3; col2 [0,0,1,0] → 1; col3 [0,0,1,1] → 2; col4 [1,0,1,0] → 1, 1
    assert got == sorted([3, 5, 1, 1] + [1, 1, 3, 1, 2, 1, 1])
    # the default threshold (median of 0/1 values with more 1s... ) gives the same classes here
    assert sorted(chord_lengths(pos, prop, box, spacing=1.0)) == got


def test_lattice_fills_empty_sites_from_neighbours():
    pos = np.array([[0.5, 0.5], [2.5, 0.5]])
    grid = lattice_activity(pos, np.array([1.0, 0.0]), np.array([4.0, 1.0]), spacing=1.0)
    assert grid.shape == (4, 1)
    assert grid[:, 0] == pytest.approx([1.0, 0.5, 0.0, 0.5])


# ---------------------------------------------------------------------------------------------- ξ_int
def test_xi_int_on_delta_distribution():
    w = np.full((5, 176), 1e-12)
    w4 = np.zeros((4, 11, 4))
    w4[:, JUNG_LENGTHS.index(4.0), :] = 1.0
    w = w + w4.ravel()[None]
    p, xi = intrinsic_length(w)
    assert xi == pytest.approx(4.0, rel=1e-9)
    assert p[JUNG_LENGTHS.index(4.0)] == pytest.approx(1.0, rel=1e-9)
    p_u, xi_u = intrinsic_length(np.ones((2, 176)))
    assert p_u == pytest.approx(np.full(11, 1 / 11))
    assert xi_u == pytest.approx(np.mean(JUNG_LENGTHS))
    with pytest.raises(ValueError, match="layout"):
        intrinsic_length(np.ones((2, 170)))
    # the same from per-feature lengths (layout (observable, L, channel))
    fl = np.broadcast_to(np.asarray(JUNG_LENGTHS)[None, :, None], JUNG_LAYOUT).ravel()
    ls, p2, xi2 = intrinsic_length_by_feature(w, fl)
    assert ls == pytest.approx(sorted(JUNG_LENGTHS))
    assert xi2 == pytest.approx(4.0, rel=1e-9)
    rng = np.random.default_rng(0)
    wr = rng.uniform(size=(7, 176))
    assert intrinsic_length_by_feature(wr, fl)[2] == pytest.approx(intrinsic_length(wr)[1], rel=1e-12)


# ---------------------------------------------------------------------------------------------- TTS
def _kww(t, tau, beta=0.6):
    return np.exp(-(t / tau) ** beta)


def test_tts_recovers_known_shifts():
    taus_true = {0.6: 30.0, 0.5: 200.0, 0.45: 3.0e4, 0.4: 6.0e5}
    curves = {}
    for T, tau in taus_true.items():
        t = np.geomspace(0.01, 2.0e4, 80)  # same window at every T: the two coldest never reach 0.5
        curves[T] = (t, _kww(t, tau / np.log(2) ** (1 / 0.6)))  # C = 0.5 exactly at t = tau
    taus, how, master = tts_taus(curves)
    assert how == {0.6: "crossing", 0.5: "crossing", 0.45: "tts-shift", 0.4: "tts-shift"}
    for T in taus_true:
        assert taus[T] == pytest.approx(taus_true[T], rel=0.02)
    # the master curve is monotone and passes through 0.5 at t = τα
    assert np.all(np.diff(master.c) <= 0)
    assert master(0.0) == pytest.approx(0.5, abs=0.01)


def test_arrhenius_recovers_parameters_and_tg():
    T = np.array([0.6, 0.5, 0.45, 0.4])
    tau = 0.02 * np.exp(3.5 / T)
    fit = fit_arrhenius(T, tau)
    assert (fit.tau0, fit.E) == pytest.approx((0.02, 3.5), rel=1e-10)
    assert fit.tau(0.3) == pytest.approx(0.02 * np.exp(3.5 / 0.3), rel=1e-10)
    tg = fit.temperature_at(1e12)
    assert fit.tau(tg) == pytest.approx(1e12, rel=1e-9)


def test_c_time_conversion_round_trip():
    t = np.geomspace(0.1, 1e4, 80)
    curves = {0.5: (t, _kww(t, 100.0))}
    taus, _, master = tts_taus(curves)
    c = np.array([0.9, 0.75, 0.5, 0.25])
    tt = c_to_time(c, taus[0.5], master)
    assert time_to_c(tt, taus[0.5], master) == pytest.approx(c, abs=1e-4)
    # and against the analytic KWW inverse (the master curve interpolates its binned points)
    assert tt == pytest.approx(100.0 * (-np.log(c)) ** (1 / 0.6), rel=0.03)
    assert crossing_time(t, _kww(t, 100.0), np.exp(-1)) == pytest.approx(100.0, rel=0.01)


def test_isotonic_decreasing():
    assert isotonic_decreasing(np.array([1.0, 0.8, 0.9, 0.5])) == pytest.approx([1.0, 0.85, 0.85, 0.5])
