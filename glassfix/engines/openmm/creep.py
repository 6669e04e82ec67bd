"""Creep at constant uniaxial stress in OpenMM, with stress-constrained minimised snapshots.

The OpenMM twin of :mod:`glassfix.protocols.creep` (same sign conventions: pressure positive in
compression, so ``sigma0 > 0`` compresses along ``axis``; engineering strain against the box before
loading):

* MD: Langevin dynamics at T* (``make_simulation``) with OpenMM's ``MonteCarloAnisotropicBarostat``:
  the target normal stress of ``axis`` is σ0 and, with ``lateral="stress_free"``, the two lateral
  targets are 0 (each box length scaled on its own, as LAMMPS' ``fix npt … couple none``);
  ``lateral="fixed"`` keeps the lateral lengths. The barostat samples the constant-stress ensemble, so the
  time-averaged axial normal stress (virial + kinetic) equals σ0;
* every ``snapshot_every`` steps a copy of the state is minimised under the applied stress in a second
  Context (the MD is not touched): positions by ``LocalEnergyMinimizer``, then every barostatted box
  length rescaled (affinely) by a per-axis secant step on its residual P_aa − target, repeated until
  every residual is within ``stress_tol`` (OpenMM has no ``fix box/relax``). Stresses come from the
  numba reference virial W/V (athermal).

Units: T* and σ0 reduced (ε_AA, ε_AA/σ_AA³); ``dt`` τ; ``friction`` 1/τ; steps in MD steps.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glassfix.core.frame import Frame

__all__ = ["creep", "minimize_under_stress", "BAR_PER_REDUCED_PRESSURE"]

#: 1 kJ/mol/nm³ (= ε_AA/σ_AA³ in OpenMM's mapping of reduced units) in bar
BAR_PER_REDUCED_PRESSURE = 1e3 / (6.02214076e23 * 1e-27) / 1e5

_AXES = "xyz"


def _targets(sigma0: float, axis: str, lateral: str) -> tuple[np.ndarray, np.ndarray]:
    """(target normal stresses, mask of box lengths that move) for a uniaxial load."""
    if axis not in _AXES:
        raise ValueError(f"axis must be one of x, y, z, got {axis!r}")
    if lateral not in ("stress_free", "fixed"):
        raise ValueError(f"lateral must be 'stress_free' or 'fixed', got {lateral!r}")
    a = _AXES.index(axis)
    target = np.zeros(3)
    target[a] = float(sigma0)
    moving = np.full(3, lateral == "stress_free")
    moving[a] = True
    return target, moving


def _pressure(system: Any, frame: Frame, velocities: np.ndarray | None = None,
              masses: np.ndarray | None = None) -> np.ndarray:
    """(3, 3) pressure tensor (ε_AA/σ_AA³): numba virial W/V, plus Σ m v⊗v / V with velocities."""
    from glassfix.engines.openmm.system import reference_energy_forces

    ef = reference_energy_forces(system, frame)
    kin = None if velocities is None else np.einsum("i,ia,ib->ab", masses, velocities, velocities)
    return ef.pressure_tensor(float(abs(np.linalg.det(frame.cell))), kin)


def minimize_under_stress(system: Any, frame: Frame, sigma0: float, axis: str = "z", lateral: str = "stress_free",
                          platform: str | None = None, tolerance: float = 1e-4, stress_tol: float = 1e-4,
                          max_rounds: int = 40, modulus: float = 40.0) -> tuple[Frame, dict[str, Any]]:
    """Minimise ``frame`` (orthorhombic, 3D) with its box lengths adjusted until the athermal normal stresses
    equal the uniaxial targets (σ0 along ``axis``; 0 laterally, or lateral lengths fixed) within
    ``stress_tol`` (ε/σ³; ``tolerance``: RMS force, ε/σ). ``modulus``: Lamé λ (ε/σ³, μ = λ/3) of the first
    Jacobian guess, then Broyden updates. Returns (the minimum, {energy per atom (ε), stress (diagonal,
    ε/σ³), rounds, converged, residual})."""
    import openmm as mm

    from glassfix.engines.openmm.system import best_platform, build_system, reference_energy_forces

    cell = np.asarray(frame.cell, dtype=np.float64)
    if frame.dim != 3 or not np.allclose(cell, np.diag(np.diag(cell))):
        raise ValueError("stress-constrained minimisation needs a 3D orthorhombic box")
    target, moving = _targets(sigma0, axis, lateral)
    ctx = mm.Context(build_system(system, frame), mm.VerletIntegrator(0.001), best_platform(platform))
    lengths = np.diag(cell).copy()
    pos = np.asarray(frame.positions, dtype=np.float64).copy()
    meta = {k: frame.metadata[k] for k in ("diameters", "bonds") if k in frame.metadata}
    # Jacobian dP_aa/d ln L_b of an isotropic solid (λ = modulus, μ = modulus/3), improved by Broyden
    # updates: the lateral coupling makes per-axis steps oscillate in the volumetric mode
    jac = -(float(modulus) * np.ones((3, 3)) + 2.0 * float(modulus) / 3.0 * np.eye(3))
    prev: tuple[np.ndarray, np.ndarray] | None = None
    resid = np.full(3, np.inf)
    cur = frame
    rounds = 0
    mv = np.flatnonzero(moving)
    for rounds in range(1, int(max_rounds) + 1):
        ctx.setPeriodicBoxVectors(*(mm.Vec3(*(lengths[a] * np.eye(3)[a])) for a in range(3)))
        ctx.setPositions(pos)
        mm.LocalEnergyMinimizer.minimize(ctx, tolerance, 0)
        pos = np.asarray(ctx.getState(getPositions=True).getPositions(asNumpy=True)._value, dtype=np.float64)
        cur = Frame(positions=pos.copy(), types=frame.types, cell=np.diag(lengths), species=frame.species,
                    step=frame.step, metadata=dict(meta))
        p = np.diag(_pressure(system, cur))
        resid = np.where(moving, p - target, 0.0)
        if np.abs(resid).max() <= stress_tol:
            break
        lnl = np.log(lengths)
        if prev is not None:
            dl, dp = (lnl - prev[0])[mv], (p - prev[1])[mv]
            if dl @ dl > 0:
                sub = jac[np.ix_(mv, mv)]
                jac[np.ix_(mv, mv)] = sub + np.outer(dp - sub @ dl, dl) / (dl @ dl)
        prev = (lnl, p)
        step = np.zeros(3)
        step[mv] = np.clip(np.linalg.solve(jac[np.ix_(mv, mv)], -resid[mv]), -0.02, 0.02)
        new = lengths * np.exp(step)
        pos = pos * (new / lengths)
        lengths = new
    ef = reference_energy_forces(system, cur)
    info = {"energy": ef.energy / cur.n_atoms, "stress": np.diag(_pressure(system, cur)), "rounds": rounds,
            "converged": bool(np.abs(resid).max() <= stress_tol), "residual": float(np.abs(resid).max())}
    return cur, info


def creep(system: Any, frame: Frame, sigma0: float = 0.5, temperature: float = 0.1, steps: int = 10000,
          axis: str = "z", lateral: str = "stress_free", dt: float = 0.005, friction: float = 1.0,
          barostat_every: int = 25, thermo_every: int = 100, snapshot_every: int = 0, seed: int = 1,
          platform: str | None = None, min_tolerance: float = 1e-4, stress_tol: float = 1e-4) -> dict[str, Any]:
    """Creep of ``frame`` (3D orthorhombic) under σ0 along ``axis`` for ``steps`` MD steps at T*.

    Returns ``series`` (dict of arrays every ``thermo_every`` steps: step, time, temp, pe per atom, pxx,
    pyy, pzz (virial + kinetic), lx, ly, lz, strain along ``axis``) and, with ``snapshot_every``,
    ``snapshots`` (list of dicts: step, strain, energy, stress, converged, rounds, frame).
    """
    import openmm as mm

    from glassfix.engines.openmm.system import kelvin, make_simulation, reference_energy_forces

    target, moving = _targets(sigma0, axis, lateral)
    cell = np.asarray(frame.cell, dtype=np.float64)
    if frame.dim != 3 or not np.allclose(cell, np.diag(np.diag(cell))):
        raise ValueError("OpenMM creep needs a 3D orthorhombic box")
    if int(steps) < 1 or int(thermo_every) < 1 or int(snapshot_every) < 0:
        raise ValueError("steps and thermo_every must be >= 1 and snapshot_every >= 0")
    sim = make_simulation(system, frame, dt=dt, temperature=temperature, friction=friction, platform=platform,
                          seed=seed)
    baro = mm.MonteCarloAnisotropicBarostat(mm.Vec3(*(target * BAR_PER_REDUCED_PRESSURE)), kelvin(temperature),
                                            bool(moving[0]), bool(moving[1]), bool(moving[2]), int(barostat_every))
    baro.setRandomNumberSeed(int(seed))
    sim.system.addForce(baro)
    sim.context.reinitialize(preserveState=True)
    a = _AXES.index(axis)
    l0 = np.diag(cell).copy()
    masses = np.asarray(system.masses, dtype=np.float64)[np.asarray(frame.types, dtype=np.int64)]
    meta = {k: frame.metadata[k] for k in ("diameters", "bonds") if k in frame.metadata}
    keys = ("step", "time", "temp", "pe", "pxx", "pyy", "pzz", "lx", "ly", "lz", "strain")
    series: dict[str, list[float]] = {k: [] for k in keys}
    snapshots: list[dict[str, Any]] = []
    n = frame.n_atoms
    done = 0
    while done < steps:
        chunk = min(int(thermo_every), int(steps) - done)
        sim.step(chunk)
        done += chunk
        st = sim.context.getState(getPositions=True, getVelocities=True, enforcePeriodicBox=True)
        box = np.asarray(st.getPeriodicBoxVectors(asNumpy=True)._value, dtype=np.float64)
        cur = Frame(positions=np.asarray(st.getPositions(asNumpy=True)._value, dtype=np.float64), types=frame.types,
                    cell=box, species=frame.species, step=done, metadata=dict(meta))
        vel = np.asarray(st.getVelocities(asNumpy=True)._value, dtype=np.float64)
        p = _pressure(system, cur, vel, masses)
        lengths = np.diag(box)
        row = (done, done * dt, float((masses[:, None] * vel ** 2).sum() / (3 * n - 3)),
               reference_energy_forces(system, cur).energy / n, p[0, 0], p[1, 1], p[2, 2], *lengths,
               (lengths[a] - l0[a]) / l0[a])
        for k, v in zip(keys, row):
            series[k].append(float(v))
        if snapshot_every and done % int(snapshot_every) == 0:
            m, info = minimize_under_stress(system, cur, sigma0, axis, lateral, platform, min_tolerance, stress_tol)
            snapshots.append({"step": done, "strain": (m.cell[a, a] - l0[a]) / l0[a], **info, "frame": m})
    return {"series": {k: np.array(v) for k, v in series.items()}, "snapshots": snapshots, "sigma0": float(sigma0),
            "axis": axis, "lateral": lateral, "l0": l0}
