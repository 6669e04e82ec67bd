"""lammps_inputs/{nve,creep,aqs}_ka.lmp under ``mpirun -np 2 lmp`` with fix glass/predict, cross-checked
against the Python protocols (glassfix.protocols) run in-process on the same glass."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers.models import make_softness_model
from glassfix.data.lammps_io import read_dump_frames, write_data
from glassfix.engines.lammps.runner import run_lammps
from glassfix.protocols import AQSSpec, CreepSpec, PrepareSpec, Stage, load_frame_npz, read_series, run
from helpers import REPO

INPUTS = REPO / "lammps_inputs"


@pytest.fixture(scope="module")
def glass(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("glass_inputs") / "prep"
    spec = PrepareSpec(n=200, T=0.5, T_melt=2.0, melt_steps=200, quench_steps=200, stages=(Stage("nvt", 100),),
                       chunk_steps=500, thermo_every=100, seed=23, min_ftol=1e-8)
    assert run(spec, out, progress=False).complete
    return out


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return make_softness_model(tmp_path_factory.mktemp("model_inputs") / "soft.glassfix", seed=3)


def _table(path: Path) -> np.ndarray:
    """Numeric rows of a text table, '#' lines skipped."""
    rows = [ln.split() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    return np.array(rows, dtype=np.float64)


def _run(script: str, tmp_path: Path, variables: dict, plugin_so: Path) -> Path:
    out = tmp_path / "out"
    run_lammps(INPUTS / script, nprocs=2, cwd=tmp_path, log_path="log.lammps", timeout=300,
               variables={**variables, "plugin": plugin_so, "out": out})
    return out


def test_nve_ka_input(glass, model, plugin_so, tmp_path):
    out = _run("nve_ka.lmp", tmp_path, dict(data=glass / "final.data", model=model, T=0.5, steps=200, every=50,
                                             thermo_every=50, dump_every=100), plugin_so)
    ser = _table(out / "series.txt")
    assert ser[:, 0].tolist() == [0, 50, 100, 150, 200]
    assert ser[0, 2] == pytest.approx(0.5, rel=1e-12)  # fresh velocities at T
    assert np.ptp(ser[:, 5]) < 2e-3  # NVE: total energy per atom conserved
    frames = list(read_dump_frames(out / "nve.dump"))
    assert [f.step for f in frames] == [0, 100, 200]
    pred = np.asarray(frames[1].metadata["columns"]["f_pred"], dtype=np.float64)
    assert np.isfinite(pred).all()
    assert ser[2, 7] == pytest.approx(pred.mean(), rel=1e-10)  # thermo mean = mean of the per-atom values
    assert (out / "final.data").is_file()


def test_creep_ka_input_matches_python_protocol(glass, model, plugin_so, tmp_path):
    # start from a glass already minimised under the load (the Python protocol's step-0 snapshot): the
    # minimised copies then need a few hundred CG iterations instead of thousands, which keeps this
    # 2-rank test (many MPI reductions per iteration) fast on busy machines
    pre = run(CreepSpec(data=str(glass / "inherent.data"), steps=1, snapshot_every=1, min_ftol=1e-9,
                        stress_tol=1e-6), tmp_path / "pre", progress=False)
    assert pre.complete
    start, _, _ = load_frame_npz(tmp_path / "pre" / "frames" / "creep_min_000000000000.npz")
    write_data(start, tmp_path / "relaxed.data", masses=[1.0, 1.0])
    common = dict(T=0.01, sigma0=0.5, seed=77, dt=0.01, tdamp=1.0, pdamp=10.0)
    out = _run("creep_ka.lmp", tmp_path, dict(data=tmp_path / "relaxed.data", model=model, nsnap=2,
                                               snapshot_every=100, every=50, thermo_every=50, ftol=1e-9, **common),
               plugin_so)
    ser = _table(out / "series.txt")
    assert ser[:, 0].tolist() == [0, 50, 100, 150, 200]  # no row repeated after the restarts
    lz0 = ser[0, 9]
    np.testing.assert_allclose(ser[:, 10], (ser[:, 9] - lz0) / lz0, rtol=0, atol=1e-14)
    snap = _table(out / "snapshots.txt")
    assert snap[:, 0].tolist() == [100, 200]
    assert snap[:, 5] == pytest.approx(0.5, abs=1e-6) and np.abs(snap[:, 3:5]).max() < 1e-6
    assert np.isfinite(snap[:, 9]).all() and np.isfinite(ser[:, 11]).all()
    assert len(list(read_dump_frames(out / "creep_min.dump"))) == 2

    # the Python protocol on 1 rank: same load, same trajectory (to MPI round-off), same minimised copies
    res = run(CreepSpec(data=str(tmp_path / "relaxed.data"), steps=200, snapshot_every=100, thermo_every=50,
                        min_ftol=1e-9, stress_tol=1e-6, **common), tmp_path / "py", progress=False)
    assert res.complete
    py = read_series(tmp_path / "py" / "series.csv")
    np.testing.assert_allclose(py["lz"], ser[:, 9], rtol=0, atol=1e-8)
    np.testing.assert_allclose(py["strain"], ser[:, 10], rtol=0, atol=1e-8)
    pys = read_series(tmp_path / "py" / "snapshots.csv")
    np.testing.assert_allclose(pys["strain"][1:], snap[:, 1], rtol=0, atol=1e-6)
    np.testing.assert_allclose(pys["pe"][1:], snap[:, 2], rtol=0, atol=1e-8)


def test_aqs_ka_input_matches_python_protocol(glass, model, plugin_so, tmp_path):
    out = _run("aqs_ka.lmp", tmp_path, dict(data=glass / "inherent.data", model=model, nsteps=3, dgamma=1e-3,
                                             dump_every=2, ftol=1e-10), plugin_so)
    ser = _table(out / "aqs_series.txt")
    assert ser[:, 0].tolist() == [0, 1, 2, 3] and ser[:, 1] == pytest.approx([0, 1e-3, 2e-3, 3e-3])
    assert np.isfinite(ser[:, 7]).all()
    dumps = read_dump_frames(out / "aqs.dump")
    assert len(dumps) == 2 and np.isfinite(np.asarray(dumps[1].metadata["columns"]["f_pred"], dtype=float)).all()
    assert dumps[1].cell[1, 0] == pytest.approx(2e-3 * dumps[1].cell[1, 1], rel=1e-9)  # tilt = γ·Ly at k = 2
    res = run(AQSSpec(data=str(glass / "inherent.data"), dgamma=1e-3, prestrain=0.0, strain=0.003,
                      min_ftol=1e-10), tmp_path / "py", progress=False)
    assert res.complete
    py = read_series(tmp_path / "py" / "series.csv")
    np.testing.assert_allclose(py["sigma"], ser[:, 3], rtol=0, atol=1e-8)
    np.testing.assert_allclose(py["pe"], ser[:, 2], rtol=0, atol=1e-10)
