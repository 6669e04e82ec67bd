"""glassfix.analysis.softness_stats on synthetic data: P_R(S) against a loop, the Arrhenius fit recovers
known e0, e1, Σ0, Σ1 and T0 (exactly without noise, within errors from sampled rearrangements),
fraction of rearrangers with S > 0 and Q on constructed cases."""

from __future__ import annotations

import numpy as np
import pytest

from glassfix.analysis.softness_stats import (
    fit_softness_arrhenius, fraction_positive, linear_fit, q_ratio, rearrangement_probability,
)

E0, E1, SIG0, SIG1 = 2.0, 0.6, 1.0, 0.8      # T0 = e1/Σ1 = 0.75


def true_pr(S, T):
    return np.exp(SIG0 - SIG1 * S - (E0 - E1 * S) / T)


def test_fraction_positive_counts_only_rearrangers():
    s = np.array([1.0, -1.0, 2.0, 0.5, -3.0, 0.0])
    r = np.array([True, True, True, False, False, True])
    assert fraction_positive(s, r) == pytest.approx(2 / 4)   # S = 0 is not > 0
    assert np.isnan(fraction_positive(s, np.zeros(6, bool)))
    with pytest.raises(ValueError):
        fraction_positive(s, r[:3])


def test_rearrangement_probability_matches_a_loop():
    rng = np.random.default_rng(1)
    s = rng.normal(0, 2, 5000)
    r = rng.random(5000) < 1 / (1 + np.exp(-s))
    edges = np.array([-4.0, -2.0, -0.5, 0.0, 1.0, 3.0])
    pr = rearrangement_probability(s, r, edges)
    for b in range(edges.size - 1):
        inside = [(si, ri) for si, ri in zip(s, r) if edges[b] <= si < edges[b + 1]]
        assert pr.n[b] == len(inside)
        assert pr.n_r[b] == sum(ri for _, ri in inside)
        assert pr.p[b] == pytest.approx(sum(ri for _, ri in inside) / len(inside))
        assert pr.centers[b] == pytest.approx(np.mean([si for si, _ in inside]))
    assert pr.span_decades() == pytest.approx(np.log10(np.nanmax(pr.p) / np.nanmin(pr.p)))
    empty = rearrangement_probability(np.array([10.0]), np.array([True]), edges)
    assert np.all(empty.n == 0) and np.all(np.isnan(empty.p))


def test_arrhenius_fit_is_exact_on_noise_free_probabilities():
    T = np.array([0.5, 0.55, 0.6, 0.7, 0.8])
    S = np.tile(np.linspace(-3, 3, 7), (T.size, 1))
    p = true_pr(S, T[:, None])
    fit = fit_softness_arrhenius(T, S, p)
    assert fit.e0 == pytest.approx(E0, rel=1e-9) and fit.e1 == pytest.approx(E1, rel=1e-9)
    assert fit.Sigma0 == pytest.approx(SIG0, rel=1e-9) and fit.Sigma1 == pytest.approx(SIG1, rel=1e-9)
    assert fit.T0 == pytest.approx(E1 / SIG1, rel=1e-9)
    np.testing.assert_allclose(fit.dE, E0 - E1 * S[0], rtol=1e-9)
    np.testing.assert_allclose(fit.sigma, SIG0 - SIG1 * S[0], rtol=1e-9)
    np.testing.assert_allclose(fit.predict(S[0], 0.6), p[2], rtol=1e-9)


def test_arrhenius_fit_recovers_parameters_from_sampled_rearrangements():
    """Bernoulli rearrangements with P_R(S, T) of known parameters, binned like the reproduction."""
    rng = np.random.default_rng(7)
    T = np.array([0.5, 0.55, 0.6, 0.67, 0.75])
    edges = np.arange(-3.0, 3.01, 1.0)
    S_tab, p_tab, e_tab = [], [], []
    for t in T:
        s = rng.normal(0.0, 1.5, 400_000)
        r = rng.random(s.size) < true_pr(s, t)
        pr = rearrangement_probability(s, r, edges)
        S_tab.append(pr.centers), p_tab.append(pr.p), e_tab.append(pr.err)
    fit = fit_softness_arrhenius(T, np.array(S_tab), np.array(p_tab), np.array(e_tab))
    for got, err, want in ((fit.e0, fit.e0_err, E0), (fit.e1, fit.e1_err, E1), (fit.Sigma0, fit.Sigma0_err, SIG0),
                           (fit.Sigma1, fit.Sigma1_err, SIG1), (fit.T0, fit.T0_err, E1 / SIG1)):
        assert abs(got - want) < 4 * err + 0.05 * abs(want), (got, err, want)
    assert np.all(fit.r2[np.isfinite(fit.r2)] > 0.9)


def test_arrhenius_fit_sees_a_wrong_model():
    """Control: P_R independent of T gives ΔE ≈ 0 and no onset between the studied temperatures."""
    T = np.array([0.5, 0.6, 0.7])
    S = np.tile(np.linspace(-2, 2, 5), (3, 1))
    p = 1e-3 * np.exp(S)
    fit = fit_softness_arrhenius(T, S, p)
    assert abs(fit.e0) < 1e-9 and abs(fit.e1) < 1e-9 and fit.Sigma1 == pytest.approx(-1.0)


def test_arrhenius_fit_needs_two_bins():
    with pytest.raises(ValueError, match="S bins"):
        fit_softness_arrhenius([0.5, 0.6, 0.7], np.zeros((3, 2)), np.array([[0.1, 0.0], [0.2, 0.0], [0.3, np.nan]]))


def test_linear_fit_errors_from_scatter():
    x = np.arange(10.0)
    y = 1.0 + 2.0 * x + np.array([0.1, -0.1] * 5)
    a, b, sa, sb = linear_fit(x, y)
    assert a == pytest.approx(1.0, abs=0.1) and b == pytest.approx(2.0, abs=0.02) and 0 < sb < 0.05


def test_q_ratio_on_a_constructed_case():
    x = np.concatenate([np.full(100, -2.0), np.zeros(800), np.full(100, 2.0)])
    r = np.zeros(1000, bool)
    r[:2] = True            # 2 % of the hard tail rearranges
    r[900:930] = True       # 30 % of the soft tail
    assert q_ratio(x, r) == pytest.approx(15.0)
