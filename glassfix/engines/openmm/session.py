"""An OpenMM Simulation driven in segments by a protocol runner: thermo rows, frames, predictions, checkpoints.

The OpenMM counterpart of ``engines.lammps.session.LammpsSession`` for ``glassfix run … --engine openmm``
(:mod:`glassfix.protocols.openmm_runs`). The protocol decides what happens when; this module does it:

* **Dynamics.** NVE: OpenMM's leapfrog ``VerletIntegrator`` started half a kick back from on-step
  velocities, so its positions are those of velocity Verlet (``fix nve``); thermo and frames use the
  on-step velocity v(n) = v(n − ½) + (dt/2) F(n)/m. Langevin (``LangevinMiddleIntegrator``; 2D: its planar
  twin) at T* with friction 1/``tdamp``, optionally with ``MonteCarloAnisotropicBarostat`` targets
  (creep); velocities reported as OpenMM keeps them (half-step, the accurate ones of that scheme).
* **Thermo** (:class:`ThermoReporter`): the rows of the LAMMPS protocols' ``series.csv`` (per-atom energies,
  pressure tensor = numba virial + kinetic, box) every ``thermo_every`` steps, from the numba reference
  (double precision), so both engines report the same quantity the same way.
* **Predictions**: the glassfix model through :class:`~glassfix.engines.openmm.PredictorReporter`, an
  OpenMM reporter evaluated every ``predict_every`` steps (and at step 0 with ``report_now``).
* **Checkpoints** (:meth:`OpenMMSession.save`): positions (unwrapped), the integrator's velocities, box and
  step as plain arrays, written atomically (``glassfix.core.atomic``). :meth:`OpenMMSession.load` builds a
  fresh Context from them with the random seeds of the thermostat and barostat derived from (seed, step).
  A protocol reloads right after every checkpoint it writes, so an uninterrupted run and one killed and
  resumed execute the same operations from the same arrays: on the CPU platform with one thread they agree
  bitwise (tested); with several threads or on CUDA the force summation order varies and runs agree only
  statistically. The barostat's adaptive step size restarts at every checkpoint (OpenMM does not expose it).

Units: reduced LJ units as in :mod:`glassfix.engines.openmm.system` (σ → nm, ε → kJ/mol, τ → ps).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from glassfix.core.atomic import atomic_savez
from glassfix.core.cell import wrap_positions
from glassfix.core.frame import Frame

__all__ = ["OpenMMSession", "ShearSession", "ThermoReporter", "minimize_copy", "thermo_row", "THERMO_KEYS"]

#: thermo columns of a row (energies per atom ε; stresses ε/σ^d; lengths σ), as LAMMPS' thermo keywords
THERMO_KEYS = ("temp", "pe", "ke", "etotal", "press", "pxx", "pyy", "pzz", "pxy", "pxz", "pyz",
               "lx", "ly", "lz", "xy", "xz", "yz", "vol")


def _seed(seed: int, *parts: Any) -> int:
    """A positive 31-bit seed derived from ``seed`` and ``parts`` (OpenMM: 0 would mean 'random')."""
    h = hashlib.sha256(json.dumps([int(seed), *[str(p) for p in parts]]).encode()).digest()
    return 1 + int.from_bytes(h[:4], "little") % 900_000_000


def _arr(q) -> np.ndarray:
    return np.asarray(q._value if hasattr(q, "_value") else q, dtype=np.float64)


def thermo_row(system: Any, frame: Frame, velocities: np.ndarray, masses: np.ndarray) -> dict[str, float]:
    """LAMMPS-style thermo of ``frame`` with on-step ``velocities`` (N, d): per-atom pe/ke/etotal (ε), T (d·N − d
    degrees of freedom, as ``compute temp`` after ``velocity … mom yes``), pressure tensor (virial + kinetic,
    ε/σ^d), box lengths, tilts and volume."""
    from glassfix.engines.openmm.system import reference_energy_forces

    n, d = frame.n_atoms, frame.dim
    ef = reference_energy_forces(system, frame)
    vol = float(abs(np.linalg.det(frame.cell)))
    kin = np.einsum("i,ia,ib->ab", masses, velocities, velocities)
    p = ef.pressure_tensor(vol, kin)
    p3 = np.zeros((3, 3))
    p3[:d, :d] = p
    ke = 0.5 * float(np.trace(kin))
    c3 = np.eye(3)
    c3[:d, :d] = frame.cell
    return {"temp": 2.0 * ke / (d * n - d), "pe": ef.energy / n, "ke": ke / n, "etotal": (ef.energy + ke) / n,
            "press": float(np.trace(p)) / d, "pxx": p3[0, 0], "pyy": p3[1, 1], "pzz": p3[2, 2], "pxy": p3[0, 1],
            "pxz": p3[0, 2], "pyz": p3[1, 2], "lx": c3[0, 0], "ly": c3[1, 1], "lz": c3[2, 2] if d == 3 else 1.0,
            "xy": c3[1, 0], "xz": c3[2, 0], "yz": c3[2, 1], "vol": vol}


class ThermoReporter:
    """OpenMM reporter: a :func:`thermo_row` every ``interval`` steps into ``rows`` (taken by the protocol)."""

    def __init__(self, session: "OpenMMSession", interval: int) -> None:
        self.session = session
        self.interval = int(interval)
        self.rows: list[dict[str, float]] = []

    def describeNextReport(self, simulation) -> dict[str, Any]:  # noqa: N802 (OpenMM's name)
        """OpenMM reporter protocol: positions and velocities every ``interval`` steps."""
        return {"steps": self.interval - simulation.currentStep % self.interval, "periodic": False,
                "include": ["positions", "velocities"]}

    def report(self, simulation, state) -> None:
        """OpenMM reporter protocol: one thermo row of the current state."""
        self.rows.append(self.session.thermo(state))


class OpenMMSession:
    """One OpenMM Simulation of ``template`` (a Frame: types, ids, species, origin, diameters/bonds), rebuilt
    from checkpoint arrays by :meth:`load`. ``temperature`` None: NVE Verlet; else Langevin with ``friction``
    (1/τ); ``barostat``: (target normal stresses (3,) ε/σ³, moving axes (3,) bool, every N steps) or None.
    ``platform``: OpenMM platform name (default :func:`~glassfix.engines.openmm.best_platform`), ``threads``:
    CPU threads (default: OpenMM's)."""

    def __init__(self, system: Any, template: Frame, dt: float, temperature: float | None = None,
                 friction: float = 1.0, barostat: tuple[np.ndarray, np.ndarray, int] | None = None,
                 seed: int = 1, platform: str | None = None, threads: int | None = None,
                 thermo_every: int = 100) -> None:
        from glassfix.engines.openmm.system import best_platform

        self.system = system
        self.template = template
        self.dt = float(dt)
        self.temperature = temperature
        self.friction = float(friction)
        self.barostat = barostat
        self.seed = int(seed)
        plat = best_platform(platform)
        self.platform = plat.getName()
        self.properties = {"Threads": str(int(threads))} if threads and self.platform == "CPU" else {}
        self.masses = np.asarray(system.masses, dtype=np.float64)[np.asarray(template.types, dtype=np.int64)]
        self.dim = template.dim
        self.meta = {k: template.metadata[k] for k in ("diameters", "bonds") if k in template.metadata}
        self.thermo_reporter = ThermoReporter(self, thermo_every)
        self.predictor = None
        self.sim = None

    # ---------------------------------------------------------------- state
    def _frame(self, pos3: np.ndarray, box3: np.ndarray, step: int, velocities: np.ndarray | None = None,
               metadata: Mapping[str, Any] | None = None) -> Frame:
        d = self.dim
        cell = box3[:d, :d].copy()
        origin = np.asarray(self.template.origin, dtype=np.float64)
        unwrapped = pos3[:, :d].copy()
        return Frame(positions=wrap_positions(unwrapped, cell, origin), types=self.template.types, cell=cell,
                     origin=origin, ids=self.template.ids, species=self.template.species, unwrapped=unwrapped,
                     velocities=velocities, step=int(step), time=int(step) * self.dt,
                     metadata={"system": self.system.name, **self.meta, **dict(metadata or {})})

    def _onstep_velocities(self, frame: Frame, v3: np.ndarray) -> np.ndarray:
        """On-step velocities (N, d): Verlet's v(n − ½) + (dt/2) F(n)/m (numba forces); Langevin's as they are."""
        v = v3[:, :self.dim].copy()
        if self.temperature is None:
            from glassfix.engines.openmm.system import reference_energy_forces

            f = reference_energy_forces(self.system, frame).forces
            v += 0.5 * self.dt * f / self.masses[:, None]
        return v

    def thermo(self, state) -> dict[str, float]:
        """Thermo row (:func:`thermo_row`, plus ``step``) of an OpenMM State with positions and velocities."""
        step = int(self.sim.currentStep)
        fr = self._frame(_arr(state.getPositions(asNumpy=True)), _arr(state.getPeriodicBoxVectors(asNumpy=True)), step)
        v = self._onstep_velocities(fr, _arr(state.getVelocities(asNumpy=True)))
        return {"step": step, **thermo_row(self.system, fr, v, self.masses)}

    def frame(self, velocities: bool = False, metadata: Mapping[str, Any] | None = None) -> Frame:
        """The current configuration as a Frame (wrapped positions, unwrapped, on-step velocities if asked)."""
        st = self.sim.context.getState(getPositions=True, getVelocities=velocities)
        fr = self._frame(_arr(st.getPositions(asNumpy=True)), _arr(st.getPeriodicBoxVectors(asNumpy=True)),
                         self.sim.currentStep, metadata=metadata)
        if velocities:
            fr.velocities = self._onstep_velocities(fr, _arr(st.getVelocities(asNumpy=True)))
        return fr

    @property
    def timestep(self) -> int:
        """The current MD step."""
        return int(self.sim.currentStep)

    # ---------------------------------------------------------------- build, save, load
    def start(self, frame: Frame, velocities: np.ndarray, step: int = 0) -> None:
        """Build the Simulation at ``frame`` with on-step ``velocities`` (N, d) (σ/τ) at MD ``step``."""
        v3 = np.zeros((frame.n_atoms, 3))
        v3[:, :self.dim] = velocities
        if self.temperature is None:
            # leapfrog started half a kick back: the positions of velocity Verlet from the same v(0)
            from glassfix.engines.openmm.system import reference_energy_forces

            f = reference_energy_forces(self.system, frame).forces
            v3[:, :self.dim] -= 0.5 * self.dt * f / self.masses[:, None]
        from glassfix.engines.openmm.system import box_vectors, interaction_range, positions3

        box = box_vectors(frame, interaction_range(self.system, frame))
        self._build(positions3(frame), v3, box, step)

    def _build(self, pos3: np.ndarray, v3: np.ndarray, box3: np.ndarray, step: int) -> None:
        import openmm as mm

        from glassfix.engines.openmm.creep import BAR_PER_REDUCED_PRESSURE
        from glassfix.engines.openmm.system import kelvin, make_simulation, reduced_box

        d = self.dim
        fr = Frame(positions=pos3[:, :d], types=self.template.types, cell=box3[:d, :d], metadata=dict(self.meta))
        sim = make_simulation(self.system, fr, dt=self.dt, temperature=self.temperature, friction=self.friction,
                              platform=self.platform, seed=_seed(self.seed, "thermostat", step),
                              properties=self.properties)
        if self.barostat is not None:
            target, moving, every = self.barostat
            baro = mm.MonteCarloAnisotropicBarostat(mm.Vec3(*(np.asarray(target) * BAR_PER_REDUCED_PRESSURE)),
                                                    kelvin(self.temperature), *map(bool, moving), int(every))
            baro.setRandomNumberSeed(_seed(self.seed, "barostat", step))
            sim.system.addForce(baro)
            sim.context.reinitialize()
        sim.context.setPeriodicBoxVectors(*(mm.Vec3(*map(float, v)) for v in reduced_box(box3)))
        sim.context.setPositions(pos3)
        sim.context.setVelocities(v3)
        sim.context.setTime(step * self.dt)
        sim.context.setStepCount(int(step))
        sim.currentStep = int(step)
        sim.reporters.append(self.thermo_reporter)
        if self.predictor is not None:
            sim.reporters.append(self.predictor)
        self.sim = sim

    def save(self, path: str | os.PathLike[str]) -> None:
        """Checkpoint arrays (positions unwrapped, the integrator's velocities, box, step) at ``path``, atomically."""
        st = self.sim.context.getState(getPositions=True, getVelocities=True)
        atomic_savez(path, positions=_arr(st.getPositions(asNumpy=True)), velocities=_arr(st.getVelocities(asNumpy=True)),
                     box=_arr(st.getPeriodicBoxVectors(asNumpy=True)), step=np.array(self.timestep))

    def load(self, path: str | os.PathLike[str]) -> None:
        """A fresh Context from the checkpoint at ``path`` (seeds derived from its step)."""
        with np.load(Path(path), allow_pickle=False) as z:
            self._build(z["positions"], z["velocities"], z["box"], int(z["step"]))

    def run(self, nsteps: int) -> list[dict[str, float]]:
        """``nsteps`` MD steps; returns the thermo rows recorded on the way."""
        self.thermo_reporter.rows = []
        self.sim.step(int(nsteps))
        if not np.isfinite(_arr(self.sim.context.getState(getPositions=True).getPositions(asNumpy=True))).all():
            raise FloatingPointError(f"non-finite positions at step {self.timestep}: the OpenMM run blew up "
                                     f"(time step {self.dt} too large?)")
        return self.thermo_reporter.rows

    def close(self) -> None:
        """Drop the Simulation."""
        self.sim = None


def minimize_copy(system: Any, frame: Frame, ftol: float, platform: str = "Reference",
                  max_iterations: int = 0) -> Frame:
    """A copy of ``frame`` minimised at fixed box by OpenMM's L-BFGS on ``platform`` (Reference: double precision)
    down to ``ftol`` = |F| (ε/σ, the 2-norm of the global force vector as LAMMPS' ``ftol``)."""
    import openmm as mm

    from glassfix.engines.openmm.system import (best_platform, box_vectors, build_system, interaction_range,
                                                positions3, reduced_box)

    box = box_vectors(frame, interaction_range(system, frame))
    ctx = mm.Context(build_system(system, frame), mm.VerletIntegrator(0.001), best_platform(platform))
    ctx.setPeriodicBoxVectors(*(mm.Vec3(*map(float, v)) for v in reduced_box(box)))
    ctx.setPositions(positions3(frame))
    # OpenMM stops at an RMS force per component: |F| / sqrt(d N)
    mm.LocalEnergyMinimizer.minimize(ctx, float(ftol) / np.sqrt(frame.dim * frame.n_atoms), int(max_iterations))
    pos = _arr(ctx.getState(getPositions=True).getPositions(asNumpy=True))[:, :frame.dim]
    out = Frame(positions=wrap_positions(pos, frame.cell, frame.origin), types=frame.types, cell=frame.cell,
                origin=frame.origin, ids=frame.ids, species=frame.species, unwrapped=pos, step=frame.step,
                time=frame.time, metadata=dict(frame.metadata))
    return out


class ShearSession:
    """Athermal quasistatic shear of ``template`` in OpenMM for the AQS protocol: the configuration (unwrapped
    positions, cell) lives here; :meth:`shear_to` sets a tilt with an affine remap, :meth:`minimize` runs
    OpenMM's L-BFGS on ``platform`` (default Reference: double precision, as LAMMPS' CG). Checkpoints are the
    positions, cell and step (exact doubles; the minimisation is deterministic, so resumes are bitwise)."""

    _TILTS = {"xy": (1, 0), "xz": (2, 0), "yz": (2, 1)}

    def __init__(self, system: Any, template: Frame, platform: str = "Reference") -> None:
        self.system = system
        self.template = template
        self.platform = platform
        self.meta = {k: template.metadata[k] for k in ("diameters", "bonds") if k in template.metadata}
        base = template.unwrapped if template.unwrapped is not None else template.positions
        self.positions = np.asarray(base, dtype=np.float64).copy()
        self.cell = np.asarray(template.cell, dtype=np.float64).copy()
        self.step = 0
        self._ctx = None

    @property
    def natoms(self) -> int:
        """Number of atoms."""
        return int(self.positions.shape[0])

    @property
    def timestep(self) -> int:
        """The current AQS step."""
        return int(self.step)

    def frame(self, step: int | None = None, metadata: Mapping[str, Any] | None = None) -> Frame:
        """The current configuration (wrapped positions, unwrapped, cell, ids, species)."""
        t = self.template
        return Frame(positions=wrap_positions(self.positions, self.cell, t.origin), types=t.types, cell=self.cell.copy(),
                     origin=t.origin, ids=t.ids, species=t.species, unwrapped=self.positions.copy(),
                     step=self.step if step is None else int(step),
                     metadata={"system": self.system.name, **self.meta, **dict(metadata or {})})

    def shear_to(self, plane: str, tilt: float) -> None:
        """Set the ``plane`` tilt (σ) with an affine remap of the atoms (LAMMPS ``change_box … final … remap``)."""
        from glassfix.core.cell import to_cartesian, to_fractional

        i, j = self._TILTS[plane]
        frac = to_fractional(self.positions, self.cell, self.template.origin)
        self.cell[i, j] = float(tilt)
        self.positions = to_cartesian(frac, self.cell, self.template.origin)

    def minimize(self, ftol: float, max_iterations: int = 0) -> None:
        """L-BFGS at fixed cell down to |F| = ``ftol`` (ε/σ, the global force norm as LAMMPS' ``ftol``)."""
        import openmm as mm

        from glassfix.engines.openmm.system import (best_platform, box_vectors, build_system, interaction_range,
                                                    positions3, reduced_box)

        fr = self.frame()
        if self._ctx is None:
            self._ctx = mm.Context(build_system(self.system, fr), mm.VerletIntegrator(0.001),
                                   best_platform(self.platform))
        box = reduced_box(box_vectors(fr, interaction_range(self.system, fr)))
        self._ctx.setPeriodicBoxVectors(*(mm.Vec3(*map(float, v)) for v in box))
        pos3 = positions3(Frame(positions=self.positions, types=fr.types, cell=self.cell))
        self._ctx.setPositions(pos3)
        d = self.positions.shape[1]
        mm.LocalEnergyMinimizer.minimize(self._ctx, float(ftol) / np.sqrt(d * self.natoms), int(max_iterations))
        self.positions = _arr(self._ctx.getState(getPositions=True).getPositions(asNumpy=True))[:, :d].copy()

    def thermo(self) -> dict[str, float]:
        """Thermo of the current (athermal) configuration, plus ``fnorm`` (ε/σ)."""
        from glassfix.engines.openmm.system import reference_energy_forces

        fr = self.frame()
        n, d = fr.n_atoms, fr.dim
        row = thermo_row(self.system, fr, np.zeros((n, d)), np.ones(n))
        row["fnorm"] = float(np.linalg.norm(reference_energy_forces(self.system, fr).forces))
        return row

    def save(self, path: str | os.PathLike[str]) -> None:
        """Checkpoint arrays (unwrapped positions, cell, step), atomically."""
        atomic_savez(path, positions=self.positions, cell=self.cell, step=np.array(self.step))

    def load(self, path: str | os.PathLike[str]) -> None:
        """Restore the checkpoint at ``path``."""
        with np.load(Path(path), allow_pickle=False) as z:
            self.positions, self.cell, self.step = z["positions"].copy(), z["cell"].copy(), int(z["step"])

    def close(self) -> None:
        """Drop the Context."""
        self._ctx = None
