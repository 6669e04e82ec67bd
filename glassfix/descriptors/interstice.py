"""Interstice features of Wang & Jain (Nat. Commun. 10, 5537 (2019)) as used for KA creep.

Source: ``shared/science/003_creep.md`` §4.1–4.3 (Wu & Ruiz Pestana, Front. Mater. 2023) with the
formulas of the Wang–Jain reference implementation (matminer ``IntersticeDistribution``), digest §4.2:

* Neighbours of O: its plain periodic Voronoi neighbours (cells sharing a face; no small-face
  filtering), from :func:`glassfix.descriptors.voronoi.periodic_voronoi` (freud topology,
  float64 geometry).
* Radii r_α per species ("proportional to σ_αα"; default σ_αα/2 of KA: r_A = 0.5, r_B = 0.44).
* Distance interstice, per Voronoi neighbour j:  D = d_Oj / (r_O + r_j) − 1   (may be negative).
* Area interstice, per facet (j, k, l) of the convex hull (Qhull, triangulated) of O's neighbour
  positions:  A = 1 − Σ_{m ∈ {j,k,l}} (θ_m / 2) r_m² / area(jkl),  θ_m the interior angle at m;
  clipped at ≥ 0.
* Volume interstice, per tetrahedron (O, j, k, l) over the same facets:
  V = 1 − [Ω_O r_O³ + Σ_m Ω_m r_m³] / (3 vol(Ojkl)),  Ω = solid angle at each vertex; clipped at ≥ 0.

Short-range features (SRF, 12): for X ∈ (D, A, V) the statistics (Mean, Max, Min, Std) over O's
interstices (population std), named ``Mean(D)``, ``Max(D)``, …, ``Std(V)`` (paper indices 1–12).
Medium-range features (MRF, 48): the same four statistics of each SRF over O's Voronoi neighbours
(centre excluded, as in amlearn), SRF-major: ``mean[Mean(D)]``, ``max[Mean(D)]``, ``min[Mean(D)]``,
``std[Mean(D)]``, ``mean[Max(D)]``, … (paper indices 13–60). Total 60. 3D only (the digest defines no
2D variant). Lengths in σ; all features dimensionless.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numba
import numpy as np

from glassfix.core.frame import Frame, NeighborList
from glassfix.descriptors.base import Descriptor, as_center_indices, register_descriptor
from glassfix.descriptors.voronoi import VORONOI_BACKENDS, VoronoiCells, periodic_voronoi
from glassfix.descriptors.structure_functions import resolve_species_names

__all__ = ["IntersticeDescriptor", "KA_RADII", "neighbor_hull_facets", "SRF_NAMES", "MRF_NAMES"]

#: σ_αα / 2 of the Kob–Andersen mixture (digest 003 §4.2 default): r_A = 0.5, r_B = 0.44.
KA_RADII: tuple[float, float] = (0.5, 0.44)
_KINDS = ("D", "A", "V")
_STATS = ("Mean", "Max", "Min", "Std")
SRF_NAMES: tuple[str, ...] = tuple(f"{s}({x})" for x in _KINDS for s in _STATS)
MRF_NAMES: tuple[str, ...] = tuple(f"{s.lower()}[{f}]" for f in SRF_NAMES for s in _STATS)


def neighbor_hull_facets(cells: VoronoiCells) -> tuple[np.ndarray, np.ndarray]:
    """Triangulated convex-hull facets of each atom's Voronoi-neighbour positions (Qhull via scipy).

    Returns CSR ``(tri_offsets, tri)``: for atom c, rows tri[tri_offsets[c]:tri_offsets[c+1]] hold
    three *pair indices* into ``cells.neighbors`` (so each vertex carries its periodic image).
    """
    from scipy.spatial import ConvexHull

    nl = cells.neighbors
    n = nl.n_centers
    tri_counts = np.zeros(n, dtype=np.int64)
    parts = []
    for c in range(n):
        p0, p1 = int(nl.offsets[c]), int(nl.offsets[c + 1])
        if p1 - p0 < 4:
            raise RuntimeError(f"atom index {c} has only {p1 - p0} Voronoi neighbours; its hull is degenerate")
        simp = ConvexHull(nl.vectors[p0:p1]).simplices.astype(np.int64) + p0
        # A fixed vertex order per facet (the features are symmetric in it; this keeps the sums stable).
        simp.sort(axis=1)
        simp = simp[np.lexsort(simp.T[::-1])]
        parts.append(simp)
        tri_counts[c] = simp.shape[0]
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(tri_counts, out=offsets[1:])
    tri = np.concatenate(parts, axis=0) if parts else np.zeros((0, 3), dtype=np.int64)
    return offsets, np.ascontiguousarray(tri)


@numba.njit(cache=True, inline="always")
def _angle(ux, uy, uz, wx, wy, wz):
    """Angle between u and w (atan2 form, accurate at 0 and π)."""
    cx = uy * wz - uz * wy
    cy = uz * wx - ux * wz
    cz = ux * wy - uy * wx
    return math.atan2(math.sqrt(cx * cx + cy * cy + cz * cz), ux * wx + uy * wy + uz * wz)


@numba.njit(cache=True, inline="always")
def _solid_angle(ax, ay, az, bx, by, bz, cx, cy, cz):
    """Solid angle subtended at the origin by the triangle (a, b, c) (Van Oosterom–Strackee)."""
    la = math.sqrt(ax * ax + ay * ay + az * az)
    lb = math.sqrt(bx * bx + by * by + bz * bz)
    lc = math.sqrt(cx * cx + cy * cy + cz * cz)
    trip = ax * (by * cz - bz * cy) + ay * (bz * cx - bx * cz) + az * (bx * cy - by * cx)
    den = la * lb * lc + (ax * bx + ay * by + az * bz) * lc + (ax * cx + ay * cy + az * cz) * lb \
        + (bx * cx + by * cy + bz * cz) * la
    return 2.0 * math.atan2(abs(trip), den)


@numba.njit(cache=True, inline="always")
def _stats4(x, m, out, base):
    """mean, max, min, population std of x[:m] into out[base:base+4] (NaN if m == 0)."""
    if m == 0:
        for a in range(4):
            out[base + a] = np.nan
        return
    s = 0.0
    mx = -np.inf
    mn = np.inf
    for q in range(m):
        s += x[q]
        mx = max(mx, x[q])
        mn = min(mn, x[q])
    mu = s / m
    v = 0.0
    for q in range(m):
        v += (x[q] - mu) * (x[q] - mu)
    out[base] = mu
    out[base + 1] = mx
    out[base + 2] = mn
    out[base + 3] = math.sqrt(v / m)


@numba.njit(parallel=True, cache=True)
def _srf_kernel(offsets, neighbors, vectors, types, radii, tri_offsets, tri, clip):
    """The 12 short-range features of every atom (rows follow the CSR centres)."""
    n = offsets.shape[0] - 1
    out = np.empty((n, 12))
    for c in numba.prange(n):
        ro = radii[types[c]]
        p0 = offsets[c]
        k = offsets[c + 1] - p0
        buf = np.empty(max(k, tri_offsets[c + 1] - tri_offsets[c]))
        for q in range(k):
            p = p0 + q
            d = math.sqrt(vectors[p, 0] ** 2 + vectors[p, 1] ** 2 + vectors[p, 2] ** 2)
            buf[q] = d / (ro + radii[types[neighbors[p]]]) - 1.0
        _stats4(buf, k, out[c], 0)
        t0 = tri_offsets[c]
        nt = tri_offsets[c + 1] - t0
        row = out[c]
        for pass_ in range(2):
            for t in range(nt):
                pa = tri[t0 + t, 0]
                pb = tri[t0 + t, 1]
                pc = tri[t0 + t, 2]
                ax, ay, az = vectors[pa, 0], vectors[pa, 1], vectors[pa, 2]
                bx, by, bz = vectors[pb, 0], vectors[pb, 1], vectors[pb, 2]
                cx, cy, cz = vectors[pc, 0], vectors[pc, 1], vectors[pc, 2]
                ra = radii[types[neighbors[pa]]]
                rb = radii[types[neighbors[pb]]]
                rc = radii[types[neighbors[pc]]]
                if pass_ == 0:
                    ux, uy, uz = bx - ax, by - ay, bz - az
                    wx, wy, wz = cx - ax, cy - ay, cz - az
                    nx = uy * wz - uz * wy
                    ny = uz * wx - ux * wz
                    nz = ux * wy - uy * wx
                    area = 0.5 * math.sqrt(nx * nx + ny * ny + nz * nz)
                    tha = _angle(ux, uy, uz, wx, wy, wz)
                    thb = _angle(ax - bx, ay - by, az - bz, cx - bx, cy - by, cz - bz)
                    thc = _angle(ax - cx, ay - cy, az - cz, bx - cx, by - cy, bz - cz)
                    packed = 0.5 * (tha * ra * ra + thb * rb * rb + thc * rc * rc)
                    val = 1.0 - packed / area
                else:
                    vol = abs(ax * (by * cz - bz * cy) + ay * (bz * cx - bx * cz) + az * (bx * cy - by * cx)) / 6.0
                    om_o = _solid_angle(ax, ay, az, bx, by, bz, cx, cy, cz)
                    om_a = _solid_angle(-ax, -ay, -az, bx - ax, by - ay, bz - az, cx - ax, cy - ay, cz - az)
                    om_b = _solid_angle(-bx, -by, -bz, ax - bx, ay - by, az - bz, cx - bx, cy - by, cz - bz)
                    om_c = _solid_angle(-cx, -cy, -cz, ax - cx, ay - cy, az - cz, bx - cx, by - cy, bz - cz)
                    packed = (om_o * ro ** 3 + om_a * ra ** 3 + om_b * rb ** 3 + om_c * rc ** 3) / 3.0
                    val = 1.0 - packed / vol
                if clip and val < 0.0:
                    val = 0.0
                buf[t] = val
            _stats4(buf, nt, row, 4 + 4 * pass_)
    return out


@numba.njit(parallel=True, cache=True)
def _mrf_kernel(offsets, neighbors, centers, srf):
    """4 statistics of each of the 12 SRFs over each centre's Voronoi neighbours (centre excluded)."""
    n_c = centers.shape[0]
    n_f = srf.shape[1]
    out = np.empty((n_c, 4 * n_f))
    for c in numba.prange(n_c):
        i = centers[c]
        p0 = offsets[i]
        k = offsets[i + 1] - p0
        buf = np.empty(k)
        row = out[c]
        for f in range(n_f):
            for q in range(k):
                buf[q] = srf[neighbors[p0 + q], f]
            _stats4(buf, k, row, 4 * f)
    return out


