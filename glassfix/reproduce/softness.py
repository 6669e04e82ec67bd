"""``glassfix reproduce softness``: softness and P_R(S) of the 3D Kob–Andersen liquid (seed 002, Cubuk ch. 5).

Stages, each resumable (a finished stage leaves a marker or its output file and is skipped when the
command is run again):

1. ``md``: per temperature, a glass/liquid prepared by the public ``prepare`` protocol (melt at T = 2,
   Nosé–Hoover quench and equilibration at T), then NVE production in chunks of ``chunk_steps`` with the
   online labels of the plugin: ``fix glass/phop`` (p_hop every τ over t_R = 10 τ) and ``fix glass/record``
   writing every τ into one dataset store per temperature (group = chunk, so train/test splits and
   cross-validation folds are whole chunks). A killed chunk is rerun from the same data file: the
   trajectory is the same on one rank and the store keeps the frames it already has.
2. ``tau``: τα from F_s(k = 7.25, t) of A particles on the stored trajectory (per chunk, averaged).
3. ``train``: ``glassfix train softness`` (the public trainer) at the lowest temperature, as the paper:
   p_hop > 0.2 positive, negatives quiescent for τα, species A, linear SVM with grouped CV over C.
4. ``apply``: the model on every labelled A particle at every temperature: (S, p_hop) per particle-frame.
5. ``otf``: the trained model inside ``fix glass/predict`` during ``glassfix run nve`` at the lowest T.
6. ``report``: fraction of rearrangers with S > 0, P_R(S), the Arrhenius analysis
   (:mod:`glassfix.analysis.softness_stats`), plots and the paper | ours | conditions table.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from glassfix.core.atomic import atomic_write_json, atomic_write_text

STAGES = ("md", "tau", "train", "apply", "otf", "report")


@dataclass
class SoftnessConfig:
    """Parameters (temperatures ε_AA/k_B, dt and times in τ, steps in MD steps, lengths in σ_AA)."""

    n: int = 1000
    temperatures: tuple[float, ...] = (0.54, 0.60, 0.67, 0.73, 0.80)
    equil_tau: tuple[float, ...] = (1200.0, 300.0, 150.0, 100.0, 100.0)
    chunks: tuple[int, ...] = (8, 3, 2, 2, 2)
    chunk_steps: int = 40_000
    dt: float = 0.005
    melt_steps: int = 10_000
    quench_steps: int = 10_000
    label_every: int = 200           # 1 τ: p_hop sample and recorded frame
    phop_window: int = 10            # samples: t_R = 10 τ
    p_c: float = 0.2                 # σ²: rearranging if p_hop > p_c
    mu_max: float = 4.4              # radial grid 0 … mu_max: N = 1000 has L/2 = 4.7 σ
    train_every: int = 1000          # steps between training label frames (the descriptor cache stays small)
    per_class: int = 3000
    cv_C: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0, 10.0)
    apply_every: int = 1000          # steps between frames used for P_R(S)
    otf_steps: int = 20_000
    otf_every: int = 200
    s_bins: tuple[float, ...] = (-4.0, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0)
    seed: int = 1002
    system: str = "ka3d"

    def __post_init__(self) -> None:
        self.temperatures = tuple(float(t) for t in self.temperatures)
        self.equil_tau = tuple(float(t) for t in self.equil_tau)
        self.chunks = tuple(int(c) for c in self.chunks)
        self.cv_C = tuple(float(c) for c in self.cv_C)
        self.s_bins = tuple(float(s) for s in self.s_bins)
        if not (len(self.temperatures) == len(self.equil_tau) == len(self.chunks)) or len(self.temperatures) < 2:
            raise ValueError(f"temperatures {self.temperatures}, equil_tau {self.equil_tau} and chunks {self.chunks} "
                             "need the same length (>= 2)")
        if self.chunk_steps % self.label_every or self.train_every % self.label_every \
                or self.apply_every % self.label_every:
            raise ValueError(f"chunk_steps {self.chunk_steps}, train_every {self.train_every} and apply_every "
                             f"{self.apply_every} must be multiples of label_every {self.label_every}")

    @property
    def t_train(self) -> float:
        """The training temperature: the lowest (as the paper)."""
        return min(self.temperatures)

    def tdir(self, workdir: Path, T: float) -> Path:
        """Work directory of temperature ``T``."""
        return Path(workdir) / f"T{T:.3f}"


def _say(progress: Callable[[str], None] | None, msg: str) -> None:
    if progress is not None:
        progress(msg)


def _add_wall(workdir: Path, stage: str, seconds: float) -> None:
    """Accumulate wall time per stage over invocations (a resumed run adds to it)."""
    path = Path(workdir) / "wall.json"
    walls = json.loads(path.read_text()) if path.exists() else {}
    walls[stage] = walls.get(stage, 0.0) + seconds
    atomic_write_json(path, walls)


# ---- stage 1: MD with online p_hop labels ---------------------------------------------------------------

def _prepare_spec(cfg: SoftnessConfig, i: int):
    from glassfix.protocols.prepare import PrepareSpec, Stage

    T = cfg.temperatures[i]
    return PrepareSpec(system=cfg.system, n=cfg.n, T=T, seed=cfg.seed + 17 * i, dt=cfg.dt, T_melt=2.0,
                       melt_steps=cfg.melt_steps, quench_steps=cfg.quench_steps,
                       stages=(Stage("nvt", int(round(cfg.equil_tau[i] / cfg.dt))),), tdamp=1.0,
                       minimize=False, chunk_steps=10_000, thermo_every=1000, group=f"T{T:.3f}-prepare")


def chunk_script(cfg: SoftnessConfig, T: float, c: int, start: Path, plugin: Path) -> str:
    """LAMMPS input of production chunk ``c`` at ``T``: NVE from ``start`` with p_hop + record (every τ)."""
    from glassfix.protocols.common import get_protocol_system, header_commands, quote

    system = get_protocol_system(cfg.system)
    s0 = c * cfg.chunk_steps
    lines = [f"plugin load {quote(plugin)}", *header_commands(system, cfg.n), f"read_data {quote(start)}",
             *system.lammps_commands(), "neighbor 0.3 bin", "neigh_modify every 1 delay 0 check yes",
             f"timestep {cfg.dt:g}", f"reset_timestep {s0}", "fix nve all nve",
             f"fix ph all glass/phop {cfg.label_every} {cfg.phop_window}",
             f"fix rec all glass/record {cfg.label_every} store.h5 values f_ph group c{c:02d} system {cfg.system} "
             f"temperature {T:g}",
             "compute pe all pe", "variable pea equal c_pe/atoms",
             f"fix th all ave/time {cfg.label_every} 1 {cfg.label_every} c_thermo_temp v_pea "
             f"file thermo_c{c:02d}.txt",
             "thermo 10000", f"run {cfg.chunk_steps}", f"write_data chunk_{c:02d}.data"]
    return "\n".join(lines) + "\n"


def stage_md(cfg: SoftnessConfig, workdir: Path, progress: Callable[[str], None] | None = None) -> None:
    """Prepare and produce every temperature (lowest first); skips finished chunks."""
    from glassfix.engines.lammps.plugin import plugin_path
    from glassfix.engines.lammps.runner import run_lammps
    from glassfix.protocols import run as run_protocol

    plugin = plugin_path()
    for i in np.argsort(cfg.temperatures):
        T = cfg.temperatures[i]
        td = cfg.tdir(workdir, T)
        td.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        if not (td / "prepare" / "final.data").exists():
            _say(progress, f"T = {T:g}: melt, quench, equilibrate {cfg.equil_tau[i]:g} τ")
            res = run_protocol(_prepare_spec(cfg, int(i)), td / "prepare", progress=False)
            if not res.complete:
                raise RuntimeError(f"{td / 'prepare'}: the preparation did not complete")
        for c in range(cfg.chunks[i]):
            done = td / f"chunk_{c:02d}.done"
            if done.exists():
                continue
            start = td / "prepare" / "final.data" if c == 0 else td / f"chunk_{c - 1:02d}.data"
            _say(progress, f"T = {T:g}: production chunk {c + 1}/{cfg.chunks[i]} ({cfg.chunk_steps} steps)")
            inp = td / f"in.chunk_{c:02d}"
            atomic_write_text(inp, chunk_script(cfg, T, c, start.resolve(), plugin))
            run_lammps(inp.name, cwd=td, log_path=f"log.chunk_{c:02d}")
            atomic_write_json(done, {"steps": cfg.chunk_steps})
        _add_wall(workdir, "md", time.perf_counter() - t0)


def read_thermo(td: Path) -> dict[str, np.ndarray]:
    """Step, temperature and potential energy per atom of all finished chunks (fix ave/time files)."""
    from glassfix.protocols.common import read_ave_time

    rows: list[dict[str, float]] = []
    for f in sorted(td.glob("thermo_c*.txt")):
        rows += read_ave_time(f, ["temp", "pe"], keep_from=0)
    return {k: np.array([r[k] for r in rows]) for k in ("step", "temp", "pe")}


# ---- driver ---------------------------------------------------------------------------------------------

def run(cfg: SoftnessConfig, workdir: Path, report: Path, until: str = "report",
        progress: Callable[[str], None] | None = print) -> Path | None:
    """Run the missing stages up to ``until`` (see the module docstring); returns the report path at the end."""
    if until not in STAGES:
        raise ValueError(f"until must be one of {STAGES}, got {until!r}")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cfg_path = workdir / "config.json"
    mine = json.loads(json.dumps(asdict(cfg)))
    if cfg_path.exists() and json.loads(cfg_path.read_text()) != mine:
        raise SystemExit(f"error: {workdir} holds a run with different parameters ({cfg_path}); use another "
                         "--workdir or the same parameters")
    atomic_write_json(cfg_path, mine)
    stages = {"md": stage_md}
    for name in STAGES[:STAGES.index(until) + 1]:
        if name not in stages:
            raise SystemExit(f"error: stage {name!r} is not implemented yet")
        stages[name](cfg, workdir, progress)
    return None
