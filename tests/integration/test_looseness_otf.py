"""The on-the-fly part of ``glassfix reproduce ka-looseness`` on a real (small) creep run: a new glass prepared
with ka-creep's seeding, the shipped looseness model inside ``fix glass/predict``; the fix's values on the
minimised frames equal the model offline, the run resumes instead of repeating, and the report section and
plot follow the numbers."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pytest

from glassfix.reproduce.ka_creep import KaCreepConfig
from glassfix.reproduce.ka_looseness_otf import OTF_INDEX, check_steps, otf_analysis, otf_dir, otf_lines, otf_plot, stage_otf

from helpers.protocol_checks import MODELS


def _creep_dir(root):
    root.mkdir()
    # N = 256: the smallest KA box (ρ = 1.2) wider than twice the pair cutoff plus skin
    cfg = KaCreepConfig(n=256, runs=2, steps=2000, snapshot_every=500, thermo_every=100)
    (root / "config.json").write_text(json.dumps(asdict(cfg)))
    return root


@pytest.mark.slow  # a 5·10⁴-step melt of 256 atoms and 10³ creep steps: ≈ 30 s of CPU
def test_otf_run_equals_offline_and_resumes(tmp_path):
    creep = _creep_dir(tmp_path / "creep")
    model = MODELS / "ka_looseness.glassfix"
    wd = stage_otf(creep, tmp_path / "wd", model, steps=1000, every=250, say=lambda s: None)
    assert wd == otf_dir(tmp_path / "wd", model) and wd.name.startswith("otf_")
    spec = json.loads((wd / "spec.json").read_text())["spec"]
    assert spec["predict_every"] == 250 and spec["steps"] == 1000
    assert spec["prepare"]["seed"] == 31 + 101 * OTF_INDEX and spec["prepare"]["n"] == 256
    otf = otf_analysis(wd, model)
    assert otf["frames"] == 3 and otf["snap_steps"] == [0, 500, 1000] and otf["md_steps"] == [0, 250, 500, 750, 1000]
    assert otf["nan_mismatch"] == 0 and otf["max_abs_diff"] < 1e-10
    assert otf["values"] == 3 * round(0.8 * 256) and np.isfinite(otf["snap_L"]).all()
    # complete: a second call returns the same directory without running again
    stamp = (wd / "state.json").stat().st_mtime_ns
    assert stage_otf(creep, tmp_path / "wd", model, steps=1000, every=250, say=lambda s: None) == wd
    assert (wd / "state.json").stat().st_mtime_ns == stamp
    ens_steps = [0, 500, 1000]
    ens_L = np.array([[0.5, 0.4, 0.3], [0.5, 0.2, 0.1]])
    png = otf_plot(otf, ens_steps, ens_L, tmp_path / "otf.png")
    assert png.stat().st_size > 1000
    text = "\n".join(otf_lines(otf, ens_steps, ens_L, png.name, str))
    diff = "bit for bit" if otf["max_abs_diff"] == 0 else f"to {otf['max_abs_diff']:.1e} at most"
    assert f"equals the model applied offline to the same frame {diff} over {otf['values']} values" in text
    assert "with NaN exactly on the B particles." in text and "mismatch" not in text
    gap = np.mean(np.asarray(otf["snap_L"][1:]) - np.array([0.3, 0.2]))
    assert f"It lies {abs(gap):.4f} {'above' if gap > 0 else 'below'} the ensemble's offline mean" in text


def test_otf_directory_follows_the_model_content_not_the_file(tmp_path):
    from glassfix.models import load_model

    model = load_model(MODELS / "ka_looseness.glassfix")
    a = model.save(tmp_path / "a.glassfix")
    model.provenance["command"] = "another command"
    b = model.save(tmp_path / "b.glassfix")
    assert a.read_bytes() != b.read_bytes() and otf_dir(tmp_path, a) == otf_dir(tmp_path, b)
    arrays = dict(model.arrays())
    arrays["biases"] = np.asarray(arrays["biases"]) + 1.0
    changed = type(model).from_file_contents(model.manifest(), arrays).save(tmp_path / "c.glassfix")
    assert otf_dir(tmp_path, changed) != otf_dir(tmp_path, a)


def test_otf_steps_must_fit_the_snapshot_grid(tmp_path):
    creep = _creep_dir(tmp_path / "creep")
    with pytest.raises(ValueError, match=r"--otf-steps \(1200\) must be a multiple of the creep runs' snapshot spacing \(500"):
        check_steps(creep, 1200, 250)
    with pytest.raises(ValueError, match=r"multiple of --otf-every \(300\)"):
        check_steps(creep, 1000, 300)
    check_steps(creep, 1000, 250)
