"""Time–temperature superposition of ⟨C̄_B⟩(t), τα^BB(T), the Arrhenius law and the C ↔ t conversion.

Jung, Biroli & Berthier (``shared/science/001_jung.md`` §3.1, §5.6): τα^BB is where ⟨C̄_B⟩ = 0.5; where
a run stops before 0.5, τα^BB is the shift that maximises the overlap of its curve with the master curve
⟨C̄_B⟩(t/τα) built from the temperatures that do cross 0.5. The master curve is stored as a monotone
(isotonic, then PCHIP) function of x = log10(t/τα), so C → t is its inverse; τα(T) below the labelled
temperatures comes from an Arrhenius fit log τα = log τ0 + E/T.

Units: times τ (MD time), temperatures ε/k_B, energies E in ε; C dimensionless.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

__all__ = ["MasterCurve", "isotonic_decreasing", "crossing_time", "build_master_curve", "fit_shift",
           "tts_taus", "Arrhenius", "fit_arrhenius", "c_to_time", "time_to_c"]


def isotonic_decreasing(y: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """Least-squares non-increasing fit of ``y`` (pool adjacent violators), same units as y."""
    y = np.asarray(y, dtype=np.float64)
    w = np.ones_like(y) if w is None else np.asarray(w, dtype=np.float64)
    vals, wts, lens = [], [], []
    for yi, wi in zip(y, w):
        vals.append(yi)
        wts.append(wi)
        lens.append(1)
        while len(vals) > 1 and vals[-2] < vals[-1]:
            v2, w2, l2 = vals.pop(), wts.pop(), lens.pop()
            v1, w1, l1 = vals.pop(), wts.pop(), lens.pop()
            vals.append((v1 * w1 + v2 * w2) / (w1 + w2))
            wts.append(w1 + w2)
            lens.append(l1 + l2)
    return np.repeat(vals, lens)


def crossing_time(t: np.ndarray, c: np.ndarray, level: float = 0.5) -> float:
    """First time (τ) at which the decreasing curve ``c`` reaches ``level`` (log-t interpolation); NaN if never."""
    t = np.asarray(t, dtype=np.float64)
    c = np.asarray(c, dtype=np.float64)
    below = np.flatnonzero(c <= level)
    if below.size == 0:
        return float("nan")
    k = int(below[0])
    if k == 0:
        return float(t[0])
    f = (c[k - 1] - level) / (c[k - 1] - c[k]) if c[k - 1] != c[k] else 1.0
    return float(np.exp(np.log(t[k - 1]) + f * (np.log(t[k]) - np.log(t[k - 1]))))


@dataclass
class MasterCurve:
    """⟨C̄_B⟩ as a monotone function of x = log10(t/τα): knots ``x`` (increasing) and ``c`` (non-increasing)."""

    x: np.ndarray
    c: np.ndarray
    _f: object = field(default=None, repr=False)
    _g: object = field(default=None, repr=False)

    def __post_init__(self) -> None:
        from scipy.interpolate import PchipInterpolator

        self.x = np.asarray(self.x, dtype=np.float64)
        self.c = np.asarray(self.c, dtype=np.float64)
        self._f = PchipInterpolator(self.x, self.c, extrapolate=False)
        # inverse on the strictly decreasing knots (plateaus of the isotonic fit removed)
        keep = np.concatenate([[True], np.diff(self.c) < 0])
        xi, ci = self.x[keep], self.c[keep]
        self._g = PchipInterpolator(ci[::-1], xi[::-1], extrapolate=False) if xi.size >= 2 else None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """⟨C̄_B⟩ at x = log10(t/τα); NaN outside the knots."""
        return self._f(np.asarray(x, dtype=np.float64))

    def inverse(self, c: np.ndarray) -> np.ndarray:
        """x = log10(t/τα) where the master curve equals ``c``; NaN outside its range."""
        if self._g is None:
            raise ValueError("the master curve has fewer than 2 distinct values; it cannot be inverted")
        return self._g(np.asarray(c, dtype=np.float64))


def build_master_curve(curves: Mapping[float, tuple[np.ndarray, np.ndarray]], taus: Mapping[float, float],
                       points_per_decade: int = 10) -> MasterCurve:
    """Pool curves ``{T: (t, C)}`` on x = log10(t/τα(T)), average in log bins and make them monotone."""
    xs, cs = [], []
    for temp, (t, c) in curves.items():
        tau = taus.get(temp, float("nan"))
        t = np.asarray(t, dtype=np.float64)
        if not math.isfinite(tau):
            continue
        keep = t > 0
        xs.append(np.log10(t[keep] / tau))
        cs.append(np.asarray(c, dtype=np.float64)[keep])
    if not xs:
        raise ValueError("no curve has a finite τα: at least one temperature must reach ⟨C̄_B⟩ = 0.5")
    x, c = np.concatenate(xs), np.concatenate(cs)
    o = np.argsort(x)
    x, c = x[o], c[o]
    b = np.floor((x - x[0]) * points_per_decade + 1e-9).astype(np.int64)
    cnt = np.bincount(b)
    nz = cnt > 0
    xb = np.bincount(b, weights=x)[nz] / cnt[nz]
    cb = np.bincount(b, weights=c)[nz] / cnt[nz]
    return MasterCurve(xb, isotonic_decreasing(cb, cnt[nz].astype(np.float64)))


def fit_shift(t: np.ndarray, c: np.ndarray, master: MasterCurve, log_tau_range: tuple[float, float],
              n_grid: int = 400, c_max: float = 0.97) -> tuple[float, float]:
    """τα (τ) maximising the overlap of (t, C) with ``master``: the mean squared difference over the points
    that fall on the master curve is minimised (grid in log10 τα, then bounded refinement). Points above
    ``c_max`` (the flat short-time plateau, which fixes no shift) are left out. Returns (τα, rms)."""
    from scipy.optimize import minimize_scalar

    lt = np.log10(np.asarray(t, dtype=np.float64))
    c = np.asarray(c, dtype=np.float64)
    keep = c <= c_max
    if keep.sum() < 2:
        raise ValueError(f"the curve has < 2 points below C = {c_max}: too short to place by TTS; run longer")
    lt, c = lt[keep], c[keep]

    def cost(s: float) -> float:
        m = master(lt - s)
        ok = np.isfinite(m)
        if ok.sum() < max(2, lt.size // 2):  # most points must overlap the master curve
            return 1e6
        return float(np.mean((m[ok] - c[ok]) ** 2))

    grid = np.linspace(*log_tau_range, n_grid)
    vals = np.array([cost(s) for s in grid])
    k = int(np.argmin(vals))
    if vals[k] >= 1e6:
        raise ValueError("no shift in the given range makes the curve overlap the master curve; widen log_tau_range")
    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, n_grid - 1)]
    res = minimize_scalar(cost, bounds=(lo, hi), method="bounded")
    s = float(res.x) if res.fun <= vals[k] else float(grid[k])
    return 10.0 ** s, math.sqrt(cost(s))


def tts_taus(curves: Mapping[float, tuple[np.ndarray, np.ndarray]], level: float = 0.5,
             span_decades: float = 6.0) -> tuple[dict[float, float], dict[float, str], MasterCurve]:
    """τα(T) (τ) for curves ``{T: (t, C)}``: the ``level`` crossing where reached, else the TTS shift onto
    the master curve of the crossing temperatures. Returns (τα, method per T, final master curve)."""
    taus = {T: crossing_time(t, c, level) for T, (t, c) in curves.items()}
    how = {T: "crossing" for T, v in taus.items() if math.isfinite(v)}
    master = build_master_curve(curves, taus)
    known = [math.log10(v) for v in taus.values() if math.isfinite(v)]
    for T, (t, c) in sorted(curves.items(), key=lambda kv: -kv[0]):
        if T in how:
            continue
        lt_end = math.log10(float(np.asarray(t)[-1]))
        lo = min(known) - span_decades
        hi = max(max(known), lt_end) + span_decades
        tau, _ = fit_shift(t, c, master, (lo, hi))
        taus[T], how[T] = tau, "tts-shift"
    return taus, how, build_master_curve(curves, taus)


@dataclass(frozen=True)
class Arrhenius:
    """τα = τ0 exp(E/T): τ0 (τ), E (ε), fitted on temperatures ``T`` (ε/k_B)."""

    tau0: float
    E: float
    T: tuple[float, ...]

    def tau(self, T: np.ndarray | float) -> np.ndarray:
        """τα (τ) at temperature(s) T (ε/k_B)."""
        return self.tau0 * np.exp(self.E / np.asarray(T, dtype=np.float64))

    def temperature_at(self, tau: float) -> float:
        """Temperature (ε/k_B) where τα reaches ``tau`` (τ), e.g. the reproduction's own T_g at 10^12."""
        return float(self.E / math.log(tau / self.tau0))


