"""Core data structures and geometry: frames, neighbour lists, periodic cells."""

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
from .neighbors import neighbor_list

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
