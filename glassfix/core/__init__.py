"""Core data structures and geometry: frames, neighbour lists, periodic cells.

``neighbor_list`` is imported on first use: it is the only numba code here, and light processes (the
isoconfigurational replica workers) import ``glassfix.core.cell`` without paying numba's start-up.
"""

from typing import Any

from .cell import (
    cell_to_lammps_box,
    lammps_box_to_cell,
    minimum_image,
    perpendicular_widths,
    to_cartesian,
    to_fractional,
    wrap_positions,
)
from .frame import Frame, NeighborList

__all__ = [
    "Frame",
    "NeighborList",
    "neighbor_list",
    "perpendicular_widths",
    "to_fractional",
    "to_cartesian",
    "wrap_positions",
    "minimum_image",
    "lammps_box_to_cell",
    "cell_to_lammps_box",
]


def __getattr__(name: str) -> Any:
    """Lazy ``neighbor_list`` (PEP 562), so importing a light core module does not import numba."""
    if name == "neighbor_list":
        from .neighbors import neighbor_list

        globals()["neighbor_list"] = neighbor_list  # later look-ups skip this hook
        return neighbor_list
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
