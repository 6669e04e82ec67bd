"""``glassfix train botan``: train BOTAN / NT-GNN on isoconfigurational frames of a dataset store (resumable)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

PRETRAINED_HINT = "../shared/data/botan_reference/pretrained_edge_model1_state_dict.npz"


_KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    # Cubuk: p_hop > p_c = 0.2 sigma^2 rearranging; linear SVM, C by cross-validation over 1e-3..1e2
    "softness": {"label": "phop", "above": 0.2, "top": None, "balance": True,
                 "cv_C": [0.001, 0.01, 0.1, 1.0, 10.0, 100.0], "rfe": 0},
    # ACE (thermal recipe): top 5 % of D2min active, bottom 5 % inactive; L2 logistic regression
    "ace": {"label": "d2min", "above": None, "top": 0.05, "balance": True,
            "cv_C": [0.01, 0.1, 1.0, 10.0, 100.0], "rfe": 0},
    # looseness: D2min > D0 = 0.25 loose; EasyEnsemble of 10 logistic regressions (C = 1) on the top 10
    # RFE features; no undersampling here (EasyEnsemble balances each learner itself)
    "looseness": {"label": "d2min", "above": 0.25, "top": None, "balance": False, "cv_C": None, "rfe": 10},
}

_KIND_HELP = {
    "softness": "Cubuk softness: per-species linear SVM on radial structure functions (lengths in sigma)",
    "ace": "ACE activity: L2 logistic regression on ACE invariants (lengths in sigma)",
    "looseness": "Wu & Ruiz Pestana looseness: EasyEnsemble of logistic regressions on interstice features",
}


class _Help(argparse.HelpFormatter):
    """Appends '(default: X)' unless the help already names its default or there is none."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if ("default" in text or action.default in (None, argparse.SUPPRESS) or action.required
                or isinstance(action, argparse._StoreTrueAction)):
            return text
        return text + " (default: %(default)s)"


def _add_classifier(tsub: argparse._SubParsersAction, kind: str) -> None:
    d = _KIND_DEFAULTS[kind]
    c = tsub.add_parser(kind, help=_KIND_HELP[kind], description=_KIND_HELP[kind] + (
        ". Reads a dataset store written by fix glass/record, glassfix iso, glassfix run or an importer; "
        "labels are aligned to the configuration they describe from their stored step metadata. Writes "
        f"OUT/{kind}.glassfix, OUT/metrics.json, OUT/report.md + PNG; descriptors are cached in OUT/cache, so "
        "re-running the same command resumes."), formatter_class=_Help)
    c.add_argument("--store", required=True, help="dataset store (HDF5)")
    c.add_argument("--out", required=True, help="output directory (resumable)")
    c.add_argument("--label", default=d["label"], help="label: full stored name (e.g. phop/every=20,window=4), its "
                   "kind (phop, d2min, propensity/...) or the recorded value name (f_ph)")
    g = c.add_argument_group("classes (label units: p_hop and D2min in sigma^2)")
    rule = f"--above {d['above']:g}" if d["above"] is not None else f"--top {d['top']:g}"
    g.add_argument("--above", type=float, default=None, help=f"positive if label > ABOVE (default: {rule} when "
                   f"neither --above nor --top is given)")
    g.add_argument("--below", type=float, default=None, help="negative if label < BELOW (default: ABOVE)")
    g.add_argument("--top", type=float, default=None, help="positive: this top fraction of each frame and "
                   "species (instead of --above)")
    g.add_argument("--bottom", type=float, default=None, help="negative: this bottom fraction (default: TOP)")
    g.add_argument("--quiescent", type=int, default=0, help="negatives must stay below the threshold for this "
                   "many MD steps up to their step (Cubuk: tau_alpha; 0: off)")
    g.add_argument("--label-offset", type=int, default=None, help="MD steps from a label's frame to the frame it "
                   "describes, only for labels stored without step metadata (e.g. imported dump columns)")
    s = c.add_argument_group("examples")
    s.add_argument("--species", nargs="+", default=None, help="centre species to train (default: the first "
                   "species of the store, e.g. A)")
    s.add_argument("--frames", nargs="+", default=None, help="glob patterns on store keys (default: all frames)")
    s.add_argument("--per-class", type=int, default=None, help="at most this many examples per class and species")
    s.add_argument("--balance", action=argparse.BooleanOptionalAction, default=d["balance"],
                   help="undersample the larger class to equal numbers per species")
    s.add_argument("--min-per-class", type=int, default=10, help="fewest training examples of each class accepted")
    s.add_argument("--test-fraction", type=float, default=0.2, help="fraction of configurations (groups) held out "
                   "when the store has no stored split ('glassfix data split')")
    s.add_argument("--split-seed", type=int, default=0)
    s.add_argument("--shuffle-labels", action="store_true", help="control: permute the training labels (scores "
                   "should fall to chance, 0.5)")
    m = c.add_argument_group("model")
    m.add_argument("--C", type=float, default=1.0, help="inverse regularisation strength (when --cv-C is not given)")
    m.add_argument("--cv-C", type=float, nargs="*", default=d["cv_C"], help="candidate C values picked by grouped "
                   "k-fold cross-validation on the training configurations (none: use --C)")
    m.add_argument("--cv-folds", type=int, default=5, help="folds of the grouped cross-validation")
    m.add_argument("--seed", type=int, default=0)
    if kind == "softness":
        m.add_argument("--mu-min", type=float, default=0.0, help="first radial grid point (sigma)")
        m.add_argument("--mu-max", type=float, default=4.9, help="last radial grid point (sigma)")
        m.add_argument("--mu-step", type=float, default=0.1, help="radial grid spacing (sigma)")
        m.add_argument("--delta", type=float, default=0.1, help="Gaussian width (sigma)")
    elif kind == "ace":
        m.add_argument("--body-order", type=int, default=4, choices=[2, 3, 4], help="maximum body order")
        m.add_argument("--degree", type=float, default=10, help="total polynomial degree")
        m.add_argument("--r-cut", type=float, default=4.0, help="cutoff radius (sigma)")
    else:
        m.add_argument("--radii", type=float, nargs="+", default=None, help="radius per species (sigma; default "
                       "Kob-Andersen 0.5, 0.44)")
        m.add_argument("--voronoi-backend", choices=["numba", "freud"], default="numba",
                       help="Voronoi backend of the interstice features (numba also runs inside LAMMPS)")
        m.add_argument("--learners", type=int, default=10, help="EasyEnsemble logistic regressions")
        m.add_argument("--rfe", type=int, default=d["rfe"], help="keep the top-k features of a recursive feature "
                       "elimination with gradient boosting (0: all 60)")
    c.set_defaults(func=_cmd_classifier, train_kind=kind)


