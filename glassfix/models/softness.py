"""Softness (Cubuk et al. 2015/2016; thesis §4.1–4.2): linear SVM on standardised radial structure functions.

One head per centre species (ch. 5 trains type-A centres only, ch. 4 treats species separately):
S_i = ((G_i − mean) / scale) · w + b, the LinearSVC decision value, S > 0 on the rearranging ("soft")
side; optionally divided by ‖w‖ to make S the Euclidean distance to the hyperplane in standardised
feature space. Centres whose species has no head get NaN.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from glassfix.descriptors.base import Descriptor
from glassfix.models.base import Predictor, descriptor_from_manifest, register_model
from glassfix.models.io import ModelFileError

__all__ = ["LinearHeadsModel", "SoftnessHead", "standardization", "balanced_accuracy"]

OUTPUT_NAME = "softness"


def standardization(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """StandardScaler statistics (mean, population std) with constant columns given scale 1."""
    X = np.asarray(X, dtype=np.float64)
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    # Same guard as sklearn's _handle_zeros_in_scale: G(r < 0.3σ) is identically 0 and must not
    # produce 0/0; a round-off-sized spread around a constant is treated as constant too.
    constant = scale < 10.0 * np.finfo(np.float64).eps * np.maximum(1.0, np.abs(mean))
    # "Essentially zero" features (thesis ch. 5: G at r < 0.3σ) are not exactly 0 but Gaussian tails of
    # ~1e-11: standardising them would blow noise up to unit variance and hand the classifier weights of
    # 1e10 per unit feature, which no evaluation (C++ tables included) reproduces to round-off. A column
    # whose spread is below 1e-6 of the widest column's is treated as constant.
    if scale.size:
        constant |= scale < 1e-6 * float(scale.max())
    scale[constant] = 1.0
    return mean, scale


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean of the recalls of the two classes (boolean labels); NaN-free for two-class inputs."""
    y_true = np.asarray(y_true, dtype=bool)
    y_pred = np.asarray(y_pred, dtype=bool)
    tpr = float((y_pred & y_true).sum() / max(int(y_true.sum()), 1))
    tnr = float((~y_pred & ~y_true).sum() / max(int((~y_true).sum()), 1))
    return 0.5 * (tpr + tnr)


@dataclass
class SoftnessHead:
    """Linear head for one centre species: S = ((X − mean)/scale)·w + b (X in descriptor units)."""

    mean: np.ndarray
    scale: np.ndarray
    w: np.ndarray
    b: float
    C: float = 1.0
    metrics: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.mean = np.ascontiguousarray(self.mean, dtype=np.float64)
        self.scale = np.ascontiguousarray(self.scale, dtype=np.float64)
        self.w = np.ascontiguousarray(self.w, dtype=np.float64)
        self.b = float(self.b)

    def check(self, n_features: int) -> None:
        """Raise ValueError unless shapes match ``n_features`` and values are finite (scale > 0)."""
        for name in ("mean", "scale", "w"):
            a = getattr(self, name)
            if a.shape != (n_features,):
                raise ValueError(f"{name} has shape {a.shape}, but the descriptor has {n_features} features")
            if not np.isfinite(a).all():
                raise ValueError(f"{name} contains non-finite values")
        if not (self.scale > 0).all():
            raise ValueError("scale must be positive")
        if not np.isfinite(self.b):
            raise ValueError("intercept b is not finite")

    def decision(self, X: np.ndarray, normalize_w: bool = False) -> np.ndarray:
        """Softness of rows X (n, n_features); deterministic bit-for-bit per row, independent of batch."""
        Z = (X - self.mean) / self.scale
        # Sequential sum over features with vector ops over rows (no BLAS): every row's result depends
        # only on that row, so LAMMPS ranks / batch sizes / thread counts give identical bits.
        s = np.full(Z.shape[0], self.b, dtype=np.float64)
        for k in range(Z.shape[1]):
            s += Z[:, k] * self.w[k]
        if normalize_w:
            s /= float(np.sqrt(np.dot(self.w, self.w)))
        return s


