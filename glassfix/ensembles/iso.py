"""Isoconfigurational ensembles: N_R NVE replicas per stored configuration, labels appended to the store.

Protocol (``shared/science/004_botan.md`` §1.2, ``001_jung.md`` §3.1, ``000_ace.md`` §1.2): every replica
starts from the stored positions with fresh Maxwell–Boltzmann velocities at the temperature T, runs NVE in
LAMMPS and returns the unwrapped positions at each time of a grid. From the R replicas the launcher
computes the propensity S_i(t) = ⟨|r_i(t) − r_i(0)|⟩ (optionally the cage-relative variant and the
bond-breaking propensity C_B) and appends replicas and labels to the dataset store.

This module is the launcher (:func:`run_iso`): plan the frames, submit replica tasks to an executor
(bounded in flight), commit each finished replica to its sidecar file and the journal, and once all R
replicas of a frame exist stack them into ``replicas/t=<time>`` (R, N, d) of the store, add the labels
and delete the sidecar files. Only this process writes (single writer), so a killed launcher resumes
without recomputing finished replicas or duplicating anything. The pieces (``docs/ensembles.md``):

* :mod:`.timegrid` — time grids and their specs (``log:``, times, ``steps:``, ``bb:``);
* :mod:`.replica` — the worker: one deterministic single-rank LAMMPS run of a :class:`ReplicaTask`;
* :mod:`.journal` — the sidecar: append-only fsync'ed journal and durable per-replica files;
* :mod:`.labels` — propensity, cage-relative propensity and bond-breaking labels from the replicas;
* :mod:`.plan` — settings, per-frame plans, fingerprints and the pilot runs of ``bb:`` grids;
* :mod:`.report` — per-temperature rows, the run summary and progress callbacks;
* :mod:`.executors` — local processes, mpi4py.futures, Dask, serial.

Units: LJ reduced units of the system (lengths σ_AA, times τ, temperatures ε_AA/k_B).
"""

from __future__ import annotations

import dataclasses
import os
import socket
import time
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from pathlib import Path
from typing import Any

import numpy as np

from .journal import IsoJournal
from .labels import DEFAULT_BB_FACTORS, bond_breaking_cutoffs, compute_labels, label_names
from .plan import FramePlan, IsoSettings, frame_fingerprint, plan_frames, replica_task, resolve_bond_breaking_grids
from .replica import run_replica
from .report import IsoProgress, IsoReport, TemperatureRow
from .timegrid import parse_time_grid

__all__ = ["run_iso"]


