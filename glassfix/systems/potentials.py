"""Pair potentials of the model glass formers as numba kernels: the independent reference engine.

Every system describes its non-bonded interaction as a :class:`PairPotential`: a functional ``kind``
plus a per-type-pair parameter table. The same jitted kernels serve three consumers, which is why the
table layout is flat and numba-friendly rather than one Python class per potential:

* :func:`energy_forces` — total/per-atom energy, forces and virial of a frame (tests compare it with
  LAMMPS on random frames; analysis uses it for inherent-structure energies);
* the swap Monte Carlo engine (``glassfix.mc``), which calls :func:`pair_energy` /
  :func:`pair_energy_force` inside its own cell-list loops with the particle types and diameters;
* documentation: each kind's formula is written once, here.

Kinds (all energies in ε_AA, lengths in σ_AA; ``x = r/σ_αβ``, ``LJ(r) = 4ε[(σ/r)^12 − (σ/r)^6]``):

``LJ_TRUNCATED``    LJ(r) for r < r_c (LAMMPS ``lj/cut``)
``LJ_SHIFTED``      LJ(r) − LJ(r_c) (``lj/cut`` + ``pair_modify shift yes``)
``LJ_FORCE_SHIFTED`` LJ(r) − LJ(r_c) − (r − r_c) LJ'(r_c) (``lj/smooth/linear``)
``LJ_SMOOTH``       LAMMPS ``lj/smooth``: LJ below r_in; between r_in and r_c the force is the cubic in
                    t = r − r_in that matches LJ's force and its slope at r_in and vanishes with zero
                    slope at r_c; energy its integral, optionally shifted to 0 at r_c (checked against
                    LAMMPS' pair_lj_smooth.cpp and ``pair_write`` output, tests/unit/systems/test_potentials.py)
``LJ_POLY``         4ε[(σ/r)^12 − (σ/r)^6 + C0 + C2 x² + C4 x⁴] (the JBB 2D ternary model; C's make V,
                    V′, V″ vanish at r_c = 2.5σ_αβ)
``SOFT_POLY``       ε [(σ_ij/r)^12 + c0 + c2 x² + c4 x⁴] with per-particle diameters and the non-additive
                    rule σ_ij = (σ_i + σ_j)/2 (1 − ε_na |σ_i − σ_j|), r_c = x_c σ_ij (Ninarello, Berthier,
                    Coslovich, PRX 7, 021039 (2017)); c's make V, V′, V″ vanish at x_c

Table layout ``table[ti, tj, :]``: ``[ε, σ, r_c, r_in, C0, C2, C4, offset]``. For ``SOFT_POLY`` only
``table[0, 0]`` is used and holds ``[ε, ε_na, x_c, 0, ε c0, ε c2, ε c4, 0]``.

Bonds (Kremer–Grest polymer): :func:`fene_energy_force` is LAMMPS ``bond_style fene``,
V = −½ k R0² ln(1 − (r/R0)²) + 4ε[(σ/r)^12 − (σ/r)^6] + ε (the last two for r < 2^(1/6) σ);
:func:`energy_forces` adds it for a list of bonds and scales the non-bonded term of bonded pairs by the
1-2 special-bond weight (``special_bonds fene``: 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit

from glassfix.core.frame import Frame

LJ_TRUNCATED = 0
LJ_SHIFTED = 1
LJ_FORCE_SHIFTED = 2
LJ_SMOOTH = 3
LJ_POLY = 4
SOFT_POLY = 5

KIND_NAMES = {
    LJ_TRUNCATED: "lj-truncated",
    LJ_SHIFTED: "lj-shifted",
    LJ_FORCE_SHIFTED: "lj-force-shifted",
    LJ_SMOOTH: "lj-smooth",
    LJ_POLY: "lj-poly",
    SOFT_POLY: "soft-poly",
}

# column indices of the parameter table
EPS, SIG, RC, RIN, C0, C2, C4, OFFSET = range(8)
N_PARAMS = 8


@njit(cache=True, inline="always")
def _lj_parts(r2: float, eps: float, sig: float) -> tuple[float, float]:
    """(LJ energy, −(1/r) dV/dr) of plain LJ at r² (ε, ε/σ²)."""
    s2 = sig * sig / r2
    s6 = s2 * s2 * s2
    e = 4.0 * eps * (s6 * s6 - s6)
    fr = 24.0 * eps * (2.0 * s6 * s6 - s6) / r2
    return e, fr


@njit(cache=True)
def pair_energy_force(kind: int, table: np.ndarray, ti: int, tj: int, di: float, dj: float,
                      r2: float) -> tuple[float, float]:
    """(V(r), −(1/r) dV/dr) of one pair at squared distance ``r2`` (ε_AA, ε_AA/σ_AA²); (0, 0) beyond r_c.

    ``ti``/``tj`` are 0-based types (table kinds), ``di``/``dj`` diameters (``SOFT_POLY``, σ_AA).
    """
    if kind == SOFT_POLY:
        p = table[0, 0]
        sij = 0.5 * (di + dj) * (1.0 - p[1] * abs(di - dj))
        rc = p[2] * sij
        if r2 >= rc * rc:
            return 0.0, 0.0
        x2 = r2 / (sij * sij)
        inv6 = 1.0 / (x2 * x2 * x2)
        e = p[0] * inv6 * inv6 + p[4] + p[5] * x2 + p[6] * x2 * x2
        # −(1/r) dV/dr with x = r/σ: dV/dx = −12 ε x^-13 + 2 c2 x + 4 c4 x³
        fr = (12.0 * p[0] * inv6 * inv6 / x2 - 2.0 * p[5] - 4.0 * p[6] * x2) / (sij * sij)
        return e, fr
    p = table[ti, tj]
    rc = p[RC]
    if r2 >= rc * rc:
        return 0.0, 0.0
    eps = p[EPS]
    sig = p[SIG]
    if kind == LJ_TRUNCATED or kind == LJ_SHIFTED:
        e, fr = _lj_parts(r2, eps, sig)
        return e - p[OFFSET], fr
    if kind == LJ_FORCE_SHIFTED:
        e, fr = _lj_parts(r2, eps, sig)
        r = np.sqrt(r2)
        # LJ'(r_c) = −(table's force magnitude at r_c); stored precomputed in C2 (force at r_c) and
        # the energy at r_c in OFFSET so the kernel does no extra powers.
        fc = p[C2]
        return e - p[OFFSET] + (r - rc) * fc, fr - fc / r
    if kind == LJ_SMOOTH:
        rin = p[RIN]
        if r2 < rin * rin:
            e, fr = _lj_parts(r2, eps, sig)
            return e - p[OFFSET], fr
        r = np.sqrt(r2)
        t = r - rin
        # cubic force coefficients s1..s4 are stored in C0, C2, C4 and (s4) recomputed below
        s1 = p[C0]
        s2 = p[C2]
        s3 = p[C4]
        tc = rc - rin
        s4 = -1.0 / (3.0 * tc * tc) * (s2 + 2.0 * s3 * tc)
        e_in, _ = _lj_parts(rin * rin, eps, sig)
        e = e_in - s1 * t - s2 * t * t / 2.0 - s3 * t * t * t / 3.0 - s4 * t * t * t * t / 4.0
        force = s1 + s2 * t + s3 * t * t + s4 * t * t * t
        return e - p[OFFSET], force / r
    if kind == LJ_POLY:
        e, fr = _lj_parts(r2, eps, sig)
        x2 = r2 / (sig * sig)
        e += 4.0 * eps * (p[C0] + p[C2] * x2 + p[C4] * x2 * x2)
        fr -= 4.0 * eps * (2.0 * p[C2] + 4.0 * p[C4] * x2) / (sig * sig)
        return e, fr
    return np.nan, np.nan


@njit(cache=True)
def pair_energy(kind: int, table: np.ndarray, ti: int, tj: int, di: float, dj: float, r2: float) -> float:
    """V(r) of one pair at squared distance ``r2`` (ε_AA); 0 beyond r_c."""
    return pair_energy_force(kind, table, ti, tj, di, dj, r2)[0]


@njit(cache=True)
def _accumulate(kind, table, types, diam, centers, offsets, neighbors, vectors, d):
    n = types.shape[0]
    e_atom = np.zeros(n)
    forces = np.zeros((n, d))
    virial = np.zeros((d, d))
    for c in range(centers.shape[0]):
        i = centers[c]
        for p in range(offsets[c], offsets[c + 1]):
            j = neighbors[p]
            r2 = 0.0
            for a in range(d):
                r2 += vectors[p, a] * vectors[p, a]
            e, fr = pair_energy_force(kind, table, types[i], types[j], diam[i], diam[j], r2)
            if e == 0.0 and fr == 0.0:
                continue
            e_atom[i] += 0.5 * e
            for a in range(d):
                # vectors = r_j − r_i, so the force on i is −fr · vector
                forces[i, a] -= fr * vectors[p, a]
                for b in range(d):
                    virial[a, b] += 0.5 * fr * vectors[p, a] * vectors[p, b]
    return e_atom, forces, virial


@dataclass(frozen=True)
class PairPotential:
    """A pair interaction: functional ``kind`` plus its (n_types, n_types, 8) parameter ``table``.

    Build it with the constructors below (they fill the derived columns); ``max_cutoff`` is the largest
    interaction range in σ_AA (for ``SOFT_POLY``: x_c times the largest possible σ_ij).
    """

    kind: int
    table: np.ndarray
    max_cutoff: float
    description: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def n_types(self) -> int:
        """Number of particle types the table covers."""
        return int(self.table.shape[0])

    def energy_force(self, r: np.ndarray, ti: int, tj: int, di: float = 1.0, dj: float = 1.0
                     ) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised (V(r), −dV/dr) for distances ``r`` (σ_AA) between types/diameters (ε_AA, ε_AA/σ_AA)."""
        r = np.atleast_1d(np.asarray(r, dtype=np.float64))
        e = np.empty_like(r)
        f = np.empty_like(r)
        for k, rk in enumerate(r):
            ek, frk = pair_energy_force(self.kind, self.table, int(ti), int(tj), float(di), float(dj),
                                        float(rk * rk))
            e[k] = ek
            f[k] = frk * rk
        return e, f


