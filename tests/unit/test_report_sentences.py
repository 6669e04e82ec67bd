"""The reproduction reports' generated sentences follow their numbers (issue 17 item 4: say only what the data shows).

The inputs are the numbers of the committed reports (docs/ka_tau_alpha.md, docs/swap_jbb.md, docs/ka_looseness.md)
and variations of them that must change the wording.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from glassfix.reproduce.jbb_swap import _reading, _starts_note, _sweeps_note, _why_failed
from glassfix.reproduce.ka_looseness import spacing as _spacing
from glassfix.reproduce.ka_looseness_report import (
    control_reading, mean_l_reading as _mean_l_reading, sacf_reading, scan_reading, tc_reading, tacf_reading, trend_reading, _steps,
)
from glassfix.reproduce.ka_tau import KaTauConfig, _discussion

TAU_EACH = [12.99, 14.29, 11.30, 10.88, 11.81]


def test_ka_tau_discussion_side_and_error_attribution():
    cfg = KaTauConfig()
    text = _discussion(cfg, 12.12, SimpleNamespace(tau_alpha=16.59, tau_alpha_err=0.29), TAU_EACH)
    assert "lies between our two readings" in text
    # the ± belongs to the per-configuration crossings, not to the crossing of the mean F_s
    assert "(12.12, -27%; the 5 configurations' own crossings give 12.25 ± 0.62, standard error)" in text
    assert "(16.59 ± 0.29, +0.5%)" in text
    assert "lies below both of" in _discussion(cfg, 17.0, SimpleNamespace(tau_alpha=18.0, tau_alpha_err=0.3), TAU_EACH)
    assert "lies above both of" in _discussion(cfg, 10.0, SimpleNamespace(tau_alpha=12.0, tau_alpha_err=0.3), TAU_EACH)


def _swap_results(speedups, bound_last=False):
    rows = [(0.6, 4246.0, 41.28), (0.5, 6389.5, 87.85), (0.45, 8633.7, 172.6), (0.4, 13204.1, 536.2)]
    return [{"T": t, "speedup": s, "tau_alpha_lower_bound": bound_last and i == 3, "tau_swap_sweeps": ts,
             "tau_alpha_md": ta, "md_times": [0.0, 1000.0]} for i, ((t, ts, ta), s) in enumerate(zip(rows, speedups))]


def test_jbb_reading_follows_the_speedups():
    text = _reading(_swap_results([0.284, 0.36, 0.53, 1.02]))
    assert "grows at every step down in T" in text and "13.0-fold" in text and "3.1-fold" in text
    assert "slower than MD at T = 0.6, 0.5, 0.45" in text and "about as fast (within 10 %) at T = 0.4" in text
    assert "is not reached down to T = 0.4" in text and "measured here" not in text
    # order of the input does not matter
    assert _reading(list(reversed(_swap_results([0.284, 0.36, 0.53, 1.02])))) == text
    text = _reading(_swap_results([0.284, 0.2, 0.53, 2.0]))
    assert "does not grow at every step" in text and "faster at T = 0.4" in text and "not reached" not in text
    text = _reading(_swap_results([0.284, 0.36, 0.53, 0.4], bound_last=True))
    # the trend comes from the temperatures where MD relaxed; the bound is named as such
    assert "undetermined" in text and "grows at every step down in T where MD relaxed: from T = 0.6 to 0.45" in text
    assert "MD did not relax within its run at T = 0.4 (1000 τ)" in text


def test_jbb_budget_sentences():
    cfg = {"sweeps_max": 200000, "n_samples": 4, "sample_spacing": 2.0, "min_decays": 5.0, "z": 3.0}
    why = _why_failed({"checks": {"plateau": False, "decorrelated": False, "start_independent": True},
                       "tau_swap": 21200.0, "sweeps_per_chain": 200000}, cfg)
    assert "5 τ_swap ≈ 1.06e+05 sweeps is longer than the production window" in why and "(100000 sweeps)" in why
    assert "samples" not in why
    why = _why_failed({"checks": {"plateau": True, "decorrelated": True, "no_crystal": False},
                       "tau_swap": 900.0, "sweeps_per_chain": 200000}, cfg)
    assert why == "failed: no_crystal"
    rows = {"0.6": {"status": "equilibrated", "eq_sweeps": 64000, "energy_per_particle": [-2.2622, -2.2590],
                    "energy_err": [0.0008, 0.0008]},
            "0.4": {"status": "equilibrated", "eq_sweeps": 200000, "energy_per_particle": [-2.4819, -2.4813],
                    "energy_err": [0.0005, 0.0003]},
            "0.35": {"status": "not equilibrated", "eq_sweeps": -1}}
    assert "(64000 at T = 0.6, 200000 at T = 0.4) plus chain 0's share of the sampling (2 samples" in _sweeps_note(
        rows, cfg)
    assert "2.8 at T = 0.6;" in _starts_note(rows, cfg)
    assert "T = 0.4" not in _starts_note(rows, cfg)


def test_looseness_spacing_and_mean_l_sentence():
    assert (_steps(50000), _steps(10000), _steps(12345)) == ("5·10⁴", "10⁴", "12345")
    assert _spacing({"run_0": {"steps": np.arange(0, 300001, 50000)}, "run_1": {"steps": np.arange(0, 30001, 10000)}}) == 10000
    steps = [0, 50000, 100000]
    mixed = _mean_l_reading({"a": (steps, [0.3, 0.496, 0.491]), "b": (steps, [0.3, 0.485, 0.487])})
    assert "between 0.485 and 0.496" in mixed and "falls in 1 of 2 runs" in mixed and "do not show" in mixed
    falling = _mean_l_reading({"a": (steps, [0.3, 0.6, 0.5]), "b": (steps, [0.3, 0.7, 0.4])})
    assert "falls from the first to the last snapshot in every run, as in the paper" in falling


def test_looseness_scan_trend_and_tacf_sentences():
    nan = float("nan")
    scan = {"lags": [1, 10], "d0s": [0.05, 0.15, 0.25, 0.30],
            "bacc": [[0.60, 0.65, 0.70, 0.705], [0.55, 0.58, 0.62, nan]],
            "acc_loose": [[0.6, 0.6, 0.66, 0.7], [0.5, 0.5, 0.6, nan]],
            "acc_tight": [[0.6, 0.7, 0.74, 0.71], [0.6, 0.66, 0.64, nan]]}
    text = scan_reading(scan, 10000, 0.25)
    assert "from 0.600 (D0 = 0.05) to 0.705 (D0 = 0.3), rising in 3 of 3 steps of D0 (monotonic, as in the paper)" in text
    assert "varies by 0.005 (a plateau, as in the paper)" in text
    assert "0.700 at Δt = 10⁴, 0.620 at Δt = 10⁵ steps (decreasing with Δt, as in the paper)" in text
    assert "tight class is the better one in 6 of 7 scored combinations" in text
    scan["bacc"][1][2] = 0.71
    assert "not decreasing with Δt as in the paper" in scan_reading(scan, 10000, 0.25)
    scan["bacc"][0] = [0.60, 0.62, 0.70, 0.60]
    t2 = scan_reading(scan, 10000, 0.25)
    assert "rising in 2 of 3 steps of D0 (not monotonic)" in t2 and "no plateau within 0.02" in t2
    steps = [0, 10000, 20000, 40000]
    mL = np.array([[0.5, 0.40, 0.39, 0.38]])
    eps = np.array([[0.0, -0.01, -0.012, -0.014]])
    down = {"n": 3, "slope_L": -0.02, "slope_L_err": 0.001, "slope_eps": -0.003, "slope_eps_err": 0.0001,
            "pearson": 0.99, "r2_L": 0.98}
    t = trend_reading(down, steps, mL, eps)
    assert "⟨L⟩ goes from 0.4000 at t = 10⁴ steps to 0.3800 at 4·10⁴ steps and decreases" in t
    assert "Both decrease together, as in the paper." in t
    flat = dict(down, slope_L=0.001, slope_L_err=0.001)
    t = trend_reading(flat, steps, mL, eps)
    assert "shows no significant trend" in t and "not the paper's joint decrease" in t
    c = [1.0, 0.4, 0.2, 0.1, -0.05, -0.08, -0.02]
    tacf = {"c": c, "first_drop": 0.6, "lag_e": 3.0, "zero_lag": 4.0, "minimum": -0.08, "min_lag": 5.0}
    t = tacf_reading(tacf, 10000)
    assert "per-particle TACF drops to 0.400 over the first interval (10⁴ steps; drop 0.600)" in t
    assert "crosses zero at 4·10⁴ steps and reaches -0.080 at 5·10⁴ steps (a negative lobe" in t
    t = tacf_reading(dict(tacf, zero_lag=nan, lag_e=nan), 10000)
    assert "never becoming negative" in t and "stays above 1/e" in t
    top = {"n test loose": 100, "test recall (loose)": 0.5, "test balanced accuracy": 0.62}
    t = control_reading(top, {"test balanced accuracy": 0.50})
    assert "±0.025" in t and "+0.120 from the shuffled-label control, above the control" in t
    t = control_reading(dict(top, **{"test balanced accuracy": 0.54}), {"test balanced accuracy": 0.50})
    assert "not shown to beat chance" in t
    r = np.arange(0.25, 4.0, 0.5)
    sacf = {"r": r, "c": np.exp(-r / 0.6), "err": np.full(r.size, 0.01)}
    t = sacf_reading({"xi": 0.6, "xi_err": 0.02, "amplitude": 1.0, "r_e": 0.6, "n_fit": 4}, sacf)
    assert "ξ = 0.60 ± 0.02 σ" in t and "1/e crossing is at 0.60 σ" in t and "gone, as in the paper" in t
    tc = {"side": 7, "n_voxels": 3430, "n_cross": 3000, "median": 3.0, "max": 40.0, "slope": -1.1, "slope_err": 0.1}
    t = tc_reading(tc, 10000)
    assert "3000 of 3430 voxel series (7³ voxels per run)" in t and "median t_c of 3·10⁴ steps" in t
    assert "exponent -1.10 ± 0.10 (close to the paper's −1)" in t
    assert "unlike the paper's −1" in tc_reading(dict(tc, slope=-2.0), 10000)
    assert "t_c is not measured" in tc_reading(dict(tc, n_cross=0), 10000)
    sacf["c"] = sacf["c"] + 0.1
    assert "not gone, unlike the paper" in sacf_reading({"xi": float("nan"), "r_e": 0.8, "n_fit": 1}, sacf)


def test_softness_sentences_follow_the_numbers():
    from glassfix.reproduce.softness_report import arrhenius_sentence, span_sentence, weights_sentence

    Ts = [0.54, 0.6, 0.67]
    assert "shrinks at every step" in span_sentence(Ts, [3.0, 2.0, 1.0])
    assert "overall trend" in span_sentence(Ts, [3.0, 3.5, 1.0])
    assert "not reproduced" in span_sentence(Ts, [1.0, 2.0, 3.0])
    text = arrhenius_sentence(0.6, 0.1, 0.8, 0.1, 0.75, 0.03, 0.54, 0.67)
    assert "both as in the paper" in text and "above every studied temperature" in text and "within two" not in text
    assert "within two standard errors of the highest" in arrhenius_sentence(0.6, 0.1, 0.8, 0.1, 0.75, 0.06, 0.54, 0.67)
    text = arrhenius_sentence(-0.6, 0.1, 0.8, 0.1, 0.6, 0.05, 0.54, 0.67)
    assert "ΔE(S) increases" in text and "the paper has both decreasing" in text and "inside the studied range" in text
    assert "is flat within two standard errors" in arrhenius_sentence(0.1, 0.1, 0.8, 0.1, 0.1, 0.1, 0.54, 0.67)
    assert "below the studied" in arrhenius_sentence(0.3, 0.01, 0.8, 0.01, 0.375, 0.01, 0.54, 0.67)
    assert weights_sentence(-0.1, -0.2).startswith("both negative")
    assert weights_sentence(-0.1, 0.2).startswith("not both negative")


def test_ka_creep_report_names_the_command_that_made_it():
    from glassfix.reproduce.ka_creep import KaCreepConfig, command_line

    assert command_line(KaCreepConfig(runs=10, steps=1_000_000, snapshot_every=10_000)) == (
        "glassfix reproduce ka-creep --n 1000 --runs 10 --steps 1000000 --snapshot-every 10000")
    assert command_line(KaCreepConfig(temperature=0.2, seed=5)).endswith("--snapshot-every 50000 --T 0.2 --seed 5")
