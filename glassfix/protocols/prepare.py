"""Glass preparation: random insertion, melt, linear quench, staged NVT/NPT equilibration, inherent structure.

Stages (each resumable, in MD steps of ``dt`` τ):

1. insertion of ``n`` atoms at random at ``density`` (the system's ``initial_lammps_commands``), overlap
   removal by a loose minimisation (``minimize 1e-4 1e-2 500 5000``), Maxwell–Boltzmann velocities at
   ``T_melt``; the time step counter is then 0;
2. melt at ``T_melt`` for ``melt_steps`` (``fix langevin`` + ``fix nve``, or Nosé–Hoover ``fix nvt``);
3. linear quench ``T_melt → T`` over ``quench_steps`` (the thermostat target ramps linearly in time,
   ``run N start s stop e`` keeps the ramp continuous across segments and restarts);
4. equilibration ``stages``: a list of :class:`Stage` (``nvt``, ``npt`` at pressure ``P``, ``nve``, or
   ``langevin``), each at its own ``T`` (default ``T``);
5. ``final.data`` (with velocities), then, if ``minimize``, the inherent structure (``inherent.data``).

Presets: :meth:`PrepareSpec.for_creep` (Wu & Ruiz Pestana 2023, ``shared/science/003_creep.md`` §1.1:
Langevin melt at T = 3 for 5·10⁴ steps, Nosé–Hoover quench to T = 0.1 over 10⁴ steps, dt = 0.01,
minimise) and :meth:`PrepareSpec.for_aqs` (``000_ace.md`` §1.3: melt at T = 1, quench to T ≈ 0 over
500 τ, minimise; Nosé–Hoover cannot target T = 0, so the ramp ends at 0.01 and the minimisation does
the rest). The defaults follow ``lammps_inputs/ka_prepare.lmp`` (T_melt = 2, dt = 0.005, damping 1 τ).

Langevin thermostats are re-seeded at every segment from (seed, step) so that resumed and uninterrupted
runs draw the same random forces.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from glassfix.protocols.base import MinimizeSettings, ProtocolRun, common_settings, thermo_by_keyword
from glassfix.protocols.common import (
    LammpsSession, ProtocolError, check_fields, derive_seed, fmt, quote, spec_to_dict,
)

__all__ = ["Stage", "PrepareSpec", "PrepareRun"]

ENSEMBLES = ("nvt", "npt", "nve", "langevin")


@dataclass(frozen=True)
class Stage:
    """One equilibration stage: ``ensemble`` (nvt | npt | nve | langevin), ``steps`` (MD steps), target ``T``
    (default: the spec's T) and, for npt, the isotropic pressure ``P`` (ε_AA/σ_AA³)."""

    ensemble: str
    steps: int
    T: float | None = None
    P: float | None = None

    def __post_init__(self) -> None:
        if self.ensemble not in ENSEMBLES:
            raise ProtocolError(f"stage ensemble {self.ensemble!r} is not one of {ENSEMBLES}")
        if int(self.steps) < 0:
            raise ProtocolError(f"stage steps must be >= 0, got {self.steps}")
        if self.ensemble == "npt" and self.P is None:
            raise ProtocolError("an npt stage needs a pressure P (LJ units, e.g. Stage('npt', 10000, P=1.0))")
        if self.T is not None and not self.T > 0:
            raise ProtocolError(f"stage temperature must be > 0, got {self.T}")


@dataclass
class PrepareSpec:
    """Melt + quench + equilibrate (+ inherent structure) one glass; see the module docstring.

    Units: temperatures ε_AA/k_B, ``dt``/``tdamp``/``pdamp`` in τ, steps in MD steps, ``density`` in
    σ_AA⁻³ (None: the system's default), pressures ε_AA/σ_AA³. ``melt_thermostat``/``quench_thermostat``
    are ``"langevin"`` or ``"nvt"``. ``chunk_steps``: steps between checkpoints. ``thermo_every``: steps
    between rows of ``series.csv``.
    """

    system: str = "ka3d"
    system_options: dict[str, Any] = field(default_factory=dict)
    n: int = 1000
    density: float | None = None
    T: float = 0.5
    seed: int = 12345
    dt: float = 0.005
    T_melt: float = 2.0
    melt_steps: int = 20000
    melt_thermostat: str = "nvt"
    quench_steps: int = 20000
    quench_thermostat: str = "nvt"
    stages: tuple[Stage, ...] = (Stage("nvt", 20000),)
    tdamp: float = 1.0
    pdamp: float = 10.0
    minimize: bool = True
    min_style: str = "cg"
    min_etol: float = 0.0
    min_ftol: float = 1e-10
    min_maxiter: int = 100000
    min_maxeval: int = 1000000
    chunk_steps: int = 10000
    thermo_every: int = 1000
    group: str | None = None

    def __post_init__(self) -> None:
        self.stages = tuple(Stage(**s) if isinstance(s, Mapping) else s for s in self.stages)
        self.validate()

    def validate(self) -> None:
        """Raise ProtocolError naming the first bad parameter."""
        if int(self.n) < 2:
            raise ProtocolError(f"n must be >= 2 atoms, got {self.n}")
        if self.density is not None and not self.density > 0:
            raise ProtocolError(f"density must be > 0 (σ⁻³), got {self.density}")
        for name in ("T", "T_melt", "dt", "tdamp", "pdamp"):
            if not getattr(self, name) > 0:
                raise ProtocolError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("melt_thermostat", "quench_thermostat"):
            if getattr(self, name) not in ("langevin", "nvt"):
                raise ProtocolError(f"{name} must be 'langevin' or 'nvt', got {getattr(self, name)!r}")
        for name in ("melt_steps", "quench_steps"):
            if int(getattr(self, name)) < 0:
                raise ProtocolError(f"{name} must be >= 0, got {getattr(self, name)}")
        if int(self.seed) <= 0:
            raise ProtocolError(f"seed must be a positive integer (LAMMPS), got {self.seed}")
        if int(self.chunk_steps) < 1 or int(self.thermo_every) < 1:
            raise ProtocolError(f"chunk_steps ({self.chunk_steps}) and thermo_every ({self.thermo_every}) must be >= 1")
        MinimizeSettings(self.min_style, self.min_etol, self.min_ftol, self.min_maxiter, self.min_maxeval)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict (``from_dict`` inverts it)."""
        return spec_to_dict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "PrepareSpec":
        """Build from a dict (unknown keys are an error)."""
        check_fields(cls, d)
        d = dict(d)
        if "stages" in d:
            d["stages"] = tuple(Stage(**s) if isinstance(s, Mapping) else Stage(*s) for s in d["stages"])
        return cls(**d)

    def replace(self, **changes: Any) -> "PrepareSpec":
        """A copy with ``changes``."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def for_creep(cls, n: int = 1000, T: float = 0.1, seed: int = 12345, **kw: Any) -> "PrepareSpec":
        """Wu & Ruiz Pestana (2023) §1.1: Langevin melt T = 3 (5·10⁴ steps), Nosé–Hoover quench to ``T``
        over 10⁴ steps, dt = 0.01, damping 1 τ (their pilot), then minimise; no equilibration stage."""
        base = dict(n=n, T=T, seed=seed, dt=0.01, T_melt=3.0, melt_steps=50000, melt_thermostat="langevin",
                    quench_steps=10000, quench_thermostat="nvt", stages=(), minimize=True)
        base.update(kw)
        return cls(**base)

    @classmethod
    def for_aqs(cls, n: int = 1000, seed: int = 12345, **kw: Any) -> "PrepareSpec":
        """``000_ace.md`` §1.3: melt at T = 1, quench to T ≈ 0 (0.01) over 500 τ (dt = 0.005 → 10⁵ steps),
        then minimise (the AQS start)."""
        base = dict(n=n, T=0.01, seed=seed, dt=0.005, T_melt=1.0, melt_steps=20000, melt_thermostat="nvt",
                    quench_steps=100000, quench_thermostat="nvt", stages=(), minimize=True)
        base.update(kw)
        return cls(**base)


@dataclass(frozen=True)
class _Phase:
    name: str
    begin: int
    end: int
    T0: float
    T1: float
    ensemble: str
    P: float | None


class PrepareRun(ProtocolRun):
    """Runner of :class:`PrepareSpec` (use :func:`glassfix.protocols.run`)."""

    protocol = "prepare"
    spec_class = PrepareSpec
    extendable = ()

    def __init__(self, spec: PrepareSpec, *args: Any, **kw: Any) -> None:
        super().__init__(spec, *args, **kw)
        self.phases = self._plan()
        self._active: int | None = None
        self._fixes: list[str] = []
        self.add_series("series", ["step", "time", "phase", *_COLUMNS])

    def _plan(self) -> list[_Phase]:
        sp = self.spec
        raw = [("melt", sp.melt_steps, sp.T_melt, sp.T_melt, sp.melt_thermostat, None),
               ("quench", sp.quench_steps, sp.T_melt, sp.T, sp.quench_thermostat, None)]
        for k, st in enumerate(sp.stages):
            T = st.T if st.T is not None else sp.T
            raw.append((f"equil{k}", st.steps, T, T, st.ensemble, st.P))
        phases, t = [], 0
        for name, steps, T0, T1, ens, P in raw:
            if int(steps) > 0:
                phases.append(_Phase(name, t, t + int(steps), float(T0), float(T1), ens, P))
                t += int(steps)
        return phases

    def total(self) -> int:
        """Total MD steps of melt + quench + stages."""
        return self.phases[-1].end if self.phases else 0

    def _phase_index(self, step: int) -> int:
        for k, ph in enumerate(self.phases):
            if ph.begin <= step < ph.end:
                return k
        raise ProtocolError(f"internal error: step {step} is in no phase")

    def next_boundary(self, step: int) -> int:
        """Next chunk end, never crossing a phase boundary."""
        ph = self.phases[self._phase_index(step)]
        return min(ph.end, step + int(self.spec.chunk_steps))

    def start(self, s: LammpsSession) -> None:
        """Insert atoms, remove overlaps, draw velocities at T_melt (step 0)."""
        sp = self.spec
        density = sp.density if sp.density is not None else getattr(self.system, "default_density", None)
        if density is None:
            raise ProtocolError(f"system {sp.system!r} has no default_density; give density")
        s.commands(self.system.initial_lammps_commands(int(sp.n), float(density), int(sp.seed)))
        if s.natoms != int(sp.n):
            raise ProtocolError(f"only {s.natoms} of {sp.n} atoms could be inserted at density {density}; "
                                f"lower the density or n")
        s.commands(common_settings(self.system, sp.dt))
        s.command(f"thermo {int(sp.thermo_every)}")
        s.command("minimize 1.0e-4 1.0e-2 500 5000")  # remove the overlaps of random insertion
        s.command("reset_timestep 0")
        s.command(f"velocity all create {fmt(sp.T_melt)} {int(sp.seed)} dist gaussian mom yes rot no loop geom")

    def restore(self, s: LammpsSession, state: Mapping[str, Any]) -> None:
        """Interactions and settings after read_restart (the phase fix is defined by advance)."""
        s.commands(common_settings(self.system, self.spec.dt))
        s.command(f"thermo {int(self.spec.thermo_every)}")
        self._active = None
        self._fixes = []

    def _set_fixes(self, s: LammpsSession, k: int, step: int) -> None:
        sp = self.spec
        ph = self.phases[k]
        if self._active != k:
            for f in self._fixes:
                s.command(f"unfix {f}")
            self._fixes = []
            # phase-specific fix IDs: a restart restores a Nosé–Hoover state only into the same phase
            if ph.ensemble == "nvt":
                s.command(f"fix gf_md{k} all nvt temp {fmt(ph.T0)} {fmt(ph.T1)} {fmt(sp.tdamp)}")
            elif ph.ensemble == "npt":
                s.command(f"fix gf_md{k} all npt temp {fmt(ph.T0)} {fmt(ph.T1)} {fmt(sp.tdamp)} "
                          f"iso {fmt(ph.P)} {fmt(ph.P)} {fmt(sp.pdamp)}")
            else:
                s.command(f"fix gf_md{k} all nve")
            self._fixes = [f"gf_md{k}"]
            self._active = k
        if ph.ensemble == "langevin":
            if "gf_lang" in self._fixes:
                s.command("unfix gf_lang")
                self._fixes.remove("gf_lang")
            seed = derive_seed(sp.seed, "langevin", step)
            s.command(f"fix gf_lang all langevin {fmt(ph.T0)} {fmt(ph.T1)} {fmt(sp.tdamp)} {seed} zero yes")
            self._fixes.append("gf_lang")

    def advance(self, s: LammpsSession, step: int, to: int) -> None:
        """One chunk of the current phase (linear T ramp over the whole phase)."""
        k = self._phase_index(step)
        ph = self.phases[k]
        self._set_fixes(s, k, step)
        rows = self.run_md(s, to - step, self.spec.thermo_every, keep_from=step if step == 0 else step + 1,
                           run_args=f"start {ph.begin} stop {ph.end}")
        for r in rows:
            r["time"] = r["step"] * self.spec.dt
            r["phase"] = k  # segments never cross phases; a boundary row belongs to the phase ending there
        self.write_rows("series", rows)

    def finish(self, s: LammpsSession) -> dict[str, Any]:
        """final.data (+ frame), then the inherent structure (inherent.data + frame)."""
        sp = self.spec
        for f in self._fixes:
            s.command(f"unfix {f}")
        self._fixes, self._active = [], None
        meta = {"T": sp.T, "density": None}
        s.command("run 0")
        th = thermo_by_keyword(s)
        s.command(f"write_data {quote(self.wd.path / 'final.data')}")
        frame = s.frame(self.system, velocities=True, metadata={"T": sp.T, "kind": "final"})
        meta["density"] = frame.n_atoms / frame.volume
        self.save_frame(frame, "final", self.total())
        summary: dict[str, Any] = {"T": sp.T, "n": s.natoms, "density": meta["density"],
                                   "final_pe": th["pe"], "final_temp": th["temp"], "final_press": th["press"],
                                   "final_data": "final.data"}
        if sp.minimize:
            s.command("velocity all set 0.0 0.0 0.0")
            s.commands(MinimizeSettings(sp.min_style, sp.min_etol, sp.min_ftol, sp.min_maxiter,
                                        sp.min_maxeval).commands())
            th = thermo_by_keyword(s)
            s.command(f"write_data {quote(self.wd.path / 'inherent.data')}")
            inh = s.frame(self.system, metadata={"T": sp.T, "kind": "inherent", "pe": th["pe"]})
            self.save_frame(inh, "inherent", self.total())
            summary.update(inherent_pe=th["pe"], inherent_press=th["press"], inherent_fnorm=th["fnorm"],
                           inherent_data="inherent.data")
        return summary


_COLUMNS = ("temp", "pe", "ke", "etotal", "press", "pxx", "pyy", "pzz", "pxy", "pxz", "pyz",
            "lx", "ly", "lz", "xy", "xz", "yz", "vol")
