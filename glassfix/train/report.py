"""Markdown + PNG reports of classifier trainings and of ``glassfix evaluate`` (same tables, same plots)."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["write_classifier_report", "write_botan_report", "classification_figure", "metrics_table"]


def _f(v: Any, fmt: str = ".3f") -> str:
    return "—" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, fmt)


def metrics_table(rows: dict[str, dict[str, Any] | None]) -> list[str]:
    """Markdown table of classification metrics, one row per named set."""
    out = ["| set | examples | positive | accuracy | balanced accuracy | recall (positive) | specificity | AUC |",
           "|---|---|---|---|---|---|---|---|"]
    for name, m in rows.items():
        if not m:
            out.append(f"| {name} | 0 | — | — | — | — | — | — |")
            continue
        out.append(f"| {name} | {m['n']} | {m['n_positive']} | {_f(m['accuracy'])} | {_f(m['balanced_accuracy'])} | "
                   f"{_f(m['recall_positive'])} | {_f(m['specificity'])} | {_f(m['auc'])} |")
    return out


def classification_figure(png: Path, sets: dict[str, tuple[np.ndarray, np.ndarray]], threshold: float,
                          output_name: str, cv: dict[str, Any] | None = None) -> Path:
    """ROC curves and output histograms per class of each named (y, score) set, plus the CV curve."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from glassfix.analysis.plots import save_figure
    from glassfix.train.metrics import roc_curve_points

    ncol = 3 if cv else 2
    fig = Figure(figsize=(4.2 * ncol, 3.8), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.subplots(1, ncol)
    for name, (y, s) in sets.items():
        ok = np.isfinite(s)
        fpr, tpr = roc_curve_points(y[ok], s[ok])
        ax[0].plot(fpr, tpr, label=name)
    ax[0].plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
    ax[0].set_xlabel("false-positive rate")
    ax[0].set_ylabel("true-positive rate")
    ax[0].set_title("ROC")
    ax[0].legend()
    name, (y, s) = list(sets.items())[-1]
    ok = np.isfinite(s)
    bins = np.linspace(np.min(s[ok]), np.max(s[ok]), 40) if ok.any() else 10
    ax[1].hist(s[ok & ~y], bins=bins, alpha=0.6, density=True, label="negative")
    ax[1].hist(s[ok & y], bins=bins, alpha=0.6, density=True, label="positive")
    ax[1].axvline(threshold, color="k", lw=0.8)
    ax[1].set_xlabel(output_name)
    ax[1].set_ylabel("density")
    ax[1].set_title(f"{name} set")
    ax[1].legend()
    if cv:
        for sp, c in cv.items():
            pts = sorted((float(k), v) for k, v in c["scores"].items())
            ax[2].plot(*zip(*pts), marker="o", label=f"{sp} ({c['folds']})")
        ax[2].set_xscale("log")
        ax[2].set_xlabel("C")
        ax[2].set_ylabel("CV balanced accuracy")
        ax[2].legend()
    fig.tight_layout()
    save_figure(fig, png)
    return png


def write_classifier_report(out: Path, model: Any, metrics: dict[str, Any], prov: dict[str, Any], train_ex: Any,
                            test_ex: Any, command: str) -> Path:
    """``<out>/report.md`` + ``report_curves.png`` of a classifier training; returns the markdown path."""
    from glassfix.core.machine import machine_description
    from glassfix.core.atomic import atomic_write_text
    from glassfix.train.dataset import score_examples

    sets = {"train": (train_ex.y, score_examples(model, train_ex))}
    if test_ex is not None and test_ex.n:
        sets["test"] = (test_ex.y, score_examples(model, test_ex))
    png = classification_figure(out / "report_curves.png", sets, metrics["threshold"], model.output_names[0],
                                metrics.get("cv") or None)
    lab = prov["label"]
    cv_lines = []
    for sp, c in (metrics.get("cv") or {}).items():
        cv_lines.append(f"- species {sp}: C = {c['best_C']:g} chosen by {c['folds']} cross-validation "
                        f"(balanced accuracy " + ", ".join(f"C={float(k):g}: {_f(v)}" for k, v in c["scores"].items())
                        + ")")
    test = metrics.get("test")
    verdict = ""
    if test:
        verdict = (f"On the held-out configurations the model reaches a balanced accuracy of "
                   f"{_f(test['balanced_accuracy'])} (AUC {_f(test['auc'])}; chance is 0.5).")
    text = "\n".join([
        f"# {metrics['kind']} training",
        "",
        f"Command: `{command}`  ",
        f"Machine: {machine_description()}; date {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}; "
        f"wall time {metrics['wall_s']:.1f} s",
        "",
        f"Store: `{prov['store']}` (sha256 {prov['store_sha256'][:16]}…)  ",
        f"Label: `{lab['name']}`, {lab['rule_text']}; step offset {lab['params'].get('step_offset', '—')} "
        f"(the label describes the configuration at its frame's step + offset)  ",
        f"Species trained: {', '.join(prov['species_trained'])}; descriptor {model.descriptor.kind} "
        f"({model.descriptor.n_features} features)  ",
        f"Split ({prov['split'].get('how')}, by {prov['split'].get('by', 'group')}): "
        f"{len(prov['split']['train_frames'])} training frames, {len(prov['split']['test_frames'])} test frames; "
        f"test configurations {', '.join(map(str, prov['split'].get('test_units', [])))}  ",
        f"Examples: {prov['examples']['train_before_balancing']} labelled training centres, "
        f"{prov['examples']['train']} after balancing, {prov['examples']['test']} test centres (not balanced)"
        + ("  \n**Control run: training labels shuffled.**" if prov["config"].get("shuffle_labels") else ""),
        "",
        *cv_lines,
        "",
        *metrics_table({"train": metrics["train"], "test": test}),
        "",
        verdict,
        "",
        f"![ROC, output distributions and cross-validation]({png.name})",
        "",
    ])
    path = out / "report.md"
    atomic_write_text(path, text)
    return path


def write_botan_report(out: Path, history: list[dict[str, Any]], cfg: Any, train_keys: list[str], test_keys: list[str],
                       command: str, title: str = "BOTAN training", extra: str = "", report: Path | None = None) -> Path:
    """Markdown + PNG (losses and test ρ per epoch) of a training run; returns the markdown path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from glassfix.analysis.plots import save_figure
    from glassfix.core.machine import machine_description
    from glassfix.core.atomic import atomic_write_text

    report = report or out / "report.md"
    png = report.with_name(report.stem + "_curves.png")
    fig = Figure(figsize=(10, 3.8), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.subplots(1, 2)
    tr = [(h["epoch"], h["train_loss"]) for h in history if h.get("train_loss") is not None]
    if tr:
        ax[0].plot(*zip(*tr), label="train loss")
    te = [(h["epoch"], h["test_loss"]) for h in history if "test_loss" in h]
    if te:
        ax[0].plot(*zip(*te), label="test loss")
    ax[0].set_xlabel("epoch")
    ax[0].set_ylabel(f"loss (p = {cfg.p:g})")
    ax[0].set_yscale("log")
    ax[0].legend()
    for key, lab in (("test_rho_node", "ρ_S (A nodes)"), ("test_rho_edge", "ρ_E (AA edges, r < 1.35)")):
        pts = [(h["epoch"], h[key]) for h in history if key in h and h[key] == h[key]]
        if pts:
            ax[1].plot(*zip(*pts), marker=".", label=lab)
    ax[1].set_xlabel("epoch")
    ax[1].set_ylabel("Pearson ρ (test, mean per configuration)")
    ax[1].legend()
    fig.tight_layout()
    save_figure(fig, png)

    last = history[-1] if history else {}
    first = history[0] if history else {}
    rows = ["| epoch | train loss | test loss | ρ_S | ρ_E | s/epoch |", "|---|---|---|---|---|---|"]
    step = max(1, len(history) // 15)
    for h in history[::step] + ([last] if history and history[::step][-1] is not last else []):
        f = lambda k: f"{h[k]:.4f}" if isinstance(h.get(k), (int, float)) and h[k] == h[k] else "—"  # noqa: E731
        rows.append(f"| {h['epoch']} | {f('train_loss')} | {f('test_loss')} | {f('test_rho_node')} | "
                    f"{f('test_rho_edge')} | {h.get('time_s', 0):.0f} |")
    from datetime import datetime, timezone

    text = "\n".join([
        f"# {title}",
        "",
        f"Command: `{command}`  ",
        f"Machine: {machine_description()}; date {datetime.now(timezone.utc).strftime('%Y-%m-%d')}",
        "",
        f"Settings: {json.dumps({k: v for k, v in vars(cfg).items()})}",
        "",
        f"Train frames ({len(train_keys)}): {', '.join(train_keys)}  ",
        f"Test frames ({len(test_keys)}): {', '.join(test_keys)}",
        "",
        extra,
        f"Test ρ before training (epoch {first.get('epoch', 0)}): nodes {first.get('test_rho_node', float('nan')):.3f}, "
        f"edges {first.get('test_rho_edge', float('nan')):.3f}; after epoch {last.get('epoch', 0)}: nodes "
        f"{last.get('test_rho_node', float('nan')):.3f}, edges {last.get('test_rho_edge', float('nan')):.3f}.",
        "",
        *rows,
        "",
        f"![losses and test correlations]({png.name})",
        "",
    ])
    atomic_write_text(report, text)
    return report
