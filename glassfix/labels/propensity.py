"""Isoconfigurational (displacement) propensity and its label-noise ceiling.

Propensity (Widmer-Cooper & Harrowell; BOTAN Eq. 10, ``shared/science/004_botan.md`` §2.1): R replicas
start from the same positions with fresh Maxwell–Boltzmann velocities, and

    S_i(t) = ⟨ |Δr_i(t)| ⟩_IC          (kind="abs", length units; BOTAN's node target)
    S_i(t) = ⟨ |Δr_i(t)|² ⟩_IC         (kind="sq", length²)

with Δr_i(t) = r_i(t) − r_i(0) from unwrapped positions and ⟨·⟩_IC the mean over replicas.

Cage-relative variant (the cage-relative displacement of the GlassBench roadmap, arXiv:2311.14752, for 2D
systems where long-wavelength Mermin–Wagner fluctuations blur plain displacements; see
``shared/science/001_jung.md`` §3.1 and §6): in each replica

    Δr_i^CR(t) = Δr_i(t) − (1/n_i) Σ_{j ∈ C_i} Δr_j(t),

where the cage C_i is the set of the n_i neighbours of i within a cage radius at t = 0 (i itself
excluded), and the propensity is the replica mean of |Δr^CR| (or its square). Pass the cage as a
:class:`~glassfix.core.frame.NeighborList` of all atoms at t = 0, e.g.
``neighbor_list(frame0, r_cage)``; each listed pair counts once (an atom reachable through two periodic
images counts twice, which only happens when r_cage exceeds half the box). Particles with an empty cage
get NaN.

Noise ceiling: with finitely many replicas the label carries noise, which bounds the Pearson
correlation any predictor can reach (:func:`split_half_noise_ceiling`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from ..core.frame import NeighborList

__all__ = [
    "propensity",
    "cage_relative_displacements",
    "isoconfigurational_average",
    "split_half_noise_ceiling",
    "NoiseCeiling",
]


def _as_initial_replicas(initial: np.ndarray, replicas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x0 = np.asarray(initial, dtype=np.float64)
    reps = np.asarray(replicas, dtype=np.float64)
    if x0.ndim != 2:
        raise ValueError(f"initial must have shape (N, d), got {x0.shape}")
    if reps.ndim == 2:
        reps = reps[None]
    if reps.ndim != 3 or reps.shape[1:] != x0.shape:
        raise ValueError(f"replicas must have shape (R, {x0.shape[0]}, {x0.shape[1]}), got {np.shape(replicas)}")
    return x0, reps


def _cage_csr(cage_neighbors, n: int) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(cage_neighbors, NeighborList):
        if not np.array_equal(cage_neighbors.centers, np.arange(n)):
            raise ValueError("the cage neighbour list must have every atom 0..N-1 as centre, in order")
        return cage_neighbors.offsets, cage_neighbors.neighbors
    try:
        offsets, nbrs = cage_neighbors
    except (TypeError, ValueError):
        raise TypeError("cage_neighbors must be a NeighborList or an (offsets, neighbors) CSR pair") from None
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    nbrs = np.ascontiguousarray(nbrs, dtype=np.int64)
    if offsets.shape != (n + 1,) or offsets[0] != 0 or offsets[-1] != nbrs.shape[0] or (np.diff(offsets) < 0).any():
        raise ValueError(f"cage offsets must be a non-decreasing array of length {n + 1} from 0 to len(neighbors)")
    if nbrs.size and (nbrs.min() < 0 or nbrs.max() >= n):
        raise ValueError(f"cage neighbours must index atoms 0..{n - 1}")
    return offsets, nbrs


@njit(cache=True, parallel=True)
def _subtract_cage_mean(disp: np.ndarray, offsets: np.ndarray, nbrs: np.ndarray) -> np.ndarray:
    R, N, d = disp.shape
    out = np.empty_like(disp)
    for i in prange(N):
        p0 = offsets[i]
        p1 = offsets[i + 1]
        n = p1 - p0
        for r in range(R):
            for k in range(d):
                if n == 0:
                    out[r, i, k] = np.nan
                    continue
                s = 0.0
                for p in range(p0, p1):
                    s += disp[r, nbrs[p], k]
                out[r, i, k] = disp[r, i, k] - s / n
    return out


def cage_relative_displacements(displacements: np.ndarray, cage_neighbors) -> np.ndarray:
    """Δr_i − mean of Δr_j over the cage of i, for displacements of shape (N, d) or (R, N, d) (length units).

    ``cage_neighbors``: NeighborList of all atoms at t = 0 within the cage radius, or an (offsets,
    neighbors) CSR pair. NaN rows for particles with an empty cage.
    """
    disp = np.asarray(displacements, dtype=np.float64)
    single = disp.ndim == 2
    if single:
        disp = disp[None]
    if disp.ndim != 3:
        raise ValueError(f"displacements must have shape (N, d) or (R, N, d), got {np.shape(displacements)}")
    offsets, nbrs = _cage_csr(cage_neighbors, disp.shape[1])
    out = _subtract_cage_mean(np.ascontiguousarray(disp), offsets, nbrs)
    return out[0] if single else out


def propensity(initial: np.ndarray, replicas: np.ndarray, kind: str = "abs", cage_relative: bool = False,
               cage_neighbors=None, per_replica: bool = False) -> np.ndarray:
    """Isoconfigurational propensity ⟨|r_i(t) − r_i(0)|⟩ (kind="abs", length) or ⟨|…|²⟩ (kind="sq", length²).

    ``initial``: (N, d) positions at t = 0; ``replicas``: (R, N, d) (or (N, d) for one run) positions at t,
    unwrapped consistently with ``initial`` (``replicas[r, i] − initial[i]`` is the displacement).
    ``cage_relative=True`` uses Δr^CR (module docstring) with ``cage_neighbors`` (NeighborList at t = 0
    within the cage radius, or an (offsets, neighbors) CSR pair).

    Returns (N,) float64 (replica mean), or the per-replica values (R, N) when ``per_replica=True``.
    """
    if kind not in ("abs", "sq"):
        raise ValueError(f"kind must be 'abs' or 'sq', got {kind!r}")
    x0, reps = _as_initial_replicas(initial, replicas)
    disp = reps - x0[None]
    if cage_relative:
        if cage_neighbors is None:
            raise ValueError("cage_relative=True needs cage_neighbors (e.g. neighbor_list(frame0, r_cage))")
        disp = cage_relative_displacements(disp, cage_neighbors)
    elif cage_neighbors is not None:
        raise ValueError("cage_neighbors given but cage_relative=False")
    sq = np.einsum("rik,rik->ri", disp, disp)
    vals = np.sqrt(sq) if kind == "abs" else sq
    return vals if per_replica else vals.mean(axis=0)


def isoconfigurational_average(values: np.ndarray) -> np.ndarray:
    """Mean over the replica axis (axis 0) of per-replica values of shape (R, N, …)."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim < 1 or v.shape[0] == 0:
        raise ValueError("values must have a non-empty leading replica axis")
    return v.mean(axis=0)


