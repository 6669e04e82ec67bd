"""``glassfix monitor RUN``: follow a running (or finished) job in the terminal and, with ``--html``, in a
self-contained browser page. Only reads the run's files."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

__all__ = ["add_arguments", "main", "follow"]


def _make(args: Any) -> tuple[Any, Any]:
    from glassfix.monitor.sources import open_source
    from glassfix.monitor.state import MonitorState

    src = open_source(args.run, log=args.log, dump=args.dump, total=args.total)
    st = MonitorState(threshold=args.threshold, slab_axis=args.slab_axis, slab_width=args.slab_width,
                      total=args.total)
    return src, st


def _write_outputs(st: Any, sm: dict[str, Any], html: str | None, json_out: str | None, live: bool,
                   refresh: float) -> None:
    from glassfix.core.atomic import atomic_write_text
    from glassfix.monitor.html import write_page

    if html:
        write_page(html, sm, live=live, refresh=refresh)
    if json_out:
        ser = {k: [float(x) for x in v] for k, v in st.series.items()}
        atomic_write_text(json_out, json.dumps({"summary": sm, "series": ser}, default=str,
                                               allow_nan=True))


def follow(args: Any, stream: Any = None) -> int:
    """The monitor loop: poll every ``args.every`` s, redraw, rewrite the page; returns the exit code."""
    from glassfix.monitor.terminal import TerminalView

    try:  # one thread for the D²min kernels: the monitor shares the machine with the run it watches
        import numba

        numba.set_num_threads(1)
    except (ImportError, ValueError):
        pass
    src, st = _make(args)
    idle_since = time.time()
    last_activity = -1
    with TerminalView(plain=True if args.plain else None, stream=stream) as view:
        try:
            while True:
                st.update(src.poll())
                sm = st.summary()
                failed = bool(sm["errors"]) and not sm["complete"]
                done = bool(sm["complete"]) or failed
                act = src.activity()
                if act != last_activity:  # any file grew (series, log, dumps): the run is alive
                    last_activity, idle_since = act, time.time()
                idle = args.idle_exit is not None and time.time() - idle_since > args.idle_exit
                stop = args.once or done or idle
                _write_outputs(st, sm, args.html, args.json, live=not stop, refresh=args.refresh)
                view.update(sm, force=stop)
                if stop:
                    if failed:
                        print(f"glassfix monitor: the run failed: {sm['errors'][-1]}", file=sys.stderr)
                    elif idle and not done:
                        print(f"glassfix monitor: no new data for {args.idle_exit:g} s; the run stopped before "
                              f"completing (page written)" if args.html else
                              f"glassfix monitor: no new data for {args.idle_exit:g} s; stopping",
                              file=sys.stderr)
                    return 0
                time.sleep(args.every)
        except KeyboardInterrupt:
            sm = st.summary()
            _write_outputs(st, sm, args.html, args.json, live=False, refresh=args.refresh)
            return 0


def add_arguments(sub: Any) -> None:
    """Register ``glassfix monitor`` on the sub-command parser."""
    p = sub.add_parser(
        "monitor", help="follow a running creep/AQS/NVE job: terminal view, creep-law fit, predictions, HTML page",
        description="Follow a `glassfix run` directory, the --out directory of a lammps_inputs/*.lmp run, a "
                    "LAMMPS log (+ the dumps it writes) or an OpenMM reporter log. Only reads files. Units: time "
                    "τ, strain dimensionless, D²min σ², throughput steps per wall-clock second.")
    p.add_argument("run", metavar="RUN", help="run directory, LAMMPS log file, or OpenMM reporter log")
    p.add_argument("--html", default=None, metavar="OUT.html",
                   help="write a self-contained dashboard page, rewritten atomically at every update")
    p.add_argument("--json", default=None, metavar="OUT.json", help="also write the monitor's state as JSON")
    p.add_argument("--every", type=float, default=2.0, help="seconds between polls of the files [2]")
    p.add_argument("--refresh", type=float, default=5.0, help="seconds between reloads of the page [5]")
    p.add_argument("--once", action="store_true", help="read once, print/write, exit")
    p.add_argument("--plain", action="store_true", help="plain status lines even on a terminal")
    p.add_argument("--idle-exit", type=float, default=None, metavar="S",
                   help="stop when no new data arrived for S seconds (default: follow until the run completes "
                        "or Ctrl-C)")
    p.add_argument("--log", default=None, help="LAMMPS log of the run (default: found beside the outputs)")
    p.add_argument("--dump", default=None, help="dump file with the f_ID prediction column (default: found)")
    p.add_argument("--total", type=int, default=None, help="run length in steps, for the ETA, when the files "
                                                           "do not tell it (plain logs)")
    p.add_argument("--threshold", type=float, default=None,
                   help="prediction value counted as 'predicted to rearrange' [0.5 for outputs in [0, 1], else 0]")
    p.add_argument("--slab-axis", choices=["x", "y", "z"], default="y", help="normal of the map's slab [y]")
    p.add_argument("--slab-width", type=float, default=2.0, help="slab thickness (σ) [2]")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """``glassfix monitor``: clear one-line errors for bad input, never a traceback."""
    from glassfix.monitor.sources import MonitorError

    for name in ("every", "refresh"):
        if not getattr(args, name) > 0:
            print(f"glassfix monitor: error: --{name} must be > 0 seconds, got {getattr(args, name)}", file=sys.stderr)
            return 2
    try:
        return follow(args)
    except MonitorError as exc:
        print(f"glassfix monitor: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"glassfix monitor: error: {exc}", file=sys.stderr)
        return 2
