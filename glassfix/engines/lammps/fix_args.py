"""Argument parsing of the glass/* fix styles: ``keyword value...`` tokens after ``N`` (no LAMMPS needed).

Every error is a one-line :class:`BridgeError` naming the bad token and ending with the style's usage line
(the usage strings themselves live with their handlers in :mod:`glassfix.engines.lammps.bridge`).
"""

from __future__ import annotations

from typing import Any

from glassfix.engines.lammps.model_modes import BridgeError

__all__ = ["parse_keywords", "parse_ghost", "parse_mode", "set_state"]


def parse_keywords(tokens: list[str], spec: dict[str, int | None], style: str,
                    usage: str) -> dict[str, list[str]]:
    """Parse ``keyword value...`` tokens; spec maps keyword -> number of values (None = until next keyword)."""
    out: dict[str, list[str]] = {}
    i = 0
    while i < len(tokens):
        key = tokens[i]
        if key not in spec:
            raise BridgeError(
                f"unknown keyword '{key}'; fix {style} accepts {', '.join(sorted(spec))}. Usage: {usage}")
        if key in out:
            raise BridgeError(f"keyword '{key}' given twice. Usage: {usage}")
        n = spec[key]
        if n is None:
            j = i + 1
            while j < len(tokens) and tokens[j] not in spec:
                j += 1
            vals = tokens[i + 1:j]
            if not vals:
                raise BridgeError(f"keyword '{key}' needs at least one value. Usage: {usage}")
        else:
            vals = tokens[i + 1:i + 1 + n]
            if len(vals) != n:
                raise BridgeError(f"keyword '{key}' needs {n} value(s). Usage: {usage}")
            j = i + 1 + n
        out[key] = vals
        i = j
    return out


def parse_ghost(kw: dict[str, list[str]], usage: str) -> bool:
    """``ghost auto`` (the fix enlarges the ghost shell on evaluation steps only) or ``static``."""
    ghost = kw.get("ghost", ["static"])[0]
    if ghost not in ("auto", "static"):
        raise BridgeError(f"ghost must be 'auto' or 'static', got '{ghost}'. Usage: {usage}")
    return ghost == "auto"


def parse_mode(kw: dict[str, list[str]], usage: str) -> bool:
    """``mode local`` (default) or ``gather``; True for gather."""
    mode = kw.get("mode", ["local"])[0]
    if mode not in ("local", "gather"):
        raise BridgeError(f"mode must be 'local' or 'gather', got '{mode}'. Usage: {usage}")
    return mode == "gather"


def set_state(model: Any, values: list[str], path: str, usage: str) -> None:
    """``state T [C ...]``: the temperature (and C = <C_B(t)> targets) a state-point model predicts at."""
    if not hasattr(model, "set_state"):
        raise BridgeError(f"keyword 'state' applies to state-point models (tglassmlp); '{path}' is a "
                          f"{getattr(model, 'kind', '?')} model. Usage: {usage}")
    try:
        nums = [float(v) for v in values]
        model.set_state(temperature=nums[0], targets=nums[1:] or None)
    except ValueError as exc:
        raise BridgeError(f"state {' '.join(values)}: {exc} (give 'state T' or 'state T C1 C2 ...'). "
                          f"Usage: {usage}") from None
