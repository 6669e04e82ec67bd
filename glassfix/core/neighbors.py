"""Offline neighbour lists: a numba cell list in fractional coordinates, exact for any cutoff.

Works for orthorhombic and triclinic cells, 2D and 3D, any mix of periodic and open axes, and cutoffs
larger than the box (every periodic image within the cutoff is listed, including an atom's own images).
Lengths are in the frame's length unit.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .frame import Frame, NeighborList

__all__ = ["neighbor_list"]

# Upper bound on the number of cells as a multiple of N: a tiny cutoff in a huge box would otherwise
# allocate far more (empty) cells than atoms. Coarser cells are always correct (the search range m_a is
# recomputed from n_a), just slower per centre.
_MAX_CELLS_PER_ATOM = 4
_MIN_MAX_CELLS = 64


# Cells of cutoff/k: a centre scans (2k+1)^3 cells of volume (cutoff/k)^3, i.e. 27, 15.6, 12.7 cutoff^3
# for k = 1, 2, 3, but near-empty cells cost more than they save. k is chosen so that a cell holds
# about _ATOMS_PER_CELL atoms or more (KA N = 4096, ρ = 1.2: rc 5.4 -> k = 3, 2.8x faster than k = 1;
# rc 2.5 -> k = 1).
_MAX_SUBDIVISIONS = 3
_ATOMS_PER_CELL = 3.0


@njit(cache=True)
def _bin_atoms(lin: np.ndarray, n_cells: int) -> tuple[np.ndarray, np.ndarray]:
    """Counting sort of atoms by linear cell index; atoms keep increasing index order within a cell."""
    start = np.zeros(n_cells + 1, dtype=np.int64)
    for i in range(lin.shape[0]):
        start[lin[i] + 1] += 1
    for c in range(n_cells):
        start[c + 1] += start[c]
    fill = start[:-1].copy()
    order = np.empty(lin.shape[0], dtype=np.int64)
    for i in range(lin.shape[0]):
        order[fill[lin[i]]] = i
        fill[lin[i]] += 1
    return start, order


@njit(cache=True)
def _visit(
    i: int,
    pos: np.ndarray,
    wrap: np.ndarray,
    spos: np.ndarray,
    swrap: np.ndarray,
    cidx: np.ndarray,
    cell: np.ndarray,
    ncell: np.ndarray,
    msearch: np.ndarray,
    periodic: np.ndarray,
    start: np.ndarray,
    order: np.ndarray,
    cut2: float,
    out_nb: np.ndarray,
    out_vec: np.ndarray,
    p0: int,
    write: bool,
) -> int:
    """Count (write=False) or store from slot p0 (write=True) the neighbours of atom i; returns the count."""
    count = 0
    xi0, xi1, xi2 = pos[i, 0], pos[i, 1], pos[i, 2]
    wi0, wi1, wi2 = wrap[i, 0], wrap[i, 1], wrap[i, 2]
    # Scalars rather than small arrays: lets the compiler keep them in registers in the hot loop.
    for d0 in range(-msearch[0], msearch[0] + 1):
        u0 = cidx[i, 0] + d0
        t0 = 0
        if periodic[0]:
            t0 = u0 // ncell[0]  # floor division: which periodic image of the cell grid
            u0 -= t0 * ncell[0]
        elif u0 < 0 or u0 >= ncell[0]:
            continue
        for d1 in range(-msearch[1], msearch[1] + 1):
            u1 = cidx[i, 1] + d1
            t1 = 0
            if periodic[1]:
                t1 = u1 // ncell[1]
                u1 -= t1 * ncell[1]
            elif u1 < 0 or u1 >= ncell[1]:
                continue
            for d2 in range(-msearch[2], msearch[2] + 1):
                u2 = cidx[i, 2] + d2
                t2 = 0
                if periodic[2]:
                    t2 = u2 // ncell[2]
                    u2 -= t2 * ncell[2]
                elif u2 < 0 or u2 >= ncell[2]:
                    continue
                # Translation of the cell image, plus i's wrap; j's wrap is subtracted per atom below.
                m0 = t0 + wi0
                m1 = t1 + wi1
                m2 = t2 + wi2
                c = (u0 * ncell[1] + u1) * ncell[2] + u2
                for q in range(start[c], start[c + 1]):
                    # spos/swrap are pos/wrap in cell order: contiguous reads instead of random access.
                    # n = lattice translation of j's image relative to the *input* positions (grid image
                    # t + i's wrap - j's wrap). Building the vector from input positions and an integer
                    # translation keeps it exact to rounding even for far-unwrapped input.
                    n0 = m0 - swrap[q, 0]
                    n1 = m1 - swrap[q, 1]
                    n2 = m2 - swrap[q, 2]
                    v0 = (spos[q, 0] - xi0) + (n0 * cell[0, 0] + n1 * cell[1, 0] + n2 * cell[2, 0])
                    v1 = (spos[q, 1] - xi1) + (n0 * cell[0, 1] + n1 * cell[1, 1] + n2 * cell[2, 1])
                    v2 = (spos[q, 2] - xi2) + (n0 * cell[0, 2] + n1 * cell[1, 2] + n2 * cell[2, 2])
                    r2 = v0 * v0 + v1 * v1 + v2 * v2
                    # r2 > 0 also drops j == i with zero translation (and exact duplicates).
                    if r2 < cut2 and r2 > 0.0:
                        if write:
                            j = order[q]
                            out_nb[p0 + count] = j
                            out_vec[p0 + count, 0] = v0
                            out_vec[p0 + count, 1] = v1
                            out_vec[p0 + count, 2] = v2
                        count += 1
    return count


@njit(cache=True, parallel=True)
def _cell_list_search(
    pos: np.ndarray,
    wrap: np.ndarray,
    cidx: np.ndarray,
    cell: np.ndarray,
    ncell: np.ndarray,
    msearch: np.ndarray,
    periodic: np.ndarray,
    centers: np.ndarray,
    cutoff: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two-pass (count, fill) cell-list search over 3D-padded arrays; returns offsets, neighbours, vectors."""
    n_cells = ncell[0] * ncell[1] * ncell[2]
    lin = (cidx[:, 0] * ncell[1] + cidx[:, 1]) * ncell[2] + cidx[:, 2]
    start, order = _bin_atoms(lin, n_cells)
    spos = np.empty_like(pos)
    swrap = np.empty_like(wrap)
    for q in range(order.shape[0]):
        spos[q] = pos[order[q]]
        swrap[q] = wrap[order[q]]
    cut2 = cutoff * cutoff
    nc = centers.shape[0]
    dummy_nb = np.empty(0, dtype=np.int64)
    dummy_vec = np.empty((0, 3), dtype=np.float64)
    # Visit centres in cell order (neighbouring centres share cells, so the data stays in cache); each
    # result still goes to the centre's own slot, so the output order is the order of ``centers``.
    corder = np.argsort(lin[centers], kind="mergesort")
    counts = np.zeros(nc, dtype=np.int64)
    for kk in prange(nc):
        k = corder[kk]
        counts[k] = _visit(centers[k], pos, wrap, spos, swrap, cidx, cell, ncell, msearch, periodic, start, order,
                           cut2, dummy_nb, dummy_vec, 0, False)
    offsets = np.zeros(nc + 1, dtype=np.int64)
    for k in range(nc):
        offsets[k + 1] = offsets[k] + counts[k]
    nb = np.empty(offsets[nc], dtype=np.int64)
    vec = np.empty((offsets[nc], 3), dtype=np.float64)
    # Each centre owns the slots [offsets[k], offsets[k+1]) and visits cells in a fixed order, so the
    # output does not depend on thread scheduling.
    for kk in prange(nc):
        k = corder[kk]
        _visit(centers[k], pos, wrap, spos, swrap, cidx, cell, ncell, msearch, periodic, start, order,
               cut2, nb, vec, offsets[k], True)
    return offsets, nb, vec


