"""``glassfix data verify``: read every byte of a store that carries a checksum and list what is damaged.

Schema-2 stores checksum every array (fletcher32) and every attribute set (a CRC-32 seal, see
:mod:`glassfix.data.checksum`); this reads all of them, frame by frame, label by label, and the examples
table chunk by chunk. Items of schema-1 stores (no checksums) are counted as *unchecked*: damage inside
them cannot be detected.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from .checksum import ChecksumError, check_seal
from .names import unquote_name
from .repair import _why, check_frame
from .schema import CHECKSUM_SCHEMA, EXAMPLE_CHUNK, _EX_COLUMNS
from .store import DatasetStore

__all__ = ["verify_store"]


def verify_store(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Verify every checksum of a store; returns ``{"path", "schema_version", "n_frames", "damaged":
    [descriptions], "damaged_frames": [keys], "unchecked": n arrays/attribute sets without checksums,
    "example_rows", "example_chunks"}``. Raises DatasetError if the store cannot be opened at all."""
    path = Path(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # damage found at open is listed below instead
        store = DatasetStore(path, "r")
    damaged: list[str] = []
    damaged_frames: list[str] = []
    unchecked = 0
    with store:
        f = store._f  # noqa: SLF001 - the verified view of the file (through a pending journal, if any)
        required = store.schema_version >= CHECKSUM_SCHEMA
        try:
            unchecked += not check_seal(f, required)
        except ChecksumError as exc:
            damaged.append(f"root attributes ({exc})")
        frames = f["frames"]
        names = list(frames)
        n_frames = 0
        for name in names:
            key, problem, items, n_unchecked = check_frame(frames, name, required)
            unchecked += n_unchecked
            n_frames += 1
            if problem is not None:
                damaged.append(f"frame {key!r} ({problem})")
                damaged_frames.append(key)
            for sub, item, why in items:
                damaged.append(f"frame {key!r}: {sub[:-1]} {unquote_name(item)!r} ({why})")
        n_rows = n_chunks = 0
        try:
            ex = f["examples"]
            unchecked += not check_seal(ex, required)
            n_rows = int(ex.attrs["n_rows"])
            cols = [c for c in (*_EX_COLUMNS, "features") if c in ex]
            unchecked += sum(not ex[c].fletcher32 for c in cols)
            for start in range(0, n_rows, EXAMPLE_CHUNK):
                stop = min(n_rows, start + EXAMPLE_CHUNK)
                n_chunks += 1
                for c in cols:
                    try:
                        ex[c][start:stop]
                    except Exception as exc:  # noqa: BLE001
                        damaged.append(f"examples rows {start}-{stop - 1}, column {c!r} ({_why(exc)})")
        except Exception as exc:  # noqa: BLE001
            damaged.append(f"examples table ({_why(exc)})")
        return {"path": str(path), "schema_version": int(store.schema_version), "n_frames": n_frames,
                "damaged": damaged, "damaged_frames": damaged_frames, "unchecked": int(unchecked),
                "example_rows": n_rows, "example_chunks": n_chunks}
