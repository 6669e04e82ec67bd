"""Fused cell-list kernels for radial structure functions of a whole periodic frame.

The generic path builds a CSR neighbour list (pair indices and vectors written to memory, ~76 ns per
pair measured) and then sums Gaussians over it. For the common offline case — every atom of a fully
periodic frame whose box holds at least 3 cells of the cutoff per axis — these kernels walk the cell
list directly and add each pair's Gaussians as soon as its distance is known:

* :func:`radial_half` (one thread): each pair once (own cell j > i, then the lexicographically positive
  half of the cell stencil), the Gaussians of r_ij added to row i in j's species channel and to row j in
  i's;
* :func:`radial_full` (several threads): each centre scans the whole stencil and writes only its own row,
  so rows are independent and the result does not depend on the thread count.

Both give the generic kernel's values up to round-off (summation order differs; ≤ 1e-15 relative of the
feature scale). The layout (:func:`fused_layout`) guarantees that every stencil cell is distinct and the
minimum image unique, so each pair is found exactly once.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from glassfix.core.neighbors import _bin_atoms

# Away from the grid point nearest r the Gaussians fall super-exponentially (and the recurrence ratio
# q keeps shrinking), so once a term drops below 1e-18 every later one on that side is smaller still and
# their sum is below 2e-18: adding them cannot change a feature beyond double round-off, yet walking
# the whole grid costs ~3x more (measured: δ = 0.1 visits ~19 of 50 points).
_NEGLIGIBLE = 1e-18


@numba.njit(cache=True, inline="always")
def add_gaussians(out, row1, base1, row2, base2, r, mus, inv2d2, rc, cosine, uniform, h, step):
    """Add the (cutoff-weighted) Gaussians exp(−(μ_m − r)²/(2δ²)) of one distance r into
    out[row1, base1 + m] and, when row2 ≥ 0, into out[row2, base2 + m] (both atoms of a pair).

    The one place the recurrence lives (the generic list kernel and the fused kernels call it). For a
    uniform grid (spacing h) the Gaussians follow g_{m±1} = g_m · q_m with q_{m+1} = q_m · exp(−h²/δ²),
    so a pair costs 3 exp instead of one per grid point; the products start at the grid point nearest r
    and run outwards, where every ratio is < 1 (no overflow), and stop below ``_NEGLIGIBLE``. Values go
    straight into the rows: a scratch buffer cost 20 % of the fused kernel's time (measured).
    """
    n_mu = mus.shape[0]
    two = row2 >= 0
    weight = 1.0
    if cosine:
        weight = 0.5 * (math.cos(math.pi * r / rc) + 1.0)
    if not uniform:
        for m in range(n_mu):
            x = mus[m] - r
            g = weight * math.exp(-x * x * inv2d2)
            out[row1, base1 + m] += g
            if two:
                out[row2, base2 + m] += g
        return
    m0 = int(math.floor((r - mus[0]) / h + 0.5))
    m0 = min(max(m0, 0), n_mu - 1)
    x0 = mus[m0] - r
    g0 = weight * math.exp(-x0 * x0 * inv2d2)
    out[row1, base1 + m0] += g0
    if two:
        out[row2, base2 + m0] += g0
    g = g0
    q = math.exp(-(2.0 * x0 * h + h * h) * inv2d2)
    for m in range(m0 + 1, n_mu):
        g *= q
        q *= step
        if g < _NEGLIGIBLE:
            break
        out[row1, base1 + m] += g
        if two:
            out[row2, base2 + m] += g
    g = g0
    q = math.exp((2.0 * x0 * h - h * h) * inv2d2)
    for m in range(m0 - 1, -1, -1):
        g *= q
        q *= step
        if g < _NEGLIGIBLE:
            break
        out[row1, base1 + m] += g
        if two:
            out[row2, base2 + m] += g


@numba.njit(cache=True)
def _neighbor_cell(cx, cy, cz, dx, dy, dz, ncell):
    """Linear index of the cell at offset (dx, dy, dz) and the lattice shift (in cells' box units) it needs."""
    x = cx + dx
    y = cy + dy
    z = cz + dz
    sx = 0
    sy = 0
    sz = 0
    if x >= ncell[0]:
        x -= ncell[0]
        sx = 1
    elif x < 0:
        x += ncell[0]
        sx = -1
    if y >= ncell[1]:
        y -= ncell[1]
        sy = 1
    elif y < 0:
        y += ncell[1]
        sy = -1
    if z >= ncell[2]:
        z -= ncell[2]
        sz = 1
    elif z < 0:
        z += ncell[2]
        sz = -1
    return (z * ncell[1] + y) * ncell[0] + x, sx, sy, sz


@numba.njit(cache=True)
def radial_half(xw, cidx, start, order, ncell, cell3, offsets, types, mus, inv2d2, rc, cosine, n_species,
                uniform):
    """One-thread fused radial kernel: each pair once, added to both rows (see the module docstring)."""
    n = xw.shape[0]
    n_mu = mus.shape[0]
    out = np.zeros((n, n_species * n_mu))
    h = 0.0
    if uniform:
        h = (mus[n_mu - 1] - mus[0]) / (n_mu - 1)
    step = math.exp(-2.0 * h * h * inv2d2)
    rc2 = rc * rc
    n_cells = ncell[0] * ncell[1] * ncell[2]
    for c in range(n_cells):
        cx = c % ncell[0]
        cy = (c // ncell[0]) % ncell[1]
        cz = c // (ncell[0] * ncell[1])
        # own cell (offset 0, later atoms only), then the forward neighbour cells
        for k in range(offsets.shape[0]):
            own = offsets[k, 0] == 0 and offsets[k, 1] == 0 and offsets[k, 2] == 0
            c2, sx, sy, sz = _neighbor_cell(cx, cy, cz, offsets[k, 0], offsets[k, 1], offsets[k, 2], ncell)
            v0 = sx * cell3[0, 0] + sy * cell3[1, 0] + sz * cell3[2, 0]
            v1 = sx * cell3[0, 1] + sy * cell3[1, 1] + sz * cell3[2, 1]
            v2 = sx * cell3[0, 2] + sy * cell3[1, 2] + sz * cell3[2, 2]
            for a in range(start[c], start[c + 1]):
                i = order[a]
                ti = types[i]
                for b in range(a + 1 if own else start[c2], start[c2 + 1]):
                    j = order[b]
                    d0 = xw[j, 0] + v0 - xw[i, 0]
                    d1 = xw[j, 1] + v1 - xw[i, 1]
                    d2 = xw[j, 2] + v2 - xw[i, 2]
                    r2 = d0 * d0 + d1 * d1 + d2 * d2
                    if r2 < rc2 and r2 > 0.0:
                        r = math.sqrt(r2)
                        add_gaussians(out, i, types[j] * n_mu, j, ti * n_mu, r, mus, inv2d2, rc, cosine, uniform, h,
                              step)
    return out


@numba.njit(parallel=True, cache=True)
def radial_full(xw, cidx, start, order, ncell, cell3, offsets, types, mus, inv2d2, rc, cosine, n_species,
                uniform):
    """Multi-thread fused radial kernel: every centre scans all neighbouring cells and owns its row."""
    n = xw.shape[0]
    n_mu = mus.shape[0]
    out = np.zeros((n, n_species * n_mu))
    h = 0.0
    if uniform:
        h = (mus[n_mu - 1] - mus[0]) / (n_mu - 1)
    step = math.exp(-2.0 * h * h * inv2d2)
    rc2 = rc * rc
    for i in numba.prange(n):
        cx = cidx[i, 0]
        cy = cidx[i, 1]
        cz = cidx[i, 2]
        for k in range(offsets.shape[0]):
            c2, sx, sy, sz = _neighbor_cell(cx, cy, cz, offsets[k, 0], offsets[k, 1], offsets[k, 2], ncell)
            v0 = sx * cell3[0, 0] + sy * cell3[1, 0] + sz * cell3[2, 0]
            v1 = sx * cell3[0, 1] + sy * cell3[1, 1] + sz * cell3[2, 1]
            v2 = sx * cell3[0, 2] + sy * cell3[1, 2] + sz * cell3[2, 2]
            for b in range(start[c2], start[c2 + 1]):
                j = order[b]
                d0 = xw[j, 0] + v0 - xw[i, 0]
                d1 = xw[j, 1] + v1 - xw[i, 1]
                d2 = xw[j, 2] + v2 - xw[i, 2]
                r2 = d0 * d0 + d1 * d1 + d2 * d2
                if r2 < rc2 and r2 > 0.0:
                    add_gaussians(out, i, types[j] * n_mu, -1, 0, math.sqrt(r2), mus, inv2d2, rc, cosine, uniform, h, step)
    return out


def _offsets(m: np.ndarray, dim: int, half: bool, cell_size: np.ndarray | None, cutoff: float) -> np.ndarray:
    """Cell offsets within ±m per axis (with ``half``: the own cell and the lexicographically positive
    half); with an orthorhombic ``cell_size`` the blocks whose closest points are ≥ cutoff apart are
    dropped."""
    rz = range(-m[2], m[2] + 1) if dim == 3 else range(0, 1)
    offs = []
    for dz in rz:
        for dy in range(-m[1], m[1] + 1):
            for dx in range(-m[0], m[0] + 1):
                if half and (dz, dy, dx) < (0, 0, 0):
                    continue
                if cell_size is not None:
                    gap = [max(abs(d) - 1, 0) * cs for d, cs in zip((dx, dy, dz), cell_size)]
                    if sum(g * g for g in gap) >= cutoff * cutoff:
                        continue
                offs.append((dx, dy, dz))
    return np.array(offs, dtype=np.int64).reshape(-1, 3)


_MAX_SUBDIVISIONS = 3
_ATOMS_PER_CELL = 3.0


def fused_layout(positions: np.ndarray, cell: np.ndarray, origin: np.ndarray, pbc: np.ndarray, cutoff: float):
    """Cell-list layout for the fused kernels, or None when they do not apply.

    Cells are cutoff/k wide (k ≤ 3, chosen so a cell holds ≳ 3 atoms); a pair within the cutoff lies at
    most m = ceil(cutoff · n / width) cells away per axis, and the kernels need 2m + 1 ≤ n cells so every
    neighbouring cell is distinct (which also makes the minimum image unique). Open axes or boxes too
    small for that return None.
    """
    n, dim = positions.shape
    if dim not in (2, 3) or not np.all(pbc) or n == 0 or abs(np.linalg.det(cell)) == 0:
        return None
    inv = np.linalg.inv(cell)
    widths = 1.0 / np.linalg.norm(inv, axis=0)  # perpendicular widths
    density = n / abs(np.linalg.det(cell))
    k_pref = int(np.clip(np.floor(cutoff * (density / _ATOMS_PER_CELL) ** (1.0 / dim)), 1, _MAX_SUBDIVISIONS))
    nc = m = None
    for k in range(k_pref, 0, -1):
        nc_k = np.floor(widths * k / cutoff).astype(np.int64)
        if np.any(nc_k < 1):
            continue
        m_k = np.ceil(cutoff * nc_k / widths - 1e-12).astype(np.int64)
        if np.all(2 * m_k + 1 <= nc_k):
            nc, m = nc_k, m_k
            break
    if nc is None:
        return None
    s = (positions - origin) @ inv
    s -= np.floor(s)
    s[s >= 1.0] = 0.0  # −tiny wraps to 1.0 in floating point
    xw = s @ cell
    ncell = np.ones(3, dtype=np.int64)
    ncell[:dim] = nc
    m3 = np.zeros(3, dtype=np.int64)
    m3[:dim] = m
    cidx = np.zeros((n, 3), dtype=np.int64)
    cidx[:, :dim] = np.minimum((s * nc).astype(np.int64), nc - 1)
    lin = (cidx[:, 2] * ncell[1] + cidx[:, 1]) * ncell[0] + cidx[:, 0]
    start, order = _bin_atoms(lin, int(ncell.prod()))
    xw3 = np.zeros((n, 3))
    xw3[:, :dim] = xw
    cell3 = np.zeros((3, 3))
    cell3[:dim, :dim] = cell
    # pruning by cell-block distance is exact only for orthogonal cell edges
    ortho = np.allclose(cell - np.diag(np.diag(cell)), 0.0)
    cell_size = np.ones(3)
    cell_size[:dim] = np.diag(cell) / nc if ortho else 0.0
    return xw3, cidx, start, order, ncell, cell3, dim, m3, (np.abs(cell_size) if ortho else None)


def radial_fused(positions, cell, origin, pbc, types, mus, delta, cutoff, cosine, n_species, uniform):
    """Radial structure functions of every atom via the fused kernels, or None when they do not apply."""
    layout = fused_layout(np.asarray(positions, dtype=np.float64), np.asarray(cell, dtype=np.float64),
                          np.asarray(origin, dtype=np.float64), np.asarray(pbc, dtype=bool), cutoff)
    if layout is None:
        return None
    xw, cidx, start, order, ncell, cell3, dim, m3, cell_size = layout
    half = numba.get_num_threads() == 1
    kernel = radial_half if half else radial_full
    return kernel(xw, cidx, start, order, ncell, cell3, _offsets(m3, dim, half, cell_size, cutoff),
                  np.ascontiguousarray(types, dtype=np.int64), mus, 1.0 / (2.0 * delta * delta), float(cutoff),
                  bool(cosine), int(n_species), bool(uniform))
