"""The examples table and train/test splits of the dataset store, as a mixin of
:class:`~glassfix.data.store.DatasetStore`.

``/examples`` holds parallel 1-D columns (frame index, atom index, group code, label id, value) and
optionally ``features`` (n, F), with the committed row count in ``attrs["n_rows"]``; rows are appended
past it, committed, then made visible. A grouped split (by group, system or frame) is stored in the
root attribute ``split``. The mixin uses the store's state (``_f``, ``_entries``, ``_label_names``,
``_n_rows``, ``_codes``, ``_examples_error``) and methods (``_flush``, ``_entry``, ``_frame_group``,
``keys``, ...); it holds none of its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

import numpy as np

from .checksum import check_seal, is_checksum_failure, seal
from .names import _attr_str, _read_array
from .schema import _DAMAGE_ERRORS, _EX_COLUMNS, _EX_FILL, _LABEL_BITS, EXAMPLE_CHUNK, DatasetError, _FrameEntry, encode_examples


class _ExamplesMixin:
    """Examples rows (append, read, batches) and grouped train/test splits of a DatasetStore."""

    # -- layout and index -----------------------------------------------------------------------------

    def _init_examples(self) -> None:
        """Create the empty ``/examples`` table (chunks of EXAMPLE_CHUNK rows, fletcher32, sealed)."""
        ex = self._f.create_group("examples")
        for name, dt in _EX_COLUMNS.items():
            ex.create_dataset(name, shape=(0,), maxshape=(None,), chunks=(EXAMPLE_CHUNK,), dtype=dt,
                              fillvalue=_EX_FILL[name], fletcher32=True)
        ex.attrs["label_names"] = "[]"
        ex.attrs["n_rows"] = 0
        seal(ex)

    def _scan_examples(self, required: bool) -> str | None:
        """Load the examples index (label names, committed row count, sorted identity codes); returns the
        damage found (the table is then treated as empty), or None."""
        self._examples_error: str | None = None
        try:
            ex = self._f["examples"]
            check_seal(ex, required)
            self._label_names: list[str] = list(json.loads(_attr_str(ex.attrs["label_names"])))
            n = int(ex.attrs["n_rows"])
            cols = {c: ex[c][:n] for c in ("frame", "atom", "label")}
            if any(len(v) != n for v in cols.values()):
                raise ValueError(f"n_rows={n} exceeds the stored rows")
            self._n_rows = n
            self._codes = np.sort(self._encode(cols["frame"], cols["label"], cols["atom"]))
            if (self._codes[1:] == self._codes[:-1]).any():
                raise ValueError("duplicate example rows")
        except Exception as exc:  # noqa: BLE001
            self._examples_error = f"examples table unreadable ({exc})"
            self._label_names, self._n_rows, self._codes = [], 0, np.zeros(0, np.int64)
        return self._examples_error

    # -- writing examples -----------------------------------------------------------------------------

    _encode = staticmethod(encode_examples)

    def _label_id(self, label: str) -> int:
        if label in self._label_names:
            return self._label_names.index(label)
        if len(self._label_names) >= 1 << _LABEL_BITS:
            raise DatasetError(f"{self.path}: more than {1 << _LABEL_BITS} label names in the examples table")
        self._label_names.append(label)
        self._f["examples"].attrs["label_names"] = json.dumps(self._label_names)
        seal(self._f["examples"])
        self._flush()
        return len(self._label_names) - 1

    def append_examples(self, key: str, label: str, atoms: Sequence[int] | np.ndarray | None = None,
                        values: np.ndarray | None = None, features: np.ndarray | None = None) -> int:
        """Append training examples (rows) of one frame and one label; returns the number of new rows.

        ``atoms``: atom indices (rows of the frame's arrays, not ids), default all. ``values``: the label
        value of each, default read from the frame's stored label ``label``. ``features``: optional
        (n, F) array (F fixed by the first call that gives features; rows without features get NaN).
        A row whose identity (frame, atom, label) is already stored, or repeats within the call, is
        skipped, so a resumed writer never duplicates. The chunk is committed with one flush.
        """
        self._require_writable()
        if self._examples_error:
            raise DatasetError(f"{self.path}: {self._examples_error}")
        e = self._entry(key)
        atoms = np.arange(e.n_atoms, dtype=np.int64) if atoms is None else np.asarray(atoms, dtype=np.int64).reshape(-1)
        if atoms.size and (atoms.min() < 0 or atoms.max() >= e.n_atoms):
            raise ValueError(f"atom indices must be in [0, {e.n_atoms}) for frame {key!r}")
        if values is None:
            ds = self._label_dataset(key, label)
            if ds is None:
                raise DatasetError(f"{self.path}: frame {key!r} has no label {label!r}; pass values=")
            values = _read_array(ds)[atoms]
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        if values.shape != atoms.shape:
            raise ValueError(f"values must have one entry per atom index ({atoms.size}), got {values.shape}")
        if features is not None:
            features = np.asarray(features)
            if features.ndim != 2 or features.shape[0] != atoms.size:
                raise ValueError(f"features must have shape ({atoms.size}, F), got {features.shape}")
        lid = self._label_id(label)
        codes = self._encode(np.full(atoms.size, e.index), np.full(atoms.size, lid), atoms)
        _, first = np.unique(codes, return_index=True)
        keep = np.sort(first)
        if self._codes.size:
            pos = np.searchsorted(self._codes, codes[keep])
            present = (pos < self._codes.size) & (self._codes[np.minimum(pos, self._codes.size - 1)] == codes[keep])
            keep = keep[~present]
        k = int(keep.size)
        if k == 0:
            return 0
        ex = self._f["examples"]
        n0 = self._n_rows
        n1 = n0 + k
        cap = -(-n1 // EXAMPLE_CHUNK) * EXAMPLE_CHUNK
        if features is not None and "features" not in ex:
            ex.create_dataset("features", shape=(ex["frame"].shape[0], features.shape[1]),
                              maxshape=(None, features.shape[1]),
                              chunks=(max(1, EXAMPLE_CHUNK // 16), features.shape[1]),
                              dtype=features.dtype if features.dtype.kind == "f" else np.float64, fillvalue=np.nan,
                              fletcher32=True)
        if "features" in ex and features is not None and features.shape[1] != ex["features"].shape[1]:
            raise ValueError(f"features have {features.shape[1]} columns, the store has {ex['features'].shape[1]}")
        columns = {"frame": np.full(k, e.index, np.int64), "atom": atoms[keep],
                   "group": np.full(k, e.group_code, np.int64),
                   "label": np.full(k, lid, np.int32), "value": values[keep]}
        if "features" in ex:
            width = ex["features"].shape[1]
            columns["features"] = features[keep] if features is not None else np.full((k, width), np.nan)
        for name, data in columns.items():
            ds = ex[name]
            if ds.shape[0] < n1:
                ds.resize(cap, axis=0)
            ds[n0:n1] = data
        self._flush()              # rows on disk, not yet visible
        ex.attrs["n_rows"] = np.int64(n1)
        seal(ex)
        self._flush()              # commit
        self._n_rows = n1
        self._codes = np.union1d(self._codes, codes[keep])
        return k

    # -- reading examples -----------------------------------------------------------------------------

    @property
    def n_examples(self) -> int:
        return self._n_rows

    @property
    def example_label_names(self) -> list[str]:
        """Label names of the examples table; the ``label`` column indexes this list."""
        return list(self._label_names)

    def examples(self, label: str | None = None, split: str | None = None) -> dict[str, np.ndarray]:
        """The committed examples as arrays: frame, atom, group, label (ids into
        :attr:`example_label_names`), value, and features (n, F) if stored; only ``label`` rows and only the
        ``split`` ("train"/"test", from the stored :meth:`grouped_split`) rows when given."""
        if self._examples_error:
            raise DatasetError(f"{self.path}: {self._examples_error}; open it with mode='a' to salvage")
        ex = self._f["examples"]
        n = self._n_rows
        try:
            out = {c: ex[c][:n] for c in _EX_COLUMNS}
            if "features" in ex:
                out["features"] = ex["features"][:n]
        except _DAMAGE_ERRORS as exc:
            cause = "fail their checksum" if is_checksum_failure(exc) else f"cannot be read ({exc})"
            raise DatasetError(f"{self.path}: examples rows {cause}; list the damage with 'glassfix data verify "
                               f"{self.path}' and drop it with 'glassfix data repair {self.path}'") from None
        mask = np.ones(n, dtype=bool)
        if label is not None:
            if label not in self._label_names:
                raise KeyError(f"{self.path}: no examples with label {label!r} (have {self._label_names})")
            mask &= out["label"] == self._label_names.index(label)
        if split is not None:
            train, test = self.split_keys()
            keys = {"train": train, "test": test}.get(split)
            if keys is None:
                raise ValueError(f"split must be 'train', 'test' or None, got {split!r}")
            mask &= np.isin(out["frame"], [self._entries[k].index for k in keys])
        if not mask.all():
            out = {k: v[mask] for k, v in out.items()}
        return out

    def iter_batches(self, batch_size: int, label: str, split: str | None = "train", shuffle: bool = True,
                     seed: int = 0) -> Iterator[dict[str, np.ndarray]]:
        """One pass over the ``label`` examples of a split in batches (dicts of arrays as :meth:`examples`);
        shuffled with ``np.random.default_rng(seed)`` (use seed + epoch per epoch)."""
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        data = self.examples(label=label, split=split)
        n = data["value"].shape[0]
        order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            yield {k: v[idx] for k, v in data.items()}

    # -- splits ---------------------------------------------------------------------------------------

    def _unit(self, e: _FrameEntry, by: str) -> str:
        return {"group": e.group, "system": e.system, "frame": e.key}[by]

    def grouped_split(self, test_fraction: float = 0.2, seed: int = 0,
                      by: str = "group") -> tuple[list[str], list[str]]:
        """Split the frames into (train_keys, test_keys) so that no ``by`` unit ("group": configuration/run
        id, "system", or "frame") is on both sides: the sorted units are permuted with
        ``default_rng(seed)`` and the first ``round(test_fraction * n_units)`` (at least 1, at most
        n_units - 1) go to test. Stored in the root attribute ``split`` (when writable) and used by
        :meth:`examples`/:meth:`iter_batches`; frames added later go to train until you split again."""
        if by not in ("group", "system", "frame"):
            raise ValueError(f"by must be 'group', 'system' or 'frame', got {by!r}")
        if not 0.0 < test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
        units = sorted({self._unit(e, by) for e in self._entries.values()})
        if len(units) < 2:
            raise DatasetError(f"{self.path}: a grouped split needs at least two distinct {by}s, found {len(units)}")
        perm = np.random.default_rng(seed).permutation(len(units))
        n_test = min(max(int(round(test_fraction * len(units))), 1), len(units) - 1)
        test_units = sorted(units[i] for i in perm[:n_test])
        self._split = {"by": by, "test_fraction": float(test_fraction), "seed": int(seed), "test_units": test_units}
        if self.writable:
            self._f.attrs["split"] = json.dumps(self._split)
            seal(self._f)
            self._flush()
        return self.split_keys()

    def split_keys(self) -> tuple[list[str], list[str]]:
        """(train_keys, test_keys) of the stored (or last computed) grouped split."""
        split = getattr(self, "_split", None)
        if split is None:
            if "split" not in self._f.attrs:
                raise DatasetError(f"{self.path}: no train/test split stored; call grouped_split() first "
                                   f"(or 'glassfix data split')")
            split = json.loads(_attr_str(self._f.attrs["split"]))
        test_units = set(split["test_units"])
        train, test = [], []
        for key in self.keys():
            (test if self._unit(self._entries[key], split["by"]) in test_units else train).append(key)
        return train, test
