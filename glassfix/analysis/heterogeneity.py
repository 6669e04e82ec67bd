"""Dynamic heterogeneity of per-particle propensities: Pearson ρ_P, the label-noise ceiling, χ4, S4 and ξ4.

Definitions follow Jung, Biroli & Berthier, PRB 109, 064205 (2024) (``shared/science/001_jung.md`` §5.7):

* ρ_P = cov(C_i, X_i) / sqrt(var C · var X) over the (type-1) particles of one configuration, averaged over
  configurations (primary number) and pooled over all particles of all configurations (both reported);
* split-half ceiling: the correlation r_½ between labels averaged over two disjoint halves of the replicas,
  stepped up to the full N_R by Spearman–Brown, R = 2 r_½ / (1 + r_½); a predictor of the noise-free
  propensity cannot correlate with the N_R-replica labels better than sqrt(R);
* χ4(t) = N1 (⟨C̄²⟩ − ⟨C̄⟩²) with C̄ the particle mean of one configuration and ⟨·⟩ over configurations;
* S4(q, t) = N1⁻¹ ⟨|Σ_i (C_i − ⟨C̄⟩) e^{i q·R_i}|²⟩ over the allowed q = 2π n / L, radially binned, and its
  Ornstein–Zernike fit S4 = χ̃4 / (1 + (qξ4)²) or the higher-order form χ̃4 / (1 + (qξ)² + A (qξ)³).

Units: lengths σ (positions, ξ4), wavenumbers 1/σ; ρ_P, χ4, S4 and A are dimensionless.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["pearson", "pearson_per_config", "split_half_ceiling", "chi4_from_means", "chi4_from_values",
           "allowed_wavevectors", "s4_radial", "OZFit", "fit_oz", "fit_s4_higher"]


def _pair(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"labels and predictions must have the same number of values, got {x.size} and {y.size}")
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep]


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation of two equal-length arrays (NaN pairs dropped); NaN when either is constant."""
    x, y = _pair(x, y)
    if x.size < 2:
        return float("nan")
    dx, dy = x - x.mean(), y - y.mean()
    den = np.sqrt((dx * dx).sum() * (dy * dy).sum())
    return float((dx * dy).sum() / den) if den > 0 else float("nan")


def pearson_per_config(labels: Sequence[np.ndarray], predictions: Sequence[np.ndarray]) -> dict[str, float]:
    """ρ_P per configuration (mean, standard error, count) and pooled over all particles, dimensionless.

    ``labels[k]``, ``predictions[k]``: the values of the particles of configuration k (any lengths).
    """
    if len(labels) != len(predictions) or not len(labels):
        raise ValueError(f"need one prediction array per label array (>= 1), got {len(labels)} and "
                         f"{len(predictions)}")
    per = np.array([pearson(a, b) for a, b in zip(labels, predictions)])
    ok = per[np.isfinite(per)]
    pooled = pearson(np.concatenate([np.ravel(a) for a in labels]),
                     np.concatenate([np.ravel(b) for b in predictions]))
    sem = float(ok.std(ddof=1) / np.sqrt(ok.size)) if ok.size > 1 else float("nan")
    return {"per_config": float(ok.mean()) if ok.size else float("nan"), "per_config_sem": sem,
            "n_configs": int(ok.size), "pooled": pooled, "values": per}


