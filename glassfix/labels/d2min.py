"""D²min, the non-affine displacement of Falk & Langer, PRE 57, 7192 (1998) (``shared/science/002_cubuk.md`` §3.1).

For centre i with neighbours j within ``rcut`` at t0 (R_ij = r_j − r_i, column vectors, length units)::

    D²min(i) = min_Λ  w · Σ_j | R_ij(t1) − Λ R_ij(t0) |²,      w = 1 ("sum", Cubuk ch. 6, Eq. 6.2)
                                                                 w = 1/z ("mean", ch. 4, Eq. 4.3)

(units: length²). The minimiser is the closed form Λ = X Y⁻¹ with X = Σ_j R_ij(t1) ⊗ R_ij(t0) and
Y = Σ_j R_ij(t0) ⊗ R_ij(t0). Λ is the local deformation gradient (identity for no deformation; the local
strain is Λ − 1), mapping t0 separations to t1 separations: R(t1) ≈ Λ R(t0). D²min is evaluated as the
explicit residual sum (not as a trace identity), so it is ≥ 0 and exact to round-off for affine motion.

**Singular Y.** Y is singular when a centre has fewer than d neighbours or its neighbours span less than
d dimensions (collinear in 2D, coplanar in 3D); Λ is then not determined. Such centres get NaN for both
D²min and Λ. The test is on the eigenvalues of Y: singular if λ_min ≤ ``rcond`` · λ_max (default 1e-10).

**Separations at t1** (``form``; positions at t1 must be unwrapped consistently with frame0's positions,
i.e. ``positions1[i] − frame0.positions[i]`` is the true displacement u_i of i):

- ``"unwrapped"`` (default): R_ij(t1) = R_ij(t0) + (u_j − u_i) + n_ij · (cell1 − cell0), with R_ij(t0) the
  periodic image found by the t0 neighbour list and n_ij its integer lattice translation. This follows the
  same pair continuously and works for any displacement. For a deformed box (sheared systems; pass
  ``cell1``) the last term makes it consistent with unwrapped coordinates of the form x + image · cell(t),
  as LAMMPS writes them (``xu yu zu`` with ``fix deform ... remap x``): pure affine motion of positions and
  box gives D²min = 0 and Λ = the applied tensor.
- ``"minimum_image"``: R_ij(t1) = minimum image of r_j(t1) − r_i(t1) in ``cell1``. Use only for wrapped
  input; it needs |R_ij(t1)| < half the box and is refused when ``rcut`` ≥ half the smallest periodic width.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..core.frame import Frame
from ..core.neighbors import neighbor_list
from .bonds import _as_cell_t, _check_minimum_image_cutoff, _pair_vectors_t, _pairs_of

__all__ = ["d2min", "d2min_trajectory"]


@njit(cache=True, parallel=True)
def _d2min_kernel(offsets: np.ndarray, v0: np.ndarray, v1: np.ndarray, rcond: float,
                  mean: bool) -> tuple[np.ndarray, np.ndarray]:
    nc = offsets.shape[0] - 1
    d = v0.shape[1]
    d2 = np.full(nc, np.nan)
    lam = np.full((nc, d, d), np.nan)
    for c in prange(nc):
        p0 = offsets[c]
        p1 = offsets[c + 1]
        z = p1 - p0
        if z == 0:
            continue
        X = np.zeros((d, d))
        Y = np.zeros((d, d))
        for p in range(p0, p1):
            for a in range(d):
                for b in range(d):
                    X[a, b] += v1[p, a] * v0[p, b]
                    Y[a, b] += v0[p, a] * v0[p, b]
        w, V = np.linalg.eigh(Y)
        if not (w[d - 1] > 0.0) or w[0] <= rcond * w[d - 1]:
            continue
        # Y^-1 = V diag(1/w) V^T (Y is symmetric positive definite here); Λ = X Y^-1
        Yinv = np.zeros((d, d))
        for a in range(d):
            for b in range(d):
                s = 0.0
                for k in range(d):
                    s += V[a, k] * V[b, k] / w[k]
                Yinv[a, b] = s
        L = np.zeros((d, d))
        for a in range(d):
            for b in range(d):
                s = 0.0
                for k in range(d):
                    s += X[a, k] * Yinv[k, b]
                L[a, b] = s
        acc = 0.0
        for p in range(p0, p1):
            for a in range(d):
                r = v1[p, a]
                for b in range(d):
                    r -= L[a, b] * v0[p, b]
                acc += r * r
        d2[c] = acc / z if mean else acc
        for a in range(d):
            for b in range(d):
                lam[c, a, b] = L[a, b]
    return d2, lam


def d2min(frame0: Frame, positions1: np.ndarray, rcut: float, normalize: str = "sum",
          cell1: np.ndarray | None = None, centers: np.ndarray | None = None, form: str = "unwrapped",
          rcond: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """D²min (length²) and the best affine map Λ (dimensionless) between ``frame0`` (t0) and t1.

    ``positions1``: (N, d) positions at t1, unwrapped consistently with ``frame0.positions`` (see the
    module docstring). ``rcut``: neighbour cutoff at t0 (length units; strict r < rcut, all species).
    ``normalize``: ``"sum"`` (no 1/z, Cubuk ch. 6) or ``"mean"`` (1/z, ch. 4 / Falk–Langer). ``cell1``:
    box at t1 (rows = box vectors) for deformed boxes, default ``frame0.cell``. ``centers``: atoms to
    evaluate (default all). ``form``: ``"unwrapped"`` (default) or ``"minimum_image"``.

    Returns ``(D2min, Lambda)`` of shapes (n,) and (n, d, d) with R(t1) ≈ Lambda @ R(t0); NaN for centres
    whose Y is singular (fewer than d neighbours, or neighbours not spanning d dimensions).
    """
    if normalize not in ("sum", "mean"):
        raise ValueError(f"normalize must be 'sum' or 'mean', got {normalize!r}")
    if form not in ("unwrapped", "minimum_image"):
        raise ValueError(f"form must be 'unwrapped' or 'minimum_image', got {form!r}")
    p1 = np.ascontiguousarray(positions1, dtype=np.float64)
    if p1.shape != frame0.positions.shape:
        raise ValueError(f"positions1 must have shape {frame0.positions.shape}, got {p1.shape}")
    if not np.isfinite(p1).all():
        raise ValueError("positions1 contains non-finite positions")
    cell1 = _as_cell_t(frame0, cell1)
    if form == "minimum_image":
        _check_minimum_image_cutoff(frame0, float(rcut))
    nl = neighbor_list(frame0, rcut, centers)
    src, dst = _pairs_of(nl)
    v0 = nl.vectors
    v1 = _pair_vectors_t(frame0, src, dst, v0, p1, frame0.positions, cell1,
                         "robust" if form == "unwrapped" else "minimum_image")
    return _d2min_kernel(nl.offsets, np.ascontiguousarray(v0), np.ascontiguousarray(v1), float(rcond),
                         normalize == "mean")


def d2min_trajectory(positions: np.ndarray, cell: np.ndarray, rcut: float, lag: int = 1,
                     types: np.ndarray | None = None, normalize: str = "sum", stride: int = 1,
                     origin: np.ndarray | None = None, pbc: np.ndarray | None = None,
                     centers: np.ndarray | None = None, form: str = "unwrapped",
                     return_lambda: bool = False):
    """D²min between frames t0 and t0 + ``lag`` of a trajectory, for t0 = 0, stride, 2·stride, …

    ``positions``: (T, N, d) unwrapped positions (length units); ``cell``: (d, d) fixed box or (T, d, d)
    box per frame (deforming box). Neighbours are taken at each t0 within ``rcut``; ``types`` only fill the
    frames (they do not change D²min). Other arguments as in :func:`d2min`.

    Returns ``(t0, D2min)`` with t0 int64 (K,) and D2min (K, n) in length², plus Lambda (K, n, d, d) as a
    third element when ``return_lambda=True``. K = 0 when lag ≥ T.
    """
    traj = np.asarray(positions, dtype=np.float64)
    if traj.ndim != 3:
        raise ValueError(f"positions must have shape (T, N, d), got {traj.shape}")
    T, N, d = traj.shape
    lag, stride = int(lag), int(stride)
    if lag < 1 or stride < 1:
        raise ValueError("lag and stride must be >= 1")
    cells = np.asarray(cell, dtype=np.float64)
    if cells.shape == (d, d):
        cells = np.broadcast_to(cells, (T, d, d))
    elif cells.shape != (T, d, d):
        raise ValueError(f"cell must have shape ({d}, {d}) or ({T}, {d}, {d}), got {cells.shape}")
    types = np.zeros(N, dtype=np.int64) if types is None else np.asarray(types)
    t0s = np.arange(0, max(T - lag, 0), stride, dtype=np.int64)
    n = N if centers is None else int(np.asarray(centers).reshape(-1).shape[0])
    out = np.empty((t0s.shape[0], n))
    lams = np.empty((t0s.shape[0], n, d, d)) if return_lambda else None
    for k, t0 in enumerate(t0s):
        frame = Frame(positions=traj[t0], types=types, cell=cells[t0], origin=origin, pbc=pbc)
        d2, lam = d2min(frame, traj[t0 + lag], rcut, normalize=normalize, cell1=cells[t0 + lag],
                        centers=centers, form=form)
        out[k] = d2
        if return_lambda:
            lams[k] = lam
    return (t0s, out, lams) if return_lambda else (t0s, out)


def isoconfigurational_d2min(frame0: Frame, replicas: np.ndarray, rcut: float = 2.5,
                             normalize: str = "sum") -> np.ndarray:
    """Replica mean of D²min (length²) between ``frame0`` and each of ``replicas`` (R, N, d) positions at
    time t, unwrapped from ``frame0.positions`` (the thermal activity score of Rottler & Ortner)."""
    reps = np.asarray(replicas, dtype=np.float64)
    if reps.ndim == 2:
        reps = reps[None]
    if reps.ndim != 3 or reps.shape[1:] != frame0.positions.shape:
        raise ValueError(f"replicas must have shape (R, {frame0.n_atoms}, {frame0.dim}), got {reps.shape}")
    total = np.zeros(frame0.n_atoms)
    for r in reps:
        total += d2min(frame0, r, rcut, normalize=normalize)[0]
    return total / reps.shape[0]
