"""``glassfix run nve|creep --engine openmm``: the protocols' outputs from the OpenMM engine — thermo consistent
with LAMMPS on the same input, reporter predictions equal to offline ``glassfix predict`` on the saved frames,
one clear error for what OpenMM cannot run, and a creep killed mid-run resuming to the uninterrupted result.
All on the CPU platform with one thread, on the shipped N = 500 KA glass."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("openmm")

from glassfix.protocols import CreepSpec, NVESpec, ProtocolError, load_frame_npz, read_series, run  # noqa: E402
from helpers import REPO as ROOT  # noqa: E402
from helpers.protocol_checks import offline  # noqa: E402

MODELS = ROOT / "examples" / "models"
START = MODELS / "ka_start.data"
SOFTNESS = MODELS / "ka_softness.glassfix"
CPU1 = {"platform": "CPU", "threads": 1}


def check_frames(workdir: Path, kind: str, model: Path, output: str, tmp: Path) -> dict[int, float]:
    """Every saved frame of ``kind`` carries predict/<output> equal to offline (1e-10); returns step -> mean."""
    means = {}
    for f in sorted((workdir / "frames").glob(f"{kind}_*.npz")):
        frame, labels, _ = load_frame_npz(f)
        online = labels[f"predict/{output}"]
        ref = offline(frame, model, tmp)
        assert np.array_equal(np.isnan(online), np.isnan(ref))
        ok = ~np.isnan(ref)
        np.testing.assert_allclose(online[ok], ref[ok], rtol=1e-10, atol=1e-10 * np.abs(ref[ok]).max())
        means[frame.step] = float(np.nanmean(online))
    return means


def test_nve_openmm_matches_lammps_and_predicts_like_offline(tmp_path):
    """Same NVE spec on both engines: T(0) = T exactly, the conserved total energy per atom equal across engines
    (both draw zero-momentum velocities at exactly T on the same glass, so E is fixed up to integration error),
    the equilibrated temperature equal within its fluctuation; OpenMM frames carry offline-equal predictions."""
    spec = NVESpec(data=str(START), T=0.45, steps=400, frame_every=200, thermo_every=10, model=str(SOFTNESS),
                   predict_every=20)
    omm = run(spec, tmp_path / "omm", engine="openmm", progress=False, engine_options=CPU1)
    lmp = run(spec, tmp_path / "lmp", progress=False)
    assert omm.complete and lmp.complete
    so, sl = read_series(tmp_path / "omm" / "series.csv"), read_series(tmp_path / "lmp" / "series.csv")
    assert list(so) == list(sl) and np.array_equal(so["step"], sl["step"])
    assert so["temp"][0] == pytest.approx(0.45, rel=1e-12) and sl["temp"][0] == pytest.approx(0.45, rel=1e-12)
    assert so["pe"][0] == pytest.approx(sl["pe"][0], abs=1e-12)       # same configuration, same pe
    # energy conservation (each engine) and the same conserved value: a missing half kick or a wrong
    # kinetic energy would shift OpenMM's E by ~T·dt-scale amounts (≥ 1e-2 per atom)
    for s in (so, sl):
        assert np.ptp(s["etotal"]) < 2e-3
    assert abs(so["etotal"].mean() - sl["etotal"].mean()) < 2e-3
    # after equipartition (~0.5 τ) T fluctuates by ~T·sqrt(2/3N) ≈ 0.01 per sample; the means of 20
    # correlated samples agree within 0.02 (a dof or unit error moves T by > 0.1)
    late = so["step"] >= 200
    assert abs(so["temp"][late].mean() - sl["temp"][late].mean()) < 0.02
    assert abs(so["pe"][late].mean() - sl["pe"][late].mean()) < 0.03
    # predictions: every 20 steps, per-atom labels on the frames equal offline, means = label means
    pred = read_series(tmp_path / "omm" / "predictions.csv")
    assert pred["step"].tolist() == list(range(0, 401, 20))
    means = check_frames(tmp_path / "omm", "md", SOFTNESS, "softness", tmp_path)
    assert sorted(means) == [0, 200, 400]
    for st, m in means.items():
        assert pred["softness_mean"][pred["step"] == st][0] == pytest.approx(m, rel=1e-12)
    # step 0: the same configuration in both engines, so the same prediction
    pl = read_series(tmp_path / "lmp" / "predictions.csv")
    assert pred["softness_mean"][0] == pytest.approx(pl["softness_mean"][0], rel=1e-10)
    assert json.loads((tmp_path / "omm" / "spec.json").read_text())["engine"] == "openmm"


@pytest.mark.slow
def test_creep_openmm_snapshots_match_lammps_and_predict_like_offline(tmp_path):
    """Creep on both engines from the same glass: the step-0 snapshot (the glass minimised under σ0) is the same
    minimum (strains, energy, stresses), OpenMM's snapshots reach stress_tol, and the model on them equals offline.

    Slow (≈ 55 s of CPU): two snapshots per engine to stress_tol = 1e-6 — LAMMPS box/relax CG and OpenMM's
    double-precision (Reference platform) minimisations with their quasi-Newton box rounds."""
    spec = CreepSpec(data=str(START), T=0.1, sigma0=0.5, steps=40, snapshot_every=20, thermo_every=10, dt=0.005,
                     model=str(SOFTNESS))
    omm = run(spec, tmp_path / "omm", engine="openmm", progress=False, engine_options=CPU1)
    lmp = run(spec, tmp_path / "lmp", progress=False)
    assert omm.complete and lmp.complete and omm.summary["n_unconverged"] == 0
    no, nl = read_series(tmp_path / "omm" / "snapshots.csv"), read_series(tmp_path / "lmp" / "snapshots.csv")
    assert list(no) == list(nl) and no["step"].tolist() == [0, 20, 40]
    assert np.all(no["residual"] <= spec.stress_tol)
    for k in ("strain", "strain_x", "strain_y", "pe"):
        assert no[k][0] == pytest.approx(nl[k][0], abs=1e-6), k
    assert no["pzz"][0] == pytest.approx(0.5, abs=spec.stress_tol) and nl["pzz"][0] == pytest.approx(0.5, abs=1e-5)
    # the MD series: same columns; the load is applied (P_zz relaxes towards σ0 in both)
    so, sl = read_series(tmp_path / "omm" / "series.csv"), read_series(tmp_path / "lmp" / "series.csv")
    assert list(so) == list(sl) and np.array_equal(so["step"], sl["step"])
    assert so["temp"][0] == pytest.approx(0.1, rel=1e-12)
    means = check_frames(tmp_path / "omm", "creep_min", SOFTNESS, "softness", tmp_path)
    sp = read_series(tmp_path / "omm" / "snapshot_predictions.csv")
    assert sorted(means) == sp["step"].tolist() == [0, 20, 40]
    for st, m in means.items():
        assert sp["softness_mean"][sp["step"] == st][0] == pytest.approx(m, rel=1e-12)
    # nearly the same minimum at step 0 on both engines: nearly the same prediction
    spl = read_series(tmp_path / "lmp" / "snapshot_predictions.csv")
    assert sp["softness_mean"][0] == pytest.approx(spl["softness_mean"][0], abs=1e-4)
    assert read_series(tmp_path / "omm" / "predictions.csv")["step"].tolist() == list(range(0, 41, 10))


def test_openmm_restrictions_are_one_clear_error(tmp_path, capsys):
    from glassfix.protocols import PrepareSpec

    with pytest.raises(ProtocolError, match="--engine openmm runs nve, creep, aqs, not 'prepare'"):
        run(PrepareSpec(n=100), tmp_path / "a", engine="openmm", progress=False)
    with pytest.raises(ProtocolError, match=r"one process \(nprocs=2\)"):
        run(NVESpec(data=str(START)), tmp_path / "b", engine="openmm", nprocs=2, progress=False)
    with pytest.raises(ProtocolError, match="min_style='fire'.*L-BFGS"):
        run(NVESpec(data=str(START), min_style="fire"), tmp_path / "c", engine="openmm", progress=False)
    from glassfix.cli import main

    assert main(["run", "nve", "--data", str(START), "--platform", "CPU", "--quiet", "--out", str(tmp_path / "e")]) == 2
    assert "--platform/--threads/--min-platform are OpenMM options: add --engine openmm" in capsys.readouterr().err
    # a work directory keeps its engine
    run(NVESpec(data=str(START), steps=10, frame_every=0, thermo_every=10), tmp_path / "d", engine="openmm",
        progress=False, engine_options=CPU1)
    with pytest.raises(ProtocolError, match="engine 'openmm', not 'lammps'"):
        run(NVESpec(data=str(START), steps=20, frame_every=0, thermo_every=10), tmp_path / "d", progress=False)


def test_aqs_openmm_matches_lammps_and_resumes(tmp_path):
    """AQS on both engines from the same glass: the same minima (energies 1e-8 per atom, stresses 1e-5: CG and
    L-BFGS stop at different force norms), the same events; ACE predictions on the saved OpenMM minima equal
    offline; stopped after 2 steps and resumed (Reference platform, deterministic) = uninterrupted, bitwise."""
    from glassfix.protocols import AQSSpec

    ace = MODELS / "ka_ace.glassfix"
    spec = AQSSpec(data=str(START), dgamma=1e-3, prestrain=0.0, strain=0.004, save_every=1, checkpoint_every=2,
                   model=str(ace))
    omm = run(spec, tmp_path / "omm", engine="openmm", progress=False)
    lmp = run(spec, tmp_path / "lmp", progress=False)
    assert omm.complete and lmp.complete
    so, sl = read_series(tmp_path / "omm" / "series.csv"), read_series(tmp_path / "lmp" / "series.csv")
    assert list(so) == list(sl) and np.array_equal(so["step"], sl["step"])
    np.testing.assert_allclose(so["pe"], sl["pe"], atol=1e-8)
    np.testing.assert_allclose(so["sigma"], sl["sigma"], atol=1e-5)
    np.testing.assert_array_equal(so["event"], sl["event"])
    means = check_frames(tmp_path / "omm", "aqs", ace, "activity", tmp_path)
    po = read_series(tmp_path / "omm" / "predictions.csv")
    assert sorted(means) == [0, 1, 2, 3] and po["step"].tolist() == [0, 1, 2, 3, 4]
    for st, m in means.items():
        assert po["activity_mean"][po["step"] == st][0] == pytest.approx(m, rel=1e-12)
    np.testing.assert_allclose(po["activity_mean"], read_series(tmp_path / "lmp" / "predictions.csv")["activity_mean"],
                               atol=1e-6)
    part = run(spec, tmp_path / "part", engine="openmm", progress=False, stop_after=2)
    assert not part.complete and part.step == 2
    assert run(spec, tmp_path / "part", engine="openmm", progress=False).complete
    for name in ("series.csv", "predictions.csv"):
        assert (tmp_path / "part" / name).read_text() == (tmp_path / "omm" / name).read_text(), name


def _creep_cmd(out: Path) -> list[str]:
    return [sys.executable, "-m", "glassfix.cli", "run", "creep", "--data", str(START), "--T", "0.1",
            "--sigma0", "0.5", "--dt", "0.005", "--steps", "90", "--snapshot-every", "30", "--thermo-every", "10",
            "--stress-tol", "1e-3", "--min-ftol", "1e-3",   # loose snapshots: the test is about the resume
            "--engine", "openmm", "--platform", "CPU", "--threads", "1", "--quiet", "--out", str(out)]


@pytest.mark.slow
def test_openmm_creep_killed_mid_run_resumes_to_the_uninterrupted_result(tmp_path):
    """SIGKILL a creep run after its checkpoint at step ≥ 30 (of 90), re-run the command: series, snapshots and the
    final state equal an uninterrupted run bitwise (CPU platform, 1 thread: every checkpoint reloads the
    Context from its arrays with seeds derived from the step, in both runs).

    Slow (≈ 55 s of CPU): three command-line runs in subprocesses, each paying the imports and four
    stress-constrained minimisations on the Reference platform."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    killed = tmp_path / "killed"
    p = subprocess.Popen(_creep_cmd(killed), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    at = None
    try:
        deadline = time.time() + 600
        while time.time() < deadline and p.poll() is None:
            try:
                st = json.loads((killed / "state.json").read_text())
            except (OSError, ValueError):
                st = {}
            if st.get("step", 0) >= 30:
                p.send_signal(signal.SIGKILL)
                at = st
                break
            time.sleep(0.05)
    finally:
        if p.poll() is None:
            p.kill()
        p.wait()
    assert at is not None and not at.get("complete"), "the run ended before it could be killed mid-run"
    subprocess.run(_creep_cmd(killed), env=env, check=True, capture_output=True)
    whole = tmp_path / "whole"
    subprocess.run(_creep_cmd(whole), env=env, check=True, capture_output=True)
    for name in ("series.csv", "snapshots.csv"):
        assert (killed / name).read_text() == (whole / name).read_text(), name
    a = np.load(killed / "checkpoints" / "ckpt_000000000090.omm.npz")
    b = np.load(whole / "checkpoints" / "ckpt_000000000090.omm.npz")
    for k in ("positions", "velocities", "box"):
        assert np.array_equal(a[k], b[k]), k
    fa, _, _ = load_frame_npz(killed / "frames" / "creep_min_000000000090.npz")
    fb, _, _ = load_frame_npz(whole / "frames" / "creep_min_000000000090.npz")
    assert np.array_equal(fa.positions, fb.positions) and np.array_equal(fa.cell, fb.cell)
