"""Angular structure functions of Cubuk et al. (thesis eq. 4.2 / 5.3, Table 4.1) and a combined descriptor.

Ψ_XY(i; ξ, λ, ζ) = Σ_{j ∈ X} Σ_{k ∈ Y} exp(−(R_ij² + R_ik² + R_jk²)/ξ²) (1 + λ cos θ_ijk)^ζ [· w]

over neighbours j ≠ k of i with R_ij, R_ik < r_c (R_jk is |R_ik − R_ij|, taken from the two pair
vectors, so it refers to the periodic images that are actually within the cutoff of i); θ_ijk is the
angle at i. Lengths are in σ_AA. One feature per (species pair X ≤ Y, parameter row); features are
pair-major (AA, AB, BB for two species; in general (0,0), (0,1), …, (0,n−1), (1,1), …), each pair
holding all parameter rows in the given order: 22 × 3 = 66 for the thesis' two-species set.

Pair conventions (the thesis leaves this open):

* ``pairs="unordered"`` (default): every unordered pair {j, k} of distinct neighbours is counted once,
  in the feature of its species pair. For X == Y that is Σ_{j<k, j,k ∈ X}; for X ≠ Y it is
  Σ_{j ∈ X} Σ_{k ∈ Y} (each mixed pair appears once in that double sum anyway).
* ``pairs="ordered"``: the literal double sum Σ_{j ∈ X} Σ_{k ∈ Y, k ≠ j} over ordered pairs, i.e. the
  X == Y features are exactly twice the unordered ones and the X ≠ Y features are identical.

"Neighbour" means a periodic image within the cutoff: in a box narrower than 2 r_c two images of the
same atom are two different neighbours (and the pair of them counts), exactly as a sum over images.

Cutoff function: ``cutoff_fn="none"`` uses the hard cutoff R_ij, R_ik < r_c only (R_jk unrestricted,
up to 2 r_c). ``cutoff_fn="cosine"`` multiplies each term by w = f_c(R_ij) f_c(R_ik) f_c(R_jk) with
f_c(R) = ½(cos(πR/r_c) + 1) for R < r_c and 0 otherwise, which makes Ψ continuous when atoms cross
the cutoff. In that form the relation to Behler's G4 (J. Chem. Phys. 134, 074106 (2011), as in ACSF
codes such as DScribe, element-resolved over unordered neighbour pairs) is exact:

    G4_XY(η, λ, ζ) = 2^(1−ζ) · Ψ_XY(ξ = 1/√η, λ, ζ)      [pairs="unordered", cutoff_fn="cosine"]

i.e. η = 1/ξ². (Codes that sum over ordered pairs j ≠ k for X == Y use pairs="ordered".)
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numba
import numpy as np

from glassfix.core.frame import Frame, NeighborList
from glassfix.descriptors.base import Descriptor, descriptor_from_spec, register_descriptor
from glassfix.descriptors.structure_functions import resolve_species_names

__all__ = [
    "AngularStructureFunctions",
    "CombinedDescriptor",
    "CUBUK_TABLE",
    "species_pairs",
]

#: Table 4.1 (= Table 5.2) of Cubuk's thesis as (ξ [σ_AA], λ, ζ), in the printed row order. The table's
#: columns are (ξ, ζ, λ); 14.633 and 14.638 are kept as printed (almost surely one value).
CUBUK_TABLE: tuple[tuple[float, int, int], ...] = (
    (14.633, -1, 1), (14.633, +1, 1), (14.638, -1, 2), (14.638, +1, 2),
    (2.554, -1, 1), (2.554, +1, 1), (2.554, -1, 2), (2.554, +1, 2),
    (1.648, +1, 1), (1.648, +1, 2),
    (1.204, +1, 1), (1.204, +1, 2), (1.204, +1, 4), (1.204, +1, 16),
    (0.933, +1, 1), (0.933, +1, 2), (0.933, +1, 4), (0.933, +1, 16),
    (0.695, +1, 1), (0.695, +1, 2), (0.695, +1, 4), (0.695, +1, 16),
)

_CUTOFF_FNS = ("none", "cosine")
_PAIRS = ("unordered", "ordered")
# Integer ζ up to this value use exponentiation by squaring (exact to a few ulp, no log/exp).
_MAX_INT_ZETA = 1 << 20


def species_pairs(n_species: int) -> list[tuple[int, int]]:
    """Species pairs (X, Y) with X ≤ Y in feature order: (0,0), (0,1), …, (0,n−1), (1,1), …"""
    return [(a, b) for a in range(n_species) for b in range(a, n_species)]


@numba.njit(cache=True, inline="always")
def _ipow(x: float, n: int) -> float:
    """x**n for integer n ≥ 0 by repeated squaring."""
    result = 1.0
    while n > 0:
        if n & 1:
            result *= x
        x *= x
        n >>= 1
    return result


# cos(√z) = Σ_n (−1)^n z^n / (2n)!, truncated after n = 15: on 0 ≤ z ≤ π² (R_jk ≤ r_c) the first omitted
# term is < 1e-19, and Horner's rounding error is below 3e-15 absolute (cosh π · ε), far inside the
# 1e-10 the tests demand. It replaces a sqrt and a cos per neighbour pair — about 15 % of the kernel.
_COS_SQRT_COEFFS = np.array([(-1.0) ** n / math.factorial(2 * n) for n in range(16)])


@numba.njit(cache=True, inline="always")
def _cosine_cutoff_z(z: float, coeffs: np.ndarray) -> float:
    """½(cos(√z) + 1) for 0 ≤ z ≤ π², i.e. the cosine cutoff f_c(R) with z = (πR/r_c)²."""
    p = coeffs[15]
    for n in range(14, -1, -1):
        p = p * z + coeffs[n]
    return 0.5 * (p + 1.0)


@numba.njit(parallel=True, cache=True)
def _angular_kernel(
    offsets: np.ndarray,
    neighbors: np.ndarray,
    vectors: np.ndarray,
    types: np.ndarray,
    inv_xi2: np.ndarray,
    lambdas: np.ndarray,
    zetas: np.ndarray,
    zeta_int: np.ndarray,
    xi_index: np.ndarray,
    lz_index: np.ndarray,
    pair_index: np.ndarray,
    rc: float,
    cosine: bool,
    ordered: bool,
) -> np.ndarray:
    """Ψ for every centre of a CSR list (any dimension); pairs with r ≥ rc are skipped here.

    Per neighbour pair (p < q, list order) the exponentials are evaluated once per distinct ξ and the
    angular factors once per distinct (λ, ζ); each parameter row is then one multiply-add. Rows are
    owned by one thread and summed in list order, so results do not depend on the thread count.
    """
    n_centers = offsets.shape[0] - 1
    dim = vectors.shape[1]
    n_par = xi_index.shape[0]
    n_xi = inv_xi2.shape[0]
    n_lz = lambdas.shape[0]
    n_species = pair_index.shape[0]
    n_pairs_sp = n_species * (n_species + 1) // 2
    out = np.zeros((n_centers, n_pairs_sp * n_par), dtype=np.float64)
    rc2 = rc * rc
    pi2_rc2 = math.pi * math.pi / rc2
    coeffs = _COS_SQRT_COEFFS
    for c in numba.prange(n_centers):
        start = offsets[c]
        stop = offsets[c + 1]
        # Neighbours within the cutoff: their list positions, distances and cutoff weights.
        idx = np.empty(stop - start, dtype=np.int64)
        rr = np.empty(stop - start, dtype=np.float64)
        fc = np.empty(stop - start, dtype=np.float64)
        m = 0
        for p in range(start, stop):
            r2 = 0.0
            for a in range(dim):
                r2 += vectors[p, a] * vectors[p, a]
            r = math.sqrt(r2)
            # LAMMPS lists extend to cutoff + skin: the receptive field is enforced here.
            if not r < rc:
                continue
            idx[m] = p
            rr[m] = r
            fc[m] = 0.5 * (math.cos(math.pi * r / rc) + 1.0) if cosine else 1.0
            m += 1
        ex = np.empty(n_xi, dtype=np.float64)
        ang = np.empty(n_lz, dtype=np.float64)
        for u in range(m):
            p = idx[u]
            tp = types[neighbors[p]]
            rp = rr[u]
            for w in range(u + 1, m):
                q = idx[w]
                tq = types[neighbors[q]]
                rq = rr[w]
                dot = 0.0
                rjk2 = 0.0
                for a in range(dim):
                    dot += vectors[p, a] * vectors[q, a]
                    d = vectors[q, a] - vectors[p, a]
                    rjk2 += d * d
                weight = fc[u] * fc[w]
                if cosine:
                    if not rjk2 < rc2:
                        continue
                    weight *= _cosine_cutoff_z(rjk2 * pi2_rc2, coeffs)
                if ordered and tp == tq:
                    weight *= 2.0  # (j, k) and (k, j) both belong to Ψ_XX
                cos_t = dot / (rp * rq)
                if cos_t > 1.0:
                    cos_t = 1.0
                elif cos_t < -1.0:
                    cos_t = -1.0
                s = rp * rp + rq * rq + rjk2
                for x in range(n_xi):
                    ex[x] = math.exp(-s * inv_xi2[x])
                for v in range(n_lz):
                    base = 1.0 + lambdas[v] * cos_t
                    if base < 0.0:
                        base = 0.0
                    if zeta_int[v] >= 0:
                        ang[v] = _ipow(base, zeta_int[v])
                    else:
                        ang[v] = base ** zetas[v]
                col = pair_index[tp, tq] * n_par
                for k in range(n_par):
                    out[c, col + k] += weight * ex[xi_index[k]] * ang[lz_index[k]]
    return out


def _fmt(x: float) -> str:
    return f"{x:g}"


@register_descriptor
class AngularStructureFunctions(Descriptor):
    """Species-pair-resolved angular functions Ψ_XY(i; ξ, λ, ζ) (see the module docstring for the conventions)."""

    kind = "angular_structure_functions"

    def __init__(
        self,
        n_species: int,
        params: Sequence[Sequence[float]] | np.ndarray | None = None,
        cutoff: float = 2.5,
        cutoff_fn: str = "none",
        pairs: str = "unordered",
        species_names: Sequence[str] | None = None,
    ) -> None:
        """n_species ≥ 1; params rows (ξ [length], λ ∈ [−1, 1], ζ > 0), default Table 4.1; cutoff in length units."""
        if isinstance(n_species, bool) or not isinstance(n_species, (int, np.integer)) or n_species < 1:
            raise ValueError(f"n_species must be a positive integer, got {n_species!r}")
        self.n_species = int(n_species)
        table = np.asarray(CUBUK_TABLE if params is None else params, dtype=np.float64)
        if table.ndim != 2 or table.shape[1] != 3 or table.shape[0] == 0:
            raise ValueError("params must be a non-empty list of (xi, lambda, zeta) rows")
        if not np.isfinite(table).all():
            raise ValueError("params must be finite")
        if (table[:, 0] <= 0).any():
            raise ValueError("xi must be a positive length")
        if (np.abs(table[:, 1]) > 1).any():
            raise ValueError("lambda must lie in [-1, 1] (usually ±1) so that 1 + λ cos θ ≥ 0")
        if (table[:, 2] <= 0).any():
            raise ValueError("zeta must be positive")
        self.params = np.ascontiguousarray(table)
        self.cutoff = float(cutoff)
        if not (math.isfinite(self.cutoff) and self.cutoff > 0):
            raise ValueError(f"cutoff must be a positive length, got {cutoff!r}")
        if cutoff_fn not in _CUTOFF_FNS:
            raise ValueError(f"cutoff_fn must be one of {_CUTOFF_FNS}, got {cutoff_fn!r}")
        self.cutoff_fn = str(cutoff_fn)
        if pairs not in _PAIRS:
            raise ValueError(f"pairs must be one of {_PAIRS}, got {pairs!r}")
        self.pairs = str(pairs)
        self.species_names = resolve_species_names(self.n_species, species_names)
        self._prepare_tables()
        self._names = self._make_names()

    def _prepare_tables(self) -> None:
        """Distinct ξ and (λ, ζ) values and the index arrays the kernel uses."""
        xis, xi_index = np.unique(self.params[:, 0], return_inverse=True)
        lz, lz_index = np.unique(self.params[:, 1:3], axis=0, return_inverse=True)
        self._inv_xi2 = np.ascontiguousarray(1.0 / (xis * xis))
        self._xi_index = np.ascontiguousarray(xi_index.reshape(-1), dtype=np.int64)
        self._lambdas = np.ascontiguousarray(lz[:, 0])
        self._zetas = np.ascontiguousarray(lz[:, 1])
        self._lz_index = np.ascontiguousarray(lz_index.reshape(-1), dtype=np.int64)
        zint = np.full(lz.shape[0], -1, dtype=np.int64)
        for v, z in enumerate(self._zetas):
            if float(z).is_integer() and z <= _MAX_INT_ZETA:
                zint[v] = int(z)
        self._zeta_int = zint
        pair_index = np.zeros((self.n_species, self.n_species), dtype=np.int64)
        for n, (a, b) in enumerate(species_pairs(self.n_species)):
            pair_index[a, b] = pair_index[b, a] = n
        self._pair_index = pair_index

    def _make_names(self) -> list[str]:
        """Names like ``Psi_AB(xi=2.554,l=+1,z=2)``; full precision for ξ only where two would print alike."""
        labels = [f"xi={_fmt(x)},l={l:+g},z={_fmt(z)}" for x, l, z in self.params]
        if len(set(labels)) != len(labels):
            labels = [f"xi={x!r},l={l:+g},z={z!r}" for x, l, z in self.params.tolist()]
        names = []
        for a, b in species_pairs(self.n_species):
            pair = self.species_names[a] + self.species_names[b]
            names.extend(f"Psi_{pair}({lab})" for lab in labels)
        return names

    @property
    def names(self) -> list[str]:
        """Feature names, species-pair-major: all parameter rows of pair (0,0), then (0,1), …"""
        return list(self._names)

    @property
    def n_features(self) -> int:
        """n_species (n_species + 1) / 2 × len(params)."""
        return self.n_species * (self.n_species + 1) // 2 * int(self.params.shape[0])

    def spec(self) -> dict[str, Any]:
        """JSON-serialisable hyperparameters (floats round-trip exactly through JSON)."""
        return {
            "kind": self.kind,
            "n_species": self.n_species,
            "params": [[float(x), float(l), float(z)] for x, l, z in self.params],
            "cutoff": self.cutoff,
            "cutoff_fn": self.cutoff_fn,
            "pairs": self.pairs,
            "species_names": list(self.species_names),
        }

    def _compute(self, frame: Frame, nl: NeighborList) -> np.ndarray:
        """Run the numba kernel over the CSR list (pairs beyond ``cutoff`` are skipped inside)."""
        types = frame.types
        vectors = nl.vectors
        if nl.n_pairs == 0:
            vectors = np.zeros((0, 3), dtype=np.float64)
        return _angular_kernel(
            nl.offsets,
            nl.neighbors,
            vectors,
            np.ascontiguousarray(types, dtype=np.int64),
            self._inv_xi2,
            self._lambdas,
            self._zetas,
            self._zeta_int,
            self._xi_index,
            self._lz_index,
            self._pair_index,
            self.cutoff,
            self.cutoff_fn == "cosine",
            self.pairs == "ordered",
        )


@register_descriptor
class CombinedDescriptor(Descriptor):
    """Concatenation of descriptors on the same species (features in component order; cutoff = max).

    ``CombinedDescriptor([RadialStructureFunctions(2), AngularStructureFunctions(2)])`` is the thesis'
    166-feature softness set (100 radial + 66 angular). One neighbour list of the largest cutoff is
    shared; each component filters it to its own cutoff.
    """

    kind = "combined"

    def __init__(self, components: Sequence[Descriptor | dict[str, Any]]) -> None:
        """components: Descriptor instances or their specs (at least one, same n_species, distinct names)."""
        if isinstance(components, (Descriptor, dict)) or not isinstance(components, Sequence):
            raise ValueError("components must be a list of descriptors or descriptor specs")
        comps: list[Descriptor] = []
        for c in components:
            if isinstance(c, Descriptor):
                comps.append(c)
            elif isinstance(c, dict):
                comps.append(descriptor_from_spec(c))
            else:
                raise ValueError(f"component must be a Descriptor or a spec dict, got {type(c).__name__}")
        if not comps:
            raise ValueError("a combined descriptor needs at least one component")
        n_species = {c.n_species for c in comps}
        if len(n_species) != 1:
            raise ValueError(f"components disagree on n_species: {sorted(n_species)}")
        self.components = comps
        self.n_species = comps[0].n_species
        self.cutoff = max(float(c.cutoff) for c in comps)
        names = [n for c in comps for n in c.names]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})[:3]
            raise ValueError(f"components produce duplicate feature names, e.g. {dup}")
        self._names = names

    @property
    def names(self) -> list[str]:
        """Feature names of all components, in component order."""
        return list(self._names)

    @property
    def n_features(self) -> int:
        """Sum of the components' feature counts."""
        return len(self._names)

    def spec(self) -> dict[str, Any]:
        """{"kind": "combined", "components": [component specs]}."""
        return {"kind": self.kind, "components": [c.spec() for c in self.components]}

    def compute(self, frame: Frame, centers: np.ndarray | None = None,
                neighbors: NeighborList | None = None) -> np.ndarray:
        """Features (n_centers, n_features); a whole frame without a given list lets every component take
        its own fastest path (e.g. the fused radial kernel, the short angular list) instead of sharing
        one list of the largest cutoff."""
        if neighbors is None and centers is None:
            parts = [c.compute(frame) for c in self.components]
            return np.ascontiguousarray(np.concatenate(parts, axis=1))
        return super().compute(frame, centers=centers, neighbors=neighbors)

    def _compute(self, frame: Frame, nl: NeighborList) -> np.ndarray:
        """Each component on the shared list (each filters pairs to its own cutoff), concatenated."""
        parts = [c._compute(frame, nl) for c in self.components]
        return np.ascontiguousarray(np.concatenate(parts, axis=1))
