"""Incremental readers of files that another process is still appending to.

Every reader consumes only complete lines (up to the last newline), so a torn last line left by a writer
in the middle of a ``write`` — or by a killed run — is never parsed; it is read on the next poll once
the writer finishes it. A file that shrinks or is replaced (a resumed run truncates its series
atomically) is re-read from the start.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from glassfix.core.frame import Frame
from glassfix.data.lammps_io import build_dump_frame, parse_dump_box  # the one dump-snapshot parser

__all__ = ["LineTail", "TableTail", "DumpTail", "LogTail", "parse_float"]


def parse_float(tok: str) -> float:
    """A number of a LAMMPS/CSV table (``nan``/``inf`` allowed); raises ValueError otherwise."""
    return float(tok)


class LineTail:
    """The complete lines appended to ``path`` since the last call of :meth:`new_lines`."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.offset = 0
        self._ident: tuple[int, int] | None = None
        self.reset_count = 0

    def new_lines(self) -> list[str]:
        """Complete new lines (without newline); [] when the file does not exist (yet)."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return []
        ident = (st.st_ino, st.st_dev)
        if self._ident is not None and (ident != self._ident or st.st_size < self.offset):
            self.offset = 0  # replaced or truncated: start over (the caller drops what it had)
            self.reset_count += 1
        self._ident = ident
        if st.st_size == self.offset:
            return []
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            data = fh.read()
        end = data.rfind(b"\n")
        if end < 0:
            return []
        self.offset += end + 1
        return data[:end].decode("utf-8", errors="replace").split("\n")


class TableTail:
    """A growing numeric table: a CSV with a header line (``sep=","``) or a whitespace table whose column
    names are the last ``#`` comment line before the first row (LAMMPS ``fix print ... title``)."""

    def __init__(self, path: str | os.PathLike[str], sep: str | None = None) -> None:
        self.tail = LineTail(path)
        self.sep = sep
        self.columns: list[str] | None = None
        self.rows: list[list[float]] = []
        self._resets = 0
        self._comment: list[str] | None = None

    @property
    def path(self) -> Path:
        """The file read."""
        return self.tail.path

    def poll(self) -> int:
        """Read new rows; returns how many arrived (a rewritten file is re-read from its start)."""
        lines = self.tail.new_lines()
        if self.tail.reset_count != self._resets:
            self._resets = self.tail.reset_count
            self.columns, self.rows, self._comment = None, [], None
        n0 = len(self.rows)
        for ln in lines:
            s = ln.strip()
            if not s:
                continue
            if s.startswith("#"):
                names = s.lstrip("#").split()
                if names and self.columns is None:
                    self._comment = names
                continue
            toks = s.split(self.sep) if self.sep else s.split()
            if self.columns is None:
                if self.sep:  # CSV: the first line is the header
                    self.columns = [t.strip() for t in toks]
                    continue
                self.columns = self._comment or [f"c{k}" for k in range(len(toks))]
            if len(toks) != len(self.columns):
                continue  # a malformed row (never written by our writers): skip, do not guess
            try:
                self.rows.append([parse_float(t) for t in toks])
            except ValueError:
                continue
        return len(self.rows) - n0

    def data(self) -> dict[str, np.ndarray]:
        """``{column: float64 array}`` of the rows read so far."""
        if not self.columns:
            return {}
        arr = np.array(self.rows, dtype=np.float64).reshape(len(self.rows), len(self.columns))
        return {c: arr[:, k].copy() for k, c in enumerate(self.columns)}


