"""Descriptor contract (DESIGN.md §4) and the registry that rebuilds descriptors from their specs.

A descriptor maps each centre atom to a fixed-length float64 feature vector that depends only on the
atoms within ``cutoff`` (its receptive field, length units). It is evaluated either offline (the
descriptor builds its own periodic neighbour list) or inside LAMMPS, where the plugin hands over a frame
of local + ghost atoms and LAMMPS' full neighbour list; that list may be longer than ``cutoff`` (the
neighbour skin), so every implementation filters pairs to r < cutoff itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from glassfix.core.frame import Frame, NeighborList
from glassfix.core.registry import Registry

__all__ = [
    "Descriptor",
    "DESCRIPTOR_KINDS",
    "register_descriptor",
    "descriptor_from_spec",
    "as_center_indices",
    "check_cutoff",
    "MAX_NEIGHBOR_PAIRS",
]

#: The most (centre, neighbour image) pairs an offline neighbour list may hold: 2^29 pairs, 16 GiB of
#: indices and vectors. A cutoff beyond that is a mistake (units, or a box-sized value), not a request.
MAX_NEIGHBOR_PAIRS = 2**29

#: kind -> Descriptor subclass. Built-ins are imported on first lookup, so this module never imports its
#: subclasses at import time (they import this module); other kinds register with ``@register_descriptor``.
DESCRIPTOR_KINDS: Registry[Any] = Registry(
    "descriptor kind",
    builtins={
        "radial_structure_functions": "glassfix.descriptors.structure_functions:RadialStructureFunctions",
        "angular_structure_functions": "glassfix.descriptors.angular:AngularStructureFunctions",
        "combined": "glassfix.descriptors.angular:CombinedDescriptor",
        "ace": "glassfix.descriptors.ace:ACEDescriptor",
        "coarse_grained": "glassfix.descriptors.coarse_grained:CoarseGrainedDescriptor",
        "interstice": "glassfix.descriptors.interstice:IntersticeDescriptor",
        "particle_graph": "glassfix.descriptors.graph:ParticleGraph",
    },
    hint="the model may need a newer glassfix",
)

#: Class decorator: make ``cls`` constructible from a spec whose "kind" is ``cls.kind``.
register_descriptor = DESCRIPTOR_KINDS.register


def check_cutoff(frame: Frame, cutoff: float, n_centers: int | None = None, name: str = "cutoff") -> float:
    """Validate a neighbour-list cutoff (length units) for ``frame`` before anything is allocated.

    Raises ValueError, naming ``name``, the value, the box and the fix, if the cutoff is not a positive
    finite length or if the list would hold more than :data:`MAX_NEIGHBOR_PAIRS` pairs (estimated from
    the atom count and the periodic images within the cutoff: an upper bound, off by the sphere/cube ratio).
    """
    rc = float(cutoff)
    if not (np.isfinite(rc) and rc > 0):
        raise ValueError(f"{name} must be a positive finite length, got {cutoff!r}")
    n = frame.n_atoms
    centres = n if n_centers is None else int(n_centers)
    if n == 0 or centres == 0:
        return rc
    pbc = np.broadcast_to(np.asarray(frame.pbc, dtype=bool), (frame.dim,))
    try:
        widths = 1.0 / np.linalg.norm(np.linalg.inv(np.asarray(frame.cell, dtype=float)), axis=0)
    except np.linalg.LinAlgError:
        return rc  # a singular cell is reported by the neighbour list itself
    images = float(np.prod([2.0 * rc / w + 1.0 for w, p in zip(widths, pbc) if p])) if pbc.any() else 1.0
    ball = np.pi / 6.0 if frame.dim == 3 else np.pi / 4.0  # sphere / circumscribed cube
    pairs = centres * n * max(images * ball, 1.0) if images > 1.0 else centres * float(n)
    if pairs > MAX_NEIGHBOR_PAIRS:
        raise ValueError(
            f"{name} {rc:g} is too large for this frame (box widths {', '.join(f'{w:g}' for w in widths)}, "
            f"{n} atoms): its neighbour list would hold about {pairs:.2g} pairs, over the limit of "
            f"{MAX_NEIGHBOR_PAIRS:.3g} (glassfix.descriptors.base.MAX_NEIGHBOR_PAIRS, ~16 GiB); use a cutoff of a "
            f"few particle diameters in the frame's length units (e.g. 2.5-5.4 for Kob-Andersen)")
    return rc


def descriptor_from_spec(spec: dict[str, Any]) -> "Descriptor":
    """Rebuild a descriptor from ``Descriptor.spec()`` output; ValueError for unknown kinds or bad specs."""
    if not isinstance(spec, dict):
        raise ValueError(f"descriptor spec must be a JSON object (dict), got {type(spec).__name__}")
    kind = spec.get("kind")
    if not isinstance(kind, str):
        raise ValueError("descriptor spec has no string 'kind' field")
    cls = DESCRIPTOR_KINDS.get(kind)
    return cls.from_spec(spec)


def as_center_indices(centers: np.ndarray | None, n_atoms: int) -> np.ndarray:
    """Normalise ``centers`` (None = all atoms, int indices or a boolean mask) to int64 indices."""
    if centers is None:
        return np.arange(n_atoms, dtype=np.int64)
    c = np.asarray(centers)
    if c.dtype == bool:
        if c.shape != (n_atoms,):
            raise ValueError(f"boolean centre mask must have shape ({n_atoms},), got {c.shape}")
        return np.flatnonzero(c).astype(np.int64)
    if c.ndim != 1 or (c.size and not np.issubdtype(c.dtype, np.integer)):
        raise ValueError("centers must be a 1-D array of atom indices or a boolean mask")
    c = c.astype(np.int64, copy=False)
    if c.size and (c.min() < 0 or c.max() >= n_atoms):
        raise ValueError(f"centre indices must lie in [0, {n_atoms})")
    return np.ascontiguousarray(c)


class Descriptor(ABC):
    """Per-atom feature map with receptive field ``cutoff`` (length units); features are float64."""

    kind: ClassVar[str] = ""
    cutoff: float
    n_species: int

    @property
    @abstractmethod
    def names(self) -> list[str]:
        """Feature names, one per column of :meth:`compute`."""

    @property
    def n_features(self) -> int:
        """Number of features per centre."""
        return len(self.names)

    @abstractmethod
    def spec(self) -> dict[str, Any]:
        """JSON-serialisable dict with "kind" and every hyperparameter (round-trips via from_spec)."""

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> "Descriptor":
        """Construct from :meth:`spec` output (ValueError on unknown or missing fields)."""
        kwargs = {k: v for k, v in spec.items() if k != "kind"}
        if spec.get("kind", cls.kind) != cls.kind:
            raise ValueError(f"spec kind {spec.get('kind')!r} does not match {cls.kind!r}")
        try:
            return cls(**kwargs)
        except TypeError as exc:  # unknown / missing keyword -> a spec problem, not a programming one
            raise ValueError(f"invalid {cls.kind!r} descriptor spec: {exc}") from exc

    @abstractmethod
    def _compute(self, frame: Frame, nl: NeighborList) -> np.ndarray:
        """Features for ``nl.centers`` from the frame (``frame.types``; a descriptor of pair geometry reads
        no more) and the pair vectors of ``nl`` (pairs may exceed cutoff); ``compute`` has validated both."""

    def _checked_neighbors(self, frame: Frame, centers: np.ndarray | None,
                           neighbors: NeighborList | None) -> NeighborList:
        """The neighbour list compute() evaluates on: ``neighbors`` validated, or a periodic one built."""
        types = frame.types
        if types.size and int(types.max()) >= self.n_species:
            raise ValueError(
                f"frame has atom type {int(types.max())} but the descriptor knows {self.n_species} "
                "species (types are 0-based); map the frame's species onto the model's"
            )
        if neighbors is None:
            from glassfix.core.neighbors import neighbor_list  # lazy: core.neighbors is optional here

            idx = as_center_indices(centers, frame.n_atoms)
            check_cutoff(frame, self.cutoff, idx.size, name=f"the {self.kind} descriptor's cutoff")
            neighbors = neighbor_list(frame, self.cutoff, idx)
        else:
            if centers is not None:
                idx = as_center_indices(centers, frame.n_atoms)
                if not np.array_equal(idx, neighbors.centers):
                    raise ValueError("centers and neighbors.centers disagree; pass only the neighbour list")
            # A list shorter than the receptive field would silently drop neighbours (wrong features),
            # e.g. a LAMMPS ghost cutoff below the model's cutoff; the tolerance absorbs round-off.
            if neighbors.cutoff < self.cutoff * (1.0 - 1e-12):
                raise ValueError(
                    f"neighbour list cutoff {neighbors.cutoff:g} is shorter than the descriptor's "
                    f"receptive field {self.cutoff:g}; build the list (or set comm_modify cutoff) with "
                    f"at least {self.cutoff:g}"
                )
            if neighbors.n_pairs and (
                neighbors.neighbors.min() < 0 or neighbors.neighbors.max() >= frame.n_atoms
            ):
                raise ValueError("neighbour indices fall outside the frame's atoms")
            if neighbors.n_pairs and (
                neighbors.vectors.ndim != 2 or neighbors.vectors.shape[1] != frame.dim
            ):
                raise ValueError(f"neighbour vectors must have shape (n_pairs, {frame.dim})")
        return neighbors

    def compute(
        self,
        frame: Frame,
        centers: np.ndarray | None = None,
        neighbors: NeighborList | None = None,
    ) -> np.ndarray:
        """Features (n_centers, n_features) float64; rows follow ``neighbors.centers`` when a list is given.

        With ``neighbors`` (e.g. from LAMMPS) only ``frame.types`` is read: positions may be local +
        ghost atoms in any box. Without it a periodic list is built with ``neighbor_list``.
        """
        neighbors = self._checked_neighbors(frame, centers, neighbors)
        out = self._compute(frame, neighbors)
        assert out.shape == (neighbors.n_centers, self.n_features)
        return out

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.spec().items() if k != "kind")
        return f"{type(self).__name__}({args})"
