"""The glassfix dataset store: one schema-versioned HDF5 file of frames, labels, replicas and examples.

The layout (every group, dataset and attribute) is documented in ``docs/dataset.md``; DESIGN §5 is the
contract. In short::

    /                       attrs format="glassfix-dataset", schema_version, glassfix_version, created, [split]
    /frames/<key>           one group per frame (key quoted: '%' -> %25, '/' -> %2F), attrs ..., complete=1
        positions types ids cell origin pbc [unwrapped velocities energies]
        meta/<path>         arrays found in Frame.metadata
        labels/<name>       per-atom labels, the label parameters as attributes
        replicas/<t>        isoconfigurational replica positions (R, N, d)
        descriptors/<kind>-<hash>   cached descriptors
    /examples               parallel 1-D datasets frame atom group label value [+ features (n, F)], attr n_rows

Crash safety (what a SIGKILL can lose: at most the frame or examples chunk in flight) is described in
:mod:`glassfix.data.journal`, the file's HDF5 version bounds in :mod:`glassfix.data.schema`.

This module holds :class:`DatasetStore`: opening, the frame index, adding and reading frames, the
summary. The rest lives beside it: ``names`` (link names, label names, metadata), ``schema``
(constants, opening, schema checks), ``journal`` (the commit journal), ``items`` (labels, replicas,
descriptors of a frame: a mixin), ``examples`` (the examples table and splits: a mixin), ``repair``
(salvage) and ``checksum``. The names other modules import are re-exported here.
"""

from __future__ import annotations

import datetime
import json
import os
import warnings
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..core.frame import Frame
from .checksum import is_checksum_failure, seal
from .examples import _ExamplesMixin
from .items import _FrameItemsMixin
from .journal import _JournaledFile, _read_journal, journal_path
from .names import (_attr_py, _attr_str, _join_metadata, _read_array, _split_metadata, _write_array, default_key,
                    parse_label_name, quote_name, unquote_name)
from .repair import repair_store
from .schema import (_DAMAGE_ERRORS, _FRAME_ARRAYS, _FRAME_BITS, _OPTIONAL_ARRAYS, CHECKSUM_SCHEMA, FORMAT,
                     SCHEMA_VERSION, DatasetError, _check_schema, _FrameEntry, _open_h5, _read_entry,
                     _remove_stale_creations, check_writable_location)

__all__ = [
    "SCHEMA_VERSION",
    "FORMAT",
    "DatasetError",
    "DatasetStore",
    "repair_store",
    "default_key",
    "parse_label_name",
    "quote_name",
    "unquote_name",
    "journal_path",
]

_OPEN_WRITERS: set[str] = set()  # real paths of the stores open for writing in this process


