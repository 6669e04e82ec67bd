"""The glassfix dataset store: one schema-versioned HDF5 file of frames, labels, replicas and examples.

The layout (every group, dataset and attribute) is documented in ``docs/dataset.md``; DESIGN §5 is the
contract. In short::

    /                       attrs format="glassfix-dataset", schema_version, glassfix_version, created, [split]
    /frames/<key>           one group per frame (key quoted: '%' -> %25, '/' -> %2F), attrs ..., complete=1
        positions types ids cell origin pbc [unwrapped velocities energies]
        meta/<path>         arrays found in Frame.metadata
        labels/<name>       per-atom labels, the label parameters as attributes
        replicas/<t>        isoconfigurational replica positions (R, N, d)
        descriptors/<kind>-<hash>   cached descriptors
    /examples               parallel 1-D datasets frame atom group label value [+ features (n, F)], attr n_rows

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
  kept beside it); :func:`repair_store` does the same explicitly.

Power loss is a different matter: commits do not ``fsync`` unless ``fsync=True``.

The file is written with ``libver=("v108", "latest")``: checksummed object headers and link indexes,
readable by HDF5 >= 1.8, and *not* superblock v3, whose "file open for write" flag would make a file
left by a killed writer unopenable until ``h5clear -s`` (what ``libver="latest"`` would do). SWMR is not
used: an SWMR writer may not create the groups and datasets every new frame needs.
"""

from __future__ import annotations

import datetime
import fcntl
import hashlib
import json
import os
import shutil
import struct
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..core.frame import Frame
from .checksum import (SEAL, ChecksumError, check_seal, dataset_kwargs, has_checksum, is_checksum_failure, read_attrs,
                       seal)

__all__ = [
    "SCHEMA_VERSION",
    "FORMAT",
    "DatasetError",
    "DatasetStore",
    "repair_store",
    "default_key",
    "parse_label_name",
]

SCHEMA_VERSION = 2  # 2: checksums (fletcher32 on arrays, attribute seals; see glassfix.data.checksum)
CHECKSUM_SCHEMA = 2  # the first schema whose every item carries a checksum
FORMAT = "glassfix-dataset"
LIBVER = ("v108", "latest")

EXAMPLE_CHUNK = 8192  # rows per HDF5 chunk of the examples table
_EX_COLUMNS = {"frame": np.int64, "atom": np.int64, "group": np.int64, "label": np.int32, "value": np.float64}
_EX_FILL = {"frame": -1, "atom": -1, "group": -1, "label": -1, "value": np.nan}
# Example identity (frame index, label id, atom index) packed into one int64.
_ATOM_BITS, _LABEL_BITS, _FRAME_BITS = 28, 12, 23
_FRAME_ARRAYS = ("positions", "types", "ids", "cell", "origin", "pbc")
_OPTIONAL_ARRAYS = ("unwrapped", "velocities", "energies")
_RESERVED_LABEL_ATTRS = {"name", "kind", "complete"}


class DatasetError(ValueError):
    """A dataset store that cannot be used as asked (corrupt, truncated, newer schema, not a store...)."""


# ----------------------------------------------------------------------------------------------------
# small helpers
# ----------------------------------------------------------------------------------------------------


def quote_name(name: str) -> str:
    """An HDF5 link name for an arbitrary non-empty string: '%' -> '%25', '/' -> '%2F', '.' alone -> '%2E'."""
    name = str(name)
    if not name:
        raise ValueError("names must be non-empty")
    q = name.replace("%", "%25").replace("/", "%2F")
    return "%2E" if q == "." else q


def unquote_name(q: str) -> str:
    """Inverse of :func:`quote_name`."""
    return "." if q == "%2E" else q.replace("%2F", "/").replace("%25", "%")


def default_key(system: str, group: str, step: int) -> str:
    """The deterministic frame key ``f"{system}/{group}/{step:012d}"`` used when none is given."""
    return f"{system}/{group}/{int(step):012d}"


def _parse_value(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_label_name(name: str) -> tuple[str, dict[str, Any]]:
    """Split a label name ``"kind/p1=v1,p2=v2"`` into ``("kind", {"p1": v1, "p2": v2})`` (numbers parsed).

    ``"phop/window=10"`` -> ``("phop", {"window": 10})``; ``"propensity/t=4120"`` -> ``("propensity",
    {"t": 4120})``; a name without ``/`` has no parameters. Parts without ``=`` are kept under ``"tag"``.
    """
    kind, _, rest = str(name).partition("/")
    params: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in rest.replace("/", ",").split(","))):
        k, eq, v = part.partition("=")
        if eq:
            params[k.strip()] = _parse_value(v.strip())
        else:
            params.setdefault("tag", part)
    return kind, params


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (tuple, list)):
        return [_jsonable(x) for x in v]
    if isinstance(v, Path):
        return str(v)
    return v


def _split_metadata(meta: Mapping[str, Any], prefix: str = "") -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Metadata -> (JSON-able dict with {"__array__": name} markers, {name: array}) (nested dicts recursed)."""
    obj: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    for k, v in meta.items():
        path = f"{prefix}{k}"
        if isinstance(v, np.ndarray) and v.ndim > 0:
            if v.dtype == object:
                v = v.astype(str)
            name = quote_name(path)
            arrays[name] = v
            obj[str(k)] = {"__array__": name}
        elif isinstance(v, Mapping):
            sub, sub_arrays = _split_metadata(v, f"{path}/")
            obj[str(k)] = sub
            arrays.update(sub_arrays)
        else:
            obj[str(k)] = _jsonable(v)
    return obj, arrays


def _join_metadata(obj: Any, arrays: Mapping[str, np.ndarray]) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {"__array__"}:
            return arrays[obj["__array__"]]
        return {k: _join_metadata(v, arrays) for k, v in obj.items()}
    return obj


def _write_array(group: h5py.Group, name: str, data: np.ndarray, compression: str | None = None) -> h5py.Dataset:
    data = np.asarray(data)
    unicode = data.dtype.kind == "U"
    if unicode:
        data = np.char.encode(data, "utf-8")
    ds = group.create_dataset(name, data=data, **dataset_kwargs(data, compression))
    if unicode:
        ds.attrs["unicode"] = 1
    return ds


def _read_array(ds: h5py.Dataset) -> np.ndarray:
    data = ds[()]
    if ds.attrs.get("unicode", 0):
        data = np.char.decode(data, "utf-8")
    return data


def _attr_str(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _attr_py(v: Any) -> Any:
    """An HDF5 attribute value as a plain Python value."""
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.generic):
        return v.item()
    return v


# ----------------------------------------------------------------------------------------------------
# journaled I/O: every commit reaches the file atomically
# ----------------------------------------------------------------------------------------------------

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


# ----------------------------------------------------------------------------------------------------
# opening
# ----------------------------------------------------------------------------------------------------


_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _has_hdf5_signature(path: Path) -> bool:
    """Whether the HDF5 superblock signature is at offset 0, 512, 1024, 2048, ... (read directly, no HDF5)."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        off = 0
        while off + 8 <= size:
            fh.seek(off)
            if fh.read(8) == _HDF5_SIGNATURE:
                return True
            off = 512 if off == 0 else off * 2
    return False


