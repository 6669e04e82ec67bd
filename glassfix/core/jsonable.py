"""The one JSON encoder of the package: numpy scalars and arrays, tuples, paths and non-finite floats.

:func:`jsonable` converts a whole object before ``json.dumps`` (dict keys to str, tuples to lists, numpy
scalars to Python numbers, arrays to lists, paths to str), choosing what a non-finite float becomes:

* ``"keep"``: left as is (``json.dumps`` writes ``NaN``/``Infinity``; fine for h5 attributes, not strict JSON);
* ``"null"``: nan and ±inf become ``null`` (strict JSON for metrics, where a missing value is all it means);
* ``"inf-string"``: nan becomes ``null``, ±inf the strings ``"inf"``/``"-inf"`` (strict JSON that keeps an
  infinite time, e.g. a relaxation that did not happen within the run, apart from a missing value).

:func:`json_default` is the same leaf conversion as a ``json.dumps(default=...)`` hook.
"""

from __future__ import annotations

import math
from pathlib import PurePath
from typing import Any, Literal

import numpy as np

__all__ = ["jsonable", "json_default"]

NonFinite = Literal["keep", "null", "inf-string"]


def _float(v: float, nonfinite: NonFinite) -> Any:
    if math.isfinite(v) or nonfinite == "keep":
        return v
    if math.isnan(v) or nonfinite == "null":
        return None
    return "inf" if v > 0 else "-inf"


def jsonable(obj: Any, nonfinite: NonFinite = "keep") -> Any:
    """``obj`` with every container, numpy value and path made JSON-native (recursively); see the module doc."""
    if nonfinite not in ("keep", "null", "inf-string"):
        raise ValueError(f'nonfinite must be "keep", "null" or "inf-string", got {nonfinite!r}')
    if isinstance(obj, dict):
        return {str(k): jsonable(v, nonfinite) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v, nonfinite) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist(), nonfinite)
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return _float(obj, nonfinite)
    if isinstance(obj, PurePath):
        return str(obj)
    return obj


def json_default(obj: Any) -> Any:
    """``json.dumps(default=json_default)``: numpy scalars as Python numbers, arrays as lists, paths as str."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, PurePath):
        return str(obj)
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")
