"""``python -m glassfix.cli ...`` (also under ``mpirun ... python -m mpi4py.futures -m glassfix.cli iso ...``)."""

import sys

from glassfix.cli import main

sys.exit(main())
