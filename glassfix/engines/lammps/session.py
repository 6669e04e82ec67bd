"""The one LAMMPS session of glassfix: an in-process LAMMPS instance driven from Python, and the box
commands that put a periodic cell into it.

Every in-process use of LAMMPS — the protocols, the isoconfigurational replicas, the hybrid MD + swap
driver, the reproductions — goes through :class:`LammpsSession`, so errors, thread pinning and frame
gathering behave the same everywhere. Units: LJ reduced units (lengths σ_AA).

This module stays light (no numba import at module level): isoconfigurational workers start many
processes and import it on their hot path.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, Iterable, Mapping

import numpy as np

from glassfix.engines.lammps.runner import LammpsError, import_lammps

if TYPE_CHECKING:
    from glassfix.core.frame import Frame

__all__ = ["LammpsSession", "quote", "box_commands", "single_rank_comm"]


def quote(path: str | os.PathLike[str]) -> str:
    """A path as one LAMMPS argument (quoted when it contains whitespace or quotes are needed); ValueError if
    LAMMPS cannot take it."""
    s = str(path)
    if any(c.isspace() for c in s) or "#" in s or "$" in s:
        if '"' in s:
            raise ValueError(f"path {s!r} contains both whitespace and a double quote; LAMMPS cannot take it")
        return f'"{s}"'
    return s


def box_commands(cell: np.ndarray, origin: np.ndarray, n_types: int, atom_style: str = "atomic") -> list[str]:
    """``units lj`` … ``create_box`` for a periodic cell (rows = box vectors, σ_AA) in 2D or 3D.

    LAMMPS restricted triclinic needs a=(lx,0,0), b=(xy,ly,0), c=(xz,yz,lz); other cells raise ValueError.
    Bounds are written at full precision (repr). A 2D box spans z ∈ [−0.5, 0.5].
    """
    from glassfix.core.cell import cell_to_lammps_box

    cell = np.asarray(cell, dtype=np.float64)
    d = cell.shape[0]
    box = cell_to_lammps_box(cell, np.asarray(origin, dtype=np.float64))
    lo, hi = list(box["lo"]), list(box["hi"])
    if d == 2:
        lo, hi = lo + [-0.5], hi + [0.5]
    tilt = (box["xy"], box["xz"], box["yz"])
    bounds = " ".join(repr(float(v)) for pair in zip(lo, hi) for v in pair)
    if any(v != 0.0 for v in tilt):
        region = f"region box prism {bounds} {' '.join(repr(float(v)) for v in tilt)}"
    else:
        region = f"region box block {bounds}"
    return ["units lj", f"dimension {d}", f"atom_style {atom_style}", "boundary p p p", "atom_modify map array",
            region, f"create_box {int(n_types)} box"]


def single_rank_comm() -> Any:
    """MPI.COMM_SELF when mpi4py is initialised (a worker inside mpirun or an MPI pool), else None.

    One rank per task: under mpi4py COMM_WORLD spans other processes, and a LAMMPS instance on it would
    wait for them forever.
    """
    mpi = sys.modules.get("mpi4py.MPI")
    return mpi.COMM_SELF if mpi is not None and mpi.Is_initialized() else None


class LammpsSession:
    """One LAMMPS instance driven from Python: in-process on 1 rank, or on ``comm`` under mpirun.

    ``command`` raises :class:`LammpsError` with LAMMPS' error text and the offending command.
    ``frame`` gathers all atoms (ordered by id) into a :class:`Frame` on every rank.
    """

    def __init__(self, comm: Any = None, log: str | os.PathLike[str] | None = None, lammps_module: Any = None) -> None:
        lammps = lammps_module if lammps_module is not None else import_lammps()
        args = ["-log", "none", "-screen", "none", "-nocite"]
        self.comm = comm
        self.lmp = lammps.lammps(cmdargs=args, comm=comm) if comm is not None else lammps.lammps(cmdargs=args)
        self.rank = comm.Get_rank() if comm is not None else 0
        self.single_thread()
        if log is not None:
            self.command(f"log {quote(log)} append")

    def single_thread(self) -> None:
        """Pin LAMMPS to one OpenMP thread per rank (call after ``clear`` too).

        With OMP_NUM_THREADS set, LAMMPS takes its thread count from the OpenMP runtime whenever an
        instance is created or cleared, and numba (used in this process for D²min, or by the plugin's
        embedded Python) may have raised it: more threads than cores beside busy-polling MPI ranks made a
        2-rank box/relax minimisation ~100× slower (measured). The protocols use no /omp styles.
        """
        if int(self.lmp.extract_setting("nthreads")) > 1 and self.lmp.has_package("OPENMP"):
            self.command("package omp 1")

    @property
    def root(self) -> bool:
        """Whether this is MPI rank 0 (the only rank that writes files)."""
        return self.rank == 0

    def command(self, cmd: str) -> None:
        """Execute one LAMMPS command."""
        try:
            self.lmp.command(cmd)
        except Exception as exc:  # the lammps module raises plain Exception with LAMMPS' message
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if msg.startswith("ERROR"):
                msg = msg.split(":", 1)[1].strip() if ":" in msg else msg
            raise LammpsError(msg, last_command=cmd) from None

    def commands(self, cmds: Iterable[str]) -> None:
        """Execute commands in order."""
        for c in cmds:
            self.command(c)

    def thermo(self) -> dict[str, float]:
        """The last thermo output (keyword → value) of the last run or minimisation."""
        return {k: float(v) for k, v in self.lmp.last_thermo().items()}

    @property
    def natoms(self) -> int:
        """Total number of atoms."""
        return int(self.lmp.get_natoms())

    @property
    def timestep(self) -> int:
        """The current LAMMPS time step."""
        return int(self.lmp.extract_global("ntimestep"))

    def box(self) -> tuple[np.ndarray, np.ndarray]:
        """(cell (3, 3) rows = box vectors, origin (3,)) of the current box."""
        from glassfix.core.cell import lammps_box_to_cell

        lo, hi, xy, yz, xz, _, _ = self.lmp.extract_box()
        return lammps_box_to_cell(np.array(lo), np.array(hi), xy, xz, yz)

    def _gather(self, name: str, dtype: int, count: int) -> np.ndarray:
        arr = self.lmp.gather_atoms_concat(name, dtype, count)
        return np.array(np.ctypeslib.as_array(arr), copy=True).reshape(-1, count) if count > 1 else \
            np.array(np.ctypeslib.as_array(arr), copy=True)

    def frame(self, system: Any, velocities: bool = False, step: int | None = None, time_: float = 0.0,
              metadata: Mapping[str, Any] | None = None) -> "Frame":
        """All atoms as a Frame (sorted by id, 0-based types, unwrapped = x + image · cell)."""
        from glassfix.core.frame import Frame

        d = int(system.dim)
        ids = self._gather("id", 0, 1).astype(np.int64)
        types = self._gather("type", 0, 1).astype(np.int64) - 1
        x = self._gather("x", 1, 3)
        image = self._gather("image", 0, 3).astype(np.float64)
        order = np.argsort(ids, kind="stable")
        cell, origin = self.box()
        unwrapped = x + image @ cell
        v = self._gather("v", 1, 3)[order, :d] if velocities else None
        return Frame(
            positions=x[order, :d], types=types[order], cell=cell[:d, :d], origin=origin[:d], ids=ids[order],
            species=tuple(system.species), unwrapped=unwrapped[order, :d], velocities=v,
            step=self.timestep if step is None else int(step), time=float(time_),
            metadata={"system": system.name, **dict(metadata or {})},
        )

    def close(self) -> None:
        """Free the LAMMPS instance."""
        try:
            self.lmp.close()
        except Exception:  # closing twice or after a LAMMPS error is harmless
            pass
