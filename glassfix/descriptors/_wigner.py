"""Wigner 3j symbols and their real-spherical-harmonic form, for the ACE bispectrum (pure Python, cached).

Conventions (shared with ``glassfix.descriptors.ace``):

* complex Y_l^m carry the Condon–Shortley phase (as ``scipy.special.sph_harm_y``);
* the real harmonics have no extra phase: with N_lm = sqrt((2l+1)/(4π) (l−m)!/(l+m)!) and
  Q_l^m the associated Legendre function without the (−1)^m phase divided by sin^m θ,
  Y^r_{l0} = N_l0 Q_l^0(z), Y^r_{l,m} = √2 N_lm Q_l^m(z) Re[(x+iy)^m], Y^r_{l,−m} = √2 N_lm Q_l^m(z) Im[(x+iy)^m]
  for m > 0 and a unit vector (x, y, z);
* :func:`complex_from_real` is the unitary U_l with Y_l^m = Σ_μ U_l[m+l, μ+l] Y^r_{lμ}.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache

import numpy as np

__all__ = ["wigner_3j", "wigner_3j_tensor", "complex_from_real", "real_coupling_3j", "real_ylm_norms"]


@lru_cache(maxsize=None)
def wigner_3j(j1: int, j2: int, j3: int, m1: int, m2: int, m3: int) -> float:
    """Wigner 3j symbol (j1 j2 j3; m1 m2 m3) for integer arguments (Racah's formula, exact rational sum)."""
    if m1 + m2 + m3 != 0:
        return 0.0
    if j3 < abs(j1 - j2) or j3 > j1 + j2:
        return 0.0
    if abs(m1) > j1 or abs(m2) > j2 or abs(m3) > j3:
        return 0.0
    f = math.factorial
    delta = Fraction(f(j1 + j2 - j3) * f(j1 - j2 + j3) * f(-j1 + j2 + j3), f(j1 + j2 + j3 + 1))
    pre = delta * f(j1 + m1) * f(j1 - m1) * f(j2 + m2) * f(j2 - m2) * f(j3 + m3) * f(j3 - m3)
    kmin = max(0, j2 - j3 - m1, j1 - j3 + m2)
    kmax = min(j1 + j2 - j3, j1 - m1, j2 + m2)
    s = Fraction(0)
    for k in range(kmin, kmax + 1):
        den = (f(k) * f(j3 - j2 + k + m1) * f(j3 - j1 + k - m2) * f(j1 + j2 - j3 - k)
               * f(j1 - k - m1) * f(j2 - k + m2))
        s += Fraction((-1) ** k, den)
    sign = -1 if (j1 - j2 - m3) % 2 else 1
    # s² · pre is rational: take one square root of the exact product (no cancellation in floats).
    val = math.sqrt(s * s * pre)
    return float(sign * (1 if s >= 0 else -1) * val)


def wigner_3j_tensor(l1: int, l2: int, l3: int) -> np.ndarray:
    """Dense (2l1+1, 2l2+1, 2l3+1) array of (l1 l2 l3; m1 m2 m3), index m + l."""
    out = np.zeros((2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1))
    for m1 in range(-l1, l1 + 1):
        for m2 in range(-l2, l2 + 1):
            m3 = -m1 - m2
            if abs(m3) <= l3:
                out[m1 + l1, m2 + l2, m3 + l3] = wigner_3j(l1, l2, l3, m1, m2, m3)
    return out


@lru_cache(maxsize=None)
def complex_from_real(l: int) -> np.ndarray:
    """Unitary U (2l+1, 2l+1) with complex (Condon–Shortley) Y_l^m = Σ_μ U[m+l, μ+l] · real Y^r_{lμ}."""
    u = np.zeros((2 * l + 1, 2 * l + 1), dtype=np.complex128)
    u[l, l] = 1.0
    s = 1.0 / math.sqrt(2.0)
    for m in range(1, l + 1):
        ph = (-1.0) ** m
        u[l + m, l + m] = ph * s
        u[l + m, l - m] = 1j * ph * s
        u[l - m, l + m] = s
        u[l - m, l - m] = -1j * s
    u.setflags(write=False)
    return u


@lru_cache(maxsize=None)
def real_coupling_3j(l1: int, l2: int, l3: int) -> np.ndarray:
    """W[μ1, μ2, μ3] = Σ_m (l1 l2 l3; m1 m2 m3) U1[m1, μ1] U2[m2, μ2] U3[m3, μ3] (real; l1+l2+l3 even).

    Contracting W with three real atomic bases equals the complex 3j contraction of the complex bases.
    """
    if (l1 + l2 + l3) % 2:
        raise ValueError("the real-basis 3j coupling is real only for l1 + l2 + l3 even")
    w3 = wigner_3j_tensor(l1, l2, l3)
    w = np.einsum("abc,ai,bj,ck->ijk", w3, complex_from_real(l1), complex_from_real(l2), complex_from_real(l3))
    if np.abs(w.imag).max(initial=0.0) > 1e-12:
        raise AssertionError(f"real coupling ({l1},{l2},{l3}) has an imaginary part")
    out = np.ascontiguousarray(w.real)
    out[np.abs(out) < 1e-15] = 0.0
    out.setflags(write=False)
    return out


def real_ylm_norms(l_max: int) -> np.ndarray:
    """Prefactors of the real harmonics, flat index l² + l + m: N_l0 for m = 0, √2 N_l|m| otherwise."""
    out = np.zeros((l_max + 1) ** 2)
    for l in range(l_max + 1):
        for m in range(-l, l + 1):
            am = abs(m)
            n = math.sqrt((2 * l + 1) / (4.0 * math.pi) * math.factorial(l - am) / math.factorial(l + am))
            out[l * l + l + m] = n if m == 0 else math.sqrt(2.0) * n
    return out
