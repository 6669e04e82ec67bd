"""Analyses of the MD labels (and of predictions) for ``glassfix reproduce tglassmlp``.

Per labelled temperature and label time: ⟨C̄_B⟩, χ4 = N1 var(C̄_B), the split-half label-noise ceiling of
ρ_P (per-replica C_B recomputed from the stored replica positions), ⟨ξ_chord⟩ (pooled median, unit
lattice, periodic rows/columns), S4(q) with its OZ fit where the box allows (N = 1290: q_min = 2π/L ≈ 0.19,
so only a few bins lie in 0.2 ≤ q ≤ 0.6). Everything is computed on type-0 (the paper's type-1, large)
particles.

Units: times τ, lengths σ, wavenumbers 1/σ; C_B, χ4, S4, ρ_P dimensionless.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["per_replica_bonds", "label_analysis", "prediction_analysis"]


def per_replica_bonds(iso_store: Path, time_label: str, max_frames: int | None = None) -> list[np.ndarray]:
    """Per-replica n_t/n_0 of the type-0 atoms, (R, n1) per frame, recomputed from the stored replicas."""
    from glassfix.data.store import DatasetStore
    from glassfix.ensembles.labels import DEFAULT_BB_FACTORS, bond_breaking_cutoffs
    from glassfix.labels.bonds import bond_breaking
    from glassfix.systems import get_system

    out = []
    with DatasetStore(iso_store, "r") as ds:
        for k in ds.keys()[: max_frames or None]:
            if f"bond_breaking/{time_label}" not in ds.label_names(k) or time_label not in ds.replicas_names(k):
                continue
            f = ds.frame(k)
            info = ds.frame_info(k)
            params = ds.label_params(k, f"bond_breaking/{time_label}")
            # glassfix iso labels with its default cutoffs and does not store them; honour them if present
            raw = params.get("bb_factors", DEFAULT_BB_FACTORS)
            factors = tuple(float(x) for x in (json.loads(raw) if isinstance(raw, str) else raw))
            cut = bond_breaking_cutoffs(get_system(info["system"]), factors)
            reps = ds.replicas(k)[time_label]
            first = np.flatnonzero(f.types == 0)
            out.append(bond_breaking(f, reps, cut[0], cut[1], centers=first, per_replica=True))
    return out


def s4_xi4(positions: list[np.ndarray], values: list[np.ndarray], box: np.ndarray, q_max: float = 1.2,
           q_fit: float = 0.6) -> tuple[np.ndarray, np.ndarray, float, float, int]:
    """S4(q) of one field over configurations (its own mean subtracted) and the OZ fit over q ≤ ``q_fit``
    (1/σ): (q, S4, ξ4 (σ), χ̃4, radial bins in the fit window); ξ4 and χ̃4 are NaN with fewer than 3 bins."""
    from glassfix.analysis.heterogeneity import fit_oz, s4_radial

    q, s4, _ = s4_radial(positions, values, box, mean=float(np.nanmean(np.concatenate([np.ravel(v) for v in values]))),
                         q_max=q_max)
    n_fit = int(((q > 0) & (q <= q_fit)).sum())
    if n_fit >= 3:  # two radial bins determine the two OZ parameters exactly: no fit, no ξ4
        try:
            oz = fit_oz(q, s4, 0.0, q_fit)
            return q, s4, oz.xi, oz.chi4, n_fit
        except (ValueError, RuntimeError):
            pass
    return q, s4, float("nan"), float("nan"), n_fit


def label_analysis(iso_store: Path, ceiling_frames: int = 4) -> dict[str, Any]:
    """χ4, ⟨C̄_B⟩, split-half ceiling, ⟨ξ_chord⟩ and S4/OZ per label time of one temperature's iso store."""
    from glassfix.analysis.heterogeneity import chi4_from_means, split_half_ceiling
    from glassfix.analysis.lengths import mean_chord_length
    from glassfix.reproduce.tglassmlp_data import load_labels

    lab = load_labels(iso_store)
    rows = []
    for t in sorted(lab["C"], key=lambda t: lab["times"][t]):
        C = lab["C"][t]  # (n_frames, n1)
        means = np.nanmean(C, axis=1)
        row: dict[str, Any] = {"time_label": t, "t": lab["times"][t], "target": lab["targets"][t],
                               "C_mean": float(means.mean()), "n_frames": int(C.shape[0]), "n1": int(C.shape[1])}
        row["chi4"] = float(chi4_from_means(means, C.shape[1])) if C.shape[0] >= 2 else float("nan")
        row["chord"] = mean_chord_length(lab["positions"], list(C), lab["box"])
        q, s4, row["xi4"], row["chi4_oz"], row["oz_points"] = s4_xi4(lab["positions"], list(C), lab["box"])
        row["s4_q"], row["s4"] = q.tolist(), s4.tolist()
        reps = per_replica_bonds(iso_store, t, ceiling_frames)
        ceil = split_half_ceiling(reps) if reps and reps[0].shape[0] >= 2 else {}
        row.update({f"ceiling_{k}": v for k, v in ceil.items()})
        rows.append(row)
    return {"rows": rows, "n_frames": len(lab["keys"])}


def prediction_analysis(labels: list[np.ndarray], preds: list[np.ndarray], positions: list[np.ndarray],
                        box: np.ndarray) -> dict[str, Any]:
    """ρ_P (per configuration and pooled), χ4 of labels and predictions, ⟨ξ_chord⟩ of both, for one state point."""
    from glassfix.analysis.heterogeneity import chi4_from_means, pearson_per_config
    from glassfix.analysis.lengths import mean_chord_length

    r = pearson_per_config(labels, preds)
    n1 = int(np.asarray(labels[0]).size)
    def chi4(vals: list[np.ndarray]) -> float:  # NaN with one configuration (no variance to form)
        return float(chi4_from_means(np.array([np.nanmean(x) for x in vals]), n1)) if len(vals) > 1 else float("nan")

    out = {"rho_per_config": r["per_config"], "rho_sem": r["per_config_sem"], "rho_pooled": r["pooled"],
           "chi4_md": chi4(labels), "chi4_ml": chi4(preds),
           "chord_md": mean_chord_length(positions, labels, box), "chord_ml": mean_chord_length(positions, preds, box),
           "std_md": float(np.mean([np.nanstd(x) for x in labels])),
           "std_ml": float(np.mean([np.nanstd(x) for x in preds]))}
    return out
