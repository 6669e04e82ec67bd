"""Equilibration ladder: anneal swap-MC chains down a list of temperatures, test equilibrium, store samples.

Units: LJ reduced units (lengths σ_AA, energies ε_AA, T in ε_AA/k_B); MC "time" is counted in sweeps
(N attempted moves). The protocol follows 001_jung.md §2.4 [PROP]:

At every temperature two chains run side by side — chain 0 *annealed* from the previous temperature's
chain 0 (at the first temperature: a melted start), chain 1 a *fresh quench* (a grid start melted at
``melt_temperature`` for ``melt_sweeps``, then put at T). They run in rounds that double the number of
sweeps (``round_sweeps``, 2×, 4×, … up to ``sweeps_max``); after each round the second half of the run
(the production window) is tested:

* **energy plateau** — the mean E/N of the two halves of the window agree within ``z`` combined standard
  errors (errors from the integrated autocorrelation time, Sokal's window), for each chain;
* **start independence** — the two chains' window means agree within ``z`` combined errors;
* **swap-time correlation** — the cage-relative self-overlap Q(t) = ⟨θ(a − |Δr_i − ⟨Δr_j⟩_cage|)⟩
  (a = 0.3, cage = neighbours within 1.5 at the time origin; cage-relative because 2D long-wavelength
  Mermin–Wagner fluctuations would otherwise dominate Δr) decays below 1/e; τ_swap is that lag (sweeps,
  averaged over time origins and both chains) and the window must span ≥ ``min_decays`` τ_swap;
* **no crystallisation** — the fraction of solid-like particles (:func:`bond_order`: 2D ψ6 over the 6
  nearest neighbours, 3D Steinhardt q6 over the 12 nearest with ten Wolde connections) stays below
  ``crystal_max``;
* **no demixing** — a χ² test of independence between species (diameter terciles for continuous
  polydispersity) and coarse blocks of ~30 particles does not reject random mixing at ``demix_pvalue``.

When every test passes the temperature is equilibrated: the chains continue, and a sample is stored every
``sample_spacing`` τ_swap sweeps (≥ 2 τ_swap by default), alternating chains, in a
:class:`~glassfix.data.store.DatasetStore` with T, sweeps, chain and the diagnostics in the frame metadata.
If ``sweeps_max`` is reached first the temperature is marked *not equilibrated* and the ladder stops
there (lower temperatures are not attempted): the report names the lowest equilibrated T.

Resumable: the whole state of a temperature (both chains bit-exact, snapshots, energies, phase, samples)
is one npz in ``workdir`` written atomically after every round and every sample; ``summary.json`` (the
diagnostics table) is rewritten atomically after each. Re-running the same command continues where it
stopped and reproduces the uninterrupted run exactly (samples already in the store are skipped by key).
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from glassfix.core.atomic import atomic_savez, atomic_write_text
from glassfix.core.frame import Frame
from glassfix.core.jsonable import jsonable
from glassfix.core.seeds import seed_from_ints
from glassfix.analysis.relaxation import tau_alpha_crossing
from glassfix.mc.diagnostics import (bond_order, cage_relative_overlap, demixing_test, mean_error, mixing_labels,
                                     plateau_test)
from glassfix.mc.engine import SwapMC
from glassfix.mc.setup import setup_system
from glassfix.systems.potentials import PairPotential

__all__ = ["LadderConfig", "run_ladder", "load_summary", "default_workdir", "speedup_report"]

ProgressFn = Callable[[str, dict], None]


# ============================================================================== ladder
@dataclass
class LadderConfig:
    """Parameters of :func:`run_ladder` (temperatures ε_AA/k_B, times in sweeps, lengths σ_AA)."""

    system: str
    temperatures: list[float]
    n: int
    density: float | None = None
    n_samples: int = 10
    sweeps_max: int = 100_000
    seed: int = 1
    round_sweeps: int = 1000
    snap_every: int = 10
    max_snaps: int = 256
    min_decays: float = 5.0
    sample_spacing: float = 2.0
    z: float = 3.0
    crystal_max: float = 0.2
    demix_pvalue: float = 1e-4
    melt_temperature: float | None = None
    melt_sweeps: int = 1000
    overlap_a: float = 0.3
    cage_radius: float = 1.5
    p_swap: float | None = None
    step: float | None = None
    cell_subdivision: int = 1
    system_kwargs: dict[str, Any] = field(default_factory=dict)

    # parameters that define the chains; a resumed ladder must use the same ones
    IDENTITY = ("system", "n", "density", "seed", "round_sweeps", "snap_every", "max_snaps", "melt_temperature",
                "melt_sweeps", "p_swap", "step", "cell_subdivision", "system_kwargs", "overlap_a", "cage_radius",
                "sample_spacing")

    def __post_init__(self) -> None:
        self.temperatures = [float(t) for t in self.temperatures]
        if not self.temperatures:
            raise ValueError("give at least one temperature")
        if any(not (t > 0 and math.isfinite(t)) for t in self.temperatures):
            raise ValueError(f"temperatures must be positive, got {self.temperatures}")
        if any(b >= a for a, b in zip(self.temperatures, self.temperatures[1:])):
            raise ValueError(f"the ladder anneals: temperatures must decrease strictly, got {self.temperatures}")
        for name in ("n", "n_samples", "sweeps_max", "round_sweeps", "snap_every", "max_snaps", "melt_sweeps"):
            v = int(getattr(self, name))
            if v < (0 if name in ("n_samples", "melt_sweeps") else 1):
                raise ValueError(f"{name} must be positive, got {v}")
            setattr(self, name, v)
        if self.max_snaps < 8:
            raise ValueError(f"max_snaps must be >= 8, got {self.max_snaps}")
        if self.sample_spacing <= 0 or self.min_decays <= 0:
            raise ValueError(f"sample_spacing and min_decays must be positive, got {self.sample_spacing}, "
                             f"{self.min_decays}")

    def identity(self) -> dict[str, Any]:
        """The subset of parameters a resumed run must share."""
        return {k: getattr(self, k) for k in self.IDENTITY}


class _TemperatureState:
    """Both chains at one temperature plus their snapshots, energies and progress (one npz on disk)."""

    def __init__(self, temperature: float, chains: list[SwapMC], snap_every: int) -> None:
        self.temperature = temperature
        self.chains = chains
        self.snap_every = snap_every
        self.snaps: list[list[np.ndarray]] = [[c.unwrapped] for c in chains]
        self.snap_times: list[list[int]] = [[0] for _ in chains]
        self.energies: list[list[np.ndarray]] = [[] for _ in chains]
        self.phase = "equilibrate"
        self.samples = 0
        self.eq_sweeps = -1
        self.tau = float("nan")
        self.diag: dict[str, Any] = {}
        self.wall = 0.0

    def energy_series(self, c: int) -> np.ndarray:
        """E/N after every sweep of chain c at this temperature (ε_AA)."""
        e = np.concatenate(self.energies[c]) if self.energies[c] else np.empty(0)
        return e / self.chains[c].n

    def save(self, path: Path) -> None:
        arrays: dict[str, np.ndarray] = {}
        for c, ch in enumerate(self.chains):
            arrays.update(ch.state_arrays(prefix=f"c{c}_"))
            arrays[f"c{c}_snaps"] = np.asarray(self.snaps[c])
            arrays[f"c{c}_snap_times"] = np.asarray(self.snap_times[c], dtype=np.int64)
            arrays[f"c{c}_energies"] = self.energy_series(c) * ch.n
        header = {"temperature": self.temperature, "snap_every": self.snap_every, "phase": self.phase,
                  "samples": self.samples, "eq_sweeps": self.eq_sweeps, "tau": jsonable(self.tau, "inf-string"),
                  "diag": jsonable(self.diag, "inf-string"), "wall": self.wall, "n_chains": len(self.chains)}
        arrays["header"] = np.array(json.dumps(header))
        atomic_savez(path, **arrays)

    @classmethod
    def load(cls, path: Path, potential: PairPotential) -> "_TemperatureState":
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        h = json.loads(str(arrays["header"]))
        chains = [SwapMC.from_state_arrays(arrays, f"c{c}_", potential, source=str(path))
                  for c in range(h["n_chains"])]
        st = cls(h["temperature"], chains, h["snap_every"])
        for c in range(len(chains)):
            st.snaps[c] = list(arrays[f"c{c}_snaps"])
            st.snap_times[c] = [int(t) for t in arrays[f"c{c}_snap_times"]]
            st.energies[c] = [arrays[f"c{c}_energies"]]
        st.phase, st.samples, st.eq_sweeps = h["phase"], h["samples"], h["eq_sweeps"]
        tau = h["tau"]
        st.tau = float("nan") if tau is None else float(tau)
        st.diag, st.wall = h["diag"], h["wall"]
        return st

    def advance(self, c: int, target: int, max_snaps: int, tick: Callable[[], None] | None = None) -> None:
        """Run chain c up to ``target`` sweeps (at this T), snapshotting every ``snap_every`` sweeps."""
        ch = self.chains[c]
        while ch.sweeps_done < target:
            nxt = self.snap_times[c][-1] + self.snap_every
            # snapshots stay on the grid of multiples of snap_every, so thinning keeps them equally spaced
            stop = min(nxt, target) if nxt > ch.sweeps_done else min(ch.sweeps_done + self.snap_every, target)
            self.energies[c].append(ch.sweeps(stop - ch.sweeps_done))
            if ch.sweeps_done == nxt:
                self.snaps[c].append(ch.unwrapped)
                self.snap_times[c].append(nxt)
                if len(self.snaps[c]) > max_snaps:
                    self._thin(max_snaps)
            if tick is not None:
                tick()

    def _thin(self, max_snaps: int) -> None:
        # keep even-index snapshots (times multiple of 2Δ) of every chain and double Δ, so all chains share it
        self.snap_every *= 2
        for c in range(len(self.chains)):
            keep = [k for k, t in enumerate(self.snap_times[c]) if t % self.snap_every == 0]
            self.snaps[c] = [self.snaps[c][k] for k in keep]
            self.snap_times[c] = [self.snap_times[c][k] for k in keep]


def _diagnose(st: _TemperatureState, cfg: LadderConfig) -> dict[str, Any]:
    """Equilibrium diagnostics of the production window (second half of the run at this T)."""
    out: dict[str, Any] = {"chains": []}
    means, errs, qs, lag_grid = [], [], [], None
    total = st.chains[0].sweeps_done
    start = total // 2
    for c, ch in enumerate(st.chains):
        e = st.energy_series(c)[start:]
        m, err, t_int = mean_error(e)
        plat = plateau_test(e, cfg.z)
        times = np.asarray(st.snap_times[c])
        sel = np.flatnonzero(times >= start)
        snaps = np.asarray([st.snaps[c][k] for k in sel])
        q = cage_relative_overlap(snaps, ch.cell, cfg.overlap_a, cfg.cage_radius) if len(sel) > 1 else np.ones(1)
        lags = np.arange(q.size) * st.snap_every
        if lag_grid is None or lags.size < lag_grid.size:
            lag_grid = lags
        qs.append(q)
        frame = ch.to_frame()
        cryst = bond_order(frame)
        mix = demixing_test(frame, mixing_labels(frame))
        means.append(m)
        errs.append(err)
        out["chains"].append({"energy": m, "energy_err": err, "energy_tau_int": t_int, "plateau": plat,
                              "tau_swap": tau_alpha_crossing(lags, q, interp="linear", on_missing="inf"),
                              **cryst,
                              "demix_chi2_per_dof": mix["chi2_per_dof"], "demix_p": mix["p_value"]})
    k = lag_grid.size
    q_mean = np.nanmean(np.stack([q[:k] for q in qs]), axis=0)
    tau = tau_alpha_crossing(lag_grid, q_mean, interp="linear", on_missing="inf")
    diff = abs(means[0] - means[1])
    sig = math.sqrt(errs[0] ** 2 + errs[1] ** 2)
    window = total - start
    checks = {
        "plateau": all(ch["plateau"]["passed"] for ch in out["chains"]),
        "start_independent": bool(np.isfinite(sig) and diff <= cfg.z * sig),
        "decorrelated": bool(np.isfinite(tau) and window >= cfg.min_decays * max(tau, 1.0)),
        "no_crystal": all(ch["crystalline_fraction"] <= cfg.crystal_max for ch in out["chains"]),
        "no_demixing": all(ch["demix_p"] >= cfg.demix_pvalue for ch in out["chains"]),
    }
    out.update({"sweeps": total, "window": window, "tau_swap": tau, "overlap": q_mean.tolist(),
                "overlap_lag": st.snap_every, "start_z": diff / sig if sig > 0 else 0.0, "checks": checks,
                "passed": all(checks.values())})
    return out


def _summary_row(st: _TemperatureState, status: str, wall_total: float) -> dict[str, Any]:
    names = st.chains[0].move_names
    att = sum(ch.attempts for ch in st.chains)
    acc = sum(ch.accepted for ch in st.chains)
    d = st.diag
    chains = d.get("chains", [])
    sweeps = sum(ch.sweeps_done for ch in st.chains)
    return jsonable({
        "T": st.temperature, "status": status, "sweeps_per_chain": st.chains[0].sweeps_done,
        "eq_sweeps": st.eq_sweeps,
        "acceptance": {nm: (float(c) / a if a else float("nan")) for nm, a, c in zip(names, att, acc)},
        "tau_swap": d.get("tau_swap", float("nan")), "samples": st.samples,
        "energy_per_particle": [ch["energy"] for ch in chains],
        "energy_err": [ch["energy_err"] for ch in chains],
        "checks": d.get("checks", {}),
        "crystalline_fraction": max((ch["crystalline_fraction"] for ch in chains), default=float("nan")),
        "bond_order": max((ch["bond_order"] for ch in chains), default=float("nan")),
        "demix_chi2_per_dof": max((ch["demix_chi2_per_dof"] for ch in chains), default=float("nan")),
        "max_energy_drift": max(ch.max_drift for ch in st.chains),
        "overlap": d.get("overlap"), "overlap_lag_sweeps": d.get("overlap_lag"),
        "wall_s": wall_total, "sweeps_per_s": sweeps / wall_total if wall_total > 0 else float("nan"),
    }, "inf-string")


def load_summary(workdir: str | os.PathLike[str]) -> dict[str, Any]:
    """The ladder's ``summary.json`` (config and one row per temperature)."""
    return json.loads((Path(workdir) / "summary.json").read_text())


