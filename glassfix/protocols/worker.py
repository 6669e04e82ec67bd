"""MPI entry point: ``mpirun -np K python -m glassfix.protocols.worker REQUEST.json``.

Every rank runs the same protocol code on ``MPI.COMM_WORLD`` (LAMMPS decomposes the domain); rank 0
writes the files and prints progress lines prefixed ``[glassfix]`` that the launching process relays.
An exception on any rank aborts the whole job (a rank that stopped alone would leave the others
waiting forever in a collective call).
"""

from __future__ import annotations

import json
import sys
import traceback


def main(argv: list[str] | None = None) -> int:
    """Run the protocol request file given as the only argument."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m glassfix.protocols.worker REQUEST.json", file=sys.stderr)
        return 2
    from mpi4py import MPI

    from glassfix.protocols.api import run_local, spec_from_dict
    from pathlib import Path

    comm = MPI.COMM_WORLD
    if comm.Get_size() > 1:
        try:  # one numba thread per rank: the ranks already fill the cores
            import numba

            numba.set_num_threads(1)
        except (ImportError, ValueError):
            pass
    try:
        with open(argv[0]) as fh:
            req = json.load(fh)
        spec = spec_from_dict(req["protocol"], req["spec"])
        workdir = Path(argv[0]).resolve().parent.parent  # <workdir>/tmp/request.json

        def say(msg: str) -> None:
            print(f"[glassfix] {msg}", flush=True)

        run_local(spec, workdir, comm=comm, store=None, resume=bool(req["resume"]), progress=say,
                  stop_after=req.get("stop_after"))
    except Exception as exc:  # report once per rank, then take every rank down
        print(f"rank {comm.Get_rank()}: error: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        traceback.print_exc()
        comm.Abort(1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
