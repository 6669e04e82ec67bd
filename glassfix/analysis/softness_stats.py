"""Softness statistics of Cubuk/Schoenholz (``shared/science/002_cubuk.md`` §4.3, ch. 5–6).

- :func:`fraction_positive`: the fraction of rearranging particles with S > 0 (the paper's "90 %").
- :func:`rearrangement_probability`: P_R(S), the fraction of particle-frames with softness in a bin that
  are rearranging, with binomial errors.
- :func:`fit_softness_arrhenius`: per S bin, ln P_R = Σ(S) − ΔE(S)/T fitted across temperatures; then the linear
  forms ΔE(S) = e0 − e1·S and Σ(S) = Σ0 − Σ1·S (the thesis' signs: all four positive in the paper) and the
  onset temperature T0 = e1/Σ1, where P_R stops depending on S (d ln P_R/dS = e1/T − Σ1 = 0).
- :func:`q_ratio`: Q = P_R(X > μ + σ)/P_R(X < μ − σ) of any per-particle predictor X (ch. 6).

Units: S dimensionless (SVM decision value), T in ε/k_B, ΔE and e0, e1 in ε, Σ, Σ0, Σ1 dimensionless.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = ["fraction_positive", "PRofS", "rearrangement_probability", "ArrheniusFit", "fit_softness_arrhenius",
           "q_ratio", "linear_fit"]


def fraction_positive(softness: np.ndarray, rearranging: np.ndarray) -> float:
    """Fraction (0–1) of the rearranging entries with softness > 0; NaN if none rearranges."""
    s = np.asarray(softness, float)
    r = np.asarray(rearranging, bool)
    if s.shape != r.shape:
        raise ValueError(f"softness {s.shape} and rearranging {r.shape} must have the same shape")
    n = int(r.sum())
    return float((s[r] > 0).sum() / n) if n else float("nan")


@dataclass
class PRofS:
    """P_R(S) on bins: ``edges`` (B+1,), ``centers`` (B,) = mean S of the bin's entries (bin middle when
    empty), ``n`` entries, ``n_r`` rearranging, ``p`` = n_r/n (NaN when n = 0), ``err`` binomial standard
    error sqrt(p(1 − p)/n) (with p → 1/n when n_r = 0, so an empty count still has an error bar)."""

    edges: np.ndarray
    centers: np.ndarray
    n: np.ndarray
    n_r: np.ndarray
    p: np.ndarray
    err: np.ndarray

    def span_decades(self, min_rearranging: int = 1) -> float:
        """log10 of max P_R / min P_R over bins with at least ``min_rearranging`` rearranging entries."""
        ok = self.n_r >= max(1, int(min_rearranging))
        if ok.sum() < 2:
            return float("nan")
        return float(np.log10(self.p[ok].max() / self.p[ok].min()))


def rearrangement_probability(softness: np.ndarray, rearranging: np.ndarray,
                              edges: Sequence[float] | np.ndarray) -> PRofS:
    """P_R(S): per bin [edges[i], edges[i+1]) the fraction of entries that rearrange (entries outside the
    edges are ignored)."""
    s = np.asarray(softness, float).ravel()
    r = np.asarray(rearranging, bool).ravel()
    if s.shape != r.shape:
        raise ValueError(f"softness {s.shape} and rearranging {r.shape} must have the same length")
    e = np.asarray(edges, float)
    if e.ndim != 1 or e.size < 2 or np.any(np.diff(e) <= 0):
        raise ValueError(f"edges must be increasing with at least 2 values, got {e.tolist()}")
    idx = np.searchsorted(e, s, side="right") - 1
    ok = (idx >= 0) & (idx < e.size - 1) & np.isfinite(s)
    B = e.size - 1
    n = np.bincount(idx[ok], minlength=B).astype(np.int64)
    n_r = np.bincount(idx[ok], weights=r[ok], minlength=B).astype(np.int64)
    ssum = np.bincount(idx[ok], weights=s[ok], minlength=B)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(n > 0, n_r / np.maximum(n, 1), np.nan)
        centers = np.where(n > 0, ssum / np.maximum(n, 1), 0.5 * (e[:-1] + e[1:]))
        pe = np.where(n_r > 0, p, 1.0 / np.maximum(n, 1))
        err = np.where(n > 0, np.sqrt(pe * (1 - pe) / np.maximum(n, 1)), np.nan)
    return PRofS(e, centers, n, n_r, p, err)


def linear_fit(x: np.ndarray, y: np.ndarray, sigma: np.ndarray | None = None) -> tuple[float, float, float, float]:
    """Weighted least squares y = a + b·x: (a, b, σ_a, σ_b); with ``sigma`` None the errors come from the
    residual scatter (NaN with fewer than 3 points)."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    if x.size < 2:
        raise ValueError(f"a line needs at least 2 points, got {x.size}")
    w = np.ones_like(x) if sigma is None else 1.0 / np.asarray(sigma, float) ** 2
    A = np.stack([np.ones_like(x), x], axis=1)
    cov = np.linalg.inv(A.T @ (A * w[:, None]))
    a, b = cov @ (A.T @ (w * y))
    if sigma is None:
        dof = x.size - 2
        s2 = float(np.sum((y - a - b * x) ** 2) / dof) if dof > 0 else float("nan")
        cov = cov * s2
    return float(a), float(b), float(np.sqrt(cov[0, 0])), float(np.sqrt(cov[1, 1]))


