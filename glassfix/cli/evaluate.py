"""``glassfix evaluate MODEL --store S.h5``: a trained model on a store's labelled frames (the trainers' metrics)."""

from __future__ import annotations

import argparse

from glassfix.cli.train import _Help


def add_arguments(sub: argparse._SubParsersAction) -> None:
    """Register ``glassfix evaluate``."""
    ev = sub.add_parser("evaluate", help="evaluate a trained model on a dataset store (the trainers' metrics)",
                        description="Evaluate MODEL on the labelled frames of a store: accuracy, balanced accuracy, "
                        "recall, specificity and ROC AUC for classifiers (softness > 0, activity > 0.5, looseness > "
                        "0.5 predict positive), Pearson/Spearman of propensity per configuration for BOTAN/NT-GNN. "
                        "Labels keep their units (sigma^2 for p_hop and D2min, sigma for propensity).",
                        formatter_class=_Help)
    ev.add_argument("model", help="*.glassfix model written by glassfix train")
    ev.add_argument("--store", required=True, help="dataset store (HDF5) with the model's label")
    ev.add_argument("--split", choices=["test", "train", "all"], default="test",
                    help="configurations to evaluate (test/train: the model's split on its own store, else the "
                         "store's stored split)")
    ev.add_argument("--label", default=None, help="label to evaluate against (default: the one the model was "
                    "trained on)")
    ev.add_argument("--frames", nargs="+", default=None, help="glob patterns on store keys (default: the model's)")
    ev.add_argument("--out", default=None, help="output directory (default: MODEL's directory/eval-<store>-<split>)")
    ev.set_defaults(func=_cmd_evaluate)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from glassfix.data.labels_meta import LabelMetaError
    from glassfix.data.store import DatasetError
    from glassfix.models.io import ModelFileError

    from glassfix.train.evaluate import evaluate_model

    try:
        res = evaluate_model(args.model, args.store, args.split, args.out, label=args.label, frames=args.frames)
    except (ValueError, DatasetError, LabelMetaError, ModelFileError, KeyError) as exc:
        raise SystemExit(f"glassfix evaluate: error: {exc}") from None
    print(f"{res['summary']}\nreport: {res['report']}")
    return 0
