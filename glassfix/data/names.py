"""Names and small value conversions of the dataset store (no file I/O beyond one HDF5 dataset at a time).

HDF5 link names for arbitrary strings (:func:`quote_name`), the default frame key, label names with
parameters (``"kind/p=v,..."``), frame metadata split into JSON + arrays and joined back, unicode-safe
array writes/reads and HDF5 attribute values as plain Python values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import h5py
import numpy as np

from ..core.jsonable import jsonable
from .checksum import dataset_kwargs

__all__ = ["quote_name", "unquote_name", "default_key", "parse_label_name"]


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
            obj[str(k)] = jsonable(v)
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
