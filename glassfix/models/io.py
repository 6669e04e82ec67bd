"""The ``*.glassfix`` model file: a zip holding ``manifest.json`` and ``arrays.npz`` (DESIGN.md §4).

Manifest layout (format_version 1)::

    {"format": "glassfix-model", "format_version": 1, "kind": "softness",
     "species": ["A", "B"], "descriptor": {<Descriptor.spec()>}, "outputs": ["softness"],
     "params": {<kind-specific, JSON>}, "provenance": {<free-form, JSON>},
     "glassfix_version": "0.1.0"}

Arrays are plain numeric ``.npy`` members of ``arrays.npz``. Reading never unpickles anything: the
npz is opened with ``allow_pickle=False`` and any other zip member is rejected, so a model file is
data only and cannot execute code when loaded inside a running simulation.

Since glassfix 0.1 files also carry ``"arrays": {name: {"dtype": "<f8", "shape": [..]}}`` in the
manifest (optional: older files without it are still read). Reading is bounded before anything is
inflated (a zip bomb of a few kB must not allocate GBs on every MPI rank): the declared uncompressed
size of every member and the total are checked against :data:`MAX_MODEL_BYTES`; ``arrays.npz`` must be
no larger than the arrays the manifest lists (plus headers); every ``.npy`` header (dtype, shape) is read
and checked against the manifest and against the member's declared size before its data; members are
inflated in bounded chunks and never past their declared size.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from glassfix.core.atomic import atomic_write, json_default

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "ARRAYS_NAME",
    "MAX_MODEL_BYTES",
    "ModelFileError",
    "array_listing",
    "save_model_file",
    "read_model_file",
]

FORMAT = "glassfix-model"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
ARRAYS_NAME = "arrays.npz"
_MEMBERS = frozenset({MANIFEST_NAME, ARRAYS_NAME})
# A manifest is a few kB; refusing huge ones stops a zip bomb before it is inflated.
_MAX_MANIFEST_BYTES = 64 * 2**20
#: The most a model file may declare, uncompressed, in all (manifest + every array): 2 GiB. The largest
#: models glassfix trains are a few MB; a file declaring more is refused before anything is inflated.
MAX_MODEL_BYTES = 2 * 2**30
# Bytes arrays.npz may hold beyond the raw array data: per member a .npy header (<= 64 kB with numpy's
# own limit) and zip headers (name twice + 100 B), plus the end-of-archive records.
_NPY_HEADER_SLACK = 65536
_ZIP_SLACK = 4096
_READ_CHUNK = 1 << 20
_ALLOWED_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_REQUIRED = {"kind": str, "species": list, "descriptor": dict, "outputs": list, "params": dict}


class ModelFileError(ValueError):
    """A ``*.glassfix`` file is missing, corrupt, unsafe or incompatible; the message names file and fix."""


def _glassfix_version() -> str:
    """Installed glassfix version string."""
    from glassfix import __version__

    return str(__version__)


def save_model_file(
    path: str | os.PathLike[str], manifest: Mapping[str, Any], arrays: Mapping[str, np.ndarray]
) -> Path:
    """Write a model file atomically and durably (glassfix.core.atomic); returns the path."""
    path = Path(path)
    man = dict(manifest)
    man["format"] = FORMAT
    man["format_version"] = FORMAT_VERSION
    man.setdefault("provenance", {})
    man.setdefault("glassfix_version", _glassfix_version())
    for key, typ in _REQUIRED.items():
        if not isinstance(man.get(key), typ):
            raise ValueError(f"manifest field {key!r} must be a {typ.__name__}")
    clean: dict[str, np.ndarray] = {}
    for name, arr in arrays.items():
        a = np.asarray(arr)
        if a.dtype.hasobject:
            raise ValueError(f"array {name!r} has dtype object; model files hold numeric arrays only")
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise ValueError(f"array name {name!r} is not a plain member name")
        clean[name] = a
    man["arrays"] = array_listing(clean)  # lets readers bound every member before inflating it
    # allow_nan=False: the file must be strict JSON that any reader (C++, JS) can parse.
    man_bytes = json.dumps(man, indent=2, sort_keys=True, allow_nan=False, default=json_default).encode()
    buf = io.BytesIO()
    np.savez(buf, **clean)

    def write(fh: Any) -> None:
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(MANIFEST_NAME, man_bytes)
            zf.writestr(ARRAYS_NAME, buf.getvalue())

    # Readers (other MPI ranks, a running LAMMPS) see either the old file or the new one, never half.
    atomic_write(path, write, durable=True)
    return path


def _known_kinds() -> list[str]:
    """Model kinds of the registry (built-in and registered; listing them imports no kind)."""
    from glassfix.models.registry import MODEL_KINDS

    return MODEL_KINDS.names(aliases=True)


def array_listing(arrays: Mapping[str, np.ndarray]) -> dict[str, dict[str, Any]]:
    """The manifest's ``"arrays"`` entry: ``{name: {"dtype": numpy dtype string, "shape": [...]}}``."""
    return {name: {"dtype": np.asarray(a).dtype.str, "shape": [int(x) for x in np.shape(a)]}
            for name, a in arrays.items()}


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> bytes:
    """Read one zip member in bounded chunks (never inflating past its declared size, which the caller
    has checked), turning CRC/inflate failures into ModelFileError."""
    name = info.filename
    if info.compress_type not in _ALLOWED_COMPRESSION or info.flag_bits & 0x1:
        raise ModelFileError(f"{where}: member {name!r} uses an unsupported compression or encryption "
                             f"(method {info.compress_type}); re-save the model with glassfix")
    limit = int(info.file_size)
    out = bytearray()
    try:
        # zf.read() would inflate the whole deflate stream at once, whatever size the header declares;
        # chunked reads stop at the declared size (ZipExtFile never returns more) and keep memory bounded.
        with zf.open(info) as fh:
            while True:
                chunk = fh.read(min(_READ_CHUNK, limit - len(out) + 1))
                if not chunk:
                    break
                out += chunk
                if len(out) > limit:
                    raise ModelFileError(f"{where}: member {name!r} inflates past its declared size of "
                                         f"{limit} bytes; the file is corrupt or malicious, re-save the model")
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, RuntimeError,
            NotImplementedError) as exc:
        raise ModelFileError(
            f"{where}: member {name!r} is corrupt ({exc}); the file was damaged in transfer or "
            "truncated, re-save or re-copy the model"
        ) from exc
    return bytes(out)


