"""Physics check: τα of the 3D Kob–Andersen mixture from F_s(k, t) of A particles.

The BOTAN paper (``shared/science/004_botan.md`` §1.3) quotes τα = 16.5 at T = 0.64, ρ = 1.2, from
F_s(k = 2π/σ_AA, t) with a double-stretched-exponential fit, N = 4096, Δt = 1e-3, shifted-force LJ cut
at 2.5 σ_αβ. This command measures the same quantity on N = 1000 (their §6.2 "option B"):

1. per configuration (independent seeds): random insertion, minimisation, NVT (Nosé–Hoover) at
   T_melt = 5.0 for 100 τ, a linear quench to T in 20 τ, NVT at T for ``t_equil`` (≥ 40 τα);
2. NVE production from fresh Maxwell–Boltzmann velocities at T (momentum zeroed) — the dynamics of an
   isoconfigurational replica —, unwrapped positions stored at ``n_origins`` time origins × log-spaced
   lags;
3. F_s(k, t) = ⟨sin(k|Δr|)/(k|Δr|)⟩ over A particles, origins and configurations; τα as the 1/e crossing
   and from the double-stretched fit of :mod:`glassfix.analysis`.

Each configuration is one task (a process with its own in-process LAMMPS on one core) that writes
``config_<i>.npz`` atomically, so an interrupted run resumes at the first missing configuration.
"""

from __future__ import annotations

import datetime
import json
import math
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from glassfix.core.atomic import atomic_savez, atomic_write_text
from glassfix.reproduce.workdir import claim_workdir


@dataclass
class KaTauConfig:
    """Parameters of the run; times in τ (LJ units), temperatures in ε_AA/k_B."""

    n: int = 1000
    temperature: float = 0.64
    density: float = 1.2
    n_configs: int = 5
    dt: float = 0.005
    t_melt: float = 100.0
    T_melt: float = 5.0
    t_quench: float = 20.0
    t_equil: float = 660.0
    tdamp: float = 0.5
    n_origins: int = 10
    origin_spacing: float = 10.0
    t_max: float = 100.0
    n_lags: int = 40
    k: float = 2.0 * math.pi
    cutoff_style: str = "lj/smooth/linear"
    seed: int = 2026
    paper_tau: float = 16.5

    def steps(self, t: float) -> int:
        """Number of MD steps covering time ``t`` (τ)."""
        return int(round(t / self.dt))

    def lag_steps(self) -> np.ndarray:
        """Log-spaced lags in steps, starting at 0."""
        lags = np.unique(np.round(np.logspace(0, math.log10(self.steps(self.t_max)), self.n_lags)).astype(int))
        return np.concatenate([[0], lags])

    def origin_steps(self) -> np.ndarray:
        """Production steps of the time origins."""
        return np.arange(self.n_origins) * self.steps(self.origin_spacing)

    def frame_steps(self) -> np.ndarray:
        """Every production step at which positions are stored."""
        return np.unique((self.origin_steps()[:, None] + self.lag_steps()[None, :]).ravel())