def _add_botan(tsub: argparse._SubParsersAction, name: str) -> None:
    nt = name == "nt-gnn"
    b = tsub.add_parser(name, help=("NT-GNN: BOTAN with p = 1 (node loss only) and batch 5, the reference "
                                    "settings" if nt else "BOTAN (p = 0.4) or NT-GNN (p = 1)")
                        + " on propensity + pair-distance change (lengths in sigma, times as stored)",
                        formatter_class=_Help)
    b.add_argument("--store", required=True, help="dataset store with replicas (glassfix iso, or glassfix data "
                   "import botan ...)")
    b.add_argument("--time-label", default="t=4120", help="replica time label, e.g. t=4120")
    b.add_argument("--test-keys", nargs="*", default=None, help="frames held out for testing (default: a grouped "
                                                                "split with --test-fraction)")
    b.add_argument("--test-fraction", type=float, default=0.2)
    b.add_argument("--split-seed", type=int, default=0)
    if not nt:
        b.add_argument("--p", type=float, default=0.4, help="node-loss weight: 0.4 BOTAN, 1 NT-GNN, 0 edges only")
    b.add_argument("--epochs", type=int, default=100)
    b.add_argument("--lr", type=float, default=1e-4)
    b.add_argument("--batch", type=int, default=5 if nt else 1, help="graphs per step (reference: 1 BOTAN, "
                                                                      "5 NT-GNN)")
    b.add_argument("--no-augment", action="store_true", help="no random cubic-group transforms of edge vectors")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--hidden", type=int, default=64)
    b.add_argument("--steps", type=int, default=7, help="message-passing cycles")
    b.add_argument("--separate-edge-decoder", action="store_true", help="the paper's variant (code: shared)")
    b.add_argument("--r-edge", type=float, default=2.0, help="edge cutoff (sigma)")
    b.add_argument("--init", default=None, help=f"initial weights (.npz state dict), e.g. {PRETRAINED_HINT}")
    b.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    b.add_argument("--eval-every", type=int, default=1)
    b.add_argument("--out", required=True, help=f"output directory (resumable): {name}.glassfix, history, "
                   "metrics.json, report")
    b.set_defaults(func=_cmd_botan, model_name=name)
    if nt:
        b.set_defaults(p=1.0)   # node loss only


