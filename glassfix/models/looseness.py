"""Looseness (Wu & Ruiz Pestana 2023; seed 003 §4.4): EasyEnsemble of logistic regressions on selected
interstice features.

L_i = (1/K) Σ_k σ(z_i · w_k + b_k) ∈ [0, 1], z_i the standardised selected features of atom i and
(w_k, b_k) the K = 10 logistic regressions (C = 1) of imbalanced-learn's ``EasyEnsembleClassifier``,
each fitted on a random-undersampled balanced bootstrap. Predictions for the centre species the model
was trained on (A in the paper); other species get NaN. Model kind ``"looseness"``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from glassfix.descriptors.base import Descriptor
from glassfix.models.base import Predictor, descriptor_from_manifest, register_model
from glassfix.models.io import ModelFileError
from glassfix.models.softness import balanced_accuracy, standardization

__all__ = ["LoosenessModel", "select_features_rfe"]

OUTPUT_NAME = "looseness"


@register_model
class LoosenessModel(Predictor):
    """EasyEnsemble-of-logistic-regressions probability of being "loose" (rearranging); output "looseness"."""

    kind = "looseness"

    def __init__(self, descriptor: Descriptor, species: Sequence[str], feature_index: np.ndarray,
                 mean: np.ndarray, scale: np.ndarray, weights: np.ndarray, biases: np.ndarray,
                 center_types: Sequence[int] = (0,), metrics: dict[str, Any] | None = None,
                 provenance: dict[str, Any] | None = None) -> None:
        """feature_index: selected descriptor columns (m,); mean/scale (m,); weights (K, m); biases (K,)."""
        super().__init__(descriptor, species, [OUTPUT_NAME], provenance)
        self.feature_index = np.asarray(feature_index, dtype=np.int64)
        m = self.feature_index.size
        if m == 0 or self.feature_index.min() < 0 or self.feature_index.max() >= descriptor.n_features:
            raise ValueError(f"feature_index must select columns of the {descriptor.n_features} descriptor features")
        self.mean = np.asarray(mean, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)
        self.weights = np.atleast_2d(np.asarray(weights, dtype=np.float64))
        self.biases = np.atleast_1d(np.asarray(biases, dtype=np.float64))
        if self.mean.shape != (m,) or self.scale.shape != (m,) or self.weights.shape[1:] != (m,) \
                or self.biases.shape != (self.weights.shape[0],):
            raise ValueError(f"inconsistent shapes: {m} features, mean {self.mean.shape}, scale {self.scale.shape}, "
                             f"weights {self.weights.shape}, biases {self.biases.shape}")
        if not (np.isfinite(self.mean).all() and np.isfinite(self.weights).all() and np.isfinite(self.biases).all()
                and np.all(self.scale > 0)):
            raise ValueError("non-finite parameters or non-positive scales")
        self.center_types = sorted({int(t) for t in center_types})
        if not self.center_types or min(self.center_types) < 0 or max(self.center_types) >= len(self.species):
            raise ValueError(f"center_types {self.center_types} outside the model's {len(self.species)} species")
        self.metrics = dict(metrics or {})

    # ---- training ---------------------------------------------------------------------------------

    @classmethod
    def train(cls, descriptor: Descriptor, X: np.ndarray, y: np.ndarray, feature_index: Sequence[int] | None = None,
              n_learners: int = 10, C: float = 1.0, seed: int = 0, center_types: Sequence[int] = (0,),
              species: Sequence[str] | None = None, provenance: dict[str, Any] | None = None) -> "LoosenessModel":
        """Fit on descriptor rows X (n, n_features) of the centre species and labels y (True = loose).

        The scaler is fitted on the training rows; ``feature_index`` (default all columns) selects the
        features (e.g. the paper's top 10 from :func:`select_features_rfe`).
        """
        from imblearn.ensemble import EasyEnsembleClassifier
        from sklearn.linear_model import LogisticRegression

        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y).astype(bool)
        if X.ndim != 2 or X.shape[1] != descriptor.n_features or X.shape[0] != y.shape[0]:
            raise ValueError(f"X must be (n, {descriptor.n_features}) with one label per row; got {X.shape}, {y.shape}")
        if not np.isfinite(X).all():
            raise ValueError("X contains non-finite features")
        if y.all() or not y.any():
            raise ValueError("training needs both classes")
        idx = np.arange(X.shape[1]) if feature_index is None else np.asarray(feature_index, dtype=np.int64)
        Xs = X[:, idx]
        mean, scale = standardization(Xs)
        Z = (Xs - mean) / scale
        ee = EasyEnsembleClassifier(n_estimators=int(n_learners), estimator=LogisticRegression(C=C, max_iter=10_000),
                                    random_state=seed)
        ee.fit(Z, y.astype(np.int64))
        lrs = [est.steps[-1][1] if hasattr(est, "steps") else est for est in ee.estimators_]
        W = np.stack([lr.coef_[0] for lr in lrs])
        b = np.array([float(lr.intercept_[0]) for lr in lrs])
        if species is None:
            species = getattr(descriptor, "species_names", None) or [str(t) for t in range(descriptor.n_species)]
        model = cls(descriptor, species, idx, mean, scale, W, b, center_types=center_types, provenance=provenance)
        L = model.looseness(X)
        model.metrics = {"n_train": int(y.size), "n_loose": int(y.sum()), "C": float(C), "n_learners": int(n_learners),
                         "train_balanced_accuracy": balanced_accuracy(y, L > 0.5)}
        return model

    # ---- prediction -------------------------------------------------------------------------------

    def looseness(self, X: np.ndarray) -> np.ndarray:
        """L (n,) for descriptor rows X (n, n_features): the ensemble mean of the learners' probabilities."""
        from scipy.special import expit

        Z = (np.asarray(X, dtype=np.float64)[:, self.feature_index] - self.mean) / self.scale
        return expit(Z @ self.weights.T + self.biases).mean(axis=1)

    def predict_features(self, X: np.ndarray, center_types: np.ndarray) -> np.ndarray:
        """Looseness (n, 1); NaN for centre species the model was not trained on."""
        out = np.full((X.shape[0], 1), np.nan)
        rows = np.flatnonzero(np.isin(center_types, self.center_types))
        if rows.size:
            out[rows, 0] = self.looseness(X[rows])
        return out

    # ---- persistence ------------------------------------------------------------------------------

    def params(self) -> dict[str, Any]:
        """Centre species, ensemble size and training metrics."""
        return {"center_types": self.center_types, "n_learners": int(self.weights.shape[0]), "metrics": self.metrics}

    def arrays(self) -> dict[str, np.ndarray]:
        """feature_index, mean, scale, weights (K, m), biases (K,)."""
        return {"feature_index": self.feature_index, "mean": self.mean, "scale": self.scale,
                "weights": self.weights, "biases": self.biases}

    @classmethod
    def from_file_contents(cls, manifest: dict[str, Any], arrays: dict[str, np.ndarray]) -> "LoosenessModel":
        """Rebuild and validate against the descriptor."""
        desc = descriptor_from_manifest(manifest)
        if manifest["outputs"] != [OUTPUT_NAME]:
            raise ModelFileError(f"looseness model outputs must be [{OUTPUT_NAME!r}], got {manifest['outputs']}")
        want = {"feature_index", "mean", "scale", "weights", "biases"}
        if set(arrays) != want:
            raise ModelFileError(f"a looseness model holds the arrays {sorted(want)}, got {sorted(arrays)}")
        p = manifest["params"]
        try:
            return cls(desc, manifest["species"], arrays["feature_index"], arrays["mean"], arrays["scale"],
                       arrays["weights"], arrays["biases"], center_types=p.get("center_types", [0]),
                       metrics=p.get("metrics"), provenance=manifest.get("provenance") or {})
        except ValueError as exc:
            raise ModelFileError(str(exc)) from exc


def _rfe_ranking(Xb: np.ndarray, yb: np.ndarray, random_state: int, step: int) -> np.ndarray:
    """RFE ranking (1 = kept last) of one standardised balanced bootstrap."""
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.feature_selection import RFE

    mean, scale = standardization(Xb)
    rfe = RFE(GradientBoostingClassifier(random_state=random_state), n_features_to_select=1, step=int(step))
    rfe.fit((Xb - mean) / scale, yb)
    return rfe.ranking_


def select_features_rfe(X: np.ndarray, y: np.ndarray, n_bootstrap: int = 5, seed: int = 0,
                        per_class: int | None = None, step: int = 1, n_jobs: int = 1) -> np.ndarray:
    """Feature ranking (best first) by recursive feature elimination with a gradient-boosting classifier on
    ``n_bootstrap`` balanced undersampled bootstraps (seed 003 Task 2), ranks averaged over bootstraps;
    ``step`` features are removed per elimination round (1: a full ranking; larger: ties within a round).
    ``n_jobs`` processes fit the bootstraps (the ranking does not depend on it)."""
    from joblib import Parallel, delayed

    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y).astype(bool)
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
    k = min(pos.size, neg.size) if per_class is None else min(per_class, pos.size, neg.size)
    # the bootstraps are drawn here, in order, so that every n_jobs sees the same rows
    boots = [np.concatenate([rng.choice(pos, k, replace=False), rng.choice(neg, k, replace=False)])
             for _ in range(int(n_bootstrap))]
    runs = Parallel(n_jobs=max(1, int(n_jobs)))(delayed(_rfe_ranking)(X[rows], y[rows], seed + b, step)
                                                for b, rows in enumerate(boots))
    ranks = np.sum(runs, axis=0) if runs else np.zeros(X.shape[1])
    return np.argsort(ranks, kind="stable")