def check_writable_location(path: Path) -> None:
    """Raise DatasetError naming the real problem if a store cannot be written at ``path``: its directory
    is missing or not writable (a writer creates ``<store>.journal`` beside it), or the file is read-only."""
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise DatasetError(f"{path}: the directory {parent} does not exist; create it (mkdir -p {parent}) or "
                           f"choose another path for the store")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DatasetError(f"{path}: the directory {parent} is not writable (permissions or a read-only file "
                           f"system), and a writer creates files beside the store; choose a writable directory, "
                           f"fix its permissions, or open the store read-only (mode='r')")
    if path.exists() and not os.access(path, os.W_OK):
        raise DatasetError(f"{path}: the store is read-only (permissions or a read-only file system); open it "
                           f"with mode='r' to read it, or make it writable (chmod u+w) to add to it")


def _open_h5(path: Path, h5mode: str, locking: Any, io: _JournaledFile | None = None,
             repairing: bool = False) -> h5py.File:
    """h5py.File (through the journaled ``io`` when given) with errors translated into DatasetError
    naming the file and the fix (``repairing``: for repair_store, which must not suggest itself)."""
    if h5mode in ("r", "r+"):
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such dataset store")
        size = path.stat().st_size
        if repairing and (size == 0 or not _has_hdf5_signature(path)):
            what = "empty" if size == 0 else "no HDF5 signature: the superblock is overwritten or this is another format"
            raise DatasetError(
                f"{path}: not recoverable: not an HDF5 file ({what}), so there is nothing to salvage; check the "
                f"path, restore a copy, or rebuild the store by rerunning the writer into a new file")
        if size == 0 or not _has_hdf5_signature(path):
            raise DatasetError(
                f"{path}: not an HDF5 file ({'empty' if size == 0 else 'no HDF5 signature'}), so not a glassfix "
                f"dataset store; check the path, or create a new store with DatasetStore(path, mode='w') "
                f"(which overwrites it)")
    kw = {} if locking is None or io is not None else {"locking": locking}
    try:
        return h5py.File(io if io is not None else str(path), h5mode, libver=LIBVER, **kw)
    except OSError as exc:
        msg = str(exc)
        if "truncated" in msg:
            raise DatasetError(
                f"{path}: the HDF5 file is truncated ({msg}): it is shorter than its own header says, e.g. an "
                f"interrupted copy or a full disk. Restore a complete copy; if none exists, rebuild the store "
                f"by rerunning the writer (it resumes into a fresh file)") from None
        if "lock" in msg.lower():
            raise DatasetError(
                f"{path}: the file is locked ({msg}): another process has it open for writing. Wait for that "
                f"writer to finish, or read it with DatasetStore(path, 'r', locking=False) at your own risk") from None
        if "already open" in msg:
            raise DatasetError(
                f"{path}: {msg}: close the other DatasetStore/h5py handle on it (in this or another process) "
                f"first; if it was written by another tool with libver='latest' and that writer was killed, "
                f"clear the flag with 'h5clear -s {path}'") from None
        if "errno = 2," in msg or "errno = 13," in msg or "errno = 30," in msg:  # the OS refused, not HDF5
            check_writable_location(path)
            raise DatasetError(f"{path}: cannot open the file ({msg}); check the path and its permissions") from None
        if repairing:
            raise DatasetError(
                f"{path}: not recoverable: HDF5 cannot read the file's superblock or root group ({msg}), and "
                f"salvaging needs a file HDF5 can open. Restore a copy, or "
                f"rebuild the store by rerunning the writer into a new file") from None
        raise DatasetError(
            f"{path}: cannot open the HDF5 file ({msg}); it is corrupt. Try 'glassfix data repair {path}' "
            f"(salvages what is readable), else restore a copy or rebuild it") from None


def _check_schema(path: Path, f: h5py.File, repairing: bool = False) -> int:
    """The schema version of an open store; DatasetError (naming the file and the fix) if it is not a store,
    newer than this glassfix, or its root attributes are damaged (``repairing``: a failed root seal is
    left to repair_store)."""
    try:
        attrs = read_attrs(f)
    except ChecksumError as exc:
        raise DatasetError(f"{path}: the root attributes cannot be read ({exc}); the file is damaged beyond "
                           f"salvage: restore a copy, or rebuild the store by rerunning the writer into a new "
                           f"file") from None
    fmt = attrs.get("format")
    version = attrs.get("schema_version")
    if isinstance(version, (int, np.integer)) and int(version) > SCHEMA_VERSION and fmt is not None:
        written_by = _attr_str(attrs.get("glassfix_version", "a newer glassfix"))
        raise DatasetError(
            f"{path}: dataset schema version {int(version)} (written by glassfix {written_by}) is newer than the "
            f"versions this glassfix reads (<= {SCHEMA_VERSION}); upgrade glassfix (pip install -U glassfix)")
    if not repairing and SEAL in attrs:
        try:
            check_seal(f, False, attrs)
        except ChecksumError as exc:
            raise DatasetError(f"{path}: the root attributes are damaged ({exc}); run 'glassfix data repair "
                               f"{path}' (it keeps every intact frame and drops the stored split)") from None
    if fmt is None or _attr_str(fmt) != FORMAT:
        raise DatasetError(
            f"{path}: an HDF5 file but not a glassfix dataset store (root attribute format={FORMAT!r} "
            f"{'missing' if fmt is None else f'is {_attr_str(fmt)!r}'}); point at a store written by glassfix, "
            f"or import the data with 'glassfix data import'")
    try:
        version = int(attrs["schema_version"])
    except (KeyError, TypeError, ValueError):
        raise DatasetError(f"{path}: the root attribute schema_version is missing or not an integer; the file "
                           f"is damaged, rebuild it") from None
    if version < 1:
        raise DatasetError(f"{path}: invalid schema_version {version}")
    return version


# ----------------------------------------------------------------------------------------------------
# the store
# ----------------------------------------------------------------------------------------------------


def _remove_stale_creations(path: Path) -> None:
    """Delete ``<store>.creating-<pid>.tmp`` files left by writers killed while creating the store (their
    process is gone; a live one's file is left alone)."""
    for tmp in path.parent.glob(f"{path.name}.creating-*.tmp"):
        try:
            pid = int(tmp.name[len(path.name) + len(".creating-"):-len(".tmp")])
            os.kill(pid, 0)
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
        except (ValueError, PermissionError, OSError):
            continue


# What h5py raises on damaged bytes: OSError/RuntimeError from HDF5, KeyError for an unreadable link or
# attribute, TypeError/AttributeError when a damaged link resolves to None, ValueError from our checks.
_DAMAGE_ERRORS = (OSError, RuntimeError, KeyError, ValueError, TypeError, AttributeError)

_OPEN_WRITERS: set[str] = set()  # real paths of the stores open for writing in this process


class _FrameEntry:
    __slots__ = ("key", "name", "index", "group", "group_code", "system", "n_atoms", "step")

    def __init__(self, key, name, index, group, group_code, system, n_atoms, step):
        self.key, self.name, self.index = key, name, index
        self.group, self.group_code, self.system = group, group_code, system
        self.n_atoms, self.step = n_atoms, step


def _complete(obj: Any) -> bool:
    """Whether a frame group or item has ``complete = 1``; raises if its attributes cannot be read (h5py's
    ``attrs.get`` would turn a failed header checksum into "absent", i.e. silently incomplete)."""
    if obj is None:
        raise ChecksumError("broken link (the object it points to is unreadable)")
    try:
        names = list(obj.attrs)
    except (OSError, RuntimeError, KeyError) as exc:
        raise ChecksumError(f"attributes unreadable ({exc})") from None
    return "complete" in names and int(obj.attrs["complete"]) == 1


