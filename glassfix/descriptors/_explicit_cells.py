"""Cell binning of explicit-image atoms (LAMMPS' owned + ghost atoms: no periodicity) for kernels that find
each centre's environment themselves instead of reading a neighbour list: a counting sort into cubic cells
over the atoms' bounding box, and per centre the runs of sorted atoms that can lie within a reach. Lengths
in σ."""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True)
def bin_atoms(x: np.ndarray, types: np.ndarray, cell: float) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                       np.ndarray, np.ndarray]:
    """Atoms sorted by cubic cells of edge ``cell`` (σ) over their bounding box, x fastest (counting sort):
    (sorted positions (n, 3), sorted types, cell_start (n_cells + 1), dims (3,), origin (3,)). The positions
    are explicit images (LAMMPS' ghosts), so the grid is not periodic."""
    n = x.shape[0]
    origin = np.zeros(3)
    dims = np.ones(3, dtype=np.int64)
    if n:
        for d in range(3):
            lo = x[0, d]
            hi = x[0, d]
            for i in range(n):
                lo = min(lo, x[i, d])
                hi = max(hi, x[i, d])
            origin[d] = lo
            dims[d] = int((hi - lo) / cell) + 1
    n_cells = dims[0] * dims[1] * dims[2]
    inv = 1.0 / cell
    cid = np.empty(n, dtype=np.int64)
    cell_start = np.zeros(n_cells + 1, dtype=np.int64)
    for i in range(n):
        ix = min(int((x[i, 0] - origin[0]) * inv), dims[0] - 1)
        iy = min(int((x[i, 1] - origin[1]) * inv), dims[1] - 1)
        iz = min(int((x[i, 2] - origin[2]) * inv), dims[2] - 1)
        c = (iz * dims[1] + iy) * dims[0] + ix
        cid[i] = c
        cell_start[c + 1] += 1
    for c in range(n_cells):
        cell_start[c + 1] += cell_start[c]
    fill = cell_start[:-1].copy()
    xs = np.empty((n, 3))
    ts = np.empty(n, dtype=types.dtype)
    for i in range(n):
        k = fill[cid[i]]
        fill[cid[i]] = k + 1
        xs[k, 0] = x[i, 0]
        xs[k, 1] = x[i, 1]
        xs[k, 2] = x[i, 2]
        ts[k] = types[i]
    return xs, ts, cell_start, dims, origin


@numba.njit(cache=True)
def _cell_runs(cx: float, cy: float, cz: float, reach: float, cell: float, dims: np.ndarray, origin: np.ndarray,
               cell_start: np.ndarray, runs: np.ndarray) -> int:
    """The sorted-atom ranges of the cells that can hold atoms within ``reach`` of (cx, cy, cz): one run of
    x-adjacent cells per (y, z) row, trimmed to the sphere's extent in x on that row. Returns the count."""
    inv = 1.0 / cell
    nr = 0
    z0 = max(int(math.floor((cz - reach - origin[2]) * inv)), 0)
    z1 = min(int(math.floor((cz + reach - origin[2]) * inv)), dims[2] - 1)
    y0 = max(int(math.floor((cy - reach - origin[1]) * inv)), 0)
    y1 = min(int(math.floor((cy + reach - origin[1]) * inv)), dims[1] - 1)
    for iz in range(z0, z1 + 1):
        zl = origin[2] + iz * cell
        dz = max(0.0, zl - cz, cz - (zl + cell))
        for iy in range(y0, y1 + 1):
            yl = origin[1] + iy * cell
            dy = max(0.0, yl - cy, cy - (yl + cell))
            rem = reach * reach - dy * dy - dz * dz
            if rem < 0.0:
                continue
            hx = math.sqrt(rem)
            x0 = max(int(math.floor((cx - hx - origin[0]) * inv)), 0)
            x1 = min(int(math.floor((cx + hx - origin[0]) * inv)), dims[0] - 1)
            if x1 < x0:
                continue
            base = (iz * dims[1] + iy) * dims[0]
            a = cell_start[base + x0]
            b = cell_start[base + x1 + 1]
            if b > a:
                runs[nr, 0] = a
                runs[nr, 1] = b
                nr += 1
    return nr


def binned_cell(rc: float, extent: np.ndarray, max_cells: int = 1 << 24) -> float:
    """Cell edge (σ) for :func:`bin_atoms`: r_cut / 4 (candidates ≈ 2× the pairs inside the cutoff, few runs),
    larger when the bounding box would need more than ``max_cells`` cells (sparse or far-flung atoms)."""
    cell = rc / 4.0
    vol = float(np.prod(np.maximum(extent, cell)))
    if vol / cell ** 3 > max_cells:
        cell = (vol / max_cells) ** (1.0 / 3.0)
    return cell
