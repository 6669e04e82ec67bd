"""``run(spec, workdir, ...)``: one entry point for every protocol, on 1 rank in-process or K ranks under mpirun."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Mapping

from glassfix.core.registry import Registry, UnknownName
from glassfix.protocols.common import (
    ENGINES, Progress, ProtocolError, ProtocolResult, Workdir, launch_mpi, sync_frames_to_store,
)

__all__ = ["run", "run_local", "spec_from_dict", "protocol_of", "PROTOCOLS"]


#: protocol name -> its ProtocolRun class (which names its spec dataclass in ``spec_class``).
PROTOCOLS: Registry[Any] = Registry(
    "protocol",
    builtins={"prepare": "glassfix.protocols.prepare:PrepareRun", "nve": "glassfix.protocols.nve:NVERun",
              "creep": "glassfix.protocols.creep:CreepRun", "aqs": "glassfix.protocols.aqs:AQSRun"},
    key="protocol",
)


def protocol_of(spec: Any) -> str:
    """The protocol name of a spec object (``"prepare"``, ``"nve"``, ``"creep"``, ``"aqs"``)."""
    runs = PROTOCOLS.load_all()
    for name, run_cls in runs.items():
        if isinstance(spec, run_cls.spec_class):
            return name
    raise ProtocolError(f"{type(spec).__name__} is not a protocol spec (expected one of "
                        f"{', '.join(r.spec_class.__name__ for r in runs.values())})")


def spec_from_dict(protocol: str, d: Mapping[str, Any]) -> Any:
    """Rebuild the spec of ``protocol`` from its dict (as stored in ``spec.json``)."""
    try:
        run_cls = PROTOCOLS.get(protocol)
    except UnknownName as exc:
        raise ProtocolError(str(exc)) from None
    return run_cls.spec_class.from_dict(d)


def _start_path(spec: Any, workdir: Path) -> Path | None:
    """Starting configuration: ``spec.data``, else the nested prepare run's output in ``workdir/prepare``."""
    if not hasattr(spec, "data"):
        return None
    if spec.data:
        return Path(spec.data).resolve()
    name = "inherent.data" if getattr(spec, "start_from", "inherent") == "inherent" else "final.data"
    return (workdir / "prepare" / name).resolve()


def _absolute_paths(spec: Any) -> Any:
    """``spec`` with its input files (``data``, ``model``) as absolute paths: an MPI worker runs with the
    work directory as its current directory, where a relative path would point elsewhere."""
    changes = {}
    for name in ("data", "model"):
        v = getattr(spec, name, None)
        if v and not Path(v).is_absolute():
            changes[name] = str(Path(v).resolve())
    return spec.replace(**changes) if changes else spec


def _run_class(name: str, engine: str) -> Any:
    """The runner of protocol ``name`` on ``engine`` (ProtocolError naming what OpenMM cannot run)."""
    if engine == "lammps":
        return PROTOCOLS.get(name)
    from glassfix.protocols.openmm_runs import OPENMM_RUNS

    if name not in OPENMM_RUNS:
        raise ProtocolError(f"--engine openmm runs {', '.join(OPENMM_RUNS)}, not {name!r}: run {name} with "
                            f"--engine lammps (its output files are engine-neutral)")
    return OPENMM_RUNS[name]


def run_local(spec: Any, workdir: str | Path, comm: Any = None, store: Any = None, resume: bool = True,
              progress: bool | Callable[[str], None] = True, stop_after: int | None = None,
              engine: str = "lammps", engine_options: Mapping[str, Any] | None = None) -> ProtocolResult:
    """Run a protocol in this process (``comm``: an mpi4py communicator when every rank calls this);
    ``engine_options`` (OpenMM): ``platform`` (MD), ``threads`` (CPU platform), ``min_platform`` (minimisations,
    default Reference)."""
    run_cls = _run_class(protocol_of(spec), engine)
    wd = Workdir(workdir, root=(comm is None or comm.Get_rank() == 0))
    if comm is not None:
        comm.Barrier()  # rank 0 created the directories
    runner = run_cls(spec, wd, comm=comm, progress=progress, store=store)
    if engine != "lammps":
        runner.engine_options = dict(engine_options or {})
    start = _start_path(spec, wd.path)
    if start is not None:
        runner.start_path = start
    return runner.execute(resume=resume, stop_after=stop_after)


