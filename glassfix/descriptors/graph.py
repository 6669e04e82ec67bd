"""Particle graphs for message-passing models (BOTAN convention, seed 004).

Every ordered pair of atoms closer than ``r_edge`` is a directed edge, in both directions (i → j and
j → i), with ``edge_vec = r_dst − r_src`` under the minimum image (length units, σ_AA for KA). That is
the graph of the BOTAN reference code (``edge_index`` src/dst, ``edge_attr``) with r_edge = 2.0.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from glassfix.core.frame import Frame, NeighborList
from glassfix.core.neighbors import neighbor_list
from glassfix.descriptors.base import Descriptor, check_cutoff, register_descriptor

__all__ = ["build_graph", "ParticleGraph"]


def build_graph(frame: Frame, r_edge: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Directed edges for all pairs with 0 < |r_dst − r_src| < r_edge, built in O(N) with a cell list.

    Returns ``edge_index`` (2, E) int64 (row 0 = src, row 1 = dst, 0-based atom indices of ``frame``)
    and ``edge_vec`` (E, d) float64 = r_dst − r_src for the periodic image within r_edge. Edges are
    sorted by (src, dst) (lexicographically: by source, then by destination), the order of the
    BOTAN reference. The edge set is symmetric and ``edge_vec`` of j → i is minus that of i → j.

    When every periodic width of the cell is ≥ 2 r_edge the image within r_edge is unique (minimum
    image). In a narrower cell every image within r_edge is an edge of its own (an atom's own images
    included, as src == dst), so a (src, dst) pair may repeat; repeats keep the neighbour list's
    deterministic order.
    """
    r_edge = float(r_edge)
    if not (np.isfinite(r_edge) and r_edge > 0):
        raise ValueError(f"r_edge must be a positive length, got {r_edge!r}")
    check_cutoff(frame, r_edge, name="r_edge")
    nl = neighbor_list(frame, r_edge)
    src = nl.centers[nl.center_of_pair()]
    dst = nl.neighbors
    order = np.lexsort((dst, src))  # stable: ties (repeated images) keep the list order
    edge_index = np.ascontiguousarray(np.stack([src[order], dst[order]]).astype(np.int64, copy=False))
    edge_vec = np.ascontiguousarray(nl.vectors[order], dtype=np.float64).reshape(-1, frame.dim)
    return edge_index, edge_vec


@register_descriptor
class ParticleGraph(Descriptor):
    """Input of a message-passing model: node feature = the atom's 0-based type as a float (BOTAN's
    A → 0.0, B → 1.0), edges = :func:`build_graph` with ``r_edge`` (length units), which is ``cutoff``.

    ``compute`` gives the node features only; models build the edges with :meth:`graph`.
    """

    kind = "particle_graph"

    def __init__(self, n_species: int = 2, r_edge: float = 2.0,
                 species_names: Sequence[str] | None = None) -> None:
        """n_species ≥ 1 node types; r_edge > 0 edge cutoff (length units)."""
        if not isinstance(n_species, (int, np.integer)) or n_species < 1:
            raise ValueError(f"n_species must be a positive integer, got {n_species!r}")
        r_edge = float(r_edge)
        if not (np.isfinite(r_edge) and r_edge > 0):
            raise ValueError(f"r_edge must be a positive length, got {r_edge!r}")
        self.n_species = int(n_species)
        self.r_edge = r_edge
        self.cutoff = r_edge
        names = [chr(ord("A") + t) for t in range(self.n_species)] if species_names is None else list(species_names)
        if len(names) != self.n_species:
            raise ValueError(f"species_names has {len(names)} entries for {self.n_species} species")
        self.species_names = [str(n) for n in names]

    @property
    def names(self) -> list[str]:
        """One node feature: the type index as a float."""
        return ["type"]

    def spec(self) -> dict[str, Any]:
        """JSON-serialisable hyperparameters."""
        return {"kind": self.kind, "n_species": self.n_species, "r_edge": self.r_edge,
                "species_names": list(self.species_names)}

    def _compute(self, frame: Frame, nl: NeighborList) -> np.ndarray:
        return frame.types[nl.centers].astype(np.float64)[:, None]

    def compute(self, frame: Frame, centers: np.ndarray | None = None,
                neighbors: NeighborList | None = None) -> np.ndarray:
        """Node features (n_centers, 1): the type as a float; no neighbour search is needed."""
        from glassfix.descriptors.base import as_center_indices

        if frame.types.size and int(frame.types.max()) >= self.n_species:
            raise ValueError(f"frame has atom type {int(frame.types.max())} but the graph knows "
                             f"{self.n_species} species (types are 0-based)")
        idx = neighbors.centers if neighbors is not None else as_center_indices(centers, frame.n_atoms)
        return frame.types[idx].astype(np.float64)[:, None]

    def graph(self, frame: Frame) -> tuple[np.ndarray, np.ndarray]:
        """(edge_index (2, E) src/dst, edge_vec (E, d) = r_dst − r_src) of the whole frame."""
        return build_graph(frame, self.r_edge)
