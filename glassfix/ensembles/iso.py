"""Isoconfigurational ensembles: N_R NVE replicas per stored configuration, labels appended to the store.

Protocol (``shared/science/004_botan.md`` §1.2, ``001_jung.md`` §3.1, ``000_ace.md`` §1.2): every replica
starts from the stored positions with fresh Maxwell–Boltzmann velocities at the temperature T (total
momentum removed; by default rescaled so the kinetic temperature with d·N − d degrees of freedom is
exactly T, as LAMMPS ``velocity create`` does), runs NVE velocity Verlet in LAMMPS, and returns the
unwrapped positions at each time of a grid. From the R replicas the launcher computes the propensity
S_i(t) = ⟨|r_i(t) − r_i(0)|⟩ (optionally the cage-relative variant and the bond-breaking propensity C_B)
and appends replicas and labels to the dataset store.

Units: LJ reduced units of the system (lengths σ_AA, times τ, temperatures ε_AA/k_B).

Design (``docs/ensembles.md``):

* The worker :func:`run_replica` is a pure function of a :class:`ReplicaTask` (plain arrays, the
  system's LAMMPS commands, T, a velocity seed, the step grid and dt): one in-process LAMMPS instance on
  one MPI rank (``MPI_COMM_SELF``), positions read at the grid steps with ``run N pre no post no`` chunks
  (the trajectory is that of one long run). LAMMPS on one rank is deterministic, so the result depends
  on the task only, never on the executor or the number of workers.
* Velocity seeds are derived from (base seed, frame key, replica index) by SHA-256
  (:func:`replica_seed`), so any subset of replicas can be (re)computed alone.
* Only the parent process writes (single writer). Each finished replica is first written atomically to a
  sidecar file ``<store>.iso/replicas/<frame hash>/r<NNNNN>.npy`` (the per-replica commit); once all R
  replicas of a frame exist they are stacked into ``replicas/t=<time>`` (R, N, d) of the store, the labels
  are added, and the sidecar files are deleted. ``<store>.iso/journal.jsonl`` is an fsync'ed
  JSON-lines log of what was submitted, finished and committed (and the pilot grids of ``bb:`` time grids).
  A killed launcher therefore resumes without recomputing finished replicas or duplicating anything.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import socket
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # the worker path must stay light: glassfix.core imports numba (~0.6 s per process)
    from ..core.frame import Frame

__all__ = [
    "TimeGrid",
    "parse_time_grid",
    "format_time",
    "replica_seed",
    "maxwell_boltzmann",
    "SystemSpec",
    "ReplicaTask",
    "ReplicaResult",
    "run_replica",
    "IsoSettings",
    "IsoReport",
    "IsoJournal",
    "IsoProgress",
    "run_iso",
    "compute_labels",
    "bond_breaking_grid",
    "make_liquid_frame",
    "launcher_throughput",
    "resolve_system",
]

# ----------------------------------------------------------------------------------------------------
# time grids
# ----------------------------------------------------------------------------------------------------


def format_time(t: float) -> str:
    """A time (τ) as the shortest plain decimal that round-trips at 12 significant digits: 0.13, 4120, 2.5e-05 → '0.000025'."""
    return np.format_float_positional(float(f"{float(t):.12g}"), trim="-")


@dataclass(frozen=True)
class TimeGrid:
    """Snapshot times of the replicas: strictly increasing integer MD ``steps`` (≥ 1) at timestep ``dt`` (τ).

    ``targets``: for a bond-breaking grid, the target values of the mean C_B each step was found for
    (same length as ``steps``), else None. ``spec``: the text it was parsed from.
    """

    steps: tuple[int, ...]
    dt: float
    spec: str = ""
    targets: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        steps = tuple(int(s) for s in self.steps)
        if not steps:
            raise ValueError(f"time grid {self.spec!r} has no times")
        if steps[0] < 1 or any(b <= a for a, b in zip(steps, steps[1:])):
            raise ValueError(f"time grid steps must be strictly increasing integers >= 1, got {list(steps)}")
        if not (self.dt > 0 and math.isfinite(self.dt)):
            raise ValueError(f"dt must be a positive time step (τ), got {self.dt}")
        object.__setattr__(self, "steps", steps)
        labels = self.labels
        if len(set(labels)) != len(labels):
            raise ValueError(f"time grid {self.spec!r}: steps {list(steps)} at dt={self.dt} give equal time "
                             f"labels {labels}; use fewer points")

    @property
    def times(self) -> np.ndarray:
        """Snapshot times (τ): steps × dt."""
        return np.asarray(self.steps, dtype=np.float64) * self.dt

    @property
    def labels(self) -> list[str]:
        """Store time labels ``t=<time in τ>`` (``replicas/<label>``, ``propensity/<label>``)."""
        return [f"t={format_time(s * self.dt)}" for s in self.steps]

    @property
    def n_steps(self) -> int:
        """MD steps of one replica (the last snapshot)."""
        return self.steps[-1]


def _floats(text: str, what: str) -> list[float]:
    try:
        vals = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"{what}: cannot parse {text!r} as comma-separated numbers") from None
    if not vals:
        raise ValueError(f"{what}: no values in {text!r}")
    return vals


def parse_time_grid(spec: str, dt: float) -> TimeGrid:
    """Parse a time-grid spec into a :class:`TimeGrid` of integer steps at timestep ``dt`` (τ).

    * ``"log:TMIN:TMAX:N"``: N log-spaced times from TMIN to TMAX (τ), each rounded to the nearest step
      (≥ 1); points that round to the same step are merged, so fewer than N may remain.
    * ``"0.13,1.3,13"``: explicit times (τ), rounded to the nearest step.
    * ``"steps:10,100,1000"``: explicit step counts.
    * ``"bb:..."`` (times where the mean bond-breaking correlation reaches targets) needs pilot runs:
      use :func:`bond_breaking_grid` / :func:`run_iso`, which call this only for the other forms.
    """
    text = str(spec).strip()
    if not (dt > 0 and math.isfinite(dt)):
        raise ValueError(f"dt must be a positive time step (τ), got {dt}")
    if text.startswith("bb:"):
        raise ValueError(f"time grid {text!r} is a bond-breaking target grid: it is resolved by pilot runs in "
                         f"run_iso (or bond_breaking_grid), not by parse_time_grid")
    if text.startswith("log:"):
        parts = text[4:].split(":")
        if len(parts) != 3:
            raise ValueError(f"log grid must be 'log:TMIN:TMAX:N' (times in τ), got {text!r}")
        try:
            tmin, tmax, n = float(parts[0]), float(parts[1]), int(parts[2])
        except ValueError:
            raise ValueError(f"log grid must be 'log:TMIN:TMAX:N' with numbers, got {text!r}") from None
        if not (0 < tmin <= tmax) or n < 1:
            raise ValueError(f"log grid needs 0 < TMIN <= TMAX and N >= 1, got {text!r}")
        if tmin < 0.5 * dt:
            raise ValueError(f"log grid TMIN={tmin} is below half a time step (dt={dt}); raise TMIN or lower --dt")
        times = np.geomspace(tmin, tmax, n)
    elif text.startswith("steps:"):
        steps = _floats(text[6:], "steps grid")
        if any(s != int(s) or s < 1 for s in steps):
            raise ValueError(f"steps grid needs positive integers, got {text!r}")
        return TimeGrid(tuple(sorted({int(s) for s in steps})), float(dt), text)
    else:
        times = np.asarray(_floats(text, "time grid (τ, comma-separated; or log:TMIN:TMAX:N)"))
        if (times <= 0).any():
            raise ValueError(f"times must be positive (τ), got {text!r}")
    steps_arr = np.rint(np.asarray(times) / dt).astype(np.int64)
    if (steps_arr < 1).any():
        bad = float(np.asarray(times)[steps_arr < 1][0])
        raise ValueError(f"time {bad} τ is less than one step of dt={dt}; use a larger time or a smaller --dt")
    return TimeGrid(tuple(sorted(set(int(s) for s in steps_arr))), float(dt), text)


# ----------------------------------------------------------------------------------------------------
# velocities and seeds
# ----------------------------------------------------------------------------------------------------


def replica_seed(base_seed: int, frame_key: str, replica: int) -> int:
    """Velocity seed of replica ``replica`` of frame ``frame_key``: first 8 bytes of
    SHA-256(``"glassfix-iso|<base_seed>|<frame_key>|<replica>"``) as an int < 2**63 (dimensionless)."""
    text = f"glassfix-iso|{int(base_seed)}|{frame_key}|{int(replica)}".encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "little") >> 1


def maxwell_boltzmann(masses: np.ndarray, temperature: float, dim: int, seed: int,
                      rescale: bool = True) -> np.ndarray:
    """Maxwell–Boltzmann velocities (N, dim) in σ/τ at ``temperature`` (ε/k_B) for per-atom ``masses``.

    Drawn with ``numpy.random.default_rng(seed)``; the total momentum is removed, and with ``rescale``
    the velocities are scaled so that Σ m v² / (d·N − d) = T exactly (the temperature LAMMPS' ``compute
    temp`` reports). Without ``rescale`` the kinetic temperature fluctuates as in the canonical ensemble.
    """
    m = np.asarray(masses, dtype=np.float64)
    if m.ndim != 1 or (m <= 0).any():
        raise ValueError("masses must be a 1-D array of positive per-atom masses")
    if not (temperature > 0 and math.isfinite(temperature)):
        raise ValueError(f"temperature must be positive (ε/k_B), got {temperature}")
    n = m.shape[0]
    if n < 2:
        raise ValueError("need at least 2 atoms (one is all centre of mass)")
    rng = np.random.default_rng(int(seed))
    v = rng.standard_normal((n, int(dim))) * np.sqrt(temperature / m)[:, None]
    v -= (m[:, None] * v).sum(axis=0) / m.sum()
    if rescale:
        t_now = float((m[:, None] * v * v).sum()) / (dim * n - dim)
        v *= math.sqrt(temperature / t_now)
    return v


# ----------------------------------------------------------------------------------------------------
# the worker
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SystemSpec:
    """Plain, picklable description of a model system: what a worker needs to rebuild the interactions."""

    name: str
    dim: int
    n_types: int
    masses: tuple[float, ...]
    commands: tuple[str, ...]

    @classmethod
    def from_system(cls, system: Any) -> "SystemSpec":
        """From a duck-typed system (``name``, ``dim``, ``species``, ``masses``, ``lammps_commands()``)."""
        missing = [a for a in ("name", "dim", "species", "masses", "lammps_commands") if not hasattr(system, a)]
        if missing:
            raise TypeError(f"{system!r} is not a glassfix system: missing {missing}")
        masses = tuple(float(x) for x in system.masses)
        if len(masses) != len(system.species):
            raise ValueError(f"system {system.name}: {len(masses)} masses for {len(system.species)} species")
        return cls(str(system.name), int(system.dim), len(system.species), masses,
                   tuple(str(c) for c in system.lammps_commands()))

    def fingerprint(self) -> str:
        """SHA-256 of the canonical JSON of the spec (hex)."""
        text = json.dumps(dataclasses.asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class ReplicaTask:
    """One replica run: the starting configuration (rows = atoms; ``types`` 0-based), the system, T (ε/k_B),
    the velocity ``seed``, snapshot ``steps`` (strictly increasing), ``dt`` (τ) and the velocity ``rescale``
    flag. ``frame_key``/``replica`` only label the result."""

    frame_key: str
    replica: int
    seed: int
    positions: np.ndarray
    types: np.ndarray
    cell: np.ndarray
    origin: np.ndarray
    system: SystemSpec
    temperature: float
    steps: tuple[int, ...]
    dt: float
    rescale: bool = True
    engine: str = "lammps"
    system_object: Any = None   # the glassfix system itself, for engine="openmm"


@dataclass
class ReplicaResult:
    """Unwrapped positions (n_times, N, d) at the task's steps, consistent with the task's positions
    (``positions[k] − task.positions`` is the displacement), plus wall time (s) and atom-steps done."""

    frame_key: str
    replica: int
    positions: np.ndarray
    wall: float
    atom_steps: int
    worker: str


def _lammps_instance(lammps_mod: Any) -> Any:
    # One rank per task: under mpi4py (MPI pool workers, a launcher inside mpirun) COMM_WORLD spans other
    # processes, and a LAMMPS instance on it would wait for them forever.
    mpi = sys.modules.get("mpi4py.MPI")
    comm = mpi.COMM_SELF if mpi is not None and mpi.Is_initialized() else None
    return lammps_mod.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"], comm=comm)


def _setup_lammps(lmp: Any, positions: np.ndarray, types: np.ndarray, cell: np.ndarray, origin: np.ndarray,
                  system: SystemSpec) -> np.ndarray:
    """Create the box, atoms (ids 1..N in row order) and interactions; returns the wrapped positions (N, d)."""
    n, d = positions.shape
    if d != system.dim:
        raise ValueError(f"frame is {d}D but system {system.name} is {system.dim}D")
    if n and (types.min() < 0 or types.max() >= system.n_types):
        raise ValueError(f"frame types span {int(types.min())}..{int(types.max())} but system {system.name} "
                         f"has {system.n_types} species (0-based types 0..{system.n_types - 1})")
    cell3 = np.eye(3)
    cell3[:d, :d] = cell
    origin3 = np.array([0.0, 0.0, -0.5])
    origin3[:d] = origin
    # LAMMPS restricted triclinic: a=(lx,0,0), b=(xy,ly,0), c=(xz,yz,lz) (as glassfix.core.cell.cell_to_lammps_box,
    # repeated here so that workers never import glassfix.core)
    if np.any(cell3[np.triu_indices(3, k=1)] != 0.0) or (np.diag(cell3) <= 0).any():
        raise ValueError(f"cell is not a LAMMPS restricted-triclinic cell (rows a=(lx,0,0), b=(xy,ly,0), "
                         f"c=(xz,yz,lz), lx, ly, lz > 0): got\n{cell}; rotate the frame first")
    wrapped = _wrap(positions, cell, origin)  # LAMMPS drops atoms created outside the box
    lo, hi = origin3, origin3 + np.diag(cell3)
    tilt = (cell3[1, 0], cell3[2, 0], cell3[2, 1])
    tri = any(v != 0.0 for v in tilt)
    bounds = " ".join(repr(float(v)) for pair in zip(lo, hi) for v in pair)  # full precision
    tilts = " ".join(repr(float(v)) for v in tilt)
    region = f"region box prism {bounds} {tilts}" if tri else f"region box block {bounds}"
    lmp.commands_list(["units lj", f"dimension {d}", "atom_style atomic", "boundary p p p",
                       "atom_modify map array", region, f"create_box {system.n_types} box"])
    x3 = np.zeros((n, 3))
    x3[:, :d] = wrapped
    created = lmp.create_atoms(n, list(range(1, n + 1)), [int(t) + 1 for t in types], x3.ravel().tolist())
    if created != n:
        raise RuntimeError(f"LAMMPS created {created} of {n} atoms: positions must be finite and inside the "
                           f"periodic cell")
    lmp.commands_list(list(system.commands))
    if d == 2:
        lmp.command("fix glassfix_2d all enforce2d")
    return wrapped


def _wrap(positions: np.ndarray, cell: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """Positions mapped into the periodic cell through fractional coordinates in [0, 1)."""
    frac = np.linalg.solve(cell.T, (positions - origin).T).T
    frac -= np.floor(frac)
    frac[frac >= 1.0] = 0.0  # -tiny - floor(-tiny) rounds to exactly 1
    return origin + frac @ cell


def _local_state(lmp: Any, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids − 1, x (n, d), image flags (n, d)) of the atoms of this (single) rank, in LAMMPS' local order."""
    n = int(lmp.extract_global("nlocal"))
    ids = np.array(lmp.numpy.extract_atom("id")[:n], dtype=np.int64) - 1
    x = np.array(lmp.numpy.extract_atom("x")[:n, :d], dtype=np.float64)
    img = np.array(lmp.numpy.extract_atom("image")[:n], dtype=np.int64)
    bits = 10 if int(lmp.extract_setting("imageint")) == 4 else 21  # LAMMPS IMGBITS (smallbig vs bigbig)
    mask, half = (1 << bits) - 1, 1 << (bits - 1)
    flags = np.stack([(img & mask) - half, ((img >> bits) & mask) - half, ((img >> (2 * bits)) & mask) - half],
                     axis=1)[:, :d]
    return ids, x, flags


