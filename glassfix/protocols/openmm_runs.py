"""``glassfix run nve|creep|aqs … --engine openmm``: the protocols' runners on an OpenMM engine session.

The specs are the engine-agnostic ones of :mod:`glassfix.protocols.nve`, :mod:`~glassfix.protocols.creep` and
:mod:`~glassfix.protocols.aqs`; these runners subclass the LAMMPS ones (segments, checkpoint schedule, series
files, frames, D²min and events, store) and replace only what touches the engine, through
:class:`~glassfix.engines.openmm.session.OpenMMSession` (MD) and
:class:`~glassfix.engines.openmm.session.ShearSession` (AQS: affine tilt + L-BFGS on the Reference platform).
The outputs are the LAMMPS path's: ``series.csv`` with the same columns (numba reference energies and
virial, per atom), ``predictions.csv`` / ``snapshot_predictions.csv`` with the group means of the model,
``frames/*.npz`` with ``predict/<output>`` labels (the model evaluated by the OpenMM
:class:`~glassfix.engines.openmm.PredictorReporter` every ``predict_every`` steps), ``final.data``,
``result.json``; checkpoints ``checkpoints/ckpt_<step>.omm.npz`` (see the session for what is bitwise).

Engine differences (documented in ``docs/protocols.md``): NVE draws its Maxwell–Boltzmann velocities with
glassfix's generator (``ensembles.replica.maxwell_boltzmann``: zero momentum, exactly T; the same
distribution as LAMMPS' ``velocity create``, other numbers); creep thermostats with Langevin dynamics
(friction 1/``tdamp``) and OpenMM's Monte Carlo anisotropic barostat (a move every ``BAROSTAT_EVERY``
steps; ``pdamp`` has no counterpart) instead of Nosé–Hoover NPT, and minimises its snapshots with
:func:`~glassfix.engines.openmm.creep.minimize_under_stress` (L-BFGS + quasi-Newton box steps, Reference
platform: double precision) instead of ``fix box/relax``. Options OpenMM cannot do are refused by
:func:`check_openmm_spec` with one message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from glassfix.core.frame import Frame
from glassfix.protocols.aqs import AQSRun
from glassfix.protocols.common import ProtocolError
from glassfix.protocols.creep import _STRESS_BOX, CreepRun
from glassfix.protocols.nve import NVERun

__all__ = ["NVEOpenMMRun", "CreepOpenMMRun", "AQSOpenMMRun", "OPENMM_RUNS", "check_openmm_spec", "BAROSTAT_EVERY"]

#: MD steps between Monte Carlo barostat moves in OpenMM creep
BAROSTAT_EVERY = 25
#: default platform of the minimisations (inherent structures, creep snapshots, AQS minima): double precision,
#: as LAMMPS' CG (engine option ``min_platform``: CPU/CUDA for large N, where Reference is slow)
MIN_PLATFORM = "Reference"


def check_openmm_spec(spec: Any, protocol: str) -> None:
    """Refuse, in one message, spec options the OpenMM engine cannot honour."""
    bad = []
    if getattr(spec, "data", None) and str(spec.data).endswith(".restart"):
        bad.append(f"data={spec.data!r} is a LAMMPS restart file; OpenMM reads LAMMPS data files "
                   f"(write one with `write_data`)")
    if getattr(spec, "min_style", "cg") != "cg" or getattr(spec, "min_line", "quadratic") != "quadratic":
        bad.append(f"min_style={spec.min_style!r}/min_line={spec.min_line!r}: OpenMM minimises with its L-BFGS "
                   f"(leave cg/quadratic, which name LAMMPS' minimiser)")
    if getattr(spec, "min_etol", 0.0) != 0.0:
        bad.append(f"min_etol={spec.min_etol}: OpenMM's minimiser stops on the force only (use min_ftol)")
    if bad:
        raise ProtocolError("--engine openmm cannot run this spec: " + "; ".join(bad))


class _OpenMMMixin:
    """What every OpenMM runner shares: the session, checkpoint files, predictor, final.data."""

    checkpoint_suffix = ".omm.npz"
    engine = "openmm"
    engine_options: dict[str, Any] = {}

    def _session_kwargs(self) -> dict[str, Any]:
        raise NotImplementedError

    def _min_platform(self) -> str:
        return str(self.engine_options.get("min_platform") or MIN_PLATFORM)

    def _template(self) -> Frame:
        from glassfix.data.lammps_io import read_data

        if self.start_path is None:
            raise ProtocolError(f"{self.protocol}: no starting configuration (internal: start_path unset)")
        p = Path(self.start_path)
        if not p.is_file():
            raise ProtocolError(f"starting configuration {p} does not exist (give a LAMMPS data file, e.g. the "
                                f"final.data/inherent.data written by `glassfix prepare`)")
        f = read_data(p, species=tuple(self.system.species), dim=int(self.system.dim))
        f.metadata.pop("masses", None)
        return f

    def open_session(self) -> Any:
        """An :class:`OpenMMSession` of the starting configuration, with the model's reporter when asked."""
        from glassfix.engines.openmm import PredictorReporter
        from glassfix.engines.openmm.session import OpenMMSession

        check_openmm_spec(self.spec, self.protocol)
        self.template = self._template()
        opts = dict(self.engine_options)
        s = OpenMMSession(self.system, self.template, seed=int(self.spec.seed), platform=opts.get("platform"),
                          threads=opts.get("threads"), thermo_every=int(self.spec.thermo_every),
                          **self._session_kwargs())
        if self.otf is not None:
            s.predictor = PredictorReporter(self.otf.model, self.otf.every, self.template.types,
                                            self.system.species, dim=int(self.system.dim))
            # minima get their own evaluator: the MD reporter evaluates once per step number
            self.min_predictor = PredictorReporter(s.predictor.model, 1, self.template.types, self.system.species,
                                                   dim=int(self.system.dim))
        return s

    def save_session(self, s: Any, path: Path) -> None:
        """Checkpoint arrays, then continue from them (resumed and uninterrupted runs do the same)."""
        if self.root:
            s.save(path)
        s.load(path)

    def load_session(self, s: Any, path: Path) -> None:
        """A fresh Context from the checkpoint arrays."""
        s.load(path)

    def _velocities(self, frame: Frame) -> np.ndarray:
        from glassfix.ensembles.replica import maxwell_boltzmann

        m = np.asarray(self.system.masses, dtype=np.float64)[frame.types]
        return maxwell_boltzmann(m, float(self.spec.T), frame.dim, int(self.spec.seed))

    def _predict_rows(self, s: Any, after: int) -> list[dict[str, float]]:
        """Rows of predictions.csv from the reporter's history after step ``after``."""
        if self.otf is None:
            return []
        rows = [{"step": st, "time": st * self.spec.dt,
                 **{f"{n}_mean": float(m[k]) for k, n in enumerate(self.otf.output_names)}}
                for st, m in s.predictor.history if st > after]
        s.predictor.history.clear()
        return rows

    def _values_now(self, s: Any, step: int) -> np.ndarray | None:
        """The reporter's per-atom values if it evaluated this very step, else None."""
        if self.otf is None or s.predictor._last != step:
            return None
        return s.predictor.values.copy()

    def _write_final(self, s: Any) -> None:
        from glassfix.data.lammps_io import write_data

        if self.root:
            write_data(s.frame(velocities=True), self.wd.path / "final.data", masses=self.system.masses)


