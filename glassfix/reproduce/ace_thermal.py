"""``glassfix reproduce ace-thermal``: ACE activity classification of thermal rearrangements (seed 000).

Data: the shared isoconfigurational KA configurations (N = 4096, T = 0.44, 32 replicas at t = τα).
Labels as Rottler & Ortner's thermal task: the replica mean of D²min (r_cut 2.5σ, Falk–Langer sum) between
t = 0 and t, then the top 5 % of A particles = active, the bottom 5 % = inactive (balanced). Features:
purified ACE invariants (2 species, n_max = 10, total degree 10, up to 4-body) at several r_cut.
Classifier: standardisation + class-balanced L2 logistic regression (C = 1), scored by accuracy in
5-fold cross-validation grouped by configuration (no configuration on both sides), on nested feature
sets in the paper's order (A–A radial, + A–B radial, + 3-body, + 4-body), with a shuffled-label control.
Resumable: labels and descriptors are cached in the work directory.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from glassfix.core.atomic import atomic_save, atomic_savez, atomic_write_text
from glassfix.reproduce.ace_common import accuracy_bars, accuracy_row

@dataclass
class AceThermalConfig:
    """Label and descriptor settings (lengths in σ_AA)."""

    fraction: float = 0.05
    d2min_rcut: float = 2.5
    r_cuts: tuple[float, ...] = (2.5, 3.0, 3.5, 4.0)
    folds: int = 5
    C: float = 1.0
    seed: int = 0
    extra: dict = field(default_factory=dict)


def _labels(work: Path, files: list[str], cfg: AceThermalConfig) -> dict[str, np.ndarray]:
    """Per configuration: labelled atom indices, labels, and ρ(IC D²min, propensity) of A atoms (cached)."""
    from glassfix.data.shared import load_iso_npz
    from glassfix.labels.d2min import isoconfigurational_d2min
    from glassfix.labels.events import extreme_fraction_labels
    from glassfix.labels.propensity import propensity

    path = work / "labels.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    out: dict[str, list] = {"idx": [], "y": [], "group": [], "rho": []}
    for g, f in enumerate(files):
        frame, reps = load_iso_npz(f)
        score = isoconfigurational_d2min(frame, reps, cfg.d2min_rcut)
        idx, y = extreme_fraction_labels(score, frame.types == 0, cfg.fraction)
        a = frame.types == 0
        prop = propensity(frame.positions, reps)
        out["rho"].append(np.corrcoef(score[a], prop[a])[0, 1])
        out["idx"].append(idx)
        out["y"].append(y)
        out["group"].append(np.full(idx.size, g))
    res = {k: np.concatenate(v) if k != "rho" else np.array(v) for k, v in out.items()}
    atomic_savez(path, **res)
    return res


def _features(work: Path, files: list[str], labels: dict[str, np.ndarray], r_cut: float) -> np.ndarray:
    """ACE invariants of the labelled atoms at ``r_cut`` (cached per r_cut)."""
    from glassfix.data.shared import load_iso_npz
    from glassfix.descriptors.ace import ACEDescriptor

    path = work / f"ace_rcut{r_cut:g}.npy"
    if path.exists():
        return np.load(path)
    desc = ACEDescriptor(n_species=2, r_cut=r_cut, species_names=["A", "B"])
    rows = []
    for g, f in enumerate(files):
        frame, _ = load_iso_npz(f)
        rows.append(desc.compute(frame, centers=labels["idx"][labels["group"] == g]))
    X = np.concatenate(rows)
    atomic_save(path, X)
    return X


def run(cfg: AceThermalConfig, workdir: Path, report: Path) -> Path:
    """Labels, descriptors, cross-validated accuracies, a trained model and the report."""
    from rich.console import Console

    from glassfix.core.machine import machine_description
    from glassfix.descriptors.ace import ACEDescriptor
    from glassfix.data.shared import SHARED_ISO, shared_dir, shared_iso_files
    from glassfix.models.activity import ActivityModel

    console = Console()
    files = shared_iso_files()
    if len(files) < cfg.folds:
        raise FileNotFoundError(f"need at least {cfg.folds} configurations in {shared_dir() / SHARED_ISO}")
    workdir.mkdir(parents=True, exist_ok=True)
    with console.status("labels: isoconfigurational D²min of 32 replicas per configuration …"):
        lab = _labels(workdir, files, cfg)
    y, groups = lab["y"], lab["group"]
    console.print(f"{y.size} labelled A atoms ({int(y.sum())} active) in {len(files)} configurations; "
                  f"ρ(⟨D²min⟩, propensity) = {np.mean(lab['rho']):.3f}")
    results: dict[str, dict[str, float]] = {}
    for rc in cfg.r_cuts:
        with console.status(f"ACE invariants at r_cut = {rc:g} …"):
            X = _features(workdir, files, lab, rc)
        desc = ACEDescriptor(n_species=2, r_cut=rc, species_names=["A", "B"])
        row = accuracy_row(X, y, groups, desc.body_orders, desc.n_max, cfg.folds, cfg.C, cfg.seed)
        results[f"{rc:g}"] = row
        console.print(f"  r_cut {rc:g}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()))

    # the deployable model: all labelled atoms, r_cut = 4, every feature
    rc = max(cfg.r_cuts)
    desc = ACEDescriptor(n_species=2, r_cut=rc, species_names=["A", "B"])
    X = _features(workdir, files, lab, rc)
    command = "glassfix reproduce ace-thermal"
    model = ActivityModel.train(desc, {0: (X, y)}, C=cfg.C, species=["A", "B"], seed=cfg.seed,
                                provenance={"command": command, "data": SHARED_ISO, "labels": asdict(cfg)})
    model_path = model.save(workdir / "ka_ace_activity.glassfix")
    atomic_write_text(workdir / "result.json", json.dumps({"config": asdict(cfg), "accuracy": results,
                                                     "rho_d2min_propensity": lab["rho"].tolist()}, indent=2))
    return _write_report(report, results, lab, cfg, command, machine_description(), model_path, model)


def _write_report(report: Path, results, lab, cfg, command, machine, model_path, model) -> Path:
    from glassfix.analysis.plots import new_figure, save_figure

    names = list(next(iter(results.values())).keys())
    fig, ax = new_figure((9, 4))
    accuracy_bars(ax, results, names)
    ax.set_ylabel("grouped 5-fold CV accuracy")
    ax.set_ylim(0.4, 1.0)
    ax.legend(fontsize=8)
    fig.tight_layout()
    png = save_figure(fig, report.with_name(report.stem + ".png"))
    head = model.heads[0]
    lines = [
        "# ACE activity classifier: thermal rearrangements in KA (Rottler & Ortner, seed 000)",
        "",
        f"Command: `{command}`  ",
        f"Machine: {machine}; date {datetime.now(timezone.utc).strftime('%Y-%m-%d')}",
        "",
        "Data: the 10 shared isoconfigurational KA configurations (N = 4096, T = 0.44, 32 NVE replicas to "
        "t = τα = 4120). Labels: replica-mean D²min (r_cut 2.5σ, Falk–Langer sum) from t = 0 to t; in each "
        f"configuration the top {cfg.fraction:.0%} of A particles are active, the bottom {cfg.fraction:.0%} "
        f"inactive: {lab['y'].size} labelled atoms, balanced. Features: purified ACE invariants, 2 species, "
        "n_max = 10, total degree 10 (20 two-body, then 3-body, then 4-body). Classifier: standardisation + "
        f"class-balanced L2 logistic regression (C = {cfg.C:g}); accuracy = mean balanced accuracy of "
        f"{cfg.folds}-fold cross-validation grouped by configuration.",
        "",
        f"ρ(⟨D²min⟩, propensity) on A particles: {np.mean(lab['rho']):.3f} (mean over configurations; "
        "paper: 95 %).",
        "",
        "| features | " + " | ".join(f"r_cut = {rc}" for rc in results) + " |",
        "|---|" + "---|" * len(results),
    ]
    names = list(next(iter(results.values())).keys())
    for n in names:
        lines.append(f"| {n} | " + " | ".join(f"{results[rc][n]:.3f}" for rc in results) + " |")
    lines += [
        "",
        "Paper (KA thermal, Fig. 3; r_cut = 4): A–A two-body only 60–65 %, all two-body ≈ 90 %, 3-/4-body add "
        "little; accuracy grows with r_cut up to ≈ 4.",
        "",
        f"Deployable model: `{model_path.name}` (kind `ace`, output `activity` = P(active); all features at "
        f"r_cut = {max(cfg.r_cuts):g}, trained on every labelled atom; training balanced accuracy "
        f"{head.metrics['train_balanced_accuracy']:.3f}). It runs in `fix glass/predict` (Python path) and "
        "from the OpenMM reporter like any other model.",
        "",
        f"![accuracy by feature set and r_cut]({png.name})",
        "",
    ]
    atomic_write_text(report, "\n".join(lines))
    return report
