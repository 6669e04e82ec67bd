"""Predictor contract (DESIGN.md §4): a trained model = descriptor + per-centre head(s), saved as *.glassfix."""

from __future__ import annotations

import dataclasses
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from glassfix.core.frame import Frame, NeighborList
from glassfix.descriptors.base import Descriptor, as_center_indices, descriptor_from_spec
from glassfix.models.io import ModelFileError, read_model_file, save_model_file
from glassfix.models.registry import MODEL_KINDS, register_model

__all__ = ["Predictor", "MODEL_KINDS", "register_model", "descriptor_from_manifest", "load_model", "predict_frame"]

def descriptor_from_manifest(manifest: dict[str, Any]) -> Descriptor:
    """Rebuild the manifest's descriptor and check it agrees with the species list (ModelFileError)."""
    try:
        desc = descriptor_from_spec(manifest["descriptor"])
    except ValueError as exc:
        raise ModelFileError(f"bad descriptor spec: {exc}") from exc
    if desc.n_species != len(manifest["species"]):
        raise ModelFileError(
            f"descriptor has {desc.n_species} species but the manifest lists {len(manifest['species'])}"
        )
    return desc


class Predictor(ABC):
    """A trained per-atom model: ``predict`` gives (n_centers, n_outputs) float64 for a frame."""

    kind: ClassVar[str] = ""

    def __init__(
        self,
        descriptor: Descriptor,
        species: Sequence[str],
        output_names: Sequence[str],
        provenance: dict[str, Any] | None = None,
    ) -> None:
        """species[t] names 0-based type t (the descriptor's channel t); provenance is free-form JSON."""
        self.descriptor = descriptor
        self.species: list[str] = [str(s) for s in species]
        if len(set(self.species)) != len(self.species):
            raise ValueError(f"species names must be unique, got {self.species}")
        if descriptor.n_species != len(self.species):
            raise ValueError(
                f"descriptor has {descriptor.n_species} species but {len(self.species)} species names given"
            )
        self.output_names: list[str] = [str(o) for o in output_names]
        self.provenance: dict[str, Any] = dict(provenance or {})

    @property
    def receptive_field(self) -> float:
        """Radius (length units) of atoms that influence a prediction; the ghost cutoff must cover it."""
        return float(self.descriptor.cutoff)

    @property
    def n_outputs(self) -> int:
        """Number of output columns."""
        return len(self.output_names)

    # ---- prediction -------------------------------------------------------------------------------

    def _in_model_species(self, frame: Frame) -> Frame:
        """Return ``frame`` with types renumbered into the model's species order (by name, if named)."""
        if frame.species is None or list(frame.species) == self.species[: len(frame.species)]:
            return frame
        lookup = {name: t for t, name in enumerate(self.species)}
        mapping = np.array([lookup.get(str(name), -1) for name in frame.species], dtype=np.int64)
        if frame.n_atoms and int(frame.types.max()) >= mapping.size:
            raise ValueError(f"frame has type {int(frame.types.max())} but names only {len(frame.species)} species")
        new_types = mapping[frame.types]
        if frame.n_atoms and new_types.min() < 0:
            missing = sorted({str(frame.species[t]) for t in np.unique(frame.types) if mapping[t] < 0})
            raise ValueError(f"frame species {missing} are unknown to this model (species {self.species})")
        return dataclasses.replace(frame, types=new_types, species=tuple(self.species))

    def predict(
        self,
        frame: Frame,
        centers: np.ndarray | None = None,
        neighbors: NeighborList | None = None,
    ) -> np.ndarray:
        """Outputs (n_centers, n_outputs) float64; rows follow ``neighbors.centers`` if a list is given."""
        frame = self._in_model_species(frame)
        if neighbors is not None:
            idx = neighbors.centers
        else:
            idx = as_center_indices(centers, frame.n_atoms)
        X = self.descriptor.compute(frame, centers=centers if neighbors is not None else idx, neighbors=neighbors)
        out = self.predict_features(X, frame.types[idx])
        assert out.shape == (idx.shape[0], self.n_outputs)
        return out

    def native_tables(self, type_map: np.ndarray) -> dict[str, Any] | None:
        """Tables for the plugin's native C++ path, or None (default): the fix then calls :meth:`predict`.

        ``type_map[t − 1]`` is the model species of LAMMPS type t. A kind overrides this only when its
        output is exactly what the native kernel computes (see :mod:`glassfix.models.native`).
        """
        return None

    def predict_local(self, positions: np.ndarray, types: np.ndarray, rows: np.ndarray,
                      offsets: np.ndarray | None, neighbors: np.ndarray | None) -> np.ndarray | None:
        """Outputs (len(rows), n_outputs) of the atoms ``rows`` straight from an explicit-image CSR list (LAMMPS'
        owned + ghost atoms, lengths in σ, ``types`` already model species; pairs may reach beyond the
        receptive field) or, with offsets None (models that :meth:`bins_locally`), from the positions alone;
        or None (default): the fix then builds a NeighborList and calls :meth:`predict`."""
        return None

    def bins_locally(self, dim: int) -> bool:
        """Whether :meth:`predict_local` finds the environments itself from explicit-image positions of
        dimension ``dim`` (then the engine passes no neighbour list)."""
        return False

    @abstractmethod
    def predict_features(self, X: np.ndarray, center_types: np.ndarray) -> np.ndarray:
        """Outputs (n, n_outputs) from descriptor rows X (n, n_features) and the centres' 0-based types."""

    # ---- persistence ------------------------------------------------------------------------------

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """Kind-specific JSON parameters stored in the manifest's "params"."""

    @abstractmethod
    def arrays(self) -> dict[str, np.ndarray]:
        """Numeric arrays stored in arrays.npz."""

    def manifest(self) -> dict[str, Any]:
        """The manifest.json content (format fields are added by save_model_file)."""
        return {
            "kind": self.kind,
            "species": list(self.species),
            "descriptor": self.descriptor.spec(),
            "outputs": list(self.output_names),
            "params": self.params(),
            "provenance": dict(self.provenance),
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write this model to ``path`` (a *.glassfix zip, atomically)."""
        return save_model_file(path, self.manifest(), self.arrays())

    @classmethod
    @abstractmethod
    def from_file_contents(cls, manifest: dict[str, Any], arrays: dict[str, np.ndarray]) -> "Predictor":
        """Rebuild from a validated manifest and its arrays; ModelFileError if they are inconsistent."""

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "Predictor":
        """Load a model file; when called on a subclass, the file must be of that kind."""
        model = load_model(path)
        if cls is not Predictor and not isinstance(model, cls):
            raise ModelFileError(f"model file {str(path)!r} holds a {model.kind!r} model, not {cls.kind!r}")
        return model

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(kind={self.kind!r}, species={self.species}, "
            f"outputs={self.output_names}, receptive_field={self.receptive_field:g})"
        )


def load_model(path: str | os.PathLike[str]) -> Predictor:
    """Load a ``*.glassfix`` model file; ModelFileError (naming the file and the fix) on any problem."""
    manifest, arrays = read_model_file(path, known_kinds=MODEL_KINDS.names(aliases=True))
    cls = MODEL_KINDS.get(manifest["kind"])
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
