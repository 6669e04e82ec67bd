"""``glassfix prepare SYSTEM``: melt + quench + equilibrate (+ minimise) a glass (resumable; units in ``--help``)."""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable

from glassfix.cli.run import _UNITS, _add_common, _add_flags, _load_json, _overrides, _progress, _report

__all__ = ["add_arguments", "main_prepare"]

# (flag, spec field, type, help) — defaults come from the spec dataclasses and are shown in --help
_PREPARE_FLAGS: list[tuple[str, str, Callable[[str], Any], str]] = [
    ("--n", "n", int, "number of particles"),
    ("--T", "T", float, "target temperature of the quench and the equilibration"),
    ("--density", "density", float, "number density N/V (σ⁻³); default: the system's"),
    ("--seed", "seed", int, "seed of insertion, velocities and Langevin forces"),
    ("--dt", "dt", float, "time step (τ)"),
    ("--T-melt", "T_melt", float, "melt temperature"),
    ("--melt-steps", "melt_steps", int, "steps at T_melt"),
    ("--melt-thermostat", "melt_thermostat", str, "langevin or nvt (Nosé–Hoover)"),
    ("--quench-steps", "quench_steps", int, "steps of the linear ramp T_melt → T"),
    ("--quench-thermostat", "quench_thermostat", str, "langevin or nvt"),
    ("--tdamp", "tdamp", float, "thermostat damping time (τ)"),
    ("--pdamp", "pdamp", float, "barostat damping time (τ)"),
    ("--chunk-steps", "chunk_steps", int, "steps between checkpoints"),
    ("--thermo-every", "thermo_every", int, "steps between rows of series.csv"),
]


def add_arguments(subparsers: Any) -> None:
    """Register ``prepare`` on the ``glassfix`` sub-command parser."""
    from glassfix.protocols import PrepareSpec

    pp = subparsers.add_parser(
        "prepare", help="melt + quench + equilibrate (+ minimise) a glass → final.data, inherent.data",
        description="Random insertion, melt at T_melt, linear quench to T, staged NVT/NPT equilibration, "
                    "inherent structure. Writes OUT/final.data (with velocities), OUT/inherent.data, "
                    "OUT/series.csv, OUT/result.json. " + _UNITS)
    pp.add_argument("system_name", metavar="SYSTEM", help="model system (glassfix.systems, e.g. ka3d)")
    _add_flags(pp, PrepareSpec, _PREPARE_FLAGS)
    pp.add_argument("--preset", choices=["default", "creep", "aqs"], default="default",
                    help="default: ka_prepare.lmp-like (T_melt 2, NVT); creep: Wu & Ruiz Pestana (Langevin T=3 "
                         "5e4 steps, quench to 0.1 over 1e4, dt 0.01); aqs: T_melt 1, quench to 0.01 over 500 τ")
    pp.add_argument("--equil-steps", type=int, default=None, help="NVT equilibration steps at T [default: 20000 "
                                                                  "for the default preset, 0 otherwise]")
    pp.add_argument("--npt-steps", type=int, default=0, help="NPT steps at T and pressure --P, after the NVT stage")
    pp.add_argument("--P", type=float, default=None, help="pressure of the NPT stage (ε/σ³)")
    pp.add_argument("--no-minimize", action="store_true", help="skip the inherent structure")
    _add_common(pp, stop=False)
    pp.set_defaults(func=main_prepare)


def main_prepare(args: argparse.Namespace) -> int:
    """``glassfix prepare SYSTEM ...``."""
    from glassfix.protocols import PrepareSpec, ProtocolError, Stage, run

    try:
        base = _load_json(args.spec, "spec")
        ov = _overrides(args)
        ov["system"] = args.system_name
        if args.preset == "creep":
            spec = PrepareSpec.for_creep(**{**base, **ov})
        elif args.preset == "aqs":
            spec = PrepareSpec.for_aqs(**{**base, **ov})
        else:
            spec = PrepareSpec.from_dict({**base, **ov})
        stages = list(spec.stages)
        if args.equil_steps is not None:
            stages = [Stage("nvt", args.equil_steps)] if args.equil_steps > 0 else []
        if args.npt_steps:
            if args.P is None:
                raise ProtocolError("--npt-steps needs --P (the pressure of the NPT stage)")
            stages.append(Stage("npt", args.npt_steps, P=args.P))
        spec = spec.replace(stages=tuple(stages), minimize=not args.no_minimize)
        res = run(spec, args.out, nprocs=args.np, store=args.store, resume=not args.no_resume,
                  progress=_progress(args))
    except ProtocolError as exc:
        print(f"glassfix prepare: error: {exc}", file=sys.stderr)
        return 2
    return _report(args, res)