class DumpTail:
    """Complete snapshots appended to a LAMMPS ``dump custom`` text file (the fix's ``f_ID`` columns land in
    ``frame.metadata["columns"]``). A snapshot whose atom lines are not all written yet waits."""

    def __init__(self, path: str | os.PathLike[str], dim: int | None = None) -> None:
        self.tail = LineTail(path)
        self.dim = dim
        self.pending: list[str] = []
        self._resets = 0
        self.error: str | None = None

    @property
    def path(self) -> Path:
        """The file read."""
        return self.tail.path

    def poll(self) -> tuple[list[Frame], bool]:
        """New complete snapshots, and whether the file was rewritten (the caller drops older frames)."""
        lines = self.tail.new_lines()
        reset = self.tail.reset_count != self._resets
        if reset:
            self._resets = self.tail.reset_count
            self.pending = []
        self.pending.extend(lines)
        out: list[Frame] = []
        while True:
            frame, used = self._parse_one(self.pending)
            if frame is None:
                break
            out.append(frame)
            del self.pending[:used]
        return out, reset

    def _parse_one(self, lines: list[str]) -> tuple[Frame | None, int]:
        k, step, time, n, box = 0, 0, None, None, None
        while k < len(lines):
            ln = lines[k].strip()
            if not ln:
                k += 1
                continue
            if not ln.startswith("ITEM:"):
                self.error = f"{self.path}: not a LAMMPS dump (line {ln[:40]!r})"
                lines.clear()
                return None, 0
            item = ln[5:].strip()
            if item.startswith("ATOMS"):
                if n is None or box is None or k + 1 + n > len(lines):
                    return None, 0
                try:
                    frame = build_dump_frame(step, time, box, item.split()[1:], lines[k + 1:k + 1 + n], self.dim)
                except (ValueError, NotImplementedError) as exc:
                    self.error = f"{self.path}: unreadable snapshot at step {step} ({exc})"
                    return None, 0
                return frame, k + 1 + n
            nhead = 3 if item.startswith("BOX BOUNDS") else 1
            if k + nhead >= len(lines):
                return None, 0
            body = lines[k + 1:k + 1 + nhead]
            try:
                if item.startswith("TIMESTEP"):
                    step = int(body[0])
                elif item.startswith("TIME"):
                    time = float(body[0])
                elif item.startswith("NUMBER OF ATOMS"):
                    n = int(body[0])
                elif item.startswith("BOX BOUNDS"):
                    box = parse_dump_box(item, body)
            except (ValueError, IndexError) as exc:
                self.error = f"{self.path}: unreadable header {item!r} ({exc})"
                lines.clear()
                return None, 0
            k += 1 + nhead
        return None, 0


class LogTail:
    """Thermo output of a LAMMPS log being written: rows of every thermo block (keyed by its header),
    ``Loop time`` records (steps, seconds) and whether the run ended (``Total wall time``)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.tail = LineTail(path)
        self._resets = 0
        self._clear()

    def _clear(self) -> None:
        self.blocks: list[tuple[tuple[str, ...], list[list[float]]]] = []
        self.loops: list[tuple[int, float]] = []
        self.timestep: float | None = None
        self.finished = False
        self.errors: list[str] = []
        self._header: tuple[str, ...] | None = None

    def poll(self) -> int:
        """Read new lines; returns the number of new thermo rows."""
        lines = self.tail.new_lines()
        if self.tail.reset_count != self._resets:
            self._resets = self.tail.reset_count
            self._clear()
        n = 0
        for ln in lines:
            toks = ln.split()
            if not toks:
                continue
            if toks[0] == "Step":
                self._header = tuple(toks)
                self.blocks.append((self._header, []))
                continue
            if self._header is not None and len(toks) == len(self._header):
                try:
                    self.blocks[-1][1].append([parse_float(t) for t in toks])
                    n += 1
                    continue
                except ValueError:
                    pass
            if ln.startswith("Loop time of"):
                self._header = None
                try:  # Loop time of T on P procs for N steps with M atoms
                    self.loops.append((int(toks[8]), float(toks[3])))
                except (IndexError, ValueError):
                    pass
            elif toks[0] == "timestep" and len(toks) == 2:
                try:
                    self.timestep = float(toks[1])
                except ValueError:
                    pass
            elif ln.startswith("Total wall time"):
                self.finished = True
            elif ln.startswith("ERROR"):
                self.errors.append(ln.strip())
        return n

    def main_series(self, want: str | None = None) -> dict[str, Any]:
        """Rows of the thermo layout with the most rows (the production run, not the minimisations of a
        copy with its own layout), sorted by step; a step repeated by consecutive runs is kept once."""
        counts: dict[tuple[str, ...], int] = {}
        for h, rows in self.blocks:
            counts[h] = counts.get(h, 0) + len(rows)
        if not counts:
            return {}
        cands = [h for h in counts if want is None or want in h] or list(counts)
        head = max(cands, key=lambda h: counts[h])
        rows = [r for h, rs in self.blocks if h == head for r in rs]
        arr = np.array(rows, dtype=np.float64).reshape(len(rows), len(head))
        if arr.shape[0]:
            _, first = np.unique(arr[:, 0], return_index=True)
            arr = arr[np.sort(first)]
            arr = arr[np.argsort(arr[:, 0], kind="stable")]
        return {name: arr[:, k].copy() for k, name in enumerate(head)}
