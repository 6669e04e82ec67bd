"""Atomic file writes: a temporary file in the target directory, then ``os.replace`` over the target, so a
reader (or a resumed job after a crash) sees either the old file or the complete new one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import IO, Any, Callable

import numpy as np

__all__ = ["atomic_write", "atomic_savez", "atomic_save", "atomic_write_text"]


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[Any]], Any], binary: bool = True) -> Path:
    """Call ``write(fh)`` on a temporary file beside ``path``, then rename it over ``path``; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb" if binary else "w") as fh:
            write(fh)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_savez(path: str | os.PathLike[str], **arrays: Any) -> None:
    """np.savez to ``path`` atomically."""
    atomic_write(path, lambda fh: np.savez(fh, **arrays))


def atomic_save(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """np.save (one .npy array) to ``path`` atomically."""
    atomic_write(path, lambda fh: np.save(fh, array))


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    atomic_write(path, lambda fh: fh.write(text), binary=False)
