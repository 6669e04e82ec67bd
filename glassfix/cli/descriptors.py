"""``glassfix descriptors KIND FRAME --out X.npy``: per-atom structural features of one LAMMPS frame.

Kinds: ``radial`` (Cubuk radial structure functions, 50 grid points per species), ``angular`` (Cubuk
angular functions, Table 4.1, 22 per species pair) and ``softness166`` (radial + angular, the thesis'
166-feature softness set for two species). Rows are atoms ordered by id; ``X.names.txt`` beside the
array lists the feature names, one per line. Lengths are in the file's units (σ_AA for LJ).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from glassfix.core.atomic import atomic_write
from glassfix.data.lammps_io import read_frame
from glassfix.descriptors.angular import AngularStructureFunctions, CombinedDescriptor
from glassfix.descriptors.base import Descriptor, check_cutoff
from glassfix.descriptors.structure_functions import RadialStructureFunctions, default_species_names

__all__ = [
    "KINDS",
    "descriptor_from_name",
    "run_descriptors_cli",
    "names_path",
    "add_arguments",
    "add_options",
    "main",
]

KINDS = ("radial", "angular", "softness166", "ace", "coarse_grained", "interstice")
# kinds built from their registered spec (defaults = the papers' settings), overridable with --spec
_SPEC_KINDS = ("ace", "coarse_grained", "interstice")

_RADIAL_OPTIONS = ("mus", "delta", "cutoff", "cutoff_fn")
_ANGULAR_OPTIONS = ("params", "cutoff", "cutoff_fn", "pairs")
# softness166: radial_* and angular_* address one component; cutoff_fn applies to both.
_COMBINED_OPTIONS = ("mus", "delta", "radial_cutoff", "angular_cutoff", "params", "cutoff_fn", "pairs")


def _check_options(kind: str, options: dict[str, Any], allowed: Sequence[str]) -> dict[str, Any]:
    opts = {k: v for k, v in options.items() if v is not None}
    unknown = sorted(set(opts) - set(allowed))
    if unknown:
        raise ValueError(f"option(s) {unknown} do not apply to kind {kind!r} (allowed: {', '.join(allowed)})")
    return opts


def descriptor_from_name(
    kind: str, n_species: int, species_names: Sequence[str] | None = None, **options: Any
) -> Descriptor:
    """Build a descriptor by short name; options left as None take the descriptor's defaults.

    - ``radial``: RadialStructureFunctions(mus, delta, cutoff, cutoff_fn); default grid 0.0…4.9, δ = 0.1.
    - ``angular``: AngularStructureFunctions(params, cutoff, cutoff_fn, pairs); default Table 4.1, r_c = 2.5.
    - ``softness166``: CombinedDescriptor([radial, angular]) with options mus, delta, radial_cutoff,
      angular_cutoff, params, pairs and cutoff_fn (applied to both components); 166 features for 2 species.

    ValueError for an unknown kind or an option that does not apply to it.
    """
    names = list(species_names) if species_names is not None else None
    if kind == "radial":
        return RadialStructureFunctions(n_species, species_names=names,
                                        **_check_options(kind, options, _RADIAL_OPTIONS))
    if kind == "angular":
        return AngularStructureFunctions(n_species, species_names=names,
                                         **_check_options(kind, options, _ANGULAR_OPTIONS))
    if kind == "softness166":
        o = _check_options(kind, options, _COMBINED_OPTIONS)
        radial_kw = {k: o[k] for k in ("mus", "delta", "cutoff_fn") if k in o}
        if "radial_cutoff" in o:
            radial_kw["cutoff"] = o["radial_cutoff"]
        angular_kw = {k: o[k] for k in ("params", "cutoff_fn", "pairs") if k in o}
        if "angular_cutoff" in o:
            angular_kw["cutoff"] = o["angular_cutoff"]
        return CombinedDescriptor([
            RadialStructureFunctions(n_species, species_names=names, **radial_kw),
            AngularStructureFunctions(n_species, species_names=names, **angular_kw),
        ])
    if kind in _SPEC_KINDS:
        from glassfix.descriptors.base import descriptor_from_spec

        o = _check_options(kind, options, ("spec",))
        spec: dict[str, Any] = {"kind": kind, "n_species": n_species}
        if names is not None:
            spec["species_names"] = names
        if kind == "coarse_grained" and "pair_energy" not in o.get("spec", {}):
            # per-particle energies need a potential: the KA mixture for 2 species unless told otherwise
            if n_species != 2:
                raise ValueError("coarse_grained needs a pair potential: pass --spec '{\"pair_energy\": ...}'")
            spec["pair_energy"] = "ka3d"
        spec.update(o.get("spec", {}))
        return descriptor_from_spec(spec)
    raise ValueError(f"unknown descriptor kind {kind!r}; choose one of {', '.join(KINDS)}")


def names_path(out: str | os.PathLike[str]) -> Path:
    """``X.names.txt`` for the output ``X.npy`` (or ``X`` + ``.names.txt`` for other suffixes)."""
    out = Path(out)
    stem = out.name[:-4] if out.name.endswith(".npy") else out.name
    return out.with_name(stem + ".names.txt")


def run_descriptors_cli(
    kind: str,
    frame_path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    fmt: str = "auto",
    step: int | None = None,
    dim: int | None = None,
    n_species: int | None = None,
    species_names: Sequence[str] | None = None,
    ids_out: str | os.PathLike[str] | None = None,
    **options: Any,
) -> tuple[np.ndarray, Descriptor]:
    """Features of all atoms of one frame, rows ordered by atom id, saved to ``out`` (.npy, atomically).

    Also writes the feature names to :func:`names_path` (``X.names.txt``) and, if ``ids_out`` is given,
    the atom ids of the rows. ``n_species`` defaults to the number of species in the file (largest type
    + 1, or its type labels); ``species_names`` to the file's type labels, else A, B, …; ``options`` go
    to :func:`descriptor_from_name`. Returns (features, descriptor).
    """
    frame = read_frame(frame_path, fmt, step, dim).sorted_by_id()
    frame.check_finite()
    for opt in ("cutoff", "radial_cutoff", "angular_cutoff"):  # before any allocation, naming the flag
        if options.get(opt) is not None:
            check_cutoff(frame, options[opt], name=f"{opt} (--{opt.replace('_', '-')}) of {frame_path}:")
    if n_species is None and species_names is not None:
        n_species = len(species_names)
    if n_species is None:
        n_species = max(int(frame.types.max()) + 1 if frame.n_atoms else 1,
                        len(frame.species) if frame.species else 0)
    if species_names is None:
        if frame.species and len(frame.species) == n_species:
            species_names = list(frame.species)
        else:
            species_names = default_species_names(n_species)
    desc = descriptor_from_name(kind, n_species, species_names, **options)
    features = np.ascontiguousarray(desc.compute(frame), dtype=np.float64)
    out = Path(out)
    atomic_write(out, lambda fh: np.save(fh, features))
    atomic_write(names_path(out), lambda fh: fh.write(("\n".join(desc.names) + "\n").encode()))
    if ids_out is not None:
        atomic_write(Path(ids_out), lambda fh: np.save(fh, frame.ids))
    return features, desc


# ----------------------------------------------------------------------------------------------------
# argparse wiring: ``glassfix descriptors`` = add_arguments(subparser) + main(args)
# ----------------------------------------------------------------------------------------------------


def _floats(text: str) -> list[float]:
    """'0.5,0.6,0.7' or 'start:stop:step' (stop exclusive, like numpy.arange)."""
    if ":" in text:
        a, b, c = (float(x) for x in text.split(":"))
        return [float(x) for x in np.arange(a, b, c)]
    return [float(x) for x in text.split(",") if x.strip()]


def add_arguments(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``glassfix descriptors`` on the sub-command parser; returns its parser."""
    ds = sub.add_parser("descriptors", help="compute per-atom descriptors of a frame (rows by atom id)")
    ds.set_defaults(func=main)
    return add_options(ds)


