"""Vectorised per-centre ACE kernel for on-the-fly evaluation (fix glass/predict): the same atomic base,
pair/triple sums and purified invariants as :func:`glassfix.descriptors._ace_kernels._ace_kernel`, computed
structure-of-arrays per centre so the compiler vectorises every loop over neighbours.

Per centre: (1) its pairs with r < r_cut (from a NeighborList's vectors, from positions and LAMMPS' explicit
ghost list, or from the runs of atoms sorted into cells, ``_explicit_cells``) are compacted and partitioned by
neighbour species; (2) distance transform, Legendre polynomials and real harmonics are evaluated for all pairs
at once (loops over pairs innermost); (3) the radial columns R_n = (x−1)√(2n−1)P_{n−1}, S_q = (x−1)²P_q and U_q
= (x−1)³P_q give, per species, the generalised atomic base Σ_j g(r_j) Y_lμ(r̂_j) by row sums (l = 0, Y_00 is
constant) and one small matrix product (l ≥ 1); A is read off it, D = Σ_j R_a R_b Y_lμ and T = Σ_j R_a R_b R_c
follow by the exact Legendre linearisation P_a P_b = Σ_q λ_q P_q (:func:`product_tables`), so no per-pair work
grows with the number of products; (4) the linear read-out Σ_f ws_f X_f is one sum over monomials in A, D, T
(``_ace_readout``: terms of the same monomial merged, evaluated for four centres of one species at a time). No per-pair Python work and no (N × features) intermediate. Sums are reassociated
(vector lanes), so results equal the reference kernel to round-off, not bitwise; they do not depend on the
number of threads. Lengths in σ_AA.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from glassfix.descriptors._ace_kernels import _SQRT_2K1
from glassfix.descriptors._ace_readout import _LANES, _poly_block
from glassfix.descriptors._explicit_cells import _cell_runs

# reassociation lets LLVM vectorise the reductions over pairs; no other fast-math assumptions (NaN/inf stay
# IEEE, divisions stay exact)
_FM = {"reassoc", "contract"}
_CHUNK = 32    # centres per scratch allocation
# where a centre's candidate neighbours come from (argument ``mode`` of the kernels)
_VECTORS, _EXPLICIT, _BINNED = 0, 1, 2


def product_tables(d_ab: np.ndarray, t_abc: np.ndarray, n_max: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Exact linearisations of the radial products the purification needs (dimensionless).

    With R_{a+1} = (x − 1) √(2a+1) P_a(t) (t = 2x − 1) and P_a P_b = Σ_q λ_q P_q (Legendre linearisation):
    R_{a+1} R_{b+1} = Σ_q Ls[e, q] S_q, S_q = (x − 1)² P_q(t), and R_{a+1} R_{b+1} R_{c+1} = Σ_q Lt[e, q] U_q,
    U_q = (x − 1)³ P_q(t). λ by products of Legendre series (exact up to round-off).
    Returns (Ls (n_D, qS+1), Lt (n_T, qU+1), qS, qU); qS = qU = −1 when there are no such products.
    """
    from numpy.polynomial.legendre import legmul

    qs = int(d_ab.sum(axis=1).max()) if d_ab.shape[0] else -1
    qu = int(t_abc.sum(axis=1).max()) if t_abc.shape[0] else -1
    top = max(qs, qu, n_max - 1, 0)
    unit = np.eye(top + 1)
    sq = np.sqrt(2.0 * np.arange(top + 1) + 1.0)

    def lin(rows: np.ndarray, width: int) -> np.ndarray:
        # Legendre-series products (numpy's legmul: exact algebra in floating point, no quadrature)
        out = np.zeros((rows.shape[0], width))
        for e, r in enumerate(rows):
            lam = unit[r[0]]
            for f in r[1:]:
                lam = legmul(lam, unit[f])
            lam = np.asarray(lam)[:width]
            lam[np.abs(lam) < 1e-14] = 0.0    # exact zeros (parity, degree) stay zero
            out[e, :lam.size] = np.prod(sq[r]) * lam
        return out

    return lin(d_ab, qs + 1), lin(t_abc, qu + 1), qs, qu