def _full_rank_basis(cell: np.ndarray, pbc: np.ndarray) -> np.ndarray:
    """The cell itself, or (if singular) the cell with open-axis rows replaced by an orthonormal completion."""
    if abs(np.linalg.det(cell)) > 0:
        return cell
    # Open axes may carry a degenerate box vector (e.g. zero height of a slab); any basis that keeps the
    # periodic rows works for binning, since only periodic rows define lattice translations.
    basis = cell.copy()
    per = cell[pbc]
    if per.shape[0]:
        _, _, vt = np.linalg.svd(per)
        complement = vt[per.shape[0]:]
    else:
        complement = np.eye(cell.shape[0])
    basis[~pbc] = complement[: int((~pbc).sum())]
    return basis


def neighbor_list(frame: Frame, cutoff: float, centers: np.ndarray | None = None) -> NeighborList:
    """All pairs 0 < |r_j(image) − r_i| < cutoff (length units) for the given centres (default: all atoms).

    ``vectors`` are r_j + n @ cell − r_i for the integer lattice translation n of that image (n = 0 along
    open axes), computed from the input positions, which need not be wrapped. Pairs of a centre come
    in a deterministic order (cell-visit order, then atom index).
    """
    cutoff = float(cutoff)
    if not cutoff > 0 or not np.isfinite(cutoff):
        raise ValueError(f"cutoff must be positive and finite, got {cutoff}")
    n, d = frame.positions.shape
    centers_arr = (
        np.arange(n, dtype=np.int64) if centers is None
        else np.ascontiguousarray(centers, dtype=np.int64).reshape(-1)
    )
    if centers_arr.size and (centers_arr.min() < 0 or centers_arr.max() >= n):
        raise ValueError(f"centers must index atoms 0..{n - 1}")
    frame.check_finite()
    pbc = np.asarray(frame.pbc, dtype=bool)
    if n == 0 or centers_arr.size == 0:
        return NeighborList(centers_arr, np.zeros(centers_arr.size + 1, dtype=np.int64),
                            np.empty(0, dtype=np.int64), np.empty((0, d)), cutoff)

    basis = _full_rank_basis(frame.cell, pbc)
    inv = np.linalg.inv(basis)
    s = (frame.positions - frame.origin) @ inv
    widths = 1.0 / np.linalg.norm(inv, axis=0)  # perpendicular widths of the basis

    wrap = np.zeros((n, 3), dtype=np.int64)
    cidx = np.zeros((n, 3), dtype=np.int64)
    ncell = np.ones(3, dtype=np.int64)
    msearch = np.zeros(3, dtype=np.int64)
    periodic = np.zeros(3, dtype=np.bool_)
    # Per axis: fractional offset/extent of the binned region and the cell count.
    lo = np.zeros(d)
    extent = np.ones(d)
    volume = float(np.prod(widths))
    density = n / volume if volume > 0 else 0.0
    subdiv = int(np.clip(np.floor(cutoff * (density / _ATOMS_PER_CELL) ** (1.0 / d)), 1, _MAX_SUBDIVISIONS))
    for a in range(d):
        if pbc[a]:
            k = np.floor(s[:, a])
            wrap[:, a] = k.astype(np.int64)
            s[:, a] -= k
            ncell[a] = max(1, int(np.floor(widths[a] * subdiv / cutoff)))
            periodic[a] = True
        else:
            lo[a] = s[:, a].min()
            extent[a] = s[:, a].max() - lo[a]
            length = extent[a] * widths[a]  # perpendicular extent of the atoms, length units
            ncell[a] = max(1, int(np.floor(length * subdiv / cutoff))) if length > 0 else 1
    limit = max(_MIN_MAX_CELLS, _MAX_CELLS_PER_ATOM * n)
    if int(np.prod(ncell)) > limit:
        factor = (limit / float(np.prod(ncell))) ** (1.0 / d)
        for a in range(d):
            ncell[a] = max(1, int(np.floor(ncell[a] * factor)))
    for a in range(d):
        span = widths[a] if pbc[a] else extent[a] * widths[a]
        if span > 0:
            # A pair within the cutoff differs by < cutoff / width_a in s_a, i.e. by < cutoff*n_a/span
            # cells, so ceil of that many cells either side suffices (>1 when cutoff > cell width).
            msearch[a] = int(np.ceil(cutoff * ncell[a] / span))
            if not pbc[a]:
                # Open axes have no cells beyond the n_a that exist (and span may be tiny).
                msearch[a] = min(msearch[a], ncell[a] - 1)
        frac = s[:, a] if pbc[a] else (s[:, a] - lo[a]) / (extent[a] if extent[a] > 0 else 1.0)
        # Clip: s_a == 1 - eps can round to n_a, and open axes reach exactly 1 at the maximum.
        cidx[:, a] = np.clip(np.floor(frac * ncell[a]), 0, ncell[a] - 1).astype(np.int64)

    pos3 = np.zeros((n, 3))
    pos3[:, :d] = frame.positions
    cell3 = np.zeros((3, 3))
    cell3[:d, :d] = frame.cell
    offsets, nb, vec = _cell_list_search(
        pos3, wrap, cidx, cell3, ncell, msearch, periodic, centers_arr, cutoff
    )
    return NeighborList(centers_arr, offsets, nb, np.ascontiguousarray(vec[:, :d]), cutoff)
