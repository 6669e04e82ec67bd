"""Dynamical labels for training and evaluating structural predictors.

- :mod:`.phop`: cage-jump indicator p_hop (Candelier et al.);
- :mod:`.events`: rearranging / quiescent masks and class-balanced training sets from p_hop (softness),
  top/bottom fractions (ACE thermal labels), loose/tight classes (creep);
- :mod:`.d2min`: Falk–Langer non-affine displacement D²min and the local affine map;
- :mod:`.propensity`: isoconfigurational displacement propensity (plain and cage-relative) and the
  split-half label-noise ceiling;
- :mod:`.bonds`: BOTAN pair-distance targets E_ij and bond-breaking propensity C_B.
"""

from .bonds import bond_breaking, cutoff_matrix, pair_targets
from .d2min import d2min, d2min_trajectory
from .events import extremes, loose_tight, quiescent_mask, rearranging_mask, select_training_set
from .phop import phop, window_halves
from .propensity import (
    NoiseCeiling,
    cage_relative_displacements,
    isoconfigurational_average,
    propensity,
    split_half_noise_ceiling,
)

__all__ = [
    "phop",
    "window_halves",
    "rearranging_mask",
    "quiescent_mask",
    "select_training_set",
    "extremes",
    "loose_tight",
    "d2min",
    "d2min_trajectory",
    "propensity",
    "cage_relative_displacements",
    "isoconfigurational_average",
    "split_half_noise_ceiling",
    "NoiseCeiling",
    "pair_targets",
    "bond_breaking",
    "cutoff_matrix",
]
