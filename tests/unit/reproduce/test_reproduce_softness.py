"""``glassfix reproduce softness``: configuration checks, the chunk input and the trainer's configuration
(the run itself takes about an hour, far too long for the suite; the analyses it uses are tested in
tests/test_analysis_softness.py and its report sentences in tests/test_report_sentences.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
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


def _thermal_store(path: Path, n_frames: int = 14, n: int = 300, seed: int = 3) -> float:
    """A small KA store: one chunk of frames = one random separated configuration plus per-frame noise and a
    slow drift, with unwrapped positions that leave the box (so the quenched trajectory must stay continuous)."""
    from glassfix.core.frame import Frame
    from glassfix.data.store import DatasetStore
    from tests.helpers.frames import separated_positions

    rng = np.random.default_rng(seed)
    box = (n / 1.2) ** (1 / 3)
    base = separated_positions(rng, n, box, 0.75)
    types = (np.arange(n) % 5 == 0).astype(int)
    drift = rng.normal(size=(n, 3)) * 0.02
    with DatasetStore(path, mode="w") as ds:
        for t in range(n_frames):
            unwrapped = base + t * drift + rng.normal(size=(n, 3)) * 0.03 + box * (np.arange(n) % 3 == 0)[:, None]
            fr = Frame(positions=np.mod(unwrapped, box), types=types, cell=np.eye(3) * box, origin=np.zeros(3),
                       pbc=np.ones(3, bool), ids=np.arange(1, n + 1), species=("A", "B"), unwrapped=unwrapped,
                       step=200 * t, time=200 * t * 0.005)
            ds.add_frame(fr, group="c00", system="ka3d", temperature=0.6)
    return box


def test_quench_stage_stores_inherent_structures_with_their_own_phop(tmp_path):
    from glassfix.data.store import DatasetStore
    from glassfix.labels.phop import phop
    from glassfix.reproduce.softness import stage_quench
    from glassfix.systems import get_system
    from glassfix.systems.minimize import fire_minimize
    from glassfix.train.dataset import aligned_pairs, resolve_label

    cfg = SoftnessConfig(temperatures=(0.6, 0.8), equil_tau=(1.0, 1.0), chunks=(1, 1), inherent=True)
    td = cfg.tdir(tmp_path, 0.6)
    td.mkdir(parents=True)
    box = _thermal_store(td / "store.h5")
    (cfg.tdir(tmp_path, 0.8)).mkdir()
    _thermal_store(cfg.tdir(tmp_path, 0.8) / "store.h5", n_frames=11, seed=4)
    assert cfg.label_store(tmp_path, 0.6) == td / "store_is.h5"
    stage_quench(cfg, tmp_path, progress=None, workers=2)
    pot = get_system("ka3d").potential()
    with DatasetStore(td / "store.h5") as th, DatasetStore(td / "store_is.h5") as ds:
        keys = th.keys()
        assert ds.keys() == keys
        traj = []
        for k in keys:
            fr, fi = ds.frame(k), th.frame(k)
            # an inherent structure: a second minimisation does not move it
            again = fire_minimize(fr, pot, ftol=cfg.quench_ftol)
            assert again.steps <= 1 and np.abs(again.frame.positions - fr.positions).max() < 1e-12
            # unwrapped = position + a lattice vector, and the quench moves no atom by half a box
            img = (fr.unwrapped - fr.positions) / box
            np.testing.assert_allclose(img, np.round(img), atol=1e-9)
            assert np.abs(fr.unwrapped - fi.unwrapped).max() < 0.5 * box
            traj.append(fr.unwrapped)
        # a continuous quenched trajectory (the thermal one drifts by 0.02 σ per frame)
        assert np.abs(np.diff(traj, axis=0)).max() < 0.5 * box
        expect = phop(np.asarray(traj), cfg.phop_window, shared_endpoint=True)
        label = resolve_label(ds, "phop", keys)
        pairs = aligned_pairs(ds, label, keys)
        # the label describes its own frame; frames without a full window carry no label
        assert [lk for lk, fk in pairs] == [fk for lk, fk in pairs] == keys[5:-5]
        for n, k in enumerate(keys):
            if k in keys[5:-5]:
                np.testing.assert_array_equal(ds.labels(k, [label])[label], expect[n])
                assert ds.label_params(k, label)["step_offset"] == 0
            else:
                assert label not in ds.label_names(k)
    # resumable: a finished temperature is skipped, a missing marker reuses the stored frames
    (td / "quench.done").unlink()
    stage_quench(cfg, tmp_path, progress=None, workers=2)
    assert (td / "quench.done").exists()


def test_summary_names_the_positions_used_and_comparison_table_reads_both_runs():
    from glassfix.analysis.softness_stats import rearrangement_probability
    from glassfix.reproduce.softness_report import comparison_rows, summary_text

    rng = np.random.default_rng(0)
    S = rng.normal(size=4000)
    r = rng.random(4000) < 0.02 * np.exp(S)
    prs = {0.5: rearrangement_probability(S, r, (-4, -2, 0, 2, 4))}
    per_T = {0.5: {"q": 3.0}}
    thermal = summary_text(0.6, 0.7, None, -0.2, -0.1, per_T, [0.5], None, {0.5: 0.5}, prs)
    inherent = summary_text(0.6, 0.7, None, -0.2, -0.1, per_T, [0.5], None, {0.5: 0.5}, prs, inherent=True)
    assert "computed on thermal positions" in thermal
    assert "already on inherent structures" in inherent and "computed on thermal positions" not in inherent

    def run(f, cv, q):
        return {"frac_pos_held_out": f, "cv_best": cv, "best_single_score": 0.6, "best_pair_score": 0.62,
                "per_T": {"0.54": {"f_r": 0.01, "q": q, "span": 1.5}}, "arrhenius": {"T0": 1.01}}

    rows = comparison_rows(run(0.85, 0.8, 40.0), run(0.665, 0.679, 14.0), "inherent structures", "thermal positions")
    assert rows[0] == "| quantity | thermal positions | inherent structures |"
    assert "| rearrangers with S > 0 (held-out, T = 0.54) | 66.5 % | 85.0 % |" in rows
    assert "| grouped-CV balanced accuracy | 67.9 % | 80.0 % |" in rows
    assert "| T = 0.54: fraction rearranging; Q; P_R span (decades) | 1.0 %; 14.0; 1.5 | 1.0 %; 40.0; 1.5 |" in rows
    assert rows[-1] == "| onset T0 = e1/Σ1 | 1.01 | 1.01 |"


def test_compare_workdir_without_summary_is_refused_before_any_stage(tmp_path):
    from glassfix.reproduce.softness import run

    with pytest.raises(FileNotFoundError, match="--compare-workdir .* has no summary.json"):
        run(SoftnessConfig(inherent=True), tmp_path / "wd", tmp_path / "r.md", compare=tmp_path / "nope")
    assert not (tmp_path / "wd").exists()
