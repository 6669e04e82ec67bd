"""``glassfix reproduce ace-aqs`` end to end at tier 0: tiny KA glasses, a few AQS steps, one r_cut, the model
on the fly in fix glass/predict, the report with its tables and PNGs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from glassfix.protocols import read_series
from glassfix.reproduce.ace_aqs import AceAqsConfig
from glassfix.reproduce.ace_aqs_report import run


@pytest.mark.slow
@pytest.mark.timeout(1800)   # ~10 min on 2 loaded cores (3 glasses, 4 protocol runs, ACE compiles)
def test_reproduce_ace_aqs_tier0(tmp_path):
    # N = 256 (L = 6.0): r_cut 2.5 only; large strain steps and no avalanche cut so that most glasses have
    # labelled rearrangements in 40 steps (the wiring is tested here, not the numbers)
    cfg = AceAqsConfig(n=256, samples=4, melt_steps=200, quench_steps=400, dgamma_pre=1e-3, prestrain=0.002,
                       dgamma=1e-3, strain=0.04, collect_ftol=1e-7, threshold=0.6, max_active_fraction=1.0,
                       r_cuts=(2.5,), otf_rcut=2.5, otf_strain=0.003, folds=3)
    report = tmp_path / "docs" / "ace_aqs.md"
    report.parent.mkdir()
    (report.parent / "ace_thermal.md").write_text(
        "| features | r_cut = 2.5 |\n|---|---|\n| A1 (first feature) | 0.557 |\n| all 2-body (20) | 0.748 |\n")
    out = run(cfg, tmp_path / "work", report, workers=1, say=lambda s: None)
    text = out.read_text()
    for head in ("## Accuracy by feature set and r_cut (AQS)", "## Thermal vs AQS", "## Paper | ours | conditions",
                 "## On the fly"):
        assert head in text
    assert "| 2 + 3 + 4-body (all) |" in text and "0.748" in text    # the thermal number is read back
    assert (report.parent / "ace_aqs.png").stat().st_size > 0
    assert (report.parent / "ace_aqs_otf.png").stat().st_size > 0
    res = json.loads((tmp_path / "work" / "result.json").read_text())
    assert res["samples"] == [0, 1, 2, 3]
    assert res["stats"]["n_pos"] == res["stats"]["n_neg"] > 0
    acc = res["accuracy"]["2.5"]
    assert all(0.0 <= v <= 1.0 for v in acc.values())
    # C tuned by nested CV in every outer fold, from the grid
    if res["nested"]:
        for v in res["nested"]["2.5"].values():
            assert 0.0 <= v["accuracy"] <= 1.0 and set(v["C"]) <= set(cfg.tune_Cs)
        assert "C tuned inside every training part" in text
    else:
        assert "needs at least 3 samples" in text
    # the model ran on every minimum of the on-the-fly run (3 steps + the start)
    otf = json.loads((tmp_path / "work" / "otf.json").read_text())
    pred = read_series(tmp_path / "work" / otf["collect"] / "predictions.csv")
    assert pred["step"].tolist() == [0, 1, 2, 3]
    assert np.all((pred["activity_mean"] > 0) & (pred["activity_mean"] < 1))
    # a second call resumes: nothing is rerun and the report is the same apart from nothing
    again = run(cfg, tmp_path / "work", report, stages=("report",), workers=1, say=lambda s: None)
    assert again.read_text().split("## Protocol")[1] == text.split("## Protocol")[1]