@numba.njit(cache=True, fastmath=_FM, error_model="numpy")
def _harmonics(m: int, ux: np.ndarray, uy: np.ndarray, uz: np.ndarray, l_max: int, norms: np.ndarray,
               Q: np.ndarray, Y: np.ndarray, C: np.ndarray, S: np.ndarray) -> None:
    """Y[l² + l + μ, k] = real harmonics of the unit vectors k < m (recurrences of ``_ace_kernels._ylm``)."""
    if l_max <= 2:
        # the recurrences below written out for l ≤ 2 (Q_1^0 = z, Q_1^1 = 1, Q_2^0 = (3z² − 1)/2, Q_2^1 = 3z,
        # Q_2^2 = 3; C_1 + iS_1 = x + iy, C_2 + iS_2 = (x + iy)²): one vectorised pass instead of one per row
        n0, n1m, n10, n11 = norms[0], norms[1], norms[2], norms[3]
        for k in range(m):
            Y[0, k] = n0
        if l_max >= 1:
            for k in range(m):
                Y[1, k] = n1m * uy[k]
                Y[2, k] = n10 * uz[k]
                Y[3, k] = n11 * ux[k]
        if l_max == 2:
            n2m2, n2m1, n20, n21, n22 = 3.0 * norms[4], 3.0 * norms[5], 0.5 * norms[6], 3.0 * norms[7], 3.0 * norms[8]
            for k in range(m):
                x = ux[k]
                y = uy[k]
                z = uz[k]
                Y[4, k] = n2m2 * (2.0 * x * y)
                Y[5, k] = n2m1 * z * y
                Y[6, k] = n20 * (3.0 * z * z - 1.0)
                Y[7, k] = n21 * z * x
                Y[8, k] = n22 * (x * x - y * y)
        return
    for mm in range(l_max + 1):
        d = mm * mm + 2 * mm
        if mm == 0:
            for k in range(m):
                Q[0, k] = 1.0
        else:
            dp = (mm - 1) * (mm - 1) + 2 * (mm - 1)
            f = 2.0 * mm - 1.0
            for k in range(m):
                Q[d, k] = Q[dp, k] * f
        if mm + 1 <= l_max:
            i1 = (mm + 1) * (mm + 1) + (mm + 1) + mm
            f = 2.0 * mm + 1.0
            for k in range(m):
                Q[i1, k] = f * uz[k] * Q[d, k]
        for l in range(mm + 2, l_max + 1):
            i0 = l * l + l + mm
            i1 = (l - 1) * (l - 1) + (l - 1) + mm
            i2 = (l - 2) * (l - 2) + (l - 2) + mm
            f1 = 2.0 * l - 1.0
            f2 = l + mm - 1.0
            inv = 1.0 / (l - mm)
            for k in range(m):
                Q[i0, k] = (f1 * uz[k] * Q[i1, k] - f2 * Q[i2, k]) * inv
    for k in range(m):    # (x + iy)^m = C_m + i S_m, updated in place
        C[k] = 1.0
        S[k] = 0.0
    for mm in range(l_max + 1):
        if mm > 0:
            for k in range(m):
                c = C[k]
                s = S[k]
                C[k] = c * ux[k] - s * uy[k]
                S[k] = s * ux[k] + c * uy[k]
        for l in range(mm, l_max + 1):
            base = l * l + l
            if mm == 0:
                nrm = norms[base]
                for k in range(m):
                    Y[base, k] = nrm * Q[base, k]
            else:
                np_ = norms[base + mm]
                nm_ = norms[base - mm]
                for k in range(m):
                    Y[base + mm, k] = np_ * Q[base + mm, k] * C[k]
                    Y[base - mm, k] = nm_ * Q[base + mm, k] * S[k]


