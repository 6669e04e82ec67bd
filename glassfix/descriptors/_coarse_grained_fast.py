"""One-pass kernel of the coarse-grained (Jung) descriptors over a whole periodic frame.

Concern: Eqs. (1)–(4) of :mod:`glassfix.descriptors.coarse_grained` for *every* particle at once, with the
same conventions (all periodic images within R_max, self term at R = 0, L = 0 = self only, averages 0
where ρ̄ = 0). Lengths in σ, energies in ε. Used by :meth:`CoarseGrainedDescriptor.compute` on whole
frames; the per-centre neighbour-list kernel there stays the path for given lists (and the baseline of
``glassfix bench cg``).

Why it is fast:

* every pair (i, j, image) within R_max is visited once, from the lower index, and accumulated into both
  particles (w_ij = w_ji); a particle's own images are added to it alone;
* the cell scan runs over unwrapped neighbour cells (c + k, |k_a| ≤ K_a), so every periodic image of every
  particle is met exactly once for any box size (R_max may exceed L/2, as for JBB N = 1290: R = 20 >
  16.45) and no list of image vectors is stored;
* all lengths at once: exp(−r/L) = T[m, L] · exp(−δ/L) with r = m h + δ, |δ| ≤ h/2, T tabulated on the grid
  h = 1/32 σ and exp(−δ/L) by its Taylor series to x⁷ (|x| ≤ 1/64 for L ≥ 1/2, error < 1e-17 relative),
  a branch-free loop the compiler vectorises (libm exp costs 5× more); lengths below 1/2 use exp;
* only the per-species channels are accumulated; "all" is their sum;
* the energy variance from Σw and Σw (E − E₀)² in one pass, E₀ the frame's mean energy:
  ΔĒ = Σw(E − E₀)²/ρ̄ − (Ē − E₀)² (the shift keeps the cancellation harmless: checked against the
  two-pass definition to 1e-10 in tests/test_coarse_grained.py; exactly 0 for a self-only channel).
"""

from __future__ import annotations

import math

import numba
import numpy as np

# grid of the exp table (σ) and the smallest length served by it (smaller ones call exp directly)
_H = 1.0 / 32.0
_L_TABLE_MIN = 0.5


@numba.njit(cache=True, inline="always")
def _exp_weights(r, m_idx, delta, inv_l, table, direct, out):
    """out[l] = exp(−r/L_l) for the positive lengths (see the module docstring)."""
    for l in range(inv_l.shape[0]):
        x = -delta * inv_l[l]
        p = 1.0 + x * (1.0 + x * (0.5 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x * (1.0 / 120.0 + x * (
            1.0 / 720.0 + x * (1.0 / 5040.0)))))))
        out[l] = table[m_idx, l] * p
    for q in range(direct.shape[0]):
        l = direct[q]
        out[l] = math.exp(-r * inv_l[l])


