"""Particle graphs for message-passing models (BOTAN convention, seed 004).

Every ordered pair of atoms closer than ``r_edge`` is a directed edge, in both directions (i → j and
j → i), with ``edge_vec = r_dst − r_src`` under the minimum image (length units, σ_AA for KA). That is
the graph of the BOTAN reference code (``edge_index`` src/dst, ``edge_attr``) with r_edge = 2.0.
"""

from __future__ import annotations

import numpy as np

from glassfix.core.frame import Frame
from glassfix.core.neighbors import neighbor_list

__all__ = ["build_graph"]


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
    nl = neighbor_list(frame, r_edge)
    src = nl.centers[nl.center_of_pair()]
    dst = nl.neighbors
    order = np.lexsort((dst, src))  # stable: ties (repeated images) keep the list order
    edge_index = np.ascontiguousarray(np.stack([src[order], dst[order]]).astype(np.int64, copy=False))
    edge_vec = np.ascontiguousarray(nl.vectors[order], dtype=np.float64).reshape(-1, frame.dim)
    return edge_index, edge_vec
