"""The Kremer–Grest bead-spring polymer glass former (FENE bonds + shifted LJ).

Sources: K. Kremer and G. S. Grest, J. Chem. Phys. 92, 5057 (1990) (FENE k = 30 ε/σ², R0 = 1.5 σ);
the glass-forming variant with attractive LJ cut at 2.25 σ (≈ 2 · 2^(1/6) σ, C. Bennemann et al.,
PRE 57, 843 (1998)) as used by the ACE paper (``shared/science/000_ace.md`` §1.1: chains of 20,
"simple shifted LJ truncated at r = 2.25", ρ ≈ 1.04 after an NPT quench at p = 1, T = 0.47):

    non-bonded   V_LJ(r) = 4ε[(σ/r)^12 − (σ/r)^6] − V_LJ(r_c),  r < r_c = 2.25 σ  (ε = σ = 1)
    bonds        V_FENE(r) = −½ k R0² ln(1 − (r/R0)²) + 4ε[(σ/r)^12 − (σ/r)^6] + ε  (last terms r < 2^(1/6) σ)
                 k = 30, R0 = 1.5
    exclusions   bonded (1-2) pairs have no non-bonded term; 1-3 and 1-4 pairs have the full one
                 (LAMMPS ``special_bonds fene`` = lj 0 1 1) — the Kremer–Grest convention; whether the
                 ACE paper excludes them is unspecified, and Bennemann's model keeps LJ between all
                 monomers (set ``special_lj12=1`` to get that).
    masses       all 1; one monomer type; chains of ``chain_length`` = 20; default density 1.04
                 (ACE paper; the classic KG melt is 0.85).

LAMMPS: ``atom_style bond``, ``pair_style lj/cut 2.25`` + ``pair_modify shift yes``, ``bond_style fene``,
``special_bonds fene``. LAMMPS' FENE warns and clamps the logarithm for r > √0.9 R0; the numba reference
(:func:`glassfix.systems.potentials.energy_forces` with ``bonds``) uses the exact formula and refuses
r ≥ R0.

Starting configurations (:meth:`KremerGrest.build_chains`): random walks with bond length
``bond_length`` = 0.97 σ (the KG equilibrium bond length) and no immediate reversals (|r_i − r_{i−2}| >
1.02 σ), then a soft push-off: steepest descent on harmonic soft spheres of diameter
``pushoff_diameter`` = 0.9 σ plus harmonic bonds at 0.97 σ until every non-bonded pair is ≥ 0.85 σ
apart and every bond within 0.05 σ of 0.97 (an overdamped stand-in for LAMMPS' ``pair_style soft``
ramp). The result still needs a short minimisation / ``fix nve/limit`` run with the real potential.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numba import njit

from glassfix.core.atomic import atomic_write_text
from glassfix.core.frame import Frame
from glassfix.systems.base import cube_box_length, system_metadata
from glassfix.systems.potentials import EnergyForces, FENEBond, PairPotential, energy_forces, lj_potential

__all__ = ["KremerGrest"]

POLYMER_CUTOFF_STYLES = ("truncated-shifted", "truncated")


@njit(cache=True)
def _random_walks(n_chains, chain_length, start, dirs, b0, min_back):
    """Unwrapped random-walk positions; a step is redrawn while it comes within min_back of bead i−2."""
    n = n_chains * chain_length
    pos = np.zeros((n, 3))
    k = 0  # index into the pool of random unit vectors
    n_dirs = dirs.shape[0]
    for c in range(n_chains):
        base = c * chain_length
        for a in range(3):
            pos[base, a] = start[c, a]
        for m in range(1, chain_length):
            i = base + m
            for _ in range(1000):
                for a in range(3):
                    pos[i, a] = pos[i - 1, a] + b0 * dirs[k % n_dirs, a]
                k += 1
                if m < 2:
                    break
                d2 = 0.0
                for a in range(3):
                    d2 += (pos[i, a] - pos[i - 2, a]) ** 2
                if d2 > min_back * min_back:
                    break
    return pos


@njit(cache=True)
def _pushoff_forces(pos, centers, offsets, neighbors, shifts, partner_a, partner_b, bonds, d, b0, k_bond,
                    force):
    """Soft-sphere (k = 1, diameter d, bonded pairs excluded) + harmonic-bond forces; returns max bond error."""
    n = pos.shape[0]
    for i in range(n):
        for a in range(3):
            force[i, a] = 0.0
    for c in range(centers.shape[0]):
        i = centers[c]
        for p in range(offsets[c], offsets[c + 1]):
            j = neighbors[p]
            if j <= i or j == partner_a[i] or j == partner_b[i]:
                continue
            r2 = 0.0
            for a in range(3):
                r2 += (pos[j, a] + shifts[p, a] - pos[i, a]) ** 2
            if r2 < d * d:
                r = math.sqrt(r2)
                f = (d - r) / max(r, 1e-12)
                for a in range(3):
                    v = pos[j, a] + shifts[p, a] - pos[i, a]
                    force[i, a] -= f * v
                    force[j, a] += f * v
    berr = 0.0
    for b in range(bonds.shape[0]):
        i = bonds[b, 0]
        j = bonds[b, 1]
        r2 = 0.0
        for a in range(3):
            r2 += (pos[j, a] - pos[i, a]) ** 2
        r = math.sqrt(r2)
        berr = max(berr, abs(r - b0))
        f = k_bond * (r - b0) / r  # a stretched bond pulls i towards j
        for a in range(3):
            force[i, a] += f * (pos[j, a] - pos[i, a])
            force[j, a] -= f * (pos[j, a] - pos[i, a])
    return berr


@njit(cache=True)
def _fire(pos, vel, ref, centers, offsets, neighbors, shifts, partner_a, partner_b, bonds, d, b0, k_bond,
          state, max_iter, max_disp):
    """FIRE minimisation (Bitzek et al., PRL 97, 170201 (2006)) of the push-off energy.

    Runs until ``max_iter`` steps or until some atom moved ``max_disp`` from ``ref`` (neighbour list
    stale). ``state`` = [dt, alpha, steps since P < 0] persists between calls. Returns (steps, max
    bond error) of the last force evaluation.
    """
    n = pos.shape[0]
    force = np.zeros((n, 3))
    berr = _pushoff_forces(pos, centers, offsets, neighbors, shifts, partner_a, partner_b, bonds, d, b0,
                           k_bond, force)
    dt, alpha, npos = state[0], state[1], state[2]
    it = 0
    while it < max_iter:
        it += 1
        # velocity Verlet with unit masses
        for i in range(n):
            for a in range(3):
                vel[i, a] += 0.5 * dt * force[i, a]
                pos[i, a] += dt * vel[i, a]
        berr = _pushoff_forces(pos, centers, offsets, neighbors, shifts, partner_a, partner_b, bonds, d, b0,
                               k_bond, force)
        p = 0.0
        vn = 0.0
        fn = 0.0
        for i in range(n):
            for a in range(3):
                vel[i, a] += 0.5 * dt * force[i, a]
                p += vel[i, a] * force[i, a]
                vn += vel[i, a] ** 2
                fn += force[i, a] ** 2
        vn = math.sqrt(vn)
        fn = math.sqrt(fn)
        if p > 0.0:
            if fn > 0.0:
                for i in range(n):
                    for a in range(3):
                        vel[i, a] = (1.0 - alpha) * vel[i, a] + alpha * force[i, a] * vn / fn
            npos += 1
            if npos > 5:
                dt = min(dt * 1.1, 0.2)
                alpha *= 0.99
        else:
            npos = 0
            dt *= 0.5
            alpha = 0.1
            for i in range(n):
                for a in range(3):
                    vel[i, a] = 0.0
        dmax = 0.0
        for i in range(n):
            s = 0.0
            for a in range(3):
                s += (pos[i, a] - ref[i, a]) ** 2
            dmax = max(dmax, s)
        if math.sqrt(dmax) > max_disp:
            break
    state[0], state[1], state[2] = dt, alpha, npos
    return it, berr


@njit(cache=True)
def _min_pair_distance(pos, centers, offsets, neighbors, shifts, bonded_partner_a, bonded_partner_b):
    rmin = 1e300
    for c in range(centers.shape[0]):
        i = centers[c]
        for p in range(offsets[c], offsets[c + 1]):
            j = neighbors[p]
            if j == bonded_partner_a[i] or j == bonded_partner_b[i]:
                continue
            r2 = 0.0
            for a in range(3):
                r2 += (pos[j, a] + shifts[p, a] - pos[i, a]) ** 2
            rmin = min(rmin, math.sqrt(r2))
    return rmin


@dataclass(frozen=True)
class KremerGrest:
    """Kremer–Grest bead-spring polymer; see the module docstring for parameters and sources.

    ``chain_length`` (beads per chain), ``fene_k`` (ε/σ²), ``fene_r0`` (σ), ``lj_cutoff`` (σ),
    ``cutoff_style`` (``"truncated-shifted"`` or ``"truncated"``), ``special_lj12`` (weight of the
    non-bonded term between bonded beads; 0 = ``special_bonds fene``), ``bond_length`` (σ, builder).
    """

    chain_length: int = 20
    fene_k: float = 30.0
    fene_r0: float = 1.5
    lj_cutoff: float = 2.25
    cutoff_style: str = "truncated-shifted"
    special_lj12: float = 0.0
    bond_length: float = 0.97
    pushoff_diameter: float = 0.9

    name = "kremergrest"
    dim = 3
    species = ("M",)
    ratio = (1,)
    fractions = (1.0,)
    masses = (1.0,)
    epsilon = ((1.0,),)
    sigma = ((1.0,),)
    default_density = 1.04

    def __post_init__(self) -> None:
        if int(self.chain_length) != self.chain_length or self.chain_length < 2:
            raise ValueError(f"chain_length must be an integer >= 2, got {self.chain_length}")
        if self.cutoff_style not in POLYMER_CUTOFF_STYLES:
            raise ValueError(f"cutoff_style must be one of {POLYMER_CUTOFF_STYLES}, got {self.cutoff_style!r}")
        if not self.lj_cutoff > 0:
            raise ValueError(f"lj_cutoff must be positive, got {self.lj_cutoff}")
        if not 0 < self.bond_length < self.fene_r0:
            raise ValueError(f"bond_length must lie in (0, R0={self.fene_r0}), got {self.bond_length}")
        if not 0 < self.pushoff_diameter < 2 * self.bond_length:
            raise ValueError(f"pushoff_diameter must lie in (0, 2·bond_length), got {self.pushoff_diameter}")
        if not 0.0 <= self.special_lj12 <= 1.0:
            raise ValueError(f"special_lj12 must lie in [0, 1], got {self.special_lj12}")
        FENEBond(self.fene_k, self.fene_r0)  # validates k and R0

    # ------------------------------------------------------------------ potential
    @property
    def max_cutoff(self) -> float:
        """Non-bonded cutoff (σ)."""
        return float(self.lj_cutoff)

    def potential(self) -> PairPotential:
        """The numba non-bonded :class:`~glassfix.systems.potentials.PairPotential` (shifted LJ at 2.25)."""
        style = "shifted" if self.cutoff_style == "truncated-shifted" else "truncated"
        return lj_potential([[1.0]], [[1.0]], [[self.lj_cutoff]], style=style)

    def bond(self) -> FENEBond:
        """The FENE bond parameters (k, R0, ε = σ = 1)."""
        return FENEBond(k=self.fene_k, r0=self.fene_r0, epsilon=1.0, sigma=1.0)

    def energy_forces(self, frame: Frame) -> EnergyForces:
        """Numba energy (ε), forces and virial of a polymer frame (bonds from ``frame.metadata["bonds"]``)."""
        if "bonds" not in frame.metadata:
            raise ValueError("polymer frame has no metadata['bonds'] ((M, 2) 0-based atom indices)")
        return energy_forces(frame, self.potential(), bonds=frame.metadata["bonds"], bond=self.bond(),
                             special_lj12=self.special_lj12)

    def lammps_header_commands(self) -> list[str]:
        """``units``/``dimension``/``atom_style bond``/``boundary`` — what must precede ``read_data``."""
        return ["units lj", "dimension 3", "atom_style bond", "boundary p p p"]

    def lammps_commands(self) -> list[str]:
        """pair/bond/special_bonds/mass commands; issue after ``read_data`` of a bond-style data file."""
        cmds = [f"pair_style lj/cut {self.lj_cutoff:.16g}",
                f"pair_coeff 1 1 1.0 1.0 {self.lj_cutoff:.16g}"]
        if self.cutoff_style == "truncated-shifted":
            cmds.append("pair_modify shift yes")
        cmds += ["bond_style fene",
                 f"bond_coeff 1 {self.fene_k:.16g} {self.fene_r0:.16g} 1.0 1.0",
                 # fene = lj 0 1 1: no LJ between bonded beads, full LJ for 1-3 and 1-4
                 "special_bonds fene" if self.special_lj12 == 0.0
                 else f"special_bonds lj {self.special_lj12:.16g} 1.0 1.0 coul 0.0 1.0 1.0",
                 "mass 1 1.0"]
        return cmds

    # ------------------------------------------------------------------ composition and box
    def counts(self, n: int) -> tuple[int]:
        """(n,) — one monomer species; ``n`` must be a positive multiple of ``chain_length``."""
        n = int(n)
        if n < 1 or n % self.chain_length:
            raise ValueError(f"n must be a positive multiple of chain_length={self.chain_length}, got {n}")
        return (n,)

    def n_chains(self, n: int) -> int:
        """Number of chains for ``n`` beads."""
        return self.counts(n)[0] // self.chain_length

    def box_length(self, n: int, density: float | None = None) -> float:
        """Edge L = (n/ρ)^(1/3) (σ) of the cubic box (default ρ = 1.04)."""
        return cube_box_length(n, self.default_density if density is None else density, 3)

    def bonds(self, n: int) -> np.ndarray:
        """(M, 2) 0-based bonded pairs (i, i+1) of linear chains laid out chain after chain."""
        nc = self.n_chains(n)
        first = (np.arange(nc)[:, None] * self.chain_length + np.arange(self.chain_length - 1)[None, :]).ravel()
        return np.stack([first, first + 1], axis=1).astype(np.int64)

    # ------------------------------------------------------------------ builder
    def build_chains(self, n: int, density: float | None = None, seed: int = 0,
                     min_distance: float = 0.85, bond_tolerance: float = 0.05,
                     max_steps: int = 20000) -> Frame:
        """Random-walk chains with overlaps pushed off (see module docstring); ``n`` beads at ``density``.

        Returns a Frame with wrapped ``positions``, ``unwrapped`` positions, ``metadata["bonds"]`` (M, 2)
        and ``metadata["molecules"]`` (1-based chain ids). Raises RuntimeError if the push-off does not
        reach ``min_distance`` / ``bond_tolerance`` (σ) within ``max_steps``.
        """
        from glassfix.core.neighbors import neighbor_list

        if not 0 < min_distance <= self.pushoff_diameter:
            # soft spheres of diameter d relax to pair distances ≥ d at best, never beyond
            raise ValueError(f"min_distance must lie in (0, pushoff_diameter={self.pushoff_diameter}], "
                             f"got {min_distance}")
        rho = self.default_density if density is None else float(density)
        nc = self.n_chains(n)
        L = self.box_length(n, rho)
        rng = np.random.default_rng(seed)
        start = rng.uniform(0.0, L, size=(nc, 3))
        dirs = rng.normal(size=(4 * n + 64, 3))
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        pos = _random_walks(nc, int(self.chain_length), start, dirs, self.bond_length, 1.02)
        bonds = self.bonds(n)
        partner_a = np.full(n, -1, dtype=np.int64)
        partner_b = np.full(n, -1, dtype=np.int64)
        partner_a[bonds[:, 1]] = bonds[:, 0]
        partner_b[bonds[:, 0]] = bonds[:, 1]
        cell = np.eye(3) * L
        d = float(self.pushoff_diameter)
        skin = 0.3
        vel = np.zeros_like(pos)
        state = np.array([0.02, 0.1, 0.0])
        steps = 0
        rmin, berr = 0.0, np.inf
        while steps < max_steps:
            nl = neighbor_list(Frame(positions=pos, types=np.zeros(n, dtype=np.int64), cell=cell),
                               max(d, min_distance) + skin)
            # periodic image shift of every listed pair, so the kernels never apply minimum images
            shifts = nl.vectors - (pos[nl.neighbors] - pos[np.repeat(nl.centers, nl.counts())])
            rmin = _min_pair_distance(pos, nl.centers, nl.offsets, nl.neighbors, shifts, partner_a, partner_b)
            if rmin >= min_distance and berr <= bond_tolerance:
                break
            # check convergence every 50 steps; rebuild the list once an atom moved half the skin
            it, berr = _fire(pos, vel, pos.copy(), nl.centers, nl.offsets, nl.neighbors, shifts, partner_a,
                             partner_b, bonds, d, self.bond_length, 10.0, state, 50, 0.5 * skin)
            steps += it
        else:
            raise RuntimeError(f"chain push-off did not converge in {max_steps} steps (min non-bonded distance "
                               f"{rmin:.3f} vs {min_distance}, bond error {berr:.3f} vs {bond_tolerance})")
        frac = pos / L
        images = np.floor(frac)
        wrapped = (frac - images) * L
        molecules = np.repeat(np.arange(1, nc + 1), self.chain_length).astype(np.int64)
        return Frame(positions=wrapped, types=np.zeros(n, dtype=np.int64), cell=cell, species=self.species,
                     unwrapped=pos.copy(),
                     metadata={**system_metadata(self, rho), "bonds": bonds, "molecules": molecules})

    def initial_frame(self, n: int, density: float | None = None, seed: int = 0) -> Frame:
        """Offline starting frame: :meth:`build_chains` with default tolerances."""
        return self.build_chains(n, density, seed)

    def write_data(self, frame: Frame, path: str | os.PathLike[str]) -> Path:
        """Write a LAMMPS ``atom_style bond`` data file (atoms with molecule ids and image flags, bonds)."""
        path = Path(path)
        if "bonds" not in frame.metadata:
            raise ValueError("polymer frame has no metadata['bonds']")
        bonds = np.asarray(frame.metadata["bonds"], dtype=np.int64)
        n = frame.n_atoms
        mol = np.asarray(frame.metadata.get("molecules", np.ones(n, dtype=np.int64)), dtype=np.int64)
        if not np.allclose(frame.cell, np.diag(np.diag(frame.cell))):
            raise ValueError("write_data supports orthogonal boxes only")
        lo = frame.origin
        hi = lo + np.diag(frame.cell)
        if frame.unwrapped is not None:
            images = np.floor((frame.unwrapped - lo) / np.diag(frame.cell)).astype(np.int64)
            x = frame.unwrapped - images * np.diag(frame.cell)
        else:
            images = np.zeros((n, 3), dtype=np.int64)
            x = frame.positions
        out = [f"LAMMPS data file: Kremer-Grest chains (glassfix), chain length {self.chain_length}\n\n",
               f"{n} atoms\n{len(bonds)} bonds\n1 atom types\n1 bond types\n\n"]
        for a, name in enumerate("xyz"):
            out.append(f"{lo[a]:.17g} {hi[a]:.17g} {name}lo {name}hi\n")
        out.append("\nMasses\n\n1 1.0\n\nAtoms # bond\n\n")
        out.extend(f"{frame.ids[i]} {mol[i]} {frame.types[i] + 1} {x[i, 0]:.17g} {x[i, 1]:.17g} {x[i, 2]:.17g} "
                   f"{images[i, 0]} {images[i, 1]} {images[i, 2]}\n" for i in range(n))
        out.append("\nBonds\n\n")
        out.extend(f"{k + 1} 1 {frame.ids[b[0]]} {frame.ids[b[1]]}\n" for k, b in enumerate(bonds))
        atomic_write_text(path, "".join(out))
        return path

    def initial_lammps_commands(self, n: int, density: float | None = None, seed: int = 0,
                                data_path: str | os.PathLike[str] | None = None) -> list[str]:
        """Build chains offline (:meth:`build_chains`), write them to ``data_path`` (default
        ``kremergrest_N{n}_rho{ρ}_seed{seed}.data`` in the current directory) and return the commands that
        read them (``units``/``atom_style bond``/``read_data``); :meth:`lammps_commands` must follow."""
        if data_path is None:
            # one name per (N, ρ, seed): concurrent runs of the same start write identical files
            rho = self.default_density if density is None else float(density)
            data_path = f"{self.name}_N{int(n)}_rho{rho:g}_seed{int(seed)}.data"
        path = self.write_data(self.build_chains(n, density, seed), data_path).resolve()
        if any(c.isspace() for c in str(path)):
            raise ValueError(f"LAMMPS cannot read a data path containing whitespace: {path}")
        return self.lammps_header_commands() + [f"read_data {path}"]
