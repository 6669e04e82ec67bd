"""Creep under a constant uniaxial stress (step load) with stress-constrained minimised snapshots.

Protocol (Wu & Ruiz Pestana, Front. Mater. 2023; ``shared/science/003_creep.md`` §1–2, §6):

* start: a minimised glass (``data``, or ``prepare`` = :meth:`PrepareSpec.for_creep`: Langevin melt at
  T = 3, Nosé–Hoover quench to T = 0.1 over 10⁴ steps, minimise), Maxwell–Boltzmann velocities at ``T``;
* load at t = 0 (instantaneous, then held): ``fix npt temp T T tdamp  <axis> σ0 σ0 pdamp`` plus, with
  ``lateral="stress_free"`` (default), the two lateral normal stresses barostatted to 0 (``couple none``);
  ``lateral="fixed"`` keeps the lateral box lengths (uniaxial-strain-like). LAMMPS' pressure is positive
  in compression, so ``sigma0 > 0`` is a *compressive* stress and gives a negative axial strain;
* every ``snapshot_every`` steps a copy is minimised under the applied stress in a second LAMMPS
  instance (``fix box/relax <lateral> 0 <axis> σ0 couple none`` + CG, ``min_modify line quadratic``),
  repeated up to ``max_min_rounds`` times until every relaxed stress component is within ``stress_tol``
  of its target; non-converged snapshots are flagged (``converged = 0``) and reported, or raise with
  ``require_convergence``. The MD trajectory is never touched by it;
* strain ε(t) = (L_axis(t) − L_axis(0)) / L_axis(0), with L(0) the box before loading (engineering
  strain; the same reference for the minimised snapshots), lateral strains likewise.

Defaults: T = 0.1, σ0 = 0.5, dt = 0.01 τ, tdamp = 1 τ and pdamp = 10 τ (the pilot's choices, §6.4),
snapshots every 10⁴ steps. The paper's interaction has an energy shift (``pair_modify shift yes``) for the
box/relax minimisation to converge; the default KA system (``lj/smooth/linear``) already has energy
and force continuous at the cutoff.

Outputs: ``series.csv`` (MD: step, time, temp, pe, stresses, box, strain every ``thermo_every`` steps),
``snapshots.csv`` (minimised copies: energy, stresses, box, strain, residual, convergence),
``frames/creep_min_<step>.npz`` (and ``creep_md_<step>.npz`` with ``save_md_frames``), ``final.data``.
With ``model``: ``predictions.csv`` (MD), ``snapshot_predictions.csv`` (the model on every minimised
snapshot) and ``predict/<output>`` labels on the frames (``glassfix.protocols.predict``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from glassfix.protocols.base import (
    CopyMinimizer, ProtocolRun, common_settings, load_start_commands, thermo_by_keyword,
)
from glassfix.protocols.common import LammpsSession, ProtocolError, fmt, quote
from glassfix.protocols.predict import OnTheFly, check_predict_fields
from glassfix.protocols.prepare import PrepareSpec
from glassfix.protocols.specs import StartSpecMixin

__all__ = ["CreepSpec", "CreepRun"]

_AXES = "xyz"


@dataclass
class CreepSpec(StartSpecMixin):
    """Creep at constant uniaxial stress; see the module docstring.

    Units: ``T`` ε_AA/k_B; ``sigma0`` ε_AA/σ_AA³ (> 0 compressive); ``dt``, ``tdamp``, ``pdamp`` τ; steps in
    MD steps; ``stress_tol`` ε_AA/σ_AA³; ``box_relax_vmax`` the largest fractional volume change per
    minimiser iteration. ``checkpoint_every`` (default: ``snapshot_every``) must be a multiple of
    ``snapshot_every``.
    """

    system: str = "ka3d"
    system_options: dict[str, Any] = field(default_factory=dict)
    data: str | None = None
    prepare: PrepareSpec | None = None
    start_from: str = "inherent"
    T: float = 0.1
    sigma0: float = 0.5
    axis: str = "z"
    lateral: str = "stress_free"
    seed: int = 24680
    dt: float = 0.01
    tdamp: float = 1.0
    pdamp: float = 10.0
    steps: int = 1_000_000
    snapshot_every: int = 10_000
    thermo_every: int = 1000
    checkpoint_every: int | None = None
    min_style: str = "cg"
    min_etol: float = 0.0
    min_ftol: float = 1e-10
    min_maxiter: int = 20000
    min_maxeval: int = 200000
    min_line: str = "quadratic"
    stress_tol: float = 1e-6
    max_min_rounds: int = 5
    box_relax_vmax: float = 0.001
    require_convergence: bool = False
    save_min_frames: bool = True
    save_md_frames: bool = False
    model: str | None = None
    predict_every: int | None = None
    predict_mode: str | None = None
    group: str | None = None

    def __post_init__(self) -> None:
        self._validate_start()
        if self.axis not in _AXES:
            raise ProtocolError(f"axis must be x, y or z, got {self.axis!r}")
        if self.lateral not in ("stress_free", "fixed"):
            raise ProtocolError(f"lateral must be 'stress_free' or 'fixed', got {self.lateral!r}")
        for name in ("T", "dt", "tdamp", "pdamp", "stress_tol", "box_relax_vmax"):
            if not getattr(self, name) > 0:
                raise ProtocolError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("steps", "snapshot_every", "thermo_every", "max_min_rounds"):
            if int(getattr(self, name)) < 1:
                raise ProtocolError(f"{name} must be >= 1, got {getattr(self, name)}")
        if int(self.seed) <= 0:
            raise ProtocolError(f"seed must be a positive integer (LAMMPS), got {self.seed}")
        if self.checkpoint_every is not None and (int(self.checkpoint_every) < 1 or
                                                  int(self.checkpoint_every) % int(self.snapshot_every)):
            raise ProtocolError(f"checkpoint_every ({self.checkpoint_every}) must be a positive multiple of "
                                f"snapshot_every ({self.snapshot_every})")
        check_predict_fields(self, self.snapshot_every if self.save_md_frames else None, "snapshot_every")

    def default_predict_every(self) -> int:
        """MD prediction interval without ``predict_every``: gcd(thermo_every, snapshot_every) (MD steps)."""
        return math.gcd(int(self.thermo_every), int(self.snapshot_every))


class CreepRun(ProtocolRun):
    """Runner of :class:`CreepSpec` (use :func:`glassfix.protocols.run`)."""

    protocol = "creep"
    spec_class = CreepSpec
    extendable = ("steps",)

    def __init__(self, spec: CreepSpec, *args: Any, **kw: Any) -> None:
        super().__init__(spec, *args, **kw)
        d = int(self.system.dim)
        self.a = _AXES.index(spec.axis)
        if self.a >= d:
            raise ProtocolError(f"axis {spec.axis!r} does not exist in a {d}D system")
        self.lat = [k for k in range(d) if k != self.a]
        self.copy = CopyMinimizer(self.system, self.wd.tmp, self.comm)
        self.start_path = None
        strains = ["strain"] + [f"strain_{_AXES[k]}" for k in self.lat]
        self.add_series("series", ["step", "time", "temp", "pe", "press", "pxx", "pyy", "pzz", "pxy", "pxz",
                                   "pyz", "lx", "ly", "lz", "vol", *strains])
        self.add_series("snapshots", ["step", "time", "pe", "pxx", "pyy", "pzz", "pxy", "pxz", "pyz", "lx", "ly",
                                      "lz", "vol", *strains, "residual", "rounds", "iterations", "converged",
                                      "fnorm"])
        self.otf = OnTheFly.from_spec(spec, spec.default_predict_every())
        if self.otf is not None:
            self.add_series("predictions", self.otf.columns("time"))
            self.add_series("snapshot_predictions", self.otf.columns("time"))

    def total(self) -> int:
        """Creep length in MD steps."""
        return int(self.spec.steps)

    def next_boundary(self, step: int) -> int:
        """Next snapshot step."""
        k = int(self.spec.snapshot_every)
        return (step // k + 1) * k

    def is_checkpoint(self, step: int) -> bool:
        """Every ``checkpoint_every`` steps."""
        return step % int(self.spec.checkpoint_every or self.spec.snapshot_every) == 0

    # ---------------------------------------------------------------- LAMMPS set-up
    def _fix_command(self) -> str:
        sp = self.spec
        parts = []
        if sp.lateral == "stress_free":
            parts += [f"{_AXES[k]} 0.0 0.0 {fmt(sp.pdamp)}" for k in self.lat]
        parts.append(f"{sp.axis} {fmt(sp.sigma0)} {fmt(sp.sigma0)} {fmt(sp.pdamp)}")
        return (f"fix gf_creep all npt temp {fmt(sp.T)} {fmt(sp.T)} {fmt(sp.tdamp)} {' '.join(parts)} "
                f"couple none")

    def _relax_command(self) -> tuple[str, dict[str, float]]:
        sp = self.spec
        parts, targets = [], {}
        if sp.lateral == "stress_free":
            for k in self.lat:
                parts.append(f"{_AXES[k]} 0.0")
                targets[f"p{_AXES[k] * 2}"] = 0.0
        parts.append(f"{sp.axis} {fmt(sp.sigma0)}")
        targets[f"p{sp.axis * 2}"] = float(sp.sigma0)
        return (f"{' '.join(parts)} couple none vmax {fmt(sp.box_relax_vmax)} nreset 100", targets)

    def _settings(self, s: LammpsSession) -> None:
        s.commands(common_settings(self.system, self.spec.dt))
        s.command(f"thermo {int(self.spec.thermo_every)}")

    def start(self, s: LammpsSession) -> None:
        """Load the glass, record the unloaded box, draw velocities, apply the load, snapshot step 0."""
        if self.start_path is None:
            raise ProtocolError("creep: no starting configuration (internal: start_path unset)")
        s.commands(load_start_commands(self.system, self.start_path))
        self._settings(s)
        s.command("reset_timestep 0")
        cell, _ = s.box()
        self.state_extras["L0"] = [float(cell[k, k]) for k in range(3)]
        self.state_extras["n_unconverged"] = 0
        self.state_extras["max_residual"] = 0.0
        s.command(f"velocity all create {fmt(self.spec.T)} {int(self.spec.seed)} dist gaussian mom yes rot no "
                  f"loop geom")
        s.command(self._fix_command())
        if self.otf is not None:
            self.otf.attach(s)
        s.command("run 0")
        th = thermo_by_keyword(s)
        self.write_rows("series", [self._md_row({"step": 0, **{k: th[k] for k in ("temp", "pe", "press",
                                                                                  *_STRESS_BOX)}})])
        if self.otf is not None:
            self.write_rows("predictions", [{"step": 0, "time": 0.0, **self.otf.means(s)}])
        self._snapshot(s, 0)

    def restore(self, s: LammpsSession, state: Mapping[str, Any]) -> None:
        """Interactions, thermo and the barostat fix (its state comes back from the restart)."""
        self._settings(s)
        s.command(self._fix_command())
        if self.otf is not None:
            self.otf.attach(s)

    # ---------------------------------------------------------------- segments
    def _strains(self, lengths: Mapping[str, float]) -> dict[str, float]:
        L0 = self.state_extras["L0"]
        out = {"strain": (lengths[f"l{_AXES[self.a]}"] - L0[self.a]) / L0[self.a]}
        for k in self.lat:
            out[f"strain_{_AXES[k]}"] = (lengths[f"l{_AXES[k]}"] - L0[k]) / L0[k]
        return out

    def _md_row(self, r: dict[str, Any]) -> dict[str, Any]:
        r["time"] = r["step"] * self.spec.dt
        r.update(self._strains(r))
        return r

    def advance(self, s: LammpsSession, step: int, to: int) -> None:
        """MD from ``step`` to ``to``, then the stress-constrained snapshot at ``to``."""
        tmp = self.wd.tmp / "segment_predictions.txt"
        if self.otf is not None:
            self.otf.begin_series(s, tmp, self.root)
        rows = self.run_md(s, to - step, self.spec.thermo_every, keep_from=step + 1,
                           keywords=("temp", "pe", "press", *_STRESS_BOX))
        self.write_rows("series", [self._md_row(r) for r in rows])
        if self.otf is not None:
            pred = self.otf.end_series(s, tmp, self.root, keep_from=step + 1)
            self.write_rows("predictions", [{**r, "time": r["step"] * self.spec.dt} for r in pred])
        self._snapshot(s, to)

    def _snapshot(self, s: LammpsSession, step: int) -> None:
        sp = self.spec
        relax, targets = self._relax_command()
        meta = {"T": sp.T, "sigma0": sp.sigma0, "axis": sp.axis, "lateral": sp.lateral, "time": step * sp.dt}
        if sp.save_md_frames:
            md = s.frame(self.system, velocities=True, metadata={**meta, "kind": "creep_md"})
            md.time = step * sp.dt
            labels = {}
            if self.otf is not None and step % self.otf.every == 0:  # the MD fix evaluated this very step
                labels = self.otf.labels(self.otf.values(s))
            self.save_frame(md, "creep_md", step, labels=labels)
        frame, info = self.copy.minimize(s, sp.min_settings(), sp.dt, relax, targets, sp.stress_tol,
                                         sp.max_min_rounds, metadata=meta, predict=self.otf)
        strains = self._strains(info)
        frame.time = step * sp.dt
        frame.metadata.update(kind="creep_min", converged=bool(info["converged"]), residual=info["residual"],
                              pe=info["pe"], **strains)
        row = {"step": step, "time": step * sp.dt, "pe": info["pe"],
               **{k: info[k] for k in _STRESS_BOX}, **strains, "residual": info["residual"],
               "rounds": info["rounds"], "iterations": info["iterations"], "converged": info["converged"],
               "fnorm": info["fnorm"]}
        self.write_rows("snapshots", [row])
        self.state_extras["max_residual"] = max(float(self.state_extras.get("max_residual", 0.0)),
                                                float(info["residual"]))
        if not info["converged"]:
            self.state_extras["n_unconverged"] = int(self.state_extras.get("n_unconverged", 0)) + 1
            msg = (f"creep: the stress-constrained minimisation at step {step} did not converge: residual "
                   f"stress {info['residual']:.3g} > stress_tol {sp.stress_tol:g} after {info['rounds']} rounds "
                   f"({info['iterations']} iterations)")
            if sp.require_convergence:
                raise ProtocolError(msg + "; raise max_min_rounds/min_maxiter or stress_tol")
            self.say("warning: " + msg)
        labels = {}
        if self.otf is not None:
            labels = self.otf.labels(info["predict_values"])
            frame.metadata["predict_model"] = self.otf.model
            self.write_rows("snapshot_predictions", [{"step": step, "time": step * sp.dt,
                                                      **info["predict_means"]}])
        if sp.save_min_frames:
            self.save_frame(frame, "creep_min", step, labels=labels)

    def finish(self, s: LammpsSession) -> dict[str, Any]:
        """final.data and the summary (final strain, convergence of the snapshots)."""
        s.command(f"write_data {quote(self.wd.path / 'final.data')}")
        cell, _ = s.box()
        strains = self._strains({f"l{c}": float(cell[k, k]) for k, c in enumerate(_AXES)})
        return {"T": self.spec.T, "sigma0": self.spec.sigma0, "axis": self.spec.axis,
                "lateral": self.spec.lateral, "final_strain": strains["strain"], "L0": self.state_extras["L0"],
                "snapshots": int(self.total() // int(self.spec.snapshot_every)) + 1,
                "n_unconverged": int(self.state_extras.get("n_unconverged", 0)),
                "max_residual": float(self.state_extras.get("max_residual", 0.0))}

    def close(self) -> None:
        """Free the copy instance."""
        self.copy.close()


_STRESS_BOX = ("pxx", "pyy", "pzz", "pxy", "pxz", "pyz", "lx", "ly", "lz", "vol")
