"""``glassfix reproduce ka-looseness`` end to end on a constructed creep directory (jittered lattices whose
particles hop by planted amounts between snapshots, saved as the creep protocol saves them): the cache,
the 2/1 run split, the avalanche flag, the scan, the analyses and a report whose sentences follow the
numbers; a partial dataset is refused unless allowed, and then marked PARTIAL. The real run (hours of
creep MD) is not in the suite; the analyses are tested in tests/unit/analysis/test_looseness_stats.py."""

from __future__ import annotations

import json

import numpy as np
import pytest

from glassfix.core.frame import Frame
from glassfix.protocols.common import save_frame_npz
from glassfix.reproduce.ka_looseness import KaLoosenessConfig, find_runs, run

EVERY = 1000


def _creep_dir(root, n_runs=3, complete=3, S=6, avalanche_run=1):
    """Creep-like runs: 6³ jittered lattice (ρ = 1.2), 80 % A; each snapshot moves 8 % of the particles by
    a random 0.3–0.8σ hop (D²min ≫ 0.25) and all by 0.02σ noise; ``avalanche_run`` moves 60 % once."""
    rng = np.random.default_rng(0)
    m = 6
    box = (m ** 3 / 1.2) ** (1 / 3)
    g = (np.stack(np.meshgrid(*[np.arange(m)] * 3, indexing="ij"), -1).reshape(-1, 3) + 0.5) * box / m
    n = g.shape[0]
    root.mkdir(parents=True)
    # the ka-creep parameters the on-the-fly run reads (a 256-atom glass, snapshots every EVERY steps)
    (root / "config.json").write_text(json.dumps({"runs": n_runs, "n": 256, "snapshot_every": EVERY}))
    types = (rng.random(n) < 0.2).astype(np.int64)
    for r in range(n_runs):
        wd = root / f"run_{r}"
        (wd / "frames").mkdir(parents=True)
        x = g + rng.normal(0, 0.08, g.shape)
        steps = np.arange(S) * EVERY
        for s, st in enumerate(steps):
            f = Frame(positions=x % box, types=types, cell=np.eye(3) * box, ids=np.arange(1, n + 1),
                      species=("A", "B"), unwrapped=x.copy(), step=int(st))
            save_frame_npz(wd / "frames" / f"creep_min_{st:012d}.npz", f, kind="creep_min")
            frac = 0.6 if (r == avalanche_run and s == 3) else 0.08
            hop = rng.random(n) < frac
            d = rng.normal(size=(n, 3))
            d *= (rng.uniform(0.3, 0.8, n) / np.linalg.norm(d, axis=1))[:, None]
            x = x + hop[:, None] * d + rng.normal(0, 0.02, x.shape)
        t = np.arange(0, steps[-1] + 1, 100)
        (wd / "series.csv").write_text("step,strain\n" + "".join(f"{a},{-1e-3 * np.log1p(a / 100):.6g}\n" for a in t))
        (wd / "state.json").write_text(json.dumps({"complete": r < complete}))
    return root


# small enough for the unit suite: coarse RFE, two D0 values, two points of the feature curve
CFG = dict(n_bootstrap=2, per_class=80, rfe_step=20, scan_per_class=60, scan_lags=(1, 3), scan_d0s=(0.1, 0.25),
           n_features_curve=(1, 60), tacf_max_lag=4, sacf_rmax=2.5, sacf_bins=10, voxel_sides=(2, 3), otf_steps=0)


