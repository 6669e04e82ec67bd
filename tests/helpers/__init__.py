"""Shared test helpers (not tests): LAMMPS runs under mpirun (``lmp_util``), fault injection (``fault_util``),
reference implementations and checks shared by several test files. ``tests/conftest.py`` puts ``tests/`` on
``sys.path``, so tests import them as ``helpers.<module>``."""

from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
DATA = TESTS / "data"
