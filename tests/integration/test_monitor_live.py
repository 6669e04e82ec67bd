"""`glassfix monitor` following a real creep (lammps_inputs/creep_ka.lmp with fix glass/predict under
``mpirun -np 2``) while it runs, a run killed mid-way, and the dashboard page in headless Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from helpers.models import make_softness_model
from glassfix.data.lammps_io import write_data
from glassfix.engines.lammps.runner import lammps_env, venv_bin
from glassfix.protocols import CreepSpec, PrepareSpec, Stage, load_frame_npz, run

pytestmark = pytest.mark.slow

from helpers import REPO  # noqa: E402
CREEP = REPO / "lammps_inputs" / "creep_ka.lmp"


def find_chromium() -> str | None:
    """Chromium for the page test: $GLASSFIX_CHROMIUM, else chromium / chromium-browser / google-chrome on PATH."""
    env = os.environ.get("GLASSFIX_CHROMIUM")
    if env and Path(env).exists():
        return env
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        p = shutil.which(name)
        if p:
            return p
    return None


@pytest.fixture(scope="module")
def loaded_glass(tmp_path_factory) -> tuple[Path, Path]:
    """A small KA glass already minimised under the creep load (fast minimised copies), and a model."""
    d = tmp_path_factory.mktemp("monitor_glass")
    spec = PrepareSpec(n=200, T=0.5, T_melt=2.0, melt_steps=200, quench_steps=200, stages=(Stage("nvt", 100),),
                       chunk_steps=500, thermo_every=100, seed=23, min_ftol=1e-8)
    assert run(spec, d / "prep", progress=False).complete
    pre = run(CreepSpec(data=str(d / "prep" / "inherent.data"), steps=1, snapshot_every=1, min_ftol=1e-9,
                        stress_tol=1e-6), d / "pre", progress=False)
    assert pre.complete
    start, _, _ = load_frame_npz(d / "pre" / "frames" / "creep_min_000000000000.npz")
    write_data(start, d / "relaxed.data", masses=[1.0, 1.0])
    return d / "relaxed.data", make_softness_model(d / "soft.glassfix", seed=3)


def _start_creep(cwd: Path, data: Path, model: Path, plugin: Path, nsnap: int) -> subprocess.Popen:
    args = [venv_bin("mpirun"), "-np", "2", venv_bin("lmp"), "-in", str(CREEP), "-log", "log.lammps",
            "-var", "data", str(data), "-var", "model", str(model), "-var", "plugin", str(plugin),
            "-var", "out", "out", "-var", "nsnap", str(nsnap), "-var", "snapshot_every", "100",
            "-var", "every", "25", "-var", "thermo_every", "25", "-var", "ftol", "1e-9", "-var", "T", "0.05"]
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(args, cwd=cwd, env=lammps_env(), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _start_monitor(cwd: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    # SIGINT back to its default in the child: a suite started in the background of a non-interactive shell
    # (nohup ... &) inherits SIGINT ignored, Python then installs no KeyboardInterrupt handler and the
    # "user presses Ctrl-C" below would never stop the monitor
    return subprocess.Popen([sys.executable, "-m", "glassfix.cli", "monitor", "out", "--plain", "--every", "0.3",
                             "--refresh", "2", "--html", "page.html", "--json", "mon.json", *extra], cwd=cwd,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def log_thermo(path: Path) -> dict[int, dict[str, float]]:
    """MD thermo rows of a LAMMPS log (the block layout with v_strain), by step — parsed independently of
    the monitor: header line 'Step ...', numeric rows of the same width."""
    out: dict[int, dict[str, float]] = {}
    head = None
    for ln in path.read_text().splitlines():
        t = ln.split()
        if t[:1] == ["Step"]:
            head = t if "v_strain" in t else None
        elif head and len(t) == len(head):
            try:
                vals = [float(x) for x in t]
            except ValueError:
                head = None
                continue
            out.setdefault(int(vals[0]), dict(zip(head, vals)))
        elif ln.startswith("Loop time"):
            head = None
    return out


def _check_series_against_log(mon: dict, log: Path, min_rows: int) -> None:
    ser = mon["series"]
    rows = log_thermo(log)
    common = [k for k, s in enumerate(ser["step"]) if int(s) in rows]
    assert len(common) >= min_rows, (len(common), ser["step"], sorted(rows))
    for k in common:
        r = rows[int(ser["step"][k])]
        assert ser["strain"][k] == pytest.approx(r["v_strain"], rel=1e-6, abs=1e-12)
        assert ser["pred_mean"][k] == pytest.approx(r["f_pred"], rel=1e-6)
        assert ser["temp"][k] == pytest.approx(r["Temp"], rel=1e-6)


@pytest.fixture(scope="module")
def live_run(loaded_glass, plugin_so, tmp_path_factory):
    """A creep under mpirun -np 2 followed by `glassfix monitor`, killed (SIGKILL) once it has written two
    complete prediction frames (the third snapshot's header is in the dump)."""
    data, model = loaded_glass
    d = tmp_path_factory.mktemp("monitor_live")
    lmp = _start_creep(d, data, model, plugin_so, nsnap=50)
    mon = _start_monitor(d)
    t0 = time.time()
    dump = d / "out" / "creep_md.dump"
    # wait for three complete prediction frames and for the monitor to have shown three different steps
    # (on a quiet machine the run can outpace the monitor's polls; killing it earlier made this flaky)
    seen: set[int] = set()
    while time.time() - t0 < 240 and lmp.poll() is None:
        try:
            seen.add(int(json.loads((d / "mon.json").read_text())["summary"]["step"]))
        except (OSError, ValueError, KeyError, TypeError):
            pass
        if len(seen) >= 3 and dump.exists() and dump.read_text().count("ITEM: TIMESTEP") >= 3:
            break
        time.sleep(0.1)
    os.killpg(lmp.pid, signal.SIGKILL)
    lmp.wait(timeout=30)
    # the monitor catches up with the last complete row, then the user stops it (Ctrl-C)
    last = int((d / "out" / "series.txt").read_text().rsplit("\n", 2)[-2].split()[0])
    t0 = time.time()
    # generous: on a loaded machine (CI shares its 2 cores) the monitor's poll can lag by tens of seconds
    while time.time() - t0 < 120:
        try:
            if json.loads((d / "mon.json").read_text())["summary"]["step"] == last:
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.2)
    time.sleep(1.0)
    mon.send_signal(signal.SIGINT)
    out, err = mon.communicate(timeout=180)
    return d, lmp.returncode, mon.returncode, out, err


