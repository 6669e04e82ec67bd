"""``glassfix reproduce softness``: configuration checks, the chunk input and the trainer's configuration
(the run itself takes about an hour, far too long for the suite; the analyses it uses are tested in
tests/test_analysis_softness.py and its report sentences in tests/test_report_sentences.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from glassfix.reproduce.softness import SoftnessConfig, _train_glob, chunk_script, classifier_config


def test_config_checks_lengths_and_multiples():
    with pytest.raises(ValueError, match="same length"):
        SoftnessConfig(temperatures=(0.5, 0.6), equil_tau=(100.0,), chunks=(1, 1))
    with pytest.raises(ValueError, match="multiples of label_every"):
        SoftnessConfig(chunk_steps=40_100)
    assert SoftnessConfig().t_train == 0.54


def test_train_glob_selects_every_train_every_steps():
    assert _train_glob(SoftnessConfig()) == "*000"
    assert _train_glob(SoftnessConfig(train_every=10_000)) == "*0000"
    with pytest.raises(ValueError, match="power of ten"):
        _train_glob(SoftnessConfig(train_every=2000))


def test_chunk_script_records_phop_per_chunk_group():
    cfg = SoftnessConfig()
    text = chunk_script(cfg, 0.6, 3, Path("/x/chunk_02.data"), Path("/p/glassfixplugin.so"))
    lines = text.splitlines()
    assert "fix ph all glass/phop 200 10" in lines
    assert "fix rec all glass/record 200 store.h5 values f_ph group c03 system ka3d temperature 0.6" in lines
    assert "reset_timestep 120000" in lines and "fix nve all nve" in lines and "run 40000" in lines
    assert lines.index("read_data /x/chunk_02.data") < lines.index("fix nve all nve")


def test_classifier_config_negatives_quiescent_for_tau_alpha():
    cc = classifier_config(SoftnessConfig(), tau_low=37.3)
    # 37.3 tau = 7460 steps, rounded up to the 200-step label grid
    assert cc.quiescent == 7600 and cc.above == 0.2 and cc.species == ["A"] and cc.frames == ["*000"]
    assert cc.descriptor == {"mu_max": 4.4} and cc.kind == "softness"
