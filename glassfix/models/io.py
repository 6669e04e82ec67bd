"""The ``*.glassfix`` model file: a zip holding ``manifest.json`` and ``arrays.npz`` (DESIGN.md §4).

Manifest layout (format_version 1)::

    {"format": "glassfix-model", "format_version": 1, "kind": "softness",
     "species": ["A", "B"], "descriptor": {<Descriptor.spec()>}, "outputs": ["softness"],
     "params": {<kind-specific, JSON>}, "provenance": {<free-form, JSON>},
     "glassfix_version": "0.1.0"}

Arrays are plain numeric ``.npy`` members of ``arrays.npz``. Reading never unpickles anything: the
npz is opened with ``allow_pickle=False`` and any other zip member is rejected, so a model file is
data only and cannot execute code when loaded inside a running simulation.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "ARRAYS_NAME",
    "ModelFileError",
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
_REQUIRED = {"kind": str, "species": list, "descriptor": dict, "outputs": list, "params": dict}


class ModelFileError(ValueError):
    """A ``*.glassfix`` file is missing, corrupt, unsafe or incompatible; the message names file and fix."""


def _json_default(obj: Any) -> Any:
    """Convert numpy scalars/arrays met in a manifest to plain JSON values."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"manifest value of type {type(obj).__name__} is not JSON-serialisable")


def _glassfix_version() -> str:
    """Installed glassfix version string."""
    from glassfix import __version__

    return str(__version__)


def save_model_file(
    path: str | os.PathLike[str], manifest: Mapping[str, Any], arrays: Mapping[str, np.ndarray]
) -> Path:
    """Write a model file atomically (temp file in the same directory + os.replace); returns the path."""
    path = Path(path)
    man = dict(manifest)
    man["format"] = FORMAT
    man["format_version"] = FORMAT_VERSION
    man.setdefault("provenance", {})
    man.setdefault("glassfix_version", _glassfix_version())
    for key, typ in _REQUIRED.items():
        if not isinstance(man.get(key), typ):
            raise ValueError(f"manifest field {key!r} must be a {typ.__name__}")
    # allow_nan=False: the file must be strict JSON that any reader (C++, JS) can parse.
    man_bytes = json.dumps(man, indent=2, sort_keys=True, allow_nan=False, default=_json_default).encode()

    clean: dict[str, np.ndarray] = {}
    for name, arr in arrays.items():
        a = np.asarray(arr)
        if a.dtype.hasobject:
            raise ValueError(f"array {name!r} has dtype object; model files hold numeric arrays only")
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise ValueError(f"array name {name!r} is not a plain member name")
        clean[name] = a
    buf = io.BytesIO()
    np.savez(buf, **clean)

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                zf.writestr(MANIFEST_NAME, man_bytes)
                zf.writestr(ARRAYS_NAME, buf.getvalue())
            fh.flush()
            os.fsync(fh.fileno())
        # Readers (other MPI ranks, a running LAMMPS) see either the old file or the new one, never half.
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def _known_kinds() -> list[str]:
    """Model kinds of the registry (built-in and registered; listing them imports no kind)."""
    from glassfix.models.registry import MODEL_KINDS

    return MODEL_KINDS.names()


def _read_member(zf: zipfile.ZipFile, name: str, where: str) -> bytes:
    """Read one zip member, turning CRC/inflate failures into ModelFileError."""
    try:
        return zf.read(name)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        raise ModelFileError(
            f"{where}: member {name!r} is corrupt ({exc}); the file was damaged in transfer or "
            "truncated, re-save or re-copy the model"
        ) from exc


def _load_arrays(data: bytes, where: str) -> dict[str, np.ndarray]:
    """Parse arrays.npz bytes with allow_pickle=False; reject anything but numeric .npy members."""
    try:
        inner = zipfile.ZipFile(io.BytesIO(data))
        names = inner.namelist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ModelFileError(f"{where}: {ARRAYS_NAME} is not a valid npz archive ({exc}); re-save the model") from exc
    bad = [n for n in names if not n.endswith(".npy") or "/" in n or n.startswith(".")]
    if bad:
        raise ModelFileError(
            f"{where}: {ARRAYS_NAME} contains unexpected members {bad}; only numeric .npy arrays are "
            "allowed, re-save the model with glassfix"
        )
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
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
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
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
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
        if zf.getinfo(MANIFEST_NAME).file_size > _MAX_MANIFEST_BYTES:
            raise ModelFileError(f"{where}: {MANIFEST_NAME} is implausibly large; refusing to read it")
        man_bytes = _read_member(zf, MANIFEST_NAME, where)
        arr_bytes = _read_member(zf, ARRAYS_NAME, where)

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

    arrays = _load_arrays(arr_bytes, where)
    return manifest, arrays
