"""The on-disk schema of the dataset store: format constants, opening an HDF5 file with clear errors,
schema-version and root checks, writable-location checks, and the frame index entry read from a frame
group (the layout itself is documented in ``docs/dataset.md``).

The file is written with ``libver=("v108", "latest")``: checksummed object headers and link indexes,
readable by HDF5 >= 1.8, and *not* superblock v3, whose "file open for write" flag would make a file
left by a killed writer unopenable until ``h5clear -s`` (what ``libver="latest"`` would do). SWMR is not
used: an SWMR writer may not create the groups and datasets every new frame needs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from .checksum import SEAL, ChecksumError, check_seal, read_attrs
from .names import _attr_str

SCHEMA_VERSION = 2  # 2: checksums (fletcher32 on arrays, attribute seals; see glassfix.data.checksum)
CHECKSUM_SCHEMA = 2  # the first schema whose every item carries a checksum
FORMAT = "glassfix-dataset"
LIBVER = ("v108", "latest")

EXAMPLE_CHUNK = 8192  # rows per HDF5 chunk of the examples table
_EX_COLUMNS = {"frame": np.int64, "atom": np.int64, "group": np.int64, "label": np.int32, "value": np.float64}
_EX_FILL = {"frame": -1, "atom": -1, "group": -1, "label": -1, "value": np.nan}
# Example identity (frame index, label id, atom index) packed into one int64.
_ATOM_BITS, _LABEL_BITS, _FRAME_BITS = 28, 12, 23


def encode_examples(frame: np.ndarray, label: np.ndarray, atom: np.ndarray) -> np.ndarray:
    """Example identities (frame index, label id, atom index) packed into int64 codes (unique per row)."""
    return ((np.asarray(frame, np.int64) << (_ATOM_BITS + _LABEL_BITS))
            | (np.asarray(label, np.int64) << _ATOM_BITS) | np.asarray(atom, np.int64))


_FRAME_ARRAYS = ("positions", "types", "ids", "cell", "origin", "pbc")
_OPTIONAL_ARRAYS = ("unwrapped", "velocities", "energies")
_RESERVED_LABEL_ATTRS = {"name", "kind", "complete"}


class DatasetError(ValueError):
    """A dataset store that cannot be used as asked (corrupt, truncated, newer schema, not a store...)."""


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


# ``io`` is a journal._JournaledFile, typed Any because the journal imports this module (DatasetError).
def _open_h5(path: Path, h5mode: str, locking: Any, io: Any = None,
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