class NVEOpenMMRun(_OpenMMMixin, NVERun):
    """:class:`~glassfix.protocols.nve.NVESpec` on OpenMM: Verlet from fresh velocities, frames, inherent
    structures minimised on a copy (L-BFGS, Reference platform)."""

    def __init__(self, spec: Any, *args: Any, **kw: Any) -> None:
        super().__init__(spec, *args, **kw)
        self.copy = None

    def _session_kwargs(self) -> dict[str, Any]:
        return {"dt": float(self.spec.dt), "temperature": None}

    def start(self, s: Any) -> None:
        """Fresh velocities at T, row and predictions of step 0, frame 0."""
        f0 = self.template
        s.start(f0, self._velocities(f0), 0)
        self.write_rows("series", [{**s.thermo(s.sim.context.getState(getPositions=True, getVelocities=True)),
                                    "time": 0.0}])
        if self.otf is not None:
            s.predictor.report_now(s.sim)
            self.write_rows("predictions", self._predict_rows(s, -1))
        if self.spec.frame_every:
            self._frames(s, 0)

    def restore(self, s: Any, state: Mapping[str, Any]) -> None:
        """Nothing beyond the checkpoint arrays."""

    def advance(self, s: Any, step: int, to: int) -> None:
        """MD to ``to``; frames when ``to`` is a multiple of ``frame_every``."""
        rows = s.run(to - step)
        self.write_rows("series", [{**r, "time": r["step"] * self.spec.dt} for r in rows])
        if self.otf is not None:
            self.write_rows("predictions", self._predict_rows(s, step))
        if self.spec.frame_every and to % int(self.spec.frame_every) == 0:
            self._frames(s, to)

    def _frames(self, s: Any, step: int) -> None:
        from glassfix.engines.openmm.session import minimize_copy

        sp = self.spec
        frame = s.frame(velocities=True, metadata={"T": sp.T, "kind": "md", "engine": "openmm"})
        values = self._values_now(s, step)
        labels = self.otf.labels(values) if values is not None else {}
        if labels:
            frame.metadata["predict_model"] = self.otf.model
        self.save_frame(frame, "md", step, labels=labels)
        if sp.inherent:
            from glassfix.engines.openmm.system import reference_energy_forces

            inh = minimize_copy(self.system, frame, sp.min_ftol, self._min_platform(), int(sp.min_maxiter))
            inh.velocities = None
            ef = reference_energy_forces(self.system, inh)
            inh.metadata = {"system": self.system.name, "T": sp.T, "kind": "is", "engine": "openmm",
                            "pe": ef.energy / inh.n_atoms, "fnorm": float(np.linalg.norm(ef.forces))}
            self.save_frame(inh, "is", step)

    def finish(self, s: Any) -> dict[str, Any]:
        """final.data and the summary of the LAMMPS runner."""
        self._write_final(s)
        summary: dict[str, Any] = {"T_target": self.spec.T, "dt": self.spec.dt, "engine": "openmm",
                                   "platform": s.platform}
        if self.root:
            e = self.series["series"].read()
            summary.update(mean_temp=float(np.mean(e["temp"])), etotal_first=float(e["etotal"][0]),
                           etotal_last=float(e["etotal"][-1]),
                           etotal_max_deviation=float(np.max(np.abs(e["etotal"] - e["etotal"][0]))))
        return summary

    def close(self) -> None:
        """Nothing to free."""


