"""Cell binning of explicit-image atoms (LAMMPS' owned + ghost atoms: no periodicity) for kernels that find
each centre's environment themselves instead of reading a neighbour list: a counting sort into cells
over the atoms' bounding box, and per centre the runs of sorted atoms that can lie within a reach. Lengths
in σ."""

from __future__ import annotations

import math

import numba
import numpy as np

_X_SUB = 16.0    # cells per r_cut along the runs (x); 4 across them


@numba.njit(cache=True)
def bin_atoms(x: np.ndarray, types: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                          np.ndarray, np.ndarray]:
    """Atoms sorted by cells of edges ``edges`` (x, y, z; σ) over their bounding box, x fastest (counting sort):
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
            dims[d] = int((hi - lo) / edges[d]) + 1
    n_cells = dims[0] * dims[1] * dims[2]
    inv = 1.0 / edges
    cid = np.empty(n, dtype=np.int64)
    cell_start = np.zeros(n_cells + 1, dtype=np.int64)
    for i in range(n):
        ix = min(int((x[i, 0] - origin[0]) * inv[0]), dims[0] - 1)
        iy = min(int((x[i, 1] - origin[1]) * inv[1]), dims[1] - 1)
        iz = min(int((x[i, 2] - origin[2]) * inv[2]), dims[2] - 1)
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
def _cell_runs(cx: float, cy: float, cz: float, reach: float, edges: np.ndarray, dims: np.ndarray,
               origin: np.ndarray, cell_start: np.ndarray, runs: np.ndarray) -> int:
    """The sorted-atom ranges of the cells (edges (3,), σ) that can hold atoms within ``reach`` of (cx, cy, cz):
    one run of x-adjacent cells per (y, z) row, trimmed to the sphere's extent in x on that row. Returns the
    count."""
    ex, ey, ez = edges[0], edges[1], edges[2]
    inx, iny, inz = 1.0 / ex, 1.0 / ey, 1.0 / ez    # as bin_atoms rounds
    nr = 0
    z0 = max(int(math.floor((cz - reach - origin[2]) * inz)), 0)
    z1 = min(int(math.floor((cz + reach - origin[2]) * inz)), dims[2] - 1)
    y0 = max(int(math.floor((cy - reach - origin[1]) * iny)), 0)
    y1 = min(int(math.floor((cy + reach - origin[1]) * iny)), dims[1] - 1)
    for iz in range(z0, z1 + 1):
        zl = origin[2] + iz * ez
        dz = max(0.0, zl - cz, cz - (zl + ez))
        for iy in range(y0, y1 + 1):
            yl = origin[1] + iy * ey
            dy = max(0.0, yl - cy, cy - (yl + ey))
            rem = reach * reach - dy * dy - dz * dz
            if rem < 0.0:
                continue
            hx = math.sqrt(rem)
            x0 = max(int(math.floor((cx - hx - origin[0]) * inx)), 0)
            x1 = min(int(math.floor((cx + hx - origin[0]) * inx)), dims[0] - 1)
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


def binned_edges(rc: float, extent: np.ndarray, max_cells: int = 1 << 24) -> np.ndarray:
    """Cell edges (x, y, z; σ) for :func:`bin_atoms`: r_cut / 4 across the runs (y, z: few runs per centre) and
    r_cut / 16 along them (x: a run ends within r_cut / 16 of the sphere; in a KA liquid 1.47× the pairs inside
    the cutoff are candidates, 1.65× with cubic r_cut / 4 cells); larger when the bounding box would need more
    than ``max_cells`` cells (sparse or far-flung atoms)."""
    edges = np.array([rc / _X_SUB, rc / 4.0, rc / 4.0])
    ext = np.maximum(extent, edges)
    n = float(np.prod(ext / edges))
    if n > max_cells:
        edges = edges * (n / max_cells) ** (1.0 / 3.0)
    return edges
