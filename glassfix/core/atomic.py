"""Atomic file writes: a temporary file in the target directory, then ``os.replace`` over the target, so a
reader (or a resumed job after a crash) sees either the old file or the complete new one."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Callable

import numpy as np

from glassfix.core.jsonable import json_default  # re-exported: the one encoder lives in core.jsonable

__all__ = ["atomic_write", "atomic_savez", "atomic_save", "atomic_write_text", "atomic_write_json", "json_default"]


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[Any]], Any], binary: bool = True,
                 durable: bool = False) -> Path:
    """Call ``write(fh)`` on a temporary file beside ``path``, then rename it over ``path``; returns the path.

    ``durable``: fsync the file before the rename and the directory after it, so the new content also
    survives a power loss or a killed node (checkpoints and files other processes wait for); off by
    default because it costs a disk flush per write.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb" if binary else "w") as fh:
            write(fh)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    if durable:
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    return path


def atomic_savez(path: str | os.PathLike[str], **arrays: Any) -> None:
    """np.savez to ``path`` atomically."""
    atomic_write(path, lambda fh: np.savez(fh, **arrays))


def atomic_save(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """np.save (one .npy array) to ``path`` atomically."""
    atomic_write(path, lambda fh: np.save(fh, array))


def atomic_write_text(path: str | os.PathLike[str], text: str, durable: bool = False) -> None:
    """Write ``text`` to ``path`` atomically."""
    atomic_write(path, lambda fh: fh.write(text), binary=False, durable=durable)


def atomic_write_json(path: str | os.PathLike[str], obj: Any, indent: int | None = 1, durable: bool = False,
                      **dumps: Any) -> None:
    """Write ``obj`` as JSON to ``path`` atomically (``dumps``: extra ``json.dumps`` arguments; ``durable``:
    as in :func:`atomic_write`)."""
    atomic_write_text(path, json.dumps(obj, indent=indent, **dumps), durable=durable)
