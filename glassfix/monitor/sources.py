"""What ``glassfix monitor`` follows: a ``glassfix run`` directory, the output directory of a shipped
input (``lammps_inputs/*.lmp``), a plain LAMMPS log (+ the dumps it names), or the files of the OpenMM
:class:`~glassfix.engines.openmm.reporter.PredictorReporter`. Only ever reads files.

Per-atom predictions are taken from
- dump files with ``f_ID`` columns (``fix glass/predict`` + ``dump custom``, the OpenMM reporter's dump),
- frames ``frames/*.npz`` of a ``glassfix run`` with a label named ``f_*``, ``pred*`` or a model output
  name (:data:`PRED_LABELS`),
and their mean from the ``f_ID`` thermo column / the ``pred_mean`` series column / the reporter's log.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from glassfix.core.frame import Frame
from glassfix.monitor.tails import DumpTail, LogTail, TableTail

__all__ = ["MonitorError", "PredFrame", "RunData", "Source", "open_source", "PRED_LABELS"]

#: label / column names (besides f_* and pred*) read as per-atom predictions
PRED_LABELS = ("softness", "activity", "looseness", "propensity", "prediction")


class MonitorError(ValueError):
    """The path given to the monitor is not something it can follow (message names the path and the fix)."""


@dataclass
class PredFrame:
    """One configuration with per-atom predictions ``values`` (None when the run has no prediction)."""

    frame: Frame
    values: np.ndarray | None
    name: str | None
    origin: str


@dataclass
class RunData:
    """One poll: the full series so far, the frames that arrived since the last poll, and run facts.

    ``series`` keys: ``step`` and, where known, ``time`` (τ), ``strain``, ``gamma``, ``sigma``, ``pred_mean``,
    ``wall`` (s), ``event_*`` … ``info``: ``protocol``, ``total`` (steps), ``dt``, ``sigma0``, ``complete``,
    ``loops`` (LAMMPS Loop-time records), ``errors``. ``notes``: why the view is partial.
    """

    path: Path
    kind: str
    series: dict[str, np.ndarray] = field(default_factory=dict)
    frames: list[PredFrame] = field(default_factory=list)
    reset_frames: bool = False
    info: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _is_pred_name(name: str) -> bool:
    n = name.lower()
    return n.startswith("f_") or n.startswith("pred") or n in PRED_LABELS


def _read_json(path: Path) -> dict[str, Any]:
    try:
        d = json.loads(path.read_text())
        return d if isinstance(d, dict) else {}
    except (OSError, ValueError):  # absent, or being replaced: the next poll reads it
        return {}


_RENAME = {"Step": "step", "k": "step", "Time": "time", "v_strain": "strain", "v_time": "time",
           "mean_prediction": "pred_mean"}


def _normalise(d: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Series column names the state understands (``step``, ``time``, ``strain``, ``pred_mean`` …)."""
    out: dict[str, np.ndarray] = {}
    for k, v in d.items():
        name = _RENAME.get(k)
        if name is None:
            if (k.startswith("f_") or k.startswith("mean_") or k.startswith("pred")) and "pred_mean" not in d \
                    and "pred_mean" not in out:
                name = "pred_mean"
            else:
                name = k.lower() if k[:1].isupper() else k
        out.setdefault(name, v)
    return out


