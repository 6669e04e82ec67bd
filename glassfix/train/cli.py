"""``glassfix train botan``: train BOTAN / NT-GNN on isoconfigurational frames of a dataset store (resumable)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

PRETRAINED_HINT = "../shared/data/botan_reference/pretrained_edge_model1_state_dict.npz"


def add_arguments(sub: argparse._SubParsersAction) -> None:
    """Register ``glassfix train``."""
    tr = sub.add_parser("train", help="train a model on a dataset store (resumable; writes a report)")
    tsub = tr.add_subparsers(dest="kind", required=True)
    b = tsub.add_parser("botan", help="BOTAN (p = 0.4) or NT-GNN (p = 1) on propensity + pair-distance change "
                                      "(lengths in sigma, times as stored)")
    b.add_argument("--store", required=True, help="dataset store with replicas (glassfix data import botan ...)")
    b.add_argument("--time-label", default="t=4120", help="replica time label, e.g. t=4120")
    b.add_argument("--test-keys", nargs="*", default=None, help="frames held out for testing (default: a grouped "
                                                                "split with --test-fraction)")
    b.add_argument("--test-fraction", type=float, default=0.2)
    b.add_argument("--split-seed", type=int, default=0)
    b.add_argument("--p", type=float, default=0.4, help="node-loss weight: 0.4 BOTAN, 1 NT-GNN, 0 edges only")
    b.add_argument("--epochs", type=int, default=100)
    b.add_argument("--lr", type=float, default=1e-4)
    b.add_argument("--batch", type=int, default=1, help="graphs per step (reference: 1 BOTAN, 5 NT-GNN)")
    b.add_argument("--no-augment", action="store_true", help="no random cubic-group transforms of edge vectors")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--hidden", type=int, default=64)
    b.add_argument("--steps", type=int, default=7, help="message-passing cycles")
    b.add_argument("--separate-edge-decoder", action="store_true", help="the paper's variant (code: shared)")
    b.add_argument("--r-edge", type=float, default=2.0, help="edge cutoff (sigma)")
    b.add_argument("--init", default=None, help=f"initial weights (.npz state dict), e.g. {PRETRAINED_HINT}")
    b.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    b.add_argument("--eval-every", type=int, default=1)
    b.add_argument("--out", required=True, help="output directory (resumable): botan.glassfix, history, report")
    b.set_defaults(func=_cmd_botan)


def _cmd_botan(args: argparse.Namespace) -> int:
    from rich.console import Console

    from glassfix.data.store import DatasetStore
    from glassfix.train.botan import TrainConfig, samples_from_store, train_botan

    console = Console()
    from glassfix.data.store import DatasetError

    with DatasetStore(args.store, mode="r") as ds:
        keys = [k for k in ds.keys() if args.time_label in ds.replicas_names(k)]
        if not keys:
            raise FileNotFoundError(f"{args.store}: no frame has replicas at {args.time_label!r}")
        species = list(ds.frame(keys[0]).species or ("A", "B"))
        if args.test_keys is not None:
            test_keys = list(args.test_keys)
        else:
            # the store's own grouped split (no configuration on both sides): the stored one
            # ('glassfix data split'), else one computed here with --test-fraction/--split-seed
            try:
                _, test_all = ds.split_keys()
            except DatasetError:
                _, test_all = ds.grouped_split(args.test_fraction, args.split_seed)
            test_keys = [k for k in test_all if k in set(keys)]
    train_keys = [k for k in keys if k not in set(test_keys)]
    cfg = TrainConfig(p=args.p, epochs=args.epochs, lr=args.lr, batch=args.batch, augment=not args.no_augment,
                      seed=args.seed, hidden=args.hidden, n_steps=args.steps,
                      shared_decoder=not args.separate_edge_decoder, r_edge=args.r_edge, eval_every=args.eval_every,
                      threads=args.threads, init=os.path.abspath(args.init) if args.init else None)
    with console.status("building graphs and labels …") as st:
        train = samples_from_store(args.store, args.time_label, train_keys, cfg.r_edge,
                                   progress=lambda k: st.update(f"graph + labels: {k}"))
        test = samples_from_store(args.store, args.time_label, test_keys, cfg.r_edge)
    console.print(f"{len(train)} training and {len(test)} test graphs "
                  f"({sum(s.edge_index.shape[1] for s in train) / max(1, len(train)):.0f} edges each)")

    def log(row: dict[str, Any]) -> None:
        parts = [f"epoch {row['epoch']:4d}"]
        if row.get("train_loss") is not None:
            parts.append(f"train loss {row['train_loss']:.5f}")
        for k in ("test_loss", "test_rho_node", "test_rho_edge"):
            if k in row:
                parts.append(f"{k[5:]} {row[k]:.4f}")
        parts.append(f"{row.get('time_s', 0):.0f} s")
        console.print("  " + "  ".join(parts))

    command = "glassfix train botan " + " ".join(_argv_of(args))
    res = train_botan(train, test, cfg, args.out, species=species,
                      provenance={"store": os.path.abspath(args.store), "time_label": args.time_label,
                                  "command": command}, log=log)
    report = write_report(Path(args.out), res["history"], cfg, train_keys, test_keys, command)
    console.print(f"model: {res['model']}\nreport: {report}")
    return 0


def _argv_of(args: argparse.Namespace) -> list[str]:
    skip = {"func", "command", "kind"}
    out = []
    for k, v in vars(args).items():
        if k in skip or v is None or v is False:
            continue
        flag = "--" + k.replace("_", "-")
        if v is True:
            out.append(flag)
        elif isinstance(v, list):
            out += [flag, *map(str, v)]
        else:
            out += [flag, str(v)]
    return out


def write_report(out: Path, history: list[dict[str, Any]], cfg: Any, train_keys: list[str], test_keys: list[str],
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
