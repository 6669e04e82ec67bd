"""Creep-curve analysis: the logarithmic creep law eps(t) = eps0 + (sigma0/C) log t and primary-creep rate.

Conventions (science/003_creep.md §2): time ``t`` in tau measured from the instant the load is applied;
strain is the axial engineering strain L(t)/L(0) - 1 along the loading axis, so **compressive strain is
negative**; ``sigma0`` is the magnitude of the applied stress (LJ stress units, > 0).

The law is fitted to ``sign * eps(t)``: ``sign=-1`` for compression makes eps0 and C positive
magnitudes, ``sign=+1`` for tension; ``sign=None`` picks the sign of the mean strain in the fit window
(and reports it). C is therefore the creep modulus of the strain magnitude. The base of the logarithm is
not stated in the source paper; ``base="10"`` gives C smaller by a factor ln 10 than ``base="e"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Sequence

import numpy as np

from .relaxation import log_bin

__all__ = ["CreepFit", "fit_creep_law", "axial_strain", "average_runs", "LogCreepFit", "fit_log_creep"]


def axial_strain(length: np.ndarray, length0: float | None = None) -> np.ndarray:
    """Engineering strain L/L0 - 1 (dimensionless; negative in compression) from box lengths in sigma.

    ``length0`` defaults to the first entry (the pre-load box).
    """
    L = np.asarray(length, dtype=np.float64)
    L0 = float(L.flat[0]) if length0 is None else float(length0)
    if not L0 > 0:
        raise ValueError(f"reference length length0 must be positive (sigma), got {L0}")
    return L / L0 - 1.0


def average_runs(strain: np.ndarray | Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, int]:
    """Mean and standard deviation (ddof=1; zeros for one run) over runs on a common time grid, plus n_runs.

    ``strain`` is one curve (T,), an array (n_runs, T) or a list of equal-length curves; dimensionless.
    """
    if isinstance(strain, (list, tuple)):
        lengths = {np.shape(s) for s in strain}
        if len(lengths) != 1:
            raise ValueError(
                f"runs have different shapes {sorted(lengths)}; interpolate them onto a common time grid first"
            )
    arr = np.asarray(strain, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] < 1:
        raise ValueError(f"strain must be (T,), (n_runs, T) or a list of (T,) arrays, got shape {arr.shape}")
    mean = arr.mean(axis=0)
    std = arr.std(axis=0, ddof=1) if arr.shape[0] > 1 else np.zeros(arr.shape[1])
    return mean, std, arr.shape[0]


@dataclass(frozen=True)
class CreepFit:
    """Fitted creep law sign*eps(t) = eps0 + (sigma0/C) log_base(t); C in stress units, t in tau."""

    eps0: float
    C: float
    eps0_err: float
    C_err: float
    r2: float
    strain_rate_exponent: float
    strain_rate_exponent_err: float
    sigma0: float
    base: str
    sign: int
    t_window: tuple[float, float]
    n_runs: int
    mean_strain: np.ndarray = field(repr=False)
    std_strain: np.ndarray = field(repr=False)

    def __call__(self, t: np.ndarray) -> np.ndarray:
        """Fitted strain eps(t) in the input sign convention (dimensionless) at times t > 0 (tau)."""
        t = np.asarray(t, dtype=np.float64)
        lg = np.log(t) if self.base == "e" else np.log10(t)
        return self.sign * (self.eps0 + self.sigma0 / self.C * lg)


def _ols(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float, float]:
    """Least-squares line y = a + b x: (a, b, se_a, se_b, r2)."""
    n = x.size
    xm, ym = x.mean(), y.mean()
    sxx = float(np.sum((x - xm) ** 2))
    if sxx == 0:
        raise ValueError("all fit points share one time; widen the window [t_min, t_max]")
    b = float(np.sum((x - xm) * (y - ym)) / sxx)
    a = float(ym - b * xm)
    res = y - a - b * x
    ss_res = float(np.sum(res**2))
    ss_tot = float(np.sum((y - ym) ** 2))
    s2 = ss_res / (n - 2) if n > 2 else float("nan")
    se_b = float(np.sqrt(s2 / sxx))
    se_a = float(np.sqrt(s2 * (1.0 / n + xm**2 / sxx)))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")
    return a, b, se_a, se_b, r2


def fit_creep_law(
    t: np.ndarray,
    strain: np.ndarray | Sequence[np.ndarray],
    sigma0: float,
    t_min: float | None = None,
    t_max: float | None = None,
    base: Literal["e", "10"] = "e",
    sign: int | None = None,
    points_per_decade: int | None = 10,
) -> CreepFit:
    """Fit sign*eps(t) = eps0 + (sigma0/C) log t in [t_min, t_max] (t in tau, sigma0 > 0 in stress units).

    ``strain``: one curve (T,) or several runs (n_runs, T) / list on the common grid ``t``; the mean is
    fitted and mean/std are returned. Only t > 0 is used; set ``t_min`` past the loading transient.
    With ``points_per_decade`` the data are first averaged in log-spaced time bins so every decade
    weighs the same (None fits the raw points). ``strain_rate_exponent`` is the slope of
    log|d eps/dt| against log t from finite differences of the log-binned mean (primary creep: -1).
    """
    t = np.asarray(t, dtype=np.float64)
    mean, std, n_runs = average_runs(strain)
    if t.ndim != 1 or t.shape != mean.shape:
        raise ValueError(f"t has shape {t.shape} but the strain curves have length {mean.shape[0]}")
    if not (np.isfinite(sigma0) and sigma0 > 0):
        raise ValueError(
            f"sigma0 must be the positive magnitude of the applied stress, got {sigma0!r}; "
            "give the direction through `sign` (-1 for compression)"
        )
    if base not in ("e", "10"):
        raise ValueError(f'base must be "e" (natural log) or "10", got {base!r}')
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(mean))):
        raise ValueError("t and strain must be finite; drop nan/inf points first")
    keep = t > 0
    if t_min is not None:
        keep &= t >= t_min
    if t_max is not None:
        keep &= t <= t_max
    if keep.sum() < 3:
        raise ValueError(
            f"only {int(keep.sum())} points with t > 0 in the window [{t_min}, {t_max}]; need >= 3 to fit the creep law"
        )
    tw, ew = t[keep], mean[keep]
    if sign is None:
        sign = -1 if ew.mean() < 0 else 1
    elif sign not in (-1, 1):
        raise ValueError(f"sign must be -1 (compression), +1 (tension) or None (automatic), got {sign!r}")
    y = sign * ew
    if points_per_decade is not None:
        tb, yb = log_bin(tw, y, points_per_decade)
    else:
        tb, yb = tw, y
    if tb.size < 3:
        raise ValueError(
            f"only {tb.size} log bins in the window; raise points_per_decade or pass points_per_decade=None"
        )
    log = np.log if base == "e" else np.log10
    a, b, se_a, se_b, r2 = _ols(log(tb), yb)
    C = sigma0 / b if b != 0 else float("inf")
    C_err = sigma0 * se_b / b**2 if b != 0 else float("inf")

    # strain-rate exponent: finite differences between consecutive log bins, evaluated at their
    # geometric midpoint; a log t law gives exactly -1 on a geometric grid
    p_exp, p_err = float("nan"), float("nan")
    if tb.size >= 3:
        rate = np.diff(yb) / np.diff(tb)
        tm = np.sqrt(tb[1:] * tb[:-1])
        ok = rate != 0
        if ok.sum() >= 3:
            _, p_exp, _, p_err, _ = _ols(np.log(tm[ok]), np.log(np.abs(rate[ok])))
    return CreepFit(
        eps0=a,
        C=float(C),
        eps0_err=se_a,
        C_err=float(C_err),
        r2=r2,
        strain_rate_exponent=float(p_exp),
        strain_rate_exponent_err=float(p_err),
        sigma0=float(sigma0),
        base=base,
        sign=int(sign),
        t_window=(float(tw[0]), float(tw[-1])),
        n_runs=n_runs,
        mean_strain=mean,
        std_strain=std,
    )


@dataclass(frozen=True)
class LogCreepFit:
    """eps(t) = eps0 + C log(1 + t/t0) (natural log; t, t0 in tau; eps0, C dimensionless) with standard
    errors from the least-squares covariance, the residual rms and the number of (binned) points fitted."""

    eps0: float
    C: float
    t0: float
    eps0_err: float
    C_err: float
    t0_err: float
    rms: float
    n_points: int

    def __call__(self, t: np.ndarray) -> np.ndarray:
        """Fitted strain at times t >= 0 (tau)."""
        return self.eps0 + self.C * np.log1p(np.asarray(t, dtype=np.float64) / self.t0)


def _linear_lsq(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """(a, b, sum of squared residuals) of y = a + b x."""
    A = np.column_stack([np.ones_like(x), x])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    r = y - A @ coef
    return float(coef[0]), float(coef[1]), float(r @ r)


def fit_log_creep(t: np.ndarray, strain: np.ndarray, points_per_decade: int | None = 10) -> LogCreepFit:
    """Fit eps(t) = eps0 + C log(1 + t/t0) to a creep curve (t in tau, t >= 0; strain dimensionless).

    For fixed t0 the law is linear in (eps0, C), so t0 is first located on a log grid spanning the data
    (a profile of the residual), then (eps0, C, log t0) are refined by nonlinear least squares, whose
    covariance gives the errors. With ``points_per_decade``, points at t > 0 are averaged in log-spaced
    bins so that every decade of time weighs the same (a point at t = 0 is kept). Needs >= 4 points.
    """
    from scipy.optimize import least_squares

    t = np.asarray(t, dtype=np.float64)
    y = np.asarray(strain, dtype=np.float64)
    ok = np.isfinite(t) & np.isfinite(y) & (t >= 0)
    t, y = t[ok], y[ok]
    pos = t > 0
    if points_per_decade is not None and pos.sum() >= 2:
        tb, yb = log_bin(t[pos], y[pos], points_per_decade)
        t, y = np.concatenate([t[~pos][:1], tb]), np.concatenate([y[~pos][:1], yb])
    if t.size < 4 or np.count_nonzero(t > 0) < 3:
        raise ValueError(f"only {t.size} usable points (t >= 0, finite); need >= 4 to fit eps0 + C log(1 + t/t0)")
    tp = t[t > 0]
    grid = np.geomspace(tp.min() / 100.0, tp.max() * 10.0, 121)
    sse = [_linear_lsq(np.log1p(t / g), y)[2] for g in grid]
    g0 = float(grid[int(np.argmin(sse))])
    a0, b0, _ = _linear_lsq(np.log1p(t / g0), y)

    def resid(p: np.ndarray) -> np.ndarray:
        return p[0] + p[1] * np.log1p(t / np.exp(p[2])) - y

    # t0 stays within the grid: outside it the law degenerates (t0 -> 0: a pure log t law with C -> 0 and
    # eps0 -> -inf; t0 -> inf: a straight line) and the data cannot tell t0 anyway
    lo, hi = np.log(grid[0]), np.log(grid[-1])
    sol = least_squares(resid, np.array([a0, b0, np.clip(np.log(g0), lo + 1e-9, hi - 1e-9)]), method="trf",
                        x_scale="jac", bounds=([-np.inf, -np.inf, lo], [np.inf, np.inf, hi]))
    p = sol.x
    r = sol.fun
    dof = max(t.size - 3, 1)
    s2 = float(r @ r) / dof
    try:
        cov = np.linalg.inv(sol.jac.T @ sol.jac) * s2
        err = np.sqrt(np.clip(np.diag(cov), 0, None))
    except np.linalg.LinAlgError:
        err = np.full(3, np.inf)
    t0 = float(np.exp(p[2]))
    return LogCreepFit(eps0=float(p[0]), C=float(p[1]), t0=t0, eps0_err=float(err[0]), C_err=float(err[1]),
                       t0_err=float(t0 * err[2]), rms=float(np.sqrt(np.mean(r**2))), n_points=int(t.size))