def simulate_config(cfg: KaTauConfig, index: int, out: Path) -> dict:
    """Prepare one equilibrated configuration and record its NVE production; writes ``out`` (npz)."""
    from glassfix.engines.lammps.session import LammpsSession
    from glassfix.systems.ka import KobAndersen3D

    system = KobAndersen3D(cutoff_style=cfg.cutoff_style)
    seed = cfg.seed + 1000 * index + 1
    lmp = LammpsSession().lmp
    t0 = time.perf_counter()
    try:
        lmp.commands_list(system.initial_lammps_commands(cfg.n, cfg.density, seed=seed))
        lmp.commands_list(system.lammps_commands())
        lmp.commands_list([
            "neighbor 0.3 bin", "neigh_modify every 1 delay 0 check yes",
            "minimize 1.0e-4 1.0e-6 1000 10000", "reset_timestep 0",
            f"timestep {cfg.dt}",
            f"velocity all create {cfg.T_melt} {seed} dist gaussian mom yes rot no",
            f"fix md all nvt temp {cfg.T_melt} {cfg.T_melt} {cfg.tdamp}",
            f"run {cfg.steps(cfg.t_melt)}", "unfix md",
            f"fix md all nvt temp {cfg.T_melt} {cfg.temperature} {cfg.tdamp}",
            f"run {cfg.steps(cfg.t_quench)}", "unfix md",
            f"fix md all nvt temp {cfg.temperature} {cfg.temperature} {cfg.tdamp}",
            f"run {cfg.steps(cfg.t_equil)}", "unfix md",
            "reset_timestep 0",
            # fresh Maxwell–Boltzmann velocities at T with zero momentum, like an iso replica
            f"velocity all create {cfg.temperature} {seed + 7} dist gaussian mom yes rot no",
            "fix md all nve",
            "compute unwrap all property/atom xu yu zu",
            "compute ke all ke", "compute pe all pe",
            "thermo_style custom step temp pe etotal", "thermo 0",
        ])
        steps = cfg.frame_steps()
        n = cfg.n
        positions = np.empty((steps.size, n, 3))
        temps, etot = [], []
        current = 0
        first = True
        for s_i, s in enumerate(steps):
            if s > current or first:
                lmp.command(f"run {int(s - current)} pre {'yes' if first else 'no'} post no")
                first = False
                current = int(s)
            ids = np.asarray(lmp.numpy.extract_atom("id")[:n]).copy()
            xu = np.asarray(lmp.numpy.extract_compute("unwrap", 1, 2)[:n]).copy()
            positions[s_i] = xu[np.argsort(ids)]
            temps.append(lmp.get_thermo("temp"))
            etot.append(lmp.get_thermo("etotal"))
        types = np.asarray(lmp.numpy.extract_atom("type")[:n]).copy()[np.argsort(ids)] - 1
        box = lmp.extract_box()
        L = np.array(box[1]) - np.array(box[0])
    finally:
        lmp.close()
    etot = np.asarray(etot)
    atomic_savez(out, steps=steps, positions=positions, types=types, box=L,
                temperature=np.asarray(temps), etotal=etot,
                wall=np.float64(time.perf_counter() - t0), seed=np.int64(seed))
    return {"index": index, "wall": time.perf_counter() - t0,
            "mean_T": float(np.mean(temps)), "drift": float((etot[-1] - etot[0]))}


def fs_per_config(cfg: KaTauConfig, data: dict) -> np.ndarray:
    """F_s(k, lag) of A particles for one configuration, averaged over the time origins, shape (n_lags+1,)."""
    from glassfix.analysis import self_intermediate_scattering

    steps = data["steps"]
    index = {int(s): i for i, s in enumerate(steps)}
    mask = data["types"] == 0
    lags = cfg.lag_steps()
    out = np.zeros(lags.size)
    for o in cfg.origin_steps():
        traj = data["positions"][[index[int(o + lag)] for lag in lags]]
        out += np.asarray(self_intermediate_scattering(traj, cfg.k, mask=mask))
    return out / cfg.n_origins


def run(cfg: KaTauConfig, workdir: Path, report: Path, workers: int = 2, progress: bool = True) -> Path:
    """Simulate the missing configurations (resumable), analyse all, and write the markdown report."""
    from rich.console import Console

    console = Console(quiet=not progress)
    workdir = Path(workdir)
    claim_workdir(workdir, cfg)
    todo = [i for i in range(cfg.n_configs) if not (workdir / f"config_{i}.npz").exists()]
    t_start = time.perf_counter()
    if todo:
        console.print(f"[bold]KA τα[/]: {len(todo)} of {cfg.n_configs} configurations to simulate "
                      f"(N={cfg.n}, T={cfg.temperature}, {workers} processes)")
        with ProcessPoolExecutor(max_workers=max(1, workers), mp_context=get_context("spawn")) as ex:
            futs = {ex.submit(simulate_config, cfg, i, workdir / f"config_{i}.npz"): i for i in todo}
            for f in as_completed(futs):
                info = f.result()
                console.print(f"  configuration {info['index']} done in {info['wall']:.0f} s "
                              f"(⟨T⟩={info['mean_T']:.4f}, E drift {info['drift']:+.2e})")
    return write_report(cfg, workdir, report, time.perf_counter() - t_start)


