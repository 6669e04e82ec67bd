"""The one check every resumable ``glassfix reproduce`` run makes on its work directory: the parameters it
was started with are recorded in ``config.json``, and a rerun with other values is refused (resuming it would
mix two runs) instead of silently continuing."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, Iterable

from glassfix.core.atomic import atomic_write_json

__all__ = ["WorkdirMismatch", "claim_workdir"]


class WorkdirMismatch(ValueError):
    """The work directory holds a run made with other parameters."""


def _plain(d: dict[str, Any]) -> dict[str, Any]:
    # the JSON round trip turns tuples into lists, as they are read back from config.json
    return json.loads(json.dumps(d))


def _defaults(cfg: Any) -> dict[str, Any]:
    """The dataclass defaults of ``cfg``'s type (fields without one are left out)."""
    try:
        return _plain(asdict(type(cfg)()))
    except TypeError:    # a field without a default
        return {}


def claim_workdir(workdir: Path, cfg: Any, compare: Iterable[str] | None = None) -> Path:
    """Record the dataclass ``cfg`` in ``workdir/config.json``; returns that path.

    Raises :class:`WorkdirMismatch` naming every differing parameter (value recorded there, value now) when
    the directory already holds a run whose values of ``compare`` (default: every field) differ. A parameter
    missing from an older config.json did not exist when that run started, so it counts as its default.
    Fields left out of ``compare`` (settings a rerun may change, counts a rerun extends) are recorded too.
    """
    workdir = Path(workdir)
    mine = _plain(asdict(cfg))
    keys = [f.name for f in fields(cfg)] if compare is None else list(compare)
    unknown = sorted(set(keys) - set(mine))
    if unknown:
        raise ValueError(f"claim_workdir: {type(cfg).__name__} has no field(s) {', '.join(unknown)}")
    path = workdir / "config.json"
    if path.exists():
        try:
            recorded = json.loads(path.read_text())
        except ValueError as exc:
            raise WorkdirMismatch(f"{path} is not valid JSON ({exc}); use another --workdir or repair the "
                                  "file") from None
        old = {**_defaults(cfg), **recorded}
        diff = [k for k in keys if old.get(k) != mine[k]]
        if diff:
            what = "; ".join(f"{k}: {old.get(k)!r} there, {mine[k]!r} now" for k in diff)
            raise WorkdirMismatch(f"{workdir} holds a run made with other parameters ({what}); use another "
                                  "--workdir or the same parameters")
    workdir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, mine)
    return path
