"""Labels of a frame from its isoconfigurational replicas: propensity, cage-relative propensity, bond breaking.

From R replica trajectories (R, N, d) of one starting frame: the propensity S_i(t) = ⟨|r_i(t) − r_i(0)|⟩,
the cage-relative variant (cages = neighbours within r_cage at t = 0) and the bond-breaking correlation
C_B (bonds of the starting frame kept at t, cutoffs a·σ_αβ in and b·σ_αβ out). The per-atom kernels live
in :mod:`glassfix.labels`; this module names the labels, attaches their parameters and forms the
bond-breaking cutoffs of a system. The store label names are ``propensity/<t>``,
``propensity_cage/<t>,r_cage=<r>`` and ``bond_breaking/<t>`` with ``<t>`` a time label ``t=<time>``.

Units: lengths σ_AA (propensities, cutoffs, r_cage), times τ; C_B dimensionless.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .timegrid import format_time

if TYPE_CHECKING:  # the package is imported by replica workers: keep numba-backed modules out of it
    from ..core.frame import Frame

__all__ = ["DEFAULT_BB_FACTORS", "compute_labels", "label_names", "bond_breaking_cutoffs", "mean_bond_breaking"]

# Default bond-breaking cutoff factors (a, b), in units of σ_αβ (see glassfix.labels.bonds).
DEFAULT_BB_FACTORS = (1.485, 1.7)


def compute_labels(frame: Frame, replicas: Mapping[str, np.ndarray], *, cage_radius: float | None = None,
                   bb_cut: tuple[np.ndarray, np.ndarray] | None = None,
                   params: Mapping[str, Any] | None = None,
                   extra_params: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """Labels of one frame from its replicas ``{time label: (R, N, d)}``, as ``{name: (values, params)}``.

    Always ``propensity/<t>`` = ⟨|Δr|⟩ over replicas (length units); with ``cage_radius`` also
    ``propensity_cage/<t>,r_cage=<r>`` (cage-relative |Δr|, cages = neighbours within r at t = 0); with
    ``bb_cut = (cut_in, cut_out)`` (per-type-pair matrices, length) also ``bond_breaking/<t>`` (C_B,
    dimensionless). ``params`` are attached to every label, ``extra_params[t]`` to those of time ``t``.
    """
    from ..data.labels_meta import offset_attrs
    from ..labels.bonds import bond_breaking
    from ..labels.propensity import propensity

    # replica labels describe the configuration they start from: the frame they are stored on
    base = {**dict(params or {}), **offset_attrs(frame.step, 0)}
    cage = None
    if cage_radius is not None:
        from ..core.neighbors import neighbor_list

        cage = neighbor_list(frame, float(cage_radius))
    out: dict[str, Any] = {}
    for t, reps in replicas.items():
        reps = np.asarray(reps)
        p = {**base, "replicas": int(reps.shape[0]), **dict((extra_params or {}).get(t, {}))}
        out[f"propensity/{t}"] = (propensity(frame.positions, reps, kind="abs"), {**p, "quantity": "mean |dr|"})
        if cage is not None:
            out[f"propensity_cage/{t},r_cage={format_time(cage_radius)}"] = (
                propensity(frame.positions, reps, kind="abs", cage_relative=True, cage_neighbors=cage),
                {**p, "quantity": "mean |dr - cage mean dr|"})
        if bb_cut is not None:
            out[f"bond_breaking/{t}"] = (bond_breaking(frame, reps, bb_cut[0], bb_cut[1]),
                                         {**p, "quantity": "C_B = mean n_t/n_0"})
    return out


def label_names(time_labels: Sequence[str], cage_radius: float | None = None,
                bond_breaking: bool = False) -> list[str]:
    """Names of the labels :func:`compute_labels` makes for these time labels and options."""
    out = []
    for t in time_labels:
        out.append(f"propensity/{t}")
        if cage_radius is not None:
            out.append(f"propensity_cage/{t},r_cage={format_time(cage_radius)}")
        if bond_breaking:
            out.append(f"bond_breaking/{t}")
    return out


def _system_sigma(system: Any) -> np.ndarray | None:
    if hasattr(system, "sigma_matrix"):
        return np.asarray(system.sigma_matrix(), dtype=np.float64)
    if hasattr(system, "sigma"):
        s = np.asarray(system.sigma, dtype=np.float64)
        return s if s.ndim == 2 else None
    return None


def bond_breaking_cutoffs(system: Any, factors: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """(cut_in, cut_out) = (a·σ_αβ, b·σ_αβ) per type pair (length) for ``factors = (a, b)`` of ``system``."""
    sigma = _system_sigma(system)
    if sigma is None:
        raise ValueError(f"system {system.name} has no sigma matrix (sigma_matrix() or sigma), so bond-breaking "
                         f"cutoffs a·σ_αβ cannot be formed; drop the bond-breaking option")
    a, b = float(factors[0]), float(factors[1])
    if not (0 < a <= b):
        raise ValueError(f"bond-breaking factors need 0 < a <= b (cutoffs a·σ in, b·σ out), got {factors}")
    return a * sigma, b * sigma


def mean_bond_breaking(frame: Frame, positions: np.ndarray, cut: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Mean C_B over type-0 atoms per snapshot, for positions (n_times, N, d) of one replica."""
    from ..labels.bonds import bond_breaking

    first = frame.types == 0
    return np.array([np.nanmean(bond_breaking(frame, p, cut[0], cut[1])[first]) for p in positions])
