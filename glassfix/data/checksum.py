"""Checksums of a dataset store (schema 2): damage inside array data or attributes is detected, never read.

HDF5 (with the store's ``libver``) already checksums its own metadata: superblock, object headers (which
hold fixed-size attributes such as ``index`` or ``n_rows``), B-trees and heaps of links. It does *not*
checksum raw data or the global heap that holds variable-length strings (the ``key``, ``group``,
``metadata`` ... attributes): a flipped byte there reads back as a wrong value. Schema 2 closes both gaps:

* every non-empty array is written with HDF5's ``fletcher32`` filter, one chunk per array (so damage is
  located to one array of one frame; compressed arrays keep HDF5's chunking and are located to one
  chunk); the examples columns are checksummed per chunk of :data:`~glassfix.data.store.EXAMPLE_CHUNK`
  rows. HDF5 refuses to return a chunk whose checksum fails (``OSError``: "filter returned failure");
* the attributes of every frame group, label/replica/descriptor dataset, ``/examples`` and the root carry
  a seal, ``attrs_crc32``: the CRC-32 of their canonical serialisation (names, dtypes, values), checked
  when they are read.

Stores of schema 1 have neither; their items are reported as *unchecked*, never as damaged.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

import h5py
import numpy as np

__all__ = ["SEAL", "ChecksumError", "dataset_kwargs", "read_attrs", "seal", "check_seal", "is_checksum_failure",
           "has_checksum", "check_dataset"]

SEAL = "attrs_crc32"


class ChecksumError(ValueError):
    """Data or attributes whose stored checksum does not match: the file is damaged."""


def dataset_kwargs(data: np.ndarray, compression: str | None = None) -> dict[str, Any]:
    """``create_dataset`` keywords for an array with a fletcher32 checksum: one chunk holding the whole
    array (HDF5's own chunking when compressed); none for empty or scalar arrays (nothing to damage)."""
    if data.ndim == 0 or data.size == 0:
        return {}
    if compression and data.size >= 1024:
        return {"compression": compression, "chunks": True, "fletcher32": True}
    return {"chunks": data.shape, "fletcher32": True}


def _value_bytes(v: Any) -> bytes:
    """Canonical bytes of an attribute value as h5py returns it."""
    if isinstance(v, str):
        return b"s" + v.encode("utf-8", "surrogatepass")
    if isinstance(v, bytes):
        return b"b" + v
    a = np.asarray(v)
    if a.dtype.hasobject:
        return b"o" + repr([_value_bytes(x) for x in a.ravel().tolist()]).encode() + repr(a.shape).encode()
    return b"a" + a.dtype.str.encode() + repr(a.shape).encode() + np.ascontiguousarray(a).tobytes()


def read_attrs(obj: h5py.HLObject) -> dict[str, Any]:
    """All attributes of an object, each read once; ChecksumError if they cannot be read (a damaged header)."""
    if obj is None:
        raise ChecksumError("broken link (the object it points to is unreadable)")
    try:
        return dict(obj.attrs.items())
    except (OSError, RuntimeError, KeyError) as exc:
        raise ChecksumError(f"attributes unreadable ({exc})") from None


def _digest(values: Mapping[str, Any]) -> int:
    crc = 0
    for k in sorted(values):
        if k == SEAL:
            continue
        crc = zlib.crc32(k.encode() + b"\0" + _value_bytes(values[k]) + b"\0", crc)
    return crc


def seal(obj: h5py.HLObject) -> None:
    """Store the CRC-32 of ``obj``'s attributes in ``obj.attrs["attrs_crc32"]`` (call after the last change)."""
    obj.attrs[SEAL] = np.uint32(_digest(read_attrs(obj)))


def check_seal(obj: h5py.HLObject, required: bool, values: Mapping[str, Any] | None = None) -> bool:
    """Check ``obj``'s attribute seal (``values``: its attributes, if already read by :func:`read_attrs`);
    raises ChecksumError on a mismatch (or a missing seal when ``required``); returns whether a seal was
    checked."""
    values = read_attrs(obj) if values is None else values
    if SEAL not in values:
        if required:
            raise ChecksumError("attribute checksum missing")
        return False
    if int(values[SEAL]) != _digest(values):
        raise ChecksumError("attribute checksum mismatch (an attribute value is damaged)")
    return True


def is_checksum_failure(exc: BaseException) -> bool:
    """Whether an exception raised by reading HDF5 data is a failed checksum (fletcher32 or a seal)."""
    return isinstance(exc, ChecksumError) or "filter returned failure" in str(exc) or "checksum" in str(exc).lower()


def has_checksum(ds: h5py.Dataset) -> bool:
    """Whether a dataset's data is checksummed (fletcher32 filter), or empty/scalar (nothing to check)."""
    return bool(ds.fletcher32) or ds.size == 0 or ds.shape == ()


def check_dataset(ds: h5py.Dataset, sealed: bool, required: bool) -> bool:
    """Read every chunk of a dataset (fletcher32 verifies it) and, if ``sealed``, its attribute seal;
    raises on damage; returns whether the data was checksummed."""
    ds[()]
    if sealed:
        check_seal(ds, required)
    return has_checksum(ds)
