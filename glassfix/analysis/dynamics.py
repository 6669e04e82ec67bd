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

The α time and the fits of these curves are in :mod:`glassfix.analysis.relaxation`.
"""

from __future__ import annotations

from typing import Callable, Literal, Sequence

import numpy as np
from scipy import special

__all__ = [
    "msd",
    "self_intermediate_scattering",
    "shell_wavevectors",
    "overlap",
    "chi4",
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
