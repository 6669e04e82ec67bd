"""The metrics every trainer reports and ``glassfix evaluate`` computes (one implementation).

Classifiers (softness, ACE activity, looseness): accuracy, balanced accuracy (mean of the two recalls),
recall of the positive class, specificity, ROC AUC (from the continuous output), counts; and the same per
configuration (group) when asked. Regressors (BOTAN/NT-GNN propensity): Pearson and Spearman correlation
per configuration, then averaged (the papers' convention), plus the pooled values and the MSE.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = ["classification_metrics", "regression_metrics", "pearson", "spearman", "roc_curve_points"]


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation (nan if either side is constant or has < 2 values)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if a.size < 2:
        return float("nan")
    a = a - a.mean()
    b = b - b.mean()
    den = np.sqrt(np.dot(a, a) * np.dot(b, b))
    return float(np.dot(a, b) / den) if den > 0 else float("nan")


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    from scipy.stats import rankdata

    return pearson(rankdata(a), rankdata(b))


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC by the rank-sum (Mann–Whitney) formula; nan without both classes."""
    from scipy.stats import rankdata

    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    r = rankdata(score)
    return float((r[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def roc_curve_points(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false-positive rate, true-positive rate) along decreasing thresholds (for plots)."""
    y = np.asarray(y, bool)
    order = np.argsort(-np.asarray(score, np.float64), kind="stable")
    ys = y[order]
    tp = np.concatenate([[0], np.cumsum(ys)])
    fp = np.concatenate([[0], np.cumsum(~ys)])
    return fp / max(1, int((~y).sum())), tp / max(1, int(y.sum()))


def classification_metrics(y: np.ndarray, score: np.ndarray, threshold: float,
                           groups: Sequence[Any] | None = None) -> dict[str, Any]:
    """Metrics of a binary classifier: y (n,) bool truth, score (n,) continuous output, positive if
    score > threshold; ``groups`` (n,) adds the balanced accuracy per configuration."""
    y = np.asarray(y, bool)
    score = np.asarray(score, np.float64)
    ok = np.isfinite(score)
    y, score = y[ok], score[ok]
    pred = score > threshold
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    tpr = float((pred & y).sum() / n_pos) if n_pos else float("nan")
    tnr = float((~pred & ~y).sum() / n_neg) if n_neg else float("nan")
    out: dict[str, Any] = {
        "n": int(y.size), "n_positive": n_pos, "n_negative": n_neg, "n_undefined_output": int((~ok).sum()),
        "threshold": float(threshold),
        "accuracy": float((pred == y).mean()) if y.size else float("nan"),
        "balanced_accuracy": 0.5 * (tpr + tnr),
        "recall_positive": tpr, "specificity": tnr,
        "auc": _auc(y, score),
        "fraction_predicted_positive": float(pred.mean()) if y.size else float("nan"),
    }
    if groups is not None:
        g = np.asarray(groups, dtype=object)[ok]
        per = {}
        for name in sorted(set(g.tolist()), key=str):
            m = g == name
            yy, pp = y[m], pred[m]
            r1 = (pp & yy).sum() / yy.sum() if yy.any() else np.nan
            r0 = (~pp & ~yy).sum() / (~yy).sum() if (~yy).any() else np.nan
            per[str(name)] = {"n": int(m.sum()), "balanced_accuracy": float(0.5 * (r1 + r0)),
                              "auc": _auc(yy, score[m])}
        out["per_configuration"] = per
    return out


def regression_metrics(target: np.ndarray, pred: np.ndarray, groups: Sequence[Any] | None = None) -> dict[str, Any]:
    """Pearson/Spearman per configuration (averaged) and pooled, and the mean squared error."""
    t = np.asarray(target, np.float64)
    p = np.asarray(pred, np.float64)
    ok = np.isfinite(t) & np.isfinite(p)
    t, p = t[ok], p[ok]
    out: dict[str, Any] = {"n": int(t.size), "mse": float(np.mean((p - t) ** 2)) if t.size else float("nan"),
                           "pearson_pooled": pearson(t, p),
                           "spearman_pooled": spearman(t, p) if t.size else float("nan")}
    if groups is not None:
        g = np.asarray(groups, dtype=object)[ok]
        per = {str(n): {"n": int((g == n).sum()), "pearson": pearson(t[g == n], p[g == n]),
                        "spearman": spearman(t[g == n], p[g == n])} for n in sorted(set(g.tolist()), key=str)}
        out["per_configuration"] = per
        vals = [v["pearson"] for v in per.values() if np.isfinite(v["pearson"])]
        out["pearson"] = float(np.mean(vals)) if vals else float("nan")
        vals = [v["spearman"] for v in per.values() if np.isfinite(v["spearman"])]
        out["spearman"] = float(np.mean(vals)) if vals else float("nan")
    return out