def _read_entry(frames: h5py.Group, name: str, deep: bool = False, required: bool = False) -> _FrameEntry | None:
    """The index entry of a frame group; None if incomplete; raises if damaged (``deep``: read every array;
    ``required``: the attribute checksum must be present, as in a schema-2 store)."""
    g = frames[name]
    a = read_attrs(g)  # each attribute read once: the seal and the entry use the same values
    if int(a.get("complete", 0)) != 1:
        return None
    check_seal(g, required, a)
    e = _FrameEntry(_attr_str(a["key"]), name, int(a["index"]), _attr_str(a["group"]),
                    int(a["group_code"]), _attr_str(a["system"]), int(a["n_atoms"]), int(a["step"]))
    for k in ("labels", "replicas", "descriptors"):
        if not isinstance(g[k], h5py.Group):
            raise ValueError(f"{k} is not a group")
    for k in _FRAME_ARRAYS:
        shape = g[k].shape  # raises if missing
        if k in ("positions", "types", "ids") and shape[:1] != (e.n_atoms,):
            raise ValueError(f"{k} has shape {shape}, expected {e.n_atoms} rows")
    if deep:
        def touch(_name, obj):
            if isinstance(obj, h5py.Dataset):
                obj[()]
                dict(obj.attrs)
        g.visititems(touch)
        json.loads(_attr_str(a["metadata"]))
    return e


