"""Frame and NeighborList: the two data structures every layer above the engines consumes.

Units are the engine's (LJ reduced units for the model glass formers): lengths in sigma_AA,
times in tau, energies in epsilon_AA.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Frame:
    """One configuration: positions (N, d) in length units, 0-based types, rows of ``cell`` are box vectors.

    ``origin`` is the lower corner of the box (LAMMPS ``xlo ylo zlo``); positions need not be wrapped.
    ``species`` names the 0-based types (e.g. ``("A", "B")``); ``ids`` are engine atom ids (1-based for
    LAMMPS), used to match atoms across engines, ranks and files.
    """

    positions: np.ndarray
    types: np.ndarray
    cell: np.ndarray
    origin: np.ndarray | None = None
    pbc: np.ndarray | None = None
    ids: np.ndarray | None = None
    species: tuple[str, ...] | None = None
    unwrapped: np.ndarray | None = None
    velocities: np.ndarray | None = None
    energies: np.ndarray | None = None
    step: int = 0
    time: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.positions = np.ascontiguousarray(self.positions, dtype=np.float64)
        if self.positions.ndim != 2 or self.positions.shape[1] not in (2, 3):
            raise ValueError(f"positions must have shape (N, 2) or (N, 3), got {self.positions.shape}")
        n, d = self.positions.shape
        self.types = np.ascontiguousarray(self.types, dtype=np.int64)
        if self.types.shape != (n,):
            raise ValueError(f"types must have shape ({n},), got {self.types.shape}")
        if n and self.types.min() < 0:
            raise ValueError("types must be 0-based non-negative integers")
        self.cell = np.ascontiguousarray(self.cell, dtype=np.float64)
        if self.cell.shape != (d, d):
            raise ValueError(f"cell must have shape ({d}, {d}) (rows = box vectors), got {self.cell.shape}")
        self.origin = (
            np.zeros(d) if self.origin is None else np.ascontiguousarray(self.origin, dtype=np.float64)
        )
        if self.origin.shape != (d,):
            raise ValueError(f"origin must have shape ({d},), got {self.origin.shape}")
        self.pbc = (
            np.ones(d, dtype=bool) if self.pbc is None else np.asarray(self.pbc, dtype=bool).reshape(d)
        )
        if self.ids is None:
            self.ids = np.arange(1, n + 1, dtype=np.int64)
        else:
            self.ids = np.ascontiguousarray(self.ids, dtype=np.int64)
            if self.ids.shape != (n,):
                raise ValueError(f"ids must have shape ({n},), got {self.ids.shape}")
        if self.pbc.any() and abs(np.linalg.det(self.cell[self.pbc][:, self.pbc])) <= 0:
            raise ValueError("cell is singular along its periodic directions")

    @property
    def n_atoms(self) -> int:
        """Number of atoms N."""
        return int(self.positions.shape[0])

    @property
    def dim(self) -> int:
        """Spatial dimension d (2 or 3)."""
        return int(self.positions.shape[1])

    @property
    def volume(self) -> float:
        """Box volume (area in 2D) in length^d."""
        return float(abs(np.linalg.det(self.cell)))

    def check_finite(self) -> None:
        """Raise ValueError naming the first atom id whose position is not finite."""
        bad = ~np.isfinite(self.positions).all(axis=1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"atom id {int(self.ids[i])} has a non-finite position {self.positions[i].tolist()}"
            )

    def sorted_by_id(self) -> "Frame":
        """Return a copy with atoms ordered by increasing id."""
        order = np.argsort(self.ids, kind="stable")
        def take(a):
            return None if a is None else a[order]
        return Frame(
            positions=self.positions[order], types=self.types[order], cell=self.cell.copy(),
            origin=self.origin.copy(), pbc=self.pbc.copy(), ids=self.ids[order], species=self.species,
            unwrapped=take(self.unwrapped), velocities=take(self.velocities),
            energies=take(self.energies), step=self.step, time=self.time, metadata=dict(self.metadata),
        )


@dataclass
class NeighborList:
    """CSR neighbour list: for centre ``centers[c]`` its neighbours are ``neighbors[offsets[c]:offsets[c+1]]``.

    ``vectors[p]`` is r_neighbor − r_center for the periodic image actually within the cutoff (length
    units), so consumers never apply minimum-image themselves. ``neighbors`` index the same atom arrays
    as ``centers`` (offline: the original atom of the image; inside LAMMPS: local or ghost atoms). Pairs
    satisfy 0 < |vector| < cutoff; an atom may appear several times (different images) in small boxes.
    """

    centers: np.ndarray
    offsets: np.ndarray
    neighbors: np.ndarray
    vectors: np.ndarray
    cutoff: float

    def __post_init__(self) -> None:
        self.centers = np.ascontiguousarray(self.centers, dtype=np.int64)
        self.offsets = np.ascontiguousarray(self.offsets, dtype=np.int64)
        self.neighbors = np.ascontiguousarray(self.neighbors, dtype=np.int64)
        self.vectors = np.ascontiguousarray(self.vectors, dtype=np.float64)
        if self.offsets.shape != (self.centers.shape[0] + 1,):
            raise ValueError("offsets must have length n_centers + 1")
        if self.vectors.shape[0] != self.neighbors.shape[0]:
            raise ValueError("vectors and neighbors must have the same length")

    @property
    def n_centers(self) -> int:
        """Number of centre atoms."""
        return int(self.centers.shape[0])

    @property
    def n_pairs(self) -> int:
        """Number of (centre, neighbour) pairs."""
        return int(self.neighbors.shape[0])

    def counts(self) -> np.ndarray:
        """Number of neighbours of each centre."""
        return np.diff(self.offsets)

    def distances(self) -> np.ndarray:
        """|r_neighbor − r_center| for every pair, length units."""
        return np.sqrt(np.einsum("ij,ij->i", self.vectors, self.vectors))

    def center_of_pair(self) -> np.ndarray:
        """Index (into ``centers``) of the centre of every pair."""
        return np.repeat(np.arange(self.n_centers, dtype=np.int64), self.counts())

    def within(self, cutoff: float) -> "NeighborList":
        """Sub-list of the pairs with |vector| < cutoff (strict), keeping pair order."""
        if cutoff > self.cutoff:
            raise ValueError(f"cannot widen a neighbour list from {self.cutoff} to {cutoff}")
        keep = self.distances() < cutoff
        if keep.all():
            return NeighborList(self.centers, self.offsets, self.neighbors, self.vectors, cutoff)
        cpair = self.center_of_pair()
        counts = np.bincount(cpair[keep], minlength=self.n_centers)
        offsets = np.zeros(self.n_centers + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        return NeighborList(self.centers, offsets, self.neighbors[keep], self.vectors[keep], cutoff)