def _table(n_types: int) -> np.ndarray:
    return np.zeros((n_types, n_types, N_PARAMS), dtype=np.float64)


def _sym(a, n: int) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.shape == ():
        a = np.full((n, n), float(a))
    if a.shape != (n, n) or not np.allclose(a, a.T):
        raise ValueError(f"expected a symmetric ({n}, {n}) parameter matrix, got {a.tolist()}")
    return a


def lj_potential(epsilon, sigma, cutoff, style: str = "force-shifted", inner=None) -> PairPotential:
    """Lennard-Jones with per-pair ε, σ, absolute cutoffs r_c (σ_AA) and a cutoff ``style``.

    ``style``: ``"truncated"``, ``"shifted"``, ``"force-shifted"`` (``lj/smooth/linear``) or ``"smooth"``
    (``lj/smooth`` with inner radii ``inner``; add ``"smooth-shifted"`` to shift its energy to 0 at r_c).
    """
    eps = np.asarray(epsilon, dtype=np.float64)
    n = eps.shape[0] if eps.ndim else 1
    eps, sig, rc = _sym(epsilon, n), _sym(sigma, n), _sym(cutoff, n)
    kinds = {"truncated": LJ_TRUNCATED, "shifted": LJ_SHIFTED, "force-shifted": LJ_FORCE_SHIFTED,
             "smooth": LJ_SMOOTH, "smooth-shifted": LJ_SMOOTH}
    if style not in kinds:
        raise ValueError(f"style must be one of {sorted(kinds)}, got {style!r}")
    if np.any(rc <= 0) or np.any(sig <= 0):
        raise ValueError("σ and cutoffs must be positive")
    t = _table(n)
    t[..., EPS], t[..., SIG], t[..., RC] = eps, sig, rc
    kind = kinds[style]

    def lj(r, e, s):
        s6 = (s / r) ** 6
        return 4.0 * e * (s6 * s6 - s6)

    def force(r, e, s):  # −dLJ/dr
        s6 = (s / r) ** 6
        return 24.0 * e * (2.0 * s6 * s6 - s6) / r

    if kind == LJ_SHIFTED:
        t[..., OFFSET] = lj(rc, eps, sig)
    elif kind == LJ_FORCE_SHIFTED:
        t[..., OFFSET] = lj(rc, eps, sig)
        t[..., C2] = force(rc, eps, sig)
    elif kind == LJ_SMOOTH:
        if inner is None:
            raise ValueError("style 'smooth' needs the inner radii (r_in < r_c)")
        rin = _sym(inner, n)
        if np.any(rin >= rc) or np.any(rin <= 0):
            raise ValueError(f"inner radii must satisfy 0 < r_in < r_c, got {rin.tolist()}")
        t[..., RIN] = rin
        s1 = force(rin, eps, sig)
        # d(force)/dr at r_in: −d²LJ/dr²
        s6 = (sig / rin) ** 6
        s2 = -24.0 * eps * (26.0 * s6 * s6 - 7.0 * s6) / rin ** 2
        tc = rc - rin
        s3 = -(3.0 / tc ** 2) * (s1 + 2.0 / 3.0 * s2 * tc)
        s4 = -1.0 / (3.0 * tc ** 2) * (s2 + 2.0 * s3 * tc)
        t[..., C0], t[..., C2], t[..., C4] = s1, s2, s3
        if style == "smooth-shifted":
            t[..., OFFSET] = (lj(rin, eps, sig) - s1 * tc - s2 * tc ** 2 / 2 - s3 * tc ** 3 / 3
                              - s4 * tc ** 4 / 4)
    return PairPotential(kind=kind, table=t, max_cutoff=float(rc.max()),
                         description=f"LJ, {style}", meta={"style": style})


