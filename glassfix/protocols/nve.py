"""NVE production from a prepared configuration with fresh Maxwell–Boltzmann velocities.

Velocities are drawn at ``T`` (``velocity all create T seed dist gaussian mom yes rot no loop geom``: zero
total momentum, independent of the number of ranks), then ``fix nve`` integrates with time step ``dt``.
Every ``frame_every`` steps the configuration (positions, unwrapped positions, velocities) is written
as a frame and, with ``inherent=True``, also its inherent structure: a copy minimised in a second LAMMPS
instance (CG, ``min_etol``/``min_ftol``), the trajectory itself untouched. This is the production leg
of the thermal protocols (``000_ace.md`` §2: NVE runs of length τ_α from fresh velocities;
``002_cubuk.md``: isoconfigurational and softness trajectories).

Outputs: ``series.csv`` (step, time, temp, pe, ke, etotal, press, … every ``thermo_every`` steps; energies
per atom), ``frames/md_<step>.npz`` and ``frames/is_<step>.npz``, ``final.data``, ``result.json`` with the
total-energy drift. With ``model``: ``predictions.csv`` and ``predict/<output>`` labels on the frames
(``glassfix.protocols.predict``); with ``inherent`` as well, the model is also evaluated by the fix on every
inherent structure (``predict/<output>`` labels on ``is_<step>.npz``, means in ``is_predictions.csv``), for
models trained on inherent structures (softness, as Cubuk et al.).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from glassfix.protocols.base import (
    MD_SERIES_KEYWORDS, CopyMinimizer, ProtocolRun, common_settings, load_start_commands, thermo_by_keyword,
)
from glassfix.protocols.common import LammpsSession, ProtocolError, fmt, quote
from glassfix.protocols.predict import OnTheFly, check_predict_fields
from glassfix.protocols.prepare import PrepareSpec
from glassfix.protocols.specs import StartSpecMixin

__all__ = ["NVESpec", "NVERun"]


@dataclass
class NVESpec(StartSpecMixin):
    """NVE production; see the module docstring.

    Units: ``T`` ε_AA/k_B (temperature of the fresh velocities), ``dt`` τ, steps in MD steps.
    ``frame_every`` = 0 writes no frames; ``checkpoint_every`` defaults to ``frame_every`` (or 10⁴).
    ``start_from`` picks ``final`` (equilibrated liquid, default) or ``inherent`` from a nested prepare.
    """

    system: str = "ka3d"
    system_options: dict[str, Any] = field(default_factory=dict)
    data: str | None = None
    prepare: PrepareSpec | None = None
    start_from: str = "final"
    T: float = 0.5
    seed: int = 4928
    dt: float = 0.005
    steps: int = 10000
    frame_every: int = 1000
    thermo_every: int = 100
    checkpoint_every: int | None = None
    inherent: bool = False
    min_style: str = "cg"
    min_etol: float = 0.0
    min_ftol: float = 1e-10
    min_maxiter: int = 100000
    min_maxeval: int = 1000000
    min_line: str = "quadratic"
    model: str | None = None
    predict_every: int | None = None
    predict_mode: str | None = None
    group: str | None = None

    def __post_init__(self) -> None:
        self._validate_start()
        for name in ("T", "dt"):
            if not getattr(self, name) > 0:
                raise ProtocolError(f"{name} must be > 0, got {getattr(self, name)}")
        if int(self.steps) < 1 or int(self.thermo_every) < 1 or int(self.frame_every) < 0:
            raise ProtocolError(f"steps ({self.steps}) and thermo_every ({self.thermo_every}) must be >= 1 and "
                                f"frame_every ({self.frame_every}) >= 0")
        if self.checkpoint_every is not None and int(self.checkpoint_every) < 1:
            raise ProtocolError(f"checkpoint_every must be >= 1, got {self.checkpoint_every}")
        if int(self.seed) <= 0:
            raise ProtocolError(f"seed must be a positive integer (LAMMPS), got {self.seed}")
        check_predict_fields(self, self.frame_every, "frame_every")

    def default_predict_every(self) -> int:
        """Prediction interval without ``predict_every``: gcd(thermo_every, frame_every) (MD steps)."""
        return math.gcd(int(self.thermo_every), int(self.frame_every)) if self.frame_every else int(self.thermo_every)


class NVERun(ProtocolRun):
    """Runner of :class:`NVESpec` (use :func:`glassfix.protocols.run`)."""

    protocol = "nve"
    spec_class = NVESpec
    extendable = ("steps",)

    def __init__(self, spec: NVESpec, *args: Any, **kw: Any) -> None:
        super().__init__(spec, *args, **kw)
        self.copy = CopyMinimizer(self.system, self.wd.tmp, self.comm) if spec.inherent else None
        self.start_path = None
        self.add_series("series", ["step", "time", *MD_SERIES_KEYWORDS])
        self.otf = OnTheFly.from_spec(spec, spec.default_predict_every())
        if self.otf is not None:
            self.add_series("predictions", self.otf.columns("time"))
            if self.copy is not None:
                self.add_series("is_predictions", self.otf.columns("time"))

    def total(self) -> int:
        """Run length in MD steps."""
        return int(self.spec.steps)

    def _ckpt(self) -> int:
        return int(self.spec.checkpoint_every or self.spec.frame_every or 10000)

    def next_boundary(self, step: int) -> int:
        """Next frame or checkpoint step."""
        cands = [(step // self._ckpt() + 1) * self._ckpt()]
        if self.spec.frame_every:
            fe = int(self.spec.frame_every)
            cands.append((step // fe + 1) * fe)
        return min(cands)

    def is_checkpoint(self, step: int) -> bool:
        """Every ``checkpoint_every`` steps."""
        return step % self._ckpt() == 0

    def _settings(self, s: LammpsSession) -> None:
        s.commands(common_settings(self.system, self.spec.dt))
        s.command(f"thermo {int(self.spec.thermo_every)}")

    def start(self, s: LammpsSession) -> None:
        """Load, fresh velocities at T, ``fix nve``, frame 0."""
        if self.start_path is None:
            raise ProtocolError("nve: no starting configuration (internal: start_path unset)")
        s.commands(load_start_commands(self.system, self.start_path))
        self._settings(s)
        s.command("reset_timestep 0")
        s.command(f"velocity all create {fmt(self.spec.T)} {int(self.spec.seed)} dist gaussian mom yes rot no "
                  f"loop geom")
        s.command("fix gf_nve all nve")
        if self.otf is not None:
            self.otf.attach(s)
        s.command("run 0")
        th = thermo_by_keyword(s)
        self.write_rows("series", [{"step": 0, "time": 0.0, **{k: th[k] for k in MD_SERIES_KEYWORDS}}])
        if self.otf is not None:
            self.write_rows("predictions", [{"step": 0, "time": 0.0, **self.otf.means(s)}])
        if self.spec.frame_every:
            self._frames(s, 0)

    def restore(self, s: LammpsSession, state: Mapping[str, Any]) -> None:
        """Interactions, thermo, ``fix nve``."""
        self._settings(s)
        s.command("fix gf_nve all nve")
        if self.otf is not None:
            self.otf.attach(s)

    def advance(self, s: LammpsSession, step: int, to: int) -> None:
        """MD to ``to``; frames when ``to`` is a multiple of ``frame_every``."""
        tmp = self.wd.tmp / "segment_predictions.txt"
        if self.otf is not None:
            self.otf.begin_series(s, tmp, self.root)
        rows = self.run_md(s, to - step, self.spec.thermo_every, keep_from=step + 1)
        for r in rows:
            r["time"] = r["step"] * self.spec.dt
        self.write_rows("series", rows)
        if self.otf is not None:
            pred = self.otf.end_series(s, tmp, self.root, keep_from=step + 1)
            self.write_rows("predictions", [{**r, "time": r["step"] * self.spec.dt} for r in pred])
        if self.spec.frame_every and to % int(self.spec.frame_every) == 0:
            self._frames(s, to)

    def _frames(self, s: LammpsSession, step: int) -> None:
        sp = self.spec
        meta = {"T": sp.T, "kind": "md"}
        frame = s.frame(self.system, velocities=True, metadata=meta)
        frame.time = step * sp.dt
        labels = {}
        if self.otf is not None and step % self.otf.every == 0:  # the fix evaluated this very step
            labels = self.otf.labels(self.otf.values(s))
            frame.metadata["predict_model"] = self.otf.model
        self.save_frame(frame, "md", step, labels=labels)
        if self.copy is not None:
            inh, info = self.copy.minimize(s, sp.min_settings(), sp.dt,
                                           metadata={"T": sp.T, "kind": "is"}, predict=self.otf)
            inh.time = step * sp.dt
            inh.metadata.update(pe=info["pe"], fnorm=info["fnorm"])
            is_labels = {}
            if self.otf is not None:
                is_labels = self.otf.labels(info["predict_values"])
                inh.metadata["predict_model"] = self.otf.model
                self.write_rows("is_predictions", [{"step": step, "time": step * sp.dt, **info["predict_means"]}])
            self.save_frame(inh, "is", step, labels=is_labels)

    def finish(self, s: LammpsSession) -> dict[str, Any]:
        """final.data; summary with the mean temperature and the total-energy drift (per atom)."""
        s.command(f"write_data {quote(self.wd.path / 'final.data')}")
        summary: dict[str, Any] = {"T_target": self.spec.T, "dt": self.spec.dt}
        if self.root:
            ser = self.series["series"].read()
            e = ser["etotal"]
            summary.update(mean_temp=float(np.mean(ser["temp"])), etotal_first=float(e[0]),
                           etotal_last=float(e[-1]), etotal_max_deviation=float(np.max(np.abs(e - e[0]))))
        return summary

    def close(self) -> None:
        """Free the copy instance."""
        if self.copy is not None:
            self.copy.close()