def split_half_ceiling(per_replica: Sequence[np.ndarray], n_splits: int = 20, seed: int = 0) -> dict[str, float]:
    """Split-half reliability of replica-averaged labels and the ceiling sqrt(R) on ρ_P, dimensionless.

    ``per_replica[k]``: (R, n) per-replica values (e.g. n_t/n_0 of each particle) of configuration k, R ≥ 2.
    For ``n_splits`` random halvings the two half-means are correlated per configuration (r_½, averaged);
    R = 2 r_½ / (1 + r_½) is the reliability of the full R-replica mean, sqrt(R) the ceiling of ρ_P.
    """
    rng = np.random.default_rng(seed)
    rs = []
    for reps in per_replica:
        reps = np.asarray(reps, dtype=np.float64)
        if reps.ndim != 2 or reps.shape[0] < 2:
            raise ValueError(f"per-replica values must be (R >= 2, n), got shape {reps.shape}")
        r = reps.shape[0]
        for _ in range(n_splits):
            perm = rng.permutation(r)
            a, b = perm[: r // 2], perm[r // 2: 2 * (r // 2)]
            rs.append(pearson(reps[a].mean(axis=0), reps[b].mean(axis=0)))
    rs_arr = np.asarray(rs)
    rs_arr = rs_arr[np.isfinite(rs_arr)]
    if not rs_arr.size:
        return {"r_half": float("nan"), "reliability": float("nan"), "ceiling": float("nan")}
    rh = float(rs_arr.mean())
    rel = 2 * rh / (1 + rh) if rh > -1 else float("nan")
    return {"r_half": rh, "reliability": rel, "ceiling": float(np.sqrt(rel)) if rel > 0 else 0.0}


def chi4_from_means(means: np.ndarray, n1: int) -> np.ndarray:
    """χ4 = N1 (⟨C̄²⟩ − ⟨C̄⟩²) from per-configuration particle means ``means`` (n_configs, ...), dimensionless.

    The variance is over axis 0 (population variance, ddof = 0), so any trailing axes (times) are kept.
    """
    m = np.asarray(means, dtype=np.float64)
    if m.shape[0] < 2:
        raise ValueError(f"χ4 needs at least 2 configurations to form a variance, got {m.shape[0]}")
    return float(n1) * m.var(axis=0)


def chi4_from_values(values: Sequence[np.ndarray]) -> float:
    """χ4 from per-particle values of each configuration (list of (n1,) arrays, equal n1), dimensionless."""
    n = {np.asarray(v).size for v in values}
    if len(n) != 1:
        raise ValueError(f"every configuration must have the same number of particles N1, got sizes {sorted(n)}")
    return float(chi4_from_means(np.array([np.nanmean(v) for v in values]), n.pop()))


def allowed_wavevectors(box: np.ndarray, q_max: float) -> np.ndarray:
    """Wavevectors q = 2π n / L (one of each ±q pair, q ≠ 0) with |q| ≤ ``q_max`` for an orthogonal box (1/σ)."""
    box = np.asarray(box, dtype=np.float64)
    dq = 2 * np.pi / box
    nmax = np.floor(q_max / dq).astype(int)
    axes = [np.arange(-m, m + 1) for m in nmax]
    n = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, box.size)
    # keep one of ±n: the first nonzero component positive
    first = np.array([row[np.flatnonzero(row)[0]] if row.any() else 0 for row in n])
    n = n[first > 0]
    q = n * dq
    return q[np.linalg.norm(q, axis=1) <= q_max * (1 + 1e-12)]


