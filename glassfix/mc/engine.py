"""Swap Monte Carlo engine: Metropolis displacements, discrete type swaps and diameter swaps (numba).

Units are the potential's (LJ reduced units: lengths σ_AA, energies ε_AA, k_B = 1, temperatures ε_AA).

State: fractional coordinates ``s`` in [0, 1) of an orthorhombic or triclinic periodic cell (rows of
``cell`` are the box vectors, r = origin + s @ cell), 0-based types, per-particle diameters (used by the
continuously polydisperse ``SOFT_POLY`` potential; 1 otherwise) and cumulative (unwrapped) Cartesian
displacements for the dynamics of the swap chain. Internally every system is three-dimensional: a 2D
system gets s_z = 0, a unit third box vector and a single cell along z, so one kernel serves both.

Energies come from :func:`glassfix.systems.potentials.pair_energy`, the same kernel as
:func:`~glassfix.systems.potentials.energy_forces`; the total is U = ½ Σ_i Σ_(j,n)≠(i,0) V(|r_j + n·H − r_i|),
self-images included (they matter only in boxes narrower than the cutoff).

Cell list: fractional bins of perpendicular width ≥ r_c / ``cell_subdivision``; a particle scans the
*unwrapped* neighbour cells c + k, |k_a| ≤ K_a = ceil(r_c n_a / w_a). Every periodic image of every
particle lies in exactly one unwrapped cell, so the scan visits each (particle, image) pair exactly once
for any box size — boxes smaller than 2 r_c (or than r_c) need no special case. The cell list is updated
incrementally when an accepted displacement moves a particle into another cell. Where the box allows it,
energies come instead from Verlet lists with cached pair energies (``neighbor_skin``, kernels in
:mod:`glassfix.mc._verlet`): the same random draws and the same exact ΔU, so the same chain.

Moves (one elementary step = one attempt; a sweep = N attempts):

* displacement of a uniformly chosen particle by a Gaussian (σ_δ per component) or uniform-cube
  (half-width δ) random vector;
* discrete type swap between a random particle of type a and a random particle of type b, for each
  allowed pair (a, b) with its own attempt probability (proposal 1/(N_a N_b), symmetric);
* diameter swap between two random distinct particles (optionally only if |σ_i − σ_j| ≤ Δ_max, a
  symmetric restriction).

All proposals are symmetric, so the Metropolis rule min(1, exp(−ΔU/T)) gives detailed balance. ΔU is
exact: the moved particles' energies before and after, minus the i–j pair once (it sits in both).

Reproducibility: numba's ``np.random`` (inside jitted code) is reseeded at the start of every chunk — a
call of :meth:`SwapMC.sweeps` — from ``SeedSequence([seed, chunk_index])``. The same seed and the same
sequence of ``sweeps(n)`` calls give the same chain bit for bit, and a checkpoint written between chunks
(:meth:`SwapMC.save`) resumes it exactly (the checkpoint holds the cell-list order too, so even the
floating-point summation order is the same).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from glassfix.core.atomic import atomic_savez
from glassfix.core.cell import perpendicular_widths
from glassfix.core.frame import Frame
from glassfix.core.seeds import seed_from_ints
from glassfix.mc._kernels import (_DIAM_SWAP, _DISPLACE, _OK, _TYPE_SWAP, _build_cells, _particle_energies,
                                  _run_chunk, _swap_delta, _total_energy)
from glassfix.mc._verlet import _run_chunk_verlet, poly_coefficients
from glassfix.systems.potentials import SOFT_POLY, PairPotential

__all__ = ["MoveSet", "SwapMC", "jbb_moves", "binary_swap_moves", "polydisperse_moves", "soft_poly_cutoff",
           "CHECKPOINT_VERSION"]

CHECKPOINT_VERSION = 1
#: Verlet-list skin (σ_AA) of new chains: measured fastest for JBB N = 1290 (docs/benchmarks.md, swap section).
DEFAULT_SKIN = 0.7


# ---------------------------------------------------------------------------------------------- moves
@dataclass(frozen=True)
class MoveSet:
    """Move probabilities and step: displacement takes the probability left over by the swaps.

    ``step``: σ_δ of the Gaussian displacement per component, or the half-width δ of the uniform cube
    (σ_AA). ``displacement``: ``"gaussian"`` or ``"uniform"``. ``swaps``: ``(type_a, type_b, probability)``
    with 0-based types. ``diameter_swap``: probability of a diameter exchange; ``max_diameter_difference``:
    only pairs with |σ_i − σ_j| ≤ this are exchanged (σ_AA; others are rejected, a symmetric rule).
    """

    step: float = 0.05
    displacement: str = "gaussian"
    swaps: tuple[tuple[int, int, float], ...] = ()
    diameter_swap: float = 0.0
    max_diameter_difference: float = math.inf

    def __post_init__(self) -> None:
        if self.displacement not in ("gaussian", "uniform"):
            raise ValueError(f"displacement must be 'gaussian' or 'uniform', got {self.displacement!r}")
        if not (self.step > 0 and math.isfinite(self.step)):
            raise ValueError(f"step must be positive and finite, got {self.step}")
        object.__setattr__(self, "swaps", tuple((int(a), int(b), float(p)) for a, b, p in self.swaps))
        for a, b, p in self.swaps:
            if a == b or a < 0 or b < 0:
                raise ValueError(f"a type swap needs two different non-negative types, got ({a}, {b})")
            if not 0 <= p <= 1:
                raise ValueError(f"swap probability of ({a}, {b}) must be in [0, 1], got {p}")
        if not 0 <= self.diameter_swap <= 1:
            raise ValueError(f"diameter_swap must be in [0, 1], got {self.diameter_swap}")
        if not self.max_diameter_difference > 0:
            raise ValueError(f"max_diameter_difference must be positive, got {self.max_diameter_difference}")
        if self.p_displacement < -1e-12:
            raise ValueError(f"swap probabilities sum to {1 - self.p_displacement:.6g} > 1")

    @property
    def p_displacement(self) -> float:
        """Probability of a displacement attempt (1 − Σ swap probabilities)."""
        return 1.0 - sum(p for _, _, p in self.swaps) - self.diameter_swap

    def names(self, species: Sequence[str] | None = None) -> list[str]:
        """Display names of the moves in counter order: displacement, each type swap, diameter swap."""
        def nm(t: int) -> str:
            return species[t] if species is not None and t < len(species) else str(t + 1)
        out = ["displacement"] + [f"swap {nm(a)}-{nm(b)}" for a, b, _ in self.swaps]
        if self.diameter_swap > 0:
            out.append("diameter swap")
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (inverse of :meth:`from_dict`)."""
        d = asdict(self)
        d["swaps"] = [list(s) for s in self.swaps]
        d["max_diameter_difference"] = (None if math.isinf(self.max_diameter_difference)
                                        else self.max_diameter_difference)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "MoveSet":
        """Rebuild from :meth:`to_dict` output."""
        d = dict(d)
        d["swaps"] = tuple(tuple(s) for s in d.get("swaps", ()))
        if d.get("max_diameter_difference") is None:
            d["max_diameter_difference"] = math.inf
        return cls(**d)


