"""Terminal views: a rich live panel (TTY) or one plain status line per update (logs, pipes, batch jobs)."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from glassfix.monitor.text import one_line, status_rows

__all__ = ["TerminalView", "sparkline"]

_BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float | None], width: int = 48) -> str:
    """A one-line unicode plot of the last ``width`` finite values."""
    v = [x for x in values if x is not None][-width:]
    if not v:
        return ""
    lo, hi = min(v), max(v)
    span = hi - lo or 1.0
    return "".join(_BLOCKS[min(7, int((x - lo) / span * 8))] for x in v)


def _renderable(sm: dict[str, Any]) -> Any:
    from rich.table import Table

    state = "complete" if sm.get("complete") else "running"
    t = Table(title=f"glassfix monitor — {sm.get('path')} ({sm.get('kind')} {sm.get('protocol') or ''}, {state})",
              show_header=False, title_justify="left", expand=False)
    t.add_column(style="dim", no_wrap=True)
    t.add_column()
    for k, v in status_rows(sm):
        t.add_row(k, v)
    ser = sm.get("series") or {}
    if ser.get("strain"):
        t.add_row("strain (recent)", sparkline(ser["strain"]))
    elif ser.get("sigma"):
        t.add_row("stress (recent)", sparkline(ser["sigma"]))
    if ser.get("pred_mean"):
        t.add_row("mean prediction", sparkline(ser["pred_mean"]))
    for n in sm.get("notes", []):
        t.add_row("note", n)
    for e in sm.get("errors", []):
        t.add_row("[red]error[/red]", e)
    return t


class TerminalView:
    """``update(summary)`` redraws; rich Live on a TTY (unless ``plain``), else prints a line whenever the
    step changes. Use as a context manager."""

    def __init__(self, plain: bool | None = None, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.plain = (not self.stream.isatty()) if plain is None else plain
        self._live: Any = None
        self._last: Any = object()

    def __enter__(self) -> "TerminalView":
        if not self.plain:
            from rich.console import Console
            from rich.live import Live

            self._live = Live(console=Console(file=self.stream), refresh_per_second=2, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)
            self._live = None

    def update(self, sm: dict[str, Any], force: bool = False) -> None:
        """Show a new summary."""
        if self._live is not None:
            self._live.update(_renderable(sm))
            return
        key = (sm.get("step"), sm.get("n_frames"), sm.get("complete"))
        if force or key != self._last:
            self._last = key
            print(one_line(sm), file=self.stream, flush=True)