class Source:
    """Incremental reader of one run; :meth:`poll` returns a :class:`RunData`."""

    def __init__(self, path: Path, kind: str, series: TableTail | None = None, log: LogTail | None = None,
                 dumps: list[DumpTail] | None = None, npz_dir: Path | None = None,
                 info_files: list[Path] | None = None, extra: dict[str, TableTail] | None = None,
                 total: int | None = None) -> None:
        self.path, self.kind = path, kind
        self.series, self.log, self.dumps = series, log, list(dumps or [])
        self.npz_dir, self.info_files, self.extra = npz_dir, list(info_files or []), dict(extra or {})
        self.total = total
        self._npz_seen: set[str] = set()
        self.find_log: Any = None
        self.find_dumps: Any = None

    # ------------------------------------------------------------------ frames
    def _npz_frames(self) -> tuple[list[PredFrame], bool]:
        from glassfix.protocols.common import load_frame_npz

        if self.npz_dir is None or not self.npz_dir.is_dir():
            return [], False
        names = sorted(p.name for p in self.npz_dir.glob("*.npz") if not p.name.startswith("."))
        reset = bool(self._npz_seen - set(names))  # frames removed: the run was resumed from a checkpoint
        if reset:
            self._npz_seen = set()
        out = []
        for name in names:
            if name in self._npz_seen:
                continue
            try:
                frame, labels, kind = load_frame_npz(self.npz_dir / name)
            except (OSError, ValueError, KeyError):
                continue  # written atomically, so only a foreign file lands here: skip it
            self._npz_seen.add(name)
            frame.step = int(frame.metadata.get("protocol_step", frame.step))
            pred = next((k for k in labels if _is_pred_name(k)), None)
            out.append(PredFrame(frame, None if pred is None else np.asarray(labels[pred], dtype=np.float64),
                                 pred, f"frames/{kind}"))
        return out, reset

    def _dump_frames(self) -> tuple[list[PredFrame], bool, list[str]]:
        out, reset, errs = [], False, []
        for dt in self.dumps:
            frames, r = dt.poll()
            reset |= r
            if dt.error:
                errs.append(dt.error)
            for f in frames:
                cols = f.metadata.get("columns", {})
                pred = next((k for k in cols if _is_pred_name(k) and np.asarray(cols[k]).dtype.kind == "f"), None)
                out.append(PredFrame(f, None if pred is None else np.asarray(cols[pred], dtype=np.float64), pred,
                                     dt.path.name))
        return out, reset, errs

    def activity(self) -> int:
        """Bytes of complete lines read so far from all followed files (grows while the run writes)."""
        tails = [t.tail for t in (self.series, self.log, *self.dumps, *self.extra.values()) if t is not None]
        return sum(t.offset for t in tails) + len(self._npz_seen)

    # ------------------------------------------------------------------ poll
    def poll(self) -> RunData:
        """Read what was appended since the last poll."""
        rd = RunData(self.path, self.kind)
        if self.log is None and self.find_log is not None:
            lp = self.find_log()
            if lp is not None:
                self.log = LogTail(lp)
        if not self.dumps and self.find_dumps is not None:
            self.dumps = [DumpTail(d) for d in self.find_dumps()[:1]]
        info: dict[str, Any] = {"total": self.total}
        for f in self.info_files:
            d = _read_json(f)
            if f.name == "spec.json" and d:
                info["protocol"] = d.get("protocol")
                spec = d.get("spec", {})
                info.update({k: spec[k] for k in ("dt", "sigma0", "axis", "T") if k in spec})
            elif f.name == "state.json" and d:
                info["total"] = info["total"] or d.get("total")
                info["complete"] = bool(d.get("complete")) and int(d.get("step", -1)) >= int(d.get("total", 0))
                info["checkpoint_step"] = d.get("step")
            elif d:  # monitor.json of a shipped input
                info.update({k: v for k, v in d.items() if info.get(k) is None})
        series: dict[str, np.ndarray] = {}
        if self.series is not None:
            self.series.poll()
            series = _normalise(self.series.data())
        if self.log is not None:
            self.log.poll()
            info["loops"] = list(self.log.loops)
            info["errors"] = list(self.log.errors)
            if self.log.finished:
                info["complete"] = True
            if self.log.timestep and not info.get("dt"):
                info["dt"] = self.log.timestep
            if self.series is None:
                series = _normalise(self.log.main_series(want=None))
        for name, tail in self.extra.items():
            tail.poll()
            info[name] = tail.data()
        if self.kind == "LAMMPS input" and self.log is None and series.get("step") is not None and \
                series["step"].size and info.get("total_steps") and series["step"][-1] >= info["total_steps"]:
            info["complete"] = True  # no log to say so: the series reached the announced length
        if "step" in series and "time" not in series and "gamma" not in series and info.get("dt"):
            series["time"] = series["step"] * float(info["dt"])
        prog = info.get("progress") or {}
        if len(prog.get("step", [])):
            info["wall"] = (prog["step"], prog["wall"])
        _attach_prediction_means(series, info.get("predictions") or {})
        rd.series = series
        frames, r1 = self._npz_frames()
        dframes, r2, errs = self._dump_frames()
        rd.frames = sorted(frames + dframes, key=lambda p: p.frame.step)
        rd.reset_frames = r1 or r2
        info.setdefault("errors", [])
        info["errors"] = info["errors"] + errs
        rd.info = info
        if not series:
            rd.notes.append("no series rows yet (the run has not written its first row)")
        return rd


