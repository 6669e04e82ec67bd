"""Numba kernels of the ACE descriptor (:mod:`glassfix.descriptors.ace`): distance transform, radial basis,
real spherical harmonics and the per-centre atomic base / invariant kernels.

Lengths in the frame's unit (σ_AA). The definitions (transform, basis, purification) are documented in
:mod:`glassfix.descriptors.ace`; this module only holds the jitted code and its constants.
"""

from __future__ import annotations

import math

import numba
import numpy as np

_TRANSFORMS = ("default", "literal")
_N_MAX_LIMIT = 256
# √(2k+1), the orthonormalisation of the shifted Legendre polynomials (frozen into the numba kernels)
_SQRT_2K1 = np.sqrt(2.0 * np.arange(_N_MAX_LIMIT) + 1.0)


# ---------------------------------------------------------------------------------------------------
# radial basis and spherical harmonics (numba, shared by the kernel and the python helpers)
# ---------------------------------------------------------------------------------------------------


def _transform_params(transform: str, r_cut: float, r_0: float) -> tuple[float, float]:
    """(scale, a) of y(r) = (1+u³)/(1+u³+a u⁴), u = r/scale, for the chosen transform."""
    if transform == "default":
        return r_0, 3.0 / 11.0
    s0 = r_0 / r_cut
    return r_cut, (6.0 - 3.0 * s0**3) / (s0**7 + 10.0 * s0**4)


@numba.njit(cache=True, inline="always")
def _agnesi_y(r: float, scale: float, a: float) -> float:
    u = r / scale
    u3 = u * u * u
    return (1.0 + u3) / (1.0 + u3 + a * u3 * u)


@numba.njit(cache=True, inline="always")
def _xform(r: float, rc: float, scale: float, a: float, y_rc: float) -> float:
    """x(r) = 1 − (y(r) − y(rc)) / (y(0) − y(rc)) · (1 − (r/rc)⁴), y(0) = 1."""
    q = r / rc
    q2 = q * q
    return 1.0 - (_agnesi_y(r, scale, a) - y_rc) / (1.0 - y_rc) * (1.0 - q2 * q2)


@numba.njit(cache=True)
def _radial(x: float, n_max: int, out: np.ndarray) -> None:
    """out[k] = (x − 1) · √(2k+1) P_k(2x − 1), k = 0 … n_max−1 (i.e. R_{k+1})."""
    t = 2.0 * x - 1.0
    env = x - 1.0
    pm1 = 0.0  # P_{k-1}
    pm2 = 0.0  # P_{k-2}
    for k in range(n_max):
        if k == 0:
            val = 1.0
        elif k == 1:
            val = t
        else:
            # k P_k = (2k−1) t P_{k−1} − (k−1) P_{k−2}
            val = ((2.0 * k - 1.0) * t * pm1 - (k - 1.0) * pm2) / k
        pm2 = pm1
        pm1 = val
        out[k] = env * _SQRT_2K1[k] * val


@numba.njit(cache=True)
def _ylm(ux: float, uy: float, uz: float, l_max: int, norms: np.ndarray, q: np.ndarray, out: np.ndarray) -> None:
    """Real harmonics Y^r_{lμ}(û) at flat index l² + l + μ for a unit vector û; q is (l_max+1)² scratch.

    Q_l^m(z) (associated Legendre without the Condon–Shortley phase, divided by sin^m θ) by the standard
    recurrences; (x + iy)^m = C_m + i S_m by complex multiplication.
    """
    # q[l*l + l + m] holds Q_l^m for m ≥ 0.
    for m in range(l_max + 1):
        if m == 0:
            qmm = 1.0
        else:
            qmm = q[(m - 1) * (m - 1) + (m - 1) + (m - 1)] * (2.0 * m - 1.0)
        q[m * m + m + m] = qmm
        if m + 1 <= l_max:
            q[(m + 1) * (m + 1) + (m + 1) + m] = (2.0 * m + 1.0) * uz * qmm
        for l in range(m + 2, l_max + 1):
            q[l * l + l + m] = ((2.0 * l - 1.0) * uz * q[(l - 1) * (l - 1) + (l - 1) + m]
                                - (l + m - 1.0) * q[(l - 2) * (l - 2) + (l - 2) + m]) / (l - m)
    c = 1.0
    s = 0.0
    for m in range(l_max + 1):
        if m > 0:
            c, s = c * ux - s * uy, s * ux + c * uy
        for l in range(m, l_max + 1):
            base = l * l + l
            qv = q[base + m]
            if m == 0:
                out[base] = norms[base] * qv
            else:
                out[base + m] = norms[base + m] * qv * c
                out[base - m] = norms[base - m] * qv * s