@register_descriptor
class IntersticeDescriptor(Descriptor):
    """Wang–Jain interstice SRFs (12) + MRFs (48) = 60 features per atom (module docstring; digest 003 §4).

    ``radii``: one radius per species (σ units; default :data:`KA_RADII` for two species);
    ``clip``: clip area/volume interstices at 0 (matminer / digest default True);
    ``include_mrf``: False gives the 12 SRFs only; ``voronoi_backend``: "freud" (default) or "numba"
    (no freud: needed where ``liblammps`` is loaded in the same process, see ``periodic_voronoi``).

    Voronoi neighbours have no fixed range, so the descriptor is evaluated on the whole periodic frame
    (``compute(frame, centers)``); ``cutoff`` is infinite and a LAMMPS neighbour list is not accepted.
    """

    kind = "interstice"

    def __init__(
        self,
        n_species: int,
        radii: Sequence[float] | None = None,
        species_names: Sequence[str] | None = None,
        clip: bool = True,
        include_mrf: bool = True,
        voronoi_backend: str = "freud",
    ) -> None:
        if isinstance(n_species, bool) or not isinstance(n_species, (int, np.integer)) or n_species < 1:
            raise ValueError(f"n_species must be a positive integer, got {n_species!r}")
        self.n_species = int(n_species)
        if radii is None:
            if self.n_species != 2:
                raise ValueError("radii are required unless n_species == 2 (Kob–Andersen σ_αα/2 default)")
            radii = KA_RADII
        r = np.asarray(radii, dtype=np.float64)
        if r.shape != (self.n_species,) or not np.all(np.isfinite(r)) or np.any(r < 0):
            raise ValueError(f"radii must be {self.n_species} finite non-negative lengths, got {radii!r}")
        self.radii = np.ascontiguousarray(r)
        self.species_names = resolve_species_names(self.n_species, species_names)
        self.clip = bool(clip)
        self.include_mrf = bool(include_mrf)
        if voronoi_backend not in VORONOI_BACKENDS:
            raise ValueError(f"voronoi_backend must be one of {VORONOI_BACKENDS}, got {voronoi_backend!r}")
        self.voronoi_backend = str(voronoi_backend)
        self.cutoff = math.inf

    @property
    def names(self) -> list[str]:
        """``Mean(D)`` … ``Std(V)`` (12 SRFs) then ``mean[Mean(D)]`` … ``std[Std(V)]`` (48 MRFs)."""
        return list(SRF_NAMES) + (list(MRF_NAMES) if self.include_mrf else [])

    @property
    def n_features(self) -> int:
        return 60 if self.include_mrf else 12

    def spec(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "n_species": self.n_species,
            "radii": [float(x) for x in self.radii],
            "species_names": list(self.species_names),
            "clip": self.clip,
            "include_mrf": self.include_mrf,
            "voronoi_backend": self.voronoi_backend,
        }

    def short_range(self, frame: Frame, cells: VoronoiCells | None = None) -> np.ndarray:
        """The 12 SRFs of every atom (N, 12)."""
        if frame.dim != 3:
            raise ValueError("interstice features are defined for 3D frames only (digest 003 §4)")
        if cells is None:
            cells = periodic_voronoi(frame, backend=self.voronoi_backend)
        tri_offsets, tri = neighbor_hull_facets(cells)
        nl = cells.neighbors
        return _srf_kernel(nl.offsets, nl.neighbors, np.ascontiguousarray(nl.vectors), frame.types,
                           self.radii, tri_offsets, tri, self.clip)

    def compute(self, frame: Frame, centers: np.ndarray | None = None,
                neighbors: NeighborList | None = None) -> np.ndarray:
        """Features (n_centers, n_features) from the periodic Voronoi tessellation of the whole frame."""
        if neighbors is not None:
            raise ValueError("the interstice descriptor uses Voronoi neighbours of the periodic frame; "
                             "call compute(frame, centers) without a neighbour list")
        types = frame.types
        if types.size and int(types.max()) >= self.n_species:
            raise ValueError(f"frame has atom type {int(types.max())} but the descriptor knows "
                             f"{self.n_species} species (types are 0-based)")
        if frame.dim != 3:
            raise ValueError("interstice features are defined for 3D frames only (digest 003 §4)")
        return self._features(frame, as_center_indices(centers, frame.n_atoms))

    def _compute(self, frame: Frame, nl: NeighborList) -> np.ndarray:
        """Features for ``nl.centers``; the neighbours are the Voronoi ones of the whole periodic frame, so
        the pairs of ``nl`` are not read."""
        if frame.dim != 3:
            raise ValueError("interstice features are defined for 3D frames only (digest 003 §4)")
        return self._features(frame, nl.centers)

    def _features(self, frame: Frame, idx: np.ndarray) -> np.ndarray:
        """Features (idx.size, n_features) of the atoms ``idx`` (int64) of a periodic 3D frame."""
        if frame.n_atoms == 0 or idx.size == 0:
            return np.zeros((idx.size, self.n_features))
        cells = periodic_voronoi(frame, backend=self.voronoi_backend)
        srf = self.short_range(frame, cells)
        if not self.include_mrf:
            return np.ascontiguousarray(srf[idx])
        nl = cells.neighbors
        mrf = _mrf_kernel(nl.offsets, nl.neighbors, idx, srf)
        return np.ascontiguousarray(np.concatenate([srf[idx], mrf], axis=1))
