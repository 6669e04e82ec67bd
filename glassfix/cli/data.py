"""``glassfix data ...``: inspect, import into, export from, split and repair dataset stores.

Wire into the ``glassfix`` command with ``add_arguments(subparsers)``; each sub-command's function is
``main_<name>(args)`` (returns an exit code) and ``main(argv)`` runs the group standalone
(``python -m glassfix.cli.data info STORE``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from glassfix.data.importers import KA3D_BOX_LENGTH

__all__ = ["add_arguments", "main", "main_info", "main_import", "main_export", "main_split", "main_repair",
           "main_verify"]


def _fail(exc: Exception) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return 2


def _botan_sources(srcs: list[str]) -> list[Path]:
    out: list[Path] = []
    for s in srcs:
        p = Path(s)
        out.extend(sorted(p.glob("*.npz")) if p.is_dir() else [p])
    return out


def main_info(args: argparse.Namespace) -> int:
    """Print a summary of a store (``--json``: machine-readable)."""
    from glassfix.data.store import DatasetError, DatasetStore

    try:
        with DatasetStore(args.store, "r") as store:
            info = store.info()
    except (DatasetError, FileNotFoundError) as exc:
        return _fail(exc)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"{info['path']}: {info['format']} schema v{info['schema_version']} "
          f"(glassfix {info['glassfix_version']}, created {info['created']})")
    print(f"  frames: {info['n_frames']} ({info['n_atoms_total']} atoms), incomplete: {info['n_incomplete_frames']}")
    print("  checksums: " + ("every array and attribute set ('glassfix data verify' reads and checks them all)"
                             if info["schema_version"] >= 2 else "none (written before schema 2)"))
    print(f"  systems: {', '.join(info['systems']) or '-'}; groups: {len(info['groups'])}")
    for name, count in sorted(info["frame_labels"].items()):
        print(f"  label {name}: {count} frames")
    for name, count in sorted(info["replicas"].items()):
        print(f"  replicas {name}: {count} frames")
    print(f"  examples: {info['n_examples']} rows, {info['n_features']} features")
    for name, count in sorted(info["example_labels"].items()):
        print(f"    {name}: {count}")
    if info["split"]:
        s = info["split"]
        print(f"  split: by {s['by']}, test_fraction {s['test_fraction']}, seed {s['seed']}, "
              f"test {s['by']}s: {', '.join(map(str, s['test_units']))}")
    if info["examples_error"]:
        print(f"  WARNING: {info['examples_error']}")
    return 0


def main_import(args: argparse.Namespace) -> int:
    """Import BOTAN .npz files (or directories of them) or LAMMPS dumps into a store (resumable)."""
    from glassfix.data.importers import import_botan_npz, import_lammps_dump
    from glassfix.data.store import DatasetError, DatasetStore

    try:
        with DatasetStore(args.store, "a") as store:
            before = len(store)
            if args.kind == "botan":
                for src in _botan_sources(args.src):
                    key = import_botan_npz(store, src, box_length=args.box_length, temperature=args.temperature,
                                           time_label=args.time_label, system=args.system or "ka3d",
                                           propensity=not args.no_propensity)
                    print(f"{src} -> {key}")
            else:
                if not args.group:
                    raise DatasetError("importing a dump needs --group (configuration or run id)")
                for src in args.src:
                    keys = import_lammps_dump(store, src, system=args.system or "unknown", group=args.group,
                                              temperature=args.temperature, dim=args.dim)
                    print(f"{src} -> {len(keys)} frames")
            print(f"{args.store}: {len(store) - before} new frames, {len(store)} in all")
    except (DatasetError, FileNotFoundError, ValueError) as exc:
        return _fail(exc)
    return 0


def main_export(args: argparse.Namespace) -> int:
    """Export one frame (with labels; replicas for npz) as a BOTAN-style .npz or a LAMMPS dump."""
    from glassfix.data.importers import export_dump, export_npz
    from glassfix.data.store import DatasetError, DatasetStore

    try:
        with DatasetStore(args.store, "r") as store:
            if args.format == "npz":
                out = export_npz(store, args.key, args.out, time_label=args.time_label)
            else:
                out = export_dump(store, args.key, args.out)
    except (DatasetError, FileNotFoundError, KeyError) as exc:
        return _fail(exc)
    print(f"wrote {out}")
    return 0


def main_split(args: argparse.Namespace) -> int:
    """Store a grouped train/test split and print its sizes."""
    from glassfix.data.store import DatasetError, DatasetStore

    try:
        with DatasetStore(args.store, "a") as store:
            train, test = store.grouped_split(args.test_fraction, seed=args.seed, by=args.by)
    except (DatasetError, FileNotFoundError) as exc:
        return _fail(exc)
    print(f"{args.store}: {len(train)} train frames, {len(test)} test frames (by {args.by}, seed {args.seed})")
    return 0


def main_repair(args: argparse.Namespace) -> int:
    """Salvage a damaged store in place (the original is kept as <store>.damaged-<time>)."""
    from glassfix.data.store import DatasetError, DatasetStore, repair_store

    try:
        backup = repair_store(args.store, reason=["requested by 'glassfix data repair'"])
        with DatasetStore(args.store, "r") as store:
            n = len(store)
            dropped = json.loads(store._f.attrs.get("salvage_dropped", "[]"))  # noqa: SLF001
    except (DatasetError, FileNotFoundError) as exc:
        return _fail(exc)
    for item in dropped:
        print(f"  dropped {item}")
    print(f"{args.store}: salvaged {n} frames, dropped {len(dropped)} damaged item(s); damaged original kept "
          f"as {backup}")
    return 0


def main_verify(args: argparse.Namespace) -> int:
    """Verify every checksum of a store; exit 1 if anything is damaged (listed), 2 if it cannot be opened."""
    from glassfix.data.store import DatasetError
    from glassfix.data.verify import verify_store

    try:
        report = verify_store(args.store)
    except (DatasetError, FileNotFoundError) as exc:
        return _fail(exc)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for item in report["damaged"]:
            print(f"  DAMAGED {item}")
        print(f"{args.store}: schema v{report['schema_version']}, {report['n_frames']} frames, "
              f"{report['example_rows']} example rows checked: {len(report['damaged'])} damaged item(s)"
              + (f", {report['unchecked']} without checksums (written before schema 2; damage inside them "
                 f"cannot be detected)" if report["unchecked"] else ""))
        if report["damaged"]:
            print(f"  fix: 'glassfix data repair {args.store}' drops exactly these; rerun the writer to re-add them")
    return 1 if report["damaged"] else 0


def add_arguments(subparsers) -> argparse.ArgumentParser:
    """Register ``data {info,import,export,split,verify,repair}`` on the ``glassfix`` sub-parsers; returns its parser."""
    p = subparsers.add_parser("data", help="dataset stores (HDF5): info, import, export, split, verify, repair",
                              description="Dataset stores: one HDF5 file of frames, labels, replicas and "
                                          "examples (docs/dataset.md). Lengths in the engine's units.")
    sub = p.add_subparsers(dest="data_command", required=True)

    i = sub.add_parser("info", help="summary of a store")
    i.add_argument("store", help="dataset store (.h5)")
    i.add_argument("--json", action="store_true", help="machine-readable output")
    i.set_defaults(func=main_info)

    im = sub.add_parser("import", help="import BOTAN .npz files or LAMMPS dumps (resumable)")
    im.add_argument("kind", choices=["botan", "dump"])
    im.add_argument("src", nargs="+", help="source files (botan: .npz files or directories of them)")
    im.add_argument("store", help="dataset store (.h5), created if missing")
    im.add_argument("--system", default=None, help="system name (default: ka3d for botan, unknown for dump)")
    im.add_argument("--group", default=None, help="dump: configuration/run id for grouped splits (required)")
    im.add_argument("--temperature", type=float, default=None,
                    help="temperature (LJ units); botan default: from the file name")
    im.add_argument("--box-length", type=float, default=KA3D_BOX_LENGTH,
                    help="botan: cubic box side, sigma_AA (default (4096/1.2)^(1/3): KA N=4096, rho=1.2)")
    im.add_argument("--time-label", default="t=4120", help="botan: replica time label (t in tau)")
    im.add_argument("--no-propensity", action="store_true", help="botan: do not add the propensity label")
    im.add_argument("--dim", type=int, default=None, choices=[2, 3], help="dump: dimension (default: from columns)")
    im.set_defaults(func=main_import)

    ex = sub.add_parser("export", help="export one frame as .npz (BOTAN layout) or a LAMMPS dump")
    ex.add_argument("store")
    ex.add_argument("key", help="frame key (see 'glassfix data info')")
    ex.add_argument("--format", choices=["npz", "dump"], required=True)
    ex.add_argument("out", help="output file")
    ex.add_argument("--time-label", default=None, help="npz: which replica set (default: the first)")
    ex.set_defaults(func=main_export)

    sp = sub.add_parser("split", help="store a grouped train/test split (no group on both sides)")
    sp.add_argument("store")
    sp.add_argument("--test-fraction", type=float, default=0.2)
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--by", choices=["group", "system", "frame"], default="group")
    sp.set_defaults(func=main_split)

    rp = sub.add_parser("repair", help="salvage a damaged store in place (drops exactly the damaged items)")
    rp.add_argument("store")
    rp.set_defaults(func=main_repair)

    vf = sub.add_parser("verify", help="check every checksum; list damaged frames/labels (exit 1 if any)")
    vf.add_argument("store")
    vf.add_argument("--json", action="store_true", help="machine-readable output")
    vf.set_defaults(func=main_verify)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run ``data ...`` standalone: ``python -m glassfix.cli.data info STORE``."""
    parser = argparse.ArgumentParser(prog="glassfix")
    add_arguments(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["data", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
