"""The resumable segment loop every protocol runs on, and the LAMMPS building blocks they share.

A protocol advances in *segments* (a block of MD steps, or one AQS strain step). At checkpoint
boundaries it writes a LAMMPS restart file, its own extras (JSON + an ``.npz``) and then commits
``state.json`` atomically. Resuming reads the last committed state, truncates the time series to it,
re-creates the LAMMPS instance from the restart file and re-issues the interaction and fix commands
(fixes with the same ID get their state — Nosé–Hoover/barostat variables — back from the restart).
Because an uninterrupted run also starts every segment with a fresh ``run`` (full setup) and writes the
same restart files at the same steps, a resumed run follows the uninterrupted trajectory: only the
order of atoms in memory can differ, i.e. round-off in force summation (see ``docs/protocols.md`` for
the measured agreement).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from glassfix.core.atomic import atomic_savez
from glassfix.core.frame import Frame
from glassfix.protocols.common import (
    LammpsSession, Progress, ProtocolError, ProtocolResult, SeriesFile, Workdir, data_file_atoms, fmt,
    get_protocol_system, header_commands, quote, read_ave_time, save_frame_npz, spec_to_dict,
    sync_frames_to_store, write_json_atomic,
)

__all__ = ["ProtocolRun", "MinimizeSettings", "CopyMinimizer", "MD_SERIES_KEYWORDS", "THERMO_HEADER",
           "thermo_by_keyword", "common_settings", "load_start_commands"]

#: thermo keywords recorded by MD segments (energies per atom, ε_AA; stresses ε_AA/σ³; lengths σ)
MD_SERIES_KEYWORDS = ("temp", "pe", "ke", "etotal", "press", "pxx", "pyy", "pzz", "pxy", "pxz", "pyz",
                      "lx", "ly", "lz", "xy", "xz", "yz", "vol")


class MinimizeSettings:
    """Energy-minimisation settings: LAMMPS ``min_style`` and ``minimize etol ftol maxiter maxeval``.

    ``etol`` is relative (dimensionless), ``ftol`` is on the global force vector norm (ε_AA/σ_AA).
    ``line`` is the CG line search (``min_modify line``): ``quadratic`` (LAMMPS' default) is needed with
    ``fix box/relax`` — measured on KA N = 250 under σ_zz = 0.5, ``backtrack`` stalls with stress
    residuals ~1e-3 while ``quadratic`` reaches 1e-13 at ftol = 1e-10.
    """

    def __init__(self, style: str = "cg", etol: float = 0.0, ftol: float = 1e-10, maxiter: int = 100000,
                 maxeval: int = 1000000, line: str = "quadratic") -> None:
        if line not in ("quadratic", "backtrack", "forcezero"):
            raise ProtocolError(f"line search {line!r} is not one of quadratic, backtrack, forcezero")
        self.line = line
        if style not in ("cg", "sd", "fire", "hftn", "quickmin"):
            raise ProtocolError(f"min_style {style!r} is not one of cg, sd, fire, hftn, quickmin")
        if etol < 0 or ftol < 0 or (etol == 0 and ftol == 0):
            raise ProtocolError(f"minimiser tolerances etol={etol}, ftol={ftol} must be >= 0 and not both 0")
        if maxiter < 1 or maxeval < 1:
            raise ProtocolError(f"maxiter={maxiter} and maxeval={maxeval} must be >= 1")
        self.style, self.etol, self.ftol = style, float(etol), float(ftol)
        self.maxiter, self.maxeval = int(maxiter), int(maxeval)

    def commands(self) -> list[str]:
        """``min_style`` and ``minimize`` commands."""
        return [f"min_style {self.style}", f"min_modify line {self.line}",
                f"minimize {fmt(self.etol)} {fmt(self.ftol)} {self.maxiter} {self.maxeval}"]


def common_settings(system: Any, dt: float) -> list[str]:
    """Interaction, neighbour, thermo and series-variable commands every protocol instance needs."""
    cmds = list(system.lammps_commands())
    cmds += [
        "neighbor 0.3 bin",
        "neigh_modify every 1 delay 0 check yes",
        f"timestep {fmt(dt)}",
        "thermo_style custom step temp pe ke etotal press pxx pyy pzz pxy pxz pyz lx ly lz xy xz yz vol fnorm fmax",
        "thermo_modify norm yes flush yes",
    ]
    cmds += [f"variable gf_s_{k} equal {k}" for k in MD_SERIES_KEYWORDS]
    return cmds


def load_start_commands(system: Any, path: str | os.PathLike[str]) -> list[str]:
    """Commands that load a starting configuration: ``read_restart`` for ``*.restart``, else the
    system's header commands + ``read_data`` (velocities in the file are kept)."""
    p = Path(path)
    if not p.is_file():
        raise ProtocolError(f"starting configuration {p} does not exist (give a LAMMPS data or restart file, "
                            f"e.g. the final.data/inherent.data written by `glassfix prepare`)")
    if p.suffix == ".restart":
        return [f"read_restart {quote(p.resolve())}"]
    return header_commands(system, data_file_atoms(p)) + [f"read_data {quote(p.resolve())}"]


class CopyMinimizer:
    """Minimises a *copy* of a running system in a second LAMMPS instance, leaving the MD untouched.

    The MD instance writes a restart file between runs (exact doubles, image flags, any atom style);
    the copy reads it, zeroes the velocities (so thermo stresses are virial only), optionally adds
    ``fix box/relax`` and minimises, repeating up to ``max_rounds`` times until the relaxed stress
    components are within ``stress_tol`` of their targets.
    """

    def __init__(self, system: Any, tmpdir: Path, comm: Any = None) -> None:
        self.system = system
        self.tmpdir = tmpdir
        self.comm = comm
        self._session: LammpsSession | None = None

    def minimize(self, md: LammpsSession, settings: MinimizeSettings, dt: float = 0.005,
                 box_relax: str | None = None, targets: Mapping[str, float] | None = None,
                 stress_tol: float = 1e-4, max_rounds: int = 1,
                 metadata: Mapping[str, Any] | None = None, predict: Any = None) -> tuple[Frame, dict[str, Any]]:
        """Minimised frame of ``md``'s current configuration and ``info`` (thermo of the minimum, rounds,
        ``residual`` = max |P_c − target_c| over ``targets`` (e.g. ``{"pzz": 0.5, "pxx": 0.0}``),
        ``converged``, ``iterations``). With ``predict`` (a :class:`~glassfix.protocols.predict.OnTheFly`)
        the model is evaluated on the minimum: ``info["predict_values"]`` (N, n_outputs) by atom id and
        ``info["predict_means"]``."""
        path = self.tmpdir / "copy.restart"
        step = md.timestep
        md.command(f"write_restart {quote(path)}")
        if self._session is None:
            self._session = LammpsSession(self.comm)
        c = self._session
        c.command("clear")
        c.single_thread()
        c.command(f"read_restart {quote(path)}")
        c.commands(common_settings(self.system, dt))
        c.command("velocity all set 0.0 0.0 0.0")
        if box_relax:
            c.command(f"fix gf_relax all box/relax {box_relax}")
        targets = dict(targets or {})
        rounds, residual, iters, th = 0, float("inf"), 0, {}
        converged = False
        for rounds in range(1, max(1, int(max_rounds)) + 1):
            before = c.timestep
            c.commands(settings.commands())
            iters += c.timestep - before
            th = thermo_by_keyword(c)
            residual = max((abs(th[k] - v) for k, v in targets.items()), default=0.0)
            converged = residual <= stress_tol
            if converged:
                break
        info = {"rounds": rounds, "iterations": iters, "residual": residual, "converged": converged,
                **{k: v for k, v in th.items() if k != "step"}}
        if predict is not None:
            if box_relax:
                c.command("unfix gf_relax")  # a minimisation fix; the evaluation is a plain run 0
            info["predict_values"], info["predict_means"] = predict.evaluate_now(c)
        frame = c.frame(self.system, step=step, metadata=metadata)
        return frame, info

    def close(self) -> None:
        """Free the copy instance."""
        if self._session is not None:
            self._session.close()
            self._session = None


#: thermo keyword -> column header LAMMPS uses in its thermo output (and in ``last_thermo()``)
THERMO_HEADER = {"step": "Step", "temp": "Temp", "pe": "PotEng", "ke": "KinEng", "etotal": "TotEng",
                 "press": "Press", "pxx": "Pxx", "pyy": "Pyy", "pzz": "Pzz", "pxy": "Pxy", "pxz": "Pxz",
                 "pyz": "Pyz", "lx": "Lx", "ly": "Ly", "lz": "Lz", "xy": "Xy", "xz": "Xz", "yz": "Yz",
                 "vol": "Volume", "fnorm": "Fnorm", "fmax": "Fmax"}


def thermo_by_keyword(s: LammpsSession) -> dict[str, float]:
    """Current thermo values of ``s`` keyed by thermo keyword (``pe``, ``pxx``, ``vol`` …; energies per
    atom), valid right after a run or minimisation.

    Evaluated with ``get_thermo`` rather than read from ``last_thermo()``, which keeps the values of an
    earlier ``run 0`` at the same time step (e.g. after ``change_box`` without a minimisation).
    """
    out = {}
    for k in THERMO_HEADER:
        try:
            out[k] = float(s.lmp.get_thermo(k))
        except Exception as exc:  # a compute not current: the caller forgot run 0 / minimize
            raise ProtocolError(f"thermo keyword {k!r} is not available now ({exc}); evaluate after a run") from None
    return out


class ProtocolRun:
    """Base class: the segment loop, checkpoints, resume, series files, frames and store sync.

    Subclasses set ``protocol``, ``extendable`` and implement :meth:`total`, :meth:`next_boundary`,
    :meth:`is_checkpoint`, :meth:`start`, :meth:`restore`, :meth:`advance`, :meth:`finish`, and
    optionally :meth:`extras` / :meth:`extra_arrays` (checkpointed protocol state).
    """

    protocol = "base"
    #: the spec dataclass this runner executes (registered with the protocol name in ``PROTOCOLS``)
    spec_class: type = object
    extendable: tuple[str, ...] = ()
    unit = "step"
    #: the engine this runner drives (recorded in spec.json; a work directory refuses another)
    engine = "lammps"
    #: append (step, wall-clock time, total) to progress.csv after every segment: the throughput and ETA
    #: of ``glassfix monitor`` (one short line per segment; False only to measure its cost)
    write_progress = True

    def __init__(self, spec: Any, workdir: Workdir, comm: Any = None,
                 progress: bool | Callable[[str], None] = True, store: Any = None) -> None:
        self.spec = spec
        self.wd = workdir
        self.comm = comm
        self.root = workdir.root
        self.say = Progress(progress, self.root)
        self.store = store
        self.system = get_protocol_system(spec.system, spec.system_options)
        self.group = spec.group or workdir.path.name
        self.series: dict[str, SeriesFile] = {}
        self.state_extras: dict[str, Any] = {}
        self.arrays: dict[str, np.ndarray] = {}
        if self.write_progress:
            self.add_series("progress", ["step", "wall", "total"])

    def _progress(self, step: int) -> None:
        """One row of progress.csv: protocol step, wall-clock time (s since the epoch), total steps."""
        if self.write_progress:
            self.write_rows("progress", [{"step": int(step), "wall": time.time(), "total": self.total()}])

    # ---------------------------------------------------------------- hooks
    def total(self) -> int:
        """Protocol length in its units (MD steps, AQS steps)."""
        raise NotImplementedError

    def next_boundary(self, step: int) -> int:
        """End of the segment that starts at ``step``."""
        raise NotImplementedError

    def is_checkpoint(self, step: int) -> bool:
        """Whether a checkpoint is written at segment boundary ``step``."""
        return True

    def start(self, s: LammpsSession) -> None:
        """Build the initial state (protocol step 0) in a fresh instance."""
        raise NotImplementedError

    def restore(self, s: LammpsSession, state: Mapping[str, Any]) -> None:
        """Re-issue interactions and fixes after ``read_restart`` of a checkpoint."""
        raise NotImplementedError

    def advance(self, s: LammpsSession, step: int, to: int) -> None:
        """Run one segment from ``step`` to ``to`` and write its rows and frames."""
        raise NotImplementedError

    def finish(self, s: LammpsSession) -> dict[str, Any]:
        """Final outputs once the protocol is complete; returns the summary for result.json."""
        return {}

    # ---------------------------------------------------------------- helpers
    def add_series(self, name: str, columns: Sequence[str], key: str = "step") -> SeriesFile:
        """Register an append-safe CSV ``<workdir>/<name>.csv``."""
        sf = SeriesFile(self.wd.path / f"{name}.csv", columns, key)
        self.series[name] = sf
        return sf

    def write_rows(self, name: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Append rows to a series (rank 0 only)."""
        if self.root:
            self.series[name].append(rows)

    def save_frame(self, frame: Frame, kind: str, protocol_step: int,
                   labels: Mapping[str, np.ndarray] | None = None) -> None:
        """Write ``frames/<kind>_<protocol_step>.npz`` (rank 0 only)."""
        frame.metadata.setdefault("protocol", self.protocol)
        frame.metadata["protocol_step"] = int(protocol_step)
        frame.metadata.setdefault("group", self.group)
        if self.root:
            save_frame_npz(self.wd.frames / f"{kind}_{int(protocol_step):012d}.npz", frame, labels, kind)

    def run_md(self, s: LammpsSession, nsteps: int, every: int, keep_from: int, run_args: str = "",
               keywords: Sequence[str] = MD_SERIES_KEYWORDS) -> list[dict[str, float]]:
        """``run nsteps`` while ``fix ave/time`` samples the thermo ``keywords`` every ``every`` steps into a
        temporary file; returns the rows with step ≥ ``keep_from`` (rank 0; other ranks get [])."""
        tmp = self.wd.tmp / "segment_series.txt"
        if self.root and tmp.exists():
            tmp.unlink()
        values = " ".join(f"v_gf_s_{k}" for k in keywords)
        s.command(f'fix gf_series all ave/time {int(every)} 1 {int(every)} {values} file {quote(tmp)} '
                  f'format " %.17g"')
        try:
            s.command(f"run {int(nsteps)} {run_args}".strip())
        finally:
            s.command("unfix gf_series")
        if not self.root:
            return []
        return read_ave_time(tmp, keywords, keep_from)

    def extras(self) -> dict[str, Any]:
        """JSON-able protocol state saved with each checkpoint."""
        return dict(self.state_extras)

    def extra_arrays(self) -> dict[str, np.ndarray]:
        """Arrays saved with each checkpoint (``ckpt_<step>.npz``)."""
        return dict(self.arrays)

    # ---------------------------------------------------------------- the loop
    # ---------------------------------------------------------------- engine hooks (LAMMPS here)
    #: suffix of the engine's checkpoint file in ``checkpoints/``
    checkpoint_suffix = ".restart"

    def open_session(self) -> Any:
        """The engine session of this run: an in-process LAMMPS instance logging to ``log.lammps``."""
        return LammpsSession(self.comm, log=self.wd.path / "log.lammps")

    def save_session(self, s: Any, path: Path) -> None:
        """Write the engine's checkpoint file (LAMMPS ``write_restart``)."""
        s.command(f"write_restart {quote(path)}")

    def load_session(self, s: Any, path: Path) -> None:
        """Load the engine's checkpoint file into a fresh session (LAMMPS ``read_restart``)."""
        s.command(f"read_restart {quote(path)}")

    def _checkpoint(self, s: LammpsSession, step: int, complete: bool = False) -> None:
        restart = self.wd.checkpoint_path(step, self.checkpoint_suffix)
        self.save_session(s, restart)
        keep = [restart]
        arrays = self.extra_arrays()
        npz = None
        if arrays:
            npz = self.wd.checkpoint_path(step, ".npz")
            keep.append(npz)
            if self.root:
                atomic_savez(npz, **arrays)
        self.wd.write_state({"protocol": self.protocol, "step": int(step), "total": self.total(),
                             "restart": restart.name, "arrays": npz.name if npz else None,
                             "extras": self.extras(), "complete": bool(complete),
                             "lammps_timestep": s.timestep})
        self.wd.prune_checkpoints(keep)
        if self.store is not None:
            sync_frames_to_store(self.store, self.wd, self.group, max_step=step)

    def _truncate_outputs(self, step: int) -> None:
        if not self.root:
            return
        for sf in self.series.values():
            sf.truncate(step)
        for f in self.wd.frames.glob("*.npz"):
            try:
                fstep = int(f.stem.rsplit("_", 1)[1])
            except (IndexError, ValueError):
                continue
            if fstep > step:
                f.unlink()

    def execute(self, resume: bool = True, stop_after: int | None = None) -> ProtocolResult:
        """Run (or resume) the protocol; with ``stop_after``, stop (and checkpoint) at the first segment
        boundary at or beyond that step."""
        state = self.wd.read_state() if resume else None
        if state is None:
            # nothing committed: outputs of a start that died before its first checkpoint are stale
            self.wd.reset()
        if state is not None and state.get("protocol") != self.protocol:
            raise ProtocolError(f"{self.wd.path} holds a {state.get('protocol')!r} run, not {self.protocol!r}")
        self.wd.check_spec(self.protocol, spec_to_dict(self.spec), self.extendable, self.engine)
        total = self.total()
        if state is not None and state.get("complete") and int(state["step"]) >= total:
            self.say(f"{self.protocol}: {self.wd.path} is already complete ({state['step']} {self.unit}s)")
            return self._result(True, int(state["step"]))
        s = self.open_session()
        try:
            if state is None:
                self.say(f"{self.protocol}: starting in {self.wd.path}")
                step = 0
                self.start(s)
                self._checkpoint(s, 0)
                self._progress(0)
            else:
                step = int(state["step"])
                if step > total:
                    raise ProtocolError(f"{self.wd.path} is at {self.unit} {step}, beyond the requested "
                                        f"total {total}; a run cannot be shortened")
                self.say(f"{self.protocol}: resuming {self.wd.path} at {self.unit} {step}/{total}")
                self._truncate_outputs(step)
                self.state_extras = dict(state.get("extras") or {})
                if state.get("arrays"):
                    with np.load(self.wd.checkpoints / state["arrays"], allow_pickle=False) as z:
                        self.arrays = {k: z[k] for k in z.files}
                self.load_session(s, self.wd.checkpoints / state["restart"])
                self.restore(s, state)
            while step < total:
                if stop_after is not None and step >= stop_after:
                    break
                to = min(self.next_boundary(step), total)
                if to <= step:
                    raise ProtocolError(f"internal error: segment from {step} does not advance")
                self.advance(s, step, to)
                step = to
                self._progress(step)
                if step == total or self.is_checkpoint(step) or (stop_after is not None and step >= stop_after):
                    self._checkpoint(s, step)
                    self.say(f"{self.protocol}: {self.unit} {step}/{total} checkpointed")
            complete = step >= total
            summary: dict[str, Any] = {}
            if complete:
                summary = self.finish(s)
                summary = {"protocol": self.protocol, "group": self.group, self.unit + "s": step, **summary}
                if self.root:
                    write_json_atomic(self.wd.path / "result.json", summary)
                state = self.wd.read_state() or {}
                self.wd.write_state({**{k: v for k, v in state.items() if k not in ("format", "version", "written")},
                                     "complete": True})
                if self.store is not None:
                    sync_frames_to_store(self.store, self.wd, self.group)
                self.say(f"{self.protocol}: complete, results in {self.wd.path}")
        finally:
            self.close()
            s.close()
        return self._result(complete, step, summary)

    def close(self) -> None:
        """Release protocol resources (copy instances)."""

    def outputs(self) -> dict[str, Path]:
        """Named output paths of this protocol (those that exist)."""
        names = {"state": "state.json", "spec": "spec.json", "result": "result.json", "log": "log.lammps",
                 "final": "final.data", "inherent": "inherent.data"}
        names.update({k: f"{k}.csv" for k in self.series})
        out = {k: self.wd.path / v for k, v in names.items() if (self.wd.path / v).exists()}
        out["frames"] = self.wd.frames
        return out

    def _result(self, complete: bool, step: int, summary: dict[str, Any] | None = None) -> ProtocolResult:
        if summary is None and (self.wd.path / "result.json").exists():
            import json

            summary = json.loads((self.wd.path / "result.json").read_text())
        return ProtocolResult(self.protocol, self.wd.path, complete, step, self.total(), self.outputs(),
                              summary or {})