def run(spec: Any, workdir: str | Path, engine: str = "lammps", nprocs: int = 1, store: Any = None,
        resume: bool = True, progress: bool | Callable[[str], None] = True, stop_after: int | None = None,
        timeout: float | None = None, engine_options: Mapping[str, Any] | None = None) -> ProtocolResult:
    """Run (or resume) the protocol described by ``spec`` in ``workdir``.

    - ``engine``: ``"lammps"`` or ``"openmm"`` (NVE, creep, AQS; one process, ``engine_options``:
      ``platform`` name, CPU ``threads``; a nested preparation runs on LAMMPS).
    - ``nprocs``: 1 runs LAMMPS in this process; K > 1 runs the same code under ``mpirun -np K``.
    - ``store``: a dataset store (path or open :class:`~glassfix.data.store.DatasetStore`) that receives
      the protocol's frames (group = ``spec.group`` or the work directory's name); None: frames stay in
      ``workdir/frames``.
    - ``resume``: continue from the last checkpoint (default); False starts over, deleting the outputs.
    - ``stop_after``: stop at the first segment boundary at or beyond this protocol step (MD step, or
      AQS strain step), writing a checkpoint there — e.g. to split a long run over several jobs;
      calling again resumes.
    - A creep/AQS/NVE spec without ``data`` first runs its ``prepare`` spec in ``workdir/prepare``.

    Returns a :class:`ProtocolResult`; ``result.complete`` is False when stopped early.
    """
    if engine not in ENGINES:
        raise ProtocolError(f"engine {engine!r} is not available; supported: {', '.join(ENGINES)}")
    nprocs = int(nprocs)
    if nprocs < 1:
        raise ProtocolError(f"nprocs must be >= 1, got {nprocs}")
    name = protocol_of(spec)
    if engine != "lammps":
        _run_class(name, engine)  # refuse an unsupported protocol before any preparation
        if nprocs != 1:
            raise ProtocolError(f"--engine openmm runs in one process (nprocs={nprocs}); drop --np and give the "
                                f"CPU platform threads (--threads K) or run on CUDA")
        if engine_options and set(engine_options) - {"platform", "threads", "min_platform"}:
            raise ProtocolError(f"engine_options {sorted(engine_options)}: OpenMM takes platform, threads and "
                                f"min_platform")
    workdir = Path(workdir).resolve()
    spec = _absolute_paths(spec)
    say = Progress(progress)
    if hasattr(spec, "data") and not spec.data:
        if spec.prepare is None:
            raise ProtocolError(f"{name}: give either data (a LAMMPS data/restart file) or prepare (a PrepareSpec)")
        prep_spec = spec.prepare
        if prep_spec.group is None:  # store group of the glass: "<run group>-prepare", unique per run
            prep_spec = prep_spec.replace(group=f"{spec.group or workdir.resolve().name}-prepare")
        # the glass is prepared on LAMMPS whatever the engine: its data file is engine-neutral
        prep = run(prep_spec, workdir / "prepare", "lammps", nprocs, store, resume, progress, None, timeout)
        if not prep.complete:
            raise ProtocolError(f"{name}: the preparation in {workdir / 'prepare'} did not complete")
    if getattr(spec, "model", None) and engine == "lammps":
        from glassfix.engines.lammps.plugin import plugin_path

        plugin_path()  # build it here once, not concurrently on every MPI rank
    if nprocs == 1:
        return run_local(spec, workdir, None, store, resume, progress, stop_after, engine, engine_options)
    launch_mpi(name, spec, workdir, nprocs, resume, stop_after, say, timeout)
    wd = Workdir(workdir)
    state = wd.read_state() or {}
    group = spec.group or wd.path.name
    if store is not None:
        sync_frames_to_store(store, wd, group, max_step=int(state.get("step", 0)))
    summary = json.loads((wd.path / "result.json").read_text()) if state.get("complete") else {}
    outputs = {p.stem: p for p in wd.path.iterdir() if p.suffix in (".csv", ".data", ".json")}
    outputs["frames"] = wd.frames
    return ProtocolResult(name, wd.path, bool(state.get("complete")), int(state.get("step", 0)),
                          int(state.get("total", 0)), outputs, summary)
