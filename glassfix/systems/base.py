"""Machinery shared by the model glass formers: exact composition, box size, starting configurations.

Every system is a frozen dataclass exposing ``name``, ``dim``, ``species``, ``ratio`` (integer
composition weights, e.g. KA 4:1), ``fractions``, ``masses``, ``default_density`` and
``cutoff_style``. :class:`DiscreteMixture` turns those into

* ``counts(n)`` — exact integers per species (largest-remainder apportionment of ``n`` by ``ratio``,
  ties to the earlier species; for two species this is N_A = round(x_A N));
* ``box_length(n, density)`` — L = (n/ρ)^(1/d) of the square/cubic periodic box;
* ``initial_frame(n, density, seed)`` — an offline :class:`~glassfix.core.frame.Frame` on a
  simple-cubic/square grid (a random subset of m^d ≥ n sites) with the exact composition shuffled;
* ``initial_lammps_commands(n, density, seed)`` — LAMMPS commands that build a random configuration
  with the same composition (``create_atoms random`` + ``set type/subset``).

There are no physical parameters here; each system's module documents its own.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

import numpy as np

from glassfix.core.frame import Frame


def apportion(n: int, ratio: Sequence[int]) -> tuple[int, ...]:
    """Split ``n`` particles by integer weights ``ratio`` exactly (largest remainder, ties to earlier species)."""
    n = int(n)
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    w = [int(x) for x in ratio]
    if not w or min(w) < 0 or sum(w) == 0 or any(int(x) != x for x in ratio):
        raise ValueError(f"ratio must be non-negative integers with a positive sum, got {tuple(ratio)}")
    total = sum(w)
    # Integer arithmetic: quotas n·w/total are compared exactly, so 1290 by 20:11:12 gives 600/330/360.
    base = [n * x // total for x in w]
    rem = [n * x % total for x in w]
    left = n - sum(base)
    for k in sorted(range(len(w)), key=lambda k: (-rem[k], k))[:left]:
        base[k] += 1
    return tuple(base)


def cube_box_length(n: int, density: float, dim: int) -> float:
    """Edge L = (n/ρ)^(1/d) (σ_AA) of the periodic square (d = 2) or cube (d = 3) box."""
    if not (np.isfinite(density) and density > 0):
        raise ValueError(f"density must be positive and finite, got {density}")
    if int(n) < 1:
        raise ValueError(f"n must be positive, got {n}")
    return float((int(n) / float(density)) ** (1.0 / dim))


def grid_positions(n: int, length: float, dim: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct sites of the m^d grid (m^d ≥ n, a random subset when larger), spacing L/m, in [0, L)."""
    m = int(math.ceil(round(n ** (1.0 / dim), 9)))
    while m ** dim < n:
        m += 1
    grid = np.indices((m,) * dim).reshape(dim, -1).T.astype(np.float64)
    sites = grid if m ** dim == n else grid[np.sort(rng.choice(m ** dim, size=n, replace=False))]
    return (sites + 0.5) * (length / m)


def lammps_box_commands(dim: int, length: float, n_types: int, atom_style: str = "atomic") -> list[str]:
    """``units``/``dimension``/``atom_style``/``boundary``/``region``/``create_box`` for an L^d periodic box.

    2D boxes get z in [−0.5, 0.5] (LAMMPS puts 2D atoms at z = 0; remember ``fix enforce2d`` for MD).
    """
    if dim not in (2, 3):
        raise ValueError(f"dim must be 2 or 3, got {dim}")
    z = f"0 {length:.16g}" if dim == 3 else "-0.5 0.5"
    return [
        "units lj",
        f"dimension {dim}",
        f"atom_style {atom_style}",
        "boundary p p p",
        f"region box block 0 {length:.16g} 0 {length:.16g} {z}",
        f"create_box {n_types} box",
    ]


def system_metadata(system: Any, density: float) -> dict[str, Any]:
    """Frame metadata of a system's configuration: name, density, cutoff style and every dataclass field,
    so the exact system can be rebuilt from a stored frame (``glassfix.ensembles.plan.resolve_system``)."""
    meta: dict[str, Any] = {"system": system.name, "density": float(density), "cutoff_style": system.cutoff_style}
    if dataclasses.is_dataclass(system):
        meta.update({f.name: getattr(system, f.name) for f in dataclasses.fields(system) if f.init})
    return meta


class DiscreteMixture:
    """Mixin: composition, box and starting configurations of a discrete mixture (see module docstring)."""

    name: str
    dim: int
    species: tuple[str, ...]
    ratio: tuple[int, ...]
    default_density: float
    cutoff_style: str

    def counts(self, n: int) -> tuple[int, ...]:
        """Exact number of particles per species for ``n`` particles (largest remainder of ``ratio``)."""
        return apportion(n, self.ratio)

    def box_length(self, n: int, density: float | None = None) -> float:
        """Edge L (σ_AA) of the periodic square/cube holding ``n`` particles at ``density`` (default: the model's)."""
        return cube_box_length(n, self.default_density if density is None else density, self.dim)

    def _metadata(self, density: float) -> dict[str, Any]:
        return system_metadata(self, density)

    def lammps_header_commands(self) -> list[str]:
        """``units``/``dimension``/``atom_style``/``boundary`` — what must precede ``read_data`` of this system."""
        return ["units lj", f"dimension {self.dim}", "atom_style atomic", "boundary p p p"]

    def initial_frame(self, n: int, density: float | None = None, seed: int = 0) -> Frame:
        """Offline starting frame: ``n`` particles on a square/cubic grid at ``density`` with the exact
        composition (:meth:`counts`) shuffled over the sites; ids 1..n. Jitter or melt it before use."""
        rho = self.default_density if density is None else float(density)
        rng = np.random.default_rng(seed)
        counts = self.counts(n)
        L = self.box_length(n, rho)
        positions = grid_positions(int(n), L, self.dim, rng)
        types = np.concatenate([np.full(c, t, dtype=np.int64) for t, c in enumerate(counts)])
        rng.shuffle(types)
        return Frame(positions=positions, types=types, cell=np.eye(self.dim) * L, species=self.species,
                     metadata=self._metadata(rho))

    def initial_lammps_commands(self, n: int, density: float | None = None, seed: int = 12345,
                                overlap: float = 0.6, maxtry: int = 1000) -> list[str]:
        """Commands creating a periodic box with ``n`` random atoms and the exact composition.

        Atoms are inserted at random with minimum separation ``overlap`` (σ_AA), all as type 1; then
        N_2, N_3, … random type-1 atoms are switched to types 2, 3, … (``set type/subset``, seeds
        ``seed + 1``, ``seed + 2``, …). Forces are still large: minimise (or ``fix nve/limit``)
        before MD. :meth:`lammps_commands` (interactions) must follow. ``seed`` must be a positive
        integer (LAMMPS requirement).
        """
        seed = int(seed)
        if seed <= 0:
            raise ValueError(f"LAMMPS seeds must be positive integers, got {seed}")
        counts = self.counts(n)
        L = self.box_length(n, density)
        cmds = lammps_box_commands(self.dim, L, len(self.species))
        cmds.append(f"create_atoms 1 random {int(n)} {seed} box overlap {overlap:.16g} maxtry {int(maxtry)}")
        for t, c in enumerate(counts[1:], start=2):
            if c > 0:
                cmds.append(f"set type 1 type/subset {t} {c} {seed + t - 1}")
        return cmds