class DatasetStore(_FrameItemsMixin, _ExamplesMixin):
    """A glassfix dataset store (one HDF5 file; see the module docstring and ``docs/dataset.md``).

    ``mode``: ``"r"`` read only; ``"a"`` read/write, created if missing, resumes an existing store (replays
    a journal left by a killed writer, deletes incomplete frame groups, salvages a damaged file); ``"w"``
    create, overwriting any file (atomically, at the first commit). One writer at a time: it holds an
    exclusive ``flock`` on the file, readers a shared one (``locking=False`` skips that for readers).
    ``compression`` (e.g. ``"gzip"``) applies to frame arrays and replicas, never to the examples table.
    ``fsync=True`` also fsyncs at every commit (durability against power loss, not only a killed process).
    """

    def __init__(self, path: str | os.PathLike[str], mode: str = "r", *, compression: str | None = None,
                 fsync: bool = False, locking: Any = None) -> None:
        if mode not in ("r", "a", "w"):
            raise ValueError(f"mode must be 'r', 'a' or 'w', got {mode!r}")
        self.path = Path(path)
        self.mode = mode
        self.compression = compression
        self.fsync = fsync
        self._locking = locking
        self._f: h5py.File | None = None
        self._writer_token: str | None = None
        if self.writable:
            check_writable_location(self.path)
            token = os.path.realpath(self.path)
            if token in _OPEN_WRITERS:
                raise DatasetError(f"{self.path}: already open for writing by another DatasetStore in this "
                                   f"process; use that one (one writer per store)")
            _OPEN_WRITERS.add(token)
            self._writer_token = token
        try:
            self._open(salvage_ok=True)
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        if self._writer_token is not None:
            _OPEN_WRITERS.discard(self._writer_token)
            self._writer_token = None

    # -- opening, scanning, salvage ---------------------------------------------------------------

    def _open(self, salvage_ok: bool) -> None:
        self._io: _JournaledFile | None = None
        if self.mode == "w" or (self.mode == "a" and not self.path.exists()):
            # A new store is laid out under a temporary name and renamed, so a writer killed while
            # creating it never leaves a file that is an HDF5 file but not yet a store. Mode "w" on an
            # existing store replaces it the same way (its journal belongs to the old file: dropped).
            _remove_stale_creations(self.path)
            tmp = self.path.with_name(f"{self.path.name}.creating-{os.getpid()}.tmp")
            self._f = _open_h5(tmp, "w", self._locking)
            try:
                self._init_layout()
                self._f.close()
                jp = journal_path(self.path)
                if jp.exists():
                    jp.unlink()
                os.replace(tmp, self.path)
            finally:
                if tmp.exists():
                    tmp.unlink()
        if self.writable:
            if not self.path.exists():
                raise FileNotFoundError(f"{self.path}: no such dataset store")
            # Writers go through the journal (replaying a committed one left by a killed writer).
            self._io = _JournaledFile(self.path, writable=True, locking=self._locking, fsync=self.fsync)
        elif _read_journal(journal_path(self.path)) is not None:
            # A writer was killed after a commit point: read the committed state through the journal.
            self._io = _JournaledFile(self.path, writable=False, locking=self._locking)
        try:
            self._f = _open_h5(self.path, "r" if self.mode == "r" else "r+", self._locking, io=self._io)
            self.schema_version = _check_schema(self.path, self._f)
            damage = self._scan()
        except BaseException:
            self._close_handles(commit=False)
            raise
        if damage and self.writable:
            if not salvage_ok:
                self._close_handles(commit=False)
                raise DatasetError(f"{self.path}: still damaged after salvage: {'; '.join(damage)}")
            self._close_handles(commit=True)
            backup = repair_store(self.path, reason=damage)
            warnings.warn(f"{self.path}: damaged ({'; '.join(damage)}); salvaged the readable part "
                          f"(original kept as {backup})", RuntimeWarning, stacklevel=3)
            self._open(salvage_ok=False)
        elif damage:
            warnings.warn(f"{self.path}: damaged parts ignored: {'; '.join(damage)}; open it with mode='a' "
                          f"(or 'glassfix data repair') to salvage", RuntimeWarning, stacklevel=3)

    def _close_handles(self, commit: bool) -> None:
        f, io = self._f, getattr(self, "_io", None)
        self._f = self._io = None
        try:
            if f is not None and f.id.valid:
                if commit and self.writable:
                    f.flush()
                f.close()
            if io is not None and commit:
                io.commit()
        finally:
            if io is not None:
                io.close()

    def _init_layout(self) -> None:
        from .. import __version__

        f = self._f
        f.attrs["format"] = FORMAT
        f.attrs["schema_version"] = SCHEMA_VERSION
        f.attrs["glassfix_version"] = __version__
        f.attrs["created"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        f.create_group("frames")
        self._init_examples()
        seal(f)
        self.schema_version = SCHEMA_VERSION
        self._flush()

    def _scan(self) -> list[str]:
        """Rebuild the in-memory indexes; returns descriptions of damaged parts (empty if none)."""
        f = self._f
        damage: list[str] = []
        self._entries: dict[str, _FrameEntry] = {}
        self._by_index: dict[int, str] = {}
        self._group_codes: dict[str, int] = {}
        incomplete: list[str] = []
        if "frames" not in f or "examples" not in f:
            raise DatasetError(f"{self.path}: /frames or /examples missing: the file is damaged; rebuild it")
        frames = f["frames"]
        try:
            names = list(frames)
        except Exception as exc:  # noqa: BLE001 - any HDF5 failure here means the link index is broken
            raise DatasetError(f"{self.path}: cannot list /frames ({exc}); the file is damaged beyond "
                               f"salvage, rebuild it by rerunning the writer into a new store") from None
        required = self.schema_version >= CHECKSUM_SCHEMA
        for name in names:
            try:
                e = _read_entry(frames, name, required=required)
                if e is None:
                    incomplete.append(name)
                    continue
            except Exception as exc:  # noqa: BLE001
                damage.append(f"frame {unquote_name(name)!r} unreadable ({exc})")
                continue
            self._entries[e.key] = e
            self._by_index[e.index] = e.key
            self._group_codes.setdefault(e.group, e.group_code)
        if incomplete and self.writable:
            for name in incomplete:
                try:
                    del frames[name]
                except Exception as exc:  # noqa: BLE001
                    damage.append(f"incomplete frame {unquote_name(name)!r} cannot be deleted ({exc})")
            self._flush()
        self.n_incomplete = 0 if self.writable else len(incomplete)
        self._next_index = max(self._by_index, default=-1) + 1
        error = self._scan_examples(required)
        if error:
            damage.append(error)
        return damage

    # -- basics ---------------------------------------------------------------------------------------

    @property
    def writable(self) -> bool:
        return self.mode in ("a", "w")

    def close(self) -> None:
        """Commit (when writing) and close the file."""
        try:
            self._close_handles(commit=True)
        finally:
            self._release()

    def __del__(self) -> None:
        try:
            self._release()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    def __enter__(self) -> "DatasetStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DatasetStore({str(self.path)!r}, mode={self.mode!r}, frames={len(self)}, examples={self._n_rows})"

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self._entries

    def _flush(self) -> None:
        """Flush HDF5's caches and commit them atomically (the unit of crash safety)."""
        self._f.flush()
        if getattr(self, "_io", None) is not None:
            self._io.commit()

    def _require_writable(self) -> None:
        if not self.writable:
            raise DatasetError(f"{self.path}: opened read-only; open with mode='a' to write")
        if self._f is None:
            raise DatasetError(f"{self.path}: the store is closed")

    def _entry(self, key: str) -> _FrameEntry:
        try:
            return self._entries[key]
        except KeyError:
            raise KeyError(f"{self.path}: no complete frame {key!r}") from None

    def _frame_group(self, key: str) -> h5py.Group:
        return self._f["frames"][self._entry(key).name]

    def has_frame(self, key: str) -> bool:
        """Whether a complete frame with this key is stored (what a resuming writer skips)."""
        return key in self._entries

    def keys(self) -> list[str]:
        """Keys of the complete frames, in the order they were added (frame index)."""
        return [self._by_index[i] for i in sorted(self._by_index)]

    def frame_index(self, key: str) -> int:
        """The frame index (the ``frame`` column of the examples table) of a frame key."""
        return self._entry(key).index

    def frame_info(self, key: str) -> dict[str, Any]:
        """Attributes of a frame: key, index, step, time, system, group, temperature, n_atoms, dim."""
        a = self._frame_group(key).attrs
        return {k: _attr_py(a[k]) for k in ("key", "index", "step", "time", "system", "group", "group_code",
                                            "temperature", "n_atoms", "dim")}

    # -- writing frames -------------------------------------------------------------------------------

    def add_frame(self, frame: Frame, key: str | None = None, *, group: str | int | None = None,
                  system: str | None = None, temperature: float | None = None,
                  labels: Mapping[str, Any] | None = None, replicas: Mapping[str, np.ndarray] | None = None) -> str:
        """Append one frame (with its labels and replicas) and commit it; returns its key.

        ``group`` is the configuration/run id used by :meth:`grouped_split` (required, else taken from
        ``frame.metadata["group"]``); ``system`` and ``temperature`` default to ``frame.metadata``
        ("system"; "temperature" or "T"). ``key`` defaults to ``default_key(system, group, step)``. If a
        complete frame with that key exists it is left as it is (resume) and the key is returned.
        ``labels``: ``{name: values (N,)}`` or ``{name: (values, {param: value})}``; names like
        ``"phop/window=10"`` carry their parameters (see :func:`parse_label_name`). ``replicas``:
        ``{time label: positions (R, N, d)}``, e.g. ``{"t=4120": ...}``.
        """
        self._require_writable()
        meta = frame.metadata or {}
        if group is None:
            group = meta.get("group")
            if group is None:
                raise DatasetError("add_frame needs group= (the configuration or run id used for grouped "
                                   "train/test splits)")
        group = str(group)
        system = str(system if system is not None else meta.get("system", "unknown"))
        if temperature is None:
            temperature = meta.get("temperature", meta.get("T"))
        temperature = float("nan") if temperature is None else float(temperature)
        key = key if key is not None else default_key(system, group, frame.step)
        if key in self._entries:
            if self._entries[key].n_atoms != frame.n_atoms:
                raise DatasetError(f"{self.path}: frame {key!r} is stored with {self._entries[key].n_atoms} "
                                   f"atoms, the new one has {frame.n_atoms}; keys must identify frames")
            return key
        name = quote_name(key)
        frames = self._f["frames"]
        if name in frames:  # an incomplete leftover (only possible if it appeared after open)
            del frames[name]
        index = self._next_index
        if index >= 1 << _FRAME_BITS:
            raise DatasetError(f"{self.path}: more than {1 << _FRAME_BITS} frames; split the dataset")
        code = self._group_codes.get(group, len(self._group_codes))
        n, d = frame.positions.shape
        labels = dict(labels or {})
        replicas = dict(replicas or {})
        prepared_labels = {lname: self._prepare_label(lname, spec, n) for lname, spec in labels.items()}
        prepared_replicas = {t: self._prepare_replicas(t, r, n, d) for t, r in replicas.items()}

        # Build the frame as an anonymous group, commit it on disk, then link it.
        g = h5py.Group(h5py.h5g.create(frames.id, None))
        c = self.compression
        _write_array(g, "positions", frame.positions, c)
        small = n == 0 or int(frame.types.max()) < 2**31
        _write_array(g, "types", frame.types.astype(np.int32) if small else frame.types, c)
        _write_array(g, "ids", frame.ids, c)
        _write_array(g, "cell", frame.cell)
        _write_array(g, "origin", frame.origin)
        _write_array(g, "pbc", frame.pbc)
        for opt in _OPTIONAL_ARRAYS:
            val = getattr(frame, opt)
            if val is not None:
                _write_array(g, opt, np.asarray(val), c)
        meta_obj, meta_arrays = _split_metadata(meta)
        if meta_arrays:
            mg = g.create_group("meta")
            for mname, arr in meta_arrays.items():
                _write_array(mg, mname, arr, c)
        lg = g.create_group("labels")
        for lname, (values, attrs) in prepared_labels.items():
            self._write_label(lg, lname, values, attrs)
        rg = g.create_group("replicas")
        for t, arr in prepared_replicas.items():
            self._write_replicas(rg, t, arr)
        g.create_group("descriptors")
        a = g.attrs
        a["key"] = key
        a["index"] = np.int64(index)
        a["step"] = np.int64(frame.step)
        a["time"] = np.float64(frame.time)
        a["system"] = system
        a["group"] = group
        a["group_code"] = np.int64(code)
        a["temperature"] = np.float64(temperature)
        a["n_atoms"] = np.int64(n)
        a["dim"] = np.int64(d)
        a["species"] = json.dumps(None if frame.species is None else list(frame.species))
        a["metadata"] = json.dumps(meta_obj, default=str)
        a["complete"] = np.int8(1)
        seal(g)
        self._flush()
        frames[name] = g
        self._flush()
        self._entries[key] = _FrameEntry(key, name, index, group, code, system, n, int(frame.step))
        self._by_index[index] = key
        self._group_codes.setdefault(group, code)
        self._next_index = index + 1
        return key

    # -- reading frames -------------------------------------------------------------------------------

    def frame(self, key: str) -> Frame:
        """The stored Frame (arrays bit-exact; metadata tuples come back as lists)."""
        g = self._frame_group(key)
        try:
            a = g.attrs
            arrays = {k: g[k][()] for k in _FRAME_ARRAYS}
            opt = {k: g[k][()] for k in _OPTIONAL_ARRAYS if k in g}
            meta_arrays = {name: _read_array(ds) for name, ds in g["meta"].items()} if "meta" in g else {}
            metadata = _join_metadata(json.loads(_attr_str(a["metadata"])), meta_arrays)
            species = json.loads(_attr_str(a["species"]))
            return Frame(positions=arrays["positions"], types=arrays["types"].astype(np.int64), cell=arrays["cell"],
                         origin=arrays["origin"], pbc=arrays["pbc"].astype(bool), ids=arrays["ids"],
                         species=None if species is None else tuple(species), step=int(a["step"]),
                         time=float(a["time"]), metadata=metadata, **opt)
        except _DAMAGE_ERRORS as exc:
            raise self._damaged(key, "an array or attribute", exc) from None

    def _damaged(self, key: str, what: str, exc: BaseException) -> DatasetError:
        """The error for an unreadable item of a frame: a failed checksum or other damage, with the fix."""
        cause = "fails its checksum: the bytes on disk are damaged" if is_checksum_failure(exc) else f"cannot be read ({exc})"
        return DatasetError(f"{self.path}: {what} of frame {key!r} {cause}; list the damage with 'glassfix data verify "
                            f"{self.path}' and drop it with 'glassfix data repair {self.path}'")

    def frames(self, keys: Iterable[str] | None = None, labels: bool = False) -> Iterator[Any]:
        """Iterate over complete frames (all, in frame-index order, or ``keys``): Frames, or
        ``(Frame, {label name: values})`` pairs when ``labels=True``."""
        for key in (self.keys() if keys is None else keys):
            fr = self.frame(key)
            yield (fr, self.labels(key)) if labels else fr

    # -- summary --------------------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """Counts, labels, groups, schema: a JSON-able summary of the store."""
        label_counts: dict[str, int] = {}
        replica_counts: dict[str, int] = {}
        for key in self.keys():
            for name in self.label_names(key):
                label_counts[name] = label_counts.get(name, 0) + 1
            for t in self.replicas_names(key):
                replica_counts[t] = replica_counts.get(t, 0) + 1
        ex_labels = {}
        if not self._examples_error and self._n_rows:
            lab = self._f["examples"]["label"][:self._n_rows]
            counts = np.bincount(lab, minlength=len(self._label_names))
            ex_labels = {name: int(c) for name, c in zip(self._label_names, counts)}
        split = None
        if "split" in self._f.attrs:
            split = json.loads(_attr_str(self._f.attrs["split"]))
        try:
            n_features = int(self._f["examples"]["features"].shape[1]) if "features" in self._f["examples"] else 0
        except (OSError, KeyError, RuntimeError):
            n_features = 0  # reported through examples_error
        return {
            "path": str(self.path),
            "format": FORMAT,
            "schema_version": int(self.schema_version),
            "glassfix_version": _attr_str(self._f.attrs.get("glassfix_version", "")),
            "created": _attr_str(self._f.attrs.get("created", "")),
            "n_frames": len(self._entries),
            "n_incomplete_frames": int(self.n_incomplete),
            "n_atoms_total": int(sum(e.n_atoms for e in self._entries.values())),
            "systems": sorted({e.system for e in self._entries.values()}),
            "groups": sorted(self._group_codes),
            "frame_labels": label_counts,
            "replicas": replica_counts,
            "n_examples": int(self._n_rows),
            "example_labels": ex_labels,
            "n_features": n_features,
            "examples_error": self._examples_error,
            "split": split,
            "file_size": self.path.stat().st_size if self.path.exists() else 0,
        }
