"""Looseness statistics of Wu & Ruiz Pestana (``shared/science/003_creep.md`` §3.3, §5).

- :func:`loose_given_l`: p(1 | L), the fraction of particle-snapshots with looseness in a bin that are
  loose, with counts and binomial errors, and its exponential fit ln p = a + k·L (the paper's Fig. 6C).
- :func:`l_distributions`: p(L) of all, loose and tight particles (probability densities).
- :func:`spatial_autocorrelation`: SACF_L(r) over pairs within ``r_max`` (periodic, cell-list search),
  normalised by the variance of L, and :func:`decay_length` (exponential fit and 1/e crossing).
- :func:`temporal_autocorrelation`: TACF of every particle's L across snapshots, with the drop over the
  first interval, the 1/e lag, the zero crossing and the negative lobe.
- :func:`series_trends`: ⟨L⟩(t) and ⟨ε⟩(t) against ln t (slopes with errors) and their Pearson r.
- :func:`label_scan`: the (Δt, D0) scan of Task 1: loose fraction and 5-fold balanced accuracy of a
  logistic regression on balanced undersampled bootstraps of min(available, per_class) examples per class.
- :func:`hill_exponent`: the power-law tail exponent of D²min (PDF ∝ x^−α above x_min).
- :func:`voxel_fluctuations`: ΔL*(N), the RMS deviation of voxel means of L from the system mean.
- :func:`voxel_field` and :func:`crossing_times`: L on n³ voxels of the unit cube (the paper's TACF field)
  and each voxel's first zero crossing of its own TACF (the paper's t_c).

Units: L dimensionless in [0, 1]; lengths in σ_AA; lags in snapshots (the caller converts to MD steps);
D²min and D0 in σ²; strain dimensionless; t in τ or steps (only ln t enters).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from .softness_stats import PRofS, linear_fit, rearrangement_probability

__all__ = ["loose_given_l", "ExpFit", "fit_exponential", "l_distributions", "SACF", "spatial_autocorrelation",
           "decay_length", "TACF", "temporal_autocorrelation", "SeriesTrends", "series_trends", "LabelScan",
           "label_scan", "hill_exponent", "voxel_fluctuations", "voxel_field", "crossing_times"]


def loose_given_l(L: np.ndarray, loose: np.ndarray, edges: Sequence[float] | np.ndarray) -> PRofS:
    """p(1 | L) on bins of L (dimensionless): counts ``n``, loose ``n_r``, ``p`` and binomial ``err``."""
    return rearrangement_probability(L, loose, edges)


@dataclass
class ExpFit:
    """ln p = ``a`` + ``k``·L fitted over ``n_bins`` bins with loose entries; ``r2`` of ln p."""

    a: float
    k: float
    a_err: float
    k_err: float
    r2: float
    n_bins: int


def fit_exponential(res: PRofS, min_loose: int = 1) -> ExpFit:
    """Weighted fit of ln p(1|L) = a + k·L over bins with ≥ ``min_loose`` loose entries (σ_ln p = err/p)."""
    ok = (res.n_r >= max(1, min_loose)) & np.isfinite(res.p) & (res.p > 0)
    if ok.sum() < 3:
        nan = float("nan")
        return ExpFit(nan, nan, nan, nan, nan, int(ok.sum()))
    x, y = res.centers[ok], np.log(res.p[ok])
    sig = res.err[ok] / res.p[ok]
    a, k, sa, sk = linear_fit(x, y, sig)
    sst = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum((y - a - k * x) ** 2)) / sst if sst > 0 else float("nan")
    return ExpFit(a, k, sa, sk, r2, int(ok.sum()))


def l_distributions(L: np.ndarray, loose: np.ndarray, edges: Sequence[float] | np.ndarray) -> dict[str, np.ndarray]:
    """Probability densities of L (per unit L) for ``all``, ``loose`` and ``tight`` entries on ``edges``
    (each normalised over its own entries inside the edges; zeros when a class is empty)."""
    L = np.asarray(L, float).ravel()
    y = np.asarray(loose, bool).ravel()
    e = np.asarray(edges, float)
    out = {"edges": e}
    for name, sel in (("all", np.ones_like(y)), ("loose", y), ("tight", ~y)):
        h, _ = np.histogram(L[sel], bins=e)
        tot = h.sum()
        out[name] = h / (tot * np.diff(e)) if tot else np.zeros(e.size - 1)
    return out


# ---- spatial autocorrelation -----------------------------------------------------------------------

@dataclass
class SACF:
    """SACF_L(r) = ⟨δL_i δL_j⟩_{pairs at r} / ⟨δL²⟩ on bins ``edges`` (σ); ``r`` mean pair distance per
    bin, ``c`` the normalised correlation (NaN in empty bins), ``err`` its pair-count standard error
    (1/sqrt(pairs), the uncorrelated-noise level), ``pairs`` the ordered pair counts per bin."""

    edges: np.ndarray
    r: np.ndarray
    c: np.ndarray
    err: np.ndarray
    pairs: np.ndarray


def spatial_autocorrelation(snapshots: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], r_max: float,
                            n_bins: int = 40) -> SACF:
    """SACF of a per-particle field pooled over snapshots (positions (n, 3) σ, cell (3, 3) rows = box
    vectors σ, values (n,)); δL = L − snapshot mean; pairs within ``r_max`` from a periodic cell list."""
    from glassfix.core.frame import Frame
    from glassfix.core.neighbors import neighbor_list

    edges = np.linspace(0.0, r_max, n_bins + 1)
    s_prod = np.zeros(n_bins)
    s_r = np.zeros(n_bins)
    cnt = np.zeros(n_bins, np.int64)
    var_sum, var_n = 0.0, 0
    for pos, cell, vals in snapshots:
        v = np.asarray(vals, float)
        d = v - v.mean()
        var_sum += float(np.sum(d * d))
        var_n += d.size
        fr = Frame(positions=np.asarray(pos, float), types=np.zeros(len(v), np.int64), cell=np.asarray(cell, float))
        nl = neighbor_list(fr, r_max)
        ci = np.repeat(nl.centers, np.diff(nl.offsets))
        r = np.linalg.norm(nl.vectors, axis=1)
        b = np.minimum((r / r_max * n_bins).astype(np.int64), n_bins - 1)
        s_prod += np.bincount(b, weights=d[ci] * d[nl.neighbors], minlength=n_bins)
        s_r += np.bincount(b, weights=r, minlength=n_bins)
        cnt += np.bincount(b, minlength=n_bins)
    var = var_sum / max(var_n, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.where(cnt > 0, s_prod / np.maximum(cnt, 1) / var, np.nan)
        rr = np.where(cnt > 0, s_r / np.maximum(cnt, 1), 0.5 * (edges[:-1] + edges[1:]))
        err = np.where(cnt > 0, 1.0 / np.sqrt(np.maximum(cnt, 1)), np.nan)
    return SACF(edges, rr, c, err, cnt)


def decay_length(r: np.ndarray, c: np.ndarray, floor: float = 0.05) -> dict[str, float]:
    """Decay of a correlation c(r) (lengths as r): ``xi`` and ``amplitude`` of c = A·exp(−r/ξ) fitted to
    ln c over the bins before c first falls below ``floor``; ``r_e`` where c first crosses 1/e (linear
    interpolation; NaN if it never does or starts below); ``n_fit`` bins fitted."""
    r = np.asarray(r, float)
    c = np.asarray(c, float)
    ok = np.isfinite(c)
    r, c = r[ok], c[ok]
    below = np.flatnonzero(c < floor)
    stop = below[0] if below.size else c.size
    nan = float("nan")
    out = {"xi": nan, "xi_err": nan, "amplitude": nan, "r_e": nan, "n_fit": int(stop)}
    if stop >= 2:
        a, k, _, sk = linear_fit(r[:stop], np.log(c[:stop]))
        if k < 0:
            out.update(xi=-1.0 / k, xi_err=abs(sk) / k ** 2 if np.isfinite(sk) else nan, amplitude=float(np.exp(a)))
    cross = np.flatnonzero(c < np.exp(-1.0))
    if cross.size and cross[0] > 0:
        i = cross[0]
        t = (c[i - 1] - np.exp(-1.0)) / (c[i - 1] - c[i])
        out["r_e"] = float(r[i - 1] + t * (r[i] - r[i - 1]))
    return out


# ---- temporal autocorrelation ----------------------------------------------------------------------

@dataclass
class TACF:
    """TACF(k) = ⟨δL_i(t) δL_i(t+k)⟩_{i,t} / ⟨δL²⟩ for lags k = 0..K snapshots; δL = L − mean of the
    snapshot. ``pairs`` counts (i, t) per lag; ``first_drop`` = 1 − TACF(1); ``lag_e`` the first lag
    with TACF(k) < TACF(1)/e (decay after the first-interval drop; NaN if none); ``zero_lag`` the first
    lag ≤ 0 (NaN if none); ``minimum`` and ``min_lag`` the most negative value after the crossing."""

    lags: np.ndarray
    c: np.ndarray
    pairs: np.ndarray
    first_drop: float
    lag_e: float
    zero_lag: float
    minimum: float
    min_lag: float


def temporal_autocorrelation(series: Sequence[np.ndarray], max_lag: int) -> TACF:
    """Per-particle (or per-voxel) TACF pooled over runs; each element of ``series`` is (S snapshots, n sites)
    for the same sites in snapshot order; NaN entries (empty voxels) are left out of every sum."""
    K = int(max_lag)
    num = np.zeros(K + 1)
    cnt = np.zeros(K + 1, np.int64)
    var_sum, var_n = 0.0, 0
    for s in series:
        x = np.asarray(s, float)
        ok = np.isfinite(x)
        with np.errstate(invalid="ignore"):
            d = np.where(ok, x - np.nanmean(np.where(ok, x, np.nan), axis=1, keepdims=True), 0.0)
        d = np.where(ok, d, 0.0)
        var_sum += float(np.sum(d * d))
        var_n += int(ok.sum())
        for k in range(min(K, d.shape[0] - 1) + 1):
            num[k] += float(np.sum(d[: d.shape[0] - k] * d[k:]))
            cnt[k] += int(np.sum(ok[: d.shape[0] - k] & ok[k:]))
    var = var_sum / max(var_n, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.where(cnt > 0, num / np.maximum(cnt, 1) / var, np.nan)
    nan = float("nan")
    lags = np.arange(K + 1)
    first = float(1.0 - c[1]) if K >= 1 and np.isfinite(c[1]) else nan
    lag_e = zero = mn = mnl = nan
    if K >= 2 and np.isfinite(c[1]) and c[1] > 0:
        e = np.flatnonzero(np.isfinite(c[1:]) & (c[1:] < c[1] / np.e))
        lag_e = float(e[0] + 1) if e.size else nan
    z = np.flatnonzero(np.isfinite(c) & (c <= 0))
    if z.size:
        zero = float(z[0])
        tail = c[z[0]:]
        j = int(np.nanargmin(tail))
        mn, mnl = float(tail[j]), float(z[0] + j)
    return TACF(lags, c, cnt, first, lag_e, zero, mn, mnl)


# ---- time series -----------------------------------------------------------------------------------

@dataclass
class SeriesTrends:
    """Slopes of ⟨L⟩ and ⟨ε⟩ against ln t (per unit ln t, with standard errors from the scatter), the
    Pearson r between ⟨L⟩ and ⟨ε⟩ over the ``n`` times used, and ⟨L⟩'s R² against ln t."""

    slope_L: float
    slope_L_err: float
    slope_eps: float
    slope_eps_err: float
    pearson: float
    r2_L: float
    n: int