def fit_arrhenius(T: np.ndarray, tau: np.ndarray) -> Arrhenius:
    """Least-squares fit of log τα = log τ0 + E/T (T in ε/k_B, τα in τ); needs >= 2 temperatures."""
    T = np.asarray(T, dtype=np.float64)
    tau = np.asarray(tau, dtype=np.float64)
    ok = np.isfinite(tau) & (tau > 0)
    if ok.sum() < 2:
        raise ValueError(f"an Arrhenius fit needs >= 2 finite τα, got {int(ok.sum())}")
    E, ln0 = np.polyfit(1.0 / T[ok], np.log(tau[ok]), 1)
    return Arrhenius(float(math.exp(ln0)), float(E), tuple(float(x) for x in T[ok]))


def c_to_time(c: np.ndarray | float, tau_alpha: float, master: MasterCurve) -> np.ndarray:
    """Time (τ) at which ⟨C̄_B⟩ = c, at a temperature with relaxation time ``tau_alpha`` (τ)."""
    return tau_alpha * 10.0 ** master.inverse(c)


def time_to_c(t: np.ndarray | float, tau_alpha: float, master: MasterCurve) -> np.ndarray:
    """⟨C̄_B⟩ at time t (τ) for relaxation time ``tau_alpha`` (τ), from the master curve."""
    return master(np.log10(np.asarray(t, dtype=np.float64) / tau_alpha))