def jbb_moves(p_swap: float = 0.2, step: float = 0.05) -> MoveSet:
    """JBB ternary 2D moves (001_jung.md §2.2): swaps 1↔3 and 2↔3 with p_swap/2 each, Gaussian σ_δ = 0.05."""
    return MoveSet(step=step, displacement="gaussian", swaps=((0, 2, p_swap / 2), (1, 2, p_swap / 2)))


def binary_swap_moves(p_swap: float = 0.1, step: float = 0.05) -> MoveSet:
    """Binary mixtures (KA 2D/3D, Wahnström): A↔B type swaps with probability ``p_swap`` [PROP]."""
    return MoveSet(step=step, displacement="gaussian", swaps=((0, 1, p_swap),))


def polydisperse_moves(p_swap: float = 0.2, step: float = 0.05,
                       max_diameter_difference: float = math.inf) -> MoveSet:
    """Continuous polydispersity: diameter swaps with probability ``p_swap`` [PROP, NBC PRX 2017 style]."""
    return MoveSet(step=step, displacement="gaussian", diameter_swap=p_swap,
                   max_diameter_difference=max_diameter_difference)


def soft_poly_cutoff(potential: PairPotential, diameters: np.ndarray) -> float:
    """Largest interaction range x_c·max σ_ij (σ_AA) of a ``SOFT_POLY`` potential over these diameters."""
    p = potential.table[0, 0]
    dmax, dmin = float(np.max(diameters)), float(np.min(diameters))
    eps_na = float(p[1])
    # σ_ij = (σ_i+σ_j)/2 (1 − ε|σ_i−σ_j|) ≤ σ_max for ε ≥ 0; a negative ε can only widen it by (1+|ε|Δ).
    smax = dmax if eps_na >= 0 else dmax * (1.0 + abs(eps_na) * (dmax - dmin))
    return float(p[2] * smax)