def _too_big(where: str, what: str, size: int, limit: int) -> ModelFileError:
    return ModelFileError(
        f"{where}: {what} declares {size} bytes uncompressed, over the limit of {limit} bytes "
        f"(glassfix.models.io.MAX_MODEL_BYTES = {MAX_MODEL_BYTES}); the file is corrupt or a zip bomb, "
        "refusing to inflate it. Re-save the model with glassfix"
    )


def _listing_from_manifest(manifest: Mapping[str, Any], where: str) -> dict[str, tuple[np.dtype, tuple[int, ...]]] | None:
    """The manifest's ``"arrays"`` as {name: (dtype, shape)}; None for files written before it existed."""
    listing = manifest.get("arrays")
    if listing is None:
        return None
    if not isinstance(listing, dict):
        raise ModelFileError(f"{where}: manifest 'arrays' must be a JSON object; re-save the model")
    out: dict[str, tuple[np.dtype, tuple[int, ...]]] = {}
    for name, entry in listing.items():
        try:
            dtype = np.dtype(str(entry["dtype"]))
            shape = tuple(int(x) for x in entry["shape"])
            if dtype.hasobject or any(x < 0 for x in shape) or not isinstance(entry["shape"], list):
                raise ValueError("object dtype or negative extent")
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{where}: manifest 'arrays' entry {name!r} is invalid ({exc}); re-save the "
                                 "model") from None
        out[str(name)] = (dtype, shape)
    return out


def _nbytes(dtype: np.dtype, shape: tuple[int, ...]) -> int:
    n = int(dtype.itemsize)
    for x in shape:
        n *= int(x)
    return n


