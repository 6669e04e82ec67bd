"""The bridge's numba thread pool never spins: with LAMMPS driven from Python, numba is imported (default
OpenMP layer) before the bridge; configuring the fix's threads still starts the pool on the workqueue layer,
whose idle workers block instead of busy-waiting on the other ranks' cores."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from helpers import REPO


def _layer_after_configure(env_layer: str | None) -> str:
    code = textwrap.dedent("""
        import numba                                   # imported first, as a Python driver of LAMMPS does
        import numpy as np
        from glassfix.engines.lammps.bridge import _configure_threads

        @numba.njit(parallel=True)
        def f(n):
            s = 0.0
            for i in numba.prange(n):
                s += i
            return s

        _configure_threads({"nprocs": 2})
        f(100)
        print(numba.threading_layer())
    """)
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_THREADING_LAYER",)}
    if env_layer:
        env["NUMBA_THREADING_LAYER"] = env_layer
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.split()[-1]


def test_pool_started_by_the_bridge_uses_the_workqueue_layer():
    assert _layer_after_configure(None) == "workqueue"


def test_a_layer_the_user_chose_is_kept():
    assert _layer_after_configure("omp") == "omp"
