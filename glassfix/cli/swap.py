"""``glassfix swap SYSTEM --T ... --out store.h5``: the swap-MC equilibration ladder from the command line.

Wire into the ``glassfix`` command with ``add_arguments(subparsers)``; ``main(argv)`` runs it standalone
(``python -m glassfix.cli.swap jbb --T 0.5 0.45 --n 1290 --out jbb.h5``). Units: LJ reduced units; MC
time in sweeps (N attempted moves).
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

__all__ = ["add_arguments", "main", "run", "summary_table"]


def add_arguments(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``swap`` sub-command on an argparse ``subparsers`` object; returns its parser."""
    p = subparsers.add_parser(
        "swap", help="swap Monte Carlo equilibration ladder -> decorrelated samples in a dataset store",
        description="Anneal swap-MC chains down the temperatures given, test equilibrium at each (energy "
                    "plateau, two independent starts, decay of the swap-time overlap, no crystal, no "
                    "demixing) and store samples separated by >= 2 tau_swap. Resumable: re-run the same "
                    "command. See docs/swap_mc.md.")
    p.add_argument("system", help="system name (jbb, ka2d, ka3d, wahnstrom, polydisperse)")
    p.add_argument("--T", dest="temperatures", type=float, nargs="+", required=True,
                   help="temperatures (epsilon_AA/k_B), strictly decreasing")
    p.add_argument("--out", required=True, help="dataset store (HDF5) receiving the samples")
    p.add_argument("--n", type=int, default=1290, help="number of particles (default 1290)")
    p.add_argument("--density", type=float, default=None, help="number density (default: the model's)")
    p.add_argument("--samples", type=int, default=10, help="samples to store per temperature")
    p.add_argument("--sweeps-max", type=int, default=100_000,
                   help="equilibration budget per chain per temperature (sweeps); the ladder stops at the "
                        "first temperature that does not equilibrate within it")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--p-swap", type=float, default=None,
                   help="total swap-attempt probability (default: JBB 0.2, binary 0.1, polydisperse 0.2)")
    p.add_argument("--step", type=float, default=None, help="displacement sigma_delta (default 0.05)")
    p.add_argument("--round-sweeps", type=int, default=1000, help="first round length; rounds then double")
    p.add_argument("--snap-every", type=int, default=10, help="initial snapshot spacing (sweeps)")
    p.add_argument("--min-decays", type=float, default=5.0,
                   help="production window must span this many tau_swap")
    p.add_argument("--spacing", type=float, default=2.0, help="sample spacing in units of tau_swap (>= 2)")
    p.add_argument("--melt-T", type=float, default=None, help="melt temperature of fresh starts (default 2 T_max)")
    p.add_argument("--melt-sweeps", type=int, default=1000, help="sweeps at --melt-T for fresh starts")
    p.add_argument("--workdir", default=None, help="checkpoints and summary.json (default <out stem>.swap/)")
    p.add_argument("--quiet", action="store_true", help="no progress display (summary table only)")
    r = p.add_argument_group("swap vs MD report (after the ladder)")
    r.add_argument("--report", default=None, metavar="PATH.md",
                   help="measure MD tau_alpha (LAMMPS) from the first sample at each equilibrated T and write the "
                        "swap/MD speed-up table here (plus PATH.json with the Q(t) curves)")
    r.add_argument("--report-T", type=float, nargs="+", default=None,
                   help="temperatures for the report (default: every equilibrated one)")
    r.add_argument("--md-steps", type=int, default=200_000, help="MD steps per report temperature")
    r.add_argument("--md-every", type=int, default=500, help="MD snapshot spacing (steps)")
    r.add_argument("--md-dt", type=float, default=0.005, help="MD time step (tau)")
    p.set_defaults(func=run)
    return p


def _fmt(x: Any, spec: str = ".3g") -> str:
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(v):
        return "-"
    if math.isinf(v):
        return "inf"
    return format(v, spec)