@numba.njit(cache=True, fastmath=_FM, error_model="numpy")
def _radial_block(m: int, rb: np.ndarray, ux: np.ndarray, uy: np.ndarray, uz: np.ndarray, rc: float, scale: float,
                  a: float, y_rc: float, n_max: int, qs: int, qu: int, rec_a: np.ndarray, rec_b: np.ndarray,
                  E: np.ndarray, X: np.ndarray, P: np.ndarray, G: np.ndarray, Tq: np.ndarray, rowR: np.ndarray,
                  rowS: np.ndarray, M0: np.ndarray, y00: float, nh: int) -> None:
    """For the pairs k < m with squared lengths rb[k] (σ²) and vectors (ux, uy, uz)[k] (normalised here, in
    place): M0[rowR[n]] = Y_00 Σ_k R_{n+1}, M0[rowS[q]] = Y_00 Σ_k S_q (q ≤ qs), Tq[q] = Σ_k U_q (q ≤ qu); the
    rows the GEMM needs (row < nh) stored per pair in G[row, k], the R rows without their factor √(2n+1) (one
    product fewer per pair and column; the caller applies it to the GEMM's sums). rec_a, rec_b: the Legendre
    recurrence P_q = a_q t P_{q−1} − b_q P_{q−2} for every q ≥ 0 from the rows P[0] = P_{−2} = 1 and
    P[1] = P_{−1} = 0 (a_0 = 0, b_0 = −1, a_1 = 1, b_1 = 0), so one loop body serves every q; P_q is P[q + 2]."""
    top = max(n_max - 1, qs, qu, 0)
    # x(r) of _ace_kernels._xform written out (and divisions by constants as products) so that it vectorises
    inv_scale = 1.0 / scale
    inv_rc = 1.0 / rc
    inv_dy = 1.0 / (1.0 - y_rc)
    for k in range(m):
        r = math.sqrt(rb[k])
        inv = 1.0 / r
        ux[k] *= inv
        uy[k] *= inv
        uz[k] *= inv
        u = r * inv_scale
        u3 = u * u * u
        y = (1.0 + u3) / (1.0 + u3 + a * u3 * u)
        q = r * inv_rc
        q2 = q * q
        x = 1.0 - (y - y_rc) * inv_dy * (1.0 - q2 * q2)
        E[k] = x - 1.0
        X[k] = 2.0 * x - 1.0
        P[0, k] = 1.0
        P[1, k] = 0.0
    # one pass per q: the next Legendre row and its three radial columns (x−1)P_q, (x−1)²P_q, (x−1)³P_q, summed
    # (l = 0 needs only the sums: Y_00 is constant) and stored where the GEMM reads them
    for q in range(top + 1):
        aq = rec_a[q]
        bq = rec_b[q]
        rR = rowR[q] if q < n_max else nh
        rS = rowS[q] if q <= qs else nh
        stR = rR < nh
        stS = rS < nh
        sR = 0.0
        sS = 0.0
        sU = 0.0
        for k in range(m):
            p = aq * X[k] * P[q + 1, k] - bq * P[q, k]
            P[q + 2, k] = p
            e = E[k]
            g = e * p
            h = e * g
            sR += g
            sS += h
            sU += e * h
            if stR:
                G[rR, k] = g
            if stS:
                G[rS, k] = h
        if q < n_max:
            M0[rowR[q]] = y00 * _SQRT_2K1[q] * sR
        if q <= qs:
            M0[rowS[q]] = y00 * sS
        if q <= qu:
            Tq[q] = sU


