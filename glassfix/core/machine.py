"""The machine a measurement ran on, for the header of every benchmark and reproduction report."""

from __future__ import annotations

import os
import platform
from pathlib import Path

__all__ = ["machine_description"]


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
