"""The linear read-out of the on-the-fly ACE kernel (``_ace_fast``) as a polynomial in the centre's atomic base
A and purification sums D, T: a linear model Σ_f ws_f X_f over purified invariants is one sum over monomials
c · A, A A, A A A, A D, D, T (:func:`linear_terms`), terms of the same monomial merged (:func:`merge_terms`),
evaluated for blocks of :data:`_LANES` centres of one species (:func:`_poly_block`). Dimensionless."""

from __future__ import annotations

import math

import numba
import numpy as np

_LANES = 4     # centres per read-out block (_poly_block)


def linear_terms(tb: dict, n_max: int) -> dict[str, np.ndarray]:
    """The invariants as sums of monomials in A, D, T, so that a linear read-out Σ_f ws_f X_f is one sum
    over terms c · A A A, A A, A D, A, D, T (no per-feature rows). For every term kind: index columns and,
    per term, its feature and constant factor (the term's coefficient is factor · ws[feature])."""
    sqrt4pi = math.sqrt(4.0 * math.pi)
    f2, f3, f3c, f4, f4c, w_idx, w_val = (tb[k] for k in ("f2", "f3", "f3c", "f4", "f4c", "w_idx", "w_val"))
    n2, n3 = f2.shape[0], f3.shape[0]
    terms: dict[str, list] = {k: [] for k in ("a", "aa", "aaa", "ad", "d", "t")}
    for f in range(n2):
        terms["a"].append(((int(f2[f]),), f, sqrt4pi))
    for f in range(n3):
        i1, i2, l, dpos = (int(v) for v in f3[f])
        for mu in range(2 * l + 1):
            terms["aa"].append(((i1 + mu * n_max, i2 + mu * n_max), n2 + f, 1.0))
        if dpos >= 0:
            terms["d"].append(((dpos,), n2 + f, -float(f3c[f])))
    for f in range(f4.shape[0]):
        col = n2 + n3 + f
        row = [int(v) for v in f4[f]]
        for w in range(row[3], row[4]):
            terms["aaa"].append(((row[0] + int(w_idx[w, 0]), row[1] + int(w_idx[w, 1]), row[2] + int(w_idx[w, 2])),
                                 col, float(w_val[w])))
        for t in range(3):    # self-interaction terms, Gaunt-collapsed (see _ace_kernels._invariants)
            dpos, dstr = row[5 + 2 * t], row[6 + 2 * t]
            if dpos >= 0:
                for mu in range(2 * row[12 + t] + 1):
                    terms["ad"].append(((row[t] + mu * n_max, dpos + mu * dstr), col, -float(f4c[f, t])))
        if row[11] >= 0:
            terms["t"].append(((row[11],), col, 2.0 * float(f4c[f, 3])))
    width = {"a": 1, "aa": 2, "aaa": 3, "ad": 2, "d": 1, "t": 1}
    out: dict[str, np.ndarray] = {}
    for k, lst in terms.items():
        out[k + "_idx"] = np.array([x[0] for x in lst], dtype=np.int64).reshape(-1, width[k])
        out[k + "_feat"] = np.array([x[1] for x in lst], dtype=np.int64)
        out[k + "_fac"] = np.array([x[2] for x in lst], dtype=np.float64)
    return out


def merge_terms(idx: np.ndarray, coef: np.ndarray, commuting: bool) -> tuple[np.ndarray, np.ndarray]:
    """Terms of the same monomial summed into one (coefficients per centre species, same units as ``coef``):
    features share monomials (the self-interaction corrections of several invariants hit the same A·D), and
    the read-out costs per term. ``commuting``: the indices are factors of one array (A A, A A A), so their
    order does not matter. Returns (unique index rows in lexicographic order, summed coefficients)."""
    if idx.shape[0] == 0:
        return idx, coef
    key = np.sort(idx, axis=1) if commuting else idx
    uniq, inv = np.unique(key, axis=0, return_inverse=True)
    inv = inv.ravel()
    out = np.empty((coef.shape[0], uniq.shape[0]))
    for t in range(coef.shape[0]):
        out[t] = np.bincount(inv, weights=coef[t], minlength=uniq.shape[0])
    return np.ascontiguousarray(uniq), out


@numba.njit(inline="always")
def _terms1(U: np.ndarray, idx: np.ndarray, cf: np.ndarray, t: int, s0: float, s1: float, s2: float,
            s3: float) -> tuple[float, float, float, float]:
    """The four lanes' sums plus Σ_i cf[t, i] U[idx[i, 0]] (one-factor terms of :func:`_poly_block`)."""
    for i in range(idx.shape[0]):
        c = cf[t, i]
        u = U[idx[i, 0]]
        s0 += c * u[0]
        s1 += c * u[1]
        s2 += c * u[2]
        s3 += c * u[3]
    return s0, s1, s2, s3


@numba.njit(inline="always")
def _terms2(U: np.ndarray, V: np.ndarray, idx: np.ndarray, cf: np.ndarray, t: int, s0: float, s1: float, s2: float,
            s3: float) -> tuple[float, float, float, float]:
    """The four lanes' sums plus Σ_i cf[t, i] U[idx[i, 0]] V[idx[i, 1]] (two-factor terms)."""
    for i in range(idx.shape[0]):
        c = cf[t, i]
        u = U[idx[i, 0]]
        v = V[idx[i, 1]]
        s0 += c * u[0] * v[0]
        s1 += c * u[1] * v[1]
        s2 += c * u[2] * v[2]
        s3 += c * u[3] * v[3]
    return s0, s1, s2, s3


@numba.njit(cache=True)
def _poly_block(AB: np.ndarray, DB: np.ndarray, TB: np.ndarray, t: int, a_idx: np.ndarray, a_c: np.ndarray,
                aa_idx: np.ndarray, aa_c: np.ndarray, aaa_idx: np.ndarray, aaa_c: np.ndarray, ad_idx: np.ndarray,
                ad_c: np.ndarray, d_idx: np.ndarray, d_c: np.ndarray, t_idx: np.ndarray, t_c: np.ndarray,
                acc: np.ndarray) -> None:
    """acc[b] = Σ over the monomial terms of :func:`linear_terms` with the coefficients of centre species t, for
    four centres b of that species at once (AB[:, b], DB[:, b], TB[:, b]: their A, D, T): the term's indices and
    coefficient are read once for the four. Four scalar sums (numba cannot keep a lane array in registers); each
    centre's sum runs over the terms in order, as for one centre alone."""
    s0, s1, s2, s3 = _terms1(AB, a_idx, a_c, t, 0.0, 0.0, 0.0, 0.0)
    s0, s1, s2, s3 = _terms2(AB, AB, aa_idx, aa_c, t, s0, s1, s2, s3)
    for i in range(aaa_idx.shape[0]):
        c = aaa_c[t, i]
        u = AB[aaa_idx[i, 0]]
        v = AB[aaa_idx[i, 1]]
        w = AB[aaa_idx[i, 2]]
        s0 += c * u[0] * v[0] * w[0]
        s1 += c * u[1] * v[1] * w[1]
        s2 += c * u[2] * v[2] * w[2]
        s3 += c * u[3] * v[3] * w[3]
    s0, s1, s2, s3 = _terms2(AB, DB, ad_idx, ad_c, t, s0, s1, s2, s3)
    s0, s1, s2, s3 = _terms1(DB, d_idx, d_c, t, s0, s1, s2, s3)
    s0, s1, s2, s3 = _terms1(TB, t_idx, t_c, t, s0, s1, s2, s3)
    acc[0] = s0
    acc[1] = s1
    acc[2] = s2
    acc[3] = s3
