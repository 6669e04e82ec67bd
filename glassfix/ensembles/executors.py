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
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from typing import Any

__all__ = ["EXECUTOR_KINDS", "default_workers", "get_executor", "executor_context", "SerialExecutor"]

EXECUTOR_KINDS = ("local", "mpi", "dask", "serial")

_PM_PREFIXES = ("PMI_", "PMIX_", "HYDRA_", "OMPI_", "MPIR_", "MPI_LOCAL")


def default_workers() -> int:
    """Usable cores of this process (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _local_worker_init() -> None:
    """Make a pool child an MPI singleton with one OpenMP thread (one core per task)."""
    for k in list(os.environ):
        if k.startswith(_PM_PREFIXES):
            del os.environ[k]
    os.environ["OMP_NUM_THREADS"] = "1"


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
    """A ``concurrent.futures.Executor`` of ``kind`` (``local``, ``mpi``, ``dask``, ``serial``).

    ``workers``: processes (default: usable cores); ignored by ``mpi`` under ``python -m mpi4py.futures``
    (the MPI world's size fixes it) and by ``dask`` with an ``address``. For ``mpi`` under a plain
    ``mpirun``/``srun`` use :func:`executor_context` instead, which also puts the other ranks to work.
    """
    if kind not in EXECUTOR_KINDS:
        raise ValueError(f"unknown executor {kind!r}; choose one of {', '.join(EXECUTOR_KINDS)}")
    n = int(workers) if workers is not None else default_workers()
    if n < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if kind == "serial":
        return SerialExecutor()
    if kind == "local":
        return ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_local_worker_init)
    if kind == "mpi":
        _mpi()
        from mpi4py.futures import MPIPoolExecutor  # noqa: PLC0415

        return MPIPoolExecutor(max_workers=n)
    try:
        import distributed  # noqa: PLC0415
    except ImportError:
        raise RuntimeError('the dask executor needs Dask distributed: pip install "dask[distributed]" '
                           '(or choose --executor local or mpi)') from None
    if address:
        client = distributed.Client(address)
    else:
        client = distributed.Client(distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True))
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
