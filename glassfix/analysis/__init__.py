"""Analysis layer: F_s(k, t), tau_alpha fits, MSD, overlap, chi_4, creep-law fit, AQS drop statistics, plots;
softness statistics (P_R(S), its Arrhenius fit, onset T0); looseness statistics (p(1|L), SACF/TACF of L, the
(Δt, D0) label scan; ``looseness_stats``); propensity heterogeneity (Pearson, split-half
ceiling, chi_4, S4/xi_4), chords, xi_int, TTS and the Arrhenius law of tau_alpha.

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
from .looseness_stats import (decay_length, label_scan, loose_given_l, series_trends, spatial_autocorrelation,
                              temporal_autocorrelation)
from .softness_stats import ArrheniusFit, PRofS, fit_softness_arrhenius, fraction_positive, q_ratio, rearrangement_probability
from .heterogeneity import (chi4_from_means, fit_oz, fit_s4_higher, pearson, pearson_per_config, s4_radial,
                            split_half_ceiling)
from .lengths import chord_lengths, intrinsic_length, mean_chord_length
from .tts import Arrhenius, MasterCurve, c_to_time, fit_arrhenius, time_to_c, tts_taus

_PLOTS = ("plot_fs", "plot_msd", "plot_creep", "plot_stress_strain", "plot_bottleneck", "save_figure")

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
    "fit_softness_arrhenius",
    "ArrheniusFit",
    "q_ratio",
    "loose_given_l",
    "spatial_autocorrelation",
    "decay_length",
    "temporal_autocorrelation",
    "series_trends",
    "label_scan",
    "pearson",
    "pearson_per_config",
    "split_half_ceiling",
    "chi4_from_means",
    "s4_radial",
    "fit_oz",
    "fit_s4_higher",
    "chord_lengths",
    "mean_chord_length",
    "intrinsic_length",
    "tts_taus",
    "MasterCurve",
    "Arrhenius",
    "fit_arrhenius",
    "c_to_time",
    "time_to_c",
    *_PLOTS,
]


def __getattr__(name: str) -> Any:
    """Load the matplotlib-based plotting functions on first use."""
    if name in _PLOTS:
        from . import plots

        return getattr(plots, name)
    raise AttributeError(f"module 'glassfix.analysis' has no attribute {name!r}")
