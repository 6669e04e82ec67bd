"""Helpers for fault-injection tests: crafted zip archives (zip bombs, lying headers) and byte flips."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

_PIECE = 1 << 20


def deflate_zeros(n_bytes: int) -> bytes:
    """A raw deflate stream that inflates to ``n_bytes`` zeros (n_bytes a multiple of 1 MiB), built in
    milliseconds: a full flush resets the compressor, so every 1 MiB piece compresses to the same bytes."""
    assert n_bytes % _PIECE == 0
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = co.compress(bytes(_PIECE)) + co.flush(zlib.Z_FULL_FLUSH)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)  # an empty final block
    return piece * (n_bytes // _PIECE) + tail


def deflate(data: bytes) -> bytes:
    """Raw deflate of ``data``."""
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    return co.compress(data) + co.flush()


def raw_zip(entries: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """A zip archive from ``(name, stored payload, method (0 stored / 8 deflated), declared uncompressed
    size, crc32)`` entries, written byte by byte so that every header can lie."""
    out = bytearray()
    central = bytearray()
    for name, payload, method, size, crc in entries:
        nb = name.encode()
        offset = len(out)
        out += struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, method, 0, 0x21, crc & 0xFFFFFFFF, len(payload),
                           size, len(nb), 0) + nb + payload
        central += struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, method, 0, 0x21, crc & 0xFFFFFFFF,
                               len(payload), size, len(nb), 0, 0, 0, 0, 0, offset) + nb
    cd_offset = len(out)
    out += central
    out += struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central), cd_offset, 0)
    return bytes(out)


def npy_header(dtype: str, shape: tuple[int, ...]) -> bytes:
    """The .npy (version 1.0) header of an array of ``dtype`` and ``shape``."""
    d = repr({"descr": np.dtype(dtype).str, "fortran_order": False, "shape": tuple(shape)})
    pad = 64 - (10 + len(d) + 1) % 64
    d = d + " " * pad + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d.encode()


def flip_byte(path: Path, offset: int, mask: int = 0xFF) -> int:
    """XOR the byte at ``offset`` of a file with ``mask``; returns the old value."""
    with open(path, "r+b") as fh:
        fh.seek(offset)
        old = fh.read(1)[0]
        fh.seek(offset)
        fh.write(bytes([old ^ mask]))
    return old


# ----------------------------------------------------------------------------------------------------
# fault-injection campaigns (tests/integration/test_fault_injection.py runs them small; main() writes the report)
# ----------------------------------------------------------------------------------------------------

import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections import Counter  # noqa: E402

WRITER_ATOMS = 32


def writer_frame(i: int):
    """The deterministic frame and label number ``i`` of the killed-writer campaign."""
    from glassfix.core.frame import Frame

    rng = np.random.default_rng(1000 + i)
    fr = Frame(positions=rng.random((WRITER_ATOMS, 3)) * 5.0, types=rng.integers(0, 2, WRITER_ATOMS),
               cell=np.eye(3) * 5.0, step=i)
    return fr, rng.random(WRITER_ATOMS)


def _check_writer_store(path: Path, n_total: int) -> dict:
    """Open a store left by the writer read-only and compare every stored item with what was written."""
    from glassfix.data.store import DatasetStore

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with DatasetStore(path, "r") as st:
            keys = st.keys()
            wrong = 0
            for key in keys:
                i = int(key.split("/")[1])
                fr, lab = writer_frame(i)
                got = st.frame(key)
                if not (np.array_equal(got.positions, fr.positions) and np.array_equal(got.types, fr.types)
                        and np.array_equal(st.labels(key)["y"], lab)):
                    wrong += 1
            ex = st.examples()
            ident = ex["frame"] * WRITER_ATOMS + ex["atom"]
            duplicates = len(ident) - len(np.unique(ident))
            for k, key in enumerate(keys):  # example values equal the label they came from
                rows = ex["frame"] == st.frame_index(key)
                if rows.any() and not np.array_equal(ex["value"][rows][np.argsort(ex["atom"][rows])],
                                                     writer_frame(int(key.split("/")[1]))[1][np.sort(ex["atom"][rows])]):
                    wrong += 1
    return {"keys": keys, "wrong": wrong, "duplicates": int(duplicates), "warnings": len(caught),
            "n_examples": len(ex["frame"])}


def _writer_child(path: Path, n_frames: int, wfd: int) -> None:
    """The writer (in a forked child): add frames and examples, report each commit on ``wfd``."""
    from glassfix.data.store import DatasetStore

    with DatasetStore(path, "a") as st:
        for i in range(n_frames):
            key = f"w/{i:04d}"
            fr, lab = writer_frame(i)
            st.add_frame(fr, key=key, group=f"g{i % 3}", labels={"y": lab})
            st.append_examples(key, "y")
            os.write(wfd, f"committed {key}\n".encode())


def _run_writer(path: Path, n_frames: int, kill_after: float | None) -> tuple[set[str], bool, int]:
    """Fork a writer process (a real process with the modules already imported, so it starts in ms),
    SIGKILL it after ``kill_after`` seconds (None: let it finish); returns (keys it reported committed,
    whether it was killed, exit status)."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(rfd)
        code = 0
        try:
            _writer_child(path, n_frames, wfd)
        except BaseException:  # noqa: BLE001
            import traceback

            traceback.print_exc()
            code = 1
        os._exit(code)
    os.close(wfd)
    killed = False
    if kill_after is not None:
        time.sleep(kill_after)
        if os.waitpid(pid, os.WNOHANG) == (0, 0):
            os.kill(pid, signal.SIGKILL)
            killed = True
            _, status = os.waitpid(pid, 0)
        else:
            status = 0
    else:
        _, status = os.waitpid(pid, 0)
    chunks = []
    while True:
        b = os.read(rfd, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(rfd)
    committed = {line.split()[1] for line in b"".join(chunks).decode().splitlines() if line.startswith("committed")}
    return committed, killed, status


def kill_writer_campaign(workdir: Path, kills: int, seed: int, n_frames: int = 60, max_delay: float = 1.0) -> dict:
    """SIGKILL a store writer ``kills`` times at seeded random moments in ``[0, max_delay)`` s, checking the
    store after each kill and resuming; then let it finish. Returns counts: kills, commits reported before a
    kill yet missing after it (lost), unreadable stores, wrong values, duplicate example rows, frames lost
    in flight, and whether the final store is complete and verifies clean."""
    from glassfix.data.verify import verify_store

    rng = np.random.default_rng(seed)
    path = Path(workdir) / "killed.h5"
    for p in Path(workdir).glob("killed.h5*"):
        p.unlink()
    stats = Counter()
    attempts = 0
    while stats["kills"] < kills and attempts < 4 * kills:
        attempts += 1
        committed, killed, _ = _run_writer(path, n_frames, float(rng.uniform(0.0, max_delay)))
        stats["kills"] += killed
        stats["finished_before_kill"] += not killed
        if killed and not path.exists():
            # killed while creating the store (it is laid out under a temporary name, then renamed)
            stats["killed_before_creation"] += 1
            stats["lost"] += len(committed)
            stats["frames_stored_at_kills"] = stats.get("frames_stored_at_kills", ()) + (0,)
            continue
        try:
            res = _check_writer_store(path, n_frames)
        except Exception as exc:  # noqa: BLE001 - counted: a store a killed writer leaves must open
            stats["unreadable"] += 1
            stats["unreadable_error"] = str(exc)
            continue
        if killed:
            stats["frames_stored_at_kills"] = stats.get("frames_stored_at_kills", ()) + (len(res["keys"]),)
        stats["lost"] += len(committed - set(res["keys"]))
        stats["wrong"] += res["wrong"]
        stats["duplicates"] += res["duplicates"]
        stats["warnings"] += res["warnings"]
        if len(res["keys"]) == n_frames and stats["kills"] < kills:
            # complete (checked above): start a fresh store so that the next kill lands in real writing
            stats["stores_completed"] += 1
            for p in Path(workdir).glob("killed.h5*"):
                p.unlink()
    _, _, status = _run_writer(path, n_frames, None)
    assert status == 0, "the resumed writer failed"
    stats["leftover_files"] = len([p for p in Path(workdir).iterdir() if p.name != path.name])
    res = _check_writer_store(path, n_frames)
    rep = verify_store(path)
    stats["n_frames"] = n_frames
    stats["final_frames"] = len(res["keys"])
    stats["final_examples"] = res["n_examples"]
    stats["final_complete"] = int(res["keys"] == [f"w/{i:04d}" for i in range(n_frames)]
                                  and res["n_examples"] == n_frames * WRITER_ATOMS and not rep["damaged"])
    stats["final_wrong"] = res["wrong"] + res["duplicates"]
    return dict(stats)


# -- byte flips in stores --------------------------------------------------------------------------


def build_flip_store(path: Path) -> None:
    """A small schema-2 store with every kind of item: frames, metadata, labels, replicas, descriptors,
    examples with features, a split."""
    from glassfix.core.frame import Frame
    from glassfix.data.store import DatasetStore

    rng = np.random.default_rng(7)
    with DatasetStore(path, "w") as st:
        for i in range(6):
            n = 40
            fr = Frame(positions=rng.random((n, 3)) * 11.2, types=rng.integers(0, 2, n), cell=np.eye(3) * 11.2,
                       step=100 * i, velocities=rng.normal(size=(n, 3)),
                       metadata={"T": 0.5, "note": f"frame {i}", "masses": np.array([1.0, 2.0])})
            key = st.add_frame(fr, key=f"ka/{i}", group=f"c{i % 3}", system="ka3d", temperature=0.5,
                               labels={"phop/window=10": rng.random(n), "d2min": rng.random(n)},
                               replicas={"t=10": rng.random((2, n, 3))})
            st.add_descriptor(key, "radial", rng.random((n, 4)), {"cutoff": 2.5})
            st.append_examples(key, "d2min", features=rng.random((n, 3)))
        st.grouped_split(0.34, seed=1)


def snapshot_store(path: Path) -> dict:
    """Everything a user can read from a store (raises what the store raises)."""
    from glassfix.data.store import DatasetStore

    snap = {}
    with DatasetStore(path, "r") as st:
        for key in st.keys():
            fr = st.frame(key)
            snap[key] = {
                "arrays": [fr.positions, fr.types, fr.ids, fr.cell, fr.origin, fr.pbc, fr.velocities],
                "meta": json.dumps({k: (v.tolist() if isinstance(v, np.ndarray) else v)
                                    for k, v in fr.metadata.items()}, sort_keys=True, default=str),
                "info": json.dumps(st.frame_info(key), sort_keys=True, default=str),
                "labels": st.labels(key), "params": {n: st.label_params(key, n) for n in st.label_names(key)},
                "replicas": st.replicas(key), "descriptors": st.descriptors(key),
            }
        ex = st.examples()
        snap["__examples__"] = {**ex, "names": st.example_label_names}
        snap["__split__"] = st.split_keys()
    return snap


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _consistent_subset(snap: dict, ref: dict) -> bool:
    """Every frame item present in ``snap`` equals the reference (items may be missing, never wrong)."""
    for key, item in snap.items():
        if key.startswith("__"):
            continue
        if key not in ref:
            return False
        r = ref[key]
        for part in ("arrays", "meta", "info"):
            if not _same(item[part], r[part]):
                return False
        for part in ("labels", "replicas", "descriptors", "params"):
            if any(name not in r[part] or not _same(v, r[part][name]) for name, v in item[part].items()):
                return False
    ex, rex = snap["__examples__"], ref["__examples__"]
    if ex["names"] != rex["names"][: len(ex["names"])]:
        return False
    ref_rows = {(int(f), int(a), int(lb)): i for i, (f, a, lb) in enumerate(zip(rex["frame"], rex["atom"], rex["label"]))}
    for i, (f, a, lb) in enumerate(zip(ex["frame"], ex["atom"], ex["label"])):
        j = ref_rows.get((int(f), int(a), int(lb)))
        if j is None or not all(_same(ex[c][i], rex[c][j]) for c in ("group", "value", "features") if c in ex):
            return False
    return True


def data_regions(path: Path) -> list[tuple[int, int]]:
    """(offset, size) of every raw-data chunk or contiguous dataset of an HDF5 file."""
    import h5py

    out = []

    def visit(_name, obj):
        if isinstance(obj, h5py.Dataset) and obj.size:
            if obj.chunks:
                for i in range(obj.id.get_num_chunks()):
                    info = obj.id.get_chunk_info(i)
                    out.append((int(info.byte_offset), int(info.size)))
            elif obj.id.get_offset() is not None:
                out.append((int(obj.id.get_offset()), int(obj.id.get_storage_size())))

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return sorted(out)


def flip_store_case(good: Path, work: Path, offset: int, mask: int, ref: dict) -> dict:
    """Flip one byte of a copy of ``good`` and classify what a user sees: 'no effect', 'detected'
    (a clear DatasetError, or damage warned/listed), 'unclear' (another exception), 'silent' (a wrong
    value read without any error); then check that verify lists it and repair keeps only correct items."""
    from glassfix.data.store import DatasetError, repair_store
    from glassfix.data.verify import verify_store

    path = work / "flip.h5"
    shutil.copy(good, path)
    flip_byte(path, offset, mask)
    res = {"offset": offset, "error": None}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            snap = snapshot_store(path)
        except DatasetError as exc:
            snap, res["error"] = None, f"DatasetError: {exc}"
        except Exception as exc:  # noqa: BLE001 - classified as unclear
            snap, res["error"] = None, f"{type(exc).__name__}: {exc}"
            res["outcome"] = "unclear"
    warned = any("damage" in str(w.message) for w in caught)
    try:
        rep = verify_store(path)
        reported = len(rep["damaged"])
    except DatasetError:
        rep, reported = None, -1  # cannot be opened at all: reported as a clear error
    if "outcome" not in res:
        if snap is not None and _same(snap, ref) and not warned:
            res["outcome"] = "no effect"
        elif snap is not None and not warned and not reported:
            res["outcome"] = "silent"
        else:
            res["outcome"] = "detected"
    res["reported"] = reported != 0
    res["lost_frames"] = 0
    if res["outcome"] == "detected" and rep is not None:
        try:
            repair_store(path)
            snap2 = snapshot_store(path)
            res["repaired_consistent"] = _consistent_subset(snap2, ref)
            res["lost_frames"] = len([k for k in ref if not k.startswith("__") and k not in snap2])
            res["verify_after_repair"] = len(verify_store(path)["damaged"])
        except Exception as exc:  # noqa: BLE001
            res["repair_error"] = f"{type(exc).__name__}: {exc}"
    elif res["outcome"] == "detected":
        res["lost_frames"] = len([k for k in ref if not k.startswith("__")])  # the whole store
    return res


def flip_store_campaign(workdir: Path, n: int, seed: int) -> list[dict]:
    """``n`` seeded byte flips, in turn inside raw array data, anywhere in the file, outside array data."""
    workdir = Path(workdir)
    good = workdir / "good.h5"
    build_flip_store(good)
    ref = snapshot_store(good)
    regions = data_regions(good)
    size = good.stat().st_size
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        if k % 3 == 0:
            off, sz = regions[int(rng.integers(len(regions)))]
            offset = off + int(rng.integers(sz))
        elif k % 3 == 1:
            offset = int(rng.integers(size))
        else:
            while True:
                offset = int(rng.integers(size))
                if not any(o <= offset < o + s for o, s in regions):
                    break
        where = "array data" if any(o <= offset < o + s for o, s in regions) else "metadata/other"
        res = flip_store_case(good, workdir, offset, int(rng.integers(1, 256)), ref)
        res["where"] = where
        out.append(res)
    return out


# -- byte flips in model files ---------------------------------------------------------------------


def build_model(path: Path):
    """A small trained softness model saved at ``path``; returns (model, frame to predict on)."""
    from glassfix.core.frame import Frame
    from glassfix.descriptors.structure_functions import RadialStructureFunctions
    from glassfix.models import SoftnessModel

    rng = np.random.default_rng(3)
    desc = RadialStructureFunctions(2, mus=np.arange(0.5, 2.5, 0.25))
    n = 80
    L = (n / 1.2) ** (1 / 3)
    frame = Frame(positions=rng.random((n, 3)) * L, types=(rng.random(n) < 0.2).astype(np.int64),
                  cell=np.eye(3) * L, species=("A", "B"))
    G = desc.compute(frame)
    data = {t: (G[frame.types == t], G[frame.types == t][:, 3] < np.median(G[frame.types == t][:, 3])) for t in (0, 1)}
    model = SoftnessModel.train(desc, data, C=1.0, species=["A", "B"])
    model.save(path)
    return model, frame


def flip_model_campaign(workdir: Path, n: int, seed: int) -> list[dict]:
    """``n`` seeded byte flips anywhere in a model file: each must give ModelFileError or no change."""
    from glassfix.models import ModelFileError, load_model

    workdir = Path(workdir)
    good = workdir / "good.glassfix"
    _, frame = build_model(good)
    ref = load_model(good).predict(frame)
    raw = good.read_bytes()
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        offset = int(rng.integers(len(raw)))
        path = workdir / "flip.glassfix"
        path.write_bytes(raw)
        flip_byte(path, offset, int(rng.integers(1, 256)))
        t0 = time.perf_counter()
        try:
            pred = load_model(path).predict(frame)
            outcome = "no effect" if np.array_equal(pred, ref) else "silent"
        except ModelFileError as exc:
            outcome = "detected"
            msg = str(exc)
        except Exception as exc:  # noqa: BLE001
            outcome, msg = "unclear", f"{type(exc).__name__}: {exc}"
        else:
            msg = ""
        out.append({"offset": offset, "outcome": outcome, "error": msg, "seconds": time.perf_counter() - t0,
                    "names_file": str(path) in msg if outcome == "detected" else None})
    return out


def malicious_model_campaign(workdir: Path) -> list[dict]:
    """Crafted malicious model files (zip bombs, lying sizes, extra members, pickles): all refused fast."""
    import io

    from glassfix.models import ModelFileError, load_model

    workdir = Path(workdir)
    good = workdir / "good.glassfix"
    model, _ = build_model(good)
    man = dict(model.manifest(), format="glassfix-model", format_version=1)
    man_b = json.dumps(man).encode()
    cases = {}
    for total in (3200 * 2**20,):
        header = npy_header("<f8", (total // 8,))
        co = zlib.compressobj(9, zlib.DEFLATED, -15)
        inner = co.compress(header) + co.flush(zlib.Z_FULL_FLUSH) + deflate_zeros(total)
        npz = raw_zip([("w.npy", inner, 8, len(header) + total, 0)])
        cases["nested zip bomb (3.2 GB)"] = raw_zip([("manifest.json", deflate(man_b), 8, len(man_b), zlib.crc32(man_b)),
                                                     ("arrays.npz", deflate(npz), 8, len(npz), zlib.crc32(npz))])
    cases["member lying about its size (256 MiB stream, declares 1 kB)"] = raw_zip(
        [("manifest.json", deflate(man_b), 8, len(man_b), zlib.crc32(man_b)),
         ("arrays.npz", deflate_zeros(256 * 2**20), 8, 1024, 0)])
    cases["declared 3 GiB arrays.npz"] = raw_zip(
        [("manifest.json", deflate(man_b), 8, len(man_b), zlib.crc32(man_b)),
         ("arrays.npz", deflate_zeros(2**20), 8, 3 * 2**30, 0)])
    buf = io.BytesIO()
    np.savez(buf, **model.arrays(), extra=np.zeros(2))
    listed = json.dumps(dict(man, arrays={k: {"dtype": v.dtype.str, "shape": list(v.shape)}
                                          for k, v in model.arrays().items()})).encode()
    cases["npz member not in the manifest"] = raw_zip(
        [("manifest.json", deflate(listed), 8, len(listed), zlib.crc32(listed)),
         ("arrays.npz", deflate(buf.getvalue()), 8, len(buf.getvalue()), zlib.crc32(buf.getvalue()))])
    cases["extra zip member (a pickle)"] = raw_zip(
        [("manifest.json", deflate(man_b), 8, len(man_b), zlib.crc32(man_b)),
         ("model.pkl", b"\x80\x04K\x01.", 0, 6, zlib.crc32(b"\x80\x04K\x01."))])
    out = []
    for name, data in cases.items():
        path = workdir / "evil.glassfix"
        path.write_bytes(data)
        import tracemalloc

        tracemalloc.start()
        t0 = time.perf_counter()
        try:
            load_model(path)
            outcome, msg = "loaded", ""
        except ModelFileError as exc:
            outcome, msg = "refused", str(exc)
        except Exception as exc:  # noqa: BLE001
            outcome, msg = "unclear", f"{type(exc).__name__}: {exc}"
        finally:
            seconds = time.perf_counter() - t0
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        out.append({"case": name, "bytes": len(data), "outcome": outcome, "seconds": seconds,
                    "peak_mib": peak / 2**20, "error": msg})
    return out


# -- the report ------------------------------------------------------------------------------------


def _machine() -> str:
    import platform

    from glassfix.core.machine import machine_description

    return f"{machine_description()}, Linux {platform.release()}, Python {platform.python_version()}"


def write_report(out: Path, kills: int, store_flips: int, model_flips: int, seed: int, workdir: Path) -> str:
    """Run every campaign and write the markdown report (docs/reliability.md)."""
    import datetime

    t0 = time.perf_counter()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "kill").mkdir(exist_ok=True)
    k = kill_writer_campaign(workdir / "kill", kills, seed, n_frames=100)
    t_kill = time.perf_counter() - t0
    (workdir / "store").mkdir(exist_ok=True)
    sc = flip_store_campaign(workdir / "store", store_flips, seed)
    t_store = time.perf_counter() - t0 - t_kill
    (workdir / "model").mkdir(exist_ok=True)
    mc = flip_model_campaign(workdir / "model", model_flips, seed)
    mal = malicious_model_campaign(workdir / "model")
    (workdir / "cost").mkdir(exist_ok=True)
    costs = [checksum_cost(workdir / "cost", n_frames=100, n_atoms=1000),
             checksum_cost(workdir / "cost", n_frames=40, n_atoms=4096)]
    wall = time.perf_counter() - t0
    cmd = (f"python tests/helpers/fault_util.py --out {out} --kills {kills} --store-flips {store_flips} "
           f"--model-flips {model_flips} --seed {seed}")
    lines = [
        "# Reliability: fault injection",
        "",
        f"Generated by `{cmd}` (PYTHONPATH at the repository root) on "
        f"{datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}, {_machine()}; "
        f"wall time {wall:.0f} s on a machine shared with other jobs. Every campaign is seeded (seed {seed}) and "
        "reproducible; `tests/integration/test_fault_injection.py` runs the same code on fewer cases in the test suite.",
        "",
        "Outcomes: **detected** = a clear error naming the file and the fix (`DatasetError`/`ModelFileError`), or "
        "damage warned about and listed by `glassfix data verify`; **no effect** = every value reads back exactly "
        "as written; **silent** = a wrong value (or a missing item) read without any error; **unclear** = another "
        "exception (a traceback instead of a message). The goal is zero silent and zero unclear.",
        "",
        "## Store writers killed (SIGKILL) at random moments",
        "",
        f"Stores of {k['n_frames']} frames ({WRITER_ATOMS} atoms, a label each, examples rows), written by a forked "
        f"process killed at a uniformly random moment in [0, 1) s, checked read-only after every kill, then resumed "
        f"(a store found complete is checked and replaced by a fresh one, {k.get('stores_completed', 0)} times); "
        f"after the last kill the writer runs to completion.",
        "",
        "| kills | stores unreadable after a kill | commits confirmed then lost | wrong values | duplicate example rows | final store complete, verifies clean |",
        "|---|---|---|---|---|---|",
        f"| {k['kills']} | {k.get('unreadable', 0)} | {k['lost']} | {k['wrong']} | {k['duplicates']} | "
        f"{'yes' if k['final_complete'] else 'NO'} ({k['final_frames']} frames, {k['final_examples']} rows) |",
        "",
        f"Frames already stored when each kill landed: {', '.join(map(str, k.get('frames_stored_at_kills', ())))} "
        f"(of {k['n_frames']}; 0 includes {k.get('killed_before_creation', 0)} kill(s) while the store file was "
        f"being created, which leave no store and no stray file). A kill loses at most the frame in flight, "
        f"which the resumed writer re-adds. Files left beside the final store (journals, temporary files): "
        f"{k['leftover_files']}.",
        "",
        "## Byte flips in dataset stores (schema 2)",
        "",
        f"A store of 6 frames with every kind of item (positions, velocities, metadata, two labels, replicas, a "
        f"descriptor, examples with features, a split), {good_size(workdir / 'store' / 'good.h5')} bytes. Each "
        f"case flips one byte (random XOR mask) of a fresh copy, in turn: at a random offset inside raw array "
        f"data, then at a uniformly random offset of the file, then at a random offset outside array data (HDF5 "
        f"metadata, the global heap of strings, free space); the column *where* says where each landed. "
        f"Each detected case is then repaired and the result re-read.",
        "",
        "| where | cases | detected | no effect | silent | unclear | reported by verify (or refused at open) | repaired store consistent, verifies clean | frames dropped by repair (of 6 per store) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for where in ("array data", "metadata/other"):
        cs = [c for c in sc if c["where"] == where]
        o = Counter(c["outcome"] for c in cs)
        det = [c for c in cs if c["outcome"] == "detected"]
        rep_ok = sum(bool(c["reported"]) for c in det)
        repaired = [c for c in det if "repaired_consistent" in c]
        rep_cons = sum(bool(c["repaired_consistent"]) and c["verify_after_repair"] == 0 for c in repaired)
        lost = sum(c["lost_frames"] for c in repaired)
        most = max((c["lost_frames"] for c in repaired), default=0)
        lines.append(f"| {where} | {len(cs)} | {o['detected']} | {o['no effect']} | {o['silent']} | {o['unclear']} | "
                     f"{rep_ok}/{len(det)} | {rep_cons}/{len(repaired)} | {lost} (at most {most} per flip) |")
    unopenable = [c for c in sc if c["outcome"] == "detected" and "repaired_consistent" not in c]
    lines += [
        "",
        "Repair drops a whole frame only when one of its own arrays or attributes is damaged; a damaged label, "
        "replica set, descriptor or chunk of example rows is dropped alone.",
        "",
        f"Detected cases whose store could not be opened at all (no repair possible, the message says so and "
        f"to restore a copy or rerun the writer): {len(unopenable)}.",
        "",
        "## Byte flips in model files",
        "",
        f"A small softness model file ({good_size(workdir / 'model' / 'good.glassfix')} bytes); each case flips one "
        "byte at a uniformly random offset and loads the model, comparing its predictions with the original's.",
        "",
        "| cases | detected (ModelFileError naming the file) | no effect | silent | unclear | slowest load (s) |",
        "|---|---|---|---|---|---|",
    ]
    o = Counter(c["outcome"] for c in mc)
    named = sum(bool(c["names_file"]) for c in mc if c["outcome"] == "detected")
    lines.append(f"| {len(mc)} | {o['detected']} ({named} naming the file) | {o['no effect']} | {o['silent']} | "
                 f"{o['unclear']} | {max(c['seconds'] for c in mc):.3f} |")
    lines += [
        "",
        "A flip with no effect changed a byte that does not change what is loaded: the predictions are "
        "bit-identical to the original's.",
        "",
        "## Malicious model files",
        "",
        "| file | size (bytes) | outcome | time (s) | peak Python memory (MiB) |",
        "|---|---|---|---|---|",
    ]
    for c in mal:
        lines.append(f"| {c['case']} | {c['bytes']} | {c['outcome']} | {c['seconds']:.3f} | {c['peak_mib']:.1f} |")
    lines += [
        "",
        "Declared member sizes, npz member names and `.npy` headers are checked against the manifest and the "
        "2 GiB cap (`glassfix.models.io.MAX_MODEL_BYTES`) before anything is inflated, and members are inflated "
        "in bounded chunks (docs/models.md).",
        "",
        "## Cost of the checksums",
        "",
        "Writing frames (positions, types, ids, one label, examples rows), opening the store read-only and "
        "reading every frame, label and example row, with the current store against the store before checksums "
        f"(`glassfix/data/store.py` at commit {BASELINE_COMMIT}); {costs[0]['repeats']} alternating repeats, "
        "medians, on the shared machine (ratios are what to read, not absolute times). In this run writing "
        f"took {_span(costs, 'write')}x the time of the store before checksums, opening {_span(costs, 'open')}x "
        f"(every frame's attribute seal is read and checked) and reading {_span(costs, 'read')}x (every chunk's "
        "fletcher32 and every item's seal verified).",
        "",
        "| frames x atoms | operation | before checksums (s) | with checksums (s) | ratio (median of per-repeat ratios) |",
        "|---|---|---|---|---|",
        *[f"| {c['n_frames']} x {c['n_atoms']} | {op} | {c[op]['baseline']:.3f} | {c[op]['current']:.3f} | "
          f"{c[op]['ratio']:.2f} |" for c in costs for op in ("write", "open", "read")],
        "",
        "## Not covered here",
        "",
        "* Power loss (page cache not on disk) is not simulated; stores opened with `fsync=True` fsync every commit.",
        "* Schema-1 stores (written before checksums) have no checksums: flips in their array data stay silent "
        "(`glassfix data verify` reports their arrays as unchecked).",
        "* Orphan processes after a killed `glassfix iso` launcher are tested in `tests/integration/test_ensembles.py` "
        "(`test_killed_launcher_leaves_no_orphan_workers`, local pool and mpi), not counted here.",
        "",
    ]
    # the plugin section is written by hand (its tests are the plugin's own): keep it when regenerating
    previous = Path(out).read_text() if Path(out).exists() else ""
    mark = "## Plugin (LAMMPS) items"
    if mark in previous:
        lines += [previous[previous.index(mark):].rstrip("\n"), ""]
    text = "\n".join(lines)
    Path(out).write_text(text)
    return text


BASELINE_COMMIT = "5134836"  # the store before checksums (schema 1)


def _baseline_store_module(workdir: Path):
    """glassfix.data.store as of BASELINE_COMMIT (from git), importable beside the current one."""
    import importlib.util

    root = Path(__file__).resolve().parents[2]
    src = subprocess.run(["git", "-C", str(root), "show", f"{BASELINE_COMMIT}:glassfix/data/store.py"],
                         capture_output=True, text=True, check=True).stdout
    src = src.replace("from ..core.frame import Frame", "from glassfix.core.frame import Frame")
    src = src.replace("from .. import __version__", "from glassfix import __version__")
    path = workdir / "store_baseline.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("store_baseline", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def checksum_cost(workdir: Path, n_frames: int = 100, n_atoms: int = 1000, repeats: int = 5) -> dict:
    """Write / open / read times of the current store against the one before checksums, alternating
    repeats on the same frames; returns the median ratios (current / baseline) and times."""
    import glassfix.data.store as current
    from glassfix.core.frame import Frame

    baseline = _baseline_store_module(workdir)
    rng = np.random.default_rng(0)
    frames = [(Frame(positions=rng.random((n_atoms, 3)) * 10, types=rng.integers(0, 2, n_atoms),
                     cell=np.eye(3) * 10, step=i), rng.random(n_atoms)) for i in range(n_frames)]
    times = {(m, op): [] for m in ("current", "baseline") for op in ("write", "open", "read")}
    for r in range(repeats):
        for name, mod in (("current", current), ("baseline", baseline)) if r % 2 == 0 else \
                (("baseline", baseline), ("current", current)):
            path = workdir / f"cost-{name}.h5"
            for p in workdir.glob(f"cost-{name}.h5*"):
                p.unlink()
            t = time.perf_counter()
            with mod.DatasetStore(path, "a") as st:
                for i, (fr, lab) in enumerate(frames):
                    key = st.add_frame(fr, key=f"f{i}", group=f"g{i % 5}", labels={"y": lab})
                    st.append_examples(key, "y")
            times[(name, "write")].append(time.perf_counter() - t)
            t = time.perf_counter()
            st = mod.DatasetStore(path, "r")
            times[(name, "open")].append(time.perf_counter() - t)
            t = time.perf_counter()
            for key in st.keys():
                st.frame(key)
                st.labels(key)
            st.examples()
            times[(name, "read")].append(time.perf_counter() - t)
            st.close()
    out = {"n_frames": n_frames, "n_atoms": n_atoms, "repeats": repeats}
    for op in ("write", "open", "read"):
        cur, base = np.array(times[("current", op)]), np.array(times[("baseline", op)])
        out[op] = {"current": float(np.median(cur)), "baseline": float(np.median(base)),
                   "ratio": float(np.median(cur / base))}
    return out


def _span(costs: list[dict], op: str) -> str:
    r = sorted(c[op]["ratio"] for c in costs)
    return f"{r[0]:.2f}" if len(r) == 1 or f"{r[0]:.2f}" == f"{r[-1]:.2f}" else f"{r[0]:.2f}-{r[-1]:.2f}"


def good_size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def main(argv: list[str] | None = None) -> int:
    """``python tests/helpers/fault_util.py --out docs/reliability.md``: run the full campaigns, write the report."""
    import argparse
    import tempfile

    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("--out", default="docs/reliability.md")
    p.add_argument("--kills", type=int, default=30)
    p.add_argument("--store-flips", type=int, default=300)
    p.add_argument("--model-flips", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gfx-faults-") as d:
        print(write_report(Path(a.out), a.kills, a.store_flips, a.model_flips, a.seed, Path(d)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