@numba.njit(cache=True)
def _accumulate(frac, H, types, obs, n_species, inv_l, direct, rmax, ncell, ksearch):
    """S[i, β, o, l] = Σ_(j of type β, images, 0 < R_ij < rmax) exp(−R_ij/L_l) obs[j, o] (positive L only)."""
    n = frac.shape[0]
    dim = frac.shape[1]
    n_o = obs.shape[1]
    n_l = inv_l.shape[0]
    # flat rows i·n_species + β, columns o·n_l + l: contiguous inner loops over l
    acc = np.zeros((n * n_species, n_o * n_l))
    n_tab = int(rmax / _H) + 2
    table = np.empty((n_tab, n_l))
    for m in range(n_tab):
        for l in range(n_l):
            table[m, l] = math.exp(-m * _H * inv_l[l])
    # cell list on the fractional grid: particles sorted by cell
    n0 = ncell[0]
    n1 = ncell[1] if dim > 1 else 1
    n2 = ncell[2] if dim > 2 else 1
    nc = n0 * n1 * n2
    cell_of = np.empty(n, dtype=np.int64)
    counts = np.zeros(nc + 1, dtype=np.int64)
    for i in range(n):
        c0 = min(int(frac[i, 0] * n0), n0 - 1)
        c1 = min(int(frac[i, 1] * n1), n1 - 1) if dim > 1 else 0
        c2 = min(int(frac[i, 2] * n2), n2 - 1) if dim > 2 else 0
        c = (c0 * n1 + c1) * n2 + c2
        cell_of[i] = c
        counts[c + 1] += 1
    start = np.cumsum(counts)
    order = np.empty(n, dtype=np.int64)
    fill = start[:-1].copy()
    for i in range(n):
        order[fill[cell_of[i]]] = i
        fill[cell_of[i]] += 1
    k0 = ksearch[0]
    k1 = ksearch[1] if dim > 1 else 0
    k2 = ksearch[2] if dim > 2 else 0
    rmax2 = rmax * rmax
    inv_h = 1.0 / _H
    w = np.empty(n_l)
    s = np.zeros(3)
    for i in range(n):
        ti = types[i]
        c = cell_of[i]
        c2 = c % n2
        c1 = (c // n2) % n1
        c0 = c // (n1 * n2)
        for a in range(dim):
            s[a] = frac[i, a]
        for u0 in range(c0 - k0, c0 + k0 + 1):
            w0 = u0 % n0
            sh0 = (u0 - w0) // n0
            for u1 in range(c1 - k1, c1 + k1 + 1):
                w1 = u1 % n1
                sh1 = (u1 - w1) // n1
                for u2 in range(c2 - k2, c2 + k2 + 1):
                    w2 = u2 % n2
                    sh2 = (u2 - w2) // n2
                    cc = (w0 * n1 + w1) * n2 + w2
                    for p in range(start[cc], start[cc + 1]):
                        j = order[p]
                        if j < i:
                            continue  # met from j's side
                        d0 = frac[j, 0] + sh0 - s[0]
                        d1 = (frac[j, 1] + sh1 - s[1]) if dim > 1 else 0.0
                        d2 = (frac[j, 2] + sh2 - s[2]) if dim > 2 else 0.0
                        x = d0 * H[0, 0]
                        y = 0.0
                        z = 0.0
                        if dim > 1:
                            x += d1 * H[1, 0]
                            y = d0 * H[0, 1] + d1 * H[1, 1]
                        if dim > 2:
                            x += d2 * H[2, 0]
                            y += d2 * H[2, 1]
                            z = d0 * H[0, 2] + d1 * H[1, 2] + d2 * H[2, 2]
                        r2 = x * x + y * y + z * z
                        if not r2 < rmax2 or r2 == 0.0:
                            continue  # out of range, or i itself (its own images have r > 0)
                        r = math.sqrt(r2)
                        m = int(r * inv_h + 0.5)
                        _exp_weights(r, m, r - m * _H, inv_l, table, direct, w)
                        # plain 2-D indexing: a row view per pair would cost a reference count each
                        ri = i * n_species + types[j]
                        for o in range(n_o):
                            vj = obs[j, o]
                            b = o * n_l
                            for l in range(n_l):
                                acc[ri, b + l] += w[l] * vj
                        if j != i:
                            rj = j * n_species + ti
                            for o in range(n_o):
                                vi = obs[i, o]
                                b = o * n_l
                                for l in range(n_l):
                                    acc[rj, b + l] += w[l] * vi
    return acc.reshape((n, n_species, n_o, n_l))


def coarse_grain_frame(frac: np.ndarray, cell: np.ndarray, types: np.ndarray, values: np.ndarray,
                       var_col: int, lengths: np.ndarray, rmax: float, n_species: int, include_self: bool,
                       cell_width: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ρ̄ (n, n_L, n_ch), means (n, n_v, n_L, n_ch), ΔĒ of column ``var_col`` (n, n_L, n_ch)) for every
    particle of a fully periodic frame: ``frac`` fractional coordinates in [0, 1) (n, d), ``cell`` rows =
    box vectors (σ), ``values`` (n, n_v) per-particle quantities, ``lengths`` L ≥ 0 (σ), range ``rmax`` (σ).
    Channel n_species is "all". Same conventions as the per-centre kernel of ``coarse_grained``."""
    from glassfix.core.cell import perpendicular_widths

    n, dim = frac.shape
    n_v = values.shape[1]
    lengths = np.asarray(lengths, dtype=np.float64)
    pos = np.flatnonzero(lengths > 0)
    inv_l = 1.0 / lengths[pos]
    direct = np.flatnonzero(lengths[pos] < _L_TABLE_MIN).astype(np.int64)
    # observables accumulated per pair: 1 (ρ̄), the value columns, and (E − E₀)² for the variance
    e0 = float(values[:, var_col].mean()) if var_col >= 0 and n else 0.0
    dev2 = (values[:, var_col] - e0) ** 2 if var_col >= 0 else np.zeros(n)
    obs = np.ascontiguousarray(np.column_stack([np.ones(n), values, dev2]))
    widths = perpendicular_widths(cell)
    # cells about rmax/3 wide: ~(2·3+1)^d cells scanned, ~2× the ball's volume in candidates (2D)
    width = rmax / 3.0 if cell_width is None else float(cell_width)
    ncell = np.ones(3, dtype=np.int64)
    ksearch = np.zeros(3, dtype=np.int64)
    for a in range(dim):
        ncell[a] = max(1, int(widths[a] // width))
        ksearch[a] = int(math.ceil(rmax * ncell[a] / widths[a]))
    acc = _accumulate(np.ascontiguousarray(frac, dtype=np.float64), np.ascontiguousarray(cell, dtype=np.float64),
                      np.ascontiguousarray(types, dtype=np.int64), obs, int(n_species), inv_l, direct, float(rmax),
                      ncell, ksearch)
    n_l, n_ch = lengths.size, n_species + 1
    sums = np.zeros((n, n_ch, obs.shape[1], n_l))
    sums[:, :n_species, :, pos] = acc
    if include_self:
        # the self term, weight 1 at R = 0 for every L (L = 0: the only term)
        sums[np.arange(n), types, :, :] += obs[:, :, None]
    sums[:, n_species] = sums[:, :n_species].sum(axis=1)
    rho = sums[:, :, 0, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        inv = np.where(rho > 0, 1.0 / np.where(rho > 0, rho, 1.0), 0.0)
    means = sums[:, :, 1:1 + n_v, :] * inv[:, :, None, :]
    if var_col >= 0:
        d = means[:, :, var_col, :] - e0
        var = np.maximum(sums[:, :, 1 + n_v, :] * inv - d * d, 0.0) * (rho > 0)
    else:
        var = np.zeros_like(rho)
    # to the layout of the per-centre kernel: (n, L, ch), (n, v, L, ch)
    return (np.ascontiguousarray(rho.transpose(0, 2, 1)), np.ascontiguousarray(means.transpose(0, 2, 3, 1)),
            np.ascontiguousarray(var.transpose(0, 2, 1)))
