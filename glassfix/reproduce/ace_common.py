"""Classifier analysis shared by ``glassfix reproduce ace-thermal`` and ``ace-aqs`` (Rottler & Ortner, seed 000).

Standardisation + class-balanced L2 logistic regression (the ``ace-activity`` trainer's fit), scored by
balanced accuracy in stratified k-fold cross-validation grouped by configuration/sample, on the paper's
nested feature sets (A–A radial, + A–B radial, + 3-body, + 4-body), a shuffled-label control, and forward
feature selection for the first picks.
"""

from __future__ import annotations

import numpy as np

#: feature sets in the paper's order (the keys are the report's row names)
SET_NAMES = ("A1 (first feature)", "B1", "A–A radial (10)", "all 2-body (20)", "2 + 3-body",
             "2 + 3 + 4-body (all)")
SHUFFLED = "shuffled labels (all features)"


def grouped_cv_accuracy(X: np.ndarray, y: np.ndarray, groups: np.ndarray, folds: int, C: float, seed: int) -> float:
    """Mean balanced accuracy over stratified folds grouped by ``groups`` (scaler fitted per fold)."""
    from sklearn.model_selection import StratifiedGroupKFold

    cv = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return float(np.mean([_fold_score(X, y, tr, te, C, seed) for tr, te in cv.split(X, y, groups)]))


def _fold_score(X: np.ndarray, y: np.ndarray, tr: np.ndarray, te: np.ndarray, C: float, seed: int) -> float:
    """Balanced accuracy on rows ``te`` of the logistic regression (C) fitted on rows ``tr``."""
    from glassfix.models.activity import _fit_logistic
    from glassfix.train.metrics import classification_metrics

    head, _ = _fit_logistic(X[tr], y[tr], C, seed, 10_000)
    # the metric every trainer and 'glassfix evaluate' report (decision > 0 is P(active) > 0.5)
    return classification_metrics(y[te], head.decision(X[te]), 0.0)["balanced_accuracy"]


def nested_cv_accuracy(X: np.ndarray, y: np.ndarray, groups: np.ndarray, folds: int, Cs: tuple[float, ...],
                       seed: int) -> tuple[float, list[float]]:
    """Balanced accuracy with the regularisation tuned inside each fold (nested grouped CV): for every outer
    training part the C of ``Cs`` with the best inner grouped CV accuracy is refitted on the whole part and
    scored on the held-out groups. Returns (mean balanced accuracy, the C chosen per outer fold); ties go to
    the smaller C (the stronger regularisation)."""
    from sklearn.model_selection import StratifiedGroupKFold

    Cs = tuple(sorted(float(c) for c in Cs))
    cv = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    scores, chosen = [], []
    for tr, te in cv.split(X, y, groups):
        inner = min(folds, np.unique(groups[tr]).size)
        if inner < 2:
            raise ValueError(f"nested CV needs >= 2 groups in every training part, got {inner}; add samples")
        inner_acc = [grouped_cv_accuracy(X[tr], y[tr], groups[tr], inner, C, seed) for C in Cs]
        best = Cs[int(np.argmax(inner_acc))]
        scores.append(_fold_score(X, y, tr, te, best, seed))
        chosen.append(best)
    return float(np.mean(scores)), chosen


def feature_sets(body_orders: np.ndarray, n_max: int) -> dict[str, np.ndarray]:
    """Column indices of the nested feature sets; ``body_orders`` per column (2-body A–A radial first, then
    A–B radial, then 3- and 4-body, as ``ACEDescriptor`` orders them), ``n_max`` radial functions."""
    body = np.asarray(body_orders)
    cols = dict(zip(SET_NAMES, (np.array([0]), np.array([n_max]), np.arange(n_max), np.flatnonzero(body == 2),
                                np.flatnonzero(body <= 3), np.arange(body.size))))
    return cols


def accuracy_row(X: np.ndarray, y: np.ndarray, groups: np.ndarray, body_orders: np.ndarray, n_max: int,
                 folds: int, C: float, seed: int) -> dict[str, float]:
    """Grouped CV balanced accuracy of every nested feature set plus the shuffled-label control."""
    row = {name: grouped_cv_accuracy(X[:, cols], y, groups, folds, C, seed)
           for name, cols in feature_sets(body_orders, n_max).items()}
    shuffled = np.random.default_rng(seed).permutation(y)
    row[SHUFFLED] = grouped_cv_accuracy(X, shuffled, groups, folds, C, seed)
    return row


def forward_selection(X: np.ndarray, y: np.ndarray, groups: np.ndarray, k: int, folds: int, C: float,
                      seed: int, candidates: np.ndarray | None = None) -> tuple[list[int], list[float]]:
    """Greedy forward selection of ``k`` columns by grouped CV balanced accuracy (the paper's SFS, Fig. 5).

    ``candidates``: columns to choose from (default all). Returns the picked columns in order and the CV
    accuracy after each pick; ties go to the lower column index.
    """
    pool = list(range(X.shape[1])) if candidates is None else [int(c) for c in candidates]
    picked: list[int] = []
    scores: list[float] = []
    for _ in range(min(k, len(pool))):
        best, best_s = -1, -np.inf
        for c in pool:
            s = grouped_cv_accuracy(X[:, picked + [c]], y, groups, folds, C, seed)
            if s > best_s + 1e-12:
                best, best_s = c, s
        picked.append(best)
        scores.append(float(best_s))
        pool.remove(best)
    return picked, scores


def accuracy_bars(ax, acc: dict, names: list[str], label: str = "") -> None:
    """Grouped bars of balanced accuracy (dimensionless) per feature set (x) and r_cut (one bar colour each),
    with the chance line; the caller sets the axis label, limits and legend."""
    width = 0.8 / len(acc)
    for k, (rc, row) in enumerate(acc.items()):
        ax.bar(np.arange(len(names)) + k * width, [row[n] for n in names], width, label=f"{label}r_cut = {rc}")
    ax.axhline(0.5, color="k", lw=0.8, ls=":")
    ax.set_xticks(np.arange(len(names)) + 0.4 - width / 2, names, rotation=20, ha="right", fontsize=8)
