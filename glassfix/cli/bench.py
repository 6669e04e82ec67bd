"""``glassfix bench``: the benchmarks that write docs/benchmarks.md."""

from __future__ import annotations

import argparse
from pathlib import Path


def _positive_int(text: str) -> int:
    """An integer ≥ 1 (counts, steps, intervals, ranks), or one argparse error line naming the value."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {v}")
    return v


def _cmd_bench(args: argparse.Namespace) -> int:
    from glassfix.bench import bench_overhead

    if args.what == "descriptors":
        from glassfix.descriptors.bench import bench_descriptors

        bench_descriptors(report=Path(args.report))
    elif args.what == "cg":
        from glassfix.descriptors.bench import bench_cg

        bench_cg(report=Path(args.report), repeats=args.repeats)
    elif args.what == "swap":
        from glassfix.mc.bench import bench_swap

        bench_swap(report=Path(args.report), repeats=args.repeats)
    elif args.what == "iso":
        from glassfix.bench import bench_iso

        bench_iso(n_atoms=args.n or 1000, steps=args.steps or 10000, repeats=args.repeats, workers=args.np,
                  report=Path(args.report))
    elif args.what == "engines":
        from glassfix.bench_engines import bench_engines

        sizes = tuple(int(x) for x in args.sizes.split(","))
        bench_engines(out_dir=Path(args.out), sizes=sizes, atom_steps=args.atom_steps, repeats=args.repeats,
                      report=Path(args.report))
    elif args.what == "gnn":
        from glassfix.models.bench import bench_gnn

        bench_gnn(repeats=args.repeats, threads=args.threads, report=Path(args.report))
    elif args.what == "ace-readout":
        from glassfix.models.bench import bench_ace_readout

        bench_ace_readout(repeats=args.repeats, report=Path(args.report))
    elif args.what == "ace-onthefly":
        from glassfix.models.bench import bench_ace_onthefly

        bench_ace_onthefly(repeats=args.repeats, report=Path(args.report))
    elif args.what == "overhead":
        bench_overhead(out_dir=Path(args.out), n_atoms=args.n or 32000, steps=args.steps or 2000, every=args.every,
                       repeats=args.repeats, nprocs=args.np, report=Path(args.report), model_kind=args.model)
    return 0


def add_arguments(sub: argparse._SubParsersAction) -> None:
    """Register ``glassfix bench`` on the sub-command parser."""
    be = sub.add_parser("bench", help="benchmarks that write docs/benchmarks.md")
    be.add_argument("what", choices=["overhead", "descriptors", "cg", "swap", "iso", "engines", "gnn",
                                        "ace-readout", "ace-onthefly"],
                    help="overhead: wall-time ratio of KA NVE with vs without fix glass/predict; "
                         "descriptors: atoms/s of each descriptor on the shared KA N=4096 frame; "
                         "iso: isoconfigurational launcher vs bare lmp, replica atom-steps/s "
                         "(--np = worker processes); engines: KA 3D atom-steps/s of LAMMPS (1, 2 ranks) and "
                         "OpenMM (CPU 1, 2 threads; CUDA if present) at --sizes; gnn: BOTAN forward and training "
                         "step, split-weight message passing vs per-edge concatenation on the shared N=4096 graph; "
                         "ace-readout: ACE activity with the classifier fused into the invariant kernel vs the "
                         "feature matrix; ace-onthefly: ACE activity as fix glass/predict runs it (explicit "
                         "ghost list), vectorised kernel vs the per-pair kernel; cg: coarse-grained (Jung) descriptors, one-pass kernel vs the "
                         "per-centre lists, JBB N=1290 2D and KA N=4096 3D, one thread; swap: swap-MC sweeps/s "
                         "(Verlet lists vs cell scan) and LAMMPS hybrid MD + fix atom/swap, JBB N=1290")
    be.add_argument("--n", type=_positive_int, default=None, help="number of particles (overhead: 32000, iso: 1000)")
    be.add_argument("--steps", type=_positive_int, default=None, help="MD steps per timed run (overhead: 2000, iso: 10000)")
    be.add_argument("--every", type=_positive_int, default=100, help="fix glass/predict interval")
    be.add_argument("--repeats", type=_positive_int, default=3, help="alternating runs of each variant")
    be.add_argument("--np", type=_positive_int, default=2, help="MPI ranks")
    be.add_argument("--model", choices=["softness", "ace", "botan"], default="softness",
                    help="overhead: softness (tabulated C++ path), ace (an ACE activity model trained by glassfix "
                         "train ace on the shared KA data) or botan (mode local, distributed, and mode "
                         "gather, alternating)")
    be.add_argument("--sizes", default="1000,4000,16000", help="engines: comma-separated particle numbers")
    be.add_argument("--atom-steps", type=float, default=2e6, help="engines: N x steps of each timed run")
    be.add_argument("--threads", type=_positive_int, default=2, help="gnn: torch threads")
    be.add_argument("--out", default="bench_out", help="working directory (resumable)")
    be.add_argument("--report", default="docs/benchmarks.md", help="markdown report to update")
    be.set_defaults(func=_cmd_bench)
