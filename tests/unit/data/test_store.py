"""Dataset store (glassfix.data.store): round trips, resume without duplicates, grouped splits, SIGKILL
integrity, clear errors for corrupt/foreign/newer files, BOTAN and dump importers, the ``data`` CLI."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from glassfix.core.frame import Frame
from glassfix.data.store import SCHEMA_VERSION, DatasetError, DatasetStore, parse_label_name, repair_store
from helpers import REPO, DATA

SHARED = Path(os.environ.get("GLASSFIX_SHARED", REPO.parent / "shared"))
BOTAN_NPZ = SHARED / "data" / "ka3d_T0.44_iso_tc07" / "train" / "isoconfig_N4096T0.44_1_tc07.npz"


def _frames() -> dict[str, Frame]:
    rng = np.random.default_rng(42)
    n = 50
    ortho = Frame(positions=rng.random((n, 3)) * 6.0, types=rng.integers(0, 2, n), cell=np.diag([6.0, 6.5, 7.0]),
                  origin=np.array([-3.0, -3.25, 0.1]), ids=rng.permutation(n) + 1, species=("A", "B"),
                  unwrapped=rng.normal(size=(n, 3)) * 10, velocities=rng.normal(size=(n, 3)),
                  energies=rng.normal(size=n), step=1000, time=5.0,
                  metadata={"T": 0.44, "stress": [1.0, 2.0, 3.0], "note": "ortho",
                            "masses": np.array([1.0, 1.0]),
                            "columns": {"v_x": rng.random(n), "element": np.array(["Ar"] * n)}})
    tri = Frame(positions=rng.random((n, 3)) * 5.0, types=rng.integers(0, 3, n),
                cell=np.array([[5.0, 0.0, 0.0], [1.3, 5.0, 0.0], [-0.7, 0.4, 5.5]]), origin=np.array([0.5, -1.0, 2.0]),
                pbc=np.array([True, True, False]), step=2000, time=10.0)
    two_d = Frame(positions=rng.random((n, 2)) * 8.0, types=rng.integers(0, 3, n),
                  cell=np.array([[8.0, 0.0], [0.5, 8.0]]),
                  pbc=np.array([True, False]), velocities=rng.normal(size=(n, 2)), step=7, metadata={"system": "jbb2d"})
    return {"ortho": ortho, "tri": tri, "2d": two_d}


def _assert_same_frame(a: Frame, b: Frame) -> None:
    for name in ("positions", "types", "ids", "cell", "origin", "pbc", "unwrapped", "velocities", "energies"):
        x, y = getattr(a, name), getattr(b, name)
        if x is None:
            assert y is None, name
            continue
        assert x.dtype == y.dtype, name
        assert np.array_equal(x, y), name  # bit-exact
    assert (a.step, a.time, a.species) == (b.step, b.time, b.species)


def test_round_trip_frames_labels_replicas(tmp_path):
    path = tmp_path / "s.h5"
    frames = _frames()
    rng = np.random.default_rng(1)
    labels = {k: {"phop/window=10": rng.random(50), "propensity/t=4120": (rng.random(50), {"replicas": 32})}
              for k in frames}
    reps = rng.random((4, 50, 3)).astype(np.float32)
    with DatasetStore(path, "w") as s:
        for name, fr in frames.items():
            s.add_frame(fr, key=f"k/{name}", group=name, system="test", labels=labels[name],
                        replicas={"t=4120": reps} if name == "ortho" else None)
        s.add_descriptor("k/ortho", "radial", rng.random((50, 8)), spec={"cutoff": 2.5, "n": 8})
    with DatasetStore(path, "r") as s:
        assert s.keys() == ["k/ortho", "k/tri", "k/2d"]
        for name, fr in frames.items():
            back = s.frame(f"k/{name}")
            _assert_same_frame(fr, back)
            got = s.labels(f"k/{name}")
            assert set(got) == set(labels[name])
            assert np.array_equal(got["phop/window=10"], labels[name]["phop/window=10"])
            assert np.array_equal(got["propensity/t=4120"], labels[name]["propensity/t=4120"][0])
        meta = s.frame("k/ortho").metadata
        assert meta["T"] == 0.44 and meta["stress"] == [1.0, 2.0, 3.0] and meta["note"] == "ortho"
        assert np.array_equal(meta["columns"]["v_x"], frames["ortho"].metadata["columns"]["v_x"])
        assert list(meta["columns"]["element"]) == ["Ar"] * 50
        assert s.label_params("k/ortho", "phop/window=10") == {"kind": "phop", "name": "phop/window=10", "window": 10}
        assert s.label_params("k/ortho", "propensity/t=4120")["replicas"] == 32
        r = s.replicas("k/ortho")["t=4120"]
        assert r.dtype == np.float32 and np.array_equal(r, reps)
        assert s.descriptor("k/ortho", "radial", {"n": 8, "cutoff": 2.5}).shape == (50, 8)
        info = s.frame_info("k/ortho")
        assert info["group"] == "ortho" and info["temperature"] == 0.44 and info["dim"] == 3
        assert s.frame_info("k/2d")["system"] == "test"
        pairs = list(s.frames(labels=True))
        assert len(pairs) == 3 and set(pairs[0][1]) == {"phop/window=10", "propensity/t=4120"}
        assert s.info()["n_frames"] == 3 and s.info()["schema_version"] == SCHEMA_VERSION
    with h5py.File(path, "r") as f:  # the documented layout
        assert f.attrs["format"] == "glassfix-dataset" and f.attrs["schema_version"] == SCHEMA_VERSION == 2
        g = f["frames/k%2Fortho"]
        assert g.attrs["complete"] == 1 and g.attrs["key"] == "k/ortho"
        assert g["positions"].dtype == np.float64 and g["ids"].dtype == np.int64
        assert g["labels/phop%2Fwindow=10"].attrs["window"] == 10


def test_label_name_parsing():
    assert parse_label_name("phop/window=10") == ("phop", {"window": 10})
    assert parse_label_name("d2min/lag=5,rcut=2.5") == ("d2min", {"lag": 5, "rcut": 2.5})
    assert parse_label_name("softness") == ("softness", {})


def test_add_frame_resume_and_append_only_labels(tmp_path):
    path = tmp_path / "s.h5"
    fr = _frames()["tri"]
    with DatasetStore(path, "a") as s:
        key = s.add_frame(fr, group="c1", system="ka")
        assert key == "ka/c1/000000002000"
        with pytest.raises(DatasetError, match="group="):
            s.add_frame(fr)
    with DatasetStore(path, "a") as s:
        assert s.add_frame(fr, group="c1", system="ka") == key and len(s) == 1  # skipped, not duplicated
        assert s.add_labels(key, {"phop/window=4": np.arange(50.0)}) == ["phop/window=4"]
        assert s.add_labels(key, {"phop/window=4": np.arange(50.0)}) == []  # resume: equal -> skipped
        with pytest.raises(DatasetError, match="append-only"):
            s.add_labels(key, {"phop/window=4": np.zeros(50)})
    with DatasetStore(path, "r") as s:
        with pytest.raises(DatasetError, match="read-only"):
            s.add_frame(fr, group="c2")
    with DatasetStore(path, "a") as s:
        with pytest.raises(DatasetError, match="already open for writing"):
            DatasetStore(path, "a")
    with DatasetStore(path, "a") as s:  # released on close
        assert len(s) == 1
    assert not list(tmp_path.glob("*.tmp"))  # creation went through a temporary file, now gone


def test_examples_append_dedup_on_resume(tmp_path):
    path = tmp_path / "s.h5"
    fr = _frames()["ortho"]
    lab = np.random.default_rng(3).random(50)
    feats = np.random.default_rng(4).random((50, 4))
    with DatasetStore(path, "w") as s:
        key = s.add_frame(fr, group="g", labels={"phop/window=10": lab})
        assert s.append_examples(key, "phop/window=10", atoms=np.arange(20), features=feats[:20]) == 20
        assert s.append_examples(key, "phop/window=10", atoms=[3, 3, 25, 25], features=feats[[3, 3, 25, 25]]) == 1
    with DatasetStore(path, "a") as s:  # a resumed writer replays the whole sequence
        assert s.append_examples(key, "phop/window=10", atoms=np.arange(20), features=feats[:20]) == 0
        assert s.append_examples(key, "phop/window=10", features=feats) == 29
        assert s.append_examples(key, "other", atoms=[0, 1], values=[5.0, 6.0]) == 2  # no features -> NaN
    with DatasetStore(path, "r") as s:
        ex = s.examples()
        assert s.n_examples == 52 and len(ex["value"]) == 52
        ident = ex["frame"] * 10**6 + ex["label"] * 10**3 + ex["atom"]
        assert len(np.unique(ident)) == 52
        mine = s.examples(label="phop/window=10")
        order = np.argsort(mine["atom"])
        assert np.array_equal(mine["atom"][order], np.arange(50))
        assert np.array_equal(mine["value"][order], lab)
        assert np.array_equal(mine["features"][order], feats)
        other = s.examples(label="other")
        assert np.array_equal(other["value"], [5.0, 6.0]) and np.isnan(other["features"]).all()
        assert s.example_label_names == ["phop/window=10", "other"]


def test_grouped_split_disjoint_reproducible_and_batches(tmp_path):
    path = tmp_path / "s.h5"
    base = _frames()["ortho"]
    with DatasetStore(path, "w") as s:
        for i in range(12):
            fr = Frame(positions=base.positions + i, types=base.types, cell=base.cell, step=i)
            key = s.add_frame(fr, group=f"run{i % 4}", system="ka", labels={"y": np.full(50, float(i))})
            s.append_examples(key, "y", atoms=np.arange(0, 50, 5))
        train, test = s.grouped_split(test_fraction=0.25, seed=7)
        groups = lambda keys: {s.frame_info(k)["group"] for k in keys}  # noqa: E731
        assert groups(train).isdisjoint(groups(test)) and len(groups(test)) == 1
        assert sorted(train + test) == sorted(s.keys())
        assert s.grouped_split(test_fraction=0.25, seed=7) == (train, test)
        splits = {tuple(s.grouped_split(0.5, seed=k)[1]) for k in range(6)}
        assert len(splits) > 1  # the seed matters
        s.grouped_split(test_fraction=0.25, seed=7)
    with h5py.File(path, "r") as f:
        assert json.loads(f.attrs["split"])["seed"] == 7
    with DatasetStore(path, "r") as s:
        assert s.split_keys() == (train, test)  # stored in the file
        test_idx = {s.frame_index(k) for k in test}
        seen = []
        for batch in s.iter_batches(7, "y", split="train", shuffle=True, seed=1):
            assert len(batch["value"]) <= 7 and not (set(batch["frame"]) & test_idx)
            seen.append(batch["frame"] * 100 + batch["atom"])
        seen = np.concatenate(seen)
        assert len(seen) == len(np.unique(seen)) == 10 * len(train)
        tb = list(s.iter_batches(1000, "y", split="test", shuffle=False))
        assert len(tb) == 1 and set(tb[0]["frame"]) == test_idx
        with pytest.raises(DatasetError, match="at least two"):
            DatasetStore(tmp_path / "one.h5", "w").grouped_split()


_WRITER = textwrap.dedent('''
    import sys, time
    import numpy as np
    from glassfix.core.frame import Frame
    from glassfix.data.store import DatasetStore

    N, LABEL = 40, "phop/window=10"

    def make(i):
        rng = np.random.default_rng(i)
        fr = Frame(positions=rng.random((N, 3)) * 4.0, types=rng.integers(0, 2, N), cell=np.diag([4.0, 4.0, 4.0]),
                   step=10 * i)
        return fr, rng.random(N), rng.random((N, 3))

    def run(path, n_frames, sleep):
        with DatasetStore(path, "a") as s:
            for i in range(n_frames):
                fr, lab, feat = make(i)
                key = s.add_frame(fr, key=f"ka/g{i % 3}/{i:06d}", group=f"g{i % 3}", system="ka", labels={LABEL: lab})
                for part in (slice(0, N, 2), slice(1, N, 2)):  # two examples chunks per frame
                    atoms = np.arange(N)[part]
                    s.append_examples(key, LABEL, atoms=atoms, features=feat[atoms])
                print(i, flush=True)
                time.sleep(sleep)

    def crash_at(where, n):
        """Die by SIGKILL at the n-th commit, at a chosen point of the commit protocol (tests only)."""
        import os, signal
        from glassfix.data import journal as st
        count = [0]

        def hit():
            count[0] += 1
            return count[0] == n

        def die():
            os.kill(os.getpid(), signal.SIGKILL)

        if where == "before_commit_point":  # journal written, not yet renamed
            real_replace = os.replace
            def replace(a, b):
                if str(b).endswith(".journal") and hit():
                    die()
                return real_replace(a, b)
            os.replace = replace
        elif where == "after_commit_point":  # journal renamed, store file not yet touched
            real_apply = st._apply_journal
            def apply(*args, **kw):
                if hit():
                    die()
                return real_apply(*args, **kw)
            st._apply_journal = apply
        elif where == "mid_apply":  # store file half written
            real_pwrite = os.pwrite
            def pwrite(fd, data, off):
                if hit():
                    real_pwrite(fd, bytes(data)[: max(1, len(data) // 2)], off)
                    die()
                return real_pwrite(fd, data, off)
            os.pwrite = pwrite

    if __name__ == "__main__":
        if len(sys.argv) > 4:
            crash_at(sys.argv[4], int(sys.argv[5]))
        run(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]))
''')


def _check_store(path: Path, writer_ns: dict, n_expected: int | None) -> int:
    """Every frame complete and exact, every example row unique and right; returns the frame count."""
    make, n_atoms, label = writer_ns["make"], writer_ns["N"], writer_ns["LABEL"]
    with DatasetStore(path, "r") as s:
        keys = s.keys()
        steps = sorted(int(k.rsplit("/", 1)[1]) for k in keys)
        assert steps == list(range(len(steps)))  # a prefix of the sequence, no gaps
        assert s.info()["n_incomplete_frames"] == 0  # a linked frame group is always complete
        for k in keys:
            fr, lab, _ = make(int(k.rsplit("/", 1)[1]))
            _assert_same_frame(fr, s.frame(k))
            assert np.array_equal(s.labels(k)[label], lab)
        ex = s.examples()
        ident = ex["frame"] * 10**6 + ex["atom"]
        assert len(np.unique(ident)) == len(ident)  # no duplicates
        for fi in np.unique(ex["frame"]):
            i = int(s.keys()[fi].rsplit("/", 1)[1])
            _, lab, feat = make(i)
            rows = ex["frame"] == fi
            assert np.array_equal(ex["value"][rows], lab[ex["atom"][rows]])
            assert np.array_equal(ex["features"][rows], feat[ex["atom"][rows]])
        if n_expected is not None:
            assert len(keys) == n_expected and len(ex["value"]) == n_expected * n_atoms  # none missing
        return len(keys)


def test_sigkill_mid_run_leaves_readable_store_and_resume_completes(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    ns: dict = {}
    exec(compile(_WRITER, str(script), "exec"), ns)
    path = tmp_path / "killed.h5"
    total = 30
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for min_lines in (4, 12):  # kill twice: a fresh run, then a resumed run
        proc = subprocess.Popen([sys.executable, str(script), str(path), str(total), "0.002"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        lines = []
        deadline = time.monotonic() + 60
        while len(lines) < min_lines and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        err = proc.stderr.read()
        assert proc.returncode == -signal.SIGKILL, (proc.returncode, err)
        n = _check_store(path, ns, None)  # readable, only complete frames
        assert min_lines <= n < total
    done = subprocess.run([sys.executable, str(script), str(path), str(total), "0"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    _check_store(path, ns, total)


@pytest.mark.parametrize("where", ["before_commit_point", "after_commit_point", "mid_apply"])
def test_kill_inside_a_commit(tmp_path, where):
    """A kill at any point of the commit protocol: the previous or the new commit, never a broken file."""
    from glassfix.data.store import journal_path

    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    ns: dict = {}
    exec(compile(_WRITER, str(script), "exec"), ns)
    path = tmp_path / "s.h5"
    total = 12
    proc = subprocess.run([sys.executable, str(script), str(path), str(total), "0", where, "23"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    jpath = journal_path(path)
    assert jpath.exists() == (where != "before_commit_point")
    n = _check_store(path, ns, None)  # a reader sees the last commit (through the journal if one is left)
    assert 0 < n < total and jpath.exists() == (where != "before_commit_point")  # readers do not write
    with DatasetStore(path, "a"):  # a writer replays (or drops) the journal
        pass
    assert not jpath.exists() and not jpath.with_name(jpath.name + ".tmp").exists()
    assert _check_store(path, ns, None) == n
    done = subprocess.run([sys.executable, str(script), str(path), str(total), "0"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    _check_store(path, ns, total)


def test_incomplete_and_damaged_frames(tmp_path):
    path = tmp_path / "s.h5"
    fr = _frames()["ortho"]
    with DatasetStore(path, "w") as s:
        key = s.add_frame(fr, group="g", labels={"a": np.arange(50.0)})
        s.append_examples(key, "a")
    with h5py.File(path, "a") as f:  # what a writer killed while building a frame would leave
        g = f["frames"].create_group("left%2Fover")
        g["positions"] = np.zeros((3, 3))
    with DatasetStore(path, "r") as s:
        assert s.keys() == [key] and s.info()["n_incomplete_frames"] == 1 and not s.has_frame("left/over")
    with DatasetStore(path, "a") as s:  # deleted on resume
        assert s.info()["n_incomplete_frames"] == 0
    with h5py.File(path, "r") as f:
        assert list(f["frames"]) == [key.replace("/", "%2F")]
    with h5py.File(path, "a") as f:  # a damaged (unreadable) frame: marked complete, attributes lost
        f["frames"].create_group("bad").attrs["complete"] = 1
    with pytest.warns(RuntimeWarning, match="damaged"):
        with DatasetStore(path, "r") as s:
            assert s.keys() == [key]
    with pytest.warns(RuntimeWarning, match="salvaged"):
        with DatasetStore(path, "a") as s:  # salvaged into a fresh file, the original kept beside it
            assert s.keys() == [key] and s.n_examples == 50
            _assert_same_frame(fr, s.frame(key))
    assert len(list(tmp_path.glob("s.h5.damaged-*"))) == 1
    with h5py.File(path, "r") as f:
        assert list(f["frames"]) == [key.replace("/", "%2F")]
    repair_store(path)  # explicit repair of a healthy store is harmless
    with DatasetStore(path, "r") as s:
        assert s.keys() == [key] and s.n_examples == 50


def test_corrupt_foreign_and_newer_files_give_clear_errors(tmp_path):
    good = tmp_path / "good.h5"
    with DatasetStore(good, "w") as s:
        s.add_frame(_frames()["ortho"], group="g", labels={"a": np.arange(50.0)})
    junk = tmp_path / "junk.h5"
    junk.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(DatasetError, match=r"junk\.h5.*not an HDF5 file"):
        DatasetStore(junk, "r")
    with pytest.raises(DatasetError, match="not an HDF5 file"):
        DatasetStore(junk, "a")
    empty = tmp_path / "empty.h5"
    empty.touch()
    with pytest.raises(DatasetError, match="empty"):
        DatasetStore(empty, "r")
    truncated = tmp_path / "truncated.h5"
    data = good.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match=r"truncated\.h5.*truncated.*Restore"):
        DatasetStore(truncated, "r")
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(DatasetError, match=r"foreign\.h5.*not a glassfix dataset store.*format"):
        DatasetStore(foreign, "r")
    with pytest.raises(DatasetError, match="not a glassfix dataset store"):
        DatasetStore(foreign, "a")
    newer = tmp_path / "newer.h5"
    shutil.copy(good, newer)
    with h5py.File(newer, "a") as f:
        f.attrs["schema_version"] = SCHEMA_VERSION + 1
        f.attrs["glassfix_version"] = "9.0"
    with pytest.raises(DatasetError, match=rf"newer\.h5.*schema version {SCHEMA_VERSION + 1}.*newer.*upgrade glassfix"):
        DatasetStore(newer, "r")
    with pytest.raises(FileNotFoundError):
        DatasetStore(tmp_path / "missing.h5", "r")
    with DatasetStore(good, "r") as s:  # the original is untouched
        assert len(s) == 1


@pytest.mark.skipif(not BOTAN_NPZ.exists(), reason=f"shared BOTAN data not found at {BOTAN_NPZ}")
def test_import_botan_npz_exact_and_export(tmp_path):
    from glassfix.data.importers import export_npz, import_botan_npz

    path = tmp_path / "botan.h5"
    src = np.load(BOTAN_NPZ)
    with DatasetStore(path, "a") as s:
        key = import_botan_npz(s, BOTAN_NPZ)
        assert import_botan_npz(s, BOTAN_NPZ) == key and len(s) == 1  # resumable
    with DatasetStore(path, "r") as s:
        assert key == "ka3d/T0.44/config1"
        fr = s.frame(key)
        assert np.array_equal(fr.positions, src["initial_positions"]) and fr.positions.dtype == np.float64
        assert np.array_equal(fr.types, src["types"])
        assert np.array_equal(fr.cell, np.eye(3) * (4096 / 1.2) ** (1.0 / 3.0)) and fr.ids[0] == 1
        reps = s.replicas(key)["t=4120"]
        assert reps.dtype == src["positions"].dtype and np.array_equal(reps, src["positions"])
        info = s.frame_info(key)
        assert info["group"] == "config1" and info["temperature"] == 0.44
        prop = s.labels(key)["propensity/t=4120"]
        expect = np.linalg.norm(src["positions"] - src["initial_positions"][None], axis=-1).mean(axis=0)
        np.testing.assert_allclose(prop, expect, rtol=1e-12)
        assert s.label_params(key, "propensity/t=4120")["t"] == 4120
        out = export_npz(s, key, tmp_path / "out.npz")
    back = np.load(out)
    for name in ("types", "initial_positions", "positions"):
        assert back[name].dtype == src[name].dtype and np.array_equal(back[name], src[name])


def test_import_dump_labels_and_cli(tmp_path, capsys):
    from glassfix.cli import data as cli
    from glassfix.data.lammps_io import read_dump_frames, write_dump

    rng = np.random.default_rng(5)
    frames = []
    for step in (0, 100, 200):
        fr = Frame(positions=rng.random((20, 3)) * 3, types=rng.integers(0, 2, 20), cell=np.diag([3.0, 3.0, 3.0]),
                   step=step, metadata={"columns": {"f_phop": rng.random(20), "c_d2min": rng.random(20),
                                                    "v_other": rng.random(20)}})
        frames.append(fr)
    dump = tmp_path / "run.dump"
    write_dump(frames, dump, columns=["id", "type", "x", "y", "z", "f_phop", "c_d2min", "v_other"])
    store = tmp_path / "d.h5"
    assert cli.main(["import", "dump", str(dump), str(store), "--system", "ka", "--group", "run1"]) == 0
    assert cli.main(["import", "dump", str(dump), str(store), "--system", "ka", "--group", "run1"]) == 0  # resume
    with DatasetStore(store, "r") as s:
        assert s.keys() == ["ka/run1/000000000000", "ka/run1/000000000100", "ka/run1/000000000200"]
        for fr, key in zip(frames, s.keys()):
            labs = s.labels(key)
            assert set(labs) == {"f_phop", "c_d2min"}
            assert np.array_equal(labs["f_phop"], fr.metadata["columns"]["f_phop"])  # %.17g text: exact
            assert "v_other" in s.frame(key).metadata["columns"]
    capsys.readouterr()
    assert cli.main(["info", str(store), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["n_frames"] == 3 and info["frame_labels"] == {"f_phop": 3, "c_d2min": 3}
    assert cli.main(["info", str(store)]) == 0 and "frames: 3" in capsys.readouterr().out
    out = tmp_path / "f.dump"
    assert cli.main(["export", str(store), "ka/run1/000000000100", "--format", "dump", str(out)]) == 0
    back = read_dump_frames(out)[0]
    assert np.array_equal(back.positions, frames[1].positions)
    assert np.array_equal(back.metadata["columns"]["f_phop"], frames[1].metadata["columns"]["f_phop"])
    assert cli.main(["export", str(store), "ka/run1/000000000100", "--format", "npz", str(tmp_path / "f.npz")]) == 0
    assert cli.main(["info", str(tmp_path / "nothing.h5")]) == 2
    assert "no such dataset store" in capsys.readouterr().err
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"\0" * 100)
    assert cli.main(["info", str(junk)]) == 2 and "not an HDF5 file" in capsys.readouterr().err


def test_mode_w_replaces_an_existing_store(tmp_path):
    """Mode "w" on an existing store starts a fresh, empty store (found by the iso launcher)."""
    path = tmp_path / "s.h5"
    frames = _frames()
    with DatasetStore(path, "w") as s:
        s.add_frame(frames["ortho"], key="old", group="a")
    with DatasetStore(path, "w") as s:
        assert s.keys() == []
        s.add_frame(frames["tri"], key="new", group="b")
    with DatasetStore(path, "r") as s:
        assert s.keys() == ["new"]
        _assert_same_frame(frames["tri"], s.frame("new"))


# ----------------------------------------------------------------------------------------------------
# checksums (schema 2): damage inside array data is detected, listed by 'data verify', dropped by repair
# ----------------------------------------------------------------------------------------------------


def _data_offset(path: Path, dataset: str) -> int:
    """File offset of a dataset's (single-chunk or contiguous) raw data."""
    with h5py.File(path, "r") as f:
        ds = f[dataset]
        return int(ds.id.get_chunk_info(0).byte_offset) if ds.chunks else int(ds.id.get_offset())


