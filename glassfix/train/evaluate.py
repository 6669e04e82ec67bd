"""``glassfix evaluate MODEL --store S [--split test]``: one evaluation for every model kind.

Classifiers (softness, ace, looseness) are evaluated on the examples the trainer would build from the store
(same label, class rule, step alignment, centre species; no balancing), with
:func:`glassfix.train.metrics.classification_metrics` (what the trainer reports as "test"); BOTAN/NT-GNN on
the propensity of the frames with replicas at the model's time label, with Pearson/Spearman per
configuration (:func:`glassfix.train.metrics.regression_metrics`); tglassmlp models on the bond-breaking
labels at every (T, C) (:func:`glassfix.train.tglassmlp_report.evaluate_store`). Writes ``evaluation.json``,
``evaluation.md`` and a PNG.

Split: on the store the model was trained on (same path), ``test``/``train`` are the configurations the
trainer held out / used (from the model's provenance); on another store, its stored split
('glassfix data split'); ``all`` takes every frame.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["evaluate_model"]


def _split_keys(ds: Any, prov: dict[str, Any], store: str, split: str) -> list[str]:
    from glassfix.train.dataset import TrainDataError

    keys = ds.keys()
    if split == "all":
        return keys
    sp = prov.get("split") or {}
    same = prov.get("store") and Path(str(prov["store"])).resolve() == Path(store).resolve()
    if same and "test_units" in sp:
        by = sp.get("by", "group")
        units = set(sp["test_units"])
        unit = {"group": lambda fi: fi["group"], "system": lambda fi: fi["system"], "frame": lambda fi: fi["key"]}[by]
        test = [k for k in keys if unit(ds.frame_info(k)) in units]
        return test if split == "test" else [k for k in keys if k not in set(test)]
    if same and "test_frames" in sp:
        test = set(sp["test_frames"])
        return [k for k in keys if (k in test) == (split == "test")]
    try:
        train, test = ds.split_keys()
    except Exception:
        raise TrainDataError(f"store {store} has no stored train/test split and is not the store the model was "
                             f"trained on; pass --split all, or split it first ('glassfix data split {store}')") \
            from None
    return test if split == "test" else train


def evaluate_model(model_path: str | os.PathLike[str], store: str | os.PathLike[str], split: str = "test",
                   out: str | os.PathLike[str] | None = None, label: str | None = None,
                   frames: list[str] | None = None) -> dict[str, Any]:
    """Evaluate a model file on a store; writes evaluation.json/.md/.png under ``out``; returns
    {"metrics", "report", "summary"}."""
    from glassfix.data.store import DatasetStore
    from glassfix.models import load_model

    model = load_model(model_path)
    prov = model.provenance or {}
    store = str(store)
    out = Path(out) if out else Path(model_path).resolve().parent / f"eval-{Path(store).stem}-{split}"
    out.mkdir(parents=True, exist_ok=True)
    if model.kind == "tglassmlp":    # state-point model: its own evaluation (ρ_P per (T, C))
        from glassfix.train.tglassmlp_report import evaluate_store

        return evaluate_store(model, model_path, store, split, out)
    with DatasetStore(store, mode="r") as ds:
        keys = _split_keys(ds, prov, store, split)
        if model.kind == "botan":
            metrics, png = _evaluate_botan(model, ds, keys, prov, out)
        else:
            metrics, png = _evaluate_classifier(model, ds, keys, prov, out, label, frames)
    metrics.update({"model": str(Path(model_path).resolve()), "store": str(Path(store).resolve()), "split": split})
    from glassfix.core.atomic import atomic_write_text
    from glassfix.train.report import finite_json

    atomic_write_text(out / "evaluation.json", json.dumps(finite_json(metrics), indent=2))
    report, summary = _write_markdown(out, model, metrics, png)
    return {"metrics": metrics, "report": str(report), "summary": summary}


def _evaluate_classifier(model: Any, ds: Any, keys: list[str], prov: dict[str, Any], out: Path,
                         label: str | None, frames: list[str] | None) -> tuple[dict[str, Any], Path]:
    from glassfix.train.classifiers import THRESHOLDS
    from glassfix.train.dataset import score_examples
    from glassfix.train.dataset import LabelRule, TrainDataError, aligned_pairs, build_examples, resolve_label
    from glassfix.train.metrics import classification_metrics
    from glassfix.train.report import classification_figure

    lab = prov.get("label") or {}
    if "rule" not in lab:
        raise TrainDataError(f"model provenance has no label rule (not written by glassfix train); this {model.kind} "
                             f"model cannot be evaluated against a store")
    rule = LabelRule(**lab["rule"])
    cfg = prov.get("config") or {}
    patterns = frames if frames is not None else cfg.get("frames")
    if patterns:
        import fnmatch

        keys = [k for k in keys if any(fnmatch.fnmatchcase(k, p) for p in patterns)]
    if not keys:
        raise TrainDataError(f"no frames of {ds.path} in this split; pass --split all or other --frames")
    name = resolve_label(ds, label or lab["name"], keys)
    pairs = aligned_pairs(ds, name, keys, lab.get("offset_override"))
    center_types = prov.get("center_types") or [0]
    ex = build_examples(ds, name, pairs, rule, center_types, model.descriptor, cache_dir=None)
    threshold = THRESHOLDS[model.kind]
    score = score_examples(model, ex)
    metrics = classification_metrics(ex.y, score, threshold, groups=ex.group)
    metrics.update({"kind": model.kind, "label": name, "rule": rule.describe(), "n_frames": len(pairs)})
    png = classification_figure(out / "evaluation.png", {"evaluated": (ex.y, score)}, threshold,
                                model.output_names[0])
    return metrics, png


def _evaluate_botan(model: Any, ds: Any, keys: list[str], prov: dict[str, Any],
                    out: Path) -> tuple[dict[str, Any], Path]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from glassfix.analysis.plots import save_figure
    from glassfix.labels.propensity import propensity
    from glassfix.train.dataset import TrainDataError
    from glassfix.train.metrics import regression_metrics

    t = prov.get("time_label")
    if not t:
        raise TrainDataError("BOTAN model provenance has no time_label; it was not trained by glassfix train")
    used = [k for k in keys if t in ds.replicas_names(k)]
    if not used:
        raise TrainDataError(f"no frame of {ds.path} in this split has replicas at {t!r}; run glassfix iso with "
                             f"that time, or pass --split all")
    tgt, pred, grp = [], [], []
    for k in used:
        fr = ds.frame(k)
        reps = np.asarray(ds.replicas(k)[t], np.float64)
        y = propensity(fr.positions, reps, kind="abs")
        p = np.asarray(model.predict(fr), np.float64)[:, 0]
        a = fr.types == 0   # the papers evaluate species A
        tgt.append(y[a])
        pred.append(p[a])
        grp.append(np.full(int(a.sum()), ds.frame_info(k)["group"], dtype=object))
    tgt_a, pred_a, grp_a = np.concatenate(tgt), np.concatenate(pred), np.concatenate(grp)
    metrics = regression_metrics(tgt_a, pred_a, groups=grp_a)
    metrics.update({"kind": "botan", "label": f"propensity/{t}", "n_frames": len(used),
                    "trainer": prov.get("trainer_name", "botan")})
    fig = Figure(figsize=(4.5, 4), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.scatter(tgt_a, pred_a, s=3, alpha=0.4)
    ax.set_xlabel(f"propensity {t} (σ)")
    ax.set_ylabel("predicted propensity (σ)")
    fig.tight_layout()
    png = out / "evaluation.png"
    save_figure(fig, png)
    return metrics, png


def _write_markdown(out: Path, model: Any, m: dict[str, Any], png: Path) -> tuple[Path, str]:
    from glassfix.core.machine import machine_description
    from glassfix.core.atomic import atomic_write_text
    from glassfix.train.report import _f, metrics_table

    head = [f"# Evaluation of a {m['kind']} model", "",
            f"Model: `{m['model']}`  ", f"Store: `{m['store']}`, split `{m['split']}`, label `{m['label']}`, "
            f"{m['n_frames']} frames  ",
            f"Machine: {machine_description()}; date {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}", ""]
    if model.kind == "botan":
        summary = (f"Pearson {_f(m.get('pearson'))}, Spearman {_f(m.get('spearman'))} (mean per configuration, "
                   f"species A, {m['n']} particles)")
        rows = ["| configuration | particles | Pearson | Spearman |", "|---|---|---|---|"]
        rows += [f"| {g} | {v['n']} | {_f(v['pearson'])} | {_f(v['spearman'])} |"
                 for g, v in m["per_configuration"].items()]
        body = [summary + ".", "", *rows]
    else:
        summary = (f"balanced accuracy {_f(m['balanced_accuracy'])}, AUC {_f(m['auc'])}, accuracy "
                   f"{_f(m['accuracy'])} on {m['n']} centres ({m['rule']})")
        rows = ["| configuration | centres | balanced accuracy | AUC |", "|---|---|---|---|"]
        rows += [f"| {g} | {v['n']} | {_f(v['balanced_accuracy'])} | {_f(v['auc'])} |"
                 for g, v in m["per_configuration"].items()]
        body = [summary + ".", "", *metrics_table({m["split"]: m}), "", *rows]
    path = out / "evaluation.md"
    atomic_write_text(path, "\n".join(head + body + ["", f"![evaluation]({png.name})", ""]))
    return path, summary
