"""Report: swap Monte Carlo equilibration of the 2D ternary JBB model and its speed-up over MD.

Two steps, both resumable:

1. ``glassfix swap jbb --T … --n 1290 --sweeps-max B --out STORE`` runs the equilibration ladder
   (:mod:`glassfix.mc.ladder`), which stops at the first temperature that does not equilibrate within the
   budget B;
2. ``glassfix reproduce jbb-swap --store STORE --report-T …`` measures MD τα (LAMMPS) from a stored
   sample at each requested equilibrated T with :func:`glassfix.mc.ladder.speedup_report` (skipped when
   its JSON already holds those T) and writes the report: the ladder table (acceptance, τ_swap, energies
   of the two chains, diagnostics, samples), the swap-vs-MD table and a PNG of both overlap functions.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import numpy as np

from glassfix.core.atomic import atomic_write_json, atomic_write_text


def _start_digest(store: Path, system: str, T: float) -> str:
    """SHA-256 of the first stored sample at T (positions, types, cell): the start of that T's MD run."""
    import hashlib

    from glassfix.data.store import DatasetStore

    with DatasetStore(store, "r", locking=False) as ds:
        f = ds.frame(f"swap/{system}/T{T:.6g}/00000")
    h = hashlib.sha256()
    for a in (f.positions, f.types, f.cell):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def write_report(store: Path, report: Path, report_temperatures: list[float] | None = None,
                 md_steps: int | list[int] = 200_000, md_every: int = 500, md_dt: float = 0.005,
                 command: str = "") -> Path:
    """Compose ``report`` (markdown) + ``<report>_overlap.png`` from the ladder and the MD runs.

    ``md_steps``: one MD length for every report temperature or one per temperature (in the order of
    ``report_temperatures``; colder ones need longer runs). An MD run is reused from ``<report>_md.json``
    only when it started from the same sample (digest) with the same length and spacing, so a rerun after
    the ladder went deeper runs MD only at the new temperatures."""
    from matplotlib.figure import Figure

    from glassfix.analysis.plots import save_figure
    from glassfix.core.machine import machine_description
    from glassfix.mc.ladder import default_workdir, load_summary, speedup_report

    store = Path(store)
    work = default_workdir(store)
    summary = load_summary(work)
    cfg = summary["config"]
    rows = summary["rows"]
    md_json = report.with_name(report.stem + "_md.json")
    md_md = report.with_name(report.stem + "_md.md")
    given = list(report_temperatures) if report_temperatures else \
        [float(t) for t, r in rows.items() if r["status"] == "equilibrated"]
    steps_list = [int(x) for x in ([md_steps] if isinstance(md_steps, int) else md_steps)]
    if len(steps_list) == 1:  # one length for every temperature
        steps_list *= len(given)
    if len(steps_list) != len(given):
        raise ValueError(f"--md-steps gives {len(steps_list)} lengths for {len(given)} report temperatures "
                         f"({', '.join(f'{t:g}' for t in given)}): give one, or one per temperature")
    steps_for = {round(float(t), 9): n for t, n in zip(given, steps_list)}
    wanted = sorted(steps_for, reverse=True)
    old: list[dict[str, Any]] = json.loads(md_json.read_text()) if md_json.exists() else []
    results = []
    for T in wanted:
        digest = _start_digest(store, cfg["system"], T)
        keep = [r for r in old if abs(float(r["T"]) - T) < 1e-9 and r.get("start_sha256") == digest
                and r.get("md_steps") == steps_for[T] and r.get("md_every") == md_every
                and r.get("md_dt") == md_dt]
        if keep:
            results.append(keep[0])
            continue
        (r,) = speedup_report(store, md_md, workdir=work, temperatures=[T], md_steps=steps_for[T],
                              md_every=md_every, md_dt=md_dt)
        r.update(start_sha256=digest, md_steps=steps_for[T], md_every=md_every, md_dt=md_dt)
        results.append(r)
        # every finished MD run is kept at once: an interrupted report resumes at the next temperature
        atomic_write_json(md_json, results + [x for x in old if all(abs(float(x["T"]) - float(y["T"])) > 1e-9
                                                                     for y in results)], default=float)
        if md_md.with_suffix(".json").exists():
            md_md.with_suffix(".json").unlink()  # the same content lives in md_json
    atomic_write_json(md_json, results, default=float)
    if _remeasure_swap_rates(store, cfg, results):
        atomic_write_json(md_json, results, default=float)  # the JSON must hold the rates the table shows
    equilibrated = [float(t) for t, r in rows.items() if r["status"] == "equilibrated"]
    lowest = min(equilibrated) if equilibrated else None

    fig = Figure(figsize=(9, 3.8))
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for t, r in sorted(rows.items(), key=lambda kv: -float(kv[0])):
        if r.get("overlap") and r.get("overlap_lag_sweeps"):
            q = np.asarray(r["overlap"])
            x = np.arange(q.size) * float(r["overlap_lag_sweeps"])
            ax1.plot(x[1:], q[1:], label=f"T={float(t):g}")
    for r in results:
        ax2.plot(r["md_times"][1:], r["md_overlap"][1:], label=f"T={float(r['T']):g}")
    for ax, xl, title in ((ax1, "MC sweeps", "swap MC"), (ax2, "t (τ)", "MD (NVT)")):
        ax.axhline(np.exp(-1), color="gray", lw=0.8, ls=":")
        ax.set_xscale("log")
        ax.set_xlabel(xl)
        ax.set_ylabel("cage-relative overlap Q")
        ax.set_title(title)
        ax.legend(fontsize=8)
    png = report.with_name(report.stem + "_overlap.png")
    save_figure(fig, png)

    acc_names = sorted({k for r in rows.values() for k in (r.get("acceptance") or {})})
    ladder_wall = sum(float(r.get("wall_s") or 0.0) for r in rows.values())
    md_wall = sum(float(r["md_steps"]) / float(r["md_steps_per_s"]) for r in results if r.get("md_steps"))
    lines = [
        f"# Swap Monte Carlo on the 2D ternary JBB model (N = {cfg['n']}): equilibration and speed-up over MD",
        "",
        f"Commands: `{command}`  ",
        f"Machine: {machine_description()}  ",
        f"Date: {datetime.date.today().isoformat()}  ",
        f"Wall time: ladder {ladder_wall:.0f} s (sum over temperatures, from its summary.json); MD runs ≈ "
        f"{md_wall:.0f} s (steps / measured steps per CPU second)",
        "",
        "## Ladder",
        f"Temperatures {cfg['temperatures']}, equilibration budget **{cfg['sweeps_max']} sweeps per chain per "
        "temperature**; two chains per T (one annealed from the previous T, one freshly melted), samples every "
        f"{cfg['sample_spacing']} τ_swap after equilibration; moves of `shared/science/001_jung.md` §2.2 (p_swap = "
        "0.2 split over A↔C and B↔C, Gaussian displacements σ_δ = 0.05). Checks: energy plateau, agreement of the "
        f"two starts (window means within {float(cfg.get('z', 3.0)):g} combined standard errors), decorrelation "
        f"(production window, the second half of the run, ≥ {_min_decays(cfg):g} τ_swap), no crystal (ψ6), no "
        "demixing." + _sweeps_note(rows, cfg) + _starts_note(rows, cfg),
        "",
        "| T | status | sweeps/chain | " + " | ".join(f"acc. {a}" for a in acc_names)
        + " | τ_swap (sweeps) | E/N chain 1 | E/N chain 2 | failed checks | samples | sweeps/s |",
        "|" + "---|" * (9 + len(acc_names)),
    ]
    for t, r in sorted(rows.items(), key=lambda kv: -float(kv[0])):
        acc = r.get("acceptance") or {}
        e = r.get("energy_per_particle") or [float("nan")] * 2
        err = r.get("energy_err") or [float("nan")] * 2
        failed = [k for k, ok in (r.get("checks") or {}).items() if not ok]
        tau = r.get("tau_swap")
        lines.append(
            f"| {float(t):g} | {r['status']} | {r.get('sweeps_per_chain', '')} | "
            + " | ".join(f"{acc.get(a, float('nan')):.4f}" for a in acc_names)
            + f" | {tau:.4g} | {e[0]:.4f} ± {err[0]:.4f} | {e[1]:.4f} ± {err[1]:.4f} | "
            f"{', '.join(failed) or '—'} | {r.get('samples', 0)} | {r.get('sweeps_per_s', float('nan')):.0f} |"
            if tau is not None else
            f"| {float(t):g} | {r['status']} | {r.get('sweeps_per_chain', '')} | "
            + " | ".join("" for _ in acc_names) + f" | — | | | {', '.join(failed) or '—'} | {r.get('samples', 0)} | |")
    not_done = [t for t in cfg["temperatures"] if f"{t:.6g}" not in rows]
    in_progress = []
    for t in not_done:
        path = work / f"T{t:.6g}.npz"
        if path.exists():  # a temperature the ladder started but did not finish (interrupted)
            with np.load(path, allow_pickle=False) as z:
                sweeps = json.loads(str(z["c0_header"]))["sweeps_done"]
            in_progress.append(f"T = {t:g} was interrupted after {sweeps} sweeps per chain, within the budget "
                               "(re-running the same `glassfix swap` command resumes it)")
    lines += [
        "",
        (f"**Lowest equilibrated temperature within the budget: T = {lowest:g}.**" if lowest is not None
         else "**No temperature equilibrated within the budget.**")
        + "".join(f" T = {float(t):g} did not equilibrate within the budget ({_why_failed(r, cfg)})."
                  for t, r in rows.items() if r["status"] == "not equilibrated")
        + (" " + "; ".join(in_progress) + "." if in_progress else "")
        + (f" Not attempted: {[t for t in not_done if not (work / f'T{t:.6g}.npz').exists()]}."
           if any(not (work / f"T{t:.6g}.npz").exists() for t in not_done) else ""),
        "",
        "## Swap dynamics vs MD",
        "Both relaxation times come from the same cage-relative self-overlap (a = 0.3, 1/e crossing); MD is "
        f"LAMMPS Nosé–Hoover NVT (dt = {md_dt}; run length per T in the table) from the first stored swap sample. "
        "CPU s = one core to relax once; speed-up = MD CPU s / swap CPU s ('>' = lower bound, Q did not "
        "reach 1/e in the MD run). Swap sweeps/s are re-timed by this command (CPU time of 2000 sweeps on "
        "the same sample) so that both rates come from the same run; the ladder's own average, taken "
        "while other jobs shared the cores, is in parentheses.",
        "",
        "| T | τ_swap (sweeps) | swap sweeps/s | swap CPU s | MD run (τ) | τα^MD (τ) | MD steps/s | MD CPU s | speed-up |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        gt = ">" if r["tau_alpha_lower_bound"] else ""
        lines.append(f"| {float(r['T']):g} | {r['tau_swap_sweeps']:.4g} | {r['swap_sweeps_per_s']:.0f} "
                     f"({r.get('swap_sweeps_per_s_ladder', float('nan')):.0f}) | "
                     f"{r['swap_cpu_s']:.3g} | {r['md_times'][-1]:.4g} | {gt}{r['tau_alpha_md']:.4g} | "
                     f"{r['md_steps_per_s']:.0f} | "
                     f"{gt}{r['md_cpu_s']:.3g} | {gt}{r['speedup']:.3g} |")
    lines += ["", f"![overlap]({png.name})", "", "## Reading", _reading(results), ""]
    atomic_write_text(report, "\n".join(lines))
    if md_md.exists():
        md_md.unlink()  # folded into the report
    return report


def _remeasure_swap_rates(store: Path, cfg: dict[str, Any], results: list[dict[str, Any]],
                          sweeps: int = 2000) -> bool:
    """Swap sweeps/s timed now on each T's first sample, beside the MD steps/s timed by the report.

    Returns whether any rate was (re)timed, i.e. whether ``results`` changed.

    The ladder's own rate averages over hours in which other jobs may have shared the cores; timing both
    engines in the same command makes the CPU-time ratio a like-for-like comparison.
    """
    import time

    from glassfix.data.store import DatasetStore
    from glassfix.mc.engine import SwapMC
    from glassfix.mc.setup import setup_system

    if all("swap_sweeps_per_s_ladder" in r for r in results):
        return False
    setup = setup_system(cfg["system"], cfg.get("p_swap"), cfg.get("step"), **(cfg.get("system_kwargs") or {}))
    for r in results:
        if "swap_sweeps_per_s_ladder" in r:
            continue
        key = f"swap/{setup.system.name}/T{float(r['T']):.6g}/00000"
        with DatasetStore(store, "r") as ds:
            frame = ds.frame(key)
        mc = SwapMC(frame, setup.potential, float(r["T"]), setup.moves, seed=7)
        mc.sweeps(20)  # compilation and caches
        t0 = time.process_time()
        mc.sweeps(sweeps)
        rate = sweeps / (time.process_time() - t0)
        r["swap_sweeps_per_s_ladder"] = r["swap_sweeps_per_s"]
        r["swap_sweeps_per_s"] = rate
        r["swap_cpu_s"] = r["tau_swap_sweeps"] / rate
        r["speedup"] = r["md_cpu_s"] / r["swap_cpu_s"]
    return True


def _min_decays(cfg: dict[str, Any]) -> float:
    return float(cfg.get("min_decays", 5.0))


def _sweeps_note(rows: dict[str, Any], cfg: dict[str, Any]) -> str:
    """The sweeps/chain column counts equilibration and sampling; say how much was equilibration."""
    eq = [(float(t), int(r["eq_sweeps"])) for t, r in sorted(rows.items(), key=lambda kv: -float(kv[0]))
          if r["status"] == "equilibrated" and int(r.get("eq_sweeps") or -1) > 0]
    if not eq:
        return ""
    return (" The sweeps/chain column counts the equilibration rounds ("
            + ", ".join(f"{n} at T = {t:g}" for t, n in eq)
            + f") plus chain 0's share of the sampling ({(int(cfg['n_samples']) + 1) // 2} samples "
            f"{cfg['sample_spacing']:g} τ_swap apart), which comes after the budgeted equilibration.")


def _starts_note(rows: dict[str, Any], cfg: dict[str, Any]) -> str:
    """Equilibrated temperatures whose two starts pass the agreement check only narrowly (> 2/3 of z)."""
    z = float(cfg.get("z", 3.0))
    close = []
    for t, r in sorted(rows.items(), key=lambda kv: -float(kv[0])):
        e, err = r.get("energy_per_particle") or [], r.get("energy_err") or []
        if r["status"] != "equilibrated" or len(e) < 2 or len(err) < 2:
            continue
        sig = float(np.hypot(err[0], err[1]))
        if sig > 0 and abs(e[0] - e[1]) / sig > 2 * z / 3:
            close.append(f"{abs(e[0] - e[1]) / sig:.1f} at T = {float(t):g}")
    if not close:
        return ""
    return (" The two starts agree only narrowly at some temperatures (difference of the window means in "
            f"combined standard errors: {', '.join(close)}; the criterion is {z:g}).")


def _why_failed(r: dict[str, Any], cfg: dict[str, Any]) -> str:
    """The failed checks of a temperature that did not equilibrate, with the numbers behind 'decorrelated'."""
    checks = r.get("checks") or {}
    failed = [k for k, ok in checks.items() if not ok]
    out = f"failed: {', '.join(failed) or 'none recorded'}"
    tau, total = r.get("tau_swap"), int(r.get("sweeps_per_chain") or cfg["sweeps_max"])
    if "decorrelated" in failed and tau is not None and tau == tau:
        window = total - total // 2
        out += (f"; τ_swap ≈ {tau:.2g} sweeps, so {_min_decays(cfg):g} τ_swap ≈ {_min_decays(cfg) * tau:.3g} "
                f"sweeps is longer than the production window, the second half of the {total}-sweep run "
                f"({window} sweeps)")
    if "plateau" in failed:
        out += "; the energy had not reached a plateau within that window"
    return out


def _reading(results: list[dict[str, Any]]) -> str:
    """What the speed-up numbers say, from the numbers."""
    if not results:
        return "No MD comparison was run."
    results = sorted(results, key=lambda r: -float(r["T"]))
    sp = [(float(r["T"]), float(r["speedup"]), bool(r["tau_alpha_lower_bound"])) for r in results]
    parts = [f"T = {t:g}: {'>' if b else ''}{s:.3g}×" for t, s, b in sp]
    text = "Speed-up of swap MC over MD in CPU time to relax once: " + "; ".join(parts) + "."
    grows = False
    # the trend is read off the temperatures where MD relaxed (lower bounds only extend it)
    measured = [(r, s) for r, (_, s, b) in zip(results, sp) if not b]
    if len(measured) >= 2:
        vals = [s for _, s in measured]
        grows = vals[-1] > vals[0]
        r0, r1 = measured[0][0], measured[-1][0]
        scope = "" if len(measured) == len(sp) else " where MD relaxed"
        if all(b > a for a, b in zip(vals, vals[1:])):
            text += (f" The speed-up grows at every step down in T{scope}: from T = {float(r0['T']):g} to "
                     f"{float(r1['T']):g}, τα^MD grows {r1['tau_alpha_md'] / r0['tau_alpha_md']:.1f}-fold and "
                     f"τ_swap {r1['tau_swap_sweeps'] / r0['tau_swap_sweeps']:.1f}-fold.")
        elif vals[-1] > vals[0]:
            text += (f" The speed-up is larger at the lowest T{scope} than at the highest, but does not grow at "
                     "every step.")
        else:
            text += f" The speed-up does not grow as T decreases over this range{scope}."
    bounds = [r for r, (_, _, b) in zip(results, sp) if b]
    if bounds:
        text += (" MD did not relax within its run at T = " + ", ".join(
            f"{float(r['T']):g} ({r['md_times'][-1]:g} τ)" for r in bounds) + ": there τα^MD and the speed-up "
            "are lower bounds.")
    # ±10 %: one timing of each engine on a shared machine does not resolve a smaller difference
    slower = [f"{t:g}" for t, s, b in sp if s < 0.9 and not b]
    par = [f"{t:g}" for t, s, b in sp if 0.9 <= s <= 1.1 and not b]
    faster = [f"{t:g}" for t, s, b in sp if s > 1.1]
    unknown = [f"{t:g} (at least {s:.3g}×)" for t, s, b in sp if b and s <= 1.1]
    verdict = []
    if slower:
        verdict.append(f"slower than MD at T = {', '.join(slower)}")
    if par:
        verdict.append(f"about as fast (within 10 %) at T = {', '.join(par)}")
    if faster:
        verdict.append(f"faster at T = {', '.join(faster)}")
    if unknown:
        verdict.append(f"of undetermined rank at T = {', '.join(unknown)}, where MD did not relax in its run")
    text += " Swap MC is " + "; ".join(verdict) + "."
    if not faster and not unknown:
        text += (f" The advantage expected from the swap moves at low temperature (the digest's "
                 f"Parmar–Ozawa–Berthier argument) is not reached down to T = {sp[-1][0]:g}, the lowest "
                 "temperature compared here" + ("; only the trend points to it." if grows else "."))
    return text