# ---------------------------------------------------------------------------------------------------
# the kernel
# ---------------------------------------------------------------------------------------------------


@numba.njit(cache=True)
def _pair_sums(
    p0: int,
    p1: int,
    neighbors: np.ndarray,
    vectors: np.ndarray,
    types: np.ndarray,
    rc: float,
    scale: float,
    a: float,
    y_rc: float,
    n_max: int,
    l_max: int,
    nlim: np.ndarray,
    norms: np.ndarray,
    d_ab: np.ndarray,
    d_group: np.ndarray,
    d_goff: np.ndarray,
    t_abc: np.ndarray,
    t_group: np.ndarray,
    A: np.ndarray,
    D: np.ndarray,
    T: np.ndarray,
    R: np.ndarray,
    Y: np.ndarray,
    Q: np.ndarray,
    PR: np.ndarray,
) -> None:
    """Accumulate A, D and T over the pairs p0 … p1−1 of one centre, in list order.

    Layouts (innermost index contiguous, so the hot loops vectorise):
    A[(z·nlm + l² + l + m)·n_max + n−1];  D entries grouped by (z, l) = g, entries e of group g at
    D[d_goff[g] + μ·cnt_g + (e − d_group[g])] with cnt_g = d_group[g+1] − d_group[g];
    T entries grouped by z (t_group).
    """
    nlm = (l_max + 1) * (l_max + 1)
    for p in range(p0, p1):
        v0 = vectors[p, 0]
        v1 = vectors[p, 1]
        v2 = vectors[p, 2]
        r = math.sqrt(v0 * v0 + v1 * v1 + v2 * v2)
        # Lists from LAMMPS reach cutoff + skin: the receptive field is enforced here.
        if not (r < rc) or r == 0.0:
            continue
        z = types[neighbors[p]]
        x = _xform(r, rc, scale, a, y_rc)
        _radial(x, n_max, R)
        inv = 1.0 / r
        _ylm(v0 * inv, v1 * inv, v2 * inv, l_max, norms, Q, Y)
        base = z * nlm * n_max
        for l in range(l_max + 1):
            kk = nlim[l]
            for lm in range(l * l, (l + 1) * (l + 1)):
                y = Y[lm]
                row = base + lm * n_max
                for k in range(kk):
                    A[row + k] += R[k] * y
        if d_ab.shape[0]:
            for l in range(l_max + 1):
                g = z * (l_max + 1) + l
                e0 = d_group[g]
                e1 = d_group[g + 1]
                cnt = e1 - e0
                if cnt == 0:
                    continue
                for e in range(e0, e1):
                    PR[e - e0] = R[d_ab[e, 0]] * R[d_ab[e, 1]]
                off = d_goff[g]
                for mu in range(2 * l + 1):
                    y = Y[l * l + mu]
                    row = off + mu * cnt
                    for e in range(cnt):
                        D[row + e] += PR[e] * y
        for e in range(t_group[z], t_group[z + 1]):
            T[e] += R[t_abc[e, 0]] * R[t_abc[e, 1]] * R[t_abc[e, 2]]


