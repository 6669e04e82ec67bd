"""Trained predictors (DESIGN.md §4): the Predictor contract, the model-kind registry and model files.

``load_model(path)`` reads a ``*.glassfix`` file (validated, never unpickled) and returns the Predictor
of its kind; ``predict_frame(model, frame)`` evaluates it on every atom of a frame.
"""

from __future__ import annotations

from glassfix.models.activity import ActivityModel
from glassfix.models.base import Predictor, load_model, predict_frame
from glassfix.models.botan import BotanModel  # torch is imported lazily
from glassfix.models.io import ModelFileError, read_model_file, save_model_file
from glassfix.models.looseness import LoosenessModel
from glassfix.models.registry import MODEL_KINDS, register_model
from glassfix.models.softness import SoftnessModel
from glassfix.models.tglassmlp import TGlassMLPModel  # torch is imported lazily

__all__ = [
    "MODEL_KINDS",
    "Predictor",
    "register_model",
    "ModelFileError",
    "read_model_file",
    "save_model_file",
    "load_model",
    "predict_frame",
    "SoftnessModel",
    "BotanModel",
    "ActivityModel",
    "LoosenessModel",
    "TGlassMLPModel",
]