# ---------------------------------------------------------------------------------------------------
# detection
# ---------------------------------------------------------------------------------------------------

_DUMP_CMD = re.compile(r"^\s*(?:dump\s+\S+\s+\S+\s+custom\s+\S+|write_dump\s+\S+\s+custom)\s+(\S+)")


def _head(path: Path, n: int = 4096) -> str:
    try:
        with open(path, "rb") as fh:
            return fh.read(n).decode("utf-8", errors="replace")
    except OSError:
        return ""


def _dumps_in_log(log: Path) -> list[Path]:
    """Dump files named by ``dump ... custom`` / ``write_dump ... custom`` commands echoed in a log."""
    out: list[Path] = []
    text = _head(log, 1 << 18)  # the commands come before the long thermo output
    for ln in text.splitlines():
        m = _DUMP_CMD.match(ln)
        if m:
            p = (log.parent / m.group(1)).resolve()
            if p not in out:
                out.append(p)
    return out


def _prefer(dumps: list[Path]) -> list[Path]:
    """Dumps with a prediction column first, and among them those with unwrapped coordinates."""
    def score(p: Path) -> tuple[int, int, str]:
        head = _head(p, 2000)
        m = re.search(r"ITEM: ATOMS ([^\n]*)", head)
        cols = m.group(1).split() if m else []
        return (-int(any(_is_pred_name(c) for c in cols)), -int("xu" in cols), p.name)
    return sorted(dumps, key=score)


def _is_openmm_log(p: Path) -> bool:
    return _head(p, 200).startswith("# step mean_")


