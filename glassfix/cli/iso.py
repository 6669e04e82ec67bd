"""``glassfix iso STORE ...``: isoconfigurational replicas and labels for the frames of a dataset store.

Wire into the ``glassfix`` command with ``add_arguments(subparsers)``; ``main(argv)`` runs it standalone
(``python -m glassfix.cli.iso STORE ...``). Cluster use (see ``docs/ensembles.md``)::

    mpirun -np 33 python -m mpi4py.futures -m glassfix.cli iso ka.h5 --executor mpi --replicas 32 ...
    srun -n 33 glassfix iso ka.h5 --executor mpi ...        # MPICommExecutor: rank 0 launches, others work
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from glassfix.core.atomic import atomic_write_text

__all__ = ["add_arguments", "main", "run_cli"]

_LABEL_CHOICES = ("propensity", "cage", "bonds")


def _pair(text: str) -> tuple[float, float]:
    try:
        vals = [float(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'a' or 'a,b' (numbers), got {text!r}") from None
    if len(vals) == 1:
        vals = vals * 2
    if len(vals) != 2:
        raise argparse.ArgumentTypeError(f"expected 'a' or 'a,b', got {text!r}")
    return vals[0], vals[1]


def _labels(text: str) -> list[str]:
    out = [x.strip() for x in text.split(",") if x.strip()]
    bad = [x for x in out if x not in _LABEL_CHOICES]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown label(s) {bad}; choose from {', '.join(_LABEL_CHOICES)}")
    return out


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("store", help="dataset store (HDF5) whose frames are the starting configurations")
    p.add_argument("--replicas", type=int, default=32, help="replicas N_R per frame (default 32)")
    p.add_argument("--times", required=True,
                   help="snapshot times in τ: 'log:TMIN:TMAX:N' (log-spaced), '0.13,1.3,13' (list), "
                        "'steps:100,1000' (MD steps) or 'bb:0.9,0.7,0.5:TMAX' (times where the mean bond-breaking "
                        "correlation of type-0 atoms reaches each target, placed by pilot runs up to TMAX)")
    p.add_argument("--dt", type=float, default=0.005, help="MD timestep in τ (default 0.005)")
    p.add_argument("--T", dest="temperature", type=float, default=None,
                   help="temperature (ε/k_B) of every frame (default: the frame's stored temperature)")
    p.add_argument("--system", default=None, help="system name, e.g. ka3d (default: the frame's stored system)")
    p.add_argument("--keys", nargs="+", default=None, help="frames to process (default: all)")
    p.add_argument("--seed", type=int, default=0,
                   help="base seed; replica r of frame K gets SHA-256(seed, K, r) (default 0)")
    p.add_argument("--no-rescale", action="store_true",
                   help="keep the Maxwell–Boltzmann draw as is (default: rescale to exactly T after removing "
                        "the total momentum, as LAMMPS 'velocity create' does)")
    p.add_argument("--out-labels", "--labels", dest="labels", type=_labels, default=["propensity"],
                   help="labels to add, comma-separated: propensity (always), cage (cage-relative propensity, "
                        "--cage-radius), bonds (bond breaking C_B, --bond-breaking)")
    p.add_argument("--cage-radius", type=float, default=None,
                   help="cage radius (σ_AA) of the cage-relative propensity (default 1.4 with --out-labels cage)")
    p.add_argument("--bond-breaking", type=_pair, default=None, metavar="A[,B]",
                   help="bond-breaking cutoffs a·σ_αβ (t=0) and b·σ_αβ (t) (default 1.485,1.7 with --out-labels "
                        "bonds or a bb: grid)")
    p.add_argument("--executor", choices=["local", "mpi", "dask", "serial"], default="local",
                   help="local: process pool (default); mpi: mpi4py.futures under mpirun/srun; dask: Dask "
                        "distributed (--dask-address); serial: in this process")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes for local/dask (default: all usable cores); under MPI: ranks - 1")
    p.add_argument("--dask-address", default=None, help="Dask scheduler address (default: a local cluster)")
    p.add_argument("--engine", choices=["lammps", "openmm"], default="lammps",
                   help="MD engine of the replicas: lammps (one rank each) or openmm (best platform: CUDA if "
                        "present, else CPU with one thread per replica)")
    p.add_argument("--replica-dtype", choices=["float64", "float32"], default="float64",
                   help="dtype of the stored replica positions (labels are computed from the stored values)")
    p.add_argument("--keep-sidecar", action="store_true",
                   help="keep the per-replica files in STORE.iso/ after a frame is committed")
    p.add_argument("--pilot-frames", type=int, default=4, help="frames per temperature in bb: pilot runs")
    p.add_argument("--pilot-replicas", type=int, default=2, help="replicas per pilot frame of a bb: grid")
    p.add_argument("--report", default=None,
                   help="summary JSON (default STORE.iso/summary.json; a markdown table is written beside it)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_arguments(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``iso`` on the ``glassfix`` sub-command parsers; returns its parser."""
    p = subparsers.add_parser(
        "iso", help="isoconfigurational replicas + propensity labels for a store's frames (resumable)",
        description="Run N_R NVE replicas with fresh Maxwell–Boltzmann velocities per frame of STORE, store "
                    "their positions at the time grid and the propensity labels. Times in τ, temperatures in "
                    "ε/k_B, lengths in σ_AA. Re-run the same command to resume.")
    _configure(p)
    p.set_defaults(func=run_cli)
    return p


