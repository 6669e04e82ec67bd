"""Shared machinery of the simulation protocols: specs, the LAMMPS session, the work directory with its
checkpoints and append-safe time series, frames on disk, and the MPI launcher.

Units are LJ reduced units throughout (lengths σ_AA, energies ε_AA, time τ, stress ε_AA/σ_AA³, k_B = 1).

Execution model (one code path for any number of ranks): a protocol is plain Python that drives LAMMPS
through the ``lammps`` module. With ``nprocs = 1`` it runs in the calling process; with ``nprocs > 1``
the same code runs as ``mpirun -np K python -m glassfix.protocols.worker`` where every rank executes it
with ``comm = MPI.COMM_WORLD`` (LAMMPS does the domain decomposition), rank 0 alone writes files, and
every decision that steers the loop is taken from values that are identical on all ranks (thermo
reductions, gathered arrays).
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from glassfix.core.atomic import atomic_savez, atomic_write_text, json_default
from glassfix.core.frame import Frame
from glassfix.core.seeds import seed_from_text
from glassfix.engines.lammps.runner import lammps_env, venv_bin
from glassfix.engines.lammps.session import LammpsSession
from glassfix.engines.lammps.session import quote as _quote

__all__ = [
    "ProtocolError", "ProtocolResult", "LammpsSession", "Workdir", "SeriesFile", "Progress",
    "get_protocol_system", "write_json_atomic", "save_frame_npz", "load_frame_npz", "derive_seed",
    "launch_mpi", "sync_frames_to_store", "ENGINES",
]

ENGINES = ("lammps", "openmm")
STATE_FORMAT = "glassfix-protocol-state"
STATE_VERSION = 1


class ProtocolError(RuntimeError):
    """A protocol could not run as specified (bad parameter, inconsistent work directory, failed worker)."""


@dataclass
class ProtocolResult:
    """What a protocol runner returns: where it ran, whether it finished, how far it got and its outputs.

    ``step`` and ``total`` count the protocol's own units (MD steps; AQS strain steps); ``outputs`` maps
    names to paths inside ``workdir``; ``summary`` is what ``result.json`` holds once complete.
    """

    protocol: str
    workdir: Path
    complete: bool
    step: int
    total: int
    outputs: dict[str, Path] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------------
# small helpers
# ----------------------------------------------------------------------------------------------------


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented, key-sorted JSON atomically (never half-written)."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=json_default) + "\n")


def derive_seed(seed: int, *parts: Any) -> int:
    """A positive 31-bit LAMMPS seed derived deterministically from ``seed`` and ``parts`` (e.g. a step).

    Used to re-seed stochastic thermostats at every segment so that an interrupted and resumed run
    draws exactly the random numbers of an uninterrupted one (LAMMPS restart files do not store the
    state of ``fix langevin``'s generator).
    """
    return 1 + seed_from_text(json.dumps([int(seed), *[str(p) for p in parts]]), 4) % 900_000_000


def quote(path: str | os.PathLike[str]) -> str:
    """A path as one LAMMPS argument (:func:`glassfix.engines.lammps.session.quote`); ProtocolError if LAMMPS
    cannot take it."""
    try:
        return _quote(path)
    except ValueError as exc:
        raise ProtocolError(str(exc)) from None


def fmt(x: float) -> str:
    """A float as a LAMMPS argument that parses back to exactly the same double."""
    return repr(float(x))


def get_protocol_system(name: str, options: Mapping[str, Any] | None = None) -> Any:
    """The model system ``name`` (``glassfix.systems.get_system``) with ``options``, checked for the
    interface the protocols use (name, dim, species, lammps_commands, initial_lammps_commands)."""
    from glassfix.systems import get_system

    try:
        system = get_system(name, **dict(options or {}))
    except KeyError as exc:
        raise ProtocolError(str(exc.args[0] if exc.args else exc)) from None
    except TypeError as exc:
        raise ProtocolError(f"bad system_options {dict(options or {})!r} for system {name!r}: {exc}") from None
    for attr in ("name", "dim", "species", "lammps_commands", "initial_lammps_commands"):
        if not hasattr(system, attr):
            raise ProtocolError(f"system {name!r} lacks {attr!r}, which the protocols need")
    return system


def header_commands(system: Any, n: int) -> list[str]:
    """``units``/``dimension``/``atom_style``/``boundary``… commands that must precede ``read_data``.

    Taken from the system's ``lammps_header_commands()`` if it has one, else from the commands before
    the box is created in ``initial_lammps_commands(n)``.
    """
    if hasattr(system, "lammps_header_commands"):
        return list(system.lammps_header_commands())
    keep = ("units", "dimension", "atom_style", "boundary", "atom_modify", "newton", "bond_style",
            "angle_style", "special_bonds")
    density = getattr(system, "default_density", None)
    cmds = system.initial_lammps_commands(max(int(n), 1), density) if density else \
        system.initial_lammps_commands(max(int(n), 1))
    return [c for c in cmds if c.split() and c.split()[0] in keep]


def data_file_atoms(path: str | os.PathLike[str]) -> int:
    """Number of atoms in the header of a LAMMPS data file."""
    with open(path) as fh:
        for k, line in enumerate(fh):
            toks = line.split("#", 1)[0].split()
            if k > 0 and len(toks) == 2 and toks[1] == "atoms":
                return int(toks[0])
            if k > 50:
                break
    raise ProtocolError(f"{path}: no 'N atoms' line in the header; is it a LAMMPS data file?")


class Progress:
    """Progress reporting: ``True`` prints to stderr, a callable receives each line, ``False`` is silent."""

    def __init__(self, progress: bool | Callable[[str], None], root: bool = True) -> None:
        self._p = progress
        self._root = root

    def __call__(self, msg: str) -> None:
        """Report one line (only on MPI rank 0)."""
        if not self._root or not self._p:
            return
        if callable(self._p):
            self._p(msg)
        else:
            print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------------
# frames on disk
# ----------------------------------------------------------------------------------------------------


def save_frame_npz(path: str | os.PathLike[str], frame: Frame, labels: Mapping[str, np.ndarray] | None = None,
                   kind: str = "frame") -> None:
    """Save a frame (+ per-atom labels) as an ``.npz`` (no pickles), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = {
        "positions": frame.positions, "types": frame.types, "ids": frame.ids, "cell": frame.cell,
        "origin": frame.origin, "pbc": frame.pbc, "step": np.int64(frame.step), "time": np.float64(frame.time),
        "species": np.array(json.dumps(list(frame.species) if frame.species else None)),
        "metadata": np.array(json.dumps(frame.metadata, default=json_default)),
        "kind": np.array(kind),
    }
    for opt in ("unwrapped", "velocities", "energies"):
        val = getattr(frame, opt)
        if val is not None:
            arrays[opt] = val
    names = []
    for k, (name, values) in enumerate(sorted((labels or {}).items())):
        arrays[f"label_{k}"] = np.asarray(values)
        names.append(name)
    arrays["label_names"] = np.array(json.dumps(names))
    atomic_savez(path, **arrays)


def load_frame_npz(path: str | os.PathLike[str]) -> tuple[Frame, dict[str, np.ndarray], str]:
    """``(frame, labels, kind)`` from a file written by :func:`save_frame_npz`."""
    with np.load(path, allow_pickle=False) as z:
        species = json.loads(str(z["species"]))
        frame = Frame(
            positions=z["positions"], types=z["types"], cell=z["cell"], origin=z["origin"], pbc=z["pbc"],
            ids=z["ids"], species=tuple(species) if species else None,
            unwrapped=z["unwrapped"] if "unwrapped" in z else None,
            velocities=z["velocities"] if "velocities" in z else None,
            energies=z["energies"] if "energies" in z else None,
            step=int(z["step"]), time=float(z["time"]), metadata=json.loads(str(z["metadata"])),
        )
        names = json.loads(str(z["label_names"]))
        labels = {name: z[f"label_{k}"] for k, name in enumerate(names)}
        kind = str(z["kind"])
    return frame, labels, kind


# ----------------------------------------------------------------------------------------------------
# append-safe CSV time series
# ----------------------------------------------------------------------------------------------------


class SeriesFile:
    """A CSV time series written append-only (one flush per batch of rows).

    Crash safety: a killed writer leaves at most a partial last line, which :meth:`read` ignores;
    on resume :meth:`truncate` atomically rewrites the file keeping only rows whose ``key`` column is
    ≤ the checkpointed value, so no row is ever duplicated. Floats are written with 17 significant
    digits (exact round trip).
    """

    def __init__(self, path: str | os.PathLike[str], columns: Sequence[str], key: str = "step") -> None:
        self.path = Path(path)
        self.columns = list(columns)
        if key not in self.columns:
            raise ValueError(f"key column {key!r} not in {self.columns}")
        self.key = key

    @staticmethod
    def _fmt(v: Any) -> str:
        if isinstance(v, (bool, np.bool_)):
            return "1" if v else "0"
        if isinstance(v, (int, np.integer)):
            return str(int(v))
        if isinstance(v, (float, np.floating)):
            return repr(float(v)) if math.isfinite(v) else ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))
        return str(v)

    def append(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Append rows (mappings with every column) and flush; writes the header for a new file."""
        rows = list(rows)
        if not rows:
            return
        new = not self.path.exists() or self.path.stat().st_size == 0
        buf = io.StringIO()
        if new:
            buf.write(",".join(self.columns) + "\n")
        for r in rows:
            missing = [c for c in self.columns if c not in r]
            if missing:
                raise ValueError(f"{self.path.name}: row lacks columns {missing}")
            buf.write(",".join(self._fmt(r[c]) for c in self.columns) + "\n")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as fh:
            fh.write(buf.getvalue())
            fh.flush()

    def _rows(self) -> list[list[str]]:
        if not self.path.exists():
            return []
        text = self.path.read_text()
        lines = text.split("\n")
        # the last element is '' for a complete file, or a partial line left by a killed writer
        lines = lines[:-1]
        if not lines:
            return []
        header = lines[0].split(",")
        if header != self.columns:
            raise ProtocolError(f"{self.path}: columns {header} differ from the expected {self.columns}; "
                                f"the work directory belongs to another protocol version (use a new one)")
        return [ln.split(",") for ln in lines[1:] if ln and len(ln.split(",")) == len(self.columns)]

    def truncate(self, max_key: float) -> int:
        """Keep only rows with ``key`` ≤ ``max_key`` (atomic rewrite); returns the number kept."""
        if not self.path.exists():
            return 0
        k = self.columns.index(self.key)
        rows = [r for r in self._rows() if float(r[k]) <= max_key]
        text = ",".join(self.columns) + "\n" + "".join(",".join(r) + "\n" for r in rows)
        atomic_write_text(self.path, text)
        return len(rows)

    def read(self) -> dict[str, np.ndarray]:
        """All complete rows as ``{column: float64 array}``."""
        rows = self._rows()
        arr = np.array(rows, dtype=np.float64).reshape(len(rows), len(self.columns))
        return {c: arr[:, i].copy() for i, c in enumerate(self.columns)}


def read_ave_time(path: str | os.PathLike[str], names: Sequence[str], keep_from: int) -> list[dict[str, float]]:
    """Rows ``{"step", names...}`` with step ≥ ``keep_from`` of a ``fix ave/time ... file`` output (one value per
    name after the step; comment lines skipped)."""
    rows = []
    for line in Path(path).read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        toks = line.split()
        step = int(toks[0])
        if step >= keep_from:
            rows.append({"step": step, **{k: float(v) for k, v in zip(names, toks[1:])}})
    return rows


def read_series(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read any protocol CSV time series as ``{column: float64 array}`` (partial last line ignored)."""
    with open(path) as fh:
        header = fh.readline().strip().split(",")
    return SeriesFile(path, header, header[0]).read()


# ----------------------------------------------------------------------------------------------------
# the work directory
# ----------------------------------------------------------------------------------------------------


class Workdir:
    """Layout and state of one protocol run (see ``docs/protocols.md``)::

        spec.json           protocol name + full spec (checked on resume)
        state.json          last complete checkpoint: step, restart file, extras (atomic; the commit point)
        checkpoints/        ckpt_<step>.restart (+ ckpt_<step>.npz extras); the last two are kept
        series.csv …        append-safe time series, truncated to the checkpoint on resume
        frames/             <kind>_<step>.npz frames (also copied into a dataset store when asked)
        log.lammps          LAMMPS log (appended across sessions)
        result.json         summary, written when the protocol completes
    """

    def __init__(self, path: str | os.PathLike[str], root: bool = True) -> None:
        self.path = Path(path).resolve()
        self.root = root
        self.checkpoints = self.path / "checkpoints"
        self.frames = self.path / "frames"
        self.tmp = self.path / "tmp"
        if root:
            for d in (self.path, self.checkpoints, self.frames, self.tmp):
                d.mkdir(parents=True, exist_ok=True)

    @property
    def state_path(self) -> Path:
        """Path of ``state.json``."""
        return self.path / "state.json"

    @property
    def spec_path(self) -> Path:
        """Path of ``spec.json``."""
        return self.path / "spec.json"

    def read_state(self) -> dict[str, Any] | None:
        """The last committed state, or None for a fresh directory."""
        if not self.state_path.exists():
            return None
        try:
            state = json.loads(self.state_path.read_text())
        except json.JSONDecodeError as exc:
            raise ProtocolError(f"{self.state_path} is not valid JSON ({exc}); it is only ever replaced "
                                f"atomically, so it was edited by hand: restore it or use a new work directory") from None
        if state.get("format") != STATE_FORMAT:
            raise ProtocolError(f"{self.state_path} is not a glassfix protocol state file")
        return state

    def write_state(self, state: dict[str, Any]) -> None:
        """Commit a new state (rank 0 only)."""
        if self.root:
            write_json_atomic(self.state_path, {**state, "format": STATE_FORMAT, "version": STATE_VERSION,
                                                "written": time.strftime("%Y-%m-%dT%H:%M:%S")})

    def check_spec(self, protocol: str, spec_dict: dict[str, Any], extendable: Sequence[str] = (),
                   engine: str = "lammps") -> None:
        """Record the spec on a fresh start; on resume refuse a different one (``extendable`` fields,
        e.g. the run length, may change so that a finished run can be extended) or another engine."""
        # a spec without a committed state (the run failed before its first checkpoint) binds nothing
        if self.spec_path.exists() and self.state_path.exists():
            old = json.loads(self.spec_path.read_text())
            if old.get("protocol") != protocol:
                raise ProtocolError(f"{self.path} holds a {old.get('protocol')!r} run, not {protocol!r}; "
                                    f"use another work directory")
            if old.get("engine", "lammps") != engine:
                raise ProtocolError(f"{self.path} holds a run of engine {old.get('engine', 'lammps')!r}, not "
                                    f"{engine!r}; resume with --engine {old.get('engine', 'lammps')} or use another "
                                    f"work directory")
            a = {k: v for k, v in old.get("spec", {}).items() if k not in extendable}
            # a field added to the spec since the run started (e.g. model) binds nothing while it is None
            b = {k: v for k, v in json.loads(json.dumps(spec_dict, default=json_default)).items()
                 if k not in extendable and (k in a or v is not None)}
            if a != b:
                diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
                raise ProtocolError(
                    f"{self.path} was started with a different {protocol} spec (differs in {', '.join(diff)}); "
                    f"resume with the same parameters, or pass resume=False / --no-resume to start over")
        if self.root:
            from glassfix import __version__

            # the engine is recorded only when it is not LAMMPS: existing work directories stay valid
            write_json_atomic(self.spec_path, {"protocol": protocol, "spec": spec_dict,
                                               "glassfix_version": __version__,
                                               **({"engine": engine} if engine != "lammps" else {})})

    def checkpoint_path(self, step: int, suffix: str = ".restart") -> Path:
        """Path of the checkpoint file of ``step``."""
        return self.checkpoints / f"ckpt_{int(step):012d}{suffix}"

    def prune_checkpoints(self, keep: Sequence[Path]) -> None:
        """Delete checkpoint files other than ``keep`` and the newest older one (rank 0 only)."""
        if not self.root:
            return
        keep_names = {p.name for p in keep}
        files = sorted(self.checkpoints.glob("ckpt_*"))
        steps = sorted({f.name.split("_")[1].split(".")[0] for f in files})
        keep_steps = set(steps[-2:])
        for f in files:
            if f.name not in keep_names and f.name.split("_")[1].split(".")[0] not in keep_steps:
                f.unlink(missing_ok=True)

    def reset(self) -> None:
        """Remove everything a protocol wrote here (for a fresh start with resume=False); rank 0 only."""
        if not self.root:
            return
        import shutil

        for name in ("state.json", "spec.json", "result.json", "log.lammps", "final.data", "inherent.data",
                     "final.restart"):
            (self.path / name).unlink(missing_ok=True)
        for f in self.path.glob("*.csv"):
            f.unlink()
        for d in (self.checkpoints, self.frames, self.tmp):
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir(parents=True, exist_ok=True)


# ----------------------------------------------------------------------------------------------------
# dataset store and MPI launcher
# ----------------------------------------------------------------------------------------------------


def frame_key(system: str, group: str, kind: str, step: int) -> str:
    """Store key ``"<system>/<group>/<kind>-<step:012d>"`` of a protocol frame."""
    return f"{system}/{group}/{kind}-{int(step):012d}"


def sync_frames_to_store(store: Any, workdir: Workdir, group: str, max_step: int | None = None) -> int:
    """Add the frames in ``workdir/frames`` (with step ≤ ``max_step``) to a dataset store; returns the
    number added. Idempotent: keys already stored are skipped, so resumed runs never duplicate frames.
    ``store`` is a :class:`~glassfix.data.store.DatasetStore` open for writing or a path (opened "a")."""
    if store is None or not workdir.root:
        return 0
    from glassfix.data.store import DatasetStore

    own = not isinstance(store, DatasetStore)
    st = DatasetStore(store, "a") if own else store
    added = 0
    try:
        for f in sorted(workdir.frames.glob("*.npz")):
            frame, labels, kind = load_frame_npz(f)
            if max_step is not None and frame.metadata.get("protocol_step", frame.step) > max_step:
                continue
            system = str(frame.metadata.get("system", "unknown"))
            key = frame_key(system, group, kind, frame.metadata.get("protocol_step", frame.step))
            if st.has_frame(key):
                continue
            # protocol labels (AQS: the forward D²min of a minimum) describe the frame they are saved with
            from glassfix.data.labels_meta import offset_attrs

            meta = offset_attrs(frame.step, 0)
            st.add_frame(frame, key, group=group, system=system, temperature=frame.metadata.get("T"),
                         labels={name: (values, meta) for name, values in labels.items()})
            added += 1
    finally:
        if own:
            st.close()
    return added


def launch_mpi(protocol: str, spec: Any, workdir: Path, nprocs: int, resume: bool, stop_after: int | None,
               progress: Progress, timeout: float | None = None) -> None:
    """Run a protocol as ``mpirun -np nprocs python -m glassfix.protocols.worker`` and wait for it.

    The spec goes through ``<workdir>/tmp/request.json``; the worker's output is streamed to
    ``<workdir>/worker.out`` and its lines starting with ``[glassfix]`` to ``progress``.
    """
    nprocs = int(nprocs)
    # the worker runs with cwd = workdir: every path it gets must be absolute (a relative --out such as
    # "run/" would otherwise be resolved twice, run/run/tmp/request.json)
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "tmp").mkdir(exist_ok=True)
    req = workdir / "tmp" / "request.json"
    write_json_atomic(req, {"protocol": protocol, "spec": spec.to_dict(), "resume": bool(resume),
                            "stop_after": stop_after})
    args = [venv_bin("mpirun"), "-np", str(nprocs), sys.executable, "-m", "glassfix.protocols.worker", str(req)]
    out_path = workdir / "worker.out"
    tail: list[str] = []
    with open(out_path, "a") as fout:
        proc = subprocess.Popen(args, cwd=str(workdir), env=lammps_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                                errors="replace", start_new_session=True)

        def pump() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                fout.write(line)
                fout.flush()
                s = line.rstrip("\n")
                tail.append(s)
                del tail[:-40]
                if s.startswith("[glassfix] "):
                    progress(s[len("[glassfix] "):])

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            import signal

            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait()
            reader.join(timeout=10)
            raise ProtocolError(f"{protocol} worker timed out after {timeout} s (output in {out_path})") from None
        reader.join()
    if rc != 0:
        errs = [s for s in tail if "Error" in s or "ERROR" in s or "error:" in s]
        msg = errs[-1] if errs else (tail[-1] if tail else "no output")
        raise ProtocolError(f"{protocol} under mpirun -np {nprocs} failed (exit code {rc}): {msg} "
                            f"— full output in {out_path}; re-run to resume from the last checkpoint")


def finite_or_none(x: float) -> float | None:
    """``x`` for JSON, or None when not finite."""
    return float(x) if math.isfinite(float(x)) else None


def spec_to_dict(spec: Any) -> dict[str, Any]:
    """A dataclass spec as a JSON-compatible dict (tuples become lists, nested specs dicts)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(spec):
        v = getattr(spec, f.name)
        if dataclasses.is_dataclass(v):
            v = spec_to_dict(v)
        elif isinstance(v, (list, tuple)):
            v = [spec_to_dict(x) if dataclasses.is_dataclass(x) else x for x in v]
        elif isinstance(v, Mapping):
            v = dict(v)
        out[f.name] = v
    return out


def check_fields(cls: type, d: Mapping[str, Any]) -> None:
    """Raise ProtocolError naming unknown keys of a spec dict."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - names)
    if unknown:
        raise ProtocolError(f"unknown {cls.__name__} parameter(s) {unknown}; valid: {sorted(names)}")