def run_replica(task: ReplicaTask) -> ReplicaResult:
    """Run one NVE replica in an in-process single-rank LAMMPS (``task.engine = "openmm"``: in OpenMM,
    :func:`glassfix.engines.openmm.replica.replica_positions`); returns positions at ``task.steps``.

    Deterministic: the same task gives bit-identical positions in any process (fresh LAMMPS instance,
    atoms created in row order, velocities from :func:`maxwell_boltzmann` with ``task.seed``).
    """
    from ..engines.lammps.runner import import_lammps

    t0 = time.perf_counter()
    pos0 = np.ascontiguousarray(task.positions, dtype=np.float64)
    types = np.asarray(task.types, dtype=np.int64)
    cell = np.asarray(task.cell, dtype=np.float64)
    n, d = pos0.shape
    steps = tuple(int(s) for s in task.steps)
    if not steps or steps[0] < 1 or any(b <= a for a, b in zip(steps, steps[1:])):
        raise ValueError(f"steps must be strictly increasing integers >= 1, got {list(steps)}")
    if task.engine == "openmm":
        from ..engines.openmm.replica import replica_positions

        if task.system_object is None:
            raise ValueError("an OpenMM replica task needs system_object (the glassfix system)")
        masses = np.asarray(task.system.masses, dtype=np.float64)[types]
        vel = maxwell_boltzmann(masses, float(task.temperature), d, task.seed, task.rescale)
        out = replica_positions(task.system_object, pos0, types, cell, vel, steps, float(task.dt))
        return ReplicaResult(task.frame_key, int(task.replica), out, time.perf_counter() - t0, n * steps[-1],
                             f"{socket.gethostname()}:{os.getpid()}")
    if task.engine != "lammps":
        raise ValueError(f"engine must be 'lammps' or 'openmm', got {task.engine!r}")
    lammps_mod = import_lammps()
    lmp = _lammps_instance(lammps_mod)
    try:
        if int(lmp.extract_setting("world_size")) != 1:
            raise RuntimeError("run_replica needs a single-rank LAMMPS instance")
        wrapped = _setup_lammps(lmp, pos0, types, cell, np.asarray(task.origin, dtype=np.float64), task.system)
        masses = np.asarray(task.system.masses, dtype=np.float64)[types]
        vel = maxwell_boltzmann(masses, float(task.temperature), d, task.seed, task.rescale)
        ids, _, _ = _local_state(lmp, d)
        v = lmp.numpy.extract_atom("v")
        v[: ids.shape[0], :d] = vel[ids]
        lmp.commands_list([f"timestep {float(task.dt)!r}", "fix glassfix_nve all nve",
                           "thermo_style custom step", "thermo 0"])
        out = np.empty((len(steps), n, d), dtype=np.float64)
        done = 0
        for k, s in enumerate(steps):
            # 'pre no' skips the re-setup between chunks, so the chunks are one continuous trajectory.
            lmp.command(f"run {s - done} post no" if k == 0 else f"run {s - done} pre no post no")
            done = s
            ids, x, flags = _local_state(lmp, d)
            disp = x - wrapped[ids] + flags.astype(np.float64) @ cell
            out[k, ids] = pos0[ids] + disp
        if not np.isfinite(out).all():
            raise RuntimeError(f"replica {task.replica} of {task.frame_key!r} produced non-finite positions "
                               f"(unstable run: check dt={task.dt} and the starting configuration)")
    finally:
        lmp.close()
    return ReplicaResult(task.frame_key, int(task.replica), out, time.perf_counter() - t0, n * steps[-1],
                         f"{socket.gethostname()}:{os.getpid()}")


