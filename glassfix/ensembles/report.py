"""What the isoconfigurational launcher reports: per-temperature rows, the run summary, progress callbacks.

Units: wall and worker times in s, rates in atom-steps/s, temperatures ε_AA/k_B, grid times τ.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .timegrid import format_time

if TYPE_CHECKING:
    from .replica import ReplicaResult

__all__ = ["TemperatureRow", "IsoReport", "IsoProgress"]


@dataclass
class TemperatureRow:
    """Summary of one temperature: frames, replicas (done overall and run now), atom-steps and rates."""

    temperature: float
    frames: int = 0
    frames_done: int = 0
    replicas_total: int = 0
    replicas_done: int = 0
    replicas_run: int = 0
    atom_steps: int = 0
    worker_seconds: float = 0.0

    def as_dict(self, wall: float) -> dict[str, Any]:
        """JSON-able row; ``atom_steps_per_s`` uses the launcher wall time (s)."""
        d = dataclasses.asdict(self)
        d["atom_steps_per_s"] = self.atom_steps / wall if wall > 0 else 0.0
        d["atom_steps_per_worker_s"] = self.atom_steps / self.worker_seconds if self.worker_seconds > 0 else 0.0
        return d


@dataclass
class IsoReport:
    """Outcome of :func:`run_iso`: per-temperature rows, wall time (s), tasks run, journal path."""

    rows: dict[float, TemperatureRow]
    wall: float
    tasks_run: int
    tasks_skipped: int
    frames_committed: list[str]
    journal: Path
    grids: dict[float, dict[str, Any]] = field(default_factory=dict)

    @property
    def atom_steps(self) -> int:
        """Atom-steps computed by this invocation."""
        return sum(r.atom_steps for r in self.rows.values())

    def to_json(self) -> dict[str, Any]:
        """Machine-readable summary."""
        return {"wall_s": self.wall, "tasks_run": self.tasks_run, "tasks_skipped": self.tasks_skipped,
                "atom_steps": self.atom_steps,
                "atom_steps_per_s": self.atom_steps / self.wall if self.wall > 0 else 0.0,
                "frames_committed": self.frames_committed, "journal": str(self.journal),
                "temperatures": [r.as_dict(self.wall) for _, r in sorted(self.rows.items())],
                "grids": {format_time(t): g for t, g in self.grids.items()}}


class IsoProgress:
    """Progress callbacks of :func:`run_iso` (no-ops; the CLI subclasses it with a rich display)."""

    def start(self, total: int, done: int) -> None:
        """Called once: replica tasks in the plan (all frames) and how many are already finished."""

    def replica(self, result: ReplicaResult) -> None:
        """Called for each replica finished in this invocation."""

    def frame(self, key: str) -> None:
        """Called when a frame's replicas and labels are committed to the store."""

    def message(self, text: str) -> None:
        """A status line (pilot runs, resumed work)."""

    def close(self) -> None:
        """Called at the end (also after an error)."""
