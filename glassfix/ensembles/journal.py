"""The launcher's sidecar beside a store: an append-only journal and the per-replica commit files.

``<store>.iso/journal.jsonl`` is an fsync'ed JSON-lines log of what was submitted, finished and committed
(and the pilot grids of ``bb:`` time grids); each finished replica is first written atomically and
durably to ``<store>.iso/replicas/<frame hash>/r<NNNNN>.npy`` (the per-replica commit) before the
launcher stacks a frame's replicas into the store and deletes these files. Every write is atomic and
fsync'ed (file and directory), so a launcher killed at any point (kill -9, a lost node) resumes without
recomputing finished replicas or duplicating anything. Only the launcher process writes (single writer).

Units: replica files hold unwrapped positions (n_times, N, d) in σ_AA (float64); journal times are Unix s.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..core.atomic import atomic_write, atomic_write_json, json_default

__all__ = ["IsoJournal"]


def _fsync_dir(path: Path) -> None:
    """fsync a directory, so that an entry just created in it survives a crash (best effort)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class IsoJournal:
    """The sidecar of a store: ``<store>.iso/`` with ``journal.jsonl`` and per-replica ``.npy`` files.

    Journal lines are JSON objects ``{"event": ..., "run": <run id>, "time": <unix s>, ...}`` appended with
    one ``write`` + ``fsync`` each; a line torn by a kill is skipped on reading. Events: ``run``
    (a launcher started), ``submit`` / ``done`` (a replica task), ``frame`` (a frame's replicas and labels
    committed to the store), ``grid`` (a pilot-resolved bond-breaking grid).
    """

    def __init__(self, store_path: str | os.PathLike[str]) -> None:
        store_path = Path(store_path)
        self.root = store_path.with_name(store_path.name + ".iso")
        self.path = self.root / "journal.jsonl"
        self.run_id = uuid.uuid4().hex[:12]
        self._fh: Any = None

    def _open(self) -> Any:
        if self._fh is None:
            self.root.mkdir(parents=True, exist_ok=True)
            new = not self.path.exists()
            self._fh = open(self.path, "ab")  # noqa: SIM115 - closed in close()
            if new:
                _fsync_dir(self.root)
            elif self._fh.tell() > 0:
                # A kill may have torn the last line: start ours on a fresh line.
                with open(self.path, "rb") as fh:
                    fh.seek(-1, os.SEEK_END)
                    if fh.read(1) != b"\n":
                        self._fh.write(b"\n")
        return self._fh

    def append(self, event: str, **fields: Any) -> None:
        """Append one event line durably (write + fsync)."""
        fh = self._open()
        rec = {"event": event, "run": self.run_id, "time": round(time.time(), 3), **fields}
        fh.write((json.dumps(rec, sort_keys=True, default=json_default) + "\n").encode())
        fh.flush()
        os.fsync(fh.fileno())

    def read(self) -> list[dict[str, Any]]:
        """All complete events, oldest first (torn or foreign lines skipped)."""
        if not self.path.exists():
            return []
        out = []
        with open(self.path, "rb") as fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                except (ValueError, UnicodeDecodeError):
                    continue
                if isinstance(rec, dict) and "event" in rec:
                    out.append(rec)
        return out

    def frame_dir(self, fingerprint: str) -> Path:
        """Directory of the per-replica files of one (frame, settings) fingerprint."""
        return self.root / "replicas" / fingerprint[:20]

    @staticmethod
    def replica_file(frame_dir: Path, replica: int) -> Path:
        """Path of the positions file of one replica."""
        return frame_dir / f"r{int(replica):05d}.npy"

    def write_replica(self, frame_dir: Path, replica: int, positions: np.ndarray, meta: Mapping[str, Any]) -> Path:
        """Atomically write one replica's positions (tmp file, fsync, rename, fsync dir): the per-replica commit."""
        if not frame_dir.exists():
            frame_dir.mkdir(parents=True, exist_ok=True)
            _fsync_dir(frame_dir.parent)
        info = frame_dir / "frame.json"
        if not info.exists():
            atomic_write_json(info, dict(meta), indent=1, sort_keys=True, default=json_default, durable=True)
        dest = self.replica_file(frame_dir, replica)
        arr = np.ascontiguousarray(positions)
        return atomic_write(dest, lambda fh: np.save(fh, arr, allow_pickle=False), durable=True)

    def finished_replicas(self, frame_dir: Path, n_replicas: int, shape: tuple[int, ...]) -> dict[int, Path]:
        """Replicas < n_replicas whose file exists and has ``shape`` (others are ignored: recomputed)."""
        out: dict[int, Path] = {}
        if not frame_dir.is_dir():
            return out
        for p in frame_dir.glob("r*.npy"):
            try:
                r = int(p.stem[1:])
            except ValueError:
                continue
            if r >= n_replicas:
                continue
            try:
                arr = np.load(p, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError):
                continue  # cannot happen for a renamed file, but a damaged one is simply recomputed
            if arr.shape == shape and arr.dtype == np.float64:
                out[r] = p
        return out

    def close(self) -> None:
        """Close the journal file."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
