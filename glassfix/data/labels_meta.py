"""What a stored label means: its kind, parameters and the step of the configuration it describes.

Convention (docs/training.md, "Label metadata"). Every label dataset of a store may carry, next to its
parameters, the attributes

* ``recorded_step``: the MD step at which the value was computed (the step of the frame it is stored on);
* ``step_offset``: ``describes_step − recorded_step`` in MD steps (0: it describes its own frame);
* ``describes_step``: the step of the configuration whose structure the label is about.

Online labels are computed from a history that ends *now*, so they describe an earlier configuration:
``fix glass/phop N W`` output at step s is p_hop of the window centre, step s − (W // 2)·N
(``kernels/fix_glass_label.cpp``; offline :func:`glassfix.labels.phop.phop` puts the value at the centre
frame itself); ``fix glass/d2min N LAG RCUT`` output at step s is D²min between s − LAG and s, and
describes the reference configuration s − LAG (the structure before the motion). Trainers read
``describes_step`` and take features from the frame of the same system and group at that step; they
never guess. Labels without these attributes (e.g. dump columns imported as they are) need the offset
stated by the user (``--label-offset``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["ONLINE_KINDS", "online_label", "offset_attrs", "label_offset", "LabelMetaError"]

#: label kinds written online by the plugin's label fixes (fix style -> kind)
ONLINE_KINDS = {"glass/phop": "phop", "glass/d2min": "d2min"}


class LabelMetaError(ValueError):
    """A label whose meaning (kind, parameters, described step) is missing or inconsistent."""


def offset_attrs(recorded_step: int, step_offset: int) -> dict[str, int]:
    """The step attributes of a label computed at ``recorded_step`` that describes ``recorded_step + step_offset``."""
    s, o = int(recorded_step), int(step_offset)
    return {"recorded_step": s, "step_offset": o, "describes_step": s + o}


def online_label(value_name: str, source: str | Mapping[str, Any] | None, step: int) -> tuple[str, dict[str, Any]]:
    """(store name, attributes) of a value recorded by ``fix glass/record`` at MD step ``step``.

    ``source`` is the JSON the recorded fix describes itself with (``FixGlassLabel::label_meta``): for
    ``glass/phop`` / ``glass/d2min`` the label is stored as ``phop/every=N,window=W`` /
    ``d2min/every=N,lag=L,rcut=R,normalize=sum|mean`` (every and lag in MD steps, window in samples, rcut
    in length units) with its step offset; any other per-atom value keeps its name (``f_ID``) and offset 0.
    """
    meta = json.loads(source) if isinstance(source, str) else dict(source or {})
    kind = meta.get("kind")
    attrs: dict[str, Any] = {"source": str(value_name)}
    if meta.get("fix_style"):
        attrs["fix_style"] = str(meta["fix_style"])
    if kind == "phop":
        params = {"every": int(meta["every"]), "window": int(meta["window"])}
        attrs["window_steps"] = params["window"] * params["every"]
    elif kind == "d2min":
        params = {"every": int(meta["every"]), "lag": int(meta["lag"]), "rcut": float(meta["rcut"]),
                  "normalize": str(meta["normalize"])}
    else:
        return str(value_name), {**attrs, **offset_attrs(step, 0)}
    name = f"{kind}/" + ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())
    # the value name is kept apart from the parameters: 'f_ph[2]' is not a parameter
    return name, {**attrs, **offset_attrs(step, int(meta["step_offset"]))}


def label_offset(attrs: Mapping[str, Any], name: str = "label", override: int | None = None) -> int:
    """The step offset (MD steps, ``describes_step − recorded_step``) of a stored label; LabelMetaError if unknown.

    ``override`` (the user's ``--label-offset``) is used for labels that carry no offset and must agree
    with one that does.
    """
    have = attrs.get("step_offset")
    if have is None:
        if override is None:
            raise LabelMetaError(
                f"label {name!r} does not say which step it describes (no 'step_offset' attribute: it was "
                f"imported as a plain column or written by an older glassfix); pass --label-offset STEPS "
                f"(0 if it describes the frame it is stored on)")
        return int(override)
    if override is not None and int(override) != int(have):
        raise LabelMetaError(f"--label-offset {override} contradicts label {name!r}, which records step_offset "
                             f"{int(have)}; drop --label-offset")
    return int(have)
