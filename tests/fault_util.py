"""Helpers for fault-injection tests: crafted zip archives (zip bombs, lying headers) and byte flips."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

_PIECE = 1 << 20


def deflate_zeros(n_bytes: int) -> bytes:
    """A raw deflate stream that inflates to ``n_bytes`` zeros (n_bytes a multiple of 1 MiB), built in
    milliseconds: a full flush resets the compressor, so every 1 MiB piece compresses to the same bytes."""
    assert n_bytes % _PIECE == 0
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = co.compress(bytes(_PIECE)) + co.flush(zlib.Z_FULL_FLUSH)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)  # an empty final block
    return piece * (n_bytes // _PIECE) + tail


def deflate(data: bytes) -> bytes:
    """Raw deflate of ``data``."""
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    return co.compress(data) + co.flush()


def raw_zip(entries: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """A zip archive from ``(name, stored payload, method (0 stored / 8 deflated), declared uncompressed
    size, crc32)`` entries, written byte by byte so that every header can lie."""
    out = bytearray()
    central = bytearray()
    for name, payload, method, size, crc in entries:
        nb = name.encode()
        offset = len(out)
        out += struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, method, 0, 0x21, crc & 0xFFFFFFFF, len(payload),
                           size, len(nb), 0) + nb + payload
        central += struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, method, 0, 0x21, crc & 0xFFFFFFFF,
                               len(payload), size, len(nb), 0, 0, 0, 0, 0, offset) + nb
    cd_offset = len(out)
    out += central
    out += struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central), cd_offset, 0)
    return bytes(out)


def npy_header(dtype: str, shape: tuple[int, ...]) -> bytes:
    """The .npy (version 1.0) header of an array of ``dtype`` and ``shape``."""
    d = repr({"descr": np.dtype(dtype).str, "fortran_order": False, "shape": tuple(shape)})
    pad = 64 - (10 + len(d) + 1) % 64
    d = d + " " * pad + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d.encode()


def flip_byte(path: Path, offset: int, mask: int = 0xFF) -> int:
    """XOR the byte at ``offset`` of a file with ``mask``; returns the old value."""
    with open(path, "r+b") as fh:
        fh.seek(offset)
        old = fh.read(1)[0]
        fh.seek(offset)
        fh.write(bytes([old ^ mask]))
    return old
