"""``glassfix bench swap``: swap-MC throughput on JBB N = 1290, list vs cell-scan kernels vs LAMMPS hybrid.

One run, alternating repeats, medians of CPU time (``time.process_time``, so other jobs on a shared
machine slow the wall clock but not the comparison): the engine's cell-scan kernel (the engine before the
Verlet lists, still ``neighbor_skin=0``), the Verlet-list kernel at the given skins, and LAMMPS in-process
(1 rank) as hybrid MD + ``fix atom/swap`` (:func:`glassfix.mc.lammps_swap.run_hybrid_md_swap`, defaults:
N/10 attempts per pair every 100 steps) and as plain MD with the same thermostat. The same configuration
(a JBB lattice melted at 2T and run at T) starts every variant. Swap attempts/s compare the two engines'
swap work; the digest's naive numba figure (≈ 300 sweeps/s/core, 001_jung.md §6 [BENCH], another run) is
quoted, not re-measured. Units: sweeps (N attempted moves), MD steps of dt = 0.005 τ.
"""

from __future__ import annotations

import statistics
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from glassfix.core.machine import append_bench_section, machine_description

__all__ = ["bench_swap", "DIGEST_NAIVE_SWEEPS_PER_S"]

#: 001_jung.md [BENCH]: the digest author's naive numba swap MC, N = 1290, one core (sweeps/s).
DIGEST_NAIVE_SWEEPS_PER_S = 300.0


def bench_swap(report: Path | None = Path("docs/benchmarks.md"), n: int = 1290, temperature: float = 0.4,
               sweeps: int = 200, repeats: int = 3, skins: Sequence[float] = (0.5, 0.7, 1.0),
               lammps: bool = True, md_steps: int = 4000, seed: int = 1) -> dict[str, Any]:
    """Sweeps/s and swap attempts/s per variant (module docstring); appends a section to ``report``."""
    import numba

    from glassfix.mc.engine import DEFAULT_SKIN, SwapMC
    from glassfix.mc.setup import setup_system

    numba.set_num_threads(1)
    setup = setup_system("jbb")
    frame, _ = setup.frame(n, None, seed)
    prep = SwapMC(frame, setup.potential, 2.0 * temperature, setup.moves, seed=seed)
    prep.sweeps(300)
    prep.temperature = temperature
    prep.sweeps(700)
    start = prep.to_frame()
    p_swap = 1.0 - setup.moves.p_displacement
    variants: dict[str, dict[str, Any]] = {"cell scan (engine before the lists)": {"neighbor_skin": 0.0}}
    for sk in skins:
        variants[f"Verlet lists, skin {sk:g}" + (" (default)" if sk == DEFAULT_SKIN else "")] = {"neighbor_skin": sk}
    chains = {k: SwapMC(start, setup.potential, temperature, setup.moves, seed=seed + 1, **kw)
              for k, kw in variants.items()}
    for c in chains.values():
        c.sweeps(5)  # compilation
    times: dict[str, list[float]] = {k: [] for k in chains}
    lmp_times: dict[str, list[float]] = {"hybrid": [], "md": []}
    swap_info: dict[str, Any] = {}
    system = setup.system
    for rep in range(repeats):
        for k, c in chains.items():
            t0 = time.process_time()
            c.sweeps(sweeps)
            times[k].append(time.process_time() - t0)
            print(f"  {k}: {sweeps / times[k][-1]:.0f} sweeps/s")
        if lammps:
            from glassfix.mc.lammps_swap import run_hybrid_md_swap

            for name, pairs in (("hybrid", None), ("md", ())):
                t0 = time.process_time()
                res = run_hybrid_md_swap(system, start, temperature, md_steps, pairs=pairs, sample_every=md_steps,
                                         seed=seed + 7 + rep)
                lmp_times[name].append(time.process_time() - t0)
                if name == "hybrid":
                    swap_info = res.swaps
                print(f"  LAMMPS {name}: {md_steps / lmp_times[name][-1]:.0f} steps/s")
    rows = []
    base = statistics.median(times["cell scan (engine before the lists)"])
    for k, ts in times.items():
        t = statistics.median(ts)
        c = chains[k]
        rows.append({"variant": k, "sweeps_per_s": sweeps / t, "swap_attempts_per_s": sweeps * n * p_swap / t,
                     "speedup_vs_cell": base / t, "vs_digest": sweeps / t / DIGEST_NAIVE_SWEEPS_PER_S,
                     "rebuilds_per_sweep": float(c.list_stats[0]) / max(c.sweeps_done, 1),
                     "fallbacks_per_sweep": float(c.list_stats[1]) / max(c.sweeps_done, 1)})
    ref = chains["cell scan (engine before the lists)"]
    same = all(np.array_equal(ref.accepted, c.accepted) and np.array_equal(ref.types, c.types)
               for c in chains.values())
    lmp: dict[str, Any] | None = None
    if lammps:
        th, tm = statistics.median(lmp_times["hybrid"]), statistics.median(lmp_times["md"])
        att_per_step = sum(v["attempts"] for v in swap_info.values()) / md_steps
        lmp = {"hybrid_steps_per_s": md_steps / th, "md_steps_per_s": md_steps / tm,
               "swap_attempts_per_s": att_per_step * md_steps / th, "attempts_per_step": att_per_step,
               "swaps": swap_info}
    result = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d"), "machine": machine_description(),
              "n": n, "temperature": temperature, "sweeps": sweeps, "repeats": repeats, "rows": rows,
              "same_chain": bool(same), "lammps": lmp, "md_steps": md_steps, "p_swap": p_swap,
              "numba": numba.__version__}
    if report is not None:
        _append_report(Path(report), result)
    return result


