"""Trained predictors (DESIGN.md §4): the Predictor contract, the model-kind registry and model files.

``load_model(path)`` reads a ``*.glassfix`` file (validated, never unpickled) and returns the Predictor
of its kind; ``predict_frame(model, frame)`` evaluates it on every atom of a frame.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from glassfix.core.frame import Frame
from glassfix.models.base import MODEL_KINDS, Predictor, register_model
from glassfix.models.io import ModelFileError, read_model_file, save_model_file
from glassfix.models.softness import SoftnessModel  # registers kind "softness"
from glassfix.models.botan import BotanModel  # registers kind "botan" (torch is imported lazily)
from glassfix.models.activity import ActivityModel  # registers kind "ace"
from glassfix.models.looseness import LoosenessModel  # registers kind "looseness"

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
]


def load_model(path: str | os.PathLike[str]) -> Predictor:
    """Load a ``*.glassfix`` model file; ModelFileError (naming the file and the fix) on any problem."""
    manifest, arrays = read_model_file(path, known_kinds=MODEL_KINDS)
    cls = MODEL_KINDS[manifest["kind"]]
    try:
        return cls.from_file_contents(manifest, arrays)
    except ModelFileError as exc:  # already explains itself; add which file
        raise ModelFileError(f"model file {str(path)!r}: {exc}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(
            f"model file {str(path)!r} is inconsistent: {exc}; re-save it with the glassfix that trained it"
        ) from exc


def predict_frame(model: Predictor | str | os.PathLike[str], frame: Frame) -> np.ndarray:
    """Predictions (N, n_outputs) for every atom of ``frame``; ``model`` may be a path to a model file."""
    if isinstance(model, (str, Path, os.PathLike)):
        model = load_model(model)
    return model.predict(frame)