def s4_radial(positions: Sequence[np.ndarray], values: Sequence[np.ndarray], box: np.ndarray,
              mean: float | None = None, q_max: float = 2.0, dq: float | None = None,
              chunk: int = 256) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Radially binned S4(q) = N1⁻¹ ⟨|W(q)|²⟩ over configurations (dimensionless) at |q| ≤ q_max (1/σ).

    ``positions[k]`` (n1, d) and ``values[k]`` (n1,) of configuration k in an orthogonal ``box`` (d lengths,
    σ); ``mean``: the ensemble mean ⟨C̄⟩ subtracted from every value (default: the mean of all values).
    Bins of width ``dq`` (default 2π/L_min) start at 0; returns (bin-mean |q|, S4, number of q vectors).
    """
    box = np.asarray(box, dtype=np.float64)
    qv = allowed_wavevectors(box, q_max)
    if not qv.size:
        raise ValueError(f"no allowed wavevector below q_max={q_max} for box {box.tolist()}; raise q_max")
    if mean is None:
        mean = float(np.nanmean(np.concatenate([np.ravel(v) for v in values])))
    s = np.zeros(len(qv))
    for pos, val in zip(positions, values):
        pos = np.asarray(pos, dtype=np.float64)
        dv = np.asarray(val, dtype=np.float64) - mean
        keep = np.isfinite(dv)
        pos, dv = pos[keep], dv[keep]
        for a in range(0, len(qv), chunk):
            ph = pos @ qv[a:a + chunk].T  # (n1, chunk): vectorised, O(n1 · n_q)
            w = dv @ np.cos(ph) + 1j * (dv @ np.sin(ph))
            s[a:a + chunk] += np.abs(w) ** 2 / max(dv.size, 1)
    s /= len(positions)
    qn = np.linalg.norm(qv, axis=1)
    width = float(dq) if dq is not None else 2 * np.pi / float(box.max())
    b = np.floor(qn / width + 1e-9).astype(np.int64)
    cnt = np.bincount(b)
    nz = cnt > 0
    return np.bincount(b, weights=qn)[nz] / cnt[nz], np.bincount(b, weights=s)[nz] / cnt[nz], cnt[nz]


@dataclass(frozen=True)
class OZFit:
    """S4 fit: χ̃4 (dimensionless), ξ (σ), A (dimensionless; 0 for the plain OZ form), q-range (1/σ), points."""

    chi4: float
    xi: float
    A: float
    q_lo: float
    q_hi: float
    n_points: int


def _fit_window(q: np.ndarray, s4: np.ndarray, q_lo: float, q_hi: float) -> tuple[np.ndarray, np.ndarray]:
    q = np.asarray(q, dtype=np.float64)
    s4 = np.asarray(s4, dtype=np.float64)
    keep = (q >= q_lo) & (q <= q_hi) & np.isfinite(s4) & (s4 > 0)
    if keep.sum() < 2:
        raise ValueError(f"S4 fit needs >= 2 points with {q_lo} <= q <= {q_hi} (1/σ), got {int(keep.sum())}; "
                         f"widen the range or use a larger box (q_min = 2π/L)")
    return q[keep], s4[keep]


def fit_oz(q: np.ndarray, s4: np.ndarray, q_lo: float = 0.0, q_hi: float = 0.6) -> OZFit:
    """Ornstein–Zernike fit S4 = χ̃4 / (1 + (qξ)²) on q_lo ≤ q ≤ q_hi (1/σ): least squares in S4.

    Starts from the straight line 1/S4 = 1/χ̃4 + (ξ²/χ̃4) q², then refines with scipy's curve_fit.
    """
    from scipy.optimize import curve_fit

    qq, ss = _fit_window(q, s4, q_lo, q_hi)
    slope, icpt = np.polyfit(qq ** 2, 1.0 / ss, 1)
    chi0 = 1.0 / icpt if icpt > 0 else float(ss.max())
    xi0 = float(np.sqrt(max(slope * chi0, 1e-6)))
    f = lambda x, c, xi: c / (1 + (x * xi) ** 2)  # noqa: E731
    try:
        (c, xi), _ = curve_fit(f, qq, ss, p0=(chi0, xi0), maxfev=20000)
    except RuntimeError:
        c, xi = chi0, xi0
    return OZFit(float(c), float(abs(xi)), 0.0, float(qq.min()), float(qq.max()), int(qq.size))


def fit_s4_higher(q: np.ndarray, s4: np.ndarray, q_lo: float = 0.2, q_hi: float = 0.6) -> OZFit:
    """Higher-order fit S4 = χ̃4 / (1 + (qξ)² + A (qξ)³) on q_lo ≤ q ≤ q_hi (App. C of the paper; 1/σ)."""
    from scipy.optimize import curve_fit

    qq, ss = _fit_window(q, s4, q_lo, q_hi)
    if qq.size < 3:
        raise ValueError(f"the higher-order S4 fit has 3 parameters and needs >= 3 points in [{q_lo}, {q_hi}], "
                         f"got {qq.size}")
    oz = fit_oz(q, s4, q_lo, q_hi) if qq.size >= 2 else None
    f = lambda x, c, xi, a: c / (1 + (x * xi) ** 2 + a * np.abs(x * xi) ** 3)  # noqa: E731
    p0 = (oz.chi4, max(oz.xi, 0.1), 0.0) if oz else (float(ss.max()), 1.0, 0.0)
    (c, xi, a), _ = curve_fit(f, qq, ss, p0=p0, maxfev=50000)
    return OZFit(float(c), float(abs(xi)), float(a), float(qq.min()), float(qq.max()), int(qq.size))
