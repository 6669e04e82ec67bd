"""The dataset store's write-ahead (redo) journal: every commit of a store reaches its file atomically
(offsets and sizes in bytes).

Crash safety (what a SIGKILL can lose). Writes are append-only and every public write ends with a
*commit*: HDF5's caches are flushed into an in-memory page overlay (:class:`_JournaledFile`, h5py's
``fileobj`` driver), and the changed pages reach the file through a redo journal ``<store>.journal``
whose atomic rename is the commit point (see :meth:`_JournaledFile.commit`). HDF5 rewrites its metadata
in place, so without this a kill in the middle of a flush can leave a file HDF5 cannot open; with it, a
killed writer leaves the previous or the new commit, never a mixture. On top of that:

* a frame is built as an *anonymous* group (contents, attributes, ``complete=1`` last), committed, and
  only then linked under ``/frames`` and committed again; readers ignore groups without ``complete=1``
  and a writer deletes them when it reopens;
* examples rows are written past the committed row count, committed, and only then made visible by
  updating ``/examples.attrs["n_rows"]`` (committed again); rows beyond ``n_rows`` are ignored;
* so a SIGKILL loses at most the frame or the examples chunk in flight. The next writer replays a
  committed journal; a reader applies it in memory without writing. Opening a store damaged some other
  way (disk errors, foreign writers) for writing salvages it (every readable complete frame and the
  readable examples are copied into a fresh file that atomically replaces it; the damaged original is
  kept beside it); :func:`~glassfix.data.repair.repair_store` does the same explicitly.

Power loss is a different matter: commits do not ``fsync`` unless ``fsync=True``.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .schema import DatasetError

__all__ = ["journal_path"]

_JOURNAL_MAGIC = b"GFXJRNL1"
_PAGE = 4096


def journal_path(path: str | os.PathLike[str]) -> Path:
    """The commit journal of a store: ``<store>.journal`` (exists only during a commit or after a crash)."""
    path = Path(path)
    return path.with_name(path.name + ".journal")


def _read_journal(jpath: Path) -> tuple[int, int, list[tuple[int, bytes]]] | None:
    """(floor, size, [(offset, data)]) of a complete journal; None if it is incomplete or corrupt."""
    try:
        blob = jpath.read_bytes()
    except FileNotFoundError:
        return None
    head = struct.calcsize("<8sQQQ")
    if len(blob) < head + 32 or blob[:8] != _JOURNAL_MAGIC:
        return None
    if hashlib.sha256(blob[:-32]).digest() != blob[-32:]:
        return None
    _, floor, size, nrec = struct.unpack_from("<8sQQQ", blob, 0)
    records, pos = [], head
    for _ in range(nrec):
        off, length = struct.unpack_from("<QQ", blob, pos)
        pos += 16
        records.append((off, blob[pos:pos + length]))
        pos += length
    return floor, size, records


def _apply_journal(fd: int, floor: int, size: int, records: Sequence[tuple[int, bytes]], fsync: bool) -> None:
    """Write a committed journal into the store file (idempotent: replaying it again gives the same file)."""
    if os.fstat(fd).st_size > floor:
        os.ftruncate(fd, floor)  # bytes past the floor were cut by HDF5 and must read as zeros
    for off, data in records:
        view, done = memoryview(data), 0
        while done < len(view):
            done += os.pwrite(fd, view[done:], off + done)
    os.ftruncate(fd, size)
    if fsync:
        os.fsync(fd)


class _JournaledFile:
    """A file-like object for h5py's ``fileobj`` driver that makes each commit of a store atomic.

    HDF5 writes land in an in-memory overlay of 4 KiB pages; the file on disk is not touched until
    :meth:`commit` (called right after ``H5Fflush``, when the overlay is a consistent HDF5 image). A commit
    writes the dirty pages to ``<store>.journal.tmp``, renames it to ``<store>.journal`` (the atomic commit
    point), copies the pages into the store and deletes the journal. A process killed at any moment
    leaves either the previous commit (no journal) or a complete journal, which the next opening replays
    (a writer) or overlays in memory (a reader). Writers hold an exclusive ``flock`` on the store.
    """

    def __init__(self, path: Path, writable: bool, locking: Any = None, fsync: bool = False) -> None:
        self.path = Path(path)
        self._writable = writable
        self.fsync = fsync
        self._fh = open(self.path, "r+b" if writable else "rb")  # noqa: SIM115 - closed in close()
        self._fd = self._fh.fileno()
        try:
            if locking is None:  # follow HDF5's switch, often set on parallel file systems without flock
                locking = os.environ.get("HDF5_USE_FILE_LOCKING", "TRUE").upper() not in ("FALSE", "0")
            if locking:
                try:
                    fcntl.flock(self._fd, (fcntl.LOCK_EX if writable else fcntl.LOCK_SH) | fcntl.LOCK_NB)
                except OSError as exc:
                    if not isinstance(exc, BlockingIOError):
                        raise DatasetError(f"{self.path}: cannot lock the file ({exc}); if the file system has no "
                                           f"locks, set HDF5_USE_FILE_LOCKING=FALSE and make sure only one "
                                           f"writer runs") from None
                    hint = ("" if writable else
                            ", or read it with DatasetStore(path, 'r', locking=False) at your own risk")
                    raise DatasetError(f"{self.path}: the file is locked: another process has it open"
                                       f"{'' if writable else ' for writing'}. Wait for it to finish{hint}") from None
            self._pages: dict[int, bytearray] = {}
            self._pos = 0
            jpath = journal_path(self.path)
            tmp = jpath.with_name(jpath.name + ".tmp")
            committed = _read_journal(jpath)
            if writable:
                if tmp.exists():
                    tmp.unlink()  # an interrupted commit: never reached the commit point
                if committed is not None:
                    _apply_journal(self._fd, *committed, fsync=True)
                if jpath.exists():
                    jpath.unlink()
            size = os.fstat(self._fd).st_size
            self._base_size = self._floor = self._size = size
            if committed is not None and not writable:  # read the committed state without writing it
                floor, size, records = committed
                self._floor = min(self._floor, floor)
                for off, data in records:
                    self._seek_write(off, memoryview(data))
                self._size = size
        except BaseException:
            self._fh.close()
            raise

    # -- file protocol used by h5py's fileobj driver ----------------------------------------------------

    def seek(self, offset: int, whence: int = 0) -> int:
        self._pos = offset if whence == 0 else self._pos + offset if whence == 1 else self._size + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return self._writable

    def seekable(self) -> bool:
        return True

    def _read_base(self, mv: memoryview, off: int) -> None:
        """Fill mv with the on-disk bytes at off (zeros past the cut-off/EOF)."""
        limit = min(self._base_size, self._floor)
        n = max(0, min(len(mv), limit - off))
        done = 0
        while done < n:
            got = os.preadv(self._fd, [mv[done:n]], off + done)
            if got <= 0:
                break
            done += got
        if done < len(mv):
            mv[done:] = bytes(len(mv) - done)

    def readinto(self, buf) -> int:
        mv = memoryview(buf).cast("B")
        n = len(mv)
        pos = self._pos
        end = min(pos + n, self._size)
        if end < pos + n:
            start = max(end - pos, 0)
            mv[start:] = bytes(n - start)
        cur = pos
        pages = self._pages
        while cur < end:
            p = cur // _PAGE
            if p in pages:
                off = cur - p * _PAGE
                k = min(_PAGE - off, end - cur)
                mv[cur - pos:cur - pos + k] = pages[p][off:off + k]
                cur += k
                continue
            q = p + 1
            while q * _PAGE < end and q not in pages:
                q += 1
            stop = min(q * _PAGE, end)
            self._read_base(mv[cur - pos:stop - pos], cur)
            cur = stop
        self._pos = pos + n
        return n

    def read(self, n: int = -1) -> bytes:
        n = max(self._size - self._pos, 0) if n is None or n < 0 else n
        buf = bytearray(n)
        self.readinto(buf)
        return bytes(buf)

    def _seek_write(self, pos: int, mv: memoryview) -> None:
        n = len(mv)
        cur, stop = pos, pos + n
        pages = self._pages
        while cur < stop:
            p = cur // _PAGE
            off = cur - p * _PAGE
            k = min(_PAGE - off, stop - cur)
            page = pages.get(p)
            if page is None:
                page = bytearray(_PAGE)
                if k < _PAGE:
                    self._read_base(memoryview(page), p * _PAGE)
                pages[p] = page
            page[off:off + k] = mv[cur - pos:cur - pos + k]
            cur += k
        self._size = max(self._size, stop)

    def write(self, data) -> int:
        if not self._writable:
            raise OSError("store opened read-only")
        mv = memoryview(data).cast("B")
        self._seek_write(self._pos, mv)
        self._pos += len(mv)
        return len(mv)

    def truncate(self, size: int | None = None) -> int:
        size = self._pos if size is None else int(size)
        if size < self._size:
            self._floor = min(self._floor, size)
            for p in [p for p in self._pages if p * _PAGE >= size]:
                del self._pages[p]
            last = self._pages.get(size // _PAGE)
            if last is not None:
                cut = size - (size // _PAGE) * _PAGE
                last[cut:] = bytes(_PAGE - cut)
        self._size = size
        return size

    def flush(self) -> None:
        """No-op: data reaches the file only through :meth:`commit`."""

    # -- commits -------------------------------------------------------------------------------------

    @property
    def dirty(self) -> bool:
        return bool(self._pages) or self._size != self._base_size or self._floor < self._base_size

    def commit(self) -> None:
        """Make everything written so far durable against a killed process (and, with fsync, power loss)."""
        if not self._writable or not self.dirty:
            return
        records: list[tuple[int, bytes]] = []
        run_start = run_end = None
        chunks: list[bytes] = []
        for p in sorted(self._pages):
            if p * _PAGE >= self._size:
                continue
            data = self._pages[p][: min(_PAGE, self._size - p * _PAGE)]
            if run_end is not None and p == run_end:
                chunks.append(data)
                run_end = p + 1
            else:
                if chunks:
                    records.append((run_start * _PAGE, b"".join(chunks)))
                run_start, run_end, chunks = p, p + 1, [data]
        if chunks:
            records.append((run_start * _PAGE, b"".join(chunks)))
        floor = min(self._floor, self._base_size)
        jpath = journal_path(self.path)
        tmp = jpath.with_name(jpath.name + ".tmp")
        h = hashlib.sha256()
        with open(tmp, "wb") as fh:
            def put(b: bytes) -> None:
                h.update(b)
                fh.write(b)
            put(struct.pack("<8sQQQ", _JOURNAL_MAGIC, floor, self._size, len(records)))
            for off, data in records:
                put(struct.pack("<QQ", off, len(data)))
                put(data)
            fh.write(h.digest())
            fh.flush()
            if self.fsync:
                os.fsync(fh.fileno())
        os.replace(tmp, jpath)  # the commit point
        if self.fsync:
            dfd = os.open(jpath.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        _apply_journal(self._fd, floor, self._size, records, self.fsync)
        jpath.unlink()
        self._pages.clear()
        self._base_size = self._floor = self._size

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()  # also releases the flock
