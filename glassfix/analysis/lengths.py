"""Length scales of dynamic heterogeneity: chord lengths of mobile regions and the attention length ξ_int.

* **Chords** (Scalliet, Guiselin & Berthier, PRX 12, 041028 (2022), as used by Jung et al. Sec. V.B;
  ``shared/science/001_jung.md`` §5.7): a_i = 0 (active) where the propensity is below the median, else 1;
  the a_i are averaged on the sites of a square lattice of spacing ≈ ``spacing`` (sites with no particle
  take the mean of their filled neighbours, repeatedly, so every site is defined); a site is mobile when its
  mean a < 0.5; chords are the maximal runs of mobile sites along every row and every column, with
  periodic wrapping (a row that is mobile everywhere is one chord of the full box length).
* **P_int(L), ξ_int** (Sec. VI.A): the attention weights w_k of each particle, averaged over particles, then
  over the descriptors sharing the same coarse-graining length L, normalised over L; ξ_int = Σ_L P_int(L) L.

Units: lengths σ (positions, spacing, chords, L, ξ_int); weights and P_int dimensionless.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["lattice_activity", "chord_lengths", "mean_chord_length", "intrinsic_length", "intrinsic_length_by_feature",
           "JUNG_LENGTHS", "JUNG_LAYOUT"]

# the 11 coarse-graining lengths (σ) of tGlassMLP and the descriptor layout (observable, L, channel)
JUNG_LENGTHS = (0.0, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 9.0)
JUNG_LAYOUT = (4, 11, 4)


def lattice_activity(positions: np.ndarray, active: np.ndarray, box: np.ndarray, spacing: float = 1.0) -> np.ndarray:
    """Mean of the 0/1 values ``active`` (1 = passive) on the sites of a periodic square lattice, (n_x, n_y).

    The number of sites per side is round(L / spacing) (σ), so the true spacing is L / n. Empty sites take
    the mean of their filled nearest sites (4-neighbourhood, repeated until all are filled).
    """
    pos = np.asarray(positions, dtype=np.float64)
    box = np.asarray(box, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[1] != 2 or box.shape != (2,):
        raise ValueError(f"chord lengths are defined in 2D: positions (n, 2) and box (2,), got {pos.shape}, "
                         f"{box.shape}")
    nsite = np.maximum(np.rint(box / spacing).astype(int), 1)
    idx = np.floor(np.mod(pos, box) / box * nsite).astype(int) % nsite
    flat = idx[:, 0] * nsite[1] + idx[:, 1]
    a = np.asarray(active, dtype=np.float64)
    tot = np.bincount(flat, weights=a, minlength=nsite.prod()).reshape(nsite)
    cnt = np.bincount(flat, minlength=nsite.prod()).reshape(nsite).astype(np.float64)
    grid = np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)
    if not np.isfinite(grid).any():
        raise ValueError("no particle on the lattice")
    while np.isnan(grid).any():
        filled = np.isfinite(grid)
        g0 = np.where(filled, grid, 0.0)
        s = sum(np.roll(g0, sh, axis=ax) for ax in (0, 1) for sh in (1, -1))
        n = sum(np.roll(filled.astype(np.float64), sh, axis=ax) for ax in (0, 1) for sh in (1, -1))
        new = ~filled & (n > 0)
        grid[new] = s[new] / n[new]
    return grid


def chord_lengths(positions: np.ndarray, propensity: np.ndarray, box: np.ndarray, spacing: float = 1.0,
                  threshold: float | None = None) -> np.ndarray:
    """Lengths (σ) of all chords of mobile sites along the rows and columns of one 2D configuration.

    ``propensity``: per-particle values where *low* means active (C_B); ``threshold``: the median that
    separates active (below) from passive (default: the median of ``propensity``).
    """
    from ._chord_kernels import runs_periodic  # numba loads only when chords are computed

    p = np.asarray(propensity, dtype=np.float64)
    thr = float(np.nanmedian(p)) if threshold is None else float(threshold)
    active = (p >= thr).astype(np.float64)  # a_i = 0 below the median (active), 1 otherwise
    grid = lattice_activity(positions, active, box, spacing)
    mobile = grid < 0.5
    box = np.asarray(box, dtype=np.float64)
    step = box / np.array(grid.shape)
    rows = runs_periodic(mobile) * step[1]  # runs along axis 1 (the y direction)
    cols = runs_periodic(np.ascontiguousarray(mobile.T)) * step[0]
    return np.concatenate([rows, cols]).astype(np.float64)


def mean_chord_length(positions: Sequence[np.ndarray], propensities: Sequence[np.ndarray], box: np.ndarray,
                      spacing: float = 1.0, pooled_median: bool = True) -> float:
    """⟨ξ_chord⟩ (σ): the mean over all chords of all configurations; the median is taken over all of them
    (``pooled_median``) or per configuration."""
    thr = float(np.nanmedian(np.concatenate([np.ravel(p) for p in propensities]))) if pooled_median else None
    chords = [chord_lengths(x, p, box, spacing, thr) for x, p in zip(positions, propensities)]
    allc = np.concatenate(chords) if chords else np.empty(0)
    return float(allc.mean()) if allc.size else float("nan")


def intrinsic_length(weights: np.ndarray, lengths: Sequence[float] = JUNG_LENGTHS,
                     layout: tuple[int, int, int] = JUNG_LAYOUT, l_axis: int = 1) -> tuple[np.ndarray, float]:
    """P_int(L) over the coarse-graining lengths and ξ_int = Σ_L P_int(L) · L (σ) from attention weights.

    ``weights``: (n_particles, n_descriptors) softmax weights, the descriptors ordered as ``layout``
    (default (observable, L, channel) = (4, 11, 4)); ``l_axis`` names the L axis of that layout.
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim == 1:
        w = w[None]
    if w.shape[1] != int(np.prod(layout)):
        raise ValueError(f"weights have {w.shape[1]} descriptors but the layout {layout} has {int(np.prod(layout))}")
    lengths = np.asarray(lengths, dtype=np.float64)
    if lengths.size != layout[l_axis]:
        raise ValueError(f"{lengths.size} lengths for an L axis of size {layout[l_axis]}")
    mean = w.mean(axis=0).reshape(layout)
    other = tuple(a for a in range(len(layout)) if a != l_axis)
    per_l = mean.mean(axis=other)
    p = per_l / per_l.sum()
    return p, float((p * lengths).sum())


def intrinsic_length_by_feature(weights: np.ndarray, feature_lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """P_int(L) and ξ_int (σ) when every descriptor's coarse-graining length is given (``feature_lengths``,
    (n_descriptors,), σ): weights averaged over particles, then over the descriptors of each distinct L.
    Returns (the distinct L, P_int, ξ_int)."""
    w = np.asarray(weights, dtype=np.float64).reshape(-1, np.asarray(feature_lengths).size)
    fl = np.asarray(feature_lengths, dtype=np.float64)
    ls, inv = np.unique(fl, return_inverse=True)
    per_l = np.bincount(inv, weights=w.mean(axis=0)) / np.bincount(inv)
    p = per_l / per_l.sum()
    return ls, p, float((p * ls).sum())