@numba.njit(cache=True, fastmath=_FM, error_model="numpy")
def _gemm_nt(G: np.ndarray, Y: np.ndarray, nhl: np.ndarray, l_max: int, m: int, out: np.ndarray) -> None:
    """out[r, lm − 1] = Σ_k G[r, k] Y[lm, k] for 1 ≤ l ≤ l_max, l² ≤ lm < (l+1)², r < nhl[l] (the rows that l
    needs are a prefix of G): small sizes, where a BLAS call costs more than the products. Blocks of two rows ×
    three harmonics, so that each loaded G and Y value feeds several products (loads, not FMAs, bound a
    one-row loop)."""
    for l in range(1, l_max + 1):
        nh = nhl[l]
        lm = l * l
        end = (l + 1) * (l + 1)
        while lm < end:
            w = min(3, end - lm)
            r = 0
            while r < nh:
                if w == 3 and r + 1 < nh:
                    s0 = s1 = s2 = t0 = t1 = t2 = 0.0
                    for k in range(m):
                        g = G[r, k]
                        h = G[r + 1, k]
                        y0 = Y[lm, k]
                        y1 = Y[lm + 1, k]
                        y2 = Y[lm + 2, k]
                        s0 += g * y0
                        s1 += g * y1
                        s2 += g * y2
                        t0 += h * y0
                        t1 += h * y1
                        t2 += h * y2
                    out[r, lm - 1] = s0
                    out[r, lm] = s1
                    out[r, lm + 1] = s2
                    out[r + 1, lm - 1] = t0
                    out[r + 1, lm] = t1
                    out[r + 1, lm + 1] = t2
                    r += 2
                else:
                    for j in range(w):
                        s0 = 0.0
                        for k in range(m):
                            s0 += G[r, k] * Y[lm + j, k]
                        out[r, lm - 1 + j] = s0
                    r += 1
            lm += w


@numba.njit(inline="always")
def _candidate(mode: int, p: int, x: np.ndarray, vectors: np.ndarray, neighbors: np.ndarray, types: np.ndarray,
               cx: float, cy: float, cz: float) -> tuple[float, float, float, int]:
    """Vector (σ) from the centre at (cx, cy, cz) to candidate p, and its species, by ``mode`` (see
    :func:`_centre_sums`); inlined, so the mode test is hoisted out of the pair loops."""
    if mode == _BINNED:
        return x[p, 0] - cx, x[p, 1] - cy, x[p, 2] - cz, types[p]
    if mode == _EXPLICIT:
        j = neighbors[p]
        return x[j, 0] - cx, x[j, 1] - cy, x[j, 2] - cz, types[j]
    return vectors[p, 0], vectors[p, 1], vectors[p, 2], types[neighbors[p]]


