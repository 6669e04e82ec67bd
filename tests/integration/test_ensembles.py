"""glassfix.ensembles: time grids, velocities, the LAMMPS replica worker, executors, kill/resume, labels.

Real LAMMPS runs on tiny KA systems (N = 150, 2 frames x 3 replicas x 2000 steps); every executor must
give bit-identical replicas and labels for the same seeds.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from glassfix.data.store import DatasetStore
from glassfix.engines.lammps.runner import lammps_env, venv_bin
from glassfix.ensembles.executors import get_executor
from glassfix.ensembles.iso import run_iso
from glassfix.ensembles.journal import IsoJournal
from glassfix.ensembles.plan import IsoSettings
from glassfix.ensembles.replica import (
    ReplicaTask,
    SystemSpec,
    make_liquid_frame,
    maxwell_boltzmann,
    replica_seed,
    run_replica,
)
from glassfix.ensembles.timegrid import bond_breaking_grid, format_time, parse_time_grid
from glassfix.systems import KobAndersen3D

from helpers import REPO  # noqa: E402
T = 0.8
DT = 0.005
TIMES = "log:0.05:10:5"  # 10 .. 2000 steps
SETTINGS = dict(replicas=3, times=TIMES, dt=DT, seed=7, cage_radius=1.4, bb_factors=(1.485, 1.7))
CLI_ARGS = ["--replicas", "3", "--times", TIMES, "--dt", str(DT), "--seed", "7", "--out-labels",
            "propensity,cage,bonds", "--cage-radius", "1.4", "--bond-breaking", "1.485,1.7", "--no-progress"]


@pytest.fixture(scope="module")
def frames():
    ka = KobAndersen3D()
    return [make_liquid_frame(ka, 150, T, steps=400, dt=DT, seed=s) for s in (1, 2)]


def make_store(path: Path, frames) -> Path:
    """A store holding the starting frames (keys ka/0, ka/1) and nothing else."""
    with DatasetStore(path, "a") as st:
        for i, fr in enumerate(frames):
            st.add_frame(fr, key=f"ka/{i}", group=f"c{i}", system="ka3d", temperature=T)
    return path


def read_all(path: Path) -> dict:
    with DatasetStore(path, "r") as st:
        return {k: (st.replicas(k), st.labels(k)) for k in st.keys()}


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        (ra, la), (rb, lb) = a[key], b[key]
        assert sorted(ra) == sorted(rb) and sorted(la) == sorted(lb)
        for t in ra:
            assert np.array_equal(ra[t], rb[t]), f"{key} replicas {t} differ"
        for name in la:
            assert np.array_equal(la[name], lb[name], equal_nan=True), f"{key} label {name} differs"


@pytest.fixture(scope="module")
def reference(tmp_path_factory, frames):
    """Uninterrupted run in this process (serial executor): the reference every other run must match."""
    path = make_store(tmp_path_factory.mktemp("ref") / "ref.h5", frames)
    with get_executor("serial") as ex:
        report = run_iso(path, IsoSettings(**SETTINGS), executor=ex, workers=1)
    assert report.tasks_run == 6
    return path, read_all(path)


def journal_events(store: Path) -> list[dict]:
    return IsoJournal(store).read()


# ----------------------------------------------------------------------------------------------------
# pure functions
# ----------------------------------------------------------------------------------------------------


def test_time_grids():
    g = parse_time_grid("log:0.05:10:5", 0.005)
    assert g.steps == (10, 38, 141, 532, 2000)
    assert g.labels[0] == "t=0.05" and g.labels[-1] == "t=10"
    assert np.allclose(g.times, np.array(g.steps) * 0.005)
    assert parse_time_grid("0.13,1.3,13", 0.001).steps == (130, 1300, 13000)
    assert parse_time_grid("steps:100,10", 0.005).steps == (10, 100)
    # rounding merges points that fall on the same step
    assert parse_time_grid("log:0.005:0.02:10", 0.005).steps == (1, 2, 3, 4)
    with pytest.raises(ValueError, match="log:TMIN:TMAX:N"):
        parse_time_grid("log:1:2", 0.005)
    with pytest.raises(ValueError, match="less than one step"):
        parse_time_grid("0.001,1", 0.005)
    with pytest.raises(ValueError, match="pilot runs"):
        parse_time_grid("bb:0.9,0.5:100", 0.005)
    with pytest.raises(ValueError, match="positive time step"):
        parse_time_grid("1,2", 0.0)


def test_bond_breaking_grid_interpolates_in_log_time():
    steps = np.array([1, 10, 100, 1000])
    curve = np.array([1.0, 0.9, 0.7, 0.4])
    g = bond_breaking_grid(steps, curve, [0.5, 0.9, 0.8], dt=0.01)
    assert g.targets == (0.9, 0.8, 0.5)
    # 0.8 is half way between 10 and 100 in log t
    assert g.steps == (10, int(round(10 ** 1.5)), int(round(10 ** (2 + 2 / 3))))
    with pytest.raises(ValueError, match="only fell to 0.400"):
        bond_breaking_grid(steps, curve, [0.3], dt=0.01)


def test_maxwell_boltzmann_momentum_and_temperature():
    m = np.where(np.arange(400) % 5 == 0, 2.0, 1.0)
    v = maxwell_boltzmann(m, 0.44, 3, seed=123)
    assert np.abs((m[:, None] * v).sum(axis=0)).max() < 1e-12
    assert (m[:, None] * v * v).sum() / (3 * 400 - 3) == pytest.approx(0.44, rel=1e-12)
    assert np.array_equal(v, maxwell_boltzmann(m, 0.44, 3, seed=123))
    assert not np.array_equal(v, maxwell_boltzmann(m, 0.44, 3, seed=124))
    raw = maxwell_boltzmann(m, 0.44, 3, seed=123, rescale=False)
    t_raw = (m[:, None] * raw * raw).sum() / (3 * 400 - 3)
    assert t_raw != pytest.approx(0.44, rel=1e-6) and t_raw == pytest.approx(0.44, rel=0.15)
    with pytest.raises(ValueError, match="temperature must be positive"):
        maxwell_boltzmann(m, -1.0, 3, seed=1)


def test_replica_seed_is_stable_and_distinct():
    s = replica_seed(7, "ka/0", 0)
    assert s == replica_seed(7, "ka/0", 0) and 0 <= s < 2 ** 63
    assert len({replica_seed(7, k, r) for k in ("ka/0", "ka/1") for r in range(50)}) == 100
    assert replica_seed(8, "ka/0", 0) != s


def test_journal_skips_torn_lines(tmp_path):
    j = IsoJournal(tmp_path / "s.h5")
    j.append("submit", key="a", replica=0)
    j.close()
    with open(j.path, "ab") as fh:
        fh.write(b'{"event": "done", "key": "a", "repl')  # a kill in the middle of a line
    j2 = IsoJournal(tmp_path / "s.h5")
    j2.append("done", key="a", replica=0)
    j2.close()
    events = j2.read()
    assert [e["event"] for e in events] == ["submit", "done"]
    assert events[1]["run"] == j2.run_id


# ----------------------------------------------------------------------------------------------------
# the worker
# ----------------------------------------------------------------------------------------------------


def test_run_replica_continuous_unwrapped_and_deterministic(frames):
    fr = frames[0]
    spec = SystemSpec.from_system(KobAndersen3D())
    dense = tuple(range(20, 2001, 20))

    def task(steps):
        return ReplicaTask("ka/0", 0, replica_seed(7, "ka/0", 0), fr.positions, fr.types, fr.cell, fr.origin,
                           spec, T, steps, DT)

    a = run_replica(task(dense))
    b = run_replica(task(dense))
    assert np.array_equal(a.positions, b.positions)
    assert a.positions.shape == (len(dense), 150, 3) and a.atom_steps == 150 * 2000
    # chunked runs ('run N pre no') are one trajectory: the last snapshot equals a single long run
    single = run_replica(task((2000,)))
    assert np.array_equal(single.positions[0], a.positions[-1])
    # unwrapped: no jump between snapshots 20 steps apart, though atoms cross the 5.0-wide box
    path = np.concatenate([fr.positions[None], a.positions])
    assert np.abs(np.diff(path, axis=0)).max() < 0.5
    disp = a.positions[-1] - fr.positions
    assert np.abs(disp).max() > 1.0
    lo, hi = fr.origin, fr.origin + np.diag(fr.cell)
    assert ((a.positions[-1] < lo) | (a.positions[-1] >= hi)).any()  # some atoms left the box
    # total momentum removed, equal masses: the centre of mass does not move
    assert np.abs(disp.mean(axis=0)).max() < 1e-10


def test_replica_worker_stays_light():
    """A worker process that unpickles a task and runs it imports neither numba nor the store (h5py): the
    launcher starts many workers, and numba alone costs ~0.6 s of start-up each."""
    import pickle

    spec = SystemSpec("lj2d", 2, 1, (1.0,), ("pair_style lj/cut 2.5", "pair_coeff 1 1 1.0 1.0", "mass 1 1.0"))
    pos = (np.indices((6, 6)).reshape(2, -1).T + 0.5) * 1.12
    task = ReplicaTask("lj", 0, 5, pos, np.zeros(36, int), np.diag([6 * 1.12] * 2), np.zeros(2), spec, 1.0, (5,), DT)
    code = ("import pickle, sys\n"
            "res = pickle.load(sys.stdin.buffer)\n"  # the task pickle names the worker module, as a pool's does
            "from glassfix.ensembles.replica import run_replica\n"
            "assert run_replica(res).positions.shape == (1, 36, 2)\n"
            "print(sorted(m for m in ('numba', 'h5py', 'glassfix.core.neighbors', 'glassfix.data.store') "
            "if m in sys.modules))\n")
    proc = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(task), env=lammps_env(), cwd=REPO,
                          capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert proc.stdout.decode().strip().splitlines()[-1] == "[]"


# ----------------------------------------------------------------------------------------------------
# launcher and executors
# ----------------------------------------------------------------------------------------------------


def test_labels_equal_direct_computation(reference, frames):
    from glassfix.core.neighbors import neighbor_list
    from glassfix.labels.bonds import bond_breaking
    from glassfix.labels.propensity import propensity

    _, data = reference
    ka = KobAndersen3D()
    grid = parse_time_grid(TIMES, DT)
    for i, fr in enumerate(frames):
        reps, labels = data[f"ka/{i}"]
        assert sorted(reps) == sorted(grid.labels)
        cage = neighbor_list(fr, 1.4)
        for t in grid.labels:
            assert reps[t].shape == (3, 150, 3)  # exactly R rows: nothing duplicated
            assert np.array_equal(labels[f"propensity/{t}"], propensity(fr.positions, reps[t]))
            assert np.array_equal(labels[f"propensity_cage/{t},r_cage=1.4"],
                                  propensity(fr.positions, reps[t], cage_relative=True, cage_neighbors=cage))
            assert np.array_equal(labels[f"bond_breaking/{t}"],
                                  bond_breaking(fr, reps[t], 1.485 * ka.sigma_matrix(), 1.7 * ka.sigma_matrix()),
                                  equal_nan=True)
        # propensity grows with time
        means = [labels[f"propensity/{t}"].mean() for t in grid.labels]
        assert all(b > a for a, b in zip(means, means[1:]))
    path, _ = reference
    with DatasetStore(path) as st:
        p = st.label_params("ka/0", f"propensity/{grid.labels[-1]}")
    assert p["replicas"] == 3 and p["step"] == 2000 and p["seed"] == 7 and p["T"] == T


@pytest.mark.parametrize("workers", [1, 2])
def test_local_process_pool_identical(tmp_path, frames, reference, workers):
    path = make_store(tmp_path / "s.h5", frames)
    with get_executor("local", workers) as ex:
        report = run_iso(path, IsoSettings(**SETTINGS), executor=ex, workers=workers)
    assert report.tasks_run == 6 and report.rows[T].frames_done == 2
    assert_same(read_all(path), reference[1])
    workers_seen = {e["worker"] for e in journal_events(path) if e["event"] == "done"}
    assert len(workers_seen) <= workers and all(not w.endswith(f":{os.getpid()}") for w in workers_seen)
    # sidecar files are gone once the frames are committed
    assert not any((Path(str(path) + ".iso") / "replicas").rglob("*.npy"))


@pytest.mark.parametrize("mode", ["mpi4py.futures", "MPICommExecutor"])
def test_mpi_executor_identical(tmp_path, frames, reference, mode):
    path = make_store(tmp_path / "s.h5", frames)
    py = [sys.executable, "-m", "mpi4py.futures"] if mode == "mpi4py.futures" else [sys.executable]
    cmd = [venv_bin("mpirun"), "-np", "3", *py, "-m", "glassfix.cli", "iso", str(path), "--executor", "mpi",
           *CLI_ARGS]
    proc = subprocess.run(cmd, env=lammps_env(), cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_same(read_all(path), reference[1])
    events = journal_events(path)
    done = [e for e in events if e["event"] == "done"]
    launcher_pid = next(e["pid"] for e in events if e["event"] == "run")
    workers = {e["worker"] for e in done}
    assert len(done) == 6 and len(workers) <= 2  # the worker ranks ...
    assert not any(w.endswith(f":{launcher_pid}") for w in workers)  # ... never rank 0
    summary = json.loads((Path(str(path) + ".iso") / "summary.json").read_text())
    assert summary["tasks_run"] == 6 and summary["temperatures"][0]["frames_done"] == 2


def test_killed_launcher_resumes_without_recomputing(tmp_path, frames, reference):
    path = make_store(tmp_path / "s.h5", frames)
    cmd = [sys.executable, "-m", "glassfix.cli", "iso", str(path), "--workers", "1", *CLI_ARGS]
    journal = Path(str(path) + ".iso") / "journal.jsonl"
    proc = subprocess.Popen(cmd, env=lammps_env(), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            n_done = journal.read_text().count('"event": "done"') if journal.exists() else 0
            if n_done >= 4 or proc.poll() is not None:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the launcher finished before it could be killed: " + proc.stdout.read().decode()
        os.killpg(proc.pid, signal.SIGKILL)  # the launcher and its pool worker (its own process group)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
    first = journal_events(path)
    done_1 = {(e["key"], e["replica"]) for e in first if e["event"] == "done"}
    assert len(done_1) >= 4
    # a kill between a replica's file commit and its journal line leaves a finished replica that is not
    # journaled yet: it is on disk, so the resume must not recompute it either
    on_disk = set()
    for info in (Path(str(path) + ".iso") / "replicas").glob("*/frame.json"):
        key = json.loads(info.read_text())["key"]
        on_disk |= {(key, int(f.stem[1:])) for f in info.parent.glob("r*.npy")}
    finished_1 = done_1 | on_disk
    partial = read_all(path)
    assert not all(partial[k][1] for k in partial), "every frame was already labelled: nothing to resume"

    proc2 = subprocess.run(cmd, env=lammps_env(), cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert proc2.returncode == 0, proc2.stdout + proc2.stderr
    events = journal_events(path)
    runs = [e["run"] for e in events if e["event"] == "run"]
    assert len(runs) == 2
    second = [e for e in events if e.get("run") == runs[1]]
    submitted_2 = {(e["key"], e["replica"]) for e in second if e["event"] == "submit"}
    assert not submitted_2 & finished_1, "a finished replica was recomputed"
    everything = {(f"ka/{i}", r) for i in range(2) for r in range(3)}
    assert submitted_2 | finished_1 == everything and len(submitted_2) <= 6 - len(finished_1)
    done_all = [(e["key"], e["replica"]) for e in events if e["event"] == "done"]
    assert len(done_all) == len(set(done_all)), "a replica finished twice"
    assert_same(read_all(path), reference[1])  # no duplicate rows, labels as uninterrupted

    # a third run finds everything done and launches nothing
    with get_executor("serial") as ex:
        report = run_iso(path, IsoSettings(**SETTINGS), executor=ex)
    assert report.tasks_run == 0 and report.tasks_skipped == 6
    assert_same(read_all(path), reference[1])


def test_resume_from_sidecar_files_in_process(tmp_path, frames, reference):
    """Replica files of an interrupted run are reused, not recomputed; a mismatching store is refused."""
    import shutil

    first = make_store(tmp_path / "a.h5", frames)
    with get_executor("serial") as ex:
        run_iso(first, IsoSettings(**{**SETTINGS, "keep_sidecar": True, "keys": ["ka/0"]}), executor=ex)
    files = sorted((Path(str(first) + ".iso") / "replicas").rglob("r*.npy"))
    assert len(files) == 3
    # a store whose launcher died after ka/0's replicas finished but before they were committed
    path = make_store(tmp_path / "b.h5", frames)
    shutil.copytree(Path(str(first) + ".iso") / "replicas", Path(str(path) + ".iso") / "replicas")
    with get_executor("serial") as ex:
        report = run_iso(path, IsoSettings(**SETTINGS), executor=ex)
    assert report.tasks_run == 3 and report.tasks_skipped == 3  # only ka/1 ran
    submitted = {(e["key"], e["replica"]) for e in journal_events(path) if e["event"] == "submit"}
    assert submitted == {("ka/1", r) for r in range(3)}
    assert_same(read_all(path), reference[1])
    with pytest.raises(ValueError, match="another number of replicas"):
        run_iso(path, IsoSettings(**{**SETTINGS, "replicas": 4}), executor=get_executor("serial"))
    # replica sets committed but labels not yet (a kill between the two writes): labels added, nothing run
    stored = tmp_path / "c.h5"
    with DatasetStore(stored, "a") as st:
        for i, fr in enumerate(frames):
            st.add_frame(fr, key=f"ka/{i}", group=f"c{i}", system="ka3d", temperature=T,
                         replicas=reference[1][f"ka/{i}"][0])
    with get_executor("serial") as ex:
        report = run_iso(stored, IsoSettings(**SETTINGS), executor=ex)
    assert report.tasks_run == 0 and sorted(report.frames_committed) == ["ka/0", "ka/1"]
    assert_same(read_all(stored), reference[1])


def test_clear_errors(tmp_path, frames):
    path = tmp_path / "s.h5"
    with DatasetStore(path, "a") as st:
        bare = dataclasses.replace(frames[0], metadata={})
        st.add_frame(bare, key="x/0", group="c0", system="ka3d")  # no temperature stored
    with pytest.raises(ValueError, match="pass --T"):
        run_iso(path, IsoSettings(**SETTINGS), executor=get_executor("serial"))
    with pytest.raises(KeyError, match="no frame 'nope'"):
        run_iso(path, IsoSettings(**{**SETTINGS, "keys": ["nope"], "temperature": T}),
                executor=get_executor("serial"))
    with pytest.raises(ValueError, match="unknown executor"):
        get_executor("threads")
    try:
        import distributed  # noqa: F401
    except ImportError:
        with pytest.raises(RuntimeError, match=r'pip install "dask\[distributed\]"'):
            get_executor("dask", 1)
    proc = subprocess.run([sys.executable, "-m", "glassfix.cli", "iso", str(tmp_path / "missing.h5"), "--times",
                           "bad"], env=lammps_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "not found" in proc.stderr
    # --executor mpi outside mpirun: refused with the command to use (an MPI singleton cannot spawn)
    proc = subprocess.run([sys.executable, "-m", "glassfix.cli", "iso", str(path), "--times", "1",
                           "--executor", "mpi"], env=lammps_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "mpirun -np" in proc.stderr


def test_executor_registry_holds_the_cli_choices_and_takes_new_kinds():
    """Executors are a registry like the other plugin points: the CLI offers exactly the built-ins, and a
    registered factory is reachable through get_executor by its name."""
    from glassfix.cli import build_parser
    from glassfix.ensembles.executors import EXECUTORS, SerialExecutor

    iso = next(a for a in build_parser()._actions if a.dest == "command").choices["iso"]
    choices = next(a for a in iso._actions if a.dest == "executor").choices
    assert sorted(choices) == EXECUTORS.names() == ["dask", "local", "mpi", "serial"]
    seen = []

    @EXECUTORS.register("test-inline")
    def _inline(n, address):
        seen.append((n, address))
        return SerialExecutor()

    try:
        with get_executor("test-inline", 3, address="here") as ex:
            assert ex.submit(pow, 2, 5).result() == 32
        assert seen == [(3, "here")]
    finally:
        EXECUTORS._entries.pop("test-inline")


def test_bond_breaking_grid_run(tmp_path, frames):
    """A 'bb:' grid: pilot runs place the times, labels carry their targets, resume reuses the grid."""
    path = make_store(tmp_path / "s.h5", frames[:1])
    settings = IsoSettings(replicas=2, times="bb:0.98,0.95:5", dt=DT, seed=3, pilot_frames=1, pilot_replicas=1)
    with get_executor("serial") as ex:
        report = run_iso(path, settings, executor=ex)
        grid = report.grids[T]
        assert grid["targets"] == [0.98, 0.95] and len(grid["steps"]) == 2
        curve = np.asarray(grid["pilot_curve"])
        assert curve[0] > 0.98 and curve.min() <= 0.95
        report2 = run_iso(path, settings, executor=ex)
    assert report2.grids[T]["steps"] == grid["steps"] and report2.tasks_run == 0
    assert sum(e["event"] == "grid" for e in journal_events(path)) == 1
    with DatasetStore(path) as st:
        names = st.label_names("ka/0")
        t_labels = [f"t={format_time(s * DT)}" for s in grid["steps"]]
        assert {f"bond_breaking/{t}" for t in t_labels} <= set(names)
        assert st.label_params("ka/0", f"bond_breaking/{t_labels[0]}")["bb_target"] == 0.98


def test_cli_is_registered():
    from glassfix.cli import build_parser

    args = build_parser().parse_args(["iso", "s.h5", "--times", "log:0.1:10:5", "--replicas", "4",
                                      "--out-labels", "propensity,cage"])
    assert args.replicas == 4 and args.labels == ["propensity", "cage"] and args.executor == "local"


class _LJ2D:
    """A one-species 2D Lennard-Jones system (duck-typed like glassfix.systems)."""

    name = "lj2d"
    dim = 2
    species = ("A",)
    masses = (1.0,)

    def lammps_commands(self):
        return ["pair_style lj/cut 2.5", "pair_coeff 1 1 1.0 1.0", "mass 1 1.0"]


def test_run_replica_2d_and_triclinic(frames):
    from glassfix.core.frame import Frame

    steps = tuple(range(10, 1001, 10))
    # 2D square lattice of a one-species LJ liquid at T = 1: unwrapped, deterministic, no drift
    m, a = 12, 1.12
    pos = (np.indices((m, m)).reshape(2, -1).T + 0.5) * a
    fr2 = Frame(positions=pos, types=np.zeros(m * m, int), cell=np.diag([m * a, m * a]))
    t2 = ReplicaTask("lj", 0, 5, fr2.positions, fr2.types, fr2.cell, fr2.origin, SystemSpec.from_system(_LJ2D()),
                     1.0, steps, DT)
    r2 = run_replica(t2)
    assert r2.positions.shape == (len(steps), m * m, 2)
    assert np.array_equal(r2.positions, run_replica(t2).positions)
    assert np.abs(np.diff(np.concatenate([pos[None], r2.positions]), axis=0)).max() < 0.5
    assert np.abs((r2.positions[-1] - pos).mean(axis=0)).max() < 1e-10
    # a sheared (restricted-triclinic) KA cell: positions mapped affinely, no jump in the unwrapped path
    fr = frames[0]
    cell = fr.cell.copy()
    cell[1, 0], cell[2, 0], cell[2, 1] = 0.3, 0.2, -0.25
    p3 = (fr.positions / np.diag(fr.cell)) @ cell
    t3 = ReplicaTask("tri", 0, 5, p3, fr.types, cell, fr.origin, SystemSpec.from_system(KobAndersen3D()), T,
                     steps, 0.002)
    r3 = run_replica(t3)
    assert np.abs(np.diff(np.concatenate([p3[None], r3.positions]), axis=0)).max() < 0.5
    bad = cell.copy()
    bad[0, 1] = 0.1  # upper-triangular entry: not a LAMMPS cell
    with pytest.raises(ValueError, match="restricted-triclinic"):
        run_replica(ReplicaTask("bad", 0, 5, p3, fr.types, bad, fr.origin, t3.system, T, steps, DT))


# ----------------------------------------------------------------------------------------------------
# no orphans: workers exit when the launcher dies
# ----------------------------------------------------------------------------------------------------


def _marked_pids(token: str) -> list[int]:
    """Live processes whose environment carries GLASSFIX_ORPHAN_TEST=token (every descendant inherits it)."""
    needle = f"GLASSFIX_ORPHAN_TEST={token}".encode()
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if needle in (d / "environ").read_bytes().split(b"\0"):
                out.append(int(d.name))
        except OSError:
            continue
    return out


def _launcher_pid(store: Path, proc: subprocess.Popen, deadline: float) -> int | None:
    """The pid of the process that launched the run (journal 'run' event), once tasks are submitted."""
    journal = Path(str(store) + ".iso") / "journal.jsonl"
    while time.monotonic() < deadline and proc.poll() is None:
        text = journal.read_text() if journal.exists() else ""
        if '"event": "submit"' in text:
            return next(json.loads(line)["pid"] for line in text.splitlines()
                        if line.strip() and json.loads(line)["event"] == "run")
        time.sleep(0.05)
    return None


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc to find processes")
@pytest.mark.parametrize("executor", ["local", pytest.param("mpi", marks=pytest.mark.slow)])
def test_killed_launcher_leaves_no_orphan_workers(tmp_path, frames, executor):
    """kill -9 of the launcher alone (not its process group, as a crash or an OOM kill would): every
    worker it started exits within seconds (local pool: PDEATHSIG + watchdog; mpi: the MPI runtime)."""
    path = make_store(tmp_path / "s.h5", frames)
    token = f"{os.getpid()}-{time.time_ns()}"
    env = dict(lammps_env(), GLASSFIX_ORPHAN_TEST=token)
    args = ["iso", str(path), "--replicas", "6", "--times", "log:0.05:10:5", "--dt", str(DT), "--no-progress"]
    if executor == "local":
        cmd = [sys.executable, "-m", "glassfix.cli", *args, "--workers", "2"]
    else:
        cmd = [venv_bin("mpirun"), "-np", "3", sys.executable, "-m", "glassfix.cli", *args, "--executor", "mpi"]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        launcher = _launcher_pid(path, proc, time.monotonic() + 120)
        assert launcher is not None and proc.poll() is None, "the launcher finished before it could be killed"
        deadline = time.monotonic() + 60
        while len([p for p in _marked_pids(token) if p != launcher]) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len([p for p in _marked_pids(token) if p != launcher]) >= 2 and proc.poll() is None
        os.kill(launcher, signal.SIGKILL)
        if launcher == proc.pid:
            proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _marked_pids(token):
            time.sleep(0.1)
        survivors = _marked_pids(token)
        assert not survivors, f"orphaned worker processes still alive 10 s after the launcher died: {survivors}"
    finally:
        for pid in _marked_pids(token):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if proc.poll() is None:
            proc.kill()
            proc.wait()
