"""Numba kernels of the float64 Voronoi cells (:mod:`glassfix.descriptors.voronoi`): polygon clipping.

Concern: the geometry of one convex cell from its candidate neighbour vectors — a 2D cell is a square
clipped by the bisector half-planes x·v ≤ |v|²/2 (Sutherland–Hodgman with edge labels); in 3D every
face is the same 2D clip inside its bisector plane. Lengths in the frame's unit (σ); areas length²,
volumes length³.
"""

from __future__ import annotations

import math

import numba
import numpy as np


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
