"""The loop at tiny scale: LAMMPS (mpirun -np 2) with glass/phop + glass/d2min + glass/record -> store ->
``glassfix train softness|ace|looseness|nt-gnn`` -> the trained model in ``fix glass/predict`` equals
``glassfix predict`` on the same frame; label metadata, grouped splits, the shuffled-label control,
``glassfix evaluate`` and the one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from glassfix.cli import main
from glassfix.data.lammps_io import read_dump_frames, write_data
from glassfix.data.store import DatasetStore
from glassfix.systems import KobAndersen3D
from helpers.lmp_util import KA_PAIR, error_lines, run_lmp

EVERY, WINDOW, LAG, GROUPS, STEPS = 20, 4, 40, 4, 200
PHOP = f"phop/every={EVERY},window={WINDOW}"
D2MIN = f"d2min/every={EVERY},lag={LAG},rcut=2.5,normalize=mean"


def record_script(plugin: Path) -> str:
    runs = "\n".join(f"""velocity all create 0.8 {11 + g} dist gaussian mom yes rot no loop geom
fix ph all glass/phop {EVERY} {WINDOW}
fix d2 all glass/d2min {EVERY} {LAG} 2.5 normalize mean margin 1.5
fix rec all glass/record {EVERY} store.h5 values f_ph f_d2 group run{g} system ka temperature 0.8
run {STEPS}
unfix rec
unfix d2
unfix ph""" for g in range(GROUPS))
    return f"""plugin load {plugin}
units lj
atom_style atomic
read_data ka.data
{KA_PAIR}
comm_modify cutoff 6.0
minimize 1e-4 1e-6 200 2000
reset_timestep 0
timestep 0.005
velocity all create 1.5 7 dist gaussian mom yes rot no loop geom
fix nve all nve
fix lan all langevin 0.8 0.8 0.5 9
run 600
{runs}
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory, plugin_so) -> Path:
    """One recorded store shared by the tests: KA N = 400, four runs (groups) of 200 steps at T = 0.8."""
    d = tmp_path_factory.mktemp("loop")
    write_data(KobAndersen3D().initial_frame(400, seed=3), d / "ka.data", masses=[1.0, 1.0])
    proc = run_lmp(record_script(plugin_so), d, nprocs=2, timeout=300)
    assert proc.returncode == 0 and not error_lines(proc.stdout), proc.stdout[-3000:]
    return d / "store.h5"


def _train(store: Path, out: Path, kind: str, *extra: str) -> dict:
    rc = main(["train", kind, "--store", str(store), "--out", str(out), *extra])
    assert rc == 0
    return json.loads((out / "metrics.json").read_text())


SOFT = ("--mu-max", "2.5", "--species", "A", "B", "--above", "0.03", "--cv-C", "0.1", "1", "--per-class", "300")
ACE = ("--body-order", "3", "--degree", "4", "--r-cut", "2.5", "--top", "0.1", "--cv-C", "1", "--per-class", "200",
       "--frames", "ka/run*/*00")
LOOSE = ("--above", "0.1", "--rfe", "0", "--learners", "4", "--frames", "ka/run*/00000000*[048]0")


@pytest.fixture(scope="module")
def models(store, tmp_path_factory) -> dict[str, Path]:
    """softness, ace and looseness trained by the CLI on the recorded store, nt-gnn on replicas made of it."""
    root = tmp_path_factory.mktemp("models")
    out = {}
    for kind, extra in (("softness", SOFT), ("ace", ACE), ("looseness", LOOSE)):
        _train(store, root / kind, kind, *extra)
        out[kind] = root / kind / f"{kind}.glassfix"
    # a tiny isoconfigurational-style store: each run's first frame, "replica" = the same run 160 steps later
    iso = root / "iso.h5"
    with DatasetStore(store) as ds, DatasetStore(iso, mode="w") as dst:
        for g in range(GROUPS):
            keys = [k for k in ds.keys() if ds.frame_info(k)["group"] == f"run{g}"]
            f0, f1 = ds.frame(keys[0]), ds.frame(keys[8])
            rep = (f0.positions + (f1.unwrapped - f0.unwrapped))[None]
            dst.add_frame(f0, key=f"ka/run{g}", group=f"run{g}", system="ka", replicas={"t=0.8": rep})
    rc = main(["train", "nt-gnn", "--store", str(iso), "--out", str(root / "nt"), "--time-label", "t=0.8",
               "--epochs", "2", "--hidden", "8", "--steps", "2", "--lr", "1e-3", "--threads", "1", "--batch", "2"])
    assert rc == 0
    out["nt-gnn"] = root / "nt" / "nt-gnn.glassfix"
    out["iso"] = iso
    return out


