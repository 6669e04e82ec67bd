"""Fields and helpers shared by the specs of protocols that start from a prepared glass (NVE, creep, AQS)."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from glassfix.protocols.base import MinimizeSettings
from glassfix.protocols.common import ProtocolError, check_fields, spec_to_dict
from glassfix.protocols.prepare import PrepareSpec

__all__ = ["StartSpecMixin"]


class StartSpecMixin:
    """Methods for dataclass specs with ``system``, ``system_options``, ``data``, ``prepare``,
    ``start_from`` and the ``min_*`` minimiser fields."""

    def _validate_start(self) -> None:
        data = getattr(self, "data")
        prep = getattr(self, "prepare")
        if isinstance(prep, Mapping):
            prep = PrepareSpec.from_dict(prep)
            object.__setattr__(self, "prepare", prep)
        if data is None and prep is None:
            raise ProtocolError(f"{type(self).__name__}: give data (a LAMMPS data or restart file) or prepare "
                                f"(a PrepareSpec, e.g. PrepareSpec.for_creep(n=1000))")
        if data is not None and prep is not None:
            raise ProtocolError(f"{type(self).__name__}: give data or prepare, not both")
        if prep is not None and (prep.system != self.system or prep.system_options != self.system_options):
            raise ProtocolError(f"{type(self).__name__}: prepare.system {prep.system!r} {prep.system_options} "
                                f"differs from system {self.system!r} {self.system_options}")
        if data is not None:
            object.__setattr__(self, "data", str(data))
        if getattr(self, "start_from") not in ("inherent", "final"):
            raise ProtocolError(f"start_from must be 'inherent' or 'final', got {getattr(self, 'start_from')!r}")
        self.min_settings()

    def min_settings(self) -> MinimizeSettings:
        """The minimiser settings of this spec."""
        return MinimizeSettings(self.min_style, self.min_etol, self.min_ftol, self.min_maxiter,
                                self.min_maxeval, self.min_line)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict (``from_dict`` inverts it)."""
        return spec_to_dict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Any:
        """Build from a dict (unknown keys are an error)."""
        check_fields(cls, d)
        d = dict(d)
        if isinstance(d.get("prepare"), Mapping):
            d["prepare"] = PrepareSpec.from_dict(d["prepare"])
        for k, v in list(d.items()):
            if isinstance(v, list) and k not in ("system_options",):
                d[k] = tuple(v)
        return cls(**d)

    def replace(self, **changes: Any) -> Any:
        """A copy with ``changes``."""
        return dataclasses.replace(self, **changes)
