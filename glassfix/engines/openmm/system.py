"""OpenMM Systems of every glassfix model glass former, exact per-pair cutoffs, linear cost in N.

KA 3D/2D, Wahnström (any ``cutoff_style``), JBB (2D), NBC polydisperse (per-particle diameters) and
Kremer–Grest (FENE bonds): one neighbour-listed ``CustomNonbondedForce`` per system with the per-pair
constants as polynomials of the particles' type parameters (:mod:`glassfix.engines.openmm.forces`; the
earlier one-force-per-pair design with interaction groups cost O(N²) per step on the CPU platform).
Energies and forces equal the numba reference (``glassfix.systems.potentials``) to double-precision
round-off on the Reference platform.

2D systems: OpenMM is 3D. Particles sit at z = 0 in a box whose third vector is (0, 0, 4 r_c) — no
periodic image in z is within the cutoff — and every in-plane pair has Δz = 0 exactly, so the z
component of every force is exactly 0. With z velocities 0, Verlet keeps z = 0 to the last bit; for
Langevin dynamics :func:`planar_langevin_integrator` is OpenMM's ``LangevinMiddleIntegrator`` algorithm
with the friction and noise masked out of z. No constraint or restraining force is involved.
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

import numpy as np

from glassfix.core.frame import Frame
from glassfix.engines.openmm.forces import _mm

__all__ = ["build_system", "make_simulation", "best_platform", "kelvin", "KB_KJ_PER_MOL_K", "positions3",
           "box_vectors", "reduced_box", "planar_langevin_integrator", "interaction_range",
           "reference_energy_forces"]

#: Boltzmann constant in kJ/mol/K (OpenMM's MOLAR_GAS_CONSTANT_R): T[K] = T* ε[kJ/mol] / KB
KB_KJ_PER_MOL_K = 0.00831446261815324

#: z box length of a 2D system in units of its interaction range
Z_BOX_FACTOR = 4.0


def kelvin(t_reduced: float) -> float:
    """OpenMM temperature (K) of a reduced temperature T* = k_B T / ε_AA with ε_AA = 1 kJ/mol."""
    return float(t_reduced) / KB_KJ_PER_MOL_K


def interaction_range(system: Any, frame: Frame) -> float:
    """Largest non-bonded pair range (σ_AA) of ``system`` for ``frame`` (polydisperse: its diameters)."""
    from glassfix.systems.polydisperse import Polydisperse

    if isinstance(system, Polydisperse):
        d = np.asarray(_require(frame, "diameters"), dtype=np.float64)
        na = float(system.nonadditivity)
        return float(system.xc * d.max() * (1.0 + max(-na, 0.0) * (d.max() - d.min())))
    return float(system.max_cutoff)


def _require(frame: Frame, key: str):
    if key not in frame.metadata:
        raise ValueError(f"this system needs frame.metadata[{key!r}] (see the system's initial_frame)")
    return frame.metadata[key]


def positions3(frame: Frame) -> np.ndarray:
    """(N, 3) OpenMM positions (nm = σ) of ``frame``: 2D frames get z = 0."""
    pos = np.asarray(frame.positions, dtype=np.float64)
    if frame.dim == 3:
        return pos
    out = np.zeros((pos.shape[0], 3))
    out[:, :2] = pos
    return out


def box_vectors(frame: Frame, cutoff: float) -> np.ndarray:
    """(3, 3) box vectors (rows) of ``frame``; a 2D cell gets the third vector (0, 0, 4 ``cutoff``)."""
    cell = np.asarray(frame.cell, dtype=np.float64)
    if frame.dim == 3:
        return cell.copy()
    out = np.zeros((3, 3))
    out[:2, :2] = cell
    out[2, 2] = Z_BOX_FACTOR * float(cutoff)
    return out


def reduced_box(cell: np.ndarray) -> np.ndarray:
    """The equivalent lattice in OpenMM's reduced form (|b_x| ≤ a_x/2, |c_x| ≤ a_x/2, |c_y| ≤ b_y/2); positions
    need no change."""
    r = np.asarray(cell, dtype=np.float64).copy()
    r[1] -= np.round(r[1, 0] / r[0, 0]) * r[0]
    r[2] -= np.round(r[2, 1] / r[1, 1]) * r[1]
    r[2] -= np.round(r[2, 0] / r[0, 0]) * r[0]
    return r


def _check_frame(system: Any, frame: Frame, cutoff: float) -> np.ndarray:
    if frame.dim != system.dim:
        raise ValueError(f"{system.name} is {system.dim}D but the frame is {frame.dim}D")
    types = np.asarray(frame.types, dtype=np.int64)
    nt = len(system.species)
    if types.size and (types.min() < 0 or types.max() >= nt):
        raise ValueError(f"frame types must be 0..{nt - 1} for {system.name}, got {types.min()}..{types.max()}")
    cell = np.asarray(frame.cell, dtype=np.float64)
    if np.any(cell[np.triu_indices(frame.dim, 1)] != 0.0):
        raise ValueError("the cell must be restricted triclinic (a along x, b in the xy plane), as in LAMMPS")
    half = 0.5 * float(np.diag(cell).min())
    if cutoff >= half:
        raise ValueError(f"the largest pair cutoff {cutoff:g} must be below half the box width "
                         f"({half:g}); use more particles")
    return types


def build_system(system: Any, frame: Frame):
    """``openmm.System`` of ``system`` for ``frame`` (types 0-based in the system's species order; cell rows =
    box vectors in σ, restricted triclinic as LAMMPS; polydisperse: ``metadata["diameters"]``, Kremer–Grest:
    ``metadata["bonds"]``). Lengths σ → nm, energies ε → kJ/mol, masses → amu."""
    mm = _mm()
    import glassfix.engines.openmm.forces as forces
    from glassfix.systems.jbb import JBB
    from glassfix.systems.lj import LJMixture
    from glassfix.systems.polydisperse import Polydisperse
    from glassfix.systems.polymer import KremerGrest

    if not isinstance(system, (LJMixture, JBB, Polydisperse, KremerGrest)):
        raise ValueError(f"no OpenMM System for {type(system).__name__}; supported: LJ mixtures (KA 3D/2D, "
                         "Wahnström), JBB, Polydisperse, KremerGrest")
    cutoff = interaction_range(system, frame)
    types = _check_frame(system, frame, cutoff)
    out = mm.System()
    out.setDefaultPeriodicBoxVectors(*(mm.Vec3(*map(float, v)) for v in reduced_box(box_vectors(frame, cutoff))))
    masses = np.asarray(system.masses, dtype=np.float64)
    for t in types:
        out.addParticle(float(masses[t]))
    if isinstance(system, LJMixture):
        out.addForce(forces.lj_mixture_force(system, types))
    elif isinstance(system, JBB):
        out.addForce(forces.poly_lj_force(system, types))
    elif isinstance(system, Polydisperse):
        out.addForce(forces.soft_poly_force(system, _require(frame, "diameters")))
    else:
        for f in forces.kremer_grest_forces(system, types.size, _require(frame, "bonds")):
            out.addForce(f)
    return out


def reference_energy_forces(system: Any, frame: Frame):
    """The numba reference :class:`~glassfix.systems.potentials.EnergyForces` of ``frame`` (diameters, bonds
    from its metadata where the system has them)."""
    if hasattr(system, "energy_forces"):
        return system.energy_forces(frame)
    from glassfix.systems.potentials import energy_forces

    return energy_forces(frame, system.potential())


def planar_langevin_integrator(temperature: float, friction: float, dt: float, seed: int = 0):
    """``LangevinMiddleIntegrator``'s algorithm (T* reduced, ``friction`` 1/τ, ``dt`` τ) acting on x and y
    only: z velocities stay 0, so a 2D system stays in its plane."""
    mm = _mm()
    integ = mm.CustomIntegrator(float(dt))
    a = float(np.exp(-friction * dt))
    integ.addGlobalVariable("a", a)
    integ.addGlobalVariable("b", float(np.sqrt(1.0 - a * a)))
    integ.addGlobalVariable("kT", KB_KJ_PER_MOL_K * kelvin(temperature))
    integ.addPerDofVariable("mask", 0.0)
    integ.addUpdateContextState()
    integ.addComputePerDof("v", "mask*(v+dt*f/m)")
    integ.addComputePerDof("x", "x+0.5*dt*v")
    integ.addComputePerDof("v", "mask*(a*v+b*sqrt(kT/m)*gaussian)")
    integ.addComputePerDof("x", "x+0.5*dt*v")
    integ.setRandomNumberSeed(int(seed))
    return integ


def _set_planar_mask(integrator, n: int) -> None:
    """Set the (1, 1, 0) per-DOF ``mask`` of a planar integrator; other integrators need none (F_z = 0)."""
    mm = _mm()
    if isinstance(integrator, mm.CustomIntegrator) and any(
            integrator.getPerDofVariableName(i) == "mask" for i in range(integrator.getNumPerDofVariables())):
        integrator.setPerDofVariableByName("mask", [mm.Vec3(1.0, 1.0, 0.0)] * n)


def _planar_velocities(masses: np.ndarray, temperature: float, seed: int) -> np.ndarray:
    """Maxwell–Boltzmann in-plane velocities (σ/τ) at exactly T* with zero total momentum (2N − 2 dof)."""
    rng = np.random.default_rng(seed)
    v = np.zeros((masses.size, 3))
    v[:, :2] = rng.normal(size=(masses.size, 2)) / np.sqrt(masses)[:, None]
    v[:, :2] -= (masses[:, None] * v[:, :2]).sum(0) / masses.sum()
    ke2 = float((masses[:, None] * v ** 2).sum())
    if ke2 > 0:
        v *= np.sqrt(temperature * (2 * masses.size - 2) / ke2)
    return v


@functools.lru_cache(maxsize=None)
def _usable(name: str) -> bool:
    """Whether platform ``name`` can create a Context here (a loaded CUDA plugin may still find no GPU)."""
    mm = _mm()
    try:
        s = mm.System()
        s.addParticle(1.0)
        mm.Context(s, mm.VerletIntegrator(0.001), mm.Platform.getPlatformByName(name))
    except Exception:  # OpenMMException: no device, driver too old, …
        return False
    return True


def best_platform(name: str | None = None):
    """The named OpenMM platform, else CUDA when it can run here, else CPU (else Reference)."""
    mm = _mm()
    names = [mm.Platform.getPlatform(i).getName() for i in range(mm.Platform.getNumPlatforms())]
    if name is not None:
        if name not in names:
            raise ValueError(f"OpenMM platform {name!r} is not available here (have {', '.join(names)}); "
                             "CUDA needs pip install 'glassfix[openmm-cuda]' and a GPU")
        return mm.Platform.getPlatformByName(name)
    for pick in ("CUDA", "CPU", "Reference"):
        if pick in names and _usable(pick):
            return mm.Platform.getPlatformByName(pick)
    raise RuntimeError("no OpenMM platform found")


def make_simulation(system: Any, frame: Frame, integrator=None, dt: float = 0.005, temperature: float | None = None,
                    friction: float = 1.0, platform: str | None = None, seed: int = 0,
                    properties: dict[str, str] | None = None, reporters: Sequence[Any] = ()):
    """``openmm.app.Simulation`` of ``frame``: NVE (Verlet, ``dt`` in τ) or, with ``temperature`` (reduced),
    Langevin (``friction`` in 1/τ; 2D: :func:`planar_langevin_integrator`); velocities from
    ``frame.velocities`` (σ/τ) if present, else Maxwell–Boltzmann at ``temperature`` when given.
    Platform: :func:`best_platform` (``platform`` by name)."""
    mm = _mm()
    from openmm import app

    omm_system = build_system(system, frame)
    planar = frame.dim == 2
    if integrator is None:
        if temperature is None:
            integrator = mm.VerletIntegrator(dt)
        elif planar:
            integrator = planar_langevin_integrator(temperature, friction, dt, seed)
        else:
            integrator = mm.LangevinMiddleIntegrator(kelvin(temperature), friction, dt)
            integrator.setRandomNumberSeed(int(seed))
    top = app.Topology()
    chain = top.addChain()
    res = top.addResidue("GLS", chain)
    for t in frame.types:
        top.addAtom(str(system.species[int(t)]), None, res)
    box = omm_system.getDefaultPeriodicBoxVectors()
    top.setPeriodicBoxVectors(box)
    sim = app.Simulation(top, omm_system, integrator, best_platform(platform), properties or {})
    sim.context.setPositions(positions3(frame))
    if planar:
        _set_planar_mask(sim.integrator, frame.n_atoms)
    if frame.velocities is not None:
        v = np.zeros((frame.n_atoms, 3))
        v[:, :frame.dim] = np.asarray(frame.velocities, dtype=np.float64)
        sim.context.setVelocities(v)
    elif temperature is not None:
        if planar:
            masses = np.asarray(system.masses, dtype=np.float64)[np.asarray(frame.types, dtype=np.int64)]
            sim.context.setVelocities(_planar_velocities(masses, temperature, int(seed) or 1))
        else:
            sim.context.setVelocitiesToTemperature(kelvin(temperature), int(seed) or 1)
    sim.currentStep = int(frame.step or 0)
    sim.reporters.extend(reporters)
    return sim
