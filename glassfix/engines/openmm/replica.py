"""One NVE replica in OpenMM: the OpenMM worker of the isoconfigurational launcher (``glassfix iso
--engine openmm``), a pure function of plain arrays like the LAMMPS worker.

Velocity Verlet from the given positions and velocities (OpenMM's leapfrog started half a kick back, so
the positions are those of LAMMPS' ``fix nve``); OpenMM integrates positions without wrapping
them, so the positions it returns at each snapshot step are already unwrapped and consistent with the
start (displacement = returned − start). Platform: :func:`~glassfix.engines.openmm.best_platform`; the
CPU platform runs one thread per replica (the launcher runs replicas in parallel, one per core, as it
runs one LAMMPS rank per task).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from glassfix.core.frame import Frame

__all__ = ["replica_positions"]


def replica_positions(system: Any, positions: np.ndarray, types: np.ndarray, cell: np.ndarray,
                      velocities: np.ndarray, steps: Sequence[int], dt: float, platform: str | None = None,
                      metadata: dict | None = None) -> np.ndarray:
    """Unwrapped positions (len(steps), N, d) (σ_AA) of an NVE run of ``dt`` (τ) from ``positions`` (N, d) and
    ``velocities`` (N, d) (σ/τ) at the strictly increasing MD ``steps``; ``metadata``: the frame's
    (diameters, bonds) where the system needs them."""
    import openmm as mm

    from glassfix.engines.openmm.system import best_platform, build_system, positions3

    pos0 = np.asarray(positions, dtype=np.float64)
    n, d = pos0.shape
    steps = [int(s) for s in steps]
    if not steps or steps[0] < 1 or any(b <= a for a, b in zip(steps, steps[1:])):
        raise ValueError(f"steps must be strictly increasing integers >= 1, got {steps}")
    frame = Frame(positions=pos0, types=np.asarray(types, dtype=np.int64), cell=np.asarray(cell, dtype=np.float64),
                  metadata=dict(metadata or {}))
    plat = best_platform(platform)
    props = {"Threads": "1"} if plat.getName() == "CPU" else {}
    ctx = mm.Context(build_system(system, frame), mm.VerletIntegrator(float(dt)), plat, props)
    ctx.setPositions(positions3(frame))
    # OpenMM's VerletIntegrator is leapfrog (velocities at half steps): v(−dt/2) = v(0) − (dt/2) F(0)/m gives
    # the velocity-Verlet positions of LAMMPS' fix nve from the same v(0)
    f0 = np.asarray(ctx.getState(getForces=True).getForces(asNumpy=True)._value, dtype=np.float64)
    m = np.asarray(system.masses, dtype=np.float64)[frame.types]
    v = np.zeros((n, 3))
    v[:, :d] = np.asarray(velocities, dtype=np.float64)
    v -= 0.5 * float(dt) * f0 / m[:, None]
    ctx.setVelocities(v)
    integ = ctx.getIntegrator()
    out = np.empty((len(steps), n, d))
    done = 0
    for k, s in enumerate(steps):
        integ.step(s - done)
        done = s
        x = np.asarray(ctx.getState(getPositions=True).getPositions(asNumpy=True)._value, dtype=np.float64)
        out[k] = x[:, :d]
    if not np.isfinite(out).all():
        raise RuntimeError(f"the OpenMM replica produced non-finite positions (unstable run: check dt={dt})")
    return out