class CreepOpenMMRun(_OpenMMMixin, CreepRun):
    """:class:`~glassfix.protocols.creep.CreepSpec` on OpenMM: Langevin + Monte Carlo anisotropic barostat,
    snapshots minimised under the applied stress on a copy."""

    def __init__(self, spec: Any, *args: Any, **kw: Any) -> None:
        super().__init__(spec, *args, **kw)
        self.copy = None

    def _session_kwargs(self) -> dict[str, Any]:
        from glassfix.engines.openmm.creep import _targets

        target, moving = _targets(self.spec.sigma0, self.spec.axis, self.spec.lateral)
        return {"dt": float(self.spec.dt), "temperature": float(self.spec.T), "friction": 1.0 / float(self.spec.tdamp),
                "barostat": (target, moving, BAROSTAT_EVERY)}

    def start(self, s: Any) -> None:
        """Record the unloaded box, draw velocities, apply the load, row/predictions/snapshot of step 0."""
        f0 = self.template
        if f0.dim != 3 or not np.allclose(f0.cell, np.diag(np.diag(f0.cell))):
            raise ProtocolError("--engine openmm: creep needs a 3D orthorhombic box")
        self.state_extras.update(L0=[float(f0.cell[k, k]) for k in range(3)], n_unconverged=0, max_residual=0.0)
        s.start(f0, self._velocities(f0), 0)
        row = s.thermo(s.sim.context.getState(getPositions=True, getVelocities=True))
        self.write_rows("series", [self._md_row({k: row[k] for k in ("step", "temp", "pe", "press", *_STRESS_BOX)})])
        if self.otf is not None:
            s.predictor.report_now(s.sim)
            self.write_rows("predictions", self._predict_rows(s, -1))
        self._snapshot(s, 0)

    def restore(self, s: Any, state: Mapping[str, Any]) -> None:
        """Nothing beyond the checkpoint arrays (the seeds are derived from the step)."""

    def advance(self, s: Any, step: int, to: int) -> None:
        """MD from ``step`` to ``to``, then the stress-constrained snapshot at ``to``."""
        rows = s.run(to - step)
        self.write_rows("series", [self._md_row({k: r[k] for k in ("step", "temp", "pe", "press", *_STRESS_BOX)})
                                   for r in rows])
        if self.otf is not None:
            self.write_rows("predictions", self._predict_rows(s, step))
        self._snapshot(s, to)

    def _snapshot(self, s: Any, step: int) -> None:
        from glassfix.core.cell import wrap_positions
        from glassfix.engines.openmm.creep import minimize_under_stress
        from glassfix.engines.openmm.session import thermo_row

        sp = self.spec
        meta = {"T": sp.T, "sigma0": sp.sigma0, "axis": sp.axis, "lateral": sp.lateral, "time": step * sp.dt,
                "engine": "openmm"}
        cur = s.frame(velocities=sp.save_md_frames, metadata={**meta, "kind": "creep_md"})
        if sp.save_md_frames:
            values = self._values_now(s, step)
            self.save_frame(cur, "creep_md", step, labels=self.otf.labels(values) if values is not None else {})
        n = cur.n_atoms
        m, info = minimize_under_stress(self.system, Frame(positions=cur.unwrapped, types=cur.types, cell=cur.cell,
                                                           metadata={k: cur.metadata[k] for k in ("diameters", "bonds")
                                                                     if k in cur.metadata}),
                                        sp.sigma0, sp.axis, sp.lateral, self._min_platform(),
                                        tolerance=float(sp.min_ftol) / np.sqrt(3 * n), stress_tol=float(sp.stress_tol),
                                        max_rounds=8 * int(sp.max_min_rounds))
        th = thermo_row(self.system, m, np.zeros((n, 3)), np.ones(n))
        from glassfix.engines.openmm.system import reference_energy_forces

        fnorm = float(np.linalg.norm(reference_energy_forces(self.system, m).forces))
        frame = Frame(positions=wrap_positions(m.positions, m.cell, cur.origin), types=cur.types, cell=m.cell,
                      origin=cur.origin, ids=cur.ids, species=cur.species, unwrapped=m.positions, step=step,
                      time=step * sp.dt, metadata={"system": self.system.name, **meta})
        strains = self._strains(th)
        frame.metadata.update(kind="creep_min", converged=bool(info["converged"]), residual=info["residual"],
                              pe=th["pe"], **strains)
        self.write_rows("snapshots", [{"step": step, "time": step * sp.dt, "pe": th["pe"],
                                       **{k: th[k] for k in _STRESS_BOX}, **strains, "residual": info["residual"],
                                       "rounds": info["rounds"], "iterations": float("nan"),
                                       "converged": info["converged"], "fnorm": fnorm}])
        self.state_extras["max_residual"] = max(float(self.state_extras.get("max_residual", 0.0)),
                                                float(info["residual"]))
        if not info["converged"]:
            self.state_extras["n_unconverged"] = int(self.state_extras.get("n_unconverged", 0)) + 1
            msg = (f"creep: the stress-constrained minimisation at step {step} did not converge: residual "
                   f"stress {info['residual']:.3g} > stress_tol {sp.stress_tol:g} after {info['rounds']} rounds")
            if sp.require_convergence:
                raise ProtocolError(msg + "; raise max_min_rounds or stress_tol")
            self.say("warning: " + msg)
        labels = {}
        if self.otf is not None:
            self.min_predictor.evaluate(frame)
            self.min_predictor._last = -1
            self.min_predictor.history.clear()
            labels = self.otf.labels(self.min_predictor.values.copy())
            frame.metadata["predict_model"] = self.otf.model
            means = self.min_predictor.means
            self.write_rows("snapshot_predictions", [{"step": step, "time": step * sp.dt,
                                                      **{f"{o}_mean": float(means[k])
                                                         for k, o in enumerate(self.otf.output_names)}}])
        if sp.save_min_frames:
            self.save_frame(frame, "creep_min", step, labels=labels)

    def finish(self, s: Any) -> dict[str, Any]:
        """final.data and the summary of the LAMMPS runner (+ engine, platform)."""
        self._write_final(s)
        cell = s.frame().cell
        strains = self._strains({f"l{c}": float(cell[k, k]) for k, c in enumerate("xyz")})
        return {"T": self.spec.T, "sigma0": self.spec.sigma0, "axis": self.spec.axis, "lateral": self.spec.lateral,
                "final_strain": strains["strain"], "L0": self.state_extras["L0"],
                "snapshots": int(self.total() // int(self.spec.snapshot_every)) + 1,
                "n_unconverged": int(self.state_extras.get("n_unconverged", 0)),
                "max_residual": float(self.state_extras.get("max_residual", 0.0)), "engine": "openmm",
                "platform": s.platform, "barostat_every": BAROSTAT_EVERY}

    def close(self) -> None:
        """Nothing to free."""


#: protocol name -> OpenMM runner


class AQSOpenMMRun(_OpenMMMixin, AQSRun):
    """:class:`~glassfix.protocols.aqs.AQSSpec` on OpenMM: affine tilt steps and L-BFGS minima (Reference
    platform, double precision), D²min, events and frames as on LAMMPS."""

    def open_session(self) -> Any:
        """A :class:`~glassfix.engines.openmm.session.ShearSession` of the start (+ the model's evaluator)."""
        from glassfix.engines.openmm import PredictorReporter
        from glassfix.engines.openmm.session import ShearSession

        check_openmm_spec(self.spec, self.protocol)
        self.template = self._template()
        s = ShearSession(self.system, self.template, self._min_platform())
        if self.otf is not None:
            self.min_predictor = PredictorReporter(self.otf.model, 1, self.template.types, self.system.species,
                                                   dim=int(self.system.dim))
        return s

    def save_session(self, s: Any, path: Path) -> None:
        """Checkpoint arrays (positions, cell, step)."""
        if self.root:
            s.save(path)

    def _settings(self, s: Any) -> None:
        """Nothing: the OpenMM System is built from the template."""

    def _load(self, s: Any) -> np.ndarray:
        cell = np.eye(3)
        cell[:s.cell.shape[0], :s.cell.shape[0]] = s.cell
        return cell

    def _minimum(self, s: Any, n: int) -> tuple[int, dict[str, float], Frame]:
        s.step = int(n)
        if self.spec.relax:
            s.minimize(self.spec.min_ftol, int(self.spec.min_maxiter))
        return 0, s.thermo(), s.frame(step=n)

    def _step_to(self, s: Any, tilt: float, n: int) -> tuple[int, dict[str, float], Frame]:
        s.shear_to(self.spec.plane, tilt)
        return self._minimum(s, n)

    def _predict(self, s: Any, n: int) -> np.ndarray | None:
        if self.otf is None or n % self.otf.every:
            return None
        rep = self.min_predictor
        rep._last = -1
        rep.evaluate(s.frame(step=n))
        rep.history.clear()
        self.write_rows("predictions", [{"step": n, "gamma": n * self.spec.dgamma,
                                         **{f"{o}_mean": float(rep.means[k]) for k, o in enumerate(self.otf.output_names)}}])
        return rep.values.copy()

    def _write_final(self, s: Any) -> None:
        from glassfix.data.lammps_io import write_data

        if self.root:
            write_data(s.frame(), self.wd.path / "final.data", masses=self.system.masses)

    def finish(self, s: Any) -> dict[str, Any]:
        """final.data (the last minimum) and the summary of the LAMMPS runner (+ engine, platform)."""
        return {**super().finish(s), "engine": "openmm", "platform": s.platform}


#: protocol name -> OpenMM runner
OPENMM_RUNS = {"nve": NVEOpenMMRun, "creep": CreepOpenMMRun, "aqs": AQSOpenMMRun}