@dataclass(frozen=True)
class NoiseCeiling:
    """Split-half reliability of an isoconfigurational label (all dimensionless).

    ``r_half``: Pearson correlation between the labels of two disjoint halves of h = R // 2 replicas,
    averaged over ``n_splits`` random splits (``r_half_std``: its spread over splits; ``per_split``: all
    values). ``reliability``: Spearman–Brown prediction for the R-replica label,
    k·r_half / (1 + (k − 1)·r_half) with k = R / h. ``ceiling`` = sqrt(reliability): the Pearson correlation
    a perfect predictor of the infinite-replica propensity would reach against the R-replica label (NaN if
    reliability ≤ 0).
    """

    r_half: float
    r_half_std: float
    reliability: float
    ceiling: float
    n_replicas: int
    n_half: int
    n_splits: int
    per_split: np.ndarray


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    if a.size < 2:
        return np.nan
    a = a - a.mean()
    b = b - b.mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else np.nan


def split_half_noise_ceiling(replicas: np.ndarray, initial: np.ndarray | None = None, n_splits: int = 100,
                             seed: int | None = 0, kind: str = "abs", cage_relative: bool = False,
                             cage_neighbors=None, mask: np.ndarray | None = None) -> NoiseCeiling:
    """Split-half reliability and noise ceiling of the propensity label (or of any per-replica label).

    With ``initial`` given, ``replicas`` are (R, N, d) positions and the per-replica values are the
    propensity's (``kind``, ``cage_relative``, ``cage_neighbors`` as in :func:`propensity`). With
    ``initial=None``, ``replicas`` are already per-replica label values (R, M) (e.g. bond breaking or pair
    targets with ``per_replica=True``). Each split draws a random permutation of the replicas
    (``np.random.default_rng(seed)``) and correlates the means over its first h = R // 2 and next h
    replicas (one replica is left out when R is odd). ``mask`` (M,) bool selects the items correlated
    (e.g. type-A particles); non-finite items are dropped per split.
    """
    if initial is None:
        vals = np.asarray(replicas, dtype=np.float64)
        if vals.ndim != 2:
            raise ValueError(f"per-replica values must have shape (R, M), got {vals.shape}")
    else:
        vals = propensity(initial, replicas, kind=kind, cage_relative=cage_relative,
                          cage_neighbors=cage_neighbors, per_replica=True)
    R = vals.shape[0]
    if R < 2:
        raise ValueError("need at least 2 replicas for a split-half estimate")
    n_splits = int(n_splits)
    if n_splits < 1:
        raise ValueError("n_splits must be >= 1")
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (vals.shape[1],):
            raise ValueError(f"mask must have shape ({vals.shape[1]},), got {mask.shape}")
        vals = vals[:, mask]
    h = R // 2
    rng = np.random.default_rng(seed)
    rs = np.empty(n_splits)
    for s in range(n_splits):
        perm = rng.permutation(R)
        rs[s] = _pearson(vals[perm[:h]].mean(axis=0), vals[perm[h:2 * h]].mean(axis=0))
    r = float(np.nanmean(rs)) if np.isfinite(rs).any() else np.nan
    k = R / h
    rel = k * r / (1.0 + (k - 1.0) * r)
    ceiling = float(np.sqrt(rel)) if rel > 0 else np.nan
    return NoiseCeiling(r_half=r, r_half_std=float(np.nanstd(rs)), reliability=float(rel), ceiling=ceiling,
                        n_replicas=R, n_half=h, n_splits=n_splits, per_split=rs)