def _settings(args: argparse.Namespace) -> Any:
    from glassfix.ensembles.labels import DEFAULT_BB_FACTORS
    from glassfix.ensembles.plan import IsoSettings

    cage = args.cage_radius
    if cage is None and "cage" in args.labels:
        cage = 1.4
    bb = args.bond_breaking
    if bb is None and "bonds" in args.labels:
        bb = DEFAULT_BB_FACTORS
    return IsoSettings(replicas=args.replicas, times=args.times, dt=args.dt, seed=args.seed,
                       rescale=not args.no_rescale, temperature=args.temperature, system=args.system,
                       keys=args.keys, cage_radius=cage, bb_factors=bb, replica_dtype=args.replica_dtype,
                       keep_sidecar=args.keep_sidecar, pilot_frames=args.pilot_frames,
                       pilot_replicas=args.pilot_replicas, engine=args.engine)


def _rich_progress(enabled: bool) -> Any:
    from glassfix.ensembles.report import IsoProgress

    if not enabled:
        return IsoProgress()
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
        TimeRemainingColumn

    class RichProgress(IsoProgress):
        """A rich progress bar of replicas with the running atom-steps/s."""

        def __init__(self) -> None:
            self.console = Console(stderr=True)
            self.bar = Progress(TextColumn("[bold]iso[/]"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                                console=self.console, transient=False)
            self.task = None
            self.t0 = time.perf_counter()
            self.atom_steps = 0
            self.frames = 0

        def start(self, total: int, done: int) -> None:
            self.bar.start()
            self.task = self.bar.add_task("replicas", total=total, completed=done, rate="")
            if done:
                self.console.print(f"resuming: {done} of {total} replicas already finished")

        def replica(self, result: Any) -> None:
            self.atom_steps += result.atom_steps
            rate = self.atom_steps / max(time.perf_counter() - self.t0, 1e-9)
            self.bar.update(self.task, advance=1, rate=f"{rate / 1e6:.2f} M atom-steps/s, {self.frames} frames")

        def frame(self, key: str) -> None:
            self.frames += 1

        def message(self, text: str) -> None:
            self.console.print(text)

        def close(self) -> None:
            self.bar.stop()

    return RichProgress()


def _markdown(summary: dict[str, Any]) -> str:
    lines = ["| T | frames | frames done | replicas done | replicas run now | atom-steps/s | atom-steps/s per worker |",
             "|---|---|---|---|---|---|---|"]
    for r in summary["temperatures"]:
        lines.append(f"| {r['temperature']:g} | {r['frames']} | {r['frames_done']} | {r['replicas_done']}/"
                     f"{r['replicas_total']} | {r['replicas_run']} | {r['atom_steps_per_s']:.4g} | "
                     f"{r['atom_steps_per_worker_s']:.4g} |")
    return "\n".join(lines) + "\n"


def _print_table(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"glassfix iso: {summary['tasks_run']} replicas run, {summary['wall_s']:.1f} s")
    for col in ("T", "frames", "done", "replicas", "run now", "atom-steps/s", "per worker"):
        t.add_column(col, justify="right")
    for r in summary["temperatures"]:
        t.add_row(f"{r['temperature']:g}", str(r["frames"]), str(r["frames_done"]),
                  f"{r['replicas_done']}/{r['replicas_total']}", str(r["replicas_run"]),
                  f"{r['atom_steps_per_s']:.3g}", f"{r['atom_steps_per_worker_s']:.3g}")
    Console().print(t)


def run_cli(args: argparse.Namespace) -> int:
    """Run ``glassfix iso`` from parsed arguments; returns the exit code (MPI worker ranks return 0)."""
    from glassfix.data.store import DatasetError
    from glassfix.ensembles.executors import executor_context, mpi_world_size
    from glassfix.ensembles.iso import run_iso

    try:
        settings = _settings(args)
        if args.replicas < 1:
            raise ValueError(f"--replicas must be >= 1, got {args.replicas}")
        if not Path(args.store).exists():
            raise FileNotFoundError(f"store {args.store} not found (create it with 'glassfix data import' or "
                                    f"DatasetStore(path, 'w').add_frame(...))")
        with executor_context(args.executor, args.workers, address=args.dask_address) as ex:
            if ex is None:  # an MPI worker rank: it served tasks until the root finished
                return 0
            workers = mpi_world_size() - 1 if args.executor == "mpi" and mpi_world_size() > 1 else args.workers
            report = run_iso(args.store, settings, executor=ex, workers=workers,
                             progress=_rich_progress(not args.no_progress))
    except (ValueError, KeyError, TypeError, RuntimeError, DatasetError, FileNotFoundError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"glassfix iso: error: {msg}", file=sys.stderr)
        return 2
    summary = report.to_json()
    out = Path(args.report) if args.report else Path(str(args.store) + ".iso") / "summary.json"
    atomic_write_text(out, json.dumps(summary, indent=1) + "\n", durable=True)
    atomic_write_text(out.with_suffix(".md"), _markdown(summary), durable=True)
    _print_table(summary)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Standalone entry point: ``python -m glassfix.cli.iso STORE ...``."""
    p = argparse.ArgumentParser(prog="glassfix iso", description=__doc__.splitlines()[0])
    _configure(p)
    return run_cli(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
