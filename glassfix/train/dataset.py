"""Training examples from a dataset store: which label, which frames, which species, classes and split.

One path for every per-atom classifier (softness, ACE activity, looseness) and for their evaluation:

1. :func:`resolve_label` finds the label by full name (``phop/every=20,window=4``), kind (``phop``) or
   recorded value name (``f_ph``), and lists what the store has when nothing matches;
2. :func:`aligned_pairs` pairs every frame holding the label with the frame it *describes*, read from the
   label's metadata (:mod:`glassfix.data.labels_meta`): same system and group, ``describes_step``;
3. :class:`LabelRule` turns values into classes (positive above a threshold / in a top fraction,
   negative below / in a bottom fraction, the rest dropped);
4. :func:`build_examples` computes the descriptor of each example's centre in the described frame (cached
   per frame in the output directory, so an interrupted run resumes) and returns the arrays; balancing
   (:func:`balance`) and the store's grouped split (:func:`split_keys`) select the rows.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from glassfix.data.labels_meta import LabelMetaError, label_offset

__all__ = ["TrainDataError", "LabelRule", "Examples", "resolve_label", "aligned_pairs", "split_keys",
           "build_examples", "balance", "store_sha256", "species_names_of", "score_examples"]

EXCLUDED_LABELS = {"in_group"}


class TrainDataError(ValueError):
    """The store cannot give the requested training examples; the message names the value and the fix."""


@dataclass
class LabelRule:
    """Label values → classes. Positive: value > ``above`` or in the ``top`` fraction (per frame and
    species); negative: value < ``below`` (default: ``above``) or in the ``bottom`` fraction. Others dropped.
    ``quiescent`` (MD steps, threshold rule only): a negative must also stay below ``below`` at every
    labelled step of its run within [s − quiescent, s] (Cubuk: no rearrangement for τ_α before t), with the
    whole window recorded (glassfix.labels.events.quiescent_mask, online)."""

    above: float | None = None
    below: float | None = None
    top: float | None = None
    bottom: float | None = None
    quiescent: int = 0

    def __post_init__(self) -> None:
        if (self.above is None) == (self.top is None):
            raise TrainDataError("give exactly one of --above THRESHOLD or --top FRACTION to define positives")
        if self.above is not None and self.below is None:
            self.below = self.above
        if self.top is not None and self.bottom is None:
            self.bottom = self.top
        for name in ("top", "bottom"):
            v = getattr(self, name)
            if v is not None and not 0.0 < v < 1.0:
                raise TrainDataError(f"--{name} must be a fraction in (0, 1), got {v}")
        if self.above is not None and self.below is not None and self.below > self.above:
            raise TrainDataError(f"--below {self.below} is above --above {self.above}: the classes would overlap")
        if self.quiescent < 0 or (self.quiescent and self.above is None):
            raise TrainDataError(f"--quiescent {self.quiescent} needs a threshold rule (--above) and >= 0 MD steps")

    def classes(self, values: np.ndarray) -> np.ndarray:
        """int8 per value: 1 positive, 0 negative, −1 dropped (NaN is always dropped)."""
        v = np.asarray(values, np.float64)
        out = np.full(v.shape, -1, np.int8)
        ok = np.isfinite(v)
        if self.above is not None:
            out[ok & (v > self.above)] = 1
            out[ok & (v < self.below)] = 0
        elif ok.any():
            fin = v[ok]
            hi = np.quantile(fin, 1.0 - self.top)
            lo = np.quantile(fin, self.bottom)
            out[ok & (v > hi)] = 1
            out[ok & (v < lo) & (out != 1)] = 0
        return out

    def describe(self) -> str:
        """Human-readable rule."""
        if self.above is not None:
            q = f" for the {self.quiescent} steps up to it" if self.quiescent else ""
            return f"positive if value > {self.above:g}, negative if value < {self.below:g}{q}"
        return (f"positive: top {100 * self.top:g} %, negative: bottom {100 * self.bottom:g} % of each frame "
                f"and species")


@dataclass
class Examples:
    """Labelled centres: features X (n, F), classes y (n,) bool, raw label values, centre types, the key of the
    frame holding the label and of the frame the features come from, the group of each row, atom ids."""

    X: np.ndarray
    y: np.ndarray
    value: np.ndarray
    types: np.ndarray
    label_key: np.ndarray
    frame_key: np.ndarray
    group: np.ndarray
    atom_id: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)

    def take(self, rows: np.ndarray) -> "Examples":
        """The subset ``rows``."""
        return Examples(**{k: getattr(self, k)[rows] for k in ("X", "y", "value", "types", "label_key",
                                                               "frame_key", "group", "atom_id")}, info=self.info)

    @property
    def n(self) -> int:
        return int(self.y.shape[0])


def store_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of the store file (its state when training started; provenance)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _all_label_names(ds: Any, keys: Sequence[str]) -> dict[str, int]:
    names: dict[str, int] = {}
    for k in keys:
        for n in ds.label_names(k):
            if n not in EXCLUDED_LABELS:
                names[n] = names.get(n, 0) + 1
    return names


def resolve_label(ds: Any, query: str, keys: Sequence[str] | None = None) -> str:
    """The stored label name meant by ``query`` (full name, kind before '/', or recorded value name)."""
    keys = ds.keys() if keys is None else keys
    names = _all_label_names(ds, keys)
    if query in names:
        return query
    hits = sorted(n for n in names if n.split("/", 1)[0] == query)
    if not hits:
        for n in names:
            k = next(k for k in keys if n in ds.label_names(k))
            if ds.label_params(k, n).get("source") == query:
                hits.append(n)
    have = ", ".join(f"{n} ({c} frames)" for n, c in sorted(names.items())) or "none"
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise TrainDataError(f"store {ds.path} has no label {query!r} (labels: {have}); pass one of them with "
                             f"--label, or record it (fix glass/record ... values f_ID)")
    raise TrainDataError(f"label {query!r} is ambiguous in {ds.path}: {', '.join(hits)}; pass the full name "
                         f"with --label")


def select_keys(ds: Any, frames: Sequence[str] | None = None) -> list[str]:
    """Store keys matching any of the glob patterns ``frames`` (all keys when None)."""
    keys = ds.keys()
    if not frames:
        return keys
    sel = [k for k in keys if any(fnmatch.fnmatchcase(k, p) for p in frames)]
    if not sel:
        raise TrainDataError(f"no frame of {ds.path} matches --frames {' '.join(frames)} (keys look like "
                             f"{keys[0] if keys else 'none'!r})")
    return sel


def aligned_pairs(ds: Any, label: str, keys: Sequence[str], offset: int | None = None) -> list[tuple[str, str]]:
    """(label frame key, described frame key) for every frame of ``keys`` holding a defined ``label``.

    The described frame is the stored frame of the same system and group at ``describes_step`` (label
    metadata; ``offset`` states it for labels without metadata). Raises TrainDataError naming the frames
    whose described configuration the store does not hold.
    """
    index: dict[tuple[str, str, int], list[str]] = {}
    for k in ds.keys():
        fi = ds.frame_info(k)
        index.setdefault((fi["system"], fi["group"], int(fi["step"])), []).append(k)
    pairs, missing = [], []
    for k in keys:
        if label not in ds.label_names(k):
            continue
        attrs = ds.label_params(k, label)
        fi = ds.frame_info(k)
        try:
            off = label_offset(attrs, label, offset)
        except LabelMetaError as exc:
            raise TrainDataError(str(exc)) from None
        target = int(attrs["describes_step"]) if "describes_step" in attrs and offset is None \
            else int(fi["step"]) + off
        if not np.isfinite(np.asarray(ds.labels(k, [label])[label], np.float64)).any():
            continue  # not yet defined (the history was too short at this step)
        fk = k if target == int(fi["step"]) else _closest_key(k, index.get((fi["system"], fi["group"], target), []))
        if fk is None:
            missing.append((k, target))
        else:
            pairs.append((k, fk))
    if missing:
        shown = ", ".join(f"{k} -> step {s}" for k, s in missing[:4])
        raise TrainDataError(
            f"{len(missing)} frames hold label {label!r} but the frames it describes are not in {ds.path} "
            f"({shown}{', ...' if len(missing) > 4 else ''}); record frames at those steps (the recording "
            f"interval must divide the label's step offset) or select frames with --frames")
    if not pairs:
        raise TrainDataError(f"label {label!r} has no defined value in the selected frames of {ds.path}; run "
                             f"longer than the label's window/lag or select other --frames")
    return pairs


def _closest_key(key: str, candidates: list[str]) -> str | None:
    """The candidate frame sharing the longest key prefix with ``key`` (a protocol may store several kinds of
    frame, e.g. MD and minimised, at one step of one run); None if there is none."""
    if not candidates:
        return None
    return max(candidates, key=lambda c: len(os.path.commonprefix([c, key])))


def split_keys(ds: Any, test_fraction: float = 0.2, seed: int = 0) -> tuple[list[str], list[str], dict[str, Any]]:
    """The store's grouped split (stored by 'glassfix data split', else computed by group here):
    (train keys, test keys, split description). No group is on both sides."""
    from glassfix.data.store import DatasetError

    try:
        train, test = ds.split_keys()
        how = "stored"
    except DatasetError:
        try:
            train, test = ds.grouped_split(test_fraction, seed, by="group")
        except DatasetError as exc:
            raise TrainDataError(f"{exc}; record at least two runs (glass/record ... group NAME) so that "
                                 f"train and test configurations differ") from None
        how = "computed"
    # the split just computed (read-only stores keep it in memory only), else the stored one
    split = getattr(ds, "_split", None) or ds.info().get("split")
    return train, test, {"how": how, **(split or {})}


def species_names_of(ds: Any, keys: Sequence[str]) -> list[str]:
    """Species names of the store's frames (stored names, else 'A', 'B', ... by 0-based type)."""
    fr = ds.frame(keys[0])
    if fr.species:
        return list(fr.species)
    ntypes = max(int(ds.frame(k).types.max()) + 1 for k in keys[:: max(1, len(keys) // 8)] + [keys[-1]])
    return [chr(ord("A") + t) for t in range(ntypes)] if ntypes <= 26 else [str(t) for t in range(ntypes)]


def _cache_path(cache_dir: Path | None, descriptor: Any, key: str) -> Path | None:
    if cache_dir is None:
        return None
    h = hashlib.sha256(json.dumps(descriptor.spec(), sort_keys=True, default=str).encode()).hexdigest()[:16]
    safe = hashlib.sha256(key.encode()).hexdigest()[:24]
    return Path(cache_dir) / f"{descriptor.kind}-{h}" / f"{safe}.npy"


def frame_features(ds: Any, key: str, descriptor: Any, centers: np.ndarray, cache_dir: Path | None) -> np.ndarray:
    """Descriptor rows (len(centers), F) of frame ``key`` (all atoms cached under cache_dir, atomically)."""
    from glassfix.core.atomic import atomic_save

    path = _cache_path(cache_dir, descriptor, key)
    if path is not None and path.exists():
        return np.load(path)[centers]
    frame = ds.frame(key)
    X = np.asarray(descriptor.compute(frame), np.float64)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_save(path, X)
    return X[centers]


class _History:
    """Label values of a run by described step, aligned to atom ids (for the quiescence window)."""

    def __init__(self, ds: Any, label: str, pairs: Sequence[tuple[str, str]]) -> None:
        self.ds, self.label = ds, label
        self.by_run: dict[tuple[str, str], list[tuple[int, str]]] = {}
        for lk, fk in pairs:
            fi = ds.frame_info(fk)
            self.by_run.setdefault((fi["system"], fi["group"]), []).append((int(fi["step"]), lk))
        for v in self.by_run.values():
            v.sort()
        self._cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def _values(self, lk: str) -> tuple[np.ndarray, np.ndarray]:
        if lk not in self._cache:
            self._cache[lk] = (self.ds.frame(lk).ids, np.asarray(self.ds.labels(lk, [self.label])[self.label], float))
        return self._cache[lk]

    def window_max(self, run: tuple[str, str], step: int, span: int, ids: np.ndarray) -> np.ndarray:
        """Max of the label over the run's labelled steps in [step − span, step] per atom id; NaN where the
        window is not fully recorded or a value is undefined."""
        hist = self.by_run.get(run, [])
        if not hist or hist[0][0] > step - span:
            return np.full(ids.shape, np.nan)
        out = np.full(ids.shape, -np.inf)
        for s, lk in hist:
            if step - span <= s <= step:
                lids, vals = self._values(lk)
                if not np.array_equal(lids, ids):
                    pos = {int(i): j for j, i in enumerate(lids)}
                    vals = np.array([vals[pos[int(i)]] if int(i) in pos else np.nan for i in ids])
                out = np.maximum(out, vals)   # NaN propagates: undefined anywhere -> not quiescent
        return out


def build_examples(ds: Any, label: str, pairs: Sequence[tuple[str, str]], rule: LabelRule, center_types: Sequence[int],
                   descriptor: Any, cache_dir: Path | None = None,
                   progress: Callable[[int, int, str], None] | None = None,
                   history: Sequence[tuple[str, str]] | None = None) -> Examples:
    """Examples of the (label frame, described frame) ``pairs``: centres of ``center_types`` whose label gives
    a class, with their descriptor rows in the described frame. ``history``: all aligned pairs of the
    label (default ``pairs``), searched for the quiescence window of negatives."""
    hist = _History(ds, label, history if history is not None else pairs) if rule.quiescent else None
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("X", "y", "value", "types", "label_key", "frame_key",
                                                          "group", "atom_id")}
    for n, (lk, fk) in enumerate(pairs):
        if progress:
            progress(n, len(pairs), fk)
        values = np.asarray(ds.labels(lk, [label])[label], np.float64)
        lab_ids = ds.frame(lk).ids if lk != fk else None
        fr_info = ds.frame_info(fk)
        fr = ds.frame(fk)
        if lab_ids is not None and not np.array_equal(lab_ids, fr.ids):
            pos = {int(i): j for j, i in enumerate(lab_ids)}
            try:
                values = values[[pos[int(i)] for i in fr.ids]]
            except KeyError:
                raise TrainDataError(f"frames {lk!r} and {fk!r} hold different atoms; the label cannot be "
                                     f"aligned (was the system changed between them?)") from None
        qmax = None
        if hist is not None:
            qmax = hist.window_max((fr_info["system"], fr_info["group"]), int(fr_info["step"]), rule.quiescent,
                                   fr.ids)
        for t in center_types:
            atoms = np.flatnonzero(fr.types == t)
            cls = rule.classes(values[atoms])
            if qmax is not None:
                cls[(cls == 0) & ~(qmax[atoms] < rule.below)] = -1
            keep = cls >= 0
            atoms, cls = atoms[keep], cls[keep]
            if atoms.size == 0:
                continue
            cols["X"].append(frame_features(ds, fk, descriptor, atoms, cache_dir))
            cols["y"].append(cls.astype(bool))
            cols["value"].append(values[atoms])
            cols["types"].append(np.full(atoms.size, t, np.int64))
            cols["label_key"].append(np.full(atoms.size, lk, dtype=object))
            cols["frame_key"].append(np.full(atoms.size, fk, dtype=object))
            cols["group"].append(np.full(atoms.size, fr_info["group"], dtype=object))
            cols["atom_id"].append(fr.ids[atoms])
    if not cols["y"]:
        raise TrainDataError(f"label {label!r} ({rule.describe()}) gives no examples of species types "
                             f"{list(center_types)}; change the thresholds or --species")
    arrays = {k: np.concatenate(v) for k, v in cols.items()}
    arrays["X"] = np.asarray(arrays["X"], np.float64)
    return Examples(**arrays, info={"label": label, "rule": asdict(rule)})


def balance(ex: Examples, per_class: int | None, seed: int = 0, undersample: bool = True) -> Examples:
    """Equal numbers of positives and negatives per centre type (random undersampling of the larger class),
    at most ``per_class`` each; ``undersample=False`` keeps the imbalance and only applies the cap."""
    rng = np.random.default_rng(seed)
    rows = []
    for t in np.unique(ex.types):
        pos = np.flatnonzero((ex.types == t) & ex.y)
        neg = np.flatnonzero((ex.types == t) & ~ex.y)
        if undersample:
            k = min(pos.size, neg.size) if per_class is None else min(per_class, pos.size, neg.size)
            rows += [rng.choice(pos, k, replace=False), rng.choice(neg, k, replace=False)]
        else:
            for part in (pos, neg):
                k = part.size if per_class is None else min(per_class, part.size)
                rows.append(rng.choice(part, k, replace=False))
    return ex.take(np.sort(np.concatenate(rows)))


def check_classes(ex: Examples, species: Sequence[str], label: str, rule: LabelRule, minimum: int, where: str) -> None:
    """TrainDataError unless every centre type has at least ``minimum`` examples of each class."""
    for t in np.unique(ex.types):
        n_pos = int((ex.y & (ex.types == t)).sum())
        n_neg = int((~ex.y & (ex.types == t)).sum())
        if min(n_pos, n_neg) < minimum:
            raise TrainDataError(
                f"label {label!r} ({rule.describe()}) gives {n_pos} positive and {n_neg} negative {where} "
                f"examples of species {species[int(t)]} (need >= {minimum} of each); change --above/--below "
                f"(or --top/--bottom), record more frames, or lower --min-per-class")


def score_examples(model: Any, ex: Examples) -> np.ndarray:
    """The model's output (n,) on the examples' descriptor rows (what ``glassfix predict`` gives there)."""
    return np.asarray(model.predict_features(ex.X, ex.types), np.float64)[:, 0]
