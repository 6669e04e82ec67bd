"""Atomic cluster expansion (ACE) invariants of Rottler & Ortner (glasses; digest /work/shared/science/000_ace.md §4).

One-particle basis (3D only), for a neighbour j of centre i at r = |r_j − r_i| < r_cut:

    φ_{ζ n l μ}(r_ij) = δ(z_j, ζ) · R_n(r) · Y^r_{lμ}(r̂_ij),   R_n(r) = E(x) · p_{n−1}(x),   n = 1, 2, …

* distance transform x(r) ∈ [0, 1] (x(0) = 0, x(r_cut) = 1, monotone), generalised Agnesi form (ACE1's
  ``normalized_agnesi_transform`` with p = 1, q = 4):

      x(r) = 1 − (y(r) − y(r_cut)) / (y(0) − y(r_cut)) · (1 − (r/r_cut)⁴),   y(r) = (1 + u³)/(1 + u³ + a u⁴)

  - ``transform="default"`` (digest §8 #2, ACE1 code convention): u = r/r_0, a = 3/11, so |y′| peaks at r = r_0;
  - ``transform="literal"`` (the paper as printed): u = r/r_cut, a = (6 − 3 s₀³)/(s₀⁷ + 10 s₀⁴) with s₀ = r_0/r_cut,
    which again puts the maximum of |y′| at r = r_0;
* envelope E(x) = x − x(r_cut) = x − 1; since x′(r_cut) = 0 as well, every R_n vanishes quadratically in r
  at r_cut (features are C¹ when a neighbour crosses the cutoff);
* p_k(x) = √(2k+1) P_k(2x − 1): Legendre polynomials orthonormal on x ∈ [0, 1];
* Y^r_{lμ}: real orthonormal spherical harmonics (convention in ``glassfix.descriptors._wigner``); all invariants
  below equal their complex Condon–Shortley counterparts of the paper exactly.

Atomic base A_{ζnlμ}(i) = Σ_j φ_{ζnlμ}(r_ij) (numba, one pass over the CSR list, parallel over centres).

Invariants (all real, rotation + reflection + permutation invariant):

* 2-body  B_{ζ,n} = √(4π) A_{ζn00} = Σ_j δ(z_j, ζ) R_n(r_ij)                      names ``A1, A2, …, B1, …``
* 3-body  B_{(ζ1n1)(ζ2n2) l} = Σ_μ A_{ζ1n1lμ} A_{ζ2n2lμ} = Σ_m (−1)^m A^c_{…lm} A^c_{…l,−m}   ``A1l2|B3l2``
* 4-body  B = Σ_{m1m2m3} (l1 l2 l3; m1 m2 m3) A^c_1 A^c_2 A^c_3, l1 + l2 + l3 even, triangle rule  ``A1l1|A2l1|B1l2``

With ``purify=True`` (the paper's choice) the many-body invariants exclude every term in which one neighbour
(one entry of the neighbour list, i.e. one periodic image) appears more than once: they equal the sums over
tuples of distinct neighbours, Σ_{j1≠j2} and Σ_{j1,j2,j3 pairwise distinct}, by inclusion–exclusion
(Σ_distinct = A1A2A3 − A1 S23 − A2 S13 − A3 S12 + 2 T123, S_ab = Σ_j φ_a φ_b, T = Σ_j φ1 φ2 φ3). The
contractions of S and T collapse to one-neighbour sums (Gaunt coefficients), so the cost stays O(N_c).

Basis selection (``selection_rule``): with factors (ζ_t, n_t, l_t), n_t ≥ 1,

* 2-body: n = 1 … n_max for every neighbour species (the paper's "n_t"; polymer 20, mixtures 10);
* 3-/4-body: unordered multisets of factors with n_t ≤ n_max and Σ_t (n_t + w_l l_t) ≤ d (``degree``,
  w_l = 1.5), l1 = l2 (3-body), triangle rule and l1 + l2 + l3 even (4-body).

Feature order: 2-body species-major (A1…A n_max, then B1…), then 3-body, then 4-body; inside a many-body
block by increasing total degree Σ(n_t + w_l l_t), ties broken lexicographically by the sorted factor tuple
((ζ1, n1, l1), (ζ2, n2, l2), …). Lengths are in the frame's unit (σ_AA).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from glassfix.core.frame import Frame, NeighborList
from glassfix.descriptors._ace_fast import _BINNED, _EXPLICIT, _VECTORS, _ace_linear_fast, product_tables
from glassfix.descriptors._ace_readout import linear_terms, merge_terms
from glassfix.descriptors._explicit_cells import bin_atoms, binned_edges
from glassfix.descriptors._ace_kernels import (_N_MAX_LIMIT, _TRANSFORMS, _ace_kernel, _ace_linear_kernel,
                                               _base_kernel, _transform_params)
from glassfix.descriptors._wigner import real_coupling_3j, real_ylm_norms
from glassfix.descriptors.ace_basis import _DEG_TOL, ace_basis, real_spherical_harmonics
from glassfix.descriptors.base import Descriptor, register_descriptor
from glassfix.descriptors.structure_functions import resolve_species_names

# the binned source's arrays when a list is given instead (unused by the kernel then)
_NO_BINS = (np.zeros((0, 3)), np.zeros(0, dtype=np.int64), np.zeros(1, dtype=np.int64), np.ones(3, dtype=np.int64),
            np.zeros(3), np.ones(3))

__all__ = ["ACEDescriptor"]



# ---------------------------------------------------------------------------------------------------
# the descriptor
# ---------------------------------------------------------------------------------------------------


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


@register_descriptor
class ACEDescriptor(Descriptor):
    """Purified ACE invariants up to body order 4 (2-body radial, power spectrum, bispectrum); 3D only."""

    kind = "ace"

    def __init__(
        self,
        n_species: int,
        max_body_order: int = 4,
        degree: float = 10,
        n_max: int | None = None,
        r_cut: float = 4.0,
        r_0: float = 1.0,
        transform: str = "default",
        w_l: float = 1.5,
        purify: bool = True,
        species_names: Sequence[str] | None = None,
    ) -> None:
        """n_species ≥ 1 neighbour species; body order 2–4; total degree d and radial n_max (default d)."""
        if not _is_int(n_species) or n_species < 1:
            raise ValueError(f"n_species must be a positive integer, got {n_species!r}")
        self.n_species = int(n_species)
        if not _is_int(max_body_order) or int(max_body_order) not in (2, 3, 4):
            raise ValueError(f"max_body_order must be 2, 3 or 4, got {max_body_order!r}")
        self.max_body_order = int(max_body_order)
        self.degree = float(degree)
        if not (math.isfinite(self.degree) and self.degree >= 1):
            raise ValueError(f"degree must be a finite number ≥ 1, got {degree!r}")
        if self.degree.is_integer():
            self.degree = float(int(self.degree))
        if n_max is None:
            n_max = int(math.floor(self.degree + _DEG_TOL))
        if not _is_int(n_max) or not 1 <= n_max <= _N_MAX_LIMIT:
            raise ValueError(f"n_max must be an integer in [1, {_N_MAX_LIMIT}], got {n_max!r}")
        self.n_max = int(n_max)
        self.r_cut = float(r_cut)
        if not (math.isfinite(self.r_cut) and self.r_cut > 0):
            raise ValueError(f"r_cut must be a positive length, got {r_cut!r}")
        self.cutoff = self.r_cut
        self.r_0 = float(r_0)
        if not (math.isfinite(self.r_0) and 0 < self.r_0 < self.r_cut):
            raise ValueError(f"r_0 must lie in (0, r_cut), got {r_0!r}")
        if transform not in _TRANSFORMS:
            raise ValueError(f"transform must be one of {_TRANSFORMS}, got {transform!r}")
        self.transform = str(transform)
        self.w_l = float(w_l)
        if not (math.isfinite(self.w_l) and self.w_l > 0):
            raise ValueError(f"w_l must be a positive number, got {w_l!r}")
        if not isinstance(purify, (bool, np.bool_)):
            raise ValueError(f"purify must be a bool, got {purify!r}")
        self.purify = bool(purify)
        self.species_names = resolve_species_names(self.n_species, species_names)
        self._two, self._three, self._four = ace_basis(
            self.n_species, self.max_body_order, self.degree, self.n_max, self.w_l
        )
        self._names = self._make_names()
        self._tables = self._build_tables()

    # -- description -------------------------------------------------------------------------------

    @property
    def selection_rule(self) -> str:
        """The basis-selection rule in words (exactly what :func:`ace_basis` enumerates)."""
        d = f"{self.degree:g}"
        return (
            f"2-body: n = 1..{self.n_max} per neighbour species; "
            f"3-/4-body: multisets of (species, n, l) with 1 <= n_t <= {self.n_max} and "
            f"sum_t (n_t + {self.w_l:g} l_t) <= {d}; 3-body l1 = l2; 4-body triangle rule and l1+l2+l3 even"
        )

    @property
    def basis_functions(self) -> list[tuple[tuple[int, int, int], ...]]:
        """Per feature, its factors (species, n, l) in feature order (2-body: one factor with l = 0)."""
        return ([((z, n, 0),) for z, n in self._two] + [tuple(c) for c in self._three]
                + [tuple(c) for c in self._four])

    @property
    def body_orders(self) -> np.ndarray:
        """Body order (2, 3 or 4) of every feature."""
        return np.array([2] * len(self._two) + [3] * len(self._three) + [4] * len(self._four), dtype=np.int64)

    @property
    def l_max(self) -> int:
        """Largest l in the basis."""
        return max([f[2] for c in self._three + self._four for f in c], default=0)

    def _make_names(self) -> list[str]:
        sp = self.species_names
        names = [f"{sp[z]}{n}" for z, n in self._two]
        names += ["|".join(f"{sp[z]}{n}l{l}" for z, n, l in c) for c in self._three + self._four]
        return names

    @property
    def names(self) -> list[str]:
        """``A1 … B10`` (2-body), ``A1l0|B2l0`` (3-body), ``A1l1|A2l1|B1l2`` (4-body), in feature order."""
        return list(self._names)

    @property
    def n_features(self) -> int:
        """Number of invariants."""
        return len(self._two) + len(self._three) + len(self._four)

    def spec(self) -> dict[str, Any]:
        """JSON-serialisable hyperparameters (floats round-trip exactly through JSON)."""
        return {
            "kind": self.kind,
            "n_species": self.n_species,
            "max_body_order": self.max_body_order,
            "degree": self.degree,
            "n_max": self.n_max,
            "r_cut": self.r_cut,
            "r_0": self.r_0,
            "transform": self.transform,
            "w_l": self.w_l,
            "purify": self.purify,
            "species_names": list(self.species_names),
        }

    # -- tables for the kernel ---------------------------------------------------------------------

    def _build_tables(self) -> dict[str, Any]:
        """Index tables for :func:`_ace_kernel` (layouts documented in :func:`_pair_sums`)."""
        n_max = self.n_max
        l_max = self.l_max
        nlm = (l_max + 1) ** 2
        ns = self.n_species
        nlim = np.zeros(l_max + 1, dtype=np.int64)
        if self._two:
            nlim[0] = n_max
        for c in self._three + self._four:
            for _, n, l in c:
                nlim[l] = max(nlim[l], n)

        def a_index(z: int, n: int, l: int) -> int:
            """Flat A index of (z, l, μ = 0 i.e. m = −l, n)."""
            return (z * nlm + l * l) * n_max + (n - 1)

        # pass 1: which one-neighbour sums the purification needs (keys, symbolic)
        d_keys: set[tuple[int, int, int, int]] = set()  # (z, l, n_a ≤ n_b)
        t_keys: set[tuple[int, int, int, int]] = set()  # (z, n1 ≤ n2 ≤ n3)

        def dkey(z: int, na: int, nb: int, l: int) -> tuple[int, int, int, int]:
            return (z, l, min(na, nb), max(na, nb))

        f3_d: list[tuple[int, int, int, int] | None] = []
        for (z1, n1, l), (z2, n2, _) in self._three:
            key = dkey(z1, n1, n2, 0) if (self.purify and z1 == z2) else None
            f3_d.append(key)
            if key:
                d_keys.add(key)
        f4_d: list[list] = []
        for fac in self._four:
            keys: list = [None, None, None, None]
            if self.purify:
                for t in range(3):
                    u, v = [s for s in range(3) if s != t]
                    if fac[u][0] == fac[v][0]:
                        keys[t] = dkey(fac[u][0], fac[u][1], fac[v][1], fac[t][2])
                        d_keys.add(keys[t])
                if fac[0][0] == fac[1][0] == fac[2][0]:
                    keys[3] = (fac[0][0],) + tuple(sorted(fc[1] for fc in fac))
                    t_keys.add(keys[3])
            f4_d.append(keys)

        # pass 2: layout. D grouped by g = z·(l_max+1) + l, component-major inside a group.
        d_sorted = sorted(d_keys)
        n_groups = ns * (l_max + 1)
        d_group = np.zeros(n_groups + 1, dtype=np.int64)
        for z, l, _, _ in d_sorted:
            d_group[z * (l_max + 1) + l + 1] += 1
        d_group = np.cumsum(d_group)
        d_goff = np.zeros(n_groups, dtype=np.int64)
        size = 0
        for g in range(n_groups):
            d_goff[g] = size
            size += int(d_group[g + 1] - d_group[g]) * (2 * (g % (l_max + 1)) + 1)
        d_ab = np.array([[na - 1, nb - 1] for _, _, na, nb in d_sorted], dtype=np.int64).reshape(-1, 2)
        d_pos: dict[tuple[int, int, int, int], tuple[int, int]] = {}
        for e, key in enumerate(d_sorted):
            g = key[0] * (l_max + 1) + key[1]
            d_pos[key] = (int(d_goff[g] + (e - d_group[g])), int(d_group[g + 1] - d_group[g]))
        t_sorted = sorted(t_keys)
        t_group = np.zeros(ns + 1, dtype=np.int64)
        for key in t_sorted:
            t_group[key[0] + 1] += 1
        t_group = np.cumsum(t_group)
        t_abc = np.array([[n - 1 for n in key[1:]] for key in t_sorted], dtype=np.int64).reshape(-1, 3)
        t_pos = {key: e for e, key in enumerate(t_sorted)}

        # pass 3: feature rows
        f2 = np.array([a_index(z, n, 0) for z, n in self._two], dtype=np.int64)
        f3 = np.full((len(self._three), 4), -1, dtype=np.int64)
        f3c = np.zeros(len(self._three))
        for f, ((z1, n1, l), (z2, n2, _)) in enumerate(self._three):
            f3[f, :3] = [a_index(z1, n1, l), a_index(z2, n2, l), l]
            if f3_d[f] is not None:
                # Σ_j δ R1 R2 Σ_μ Y_lμ² = (2l+1)/(4π) Σ_j δ R1 R2, and D(l=0) = Σ_j δ R1 R2 Y_00
                f3[f, 3] = d_pos[f3_d[f]][0]
                f3c[f] = (2 * l + 1) / math.sqrt(4.0 * math.pi)

        f4 = np.full((len(self._four), 15), -1, dtype=np.int64)
        f4c = np.zeros((len(self._four), 4))
        w_idx_parts: list[np.ndarray] = []
        w_val_parts: list[np.ndarray] = []
        w_pos = 0
        coup: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray, tuple[float, float, float, float]]] = {}
        for f, fac in enumerate(self._four):
            ls = tuple(fc[2] for fc in fac)
            if ls not in coup:
                w = real_coupling_3j(*ls)
                idx = np.argwhere(w != 0.0).astype(np.int64)
                coup[ls] = (idx * n_max, w[tuple(idx.T)], _gaunt_constants(w, ls))
            idx, vals, consts = coup[ls]
            w_idx_parts.append(idx)
            w_val_parts.append(vals)
            f4[f, 0:3] = [a_index(*fc) for fc in fac]
            f4[f, 3:5] = [w_pos, w_pos + idx.shape[0]]
            w_pos += idx.shape[0]
            f4[f, 12:15] = ls
            keys = f4_d[f]
            for t in range(3):
                if keys[t] is not None:
                    f4[f, 5 + 2 * t: 7 + 2 * t] = d_pos[keys[t]]
                    f4c[f, t] = consts[t]
            if keys[3] is not None:
                f4[f, 11] = t_pos[keys[3]]
                f4c[f, 3] = consts[3]
        w_idx = np.concatenate(w_idx_parts) if w_idx_parts else np.zeros((0, 3), dtype=np.int64)
        w_val = np.concatenate(w_val_parts) if w_val_parts else np.zeros(0)
        scale, a = _transform_params(self.transform, self.r_cut, self.r_0)
        u = self.r_cut / scale
        y_rc = (1 + u**3) / (1 + u**3 + a * u**4)
        return {
            "scale": float(scale), "a": float(a), "y_rc": float(y_rc), "l_max": int(l_max),
            "nlim": nlim, "norms": real_ylm_norms(l_max),
            "d_ab": d_ab, "d_group": d_group, "d_goff": d_goff, "d_size": int(size),
            "t_abc": t_abc, "t_group": t_group,
            "f2": f2, "f3": f3, "f3c": f3c, "f4": f4, "f4c": f4c,
            "w_idx": np.ascontiguousarray(w_idx, dtype=np.int64), "w_val": np.ascontiguousarray(w_val),
        }

    # -- evaluation --------------------------------------------------------------------------------

    def compute(
        self,
        frame: Frame,
        centers: np.ndarray | None = None,
        neighbors: NeighborList | None = None,
    ) -> np.ndarray:
        """Features (n_centers, n_features); see :meth:`Descriptor.compute`. 3D frames only."""
        if frame.dim != 3:
            raise ValueError(f"the ACE descriptor is defined for 3D frames only (got a {frame.dim}D frame)")
        return super().compute(frame, centers, neighbors)

    def atomic_base(
        self,
        frame: Frame,
        centers: np.ndarray | None = None,
        neighbors: NeighborList | None = None,
        l_max: int | None = None,
    ) -> np.ndarray:
        """Real atomic base A[c, ζ, n−1, l² + l + μ] = Σ_j δ(z_j,ζ) R_n Y^r_{lμ}, all n ≤ n_max, l ≤ l_max.

        Shape (n_centers, n_species, n_max, (l_max+1)²); l_max defaults to the basis' own. The complex
        (Condon–Shortley) base is ``glassfix.descriptors._wigner.complex_from_real(l) @ A[..., l²:(l+1)²]``.
        """
        if frame.dim != 3:
            raise ValueError(f"the ACE descriptor is defined for 3D frames only (got a {frame.dim}D frame)")
        if neighbors is None:
            from glassfix.core.neighbors import neighbor_list
            from glassfix.descriptors.base import as_center_indices, check_cutoff

            idx = as_center_indices(centers, frame.n_atoms)
            check_cutoff(frame, self.cutoff, idx.size, name="the ace descriptor's cutoff")
            neighbors = neighbor_list(frame, self.cutoff, idx)
        lm = self.l_max if l_max is None else int(l_max)
        vectors = neighbors.vectors if neighbors.n_pairs else np.zeros((0, 3))
        tb = self._tables
        out = _base_kernel(
            neighbors.offsets, neighbors.neighbors, vectors, np.ascontiguousarray(frame.types, dtype=np.int64),
            self.r_cut, tb["scale"], tb["a"], tb["y_rc"], self.n_species, self.n_max, lm,
            np.full(lm + 1, self.n_max, dtype=np.int64), real_ylm_norms(lm),
        )
        out = out.reshape(neighbors.n_centers, self.n_species, (lm + 1) ** 2, self.n_max)
        return np.ascontiguousarray(out.transpose(0, 1, 3, 2))

    def _compute(self, frame: Frame, nl: NeighborList) -> np.ndarray:
        """Run the numba kernel over the CSR list (pairs with r ≥ r_cut are skipped inside)."""
        types = frame.types
        vectors = nl.vectors
        if nl.n_pairs == 0:
            vectors = np.zeros((0, 3), dtype=np.float64)
        if vectors.ndim != 2 or vectors.shape[1] != 3:
            raise ValueError("the ACE descriptor needs 3D pair vectors (n_pairs, 3)")
        tb = self._tables
        if self.n_features == 0:
            return np.zeros((nl.n_centers, 0))
        return _ace_kernel(
            nl.offsets, nl.neighbors, vectors, np.ascontiguousarray(types, dtype=np.int64),
            self.r_cut, tb["scale"], tb["a"], tb["y_rc"], self.n_species, self.n_max, tb["l_max"],
            tb["nlim"], tb["norms"], tb["d_ab"], tb["d_group"], tb["d_goff"], tb["d_size"],
            tb["t_abc"], tb["t_group"], tb["f2"], tb["f3"], tb["f3c"], tb["f4"], tb["f4c"],
            tb["w_idx"], tb["w_val"], self.n_features,
        )


    def linear_decision(self, frame: Frame, heads: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, float]],
                        normalize_w: bool = False, centers: np.ndarray | None = None,
                        neighbors: NeighborList | None = None, reference: bool = False) -> np.ndarray:
        """Per-centre (b + Σ_f (X_f − mean_f)/scale_f · w_f) [/ |w|] with the head of the centre's species,
        heads[t] = (mean, scale, w, b), fused into the invariant kernel (no feature matrix); NaN for
        species without a head. Equals the features' SoftnessHead.decision to round-off (dimensionless).

        Default: the vectorised kernel (``_ace_fast``: per centre and neighbour species one GEMM of the radial
        columns with the harmonics, purification products by exact Legendre linearisation);
        ``reference=True``: the per-pair kernel of ``_ace_kernels`` (same numbers to round-off)."""
        nl = self._checked_neighbors(frame, centers, neighbors)
        n_types = max([self.n_species, *[int(t) + 1 for t in heads]])
        F = self.n_features
        mean, scale, w, b, norm, has = self._head_arrays(heads, normalize_w, n_types)
        types = np.ascontiguousarray(frame.types, dtype=np.int64)
        vectors = nl.vectors if nl.n_pairs else np.zeros((0, 3), dtype=np.float64)
        tb = self._tables
        if reference:
            return _ace_linear_kernel(
                nl.offsets, nl.neighbors, vectors, types,
                self.r_cut, tb["scale"], tb["a"], tb["y_rc"], self.n_species, self.n_max, tb["l_max"],
                tb["nlim"], tb["norms"], tb["d_ab"], tb["d_group"], tb["d_goff"], tb["d_size"],
                tb["t_abc"], tb["t_group"], tb["f2"], tb["f3"], tb["f3c"], tb["f4"], tb["f4c"],
                tb["w_idx"], tb["w_val"], F, types[nl.centers], mean, scale, w, b, norm, has,
            )
        return self._fast_decision(heads_arrays=(mean, scale, w, b, norm, has), offsets=nl.offsets,
                                   neighbors=nl.neighbors, vectors=vectors, types=types,
                                   center_types=types[nl.centers], x=np.zeros((1, 3)), rows=nl.centers,
                                   mode=_VECTORS)

    def linear_decision_explicit(self, positions: np.ndarray, types: np.ndarray, rows: np.ndarray,
                                 offsets: np.ndarray, neighbors: np.ndarray,
                                 heads: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, float]],
                                 normalize_w: bool = False) -> np.ndarray:
        """:meth:`linear_decision` of the atoms ``rows`` from an explicit-image CSR list (LAMMPS' ghosts:
        pair vector x[j] − x[i], no periodicity; pairs at r ≥ r_cut ignored), without building pair vectors."""
        x, types, rows, heads_arrays = self._explicit_inputs(positions, types, rows, heads, normalize_w)
        return self._fast_decision(heads_arrays=heads_arrays, offsets=np.ascontiguousarray(offsets, dtype=np.int64),
                                   neighbors=np.ascontiguousarray(neighbors), vectors=np.zeros((0, 3)),
                                   types=types, center_types=types[rows], x=x, rows=rows, mode=_EXPLICIT)

    def linear_decision_binned(self, positions: np.ndarray, types: np.ndarray, rows: np.ndarray,
                               heads: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, float]],
                               normalize_w: bool = False) -> np.ndarray:
        """:meth:`linear_decision` of the atoms ``rows`` over explicit images without any list (positions in σ,
        no periodicity): every atom within r_cut of a row's atom, found by sorting all atoms into cells."""
        x, types, rows, heads_arrays = self._explicit_inputs(positions, types, rows, heads, normalize_w)
        extent = np.ptp(x, axis=0) if x.shape[0] else np.zeros(3)
        edges = binned_edges(self.r_cut, extent)
        bins = bin_atoms(x, types, edges)
        return self._fast_decision(heads_arrays=heads_arrays,
                                   offsets=np.zeros(1, dtype=np.int64), neighbors=np.zeros(0, dtype=np.int64),
                                   vectors=np.zeros((0, 3)), types=types, center_types=types[rows], x=x, rows=rows,
                                   mode=_BINNED, bins=(*bins, edges))

    def _explicit_inputs(self, positions: np.ndarray, types: np.ndarray, rows: np.ndarray, heads: dict,
                         normalize_w: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
        """Checked, contiguous (positions σ, types, rows) of explicit images and the heads' arrays."""
        x = np.ascontiguousarray(positions, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != 3:
            raise ValueError(f"the ACE descriptor needs 3D positions (n, 3), got shape {x.shape}")
        types = np.ascontiguousarray(types, dtype=np.int64)
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        n_types = max([self.n_species, *[int(t) + 1 for t in heads]])
        return x, types, rows, self._head_arrays(heads, normalize_w, n_types)

    def _head_arrays(self, heads: dict, normalize_w: bool, n_types: int) -> tuple[np.ndarray, ...]:
        """(mean, scale, w, b, norm, has) per centre species from the heads."""
        F = self.n_features
        mean, scale, w = np.zeros((n_types, F)), np.ones((n_types, F)), np.zeros((n_types, F))
        b, norm, has = np.zeros(n_types), np.ones(n_types), np.zeros(n_types, dtype=np.int64)
        for t, (m, s, wt, bt) in heads.items():
            mean[t], scale[t], w[t], b[t], has[t] = m, s, wt, bt, 1
            if normalize_w:
                norm[t] = float(np.sqrt(np.dot(w[t], w[t])))
        return mean, scale, w, b, norm, has

    def _fast_decision(self, heads_arrays: tuple[np.ndarray, ...], offsets: np.ndarray, neighbors: np.ndarray,
                       vectors: np.ndarray, types: np.ndarray, center_types: np.ndarray, x: np.ndarray,
                       rows: np.ndarray, mode: int, bins: tuple | None = None) -> np.ndarray:
        """The vectorised kernel with the read-out folded into monomial coefficients (``_ace_fast``)."""
        mean, scale, w, b, norm, has = heads_arrays
        tb = self._tables
        if "Ls" not in tb:    # built on first use: training never needs them
            tb["Ls"], tb["Lt"], tb["qs"], tb["qu"] = product_tables(tb["d_ab"], tb["t_abc"], self.n_max)
            tb["terms"] = linear_terms(tb, self.n_max)
            qsl = np.full(tb["l_max"] + 1, -1, dtype=np.int64)    # highest linearised q per l
            for g in range(tb["d_group"].size - 1):
                ab = tb["d_ab"][tb["d_group"][g]:tb["d_group"][g + 1]]
                if ab.shape[0]:
                    qsl[g % (tb["l_max"] + 1)] = max(qsl[g % (tb["l_max"] + 1)], int(ab.sum(axis=1).max()))
            tb["qsl"] = qsl
        ws = w / scale
        b0 = b - (ws * mean).sum(axis=1)
        key = (ws.tobytes(), has.tobytes())
        if tb.get("coef_key") != key:    # the same heads on every evaluation step: merged once
            coef = []
            for k in ("a", "aa", "aaa", "ad", "d", "t"):
                idx, c = tb["terms"][k + "_idx"], tb["terms"][k + "_fac"] * ws[:, tb["terms"][k + "_feat"]]
                # only the terms of features some head weighs: a sparse model computes fewer products
                used = np.flatnonzero((c[has == 1] != 0.0).any(axis=0))
                coef += merge_terms(idx[used], np.ascontiguousarray(c[:, used]), commuting=k in ("aa", "aaa"))
            tb["coef_key"], tb["coef"] = key, coef
        coef = tb["coef"]
        return _ace_linear_fast(
            offsets, neighbors, vectors, types, self.r_cut, tb["scale"], tb["a"], tb["y_rc"],
            self.n_species, self.n_max, tb["l_max"], tb["norms"], tb["d_group"], tb["d_goff"], tb["d_size"],
            tb["t_group"], tb["t_abc"].shape[0], tb["Ls"], tb["Lt"], tb["qs"], tb["qu"], center_types, b0,
            norm, has, *coef, x, rows, mode, tb["nlim"], tb["qsl"], *(bins or _NO_BINS),
        )


def _gaunt_constants(w: np.ndarray, ls: tuple[int, int, int]) -> tuple[float, float, float, float]:
    """(c1, c2, c3, ct): Σ_{μb μc} W Y_b Y_c (û) = c_a Y_a(û) for each slot a, Σ W Y1 Y2 Y3 (û) = ct.

    Obtained from W itself at two fixed directions (and checked for proportionality), so they follow the
    real-harmonic convention by construction; closed forms: c_a = (l1 l2 l3; 000) √((2l_b+1)(2l_c+1)/(4π(2l_a+1))),
    ct = (l1 l2 l3; 000) √((2l1+1)(2l2+1)(2l3+1)/(4π)³).
    """
    l_max = max(ls)
    dirs = np.array([[0.3, -0.5, 0.81], [-0.62, 0.2, -0.4]])
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    ys = real_spherical_harmonics(dirs, l_max)
    consts = []
    for slot in range(3):
        vals = []
        for y in ys:
            parts = [y[l * l: l * l + 2 * l + 1] for l in ls]
            others = [parts[u] for u in range(3) if u != slot]
            sub = "ijk," + ",".join("ijk"[u] for u in range(3) if u != slot) + "->" + "ijk"[slot]
            v = np.einsum(sub, w, *others)
            ya = parts[slot]
            cval = float(v @ ya / (ya @ ya))
            if np.abs(v - cval * ya).max() > 1e-10 * max(1.0, np.abs(v).max()):
                raise AssertionError(f"Gaunt contraction of {ls} is not proportional to Y_l{ls[slot]}")
            vals.append(cval)
        if abs(vals[0] - vals[1]) > 1e-10 * max(1.0, abs(vals[0])):
            raise AssertionError("Gaunt constant depends on the direction")
        consts.append(vals[0])
    tvals = []
    for y in ys:
        parts = [y[l * l: l * l + 2 * l + 1] for l in ls]
        tvals.append(float(np.einsum("ijk,i,j,k->", w, *parts)))
    if abs(tvals[0] - tvals[1]) > 1e-10 * max(1.0, abs(tvals[0])):
        raise AssertionError("triple Gaunt constant depends on the direction")
    consts.append(tvals[0])
    return consts[0], consts[1], consts[2], consts[3]
