"""ACE activity classifier (Rottler & Ortner; seed 000 §5): standardised features → L2 logistic regression.

One head per centre species, like softness; the output ``activity`` is the predicted probability
P(active) = σ(((X − mean)/scale)·w + b) ∈ [0, 1] (0.5 on the decision boundary). Training: class-balanced
``LogisticRegression`` (lbfgs, L2, strength 1/C). The descriptor is usually ``ACEDescriptor``, but any
per-atom descriptor works. Model kind ``"ace-activity"`` (DESIGN.md §4); files of the older kind name ``"ace"``
(before it named only the descriptor) load as this kind.
"""

from __future__ import annotations

import warnings

import numpy as np

from glassfix.core.frame import Frame, NeighborList
from glassfix.descriptors.base import as_center_indices
from glassfix.models.base import register_model
from glassfix.models.softness import LinearHeadsModel, SoftnessHead, standardization

__all__ = ["ActivityModel"]


def _fit_logistic(X: np.ndarray, y: np.ndarray, C: float, seed: int, max_iter: int) -> tuple[SoftnessHead, bool]:
    """Standardise, fit a class-balanced L2 logistic regression; return the head and whether lbfgs converged."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    mean, scale = standardization(X)
    Z = (X - mean) / scale
    lr = LogisticRegression(C=C, class_weight="balanced", max_iter=min(int(max_iter), 10_000), random_state=seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        lr.fit(Z, y.astype(np.int64))
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return SoftnessHead(mean=mean, scale=scale, w=lr.coef_[0].copy(), b=float(lr.intercept_[0]), C=C), converged


@register_model
class ActivityModel(LinearHeadsModel):
    """Per-species logistic-regression classifier of rearranging ("active") atoms; output "activity"."""

    kind = "ace-activity"
    output_name = "activity"
    _fit = staticmethod(_fit_logistic)

    def predict(self, frame: Frame, centers: np.ndarray | None = None,
                neighbors: NeighborList | None = None) -> np.ndarray:
        """P(active) (n_centers, 1); with ACE invariants the standardised read-out runs inside the invariant
        kernel (one pass per centre, no feature matrix), equal to the generic path to round-off."""
        from glassfix.descriptors.ace import ACEDescriptor

        if type(self.descriptor) is not ACEDescriptor or self.descriptor.n_features == 0 or frame.dim != 3:
            return super().predict(frame, centers, neighbors)
        frame = self._in_model_species(frame)
        if neighbors is None:
            centers = as_center_indices(centers, frame.n_atoms)
        heads = {t: (h.mean, h.scale, h.w, h.b) for t, h in self.heads.items()}
        decision = self.descriptor.linear_decision(frame, heads, self.normalize_w, centers, neighbors)
        return self._output(decision)[:, None]

    def predict_local(self, positions: np.ndarray, types: np.ndarray, rows: np.ndarray,
                      offsets: np.ndarray | None, neighbors: np.ndarray | None) -> np.ndarray | None:
        """P(active) of ``rows`` from LAMMPS' explicit list, or from the positions alone when offsets is None
        (see :meth:`Predictor.predict_local`): the fused ACE kernel reads the positions itself (no pair-vector
        array); None for other descriptors or 2D."""
        if not self.bins_locally(positions.shape[1]):
            return None
        heads = {t: (h.mean, h.scale, h.w, h.b) for t, h in self.heads.items()}
        if offsets is None:
            decision = self.descriptor.linear_decision_binned(positions, types, rows, heads, self.normalize_w)
        else:
            decision = self.descriptor.linear_decision_explicit(positions, types, rows, offsets, neighbors, heads,
                                                                self.normalize_w)
        return self._output(decision)[:, None]

    def bins_locally(self, dim: int) -> bool:
        """True for ACE in 3D (the fused kernel sorts the atoms into cells itself)."""
        from glassfix.descriptors.ace import ACEDescriptor

        return type(self.descriptor) is ACEDescriptor and self.descriptor.n_features > 0 and dim == 3

    def _output(self, decision: np.ndarray) -> np.ndarray:
        """P(active) = σ(decision)."""
        from scipy.special import expit

        return expit(decision)
