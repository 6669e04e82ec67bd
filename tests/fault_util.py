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
# fault-injection campaigns (tests/test_fault_injection.py runs them small; main() writes the report)
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
        if not killed and len(committed) == 0:
            # everything was already stored: start a fresh store so the next kill lands in real writing
            for p in Path(workdir).glob("killed.h5*"):
                p.unlink()
            continue
        try:
            res = _check_writer_store(path, n_frames)
        except Exception as exc:  # noqa: BLE001 - counted: a store a killed writer leaves must open
            stats["unreadable"] += 1
            stats["unreadable_error"] = str(exc)
            continue
        stats["frames_stored_at_kills"] = stats.get("frames_stored_at_kills", ()) + (len(res["keys"]),)
        stats["lost"] += len(committed - set(res["keys"]))
        stats["wrong"] += res["wrong"]
        stats["duplicates"] += res["duplicates"]
        stats["warnings"] += res["warnings"]
    _, _, status = _run_writer(path, n_frames, None)
    assert status == 0, "the resumed writer failed"
    res = _check_writer_store(path, n_frames)
    rep = verify_store(path)
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
    """``n`` seeded byte flips: half inside raw array data, half anywhere in the file."""
    workdir = Path(workdir)
    good = workdir / "good.h5"
    build_flip_store(good)
    ref = snapshot_store(good)
    regions = data_regions(good)
    size = good.stat().st_size
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        if k % 2 == 0:
            off, sz = regions[int(rng.integers(len(regions)))]
            offset = off + int(rng.integers(sz))
            where = "array data"
        else:
            offset = int(rng.integers(size))
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