def _add_tglassmlp(tsub: argparse._SubParsersAction) -> None:
    t = tsub.add_parser("tglassmlp", help="tGlassMLP (Jung, Biroli & Berthier): bond-breaking propensity at "
                        "(T, C = <C_B(t)>) with the two-step transfer to T < T_min; or the single-state GlassMLP",
                        description="Reads a store of swap-MC configurations (glassfix swap) with isoconfigurational "
                        "bond-breaking labels at target C values (glassfix iso --times bb:C1,C2,...:TMAX) on some of "
                        "them. Writes OUT/tglassmlp.glassfix (or glassmlp.glassfix with --single-state), "
                        "metrics.json, report.md + PNG; every finished network is kept in OUT/nets and descriptors "
                        "in OUT/cache, so re-running the same command resumes. Temperatures in epsilon/k_B, lengths "
                        "in sigma.", formatter_class=_Help)
    t.add_argument("--store", required=True, help="dataset store (HDF5)")
    t.add_argument("--out", required=True, help="output directory (resumable)")
    t.add_argument("--t-min", type=float, default=None, help="lowest temperature whose MD labels are trained on "
                   "in step 1; configurations below it get pseudo-labels (default: no transfer step)")
    t.add_argument("--targets", default=None, help="comma-separated C values to train (default: every bb_target "
                   "in the store)")
    t.add_argument("--single-state", default=None, metavar="T,C", help="train the single-state GlassMLP baseline "
                   "at this state point instead")
    t.add_argument("--step1-networks", type=int, default=16, help="networks per C in step 1 (paper: 16)")
    t.add_argument("--step2-networks", type=int, default=16, help="networks in step 2 (paper: 16)")
    t.add_argument("--epochs-scale", type=float, default=1.0, help="multiply every epoch count of Table 2 "
                   "(10+50+25 MSE, 50 GlassMLP loss) by this factor, for small runs")
    t.add_argument("--tol", type=float, default=1e-4, help="self-consistency filter |mean X - C| < TOL (paper 1e-4)")
    t.add_argument("--relax-factor", type=float, default=10.0, help="if no network passes, multiply TOL by this")
    t.add_argument("--max-relax", type=int, default=3, help="at most this many relaxations (each is logged)")
    t.add_argument("--lambda-v", type=float, default=1.0, help="weight of the variance term of the phase-2 loss")
    t.add_argument("--lambda-c", type=float, default=1.0, help="weight of the spatial-correlation term")
    t.add_argument("--r-max", type=float, default=5.0, help="range of the correlation term (sigma)")
    t.add_argument("--dr", type=float, default=0.5, help="bin width of the correlation term (sigma)")
    t.add_argument("--test-fraction", type=float, default=0.5, help="fraction of configurations per T held out "
                   "(when the store has no stored split; paper 150/150)")
    t.add_argument("--split-seed", type=int, default=0)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--bottleneck", choices=["linear", "elu"], default="linear", help="bottleneck activation")
    t.add_argument("--quench", choices=["fire", "none"], default="fire", help="descriptors on the FIRE inherent "
                   "structure of each frame (fire) or on the frames as stored (none: they are inherent structures)")
    t.add_argument("--fire-ftol", type=float, default=1e-6, help="FIRE max force tolerance (epsilon/sigma)")
    t.add_argument("--system", default="jbb", help="system whose pair potential gives E_i and the FIRE forces")
    t.add_argument("--threads", type=int, default=1, help="torch threads")
    t.set_defaults(func=_cmd_tglassmlp)


def _cmd_tglassmlp(args: argparse.Namespace) -> int:
    from rich.console import Console

    from glassfix.data.store import DatasetError
    from glassfix.train.tglassmlp import TGlassConfig, train_tglassmlp

    console = Console(stderr=True)
    try:
        single = None
        if args.single_state:
            parts = args.single_state.split(",")
            if len(parts) != 2:
                raise ValueError(f"--single-state must be T,C (e.g. 0.4,0.5), got {args.single_state!r}")
            single = (float(parts[0]), float(parts[1]))
        targets = [float(x) for x in args.targets.split(",")] if args.targets else None
        cfg = TGlassConfig(t_min=args.t_min, targets=targets, n_step1=args.step1_networks,
                           n_step2=args.step2_networks, epochs_scale=args.epochs_scale, lam_v=args.lambda_v,
                           lam_c=args.lambda_c, r_max=args.r_max, dr=args.dr, tol=args.tol,
                           relax_factor=args.relax_factor, max_relax=args.max_relax, test_fraction=args.test_fraction,
                           split_seed=args.split_seed, seed=args.seed, bottleneck_act=args.bottleneck,
                           single_state=single, quench=args.quench, fire_ftol=args.fire_ftol, system=args.system,
                           threads=args.threads)
        command = "glassfix train tglassmlp " + " ".join(_argv_of(args))
        with console.status("tglassmlp …") as st:
            def log(msg: str) -> None:
                if msg.startswith(("descriptors", "progress ")):    # per frame / per epoch: the status line
                    st.update(msg.removeprefix("progress "))
                else:
                    console.print(msg)

            res = train_tglassmlp(args.store, args.out, cfg, log=log, command=command)
    except (ValueError, DatasetError, KeyError) as exc:
        raise SystemExit(f"glassfix train tglassmlp: error: {exc}") from None
    console.print(f"model: {res['model']}\nreport: {res['report']}")
    return 0


