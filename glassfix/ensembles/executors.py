"""Executors for ensemble launchers: local processes (default), mpi4py.futures (clusters), Dask, serial.

Every kind yields a ``concurrent.futures.Executor`` (``submit`` returning futures); tasks are pure
functions of picklable arguments (:func:`glassfix.ensembles.replica.run_replica`), so all kinds give the same
results.

* ``local``: ``ProcessPoolExecutor`` with the ``spawn`` start method. ``fork`` happens to work with the
  mpich wheel here (tested: identical replicas, even after the parent initialised MPI through LAMMPS) and
  starts faster, but a forked child inherits the parent's MPI state (MPICH does not support fork after
  ``MPI_Init``), its threads' locks (numba, HDF5) and the open store with its ``flock``, which would
  keep a killed launcher's store locked while orphaned children finish. Spawned children start clean
  (about 1 s once per pool). The initializer drops process-manager variables (``PMI_*``, ``PMIX_*``,
  ``HYDRA_*``, ``OMPI_*``) inherited from a launcher that itself runs under ``mpirun``, so each child
  is an MPI singleton.
* ``mpi``: ``mpi4py.futures``. Under ``mpirun -np K python -m mpi4py.futures -m glassfix.cli iso ...``
  rank 0 runs the launcher and ranks 1..K-1 are the workers; under ``mpirun -np K glassfix iso ...
  --executor mpi`` (or ``srun``) :func:`executor_context` splits ``COMM_WORLD`` the same way with
  ``MPICommExecutor`` (workers get ``None`` and just serve). Each task then runs LAMMPS on
  ``MPI_COMM_SELF``. :func:`executor_context` refuses ``mpi`` in a single process (an MPI singleton
  cannot spawn workers reliably); :func:`get_executor` ("mpi") returns ``MPIPoolExecutor(workers)``, which
  spawns them with ``MPI_Comm_spawn`` where the MPI installation supports it.
* ``dask``: ``distributed.Client(address).get_executor()`` (a ``LocalCluster`` of ``workers`` single-threaded
  processes when no address is given); needs ``pip install "dask[distributed]"``.
* ``serial``: runs each task in the calling process when it is submitted (debugging, profiling).

No orphans. A worker must not outlive its launcher (a killed launcher's pool would otherwise keep
running, and every resume would add another). Local pool workers and the processes of a local Dask
cluster call :func:`exit_with_launcher`: on Linux the kernel kills a pool worker when the launcher dies
(``prctl(PR_SET_PDEATHSIG, SIGKILL)``; pool workers are started from the thread that submits), and a
watchdog thread in every worker (any POSIX system) polls the launcher every 0.25 s and, once it is gone,
kills the worker's own child processes and exits. With ``mpi`` the MPI runtime ends the job when a rank
dies (MPICH's and Open MPI's default; do not run with ``-disable-auto-cleanup``); workers spawned by
:func:`get_executor` ("mpi") on the launcher's host also run the watchdog.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

from glassfix.core.registry import Registry

__all__ = ["EXECUTORS", "default_workers", "get_executor", "executor_context", "SerialExecutor",
           "exit_with_launcher"]

# kind -> factory(workers, address) returning a concurrent.futures.Executor; the built-ins are registered
# below (`glassfix iso --executor` lists them), others with @EXECUTORS.register("name").
EXECUTORS: Registry[Callable[[int, "str | None"], Executor]] = Registry(
    "executor", hint='register a factory(workers, address) with @EXECUTORS.register("name")')

_PM_PREFIXES = ("PMI_", "PMIX_", "HYDRA_", "OMPI_", "MPIR_", "MPI_LOCAL")


def default_workers() -> int:
    """Usable cores of this process (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_WATCH_INTERVAL = 0.25  # seconds between two looks at the launcher


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks) of a process from /proc; None where /proc is unavailable."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return ("X", "")
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) ": state is field 3, starttime 22
    return fields[0], fields[19]


