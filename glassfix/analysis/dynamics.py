"""Single-particle dynamics of glass formers: MSD, F_s(k, t), overlap Q(t), chi_4 and the alpha time.

Inputs are **unwrapped** positions, shape ``(T, N, d)`` in sigma (the engine's length unit), frames
ordered in time; several trajectories of the same particles (e.g. the replicas of an isoconfigurational
ensemble, or independent runs) are given as a list or an array ``(N_traj, T, N, d)`` and averaged.
Times are in tau and only enter the alpha-time estimators and fits.

Time origins
------------
With ``t0_stride=None`` (the default) every quantity is measured from the first frame,
``A(t_j) = <a(r(t_j) - r(t_0))>``: this is what an isoconfigurational ensemble needs (all replicas start
from the same configuration) and what a log-spaced time grid allows. With ``t0_stride=s`` the result is
averaged over time origins ``t0 = 0, s, 2s, ...``: entry ``j`` is then the average over all pairs of
frames ``j`` apart, which is a function of the lag *time* only if frames are **linearly spaced** (pass
``times`` to have that checked); the lag time of entry ``j`` is ``times[j] - times[0]``.

alpha time
----------
:func:`tau_alpha_crossing` returns the first time F_s falls to ``level`` (1/e by default), interpolating
linearly in ``log t`` between the bracketing points. If F_s never reaches ``level`` it raises a
ValueError by default (a silent nan tends to end up in an Arrhenius plot); ``on_missing="nan"`` returns
nan instead for batch use. :func:`fit_kww` and :func:`fit_double_stretched` fit the usual forms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal, Sequence

import numpy as np
from scipy import optimize, special

__all__ = [
    "msd",
    "self_intermediate_scattering",
    "shell_wavevectors",
    "overlap",
    "chi4",
    "tau_alpha_crossing",
    "RelaxationFit",
    "fit_kww",
    "fit_double_stretched",
    "log_bin",
]

ArrayLike = np.ndarray | Sequence[np.ndarray]

# Keep temporary (rows x wavevectors) or (origins x N x d) blocks around this many float64 elements
# (~32 MB), so memory stays bounded for large systems and long trajectories.
_CHUNK_ELEMENTS = 4_000_000


# ----------------------------------------------------------------------------------------------------
# input handling
# ----------------------------------------------------------------------------------------------------


def _as_trajectories(traj: ArrayLike) -> np.ndarray:
    """Return positions as (N_traj, T, N, d) float64; a single (T, N, d) trajectory gets N_traj = 1."""
    if isinstance(traj, (list, tuple)):
        if len(traj) == 0:
            raise ValueError("traj is an empty list; pass at least one (T, N, d) trajectory")
        shapes = {np.shape(x) for x in traj}
        if len(shapes) != 1:
            raise ValueError(
                f"trajectories in the list have different shapes {sorted(shapes)}; all must share (T, N, d) "
                "(same particles, same time grid)"
            )
        arr = np.stack([np.asarray(x, dtype=np.float64) for x in traj])
    else:
        arr = np.asarray(traj, dtype=np.float64)
        if arr.ndim == 3:
            arr = arr[None]
    if arr.ndim != 4:
        raise ValueError(
            f"traj must have shape (T, N, d) or (N_traj, T, N, d), got {np.shape(traj)}; "
            "pass unwrapped positions frame by frame"
        )
    if arr.shape[-1] not in (1, 2, 3):
        raise ValueError(f"the last axis of traj is the dimension d and must be 1, 2 or 3, got {arr.shape[-1]}")
    if arr.shape[1] < 1 or arr.shape[2] < 1:
        raise ValueError(f"traj has no frames or no particles: shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("traj contains non-finite positions (nan/inf); clean or drop those frames first")
    return arr


def _select(mask: np.ndarray | Sequence[int] | None, n: int) -> np.ndarray:
    """Indices of the selected particles from a boolean mask (N,) or an index list; None selects all."""
    if mask is None:
        return np.arange(n)
    m = np.asarray(mask)
    if m.dtype == bool:
        if m.shape != (n,):
            raise ValueError(f"boolean mask has shape {m.shape} but traj has N = {n} particles; pass shape ({n},)")
        idx = np.flatnonzero(m)
    elif np.issubdtype(m.dtype, np.integer):
        idx = m.ravel().astype(np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise ValueError(f"mask indices must lie in [0, {n}), got range [{idx.min()}, {idx.max()}]")
    else:
        raise ValueError(f"mask must be a boolean array of shape ({n},) or integer indices, got dtype {m.dtype}")
    if idx.size == 0:
        raise ValueError("mask selects no particles; e.g. use mask=(types == 0) for species A")
    return idx


def _check_linear_times(times: np.ndarray | None, n_frames: int) -> None:
    if times is None:
        return
    t = np.asarray(times, dtype=np.float64)
    if t.shape != (n_frames,):
        raise ValueError(f"times has shape {t.shape} but traj has {n_frames} frames")
    dt = np.diff(t)
    if dt.size and not np.allclose(dt, dt[0], rtol=1e-6, atol=0.0):
        raise ValueError(
            "time-origin averaging (t0_stride) needs linearly spaced frames, but the spacing of `times` varies "
            f"from {dt.min():g} to {dt.max():g}; use t0_stride=None (measure from the first frame) instead"
        )


def _lag_average(
    trajs: np.ndarray,
    idx: np.ndarray,
    per_particle: Callable[[np.ndarray], np.ndarray],
    t0_stride: int | None,
) -> np.ndarray:
    """Per-trajectory mean over particles (and origins) of per_particle(displacements); shape (N_traj, T)."""
    n_traj, n_t = trajs.shape[:2]
    x = trajs[:, :, idx, :]
    if t0_stride is None:
        # displacement from the first frame: (N_traj, T, n, d) -> (N_traj, T)
        return per_particle(x - x[:, :1]).mean(axis=-1)
    s = int(t0_stride)
    if s < 1 or s != t0_stride:
        raise ValueError(f"t0_stride must be a positive integer (frames between origins), got {t0_stride!r}")
    out = np.empty((n_traj, n_t))
    n_sel, d = x.shape[2], x.shape[3]
    chunk = max(1, _CHUNK_ELEMENTS // (n_sel * d))
    for lag in range(n_t):
        origins = np.arange(0, n_t - lag, s)
        acc = np.zeros(n_traj)
        for c in range(0, origins.size, chunk):
            o = origins[c : c + chunk]
            acc += per_particle(x[:, o + lag] - x[:, o]).mean(axis=-1).sum(axis=1)
        out[:, lag] = acc / origins.size
    return out


# ----------------------------------------------------------------------------------------------------
# MSD, F_s, overlap, chi_4
# ----------------------------------------------------------------------------------------------------


def msd(
    traj: ArrayLike,
    mask: np.ndarray | Sequence[int] | None = None,
    t0_stride: int | None = None,
    times: np.ndarray | None = None,
) -> np.ndarray:
    """Mean-squared displacement <|r(t) - r(0)|^2> per frame/lag, shape (T,), in sigma^2.

    ``traj``: unwrapped positions (T, N, d) or several trajectories (N_traj, T, N, d) averaged together.
    ``t0_stride=None`` measures from frame 0; an integer averages over time origins every ``t0_stride``
    frames (linearly spaced frames only; ``times`` is checked for that when given).
    """
    trajs = _as_trajectories(traj)
    if t0_stride is not None:
        _check_linear_times(times, trajs.shape[1])
    idx = _select(mask, trajs.shape[2])
    return _lag_average(trajs, idx, lambda dr: np.einsum("...d,...d->...", dr, dr), t0_stride).mean(axis=0)


def shell_wavevectors(
    cell: np.ndarray,
    k: float,
    dk: float | None = None,
    n_vectors: int | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Box-compatible wavevectors q (rows, 1/sigma) with | |q| - k | <= dk, one of each +-q pair.

    ``cell`` rows are the box vectors (d x d, triclinic allowed) or a length-d vector of orthorhombic box
    lengths. The default shell half-width ``dk`` is half the shortest reciprocal-lattice spacing, so the
    shell is never empty. ``n_vectors`` keeps a random (seeded) subset when the shell holds more.
    """
    c = np.asarray(cell, dtype=np.float64)
    if c.ndim == 1:
        c = np.diag(c)
    if c.ndim != 2 or c.shape[0] != c.shape[1] or c.shape[0] not in (1, 2, 3):
        raise ValueError(f"cell must be a (d, d) matrix of box vectors or d box lengths, got shape {np.shape(cell)}")
    if abs(np.linalg.det(c)) < 1e-12:
        raise ValueError("cell is singular (zero volume); pass the simulation box vectors as rows")
    if not (np.isfinite(k) and k > 0):
        raise ValueError(f"k must be a positive wavenumber in 1/sigma, got {k!r} (e.g. k = 2*pi or 7.25)")
    # reciprocal vectors b_j (rows) satisfy a_i . b_j = 2 pi delta_ij, so q = n @ B for integer n
    recip = 2.0 * np.pi * np.linalg.inv(c).T
    if dk is None:
        dk = 0.5 * float(np.linalg.norm(recip, axis=1).min())
    if not dk > 0:
        raise ValueError(f"dk must be a positive shell half-width in 1/sigma, got {dk!r}")
    # n_j = q . a_j / (2 pi) and |q| <= k + dk bound every integer component, also for triclinic boxes
    n_max = np.floor((k + dk) * np.linalg.norm(c, axis=1) / (2.0 * np.pi)).astype(int)
    grids = np.meshgrid(*[np.arange(-m, m + 1) for m in n_max], indexing="ij")
    n = np.stack([g.ravel() for g in grids], axis=1)
    # keep one of each +-n pair: cos(q.r) is even in q, so the pair carries no extra information
    first_nz = np.argmax(n != 0, axis=1)
    lead = n[np.arange(len(n)), first_nz]
    n = n[lead > 0]
    q = n @ recip
    qn = np.linalg.norm(q, axis=1)
    q = q[np.abs(qn - k) <= dk]
    if len(q) == 0:
        raise ValueError(f"no box-compatible wavevector with |q| within {k} +- {dk}; increase dk")
    if n_vectors is not None:
        if n_vectors < 1:
            raise ValueError(f"n_vectors must be >= 1 or None (all), got {n_vectors}")
        if len(q) > n_vectors:
            q = q[np.sort(np.random.default_rng(seed).choice(len(q), n_vectors, replace=False))]
    return q


