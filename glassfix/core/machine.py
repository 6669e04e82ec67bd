"""The machine a measurement ran on, for the header of every benchmark and reproduction report."""

from __future__ import annotations

import os
import platform
from pathlib import Path

__all__ = ["BENCH_HEADER", "append_bench_section", "machine_description"]

# the first line of docs/benchmarks.md, written by whichever benchmark creates the file
BENCH_HEADER = ("Speed comparisons are ratios measured within one run on the same input; absolute times and rates "
                "(s, atoms/s) are given for context and depend on the machine and its load.")


def machine_description() -> str:
    """Host name, core count and CPU model, for benchmark reports."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.node()}, {os.cpu_count()} cores, {cpu}"


def append_bench_section(report: Path, lines: list[str]) -> None:
    """Append ``lines`` (Markdown) to the benchmark report ``report`` atomically, creating it with its header."""
    from glassfix.core.atomic import atomic_write_text

    report = Path(report)
    report.parent.mkdir(parents=True, exist_ok=True)
    text = report.read_text() if report.exists() else f"# glassfix benchmarks\n\n{BENCH_HEADER}\n"
    atomic_write_text(report, text.rstrip("\n") + "\n" + "\n".join(lines))
