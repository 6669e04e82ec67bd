"""Tests of glassfix.analysis against brute-force loops and analytic references (small arrays, fast)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import special

from glassfix import analysis as an


def _random_walk(rng: np.random.Generator, n_t: int, n: int, d: int, step: float = 0.15) -> np.ndarray:
    x0 = rng.uniform(0, 5, size=(1, n, d))
    return x0 + np.cumsum(np.concatenate([np.zeros((1, n, d)), rng.normal(0, step, (n_t - 1, n, d))]), axis=0)


# ------------------------------------------------------------------------------------------ MSD


def test_msd_from_first_frame_matches_loop() -> None:
    rng = np.random.default_rng(1)
    x = _random_walk(rng, 6, 9, 3)
    mask = np.zeros(9, bool)
    mask[[0, 3, 4, 8]] = True
    ref = np.zeros(6)
    for t in range(6):
        vals = [np.sum((x[t, i] - x[0, i]) ** 2) for i in range(9) if mask[i]]
        ref[t] = np.mean(vals)
    np.testing.assert_allclose(an.msd(x, mask=mask), ref, rtol=1e-12)
    np.testing.assert_allclose(an.msd(x, mask=np.flatnonzero(mask)), ref, rtol=1e-12)


def test_msd_time_origin_average_matches_loop() -> None:
    rng = np.random.default_rng(2)
    x = _random_walk(rng, 9, 5, 2)
    for stride in (1, 2, 3):
        ref = np.zeros(9)
        for lag in range(9):
            vals = []
            for t0 in range(0, 9 - lag, stride):
                for i in range(5):
                    vals.append(np.sum((x[t0 + lag, i] - x[t0, i]) ** 2))
            ref[lag] = np.mean(vals)
        np.testing.assert_allclose(an.msd(x, t0_stride=stride), ref, rtol=1e-12)
    # the linear-spacing guard
    with pytest.raises(ValueError, match="linearly spaced"):
        an.msd(x, t0_stride=1, times=np.logspace(0, 2, 9))
    an.msd(x, t0_stride=1, times=np.arange(9) * 0.5)


def test_msd_several_trajectories_and_bad_input() -> None:
    rng = np.random.default_rng(3)
    trajs = [_random_walk(rng, 4, 6, 3) for _ in range(3)]
    np.testing.assert_allclose(an.msd(trajs), np.mean([an.msd(t) for t in trajs], axis=0), rtol=1e-12)
    np.testing.assert_allclose(an.msd(np.stack(trajs)), an.msd(trajs), rtol=1e-12)
    with pytest.raises(ValueError, match="selects no particles"):
        an.msd(trajs[0], mask=np.zeros(6, bool))
    with pytest.raises(ValueError, match="different shapes"):
        an.msd([trajs[0], trajs[1][:, :5]])
    with pytest.raises(ValueError, match=r"\(T, N, d\)"):
        an.msd(np.zeros((4, 6)))


# ------------------------------------------------------------------------------------------ F_s


@pytest.mark.parametrize("d", [2, 3])
def test_fs_isotropic_matches_random_direction_average(d: int) -> None:
    rng = np.random.default_rng(10 + d)
    x = _random_walk(rng, 4, 12, d, step=0.25)
    k = 2 * np.pi
    fs = an.self_intermediate_scattering(x, k)
    # analytic isotropic kernel per particle, by an explicit loop
    ref = np.zeros(4)
    for t in range(4):
        for i in range(12):
            r = np.linalg.norm(x[t, i] - x[0, i])
            ref[t] += (np.sin(k * r) / (k * r) if r > 0 else 1.0) if d == 3 else special.j0(k * r)
    ref /= 12
    np.testing.assert_allclose(fs, ref, atol=1e-12)
    # explicit average of cos(q.dr) over many random directions |q| = k
    u = rng.normal(size=(200_000, d))
    u *= k / np.linalg.norm(u, axis=1, keepdims=True)
    mc = np.zeros(4)
    for t in range(4):
        for i in range(12):
            mc[t] += np.cos(u @ (x[t, i] - x[0, i])).mean()
    mc /= 12
    np.testing.assert_allclose(fs, mc, atol=4e-3)
    assert fs[0] == pytest.approx(1.0)
    assert fs[-1] < 0.9  # the displacements are large enough for the test to mean something


def test_shell_wavevectors_against_enumeration_triclinic() -> None:
    cell = np.array([[6.0, 0.0, 0.0], [1.5, 5.0, 0.0], [-0.7, 0.9, 7.0]])
    k, dk = 2 * np.pi, 0.3
    q = an.shell_wavevectors(cell, k, dk=dk, n_vectors=None)
    recip = 2 * np.pi * np.linalg.inv(cell).T
    ref = []
    for n in itertools.product(range(-12, 13), repeat=3):
        qq = np.array(n) @ recip
        if abs(np.linalg.norm(qq) - k) <= dk:
            ref.append(qq)
    ref = np.array(ref)
    assert len(q) * 2 == len(ref)  # one of each +-q pair
    # every returned q is box compatible: q . a_j / 2pi is an integer
    nn = q @ cell.T / (2 * np.pi)
    np.testing.assert_allclose(nn, np.round(nn), atol=1e-9)
    both = np.concatenate([q, -q])
    key = lambda a: np.round(a, 8)[np.lexsort(np.round(a, 8).T)]  # noqa: E731
    np.testing.assert_allclose(key(both), key(ref), atol=1e-8)
    sub = an.shell_wavevectors(cell, k, dk=dk, n_vectors=10, seed=3)
    assert sub.shape == (10, 3)
    with pytest.raises(ValueError, match="increase dk"):
        # |n|^2 = 7 is not a sum of three squares, so this shell of a cubic box is empty
        an.shell_wavevectors(np.eye(3) * 5, 2 * np.pi / 5 * np.sqrt(7), dk=0.01)


@pytest.mark.parametrize("d", [2, 3])
def test_fs_vectors_matches_loop(d: int) -> None:
    rng = np.random.default_rng(20 + d)
    L = np.array([7.0, 8.0, 6.5][:d])
    x = _random_walk(rng, 3, 8, d, step=0.2)
    k = 2 * np.pi
    q = an.shell_wavevectors(L, k, n_vectors=25, seed=5)
    fs = an.self_intermediate_scattering(x, k, method="vectors", cell=L, n_vectors=25, seed=5)
    ref = np.zeros(3)
    for t in range(3):
        acc = 0.0
        for qq in q:
            for i in range(8):
                acc += np.exp(1j * qq @ (x[t, i] - x[0, i]))
        # the +-q partner of each vector contributes the complex conjugate
        ref[t] = (acc / (len(q) * 8)).real
    np.testing.assert_allclose(fs, ref, atol=1e-12)
    with pytest.raises(ValueError, match="needs the box"):
        an.self_intermediate_scattering(x, k, method="vectors")


def test_fs_vectors_approaches_isotropic_for_a_full_shell() -> None:
    rng = np.random.default_rng(30)
    x = _random_walk(rng, 3, 20, 3, step=0.2)
    iso = an.self_intermediate_scattering(x, 2 * np.pi)
    vec = an.self_intermediate_scattering(x, 2 * np.pi, method="vectors", cell=[25.0, 25.0, 25.0], n_vectors=None)
    np.testing.assert_allclose(vec, iso, atol=0.02)


def test_fs_list_of_trajectories_is_mean_and_time_origins() -> None:
    rng = np.random.default_rng(31)
    trajs = [_random_walk(rng, 5, 7, 3) for _ in range(4)]
    each = [an.self_intermediate_scattering(t, 7.25) for t in trajs]
    np.testing.assert_allclose(an.self_intermediate_scattering(trajs, 7.25), np.mean(each, axis=0), rtol=1e-12)
    x = trajs[0]
    ref = np.zeros(5)
    for lag in range(5):
        v = [np.sinc(7.25 * np.linalg.norm(x[t0 + lag, i] - x[t0, i]) / np.pi) for t0 in range(5 - lag) for i in range(7)]
        ref[lag] = np.mean(v)
    np.testing.assert_allclose(an.self_intermediate_scattering(x, 7.25, t0_stride=1), ref, rtol=1e-12)
    with pytest.raises(ValueError, match="positive wavenumber"):
        an.self_intermediate_scattering(x, -1.0)


# ------------------------------------------------------------------------------------------ overlap, chi4


def test_overlap_matches_loop() -> None:
    rng = np.random.default_rng(40)
    x = _random_walk(rng, 5, 10, 3, step=0.2)
    a = 0.3
    ref = np.array([np.mean([float(np.linalg.norm(x[t, i] - x[0, i]) < a) for i in range(10)]) for t in range(5)])
    q = an.overlap(x, a=a)
    np.testing.assert_allclose(q, ref)
    assert 0 < q[-1] < 1
    with pytest.raises(ValueError, match="positive length"):
        an.overlap(x, a=0.0)


@pytest.mark.parametrize("observable", ["overlap", "fs"])
def test_chi4_matches_loop(observable: str) -> None:
    rng = np.random.default_rng(41)
    n_traj, n_t, n = 6, 4, 9
    x0 = rng.uniform(0, 5, (n, 3))
    walks = np.stack([_random_walk(rng, n_t, n, 3, step=0.2) for _ in range(n_traj)])
    trajs = walks - walks[:, :1] + x0  # all replicas start from the same configuration
    mask = np.arange(n) < 7
    k, a = 2 * np.pi, 0.3
    per = np.zeros((n_traj, n_t))
    for r in range(n_traj):
        for t in range(n_t):
            vals = []
            for i in range(n):
                if not mask[i]:
                    continue
                dr = np.linalg.norm(trajs[r, t, i] - trajs[r, 0, i])
                vals.append(float(dr < a) if observable == "overlap" else (np.sin(k * dr) / (k * dr) if dr > 0 else 1.0))
            per[r, t] = np.mean(vals)
    ref = 7 * (np.mean(per**2, axis=0) - np.mean(per, axis=0) ** 2)
    got = an.chi4(trajs, observable=observable, a=a, k=k, mask=mask)
    np.testing.assert_allclose(got, ref, atol=1e-12)
    assert got[0] == pytest.approx(0.0, abs=1e-14) and got[-1] > 0
    with pytest.raises(ValueError, match="at least 2 trajectories"):
        an.chi4(trajs[:1])


# ------------------------------------------------------------------------------------------ tau_alpha


def test_tau_alpha_crossing_exponential() -> None:
    tau = 37.0
    t = np.logspace(-2, 4, 121)
    assert an.tau_alpha_crossing(t, np.exp(-t / tau)) == pytest.approx(tau, rel=1e-3)
    # other level, with a t = 0 point in front
    t0 = np.concatenate([[0.0], t])
    assert an.tau_alpha_crossing(t0, np.exp(-t0 / tau), level=0.5) == pytest.approx(tau * np.log(2), rel=1e-3)
    with pytest.raises(ValueError, match="never falls"):
        an.tau_alpha_crossing(t[:40], np.exp(-t[:40] / tau))
    assert np.isnan(an.tau_alpha_crossing(t[:40], np.exp(-t[:40] / tau), on_missing="nan"))
    with pytest.raises(ValueError, match="strictly increasing"):
        an.tau_alpha_crossing(t[::-1], np.exp(-t / tau))
    # evenly spaced lags: interpolation linear in t (the swap ladder's Q), and a censored time as inf
    lags = np.arange(0.0, 50.0, 2.0)
    q = np.exp(-lags / 7.0)
    k = int(np.argmax(q <= 1.0 / np.e))
    want = lags[k - 1] + (lags[k] - lags[k - 1]) * (q[k - 1] - 1.0 / np.e) / (q[k - 1] - q[k])
    assert an.tau_alpha_crossing(lags, q, interp="linear") == pytest.approx(want, rel=1e-12)
    assert an.tau_alpha_crossing(lags, q) != pytest.approx(want, rel=1e-6)  # log-t interpolation differs
    assert an.tau_alpha_crossing(lags, np.full(lags.size, 0.9), on_missing="inf") == np.inf


def test_log_bin_reference() -> None:
    t = np.arange(1, 1001, dtype=float)
    y = 2.0 * t
    tb, yb = an.log_bin(t, y, points_per_decade=2)
    lt = np.log10(t)
    b = np.floor(lt * 2 + 1e-9).astype(int)
    for j, ub in enumerate(np.unique(b)):
        sel = b == ub
        assert tb[j] == pytest.approx(10 ** lt[sel].mean())
        assert yb[j] == pytest.approx(y[sel].mean())


def test_fit_kww_recovers_parameters() -> None:
    t = np.logspace(-2, 3, 80)
    A, tau, beta = 0.93, 12.0, 0.62
    f = A * np.exp(-((t / tau) ** beta))
    fit = an.fit_kww(t, f)
    assert fit.params["A"] == pytest.approx(A, rel=1e-5)
    assert fit.tau_alpha == pytest.approx(tau, rel=1e-5)
    assert fit.params["beta"] == pytest.approx(beta, rel=1e-5)
    assert fit.r2 > 0.999999
    assert fit(fit.tau_1e) == pytest.approx(1 / np.e, rel=1e-9)
    rng = np.random.default_rng(50)
    fit_n = an.fit_kww(t, f + rng.normal(0, 0.005, t.size))
    assert fit_n.tau_alpha == pytest.approx(tau, rel=0.05)
    assert fit_n.params["beta"] == pytest.approx(beta, rel=0.05)
    assert 0 < fit_n.tau_alpha_err < 0.1 * tau
    # linearly spaced dense data: log binning keeps each decade's weight; still recovers tau
    tl = np.linspace(0.01, 500, 5000)
    assert an.fit_kww(tl, A * np.exp(-((tl / tau) ** beta))).tau_alpha == pytest.approx(tau, rel=1e-4)


def test_fit_double_stretched_recovers_parameters() -> None:
    t = np.logspace(-3, 4, 120)
    p = {"f": 0.72, "tau_s": 0.08, "beta_s": 1.6, "tau_alpha": 150.0, "beta_alpha": 0.55}
    f = (1 - p["f"]) * np.exp(-((t / p["tau_s"]) ** p["beta_s"])) + p["f"] * np.exp(-((t / p["tau_alpha"]) ** p["beta_alpha"]))
    fit = an.fit_double_stretched(t, f)
    for name, v in p.items():
        assert fit.params[name] == pytest.approx(v, rel=1e-3), name
    assert fit.tau_alpha == pytest.approx(150.0, rel=1e-3)
    assert fit(fit.tau_1e) == pytest.approx(1 / np.e, rel=1e-8)
    assert fit.tau_1e == pytest.approx(an.tau_alpha_crossing(t, f), rel=2e-3)
    rng = np.random.default_rng(51)
    fit_n = an.fit_double_stretched(t, f + rng.normal(0, 0.003, t.size))
    assert fit_n.tau_alpha == pytest.approx(150.0, rel=0.1)
    assert fit_n.params["f"] == pytest.approx(0.72, abs=0.02)
    assert np.isfinite(fit_n.tau_alpha_err) and fit_n.tau_alpha_err > 0
    # fixed short-time exponent
    fit_b = an.fit_double_stretched(t, f, beta_s=1.6)
    assert fit_b.params["beta_s"] == 1.6 and fit_b.tau_alpha == pytest.approx(150.0, rel=1e-3)


# ------------------------------------------------------------------------------------------ creep


def test_creep_fit_recovers_law_and_base() -> None:
    rng = np.random.default_rng(60)
    t = np.linspace(0, 1000, 10001)
    sigma0, C, eps0 = 0.5, 250.0, 0.004
    with np.errstate(divide="ignore"):
        clean = -(eps0 + sigma0 / C * np.log(t))  # compression: negative strain
    clean[0] = 0.0
    runs = [clean + rng.normal(0, 2e-4, t.size) for _ in range(5)]
    fit = an.fit_creep_law(t, runs, sigma0, t_min=1.0)
    assert fit.sign == -1 and fit.n_runs == 5
    assert fit.C == pytest.approx(C, rel=0.02)
    assert fit.eps0 == pytest.approx(eps0, abs=2e-4)
    assert fit.C_err < 0.02 * C and fit.eps0_err < 2e-4
    assert fit.r2 > 0.99
    assert fit.strain_rate_exponent == pytest.approx(-1.0, abs=0.15)
    np.testing.assert_allclose(fit.mean_strain, np.mean(runs, axis=0))
    np.testing.assert_allclose(fit.std_strain, np.std(runs, axis=0, ddof=1))
    np.testing.assert_allclose(fit(t[1:]), clean[1:], atol=5e-4)
    fit10 = an.fit_creep_law(t, runs, sigma0, t_min=1.0, base="10")
    assert fit10.C * np.log(10) == pytest.approx(fit.C, rel=1e-10)
    assert fit10.eps0 == pytest.approx(fit.eps0, rel=1e-10)
    # explicit sign and OLS on raw points, brute-force normal equations as reference
    fit_raw = an.fit_creep_law(t, np.mean(runs, axis=0), sigma0, t_min=1.0, t_max=500.0, sign=-1, points_per_decade=None)
    sel = (t >= 1.0) & (t <= 500.0)
    X = np.stack([np.ones(sel.sum()), np.log(t[sel])], axis=1)
    coef = np.linalg.lstsq(X, -np.mean(runs, axis=0)[sel], rcond=None)[0]
    assert fit_raw.eps0 == pytest.approx(coef[0], rel=1e-9)
    assert fit_raw.C == pytest.approx(sigma0 / coef[1], rel=1e-9)


def test_creep_fit_noiseless_exact_and_errors() -> None:
    t = np.logspace(0, 5, 60)
    strain = 0.01 + 0.5 / 300.0 * np.log(t)  # tension
    fit = an.fit_creep_law(t, strain, 0.5)
    assert fit.sign == 1
    assert fit.C == pytest.approx(300.0, rel=1e-10) and fit.eps0 == pytest.approx(0.01, abs=1e-12)
    assert fit.strain_rate_exponent == pytest.approx(-1.0, abs=1e-3)
    with pytest.raises(ValueError, match="positive magnitude"):
        an.fit_creep_law(t, strain, -0.5)
    with pytest.raises(ValueError, match="common time grid"):
        an.fit_creep_law(t, [strain, strain[:-1]], 0.5)
    with pytest.raises(ValueError, match="need >= 3"):
        an.fit_creep_law(t, strain, 0.5, t_min=1e6)
    np.testing.assert_allclose(an.axial_strain([10.0, 9.9, 9.8]), [0.0, -0.01, -0.02])


# ------------------------------------------------------------------------------------------ AQS drops


def _sawtooth(n_steps: int = 400, drop_every: int = 37, g: float = 20.0, d_gamma: float = 1e-3):
    """Elastic loading at modulus g, with the stress dropping by a known amount every drop_every steps."""
    strain = np.arange(n_steps) * d_gamma
    stress = np.zeros(n_steps)
    energy = np.zeros(n_steps)
    sizes = {}
    rng = np.random.default_rng(70)
    for i in range(1, n_steps):
        if i % drop_every == 0:
            sizes[i] = float(rng.uniform(0.05, 0.5))
            stress[i] = stress[i - 1] - sizes[i]
            energy[i] = energy[i - 1] - 3.0 * sizes[i]
        else:
            stress[i] = stress[i - 1] + g * d_gamma
            energy[i] = energy[i - 1] + 0.01
    return strain, stress, energy, sizes


def test_detect_drops_sawtooth() -> None:
    strain, stress, energy, sizes = _sawtooth()
    ev = an.detect_drops(strain, stress, energy, min_drop=1e-3)
    idx = np.array(sorted(sizes))
    np.testing.assert_array_equal(ev.index, idx)
    np.testing.assert_allclose(ev.strain, strain[idx - 1])
    np.testing.assert_allclose(ev.d_stress, [sizes[i] for i in idx], rtol=1e-10)
    np.testing.assert_allclose(ev.d_energy, [3 * sizes[i] for i in idx], rtol=1e-10)
    ev_e = an.detect_drops(strain, stress, energy, criterion="energy", min_energy_drop=0.3)
    np.testing.assert_array_equal(ev_e.index, [i for i in idx if 3 * sizes[i] > 0.3])
    assert len(an.detect_drops(strain, stress, min_drop=1.0)) == 0
    # an avalanche spread over two steps is one event when merged
    s2 = stress.copy()
    s2[idx[0] + 1] = s2[idx[0]] - 0.1
    s2[idx[0] + 2 :] -= 0.1 + 20 * 1e-3
    ev_m = an.detect_drops(strain, s2, min_drop=1e-3, merge_consecutive=True)
    assert len(ev_m) == len(idx)
    assert ev_m.d_stress[0] == pytest.approx(sizes[idx[0]] + 0.1)
    assert ev_m.index[0] == idx[0] + 1 and ev_m.strain[0] == strain[idx[0] - 1]
    assert len(an.detect_drops(strain, s2, min_drop=1e-3)) == len(idx) + 1
    with pytest.raises(ValueError, match="strictly increasing"):
        an.detect_drops(strain[::-1], stress)
    with pytest.raises(ValueError, match="needs the energy"):
        an.detect_drops(strain, stress, criterion="both")


def test_drop_statistics_sawtooth() -> None:
    strain, stress, energy, sizes = _sawtooth()
    st = an.drop_statistics(strain, stress, energy, min_drop=1e-3, flow_strain=0.1, bins_per_decade=4)
    vals = np.array([sizes[i] for i in sorted(sizes)])
    assert st.n_events == len(vals)
    assert st.mean_drop == pytest.approx(vals.mean())
    assert st.mean_energy_drop == pytest.approx(3 * vals.mean())
    assert st.mean_strain_interval == pytest.approx(37e-3)
    assert st.yield_stress == stress.max() and st.yield_strain == strain[np.argmax(stress)]
    assert st.flow_stress == pytest.approx(np.mean([s for e, s in zip(strain, stress) if e >= 0.1]))
    assert np.sum(st.hist_density * np.diff(st.hist_edges)) == pytest.approx(1.0)
    counts = [np.sum((vals >= a) & (vals < b)) for a, b in zip(st.hist_edges[:-1], st.hist_edges[1:])]
    np.testing.assert_allclose(st.hist_density * np.diff(st.hist_edges) * len(vals), counts)
    with pytest.raises(ValueError, match="beyond the last strain"):
        an.drop_statistics(strain, stress, flow_strain=10.0)


# ------------------------------------------------------------------------------------------ plots


def test_plots_write_pngs(tmp_path) -> None:
    t = np.logspace(-2, 3, 60)
    f = 0.9 * np.exp(-((t / 10.0) ** 0.7))
    fit = an.fit_kww(t, f)
    paths = [an.plot_fs(tmp_path / "fs.png", t, {"A": f}, fits=fit, k=7.25)]
    paths.append(an.plot_msd(tmp_path / "sub" / "msd.png", t, 0.1 * t))
    tc = np.linspace(0, 100, 200)
    with np.errstate(divide="ignore"):
        eps = np.where(tc > 0, -(0.002 + 0.5 / 200 * np.log(np.maximum(tc, 1e-300))), 0.0)
    cf = an.fit_creep_law(tc, [eps, eps * 1.01], 0.5, t_min=1.0)
    paths.append(an.plot_creep(tmp_path / "creep.png", tc, cf.mean_strain, fit=cf))
    strain, stress, _, _ = _sawtooth()
    st = an.drop_statistics(strain, stress, min_drop=1e-3)
    paths.append(an.plot_stress_strain(tmp_path / "ss.png", strain, stress, events=st.events, flow_stress=st.flow_stress))
    for p in paths:
        data = p.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert len(data) > 10_000
    assert not [p for p in tmp_path.rglob("*.tmp")]  # atomic write left no temporary file