def _fs_per_particle(
    k: float,
    d: int,
    method: str,
    q: np.ndarray | None,
) -> Callable[[np.ndarray], np.ndarray]:
    if method == "isotropic":
        if d == 3:
            # <exp(i q.r)> over the sphere = sin(kr)/(kr); np.sinc(x) = sin(pi x)/(pi x)
            return lambda dr: np.sinc(k * np.linalg.norm(dr, axis=-1) / np.pi)
        if d == 2:
            # <exp(i q.r)> over the circle = J0(kr)
            return lambda dr: special.j0(k * np.linalg.norm(dr, axis=-1))
        return lambda dr: np.cos(k * dr[..., 0])

    assert q is not None

    def vec(dr: np.ndarray) -> np.ndarray:
        flat = dr.reshape(-1, d)
        out = np.empty(len(flat))
        rows = max(1, _CHUNK_ELEMENTS // len(q))
        for s in range(0, len(flat), rows):
            # real part only: the imaginary part is odd in q and cancels over the +-q pairs
            out[s : s + rows] = np.cos(flat[s : s + rows] @ q.T).mean(axis=1)
        return out.reshape(dr.shape[:-1])

    return vec


def self_intermediate_scattering(
    traj: ArrayLike,
    k: float,
    mask: np.ndarray | Sequence[int] | None = None,
    method: Literal["isotropic", "vectors"] = "isotropic",
    cell: np.ndarray | None = None,
    n_vectors: int | None = 200,
    dk: float | None = None,
    seed: int = 0,
    t0_stride: int | None = None,
    times: np.ndarray | None = None,
) -> np.ndarray:
    """Self-intermediate scattering function F_s(k, t) = <exp(i q.(r(t) - r(0)))>, shape (T,), dimensionless.

    ``k`` in 1/sigma. ``method="isotropic"`` averages q exactly over all directions of modulus k
    (3D: sin(kr)/(kr), 2D: J0(kr), 1D: cos(kx)); ``method="vectors"`` averages over box-compatible wavevectors in the
    shell | |q| - k | <= dk (needs ``cell``; see :func:`shell_wavevectors`). Several trajectories
    (N_traj, T, N, d) are averaged; ``t0_stride`` as in :func:`msd`.
    """
    trajs = _as_trajectories(traj)
    if t0_stride is not None:
        _check_linear_times(times, trajs.shape[1])
    d = trajs.shape[-1]
    q = None
    if method == "vectors":
        if cell is None:
            raise ValueError('method="vectors" needs the box: pass cell=(d, d) box vectors or d box lengths')
        q = shell_wavevectors(cell, k, dk=dk, n_vectors=n_vectors, seed=seed)
        if q.shape[1] != d:
            raise ValueError(f"cell is {q.shape[1]}-dimensional but traj has d = {d}")
    elif method != "isotropic":
        raise ValueError(f'method must be "isotropic" or "vectors", got {method!r}')
    elif not (np.isfinite(k) and k > 0):
        raise ValueError(f"k must be a positive wavenumber in 1/sigma, got {k!r} (e.g. k = 2*pi or 7.25)")
    idx = _select(mask, trajs.shape[2])
    return _lag_average(trajs, idx, _fs_per_particle(float(k), d, method, q), t0_stride).mean(axis=0)


def _overlap_per_particle(a: float) -> Callable[[np.ndarray], np.ndarray]:
    if not (np.isfinite(a) and a > 0):
        raise ValueError(f"overlap cutoff a must be a positive length in sigma, got {a!r} (typically 0.3)")
    a2 = a * a
    return lambda dr: (np.einsum("...d,...d->...", dr, dr) < a2).astype(np.float64)


def overlap(
    traj: ArrayLike,
    a: float = 0.3,
    mask: np.ndarray | Sequence[int] | None = None,
    t0_stride: int | None = None,
    times: np.ndarray | None = None,
) -> np.ndarray:
    """Self overlap Q(t) = <Theta(a - |r(t) - r(0)|)>, shape (T,), dimensionless; ``a`` in sigma.

    A particle counts as overlapping when its displacement is strictly below ``a``. Several
    trajectories are averaged; ``t0_stride`` as in :func:`msd`.
    """
    trajs = _as_trajectories(traj)
    if t0_stride is not None:
        _check_linear_times(times, trajs.shape[1])
    idx = _select(mask, trajs.shape[2])
    return _lag_average(trajs, idx, _overlap_per_particle(float(a)), t0_stride).mean(axis=0)


def chi4(
    trajs: ArrayLike,
    observable: Literal["overlap", "fs"] = "overlap",
    a: float = 0.3,
    k: float = 2.0 * np.pi,
    mask: np.ndarray | Sequence[int] | None = None,
    method: Literal["isotropic", "vectors"] = "isotropic",
    cell: np.ndarray | None = None,
    n_vectors: int | None = 200,
    dk: float | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Dynamic susceptibility chi_4(t) = N [<X(t)^2> - <X(t)>^2] over trajectories, shape (T,), dimensionless.

    X is the per-trajectory particle average of the overlap (``a`` in sigma) or of F_s (``k`` in
    1/sigma), measured from each trajectory's first frame; N is the number of selected particles and
    the variance is the population variance (ddof = 0) over the N_traj >= 2 trajectories.
    """
    arr = _as_trajectories(trajs)
    if arr.shape[0] < 2:
        raise ValueError(
            f"chi4 needs at least 2 trajectories (N_traj, T, N, d) to form a variance, got {arr.shape[0]}"
        )
    idx = _select(mask, arr.shape[2])
    if observable == "overlap":
        f = _overlap_per_particle(float(a))
    elif observable == "fs":
        q = None
        if method == "vectors":
            if cell is None:
                raise ValueError('method="vectors" needs the box: pass cell=(d, d) box vectors or d box lengths')
            q = shell_wavevectors(cell, k, dk=dk, n_vectors=n_vectors, seed=seed)
        elif method != "isotropic":
            raise ValueError(f'method must be "isotropic" or "vectors", got {method!r}')
        f = _fs_per_particle(float(k), arr.shape[-1], method, q)
    else:
        raise ValueError(f'observable must be "overlap" or "fs", got {observable!r}')
    x = _lag_average(arr, idx, f, None)
    return idx.size * x.var(axis=0)


# ----------------------------------------------------------------------------------------------------
# alpha time
# ----------------------------------------------------------------------------------------------------


def _as_curve(t: np.ndarray, y: np.ndarray, name: str = "fs") -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(t, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if t.ndim != 1 or y.shape != t.shape:
        raise ValueError(f"t and {name} must be 1-D arrays of equal length, got shapes {t.shape} and {y.shape}")
    if t.size < 2:
        raise ValueError(f"need at least 2 time points, got {t.size}")
    if np.any(np.diff(t) <= 0):
        raise ValueError("t must be strictly increasing (sort the data by time and drop duplicate frames)")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(y))):
        raise ValueError(f"t and {name} must be finite; drop nan/inf points first")
    return t, y


def tau_alpha_crossing(
    t: np.ndarray,
    fs: np.ndarray,
    level: float = 1.0 / np.e,
    on_missing: Literal["raise", "nan"] = "raise",
) -> float:
    """First time (in the units of ``t``, tau) at which ``fs`` falls to ``level``; log-t linear interpolation.

    Between the bracketing points fs is interpolated linearly in log t (linearly in t if the earlier
    point is at t <= 0). If fs never reaches ``level`` (or already starts below it) this raises a
    ValueError, or returns nan with ``on_missing="nan"``.
    """
    t, fs = _as_curve(t, fs)
    if on_missing not in ("raise", "nan"):
        raise ValueError(f'on_missing must be "raise" or "nan", got {on_missing!r}')
    below = np.flatnonzero(fs <= level)
    if below.size == 0 or below[0] == 0:
        if on_missing == "nan":
            return float("nan")
        if below.size == 0:
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
    if t0 <= 0:
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