def _check_npz(inner: zipfile.ZipFile, listing: Mapping[str, tuple[np.dtype, tuple[int, ...]]] | None,
               budget: int, where: str) -> None:
    """Check every .npy member of arrays.npz (name, declared size, header dtype/shape) before its data is read."""
    total = 0
    seen = set()
    for info in inner.infolist():
        member = info.filename
        key = member[:-4]
        if info.compress_type not in _ALLOWED_COMPRESSION or info.flag_bits & 0x1:
            raise ModelFileError(f"{where}: {ARRAYS_NAME} member {member!r} uses an unsupported compression "
                                 f"or encryption; re-save the model with glassfix")
        if key in seen:
            raise ModelFileError(f"{where}: {ARRAYS_NAME} has duplicate member {member!r}; re-save the model")
        seen.add(key)
        if listing is not None and key not in listing:
            raise ModelFileError(f"{where}: {ARRAYS_NAME} member {member!r} is not listed in the manifest's "
                                 f"'arrays' ({sorted(listing)}); the file was tampered with, re-save the model")
        total += int(info.file_size)
        if total > budget:
            raise _too_big(where, f"{ARRAYS_NAME} member {member!r} (with the members before it)", total, budget)
        try:
            with inner.open(info) as fh:
                version = np.lib.format.read_magic(fh)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
                elif version == (2, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
                else:
                    shape, fortran, dtype = np.lib.format._read_array_header(fh, version)  # noqa: SLF001
                header_len = fh.tell()
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, RuntimeError,
                NotImplementedError) as exc:
            raise ModelFileError(f"{where}: {ARRAYS_NAME} member {member!r} has no valid .npy header ({exc}); "
                                 "re-save the model") from None
        if dtype.hasobject:
            # The payload of an object array is a pickle: refused here, before any of it is read.
            raise ModelFileError(
                f"{where}: array {key!r} contains a pickled object array; glassfix model files never "
                "execute code, so this file is rejected (it was not written by glassfix; do not load it "
                "elsewhere either)")
        size = _nbytes(dtype, tuple(shape))
        if header_len + size != int(info.file_size):
            raise ModelFileError(f"{where}: {ARRAYS_NAME} member {member!r} declares {info.file_size} bytes but "
                                 f"its header says {dtype.str} {tuple(shape)} ({header_len + size} bytes); the "
                                 "file is corrupt or malicious, re-save the model")
        if listing is not None and (dtype, tuple(shape)) != listing[key]:
            ldt, lsh = listing[key]
            raise ModelFileError(f"{where}: array {key!r} is {dtype.str} {tuple(shape)} but the manifest lists "
                                 f"{ldt.str} {lsh}; the file was tampered with, re-save the model")
    if listing is not None and set(listing) - seen:
        raise ModelFileError(f"{where}: arrays {sorted(set(listing) - seen)} listed in the manifest are missing "
                             f"from {ARRAYS_NAME}; re-save the model")


def _load_arrays(data: bytes, where: str, listing: Mapping[str, tuple[np.dtype, tuple[int, ...]]] | None = None,
                 budget: int | None = None) -> dict[str, np.ndarray]:
    """Parse arrays.npz bytes with allow_pickle=False; reject anything but numeric .npy members, members
    not in the manifest's listing and declared sizes beyond ``budget`` (checked before reading any data)."""
    try:
        inner = zipfile.ZipFile(io.BytesIO(data))
        names = inner.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise ModelFileError(f"{where}: {ARRAYS_NAME} is not a valid npz archive ({exc}); re-save the model") from exc
    bad = [n for n in names if not n.endswith(".npy") or "/" in n or n.startswith(".")]
    if bad:
        raise ModelFileError(
            f"{where}: {ARRAYS_NAME} contains unexpected members {bad}; only numeric .npy arrays are "
            "allowed, re-save the model with glassfix"
        )
    with inner:
        _check_npz(inner, listing, MAX_MODEL_BYTES if budget is None else budget, where)
    out: dict[str, np.ndarray] = {}
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            for key in npz.files:
                try:
                    arr = npz[key]
                except ValueError as exc:
                    if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
                        # numpy refuses before touching the pickle bytes, so nothing has run.
                        raise ModelFileError(
                            f"{where}: array {key!r} contains a pickled object array; glassfix model "
                            "files never execute code, so this file is rejected (it was not written "
                            "by glassfix; do not load it elsewhere either)"
                        ) from exc
                    raise
                if not isinstance(arr, np.ndarray) or arr.dtype.hasobject:
                    raise ModelFileError(f"{where}: array {key!r} is not a numeric array")
                out[key] = arr
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, RuntimeError, NotImplementedError) as exc:
        raise ModelFileError(f"{where}: {ARRAYS_NAME} is corrupt ({exc}); re-save or re-copy the model") from exc
    return out


