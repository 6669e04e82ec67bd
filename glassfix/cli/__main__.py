"""``python -m glassfix.cli ...`` (also under ``mpirun ... python -m mpi4py.futures -m glassfix.cli iso ...``)."""

import sys

from glassfix.cli import main

# the guard matters: mpi4py.futures workers import the launcher's main module under another name
if __name__ == "__main__":
    sys.exit(main())