@pytest.mark.slow  # ≈ 30 s of CPU (RFE, scan, 6 EasyEnsembles) + ≈ 30 s for the on-the-fly creep run (LAMMPS)
def test_partial_dataset_is_refused_or_marked(tmp_path):
    creep = _creep_dir(tmp_path / "creep", n_runs=4, complete=3)
    with pytest.raises(FileNotFoundError, match="only 3 of 4 creep runs are complete"):
        find_runs(creep, allow_partial=False)
    runs, wanted = find_runs(creep, allow_partial=True)
    assert [p.name for p in runs] == ["run_0", "run_1", "run_2"] and wanted == 4
    rep = run(KaLoosenessConfig(allow_partial=True, **dict(CFG, otf_steps=EVERY, otf_every=EVERY // 2)), creep,
              tmp_path / "wd", tmp_path / "rep.md")
    text = rep.read_text()
    assert "PARTIAL DATASET: only 3 of the 4 creep runs" in text.splitlines()[2]
    res = json.loads((tmp_path / "wd" / "result.json").read_text())
    assert res["train_runs"] == ["run_0", "run_1"] and res["test_runs"] == ["run_2"]
    # the avalanche of run_1 (snapshot 3 → 4) is flagged and excluded only in the sensitivity row
    assert [(a["run"], a["step"]) for a in res["avalanche_pairs"]] == [("run_1", 3 * EVERY)]
    assert "top 10, avalanche pairs excluded" in res["metrics"]
    ex = res["metrics"]["top 10, avalanche pairs excluded"]
    head = res["metrics"]["top-10 features (RFE)"]
    assert head["n train"] - ex["n train"] == res["n_particles"]
    assert head["n train loose"] - ex["n train loose"] == res["avalanche_pairs"][0]["n_loose"]
    # labels: t0 > 0 only, Δt = one spacing; the planted hops make ~8 % loose
    n_a = res["n_particles"]
    assert res["n_labelled"] == 3 * (6 - 2) * n_a
    assert 0.05 < res["n_loose"] / res["n_labelled"] < 0.25
    # the scan counts every lag's rows and uses min(available, 60) per class
    sc = res["scan"]
    assert sc["n"][0][0] == 3 * 4 * n_a and sc["n"][1][0] == 3 * 2 * n_a
    assert all(p <= 60 for row in sc["per_class"] for p in row)
    # the §5 analyses: SACF up to half the box, voxel TACF on ≈ 2.4 A per voxel, p(1|L) counts every label
    assert res["sacf_rmax"] == pytest.approx(min(2.5, 0.5 * (216 / 1.2) ** (1 / 3)))
    assert res["tc"]["side"] == round((n_a / 2.4) ** (1 / 3)) and len(res["vtacf"]["c"]) == 5
    assert sum(res["p1"]["n"]) == res["n_labelled"] and sum(res["p1"]["n_r"]) == res["n_loose"]
    # report: sections, plots and sentences from the numbers
    for s in ("## Paper | ours | conditions", "| 5 final model |", "System-spanning avalanches: 1 snapshot pair",
              "they hold", "the row 'top 10, avalanche pairs excluded' retrains", "Of the ten targets"):
        assert s in text
    # on the fly: the trained model inside fix glass/predict during a new 256-atom creep run, equal to offline
    otf = res["otf"]
    assert otf["frames"] == 2 and otf["md_steps"] == [0, EVERY // 2, EVERY] and otf["nan_mismatch"] == 0
    assert otf["max_abs_diff"] < 1e-10 and otf["dir"] in text
    assert "## On the fly: the model inside `fix glass/predict` during creep" in text
    for png in ("rep_L_t.png", "rep_stats.png", "rep_tasks.png", "rep_otf.png"):
        assert (tmp_path / png).stat().st_size > 1000
    assert f"{res['n_labelled']} labelled particle-snapshots, {res['n_loose']} loose" in text
    # a second invocation reads the cache
    run(KaLoosenessConfig(allow_partial=True, **CFG), creep, tmp_path / "wd", tmp_path / "rep.md")
    assert json.loads((tmp_path / "wd" / "result.json").read_text())["extracted"] == []


def test_too_few_runs_is_a_clear_error(tmp_path):
    creep = _creep_dir(tmp_path / "creep", n_runs=2, complete=1, S=3)
    with pytest.raises(FileNotFoundError, match="1 of 2 creep runs are complete; need at least 2"):
        find_runs(creep, allow_partial=True)