def poly_lj_potential(epsilon, sigma, rc_factor: float, c0: float, c2: float, c4: float) -> PairPotential:
    """LJ plus the even polynomial 4ε(C0 + C2 x² + C4 x⁴), x = r/σ_αβ, cut at ``rc_factor`` σ_αβ (JBB)."""
    eps = np.asarray(epsilon, dtype=np.float64)
    n = eps.shape[0]
    eps, sig = _sym(epsilon, n), _sym(sigma, n)
    t = _table(n)
    t[..., EPS], t[..., SIG], t[..., RC] = eps, sig, rc_factor * sig
    t[..., C0], t[..., C2], t[..., C4] = c0, c2, c4
    return PairPotential(kind=LJ_POLY, table=t, max_cutoff=float(rc_factor * sig.max()),
                         description="LJ + even polynomial (V, V', V'' = 0 at r_c)")


def smooth_polynomial_coefficients(xc: float, power: int = 12) -> tuple[float, float, float]:
    """(c0, c2, c4) making x^-power + c0 + c2 x² + c4 x⁴ and its first two derivatives vanish at ``xc``."""
    # Three linear conditions on (c0, c2, c4); solved exactly so any x_c works.
    a = np.array([[1.0, xc ** 2, xc ** 4], [0.0, 2 * xc, 4 * xc ** 3], [0.0, 2.0, 12 * xc ** 2]])
    b = -np.array([xc ** -power, -power * xc ** (-power - 1), power * (power + 1) * xc ** (-power - 2)])
    c0, c2, c4 = np.linalg.solve(a, b)
    return float(c0), float(c2), float(c4)