def _flip(path: Path, offset: int) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        b = fh.read(1)[0]
        fh.seek(offset)
        fh.write(bytes([b ^ 0xFF]))


def _checksum_store(path: Path, n: int = 6) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(3)
    out = {}
    with DatasetStore(path, "a") as s:
        for i in range(n):
            pos = rng.random((40, 3)) * 11.2
            lab = rng.random(40)
            key = s.add_frame(Frame(positions=pos, types=rng.integers(0, 2, 40), cell=np.eye(3) * 11.2, step=i),
                              key=f"f{i}", group=f"g{i}", labels={"d2min": lab, "phop/window=10": lab + 1})
            s.append_examples(key, "d2min")
            out[key] = (pos, lab)
    return out


def test_flipped_byte_in_data_is_detected_verified_and_repaired(tmp_path, capsys):
    from glassfix.cli.data import main as data_main

    path = tmp_path / "s.h5"
    ref = _checksum_store(path)
    _flip(path, _data_offset(path, "frames/f2/positions") + 13)            # a position of frame f2
    _flip(path, _data_offset(path, "frames/f4/labels/d2min") + 100)         # one label of frame f4
    with DatasetStore(path, "r") as s:
        assert len(s) == 6
        with pytest.raises(DatasetError, match=r"an array or attribute of frame 'f2' fails its checksum.*glassfix data verify"):
            s.frame("f2")
        with pytest.raises(DatasetError, match=r"label 'd2min' of frame 'f4' fails its checksum"):
            s.labels("f4")
        assert np.array_equal(s.labels("f4", ["phop/window=10"])["phop/window=10"], ref["f4"][1] + 1)
        assert np.array_equal(s.frame("f3").positions, ref["f3"][0])

    capsys.readouterr()
    assert data_main(["verify", str(path)]) == 1
    out = capsys.readouterr().out
    damaged = [line for line in out.splitlines() if "DAMAGED" in line]
    assert len(damaged) == 2, out
    assert "frame 'f2' (checksum mismatch)" in damaged[0] and "frame 'f4': label 'd2min' (checksum mismatch)" in damaged[1]

    assert data_main(["repair", str(path)]) == 0
    out = capsys.readouterr().out
    assert "dropped frame 'f2' (checksum mismatch)" in out and "dropped frame 'f4': label 'd2min'" in out
    assert "dropped 2 damaged item(s)" in out
    assert data_main(["verify", str(path)]) == 0
    with DatasetStore(path, "r") as s:
        assert s.keys() == ["f0", "f1", "f3", "f4", "f5"]
        assert s.label_names("f4") == ["phop/window=10"]
        for key in s.keys():
            assert np.array_equal(s.frame(key).positions, ref[key][0])
        ex = s.examples()
        assert sorted(set(ex["frame"].tolist())) == [0, 1, 3, 4, 5] and len(ex["frame"]) == 5 * 40