@numba.njit(parallel=True, cache=True)
def _base_kernel(
    offsets: np.ndarray,
    neighbors: np.ndarray,
    vectors: np.ndarray,
    types: np.ndarray,
    rc: float,
    scale: float,
    a: float,
    y_rc: float,
    n_species: int,
    n_max: int,
    l_max: int,
    nlim: np.ndarray,
    norms: np.ndarray,
) -> np.ndarray:
    """Atomic base only: (n_centers, n_species · (l_max+1)² · n_max), layout of :func:`_pair_sums`."""
    n_centers = offsets.shape[0] - 1
    nlm = (l_max + 1) * (l_max + 1)
    out = np.zeros((n_centers, n_species * nlm * n_max))
    d_ab = np.zeros((0, 2), dtype=np.int64)
    d_group = np.zeros(n_species * (l_max + 1) + 1, dtype=np.int64)
    t_abc = np.zeros((0, 3), dtype=np.int64)
    t_group = np.zeros(n_species + 1, dtype=np.int64)
    for c in numba.prange(n_centers):
        D = np.zeros(0)
        T = np.zeros(0)
        R = np.empty(max(n_max, 1))
        Y = np.empty(nlm)
        Q = np.empty(nlm)
        _pair_sums(offsets[c], offsets[c + 1], neighbors, vectors, types, rc, scale, a, y_rc, n_max, l_max,
                   nlim, norms, d_ab, d_group, d_group, t_abc, t_group, out[c], D, T, R, Y, Q, R)
    return out


@numba.njit(cache=True)
def _invariants(A: np.ndarray, D: np.ndarray, T: np.ndarray, n_max: int, f2: np.ndarray, f3: np.ndarray,
                f3c: np.ndarray, f4: np.ndarray, f4c: np.ndarray, w_idx: np.ndarray, w_val: np.ndarray,
                row: np.ndarray) -> None:
    """One centre's invariants from its atomic base A and pair/triple sums D, T into ``row`` (layouts: _ace_kernel)."""
    sqrt4pi = math.sqrt(4.0 * math.pi)
    n2 = f2.shape[0]
    n3 = f3.shape[0]
    n4 = f4.shape[0]
    col = 0
    for f in range(n2):
        row[col] = sqrt4pi * A[f2[f]]
        col += 1
    for f in range(n3):
        i1 = f3[f, 0]
        i2 = f3[f, 1]
        l = f3[f, 2]
        acc = 0.0
        for mu in range(2 * l + 1):
            acc += A[i1 + mu * n_max] * A[i2 + mu * n_max]
        if f3[f, 3] >= 0:
            acc -= f3c[f] * D[f3[f, 3]]
        row[col] = acc
        col += 1
    for f in range(n4):
        i1 = f4[f, 0]
        i2 = f4[f, 1]
        i3 = f4[f, 2]
        acc = 0.0
        for w in range(f4[f, 3], f4[f, 4]):
            acc += w_val[w] * A[i1 + w_idx[w, 0]] * A[i2 + w_idx[w, 1]] * A[i3 + w_idx[w, 2]]
        # self-interaction terms "1|23", "2|13", "3|12" (Gaunt-collapsed) and the triple coincidence
        for t in range(3):
            dpos = f4[f, 5 + 2 * t]
            if dpos >= 0:
                dstr = f4[f, 6 + 2 * t]
                ia = f4[f, t]
                ll = f4[f, 12 + t]
                s = 0.0
                for mu in range(2 * ll + 1):
                    s += A[ia + mu * n_max] * D[dpos + mu * dstr]
                acc -= f4c[f, t] * s
        if f4[f, 11] >= 0:
            acc += 2.0 * f4c[f, 3] * T[f4[f, 11]]
        row[col] = acc
        col += 1


