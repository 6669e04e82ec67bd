"""Analysis layer: F_s(k, t), tau_alpha fits, MSD, overlap, chi_4, creep-law fit, AQS drop statistics,
softness statistics (P_R(S), Arrhenius fit, onset T0), plots.

Units: lengths in sigma, times in tau, stresses in LJ stress units, energies in epsilon. The plotting
functions are imported lazily (on first access) so that using the numerical tools does not import
matplotlib.
"""

from __future__ import annotations

from typing import Any

from .creep import CreepFit, average_runs, axial_strain, fit_creep_law
from .dynamics import chi4, msd, overlap, self_intermediate_scattering, shell_wavevectors
from .relaxation import RelaxationFit, fit_double_stretched, fit_kww, log_bin, tau_alpha_crossing
from .mechanics import DropEvents, DropStatistics, detect_drops, detect_events, drop_statistics
from .softness_stats import ArrheniusFit, PRofS, fit_arrhenius, fraction_positive, q_ratio, rearrangement_probability

_PLOTS = ("plot_fs", "plot_msd", "plot_creep", "plot_stress_strain", "save_figure")

__all__ = [
    "msd",
    "self_intermediate_scattering",
    "shell_wavevectors",
    "overlap",
    "chi4",
    "tau_alpha_crossing",
    "log_bin",
    "RelaxationFit",
    "fit_kww",
    "fit_double_stretched",
    "CreepFit",
    "fit_creep_law",
    "average_runs",
    "axial_strain",
    "DropEvents",
    "DropStatistics",
    "detect_drops",
    "drop_statistics",
    "detect_events",
    "fraction_positive",
    "rearrangement_probability",
    "PRofS",
    "fit_arrhenius",
    "ArrheniusFit",
    "q_ratio",
    *_PLOTS,
]


def __getattr__(name: str) -> Any:
    """Load the matplotlib-based plotting functions on first use."""
    if name in _PLOTS:
        from . import plots

        return getattr(plots, name)
    raise AttributeError(f"module 'glassfix.analysis' has no attribute {name!r}")