def test_flipped_string_attribute_is_detected(tmp_path):
    """Variable-length string attributes live in HDF5's global heap, which HDF5 does not checksum: every
    copy of a label name in the file, flipped, is reported by 'data verify' (or refused at open)."""
    from glassfix.data.verify import verify_store

    good = tmp_path / "good.h5"
    _checksum_store(good, n=2)
    raw = good.read_bytes()
    offsets = [i for i in range(len(raw)) if raw.startswith(b"phop/window=10", i)]
    assert len(offsets) >= 2  # the link name and the 'name' attribute of each frame's label, at least
    for off in offsets:
        path = tmp_path / f"flip{off}.h5"
        shutil.copy(good, path)
        _flip(path, off + 5)
        try:
            rep = verify_store(path)
        except DatasetError:
            continue
        assert rep["damaged"], f"flip at {off} not detected"


def test_examples_chunk_damage_drops_only_that_chunk(tmp_path):
    path = tmp_path / "s.h5"
    with DatasetStore(path, "a") as s:
        n = 3000  # 3 frames x 3000 atoms -> rows 0..8999: two chunks of 8192 rows
        for i in range(3):
            key = s.add_frame(Frame(positions=np.random.default_rng(i).random((n, 3)), types=np.zeros(n, int),
                                    cell=np.eye(3)), key=f"f{i}", group=f"g{i}")
            s.append_examples(key, "y", values=np.arange(n, dtype=float) + i * n)
    with h5py.File(path, "r") as f:
        off = int(f["examples/value"].id.get_chunk_info(1).byte_offset)
    _flip(path, off + 64)
    from glassfix.data.verify import verify_store

    rep = verify_store(path)
    assert rep["damaged"] == ["examples rows 8192-8999, column 'value' (checksum mismatch)"]
    repair_store(path)
    with DatasetStore(path, "r") as s:
        ex = s.examples()
        assert np.array_equal(ex["value"], np.arange(8192.0))
        assert json.loads(s._f.attrs["salvage_dropped"]) == ["examples rows 8192-8999 (checksum mismatch)"]


