"""Athermal quasistatic (AQS) simple shear in OpenMM (DESIGN.md §7): box tilt + LocalEnergyMinimizer.

The same protocol as the LAMMPS driver (``glassfix.protocols.aqs``): step n sets the xy tilt to
tilt0 + n·δγ·L_y with an affine remap of the atoms (x += Δtilt · y / L_y), then minimises the energy.
OpenMM wants its box in reduced form (|b_x| ≤ a_x / 2), so the tilt it is given is reduced by lattice
vectors; positions are unaffected (an equivalent lattice). The shear stress σ = −P_xy = −W_xy / V of each
minimum comes from the numba reference (athermal: virial only), and plastic events are flagged as the
LAMMPS driver does (:func:`glassfix.analysis.mechanics.detect_events`). 2D frames shear in their plane
(z forces vanish exactly, :mod:`glassfix.engines.openmm.system`); V is then the area.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glassfix.core.frame import Frame

__all__ = ["aqs_shear"]


def aqs_shear(system: Any, frame: Frame, dgamma: float = 1e-4, steps: int = 100, tolerance: float = 1e-8,
              max_iterations: int = 0, platform: str | None = None, minimize_start: bool = True,
              reporter=None) -> dict[str, Any]:
    """AQS xy shear of ``frame`` (2D or 3D, any system of :func:`~glassfix.engines.openmm.build_system`) for
    ``steps`` steps of ``dgamma``; ``tolerance``: RMS force (ε/σ) at which OpenMM's L-BFGS stops;
    ``platform``: :func:`~glassfix.engines.openmm.best_platform` (by name, e.g. ``"Reference"`` for double
    precision). Returns per-step arrays (index 0 = the starting minimum): ``gamma``, ``pe`` (per atom, ε),
    ``sigma`` (ε/σ^d), the ``event*`` flags of ``detect_events`` and ``frames`` (the minima).

    ``reporter``: optional :class:`~glassfix.engines.openmm.PredictorReporter`, evaluated at every minimum.
    """
    import openmm as mm

    from glassfix.analysis.mechanics import detect_events
    from glassfix.engines.openmm.system import (best_platform, box_vectors, build_system, interaction_range,
                                                positions3, reduced_box, reference_energy_forces)

    cell = np.asarray(frame.cell, dtype=np.float64).copy()
    d = frame.dim
    ly = cell[1, 1]
    tilt0 = cell[1, 0]
    ctx = mm.Context(build_system(system, frame), mm.VerletIntegrator(0.001), best_platform(platform))
    cutoff = interaction_range(system, frame)
    meta = {k: frame.metadata[k] for k in ("diameters", "bonds") if k in frame.metadata}

    def at(p: np.ndarray, c: np.ndarray, step: int) -> Frame:
        return Frame(positions=p, types=frame.types, cell=c.copy(), species=frame.species, step=step,
                     metadata=dict(meta))

    def minimum(pos: np.ndarray, c: np.ndarray, step: int) -> Frame:
        f = at(pos, c, step)
        ctx.setPeriodicBoxVectors(*(mm.Vec3(*map(float, v)) for v in reduced_box(box_vectors(f, cutoff))))
        ctx.setPositions(positions3(f))
        mm.LocalEnergyMinimizer.minimize(ctx, tolerance, max_iterations)
        p = np.asarray(ctx.getState(getPositions=True).getPositions(asNumpy=True)._value, dtype=np.float64)
        return at(p[:, :d].copy(), c, step)

    pos = np.asarray(frame.positions, dtype=np.float64)
    f = minimum(pos, cell, 0) if minimize_start else at(pos, cell, 0)
    frames, pe, sigma = [], [], []
    volume = float(abs(np.linalg.det(cell)))
    for n in range(steps + 1):
        if n > 0:
            c = cell.copy()
            c[1, 0] = tilt0 + n * dgamma * ly
            dt = c[1, 0] - frames[-1].cell[1, 0]
            p = frames[-1].positions.copy()
            p[:, 0] += dt * p[:, 1] / ly          # affine remap with the box
            f = minimum(p, c, n)
        ef = reference_energy_forces(system, f)
        frames.append(f)
        pe.append(ef.energy / f.n_atoms)
        sigma.append(-ef.virial[0, 1] / volume)
        if reporter is not None:
            reporter.evaluate(f)
    pe_a, sigma_a = np.array(pe), np.array(sigma)
    out: dict[str, Any] = {"gamma": dgamma * np.arange(steps + 1), "pe": pe_a, "sigma": sigma_a, "frames": frames}
    out.update(detect_events(sigma_a, pe_a, volume / frame.n_atoms, dgamma))
    return out