def series_trends(t: np.ndarray, mean_L: np.ndarray, mean_eps: np.ndarray) -> SeriesTrends:
    """⟨L⟩(t) and ⟨ε⟩(t) against ln t over the times t > 0 (t in any unit)."""
    t = np.asarray(t, float)
    L = np.asarray(mean_L, float)
    e = np.asarray(mean_eps, float)
    ok = (t > 0) & np.isfinite(L) & np.isfinite(e)
    nan = float("nan")
    if ok.sum() < 3:
        return SeriesTrends(nan, nan, nan, nan, nan, nan, int(ok.sum()))
    x = np.log(t[ok])
    aL, bL, _, sL = linear_fit(x, L[ok])
    _, bE, _, sE = linear_fit(x, e[ok])
    sst = float(np.sum((L[ok] - L[ok].mean()) ** 2))
    r2 = 1.0 - float(np.sum((L[ok] - aL - bL * x) ** 2)) / sst if sst > 0 else nan
    r = float(np.corrcoef(L[ok], e[ok])[0, 1]) if np.std(L[ok]) > 0 and np.std(e[ok]) > 0 else nan
    return SeriesTrends(bL, sL, bE, sE, r, r2, int(ok.sum()))


# ---- Task 1 label scan ----------------------------------------------------------------------------

