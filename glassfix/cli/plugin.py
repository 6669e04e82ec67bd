"""``glassfix plugin``: build or locate the LAMMPS plugin."""

from __future__ import annotations

import argparse


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


def add_arguments(sub: argparse._SubParsersAction) -> None:
    """Register ``glassfix plugin`` on the sub-command parser."""
    pl = sub.add_parser("plugin", help="build or locate the LAMMPS plugin")
    pl.add_argument("action", choices=["path", "dir", "build"],
                    help="path: the .so (built if missing); dir: its directory, for LAMMPS_PLUGIN_PATH; "
                         "build: (re)build it")
    pl.add_argument("--force", action="store_true", help="rebuild even if cached")
    pl.add_argument("--verbose", action="store_true", help="print the compiler output")
    pl.add_argument("--no-build", action="store_true", help="fail instead of building when missing")
    pl.set_defaults(func=_cmd_plugin)