# ----------------------------------------------------------------------------------------------------
# labels
# ----------------------------------------------------------------------------------------------------


def _system_sigma(system: Any) -> np.ndarray | None:
    if hasattr(system, "sigma_matrix"):
        return np.asarray(system.sigma_matrix(), dtype=np.float64)
    if hasattr(system, "sigma"):
        s = np.asarray(system.sigma, dtype=np.float64)
        return s if s.ndim == 2 else None
    return None


def compute_labels(frame: Frame, replicas: Mapping[str, np.ndarray], *, cage_radius: float | None = None,
                   bb_cut: tuple[np.ndarray, np.ndarray] | None = None,
                   params: Mapping[str, Any] | None = None,
                   extra_params: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """Labels of one frame from its replicas ``{time label: (R, N, d)}``, as ``{name: (values, params)}``.

    Always ``propensity/<t>`` = ⟨|Δr|⟩ over replicas (length units); with ``cage_radius`` also
    ``propensity_cage/<t>,r_cage=<r>`` (cage-relative |Δr|, cages = neighbours within r at t = 0); with
    ``bb_cut = (cut_in, cut_out)`` (per-type-pair matrices, length) also ``bond_breaking/<t>`` (C_B,
    dimensionless). ``params`` are attached to every label, ``extra_params[t]`` to those of time ``t``.
    """
    from ..labels.bonds import bond_breaking
    from ..labels.propensity import propensity

    base = dict(params or {})
    cage = None
    if cage_radius is not None:
        from ..core.neighbors import neighbor_list

        cage = neighbor_list(frame, float(cage_radius))
    out: dict[str, Any] = {}
    for t, reps in replicas.items():
        reps = np.asarray(reps)
        p = {**base, "replicas": int(reps.shape[0]), **dict((extra_params or {}).get(t, {}))}
        out[f"propensity/{t}"] = (propensity(frame.positions, reps, kind="abs"), {**p, "quantity": "mean |dr|"})
        if cage is not None:
            out[f"propensity_cage/{t},r_cage={format_time(cage_radius)}"] = (
                propensity(frame.positions, reps, kind="abs", cage_relative=True, cage_neighbors=cage),
                {**p, "quantity": "mean |dr - cage mean dr|"})
        if bb_cut is not None:
            out[f"bond_breaking/{t}"] = (bond_breaking(frame, reps, bb_cut[0], bb_cut[1]),
                                         {**p, "quantity": "C_B = mean n_t/n_0"})
    return out


# ----------------------------------------------------------------------------------------------------
# journal (sidecar)
# ----------------------------------------------------------------------------------------------------


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class IsoJournal:
    """The sidecar of a store: ``<store>.iso/`` with ``journal.jsonl`` and per-replica ``.npy`` files.

    Journal lines are JSON objects ``{"event": ..., "run": <run id>, "time": <unix s>, ...}`` appended with
    one ``write`` + ``fsync`` each; a line torn by a kill is skipped on reading. Events: ``run``
    (a launcher started), ``submit`` / ``done`` (a replica task), ``frame`` (a frame's replicas and labels
    committed to the store), ``grid`` (a pilot-resolved bond-breaking grid).
    """

    def __init__(self, store_path: str | os.PathLike[str]) -> None:
        store_path = Path(store_path)
        self.root = store_path.with_name(store_path.name + ".iso")
        self.path = self.root / "journal.jsonl"
        self.run_id = uuid.uuid4().hex[:12]
        self._fh: Any = None

    def _open(self) -> Any:
        if self._fh is None:
            self.root.mkdir(parents=True, exist_ok=True)
            new = not self.path.exists()
            self._fh = open(self.path, "ab")  # noqa: SIM115 - closed in close()
            if new:
                _fsync_dir(self.root)
            elif self._fh.tell() > 0:
                # A kill may have torn the last line: start ours on a fresh line.
                with open(self.path, "rb") as fh:
                    fh.seek(-1, os.SEEK_END)
                    if fh.read(1) != b"\n":
                        self._fh.write(b"\n")
        return self._fh

    def append(self, event: str, **fields: Any) -> None:
        """Append one event line durably (write + fsync)."""
        fh = self._open()
        rec = {"event": event, "run": self.run_id, "time": round(time.time(), 3), **fields}
        fh.write((json.dumps(rec, sort_keys=True, default=_json_default) + "\n").encode())
        fh.flush()
        os.fsync(fh.fileno())

    def read(self) -> list[dict[str, Any]]:
        """All complete events, oldest first (torn or foreign lines skipped)."""
        if not self.path.exists():
            return []
        out = []
        with open(self.path, "rb") as fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                except (ValueError, UnicodeDecodeError):
                    continue
                if isinstance(rec, dict) and "event" in rec:
                    out.append(rec)
        return out

    def frame_dir(self, fingerprint: str) -> Path:
        """Directory of the per-replica files of one (frame, settings) fingerprint."""
        return self.root / "replicas" / fingerprint[:20]

    @staticmethod
    def replica_file(frame_dir: Path, replica: int) -> Path:
        """Path of the positions file of one replica."""
        return frame_dir / f"r{int(replica):05d}.npy"

    def write_replica(self, frame_dir: Path, replica: int, positions: np.ndarray, meta: Mapping[str, Any]) -> Path:
        """Atomically write one replica's positions (tmp file, fsync, rename, fsync dir): the per-replica commit."""
        if not frame_dir.exists():
            frame_dir.mkdir(parents=True, exist_ok=True)
            _fsync_dir(frame_dir.parent)
        info = frame_dir / "frame.json"
        if not info.exists():
            _atomic_write_bytes(info, json.dumps(dict(meta), indent=1, sort_keys=True,
                                                 default=_json_default).encode())
        dest = self.replica_file(frame_dir, replica)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(positions), allow_pickle=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
        _fsync_dir(frame_dir)
        return dest

    def finished_replicas(self, frame_dir: Path, n_replicas: int, shape: tuple[int, ...]) -> dict[int, Path]:
        """Replicas < n_replicas whose file exists and has ``shape`` (others are ignored: recomputed)."""
        out: dict[int, Path] = {}
        if not frame_dir.is_dir():
            return out
        for p in frame_dir.glob("r*.npy"):
            try:
                r = int(p.stem[1:])
            except ValueError:
                continue
            if r >= n_replicas:
                continue
            try:
                arr = np.load(p, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError):
                continue  # cannot happen for a renamed file, but a damaged one is simply recomputed
            if arr.shape == shape and arr.dtype == np.float64:
                out[r] = p
        return out

    def close(self) -> None:
        """Close the journal file."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")


# ----------------------------------------------------------------------------------------------------
# the launcher
# ----------------------------------------------------------------------------------------------------


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
class TemperatureRow:
    """Summary of one temperature: frames, replicas (done overall and run now), atom-steps and rates."""

    temperature: float
    frames: int = 0
    frames_done: int = 0
    replicas_total: int = 0
    replicas_done: int = 0
    replicas_run: int = 0
    atom_steps: int = 0
    worker_seconds: float = 0.0

    def as_dict(self, wall: float) -> dict[str, Any]:
        """JSON-able row; ``atom_steps_per_s`` uses the launcher wall time (s)."""
        d = dataclasses.asdict(self)
        d["atom_steps_per_s"] = self.atom_steps / wall if wall > 0 else 0.0
        d["atom_steps_per_worker_s"] = self.atom_steps / self.worker_seconds if self.worker_seconds > 0 else 0.0
        return d


@dataclass
class IsoReport:
    """Outcome of :func:`run_iso`: per-temperature rows, wall time (s), tasks run, journal path."""

    rows: dict[float, TemperatureRow]
    wall: float
    tasks_run: int
    tasks_skipped: int
    frames_committed: list[str]
    journal: Path
    grids: dict[float, dict[str, Any]] = field(default_factory=dict)

    @property
    def atom_steps(self) -> int:
        """Atom-steps computed by this invocation."""
        return sum(r.atom_steps for r in self.rows.values())

    def to_json(self) -> dict[str, Any]:
        """Machine-readable summary."""
        return {"wall_s": self.wall, "tasks_run": self.tasks_run, "tasks_skipped": self.tasks_skipped,
                "atom_steps": self.atom_steps,
                "atom_steps_per_s": self.atom_steps / self.wall if self.wall > 0 else 0.0,
                "frames_committed": self.frames_committed, "journal": str(self.journal),
                "temperatures": [r.as_dict(self.wall) for _, r in sorted(self.rows.items())],
                "grids": {format_time(t): g for t, g in self.grids.items()}}


class IsoProgress:
    """Progress callbacks of :func:`run_iso` (no-ops; the CLI subclasses it with a rich display)."""

    def start(self, total: int, done: int) -> None:
        """Called once: replica tasks in the plan (all frames) and how many are already finished."""

    def replica(self, result: ReplicaResult) -> None:
        """Called for each replica finished in this invocation."""

    def frame(self, key: str) -> None:
        """Called when a frame's replicas and labels are committed to the store."""

    def message(self, text: str) -> None:
        """A status line (pilot runs, resumed work)."""

    def close(self) -> None:
        """Called at the end (also after an error)."""


@dataclass
class _FramePlan:
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


def _frame_fingerprint(key: str, frame: Frame, spec: SystemSpec, temperature: float, grid: TimeGrid,
                       settings: IsoSettings) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"key": key, "system": spec.fingerprint(), "T": float(temperature), "dt": grid.dt,
                         "steps": list(grid.steps), "seed": int(settings.seed), "rescale": bool(settings.rescale),
                         "version": 1, **({"engine": settings.engine} if settings.engine != "lammps" else {})},
                        sort_keys=True).encode())
    # the starting arrays too: a store rebuilt under the same key must not reuse old replicas
    for a in (frame.positions, frame.types, frame.cell, frame.origin):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _task(plan: _FramePlan, r: int, settings: IsoSettings, steps: Sequence[int] | None = None,
          seed: int | None = None) -> ReplicaTask:
    fr = plan.frame
    return ReplicaTask(plan.key, r, replica_seed(settings.seed, plan.key, r) if seed is None else seed,
                       fr.positions, fr.types, fr.cell, fr.origin, plan.spec, plan.temperature,
                       tuple(plan.grid.steps if steps is None else steps), float(settings.dt), settings.rescale,
                       settings.engine, plan.system if settings.engine == "openmm" else None)


