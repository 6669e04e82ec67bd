"""`glassfix monitor`: the creep-law fit, files still being written (torn last lines), bad input, a run
without predictions (graceful partial view + the end-of-run report of `glassfix run creep`), the OpenMM
reporter's files, and the page itself."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers.models import make_softness_model
from glassfix.analysis.creep import fit_log_creep
from glassfix.monitor import MonitorError, MonitorState, open_source
from glassfix.monitor.html import render_page
from glassfix.monitor.tails import DumpTail, LogTail, TableTail
from glassfix.protocols import PrepareSpec, Stage, read_series, run

from helpers import REPO  # noqa: E402


def glassfix_cli(*args: str, capsys=None) -> subprocess.CompletedProcess:
    """``glassfix ARGS`` in this process (the command's own main), as a CompletedProcess."""
    from glassfix.cli import main

    assert capsys is not None
    capsys.readouterr()
    rc = main(list(args))
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(list(args), rc, out, err)


def glassfix_subprocess(*args: str) -> subprocess.CompletedProcess:
    """``python -m glassfix.cli ARGS`` with this checkout first on the path."""
    import os

    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "glassfix.cli", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def test_fit_converges_on_synthetic_log_creep():
    rng = np.random.default_rng(7)
    C, t0, eps0 = -0.02, 3.0, -0.01  # compressive creep: strain decreasing with log t
    t = np.arange(0.0, 3000.0, 0.5)
    eps = eps0 + C * np.log1p(t / t0) + rng.normal(0, 2e-4, t.size)
    errs = []
    for n in (40, 400, 4000, t.size):  # as data arrive
        f = fit_log_creep(t[:n], eps[:n])
        errs.append(f.C_err)
        assert abs(f.C - C) < 4 * f.C_err + 1e-12, (n, f)
    assert errs == sorted(errs, reverse=True) and errs[-1] < 0.002 * abs(C)
    assert f.t0 == pytest.approx(t0, rel=0.05) and f.eps0 == pytest.approx(eps0, abs=1e-3)
    # a pure straight line has no log creep: the fit stays bounded and says so through its errors
    with pytest.raises(ValueError, match="need >= 4"):
        fit_log_creep(t[:3], eps[:3])


LOG_HEAD = """LAMMPS (22 Jul 2025 - Update 4)
timestep 0.01
thermo_style custom step temp pe lz v_strain f_pred
   Step          Temp          PotEng           Lz          v_strain        f_pred
         0   0.1            -6.7            5.5             0              -1.5
        50   0.09           -6.69           5.49           -0.001          -1.4
"""


def test_files_being_written_torn_last_lines(tmp_path, capsys):
    log = tmp_path / "log.lammps"
    log.write_text(LOG_HEAD + "       100   0.08           -6.6")  # a row torn mid-write
    src = open_source(log)
    rd = src.poll()
    assert rd.kind == "LAMMPS log" and rd.series["step"].tolist() == [0, 50]
    assert rd.series["strain"].tolist() == [0, -0.001] and rd.series["pred_mean"].tolist() == [-1.5, -1.4]
    assert rd.series["time"].tolist() == [0, 0.5] and not rd.info.get("complete")
    with open(log, "a") as fh:  # the writer finishes the row, the next run repeats it, then LAMMPS ends
        fh.write("8           5.48           -0.002          -1.3\nLoop time of 2.5 on 2 procs for 100 steps "
                 "with 200 atoms\n\n   Step          Temp          PotEng           Lz          v_strain        f_pred\n"
                 "       100   0.08           -6.68           5.48           -0.002          -1.3\n"
                 "Loop time of 0.1 on 2 procs for 0 steps with 200 atoms\nTotal wall time: 0:00:03\n")
    rd = src.poll()
    assert rd.series["step"].tolist() == [0, 50, 100] and rd.info["complete"]
    st = MonitorState()
    st.update(rd)
    assert st.throughput() == (pytest.approx(100 / 2.6), "LAMMPS loop times")
    # the CLI on a torn log: a view, no traceback
    log.write_text(LOG_HEAD + "       100   0.0")
    res = glassfix_cli("monitor", str(log), "--once", "--plain", capsys=capsys)
    assert res.returncode == 0 and "Traceback" not in res.stderr and res.stdout.startswith("step 50/?")

    # CSV series (glassfix run) and a dump torn inside a snapshot
    csv = tmp_path / "series.csv"
    csv.write_text("step,time,strain\n0,0.0,0.0\n10,0.1,-0.001\n20,0.2,-0.0")
    tt = TableTail(csv, sep=",")
    tt.poll()
    assert tt.data()["step"].tolist() == [0, 10]
    csv.write_text("step,time,strain\n0,0.0,0.0\n")  # rewritten shorter (a resumed run truncates): re-read
    tt.poll()
    assert tt.data()["step"].tolist() == [0]
    dump = tmp_path / "x.dump"
    snap = ("ITEM: TIMESTEP\n{s}\nITEM: NUMBER OF ATOMS\n2\nITEM: BOX BOUNDS pp pp pp\n0 5\n0 5\n0 5\n"
            "ITEM: ATOMS id type x y z f_p\n1 1 1 1 1 0.5\n2 2 2 2 2 -0.5\n")
    dump.write_text(snap.format(s=0) + snap.format(s=100)[:-12])
    dt = DumpTail(dump)
    frames, _ = dt.poll()
    assert [f.step for f in frames] == [0]
    with open(dump, "a") as fh:
        fh.write(snap.format(s=100)[-12:])
    frames, _ = dt.poll()
    assert [f.step for f in frames] == [100] and frames[0].metadata["columns"]["f_p"].tolist() == [0.5, -0.5]


def test_bad_input_gives_one_clear_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("hello\n")
    cases = {tmp_path / "empty": "is not a run directory", tmp_path / "missing": "does not exist",
             tmp_path / "notes.txt": "is not a LAMMPS log"}
    for path, msg in cases.items():
        with pytest.raises(MonitorError, match=msg):
            open_source(path)
        res = glassfix_cli("monitor", str(path), "--once", capsys=capsys)
        assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("glassfix monitor: error:") and msg in lines[0]
    res = glassfix_cli("monitor", str(tmp_path / "empty"), "--every", "0", capsys=capsys)
    assert res.returncode == 2 and "--every must be > 0" in res.stderr
    # a LAMMPS run that failed: the error is shown and the monitor stops by itself
    (tmp_path / "log.lammps").write_text(LOG_HEAD + "ERROR: Lost atoms: original 200 current 199 (src/thermo.cpp:488)\n")
    res = glassfix_cli("monitor", str(tmp_path / "log.lammps"), "--every", "0.1", "--html", str(tmp_path / "p.html"),
                       capsys=capsys)
    assert res.returncode == 0 and "the run failed: ERROR: Lost atoms" in res.stderr
    assert "Lost atoms" in (tmp_path / "p.html").read_text()


@pytest.fixture(scope="module")
def creep_run(tmp_path_factory) -> Path:
    """A short `glassfix run creep` (no prediction fix) through the CLI, which also writes report.html."""
    d = tmp_path_factory.mktemp("monitor_run")
    spec = PrepareSpec(n=200, T=0.5, T_melt=2.0, melt_steps=200, quench_steps=200, stages=(Stage("nvt", 100),),
                       chunk_steps=500, thermo_every=100, seed=23, min_ftol=1e-8)
    assert run(spec, d / "prep", progress=False).complete
    res = glassfix_subprocess("run", "creep", "--data", str(d / "prep" / "inherent.data"), "--out", str(d / "run"),
                       "--steps", "300", "--snapshot-every", "100", "--thermo-every", "10", "--min-ftol", "1e-8",
                       "--T", "0.05")
    assert res.returncode == 0, res.stderr
    assert "report: " in res.stdout
    return d / "run"


def test_run_without_predictions_is_a_partial_view(creep_run, tmp_path, capsys):
    res = glassfix_cli("monitor", str(creep_run), "--once", "--plain", "--json", str(tmp_path / "m.json"),
                       "--html", str(tmp_path / "p.html"), capsys=capsys)
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    assert res.stdout.startswith("step 300/300") and res.stdout.strip().endswith("complete")
    mon = json.loads((tmp_path / "m.json").read_text())
    ser = read_series(creep_run / "series.csv")
    np.testing.assert_array_equal(mon["series"]["strain"], ser["strain"])  # the run's own series, exactly
    sm = mon["summary"]
    assert sm["complete"] and sm["protocol"] == "creep" and sm["pred"] is None and sm["hist"] is None
    assert sm["n_frames"] == 4 and sm["map"]["d2min"] and sm["map"]["pred"] is None  # frames, no predictions
    assert any("no per-atom predictions" in n for n in sm["notes"])
    assert sm["throughput_source"] == "run progress file" and sm["throughput"] > 0
    assert sm["fit"] is not None and sm["fit"]["n_points"] >= 4
    page = (creep_run / "report.html").read_text()  # the end-of-run report of `glassfix run creep`
    assert "complete" in page and "no predictions in this run" in page and page.count("<svg") >= 6


def test_run_with_model_shows_its_predictions(creep_run, tmp_path, capsys):
    """`glassfix run creep --model`: the monitor shows predictions.csv's means and the frames' predictions."""
    model = make_softness_model(tmp_path / "soft.glassfix")
    out = tmp_path / "run_model"
    res = glassfix_subprocess("run", "creep", "--data", str(creep_run.parent / "prep" / "inherent.data"),
                              "--out", str(out), "--steps", "200", "--snapshot-every", "100", "--thermo-every",
                              "10", "--min-ftol", "1e-8", "--T", "0.05", "--model", str(model), "--every", "50")
    assert res.returncode == 0, res.stderr
    res = glassfix_cli("monitor", str(out), "--once", "--plain", "--json", str(tmp_path / "m.json"), capsys=capsys)
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    mon = json.loads((tmp_path / "m.json").read_text())
    pred = read_series(out / "predictions.csv")
    steps = np.asarray(mon["series"]["step"])
    shown = np.array([np.nan if v is None else v for v in mon["series"]["pred_mean"]], dtype=float)
    for s, v in zip(pred["step"], pred["softness_mean"]):  # at every prediction step the run's own mean
        assert shown[steps == s][0] == v
    assert np.isnan(shown[steps < pred["step"][0]]).all()  # nothing is shown before the first prediction
    assert mon["summary"]["pred"] is not None and mon["summary"]["hist"] is not None


def test_openmm_reporter_files(tmp_path):
    """The files PredictorReporter writes (its log and dump) are followed like a LAMMPS run."""
    from glassfix.core.frame import Frame
    from glassfix.engines.openmm.reporter import PredictorReporter
    from glassfix.models import load_model

    model = load_model(make_softness_model(tmp_path / "m.glassfix", seed=1))
    rng = np.random.default_rng(0)
    L = 6.0
    pos = rng.uniform(0, L, (200, 3))
    types = (np.arange(200) >= 160).astype(np.int64)
    rep = PredictorReporter(model, 10, types, dump=tmp_path / "pred.dump", log=tmp_path / "pred.log")
    for step in (0, 10, 20):
        rep.evaluate(Frame(positions=(pos + 0.01 * step) % L, types=types, cell=np.eye(3) * L, step=step))
    src = open_source(tmp_path)
    rd = src.poll()
    assert rd.kind == "OpenMM reporter" and rd.series["step"].tolist() == [0, 10, 20]
    np.testing.assert_allclose(rd.series["pred_mean"], [m[0] for _, m in rep.history], rtol=1e-15)
    st = MonitorState()
    st.update(rd)
    sm = st.summary()
    assert sm["pred"]["step"] == [0, 10, 20] and sm["hist"]["step"] == 20
    assert sm["pred"]["species"]["type 1"][-1] == pytest.approx(rep.values[types == 0, 0].mean(), rel=1e-12)


def test_page_is_self_contained_and_reloads_only_while_live(creep_run):
    src = open_source(creep_run)
    st = MonitorState()
    st.update(src.poll())
    sm = st.summary()
    live = render_page({**sm, "complete": False}, live=True, refresh=3)
    done = render_page(sm, live=True)
    for page in (live, done):
        assert not re.search(r"(src|href)=\"https?:", page) and "<link" not in page
        data = json.loads(re.search(r'id="gf-data">(.*?)</script>', page, re.S).group(1))
        assert data["summary"]["step"] == 300
    assert json.loads(re.search(r'id="gf-data">(.*?)</script>', live, re.S).group(1))["live"] is True
    assert json.loads(re.search(r'id="gf-data">(.*?)</script>', done, re.S).group(1))["live"] is False


def test_terminal_views(creep_run):
    """The rich panel (TTY) and the plain line (pipes) show the same facts."""
    import io

    from glassfix.monitor.terminal import TerminalView

    st = MonitorState()
    st.update(open_source(creep_run).poll())
    sm = st.summary()
    buf = io.StringIO()
    with TerminalView(plain=False, stream=buf) as view:
        view.update(sm)
    text = buf.getvalue()
    assert "creep law" in text and "300 / 300" in text and "complete" in text
    buf = io.StringIO()
    view = TerminalView(stream=buf)  # not a TTY: plain lines, one per change
    assert view.plain
    view.update(sm)
    view.update(sm)
    assert buf.getvalue().count("\n") == 1 and buf.getvalue().startswith("step 300/300")

