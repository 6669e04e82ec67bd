"""One isoconfigurational replica: a fresh single-rank LAMMPS run of a stored configuration (the worker).

:func:`run_replica` is a pure function of a :class:`ReplicaTask` (plain arrays, the system's LAMMPS
commands, T, a velocity seed, the step grid and dt): one in-process LAMMPS instance on one MPI rank
(``MPI_COMM_SELF``), Maxwell–Boltzmann velocities from :func:`maxwell_boltzmann` (total momentum removed;
by default rescaled so the kinetic temperature with d·N − d degrees of freedom is exactly T, as LAMMPS
``velocity create`` does), NVE velocity Verlet, and the unwrapped positions read at the grid steps with
``run N pre no post no`` chunks (the trajectory is that of one long run). LAMMPS on one rank is
deterministic, so the result depends on the task only, never on the executor or the number of workers.
Velocity seeds are derived from (base seed, frame key, replica index) by SHA-256 (:func:`replica_seed`),
so any subset of replicas can be (re)computed alone.

This module is the worker's import path and must stay light: numpy and the LAMMPS session only, no
numba (``glassfix.core.neighbors``) or h5py (``glassfix.data.store``) at import or run time
(``tests/integration/test_ensembles.py::test_replica_worker_stays_light``).

Units: LJ reduced units of the system (lengths σ_AA, times τ, velocities σ/τ, temperatures ε_AA/k_B).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.seeds import seed_from_text

if TYPE_CHECKING:
    from ..core.frame import Frame

__all__ = ["replica_seed", "maxwell_boltzmann", "SystemSpec", "ReplicaTask", "ReplicaResult", "run_replica",
           "make_liquid_frame"]


def replica_seed(base_seed: int, frame_key: str, replica: int) -> int:
    """Velocity seed of replica ``replica`` of frame ``frame_key``: first 8 bytes of
    SHA-256(``"glassfix-iso|<base_seed>|<frame_key>|<replica>"``) as an int < 2**63 (dimensionless)."""
    return seed_from_text(f"glassfix-iso|{int(base_seed)}|{frame_key}|{int(replica)}", 8) >> 1


def maxwell_boltzmann(masses: np.ndarray, temperature: float, dim: int, seed: int,
                      rescale: bool = True) -> np.ndarray:
    """Maxwell–Boltzmann velocities (N, dim) in σ/τ at ``temperature`` (ε/k_B) for per-atom ``masses``.

    Drawn with ``numpy.random.default_rng(seed)``; the total momentum is removed, and with ``rescale``
    the velocities are scaled so that Σ m v² / (d·N − d) = T exactly (the temperature LAMMPS' ``compute
    temp`` reports). Without ``rescale`` the kinetic temperature fluctuates as in the canonical ensemble.
    """
    m = np.asarray(masses, dtype=np.float64)
    if m.ndim != 1 or (m <= 0).any():
        raise ValueError("masses must be a 1-D array of positive per-atom masses")
    if not (temperature > 0 and math.isfinite(temperature)):
        raise ValueError(f"temperature must be positive (ε/k_B), got {temperature}")
    n = m.shape[0]
    if n < 2:
        raise ValueError("need at least 2 atoms (one is all centre of mass)")
    rng = np.random.default_rng(int(seed))
    v = rng.standard_normal((n, int(dim))) * np.sqrt(temperature / m)[:, None]
    v -= (m[:, None] * v).sum(axis=0) / m.sum()
    if rescale:
        t_now = float((m[:, None] * v * v).sum()) / (dim * n - dim)
        v *= math.sqrt(temperature / t_now)
    return v


@dataclass(frozen=True)
class SystemSpec:
    """Plain, picklable description of a model system: what a worker needs to rebuild the interactions."""

    name: str
    dim: int
    n_types: int
    masses: tuple[float, ...]
    commands: tuple[str, ...]

    @classmethod
    def from_system(cls, system: Any) -> "SystemSpec":
        """From a duck-typed system (``name``, ``dim``, ``species``, ``masses``, ``lammps_commands()``)."""
        missing = [a for a in ("name", "dim", "species", "masses", "lammps_commands") if not hasattr(system, a)]
        if missing:
            raise TypeError(f"{system!r} is not a glassfix system: missing {missing}")
        masses = tuple(float(x) for x in system.masses)
        if len(masses) != len(system.species):
            raise ValueError(f"system {system.name}: {len(masses)} masses for {len(system.species)} species")
        return cls(str(system.name), int(system.dim), len(system.species), masses,
                   tuple(str(c) for c in system.lammps_commands()))

    def fingerprint(self) -> str:
        """SHA-256 of the canonical JSON of the spec (hex)."""
        text = json.dumps(dataclasses.asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class ReplicaTask:
    """One replica run: the starting configuration (rows = atoms; ``types`` 0-based), the system, T (ε/k_B),
    the velocity ``seed``, snapshot ``steps`` (strictly increasing), ``dt`` (τ) and the velocity ``rescale``
    flag. ``frame_key``/``replica`` only label the result."""

    frame_key: str
    replica: int
    seed: int
    positions: np.ndarray
    types: np.ndarray
    cell: np.ndarray
    origin: np.ndarray
    system: SystemSpec
    temperature: float
    steps: tuple[int, ...]
    dt: float
    rescale: bool = True
    engine: str = "lammps"
    system_object: Any = None   # the glassfix system itself, for engine="openmm"


@dataclass
class ReplicaResult:
    """Unwrapped positions (n_times, N, d) at the task's steps, consistent with the task's positions
    (``positions[k] − task.positions`` is the displacement), plus wall time (s) and atom-steps done."""

    frame_key: str
    replica: int
    positions: np.ndarray
    wall: float
    atom_steps: int
    worker: str


def _lammps_instance(lammps_mod: Any) -> Any:
    """A single-rank LAMMPS instance (the raw ``lammps`` object of a :class:`LammpsSession`)."""
    from ..engines.lammps.session import LammpsSession, single_rank_comm

    return LammpsSession(comm=single_rank_comm(), lammps_module=lammps_mod).lmp


def _setup_lammps(lmp: Any, positions: np.ndarray, types: np.ndarray, cell: np.ndarray, origin: np.ndarray,
                  system: SystemSpec) -> np.ndarray:
    """Create the box, atoms (ids 1..N in row order) and interactions; returns the wrapped positions (N, d)."""
    n, d = positions.shape
    if d != system.dim:
        raise ValueError(f"frame is {d}D but system {system.name} is {system.dim}D")
    if n and (types.min() < 0 or types.max() >= system.n_types):
        raise ValueError(f"frame types span {int(types.min())}..{int(types.max())} but system {system.name} "
                         f"has {system.n_types} species (0-based types 0..{system.n_types - 1})")
    from ..engines.lammps.session import box_commands

    commands = box_commands(cell, origin, system.n_types)  # validates the cell before anything is created
    wrapped = _wrap(positions, cell, origin)  # LAMMPS drops atoms created outside the box
    lmp.commands_list(commands)
    x3 = np.zeros((n, 3))
    x3[:, :d] = wrapped
    created = lmp.create_atoms(n, list(range(1, n + 1)), [int(t) + 1 for t in types], x3.ravel().tolist())
    if created != n:
        raise RuntimeError(f"LAMMPS created {created} of {n} atoms: positions must be finite and inside the "
                           f"periodic cell")
    lmp.commands_list(list(system.commands))
    if d == 2:
        lmp.command("fix glassfix_2d all enforce2d")
    return wrapped


def _wrap(positions: np.ndarray, cell: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """Positions mapped into the periodic cell through fractional coordinates in [0, 1)."""
    frac = np.linalg.solve(cell.T, (positions - origin).T).T
    frac -= np.floor(frac)
    frac[frac >= 1.0] = 0.0  # -tiny - floor(-tiny) rounds to exactly 1
    return origin + frac @ cell


def _local_state(lmp: Any, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids − 1, x (n, d), image flags (n, d)) of the atoms of this (single) rank, in LAMMPS' local order."""
    n = int(lmp.extract_global("nlocal"))
    ids = np.array(lmp.numpy.extract_atom("id")[:n], dtype=np.int64) - 1
    x = np.array(lmp.numpy.extract_atom("x")[:n, :d], dtype=np.float64)
    img = np.array(lmp.numpy.extract_atom("image")[:n], dtype=np.int64)
    bits = 10 if int(lmp.extract_setting("imageint")) == 4 else 21  # LAMMPS IMGBITS (smallbig vs bigbig)
    mask, half = (1 << bits) - 1, 1 << (bits - 1)
    flags = np.stack([(img & mask) - half, ((img >> bits) & mask) - half, ((img >> (2 * bits)) & mask) - half],
                     axis=1)[:, :d]
    return ids, x, flags


