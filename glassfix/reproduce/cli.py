"""``glassfix reproduce …``: long, resumable science runs that write a report under ``docs/``."""

from __future__ import annotations

import argparse
from pathlib import Path


def _cmd_ka_tau(args: argparse.Namespace) -> int:
    from glassfix.reproduce.ka_tau import KaTauConfig, run

    cfg = KaTauConfig(n=args.n, temperature=args.T, n_configs=args.configs, t_equil=args.t_equil,
                      seed=args.seed)
    report = run(cfg, Path(args.workdir), Path(args.report), workers=args.workers)
    print(f"report: {report}")
    return 0


def add_arguments(sub: argparse._SubParsersAction) -> None:
    """Register ``glassfix reproduce`` and its targets on the top-level subparsers."""
    rp = sub.add_parser("reproduce", help="long science runs (resumable) that write reports in docs/")
    rsub = rp.add_subparsers(dest="target", required=True)
    kt = rsub.add_parser("ka-tau", help="KA 3D tau_alpha from F_s(k=2pi) of A particles vs the BOTAN "
                                        "paper's 16.5 at T=0.64 (times in tau, LJ units)")
    kt.add_argument("--n", type=int, default=1000, help="particles per configuration")
    kt.add_argument("--T", type=float, default=0.64, help="temperature (epsilon_AA/k_B)")
    kt.add_argument("--configs", type=int, default=5, help="independent configurations")
    kt.add_argument("--t-equil", type=float, default=660.0, help="NVT equilibration at T (tau)")
    kt.add_argument("--seed", type=int, default=2026)
    kt.add_argument("--workers", type=int, default=2, help="configurations simulated in parallel")
    kt.add_argument("--workdir", default="repro_out/ka_tau", help="resumable working directory")
    kt.add_argument("--report", default="docs/ka_tau_alpha.md", help="markdown report (PNG beside it)")
    kt.set_defaults(func=_cmd_ka_tau)