def default_workdir(store: str | os.PathLike[str]) -> Path:
    """``<store without suffix>.swap/`` next to the store: checkpoints and ``summary.json``."""
    p = Path(store)
    return p.with_name(p.stem + ".swap")


def run_ladder(cfg: LadderConfig, store: str | os.PathLike[str], workdir: str | os.PathLike[str] | None = None,
               progress: ProgressFn | None = None) -> list[dict[str, Any]]:
    """Run (or resume) the ladder; returns one summary row per temperature (see the module docstring).

    ``progress(event, info)`` is called with events ``"start"`` (T, sweeps_max), ``"sweeps"`` (T, chain,
    sweeps), ``"round"`` (T, diagnostics), ``"sample"`` (T, samples, n_samples) and ``"done"`` (T, row).
    """
    from glassfix.data.store import DatasetStore

    setup = setup_system(cfg.system, cfg.p_swap, cfg.step, **cfg.system_kwargs)
    work = Path(workdir) if workdir is not None else default_workdir(store)
    work.mkdir(parents=True, exist_ok=True)
    summary_path = work / "summary.json"
    ident = jsonable(cfg.identity(), "inf-string")
    summary: dict[str, Any] = {"config": jsonable(asdict(cfg), "inf-string"), "rows": {}}
    if summary_path.exists():
        old = json.loads(summary_path.read_text())
        old_ident = jsonable({k: old["config"].get(k) for k in cfg.IDENTITY}, "inf-string")
        bad = {k: (old_ident[k], ident[k]) for k in ident if old_ident[k] != ident[k]}
        if bad:
            raise ValueError(f"{work}: this ladder was started with other parameters (old, new): {bad}; "
                             f"use another --out or workdir")
        summary["rows"] = old.get("rows", {})
    melt_t = cfg.melt_temperature if cfg.melt_temperature is not None else 2.0 * cfg.temperatures[0]
    emit = progress or (lambda event, info: None)

    def write_summary() -> None:
        atomic_write_text(summary_path, json.dumps(jsonable(summary, "inf-string"), indent=1))

    def fresh_chain(frame: Frame, diam: np.ndarray | None, temperature: float, seed: int) -> SwapMC:
        f = Frame(positions=frame.positions, types=frame.types, cell=frame.cell, origin=frame.origin,
                  ids=frame.ids, species=frame.species,
                  metadata={k: v for k, v in frame.metadata.items() if k != "diameters"})
        return SwapMC(f, setup.potential, temperature, setup.moves, seed=seed, diameters=diam,
                      cell_subdivision=cfg.cell_subdivision)

    def melted(k: int, c: int) -> tuple[Frame, np.ndarray | None]:
        frame, diam = setup.frame(cfg.n, cfg.density, seed=seed_from_ints(cfg.seed, 1000 + k, c))
        hot = fresh_chain(frame, diam, melt_t, seed_from_ints(cfg.seed, 2000 + k, c))
        hot.sweeps(cfg.melt_sweeps)
        out = hot.to_frame()
        return out, (None if not setup.polydisperse else hot.diameters)

    rows: list[dict[str, Any]] = []
    prev: _TemperatureState | None = None
    with DatasetStore(store, "a") as ds:
        for k, temp in enumerate(cfg.temperatures):
            path = work / f"T{temp:.6g}.npz"
            if path.exists():
                st = _TemperatureState.load(path, setup.potential)
            else:
                starts = []
                for c in range(2):
                    if c == 0 and prev is not None:
                        f = prev.chains[0].to_frame()
                        starts.append((f, prev.chains[0].diameters if setup.polydisperse else None))
                    else:
                        starts.append(melted(k, c))
                chains = [fresh_chain(f, d, temp, seed_from_ints(cfg.seed, k, c)) for c, (f, d) in enumerate(starts)]
                st = _TemperatureState(temp, chains, cfg.snap_every)
            if st.phase == "failed" and st.chains[0].sweeps_done < cfg.sweeps_max:
                st.phase = "equilibrate"  # a larger budget on resume: go on
            if st.phase == "done" and st.samples < cfg.n_samples:
                st.phase = "sample"
            emit("start", {"T": temp, "sweeps_max": cfg.sweeps_max, "sweeps": st.chains[0].sweeps_done,
                           "phase": st.phase, "samples": st.samples, "n_samples": cfg.n_samples})
            t0 = time.perf_counter() - st.wall

            def tick(c: int = 0) -> None:
                emit("sweeps", {"T": temp, "chain": c, "sweeps": st.chains[c].sweeps_done})

            while st.phase == "equilibrate":
                done = st.chains[0].sweeps_done
                if done >= cfg.sweeps_max:
                    st.phase = "failed"
                    break
                target = min(cfg.sweeps_max, max(cfg.round_sweeps, 2 * done))
                for c in range(2):
                    st.advance(c, target, cfg.max_snaps, lambda c=c: tick(c))
                st.diag = _diagnose(st, cfg)
                if st.diag["passed"]:
                    st.phase = "sample"
                    st.eq_sweeps = target
                    st.tau = float(st.diag["tau_swap"])
                st.wall = time.perf_counter() - t0
                st.save(path)
                emit("round", {"T": temp, "diag": st.diag})
            if st.phase == "sample":
                spacing = max(1, int(math.ceil(cfg.sample_spacing * max(st.tau, 1.0))))
                diag_meta = {"tau_swap": st.tau, "eq_sweeps": st.eq_sweeps, "checks": st.diag.get("checks", {}),
                             "energy_per_particle": [ch["energy"] for ch in st.diag.get("chains", [])],
                             "start_z": st.diag.get("start_z")}
                while st.samples < cfg.n_samples:
                    c = st.samples % 2
                    target = st.eq_sweeps + (st.samples // 2 + 1) * spacing
                    st.advance(c, target, cfg.max_snaps, lambda c=c: tick(c))
                    ch = st.chains[c]
                    key = f"swap/{setup.name}/T{temp:.6g}/{st.samples:05d}"
                    frame = ch.to_frame(system=setup.name, temperature=temp, chain=c, sweeps=ch.sweeps_done,
                                        sample=st.samples, sample_spacing_sweeps=spacing,
                                        energy_per_particle=ch.energy / ch.n,
                                        swap_diagnostics=jsonable(diag_meta, "inf-string"),
                                        seed=cfg.seed)
                    ds.add_frame(frame, key=key, group=f"swap-{setup.name}-T{temp:.6g}-{st.samples:05d}",
                                 system=setup.name, temperature=temp)
                    st.samples += 1
                    st.wall = time.perf_counter() - t0
                    st.save(path)
                    emit("sample", {"T": temp, "samples": st.samples, "n_samples": cfg.n_samples})
                st.phase = "done"
            st.wall = time.perf_counter() - t0
            st.save(path)
            status = {"done": "equilibrated", "failed": "not equilibrated"}[st.phase]
            row = _summary_row(st, status, st.wall)
            summary["rows"][f"{temp:.6g}"] = row
            summary["config"] = jsonable(asdict(cfg), "inf-string")
            write_summary()
            rows.append(row)
            emit("done", {"T": temp, "row": row})
            if st.phase == "failed":
                for t_rest in cfg.temperatures[k + 1:]:
                    rows.append({"T": t_rest, "status": "not attempted"})
                break
            prev = st
    return rows


# ============================================================================== swap vs MD report
def speedup_report(store: str | os.PathLike[str], out: str | os.PathLike[str],
                   workdir: str | os.PathLike[str] | None = None, temperatures: list[float] | None = None,
                   md_steps: int = 200_000, md_every: int = 500, md_dt: float = 0.005, seed: int = 1,
                   lammps_kwargs: dict[str, Any] | None = None,
                   progress: ProgressFn | None = None) -> list[dict[str, Any]]:
    """Swap relaxation time vs MD τα at equilibrated temperatures of a finished ladder; writes markdown.

    For each T, MD (LAMMPS, Nosé–Hoover NVT, ``md_steps`` of ``md_dt``) starts from the first stored
    sample and measures τα with the same cage-relative overlap that defines τ_swap. The speed-up is the
    ratio of one-core CPU times to relax: (τα/dt)/(MD steps/s) over τ_swap/(swap sweeps/s). If Q(t)
    does not reach 1/e in the MD run, τα and the speed-up are lower bounds (reported with ">").
    Also writes ``<out>.json`` with the Q(t) curves.
    """
    from glassfix.data.store import DatasetStore
    from glassfix.mc.lammps_swap import md_relaxation
    from glassfix.systems import get_system

    work = Path(workdir) if workdir is not None else default_workdir(store)
    summary = load_summary(work)
    cfg = summary["config"]
    system = get_system(cfg["system"], **(cfg.get("system_kwargs") or {}))
    rows_by_t = summary["rows"]
    temps = ([float(t) for t, r in rows_by_t.items() if r["status"] == "equilibrated"] if temperatures is None
             else [float(t) for t in temperatures])
    temps.sort(reverse=True)
    emit = progress or (lambda event, info: None)
    results = []
    for temp in temps:
        row = rows_by_t.get(f"{temp:.6g}")
        if row is None or row["status"] != "equilibrated":
            raise ValueError(f"T = {temp:g} is not an equilibrated temperature of the ladder in {work}")
        key = f"swap/{system.name}/T{temp:.6g}/00000"
        with DatasetStore(store, "r") as ds:
            if not ds.has_frame(key):
                raise ValueError(f"{store}: no stored sample {key!r} to start the MD run from")
            frame = ds.frame(key)
        emit("md", {"T": temp, "steps": md_steps})
        md = md_relaxation(system, frame, temp, md_steps, md_every, dt=md_dt, seed=seed, lammps_kwargs=lammps_kwargs)
        tau_swap = float(row["tau_swap"])
        sweeps_s = float(row["sweeps_per_s"])
        bound = not math.isfinite(md.tau_alpha)
        tau_md = float(md.times[-1]) if bound else md.tau_alpha
        cost_swap = tau_swap / sweeps_s
        cost_md = tau_md / md_dt / md.steps_per_second
        results.append({"T": temp, "tau_swap_sweeps": tau_swap, "swap_sweeps_per_s": sweeps_s,
                        "swap_cpu_s": cost_swap, "tau_alpha_md": tau_md, "tau_alpha_lower_bound": bound,
                        "md_steps_per_s": md.steps_per_second, "md_cpu_s": cost_md, "speedup": cost_md / cost_swap,
                        "md_times": md.times.tolist(), "md_overlap": md.overlap.tolist(),
                        "swap_overlap": row.get("overlap")})
    gt = lambda r: ">" if r["tau_alpha_lower_bound"] else ""  # noqa: E731
    moves = setup_system(cfg["system"], cfg.get("p_swap"), cfg.get("step"),
                         **(cfg.get("system_kwargs") or {})).moves.to_dict()
    lines = [f"# Swap MC vs MD relaxation: {system.name}, N = {cfg['n']}\n",
             "Both times come from the same correlation: the cage-relative self-overlap Q(t) (a = 0.3 σ_AA, "
             "cage = neighbours within 1.5 σ_AA), τ = first 1/e crossing. τ_swap is in MC sweeps (swap MC, "
             f"`glassfix swap`, moves {moves}); "
             f"τα^MD in LJ time from Nosé–Hoover NVT MD (LAMMPS, dt = {md_dt}) started from the first stored "
             "swap sample. CPU s = one core to relax once: τ_swap/(sweeps/s) and (τα/dt)/(MD steps/s); "
             "speed-up = MD CPU s / swap CPU s. '>' marks lower bounds (Q(t) did not reach 1/e).\n",
             "| T | τ_swap (sweeps) | swap sweeps/s | swap CPU s | τα^MD (τ) | MD steps/s | MD CPU s | speed-up |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['T']:g} | {r['tau_swap_sweeps']:.4g} | {r['swap_sweeps_per_s']:.0f} | "
                     f"{r['swap_cpu_s']:.3g} | {gt(r)}{r['tau_alpha_md']:.4g} | {r['md_steps_per_s']:.0f} | "
                     f"{gt(r)}{r['md_cpu_s']:.3g} | {gt(r)}{r['speedup']:.3g} |")
    out = Path(out)
    atomic_write_text(out, "\n".join(lines) + "\n")
    atomic_write_text(out.with_suffix(".json"), json.dumps(jsonable(results, "inf-string"), indent=1))
    return results
