"""The contract between the C++ fixes of the LAMMPS plugin and the Python bridge (versioned).

The C++ side (``kernels/fix_glass_bridge.h``, namespace ``bridge_contract``) mirrors every constant
here; :data:`CONTRACT_VERSION` changes whenever either side changes what it sends or expects, and the
plugin passes its own version to ``bridge.create`` (``info["contract_version"]``), which refuses a
mismatch with a message asking to rebuild the plugin. docs/plugin.md describes the views in full.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from glassfix.engines.lammps.model_modes import BridgeError

CONTRACT_VERSION = 2


@dataclass(frozen=True)
class ViewLayout:
    """Packed per-atom columns of a gathered view (``view["ints"]``: int32, ``view["doubles"]``: float64,
    both row-major, one row per atom in rank order)."""

    INTS_PER_ATOM: int = 3          # id, type (1-based LAMMPS type), in-group (0/1)
    INT_ID: int = 0
    INT_TYPE: int = 1
    INT_IN_GROUP: int = 2
    POSITION_COLUMNS: int = 3       # doubles start with the wrapped x, y, z (gather: ncol = 3)
    UNWRAPPED: int = 3              # glass/record: then the unwrapped x, y, z
    DOUBLES_BEFORE_VALUES: int = 6  # glass/record: then one column per recorded value


VIEW_LAYOUT = ViewLayout()


def check_contract(info: dict[str, Any]) -> None:
    """Raise BridgeError unless the plugin that calls us speaks this bridge's contract version."""
    got = info.get("contract_version")
    if got == CONTRACT_VERSION:
        return
    theirs = "no contract version (built before versioning)" if got is None else f"contract version {got}"
    raise BridgeError(f"the glassfix LAMMPS plugin speaks {theirs} but this glassfix bridge expects "
                      f"contract version {CONTRACT_VERSION}: the plugin was built from other glassfix "
                      f"sources; rebuild it with 'glassfix plugin build' and load that "
                      f"one (plugin load $(glassfix plugin path), or LAMMPS_PLUGIN_PATH=$(glassfix plugin dir))")


@dataclass(frozen=True)
class LocalAtoms:
    """Typed form of a local view (every rank in ``compute_local``): owned atoms first, then ghosts;
    LAMMPS' full neighbour list of the CSR ``rows`` (reaching up to cutoff + skin): the centres, or every
    owned atom for distributed message passing (``view["owned_rows"]``, with the ``halo`` callable that
    refreshes ghost rows of node states); arrays are zero-copy over LAMMPS memory, valid during the call
    only."""

    step: int
    nlocal: int
    positions: np.ndarray  # (nall, dim) float64, a strided view of LAMMPS' x (nall, 3)
    types: np.ndarray      # (nall,) int32 LAMMPS types (1-based)
    ids: np.ndarray        # (nall,) int32 or int64 atom ids (LAMMPS' tagint)
    centers: np.ndarray    # (ncenter,) int64 indices of the owned group atoms, in output order
    offsets: np.ndarray    # (nrows + 1,) int64 CSR offsets into neighbors
    neighbors: np.ndarray  # int32 indices (owned or ghost) of each row's neighbours
    box: tuple
    rows: np.ndarray       # (nrows,) int64 the atoms of the CSR rows: centers, or 0..nlocal-1
    halo: Any = None       # distributed message passing: halo(rows (nall, halo_width) float32), else None
    halo_width: int = 0

    @classmethod
    def from_view(cls, view: dict[str, Any], dim: int) -> "LocalAtoms":
        """Unpack the memoryviews of a local view; positions keep the first ``dim`` coordinates."""
        nall = int(view["nall"])
        x = np.frombuffer(view["x"], dtype=np.float64, count=3 * nall).reshape(nall, 3)[:, :dim]
        tagdtype = np.int32 if int(view["tag_itemsize"]) == 4 else np.int64
        centers = np.frombuffer(view["centers"], dtype=np.int32).astype(np.int64)
        rows = np.arange(int(view["nlocal"]), dtype=np.int64) if view.get("owned_rows") else centers
        return cls(step=int(view["step"]), nlocal=int(view["nlocal"]), positions=x,
                   types=np.frombuffer(view["type"], dtype=np.int32, count=nall),
                   ids=np.frombuffer(view["tag"], dtype=tagdtype, count=nall), centers=centers,
                   offsets=np.frombuffer(view["offsets"], dtype=np.int64, count=rows.size + 1),
                   neighbors=np.frombuffer(view["neighbors"], dtype=np.int32), box=tuple(view["box"]),
                   rows=rows, halo=view.get("halo"), halo_width=int(view.get("halo_width", 0)))


@dataclass(frozen=True)
class GatheredAtoms:
    """Typed form of a gathered view (rank 0 in ``compute_gather`` and ``record``): all atoms in rank
    order, unpacked by VIEW_LAYOUT; arrays are zero-copy over the fix's buffers, valid during the call."""

    step: int
    time: float
    ids: np.ndarray        # (n,) int32 atom ids
    types: np.ndarray      # (n,) int32 LAMMPS types (1-based)
    in_group: np.ndarray   # (n,) bool: the atom is in the fix group
    doubles: np.ndarray    # (n, ncol) float64, columns as in VIEW_LAYOUT
    box: tuple

    @classmethod
    def from_view(cls, view: dict[str, Any]) -> "GatheredAtoms":
        """Unpack the packed ``ints``/``doubles`` memoryviews of a gathered view."""
        lay = VIEW_LAYOUT
        n, ncol = int(view["n"]), int(view["ncol"])
        ints = np.frombuffer(view["ints"], dtype=np.int32, count=lay.INTS_PER_ATOM * n).reshape(
            n, lay.INTS_PER_ATOM)
        dbl = np.frombuffer(view["doubles"], dtype=np.float64, count=ncol * n).reshape(n, ncol)
        return cls(step=int(view["step"]), time=float(view["time"]), ids=ints[:, lay.INT_ID],
                   types=ints[:, lay.INT_TYPE], in_group=ints[:, lay.INT_IN_GROUP].astype(bool),
                   doubles=dbl, box=tuple(view["box"]))

    @property
    def n(self) -> int:
        """Number of atoms."""
        return int(self.ids.shape[0])

    def positions(self) -> np.ndarray:
        """(n, 3) wrapped positions (length units)."""
        return self.doubles[:, :VIEW_LAYOUT.POSITION_COLUMNS]

    def unwrapped(self) -> np.ndarray:
        """(n, 3) unwrapped positions (glass/record only; length units)."""
        u = VIEW_LAYOUT.UNWRAPPED
        return self.doubles[:, u:u + 3]

    def value(self, k: int) -> np.ndarray:
        """(n,) the k-th recorded per-atom value (glass/record only)."""
        return self.doubles[:, VIEW_LAYOUT.DOUBLES_BEFORE_VALUES + k]
