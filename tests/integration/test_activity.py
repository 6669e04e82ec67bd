"""ACE activity classifier (model kind "ace-activity"; files of the older name "ace" load) and the thermal activity labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from glassfix.data.lammps_io import read_dump_frames, write_data
from glassfix.descriptors.structure_functions import RadialStructureFunctions
from glassfix.labels.d2min import d2min, isoconfigurational_d2min
from glassfix.labels.events import extreme_fraction_labels
from glassfix.models import ActivityModel, SoftnessModel, load_model
from helpers.lmp_util import error_lines, predict_run_script, run_lmp, shared_ka_frame
from helpers import REPO


def test_extreme_fraction_labels_against_sorting():
    rng = np.random.default_rng(0)
    v = rng.normal(size=400)
    v[7] = np.nan
    mask = rng.uniform(size=400) < 0.8
    idx, y = extreme_fraction_labels(v, mask, 0.1)
    cand = [i for i in range(400) if mask[i] and np.isfinite(v[i])]
    k = int(0.1 * len(cand))
    ranked = sorted(cand, key=lambda i: (v[i], i))
    assert set(idx[~y]) == set(ranked[:k]) and set(idx[y]) == set(ranked[-k:])
    assert np.all(np.diff(idx) > 0) and y.sum() == k
    # ties are broken by atom index, deterministically
    idx2, y2 = extreme_fraction_labels(np.zeros(20), fraction=0.25)
    assert list(idx2[~y2]) == [0, 1, 2, 3, 4] and list(idx2[y2]) == [15, 16, 17, 18, 19]
    with pytest.raises(ValueError, match="no label"):
        extreme_fraction_labels(np.ones(5), fraction=0.1)


def test_isoconfigurational_d2min_is_the_replica_mean():
    frame = shared_ka_frame(1)
    rng = np.random.default_rng(1)
    reps = frame.positions[None] + rng.normal(scale=0.05, size=(3, frame.n_atoms, 3))
    got = isoconfigurational_d2min(frame, reps, 2.5)
    want = np.mean([d2min(frame, r, 2.5)[0] for r in reps], axis=0)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # rigid translations (any per replica) are no rearrangement
    shifted = frame.positions[None] + np.array([[0.3, -1.0, 7.5], [2.0, 0.0, 0.1]])[:, None, :]
    assert isoconfigurational_d2min(frame, shifted, 2.5).max() < 1e-20


def separable(seed=0, n=400, nf=12):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, nf))
    y = X[:, 0] + 0.5 * X[:, 1] + 0.2 * rng.normal(size=n) > 0
    return X, y


def test_activity_model_trains_predicts_probabilities_and_round_trips(tmp_path):
    desc = RadialStructureFunctions(n_species=2, species_names=["A", "B"], mus=np.linspace(0.5, 3.0, 6))
    X, y = separable()
    model = ActivityModel.train(desc, {0: (X, y)}, C=1.0, cv_C=[0.1, 1.0])
    head = model.heads[0]
    assert head.metrics["train_balanced_accuracy"] > 0.9 and head.metrics["converged"]
    p = model.predict_features(X, np.zeros(len(X), np.int64))[:, 0]
    assert np.all((p > 0) & (p < 1))
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-head.decision(X))), rtol=1e-12)
    assert np.isnan(model.predict_features(X[:3], np.ones(3, np.int64))).all()  # no head for B
    loaded = load_model(model.save(tmp_path / "a.glassfix"))
    assert isinstance(loaded, ActivityModel) and loaded.output_names == ["activity"]
    np.testing.assert_array_equal(loaded.predict_features(X, np.zeros(len(X), np.int64)), p[:, None])
    # a softness model is still a softness model (no sigmoid), and the kinds do not mix
    soft = SoftnessModel.train(desc, {0: (X, y)})
    assert not np.all((soft.predict_features(X, np.zeros(len(X), np.int64)) > 0)
                      & (soft.predict_features(X, np.zeros(len(X), np.int64)) < 1))
    assert load_model(soft.save(tmp_path / "s.glassfix")).kind == "softness"


@pytest.mark.slow
def test_activity_model_in_lammps_takes_the_python_path(tmp_path, plugin_so):
    """On radial structure functions the classifier must not use the native softness tables (they have no
    sigmoid): fix glass/predict gives the offline probabilities."""
    frame = shared_ka_frame(2)
    desc = RadialStructureFunctions(n_species=2, species_names=["A", "B"])
    centers = np.arange(0, frame.n_atoms, 4)
    X = desc.compute(frame, centers=centers)
    data = {}
    for t in (0, 1):
        Xt = X[frame.types[centers] == t]
        data[t] = (Xt, Xt[:, 12] > np.median(Xt[:, 12]))    # a structural label, per species
    model = ActivityModel.train(desc, data)
    assert model.native_tables(np.array([0, 1])) is None
    path = model.save(tmp_path / "act.glassfix")
    write_data(frame, tmp_path / "ka.data", masses=[1.0, 1.0])
    script = predict_run_script(plugin_so, tmp_path / "ka.data", path)
    proc = run_lmp(script, tmp_path, nprocs=2, timeout=300)
    assert proc.returncode == 0 and not error_lines(proc.stdout), proc.stdout[-2000:]
    fr = read_dump_frames(tmp_path / "out.dump")[0]
    got = fr.metadata["columns"]["f_p"]
    assert np.all((got >= 0) & (got <= 1)) and 0.05 < np.mean(got > 0.5) < 0.95    # probabilities
    np.testing.assert_allclose(got, model.predict(fr)[:, 0], rtol=0, atol=1e-10)


@pytest.mark.parametrize("normalize_w", [False, True])
def test_ace_activity_fused_readout_equals_the_feature_path(normalize_w):
    """With ACE invariants the classifier runs inside the invariant kernel (no feature matrix): equal to
    features → standardise → logistic to 1e-10, with a periodic list and with an explicit one; NaN for a
    species without a head."""
    from glassfix.core.neighbors import neighbor_list
    from glassfix.descriptors.ace import ACEDescriptor
    from glassfix.models.base import Predictor

    frame = shared_ka_frame(2)
    desc = ACEDescriptor(n_species=2, max_body_order=4, degree=6, r_cut=3.0, species_names=["A", "B"])
    centers = np.arange(0, frame.n_atoms, 16)
    X = desc.compute(frame, centers=centers)
    Xa = X[frame.types[centers] == 0]
    model = ActivityModel.train(desc, {0: (Xa, Xa[:, 3] > np.median(Xa[:, 3]))}, C=1.0,
                                normalize_w=normalize_w)
    fused = model.predict(frame, centers=centers)
    generic = Predictor.predict(model, frame, centers=centers)    # descriptor → predict_features
    assert np.isnan(generic[frame.types[centers] == 1]).all() and np.isnan(fused[frame.types[centers] == 1]).all()
    a = frame.types[centers] == 0
    assert 0.05 < np.mean(generic[a, 0] > 0.5) < 0.95
    np.testing.assert_allclose(fused[a], generic[a], rtol=0, atol=1e-10)
    nl = neighbor_list(frame, desc.cutoff, centers[:50])
    np.testing.assert_allclose(model.predict(frame, neighbors=nl)[a[:50]], generic[:50][a[:50]], rtol=0, atol=1e-10)


@pytest.mark.slow
def _small_ace_model(tmp_path: Path, frame) -> tuple[ActivityModel, Path]:
    """A 3-body ACE activity classifier (r_cut 2.5) fitted to a descriptor column of ``frame``."""
    from glassfix.descriptors.ace import ACEDescriptor

    desc = ACEDescriptor(n_species=2, max_body_order=3, degree=5, r_cut=2.5, species_names=["A", "B"])
    centers = np.arange(0, frame.n_atoms, 8)
    X = desc.compute(frame, centers=centers)
    data = {t: (X[frame.types[centers] == t], X[frame.types[centers] == t][:, 2] > np.median(X[frame.types[centers] == t][:, 2]))
            for t in (0, 1)}
    model = ActivityModel.train(desc, data)
    return model, model.save(tmp_path / "ace.glassfix")


@pytest.mark.parametrize("options", ["ghost auto", "ghost auto native no"])
def test_ace_activity_fused_in_lammps_local_mode(tmp_path, plugin_so, options):
    """fix glass/predict (mode local, 2 ranks, ghost auto) runs the fused ACE read-out on LAMMPS' ghost
    atoms, binning them itself (native yes: no LAMMPS list) or reading LAMMPS' full list (native no): equal
    to the offline feature path to 1e-10."""
    from glassfix.models.base import Predictor

    frame = shared_ka_frame(2)
    model, path = _small_ace_model(tmp_path, frame)
    assert model.bins_locally(3) and not model.bins_locally(2)
    write_data(frame, tmp_path / "ka.data", masses=[1.0, 1.0])
    proc = run_lmp(predict_run_script(plugin_so, tmp_path / "ka.data", path, options=options), tmp_path, nprocs=2,
                   timeout=300)
    assert proc.returncode == 0 and not error_lines(proc.stdout), proc.stdout[-2000:]
    fr = read_dump_frames(tmp_path / "out.dump")[0]
    got = fr.metadata["columns"]["f_p"]
    np.testing.assert_allclose(got, Predictor.predict(model, fr)[:, 0], rtol=0, atol=1e-10)
    assert 0.05 < np.mean(got > 0.5) < 0.95


@pytest.mark.parametrize("ghost", ["static", "auto"])
def test_ace_activity_binned_between_reneighbourings(tmp_path, plugin_so, ghost):
    """ghost static (comm_modify cutoff = r_cut + skin, 3 ranks, MD at T = 1): evaluations between
    LAMMPS' re-neighbourings bin ghosts that have moved since; ghost auto: the fix's own halo (LAMMPS keeps
    its pair shell). Every evaluated step equals the offline prediction on the dumped configuration
    (positions dumped at full precision)."""
    from glassfix.models.base import Predictor

    frame = shared_ka_frame(3)
    model, path = _small_ace_model(tmp_path, frame)
    write_data(frame, tmp_path / "ka.data", masses=[1.0, 1.0])
    comm = "comm_modify cutoff 2.8\n" if ghost == "static" else ""
    script = predict_run_script(plugin_so, tmp_path / "ka.data", path, options=f"ghost {ghost}",
                                extra=comm + "neighbor 0.3 bin\nneigh_modify every 10 delay 0 check no\n"
                                      "velocity all create 1.0 5 dist gaussian\nfix nve all nve\ntimestep 0.005")
    script = script.replace("glass/predict 1 ", "glass/predict 3 ").replace("dump d all custom 1 ", "dump d all custom 3 ")
    script = script.replace("run 0", "run 15")
    proc = run_lmp(script, tmp_path, nprocs=3, timeout=300)
    assert proc.returncode == 0 and not error_lines(proc.stdout), proc.stdout[-2000:]
    frames = read_dump_frames(tmp_path / "out.dump")
    assert len(frames) == 6
    for fr in frames:
        np.testing.assert_allclose(fr.metadata["columns"]["f_p"], Predictor.predict(model, fr)[:, 0], rtol=0,
                                   atol=1e-10)


def test_old_kind_name_ace_still_loads(tmp_path):
    """"ace" names the descriptor; the activity model is "ace-activity", and files of the old kind name load."""
    import json
    import zipfile

    from glassfix.models import MODEL_KINDS, ActivityModel, load_model

    old = REPO / "examples" / "models" / "ka_ace.glassfix"
    with zipfile.ZipFile(old) as zf:
        assert json.loads(zf.read("manifest.json"))["kind"] == "ace"  # written before the rename
    model = load_model(old)
    assert type(model) is ActivityModel and model.kind == "ace-activity"
    assert MODEL_KINDS.get("ace") is ActivityModel and "ace" in MODEL_KINDS and "ace" not in MODEL_KINDS.names()
    again = load_model(model.save(tmp_path / "a.glassfix"))
    assert again.kind == "ace-activity"
