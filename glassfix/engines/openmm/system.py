"""OpenMM Systems for the Lennard-Jones glass formers (KA 3D, Wahnström), exact per-pair cutoffs.

One ``CustomNonbondedForce`` per unordered species pair, restricted to that pair by an interaction
group, with the pair's own cutoff and the system's cutoff convention written out as an energy
expression (no switching function, no long-range correction): truncated, truncated-shifted,
force-shifted (``lj/smooth/linear``) and ``lj/smooth``. One force per pair measured ≈ 3.5× faster on
the CPU platform than one force with tabulated ε/σ and the largest cutoff (DESIGN.md §10), and it is
exact for species-dependent cutoffs. Energies and forces equal the numba reference
(``glassfix.systems.potentials``) to double-precision round-off on the Reference platform.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from glassfix.core.frame import Frame

__all__ = ["build_system", "make_simulation", "best_platform", "kelvin", "KB_KJ_PER_MOL_K"]

#: Boltzmann constant in kJ/mol/K (OpenMM's MOLAR_GAS_CONSTANT_R): T[K] = T* ε[kJ/mol] / KB
KB_KJ_PER_MOL_K = 0.00831446261815324


def _mm():
    try:
        import openmm
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("the OpenMM engine needs openmm: pip install 'glassfix[openmm]' (openmm==8.6.1)") from exc
    return openmm


def kelvin(t_reduced: float) -> float:
    """OpenMM temperature (K) of a reduced temperature T* = k_B T / ε_AA with ε_AA = 1 kJ/mol."""
    return float(t_reduced) / KB_KJ_PER_MOL_K


def _g(v: float) -> str:
    return f"({float(v):.17g})"


def pair_expression(system: Any, a: int, b: int) -> tuple[str, float]:
    """(OpenMM energy expression in r, cutoff) of species pair (a, b) for an LJ mixture's cutoff style."""
    from glassfix.systems.lj import _lj, _lj_force, smooth_force_coefficients

    eps = float(system.epsilon_matrix()[a, b])
    sig = float(system.sigma_matrix()[a, b])
    rc = float(system.cutoff_matrix()[a, b])
    lj = f"4*{_g(eps)}*(({_g(sig)}/r)^12-({_g(sig)}/r)^6)"
    style = system.cutoff_style
    if style == "truncated":
        return lj, rc
    if style == "truncated-shifted":
        return f"{lj}-{_g(_lj(np.float64(rc), eps, sig))}", rc
    if style == "lj/smooth/linear":
        return (f"{lj}-{_g(_lj(np.float64(rc), eps, sig))}+(r-{_g(rc)})*{_g(_lj_force(np.float64(rc), eps, sig))}",
                rc)
    if style == "lj/smooth":
        rin = float(system.inner_matrix()[a, b])
        c = smooth_force_coefficients(rin, rc, eps, sig)
        tc = rc - rin
        prim_tc = c[0] * tc + c[1] * tc ** 2 / 2 + c[2] * tc ** 3 / 3 + c[3] * tc ** 4 / 4
        t = f"(r-{_g(rin)})"
        prim_t = f"({_g(c[0])}*{t}+{_g(c[1] / 2)}*{t}^2+{_g(c[2] / 3)}*{t}^3+{_g(c[3] / 4)}*{t}^4)"
        # E = ∫_r^rc F: the cubic force beyond r_in, LJ shifted to join it below
        inside = f"{lj}-{_g(_lj(np.float64(rin), eps, sig))}+{_g(prim_tc)}"
        return f"select(step(r-{_g(rin)}), {_g(prim_tc)}-{prim_t}, {inside})", rc
    raise ValueError(f"cutoff style {style!r} has no OpenMM expression")