class DatasetStore:
    """A glassfix dataset store (one HDF5 file; see the module docstring and ``docs/dataset.md``).

    ``mode``: ``"r"`` read only; ``"a"`` read/write, created if missing, resumes an existing store (replays
    a journal left by a killed writer, deletes incomplete frame groups, salvages a damaged file); ``"w"``
    create, overwriting any file (atomically, at the first commit). One writer at a time: it holds an
    exclusive ``flock`` on the file, readers a shared one (``locking=False`` skips that for readers).
    ``compression`` (e.g. ``"gzip"``) applies to frame arrays and replicas, never to the examples table.
    ``fsync=True`` also fsyncs at every commit (durability against power loss, not only a killed process).
    """

    def __init__(self, path: str | os.PathLike[str], mode: str = "r", *, compression: str | None = None,
                 fsync: bool = False, locking: Any = None) -> None:
        if mode not in ("r", "a", "w"):
            raise ValueError(f"mode must be 'r', 'a' or 'w', got {mode!r}")
        self.path = Path(path)
        self.mode = mode
        self.compression = compression
        self.fsync = fsync
        self._locking = locking
        self._f: h5py.File | None = None
        self._writer_token: str | None = None
        if self.writable:
            check_writable_location(self.path)
            token = os.path.realpath(self.path)
            if token in _OPEN_WRITERS:
                raise DatasetError(f"{self.path}: already open for writing by another DatasetStore in this "
                                   f"process; use that one (one writer per store)")
            _OPEN_WRITERS.add(token)
            self._writer_token = token
        try:
            self._open(salvage_ok=True)
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        if self._writer_token is not None:
            _OPEN_WRITERS.discard(self._writer_token)
            self._writer_token = None

    # -- opening, scanning, salvage ---------------------------------------------------------------

    def _open(self, salvage_ok: bool) -> None:
        self._io: _JournaledFile | None = None
        created = False
        if self.mode == "w" or (self.mode == "a" and not self.path.exists()):
            # A new store is laid out under a temporary name and renamed, so a writer killed while
            # creating it never leaves a file that is an HDF5 file but not yet a store. Mode "w" on an
            # existing store replaces it the same way (its journal belongs to the old file: dropped).
            _remove_stale_creations(self.path)
            tmp = self.path.with_name(f"{self.path.name}.creating-{os.getpid()}.tmp")
            self._f = _open_h5(tmp, "w", self._locking)
            try:
                self._init_layout()
                self._f.close()
                jp = journal_path(self.path)
                if jp.exists():
                    jp.unlink()
                os.replace(tmp, self.path)
            finally:
                if tmp.exists():
                    tmp.unlink()
            created = True
        if self.writable:
            if not self.path.exists():
                raise FileNotFoundError(f"{self.path}: no such dataset store")
            # Writers go through the journal (replaying a committed one left by a killed writer).
            self._io = _JournaledFile(self.path, writable=True, locking=self._locking, fsync=self.fsync)
        elif _read_journal(journal_path(self.path)) is not None:
            # A writer was killed after a commit point: read the committed state through the journal.
            self._io = _JournaledFile(self.path, writable=False, locking=self._locking)
        try:
            self._f = _open_h5(self.path, "r" if self.mode == "r" else "r+", self._locking, io=self._io)
            self.schema_version = _check_schema(self.path, self._f)
            damage = self._scan()
        except BaseException:
            self._close_handles(commit=False)
            raise
        if damage and self.writable:
            if not salvage_ok:
                self._close_handles(commit=False)
                raise DatasetError(f"{self.path}: still damaged after salvage: {'; '.join(damage)}")
            self._close_handles(commit=True)
            backup = repair_store(self.path, reason=damage)
            warnings.warn(f"{self.path}: damaged ({'; '.join(damage)}); salvaged the readable part "
                          f"(original kept as {backup})", RuntimeWarning, stacklevel=3)
            self._open(salvage_ok=False)
        elif damage:
            warnings.warn(f"{self.path}: damaged parts ignored: {'; '.join(damage)}; open it with mode='a' "
                          f"(or 'glassfix data repair') to salvage", RuntimeWarning, stacklevel=3)

    def _close_handles(self, commit: bool) -> None:
        f, io = self._f, getattr(self, "_io", None)
        self._f = self._io = None
        try:
            if f is not None and f.id.valid:
                if commit and self.writable:
                    f.flush()
                f.close()
            if io is not None and commit:
                io.commit()
        finally:
            if io is not None:
                io.close()

    def _init_layout(self) -> None:
        from .. import __version__

        f = self._f
        f.attrs["format"] = FORMAT
        f.attrs["schema_version"] = SCHEMA_VERSION
        f.attrs["glassfix_version"] = __version__
        f.attrs["created"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        f.create_group("frames")
        ex = f.create_group("examples")
        for name, dt in _EX_COLUMNS.items():
            ex.create_dataset(name, shape=(0,), maxshape=(None,), chunks=(EXAMPLE_CHUNK,), dtype=dt,
                              fillvalue=_EX_FILL[name], fletcher32=True)
        ex.attrs["label_names"] = "[]"
        ex.attrs["n_rows"] = 0
        seal(ex)
        seal(f)
        self.schema_version = SCHEMA_VERSION
        self._flush()

    def _scan(self) -> list[str]:
        """Rebuild the in-memory indexes; returns descriptions of damaged parts (empty if none)."""
        f = self._f
        damage: list[str] = []
        self._entries: dict[str, _FrameEntry] = {}
        self._by_index: dict[int, str] = {}
        self._group_codes: dict[str, int] = {}
        incomplete: list[str] = []
        if "frames" not in f or "examples" not in f:
            raise DatasetError(f"{self.path}: /frames or /examples missing: the file is damaged; rebuild it")
        frames = f["frames"]
        try:
            names = list(frames)
        except Exception as exc:  # noqa: BLE001 - any HDF5 failure here means the link index is broken
            raise DatasetError(f"{self.path}: cannot list /frames ({exc}); the file is damaged beyond "
                               f"salvage, rebuild it by rerunning the writer into a new store") from None
        required = self.schema_version >= CHECKSUM_SCHEMA
        for name in names:
            try:
                e = _read_entry(frames, name, required=required)
                if e is None:
                    incomplete.append(name)
                    continue
            except Exception as exc:  # noqa: BLE001
                damage.append(f"frame {unquote_name(name)!r} unreadable ({exc})")
                continue
            self._entries[e.key] = e
            self._by_index[e.index] = e.key
            self._group_codes.setdefault(e.group, e.group_code)
        if incomplete and self.writable:
            for name in incomplete:
                try:
                    del frames[name]
                except Exception as exc:  # noqa: BLE001
                    damage.append(f"incomplete frame {unquote_name(name)!r} cannot be deleted ({exc})")
            self._flush()
        self.n_incomplete = 0 if self.writable else len(incomplete)
        self._next_index = max(self._by_index, default=-1) + 1
        # examples
        self._examples_error: str | None = None
        try:
            ex = f["examples"]
            check_seal(ex, required)
            self._label_names: list[str] = list(json.loads(_attr_str(ex.attrs["label_names"])))
            n = int(ex.attrs["n_rows"])
            cols = {c: ex[c][:n] for c in ("frame", "atom", "label")}
            if any(len(v) != n for v in cols.values()):
                raise ValueError(f"n_rows={n} exceeds the stored rows")
            self._n_rows = n
            self._codes = np.sort(self._encode(cols["frame"], cols["label"], cols["atom"]))
            if (self._codes[1:] == self._codes[:-1]).any():
                raise ValueError("duplicate example rows")
        except Exception as exc:  # noqa: BLE001
            self._examples_error = f"examples table unreadable ({exc})"
            damage.append(self._examples_error)
            self._label_names, self._n_rows, self._codes = [], 0, np.zeros(0, np.int64)
        return damage

    # -- basics ---------------------------------------------------------------------------------------

    @property
    def writable(self) -> bool:
        return self.mode in ("a", "w")

    def close(self) -> None:
        """Commit (when writing) and close the file."""
        try:
            self._close_handles(commit=True)
        finally:
            self._release()

    def __del__(self) -> None:
        try:
            self._release()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    def __enter__(self) -> "DatasetStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DatasetStore({str(self.path)!r}, mode={self.mode!r}, frames={len(self)}, examples={self._n_rows})"

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self._entries

    def _flush(self) -> None:
        """Flush HDF5's caches and commit them atomically (the unit of crash safety)."""
        self._f.flush()
        if getattr(self, "_io", None) is not None:
            self._io.commit()

    def _require_writable(self) -> None:
        if not self.writable:
            raise DatasetError(f"{self.path}: opened read-only; open with mode='a' to write")
        if self._f is None:
            raise DatasetError(f"{self.path}: the store is closed")

    def _entry(self, key: str) -> _FrameEntry:
        try:
            return self._entries[key]
        except KeyError:
            raise KeyError(f"{self.path}: no complete frame {key!r}") from None

    def _frame_group(self, key: str) -> h5py.Group:
        return self._f["frames"][self._entry(key).name]

    def has_frame(self, key: str) -> bool:
        """Whether a complete frame with this key is stored (what a resuming writer skips)."""
        return key in self._entries

    def keys(self) -> list[str]:
        """Keys of the complete frames, in the order they were added (frame index)."""
        return [self._by_index[i] for i in sorted(self._by_index)]

    def frame_index(self, key: str) -> int:
        """The frame index (the ``frame`` column of the examples table) of a frame key."""
        return self._entry(key).index

    def frame_info(self, key: str) -> dict[str, Any]:
        """Attributes of a frame: key, index, step, time, system, group, temperature, n_atoms, dim."""
        a = self._frame_group(key).attrs
        return {k: _attr_py(a[k]) for k in ("key", "index", "step", "time", "system", "group", "group_code",
                                            "temperature", "n_atoms", "dim")}

    # -- writing frames -------------------------------------------------------------------------------

    def add_frame(self, frame: Frame, key: str | None = None, *, group: str | int | None = None,
                  system: str | None = None, temperature: float | None = None,
                  labels: Mapping[str, Any] | None = None, replicas: Mapping[str, np.ndarray] | None = None) -> str:
        """Append one frame (with its labels and replicas) and commit it; returns its key.

        ``group`` is the configuration/run id used by :meth:`grouped_split` (required, else taken from
        ``frame.metadata["group"]``); ``system`` and ``temperature`` default to ``frame.metadata``
        ("system"; "temperature" or "T"). ``key`` defaults to ``default_key(system, group, step)``. If a
        complete frame with that key exists it is left as it is (resume) and the key is returned.
        ``labels``: ``{name: values (N,)}`` or ``{name: (values, {param: value})}``; names like
        ``"phop/window=10"`` carry their parameters (see :func:`parse_label_name`). ``replicas``:
        ``{time label: positions (R, N, d)}``, e.g. ``{"t=4120": ...}``.
        """
        self._require_writable()
        meta = frame.metadata or {}
        if group is None:
            group = meta.get("group")
            if group is None:
                raise DatasetError("add_frame needs group= (the configuration or run id used for grouped "
                                   "train/test splits)")
        group = str(group)
        system = str(system if system is not None else meta.get("system", "unknown"))
        if temperature is None:
            temperature = meta.get("temperature", meta.get("T"))
        temperature = float("nan") if temperature is None else float(temperature)
        key = key if key is not None else default_key(system, group, frame.step)
        if key in self._entries:
            if self._entries[key].n_atoms != frame.n_atoms:
                raise DatasetError(f"{self.path}: frame {key!r} is stored with {self._entries[key].n_atoms} "
                                   f"atoms, the new one has {frame.n_atoms}; keys must identify frames")
            return key
        name = quote_name(key)
        frames = self._f["frames"]
        if name in frames:  # an incomplete leftover (only possible if it appeared after open)
            del frames[name]
        index = self._next_index
        if index >= 1 << _FRAME_BITS:
            raise DatasetError(f"{self.path}: more than {1 << _FRAME_BITS} frames; split the dataset")
        code = self._group_codes.get(group, len(self._group_codes))
        n, d = frame.positions.shape
        labels = dict(labels or {})
        replicas = dict(replicas or {})
        prepared_labels = {lname: self._prepare_label(lname, spec, n) for lname, spec in labels.items()}
        prepared_replicas = {t: self._prepare_replicas(t, r, n, d) for t, r in replicas.items()}

        # Build the frame as an anonymous group, commit it on disk, then link it.
        g = h5py.Group(h5py.h5g.create(frames.id, None))
        c = self.compression
        _write_array(g, "positions", frame.positions, c)
        small = n == 0 or int(frame.types.max()) < 2**31
        _write_array(g, "types", frame.types.astype(np.int32) if small else frame.types, c)
        _write_array(g, "ids", frame.ids, c)
        _write_array(g, "cell", frame.cell)
        _write_array(g, "origin", frame.origin)
        _write_array(g, "pbc", frame.pbc)
        for opt in _OPTIONAL_ARRAYS:
            val = getattr(frame, opt)
            if val is not None:
                _write_array(g, opt, np.asarray(val), c)
        meta_obj, meta_arrays = _split_metadata(meta)
        if meta_arrays:
            mg = g.create_group("meta")
            for mname, arr in meta_arrays.items():
                _write_array(mg, mname, arr, c)
        lg = g.create_group("labels")
        for lname, (values, attrs) in prepared_labels.items():
            self._write_label(lg, lname, values, attrs)
        rg = g.create_group("replicas")
        for t, arr in prepared_replicas.items():
            self._write_replicas(rg, t, arr)
        g.create_group("descriptors")
        a = g.attrs
        a["key"] = key
        a["index"] = np.int64(index)
        a["step"] = np.int64(frame.step)
        a["time"] = np.float64(frame.time)
        a["system"] = system
        a["group"] = group
        a["group_code"] = np.int64(code)
        a["temperature"] = np.float64(temperature)
        a["n_atoms"] = np.int64(n)
        a["dim"] = np.int64(d)
        a["species"] = json.dumps(None if frame.species is None else list(frame.species))
        a["metadata"] = json.dumps(meta_obj, default=str)
        a["complete"] = np.int8(1)
        seal(g)
        self._flush()
        frames[name] = g
        self._flush()
        self._entries[key] = _FrameEntry(key, name, index, group, code, system, n, int(frame.step))
        self._by_index[index] = key
        self._group_codes.setdefault(group, code)
        self._next_index = index + 1
        return key

    @staticmethod
    def _prepare_label(name: str, spec: Any, n: int) -> tuple[np.ndarray, dict[str, Any]]:
        if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[1], Mapping):
            values, params = spec
        else:
            values, params = spec, {}
        values = np.asarray(values)
        if values.shape[:1] != (n,):
            raise ValueError(f"label {name!r} must have {n} rows (one per atom), got shape {values.shape}")
        kind, parsed = parse_label_name(name)
        attrs = {**parsed, **{str(k): _jsonable(v) for k, v in params.items()}}
        bad = _RESERVED_LABEL_ATTRS & set(attrs)
        if bad:
            raise ValueError(f"label parameters may not be named {sorted(bad)}")
        attrs["kind"] = kind
        attrs["name"] = name
        return values, attrs

    @staticmethod
    def _prepare_replicas(t: str, arr: np.ndarray, n: int, d: int) -> np.ndarray:
        arr = np.asarray(arr)
        if arr.ndim != 3 or arr.shape[1:] != (n, d):
            raise ValueError(f"replicas {t!r} must have shape (R, {n}, {d}), got {arr.shape}")
        return arr

    def _write_label(self, lg: h5py.Group, name: str, values: np.ndarray, attrs: Mapping[str, Any]) -> None:
        ds = _write_array(lg, quote_name(name), values, self.compression)
        for k, v in attrs.items():
            ds.attrs[k] = json.dumps(v) if isinstance(v, (list, dict)) or v is None else v
        ds.attrs["complete"] = np.int8(1)
        seal(ds)

    def _write_replicas(self, rg: h5py.Group, t: str, arr: np.ndarray) -> None:
        ds = _write_array(rg, quote_name(t), arr, self.compression)
        ds.attrs["name"] = str(t)
        _, params = parse_label_name(f"x/{t}")
        if isinstance(params.get("t"), (int, float)):
            ds.attrs["time"] = float(params["t"])
        ds.attrs["complete"] = np.int8(1)
        seal(ds)

    def _add_items(self, key: str, sub: str, name: str, write) -> bool:
        g = self._frame_group(key)[sub]
        q = quote_name(name)
        if q in g:
            if _complete(g[q]):
                return False
            del g[q]
        write(g)
        self._flush()
        return True

    def add_labels(self, key: str, labels: Mapping[str, Any]) -> list[str]:
        """Add per-atom labels to a stored frame; returns the names written.

        Labels are append-only: one that is already stored is skipped if equal (a resumed writer) and
        raises DatasetError if different (store it under a new name, e.g. other parameters)."""
        self._require_writable()
        n = self._entry(key).n_atoms
        written = []
        for name, spec in labels.items():
            values, attrs = self._prepare_label(name, spec, n)
            existing = self._label_dataset(key, name)
            if existing is not None:
                if not np.array_equal(_read_array(existing), values, equal_nan=values.dtype.kind == "f"):
                    raise DatasetError(f"{self.path}: label {name!r} of frame {key!r} is already stored with "
                                       f"other values; labels are append-only, use a new name")
                continue
            if self._add_items(key, "labels", name, lambda g: self._write_label(g, name, values, attrs)):
                written.append(name)
        return written

    def add_replicas(self, key: str, replicas: Mapping[str, np.ndarray]) -> list[str]:
        """Add isoconfigurational replica positions ``{time label: (R, N, d)}`` to a stored frame."""
        self._require_writable()
        e = self._entry(key)
        d = int(self._frame_group(key).attrs["dim"])
        written = []
        for t, arr in replicas.items():
            arr = self._prepare_replicas(t, arr, e.n_atoms, d)
            if self._add_items(key, "replicas", t, lambda g: self._write_replicas(g, t, arr)):
                written.append(t)
        return written

    @staticmethod
    def descriptor_name(kind: str, spec: Mapping[str, Any] | None) -> str:
        """``"<kind>-<first 12 hex of sha256 of the canonical JSON spec>"``."""
        text = json.dumps(_jsonable(dict(spec or {})), sort_keys=True, default=str)
        return f"{kind}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"

    def add_descriptor(self, key: str, kind: str, values: np.ndarray, spec: Mapping[str, Any] | None = None) -> str:
        """Cache a descriptor array (N, F) of a frame under ``descriptors/<kind>-<hash of spec>``; returns the name."""
        self._require_writable()
        values = np.asarray(values)
        if values.shape[:1] != (self._entry(key).n_atoms,):
            raise ValueError(f"descriptor must have one row per atom, got shape {values.shape}")
        name = self.descriptor_name(kind, spec)

        def write(g):
            ds = _write_array(g, name, values, self.compression)
            ds.attrs["kind"] = kind
            ds.attrs["spec"] = json.dumps(_jsonable(dict(spec or {})), sort_keys=True, default=str)
            ds.attrs["complete"] = np.int8(1)
            seal(ds)

        self._add_items(key, "descriptors", name, write)
        return name

    # -- writing examples -----------------------------------------------------------------------------

    @staticmethod
    def _encode(frame: np.ndarray, label: np.ndarray, atom: np.ndarray) -> np.ndarray:
        return ((np.asarray(frame, np.int64) << (_ATOM_BITS + _LABEL_BITS))
                | (np.asarray(label, np.int64) << _ATOM_BITS) | np.asarray(atom, np.int64))

    def _label_id(self, label: str) -> int:
        if label in self._label_names:
            return self._label_names.index(label)
        if len(self._label_names) >= 1 << _LABEL_BITS:
            raise DatasetError(f"{self.path}: more than {1 << _LABEL_BITS} label names in the examples table")
        self._label_names.append(label)
        self._f["examples"].attrs["label_names"] = json.dumps(self._label_names)
        seal(self._f["examples"])
        self._flush()
        return len(self._label_names) - 1

    def append_examples(self, key: str, label: str, atoms: Sequence[int] | np.ndarray | None = None,
                        values: np.ndarray | None = None, features: np.ndarray | None = None) -> int:
        """Append training examples (rows) of one frame and one label; returns the number of new rows.

        ``atoms``: atom indices (rows of the frame's arrays, not ids), default all. ``values``: the label
        value of each, default read from the frame's stored label ``label``. ``features``: optional
        (n, F) array (F fixed by the first call that gives features; rows without features get NaN).
        A row whose identity (frame, atom, label) is already stored, or repeats within the call, is
        skipped, so a resumed writer never duplicates. The chunk is committed with one flush.
        """
        self._require_writable()
        if self._examples_error:
            raise DatasetError(f"{self.path}: {self._examples_error}")
        e = self._entry(key)
        atoms = np.arange(e.n_atoms, dtype=np.int64) if atoms is None else np.asarray(atoms, dtype=np.int64).reshape(-1)
        if atoms.size and (atoms.min() < 0 or atoms.max() >= e.n_atoms):
            raise ValueError(f"atom indices must be in [0, {e.n_atoms}) for frame {key!r}")
        if values is None:
            ds = self._label_dataset(key, label)
            if ds is None:
                raise DatasetError(f"{self.path}: frame {key!r} has no label {label!r}; pass values=")
            values = _read_array(ds)[atoms]
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        if values.shape != atoms.shape:
            raise ValueError(f"values must have one entry per atom index ({atoms.size}), got {values.shape}")
        if features is not None:
            features = np.asarray(features)
            if features.ndim != 2 or features.shape[0] != atoms.size:
                raise ValueError(f"features must have shape ({atoms.size}, F), got {features.shape}")
        lid = self._label_id(label)
        codes = self._encode(np.full(atoms.size, e.index), np.full(atoms.size, lid), atoms)
        _, first = np.unique(codes, return_index=True)
        keep = np.sort(first)
        if self._codes.size:
            pos = np.searchsorted(self._codes, codes[keep])
            present = (pos < self._codes.size) & (self._codes[np.minimum(pos, self._codes.size - 1)] == codes[keep])
            keep = keep[~present]
        k = int(keep.size)
        if k == 0:
            return 0
        ex = self._f["examples"]
        n0 = self._n_rows
        n1 = n0 + k
        cap = -(-n1 // EXAMPLE_CHUNK) * EXAMPLE_CHUNK
        if features is not None and "features" not in ex:
            ex.create_dataset("features", shape=(ex["frame"].shape[0], features.shape[1]),
                              maxshape=(None, features.shape[1]),
                              chunks=(max(1, EXAMPLE_CHUNK // 16), features.shape[1]),
                              dtype=features.dtype if features.dtype.kind == "f" else np.float64, fillvalue=np.nan,
                              fletcher32=True)
        if "features" in ex and features is not None and features.shape[1] != ex["features"].shape[1]:
            raise ValueError(f"features have {features.shape[1]} columns, the store has {ex['features'].shape[1]}")
        columns = {"frame": np.full(k, e.index, np.int64), "atom": atoms[keep],
                   "group": np.full(k, e.group_code, np.int64),
                   "label": np.full(k, lid, np.int32), "value": values[keep]}
        if "features" in ex:
            width = ex["features"].shape[1]
            columns["features"] = features[keep] if features is not None else np.full((k, width), np.nan)
        for name, data in columns.items():
            ds = ex[name]
            if ds.shape[0] < n1:
                ds.resize(cap, axis=0)
            ds[n0:n1] = data
        self._flush()              # rows on disk, not yet visible
        ex.attrs["n_rows"] = np.int64(n1)
        seal(ex)
        self._flush()              # commit
        self._n_rows = n1
        self._codes = np.union1d(self._codes, codes[keep])
        return k

    # -- reading frames -------------------------------------------------------------------------------

    def frame(self, key: str) -> Frame:
        """The stored Frame (arrays bit-exact; metadata tuples come back as lists)."""
        g = self._frame_group(key)
        try:
            a = g.attrs
            arrays = {k: g[k][()] for k in _FRAME_ARRAYS}
            opt = {k: g[k][()] for k in _OPTIONAL_ARRAYS if k in g}
            meta_arrays = {name: _read_array(ds) for name, ds in g["meta"].items()} if "meta" in g else {}
            metadata = _join_metadata(json.loads(_attr_str(a["metadata"])), meta_arrays)
            species = json.loads(_attr_str(a["species"]))
            return Frame(positions=arrays["positions"], types=arrays["types"].astype(np.int64), cell=arrays["cell"],
                         origin=arrays["origin"], pbc=arrays["pbc"].astype(bool), ids=arrays["ids"],
                         species=None if species is None else tuple(species), step=int(a["step"]),
                         time=float(a["time"]), metadata=metadata, **opt)
        except _DAMAGE_ERRORS as exc:
            raise self._damaged(key, "an array or attribute", exc) from None

    def _damaged(self, key: str, what: str, exc: BaseException) -> DatasetError:
        """The error for an unreadable item of a frame: a failed checksum or other damage, with the fix."""
        cause = "fails its checksum: the bytes on disk are damaged" if is_checksum_failure(exc) else f"cannot be read ({exc})"
        return DatasetError(f"{self.path}: {what} of frame {key!r} {cause}; list the damage with 'glassfix data verify "
                            f"{self.path}' and drop it with 'glassfix data repair {self.path}'")

    def _read_item(self, key: str, what: str, ds: h5py.Dataset) -> np.ndarray:
        """Read a label/replica/descriptor dataset, verifying its checksums."""
        try:
            data = _read_array(ds)
            check_seal(ds, self.schema_version >= CHECKSUM_SCHEMA)
        except _DAMAGE_ERRORS as exc:
            raise self._damaged(key, what, exc) from None
        return data

    def frames(self, keys: Iterable[str] | None = None, labels: bool = False) -> Iterator[Any]:
        """Iterate over complete frames (all, in frame-index order, or ``keys``): Frames, or
        ``(Frame, {label name: values})`` pairs when ``labels=True``."""
        for key in (self.keys() if keys is None else keys):
            fr = self.frame(key)
            yield (fr, self.labels(key)) if labels else fr

    def _items(self, key: str, sub: str) -> dict[str, h5py.Dataset]:
        """The complete items (datasets by link name) of a frame's labels/replicas/descriptors group;
        DatasetError if any of them cannot be listed or read (never silently skipped)."""
        try:
            return {name: ds for name, ds in self._frame_group(key)[sub].items() if _complete(ds)}
        except _DAMAGE_ERRORS as exc:
            raise self._damaged(key, sub, exc) from None

    def _label_dataset(self, key: str, name: str) -> h5py.Dataset | None:
        return self._items(key, "labels").get(quote_name(name))

    def label_names(self, key: str) -> list[str]:
        """Names of the complete labels of a frame."""
        return sorted(unquote_name(q) for q in self._items(key, "labels"))

    def labels(self, key: str, names: Iterable[str] | None = None) -> dict[str, np.ndarray]:
        """Per-atom labels of a frame, ``{name: values}`` (all complete labels, or ``names``)."""
        out = {}
        for name in (self.label_names(key) if names is None else names):
            ds = self._label_dataset(key, name)
            if ds is None:
                raise KeyError(f"{self.path}: frame {key!r} has no label {name!r}")
            out[name] = self._read_item(key, f"label {name!r}", ds)
        return out

    def label_params(self, key: str, name: str) -> dict[str, Any]:
        """The attributes of a stored label (its parameters, plus ``kind`` and ``name``)."""
        ds = self._label_dataset(key, name)
        if ds is None:
            raise KeyError(f"{self.path}: frame {key!r} has no label {name!r}")
        return {k: _attr_py(v) for k, v in ds.attrs.items() if k not in ("complete", SEAL)}

    def replicas(self, key: str) -> dict[str, np.ndarray]:
        """Isoconfigurational replica positions of a frame, ``{time label: (R, N, d)}``."""
        return {unquote_name(q): self._read_item(key, f"replicas {unquote_name(q)!r}", ds)
                for q, ds in self._items(key, "replicas").items()}

    def descriptors(self, key: str) -> dict[str, np.ndarray]:
        """Cached descriptors of a frame, ``{"<kind>-<hash>": (N, F)}``."""
        return {name: self._read_item(key, f"descriptor {name!r}", ds)
                for name, ds in self._items(key, "descriptors").items()}

    def descriptor(self, key: str, kind: str, spec: Mapping[str, Any] | None = None) -> np.ndarray | None:
        """A cached descriptor (None if not cached)."""
        return self.descriptors(key).get(self.descriptor_name(kind, spec))

    # -- reading examples -----------------------------------------------------------------------------

    @property
    def n_examples(self) -> int:
        return self._n_rows

    @property
    def example_label_names(self) -> list[str]:
        """Label names of the examples table; the ``label`` column indexes this list."""
        return list(self._label_names)

    def examples(self, label: str | None = None, split: str | None = None) -> dict[str, np.ndarray]:
        """The committed examples as arrays: frame, atom, group, label (ids into
        :attr:`example_label_names`), value, and features (n, F) if stored; only ``label`` rows and only the
        ``split`` ("train"/"test", from the stored :meth:`grouped_split`) rows when given."""
        if self._examples_error:
            raise DatasetError(f"{self.path}: {self._examples_error}; open it with mode='a' to salvage")
        ex = self._f["examples"]
        n = self._n_rows
        try:
            out = {c: ex[c][:n] for c in _EX_COLUMNS}
            if "features" in ex:
                out["features"] = ex["features"][:n]
        except _DAMAGE_ERRORS as exc:
            cause = "fail their checksum" if is_checksum_failure(exc) else f"cannot be read ({exc})"
            raise DatasetError(f"{self.path}: examples rows {cause}; list the damage with 'glassfix data verify "
                               f"{self.path}' and drop it with 'glassfix data repair {self.path}'") from None
        mask = np.ones(n, dtype=bool)
        if label is not None:
            if label not in self._label_names:
                raise KeyError(f"{self.path}: no examples with label {label!r} (have {self._label_names})")
            mask &= out["label"] == self._label_names.index(label)
        if split is not None:
            train, test = self.split_keys()
            keys = {"train": train, "test": test}.get(split)
            if keys is None:
                raise ValueError(f"split must be 'train', 'test' or None, got {split!r}")
            mask &= np.isin(out["frame"], [self._entries[k].index for k in keys])
        if not mask.all():
            out = {k: v[mask] for k, v in out.items()}
        return out

    def iter_batches(self, batch_size: int, label: str, split: str | None = "train", shuffle: bool = True,
                     seed: int = 0) -> Iterator[dict[str, np.ndarray]]:
        """One pass over the ``label`` examples of a split in batches (dicts of arrays as :meth:`examples`);
        shuffled with ``np.random.default_rng(seed)`` (use seed + epoch per epoch)."""
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        data = self.examples(label=label, split=split)
        n = data["value"].shape[0]
        order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            yield {k: v[idx] for k, v in data.items()}

    # -- splits ---------------------------------------------------------------------------------------

    def _unit(self, e: _FrameEntry, by: str) -> str:
        return {"group": e.group, "system": e.system, "frame": e.key}[by]

    def grouped_split(self, test_fraction: float = 0.2, seed: int = 0,
                      by: str = "group") -> tuple[list[str], list[str]]:
        """Split the frames into (train_keys, test_keys) so that no ``by`` unit ("group": configuration/run
        id, "system", or "frame") is on both sides: the sorted units are permuted with
        ``default_rng(seed)`` and the first ``round(test_fraction * n_units)`` (at least 1, at most
        n_units - 1) go to test. Stored in the root attribute ``split`` (when writable) and used by
        :meth:`examples`/:meth:`iter_batches`; frames added later go to train until you split again."""
        if by not in ("group", "system", "frame"):
            raise ValueError(f"by must be 'group', 'system' or 'frame', got {by!r}")
        if not 0.0 < test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
        units = sorted({self._unit(e, by) for e in self._entries.values()})
        if len(units) < 2:
            raise DatasetError(f"{self.path}: a grouped split needs at least two distinct {by}s, found {len(units)}")
        perm = np.random.default_rng(seed).permutation(len(units))
        n_test = min(max(int(round(test_fraction * len(units))), 1), len(units) - 1)
        test_units = sorted(units[i] for i in perm[:n_test])
        self._split = {"by": by, "test_fraction": float(test_fraction), "seed": int(seed), "test_units": test_units}
        if self.writable:
            self._f.attrs["split"] = json.dumps(self._split)
            seal(self._f)
            self._flush()
        return self.split_keys()

    def split_keys(self) -> tuple[list[str], list[str]]:
        """(train_keys, test_keys) of the stored (or last computed) grouped split."""
        split = getattr(self, "_split", None)
        if split is None:
            if "split" not in self._f.attrs:
                raise DatasetError(f"{self.path}: no train/test split stored; call grouped_split() first "
                                   f"(or 'glassfix data split')")
            split = json.loads(_attr_str(self._f.attrs["split"]))
        test_units = set(split["test_units"])
        train, test = [], []
        for key in self.keys():
            (test if self._unit(self._entries[key], split["by"]) in test_units else train).append(key)
        return train, test

    # -- summary --------------------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """Counts, labels, groups, schema: a JSON-able summary of the store."""
        label_counts: dict[str, int] = {}
        replica_counts: dict[str, int] = {}
        for key in self.keys():
            for name in self.label_names(key):
                label_counts[name] = label_counts.get(name, 0) + 1
            for t in self.replicas_names(key):
                replica_counts[t] = replica_counts.get(t, 0) + 1
        ex_labels = {}
        if not self._examples_error and self._n_rows:
            lab = self._f["examples"]["label"][:self._n_rows]
            counts = np.bincount(lab, minlength=len(self._label_names))
            ex_labels = {name: int(c) for name, c in zip(self._label_names, counts)}
        split = None
        if "split" in self._f.attrs:
            split = json.loads(_attr_str(self._f.attrs["split"]))
        try:
            n_features = int(self._f["examples"]["features"].shape[1]) if "features" in self._f["examples"] else 0
        except (OSError, KeyError, RuntimeError):
            n_features = 0  # reported through examples_error
        return {
            "path": str(self.path),
            "format": FORMAT,
            "schema_version": int(self.schema_version),
            "glassfix_version": _attr_str(self._f.attrs.get("glassfix_version", "")),
            "created": _attr_str(self._f.attrs.get("created", "")),
            "n_frames": len(self._entries),
            "n_incomplete_frames": int(self.n_incomplete),
            "n_atoms_total": int(sum(e.n_atoms for e in self._entries.values())),
            "systems": sorted({e.system for e in self._entries.values()}),
            "groups": sorted(self._group_codes),
            "frame_labels": label_counts,
            "replicas": replica_counts,
            "n_examples": int(self._n_rows),
            "example_labels": ex_labels,
            "n_features": n_features,
            "examples_error": self._examples_error,
            "split": split,
            "file_size": self.path.stat().st_size if self.path.exists() else 0,
        }

    def replicas_names(self, key: str) -> list[str]:
        """Time labels of the complete replica sets of a frame."""
        return sorted(unquote_name(q) for q in self._items(key, "replicas"))


# ----------------------------------------------------------------------------------------------------
# salvage
# ----------------------------------------------------------------------------------------------------


def repair_store(path: str | os.PathLike[str], reason: Sequence[str] | None = None) -> Path:
    """Salvage a damaged store in place; returns the path of the kept damaged original.

    Copies the root attributes, every readable complete frame (with everything under it) and the readable
    chunks of committed examples rows into ``<path>.salvage.tmp``, then keeps the original as
    ``<path>.damaged-<UTC time>`` and atomically replaces ``path`` by the copy (never missing). What cannot
    be read or fails its checksum is dropped, exactly: a frame whose own arrays or attributes are damaged,
    a single label/replica set/descriptor, a chunk of examples rows. Each dropped item is listed in the
    root attribute ``salvage_dropped`` (JSON) of the result; rerun the (resumable) writer to re-add them.
    """
    path = Path(path)
    if journal_path(path).exists():
        _JournaledFile(path, writable=True).close()  # replay a committed journal (drop an incomplete one)
    src = _open_h5(path, "r", None, repairing=True)
    tmp = path.with_name(path.name + ".salvage.tmp")
    dropped: list[str] = []
    try:
        version = _check_schema(path, src, repairing=True)
        required = version >= CHECKSUM_SCHEMA
        with h5py.File(str(tmp), "w", libver=LIBVER) as dst:
            try:
                check_seal(src, required)
                root_ok = True
            except ChecksumError as exc:
                root_ok = False
                dropped.append(f"root attribute 'split' ({exc})")
            for k, v in src.attrs.items():
                if k != SEAL and (root_ok or k != "split"):
                    dst.attrs[k] = v
            dst.attrs["salvaged"] = json.dumps({"when": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"), "reason": list(reason or [])})
            dframes = dst.create_group("frames")
            try:
                names = list(src["frames"])
            except Exception as exc:  # noqa: BLE001
                raise DatasetError(f"{path}: cannot list /frames ({exc}); nothing to salvage, rebuild the "
                                   f"store by rerunning the writer into a new file") from None
            for name in names:
                _salvage_frame(src["frames"], dframes, name, required, dropped)
            _salvage_examples(src, dst, required, dropped)
            dst.attrs["salvage_dropped"] = json.dumps(dropped)
            seal(dst)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise
    finally:
        src.close()
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    backup = path.with_name(f"{path.name}.damaged-{stamp}")
    try:
        os.link(path, backup)  # keep the damaged original under a new name ...
    except OSError:
        shutil.copy2(path, backup)
    os.replace(tmp, path)      # ... and swap the salvaged copy in atomically
    return backup


def _why(exc: BaseException) -> str:
    return "checksum mismatch" if is_checksum_failure(exc) else f"unreadable: {exc}"


def check_frame(frames: h5py.Group, name: str, required: bool) -> tuple[str, str | None, list[tuple[str, str, str]], int]:
    """Read and verify every checksum of one frame group: ``(key, problem with the frame itself or None,
    [(sub-group, item name, problem)] for damaged labels/replicas/descriptors, number of unchecked
    arrays)``; an incomplete frame gives ``(key, None, [], 0)`` with nothing read."""
    label = unquote_name(name)
    unchecked = 0
    try:
        if _read_entry(frames, name, required=required) is None:
            return label, None, [], 0
        g = frames[name]
        label = _attr_str(g.attrs["key"])
        json.loads(_attr_str(g.attrs["metadata"]))
        arrays = [g[k] for k in (*_FRAME_ARRAYS, *_OPTIONAL_ARRAYS) if k in g]
        arrays += list(g["meta"].values()) if "meta" in g else []
        for ds in arrays:
            ds[()]
            unchecked += not has_checksum(ds)
        unchecked += SEAL not in g.attrs
    except Exception as exc:  # noqa: BLE001
        return label, _why(exc), [], unchecked
    items = []
    for sub in ("labels", "replicas", "descriptors"):
        for item, ds in g[sub].items():
            try:
                if not _complete(ds):
                    continue  # left by a killed writer: ignored by readers, replaced by the next writer
                ds[()]
                unchecked += not check_seal(ds, required) or not has_checksum(ds)
            except Exception as exc:  # noqa: BLE001
                items.append((sub, item, _why(exc)))
    return label, None, items, unchecked


def _salvage_frame(frames: h5py.Group, dframes: h5py.Group, name: str, required: bool, dropped: list[str]) -> None:
    """Copy one complete frame; drop it (if its own arrays or attributes are damaged) or its damaged items."""
    label, problem, items, _ = check_frame(frames, name, required)
    if problem is not None:
        dropped.append(f"frame {label!r} ({problem})")
        return
    if not _complete(frames[name]):
        return
    src = frames[name]
    try:
        frames.file.copy(src, dframes, name=name)
    except Exception:  # noqa: BLE001 - a damaged item's header: copy item by item, leaving out the damaged ones
        if name in dframes:
            del dframes[name]
        dst = dframes.create_group(name)
        for k, v in src.attrs.items():
            dst.attrs[k] = v
        for child in src:
            obj = src[child]
            if isinstance(obj, h5py.Group):
                sub = dst.create_group(child)
                for k, v in obj.attrs.items():
                    sub.attrs[k] = v
                for item in obj:
                    if (child, item) not in {(s_, i_) for s_, i_, _ in items}:
                        frames.file.copy(obj[item], sub, name=item)
            else:
                frames.file.copy(obj, dst, name=child)
    for sub, item, why in items:
        dropped.append(f"frame {label!r}: {sub[:-1]} {unquote_name(item)!r} ({why})")
        if item in dframes[name][sub]:
            del dframes[name][sub][item]


def _salvage_examples(src: h5py.File, dst: h5py.File, required: bool, dropped: list[str]) -> None:
    """Copy the committed examples rows chunk by chunk, dropping unreadable chunks and rows of dropped frames."""
    dex = dst.create_group("examples")
    try:
        sex = src["examples"]
        check_seal(sex, required)
        n = int(sex.attrs["n_rows"])
        label_names = _attr_str(sex.attrs["label_names"])
        json.loads(label_names)
        names = [c for c in (*_EX_COLUMNS, "features") if c in sex]
        parts: dict[str, list[np.ndarray]] = {c: [] for c in names}
        for start in range(0, n, EXAMPLE_CHUNK):
            stop = min(n, start + EXAMPLE_CHUNK)
            try:
                part = {c: sex[c][start:stop] for c in names}
                if any(len(v) != stop - start for v in part.values()):
                    raise ValueError("fewer rows than n_rows")
            except Exception as exc:  # noqa: BLE001
                dropped.append(f"examples rows {start}-{stop - 1} ({_why(exc)})")
                continue
            for c in names:
                parts[c].append(part[c])
        cols = {c: (np.concatenate(parts[c]) if parts[c] else sex[c][:0]) for c in names}
        n = len(cols["frame"])
        keep = np.isin(cols["frame"], [int(g.attrs["index"]) for g in dst["frames"].values()])
        codes = DatasetStore._encode(cols["frame"], cols["label"], cols["atom"])
        _, first = np.unique(codes, return_index=True)  # drop duplicate identities, keep the first
        unique = np.zeros(n, dtype=bool)
        unique[first] = True
        keep &= unique
        cols = {c: v[keep] for c, v in cols.items()}
        n = int(keep.sum())
    except Exception as exc:  # noqa: BLE001
        dropped.append(f"examples table ({_why(exc)})")
        n, label_names = 0, "[]"
        cols = {c: np.zeros(0, dt) for c, dt in _EX_COLUMNS.items()}
    cap = max(-(-n // EXAMPLE_CHUNK) * EXAMPLE_CHUNK, 0)
    for c, v in cols.items():
        shape = (cap,) + v.shape[1:]
        chunks = (EXAMPLE_CHUNK,) if v.ndim == 1 else (max(1, EXAMPLE_CHUNK // 16), v.shape[1])
        ds = dex.create_dataset(c, shape=shape, maxshape=(None,) + v.shape[1:], chunks=chunks,
                                dtype=v.dtype, fillvalue=_EX_FILL.get(c, np.nan), fletcher32=True)
        if n:
            ds[:n] = v
    dex.attrs["label_names"] = label_names
    dex.attrs["n_rows"] = np.int64(n)
    seal(dex)