def test_schema1_store_still_reads_and_is_reported_unchecked(tmp_path):
    """A store written by glassfix before checksums (schema 1, tests/data/store_schema1.h5) reads as before."""
    from glassfix.data.verify import verify_store

    path = tmp_path / "v1.h5"
    shutil.copy(DATA / "store_schema1.h5", path)
    rng = np.random.default_rng(5)
    with DatasetStore(path, "r") as s:
        assert s.schema_version == 1 and s.keys() == ["v1/0", "v1/1", "v1/2"]
        for i in range(3):
            pos = rng.random((20, 3)) * 3
            rng.integers(0, 2, 20)
            assert np.array_equal(s.frame(f"v1/{i}").positions, pos)
            assert np.array_equal(s.labels(f"v1/{i}")["phop/window=10"], np.arange(20.0) + i)
        assert s.n_examples == 60
    rep = verify_store(path)
    assert rep["schema_version"] == 1 and rep["damaged"] == [] and rep["unchecked"] > 0
    with DatasetStore(path, "a") as s:  # appending keeps schema 1 (older frames have no checksums)
        s.add_frame(Frame(positions=np.zeros((2, 3)), types=np.zeros(2, int), cell=np.eye(3)), key="new", group="n")
    with DatasetStore(path, "r") as s:
        assert s.schema_version == 1 and len(s) == 4