def run_iso(store_path: str | os.PathLike[str], settings: IsoSettings, executor: Executor | None = None,
            workers: int | None = None, progress: IsoProgress | None = None,
            max_in_flight: int | None = None) -> IsoReport:
    """Run the isoconfigurational ensembles of a store's frames and append replicas and labels to it.

    ``executor``: any ``concurrent.futures.Executor`` (see :mod:`glassfix.ensembles.executors`); None
    makes a local process pool of ``workers`` processes (default: all usable cores) and shuts it down.
    ``max_in_flight``: tasks submitted ahead (default 2 × workers + 1), which bounds memory.
    Resumable: finished replicas (sidecar files) and committed frames are skipped; rerun the same call.
    """
    from ..data.store import DatasetStore
    from .executors import default_workers, get_executor

    progress = progress or IsoProgress()
    if settings.replicas < 1:
        raise ValueError(f"replicas must be >= 1, got {settings.replicas}")
    if settings.engine not in ("lammps", "openmm"):
        raise ValueError(f"engine must be 'lammps' or 'openmm', got {settings.engine!r}")
    if settings.replica_dtype not in ("float64", "float32"):
        raise ValueError(f"replica_dtype must be 'float64' or 'float32', got {settings.replica_dtype!r}")
    bb_grid = settings.times.strip().startswith("bb:")
    grid = None if bb_grid else parse_time_grid(settings.times, settings.dt)
    t_start = time.perf_counter()
    own = executor is None
    n_workers = workers or (_executor_workers(executor) if executor is not None else None) or default_workers()
    journal = IsoJournal(store_path)
    report = IsoReport({}, 0.0, 0, 0, [], journal.path)
    store = DatasetStore(store_path, "a")  # exclusive lock: one launcher per store
    try:
        plans = plan_frames(store, settings)
        if executor is None:
            executor = get_executor("local", n_workers)
        journal.append("run", pid=os.getpid(), host=socket.gethostname(), settings=dataclasses.asdict(settings),
                       frames=len(plans))
        if bb_grid:
            report.grids = resolve_bond_breaking_grids(plans, settings, executor, journal, progress)
        bb_factors = settings.bb_factors or (DEFAULT_BB_FACTORS if bb_grid else None)
        for p in plans:
            if grid is not None:
                p.grid = grid
            assert p.grid is not None
            p.fingerprint = frame_fingerprint(p.key, p.frame, p.spec, p.temperature, p.grid, settings)
            p.frame_dir = journal.frame_dir(p.fingerprint)
            row = report.rows.setdefault(p.temperature, TemperatureRow(p.temperature))
            row.frames += 1
            row.replicas_total += settings.replicas
            stored = store.replicas_names(p.key)
            wanted = p.grid.labels
            have = [t for t in wanted if t in stored]
            if have:
                counts = {t: _stored_replica_count(store, p.key, t) for t in have}
                bad = {t: c for t, c in counts.items() if c != settings.replicas}
                if bad:
                    raise ValueError(f"frame {p.key!r} already has replica sets {bad} (time label: replicas) "
                                     f"with another number of replicas than {settings.replicas}; use "
                                     f"--replicas {next(iter(bad.values()))} or a new store")
            if len(have) == len(wanted):
                p.stored = True
                p.done = {r: Path() for r in range(settings.replicas)}
            else:
                p.done = journal.finished_replicas(p.frame_dir, settings.replicas,
                                                   (len(p.grid.steps), p.frame.n_atoms, p.frame.dim))
            row.replicas_done += len(p.done)
        total = len(plans) * settings.replicas
        already = sum(len(p.done) for p in plans)
        report.tasks_skipped = already
        progress.start(total, already)

        def commit(p: FramePlan) -> None:
            """Stack the replicas of a frame into the store (if not yet there) and add its labels."""
            assert p.grid is not None
            labels_t = p.grid.labels
            if p.stored:
                reps = {t: v for t, v in store.replicas(p.key).items() if t in labels_t}
            else:
                arr = np.stack([np.load(p.done[r], allow_pickle=False) for r in range(settings.replicas)])
                arr = arr.astype(settings.replica_dtype, copy=False)
                reps = {t: np.ascontiguousarray(arr[:, k]) for k, t in enumerate(labels_t)}
                # sets already stored (a kill between two commits) are kept by add_replicas; they must agree
                old = {t: v for t, v in store.replicas(p.key).items() if t in reps}
                clash = [t for t, v in old.items() if not np.array_equal(v, reps[t])]
                if clash:
                    raise ValueError(f"frame {p.key!r}: the stored replica sets {clash} differ from this run's "
                                     f"(other seed, dt or system?); use the settings they were made with or a "
                                     f"new store")
                store.add_replicas(p.key, reps)
            params = {"T": p.temperature, "dt": float(settings.dt), "seed": int(settings.seed),
                      "rescale": int(settings.rescale), "system": p.spec.name}
            extra = {t: {"step": int(s), **({"bb_target": float(c)} if p.grid.targets else {})}
                     for t, s, c in zip(labels_t, p.grid.steps, p.grid.targets or [None] * len(labels_t))}
            cut = bond_breaking_cutoffs(p.system, bb_factors) if bb_factors else None
            labels = compute_labels(p.frame, reps, cage_radius=settings.cage_radius, bb_cut=cut, params=params,
                                    extra_params=extra)
            names = set(store.label_names(p.key))
            store.add_labels(p.key, {k: v for k, v in labels.items() if k not in names})
            if not p.stored:
                journal.append("frame", key=p.key, fingerprint=p.fingerprint, labels=sorted(labels))
            p.stored = True
            report.frames_committed.append(p.key)
            progress.frame(p.key)
            if not settings.keep_sidecar and p.frame_dir is not None and p.frame_dir.exists():
                for f in p.frame_dir.iterdir():
                    f.unlink()
                p.frame_dir.rmdir()

        # Frames whose replicas were all finished (or stored) before a kill: commit them first.
        for p in plans:
            if len(p.done) == settings.replicas and (not p.stored or not _labels_complete(store, p, settings,
                                                                                          bb_factors)):
                commit(p)
        todo = [(p, r) for p in plans for r in range(settings.replicas) if r not in p.done]
        by_key = {p.key: p for p in plans}
        limit = max_in_flight or (2 * n_workers + 1)
        pending: dict[Future, tuple[FramePlan, int]] = {}
        it = iter(todo)

        def fill() -> None:
            for p, r in it:
                journal.append("submit", key=p.key, replica=r, fingerprint=p.fingerprint)
                pending[executor.submit(run_replica, replica_task(p, r, settings))] = (p, r)
                if len(pending) >= limit:
                    return

        fill()
        while pending:
            finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for fut in finished:
                p, r = pending.pop(fut)
                try:
                    res = fut.result()  # a failed replica stops the launcher; finished work stays on disk
                except Exception as exc:
                    raise RuntimeError(f"replica {r} of frame {p.key!r} failed: {exc} (finished replicas are "
                                       f"kept; fix the cause and rerun to resume)") from exc
                assert p.frame_dir is not None and p.grid is not None
                path = journal.write_replica(p.frame_dir, r, res.positions, {
                    "key": p.key, "fingerprint": p.fingerprint, "T": p.temperature, "dt": settings.dt,
                    "steps": list(p.grid.steps), "seed": settings.seed, "shape": list(res.positions.shape)})
                journal.append("done", key=p.key, replica=r, fingerprint=p.fingerprint, wall=round(res.wall, 4),
                               atom_steps=res.atom_steps, worker=res.worker)
                p.done[r] = path
                row = report.rows[p.temperature]
                row.replicas_done += 1
                row.replicas_run += 1
                row.atom_steps += res.atom_steps
                row.worker_seconds += res.wall
                report.tasks_run += 1
                progress.replica(res)
                if len(by_key[p.key].done) == settings.replicas:
                    commit(p)
            fill()
        for p in plans:
            if p.stored:
                report.rows[p.temperature].frames_done += 1
    finally:
        report.wall = time.perf_counter() - t_start
        try:
            store.close()
        finally:
            journal.close()
            progress.close()
            if own and executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)
    return report


def _stored_replica_count(store: Any, key: str, t: str) -> int:
    """R of a stored replica set, read from the dataset's shape (DatasetStore.replicas would load the data)."""
    from ..data.names import quote_name

    return int(store._frame_group(key)["replicas"][quote_name(t)].shape[0])


def _executor_workers(executor: Executor) -> int | None:
    """Worker count of a process pool (``_max_workers``) or an MPI pool (``num_workers``), if it says."""
    for attr in ("num_workers", "_max_workers"):
        try:
            n = getattr(executor, attr, None)
        except Exception:  # noqa: BLE001 - mpi4py may need a started pool to answer
            n = None
        if isinstance(n, int) and n > 0:
            return n
    return None


def _labels_complete(store: Any, p: FramePlan, settings: IsoSettings, bb_factors: Any) -> bool:
    """Whether every label this run makes for frame ``p`` is already in the store."""
    assert p.grid is not None
    names = set(store.label_names(p.key))
    return set(label_names(p.grid.labels, settings.cage_radius, bool(bb_factors))) <= names
