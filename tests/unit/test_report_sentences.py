"""The reproduction reports' generated sentences follow their numbers (issue 17 item 4: say only what the data shows).

The inputs are the numbers of the committed reports (docs/ka_tau_alpha.md, docs/swap_jbb.md, docs/ka_looseness.md)
and variations of them that must change the wording.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from glassfix.reproduce.jbb_swap import _md_provenance, _reading, _starts_note, _sweeps_note, _why_failed
from glassfix.reproduce.ka_looseness import _mean_l_reading, _snapshot_spacing, _steps
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
             "tau_alpha_md": ta} for i, ((t, ts, ta), s) in enumerate(zip(rows, speedups))]


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
    assert "undetermined" in text and "grows" not in text


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


def test_jbb_md_provenance():
    res = [{"T": 0.6, "md_times": list(np.arange(401) * 0.5)}, {"T": 0.4, "md_times": list(np.arange(401) * 2.5)}]
    text = _md_provenance(res, 200000, 500, 0.005)
    assert "T = 0.6 (200 τ, snapshots every 0.5 τ)" in text and "T = 0.4" not in text
    assert _md_provenance(res[1:], 200000, 500, 0.005) == ""


def test_looseness_spacing_and_mean_l_sentence():
    assert (_steps(50000), _steps(10000), _steps(12345)) == ("5·10⁴", "10⁴", "12345")
    t = np.repeat(np.arange(0, 300000, 50000), 3)
    assert _snapshot_spacing({"run_0": {"t": t, "tlast": 300000}}) == 50000
    steps = [0, 50000, 100000]
    mixed = _mean_l_reading({"a": (steps, [0.3, 0.496, 0.491]), "b": (steps, [0.3, 0.485, 0.487])})
    assert "between 0.485 and 0.496" in mixed and "falls in 1 of 2 runs" in mixed and "do not show" in mixed
    falling = _mean_l_reading({"a": (steps, [0.3, 0.6, 0.5]), "b": (steps, [0.3, 0.7, 0.4])})
    assert "falls from the first to the last snapshot in every run, as in the paper" in falling


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
