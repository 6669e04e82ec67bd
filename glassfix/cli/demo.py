"""``glassfix demo``: KA glass -> p_hop labels -> softness model -> fix glass/predict under MPI."""

from __future__ import annotations

import argparse
from pathlib import Path


def _cmd_demo(args: argparse.Namespace) -> int:
    from glassfix.demo import run_demo

    run_demo(Path(args.out), nprocs=args.np, n_atoms=args.n, quick=args.quick, seed=args.seed)
    return 0


def add_arguments(sub: argparse._SubParsersAction) -> None:
    """Register ``glassfix demo`` on the sub-command parser."""
    de = sub.add_parser("demo", help="KA glass -> p_hop labels -> softness model -> fix glass/predict under MPI")
    de.add_argument("--out", default="demo_out", help="output directory (resumable)")
    de.add_argument("--np", type=int, default=2, help="MPI ranks for the LAMMPS runs")
    de.add_argument("--n", type=int, default=4000, help="number of particles")
    de.add_argument("--seed", type=int, default=1)
    de.add_argument("--quick", action="store_true", help="much shorter runs (for tests)")
    de.set_defaults(func=_cmd_demo)