@numba.njit(cache=True, fastmath=_FM, error_model="numpy")
def _centre_sums(runs: np.ndarray, nruns: int, neighbors: np.ndarray, vectors: np.ndarray, types: np.ndarray,
                 rc: float, scale: float, a: float, y_rc: float, n_species: int, n_max: int, l_max: int,
                 norms: np.ndarray, d_group: np.ndarray, d_goff: np.ndarray, t_group: np.ndarray, Ls: np.ndarray,
                 Lt: np.ndarray, qs: int, qu: int, rec_a: np.ndarray, rec_b: np.ndarray, A: np.ndarray,
                 D: np.ndarray, T: np.ndarray, start: np.ndarray, seg: np.ndarray, gbuf: np.ndarray,
                 ybuf: np.ndarray, rb: np.ndarray, ux: np.ndarray, uy: np.ndarray, uz: np.ndarray, E: np.ndarray,
                 X: np.ndarray, P: np.ndarray, Q: np.ndarray, C: np.ndarray, S: np.ndarray, Tq: np.ndarray,
                 M0: np.ndarray, Mhi: np.ndarray, zs: np.ndarray, x: np.ndarray, cx: float, cy: float, cz: float,
                 mode: int, nlim: np.ndarray, qsl: np.ndarray, rowR: np.ndarray, rowS: np.ndarray, nh: int,
                 nhl: np.ndarray) -> None:
    """A, D, T of one centre at (cx, cy, cz) (layouts of ``_ace_kernels._pair_sums``) from the candidate
    ranges runs[r, 0] … runs[r, 1] − 1 (r < nruns). Candidates by ``mode``: _VECTORS, pair p's vector
    vectors[p] and species types[neighbors[p]]; _EXPLICIT, x[neighbors[p]] − c (LAMMPS' ghosts are explicit
    images); _BINNED, x[p] − c and types[p] (x, types: atoms sorted by cell, :func:`bin_atoms`)."""
    nlm = (l_max + 1) * (l_max + 1)
    width = n_max + qs + 1
    # the pairs inside the cutoff (lists from LAMMPS reach cutoff + skin, cells further), squared distance in
    # rb and vector in ux, uy, uz, stored species-contiguous: segment z is [seg[0, z], seg[0, z] + seg[1, z])
    rc2 = rc * rc
    if n_species == 2:
        # one pass, no scatter: species 0 fills from the front, species 1 from the back of the scratch
        lo = 0
        hi = rb.shape[0] - 1
        for r in range(nruns):
            for p in range(runs[r, 0], runs[r, 1]):
                v0, v1, v2, z = _candidate(mode, p, x, vectors, neighbors, types, cx, cy, cz)
                zb = 1 if z != 0 else 0
                r2 = v0 * v0 + v1 * v1 + v2 * v2
                # branch-free compaction (cutoff and species are unpredictable): always write the slot of the
                # pair's species, advance only when it is inside the cutoff (the scratch has one spare slot)
                inside = 1 if (r2 < rc2 and r2 != 0.0) else 0
                k = lo if zb == 0 else hi - 1
                rb[k] = r2
                ux[k] = v0
                uy[k] = v1
                uz[k] = v2
                lo += inside * (1 - zb)
                hi -= inside * zb
        seg[0, 0] = 0
        seg[1, 0] = lo
        seg[0, 1] = hi
        seg[1, 1] = rb.shape[0] - 1 - hi
    else:
        # pass 1: compacted into E, X, C, S (scratch until the geometry needs them), species in zs, counted
        for z in range(n_species + 1):
            start[z] = 0
        m = 0
        for r in range(nruns):
            for p in range(runs[r, 0], runs[r, 1]):
                v0, v1, v2, z = _candidate(mode, p, x, vectors, neighbors, types, cx, cy, cz)
                r2 = v0 * v0 + v1 * v1 + v2 * v2
                if r2 < rc2 and r2 != 0.0:
                    E[m] = r2
                    X[m] = v0
                    C[m] = v1
                    S[m] = v2
                    zs[m] = z
                    start[z + 1] += 1
                    m += 1
        for z in range(n_species):
            seg[0, z] = start[z]
            seg[1, z] = start[z + 1]
            start[z + 1] += start[z]
        # pass 2: scatter into species-contiguous slots
        for i in range(m):
            z = zs[i]
            k = start[z]
            start[z] = k + 1
            rb[k] = E[i]
            ux[k] = X[i]
            uy[k] = C[i]
            uz[k] = S[i]
    for z in range(n_species):
        k0 = seg[0, z]
        mz = seg[1, z]
        # the generalised atomic base Σ_j g(r_j) Y_lμ(r̂_j) of every radial column g: for l = 0 (Y_00 constant)
        # row sums of G; for l ≥ 1 one GEMM of the rows some l ≥ 1 needs (a prefix of G) with Y_{l≥1}
        if mz > 0:
            G = gbuf[:max(nh, 1) * mz].reshape((max(nh, 1), mz))    # chunk scratch, C-contiguous for the GEMM
            Yz = ybuf[:nlm * mz].reshape((nlm, mz))
            _radial_block(mz, rb[k0:], ux[k0:], uy[k0:], uz[k0:], rc, scale, a, y_rc, n_max, qs, qu, rec_a, rec_b,
                          E, X, P, G, Tq, rowR, rowS, M0, norms[0], nh)
            if nlm > 1 and nh > 0:
                _harmonics(mz, ux[k0:], uy[k0:], uz[k0:], l_max, norms, Q, Yz, C, S)
                _gemm_nt(G, Yz, nhl, l_max, mz, Mhi)
        else:
            M0[:] = 0.0
            Mhi[:, :] = 0.0
            Tq[:] = 0.0
        base = z * nlm * n_max
        for n in range(n_max):
            A[base + n] = M0[rowR[n]]
        for l in range(1, l_max + 1):
            kk = nlim[l]
            for lm in range(l * l, (l + 1) * (l + 1)):
                for n in range(n_max):
                    # G's R rows lack √(2n+1) (see _radial_block)
                    A[base + lm * n_max + n] = _SQRT_2K1[n] * Mhi[rowR[n], lm - 1] if n < kk else 0.0
        for l in range(l_max + 1):
            g = z * (l_max + 1) + l
            e0 = d_group[g]
            cnt = d_group[g + 1] - e0
            off = d_goff[g]
            qmax = qsl[l]
            for mu in range(2 * l + 1):
                col = l * l + mu
                for e in range(cnt):
                    s = 0.0
                    if l == 0:
                        for q in range(qmax + 1):
                            s += Ls[e0 + e, q] * M0[rowS[q]]
                    else:
                        for q in range(qmax + 1):
                            s += Ls[e0 + e, q] * Mhi[rowS[q], col - 1]
                    D[off + mu * cnt + e] = s
        for e in range(t_group[z], t_group[z + 1]):
            s = 0.0
            for q in range(qu + 1):
                s += Lt[e, q] * Tq[q]
            T[e] = s


