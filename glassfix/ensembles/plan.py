"""What the isoconfigurational launcher runs: its settings, one plan per stored frame, the frames' time grids.

:func:`plan_frames` reads the frames of a store and resolves each one's temperature and model system
(from the store, the frame's metadata or the settings); :func:`frame_fingerprint` names a (frame,
settings) pair, so the per-replica files of another run are never reused; :func:`replica_task` turns a
plan into the worker's :class:`~glassfix.ensembles.replica.ReplicaTask`. A ``bb:`` time grid is placed
per temperature by pilot runs (:func:`resolve_bond_breaking_grids`), recorded in the journal and reused
on resume.

Units: LJ reduced units of the system (lengths σ_AA, times τ, temperatures ε_AA/k_B).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .journal import IsoJournal
from .labels import DEFAULT_BB_FACTORS, bond_breaking_cutoffs, mean_bond_breaking
from .replica import ReplicaTask, SystemSpec, replica_seed, run_replica
from .report import IsoProgress
from .timegrid import TimeGrid, bond_breaking_grid, parse_bond_breaking_spec

if TYPE_CHECKING:  # the package is imported by replica workers: keep numba-backed modules out of it
    from ..core.frame import Frame

__all__ = ["IsoSettings", "FramePlan", "resolve_system", "plan_frames", "frame_fingerprint", "replica_task",
           "resolve_bond_breaking_grids"]


@dataclass
class IsoSettings:
    """What :func:`run_iso` computes (all times in τ, temperatures in ε/k_B, lengths in σ_AA).

    * ``replicas``: N_R per frame; ``times``: grid spec (:func:`parse_time_grid`, or ``bb:...``);
      ``dt``: MD timestep.
    * ``seed``: base seed of :func:`replica_seed`; ``rescale``: velocities rescaled to exactly T.
    * ``temperature`` / ``system``: override the frames' stored temperature / system name;
      ``system_kwargs``: constructor arguments of the system (default: the frame's metadata entries that
      match the system's dataclass fields, e.g. ``cutoff_style``).
    * ``keys``: frames to process (default all); ``cage_radius``: also the cage-relative propensity;
      ``bb_factors = (a, b)``: also bond breaking with cutoffs a·σ_αβ in, b·σ_αβ out.
    * ``replica_dtype``: dtype of the stored replica positions (labels are computed from the stored values).
    * ``keep_sidecar``: keep the per-replica files after a frame is committed.
    * ``pilot_frames``, ``pilot_replicas``, ``pilot_points``: pilot runs of a ``bb:`` grid per temperature.
    * ``engine``: ``"lammps"`` (one in-process rank per replica) or ``"openmm"``
      (:mod:`glassfix.engines.openmm.replica`, ``best_platform``, one CPU thread per replica).
    """

    replicas: int = 32
    times: str = "log:0.01:100:10"
    dt: float = 0.005
    seed: int = 0
    rescale: bool = True
    temperature: float | None = None
    system: str | None = None
    system_kwargs: dict[str, Any] | None = None
    keys: list[str] | None = None
    cage_radius: float | None = None
    bb_factors: tuple[float, float] | None = None
    replica_dtype: str = "float64"
    keep_sidecar: bool = False
    engine: str = "lammps"
    pilot_frames: int = 4
    pilot_replicas: int = 2
    pilot_points: int = 48


@dataclass
class FramePlan:
    """One stored frame to run: its key, starting frame, T, system (object and spec), and once resolved
    its time grid, fingerprint, per-replica file directory, finished replicas and whether it is stored."""

    key: str
    frame: Frame
    temperature: float
    system: Any
    spec: SystemSpec
    grid: TimeGrid | None = None
    fingerprint: str = ""
    frame_dir: Path | None = None
    done: dict[int, Path] = field(default_factory=dict)
    stored: bool = False


def resolve_system(name: str, metadata: Mapping[str, Any] | None = None,
                   kwargs: Mapping[str, Any] | None = None) -> Any:
    """Build system ``name`` with ``kwargs``, else with the ``metadata`` entries matching its dataclass
    fields (how :meth:`KobAndersen3D.initial_frame` records ``cutoff_style`` and ``rc_factor``)."""
    from ..systems import get_system

    if kwargs is not None:
        return get_system(name, **dict(kwargs))
    base = get_system(name)
    if metadata and dataclasses.is_dataclass(base):
        names = {f.name for f in dataclasses.fields(base) if f.init}
        found = {k: metadata[k] for k in names if k in metadata}
        if found:
            return get_system(name, **found)
    return base


def plan_frames(store: Any, settings: IsoSettings) -> list[FramePlan]:
    """One plan per frame of ``settings.keys`` (default all) of an open store; one line naming the fix for a
    frame without temperature, system or full periodicity."""
    keys = list(dict.fromkeys(settings.keys)) if settings.keys is not None else store.keys()  # no duplicates
    missing = [k for k in keys if not store.has_frame(k)]
    if missing:
        raise KeyError(f"{store.path}: no frame {missing[0]!r}; list frames with 'glassfix data info {store.path}'")
    systems: dict[tuple, tuple[Any, SystemSpec]] = {}
    plans = []
    for key in keys:
        info = store.frame_info(key)
        frame = store.frame(key)
        if not frame.pbc.all():
            raise ValueError(f"frame {key!r} is not periodic in every direction; the isoconfigurational "
                             f"launcher needs a fully periodic box")
        temp = settings.temperature
        if temp is None:
            temp = info.get("temperature")
            if temp is None or not math.isfinite(float(temp)):
                temp = frame.metadata.get("T", frame.metadata.get("temperature"))
        if temp is None or not math.isfinite(float(temp)) or float(temp) <= 0:
            raise ValueError(f"frame {key!r} has no temperature (stored: {info.get('temperature')}); pass --T")
        name = settings.system or info.get("system")
        if not name or name == "unknown":
            raise ValueError(f"frame {key!r} has no system name; pass --system (e.g. ka3d)")
        meta_kwargs = {k: v for k, v in frame.metadata.items() if isinstance(v, (str, int, float, bool))}
        sig = (name, json.dumps(settings.system_kwargs, sort_keys=True, default=str) if settings.system_kwargs
               is not None else json.dumps(meta_kwargs, sort_keys=True, default=str))
        if sig not in systems:
            system = resolve_system(name, meta_kwargs, settings.system_kwargs)
            systems[sig] = (system, SystemSpec.from_system(system))
        system, spec = systems[sig]
        if frame.dim != spec.dim:
            raise ValueError(f"frame {key!r} is {frame.dim}D but system {name} is {spec.dim}D; pass --system")
        plans.append(FramePlan(key, frame, float(temp), system, spec))
    return plans


def frame_fingerprint(key: str, frame: Frame, spec: SystemSpec, temperature: float, grid: TimeGrid,
                      settings: IsoSettings) -> str:
    """SHA-256 (hex) of what a frame's replicas depend on: key, system, T, grid, seed, rescale and the arrays."""
    h = hashlib.sha256()
    h.update(json.dumps({"key": key, "system": spec.fingerprint(), "T": float(temperature), "dt": grid.dt,
                         "steps": list(grid.steps), "seed": int(settings.seed), "rescale": bool(settings.rescale),
                         "version": 1, **({"engine": settings.engine} if settings.engine != "lammps" else {})},
                        sort_keys=True).encode())
    # the starting arrays too: a store rebuilt under the same key must not reuse old replicas
    for a in (frame.positions, frame.types, frame.cell, frame.origin):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def replica_task(plan: FramePlan, r: int, settings: IsoSettings, steps: Sequence[int] | None = None,
                 seed: int | None = None) -> ReplicaTask:
    """The worker task of replica ``r`` of ``plan`` (default steps: the plan's grid; seed: :func:`replica_seed`)."""
    fr = plan.frame
    return ReplicaTask(plan.key, r, replica_seed(settings.seed, plan.key, r) if seed is None else seed,
                       fr.positions, fr.types, fr.cell, fr.origin, plan.spec, plan.temperature,
                       tuple(plan.grid.steps if steps is None else steps), float(settings.dt), settings.rescale,
                       settings.engine, plan.system if settings.engine == "openmm" else None)


def resolve_bond_breaking_grids(plans: list[FramePlan], settings: IsoSettings, executor: Executor,
                                journal: IsoJournal, progress: IsoProgress) -> dict[float, dict[str, Any]]:
    """Pilot runs per temperature for a ``bb:`` grid, which set every plan's grid; returns the grids and pilot
    curves per temperature (times τ, C_B dimensionless). Results are reused from the journal on resume."""
    targets, tmax = parse_bond_breaking_spec(settings.times)
    factors = settings.bb_factors or DEFAULT_BB_FACTORS
    n_max = max(int(round(tmax / settings.dt)), 2)
    pilot_steps = np.unique(np.rint(np.geomspace(1, n_max, settings.pilot_points)).astype(np.int64))
    grids: dict[float, dict[str, Any]] = {}
    by_t: dict[float, list[FramePlan]] = {}
    for p in plans:
        by_t.setdefault(p.temperature, []).append(p)
    old = journal.read()
    for temp, group in sorted(by_t.items()):
        pilots = group[: max(1, settings.pilot_frames)]
        ident = hashlib.sha256(json.dumps({
            "T": temp, "spec": settings.times, "dt": settings.dt, "seed": settings.seed, "factors": list(factors),
            "rescale": settings.rescale, "frames": [p.key for p in pilots], "replicas": settings.pilot_replicas,
            "points": settings.pilot_points, "system": pilots[0].spec.fingerprint()}, sort_keys=True).encode()
        ).hexdigest()
        rec = next((e for e in old if e.get("event") == "grid" and e.get("ident") == ident), None)
        if rec is None:
            progress.message(f"T={temp:g}: pilot runs ({len(pilots)} frames x {settings.pilot_replicas} replicas, "
                             f"{n_max} steps) to place the bond-breaking grid {targets}")
            pilot = tuple(int(s) for s in pilot_steps)
            futs = [executor.submit(run_replica, replica_task(p, -1 - j, settings, steps=pilot,
                                                              seed=replica_seed(settings.seed, "pilot|" + p.key, j)))
                    for p in pilots for j in range(settings.pilot_replicas)]
            curves = []
            for p, j, fut in zip([p for p in pilots for _ in range(settings.pilot_replicas)],
                                 [j for _ in pilots for j in range(settings.pilot_replicas)], futs):
                res = fut.result()
                curves.append(mean_bond_breaking(p.frame, res.positions, bond_breaking_cutoffs(p.system, factors)))
            curve = np.mean(curves, axis=0)
            grid = bond_breaking_grid(pilot_steps, curve, targets, settings.dt, settings.times)
            rec = {"ident": ident, "T": temp, "steps": list(grid.steps), "targets": list(grid.targets or ()),
                   "pilot_steps": pilot_steps.tolist(), "pilot_curve": curve.tolist()}
            journal.append("grid", **rec)
        grid = TimeGrid(tuple(rec["steps"]), float(settings.dt), settings.times, tuple(rec["targets"]))
        for p in group:
            p.grid = grid
        grids[temp] = {"steps": list(grid.steps), "times": grid.times.tolist(), "targets": list(grid.targets or ()),
                       "pilot_times": (np.asarray(rec["pilot_steps"]) * settings.dt).tolist(),
                       "pilot_curve": rec["pilot_curve"]}
    return grids