@numba.njit(parallel=True, cache=True)
def _ace_kernel(
    offsets: np.ndarray,
    neighbors: np.ndarray,
    vectors: np.ndarray,
    types: np.ndarray,
    rc: float,
    scale: float,
    a: float,
    y_rc: float,
    n_species: int,
    n_max: int,
    l_max: int,
    nlim: np.ndarray,
    norms: np.ndarray,
    d_ab: np.ndarray,
    d_group: np.ndarray,
    d_goff: np.ndarray,
    d_size: int,
    t_abc: np.ndarray,
    t_group: np.ndarray,
    f2: np.ndarray,
    f3: np.ndarray,
    f3c: np.ndarray,
    f4: np.ndarray,
    f4c: np.ndarray,
    w_idx: np.ndarray,
    w_val: np.ndarray,
    n_out: int,
) -> np.ndarray:
    """Atomic base + one-neighbour pair/triple sums per centre, then the invariants (see the module doc).

    f2 rows: flat A index of (z, l=0, n).  f3 rows (i1, i2, l, dpos, dstride): Σ_μ A[i1 + μ n_max] A[i2 + μ n_max]
    − f3c · D[dpos] (dpos < 0: no purification term).  f4 rows (i1, i2, i3, w0, w1, dpos1, dstr1, dpos2, dstr2,
    dpos3, dstr3, t, l1, l2, l3) with i_t the flat A index of (z_t, l_t, μ=0, n_t); w_idx holds μ_t · n_max;
    f4c rows (c1, c2, c3, ct): Σ W A A A − Σ_t c_t Σ_μ A_t D_t + 2 ct T.
    """
    n_centers = offsets.shape[0] - 1
    nlm = (l_max + 1) * (l_max + 1)
    nt = t_abc.shape[0]
    out = np.zeros((n_centers, n_out), dtype=np.float64)
    # Parallel over centres; each centre sums its pairs in list order -> bitwise independent of threads.
    for c in numba.prange(n_centers):
        A = np.zeros(n_species * nlm * n_max)
        D = np.zeros(d_size)
        T = np.zeros(nt)
        R = np.empty(max(n_max, 1))
        Y = np.empty(nlm)
        Q = np.empty(nlm)
        PR = np.empty(max(d_ab.shape[0], 1))
        _pair_sums(offsets[c], offsets[c + 1], neighbors, vectors, types, rc, scale, a, y_rc, n_max, l_max,
                   nlim, norms, d_ab, d_group, d_goff, t_abc, t_group, A, D, T, R, Y, Q, PR)
        _invariants(A, D, T, n_max, f2, f3, f3c, f4, f4c, w_idx, w_val, out[c])
    return out


@numba.njit(parallel=True, cache=True)
def _ace_linear_kernel(
    offsets: np.ndarray, neighbors: np.ndarray, vectors: np.ndarray, types: np.ndarray, rc: float,
    scale: float, a: float, y_rc: float, n_species: int, n_max: int, l_max: int, nlim: np.ndarray,
    norms: np.ndarray, d_ab: np.ndarray, d_group: np.ndarray, d_goff: np.ndarray, d_size: int,
    t_abc: np.ndarray, t_group: np.ndarray, f2: np.ndarray, f3: np.ndarray, f3c: np.ndarray,
    f4: np.ndarray, f4c: np.ndarray, w_idx: np.ndarray, w_val: np.ndarray, n_out: int,
    center_types: np.ndarray, mean: np.ndarray, scale_f: np.ndarray, w: np.ndarray, b: np.ndarray,
    norm: np.ndarray, has: np.ndarray,
) -> np.ndarray:
    """_ace_kernel fused with a per-centre-species linear read-out: decision[c] = (b[t] + Σ_f
    (X_cf − mean[t, f]) / scale_f[t, f] · w[t, f]) / norm[t] with t = center_types[c] (NaN where
    has[t] == 0), summed in feature order like SoftnessHead.decision.

    The feature row lives in per-centre scratch: no (n_centres, n_features) matrix is written.
    """
    n_centers = offsets.shape[0] - 1
    nlm = (l_max + 1) * (l_max + 1)
    nt = t_abc.shape[0]
    out = np.empty(n_centers, dtype=np.float64)
    for c in numba.prange(n_centers):
        t = center_types[c]
        if has[t] == 0:
            out[c] = np.nan
            continue
        A = np.zeros(n_species * nlm * n_max)
        D = np.zeros(d_size)
        T = np.zeros(nt)
        R = np.empty(max(n_max, 1))
        Y = np.empty(nlm)
        Q = np.empty(nlm)
        PR = np.empty(max(d_ab.shape[0], 1))
        row = np.empty(n_out)
        _pair_sums(offsets[c], offsets[c + 1], neighbors, vectors, types, rc, scale, a, y_rc, n_max, l_max,
                   nlim, norms, d_ab, d_group, d_goff, t_abc, t_group, A, D, T, R, Y, Q, PR)
        _invariants(A, D, T, n_max, f2, f3, f3c, f4, f4c, w_idx, w_val, row)
        acc = b[t]
        for f in range(n_out):
            acc += (row[f] - mean[t, f]) / scale_f[t, f] * w[t, f]
        out[c] = acc / norm[t]
    return out
