"""Train the per-atom classifiers (softness, ACE activity, looseness) from a dataset store.

``train_classifier(store, out, config)`` is the one path behind ``glassfix train softness|ace|looseness``:
label → classes (:class:`~glassfix.train.dataset.LabelRule`), aligned to the frames the label describes
(label metadata), centre species, class balancing, the store's grouped split, C by grouped k-fold
cross-validation on the training configurations (Cubuk: linear SVM; ACE: L2 logistic regression;
looseness: optional, the paper's final model uses C = 1), an optional RFE feature ranking (looseness),
then the model ``<kind>.glassfix`` with full provenance, ``metrics.json`` and ``report.md`` + PNGs. The
metrics are :mod:`glassfix.train.metrics`, the same ``glassfix evaluate`` reports. Descriptors are
cached per frame under ``<out>/cache``: a killed run resumes without recomputing them.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from glassfix.train.dataset import (Examples, LabelRule, TrainDataError, aligned_pairs, balance, build_examples,
                                    check_classes, resolve_label, select_keys, species_names_of, split_keys,
                                    store_sha256, score_examples)
from glassfix.train.metrics import classification_metrics

__all__ = ["ClassifierConfig", "train_classifier", "make_descriptor", "THRESHOLDS", "TRAINER_OF_MODEL", "grouped_cv"]

#: output value above which a centre is predicted positive, per model kind
THRESHOLDS = {"softness": 0.0, "ace": 0.5, "looseness": 0.5}
# trainer (``glassfix train <kind>``) of each model kind it writes
TRAINER_OF_MODEL = {"softness": "softness", "ace-activity": "ace", "looseness": "looseness"}
KINDS = tuple(THRESHOLDS)


@dataclass
class ClassifierConfig:
    """Everything a classifier training depends on (lengths in σ, steps in MD steps)."""

    kind: str
    label: str
    above: float | None = None
    below: float | None = None
    top: float | None = None
    bottom: float | None = None
    quiescent: int = 0                      # MD steps negatives must stay below the threshold
    species: list[str] | None = None        # centre species (default: the first)
    frames: list[str] | None = None         # glob patterns on store keys
    label_offset: int | None = None         # for labels without step metadata
    per_class: int | None = None
    balance: bool = True                    # undersample to equal classes (per species)
    C: float = 1.0
    cv_C: list[float] | None = None
    cv_folds: int = 5
    min_per_class: int = 10
    test_fraction: float = 0.2
    split_seed: int = 0
    seed: int = 0
    shuffle_labels: bool = False
    n_learners: int = 10                    # looseness EasyEnsemble size
    rfe: int = 0                            # looseness: keep the top-k RFE features (0: all)
    descriptor: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        self.rule()  # validates the thresholds

    def rule(self) -> LabelRule:
        """The label → class rule."""
        return LabelRule(self.above, self.below, self.top, self.bottom, self.quiescent)


def make_descriptor(kind: str, species: Sequence[str], options: dict[str, Any]) -> Any:
    """The descriptor of a model kind (softness: radial structure functions; ace: ACE invariants;
    looseness: interstice features), options as in ``glassfix train KIND --help``."""
    n = len(species)
    o = dict(options)
    if kind == "softness":
        from glassfix.descriptors.structure_functions import RadialStructureFunctions

        mus = np.round(np.arange(o.get("mu_min", 0.0), o.get("mu_max", 4.9) + 1e-9, o.get("mu_step", 0.1)), 10)
        return RadialStructureFunctions(n, mus=mus, delta=o.get("delta", 0.1), species_names=list(species))
    if kind == "ace":
        from glassfix.descriptors.ace import ACEDescriptor

        return ACEDescriptor(n, max_body_order=o.get("body_order", 4), degree=o.get("degree", 10),
                             r_cut=o.get("r_cut", 4.0), species_names=list(species))
    from glassfix.descriptors.interstice import IntersticeDescriptor

    radii = o.get("radii")
    return IntersticeDescriptor(n, radii=radii, species_names=list(species),
                                voronoi_backend=o.get("voronoi_backend", "numba"))


# ---- fitting ----------------------------------------------------------------------------------------

def _fitter(cfg: ClassifierConfig, descriptor: Any, species: Sequence[str]) -> Callable[..., Any]:
    """fit(X, y, types, C, feature_index) -> Predictor of cfg.kind."""
    from glassfix.models import ActivityModel, LoosenessModel, SoftnessModel

    def fit(X: np.ndarray, y: np.ndarray, types: np.ndarray, C: float | dict[int, float],
            feature_index: np.ndarray | None = None, provenance: dict[str, Any] | None = None):
        if cfg.kind == "looseness":
            c = float(C if not isinstance(C, dict) else next(iter(C.values())))
            return LoosenessModel.train(descriptor, X, y, feature_index=feature_index, n_learners=cfg.n_learners,
                                        C=c, seed=cfg.seed, center_types=sorted(set(types.tolist())),
                                        species=species, provenance=provenance)
        cls = SoftnessModel if cfg.kind == "softness" else ActivityModel
        heads = {}
        for t in sorted(set(types.tolist())):
            m = types == t
            c = float(C[t] if isinstance(C, dict) else C)
            heads.update(cls.train(descriptor, {t: (X[m], y[m])}, C=c, species=species, seed=cfg.seed).heads)
        return cls(descriptor, species, heads, provenance=provenance)

    return fit


def grouped_cv(ex: Examples, Cs: Sequence[float], folds: int, fit: Callable[..., Any], threshold: float,
               feature_index: np.ndarray | None = None) -> tuple[dict[str, float], str]:
    """Balanced accuracy per C by k-fold cross-validation with whole configurations (groups) held out
    (per-frame folds when there are fewer groups than 2); returns ({repr(C): mean score}, grouping)."""
    from sklearn.model_selection import GroupKFold

    groups = ex.group.astype(str)
    by = "group"
    if len(set(groups)) < 2:
        groups, by = ex.frame_key.astype(str), "frame"
    k = min(int(folds), len(set(groups)))
    if k < 2:
        raise TrainDataError("cross-validation needs at least two configurations or frames in the training "
                             "split; record more runs, or fix C with --C instead of --cv-C")
    scores: dict[str, float] = {}
    for C in sorted(float(c) for c in Cs):
        vals = []
        for tr, te in GroupKFold(n_splits=k).split(ex.X, ex.y, groups):
            sub = ex.take(tr)
            if len(set(sub.y.tolist())) < 2:
                continue
            m = fit(sub.X, sub.y, sub.types, C, feature_index)
            test = ex.take(te)
            vals.append(classification_metrics(test.y, score_examples(m, test), threshold)["balanced_accuracy"])
        scores[repr(C)] = float(np.nanmean(vals)) if vals else float("nan")
    return scores, f"{k}-fold by {by}"


# ---- the trainer ------------------------------------------------------------------------------------

def train_classifier(store: str | os.PathLike[str], out: str | os.PathLike[str], cfg: ClassifierConfig,
                     command: str = "", log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train (resumable: descriptors cached) and write ``<out>/<kind>.glassfix``, ``metrics.json`` and
    ``report.md``; returns {"model": path, "metrics": {...}, "report": path}."""
    from glassfix.data.store import DatasetStore

    log = log or (lambda s: None)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    rule = cfg.rule()
    threshold = THRESHOLDS[cfg.kind]
    with DatasetStore(store, mode="r") as ds:
        keys = select_keys(ds, cfg.frames)
        label = resolve_label(ds, cfg.label, keys)
        pairs = aligned_pairs(ds, label, keys, cfg.label_offset)
        train_keys, test_keys, split = split_keys(ds, cfg.test_fraction, cfg.split_seed)
        species = species_names_of(ds, keys)
        want = cfg.species or species[:1]
        bad = [s for s in want if s not in species]
        if bad:
            raise TrainDataError(f"--species {' '.join(bad)} not in the store's species {species}")
        center_types = [species.index(s) for s in want]
        descriptor = make_descriptor(cfg.kind, species, cfg.descriptor)
        first = next(iter(pairs))
        # the label's parameters; the per-frame steps (recorded/described) are not parameters
        label_attrs = {k: v for k, v in ds.label_params(first[0], label).items()
                       if k not in ("recorded_step", "describes_step")}
        test_set = set(test_keys)
        tr_pairs = [p for p in pairs if p[1] not in test_set]
        te_pairs = [p for p in pairs if p[1] in test_set]
        log(f"label {label}: {len(pairs)} labelled frames ({len(tr_pairs)} train, {len(te_pairs)} test); "
            f"descriptor {descriptor.kind} ({descriptor.n_features} features)")

        def prog(i: int, n: int, key: str) -> None:
            log(f"descriptors {i + 1}/{n}: {key}")

        cache = out / "cache"
        train_all = build_examples(ds, label, tr_pairs, rule, center_types, descriptor, cache, prog, pairs)
        test_ex = build_examples(ds, label, te_pairs, rule, center_types, descriptor, cache, prog, pairs) \
            if te_pairs else None
        store_hash = store_sha256(store)
    for t in center_types:
        if not (train_all.types == t).any():
            raise TrainDataError(f"label {label!r} ({rule.describe()}) gives no training examples of species "
                                 f"{species[t]}; change the thresholds or --species")
    check_classes(train_all, species, label, rule, cfg.min_per_class, "training")
    train_ex = balance(train_all, cfg.per_class, cfg.seed, undersample=cfg.balance)
    if cfg.shuffle_labels:  # control: labels permuted within each species, features kept
        rng = np.random.default_rng(cfg.seed + 1)
        y = train_ex.y.copy()
        for t in center_types:
            rows = np.flatnonzero(train_ex.types == t)
            y[rows] = y[rng.permutation(rows)]
        train_ex.y = y
    fit = _fitter(cfg, descriptor, species)

    feature_index = None
    if cfg.kind == "looseness" and cfg.rfe:
        from glassfix.models.looseness import select_features_rfe

        log(f"RFE feature ranking (gradient boosting, 5 balanced bootstraps) of {descriptor.n_features} features")
        ranking = select_features_rfe(train_ex.X, train_ex.y, n_bootstrap=5, seed=cfg.seed)
        feature_index = np.sort(ranking[: int(cfg.rfe)])

    cv: dict[str, Any] = {}
    C_used: Any = float(cfg.C)
    if cfg.cv_C:
        C_used = {}
        for t in center_types:
            sub = train_ex.take(np.flatnonzero(train_ex.types == t))
            log(f"grouped cross-validation of C over {cfg.cv_C} (species {species[t]})")
            scores, how = grouped_cv(sub, cfg.cv_C, cfg.cv_folds, fit, threshold, feature_index)
            best = np.nanmax(list(scores.values()))
            C_used[t] = min(float(c) for c, v in scores.items() if v == best)   # ties: most regularised
            cv[species[t]] = {"scores": scores, "folds": how, "best_C": C_used[t]}
        if cfg.kind == "looseness":
            C_used = float(np.median(list(C_used.values())))
    model = fit(train_ex.X, train_ex.y, train_ex.types, C_used, feature_index)
    for t, head in getattr(model, "heads", {}).items():   # softness/ACE heads carry their CV scores too
        if species[t] in cv:
            head.metrics["cv_balanced_accuracy"] = cv[species[t]]["scores"]
            head.metrics["cv_folds"] = cv[species[t]]["folds"]

    metrics: dict[str, Any] = {
        "kind": cfg.kind, "label": label, "threshold": threshold,
        "train": classification_metrics(train_ex.y, score_examples(model, train_ex), threshold),
        "cv": cv,
    }
    if test_ex is not None:
        metrics["test"] = classification_metrics(test_ex.y, score_examples(model, test_ex), threshold,
                                                 groups=test_ex.group)
    else:
        metrics["test"] = None
    metrics["wall_s"] = time.perf_counter() - t0
    prov = {
        "trainer": "glassfix.train.classifiers", "command": command,
        "store": str(Path(store).resolve()), "store_sha256": store_hash,
        "label": {"name": label, "params": label_attrs, "rule": asdict(rule), "rule_text": rule.describe(),
                  "offset_override": cfg.label_offset},
        "config": asdict(cfg), "species_trained": list(want), "center_types": center_types,
        "split": {**split, "train_frames": sorted({p[1] for p in tr_pairs}),
                  "test_frames": sorted({p[1] for p in te_pairs})},
        "examples": {"train_before_balancing": int(train_all.n), "train": int(train_ex.n),
                     "train_positive": int(train_ex.y.sum()), "test": int(test_ex.n) if test_ex else 0},
        "feature_index": None if feature_index is None else feature_index.tolist(),
        "metrics": {k: metrics[k] for k in ("train", "test", "cv")},
    }
    from glassfix.core.atomic import atomic_write_text
    from glassfix.core.jsonable import jsonable
    from glassfix.train.report import write_classifier_report

    model.provenance = jsonable(prov, "null")
    path = model.save(out / f"{cfg.kind}.glassfix")
    atomic_write_text(out / "metrics.json", json.dumps(jsonable(metrics, "null"), indent=2))
    report = write_classifier_report(out, model, metrics, prov, train_ex, test_ex, command)
    log(f"model {path}; test balanced accuracy "
        f"{metrics['test']['balanced_accuracy'] if metrics['test'] else float('nan'):.3f}")
    return {"model": str(path), "metrics": metrics, "report": str(report)}