# ---------------------------------------------------------------------------------------------- helpers
def _chunk_seed(seed: int, chunk: int) -> int:
    """Numba RNG seed of chunk ``chunk`` (uint32 from SeedSequence, so nearby seeds decorrelate)."""
    return seed_from_ints(seed, chunk)


@dataclass
class _Geometry:
    H: np.ndarray
    Hinv: np.ndarray
    ortho: bool
    ncell: np.ndarray
    ksearch: np.ndarray
    lattice_r2: np.ndarray
    widths: np.ndarray


def _geometry(cell: np.ndarray, dim: int, rc: float, subdivision: int, n: int) -> _Geometry:
    H = np.eye(3)
    H[:dim, :dim] = cell
    widths = perpendicular_widths(cell)
    ncell = np.ones(3, dtype=np.int64)
    ksearch = np.zeros(3, dtype=np.int64)
    for a in range(dim):
        ncell[a] = max(1, int(np.floor(widths[a] * subdivision / rc)))
    # never more cells than ~4 per particle (huge box, tiny cutoff): coarser cells stay exact (K grows)
    limit = max(27, 4 * n)
    if int(np.prod(ncell)) > limit:
        f = (limit / float(np.prod(ncell))) ** (1.0 / dim)
        for a in range(dim):
            ncell[a] = max(1, int(np.floor(ncell[a] * f)))
    for a in range(dim):
        # a neighbour within rc differs by < rc/w_a in s_a, i.e. by < rc·n_a/w_a cells
        ksearch[a] = int(np.ceil(rc * ncell[a] / widths[a]))
    # lattice vectors shorter than rc: a particle interacts with its own images
    m = [int(np.ceil(rc / widths[a])) for a in range(dim)]
    vecs = []
    for idx in np.ndindex(*[2 * x + 1 for x in m]):
        nvec = np.array(idx) - np.array(m)
        if not nvec.any():
            continue
        v = nvec @ cell
        r2 = float(v @ v)
        if r2 < rc * rc:
            vecs.append(r2)
    ortho = bool(np.count_nonzero(H - np.diag(np.diag(H))) == 0)
    return _Geometry(H=H, Hinv=np.linalg.inv(H), ortho=ortho, ncell=ncell, ksearch=ksearch,
                     lattice_r2=np.asarray(vecs, dtype=np.float64), widths=np.asarray(widths, dtype=np.float64))


