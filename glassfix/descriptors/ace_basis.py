"""ACE basis enumeration (the selection rule) and vectorised Python reference functions of the ACE
one-particle basis, used for plots and as the tests' brute-force reference.

Lengths in the frame's unit (σ_AA). Definitions: :mod:`glassfix.descriptors.ace`.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from glassfix.descriptors._ace_kernels import _TRANSFORMS, _transform_params, _ylm
from glassfix.descriptors._wigner import real_ylm_norms

__all__ = ["ace_basis", "distance_transform", "radial_basis", "real_spherical_harmonics", "Factor"]

_DEG_TOL = 1e-9

Factor = tuple[int, int, int]  # (neighbour species ζ, radial index n ≥ 1, angular l)


# ---------------------------------------------------------------------------------------------------
# basis enumeration
# ---------------------------------------------------------------------------------------------------


def ace_basis(
    n_species: int, max_body_order: int, degree: float, n_max: int, w_l: float = 1.5
) -> tuple[list[tuple[int, int]], list[tuple[Factor, Factor]], list[tuple[Factor, Factor, Factor]]]:
    """(2-body [(ζ, n)], 3-body [(f1, f2)], 4-body [(f1, f2, f3)]) in feature order; factors f = (ζ, n, l).

    2-body: every ζ and n = 1 … n_max (species-major). Many-body: multisets of factors with 1 ≤ n_t ≤ n_max,
    Σ_t (n_t + w_l l_t) ≤ degree; 3-body l1 = l2; 4-body |l1 − l2| ≤ l3 ≤ l1 + l2 and l1 + l2 + l3 even.
    Many-body blocks are sorted by total degree, then lexicographically by the sorted factor tuple.
    """
    two = [(z, n) for z in range(n_species) for n in range(1, n_max + 1)]

    def deg(fs) -> float:
        return sum(n + w_l * l for _, n, l in fs)

    def factors(nu: int) -> list[Factor]:
        # the other nu−1 factors have degree ≥ 1 each (n ≥ 1)
        budget = degree - (nu - 1) + _DEG_TOL
        out = []
        for z in range(n_species):
            for n in range(1, n_max + 1):
                l = 0
                while n + w_l * l <= budget:
                    out.append((z, n, l))
                    l += 1
                    if w_l <= 0 and l > 64:  # guard: an unbounded l would never stop
                        raise ValueError("w_l must be positive")
        return sorted(out)

    def block(nu: int, ok) -> list:
        fs = factors(nu)
        sel = [c for c in itertools.combinations_with_replacement(fs, nu)
               if deg(c) <= degree + _DEG_TOL and ok(c)]
        return sorted(sel, key=lambda c: (round(deg(c), 9), c))

    three: list = []
    four: list = []
    if max_body_order >= 3:
        three = block(2, lambda c: c[0][2] == c[1][2])
    if max_body_order >= 4:
        def ok4(c) -> bool:
            l1, l2, l3 = c[0][2], c[1][2], c[2][2]
            return abs(l1 - l2) <= l3 <= l1 + l2 and (l1 + l2 + l3) % 2 == 0
        four = block(3, ok4)
    return two, three, four


# ---------------------------------------------------------------------------------------------------
# python reference helpers (vectorised; used for plots and tests)
# ---------------------------------------------------------------------------------------------------


def distance_transform(r: np.ndarray, r_cut: float, r_0: float = 1.0, transform: str = "default") -> np.ndarray:
    """x(r) ∈ [0, 1] of the module doc (lengths in σ)."""
    if transform not in _TRANSFORMS:
        raise ValueError(f"transform must be one of {_TRANSFORMS}, got {transform!r}")
    scale, a = _transform_params(transform, r_cut, r_0)
    r = np.asarray(r, dtype=np.float64)
    y = lambda rr: (1 + (rr / scale) ** 3) / (1 + (rr / scale) ** 3 + a * (rr / scale) ** 4)  # noqa: E731
    y_rc = y(r_cut)
    return 1.0 - (y(r) - y_rc) / (1.0 - y_rc) * (1.0 - (r / r_cut) ** 4)


def radial_basis(r: np.ndarray, n_max: int, r_cut: float, r_0: float = 1.0, transform: str = "default") -> np.ndarray:
    """R_n(r) for n = 1 … n_max, shape r.shape + (n_max,); zero for r ≥ r_cut."""
    r = np.asarray(r, dtype=np.float64)
    x = distance_transform(r, r_cut, r_0, transform)
    t = 2 * x - 1
    out = np.empty(r.shape + (n_max,))
    for k in range(n_max):
        coef = np.zeros(k + 1)
        coef[k] = 1.0
        out[..., k] = (x - 1) * math.sqrt(2 * k + 1) * np.polynomial.legendre.legval(t, coef)
    out[r >= r_cut] = 0.0
    return out


def real_spherical_harmonics(u: np.ndarray, l_max: int) -> np.ndarray:
    """Real Y^r_{lμ}(û) at flat index l² + l + μ for unit vectors u (M, 3) -> (M, (l_max+1)²)."""
    u = np.atleast_2d(np.asarray(u, dtype=np.float64))
    norms = real_ylm_norms(l_max)
    out = np.empty((u.shape[0], (l_max + 1) ** 2))
    q = np.empty((l_max + 1) ** 2)
    for i in range(u.shape[0]):
        _ylm(u[i, 0], u[i, 1], u[i, 2], l_max, norms, q, out[i])
    return out