# ----------------------------------------------------------------------------------------------------
# messages name the real problem
# ----------------------------------------------------------------------------------------------------


def test_missing_directory_is_not_called_corrupt(tmp_path):
    target = tmp_path / "no" / "such" / "dir" / "s.h5"
    for mode in ("a", "w"):
        with pytest.raises(DatasetError) as e:
            DatasetStore(target, mode)
        msg = str(e.value)
        assert "does not exist" in msg and "mkdir -p" in msg and str(target.parent) in msg, msg
        assert "corrupt" not in msg and "repair" not in msg and ".tmp" not in msg, msg
    assert not (tmp_path / "no").exists()


_AS_NOBODY = """
import sys
from glassfix.data.store import DatasetError, DatasetStore
try:
    DatasetStore(sys.argv[1], "a")
except DatasetError as exc:
    print(exc)
"""


def _run_unprivileged(path: Path) -> str:
    """Open ``path`` for writing in a process that obeys permission bits (root loses its override)."""
    cmd = [sys.executable, "-c", _AS_NOBODY, str(path)]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: permission bits cannot be enforced")
        cmd = [setpriv, "--bounding-set=-dac_override,-dac_read_search", *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_read_only_store_or_directory_is_not_called_corrupt(tmp_path):
    ro_dir = tmp_path / "ro"
    ro_dir.mkdir()
    with DatasetStore(ro_dir / "s.h5", "a"):
        pass
    ro_dir.chmod(0o555)
    try:
        msg = _run_unprivileged(ro_dir / "new.h5")
        assert "is not writable" in msg and str(ro_dir) in msg and "corrupt" not in msg, msg
        msg = _run_unprivileged(ro_dir / "s.h5")
        assert "not writable" in msg and "mode='r'" in msg and "corrupt" not in msg, msg
    finally:
        ro_dir.chmod(0o755)
    (ro_dir / "s.h5").chmod(0o444)
    msg = _run_unprivileged(ro_dir / "s.h5")
    assert "the store is read-only" in msg and "mode='r'" in msg and "corrupt" not in msg, msg


def test_repair_of_unreadable_superblock_does_not_suggest_itself(tmp_path, capsys):
    from glassfix.cli.data import main as data_main

    path = tmp_path / "s.h5"
    _checksum_store(path, n=2)
    raw = bytearray(path.read_bytes())
    raw[8:48] = bytes(40)  # the superblock after the signature: versions, sizes, addresses
    path.write_bytes(bytes(raw))
    with pytest.raises(DatasetError) as e:
        DatasetStore(path, "r")
    assert "glassfix data repair" in str(e.value)  # opening suggests repair ...
    capsys.readouterr()
    assert data_main(["repair", str(path)]) == 2
    err = capsys.readouterr().err
    assert "not recoverable" in err and "data repair" not in err and "rerunning the writer" in err, err  # ... repair doesn't
    path.write_bytes(bytes(4096))  # no HDF5 signature at all
    assert data_main(["repair", str(path)]) == 2
    err = capsys.readouterr().err
    assert "not recoverable: not an HDF5 file" in err and "data repair" not in err, err
