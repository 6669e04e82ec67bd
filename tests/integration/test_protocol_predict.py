"""``glassfix run nve|creep|aqs --model`` under ``mpirun -np 2``: the on-the-fly values equal ``glassfix predict``
on the same frames, for every model kind of examples/models (tiny runs on the shipped N = 500 glass)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from glassfix.data.lammps_io import write_dump
from glassfix.protocols import AQSSpec, CreepSpec, NVESpec, ProtocolError, load_frame_npz, read_series, run

from helpers.protocol_checks import MODELS, START, check_frames, offline  # noqa: F401


def test_nve_softness_np2(tmp_path):
    """``glassfix run nve --model --every --np 2 --store``: frames, series and store carry the predictions."""
    from glassfix.cli import main
    from glassfix.data.store import DatasetStore

    model = MODELS / "ka_softness.glassfix"
    assert main(["run", "nve", "--data", str(START), "--T", "0.45", "--steps", "40", "--frame-every", "20",
                 "--thermo-every", "10", "--model", str(model), "--every", "10", "--np", "2", "--quiet",
                 "--store", str(tmp_path / "s.h5"), "--out", str(tmp_path / "nve")]) == 0
    assert check_frames(tmp_path / "nve", "md", model, "softness", 1e-10, tmp_path) == 3
    pred = read_series(tmp_path / "nve" / "predictions.csv")
    assert pred["step"].tolist() == [0, 10, 20, 30, 40]
    _, labels, _ = load_frame_npz(tmp_path / "nve" / "frames" / "md_000000000040.npz")
    assert pred["softness_mean"][-1] == pytest.approx(np.nanmean(labels["predict/softness"]), rel=1e-12)
    with DatasetStore(tmp_path / "s.h5", "r") as ds:
        keys = ds.keys()
        assert len(keys) == 3
        np.testing.assert_array_equal(ds.labels(keys[-1])["predict/softness"], labels["predict/softness"])


def test_nve_inherent_softness_np2_predicts_on_every_minimum(tmp_path):
    """``--inherent`` with a model: the fix also evaluates every minimised copy (models trained on inherent
    structures); the values equal offline prediction on the saved minimum and differ from the thermal frame's."""
    model = MODELS / "ka_softness.glassfix"
    res = run(NVESpec(data=str(START), T=0.45, steps=40, frame_every=20, thermo_every=10, seed=5, inherent=True,
                      min_ftol=1e-6, model=str(model), predict_every=10), tmp_path / "nve", nprocs=2, progress=False)
    assert res.complete
    assert check_frames(tmp_path / "nve", "is", model, "softness", 1e-10, tmp_path) == 3
    snap = read_series(tmp_path / "nve" / "is_predictions.csv")
    assert snap["step"].tolist() == [0, 20, 40]
    _, s_is, _ = load_frame_npz(tmp_path / "nve" / "frames" / "is_000000000040.npz")
    _, s_md, _ = load_frame_npz(tmp_path / "nve" / "frames" / "md_000000000040.npz")
    assert snap["softness_mean"][-1] == pytest.approx(np.nanmean(s_is["predict/softness"]), rel=1e-12)
    assert np.nanmax(np.abs(s_is["predict/softness"] - s_md["predict/softness"])) > 1e-3


@pytest.mark.slow
def test_creep_looseness_np2_gathers_by_itself(tmp_path):
    model = MODELS / "ka_looseness.glassfix"  # trained with the freud default; unbounded receptive field
    # a few CG iterations per snapshot suffice: the test is about the values on whatever minimum is reached
    res = run(CreepSpec(data=str(START), steps=20, snapshot_every=10, thermo_every=10, min_ftol=1e-6,
                        min_maxiter=50, stress_tol=10.0, max_min_rounds=1, model=str(model)), tmp_path / "creep",
              nprocs=2, progress=False)
    assert res.complete
    assert check_frames(tmp_path / "creep", "creep_min", model, "looseness", 1e-10, tmp_path) == 3
    snap = read_series(tmp_path / "creep" / "snapshot_predictions.csv")
    assert snap["step"].tolist() == [0, 10, 20] and np.isfinite(snap["looseness_mean"]).all()
    assert read_series(tmp_path / "creep" / "predictions.csv")["step"].tolist() == [0, 10, 20]


def test_aqs_ace_np2(tmp_path):
    model = MODELS / "ka_ace.glassfix"
    res = run(AQSSpec(data=str(START), dgamma=1e-3, prestrain=0.0, strain=0.002, save_every=1, min_ftol=1e-8,
                      model=str(model)), tmp_path / "aqs", nprocs=2, progress=False)
    assert res.complete
    assert check_frames(tmp_path / "aqs", "aqs", model, "activity", 1e-10, tmp_path) == 2
    assert read_series(tmp_path / "aqs" / "predictions.csv")["step"].tolist() == [0, 1, 2]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["gather", None])    # None: the model's default, local (distributed)
def test_nve_botan_np2(tmp_path, mode):
    model = MODELS / "ka_botan.glassfix"
    res = run(NVESpec(data=str(START), T=0.45, steps=10, frame_every=10, thermo_every=10, model=str(model),
                      predict_mode=mode), tmp_path / "nve", nprocs=2, progress=False)
    assert res.complete
    assert check_frames(tmp_path / "nve", "md", model, "propensity", 2e-5, tmp_path) == 2


def test_mode_local_for_a_voronoi_model_is_one_clear_error(tmp_path):
    spec = CreepSpec(data=str(START), steps=10, snapshot_every=10, model=str(MODELS / "ka_looseness.glassfix"),
                     predict_mode="local")
    with pytest.raises(ProtocolError, match=r"cannot run in mode local.*receptive field is inf.*--mode gather"):
        run(spec, tmp_path / "c", progress=False)
    with pytest.raises(ProtocolError, match="frame_every \\(25\\) must be a multiple of predict_every \\(10\\)"):
        NVESpec(data=str(START), frame_every=25, model=str(MODELS / "ka_softness.glassfix"), predict_every=10)