def run_replica(task: ReplicaTask) -> ReplicaResult:
    """Run one NVE replica in an in-process single-rank LAMMPS (``task.engine = "openmm"``: in OpenMM,
    :func:`glassfix.engines.openmm.replica.replica_positions`); returns positions at ``task.steps``.

    Deterministic: the same task gives bit-identical positions in any process (fresh LAMMPS instance,
    atoms created in row order, velocities from :func:`maxwell_boltzmann` with ``task.seed``).
    """
    from ..engines.lammps.runner import import_lammps

    t0 = time.perf_counter()
    pos0 = np.ascontiguousarray(task.positions, dtype=np.float64)
    types = np.asarray(task.types, dtype=np.int64)
    cell = np.asarray(task.cell, dtype=np.float64)
    n, d = pos0.shape
    steps = tuple(int(s) for s in task.steps)
    if not steps or steps[0] < 1 or any(b <= a for a, b in zip(steps, steps[1:])):
        raise ValueError(f"steps must be strictly increasing integers >= 1, got {list(steps)}")
    if task.engine == "openmm":
        from ..engines.openmm.replica import replica_positions

        if task.system_object is None:
            raise ValueError("an OpenMM replica task needs system_object (the glassfix system)")
        masses = np.asarray(task.system.masses, dtype=np.float64)[types]
        vel = maxwell_boltzmann(masses, float(task.temperature), d, task.seed, task.rescale)
        out = replica_positions(task.system_object, pos0, types, cell, vel, steps, float(task.dt))
        return ReplicaResult(task.frame_key, int(task.replica), out, time.perf_counter() - t0, n * steps[-1],
                             f"{socket.gethostname()}:{os.getpid()}")
    if task.engine != "lammps":
        raise ValueError(f"engine must be 'lammps' or 'openmm', got {task.engine!r}")
    lammps_mod = import_lammps()
    lmp = _lammps_instance(lammps_mod)
    try:
        if int(lmp.extract_setting("world_size")) != 1:
            raise RuntimeError("run_replica needs a single-rank LAMMPS instance")
        wrapped = _setup_lammps(lmp, pos0, types, cell, np.asarray(task.origin, dtype=np.float64), task.system)
        masses = np.asarray(task.system.masses, dtype=np.float64)[types]
        vel = maxwell_boltzmann(masses, float(task.temperature), d, task.seed, task.rescale)
        ids, _, _ = _local_state(lmp, d)
        v = lmp.numpy.extract_atom("v")
        v[: ids.shape[0], :d] = vel[ids]
        lmp.commands_list([f"timestep {float(task.dt)!r}", "fix glassfix_nve all nve",
                           "thermo_style custom step", "thermo 0"])
        out = np.empty((len(steps), n, d), dtype=np.float64)
        done = 0
        for k, s in enumerate(steps):
            # 'pre no' skips the re-setup between chunks, so the chunks are one continuous trajectory.
            lmp.command(f"run {s - done} post no" if k == 0 else f"run {s - done} pre no post no")
            done = s
            ids, x, flags = _local_state(lmp, d)
            disp = x - wrapped[ids] + flags.astype(np.float64) @ cell
            out[k, ids] = pos0[ids] + disp
        if not np.isfinite(out).all():
            raise RuntimeError(f"replica {task.replica} of {task.frame_key!r} produced non-finite positions "
                               f"(unstable run: check dt={task.dt} and the starting configuration)")
    finally:
        lmp.close()
    return ReplicaResult(task.frame_key, int(task.replica), out, time.perf_counter() - t0, n * steps[-1],
                         f"{socket.gethostname()}:{os.getpid()}")


