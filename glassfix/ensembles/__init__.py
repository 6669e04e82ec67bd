"""Ensemble launchers: isoconfigurational replicas with labels appended to a dataset store, and the
executors (local processes, mpi4py.futures, Dask) they run on. See ``docs/ensembles.md``.

One concern per module: ``timegrid`` (time grids), ``replica`` (the LAMMPS worker, velocities, seeds),
``journal`` (the sidecar journal and per-replica files), ``labels`` (propensity and bond-breaking labels),
``plan`` (settings, frame plans, ``bb:`` pilots), ``report`` (summary and progress), ``iso`` (the launcher
``run_iso``), ``executors`` and ``bench`` (the command: ``glassfix.cli.iso``). The names below are the public
API.
"""

from .executors import EXECUTORS, SerialExecutor, default_workers, executor_context, get_executor
from .iso import run_iso
from .journal import IsoJournal
from .labels import compute_labels
from .plan import IsoSettings
from .replica import ReplicaResult, ReplicaTask, SystemSpec, make_liquid_frame, maxwell_boltzmann, replica_seed, \
    run_replica
from .report import IsoProgress, IsoReport
from .timegrid import TimeGrid, bond_breaking_grid, format_time, parse_time_grid

__all__ = [
    "EXECUTORS",
    "SerialExecutor",
    "default_workers",
    "executor_context",
    "get_executor",
    "IsoJournal",
    "IsoProgress",
    "IsoReport",
    "IsoSettings",
    "ReplicaResult",
    "ReplicaTask",
    "SystemSpec",
    "TimeGrid",
    "bond_breaking_grid",
    "compute_labels",
    "format_time",
    "make_liquid_frame",
    "maxwell_boltzmann",
    "parse_time_grid",
    "replica_seed",
    "run_iso",
    "run_replica",
]