# ---------------------------------------------------------------------------------------------- engine
class SwapMC:
    """A swap Monte Carlo chain at temperature T for one configuration and pair potential.

    ``frame``: positions, types, cell (periodic along every axis); ``potential``: a
    :class:`~glassfix.systems.potentials.PairPotential`; ``diameters``: per-particle σ_i (σ_AA), required
    by ``SOFT_POLY`` (else ones); ``moves``: a :class:`MoveSet`; ``seed``: the chain's seed (see the
    module docstring for the per-chunk reseeding); ``cell_subdivision``: cells of width ≥ r_c / k;
    ``neighbor_skin``: Verlet-list skin (σ_AA; 0 or None = scan the cells for every energy). The lists are
    used only when r_c + skin is below half the smallest box width (else the cell scan, which handles any
    box); both paths run the same chain (same draws, exact ΔU; sums in a different order).
    """

    def __init__(self, frame: Frame, potential: PairPotential, temperature: float, moves: MoveSet | None = None,
                 seed: int = 0, diameters: np.ndarray | None = None, cell_subdivision: int = 1,
                 neighbor_skin: float | None = DEFAULT_SKIN) -> None:
        if not np.all(frame.pbc):
            raise ValueError(f"swap MC needs a fully periodic box, got pbc={frame.pbc.tolist()}")
        frame.check_finite()
        self.dim = frame.dim
        self.n = frame.n_atoms
        if self.n < 2:
            raise ValueError(f"swap MC needs at least 2 particles, got {self.n}")
        self.potential = potential
        self.moves = moves if moves is not None else MoveSet()
        self.seed = int(seed)
        self.species = tuple(frame.species) if frame.species is not None else None
        self.ids = frame.ids.copy()
        self.origin = frame.origin.copy()
        self.cell = frame.cell.copy()
        self.metadata = dict(frame.metadata)
        self.cell_subdivision = int(cell_subdivision)
        if self.cell_subdivision < 1:
            raise ValueError(f"cell_subdivision must be >= 1, got {cell_subdivision}")
        self.temperature = temperature
        types = np.ascontiguousarray(frame.types, dtype=np.int64)
        if potential.kind == SOFT_POLY:
            if diameters is None:
                raise ValueError("the soft-poly (polydisperse) potential needs per-particle diameters")
            self.n_types = int(types.max()) + 1
        else:
            self.n_types = potential.n_types
            if types.max() >= self.n_types:
                raise ValueError(f"frame has type {int(types.max())} (0-based) but the potential covers "
                                 f"{self.n_types} types")
        if diameters is None:
            diam = np.ones(self.n)
        else:
            diam = np.ascontiguousarray(diameters, dtype=np.float64).copy()
            if diam.shape != (self.n,) or not np.all(diam > 0):
                raise ValueError(f"diameters must be {self.n} positive numbers, got shape {diam.shape}")
        if self.moves.diameter_swap > 0 and np.unique(diam).size < 2:
            raise ValueError("diameter swaps need at least two different diameters")
        for a, b, p in self.moves.swaps:
            if p > 0 and (max(a, b) >= self.n_types or not (types == a).any() or not (types == b).any()):
                raise ValueError(f"type swap ({a}, {b}) needs particles of both types; counts per type are "
                                 f"{np.bincount(types, minlength=self.n_types).tolist()}")
        self.rc = (soft_poly_cutoff(potential, diam) if potential.kind == SOFT_POLY
                   else float(potential.max_cutoff))
        self._geo = _geometry(self.cell, self.dim, self.rc, self.cell_subdivision, self.n)
        skin = 0.0 if neighbor_skin is None else float(neighbor_skin)
        if not (skin >= 0 and math.isfinite(skin)):
            raise ValueError(f"neighbor_skin must be a finite length >= 0 (0 = no lists), got {neighbor_skin!r}")
        self.neighbor_skin = skin
        rl = self.rc + skin
        # lists only where every pair has one image within r_l (nearest image by rounding is then exact)
        self.uses_lists = bool(skin > 0 and rl < 0.5 * float(self._geo.widths[: self.dim].min()))
        self.list_stats = np.zeros(2, dtype=np.int64)  # rebuilds, cell-scan fallbacks (diagnostics only)
        if self.uses_lists:
            g = self._geo
            self._klist = np.zeros(3, dtype=np.int64)
            for a in range(self.dim):
                self._klist[a] = int(np.ceil(rl * g.ncell[a] / g.widths[a]))
            dens = self.n / abs(float(np.linalg.det(self.cell)))
            ball = math.pi * rl ** 2 if self.dim == 2 else 4.0 / 3.0 * math.pi * rl ** 3
            self._nbr = np.empty((self.n, int(1.5 * dens * ball) + 16), dtype=np.int64)
            self._ncount = np.zeros(self.n, dtype=np.int64)
            self._u0 = np.zeros((self.n, 3))
            self._poly, self._coef = poly_coefficients(potential.kind, potential.table)

        s = np.linalg.solve(self.cell.T, (frame.positions - self.origin).T).T
        s -= np.floor(s)
        s[s >= 1.0] = 0.0
        self._frac = np.zeros((self.n, 3))
        self._frac[:, : self.dim] = s
        self._unwrapped = np.zeros((self.n, 3))
        self._unwrapped[:, : self.dim] = (frame.positions if frame.unwrapped is None else frame.unwrapped)
        self._types = types.copy()
        self._diam = diam
        self._cells_from_scratch()
        self._types_from_scratch()
        n_moves = len(self.moves.names())
        self.attempts = np.zeros(n_moves, dtype=np.int64)
        self.accepted = np.zeros(n_moves, dtype=np.int64)
        self.chunk = 0
        self.sweeps_done = 0
        self.max_drift = 0.0
        self.energy = self.total_energy()

    # ------------------------------------------------------------------ properties
    @property
    def temperature(self) -> float:
        """Temperature T (ε_AA/k_B)."""
        return self._temperature

    @temperature.setter
    def temperature(self, value: float) -> None:
        value = float(value)
        if not (value > 0 and math.isfinite(value)):
            raise ValueError(f"temperature must be positive and finite, got {value}")
        self._temperature = value

    @property
    def positions(self) -> np.ndarray:
        """Wrapped Cartesian positions (N, d), σ_AA."""
        return self.origin + self._frac[:, : self.dim] @ self.cell

    @property
    def unwrapped(self) -> np.ndarray:
        """Cumulative (unwrapped) Cartesian positions (N, d), σ_AA: the start plus accepted displacements."""
        return self._unwrapped[:, : self.dim].copy()

    @property
    def types(self) -> np.ndarray:
        """Current 0-based types (N,)."""
        return self._types.copy()

    @property
    def diameters(self) -> np.ndarray:
        """Current per-particle diameters (N,), σ_AA."""
        return self._diam.copy()

    @property
    def move_names(self) -> list[str]:
        """Names of the moves in counter order."""
        return self.moves.names(self.species)

    # ------------------------------------------------------------------ internals
    def _cells_from_scratch(self, cap: int | None = None) -> None:
        nc = int(np.prod(self._geo.ncell))
        if cap is None:
            # generous: 2× the mean occupancy + 16 almost never overflows; overflow is handled anyway
            cap = 2 * int(np.ceil(self.n / nc)) + 16
        while True:
            cmem, ccount, cslot, cof, ok = _build_cells(self._frac, self._geo.ncell, cap)
            if ok:
                break
            cap *= 2
        self._cmem, self._ccount, self._cslot, self._cof = cmem, ccount, cslot, cof

    def _types_from_scratch(self) -> None:
        nt = max(self.n_types, 1)
        self._tmem = np.full((nt, self.n), -1, dtype=np.int64)
        self._tcount = np.zeros(nt, dtype=np.int64)
        self._tslot = np.empty(self.n, dtype=np.int64)
        for i, t in enumerate(self._types):
            self._tmem[t, self._tcount[t]] = i
            self._tslot[i] = self._tcount[t]
            self._tcount[t] += 1

    def _grow_cells(self, pending: int) -> None:
        """Double the cell capacity (order kept) and append the particle left outside by the kernel."""
        old = self._cmem
        new = np.full((old.shape[0], 2 * old.shape[1]), -1, dtype=np.int64)
        new[:, : old.shape[1]] = old
        c = int(self._cof[pending])
        new[c, self._ccount[c]] = pending
        self._cslot[pending] = self._ccount[c]
        self._ccount[c] += 1
        self._cmem = new

    def _move_arrays(self) -> tuple[np.ndarray, ...]:
        mv = self.moves
        probs = [mv.p_displacement] + [p for _, _, p in mv.swaps]
        kinds = [_DISPLACE] + [_TYPE_SWAP] * len(mv.swaps)
        a = [-1] + [s[0] for s in mv.swaps]
        b = [-1] + [s[1] for s in mv.swaps]
        if mv.diameter_swap > 0:
            probs.append(mv.diameter_swap)
            kinds.append(_DIAM_SWAP)
            a.append(-1)
            b.append(-1)
        cum = np.cumsum(np.maximum(np.asarray(probs, dtype=np.float64), 0.0))
        cum /= cum[-1]
        return (cum, np.asarray(kinds, dtype=np.int64), np.asarray(a, dtype=np.int64),
                np.asarray(b, dtype=np.int64))

    def _common(self) -> tuple:
        g = self._geo
        return (g.H, g.ortho, g.ncell, g.ksearch, self._cmem, self._ccount)

    # ------------------------------------------------------------------ public API
    def total_energy(self) -> float:
        """Total potential energy recomputed from scratch (ε_AA)."""
        g = self._geo
        return float(_total_energy(self._frac, self._types, self._diam, g.H, g.ortho, g.ncell, g.ksearch,
                                   self._cmem, self._ccount, g.lattice_r2, self.potential.kind,
                                   self.potential.table, self.rc * self.rc))

    def particle_energies(self) -> np.ndarray:
        """Per-particle energies (N,), half of each pair (ε_AA), as ``energy_forces(...).per_atom``."""
        g = self._geo
        return _particle_energies(self._frac, self._types, self._diam, g.H, g.ortho, g.ncell, g.ksearch,
                                  self._cmem, self._ccount, g.lattice_r2, self.potential.kind,
                                  self.potential.table, self.rc * self.rc)

    def swap_delta(self, i: int, j: int, diameters: bool = False) -> float:
        """Exact ΔU (ε_AA) of exchanging the types (or ``diameters``) of particles i and j; state unchanged."""
        i, j = int(i), int(j)
        if i == j or not (0 <= i < self.n and 0 <= j < self.n):
            raise ValueError(f"need two different particle indices in [0, {self.n}), got {i}, {j}")
        g = self._geo
        t, d = self._types, self._diam
        nti, ntj, ndi, ndj = (t[i], t[j], d[j], d[i]) if diameters else (t[j], t[i], d[i], d[j])
        return float(_swap_delta(i, j, nti, ntj, ndi, ndj, self._frac, t, d, g.H, g.ortho, g.ncell, g.ksearch,
                                 self._cmem, self._ccount, self.potential.kind,
                                 self.potential.table, self.rc * self.rc))

    def sweeps(self, n_sweeps: int, check_energy: bool = True) -> np.ndarray:
        """Run ``n_sweeps`` × N attempts as one chunk; returns the energy after every sweep (ε_AA, total).

        With ``check_energy`` the total is recomputed at the end, the relative drift of the running sum
        recorded in ``max_drift`` and the running value replaced by the recomputed one.
        """
        n_sweeps = int(n_sweeps)
        if n_sweeps < 0:
            raise ValueError(f"n_sweeps must be >= 0, got {n_sweeps}")
        trace = np.empty(n_sweeps)
        if n_sweeps == 0:
            return trace
        cum, kinds, ma, mb = self._move_arrays()
        g = self._geo
        n_att = n_sweeps * self.n
        start = 0
        energy = self.energy
        seed = _chunk_seed(self.seed, self.chunk)
        while self.uses_lists:
            status, start, energy, pending, self._nbr = _run_chunk_verlet(
                self._frac, self._unwrapped, self._types, self._diam, g.H, g.Hinv, g.ortho, self.dim, g.ncell,
                g.ksearch, self._klist, self._cmem, self._ccount, self._cslot, self._cof, self._tmem,
                self._tcount, self._tslot, self._nbr, self._ncount, self._u0, self.neighbor_skin,
                self.potential.kind, self.potential.table, self._poly, self._coef, self.rc * self.rc,
                (self.rc + self.neighbor_skin) ** 2, 1.0 / self.temperature, cum, kinds, ma, mb,
                float(self.moves.step), self.moves.displacement == "gaussian",
                float(self.moves.max_diameter_difference), n_att, start, self.n, energy, trace, self.attempts,
                self.accepted, seed, start == 0, self.list_stats)
            if status == _OK:
                break
            self._grow_cells(pending)  # as below; the kernel rebuilds its list on re-entry
        while not self.uses_lists:
            status, start, energy, pending = _run_chunk(
                self._frac, self._unwrapped, self._types, self._diam, g.H, g.Hinv, g.ortho, self.dim, g.ncell,
                g.ksearch, self._cmem, self._ccount, self._cslot, self._cof, self._tmem, self._tcount,
                self._tslot, self.potential.kind, self.potential.table, self.rc * self.rc,
                1.0 / self.temperature, cum, kinds, ma, mb, float(self.moves.step),
                self.moves.displacement == "gaussian", float(self.moves.max_diameter_difference),
                n_att, start, self.n, energy, trace, self.attempts, self.accepted, seed, start == 0)
            if status == _OK:
                break
            # the kernel keeps numba's RNG state; growing the cells here draws no random numbers
            self._grow_cells(pending)
        self.energy = float(energy)
        self.chunk += 1
        self.sweeps_done += n_sweeps
        if check_energy:
            exact = self.total_energy()
            drift = abs(self.energy - exact) / max(abs(exact), 1.0)
            self.max_drift = max(self.max_drift, drift)
            self.energy = exact
        return trace

    def acceptance(self) -> dict[str, dict[str, float]]:
        """Per move: attempts, accepted and rate (accepted / attempts; NaN if never attempted)."""
        out = {}
        for name, a, c in zip(self.move_names, self.attempts, self.accepted):
            out[name] = {"attempts": int(a), "accepted": int(c), "rate": float(c / a) if a else float("nan")}
        return out

    def reset_counters(self) -> None:
        """Zero the attempt and acceptance counters."""
        self.attempts[:] = 0
        self.accepted[:] = 0

    def to_frame(self, **metadata: Any) -> Frame:
        """The current configuration as a Frame (wrapped positions, unwrapped, types; diameters in metadata)."""
        meta = dict(self.metadata)
        meta.update(metadata)
        if self.potential.kind == SOFT_POLY or np.any(self._diam != 1.0):
            meta["diameters"] = self._diam.copy()
        return Frame(positions=self.positions, types=self._types.copy(), cell=self.cell.copy(),
                     origin=self.origin.copy(), ids=self.ids.copy(), species=self.species,
                     unwrapped=self.unwrapped, step=self.sweeps_done, metadata=meta)

    # ------------------------------------------------------------------ checkpoints
    def state_arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        """The full chain state as named arrays (keys prefixed), for :meth:`from_state_arrays` / npz files."""
        pot = self.potential
        header = {
            "version": CHECKPOINT_VERSION, "seed": self.seed, "chunk": self.chunk,
            "sweeps_done": self.sweeps_done, "temperature": self.temperature, "energy": self.energy,
            "max_drift": self.max_drift, "moves": self.moves.to_dict(), "species": self.species,
            "cell_subdivision": self.cell_subdivision, "neighbor_skin": self.neighbor_skin,
            "potential_kind": int(pot.kind),
            "potential_max_cutoff": float(pot.max_cutoff), "potential_description": pot.description,
            "metadata": json.loads(json.dumps(
                {k: v for k, v in self.metadata.items() if not isinstance(v, np.ndarray)}, default=str)),
        }
        arrays = dict(header=np.array(json.dumps(header)), frac=self._frac, unwrapped=self._unwrapped,
                      types=self._types, diameters=self._diam, cell=self.cell, origin=self.origin, ids=self.ids,
                      table=pot.table, cmem=self._cmem, ccount=self._ccount, cslot=self._cslot, cof=self._cof,
                      tmem=self._tmem, tcount=self._tcount, tslot=self._tslot, attempts=self.attempts,
                      accepted=self.accepted)
        return {prefix + k: v for k, v in arrays.items()}

    @classmethod
    def from_state_arrays(cls, arrays: dict[str, np.ndarray], prefix: str = "",
                          potential: PairPotential | None = None, source: str = "state") -> "SwapMC":
        """Rebuild a chain from :meth:`state_arrays`; ``potential`` defaults to the stored kind and table."""
        try:
            a = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
            header = json.loads(str(a["header"]))
        except KeyError:
            raise ValueError(f"{source}: no swap-MC chain state with prefix {prefix!r}") from None
        if header.get("version") != CHECKPOINT_VERSION:
            raise ValueError(f"{source}: checkpoint version {header.get('version')} is not {CHECKPOINT_VERSION}")
        if potential is None:
            potential = PairPotential(kind=header["potential_kind"], table=a["table"],
                                      max_cutoff=header["potential_max_cutoff"],
                                      description=header["potential_description"])
        elif potential.kind != header["potential_kind"] or not np.array_equal(potential.table, a["table"]):
            raise ValueError(f"{source}: the given potential differs from the one the checkpoint was run with")
        dim = int(a["cell"].shape[0])
        frac = a["frac"]
        frame = Frame(positions=a["origin"] + frac[:, :dim] @ a["cell"], types=a["types"], cell=a["cell"],
                      origin=a["origin"], ids=a["ids"],
                      species=tuple(header["species"]) if header["species"] is not None else None,
                      unwrapped=a["unwrapped"][:, :dim], metadata=header["metadata"])
        mc = cls(frame, potential, header["temperature"], MoveSet.from_dict(header["moves"]), seed=header["seed"],
                 diameters=a["diameters"], cell_subdivision=header["cell_subdivision"],
                 # checkpoints from before the lists continue on the cell scan, bit for bit
                 neighbor_skin=header.get("neighbor_skin", 0.0))
        # exact state: fractional coordinates and list orders as saved (not recomputed from Cartesian)
        mc._frac = a["frac"].copy()
        mc._unwrapped = a["unwrapped"].copy()
        mc._cmem, mc._ccount, mc._cslot, mc._cof = (a["cmem"].copy(), a["ccount"].copy(), a["cslot"].copy(),
                                                    a["cof"].copy())
        mc._tmem, mc._tcount, mc._tslot = a["tmem"].copy(), a["tcount"].copy(), a["tslot"].copy()
        mc.attempts = a["attempts"].copy()
        mc.accepted = a["accepted"].copy()
        mc.chunk = int(header["chunk"])
        mc.sweeps_done = int(header["sweeps_done"])
        mc.energy = float(header["energy"])
        mc.max_drift = float(header["max_drift"])
        return mc

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the full chain state (npz, atomically) so that :meth:`load` continues it bit for bit."""
        path = Path(path)
        atomic_savez(path, **self.state_arrays())
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str], potential: PairPotential | None = None) -> "SwapMC":
        """Rebuild a chain from :meth:`save`; ``potential`` defaults to the stored kind and table."""
        with np.load(Path(path), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        return cls.from_state_arrays(arrays, potential=potential, source=str(path))