@dataclass
class ArrheniusFit:
    """Per bin: ``S`` (bin softness), ``sigma`` Σ(S) and ``dE`` ΔE(S) with errors ``sigma_err``/``dE_err``
    (ε); linear forms ΔE = e0 − e1·S, Σ = Σ0 − Σ1·S with errors; onset ``T0`` = e1/Σ1 and its propagated
    error; ``used`` (bins fitted) and per-bin ``r2`` of ln P_R against 1/T."""

    S: np.ndarray
    sigma: np.ndarray
    sigma_err: np.ndarray
    dE: np.ndarray
    dE_err: np.ndarray
    r2: np.ndarray
    e0: float
    e1: float
    e0_err: float
    e1_err: float
    Sigma0: float
    Sigma1: float
    Sigma0_err: float
    Sigma1_err: float
    T0: float
    T0_err: float

    def predict(self, S: np.ndarray, T: float) -> np.ndarray:
        """P_R from the linear forms: exp(Σ0 − Σ1 S − (e0 − e1 S)/T)."""
        S = np.asarray(S, float)
        return np.exp(self.Sigma0 - self.Sigma1 * S - (self.e0 - self.e1 * S) / T)


def fit_softness_arrhenius(temperatures: Sequence[float], S: np.ndarray, p: np.ndarray, err: np.ndarray | None = None,
                  min_temperatures: int = 3) -> ArrheniusFit:
    """Fit ln P_R(S, T) = Σ(S) − ΔE(S)/T per S bin, then ΔE, Σ linear in S and T0 = e1/Σ1.

    ``S``, ``p`` (and ``err``, the standard error of p) have shape (n_T, n_bins): bin softness and P_R per
    temperature. Points with p ≤ 0 or NaN are left out (ln undefined); a bin is fitted when at least
    ``min_temperatures`` temperatures remain. ``err`` weights the fits by σ(ln p) = err/p.
    """
    T = np.asarray(temperatures, float)
    S = np.asarray(S, float)
    p = np.asarray(p, float)
    if S.shape != p.shape or S.ndim != 2 or S.shape[0] != T.size:
        raise ValueError(f"S {S.shape} and p {p.shape} must both be (n_T = {T.size}, n_bins)")
    nb = S.shape[1]
    out = {k: np.full(nb, np.nan) for k in ("S", "sigma", "sigma_err", "dE", "dE_err", "r2")}
    for b in range(nb):
        ok = np.isfinite(p[:, b]) & (p[:, b] > 0)
        if err is not None:
            ok &= np.isfinite(err[:, b]) & (np.asarray(err)[:, b] > 0)
        if ok.sum() < max(2, min_temperatures):
            continue
        y = np.log(p[ok, b])
        sig = None if err is None else np.asarray(err)[ok, b] / p[ok, b]
        a, slope, sa, ss = linear_fit(1.0 / T[ok], y, sig)
        out["S"][b] = float(np.mean(S[ok, b]))
        out["sigma"][b], out["sigma_err"][b] = a, sa
        out["dE"][b], out["dE_err"][b] = -slope, ss
        yhat = a + slope / T[ok]
        sst = float(np.sum((y - y.mean()) ** 2))
        out["r2"][b] = 1.0 - float(np.sum((y - yhat) ** 2)) / sst if sst > 0 else float("nan")
    used = np.isfinite(out["dE"])
    if used.sum() < 2:
        raise ValueError(f"only {int(used.sum())} S bins have P_R > 0 at >= {min_temperatures} temperatures; "
                         "need 2 for the linear forms (record more frames or use wider bins)")
    fin = lambda v: v if np.all(np.isfinite(v)) and np.all(v > 0) else None  # noqa: E731
    e0, b_e, e0_err, e1_err = linear_fit(out["S"][used], out["dE"][used], fin(out["dE_err"][used]))
    s0, b_s, s0_err, s1_err = linear_fit(out["S"][used], out["sigma"][used], fin(out["sigma_err"][used]))
    e1, S1 = -b_e, -b_s
    T0 = e1 / S1 if S1 != 0 else float("nan")
    T0_err = abs(T0) * float(np.hypot(e1_err / e1, s1_err / S1)) if e1 != 0 and S1 != 0 else float("nan")
    return ArrheniusFit(out["S"], out["sigma"], out["sigma_err"], out["dE"], out["dE_err"], out["r2"],
                        e0, e1, e0_err, e1_err, s0, S1, s0_err, s1_err, float(T0), T0_err)


def q_ratio(x: np.ndarray, rearranging: np.ndarray) -> float:
    """Q = P_R(x > mean + std) / P_R(x < mean − std) (``x`` oriented so that larger means softer)."""
    x = np.asarray(x, float)
    r = np.asarray(rearranging, bool)
    mu, sd = float(np.mean(x)), float(np.std(x))
    hi, lo = x > mu + sd, x < mu - sd
    if not hi.any() or not lo.any():
        return float("nan")
    p_lo = float(r[lo].mean())
    return float(r[hi].mean() / p_lo) if p_lo > 0 else float("inf")