def add_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``descriptors`` arguments (KIND FRAME --out …) to ``parser``; returns it."""
    parser.add_argument("kind", choices=KINDS, help="radial (100 for 2 species), angular (66), "
                                                    "softness166 (radial + angular), ace (574), "
                                                    "coarse_grained (132), interstice (60)")
    parser.add_argument("frame", help="LAMMPS data file or dump file")
    parser.add_argument("--out", required=True, help="output .npy (N, n_features), rows by atom id; "
                                                     "feature names go to OUT.names.txt")
    parser.add_argument("--format", dest="fmt", choices=["auto", "data", "dump"], default="auto")
    parser.add_argument("--step", type=int, default=None, help="timestep to take from a dump (default: last)")
    parser.add_argument("--dim", type=int, choices=[2, 3], default=None, help="2 for 2D frames (drops z) [default: from the file: 2 when every "
                        "atom has z = 0 inside a z slab around 0, as LAMMPS 'dimension 2' writes it]")
    parser.add_argument("--ntypes", type=int, default=None, help="number of species (default: from file)")
    parser.add_argument("--species", nargs="+", default=None, help="species names of types 1, 2, …")
    parser.add_argument("--cutoff", type=float, default=None,
                        help="cutoff (length units) for radial/angular; softness166 takes "
                             "--radial-cutoff/--angular-cutoff")
    parser.add_argument("--radial-cutoff", type=float, default=None, help="softness166: radial cutoff")
    parser.add_argument("--angular-cutoff", type=float, default=None, help="softness166: angular cutoff")
    parser.add_argument("--cutoff-fn", choices=["none", "cosine"], default=None,
                        help="smooth cosine cutoff function (default none)")
    parser.add_argument("--pairs", choices=["unordered", "ordered"], default=None,
                        help="angular neighbour-pair convention (default unordered)")
    parser.add_argument("--mus", type=_floats, default=None,
                        help="radial grid: 'a,b,c' or 'start:stop:step' (default 0:5:0.1)")
    parser.add_argument("--delta", type=float, default=None, help="radial Gaussian width (default 0.1)")
    parser.add_argument("--params", type=json.loads, default=None,
                        help="angular rows as JSON [[xi, lambda, zeta], …] (default Table 4.1)")
    parser.add_argument("--spec", type=json.loads, default=None,
                        help="ace/coarse_grained/interstice: JSON of constructor options, e.g. "
                             "'{\"r_cut\": 3.5, \"degree\": 8}'")
    parser.add_argument("--ids-out", default=None, help="also save the atom ids (rows of --out) to this .npy")
    return parser


def main(args: argparse.Namespace) -> int:
    """Run ``glassfix descriptors`` from parsed arguments; exits with a message on bad input."""
    options: dict[str, Any] = dict(cutoff_fn=args.cutoff_fn, mus=args.mus, delta=args.delta)
    if args.kind in _SPEC_KINDS:
        given = [f for f in ("cutoff", "radial_cutoff", "angular_cutoff", "cutoff_fn", "mus", "delta", "params",
                             "pairs") if getattr(args, f) is not None]
        if given:
            raise SystemExit(f"error: {args.kind} takes its options as --spec JSON, not --{given[0].replace('_', '-')}")
        options = {"spec": args.spec or {}}
    elif args.kind == "softness166":
        if args.cutoff is not None:
            raise SystemExit("error: softness166 has two cutoffs: use --radial-cutoff / --angular-cutoff")
        options.update(radial_cutoff=args.radial_cutoff, angular_cutoff=args.angular_cutoff,
                       params=args.params, pairs=args.pairs)
    else:
        if args.radial_cutoff is not None or args.angular_cutoff is not None:
            raise SystemExit("error: --radial-cutoff/--angular-cutoff apply to softness166 only; use --cutoff")
        options["cutoff"] = args.cutoff
        if args.kind == "angular":
            options.update(params=args.params, pairs=args.pairs)
            for flag in ("mus", "delta"):
                if options.pop(flag) is not None:
                    raise SystemExit(f"error: --{flag} does not apply to angular")
        elif args.params is not None or args.pairs is not None:
            raise SystemExit("error: --params/--pairs apply to angular and softness166 only")
    try:
        features, desc = run_descriptors_cli(
            args.kind, args.frame, args.out, fmt=args.fmt, step=args.step, dim=args.dim,
            n_species=args.ntypes, species_names=args.species, ids_out=args.ids_out, **options)
    except (ValueError, OSError) as exc:
        raise SystemExit(f"error: {exc}") from None
    print(f"wrote {args.out}: {features.shape} ({desc.kind}, cutoff {desc.cutoff:g}) for "
          f"{features.shape[0]} atoms ordered by atom id; names in {names_path(args.out)}")
    return 0


if __name__ == "__main__":  # pragma: no cover - convenience: python -m glassfix.cli.descriptors
    _p = add_options(argparse.ArgumentParser(prog="glassfix descriptors", description=__doc__))
    raise SystemExit(main(_p.parse_args()))
