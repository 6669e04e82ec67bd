"""``glassfix run nve|creep|aqs``: the production protocols from the command line (``prepare``: prepare.py).

Wire into the ``glassfix`` command with ``add_arguments(subparsers)``; ``main(argv)`` runs them standalone
(``python -m glassfix.cli.run run creep --help``). Every command resumes from the checkpoint in
``--out`` when re-run with the same parameters, and prints where its results are.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_arguments", "main", "main_run"]

_UNITS = ("Units: LJ reduced units — lengths σ_AA, energies ε_AA, temperatures ε_AA/k_B, time τ "
          "(dt, damping times), stresses/pressures ε_AA/σ_AA³ (LAMMPS sign: positive = compressive); "
          "steps are MD steps (AQS: strain steps).")

# (flag, spec field, type, help) — defaults come from the spec dataclasses and are shown in --help
_NVE_FLAGS = [
    ("--T", "T", float, "temperature of the fresh Maxwell–Boltzmann velocities"),
    ("--seed", "seed", int, "velocity seed"),
    ("--dt", "dt", float, "time step (τ)"),
    ("--steps", "steps", int, "MD steps"),
    ("--frame-every", "frame_every", int, "steps between saved frames (0: none)"),
    ("--thermo-every", "thermo_every", int, "steps between rows of series.csv"),
    ("--checkpoint-every", "checkpoint_every", int, "steps between checkpoints (default: frame_every)"),
    ("--min-ftol", "min_ftol", float, "force tolerance of inherent-structure minimisations (ε/σ)"),
]

_CREEP_FLAGS = [
    ("--T", "T", float, "temperature of the creep run"),
    ("--sigma0", "sigma0", float, "applied uniaxial stress (ε/σ³; > 0 compressive)"),
    ("--axis", "axis", str, "loading axis x, y or z"),
    ("--lateral", "lateral", str, "stress_free (lateral stresses barostatted to 0) or fixed (lateral box fixed)"),
    ("--seed", "seed", int, "velocity seed"),
    ("--dt", "dt", float, "time step (τ)"),
    ("--tdamp", "tdamp", float, "thermostat damping time (τ)"),
    ("--pdamp", "pdamp", float, "barostat damping time (τ)"),
    ("--steps", "steps", int, "MD steps under load"),
    ("--snapshot-every", "snapshot_every", int, "steps between stress-constrained minimised snapshots"),
    ("--thermo-every", "thermo_every", int, "steps between rows of series.csv"),
    ("--checkpoint-every", "checkpoint_every", int, "steps between checkpoints (multiple of snapshot_every)"),
    ("--min-ftol", "min_ftol", float, "force tolerance of the snapshot minimisation (ε/σ)"),
    ("--stress-tol", "stress_tol", float, "allowed residual of the relaxed stresses (ε/σ³)"),
    ("--max-min-rounds", "max_min_rounds", int, "repeated minimisations until the residual is below stress_tol"),
]

_AQS_FLAGS = [
    ("--dgamma", "dgamma", float, "shear strain per AQS step"),
    ("--prestrain", "prestrain", float, "strain applied before data collection"),
    ("--strain", "strain", float, "strain of the collection window"),
    ("--plane", "plane", str, "shear plane: xy (displacement x, gradient y), xz or yz"),
    ("--min-ftol", "min_ftol", float, "CG force tolerance (ε/σ)"),
    ("--d2min-rcut", "d2min_rcut", float, "D²min neighbour radius (σ)"),
    ("--d2min-threshold", "d2min_threshold", float, "D²min event threshold (σ², sum normalisation)"),
    ("--stress-drop-tol", "stress_drop_tol", float, "stress-drop event tolerance (ε/σ³)"),
    ("--energy-drop-tol", "energy_drop_tol", float, "energy-drop event tolerance (ε per atom)"),
    ("--save-every", "save_every", int, "AQS steps between saved frames in the collection window (0: none)"),
    ("--checkpoint-every", "checkpoint_every", int, "AQS steps between checkpoints"),
]


def _default(cls: type, name: str) -> Any:
    import dataclasses

    for f in dataclasses.fields(cls):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                return f.default
            if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
                return f.default_factory()  # type: ignore[misc]
    return None


def _add_flags(p: argparse.ArgumentParser, cls: type, flags: list) -> None:
    for flag, name, typ, help_ in flags:
        p.add_argument(flag, dest=f"spec_{name}", type=typ, default=None, metavar=flag.lstrip("-").upper(),
                       help=f"{help_} [default: {_default(cls, name)}]")


def _add_common(p: argparse.ArgumentParser, stop: bool = True) -> None:
    g = p.add_argument_group("run control")
    g.add_argument("--out", required=True, help="work directory (checkpoints, series, frames; re-run to resume)")
    if stop:  # prepare takes the system as its positional argument
        g.add_argument("--system", default=None, help="model system (glassfix.systems, e.g. ka3d) [default: ka3d]")
    g.add_argument("--system-options", default=None, help='JSON dict of system options, e.g. \'{"cutoff_style": "truncated-shifted"}\'')
    g.add_argument("--spec", default=None, help="JSON file with a full spec (flags given override its values)")
    g.add_argument("--np", type=int, default=1, help="MPI ranks (1: in-process; K > 1: mpirun -np K)")
    g.add_argument("--store", default=None, help="dataset store (.h5) that receives the frames")
    g.add_argument("--group", default=None, help="store group of the frames [default: the --out directory name]")
    g.add_argument("--no-resume", action="store_true", help="start over, deleting previous outputs in --out")
    if stop:
        g.add_argument("--stop-after", type=int, default=None,
                       help="stop (with a checkpoint) at the first segment boundary at or after this step; re-run to resume")
    g.add_argument("--quiet", action="store_true", help="no progress lines")
    g.add_argument("--json", action="store_true", help="print the result as JSON")


def add_arguments(subparsers: Any) -> None:
    """Register ``run {nve,creep,aqs}`` on the ``glassfix`` sub-command parser."""
    from glassfix.protocols import AQSSpec, CreepSpec, NVESpec

    fmt = argparse.ArgumentDefaultsHelpFormatter
    rr = subparsers.add_parser("run", help="production protocols: nve, creep (constant stress), aqs (shear)",
                               description="Run a protocol from a prepared glass (--data) or prepare one "
                                           "first (--n). " + _UNITS)
    rs = rr.add_subparsers(dest="protocol", required=True)
    specs = {"nve": (NVESpec, _NVE_FLAGS, "NVE production with fresh Maxwell–Boltzmann velocities "
                                          "(frames, optional inherent structures)"),
             "creep": (CreepSpec, _CREEP_FLAGS, "creep at constant uniaxial stress (fix npt) with stress-"
                                                "constrained minimised snapshots (fix box/relax)"),
             "aqs": (AQSSpec, _AQS_FLAGS, "athermal quasistatic simple shear: affine tilt + CG per step, "
                                          "stress/energy series, D²min, plastic events")}
    for name, (cls, flags, help_) in specs.items():
        p = rs.add_parser(name, help=help_, description=f"{help_}. {_UNITS} Outputs in --out: series.csv"
                          + (", snapshots.csv" if name == "creep" else "") + ", frames/, final.data, result.json.")
        src = p.add_argument_group("starting configuration (one of)")
        src.add_argument("--data", default=None, help="LAMMPS data or .restart file of the glass (e.g. "
                                                      "inherent.data of `glassfix prepare`)")
        src.add_argument("--n", type=int, default=None, help=f"prepare a glass of N particles first (preset: "
                                                             f"{'creep' if name == 'creep' else 'aqs' if name == 'aqs' else 'default'}) in OUT/prepare")
        src.add_argument("--prepare-spec", default=None, help="JSON file overriding the preparation preset")
        _add_flags(p, cls, flags)
        if name == "nve":
            p.add_argument("--inherent", action="store_true", default=None,
                           help="also minimise every frame (inherent structures, on a copy)")
        if name == "creep":
            p.add_argument("--save-md-frames", action="store_true", default=None,
                           help="also save the MD configuration at every snapshot")
        if name == "aqs":
            p.add_argument("--affine-only", action="store_true", default=None,
                           help="no minimisation (purely affine steps; a diagnostic)")
        g = p.add_argument_group("on-the-fly prediction (fix glass/predict; docs/protocols.md)")
        g.add_argument("--model", default=None, help="*.glassfix model evaluated during the run: group means in "
                                                     "OUT/predictions.csv, per-atom values as frame/store labels "
                                                     "predict/<output>" + (" (also on every minimised snapshot: "
                                                     "snapshot_predictions.csv)" if name == "creep" else ""))
        g.add_argument("--every", type=int, default=None,
                       help=("AQS steps between evaluations (each on the minimum) [default: 1]" if name == "aqs" else
                             "MD steps between evaluations [default: gcd(thermo_every, "
                             + ("frame_every)]" if name == "nve" else "snapshot_every)]")))
        g.add_argument("--mode", choices=["local", "gather"], default=None,
                       help="local: each rank evaluates its own atoms (ghost shell = receptive field + skin); "
                            "gather: rank 0 evaluates all atoms [default: gather for Voronoi (looseness) and torch "
                            "(BOTAN) models, else local]")
        e = p.add_argument_group("engine (docs/protocols.md: engines)")
        e.add_argument("--engine", choices=["lammps", "openmm"], default="lammps",
                       help="MD engine [default: lammps]; openmm runs nve, creep and aqs in one process")
        e.add_argument("--platform", default=None, help="OpenMM platform (CUDA, CPU, Reference) [default: CUDA "
                                                        "where a GPU can run it, else CPU]")
        e.add_argument("--threads", type=int, default=None, help="OpenMM CPU platform threads [default: OpenMM's]")
        e.add_argument("--min-platform", default=None, help="OpenMM platform of the minimisations (inherent "
                                                            "structures, creep snapshots, AQS minima) [default: "
                                                            "Reference, double precision; CPU/CUDA for large N]")
        _add_common(p)
        p.set_defaults(func=main_run, protocol_cls=cls)


def _load_json(path: str | None, what: str) -> dict[str, Any]:
    if not path:
        return {}
    try:
        with open(path) as fh:
            d = json.load(fh)
    except (OSError, json.JSONDecodeError) as exc:
        raise SystemExit(f"error: cannot read {what} {path}: {exc}") from None
    if isinstance(d, dict) and "spec" in d and "protocol" in d:  # a spec.json of an earlier run
        d = d["spec"]
    if not isinstance(d, dict):
        raise SystemExit(f"error: {what} {path} must hold a JSON object")
    return d


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    out = {k[len("spec_"):]: v for k, v in vars(args).items() if k.startswith("spec_") and v is not None}
    if getattr(args, "system", None):
        out["system"] = args.system
    if args.system_options:
        try:
            out["system_options"] = json.loads(args.system_options)
        except json.JSONDecodeError as exc:
            raise SystemExit(f"error: --system-options is not valid JSON: {exc}") from None
    if args.group:
        out["group"] = args.group
    return out


def _progress(args: argparse.Namespace) -> Any:
    return not args.quiet


def _report(args: argparse.Namespace, res: Any) -> int:
    if args.json:
        print(json.dumps({"protocol": res.protocol, "workdir": str(res.workdir), "complete": res.complete,
                          "step": res.step, "total": res.total, "summary": res.summary}, indent=2, default=str))
    else:
        state = "complete" if res.complete else f"stopped at {res.step}/{res.total} (re-run to resume)"
        print(f"{res.protocol}: {state}; outputs in {res.workdir}")
        for k, v in sorted(res.summary.items()):
            if not isinstance(v, (dict, list)):
                print(f"  {k}: {v}")
    return 0


def main_run(args: argparse.Namespace) -> int:
    """``glassfix run nve|creep|aqs ...``."""
    from glassfix.protocols import PrepareSpec, ProtocolError, run

    cls = args.protocol_cls
    try:
        base = _load_json(args.spec, "spec")
        ov = _overrides(args)
        if getattr(args, "inherent", None):
            ov["inherent"] = True
        if getattr(args, "save_md_frames", None):
            ov["save_md_frames"] = True
        if getattr(args, "affine_only", None):
            ov["relax"] = False
        if args.model:
            ov["model"] = str(Path(args.model).resolve())
        if args.every is not None:
            ov["predict_every"] = args.every
        if args.mode is not None:
            ov["predict_mode"] = args.mode
        d = {**base, **ov}
        if args.data and args.n:
            raise ProtocolError("give --data or --n, not both")
        if args.data:
            d["data"], d["prepare"] = str(Path(args.data).resolve()), None
        elif args.n or args.prepare_spec:
            pd = _load_json(args.prepare_spec, "prepare spec")
            pd.setdefault("system", d.get("system", "ka3d"))
            pd.setdefault("system_options", d.get("system_options", {}))
            if args.n:
                pd["n"] = args.n
            if args.protocol == "creep":
                pd.setdefault("T", d.get("T", 0.1))
                prep = PrepareSpec.for_creep(**pd)
            elif args.protocol == "aqs":
                prep = PrepareSpec.for_aqs(**pd)
            else:
                pd.setdefault("T", d.get("T", 0.5))
                prep = PrepareSpec.from_dict(pd)
            d["data"], d["prepare"] = None, prep
        elif not d.get("data") and not d.get("prepare"):
            raise ProtocolError(f"{args.protocol}: give --data FILE (a prepared glass) or --n N (prepare one first)")
        spec = cls.from_dict(d)
        if args.engine == "lammps" and (args.platform or args.threads or args.min_platform):
            raise ProtocolError("--platform/--threads/--min-platform are OpenMM options: add --engine openmm")
        opts = {k: v for k, v in (("platform", args.platform), ("threads", args.threads),
                                  ("min_platform", args.min_platform)) if v is not None}
        res = run(spec, args.out, engine=args.engine, nprocs=args.np, store=args.store, resume=not args.no_resume,
                  progress=_progress(args), stop_after=args.stop_after, engine_options=opts)
    except ProtocolError as exc:
        print(f"glassfix run {args.protocol}: error: {exc}", file=sys.stderr)
        return 2
    if args.protocol in ("creep", "aqs"):
        _html_report(res.workdir, args)
    return _report(args, res)


def _html_report(workdir: Path, args: argparse.Namespace) -> None:
    """The `glassfix monitor` dashboard of the run as <workdir>/report.html (a failure here only warns:
    the run's own outputs are complete)."""
    from glassfix.monitor.report import write_report

    try:
        path = write_report(workdir)
        if not args.quiet and not args.json:
            print(f"report: {path}")
    except Exception as exc:  # the page is a convenience; never turn a finished run into a failure
        print(f"glassfix run {args.protocol}: warning: report.html not written ({type(exc).__name__}: {exc})",
              file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run ``run`` standalone: ``python -m glassfix.cli.run run creep --help``."""
    p = argparse.ArgumentParser(prog="glassfix", description="glassfix simulation protocols. " + _UNITS)
    sub = p.add_subparsers(dest="command", required=True)
    add_arguments(sub)
    args = p.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
