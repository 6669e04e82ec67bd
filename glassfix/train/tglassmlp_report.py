"""Evaluation and report of a tGlassMLP / GlassMLP training run: Pearson ρ_P per (T, C) on the test
configurations (per configuration, averaged — the primary number — and pooled; digest §5.7), the
self-consistency of the mean, the transfer record, loss curves; ``metrics.json``, ``report.md`` and
``report_tglassmlp.png``."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from glassfix.core.atomic import atomic_write_text
from glassfix.train.metrics import pearson

__all__ = ["evaluate_configs", "write_outputs", "evaluate_store"]


def evaluate_configs(model: Any, configs: Sequence[Any], S_list: Sequence[np.ndarray], targets: Sequence[float],
                     single_state: tuple[float, float] | None = None) -> dict[str, Any]:
    """Test metrics at every (T, C) where test configurations hold MD labels: ρ_P per configuration
    (mean), pooled ρ_P, MAE, mean prediction X̄ and mean label (ensemble mean, inputs = C, no constraint)."""
    rows = []
    temps = sorted({c.temperature for c in configs})
    for T in temps:
        for c in targets:
            idx = [k for k, conf in enumerate(configs) if conf.temperature == T and conf.split == "test"
                   and c in conf.labels]
            if not idx:
                continue
            preds = [model.evaluate(S_list[k], T, c).mean(axis=0) for k in idx]
            labs = [configs[k].labels[c] for k in idx]
            rho = [pearson(p, y) for p, y in zip(preds, labs)]
            P, Y = np.concatenate(preds), np.concatenate(labs)
            rows.append({"T": T, "C": float(c), "n_configs": len(idx), "rho_per_config": float(np.nanmean(rho)),
                         "rho_pooled": pearson(P, Y), "mae": float(np.mean(np.abs(P - Y))),
                         "mean_prediction": float(P.mean()), "mean_label": float(Y.mean())})
    out: dict[str, Any] = {"kind": "tglassmlp", "variant": model.variant, "test": rows,
                           "single_state": list(single_state) if single_state else None}
    if rows:
        out["test_rho_mean"] = float(np.nanmean([r["rho_per_config"] for r in rows]))
    return out


def write_outputs(out: Path, metrics: dict[str, Any], histories: list[list[float]], kept: np.ndarray,
                  provenance: dict[str, Any]) -> Path:
    """metrics.json, report.md and report_tglassmlp.png (loss curves of the final networks; test ρ_P vs C)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from glassfix.analysis.plots import save_figure
    from glassfix.core.machine import machine_description
    from glassfix.train.report import finite_json

    atomic_write_text(out / "metrics.json", json.dumps(finite_json(metrics), indent=2))
    png = out / "report_tglassmlp.png"
    fig = Figure(figsize=(10, 3.8), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.subplots(1, 2)
    kept_set = {int(k) for k in kept}
    for s, h in enumerate(histories):
        ax[0].plot(np.arange(1, len(h) + 1), h, lw=1.2 if s in kept_set else 0.6,
                   alpha=1.0 if s in kept_set else 0.4, label=f"net {s}" + (" (kept)" if s in kept_set else ""))
    ax[0].set_xlabel("epoch")
    ax[0].set_ylabel("training loss (MSE, then GlassMLP loss)")
    ax[0].set_yscale("log")
    if len(histories) <= 8:
        ax[0].legend(fontsize=7)
    rows = metrics.get("test", [])
    for T in sorted({r["T"] for r in rows}):
        pts = sorted((r["C"], r["rho_per_config"]) for r in rows if r["T"] == T)
        ax[1].plot(*zip(*pts), marker="o", label=f"T = {T:g}")
    ax[1].set_xlabel("C = <C_B(t)>")
    ax[1].set_ylabel("test Pearson ρ_P (mean per configuration)")
    ax[1].invert_xaxis()
    if rows:
        ax[1].legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, png)

    tr = metrics.get("transfer", {})
    lines = [
        "# tGlassMLP training" if metrics.get("variant") == "tglassmlp" else "# GlassMLP (single state) training",
        "",
        f"Command: `{provenance.get('command', '')}`  ",
        f"Machine: {machine_description()}; date {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}; "
        f"wall time {metrics.get('wall_s', float('nan')):.0f} s",
        "",
        f"Networks kept in the ensemble: {metrics.get('n_members')}. T_min = {tr.get('t_min')}; temperatures "
        f"below it (pseudo-labelled): {tr.get('low_temperatures')}.",
        "",
    ]
    s1 = tr.get("step1", {})
    if s1:
        lines += ["## Step 1 (per-C networks): self-consistency filter", "",
                  "| C | kept / trained | tolerance | relaxed | smallest max\\|X̄ − C\\| |", "|---|---|---|---|---|"]
        for c, r in s1.items():
            lines.append(f"| {c} | {len(r['kept'])} / {len(r['deviation'])} | {r['tol']:g} | "
                         f"{'yes' if r['relaxed'] else 'no'} | {min(r['deviation']):.3g} |")
        lines.append("")
    s2 = tr.get("step2", {})
    if s2:
        lines += [f"Step 2: kept {len(s2.get('kept', []))} of {len(s2.get('deviation', []))} networks at tolerance "
                  f"{s2.get('tol', float('nan')):g}" + (" (relaxed)" if s2.get("relaxed") else "") + "; max |X̄ − C| "
                  "per network: " + ", ".join(f"{d:.3g}" for d in s2.get("deviation", [])), ""]
    lines += ["## Test configurations", "",
              "| T | C | configs | ρ_P per config | ρ_P pooled | MAE | X̄ | mean label |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['T']:g} | {r['C']:g} | {r['n_configs']} | {r['rho_per_config']:.3f} | {r['rho_pooled']:.3f} | "
                     f"{r['mae']:.4f} | {r['mean_prediction']:.4f} | {r['mean_label']:.4f} |")
    if not rows:
        lines.append("| — | — | 0 | — | — | — | — | — |")
    lines += ["", f"![losses and test correlations]({png.name})", ""]
    report = out / "report.md"
    atomic_write_text(report, "\n".join(lines))
    return report