def test_monitor_follows_creep_and_equals_log(live_run):
    d, lrc, mrc, out, err = live_run
    assert lrc != 0 and mrc == 0, err  # LAMMPS was killed; the monitor stopped cleanly
    assert "Traceback" not in err
    lines = [ln for ln in out.splitlines() if re.match(r"step \d+/", ln)]
    steps = [int(re.match(r"step (\d+)/", ln).group(1)) for ln in lines]
    assert len(lines) >= 3 and steps == sorted(steps) and steps[-1] >= 200, out  # followed it while it ran
    mon = json.loads((d / "mon.json").read_text())
    n = len(mon["series"]["step"])
    assert n >= 9 and mon["series"]["step"] == [25.0 * k for k in range(n)]
    _check_series_against_log(mon, d / "log.lammps", min_rows=9)
    sm = mon["summary"]
    assert not sm["complete"] and sm["total"] == 5000 and sm["n_frames"] >= 2
    assert set(sm["pred"]["species"]) == {"type 1", "type 2"} and sm["map"]["d2min"] and sm["map"]["pred"]
    # per-species means of the last complete frame equal those of the dump the fix wrote
    from glassfix.data.lammps_io import read_dump

    text = (d / "out" / "creep_md.dump").read_text()
    (d / "complete_lines.dump").write_text(text[:text.rfind("\n") + 1])  # a last line without newline is torn
    frames = []
    try:
        for f in read_dump(d / "complete_lines.dump"):
            frames.append(f)
    except ValueError:  # the snapshot torn by the kill
        pass
    last = frames[-1]
    assert sm["pred"]["step"][-1] == last.step
    v = np.asarray(last.metadata["columns"]["f_pred"], dtype=float)
    assert sm["pred"]["species"]["type 1"][-1] == pytest.approx(v[last.types == 0].mean(), rel=1e-12)
    assert sm["pred"]["species"]["type 2"][-1] == pytest.approx(v[last.types == 1].mean(), rel=1e-12)


def test_killed_run_leaves_a_readable_page(live_run):
    d = live_run[0]
    page = (d / "page.html").read_text()
    blob = re.search(r'<script type="application/json" id="gf-data">(.*?)</script>', page, re.S).group(1)
    data = json.loads(blob)
    sm = data["summary"]
    assert not data["live"] and not sm["complete"] and "stopped (not complete)" in page  # no reload loop
    assert 200 <= sm["step"] < sm["total"] and sm["n_frames"] >= 2
    assert page.rstrip().endswith("</html>")
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in page


def _chromium(args: list[str], page: Path, timeout: float = 90) -> subprocess.CompletedProcess:
    exe = find_chromium()
    assert exe
    cmd = [exe, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars", "--window-size=1280,1700",
           "--enable-logging=stderr", "--v=0", "--no-first-run", "--disable-extensions",
           f"--user-data-dir={page.parent / 'chromium-profile'}", *args, page.resolve().as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


@pytest.mark.skipif(find_chromium() is None, reason="headless Chromium not installed (Debian package `chromium`; "
                                                    "or set GLASSFIX_CHROMIUM)")
def test_page_in_headless_chromium(live_run):
    d = live_run[0]
    page = d / "page.html"
    dom = _chromium(["--dump-dom"], page)
    console = [ln for ln in dom.stderr.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]
    assert not console, console
    body = re.search(r"<body[^>]*>", dom.stdout).group(0)  # the script marks the body: ready, or error
    assert 'data-gf-ready="1"' in body and "data-gf-error" not in body, body
    rects = {}
    for item in re.search(r'data-gf-rects="([^"]*)"', dom.stdout).group(1).split():
        name, x, y, w, h = item.split(":")
        rects[name] = (int(x), int(y), int(w), int(h))
    assert len(rects) == 6
    shot = d / "shot.png"
    res = _chromium([f"--screenshot={shot}"], page)
    assert shot.exists(), res.stderr[-2000:]
    import matplotlib.image as mpimg

    img = mpimg.imread(shot)[..., :3]
    sat = img.max(axis=2) - img.min(axis=2)  # coloured (data) pixels; axes, text and grid are grey
    for name, (x, y, w, h) in rects.items():
        assert y + h <= img.shape[0] and x + w <= img.shape[1], (name, img.shape)
        n = int(np.count_nonzero(sat[y:y + h, x:x + w] > 0.25))
        # every panel has data: lines/markers (a few hundred pixels), histograms and maps (thousands)
        assert n > 150, (name, n)
