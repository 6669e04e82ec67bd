"""The model-kind registry: manifest ``kind`` -> Predictor class (built-ins imported on first use).

A separate module so that the model-file reader (:mod:`glassfix.models.io`) and the Predictor base class
can both consult it without importing the kinds (which import them). Add a kind with
``@register_model`` on a :class:`~glassfix.models.base.Predictor` subclass that sets ``kind``; add a
built-in kind to ``_BUILTINS`` so ``load_model`` finds it without an explicit import.
"""

from __future__ import annotations

from typing import Any

from glassfix.core.registry import Registry

__all__ = ["MODEL_KINDS", "register_model"]

_BUILTINS = {
    "softness": "glassfix.models.softness:SoftnessModel",
    "ace": "glassfix.models.activity:ActivityModel",
    "looseness": "glassfix.models.looseness:LoosenessModel",
    "botan": "glassfix.models.botan:BotanModel",
    "tglassmlp": "glassfix.models.tglassmlp:TGlassMLPModel",
}

#: kind -> Predictor subclass.
MODEL_KINDS: Registry[Any] = Registry("model kind", builtins=_BUILTINS,
                                      hint="it may need a newer glassfix or an optional dependency")

#: Class decorator: make ``load_model`` dispatch manifests of kind ``cls.kind`` to ``cls``.
register_model = MODEL_KINDS.register