def build_system(system: Any, frame: Frame):
    """``openmm.System`` of an LJ glass former for ``frame`` (types 0-based in the system's species order;
    cell rows = box vectors in σ, restricted triclinic as LAMMPS). Lengths σ → nm, energies ε → kJ/mol."""
    mm = _mm()
    from glassfix.systems.lj import LJMixture

    if not isinstance(system, LJMixture):
        raise ValueError(f"OpenMM Systems exist for the Lennard-Jones mixtures (KA, Wahnström); got "
                         f"{type(system).__name__}")
    if frame.dim != 3 or system.dim != 3:
        raise ValueError("OpenMM simulates three dimensions; use the LAMMPS engine for 2D systems")
    types = np.asarray(frame.types, dtype=np.int64)
    nt = len(system.species)
    if types.size and (types.min() < 0 or types.max() >= nt):
        raise ValueError(f"frame types must be 0..{nt - 1} for {system.name}, got {types.min()}..{types.max()}")
    cell = np.asarray(frame.cell, dtype=np.float64)
    if not (cell[0, 1] == cell[0, 2] == cell[1, 2] == 0.0):
        raise ValueError("the cell must be restricted triclinic (a along x, b in the xy plane), as in LAMMPS")
    half = 0.5 * min(cell[0, 0], cell[1, 1], cell[2, 2])
    if system.max_cutoff >= half:
        raise ValueError(f"the largest pair cutoff {system.max_cutoff:g} must be below half the box width "
                         f"({half:g}); use more particles")
    out = mm.System()
    Vec3 = mm.Vec3
    out.setDefaultPeriodicBoxVectors(*(Vec3(*map(float, cell[k])) for k in range(3)))
    masses = np.asarray(system.masses, dtype=np.float64)
    for t in types:
        out.addParticle(float(masses[t]))
    members = [np.flatnonzero(types == t).tolist() for t in range(nt)]
    for a in range(nt):
        for b in range(a, nt):
            if not members[a] or not members[b]:
                continue
            expr, rc = pair_expression(system, a, b)
            force = mm.CustomNonbondedForce(expr)
            force.setName(f"pair {system.species[a]}-{system.species[b]}")
            force.setNonbondedMethod(mm.CustomNonbondedForce.CutoffPeriodic)
            force.setCutoffDistance(rc)
            force.setUseSwitchingFunction(False)
            force.setUseLongRangeCorrection(False)
            for _ in range(types.size):
                force.addParticle([])
            force.addInteractionGroup(members[a], members[b])
            out.addForce(force)
    return out


def best_platform(name: str | None = None):
    """The named OpenMM platform, else CUDA when available, else CPU."""
    mm = _mm()
    names = [mm.Platform.getPlatform(i).getName() for i in range(mm.Platform.getNumPlatforms())]
    if name is not None:
        if name not in names:
            raise ValueError(f"OpenMM platform {name!r} is not available here (have {', '.join(names)})")
        return mm.Platform.getPlatformByName(name)
    for pick in ("CUDA", "CPU", "Reference"):
        if pick in names:
            return mm.Platform.getPlatformByName(pick)
    raise RuntimeError("no OpenMM platform found")


def make_simulation(system: Any, frame: Frame, integrator=None, dt: float = 0.005, temperature: float | None = None,
                    friction: float = 1.0, platform: str | None = None, seed: int = 0,
                    properties: dict[str, str] | None = None, reporters: Sequence[Any] = ()):
    """``openmm.app.Simulation`` of ``frame``: NVE (Verlet, ``dt`` in τ) or, with ``temperature`` (reduced),
    Langevin (``friction`` in 1/τ); velocities from ``frame.velocities`` (σ/τ) if present, else
    Maxwell–Boltzmann at ``temperature`` when given."""
    mm = _mm()
    from openmm import app

    omm_system = build_system(system, frame)
    if integrator is None:
        if temperature is None:
            integrator = mm.VerletIntegrator(dt)
        else:
            integrator = mm.LangevinMiddleIntegrator(kelvin(temperature), friction, dt)
            integrator.setRandomNumberSeed(int(seed))
    top = app.Topology()
    chain = top.addChain()
    res = top.addResidue("GLS", chain)
    for t in frame.types:
        top.addAtom(str(system.species[int(t)]), None, res)
    top.setPeriodicBoxVectors([mm.Vec3(*map(float, frame.cell[k])) for k in range(3)])
    sim = app.Simulation(top, omm_system, integrator, best_platform(platform), properties or {})
    sim.context.setPositions(np.asarray(frame.positions, dtype=np.float64))
    if frame.velocities is not None:
        sim.context.setVelocities(np.asarray(frame.velocities, dtype=np.float64))
    elif temperature is not None:
        sim.context.setVelocitiesToTemperature(kelvin(temperature), int(seed) or 1)
    sim.currentStep = int(frame.step or 0)
    sim.reporters.extend(reporters)
    return sim