def open_source(path: str | Path, log: str | Path | None = None, dump: str | Path | None = None,
                total: int | None = None) -> Source:
    """The :class:`Source` of ``path`` (a run directory, a LAMMPS log, an OpenMM reporter log or a dump).

    ``log``/``dump`` name the LAMMPS log / the prediction dump explicitly; ``total`` the run length in
    steps where the files do not tell it (a plain log). Raises :class:`MonitorError` for anything else.
    """
    p = Path(path)
    if not p.exists():
        raise MonitorError(f"{p} does not exist: give a `glassfix run` directory, the --out directory of a "
                           f"lammps_inputs/*.lmp run, a LAMMPS log file or an OpenMM reporter log")
    dumps = [Path(dump)] if dump else []
    if dump and not Path(dump).exists():
        raise MonitorError(f"--dump {dump} does not exist")
    logp = Path(log) if log else None
    if p.is_file():
        head = _head(p)
        if head.startswith("LAMMPS (") or "\nLAMMPS (" in head[:400] or logp == p:
            src = Source(p, "LAMMPS log", log=LogTail(p), total=total)
            # the dumps the log names (they appear with their first snapshot), else those beside it
            src.find_dumps = (lambda: [Path(dump)]) if dump else (lambda: _prefer(
                [d for d in _dumps_in_log(p) if d.exists()] or list(p.parent.glob("*.dump"))))
            return src
        if _is_openmm_log(p):
            ds = dumps or _prefer(list(p.parent.glob("*.dump")))
            return Source(p, "OpenMM reporter", series=TableTail(p), dumps=[DumpTail(d) for d in ds[:1]],
                          total=total)
        if head.startswith("ITEM: TIMESTEP"):
            return Source(p, "dump", dumps=[DumpTail(p)], total=total)
        raise MonitorError(f"{p} is not a LAMMPS log (no 'LAMMPS (' banner), an OpenMM reporter log ('# step "
                           f"mean_…' header) or a dump ('ITEM: TIMESTEP'); give the run directory or the log")
    if (p / "spec.json").exists() or (p / "state.json").exists():
        lp = logp or (p / "log.lammps")
        extra = {"progress": TableTail(p / "progress.csv", sep=","),
                 "snapshots": TableTail(p / "snapshots.csv", sep=","),
                 # `glassfix run ... --model`: group means of the prediction fix every N steps
                 "predictions": TableTail(p / "predictions.csv", sep=",")}
        src = Source(p, "glassfix run", series=TableTail(p / "series.csv", sep=","), log=LogTail(lp),
                     npz_dir=p / "frames", info_files=[p / "spec.json", p / "state.json"], extra=extra,
                     total=total)
        # prediction dumps (fix glass/predict + dump) may appear once the run is under way
        src.find_dumps = (lambda: [Path(dump)]) if dump else \
            (lambda: _prefer(list(p.glob("*.dump")) + list((p / "predictions").glob("*.dump"))))
        return src
    mj = _read_json(p / "monitor.json")
    names = [n for n in ("series.txt", "aqs_series.txt") if (p / n).exists()]
    if mj and not names:  # a shipped input that has not written its first row yet
        names = ["aqs_series.txt" if mj.get("protocol") == "aqs" else "series.txt"]
    if names:
        name = names[0]
        extra = {"snapshots": TableTail(p / "snapshots.txt")} if name == "series.txt" else {}
        src = Source(p, "LAMMPS input", series=TableTail(p / name), log=LogTail(logp) if logp else None,
                     info_files=[p / "monitor.json"], extra=extra, total=total)
        if logp is None:  # the log is beside or above the outputs; it may not name them yet: look each poll
            src.find_log = lambda: next((c for c in (p / "log.lammps", p.parent / "log.lammps")
                                         if c.exists() and f"{p.name}/" in _head(c, 1 << 16)), None)
        # the dumps appear after the first snapshot: look for them at each poll until one is there
        src.find_dumps = (lambda: [Path(dump)]) if dump else (lambda: _prefer(list(p.glob("*.dump"))))
        return src
    if logp is not None or (p / "log.lammps").exists():
        return open_source(logp or (p / "log.lammps"), None, dump, total)
    omm = [f for f in sorted(p.iterdir()) if f.is_file() and f.suffix in (".log", ".txt") and _is_openmm_log(f)]
    if omm:
        return open_source(omm[0], None, dump, total)
    found = sorted(p.glob("*.dump"))
    if found or dumps:
        return Source(p, "dump", dumps=[DumpTail(d) for d in (dumps or _prefer(found))[:1]], total=total)
    raise MonitorError(f"{p} is not a run directory: it has no spec.json/state.json (`glassfix run`), "
                       f"series.txt/aqs_series.txt (lammps_inputs/*.lmp), log.lammps, OpenMM reporter log or "
                       f"*.dump; give the directory passed as --out / -var out, or the LAMMPS log file")


def _attach_prediction_means(series: dict[str, np.ndarray], pred: dict[str, Any]) -> None:
    """``pred_mean`` of the series from ``predictions.csv`` (``<output>_mean`` columns, every N steps):
    at each series step the latest prediction at or before it, NaN (a gap) before the first one."""
    cols = [k for k in pred if str(k).endswith("_mean")]
    if "pred_mean" in series or not cols or "step" not in series or not len(pred.get("step", [])):
        return
    ps = np.asarray(pred["step"], dtype=np.float64)
    pv = np.asarray(pred[cols[0]], dtype=np.float64)
    k = np.searchsorted(ps, np.asarray(series["step"], dtype=np.float64), side="right") - 1
    series["pred_mean"] = np.where(k >= 0, pv[np.clip(k, 0, None)], np.nan)