def write_report(cfg: KaTauConfig, workdir: Path, report: Path, wall: float) -> Path:
    """Analyse ``config_*.npz`` in ``workdir`` and write ``report`` (markdown) with a PNG beside it."""
    from glassfix.analysis import fit_double_stretched, fit_kww, tau_alpha_crossing
    from glassfix.analysis.plots import save_figure
    from glassfix.core.machine import machine_description

    from matplotlib.figure import Figure

    t = cfg.lag_steps() * cfg.dt
    per = []
    walls, temps, drifts = [], [], []
    for i in range(cfg.n_configs):
        with np.load(workdir / f"config_{i}.npz") as z:
            data = {k: z[k] for k in z.files}
        per.append(fs_per_config(cfg, data))
        walls.append(float(data["wall"]))
        temps.append(float(np.mean(data["temperature"])))
        drifts.append(float((data["etotal"][-1] - data["etotal"][0]) / cfg.n))
    per = np.array(per)
    fs = per.mean(axis=0)
    fs_err = per.std(axis=0, ddof=1) / math.sqrt(len(per)) if len(per) > 1 else np.zeros_like(fs)
    tau_each = [tau_alpha_crossing(t[1:], f[1:]) for f in per]
    tau_cross = tau_alpha_crossing(t[1:], fs[1:])
    dse = fit_double_stretched(t[1:], fs[1:])
    kww = fit_kww(t[1:], fs[1:], t_min=1.0)
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    ax.errorbar(t[1:], fs[1:], yerr=fs_err[1:], fmt="o", ms=3, label=f"MD, {cfg.n_configs} configs")
    tt = np.logspace(math.log10(t[1]), math.log10(t[-1]), 300)
    ax.plot(tt, dse(tt), "-", label=f"double stretched (τα={dse.tau_alpha:.2f}, 1/e at {dse.tau_1e:.2f})")
    ax.axhline(math.exp(-1), color="gray", lw=0.8, ls=":")
    ax.axvline(cfg.paper_tau, color="red", lw=0.8, ls="--", label=f"paper τα={cfg.paper_tau}")
    ax.set_xscale("log")
    ax.set_xlabel("t (τ)")
    ax.set_ylabel(f"F_s(k={cfg.k:.3f}, t), A particles")
    ax.legend(fontsize=8)
    png = report.with_name(report.stem + "_fs.png")
    save_figure(fig, png)
    dse_line = ", ".join(f"{k}={v:.4g}" for k, v in dse.params.items())
    lines = [
        "# KA 3D τα at T = 0.64 from F_s(k = 2π) (physics check)",
        "",
        f"Command: `glassfix reproduce ka-tau --n {cfg.n} --configs {cfg.n_configs} --T {cfg.temperature}`  ",
        f"Machine: {machine_description()}  ",
        f"Date: {datetime.date.today().isoformat()}  ",
        f"Simulation wall time: {sum(walls):.0f} s of core time ({wall:.0f} s in the last invocation)",
        "",
        "## Protocol",
        f"- Kob–Andersen 80:20, N = {cfg.n}, ρ = {cfg.density}, LAMMPS `{cfg.cutoff_style}` "
        "(shifted-force LJ, energy and force zero at r_c = 2.5 σ_αβ), Δt = "
        f"{cfg.dt} (the paper used 1e-3).",
        f"- {cfg.n_configs} independent configurations: NVT (Nosé–Hoover, τ_T = {cfg.tdamp}) at "
        f"T = {cfg.T_melt} for {cfg.t_melt:g} τ, linear quench in {cfg.t_quench:g} τ, NVT at T for "
        f"{cfg.t_equil:g} τ (≈ {cfg.t_equil / cfg.paper_tau:.0f} paper τα).",
        f"- Production NVE from fresh Maxwell–Boltzmann velocities; {cfg.n_origins} time origins "
        f"{cfg.origin_spacing:g} τ apart, lags log-spaced to {cfg.t_max:g} τ.",
        f"- F_s(k, t) = ⟨sin(k Δr)/(k Δr)⟩ (exact isotropic average) over A particles, k = 2π.",
        "",
        "## Result",
        "| quantity | value |",
        "|---|---|",
        f"| τα, 1/e crossing of the mean F_s | **{tau_cross:.2f}** |",
        f"| τα, 1/e crossing per configuration | {', '.join(f'{x:.2f}' for x in tau_each)} "
        f"(mean {np.mean(tau_each):.2f} ± {np.std(tau_each, ddof=1) / math.sqrt(len(tau_each)) if len(tau_each) > 1 else 0:.2f}) |",
        f"| τα, double-stretched-exponential fit: α time parameter | **{dse.tau_alpha:.2f}** ± {dse.tau_alpha_err:.2f} ({dse_line}, R² = {dse.r2:.5f}) |",
        f"| τα, 1/e time of the fitted double-stretched curve | {dse.tau_1e:.2f} |",
        f"| τα, single KWW fit for t > 1 τ (after the plateau onset) | {kww.tau_alpha:.2f} ({', '.join(f'{k}={v:.3g}' for k, v in kww.params.items())}) |",
        f"| paper (N = 4096, Δt = 1e-3) | {cfg.paper_tau} |",
        f"| mean T in NVE | {np.mean(temps):.4f} |",
        f"| NVE energy drift per particle over the production | {np.mean(np.abs(drifts)):.2e} |",
        "",
        f"![F_s]({png.name})",
        "",
        "## Discussion",
        _discussion(cfg, tau_cross, dse, tau_each),
        "",
    ]
    atomic_write_text(report, "\n".join(lines))
    result = {"tau_crossing": tau_cross, "tau_dse": dse.tau_alpha, "tau_each": tau_each,
              "t": t.tolist(), "fs": fs.tolist(), "fs_err": fs_err.tolist()}
    (workdir / "result.json").write_text(json.dumps(result, indent=1, default=float))
    return report


