"""Salvage of a damaged dataset store: :func:`repair_store` copies every readable, checksum-clean part into
a fresh file that atomically replaces the store (the damaged original kept beside it), and
:func:`check_frame` verifies one frame group (also used by ``glassfix data verify``)."""

from __future__ import annotations

import datetime
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np

from .checksum import SEAL, ChecksumError, check_seal, has_checksum, is_checksum_failure, seal
from .journal import _JournaledFile, journal_path
from .names import _attr_str, unquote_name
from .schema import (_EX_COLUMNS, _EX_FILL, _FRAME_ARRAYS, _OPTIONAL_ARRAYS, CHECKSUM_SCHEMA, EXAMPLE_CHUNK, LIBVER,
                     DatasetError, _check_schema, _complete, _open_h5, _read_entry, encode_examples)

__all__ = ["repair_store", "check_frame"]


def repair_store(path: str | os.PathLike[str], reason: Sequence[str] | None = None) -> Path:
    """Salvage a damaged store in place; returns the path of the kept damaged original.

    Copies the root attributes, every readable complete frame (with everything under it) and the readable
    chunks of committed examples rows into ``<path>.salvage.tmp``, then keeps the original as
    ``<path>.damaged-<UTC time>`` and atomically replaces ``path`` by the copy (never missing). What cannot
    be read or fails its checksum is dropped, exactly: a frame whose own arrays or attributes are damaged,
    a single label/replica set/descriptor, a chunk of examples rows. Each dropped item is listed in the
    root attribute ``salvage_dropped`` (JSON) of the result; rerun the (resumable) writer to re-add them.
    """
    path = Path(path)
    if journal_path(path).exists():
        _JournaledFile(path, writable=True).close()  # replay a committed journal (drop an incomplete one)
    src = _open_h5(path, "r", None, repairing=True)
    tmp = path.with_name(path.name + ".salvage.tmp")
    dropped: list[str] = []
    try:
        version = _check_schema(path, src, repairing=True)
        required = version >= CHECKSUM_SCHEMA
        with h5py.File(str(tmp), "w", libver=LIBVER) as dst:
            try:
                check_seal(src, required)
                root_ok = True
            except ChecksumError as exc:
                root_ok = False
                dropped.append(f"root attribute 'split' ({exc})")
            for k, v in src.attrs.items():
                if k != SEAL and (root_ok or k != "split"):
                    dst.attrs[k] = v
            dst.attrs["salvaged"] = json.dumps({"when": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"), "reason": list(reason or [])})
            dframes = dst.create_group("frames")
            try:
                names = list(src["frames"])
            except Exception as exc:  # noqa: BLE001
                raise DatasetError(f"{path}: cannot list /frames ({exc}); nothing to salvage, rebuild the "
                                   f"store by rerunning the writer into a new file") from None
            for name in names:
                _salvage_frame(src["frames"], dframes, name, required, dropped)
            _salvage_examples(src, dst, required, dropped)
            dst.attrs["salvage_dropped"] = json.dumps(dropped)
            seal(dst)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise
    finally:
        src.close()
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    backup = path.with_name(f"{path.name}.damaged-{stamp}")
    try:
        os.link(path, backup)  # keep the damaged original under a new name ...
    except OSError:
        shutil.copy2(path, backup)
    os.replace(tmp, path)      # ... and swap the salvaged copy in atomically
    return backup


def _why(exc: BaseException) -> str:
    return "checksum mismatch" if is_checksum_failure(exc) else f"unreadable: {exc}"


def check_frame(frames: h5py.Group, name: str, required: bool) -> tuple[str, str | None, list[tuple[str, str, str]], int]:
    """Read and verify every checksum of one frame group: ``(key, problem with the frame itself or None,
    [(sub-group, item name, problem)] for damaged labels/replicas/descriptors, number of unchecked
    arrays)``; an incomplete frame gives ``(key, None, [], 0)`` with nothing read."""
    label = unquote_name(name)
    unchecked = 0
    try:
        if _read_entry(frames, name, required=required) is None:
            return label, None, [], 0
        g = frames[name]
        label = _attr_str(g.attrs["key"])
        json.loads(_attr_str(g.attrs["metadata"]))
        arrays = [g[k] for k in (*_FRAME_ARRAYS, *_OPTIONAL_ARRAYS) if k in g]
        arrays += list(g["meta"].values()) if "meta" in g else []
        for ds in arrays:
            ds[()]
            unchecked += not has_checksum(ds)
        unchecked += SEAL not in g.attrs
    except Exception as exc:  # noqa: BLE001
        return label, _why(exc), [], unchecked
    items = []
    for sub in ("labels", "replicas", "descriptors"):
        for item, ds in g[sub].items():
            try:
                if not _complete(ds):
                    continue  # left by a killed writer: ignored by readers, replaced by the next writer
                ds[()]
                unchecked += not check_seal(ds, required) or not has_checksum(ds)
            except Exception as exc:  # noqa: BLE001
                items.append((sub, item, _why(exc)))
    return label, None, items, unchecked


def _salvage_frame(frames: h5py.Group, dframes: h5py.Group, name: str, required: bool, dropped: list[str]) -> None:
    """Copy one complete frame; drop it (if its own arrays or attributes are damaged) or its damaged items."""
    label, problem, items, _ = check_frame(frames, name, required)
    if problem is not None:
        dropped.append(f"frame {label!r} ({problem})")
        return
    if not _complete(frames[name]):
        return
    src = frames[name]
    try:
        frames.file.copy(src, dframes, name=name)
    except Exception:  # noqa: BLE001 - a damaged item's header: copy item by item, leaving out the damaged ones
        if name in dframes:
            del dframes[name]
        dst = dframes.create_group(name)
        for k, v in src.attrs.items():
            dst.attrs[k] = v
        for child in src:
            obj = src[child]
            if isinstance(obj, h5py.Group):
                sub = dst.create_group(child)
                for k, v in obj.attrs.items():
                    sub.attrs[k] = v
                for item in obj:
                    if (child, item) not in {(s_, i_) for s_, i_, _ in items}:
                        frames.file.copy(obj[item], sub, name=item)
            else:
                frames.file.copy(obj, dst, name=child)
    for sub, item, why in items:
        dropped.append(f"frame {label!r}: {sub[:-1]} {unquote_name(item)!r} ({why})")
        if item in dframes[name][sub]:
            del dframes[name][sub][item]


def _salvage_examples(src: h5py.File, dst: h5py.File, required: bool, dropped: list[str]) -> None:
    """Copy the committed examples rows chunk by chunk, dropping unreadable chunks and rows of dropped frames."""
    dex = dst.create_group("examples")
    try:
        sex = src["examples"]
        check_seal(sex, required)
        n = int(sex.attrs["n_rows"])
        label_names = _attr_str(sex.attrs["label_names"])
        json.loads(label_names)
        names = [c for c in (*_EX_COLUMNS, "features") if c in sex]
        parts: dict[str, list[np.ndarray]] = {c: [] for c in names}
        for start in range(0, n, EXAMPLE_CHUNK):
            stop = min(n, start + EXAMPLE_CHUNK)
            try:
                part = {c: sex[c][start:stop] for c in names}
                if any(len(v) != stop - start for v in part.values()):
                    raise ValueError("fewer rows than n_rows")
            except Exception as exc:  # noqa: BLE001
                dropped.append(f"examples rows {start}-{stop - 1} ({_why(exc)})")
                continue
            for c in names:
                parts[c].append(part[c])
        cols = {c: (np.concatenate(parts[c]) if parts[c] else sex[c][:0]) for c in names}
        n = len(cols["frame"])
        keep = np.isin(cols["frame"], [int(g.attrs["index"]) for g in dst["frames"].values()])
        codes = encode_examples(cols["frame"], cols["label"], cols["atom"])
        _, first = np.unique(codes, return_index=True)  # drop duplicate identities, keep the first
        unique = np.zeros(n, dtype=bool)
        unique[first] = True
        keep &= unique
        cols = {c: v[keep] for c, v in cols.items()}
        n = int(keep.sum())
    except Exception as exc:  # noqa: BLE001
        dropped.append(f"examples table ({_why(exc)})")
        n, label_names = 0, "[]"
        cols = {c: np.zeros(0, dt) for c, dt in _EX_COLUMNS.items()}
    cap = max(-(-n // EXAMPLE_CHUNK) * EXAMPLE_CHUNK, 0)
    for c, v in cols.items():
        shape = (cap,) + v.shape[1:]
        chunks = (EXAMPLE_CHUNK,) if v.ndim == 1 else (max(1, EXAMPLE_CHUNK // 16), v.shape[1])
        ds = dex.create_dataset(c, shape=shape, maxshape=(None,) + v.shape[1:], chunks=chunks,
                                dtype=v.dtype, fillvalue=_EX_FILL.get(c, np.nan), fletcher32=True)
        if n:
            ds[:n] = v
    dex.attrs["label_names"] = label_names
    dex.attrs["n_rows"] = np.int64(n)
    seal(dex)
