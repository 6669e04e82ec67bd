"""Swap Monte Carlo (``glassfix swap``): numba engine with cell lists, equilibration ladder, LAMMPS hybrid.

* :class:`SwapMC` (``engine``): Metropolis displacements, discrete type swaps and diameter swaps with
  exact energy differences, acceptance counters and bit-exact checkpoints;
* ``setup``: a system's pair potential with its allowed swaps;
* ``diagnostics``: equilibrium tests (plateau, cage-relative overlap and τ_swap, crystallinity, demixing);
* ``ladder``: annealing in T with those diagnostics and decorrelated samples in a DatasetStore,
  and the swap-vs-MD relaxation report;
* ``lammps_swap``: hybrid MD + ``fix atom/swap`` for discrete mixtures, in-process LAMMPS.

See ``docs/swap_mc.md``.
"""

from glassfix.mc.engine import MoveSet, SwapMC, binary_swap_moves, jbb_moves, polydisperse_moves
from glassfix.mc.ladder import LadderConfig, run_ladder, speedup_report
from glassfix.mc.setup import setup_system

__all__ = ["MoveSet", "SwapMC", "jbb_moves", "binary_swap_moves", "polydisperse_moves", "LadderConfig",
           "run_ladder", "setup_system", "speedup_report"]