def _bb_cutoffs(system: Any, factors: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    sigma = _system_sigma(system)
    if sigma is None:
        raise ValueError(f"system {system.name} has no sigma matrix (sigma_matrix() or sigma), so bond-breaking "
                         f"cutoffs a·σ_αβ cannot be formed; drop the bond-breaking option")
    a, b = float(factors[0]), float(factors[1])
    if not (0 < a <= b):
        raise ValueError(f"bond-breaking factors need 0 < a <= b (cutoffs a·σ in, b·σ out), got {factors}")
    return a * sigma, b * sigma


def _parse_bb_spec(spec: str) -> tuple[list[float], float]:
    parts = spec[3:].split(":")
    if len(parts) != 2:
        raise ValueError(f"bond-breaking grid must be 'bb:C1,C2,...:TMAX' (targets of the mean C_B in (0, 1), "
                         f"longest pilot time in τ), got {spec!r}")
    targets = _floats(parts[0], "bond-breaking targets")
    try:
        tmax = float(parts[1])
    except ValueError:
        raise ValueError(f"bond-breaking grid TMAX must be a time in τ, got {parts[1]!r}") from None
    if any(not 0 < c < 1 for c in targets):
        raise ValueError(f"bond-breaking targets must lie in (0, 1), got {targets}")
    if tmax <= 0:
        raise ValueError(f"bond-breaking grid TMAX must be positive (τ), got {tmax}")
    return sorted(set(targets), reverse=True), tmax


def bond_breaking_grid(curve_steps: np.ndarray, curve: np.ndarray, targets: Sequence[float], dt: float,
                       spec: str = "") -> TimeGrid:
    """The grid of steps where a decreasing mean-C_B ``curve`` (at ``curve_steps``) first reaches each
    target, by linear interpolation in log(t) between the bracketing points (dimensionless targets)."""
    curve_steps = np.asarray(curve_steps, dtype=np.float64)
    curve = np.asarray(curve, dtype=np.float64)
    steps, tg = [], []
    for c in sorted(targets, reverse=True):
        below = np.flatnonzero(curve <= c)
        if below.size == 0:
            raise ValueError(f"the pilot mean C_B only fell to {curve.min():.3f} by t = "
                             f"{curve_steps[-1] * dt:g} τ, never to the target {c}: raise TMAX or drop the target")
        k = int(below[0])
        if k == 0:
            s = curve_steps[0]
        else:
            c0, c1 = curve[k - 1], curve[k]
            l0, l1 = math.log(curve_steps[k - 1]), math.log(curve_steps[k])
            f = (c0 - c) / (c0 - c1) if c0 != c1 else 1.0
            s = math.exp(l0 + f * (l1 - l0))
        s = max(int(round(s)), 1)
        if steps and s <= steps[-1]:
            raise ValueError(f"bond-breaking targets {sorted(targets, reverse=True)} are too close: two map to "
                             f"the same step {s} (dt={dt}); use fewer targets or a smaller dt")
        steps.append(s)
        tg.append(float(c))
    return TimeGrid(tuple(steps), float(dt), spec, tuple(tg))


def _mean_bond_breaking(frame: Frame, positions: np.ndarray, cut: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Mean C_B over type-0 atoms per snapshot, for positions (n_times, N, d) of one replica."""
    from ..labels.bonds import bond_breaking

    first = frame.types == 0
    return np.array([np.nanmean(bond_breaking(frame, p, cut[0], cut[1])[first]) for p in positions])


def _resolve_bb_grids(plans: list[_FramePlan], settings: IsoSettings, executor: Executor,
                      journal: IsoJournal, progress: IsoProgress) -> dict[float, dict[str, Any]]:
    """Pilot runs per temperature for a ``bb:`` grid; results reused from the journal on resume."""
    targets, tmax = _parse_bb_spec(settings.times)
    factors = settings.bb_factors or (1.485, 1.7)
    n_max = max(int(round(tmax / settings.dt)), 2)
    pilot_steps = np.unique(np.rint(np.geomspace(1, n_max, settings.pilot_points)).astype(np.int64))
    grids: dict[float, dict[str, Any]] = {}
    by_t: dict[float, list[_FramePlan]] = {}
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
            futs = [executor.submit(run_replica, _task(p, -1 - j, settings, steps=tuple(int(s) for s in pilot_steps),
                                                        seed=replica_seed(settings.seed, "pilot|" + p.key, j)))
                    for p in pilots for j in range(settings.pilot_replicas)]
            curves = []
            for p, j, fut in zip([p for p in pilots for _ in range(settings.pilot_replicas)],
                                 [j for _ in pilots for j in range(settings.pilot_replicas)], futs):
                res = fut.result()
                curves.append(_mean_bond_breaking(p.frame, res.positions, _bb_cutoffs(p.system, factors)))
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


def _plan(store: Any, settings: IsoSettings) -> list[_FramePlan]:
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
        plans.append(_FramePlan(key, frame, float(temp), system, spec))
    return plans


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
        plans = _plan(store, settings)
        if executor is None:
            executor = get_executor("local", n_workers)
        journal.append("run", pid=os.getpid(), host=socket.gethostname(), settings=dataclasses.asdict(settings),
                       frames=len(plans))
        if bb_grid:
            report.grids = _resolve_bb_grids(plans, settings, executor, journal, progress)
        bb_factors = settings.bb_factors or ((1.485, 1.7) if bb_grid else None)
        for p in plans:
            if grid is not None:
                p.grid = grid
            assert p.grid is not None
            p.fingerprint = _frame_fingerprint(p.key, p.frame, p.spec, p.temperature, p.grid, settings)
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

        def commit(p: _FramePlan) -> None:
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
            cut = _bb_cutoffs(p.system, bb_factors) if bb_factors else None
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
        pending: dict[Future, tuple[_FramePlan, int]] = {}
        it = iter(todo)

        def fill() -> None:
            for p, r in it:
                journal.append("submit", key=p.key, replica=r, fingerprint=p.fingerprint)
                pending[executor.submit(run_replica, _task(p, r, settings))] = (p, r)
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
    from ..data.store import quote_name

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


def _labels_complete(store: Any, p: _FramePlan, settings: IsoSettings, bb_factors: Any) -> bool:
    assert p.grid is not None
    names = set(store.label_names(p.key))
    for t in p.grid.labels:
        if f"propensity/{t}" not in names:
            return False
        if settings.cage_radius is not None and f"propensity_cage/{t},r_cage={format_time(settings.cage_radius)}" \
                not in names:
            return False
        if bb_factors and f"bond_breaking/{t}" not in names:
            return False
    return True


# ----------------------------------------------------------------------------------------------------
# helpers for tests and benchmarks
# ----------------------------------------------------------------------------------------------------


def make_liquid_frame(system: Any, n_atoms: int, temperature: float, steps: int = 2000, dt: float = 0.005,
                      seed: int = 1, density: float | None = None) -> Frame:
    """A small equilibrated-ish liquid frame (for tests and benchmarks): the system's ``initial_frame``,
    energy-minimised, then ``steps`` of Langevin dynamics at ``temperature`` (damping 1 τ) in LAMMPS.

    Positions are wrapped into the cell; metadata carries the system name, T and the system's
    own metadata (e.g. ``cutoff_style``).
    """
    from ..core.frame import Frame
    from ..engines.lammps.runner import import_lammps

    if not hasattr(system, "initial_frame"):
        raise TypeError(f"system {getattr(system, 'name', system)!r} has no initial_frame(n, ...); build a frame "
                        f"with your own protocol")
    kw = {"seed": int(seed)}
    if density is not None:
        kw["density"] = float(density)
    fr0 = system.initial_frame(int(n_atoms), **kw)
    spec = SystemSpec.from_system(system)
    lmp = _lammps_instance(import_lammps())
    try:
        _setup_lammps(lmp, fr0.positions, fr0.types, fr0.cell, fr0.origin, spec)
        lmp.commands_list([
            "minimize 0 1e-8 2000 20000",
            f"velocity all create {float(temperature)!r} {int(seed) % 900000 + 1} mom yes dist gaussian",
            f"timestep {float(dt)!r}",
            "fix glassfix_nve all nve",
            f"fix glassfix_lang all langevin {float(temperature)!r} {float(temperature)!r} 1.0 "
            f"{int(seed) % 900000 + 7} zero yes",
            "thermo 0",
            f"run {int(steps)}",
        ])
        d = spec.dim
        ids, x, _ = _local_state(lmp, d)
        pos = np.empty_like(fr0.positions)
        pos[ids] = x
    finally:
        lmp.close()
    meta = {**fr0.metadata, "system": spec.name, "T": float(temperature)}
    return Frame(positions=_wrap(pos, fr0.cell, fr0.origin), types=fr0.types, cell=fr0.cell,
                 origin=fr0.origin, species=fr0.species, metadata=meta)


def _bare_input(data_file: str, spec: SystemSpec, temperature: float, seed: int, dt: float, steps: int) -> str:
    return "\n".join([
        "units lj", f"dimension {spec.dim}", "atom_style atomic", "boundary p p p", "atom_modify map array",
        f"read_data {data_file}", *spec.commands,
        *(["fix glassfix_2d all enforce2d"] if spec.dim == 2 else []),
        f"velocity all create {float(temperature)!r} {seed} mom yes dist gaussian",
        f"timestep {float(dt)!r}", "fix 1 all nve", "thermo_style custom step", "thermo 0",
        f"run {int(steps)}", ""])


def launcher_throughput(system: Any = None, n_atoms: int = 1000, replicas: int = 4, steps: int = 5000,
                        n_times: int = 10, workers: int | None = None, dt: float = 0.005,
                        temperature: float = 0.8, seed: int = 1, workdir: str | os.PathLike[str] | None = None,
                        executor_kind: str = "local", repeats: int = 1) -> dict[str, Any]:
    """Replica atom-steps/s of the launcher vs bare LAMMPS on the same cores (target ratio ≥ 0.9).

    Launcher: :func:`run_iso` on a fresh store holding one frame of ``system`` (default KA3D) with
    ``replicas`` replicas of ``steps`` steps, ``n_times`` log-spaced snapshots, ``workers`` processes;
    timed end to end (pool start-up, task transfer, LAMMPS setup, snapshots, store writes, labels).
    Bare: the same number of NVE runs of the same frame as plain ``lmp`` processes (``read_data``,
    ``velocity create``, one ``run``), at most ``workers`` at a time. Returns a JSON-able dict with both
    rates (atom-steps/s), the ratio launcher / bare and the wall times (s); the best of ``repeats``.
    """
    import shutil
    import subprocess
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    from ..data.lammps_io import write_data
    from ..data.store import DatasetStore
    from ..engines.lammps.runner import lammps_env, venv_bin
    from ..systems import KobAndersen3D
    from .executors import default_workers, get_executor

    system = system or KobAndersen3D()
    workers = int(workers or default_workers())
    spec = SystemSpec.from_system(system)
    own_dir = workdir is None
    wd = Path(tempfile.mkdtemp(prefix="glassfix-iso-bench-")) if own_dir else Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    try:
        frame = make_liquid_frame(system, n_atoms, temperature, steps=1000, dt=dt, seed=seed)
        data = wd / "start.data"
        write_data(frame, data, masses=spec.masses)
        t_max = steps * dt
        times = f"log:{max(dt, t_max / 1000):g}:{t_max!r}:{n_times}" if n_times > 1 else f"steps:{steps}"
        settings = IsoSettings(replicas=replicas, times=times, dt=dt, seed=seed)
        grid = parse_time_grid(times, dt)
        total = replicas * n_atoms * grid.n_steps
        best_l, best_b = math.inf, math.inf
        for rep in range(max(1, repeats)):
            store_path = wd / f"iso-{rep}.h5"
            for p in (store_path, store_path.with_name(store_path.name + ".iso")):
                if p.is_dir():
                    shutil.rmtree(p)
                elif p.exists():
                    p.unlink()
            with DatasetStore(store_path, "w") as st:
                st.add_frame(frame, key="bench/0", group="bench", system=spec.name, temperature=temperature)
            t0 = time.perf_counter()
            with get_executor(executor_kind, workers) as ex:
                run_iso(store_path, settings, executor=ex, workers=workers)
            best_l = min(best_l, time.perf_counter() - t0)

            inputs = []
            for r in range(replicas):
                inp = wd / f"in.bare{r}"
                inp.write_text(_bare_input(data.name, spec, temperature, 1000 + r, dt, grid.n_steps))
                inputs.append(inp)
            env = lammps_env()
            lmp = venv_bin("lmp")

            def bare(inp: Path) -> None:
                subprocess.run([lmp, "-in", inp.name, "-log", "none", "-screen", "none", "-nocite"], cwd=wd, env=env,
                               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

            t0 = time.perf_counter()
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(bare, inputs))
            best_b = min(best_b, time.perf_counter() - t0)
        return {"system": spec.name, "n_atoms": n_atoms, "replicas": replicas, "steps": grid.n_steps,
                "n_times": len(grid.steps), "workers": workers, "executor": executor_kind,
                "launcher_wall_s": best_l, "bare_wall_s": best_b,
                "launcher_atom_steps_per_s": total / best_l, "bare_atom_steps_per_s": total / best_b,
                "ratio": best_b / best_l}
    finally:
        if own_dir:
            shutil.rmtree(wd, ignore_errors=True)
