"""Column-wise feature standardisation with statistics frozen on training data (digest 001 §4.2).

Concern: the (x − mean) / scale map applied to descriptor features before a model (tGlassMLP inputs),
fitted once and serialised (arrays or JSON). Units: those of each feature column (the output is
dimensionless).
"""

from __future__ import annotations

import json
from typing import Any, Sequence

import numpy as np

__all__ = ["FrozenStandardizer"]


class FrozenStandardizer:
    """Column-wise (x − mean) / scale with statistics frozen on training data (digest 001 §4.2).

    ``scale`` is the population standard deviation, except for columns that are constant on the
    training data (std == 0 or std ≤ rtol·|mean|, i.e. pure round-off), whose scale is 1 (they map to
    x − mean, exactly 0 on the training data). Serialises to arrays (:meth:`to_arrays`) and JSON.
    """

    def __init__(self, mean: np.ndarray | None = None, scale: np.ndarray | None = None,
                 constant: np.ndarray | None = None, names: Sequence[str] | None = None,
                 rtol: float = 1e-10) -> None:
        self.rtol = float(rtol)
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float64).copy()
        self.scale = None if scale is None else np.asarray(scale, dtype=np.float64).copy()
        self.constant = None if constant is None else np.asarray(constant, dtype=bool).copy()
        self.names = None if names is None else [str(s) for s in names]
        if self.mean is not None:
            if self.scale is None or self.scale.shape != self.mean.shape or self.mean.ndim != 1:
                raise ValueError("mean and scale must be 1-D arrays of the same length")
            if not np.all(np.isfinite(self.scale)) or np.any(self.scale <= 0):
                raise ValueError("scale must be positive and finite")
            if self.constant is None:
                self.constant = np.zeros(self.mean.shape, dtype=bool)
            if self.names is not None and len(self.names) != self.mean.size:
                raise ValueError("names must have one entry per column")

    @property
    def is_fitted(self) -> bool:
        return self.mean is not None

    @property
    def n_features(self) -> int:
        self._check()
        return int(self.mean.size)

    def fit(self, x: np.ndarray | Sequence[np.ndarray], names: Sequence[str] | None = None) -> "FrozenStandardizer":
        """Freeze mean/scale on training rows (an (n, f) array or a list of them, pooled)."""
        if isinstance(x, (list, tuple)):
            x = np.concatenate([np.asarray(a, dtype=np.float64) for a in x], axis=0)
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] == 0:
            raise ValueError(f"training data must be a non-empty 2-D array, got shape {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError("training data contain non-finite values")
        mean = x.mean(axis=0)
        std = np.sqrt(((x - mean) ** 2).mean(axis=0))
        constant = (std == 0) | (std <= self.rtol * np.abs(mean))
        self.mean = mean
        self.scale = np.where(constant, 1.0, std)
        self.constant = constant
        if names is not None:
            self.names = [str(s) for s in names]
            if len(self.names) != mean.size:
                raise ValueError("names must have one entry per column")
        return self

    def _check(self) -> None:
        if self.mean is None:
            raise RuntimeError("FrozenStandardizer is not fitted")

    def transform(self, x: np.ndarray) -> np.ndarray:
        """(x − mean) / scale; x is (n, f) or (f,)."""
        self._check()
        x = np.asarray(x, dtype=np.float64)
        if x.shape[-1] != self.mean.size:
            raise ValueError(f"expected {self.mean.size} columns, got {x.shape[-1]}")
        return (x - self.mean) / self.scale

    def inverse_transform(self, z: np.ndarray) -> np.ndarray:
        """mean + z · scale."""
        self._check()
        return np.asarray(z, dtype=np.float64) * self.scale + self.mean

    def fit_transform(self, x: np.ndarray) -> np.ndarray:
        return self.fit(x).transform(x)

    # ------------------------------------------------------------------ serialisation
    def to_arrays(self) -> dict[str, np.ndarray]:
        """{"mean", "scale", "constant"} arrays (e.g. for np.savez)."""
        self._check()
        return {"mean": self.mean.copy(), "scale": self.scale.copy(), "constant": self.constant.copy()}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], names: Sequence[str] | None = None,
                    rtol: float = 1e-10) -> "FrozenStandardizer":
        return cls(arrays["mean"], arrays["scale"], arrays.get("constant"), names=names, rtol=rtol)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (floats round-trip exactly through JSON)."""
        self._check()
        return {"kind": "frozen_standardizer", "rtol": self.rtol, "mean": [float(v) for v in self.mean],
                "scale": [float(v) for v in self.scale], "constant": [bool(v) for v in self.constant],
                "names": None if self.names is None else list(self.names)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FrozenStandardizer":
        if d.get("kind", "frozen_standardizer") != "frozen_standardizer":
            raise ValueError(f"not a frozen_standardizer: {d.get('kind')!r}")
        return cls(d["mean"], d["scale"], d.get("constant"), names=d.get("names"), rtol=d.get("rtol", 1e-10))

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, s: str) -> "FrozenStandardizer":
        return cls.from_dict(json.loads(s))
