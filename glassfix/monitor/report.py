"""The end-of-run dashboard of a finished run (the page ``glassfix monitor`` shows, written once)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["write_report"]


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the dashboard of a finished run as ``<run_dir>/report.html`` (or ``out``); returns its path."""
    from glassfix.monitor.html import write_page
    from glassfix.monitor.sources import open_source
    from glassfix.monitor.state import MonitorState

    src = open_source(run_dir)
    st = MonitorState()
    st.update(src.poll())
    return write_page(Path(out) if out else Path(run_dir) / "report.html", st.summary(), live=False)