def _append_report(report: Path, r: dict[str, Any]) -> None:
    """Append a dated section to ``report`` (Markdown) atomically."""
    from glassfix import __version__

    best = max(r["rows"], key=lambda x: x["sweeps_per_s"])
    lines = [
        "",
        f"## Swap Monte Carlo, JBB N = {r['n']} — {r['date']}",
        "",
        f"Command: `glassfix bench swap`. Machine: {r['machine']}; glassfix {__version__}, numba {r['numba']}, "
        f"one thread.  ",
        f"JBB lattice melted (300 sweeps at 2T) and run 700 sweeps at T = {r['temperature']:g}, then every variant "
        f"from that state: {r['sweeps']} sweeps per timed call, median of {r['repeats']} alternating repeats of "
        f"CPU time. Moves of 001_jung.md §2.2 (p_swap = {r['p_swap']:g}, σ_δ = 0.05). All engine variants ran "
        f"the same chain (same seed, same accepted moves and labels at the end): "
        f"{'yes' if r['same_chain'] else 'NO'}.",
        "",
        "| engine | sweeps/s | swap attempts/s | × cell scan | × digest naive numba (300 sweeps/s) | "
        "list rebuilds / sweep | cell-scan fallbacks / sweep |",
        "|---|---|---|---|---|---|---|",
        *[f"| {x['variant']} | {x['sweeps_per_s']:.0f} | {x['swap_attempts_per_s']:.3g} | {x['speedup_vs_cell']:.2f} | "
          f"{x['vs_digest']:.2f} | {x['rebuilds_per_sweep']:.3f} | {x['fallbacks_per_sweep']:.3f} |"
          for x in r["rows"]],
        "",
    ]
    lm = r["lammps"]
    if lm is None:
        lines += ["LAMMPS comparison: not run.", ""]
    else:
        lines += [
            f"LAMMPS (in-process, 1 rank, same run, {r['md_steps']} steps per timed call, Langevin T, dt = 0.005, "
            f"pair_style table): hybrid MD + `fix atom/swap` ({lm['attempts_per_step']:.3g} swap attempts per "
            f"MD step: N/10 per pair every 100 steps) {lm['hybrid_steps_per_s']:.0f} steps/s, plain MD "
            f"{lm['md_steps_per_s']:.0f} steps/s. Swap attempts/s: LAMMPS hybrid {lm['swap_attempts_per_s']:.3g}, "
            f"swap MC ({best['variant']}) {best['swap_attempts_per_s']:.3g}, ratio "
            f"{best['swap_attempts_per_s'] / lm['swap_attempts_per_s']:.3g}. (Attempts per second only: "
            "which scheme relaxes the structure faster per CPU second is the τ comparison of docs/swap_jbb.md.)",
            "",
        ]
    append_bench_section(report, lines)