@numba.njit(cache=True)
def _pair_scratch(cap: int, width: int, nlm: int, top: int) -> tuple:
    """Per-pair scratch of :func:`_centre_sums` for up to ``cap`` candidates of one centre (gbuf, ybuf, rb, ux, uy,
    uz, E, X, C, S, P, Q, zs; rb, ux, uy, uz have one spare slot)."""
    return (np.empty(width * cap), np.empty(nlm * cap), np.empty(cap + 1), np.empty(cap + 1), np.empty(cap + 1),
            np.empty(cap + 1), np.empty(cap), np.empty(cap), np.empty(cap), np.empty(cap), np.empty((top + 3, cap)),
            np.empty((nlm, cap)), np.empty(cap, dtype=np.int64))


@numba.njit(parallel=True, cache=True)
def _ace_linear_fast(
    offsets: np.ndarray, neighbors: np.ndarray, vectors: np.ndarray, types: np.ndarray, rc: float,
    scale: float, a: float, y_rc: float, n_species: int, n_max: int, l_max: int, norms: np.ndarray,
    d_group: np.ndarray, d_goff: np.ndarray, d_size: int, t_group: np.ndarray, n_t: int, Ls: np.ndarray,
    Lt: np.ndarray, qs: int, qu: int, center_types: np.ndarray, b0: np.ndarray, norm: np.ndarray,
    has: np.ndarray, a_idx: np.ndarray, a_c: np.ndarray, aa_idx: np.ndarray, aa_c: np.ndarray,
    aaa_idx: np.ndarray, aaa_c: np.ndarray, ad_idx: np.ndarray, ad_c: np.ndarray, d_idx: np.ndarray,
    d_c: np.ndarray, t_idx: np.ndarray, t_c: np.ndarray, x: np.ndarray, rows: np.ndarray, mode: int,
    nlim: np.ndarray, qsl: np.ndarray, xs: np.ndarray, ts: np.ndarray, cell_start: np.ndarray,
    dims: np.ndarray, origin: np.ndarray, edges: np.ndarray,
) -> np.ndarray:
    """Decision per centre, equal to ``_ace_kernels._ace_linear_kernel`` to round-off: (b0[t] + Σ_terms c[t] ·
    monomial) / norm[t] with the terms of ``_ace_readout.linear_terms`` (b0 = b − Σ_f ws_f mean_f, c = factor
    · ws[feature], ws = w / scale); NaN where has[t] == 0. Ls, Lt from :func:`product_tables`. Pairs by
    ``mode``: _VECTORS, the CSR list (offsets, neighbors, vectors); _EXPLICIT, the CSR list with vectors
    x[neighbors[p]] − x[rows[c]]; _BINNED, every atom of (xs, ts, cell_start, dims, origin, edges) (from
    :func:`bin_atoms`) within r_cut of x[rows[c]] (offsets, neighbors, vectors unused). nlim[l]: radial
    functions the invariants use at l; qsl[l]: highest q of the linearised pair products at l (−1: none)."""
    n_centers = rows.shape[0] if mode == _BINNED else offsets.shape[0] - 1
    nlm = (l_max + 1) * (l_max + 1)
    top = max(n_max - 1, qs, qu, 0)
    width = n_max + qs + 1
    # row order of G: the rows some l ≥ 1 needs, by the highest such l (descending), then the l = 0-only rows;
    # so the rows l needs (R_n, n < nlim[l]; S_q, q ≤ qsl[l]) are the prefix nhl[l] and the GEMM skips the rest
    lev_r = np.zeros(n_max, dtype=np.int64)
    lev_s = np.zeros(qs + 1, dtype=np.int64)
    for l in range(1, l_max + 1):
        for n in range(nlim[l]):
            lev_r[n] = l
        for q in range(min(qsl[l], qs) + 1):
            lev_s[q] = l
    rowR = np.empty(n_max, dtype=np.int64)
    rowS = np.empty(qs + 1, dtype=np.int64)
    nhl = np.zeros(l_max + 1, dtype=np.int64)
    nxt = 0
    for lev in range(l_max, -1, -1):
        for n in range(n_max):
            if lev_r[n] == lev:
                rowR[n] = nxt
                nxt += 1
        for q in range(qs + 1):
            if lev_s[q] == lev:
                rowS[q] = nxt
                nxt += 1
        nhl[lev] = nxt
    nh = nhl[1] if l_max >= 1 else 0
    # candidate ranges per centre: one CSR row, or the cell runs (the reach is padded so that rounding in the
    # cell bounds never drops an atom inside the cutoff; the exact test r² < r_cut² decides)
    reach = rc * (1.0 + 1e-9) + 1e-12
    max_runs = (2 * (int(reach / edges[1]) + 2)) * (2 * (int(reach / edges[2]) + 2)) if mode == _BINNED else 1
    rec_a = np.zeros(top + 1)
    rec_b = np.zeros(top + 1)
    rec_b[0] = -1.0    # P_0 = −b_0 P_{−2} = 1 and P_1 = a_1 t P_0 = t (see _radial_block)
    if top >= 1:
        rec_a[1] = 1.0
    for q in range(2, top + 1):
        rec_a[q] = (2.0 * q - 1.0) / q
        rec_b[q] = (q - 1.0) / q
    out = np.empty(n_centers, dtype=np.float64)
    n_chunks = (n_centers + _CHUNK - 1) // _CHUNK
    n_types = has.shape[0]
    n_a = n_species * nlm * n_max
    n_pos = _CHUNK + _LANES * n_types    # a chunk's centres by species, each species padded to whole blocks
    # parallel over chunks of centres (scratch allocated per chunk, grown when a centre has more candidates
    # than any before it: no separate pass over the centres to size it); each centre is independent
    for ch in numba.prange(n_chunks):
        cap = 1
        A = np.zeros(n_a)
        D = np.zeros(d_size)
        T = np.zeros(n_t)
        start = np.zeros(n_species + 1, dtype=np.int64)
        seg = np.zeros((2, n_species), dtype=np.int64)
        gbuf, ybuf, rb, ux, uy, uz, E, X, C, S, P, Q, zs = _pair_scratch(cap, width, nlm, top)
        Tq = np.zeros(max(qu + 1, 1))
        M0 = np.empty(width)
        Mhi = np.empty((max(nh, 1), max(nlm - 1, 1)))
        runs = np.empty((max_runs, 2), dtype=np.int64)
        # the read-out runs on blocks of _LANES centres of one species (A, D, T as columns), so each term's
        # indices and coefficient are loaded once per block: order the chunk's centres by species
        c_lo = ch * _CHUNK
        c_hi = min(n_centers, c_lo + _CHUNK)
        fill = np.zeros(n_types, dtype=np.int64)
        for c in range(c_lo, c_hi):
            t = center_types[c]
            if has[t] == 0:
                out[c] = np.nan
            else:
                fill[t] += 1
        p = 0
        for t in range(n_types):
            nt_ = fill[t]
            fill[t] = p
            p += (nt_ + _LANES - 1) // _LANES * _LANES
        n_blk = p // _LANES
        order = np.full(n_pos, -1, dtype=np.int64)
        for c in range(c_lo, c_hi):
            t = center_types[c]
            if has[t] != 0:
                order[fill[t]] = c
                fill[t] += 1
        AB = np.zeros((n_blk, n_a, _LANES))
        DB = np.zeros((n_blk, d_size, _LANES))
        TB = np.zeros((n_blk, n_t, _LANES))
        acc = np.empty(_LANES)
        for j in range(n_blk * _LANES):
            c = order[j]
            if c < 0:
                continue    # padding: zeros, its sum is not used
            cx = cy = cz = 0.0    # _VECTORS: the list holds the vectors themselves
            if mode != _VECTORS:
                ci = rows[c]
                cx, cy, cz = x[ci, 0], x[ci, 1], x[ci, 2]
            if mode == _BINNED:
                nr = _cell_runs(cx, cy, cz, reach, edges, dims, origin, cell_start, runs)
                src = xs
                styp = ts
            else:
                runs[0, 0] = offsets[c]
                runs[0, 1] = offsets[c + 1]
                nr = 1
                src = x
                styp = types
            tot = 0
            for r in range(nr):
                tot += runs[r, 1] - runs[r, 0]
            if tot > cap:
                cap = tot + tot // 4 + 16
                gbuf, ybuf, rb, ux, uy, uz, E, X, C, S, P, Q, zs = _pair_scratch(cap, width, nlm, top)
            _centre_sums(runs, nr, neighbors, vectors, styp, rc, scale, a, y_rc, n_species, n_max, l_max, norms,
                         d_group, d_goff, t_group, Ls, Lt, qs, qu, rec_a, rec_b, A, D, T, start, seg, gbuf, ybuf,
                         rb, ux, uy, uz, E, X, P, Q, C, S, Tq, M0, Mhi, zs, src, cx, cy, cz, mode, nlim, qsl,
                         rowR, rowS, nh, nhl)
            b = j // _LANES
            lane = j % _LANES
            for i in range(n_a):
                AB[b, i, lane] = A[i]
            for i in range(d_size):
                DB[b, i, lane] = D[i]
            for i in range(n_t):
                TB[b, i, lane] = T[i]
        for b in range(n_blk):
            t = center_types[order[b * _LANES]]    # a block holds one species, its first lane is a centre
            _poly_block(AB[b], DB[b], TB[b], t, a_idx, a_c, aa_idx, aa_c, aaa_idx, aaa_c, ad_idx, ad_c, d_idx, d_c,
                        t_idx, t_c, acc)
            for lane in range(_LANES):
                c = order[b * _LANES + lane]
                if c >= 0:
                    out[c] = (b0[t] + acc[lane]) / norm[t]
    return out