def _discussion(cfg: KaTauConfig, tau_cross: float, dse, tau_each) -> str:
    """Where the paper's value sits relative to our estimates, with the reasons for a gap."""
    err = float(np.std(tau_each, ddof=1) / math.sqrt(len(tau_each))) if len(tau_each) > 1 else float("nan")
    lo, hi = sorted([tau_cross, dse.tau_alpha])
    # "outside" alone would not say on which side
    where = ("between" if lo <= cfg.paper_tau <= hi else "below both of" if cfg.paper_tau < lo else "above both of")

    def rel(x: float) -> str:
        pct = 100 * (x / cfg.paper_tau - 1)
        return f"{pct:+.1f}%" if abs(pct) < 10 else f"{pct:+.0f}%"

    # the ± is the standard error of the per-configuration crossings, not of the crossing of the mean F_s
    return (
        f"The paper's {cfg.paper_tau} lies {where} our two readings of 'τα': the 1/e crossing of the mean F_s "
        f"({tau_cross:.2f}, {rel(tau_cross)}; the {len(tau_each)} configurations' own crossings give "
        f"{np.mean(tau_each):.2f} ± {err:.2f}, standard error) and the α-time parameter of the "
        f"double-stretched fit ({dse.tau_alpha:.2f} ± {dse.tau_alpha_err:.2f}, {rel(dse.tau_alpha)}). "
        + _DISCUSSION)


_DISCUSSION = (
    "The paper's τα comes from a double-stretched-exponential fit whose exact form it does not give "
    "(refs. Sengupta et al. 2013; Shiba et al. 2019); ours is documented in `glassfix.analysis`. "
    "Differences to expect: the smoothing form of the cutoff (the paper's Eq. 8 is not given; "
    "shifted force is the recommended reading), Δt = 0.005 vs 1e-3, N = 1000 vs 4096 (neither effect "
    "was measured here), and "
    "the statistical error of a handful of configurations."
)