def summary_table(rows: list[dict[str, Any]]) -> Any:
    """A rich Table: per T status, acceptance rates, tau_swap, E/N of both chains, checks, samples, speed."""
    from rich.table import Table

    moves: list[str] = []
    for r in rows:
        for m in r.get("acceptance", {}):
            if m not in moves:
                moves.append(m)
    t = Table(title="swap MC ladder (acceptance rates; tau_swap and sweeps in MC sweeps)")
    t.add_column("T", justify="right")
    t.add_column("status")
    t.add_column("sweeps", justify="right")
    for m in moves:
        t.add_column(m.replace("displacement", "disp").replace("diameter swap", "d-swap")
                     .replace("swap ", ""), justify="right")
    for col in ("tau_swap", "E/N chain 0 | 1", "failed checks", "xtal", "samples", "sweeps/s"):
        t.add_column(col, justify="right")
    for r in rows:
        acc = r.get("acceptance", {})
        e = r.get("energy_per_particle", [])
        checks = r.get("checks", {})
        failed = ", ".join(k for k, v in checks.items() if not v) or ("-" if checks else "")
        t.add_row(_fmt(r["T"], "g"), r.get("status", ""), _fmt(r.get("sweeps_per_chain"), ".0f"),
                  *[_fmt(acc.get(m), ".4f") for m in moves],
                  _fmt(r.get("tau_swap"), ".4g"), " | ".join(_fmt(x, ".4f") for x in e) or "-", failed,
                  _fmt(r.get("crystalline_fraction"), ".3f"), str(r.get("samples", "-")),
                  _fmt(r.get("sweeps_per_s"), ".0f"))
    return t


def run(args: argparse.Namespace) -> int:
    """Execute ``glassfix swap``; returns 0 when every temperature equilibrated, 3 when the ladder stopped."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from glassfix.mc.ladder import LadderConfig, run_ladder

    console = Console(stderr=True)
    try:
        cfg = LadderConfig(system=args.system, temperatures=args.temperatures, n=args.n, density=args.density,
                           n_samples=args.samples, sweeps_max=args.sweeps_max, seed=args.seed,
                           round_sweeps=args.round_sweeps, snap_every=args.snap_every, min_decays=args.min_decays,
                           sample_spacing=args.spacing, melt_temperature=args.melt_T, melt_sweeps=args.melt_sweeps,
                           p_swap=args.p_swap, step=args.step)
    except ValueError as exc:
        print(f"glassfix swap: error: {exc}", file=sys.stderr)
        return 2

    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=console,
                        disable=args.quiet, transient=False)
    tasks: dict[float, Any] = {}

    def on_event(event: str, info: dict) -> None:
        temp = info["T"]
        if event == "start":
            tasks[temp] = progress.add_task(f"T={temp:g} equilibrate", total=info["sweeps_max"],
                                            completed=info["sweeps"], info=info["phase"])
        elif event == "sweeps" and info["chain"] == 0:
            progress.update(tasks[temp], completed=info["sweeps"])
        elif event == "round":
            d = info["diag"]
            failed = [k for k, v in d["checks"].items() if not v]
            msg = "equilibrated" if d["passed"] else "pending: " + ", ".join(failed)
            progress.update(tasks[temp], info=f"tau_swap={_fmt(d['tau_swap'], '.4g')} {msg}")
            if not args.quiet:
                progress.console.print(f"T={temp:g} sweeps={d['sweeps']}: tau_swap={_fmt(d['tau_swap'], '.4g')}, "
                                       f"E/N={' | '.join(_fmt(c['energy'], '.5f') for c in d['chains'])}, {msg}")
        elif event == "sample":
            progress.update(tasks[temp], description=f"T={temp:g} samples", total=info["n_samples"],
                            completed=info["samples"], info="")
        elif event == "done":
            progress.update(tasks[temp], info=info["row"]["status"])

    try:
        with progress:
            rows = run_ladder(cfg, args.out, workdir=args.workdir, progress=on_event)
    except (ValueError, KeyError) as exc:
        print(f"glassfix swap: error: {exc}", file=sys.stderr)
        return 2
    out = Console()
    if not out.is_terminal:
        out = Console(width=160)  # logs and pipes: do not squeeze the table into 80 columns
    out.print(summary_table(rows))
    if args.report:
        from glassfix.mc.ladder import speedup_report

        def on_md(event: str, info: dict) -> None:
            if not args.quiet:
                console.print(f"T={info['T']:g}: MD relaxation run ({info['steps']} steps)")

        try:
            speedup_report(args.out, args.report, workdir=args.workdir, temperatures=args.report_T,
                           md_steps=args.md_steps, md_every=args.md_every, md_dt=args.md_dt, seed=args.seed,
                           progress=on_md)
        except ValueError as exc:
            print(f"glassfix swap: error: {exc}", file=sys.stderr)
            return 2
        out.print(open(args.report).read())
    return 0 if all(r.get("status") == "equilibrated" for r in rows) else 3


def main(argv: list[str] | None = None) -> int:
    """Standalone entry point: ``python -m glassfix.cli.swap SYSTEM --T ... --out store.h5``."""
    parser = argparse.ArgumentParser(prog="glassfix")
    sub = parser.add_subparsers(dest="command", required=True)
    add_arguments(sub)
    args = parser.parse_args(["swap", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