@dataclass
class LabelScan:
    """Per (lag, D0): ``n`` labelled rows, ``n_loose``, ``fraction`` loose, ``per_class`` examples per class
    in each bootstrap, and the 5-fold CV ``bacc`` (balanced accuracy), ``acc_loose``, ``acc_tight`` as
    mean and ``*_std`` over bootstraps (NaN where a class has fewer than ``min_per_class`` rows). Arrays
    have shape (len(lags), len(d0s))."""

    lags: list
    d0s: list
    n: np.ndarray
    n_loose: np.ndarray
    fraction: np.ndarray
    per_class: np.ndarray
    bacc: np.ndarray
    bacc_std: np.ndarray
    acc_loose: np.ndarray
    acc_loose_std: np.ndarray
    acc_tight: np.ndarray
    acc_tight_std: np.ndarray


def label_scan(features: Mapping[int, np.ndarray], d2min: Mapping[int, np.ndarray], d0s: Sequence[float],
               per_class: int = 1285, n_bootstrap: int = 5, folds: int = 5, C: float = 1.0, seed: int = 0,
               min_per_class: int = 10) -> LabelScan:
    """Task 1: for each lag (key of both mappings: rows X (n, f) at t0 and D²min (n,) in σ² over that
    lag) and each D0: loose = D²min > D0; ``n_bootstrap`` balanced undersamples of min(available
    minority, ``per_class``) per class; standardised logistic regression (C) scored by stratified
    ``folds``-fold CV (per-class accuracies and their mean, the balanced accuracy)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    lags = sorted(features)
    shape = (len(lags), len(d0s))
    res = {k: np.full(shape, np.nan) for k in ("bacc", "bacc_std", "acc_loose", "acc_loose_std", "acc_tight",
                                                "acc_tight_std", "fraction")}
    n_arr = np.zeros(shape, np.int64)
    nl_arr = np.zeros(shape, np.int64)
    pc_arr = np.zeros(shape, np.int64)
    rng = np.random.default_rng(seed)
    for a, lag in enumerate(lags):
        X = np.asarray(features[lag], float)
        d2 = np.asarray(d2min[lag], float)
        if X.shape[0] != d2.shape[0]:
            raise ValueError(f"lag {lag}: {X.shape[0]} feature rows but {d2.shape[0]} D²min values")
        for b, d0 in enumerate(d0s):
            y = d2 > d0
            n_arr[a, b], nl_arr[a, b] = y.size, int(y.sum())
            res["fraction"][a, b] = y.mean() if y.size else np.nan
            m = min(int(y.sum()), int((~y).sum()), int(per_class))
            pc_arr[a, b] = m
            if m < max(min_per_class, folds):
                continue
            pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
            scores = []
            for _ in range(n_bootstrap):
                idx = np.concatenate([rng.choice(pos, m, replace=False), rng.choice(neg, m, replace=False)])
                yy = y[idx]
                model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=5000))
                cv = StratifiedKFold(folds, shuffle=True, random_state=int(rng.integers(2 ** 31)))
                pred = cross_val_predict(model, X[idx], yy, cv=cv)
                al, at = float((pred[yy]).mean()), float((~pred[~yy]).mean())
                scores.append((0.5 * (al + at), al, at))
            s = np.array(scores)
            for j, key in enumerate(("bacc", "acc_loose", "acc_tight")):
                res[key][a, b] = s[:, j].mean()
                res[key + "_std"][a, b] = s[:, j].std(ddof=1) if len(s) > 1 else 0.0
    return LabelScan(list(lags), list(d0s), n_arr, nl_arr, res["fraction"], pc_arr, res["bacc"], res["bacc_std"],
                     res["acc_loose"], res["acc_loose_std"], res["acc_tight"], res["acc_tight_std"])


# ---- tails and fluctuations -----------------------------------------------------------------------

def hill_exponent(x: np.ndarray, x_min: float) -> tuple[float, float, int]:
    """Maximum-likelihood exponent α of a PDF ∝ x^−α above ``x_min`` (units of x): (α, its standard error
    (α − 1)/sqrt(n), n values above x_min); NaN with fewer than 5 values."""
    v = np.asarray(x, float)
    v = v[np.isfinite(v) & (v > x_min)]
    if v.size < 5:
        return float("nan"), float("nan"), int(v.size)
    alpha = 1.0 + v.size / float(np.sum(np.log(v / x_min)))
    return float(alpha), float((alpha - 1.0) / np.sqrt(v.size)), int(v.size)


def voxel_field(fractional: np.ndarray, values: np.ndarray, side: int) -> np.ndarray:
    """Voxel means (S, side³) of per-particle values (S, n) at fractional positions (S, n, 3) in the unit
    cube of each snapshot (the paper's fixed reference frame of a deforming box); NaN in empty voxels."""
    f = np.asarray(fractional, float)
    v = np.asarray(values, float)
    n3 = side ** 3
    ijk = np.clip((f % 1.0 * side).astype(np.int64), 0, side - 1)
    lin = (ijk[..., 0] * side + ijk[..., 1]) * side + ijk[..., 2] + n3 * np.arange(f.shape[0])[:, None]
    c = np.bincount(lin.ravel(), minlength=n3 * f.shape[0]).reshape(f.shape[0], n3)
    s = np.bincount(lin.ravel(), weights=v.ravel(), minlength=n3 * f.shape[0]).reshape(f.shape[0], n3)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(c > 0, s / np.maximum(c, 1), np.nan)


def crossing_times(field: np.ndarray, max_lag: int) -> np.ndarray:
    """Per site (column of ``field`` (S, n)), the first lag k ≥ 1 (snapshots) at which its own normalised
    autocorrelation Σ_t δ(t)δ(t+k) / Σ_t δ² (δ about the site's mean, NaN entries left out) is ≤ 0;
    NaN for sites that do not cross within ``max_lag`` or have no variance."""
    x = np.asarray(field, float)
    ok = np.isfinite(x)
    with np.errstate(invalid="ignore"):
        d = np.where(ok, x - np.nanmean(np.where(ok, x, np.nan), axis=0), 0.0)
    d = np.where(ok, d, 0.0)
    var = np.sum(d * d, axis=0)
    out = np.full(x.shape[1], np.nan)
    for k in range(1, min(int(max_lag), x.shape[0] - 1) + 1):
        ck = np.sum(d[:-k] * d[k:], axis=0)
        new = np.isnan(out) & (var > 0) & (ck <= 0)
        out[new] = k
    return out


def voxel_fluctuations(snapshots: Sequence[tuple[np.ndarray, np.ndarray]], sides: Sequence[int]
                       ) -> dict[str, np.ndarray]:
    """ΔL*(N): for n³ voxels of the unit cube (per side n in ``sides``) the RMS deviation of the voxel
    means of L from the snapshot mean, over non-empty voxels and snapshots (fractional positions (m, 3)
    in [0, 1), values (m,)); ``n_per_voxel`` the mean occupancy; with ``slope`` of log ΔL* against log N
    (−1/2 for uncorrelated values)."""
    dl, npv = [], []
    for n in sides:
        sq, cnt, occ = 0.0, 0, []
        for frac, vals in snapshots:
            v = np.asarray(vals, float)
            ijk = np.clip((np.asarray(frac, float) % 1.0 * n).astype(np.int64), 0, n - 1)
            lin = (ijk[:, 0] * n + ijk[:, 1]) * n + ijk[:, 2]
            c = np.bincount(lin, minlength=n ** 3)
            s = np.bincount(lin, weights=v, minlength=n ** 3)
            ok = c > 0
            dev = s[ok] / c[ok] - v.mean()
            sq += float(np.sum(dev ** 2))
            cnt += int(ok.sum())
            occ.append(v.size / ok.sum())
        dl.append(np.sqrt(sq / max(cnt, 1)))
        npv.append(float(np.mean(occ)))
    dl, npv = np.array(dl), np.array(npv)
    ok = (dl > 0) & np.isfinite(dl)
    slope = linear_fit(np.log(npv[ok]), np.log(dl[ok]))[1] if ok.sum() >= 2 else float("nan")
    return {"sides": np.asarray(sides), "n_per_voxel": npv, "dL": dl, "slope": np.float64(slope)}