def read_model_file(
    path: str | os.PathLike[str], known_kinds: Iterable[str] | None = None
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read and validate a model file; returns (manifest, arrays). Raises ModelFileError on any problem."""
    path = Path(path)
    where = f"model file {str(path)!r}"
    if not path.exists():
        raise ModelFileError(f"{where} does not exist; check the path (models are written by Predictor.save)")
    if not path.is_file():
        raise ModelFileError(f"{where} is not a regular file; pass the path of a *.glassfix file")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise ModelFileError(
            f"{where} is not a glassfix model (not a valid zip archive: {exc}); it may be truncated or "
            "another format, re-save it with Predictor.save or re-copy it"
        ) from exc
    with zf:
        names = zf.namelist()
        unexpected = sorted(set(names) - _MEMBERS)
        if unexpected:
            raise ModelFileError(
                f"{where} contains unexpected members {unexpected}; a model file holds only "
                f"{MANIFEST_NAME} and {ARRAYS_NAME} (no code, no pickles), re-save it with glassfix"
            )
        if len(names) != len(set(names)):
            raise ModelFileError(f"{where} has duplicate zip members; re-save it with glassfix")
        if MANIFEST_NAME not in names:
            raise ModelFileError(
                f"{where} has no {MANIFEST_NAME}; it is not a glassfix model, re-save it with Predictor.save"
            )
        if ARRAYS_NAME not in names:
            raise ModelFileError(f"{where} has no {ARRAYS_NAME}; re-save it with Predictor.save")
        # Every declared size is checked before any member is inflated.
        man_info, arr_info = zf.getinfo(MANIFEST_NAME), zf.getinfo(ARRAYS_NAME)
        if man_info.file_size > _MAX_MANIFEST_BYTES:
            raise _too_big(where, MANIFEST_NAME, man_info.file_size, _MAX_MANIFEST_BYTES)
        if man_info.file_size + arr_info.file_size > MAX_MODEL_BYTES:
            raise _too_big(where, ARRAYS_NAME, arr_info.file_size, MAX_MODEL_BYTES - man_info.file_size)
        man_bytes = _read_member(zf, man_info, where)
        manifest = _parse_manifest(man_bytes, where, known_kinds)
        listing = _listing_from_manifest(manifest, where)
        budget = MAX_MODEL_BYTES - len(man_bytes)
        if listing is not None:
            expected = sum(_nbytes(dt, sh) for dt, sh in listing.values())
            if expected > budget:
                raise _too_big(where, "the manifest's 'arrays'", expected, budget)
            budget = expected + len(listing) * _NPY_HEADER_SLACK
            allowed = budget + len(listing) * (_ZIP_SLACK + 2 * max(map(len, listing), default=0)) + _ZIP_SLACK
            if arr_info.file_size > allowed:
                raise ModelFileError(
                    f"{where}: {ARRAYS_NAME} declares {arr_info.file_size} bytes uncompressed but the arrays the "
                    f"manifest lists need at most {allowed}; the file is corrupt or a zip bomb, refusing to "
                    "inflate it. Re-save the model with glassfix")
        arr_bytes = _read_member(zf, arr_info, where)
    return manifest, _load_arrays(arr_bytes, where, listing, budget)


def _parse_manifest(man_bytes: bytes, where: str, known_kinds: Iterable[str] | None) -> dict[str, Any]:
    """Decode and validate manifest.json (format, version, kind, required fields)."""

    try:
        manifest = json.loads(man_bytes.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ModelFileError(f"{where}: {MANIFEST_NAME} is not UTF-8 text ({exc}); re-save the model") from exc
    except json.JSONDecodeError as exc:
        raise ModelFileError(
            f"{where}: {MANIFEST_NAME} is not valid JSON (line {exc.lineno}, column {exc.colno}: "
            f"{exc.msg}); re-save the model or fix the manifest by hand"
        ) from exc
    if not isinstance(manifest, dict):
        raise ModelFileError(f"{where}: {MANIFEST_NAME} must hold a JSON object, got {type(manifest).__name__}")

    fmt = manifest.get("format")
    if fmt != FORMAT:
        raise ModelFileError(f"{where}: manifest format is {fmt!r}, expected {FORMAT!r}; this is not a glassfix model")
    version = manifest.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ModelFileError(f"{where}: manifest format_version must be an integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{where} was written by a newer glassfix (version {version} > {FORMAT_VERSION}); upgrade glassfix"
        )
    if version < 1:
        raise ModelFileError(f"{where}: invalid format_version {version}; re-save the model")

    kinds = list(known_kinds) if known_kinds is not None else _known_kinds()
    kind = manifest.get("kind")
    if not isinstance(kind, str) or kind not in kinds:
        raise ModelFileError(
            f"{where}: unknown model kind {kind!r} (known kinds: {', '.join(kinds) or 'none'}); it may need "
            "a newer glassfix or an optional dependency"
        )
    for key, typ in _REQUIRED.items():
        if not isinstance(manifest.get(key), typ):
            raise ModelFileError(f"{where}: manifest field {key!r} is missing or not a JSON {typ.__name__}")
    if not all(isinstance(s, str) for s in manifest["species"]):
        raise ModelFileError(f"{where}: manifest 'species' must be a list of species names")
    if not all(isinstance(s, str) for s in manifest["outputs"]):
        raise ModelFileError(f"{where}: manifest 'outputs' must be a list of output names")
    if not isinstance(manifest.get("provenance", {}), dict):
        raise ModelFileError(f"{where}: manifest 'provenance' must be a JSON object")
    return manifest