def _alive(pid: int, start: str | None) -> bool:
    """Whether process ``pid`` (started at ``start`` ticks, when known) still runs (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    st = _proc_stat(pid)
    if st is None:
        return True
    state, started = st
    return state not in ("Z", "X") and (start is None or started == start)


def _kill_own_children() -> None:
    """SIGKILL the direct children of this process (e.g. an ``lmp`` or MPI helper it started), via /proc."""
    me = str(os.getpid())
    try:
        entries = [d for d in os.listdir("/proc") if d.isdigit()]
    except OSError:
        return
    for d in entries:
        try:
            text = Path(f"/proc/{d}/stat").read_text()
            if text[text.rindex(")") + 2:].split()[1] == me:
                os.kill(int(d), signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            continue


def _watchdog(pid: int, start: str | None, parent: bool, interval: float) -> None:
    while True:
        time.sleep(interval)
        if (parent and os.getppid() != pid) or not _alive(pid, start):
            _kill_own_children()
            os._exit(70)  # not sys.exit: the main thread may be busy inside LAMMPS


def exit_with_launcher(launcher_pid: int, interval: float = _WATCH_INTERVAL) -> None:
    """Make this (worker) process exit as soon as process ``launcher_pid`` (on this host) is gone.

    If the launcher is our parent, on Linux ask the kernel to SIGKILL us when it dies (PR_SET_PDEATHSIG);
    in all cases start a daemon thread that checks the launcher every ``interval`` seconds and then kills
    our own children and exits. Exits at once if the launcher is already gone.
    """
    launcher_pid = int(launcher_pid)
    parent = os.getppid() == launcher_pid
    if parent and sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the watchdog below still works
    st = _proc_stat(launcher_pid)
    start = st[1] if st is not None and st[0] != "X" else None
    if (parent and os.getppid() != launcher_pid) or not _alive(launcher_pid, start):
        os._exit(70)  # the launcher died before we got here
    threading.Thread(target=_watchdog, args=(launcher_pid, start, parent, float(interval)), daemon=True,
                     name="glassfix-launcher-watchdog").start()


def _exit_with_launcher_on(host: str, launcher_pid: int) -> None:
    """:func:`exit_with_launcher` if this process runs on ``host`` (a pid means nothing elsewhere)."""
    if socket.gethostname() == host:
        exit_with_launcher(launcher_pid)


def _local_worker_init(launcher_pid: int | None = None) -> None:
    """Make a pool child an MPI singleton with one OpenMP thread (one core per task) that exits with its
    launcher."""
    for k in list(os.environ):
        if k.startswith(_PM_PREFIXES):
            del os.environ[k]
    os.environ["OMP_NUM_THREADS"] = "1"
    if launcher_pid is not None:
        exit_with_launcher(launcher_pid)


class SerialExecutor(Executor):
    """An executor that runs each task immediately in the calling process (same results, no parallelism)."""

    def __init__(self) -> None:
        self._shutdown = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        """Run ``fn(*args, **kwargs)`` now; return a finished future."""
        if self._shutdown:
            raise RuntimeError("cannot submit after shutdown")
        fut: Future = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - delivered through the future, as other executors do
            fut.set_exception(exc)
        return fut

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Refuse further tasks."""
        self._shutdown = True


def _mpi() -> Any:
    try:
        from mpi4py import MPI  # noqa: PLC0415
    except ImportError:
        raise RuntimeError("the 'mpi' executor needs mpi4py: pip install mpi4py") from None
    return MPI


def get_executor(kind: str = "local", workers: int | None = None, *, address: str | None = None) -> Executor:
    """A ``concurrent.futures.Executor`` of ``kind`` (``local``, ``mpi``, ``dask``, ``serial`` or a registered one).

    ``workers``: processes (default: usable cores); ignored by ``mpi`` under ``python -m mpi4py.futures``
    (the MPI world's size fixes it) and by ``dask`` with an ``address``. For ``mpi`` under a plain
    ``mpirun``/``srun`` use :func:`executor_context` instead, which also puts the other ranks to work.
    """
    factory = EXECUTORS.get(kind)
    n = int(workers) if workers is not None else default_workers()
    if n < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    return factory(n, address)


