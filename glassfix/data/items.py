"""Per-frame items of the dataset store, as a mixin of :class:`~glassfix.data.store.DatasetStore`: the
labels (per-atom values with their parameters as attributes), isoconfigurational replica positions
``(R, N, d)`` in the frame's length unit, and cached descriptors ``(N, F)`` stored under a frame's
``labels/``, ``replicas/`` and ``descriptors/`` groups. Items are append-only; each is written whole,
sealed and marked ``complete=1`` before its commit, so readers never see half an item.

The mixin uses the store's state and methods (``_f``, ``path``, ``compression``, ``schema_version``,
``_entry``, ``_frame_group``, ``_require_writable``, ``_flush``, ``_damaged``); it holds none of its own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

import h5py
import numpy as np

from ..core.jsonable import jsonable
from .checksum import SEAL, check_seal, seal
from .names import _attr_py, _read_array, _write_array, parse_label_name, quote_name, unquote_name
from .schema import _DAMAGE_ERRORS, _RESERVED_LABEL_ATTRS, CHECKSUM_SCHEMA, DatasetError, _complete


class _FrameItemsMixin:
    """Labels, replicas and cached descriptors of the stored frames: add and read."""

    # -- writing items --------------------------------------------------------------------------------

    @staticmethod
    def _prepare_label(name: str, spec: Any, n: int) -> tuple[np.ndarray, dict[str, Any]]:
        if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[1], Mapping):
            values, params = spec
        else:
            values, params = spec, {}
        values = np.asarray(values)
        if values.shape[:1] != (n,):
            raise ValueError(f"label {name!r} must have {n} rows (one per atom), got shape {values.shape}")
        kind, parsed = parse_label_name(name)
        attrs = {**parsed, **{str(k): jsonable(v) for k, v in params.items()}}
        bad = _RESERVED_LABEL_ATTRS & set(attrs)
        if bad:
            raise ValueError(f"label parameters may not be named {sorted(bad)}")
        attrs["kind"] = kind
        attrs["name"] = name
        return values, attrs

    @staticmethod
    def _prepare_replicas(t: str, arr: np.ndarray, n: int, d: int) -> np.ndarray:
        arr = np.asarray(arr)
        if arr.ndim != 3 or arr.shape[1:] != (n, d):
            raise ValueError(f"replicas {t!r} must have shape (R, {n}, {d}), got {arr.shape}")
        return arr

    def _write_label(self, lg: h5py.Group, name: str, values: np.ndarray, attrs: Mapping[str, Any]) -> None:
        ds = _write_array(lg, quote_name(name), values, self.compression)
        for k, v in attrs.items():
            ds.attrs[k] = json.dumps(v) if isinstance(v, (list, dict)) or v is None else v
        ds.attrs["complete"] = np.int8(1)
        seal(ds)

    def _write_replicas(self, rg: h5py.Group, t: str, arr: np.ndarray) -> None:
        ds = _write_array(rg, quote_name(t), arr, self.compression)
        ds.attrs["name"] = str(t)
        _, params = parse_label_name(f"x/{t}")
        if isinstance(params.get("t"), (int, float)):
            ds.attrs["time"] = float(params["t"])
        ds.attrs["complete"] = np.int8(1)
        seal(ds)

    def _add_items(self, key: str, sub: str, name: str, write) -> bool:
        g = self._frame_group(key)[sub]
        q = quote_name(name)
        if q in g:
            if _complete(g[q]):
                return False
            del g[q]
        write(g)
        self._flush()
        return True

    def add_labels(self, key: str, labels: Mapping[str, Any]) -> list[str]:
        """Add per-atom labels to a stored frame; returns the names written.

        Labels are append-only: one that is already stored is skipped if equal (a resumed writer) and
        raises DatasetError if different (store it under a new name, e.g. other parameters)."""
        self._require_writable()
        n = self._entry(key).n_atoms
        written = []
        for name, spec in labels.items():
            values, attrs = self._prepare_label(name, spec, n)
            existing = self._label_dataset(key, name)
            if existing is not None:
                if not np.array_equal(_read_array(existing), values, equal_nan=values.dtype.kind == "f"):
                    raise DatasetError(f"{self.path}: label {name!r} of frame {key!r} is already stored with "
                                       f"other values; labels are append-only, use a new name")
                continue
            if self._add_items(key, "labels", name, lambda g: self._write_label(g, name, values, attrs)):
                written.append(name)
        return written

    def add_replicas(self, key: str, replicas: Mapping[str, np.ndarray]) -> list[str]:
        """Add isoconfigurational replica positions ``{time label: (R, N, d)}`` to a stored frame."""
        self._require_writable()
        e = self._entry(key)
        d = int(self._frame_group(key).attrs["dim"])
        written = []
        for t, arr in replicas.items():
            arr = self._prepare_replicas(t, arr, e.n_atoms, d)
            if self._add_items(key, "replicas", t, lambda g: self._write_replicas(g, t, arr)):
                written.append(t)
        return written

    @staticmethod
    def descriptor_name(kind: str, spec: Mapping[str, Any] | None) -> str:
        """``"<kind>-<first 12 hex of sha256 of the canonical JSON spec>"``."""
        text = json.dumps(jsonable(dict(spec or {})), sort_keys=True, default=str)
        return f"{kind}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"

    def add_descriptor(self, key: str, kind: str, values: np.ndarray, spec: Mapping[str, Any] | None = None) -> str:
        """Cache a descriptor array (N, F) of a frame under ``descriptors/<kind>-<hash of spec>``; returns the name."""
        self._require_writable()
        values = np.asarray(values)
        if values.shape[:1] != (self._entry(key).n_atoms,):
            raise ValueError(f"descriptor must have one row per atom, got shape {values.shape}")
        name = self.descriptor_name(kind, spec)

        def write(g):
            ds = _write_array(g, name, values, self.compression)
            ds.attrs["kind"] = kind
            ds.attrs["spec"] = json.dumps(jsonable(dict(spec or {})), sort_keys=True, default=str)
            ds.attrs["complete"] = np.int8(1)
            seal(ds)

        self._add_items(key, "descriptors", name, write)
        return name

    # -- reading items --------------------------------------------------------------------------------

    def _read_item(self, key: str, what: str, ds: h5py.Dataset) -> np.ndarray:
        """Read a label/replica/descriptor dataset, verifying its checksums."""
        try:
            data = _read_array(ds)
            check_seal(ds, self.schema_version >= CHECKSUM_SCHEMA)
        except _DAMAGE_ERRORS as exc:
            raise self._damaged(key, what, exc) from None
        return data

    def _items(self, key: str, sub: str) -> dict[str, h5py.Dataset]:
        """The complete items (datasets by link name) of a frame's labels/replicas/descriptors group;
        DatasetError if any of them cannot be listed or read (never silently skipped)."""
        try:
            return {name: ds for name, ds in self._frame_group(key)[sub].items() if _complete(ds)}
        except _DAMAGE_ERRORS as exc:
            raise self._damaged(key, sub, exc) from None

    def _label_dataset(self, key: str, name: str) -> h5py.Dataset | None:
        return self._items(key, "labels").get(quote_name(name))

    def label_names(self, key: str) -> list[str]:
        """Names of the complete labels of a frame."""
        return sorted(unquote_name(q) for q in self._items(key, "labels"))

    def labels(self, key: str, names: Iterable[str] | None = None) -> dict[str, np.ndarray]:
        """Per-atom labels of a frame, ``{name: values}`` (all complete labels, or ``names``)."""
        out = {}
        for name in (self.label_names(key) if names is None else names):
            ds = self._label_dataset(key, name)
            if ds is None:
                raise KeyError(f"{self.path}: frame {key!r} has no label {name!r}")
            out[name] = self._read_item(key, f"label {name!r}", ds)
        return out

    def label_params(self, key: str, name: str) -> dict[str, Any]:
        """The attributes of a stored label (its parameters, plus ``kind`` and ``name``)."""
        ds = self._label_dataset(key, name)
        if ds is None:
            raise KeyError(f"{self.path}: frame {key!r} has no label {name!r}")
        return {k: _attr_py(v) for k, v in ds.attrs.items() if k not in ("complete", SEAL)}

    def replicas(self, key: str) -> dict[str, np.ndarray]:
        """Isoconfigurational replica positions of a frame, ``{time label: (R, N, d)}``."""
        return {unquote_name(q): self._read_item(key, f"replicas {unquote_name(q)!r}", ds)
                for q, ds in self._items(key, "replicas").items()}

    def descriptors(self, key: str) -> dict[str, np.ndarray]:
        """Cached descriptors of a frame, ``{"<kind>-<hash>": (N, F)}``."""
        return {name: self._read_item(key, f"descriptor {name!r}", ds)
                for name, ds in self._items(key, "descriptors").items()}

    def descriptor(self, key: str, kind: str, spec: Mapping[str, Any] | None = None) -> np.ndarray | None:
        """A cached descriptor (None if not cached)."""
        return self.descriptors(key).get(self.descriptor_name(kind, spec))

    def replicas_names(self, key: str) -> list[str]:
        """Time labels of the complete replica sets of a frame."""
        return sorted(unquote_name(q) for q in self._items(key, "replicas"))