def add_arguments(sub: argparse._SubParsersAction) -> None:
    """Register ``glassfix train`` (softness, ace, looseness, botan, nt-gnn, tglassmlp) and ``glassfix evaluate``."""
    tr = sub.add_parser("train", help="train a model on a dataset store (resumable; writes a report)")
    tsub = tr.add_subparsers(dest="kind", required=True)
    for kind in _KIND_DEFAULTS:
        _add_classifier(tsub, kind)
    _add_botan(tsub, "botan")
    _add_botan(tsub, "nt-gnn")
    _add_tglassmlp(tsub)
    _add_evaluate(sub)


def _cmd_classifier(args: argparse.Namespace) -> int:
    from rich.console import Console

    from glassfix.data.labels_meta import LabelMetaError
    from glassfix.data.store import DatasetError
    from glassfix.train.classifiers import ClassifierConfig, train_classifier

    kind = args.train_kind
    desc = {k: getattr(args, k) for k in ("mu_min", "mu_max", "mu_step", "delta", "body_order", "degree", "r_cut",
                                          "radii", "voronoi_backend") if getattr(args, k, None) is not None}
    above, top = args.above, args.top
    if above is None and top is None:  # the kind's default rule
        above, top = _KIND_DEFAULTS[kind]["above"], _KIND_DEFAULTS[kind]["top"]
    console = Console(stderr=True)
    try:
        cfg = ClassifierConfig(kind=kind, label=args.label, above=above, below=args.below, top=top,
                               bottom=args.bottom, quiescent=args.quiescent, species=args.species, frames=args.frames,
                               label_offset=args.label_offset, per_class=args.per_class, balance=args.balance,
                               C=args.C, cv_C=list(args.cv_C) if args.cv_C else None, cv_folds=args.cv_folds,
                               min_per_class=args.min_per_class, test_fraction=args.test_fraction,
                               split_seed=args.split_seed, seed=args.seed, shuffle_labels=args.shuffle_labels,
                               n_learners=getattr(args, "learners", 10), rfe=getattr(args, "rfe", 0), descriptor=desc)
        command = f"glassfix train {kind} " + " ".join(_argv_of(args))
        with console.status(f"training {kind} …") as st:
            def log(msg: str) -> None:
                # per-frame progress updates the status line; milestones are printed
                if msg.startswith("descriptors"):
                    st.update(msg)
                else:
                    console.print(msg)

            res = train_classifier(args.store, args.out, cfg, command=command, log=log)
    except (ValueError, DatasetError, LabelMetaError, KeyError) as exc:
        raise SystemExit(f"glassfix train {kind}: error: {exc}") from None
    console.print(f"model: {res['model']}\nreport: {res['report']}")
    return 0


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

    name = getattr(args, "model_name", "botan")
    command = f"glassfix train {name} " + " ".join(_argv_of(args))
    from glassfix.core.atomic import atomic_write_text
    from glassfix.train.dataset import store_sha256
    from glassfix.train.report import finite_json

    with DatasetStore(args.store, mode="r") as ds:
        lname = f"propensity/{args.time_label}"
        label = {"name": lname, "params": ds.label_params(train_keys[0], lname)
                 if lname in ds.label_names(train_keys[0]) else {"replicas_time_label": args.time_label}}
    res = train_botan(train, test, cfg, args.out, species=species,
                      provenance={"store": os.path.abspath(args.store), "store_sha256": store_sha256(args.store),
                                  "time_label": args.time_label, "label": label, "trainer_name": name,
                                  "command": command}, log=log, model_name=f"{name}.glassfix")
    atomic_write_text(Path(args.out) / "metrics.json", json.dumps(finite_json(
        {"kind": name, "label": label["name"], "final": res["final"],
         "test": {k[5:]: v for k, v in res["final"].items() if k.startswith("test_")}}), indent=2))
    report = write_report(Path(args.out), res["history"], cfg, train_keys, test_keys, command,
                          title="NT-GNN training" if name == "nt-gnn" else "BOTAN training")
    console.print(f"model: {res['model']}\nreport: {report}")
    return 0


def _argv_of(args: argparse.Namespace) -> list[str]:
    skip = {"func", "command", "kind", "train_kind", "model_name"}
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


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
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