@EXECUTORS.register("serial")
def _serial_executor(n: int, address: str | None) -> Executor:
    return SerialExecutor()


@EXECUTORS.register("local")
def _local_executor(n: int, address: str | None) -> Executor:
    return ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"),
                               initializer=functools.partial(_local_worker_init, os.getpid()))


@EXECUTORS.register("mpi")
def _mpi_executor(n: int, address: str | None) -> Executor:
    _mpi()
    from mpi4py.futures import MPIPoolExecutor  # noqa: PLC0415

    # Spawned workers on the launcher's host watch it too (the MPI runtime may not end a spawned
    # job when its parent dies); workers on other hosts cannot see its pid and rely on the runtime.
    return MPIPoolExecutor(max_workers=n, initializer=_exit_with_launcher_on,
                           initargs=(socket.gethostname(), os.getpid()))


@EXECUTORS.register("dask")
def _dask_executor(n: int, address: str | None) -> Executor:
    try:
        import distributed  # noqa: PLC0415
    except ImportError:
        raise RuntimeError('the dask executor needs Dask distributed: pip install "dask[distributed]" '
                           '(or choose --executor local or mpi)') from None
    if address:
        client = distributed.Client(address)
    else:
        client = distributed.Client(distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True))
        # Our own cluster's nannies and workers exit with us (a remote cluster is not ours to stop).
        client.run(exit_with_launcher, os.getpid(), nanny=True)
        client.run(exit_with_launcher, os.getpid())
    return _DaskExecutor(client)


class _DaskExecutor(Executor):
    """``Client.get_executor()`` that also closes its client (and local cluster) on shutdown."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._ex = client.get_executor(pure=False)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        """Submit to the Dask cluster."""
        return self._ex.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Shut the executor down and close the client."""
        self._ex.shutdown(wait=wait)
        cluster = getattr(self._client, "cluster", None)
        self._client.close()
        if cluster is not None:
            cluster.close()


def mpi_world_size() -> int:
    """Size of MPI_COMM_WORLD (1 when mpi4py is missing)."""
    try:
        return int(_mpi().COMM_WORLD.Get_size())
    except RuntimeError:
        return 1


@contextlib.contextmanager
def executor_context(kind: str = "local", workers: int | None = None, *,
                     address: str | None = None) -> Iterator[Executor | None]:
    """Context manager yielding an executor, or ``None`` on MPI ranks that serve as workers.

    For ``mpi`` with more than one rank (``mpirun -np K ...`` with or without ``-m mpi4py.futures``)
    this is ``mpi4py.futures.MPICommExecutor(COMM_WORLD, root=0)``: rank 0 gets the executor (K − 1
    workers), the other ranks get ``None`` once the root is done and must just exit; ``mpi`` in a single
    process raises RuntimeError naming the mpirun command. Other kinds:
    :func:`get_executor`, shut down (waiting for running tasks) on exit.
    """
    if kind == "mpi":
        MPI = _mpi()
        from mpi4py.futures import MPICommExecutor  # noqa: PLC0415

        if MPI.COMM_WORLD.Get_size() > 1:  # also the case under 'python -m mpi4py.futures'
            with MPICommExecutor(MPI.COMM_WORLD, root=0) as ex:
                yield ex
            return
        # A lone process would have to MPI_Comm_spawn its workers, which an MPI singleton cannot do
        # reliably (MPICH aborts or hangs without its process manager): refuse with the fix instead.
        raise RuntimeError("the mpi executor needs MPI ranks to work on: run under mpirun or srun, e.g. "
                           "'mpirun -np 17 python -m mpi4py.futures -m glassfix.cli iso STORE --executor mpi ...' "
                           "(16 workers), or use --executor local on one machine")
    ex = get_executor(kind, workers, address=address)
    try:
        yield ex
    finally:
        ex.shutdown(wait=True, cancel_futures=True)