def soft_poly_potential(epsilon: float = 1.0, nonadditivity: float = 0.2, xc: float = 1.25,
                        max_diameter: float = 1.0) -> PairPotential:
    """Continuously polydisperse soft spheres ε(σ_ij/r)^12 + c0 + c2 x² + c4 x⁴ (NBC PRX 2017)."""
    if not epsilon > 0 or not xc > 1 or not -1 < nonadditivity < 1:
        raise ValueError(f"need epsilon > 0, xc > 1 and -1 < nonadditivity < 1, got epsilon={epsilon}, "
                         f"xc={xc}, nonadditivity={nonadditivity}")
    # The kernel adds c0 + c2 x² + c4 x⁴ unscaled, so the ε of the r^-12 term must multiply them too.
    c0, c2, c4 = (epsilon * c for c in smooth_polynomial_coefficients(xc))
    t = _table(1)
    t[0, 0, :] = [epsilon, nonadditivity, xc, 0.0, c0, c2, c4, 0.0]
    return PairPotential(kind=SOFT_POLY, table=t, max_cutoff=float(xc * max_diameter),
                         description="soft-sphere r^-12 + polynomial, non-additive diameters",
                         meta={"c0": c0, "c2": c2, "c4": c4})


_TWO_1_3 = 1.2599210498948732  # 2^(1/3), as in LAMMPS bond_fene.cpp


@njit(cache=True)
def fene_energy_force(k: float, r0: float, eps: float, sig: float, r2: float) -> tuple[float, float]:
    """(V(r), −(1/r) dV/dr) of one FENE bond at squared length ``r2`` (ε_AA, ε_AA/σ_AA²); (inf, nan) if r ≥ R0.

    V = −½ k R0² ln(1 − r²/R0²) + [4ε((σ/r)^12 − (σ/r)^6) + ε for r < 2^(1/6) σ] — LAMMPS ``bond_style fene``.
    """
    r0sq = r0 * r0
    rlogarg = 1.0 - r2 / r0sq
    if rlogarg <= 0.0:
        return np.inf, np.nan
    e = -0.5 * k * r0sq * np.log(rlogarg)
    fr = -k / rlogarg
    # LAMMPS compares r² with 2^(1/3) σ² (its TWO_1_3 constant), i.e. the WCA core up to the LJ minimum.
    if r2 < _TWO_1_3 * sig * sig:
        sr2 = sig * sig / r2
        sr6 = sr2 * sr2 * sr2
        e += 4.0 * eps * sr6 * (sr6 - 1.0) + eps
        fr += 48.0 * eps * sr6 * (sr6 - 0.5) / r2
    return e, fr