def make_liquid_frame(system: Any, n_atoms: int, temperature: float, steps: int = 2000, dt: float = 0.005,
                      seed: int = 1, density: float | None = None) -> Frame:
    """A small equilibrated-ish liquid frame (for tests and benchmarks): the system's ``initial_frame``,
    energy-minimised, then ``steps`` of Langevin dynamics at ``temperature`` (damping 1 τ) in LAMMPS.

    Positions are wrapped into the cell; metadata carries the system name, T and the system's
    own metadata (e.g. ``cutoff_style``).
    """
    from ..core.frame import Frame
    from ..engines.lammps.runner import import_lammps

    if not hasattr(system, "initial_frame"):
        raise TypeError(f"system {getattr(system, 'name', system)!r} has no initial_frame(n, ...); build a frame "
                        f"with your own protocol")
    kw = {"seed": int(seed)}
    if density is not None:
        kw["density"] = float(density)
    fr0 = system.initial_frame(int(n_atoms), **kw)
    spec = SystemSpec.from_system(system)
    lmp = _lammps_instance(import_lammps())
    try:
        _setup_lammps(lmp, fr0.positions, fr0.types, fr0.cell, fr0.origin, spec)
        lmp.commands_list([
            "minimize 0 1e-8 2000 20000",
            f"velocity all create {float(temperature)!r} {int(seed) % 900000 + 1} mom yes dist gaussian",
            f"timestep {float(dt)!r}",
            "fix glassfix_nve all nve",
            f"fix glassfix_lang all langevin {float(temperature)!r} {float(temperature)!r} 1.0 "
            f"{int(seed) % 900000 + 7} zero yes",
            "thermo 0",
            f"run {int(steps)}",
        ])
        d = spec.dim
        ids, x, _ = _local_state(lmp, d)
        pos = np.empty_like(fr0.positions)
        pos[ids] = x
    finally:
        lmp.close()
    meta = {**fr0.metadata, "system": spec.name, "T": float(temperature)}
    return Frame(positions=_wrap(pos, fr0.cell, fr0.origin), types=fr0.types, cell=fr0.cell,
                 origin=fr0.origin, species=fr0.species, metadata=meta)