def evaluate_store(model: Any, model_path: Any, store: str, split: str, out: Path) -> dict[str, Any]:
    """``glassfix evaluate`` of a tglassmlp model: ρ_P per (T, C) of the model's targets on the labelled frames
    of ``store`` (``split`` test/train: the trainer's split on its own store, else the stored split; all).
    Writes evaluation.json/.md/.png in ``out``; returns {"metrics", "report", "summary"}."""
    import os

    from glassfix.data.store import DatasetError, DatasetStore
    from glassfix.train.report import finite_json
    from glassfix.train.tglassmlp_data import load_configs

    prov = model.provenance or {}
    cfg = prov.get("config") or {}
    with DatasetStore(store, mode="r") as ds:
        keys = ds.keys()
        same = prov.get("store") and os.path.realpath(str(prov["store"])) == os.path.realpath(store)
        if split != "all":
            if same and "test_keys" in prov:
                want = set(prov["test_keys"] if split == "test" else prov.get("train_keys", []))
            else:
                try:
                    tr, te = ds.split_keys()
                except DatasetError:
                    raise ValueError(f"store {store} has no stored train/test split and is not the store the model "
                                     f"was trained on; pass --split all, or split it first "
                                     f"('glassfix data split {store}')") from None
                want = set(te if split == "test" else tr)
            keys = [k for k in keys if k in want]
    configs = load_configs(store, model, None, cfg.get("label_prefix", "bond_breaking"), keys=keys,
                           r_max=cfg.get("r_max", 5.0), dr=cfg.get("dr", 0.5))
    for c in configs:
        c.split = "test"    # evaluate every selected configuration
    S_list = [model.standardize(c.X) for c in configs]
    metrics = evaluate_configs(model, configs, S_list, list(model.targets))
    metrics.update({"model": str(Path(model_path).resolve()), "store": str(Path(store).resolve()), "split": split,
                    "n_frames": len(configs)})
    atomic_write_text(out / "evaluation.json", json.dumps(finite_json(metrics), indent=2))
    rows = metrics["test"]
    summary = (f"ρ_P (mean per configuration) {metrics.get('test_rho_mean', float('nan')):.3f} over {len(rows)} "
               f"state points, {len(configs)} frames")
    lines = [f"# Evaluation of a tglassmlp ({model.variant}) model", "", f"Model: `{metrics['model']}`  ",
             f"Store: `{metrics['store']}`, split `{split}`  ", "", summary + ".", "",
             "| T | C | configs | ρ_P per config | ρ_P pooled | MAE | X̄ | mean label |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['T']:g} | {r['C']:g} | {r['n_configs']} | {r['rho_per_config']:.3f} | {r['rho_pooled']:.3f} | "
              f"{r['mae']:.4f} | {r['mean_prediction']:.4f} | {r['mean_label']:.4f} |" for r in rows]
    report = out / "evaluation.md"
    atomic_write_text(report, "\n".join(lines + [""]))
    return {"metrics": metrics, "report": str(report), "summary": summary}