@dataclass(frozen=True)
class FENEBond:
    """FENE bond parameters: spring ``k`` (ε_AA/σ_AA²), maximum extent ``r0`` (σ_AA), WCA ``epsilon``/``sigma``.

    Defaults are the Kremer–Grest values (k = 30, R0 = 1.5, ε = σ = 1; K. Kremer, G. S. Grest,
    J. Chem. Phys. 92, 5057 (1990)), i.e. LAMMPS ``bond_coeff 1 30 1.5 1 1``.
    """

    k: float = 30.0
    r0: float = 1.5
    epsilon: float = 1.0
    sigma: float = 1.0

    def __post_init__(self) -> None:
        for name in ("k", "r0", "epsilon", "sigma"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"FENE {name} must be positive and finite, got {v}")

    def energy_force(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised (V(r), −dV/dr) of the bond at lengths ``r`` (ε_AA, ε_AA/σ_AA); V = inf for r ≥ R0."""
        r = np.atleast_1d(np.asarray(r, dtype=np.float64))
        e = np.empty_like(r)
        f = np.empty_like(r)
        for n, rn in enumerate(r):
            en, frn = fene_energy_force(self.k, self.r0, self.epsilon, self.sigma, float(rn * rn))
            e[n] = en
            f[n] = frn * rn
        return e, f


@njit(cache=True)
def _accumulate_bonds(kind, table, types, diam, bonds, vectors, k, r0, beps, bsig, w12, d):
    """Bond terms plus the correction (w12 − 1) × pair term of every bonded pair (special_bonds lj w12)."""
    n = types.shape[0]
    e_atom = np.zeros(n)
    forces = np.zeros((n, d))
    virial = np.zeros((d, d))
    for b in range(bonds.shape[0]):
        i = bonds[b, 0]
        j = bonds[b, 1]
        r2 = 0.0
        for a in range(d):
            r2 += vectors[b, a] * vectors[b, a]
        e, fr = fene_energy_force(k, r0, beps, bsig, r2)
        if w12 != 1.0:
            ep, frp = pair_energy_force(kind, table, types[i], types[j], diam[i], diam[j], r2)
            e += (w12 - 1.0) * ep
            fr += (w12 - 1.0) * frp
        e_atom[i] += 0.5 * e
        e_atom[j] += 0.5 * e
        for a in range(d):
            # vectors = r_j − r_i: force on i is −fr · vector, on j +fr · vector
            forces[i, a] -= fr * vectors[b, a]
            forces[j, a] += fr * vectors[b, a]
            for c in range(d):
                virial[a, c] += fr * vectors[b, a] * vectors[b, c]
    return e_atom, forces, virial


@dataclass
class EnergyForces:
    """Result of :func:`energy_forces`: energies (ε_AA), forces (ε_AA/σ_AA), virial W = Σ_pairs r⊗F (ε_AA).

    ``bond_energy`` is the bonded part of ``energy`` (FENE plus the special-bond correction of the
    bonded pairs' non-bonded term); 0 without bonds.
    """

    energy: float
    per_atom: np.ndarray
    forces: np.ndarray
    virial: np.ndarray
    bond_energy: float = 0.0

    def pressure_tensor(self, volume: float, kinetic: np.ndarray | None = None) -> np.ndarray:
        """(W + Σ m v⊗v)/V in ε_AA/σ_AA^d (LAMMPS' pressure tensor with ``kinetic`` supplied)."""
        k = 0.0 if kinetic is None else kinetic
        return (self.virial + k) / volume


def _check_bonds(bonds: np.ndarray, n: int) -> np.ndarray:
    b = np.ascontiguousarray(bonds, dtype=np.int64)
    if b.ndim != 2 or b.shape[1] != 2:
        raise ValueError(f"bonds must have shape (M, 2) (0-based atom indices), got {b.shape}")
    if b.size and (b.min() < 0 or b.max() >= n):
        raise ValueError(f"bond indices must lie in 0..{n - 1}, got range {b.min()}..{b.max()}")
    if np.any(b[:, 0] == b[:, 1]):
        k = int(np.flatnonzero(b[:, 0] == b[:, 1])[0])
        raise ValueError(f"bond {k} joins atom {int(b[k, 0])} to itself")
    key = np.sort(b, axis=1)
    if len(np.unique(key, axis=0)) != len(key):
        # A duplicated bond would apply the special-bond correction twice.
        raise ValueError("bonds contain a duplicated pair")
    return b


def energy_forces(frame: Frame, potential: PairPotential, diameters: np.ndarray | None = None,
                  bonds: np.ndarray | None = None, bond: FENEBond | None = None,
                  special_lj12: float = 0.0) -> EnergyForces:
    """Energy (ε_AA), per-atom energies (half of each pair/bond), forces and virial of ``frame``.

    Non-bonded pairs use ``potential`` (``diameters`` for ``SOFT_POLY``). With ``bonds`` ((M, 2) 0-based
    atom indices) every bond adds the FENE ``bond`` term, and the non-bonded term of each bonded pair
    is scaled by ``special_lj12`` (LAMMPS ``special_bonds lj w12 …``; ``special_bonds fene`` = 0, i.e.
    excluded). Only 1-2 weights are supported: the 1-3/1-4 weights of ``fene`` are 1 anyway. Bond
    vectors are minimum images, so every bond must be shorter than half the box. A bond at or beyond
    R0 raises ValueError (LAMMPS instead warns and clamps the logarithm once r > √0.9 R0).
    """
    from glassfix.core.cell import minimum_image
    from glassfix.core.neighbors import neighbor_list

    n = frame.n_atoms
    types = np.ascontiguousarray(frame.types, dtype=np.int64)
    if potential.kind != SOFT_POLY and n and types.max() >= potential.n_types:
        raise ValueError(f"frame has type {int(types.max())} but the potential covers "
                         f"{potential.n_types} types (0-based)")
    if diameters is None:
        if potential.kind == SOFT_POLY:
            raise ValueError("the soft-poly potential needs per-particle diameters")
        diam = np.ones(n)
        cutoff = potential.max_cutoff
    else:
        diam = np.ascontiguousarray(diameters, dtype=np.float64)
        if diam.shape != (n,):
            raise ValueError(f"diameters must have shape ({n},), got {diam.shape}")
        if n and not (np.isfinite(diam).all() and diam.min() > 0):
            raise ValueError(f"diameters must be positive and finite, got min {diam.min()}")
        cutoff = potential.max_cutoff
        if potential.kind == SOFT_POLY and n:
            # σ_ij ≤ (σ_i + σ_j)/2 ≤ max σ for ε_na ≥ 0, so x_c · max σ bounds every pair's range; a
            # negative ε_na can widen σ_ij by at most the factor 1 + |ε_na| (max σ − min σ).
            eps_na = float(potential.table[0, 0, 1])
            smax = float(diam.max()) * (1.0 + max(-eps_na, 0.0) * float(diam.max() - diam.min()))
            cutoff = float(potential.table[0, 0, 2] * smax)
    nl = neighbor_list(frame, cutoff)
    e_atom, forces, virial = _accumulate(potential.kind, potential.table, types, diam, nl.centers,
                                         nl.offsets, nl.neighbors, nl.vectors, frame.dim)
    bond_energy = 0.0
    if bonds is not None:
        if bond is None:
            raise ValueError("bonds were given without bond parameters (bond=FENEBond(...))")
        b = _check_bonds(bonds, n)
        vec = minimum_image(frame.positions[b[:, 1]] - frame.positions[b[:, 0]], frame.cell, frame.pbc)
        vec = np.ascontiguousarray(vec.reshape(-1, frame.dim))
        length = np.sqrt(np.einsum("ij,ij->i", vec, vec))
        if length.size and length.max() >= bond.r0:
            k = int(np.argmax(length))
            raise ValueError(f"bond {k} (atoms {int(b[k, 0])}-{int(b[k, 1])}) has length {length[k]:.6g} "
                             f">= FENE R0 = {bond.r0}: the FENE energy is infinite")
        eb, fb, wb = _accumulate_bonds(potential.kind, potential.table, types, diam, b, vec, bond.k,
                                       bond.r0, bond.epsilon, bond.sigma, float(special_lj12), frame.dim)
        bond_energy = float(eb.sum())
        e_atom += eb
        forces += fb
        virial += wb
    elif bond is not None:
        raise ValueError("bond parameters were given without bonds")
    return EnergyForces(energy=float(e_atom.sum()), per_atom=e_atom, forces=forces, virial=virial,
                        bond_energy=bond_energy)
