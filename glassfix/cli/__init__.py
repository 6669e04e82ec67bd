"""The ``glassfix`` command line (see ``glassfix --help``). Units are the engine's (LJ reduced units).

The top layer of the package: one module per command (``glassfix <command>`` is ``glassfix/cli/<command>.py``),
each with ``add_arguments(subparsers)`` that registers its parser and handler. The modules only parse
arguments and call into the library; nothing in the library imports from here.
"""

from __future__ import annotations

import argparse
import importlib
import sys

__all__ = ["COMMANDS", "build_parser", "main"]

# The commands in the order ``glassfix --help`` lists them; each is the module glassfix/cli/<name>.py.
COMMANDS = ("plugin", "predict", "demo", "descriptors", "data", "swap", "prepare", "run", "iso", "label", "train",
            "evaluate", "reproduce", "monitor", "bench")


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of the ``glassfix`` command."""
    from glassfix import __version__

    p = argparse.ArgumentParser(prog="glassfix", description=(
        "Machine-learned structural predictors for glasses, on the fly inside LAMMPS. "
        "All quantities are in the engine's units (LJ reduced units for the model glass formers)."))
    p.add_argument("--version", action="version", version=f"glassfix {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"glassfix.cli.{name}").add_arguments(sub)
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