def _as_bool_labels(y: np.ndarray) -> np.ndarray:
    """Labels → bool (True = rearranging/positive): accepts bool, {0,1} or {−1,+1}."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError("labels must be 1-D")
    if y.dtype == bool:
        return y
    if not np.isfinite(y.astype(np.float64)).all():
        raise ValueError("labels must be finite")
    return y > 0


def _fit_head(X: np.ndarray, y: np.ndarray, C: float, seed: int, max_iter: int) -> tuple[SoftnessHead, bool]:
    """Standardise, fit a class-balanced LinearSVC; return the head and whether liblinear converged."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    mean, scale = standardization(X)
    Z = (X - mean) / scale
    svc = LinearSVC(C=C, dual="auto", class_weight="balanced", max_iter=max_iter, random_state=seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        svc.fit(Z, y.astype(np.int64))
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    # classes_ are sorted [0, 1], so coef_ points towards the positive (rearranging) class: S > 0 soft.
    head = SoftnessHead(mean=mean, scale=scale, w=svc.coef_[0].copy(), b=float(svc.intercept_[0]), C=C)
    return head, converged


def _cv_score(X: np.ndarray, y: np.ndarray, C: float, folds: int, seed: int, max_iter: int,
              fit=_fit_head) -> float:
    """Stratified k-fold balanced accuracy with the scaler refitted inside each fold (``fit`` fits a head)."""
    from sklearn.model_selection import StratifiedKFold

    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    scores = []
    for tr, te in skf.split(X, y):
        head, _ = fit(X[tr], y[tr], C, seed, max_iter)
        scores.append(balanced_accuracy(y[te], head.decision(X[te]) > 0))
    return float(np.mean(scores))


class LinearHeadsModel(Predictor):
    """Base of the per-species linear read-outs (softness, ACE activity): one standardised linear head per
    centre species on any per-atom descriptor. Not a model kind itself: a kind sets ``kind``,
    ``output_name``, ``_fit`` and ``_output`` (scikit-learn style: shared behaviour lives in the base,
    never in a concrete estimator another kind subclasses)."""

    output_name: str
    # fits one head: (X, y, C, seed, max_iter) -> (head, converged)
    _fit: Any

    def __init__(
        self,
        descriptor: Descriptor,
        species: Sequence[str],
        heads: Mapping[int, SoftnessHead],
        normalize_w: bool = False,
        provenance: dict[str, Any] | None = None,
    ) -> None:
        """heads maps 0-based centre type → head; species without a head predict NaN."""
        super().__init__(descriptor, species, [self.output_name], provenance)
        self.normalize_w = bool(normalize_w)
        self.heads: dict[int, SoftnessHead] = {}
        for t, head in sorted(heads.items()):
            t = int(t)
            if not 0 <= t < len(self.species):
                raise ValueError(f"head for type {t} but the model has {len(self.species)} species")
            head.check(descriptor.n_features)
            self.heads[t] = head
        if not self.heads:
            raise ValueError("a softness model needs at least one head")

    # ---- training ---------------------------------------------------------------------------------

    @classmethod
    def train(
        cls,
        descriptor: Descriptor,
        X_by_species: Mapping[int, tuple[np.ndarray, np.ndarray]],
        C: float = 1.0,
        species: Sequence[str] | None = None,
        cv_C: Sequence[float] | None = None,
        seed: int = 0,
        provenance: dict[str, Any] | None = None,
        normalize_w: bool = False,
        cv_folds: int = 5,
        max_iter: int = 100_000,
    ) -> "LinearHeadsModel":
        """Fit one head per centre type t in X_by_species: {t: (X (n, n_features), y (n,) True=rearranging)}.

        ``cv_C``: candidate C values picked by stratified ``cv_folds``-fold balanced accuracy (ties → the
        smallest C, the most regularised); otherwise ``C`` is used (thesis ch. 4: C = 1).
        """
        if species is None:
            species = getattr(descriptor, "species_names", None) or [str(t) for t in range(descriptor.n_species)]
        heads: dict[int, SoftnessHead] = {}
        for t, (X, y) in sorted(X_by_species.items()):
            X = np.ascontiguousarray(X, dtype=np.float64)
            y = _as_bool_labels(y)
            if X.ndim != 2 or X.shape[1] != descriptor.n_features:
                raise ValueError(f"type {t}: X must have shape (n, {descriptor.n_features}), got {X.shape}")
            if X.shape[0] != y.shape[0]:
                raise ValueError(f"type {t}: X has {X.shape[0]} rows but y has {y.shape[0]}")
            if not np.isfinite(X).all():
                raise ValueError(f"type {t}: X contains non-finite features")
            n_pos, n_neg = int(y.sum()), int((~y).sum())
            if n_pos == 0 or n_neg == 0:
                raise ValueError(f"type {t}: training needs both classes (got {n_pos} positive, {n_neg} negative)")

            cv_scores: dict[str, float] = {}
            C_used = float(C)
            if cv_C:
                folds = min(int(cv_folds), n_pos, n_neg)
                if folds < 2:
                    raise ValueError(f"type {t}: too few examples of one class for cross-validation")
                for c in sorted(float(v) for v in cv_C):
                    cv_scores[repr(c)] = _cv_score(X, y, c, folds, seed, max_iter, fit=cls._fit)
                best = max(cv_scores.values())
                C_used = min(float(k) for k, v in cv_scores.items() if v == best)
            head, converged = cls._fit(X, y, C_used, seed, max_iter)
            S = head.decision(X)
            head.metrics = {
                "n_train": int(X.shape[0]),
                "n_positive": n_pos,
                "train_balanced_accuracy": balanced_accuracy(y, S > 0),
                "train_positive_recall": float((S[y] > 0).mean()),  # rearrangers with S > 0
                "train_fraction_soft": float((S > 0).mean()),
                "converged": converged,
                "cv_balanced_accuracy": cv_scores,
                "cv_folds": (min(int(cv_folds), n_pos, n_neg) if cv_C else None),
            }
            heads[int(t)] = head
        return cls(descriptor, species, heads, normalize_w=normalize_w, provenance=provenance)

    # ---- prediction -------------------------------------------------------------------------------

    def predict_features(self, X: np.ndarray, center_types: np.ndarray) -> np.ndarray:
        """Output (n, 1) per row (the decision value, through ``_output``); NaN for types without a head."""
        X = np.asarray(X, dtype=np.float64)
        out = np.full((X.shape[0], 1), np.nan, dtype=np.float64)
        for t, head in self.heads.items():
            rows = np.flatnonzero(center_types == t)
            if rows.size:
                out[rows, 0] = self._output(head.decision(X[rows], self.normalize_w))
        return out

    def _output(self, decision: np.ndarray) -> np.ndarray:
        """The model's output from the linear decision value."""
        raise NotImplementedError

    # ---- persistence ------------------------------------------------------------------------------

    def params(self) -> dict[str, Any]:
        """normalize_w plus, per head, the centre species, C and training metrics."""
        return {
            "normalize_w": self.normalize_w,
            "heads": [
                {"type": t, "species": self.species[t], "C": h.C, "metrics": h.metrics}
                for t, h in self.heads.items()
            ],
        }

    def arrays(self) -> dict[str, np.ndarray]:
        """head_<t>_{mean,scale,w,b} for every head type t."""
        out: dict[str, np.ndarray] = {}
        for t, h in self.heads.items():
            out[f"head_{t}_mean"] = h.mean
            out[f"head_{t}_scale"] = h.scale
            out[f"head_{t}_w"] = h.w
            out[f"head_{t}_b"] = np.array(h.b, dtype=np.float64)  # kept in npz: exact bits, no JSON repr
        return out

    @classmethod
    def from_file_contents(cls, manifest: dict[str, Any], arrays: dict[str, np.ndarray]) -> "LinearHeadsModel":
        """Rebuild and validate shapes against the descriptor (ModelFileError names the bad array)."""
        desc = descriptor_from_manifest(manifest)
        if manifest["outputs"] != [cls.output_name]:
            raise ModelFileError(f"{cls.kind} model outputs must be [{cls.output_name!r}], got {manifest['outputs']}")
        params = manifest["params"]
        head_specs = params.get("heads")
        if not isinstance(head_specs, list) or not head_specs:
            raise ModelFileError("params.heads must be a non-empty list")
        n_f = desc.n_features
        heads: dict[int, SoftnessHead] = {}
        expected: set[str] = set()
        for hs in head_specs:
            if not isinstance(hs, dict) or isinstance(hs.get("type"), bool) or not isinstance(hs.get("type"), int):
                raise ModelFileError("every params.heads entry needs an integer 'type'")
            t = hs["type"]
            if not 0 <= t < len(manifest["species"]) or t in heads:
                raise ModelFileError(f"head type {t} is out of range or repeated")
            keys = {k: f"head_{t}_{k}" for k in ("mean", "scale", "w", "b")}
            expected.update(keys.values())
            missing = [v for v in keys.values() if v not in arrays]
            if missing:
                raise ModelFileError(f"arrays {missing} are missing for the head of species {t}")
            b = arrays[keys["b"]]
            if b.shape not in ((), (1,)) or b.dtype.kind != "f":
                raise ModelFileError(f"array {keys['b']!r} must be one float, got shape {b.shape} dtype {b.dtype}")
            for k in ("mean", "scale", "w"):
                a = arrays[keys[k]]
                if a.dtype.kind != "f" or a.shape != (n_f,):
                    raise ModelFileError(
                        f"array {keys[k]!r} has shape {a.shape} dtype {a.dtype}, but the descriptor "
                        f"({desc.kind}) has {n_f} features; the model file and its descriptor spec disagree"
                    )
            head = SoftnessHead(
                mean=arrays[keys["mean"]], scale=arrays[keys["scale"]], w=arrays[keys["w"]],
                b=float(b.reshape(())), C=float(hs.get("C", 1.0)), metrics=dict(hs.get("metrics") or {}),
            )
            try:
                head.check(n_f)
            except ValueError as exc:
                raise ModelFileError(f"head of species {t}: {exc}") from exc
            heads[t] = head
        extra = sorted(set(arrays) - expected)
        if extra:
            raise ModelFileError(f"unexpected arrays {extra} in a {cls.kind} model")
        return cls(
            desc, manifest["species"], heads, normalize_w=bool(params.get("normalize_w", False)),
            provenance=manifest.get("provenance") or {},
        )


@register_model
class SoftnessModel(LinearHeadsModel):
    """Per-species linear-SVM softness on a structure-function descriptor; output "softness"."""

    kind = "softness"
    output_name = OUTPUT_NAME
    _fit = staticmethod(_fit_head)

    def _output(self, decision: np.ndarray) -> np.ndarray:
        """Softness is the decision value itself."""
        return decision

    def native_tables(self, type_map: np.ndarray) -> dict[str, Any] | None:
        """Pair tables for the plugin's C++ path (radial structure functions only; else None)."""
        from glassfix.models.native import radial_quintic_tables

        return radial_quintic_tables(self, type_map)