# ---- label metadata -------------------------------------------------------------------------------------

@pytest.mark.slow
def test_recorded_labels_carry_kind_parameters_and_described_step(store):
    from glassfix.labels.phop import phop
    from glassfix.train.dataset import aligned_pairs

    with DatasetStore(store) as ds:
        keys = [k for k in ds.keys() if ds.frame_info(k)["group"] == "run1"]
        names = ds.label_names(keys[-1])
        assert PHOP in names and D2MIN in names
        p = ds.label_params(keys[-1], PHOP)
        step = ds.frame_info(keys[-1])["step"]
        assert (p["kind"], p["window"], p["every"], p["source"]) == ("phop", WINDOW, EVERY, "f_ph")
        assert p["recorded_step"] == step and p["step_offset"] == -(WINDOW // 2) * EVERY
        assert p["describes_step"] == step - (WINDOW // 2) * EVERY
        q = ds.label_params(keys[-1], D2MIN)
        assert (q["lag"], q["rcut"], q["normalize"], q["step_offset"]) == (LAG, 2.5, "mean", -LAG)
        # the stored value at step s equals offline p_hop centred on the frame it names
        traj = np.stack([ds.frame(k).unwrapped for k in keys])
        offline = phop(traj, WINDOW)
        pairs = dict(aligned_pairs(ds, PHOP, keys))
        steps = {k: ds.frame_info(k)["step"] for k in keys}
        for lk, fk in pairs.items():
            assert steps[fk] == steps[lk] - (WINDOW // 2) * EVERY
            got = ds.labels(lk, [PHOP])[PHOP]
            want = offline[keys.index(fk)]
            assert np.abs(got - want).max() <= 1e-10 * np.abs(want).max()


# ---- the loop -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fix_vs_offline(store, models, plugin_so, tmp_path_factory):
    """All four trained models in fix glass/predict (mpirun -np 2, run 0) on one recorded frame, and the
    same models through ``glassfix predict`` on the same data file."""
    d = tmp_path_factory.mktemp("predict")
    with DatasetStore(store) as ds:
        frame = ds.frame(ds.keys()[-3])
    write_data(frame, d / "f.data", masses=[1.0, 1.0])
    opts = {"softness": "ghost auto", "ace": "ghost auto", "looseness": "mode gather", "nt-gnn": "mode gather"}
    fixes = "\n".join(f"fix p{i} all glass/predict 1 model {models[k]} {opts[k]}" for i, k in enumerate(opts))
    script = f"""plugin load {plugin_so}
units lj
atom_style atomic
read_data f.data
{KA_PAIR}
{fixes}
dump d all custom 1 out.dump id type x y z {' '.join(f'f_p{i}' for i in range(len(opts)))}
dump_modify d format float %20.16g sort id
run 0
"""
    proc = run_lmp(script, d, nprocs=2, timeout=300)
    assert proc.returncode == 0 and not error_lines(proc.stdout), proc.stdout[-3000:]
    online = read_dump_frames(d / "out.dump")[0].metadata["columns"]
    out = {}
    for i, kind in enumerate(opts):
        assert main(["predict", "--model", str(models[kind]), "--frame", str(d / "f.data"),
                     "--out", str(d / f"{kind}.npy")]) == 0
        out[kind] = (np.asarray(online[f"f_p{i}"], np.float64), np.load(d / f"{kind}.npy"))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("kind,rtol", [("softness", 1e-10), ("ace", 1e-10), ("looseness", 1e-10),
                                       ("nt-gnn", 2e-5)])
def test_trained_model_in_the_fix_equals_glassfix_predict(fix_vs_offline, kind, rtol):
    fix, offline = fix_vs_offline[kind]
    ok = np.isfinite(offline)
    assert ok.sum() >= 300  # species A at least (looseness: A only)
    if kind in ("softness", "ace", "looseness"):
        # the fix writes 0 where the model has no head (NaN offline)
        assert np.all(fix[~ok] == 0) or np.all(np.isnan(fix[~ok]))
    scale = np.abs(offline[ok]).max()
    assert np.abs(fix[ok] - offline[ok]).max() <= rtol * scale, kind


@pytest.mark.slow
def test_provenance_split_and_evaluate_agree(store, models, tmp_path):
    from glassfix.models import load_model

    for kind in ("softness", "ace", "looseness"):
        prov = load_model(models[kind]).provenance
        assert prov["label"]["name"] == (PHOP if kind == "softness" else D2MIN)
        assert prov["label"]["params"]["step_offset"] == -(LAG if kind != "softness" else (WINDOW // 2) * EVERY)
        assert len(prov["store_sha256"]) == 64 and prov["command"].startswith(f"glassfix train {kind}")
        # grouped split: no configuration on both sides
        group = lambda k: k.split("/")[1]  # noqa: E731
        train_groups = {group(k) for k in prov["split"]["train_frames"]}
        test_groups = {group(k) for k in prov["split"]["test_frames"]}
        assert train_groups and test_groups and not train_groups & test_groups
        assert set(prov["split"]["test_units"]) == test_groups
    # evaluate = the trainer's test metrics (same examples, same metric code)
    metrics = json.loads((models["softness"].parent / "metrics.json").read_text())
    assert main(["evaluate", str(models["softness"]), "--store", str(store), "--out", str(tmp_path / "ev")]) == 0
    ev = json.loads((tmp_path / "ev" / "evaluation.json").read_text())
    for k in ("n", "n_positive", "balanced_accuracy", "auc", "accuracy"):
        assert ev[k] == pytest.approx(metrics["test"][k], rel=1e-12), k
    assert ev["balanced_accuracy"] > 0.5 and (tmp_path / "ev" / "evaluation.md").exists()
    assert main(["evaluate", str(models["nt-gnn"]), "--store", str(models["iso"]), "--split", "all",
                 "--out", str(tmp_path / "ev2")]) == 0
    ev2 = json.loads((tmp_path / "ev2" / "evaluation.json").read_text())
    assert ev2["n_frames"] == GROUPS and len(ev2["per_configuration"]) == GROUPS


@pytest.mark.slow
def test_shuffled_label_control_scores_at_chance(store, models, tmp_path):
    real = json.loads((models["softness"].parent / "metrics.json").read_text())
    shuf = _train(store, tmp_path / "shuf", "softness", *SOFT, "--shuffle-labels")
    assert real["test"]["auc"] > 0.55
    assert abs(shuf["test"]["balanced_accuracy"] - 0.5) < 0.06 and abs(shuf["test"]["auc"] - 0.5) < 0.06
    assert "shuffled" in (tmp_path / "shuf" / "report.md").read_text()


@pytest.mark.slow
def test_model_kind_that_cannot_run_in_the_requested_mode(models, store, plugin_so, tmp_path):
    with DatasetStore(store) as ds:
        write_data(ds.frame(ds.keys()[0]), tmp_path / "f.data", masses=[1.0, 1.0])
    script = f"""plugin load {plugin_so}
units lj
atom_style atomic
read_data f.data
{KA_PAIR}
fix p all glass/predict 1 model {models['looseness']} mode local
run 0
"""
    proc = run_lmp(script, tmp_path, nprocs=2, timeout=120)
    errs = error_lines(proc.stdout)
    assert proc.returncode != 0 and len(errs) == 1 and "mode gather" in errs[0], proc.stdout[-2000:]


# ---- grouped cross-validation and bad input (no LAMMPS) ----------------------------------------------------

def _toy_store(path: Path, offset: int | None = -20, n_groups: int = 3, frames: int = 4, scale: float = 1.0) -> Path:
    """Random KA-like frames every 20 steps; label 'phop/every=20,window=2' describing step + offset
    (no metadata when offset is None); larger label on denser environments (learnable)."""
    from glassfix.core.frame import Frame
    from glassfix.data.labels_meta import offset_attrs

    rng = np.random.default_rng(0)
    n, L = 120, (120 / 1.2) ** (1 / 3)
    with DatasetStore(path, mode="w") as ds:
        for g in range(n_groups):
            for s in range(frames):
                pos = rng.uniform(0, L, (n, 3))
                fr = Frame(positions=pos, types=(np.arange(n) % 5 == 0).astype(np.int64), cell=np.eye(3) * L,
                           unwrapped=pos, step=20 * s)
                v = scale * rng.uniform(size=n)
                if offset is not None and 20 * s + offset < 0:
                    v[:] = np.nan  # not yet defined, as online labels at the start of a run
                attrs = {} if offset is None else offset_attrs(20 * s, offset)
                ds.add_frame(fr, group=f"g{g}", system="toy", labels={"phop/every=20,window=2": (v, attrs)})
    return path


def _error(argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    msg = str(exc.value.code)
    assert "\n" not in msg and "Traceback" not in msg
    return msg


def test_bad_input_gets_one_clear_line(tmp_path):
    store = _toy_store(tmp_path / "toy.h5")
    base = ["train", "softness", "--store", str(store), "--out", str(tmp_path / "o"), "--mu-max", "2.0"]
    msg = _error(base + ["--label", "d2min"])
    assert "no label 'd2min'" in msg and "phop/every=20,window=2" in msg
    msg = _error(base + ["--label", "phop", "--above", "0.999"])
    assert "positive" in msg and "need >= 10" in msg and "--above" in msg
    msg = _error(base + ["--label", "phop", "--above", "0.5", "--label-offset", "0"])
    assert "contradicts" in msg
    # labels that describe frames the store does not hold (offset of a window the recorder did not sample)
    missing = _toy_store(tmp_path / "missing.h5", offset=-30)
    msg = _error(["train", "softness", "--store", str(missing), "--out", str(tmp_path / "o2"), "--above", "0.5"])
    assert "frames it describes are not in" in msg and "-> step 10" in msg
    # a label without step metadata needs the offset stated
    bare = _toy_store(tmp_path / "bare.h5", offset=None)
    msg = _error(["train", "softness", "--store", str(bare), "--out", str(tmp_path / "o3"), "--above", "0.5"])
    assert "--label-offset" in msg
    rc = main(["train", "botan", "--store", str(store), "--out", str(tmp_path / "o4"), "--time-label", "t=1"])
    assert rc == 1


def test_grouped_cross_validation_never_leaks_a_configuration(tmp_path, monkeypatch):
    from sklearn import model_selection

    from glassfix.train import classifiers

    store = _toy_store(tmp_path / "toy.h5", n_groups=4)
    seen = []
    orig = model_selection.GroupKFold.split

    def spy(self, X, y=None, groups=None):
        for tr, te in orig(self, X, y, groups):
            seen.append((set(np.asarray(groups)[tr]), set(np.asarray(groups)[te])))
            yield tr, te

    monkeypatch.setattr(model_selection.GroupKFold, "split", spy)
    cfg = classifiers.ClassifierConfig(kind="softness", label="phop", above=0.5, cv_C=[1.0], cv_folds=3,
                                       descriptor={"mu_max": 2.0}, min_per_class=5)
    res = classifiers.train_classifier(store, tmp_path / "o", cfg)
    assert seen and all(tr and te and not tr & te for tr, te in seen)
    prov = json.loads(json.dumps(res["metrics"]))
    assert prov["cv"]["A"]["folds"].endswith("by group")


def test_help_states_units_and_defaults(capsys):
    for argv in (["train", "softness", "--help"], ["train", "ace", "--help"], ["train", "looseness", "--help"],
                 ["train", "nt-gnn", "--help"], ["evaluate", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        text = capsys.readouterr().out
        assert "default" in text and ("sigma" in text or "σ" in text), argv


@pytest.mark.slow
def test_offline_and_online_labels_align_through_their_metadata(store, tmp_path):
    """``glassfix label d2min --store`` on the recorded trajectory: its label (stored on frame k, reference
    k − lag) and the online one describe the same frames with the same values."""
    from glassfix.data.lammps_io import write_dump
    from glassfix.train.dataset import aligned_pairs

    with DatasetStore(store) as ds:
        keys = [k for k in ds.keys() if ds.frame_info(k)["group"] == "run2"]
        frames = [ds.frame(k) for k in keys]
        # frames recorded before LAG carry no D2min label (glass/record stores only defined values)
        online = {ds.frame_info(k)["step"]: ds.labels(k, [D2MIN])[D2MIN] for k in keys if D2MIN in ds.label_names(k)}
        online_pairs = {ds.frame_info(lk)["step"]: ds.frame_info(fk)["step"]
                        for lk, fk in aligned_pairs(ds, D2MIN, keys)}
    write_dump(frames, tmp_path / "traj.dump", columns=["id", "type", "x", "y", "z", "xu", "yu", "zu"])
    off = tmp_path / "offline.h5"
    assert main(["label", "d2min", str(tmp_path / "traj.dump"), "--lag", str(LAG // EVERY), "--rcut", "2.5",
                 "--normalize", "mean", "--store", str(off), "--system", "ka", "--group", "run2"]) == 0
    with DatasetStore(off) as ds:
        name = next(n for n in ds.label_names(ds.keys()[-1]) if n.startswith("d2min"))
        pairs = aligned_pairs(ds, name, ds.keys())
        assert len(pairs) == len(online_pairs)
        for lk, fk in pairs:
            s, t = ds.frame_info(lk)["step"], ds.frame_info(fk)["step"]
            assert online_pairs[s] == t == s - LAG
            got, want = ds.labels(lk, [name])[name], online[s]
            assert np.abs(got - want).max() <= 1e-10 * np.abs(want).max()


def test_quiescent_negatives_stay_below_the_threshold_over_their_window(tmp_path):
    from glassfix.descriptors.structure_functions import RadialStructureFunctions
    from glassfix.train.dataset import LabelRule, aligned_pairs, build_examples

    store = _toy_store(tmp_path / "toy.h5", frames=5)
    desc = RadialStructureFunctions(2, mus=[1.0], species_names=["A", "B"])
    name = "phop/every=20,window=2"
    with DatasetStore(store) as ds:
        pairs = aligned_pairs(ds, name, ds.keys())
        plain = build_examples(ds, name, pairs, LabelRule(above=0.5), [0], desc)
        quiet = build_examples(ds, name, pairs, LabelRule(above=0.5, quiescent=40), [0], desc)
        # expected: values per (group, described step, atom id) -> negatives need the last 3 labelled steps < 0.5
        val = {}
        for lk, fk in pairs:
            fi = ds.frame_info(fk)
            for i, v in zip(ds.frame(lk).ids, ds.labels(lk, [name])[name]):
                val[(fi["group"], fi["step"], int(i))] = v
    steps = {fk: int(fk.rsplit("/", 1)[1]) for fk in set(quiet.frame_key)}
    assert quiet.y.sum() == plain.y.sum()  # positives are not affected
    for k in range(quiet.n):
        if quiet.y[k]:
            continue
        g, s, i = quiet.group[k], steps[quiet.frame_key[k]], int(quiet.atom_id[k])
        assert s >= 40 and all(val[(g, s - d, i)] < 0.5 for d in (0, 20, 40))
    n_expected = sum(1 for (g, s, i), v in val.items() if s >= 40 and i % 5 != 1   # species A: ids 5k+2..5k+5
                     and all(val[(g, s - d, i)] < 0.5 for d in (0, 20, 40)))
    assert (~quiet.y).sum() == n_expected < (~plain.y).sum()


# ---- trained by `glassfix train`, run by `glassfix run --model` ---------------------------------------------

@pytest.mark.slow
def test_trained_models_run_in_every_protocol(models, tmp_path):
    """The whole loop: each model trained above from the online-recorded store runs in its natural protocol
    under ``mpirun -np 2`` (``glassfix run ... --model``) and its on-the-fly values equal ``glassfix predict``
    on the same frames (softness in NVE, ACE in AQS, looseness in creep, NT-GNN in NVE, gathered)."""
    from glassfix.protocols import AQSSpec, CreepSpec, NVESpec, run
    from helpers.protocol_checks import START, check_frames

    cases = {
        "softness": (NVESpec(data=str(START), T=0.45, steps=20, frame_every=10, thermo_every=10,
                             model=str(models["softness"])), "md", "softness", 1e-10, 3),
        "ace": (AQSSpec(data=str(START), dgamma=1e-3, prestrain=0.0, strain=0.001, save_every=1, min_ftol=1e-8,
                        model=str(models["ace"])), "aqs", "activity", 1e-10, 1),
        "looseness": (CreepSpec(data=str(START), steps=10, snapshot_every=10, thermo_every=10, min_ftol=1e-6,
                                min_maxiter=50, stress_tol=10.0, max_min_rounds=1, model=str(models["looseness"])),
                      "creep_min", "looseness", 1e-10, 2),
        "nt-gnn": (NVESpec(data=str(START), T=0.45, steps=10, frame_every=10, thermo_every=10,
                           model=str(models["nt-gnn"])), "md", "propensity", 2e-5, 2),
    }
    for kind, (spec, frames, output, rtol, n_frames) in cases.items():
        res = run(spec, tmp_path / kind, nprocs=2, progress=False)
        assert res.complete, kind
        assert check_frames(tmp_path / kind, frames, models[kind], output, rtol, tmp_path) == n_frames, kind
