"""The ``glassfix`` command line (see ``glassfix --help``). Units are the engine's (LJ reduced units)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _cmd_plugin(args: argparse.Namespace) -> int:
    from glassfix.engines.lammps import plugin

    if args.action == "build":
        path = plugin.build_plugin(force=args.force, verbose=args.verbose)
        print(path)
    elif args.action == "path":
        print(plugin.plugin_path(build=not args.no_build))
    elif args.action == "dir":
        print(plugin.plugin_path(build=not args.no_build).parent)
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    import numpy as np

    from glassfix.models import load_model
    from glassfix.models.io import ModelFileError

    try:
        model = load_model(args.model)
    except (ModelFileError, FileNotFoundError) as exc:
        raise SystemExit(f"error: {exc}") from None
    from glassfix.descriptors.cli import read_frame

    try:
        frame = read_frame(args.frame, args.format, args.step, args.dim).sorted_by_id()
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    frame.check_finite()
    ntypes = int(args.ntypes) if args.ntypes else int(frame.types.max()) + 1
    from glassfix.models.species import species_map

    try:
        tmap = species_map(list(model.species), ntypes, args.types, f"'{args.model}'")
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    frame.types = tmap[frame.types]
    from glassfix.models.device import place_model

    try:
        place_model(model, args.device, "glassfix predict --device")
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    pred = np.asarray(model.predict(frame), dtype=np.float64)
    if pred.ndim == 2 and pred.shape[1] == 1:
        pred = pred[:, 0]
    out = Path(args.out)
    tmp = out.with_name(out.name + ".tmp.npy")
    np.save(tmp, pred)
    tmp.replace(out)
    if args.ids_out:
        np.save(args.ids_out, frame.ids)
    print(f"wrote {out}: {pred.shape} ({', '.join(model.output_names)}) for {frame.n_atoms} atoms "
          f"ordered by atom id")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from glassfix.demo import run_demo

    run_demo(Path(args.out), nprocs=args.np, n_atoms=args.n, quick=args.quick, seed=args.seed)
    return 0


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
    elif args.what == "overhead":
        bench_overhead(out_dir=Path(args.out), n_atoms=args.n or 32000, steps=args.steps or 2000, every=args.every,
                       repeats=args.repeats, nprocs=args.np, report=Path(args.report))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of the ``glassfix`` command."""
    from glassfix import __version__

    p = argparse.ArgumentParser(prog="glassfix", description=(
        "Machine-learned structural predictors for glasses, on the fly inside LAMMPS. "
        "All quantities are in the engine's units (LJ reduced units for the model glass formers)."))
    p.add_argument("--version", action="version", version=f"glassfix {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    pl = sub.add_parser("plugin", help="build or locate the LAMMPS plugin")
    pl.add_argument("action", choices=["path", "dir", "build"],
                    help="path: the .so (built if missing); dir: its directory, for LAMMPS_PLUGIN_PATH; "
                         "build: (re)build it")
    pl.add_argument("--force", action="store_true", help="rebuild even if cached")
    pl.add_argument("--verbose", action="store_true", help="print the compiler output")
    pl.add_argument("--no-build", action="store_true", help="fail instead of building when missing")
    pl.set_defaults(func=_cmd_plugin)

    pr = sub.add_parser("predict", help="evaluate a model on one frame offline (same values as the fix)")
    pr.add_argument("--model", required=True, help="*.glassfix model file")
    pr.add_argument("--frame", required=True, help="LAMMPS data file or dump file")
    pr.add_argument("--format", choices=["auto", "data", "dump"], default="auto")
    pr.add_argument("--step", type=int, default=None, help="timestep to take from a dump (default: last)")
    pr.add_argument("--types", nargs="+", default=None,
                    help="model species name of each LAMMPS type (as the fix's 'types' keyword)")
    pr.add_argument("--ntypes", type=int, default=None, help="number of LAMMPS atom types (default: from file)")
    pr.add_argument("--dim", type=int, choices=[2, 3], default=None,
                    help="dimension of the frame (default: from the file: 2 when every atom has z = 0 inside a z "
                         "slab around 0, as a LAMMPS 'dimension 2' run writes it, else 3)")
    pr.add_argument("--out", required=True, help="output .npy: (N,) or (N, n_outputs), rows by atom id")
    pr.add_argument("--ids-out", default=None, help="also save the atom ids (rows of --out) to this .npy")
    pr.add_argument("--device", default="auto", help="torch models: auto (a CUDA GPU when visible, else the "
                    "CPU), cpu or cuda (an error without a GPU), as the fix's 'device' keyword")
    pr.set_defaults(func=_cmd_predict)

    de = sub.add_parser("demo", help="KA glass -> p_hop labels -> softness model -> fix glass/predict under MPI")
    de.add_argument("--out", default="demo_out", help="output directory (resumable)")
    de.add_argument("--np", type=int, default=2, help="MPI ranks for the LAMMPS runs")
    de.add_argument("--n", type=int, default=4000, help="number of particles")
    de.add_argument("--seed", type=int, default=1)
    de.add_argument("--quick", action="store_true", help="much shorter runs (for tests)")
    de.set_defaults(func=_cmd_demo)

    ds = sub.add_parser("descriptors", help="compute per-atom descriptors of a frame (rows by atom id)")
    from glassfix.descriptors import cli as descriptors_cli

    descriptors_cli.add_arguments(ds)
    ds.set_defaults(func=descriptors_cli.main)

    from glassfix.data import cli as data_cli

    data_cli.add_arguments(sub)

    from glassfix.mc import cli as mc_cli

    mc_cli.add_arguments(sub)

    from glassfix.protocols import cli as protocols_cli

    protocols_cli.add_arguments(sub)

    from glassfix.ensembles import cli as ensembles_cli

    ensembles_cli.add_arguments(sub)

    la = sub.add_parser("label", help="offline labels: phop, d2min, propensity, pair-targets")
    from glassfix.labels import cli as labels_cli

    labels_cli.add_arguments(la)

    from glassfix.train import cli as train_cli

    train_cli.add_arguments(sub)

    from glassfix.reproduce import cli as reproduce_cli

    reproduce_cli.add_arguments(sub)

    from glassfix.monitor import cli as monitor_cli

    monitor_cli.add_arguments(sub)

    be = sub.add_parser("bench", help="benchmarks that write docs/benchmarks.md")
    be.add_argument("what", choices=["overhead", "descriptors", "cg", "swap", "iso", "engines", "gnn",
                                        "ace-readout"],
                    help="overhead: wall-time ratio of KA NVE with vs without fix glass/predict; "
                         "descriptors: atoms/s of each descriptor on the shared KA N=4096 frame; "
                         "iso: isoconfigurational launcher vs bare lmp, replica atom-steps/s "
                         "(--np = worker processes); engines: KA 3D atom-steps/s of LAMMPS (1, 2 ranks) and "
                         "OpenMM (CPU 1, 2 threads; CUDA if present) at --sizes; gnn: BOTAN forward and training "
                         "step, split-weight message passing vs per-edge concatenation on the shared N=4096 graph; "
                         "ace-readout: ACE activity with the classifier fused into the invariant kernel vs the "
                         "feature matrix; cg: coarse-grained (Jung) descriptors, one-pass kernel vs the "
                         "per-centre lists, JBB N=1290 2D and KA N=4096 3D, one thread; swap: swap-MC sweeps/s "
                         "(Verlet lists vs cell scan) and LAMMPS hybrid MD + fix atom/swap, JBB N=1290")
    be.add_argument("--n", type=int, default=None, help="number of particles (overhead: 32000, iso: 1000)")
    be.add_argument("--steps", type=int, default=None, help="MD steps per timed run (overhead: 2000, iso: 10000)")
    be.add_argument("--every", type=int, default=100, help="fix glass/predict interval")
    be.add_argument("--repeats", type=int, default=3, help="alternating runs of each variant")
    be.add_argument("--np", type=int, default=2, help="MPI ranks")
    be.add_argument("--sizes", default="1000,4000,16000", help="engines: comma-separated particle numbers")
    be.add_argument("--atom-steps", type=float, default=2e6, help="engines: N x steps of each timed run")
    be.add_argument("--threads", type=int, default=2, help="gnn: torch threads")
    be.add_argument("--out", default="bench_out", help="working directory (resumable)")
    be.add_argument("--report", default="docs/benchmarks.md", help="markdown report to update")
    be.set_defaults(func=_cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``glassfix`` command."""
    args = build_parser().parse_args(argv)
    from glassfix.engines.lammps.plugin import PluginBuildError
    from glassfix.engines.lammps.runner import LammpsError
    from glassfix.models.io import ModelFileError

    try:
        return int(args.func(args) or 0)
    except (LammpsError, PluginBuildError, ModelFileError, FileNotFoundError) as exc:
        # expected failures get one clear line, not a traceback
        print(f"glassfix {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"glassfix {args.command}: interrupted (re-run the same command to resume)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
