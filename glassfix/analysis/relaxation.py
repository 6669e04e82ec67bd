"""Relaxation times of correlation curves: the α time where F_s (or Q) crosses a level, and fits.

alpha time
----------
:func:`tau_alpha_crossing` is the one crossing-time function of the package (F_s, the overlap Q of the
swap-MC diagnostics, ...): the first time the curve falls to ``level`` (1/e by default), interpolating
between the bracketing points linearly in ``log t`` (``interp="log"``, for log-spaced samples; the
default) or in ``t`` (``interp="linear"``, for evenly spaced lags). If the curve never reaches ``level``
it raises a ValueError by default (a silent nan tends to end up in an Arrhenius plot);
``on_missing="nan"`` returns nan instead for batch use, and ``on_missing="inf"`` returns inf, a censored
time longer than the last sample (the swap ladder reports ``t[-1]`` as a lower bound). :func:`fit_kww` and :func:`fit_double_stretched` fit the usual forms;
:func:`log_bin` gives each decade of t the same weight. Times in τ (whatever unit ``t`` carries).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal

import numpy as np
from scipy import optimize

__all__ = ["tau_alpha_crossing", "RelaxationFit", "fit_kww", "fit_double_stretched", "log_bin"]


# ----------------------------------------------------------------------------------------------------
# alpha time
# ----------------------------------------------------------------------------------------------------


def _as_curve(t: np.ndarray, y: np.ndarray, name: str = "fs") -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(t, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if t.ndim != 1 or y.shape != t.shape:
        raise ValueError(f"t and {name} must be 1-D arrays of equal length, got shapes {t.shape} and {y.shape}")
    if t.size < 1:
        raise ValueError("need at least 1 time point, got none")
    if np.any(np.diff(t) <= 0):
        raise ValueError("t must be strictly increasing (sort the data by time and drop duplicate frames)")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(y))):
        raise ValueError(f"t and {name} must be finite; drop nan/inf points first")
    return t, y


def tau_alpha_crossing(
    t: np.ndarray,
    fs: np.ndarray,
    level: float = 1.0 / np.e,
    on_missing: Literal["raise", "nan", "inf"] = "raise",
    interp: Literal["log", "linear"] = "log",
) -> float:
    """First time (in the units of ``t``, tau) at which ``fs`` falls to ``level`` (``fs <= level``).

    Between the bracketing points fs is interpolated linearly in log t (``interp="log"``; linearly in t if
    the earlier point is at t <= 0) or linearly in t (``interp="linear"``). If fs never reaches ``level``
    this raises a ValueError, or returns nan (``on_missing="nan"``) or inf (``on_missing="inf"``: longer
    than ``t[-1]``). A curve that already starts at or below ``level`` raises (nan with ``on_missing="nan"``).
    ``t`` must be strictly increasing and both finite.
    """
    t, fs = _as_curve(t, fs)
    if on_missing not in ("raise", "nan", "inf"):
        raise ValueError(f'on_missing must be "raise", "nan" or "inf", got {on_missing!r}')
    if interp not in ("log", "linear"):
        raise ValueError(f'interp must be "log" or "linear", got {interp!r}')
    below = np.flatnonzero(fs <= level)
    if below.size == 0 or below[0] == 0:
        if on_missing == "nan":
            return float("nan")
        if below.size == 0:
            if on_missing == "inf":
                return float("inf")
            raise ValueError(
                f"F_s never falls to level {level:.4g} (minimum {fs.min():.4g} at t = {t[np.argmin(fs)]:.4g}); "
                "run longer, use fit_kww/fit_double_stretched to extrapolate, or pass on_missing='nan'"
            )
        raise ValueError(
            f"F_s starts at {fs[0]:.4g}, already at or below level {level:.4g}; include earlier times or lower level"
        )
    i = below[0]
    t0, t1, f0, f1 = t[i - 1], t[i], fs[i - 1], fs[i]
    frac = (f0 - level) / (f0 - f1)
    if t0 <= 0 or interp == "linear":
        return float(t0 + frac * (t1 - t0))
    return float(np.exp(np.log(t0) + frac * (np.log(t1) - np.log(t0))))


def log_bin(t: np.ndarray, y: np.ndarray, points_per_decade: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Average (t, y) in log-spaced bins of t > 0: returns (geometric-mean t, mean y), units unchanged.

    Each decade then carries the same weight in a fit whatever the sampling; bins with no point are
    dropped, so data already sparser than ``points_per_decade`` pass through unchanged.
    """
    t = np.asarray(t, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if points_per_decade < 1:
        raise ValueError(f"points_per_decade must be >= 1, got {points_per_decade}")
    keep = t > 0
    t, y = t[keep], y[keep]
    if t.size == 0:
        raise ValueError("log_bin needs at least one time t > 0")
    lt = np.log10(t)
    # bins are anchored on the first time so a log-spaced input grid maps one point per bin
    b = np.floor((lt - lt.min()) * points_per_decade + 1e-9).astype(np.int64)
    counts = np.bincount(b)
    nz = counts > 0
    tb = 10.0 ** (np.bincount(b, weights=lt)[nz] / counts[nz])
    yb = np.bincount(b, weights=y)[nz] / counts[nz]
    return tb, yb


@dataclass(frozen=True)
class RelaxationFit:
    """Result of a relaxation-function fit; times in the units of the input t (tau)."""

    model: str
    params: dict[str, float]
    errors: dict[str, float]
    tau_alpha: float
    tau_alpha_err: float
    tau_1e: float
    r2: float
    t_fit: np.ndarray = field(repr=False)
    _func: Callable[..., np.ndarray] = field(repr=False, compare=False)

    def __call__(self, t: np.ndarray) -> np.ndarray:
        """Fitted curve at times ``t`` (tau), dimensionless."""
        return self._func(np.asarray(t, dtype=np.float64), **self.params)


def _kww(t: np.ndarray, A: float, tau: float, beta: float) -> np.ndarray:
    return A * np.exp(-((np.maximum(t, 0.0) / tau) ** beta))


def _double(
    t: np.ndarray, f: float, tau_s: float, beta_s: float, tau_alpha: float, beta_alpha: float
) -> np.ndarray:
    tt = np.maximum(t, 0.0)
    return (1.0 - f) * np.exp(-((tt / tau_s) ** beta_s)) + f * np.exp(-((tt / tau_alpha) ** beta_alpha))


def _fit_window(
    t: np.ndarray, fs: np.ndarray, t_min: float | None, t_max: float | None, points_per_decade: int | None
) -> tuple[np.ndarray, np.ndarray]:
    t, fs = _as_curve(t, fs)
    keep = t > 0
    if t_min is not None:
        keep &= t >= t_min
    if t_max is not None:
        keep &= t <= t_max
    t, fs = t[keep], fs[keep]
    if points_per_decade is not None:
        t, fs = log_bin(t, fs, points_per_decade)
    return t, fs


def _r2(y: np.ndarray, yhat: np.ndarray) -> float:
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return 1.0 - float(np.sum((y - yhat) ** 2)) / ss_tot if ss_tot > 0 else float("nan")


def _one_over_e_time(func: Callable[[np.ndarray], np.ndarray], lo: float, hi: float) -> float:
    """Time at which a decreasing fitted curve equals 1/e, searched in log t over [lo, hi]; nan if none."""
    g = lambda u: float(func(np.array([np.exp(u)]))[0]) - 1.0 / np.e  # noqa: E731
    ulo, uhi = np.log(lo), np.log(hi)
    if g(ulo) < 0 or g(uhi) > 0:
        return float("nan")
    return float(np.exp(optimize.brentq(g, ulo, uhi, xtol=1e-12)))


def fit_kww(
    t: np.ndarray,
    fs: np.ndarray,
    t_min: float | None = None,
    t_max: float | None = None,
    points_per_decade: int | None = 20,
    p0: tuple[float, float, float] | None = None,
) -> RelaxationFit:
    """Fit F_s(t) = A exp(-(t/tau)^beta) (KWW) on log-binned t > 0; tau in the units of t (tau).

    Bounds: 0 < A <= 1.5, 0.05 <= beta <= 2. ``tau_alpha`` is the KWW tau; ``tau_1e`` solves
    A exp(-(t/tau)^beta) = 1/e (nan when A <= 1/e). Use ``t_min`` to exclude the ballistic regime.
    """
    tf, yf = _fit_window(t, fs, t_min, t_max, points_per_decade)
    if tf.size < 4:
        raise ValueError(f"KWW fit needs at least 4 points with t > 0 in the window, got {tf.size}")
    if p0 is None:
        A0 = float(np.clip(yf[0], 0.05, 1.5))
        tau0 = tau_alpha_crossing(tf, yf, level=A0 / np.e, on_missing="nan") if yf[0] > A0 / np.e else np.nan
        if not np.isfinite(tau0):
            tau0 = float(np.sqrt(tf[0] * tf[-1]))
        p0 = (A0, tau0, 0.7)
    A0, tau0, beta0 = p0

    # fit log(tau): tau spans decades and the log keeps the problem well-conditioned
    def model(x: np.ndarray, A: float, ltau: float, beta: float) -> np.ndarray:
        return _kww(x, A, np.exp(ltau), beta)

    popt, pcov = optimize.curve_fit(
        model,
        tf,
        yf,
        p0=(float(np.clip(A0, 1e-3, 1.5)), float(np.log(tau0)), float(np.clip(beta0, 0.05, 2.0))),
        bounds=([1e-6, -np.inf, 0.05], [1.5, np.inf, 2.0]),
        maxfev=20000,
    )
    perr = np.sqrt(np.clip(np.diag(pcov), 0.0, np.inf))
    A, ltau, beta = popt
    tau = float(np.exp(ltau))
    params = {"A": float(A), "tau": tau, "beta": float(beta)}
    errors = {"A": float(perr[0]), "tau": tau * float(perr[1]), "beta": float(perr[2])}
    tau_1e = tau * float(np.log(A * np.e)) ** (1.0 / beta) if A * np.e > 1.0 else float("nan")
    yhat = _kww(tf, **params)
    return RelaxationFit("kww", params, errors, tau, errors["tau"], tau_1e, _r2(yf, yhat), tf, _kww)


def fit_double_stretched(
    t: np.ndarray,
    fs: np.ndarray,
    t_min: float | None = None,
    t_max: float | None = None,
    points_per_decade: int | None = 20,
    beta_s: float | None = None,
    p0: dict[str, float] | None = None,
) -> RelaxationFit:
    """Fit the two-step form F_s = (1-f) exp(-(t/tau_s)^beta_s) + f exp(-(t/tau_alpha)^beta_alpha); times in tau.

    The BOTAN digest (science/004 §1.3) says tau_alpha comes from a "double-stretched-exponential fit"
    but gives no formula, so this is the standard two-step form: a short-time (ballistic/cage) decay
    down to the plateau f, then the alpha relaxation. Constraints: 0 < f < 1, tau_s <= tau_alpha,
    0.05 <= beta <= 2. ``beta_s`` fixes the short-time exponent (e.g. 2 for a Gaussian ballistic
    decay); None fits it. Several starting points are tried and the lowest residual kept.
    """
    tf, yf = _fit_window(t, fs, t_min, t_max, points_per_decade)
    n_free = 5 if beta_s is None else 4
    if tf.size < n_free + 2:
        raise ValueError(f"double-stretched fit needs at least {n_free + 2} points with t > 0, got {tf.size}")
    if beta_s is not None and not (0.05 <= beta_s <= 2.0):
        raise ValueError(f"beta_s must lie in [0.05, 2] or be None (fitted), got {beta_s}")

    # parameters: f, log tau_s, beta_s, log(tau_alpha / tau_s) >= 0, beta_alpha; the ratio enforces the order
    def model_full(x: np.ndarray, f: float, lts: float, bs: float, lr: float, ba: float) -> np.ndarray:
        return _double(x, f, np.exp(lts), bs, np.exp(lts + lr), ba)

    if beta_s is None:
        model = model_full
        lo = [1e-4, -np.inf, 0.05, 0.0, 0.05]
        hi = [1.0 - 1e-4, np.inf, 2.0, np.inf, 2.0]
    else:
        bs_fixed = float(beta_s)

        def model(x: np.ndarray, f: float, lts: float, lr: float, ba: float) -> np.ndarray:  # type: ignore[misc]
            return model_full(x, f, lts, bs_fixed, lr, ba)

        lo = [1e-4, -np.inf, 0.0, 0.05]
        hi = [1.0 - 1e-4, np.inf, np.inf, 2.0]

    starts: list[dict[str, float]] = []
    if p0 is not None:
        starts.append(dict(p0))
    else:
        t_half = tau_alpha_crossing(tf, yf, level=1.0 / np.e, on_missing="nan")
        ta0 = t_half if np.isfinite(t_half) else float(tf[-1])
        for f0 in (0.5, 0.75, 0.9):
            # the short decay reaches 1 - (1 - f0)(1 - 1/e) at t = tau_s, when the alpha part has barely moved
            ts0 = tau_alpha_crossing(tf, yf, level=1.0 - (1.0 - f0) * (1.0 - 1.0 / np.e), on_missing="nan")
            if not np.isfinite(ts0) or ts0 >= ta0:
                ts0 = max(float(tf[0]), ta0 * 1e-3)
            starts.append({"f": f0, "tau_s": ts0, "beta_s": 1.0, "tau_alpha": max(ta0, ts0), "beta_alpha": 0.7})

    best = None
    for s in starts:
        x0 = [
            float(np.clip(s["f"], 1e-3, 1 - 1e-3)),
            float(np.log(s["tau_s"])),
            float(np.clip(s.get("beta_s", 1.0), 0.05, 2.0)),
            float(max(np.log(s["tau_alpha"] / s["tau_s"]), 0.0)),
            float(np.clip(s.get("beta_alpha", 0.7), 0.05, 2.0)),
        ]
        if beta_s is not None:
            del x0[2]
        try:
            popt, pcov = optimize.curve_fit(model, tf, yf, p0=x0, bounds=(lo, hi), maxfev=20000)
        except (RuntimeError, ValueError):
            continue
        sse = float(np.sum((model(tf, *popt) - yf) ** 2))
        if best is None or sse < best[0]:
            best = (sse, popt, pcov)
    if best is None:
        raise ValueError("double-stretched fit did not converge from any start; pass p0 or restrict t_min/t_max")
    _, popt, pcov = best
    if beta_s is not None:
        popt = np.insert(popt, 2, beta_s)
        pcov = np.insert(np.insert(pcov, 2, 0.0, axis=0), 2, 0.0, axis=1)
    pcov = np.where(np.isfinite(pcov), pcov, np.inf)
    f, lts, bs, lr, ba = (float(v) for v in popt)
    tau_s, tau_a = float(np.exp(lts)), float(np.exp(lts + lr))
    var = np.clip(np.diag(pcov), 0.0, np.inf)
    # log tau_alpha = log tau_s + log ratio: propagate through the covariance of the two
    var_lta = max(var[1] + var[3] + 2.0 * pcov[1, 3], 0.0) if np.all(np.isfinite(pcov[[1, 3]][:, [1, 3]])) else np.inf
    params = {"f": f, "tau_s": tau_s, "beta_s": bs, "tau_alpha": tau_a, "beta_alpha": ba}
    errors = {
        "f": float(np.sqrt(var[0])),
        "tau_s": tau_s * float(np.sqrt(var[1])),
        "beta_s": float(np.sqrt(var[2])),
        "tau_alpha": tau_a * float(np.sqrt(var_lta)),
        "beta_alpha": float(np.sqrt(var[4])),
    }
    func = _double
    tau_1e = _one_over_e_time(lambda x: func(x, **params), tau_s * 1e-12, tau_a * 1e12)
    yhat = _double(tf, **params)
    return RelaxationFit(
        "double_stretched", params, errors, tau_a, errors["tau_alpha"], tau_1e, _r2(yf, yhat), tf, _double
    )
