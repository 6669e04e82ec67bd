"""``glassfix reproduce ace-aqs``: the driver (:func:`run`), the trained model on the fly, the analyses and the
report (``docs/ace_aqs.md``); the samples and their labels and features are :mod:`glassfix.reproduce.ace_aqs`."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from glassfix.core.atomic import atomic_write_json, atomic_write_text
from glassfix.reproduce.ace_aqs import (
    AceAqsConfig, _add_wall, _complete, check_config, dataset, generate, label_stats, sample_dir,
)
from glassfix.reproduce.ace_common import (
    SET_NAMES, SHUFFLED, accuracy_bars, accuracy_row, feature_sets, forward_selection, nested_cv_accuracy,
)

#: feature sets also scored with C tuned by nested CV
NESTED_SETS = ("A–A radial (10)", "all 2-body (20)", "2 + 3 + 4-body (all)")

COMMAND = "glassfix reproduce ace-aqs"


def _desc(r_cut: float):
    from glassfix.descriptors.ace import ACEDescriptor

    return ACEDescriptor(n_species=2, r_cut=r_cut, species_names=["A", "B"])


def stage_otf(cfg: AceAqsConfig, workdir: Path, samples: list[int], say: Callable[[str], None] = print) -> dict:
    """Train the model on every labelled atom of ``samples`` (r_cut = ``otf_rcut``, all features), then shear
    sample 0's glass ``otf_strain`` further with it in ``fix glass/predict`` (resumable)."""
    from glassfix.models.activity import ActivityModel
    from glassfix.protocols import run
    from glassfix.reproduce.ace_aqs import otf_spec

    if 0 not in samples:
        raise ValueError("the on-the-fly run continues sample 0, which is not complete: run stage generate first")
    workdir = Path(workdir)
    t0 = time.perf_counter()
    tag = f"model{len(samples)}"
    path = workdir / "model" / f"ka_ace_aqs_{tag}.glassfix"
    if not path.exists():
        X, y, _ = dataset(cfg, workdir, samples, cfg.otf_rcut)
        model = ActivityModel.train(_desc(cfg.otf_rcut), {0: (X, y)}, C=cfg.C, species=["A", "B"], seed=0,
                                    provenance={"command": COMMAND, "samples": samples,
                                                "r_cut": cfg.otf_rcut, "labels": "AQS D2min > 0.6"})
        path.parent.mkdir(parents=True, exist_ok=True)
        model.save(path)
        say(f"on-the-fly model: {y.size} labelled atoms of {len(samples)} samples -> {path}")
    wd = workdir / "otf" / f"collect_{tag}"
    if not _complete(wd, cfg.otf_strain):
        say(f"on the fly: {cfg.otf_strain:g} more strain of sample 0 with fix glass/predict every "
            f"{cfg.otf_every} step(s)")
        run(otf_spec(cfg, workdir, str(path.resolve())), wd, progress=False)
    out = {"model": str(path), "collect": str(wd.relative_to(workdir)), "n_train_samples": len(samples)}
    atomic_write_json(workdir / "otf.json", out)
    _add_wall(workdir, "otf", time.perf_counter() - t0)
    return out


# ------------------------------------------------------------------------------------------------ analyses
def thermal_table(path: Path) -> dict[str, dict[str, float]]:
    """The accuracy table of the committed ``ace-thermal`` report: {r_cut: {feature set: accuracy}}."""
    if not path.exists():
        return {}
    rows = [ln for ln in path.read_text().splitlines() if ln.startswith("|")]
    if not rows or "r_cut" not in rows[0]:
        return {}
    cuts = [re.sub(r".*=\s*", "", c).strip() for c in rows[0].strip("|").split("|")[1:]]
    out: dict[str, dict[str, float]] = {c: {} for c in cuts}
    for ln in rows[2:]:
        cells = [c.strip() for c in ln.strip("|").split("|")]
        if len(cells) != len(cuts) + 1:
            break
        try:
            vals = [float(v) for v in cells[1:]]
        except ValueError:
            break
        for c, v in zip(cuts, vals):
            out[c][cells[0]] = v
    return out


def otf_analysis(cfg: AceAqsConfig, collect: Path) -> dict:
    """Held-out run: predictions vs the D²min > threshold rearrangements of its event steps."""
    from glassfix.labels.events import threshold_event_labels
    from glassfix.protocols import load_frame_npz, read_series
    from glassfix.protocols.aqs import AQSSpec
    from glassfix.train.metrics import classification_metrics

    key = AQSSpec(data="x", dgamma=cfg.dgamma, d2min_rcut=cfg.d2min_rcut, prestrain=0.0,
                  strain=cfg.otf_strain).label_name()
    d2, P, gam = [], [], []
    types = None
    for path in sorted((collect / "frames").glob("aqs_*.npz")):
        frame, labels, _ = load_frame_npz(path)
        d2.append(labels[key])
        P.append(labels["predict/activity"])
        gam.append(frame.metadata["gamma"])
        types = frame.types
    ser = read_series(collect / "series.csv")
    pred = read_series(collect / "predictions.csv")
    out: dict = {"series": ser, "pred": pred, "n_frames": len(d2)}
    if not d2:
        return out
    d2a, Pa = np.array(d2), np.array(P)
    a = types == 0
    with np.errstate(invalid="ignore"):
        act = (d2a > cfg.threshold) & a[None, :]
    n_act = act.sum(axis=1)
    ev = (n_act > 0) & (n_act <= cfg.max_active_fraction * a.sum())
    # every A atom of the event steps: does P(active) rank the rearranging ones first?
    Pe, ye = Pa[ev][:, a].ravel(), act[ev][:, a].ravel()
    out.update(n_event_frames=int(ev.sum()), n_active=int(ye.sum()), n_candidates=int(ye.size),
               P_active=Pe[ye], P_other=Pe[~ye])
    if ye.any() and (~ye).any():
        m = classification_metrics(ye, Pe, 0.5)
        top = Pe >= np.quantile(Pe, 0.9)
        out.update(auc_all=m["auc"], frac_active_top10=float(ye[top].mean()), frac_active=float(ye.mean()))
        fi, atom, y, _ = threshold_event_labels(d2a, a, cfg.threshold, cfg.max_active_fraction)
        if y.size:
            mm = classification_metrics(y.astype(bool), Pa[fi, atom], 0.5)
            out.update(heldout_bacc=mm["balanced_accuracy"], heldout_auc=mm["auc"], heldout_n=int(y.size))
    return out


def _analyse(cfg: AceAqsConfig, workdir: Path, samples: list[int], say) -> dict:
    """Accuracies, forward selection and A1 means of ``samples`` (cached: a report rerun only re-plots)."""
    from glassfix.reproduce.ace_aqs import _label_tag

    key = {"samples": samples, "tag": _label_tag(cfg), "r_cuts": list(cfg.r_cuts), "C": cfg.C, "folds": cfg.folds,
           "otf_rcut": cfg.otf_rcut, "tune_Cs": list(cfg.tune_Cs)}
    cache = Path(workdir) / "analysis.json"
    if cache.exists():
        old = json.loads(cache.read_text())
        if old.get("key") == key:
            return old["res"]
    res = _analyse_now(cfg, workdir, samples, say)
    atomic_write_json(cache, {"key": key, "res": res})
    return res


def _analyse_now(cfg: AceAqsConfig, workdir: Path, samples: list[int], say) -> dict:
    res: dict = {"accuracy": {}, "stats": label_stats(cfg, workdir, samples)}
    for rc in cfg.r_cuts:
        X, y, g = dataset(cfg, workdir, samples, rc)
        folds = min(cfg.folds, np.unique(g).size)
        if folds < 2:
            raise ValueError(f"only {np.unique(g).size} of {len(samples)} samples have labels: grouped "
                             "cross-validation needs 2; add samples (--samples) or a longer window (--strain)")
        res["folds"] = folds
        d = _desc(rc)
        res["accuracy"][f"{rc:g}"] = accuracy_row(X, y, g, d.body_orders, d.n_max, folds, cfg.C, 0)
        say(f"  r_cut {rc:g}: " + ", ".join(f"{k} {v:.3f}" for k, v in res["accuracy"][f"{rc:g}"].items()))
        sets = feature_sets(d.body_orders, d.n_max)
        nested = {}
        # every outer training part needs 2 samples for its inner CV
        for n in NESTED_SETS if np.unique(g).size >= 3 else ():
            a, cs = nested_cv_accuracy(X[:, sets[n]], y, g, folds, cfg.tune_Cs, 0)
            nested[n] = {"accuracy": a, "C": cs}
        if nested:
            res.setdefault("nested", {})[f"{rc:g}"] = nested
            say(f"  r_cut {rc:g}, C tuned by nested CV: "
                + ", ".join(f"{k} {v['accuracy']:.3f}" for k, v in nested.items()))
        if rc == cfg.otf_rcut:
            # two-body candidates only: a full 2 + 3-body scan costs ~100x more fits on this machine
            picks, scores = forward_selection(X, y, g, 2, folds, cfg.C, 0,
                                              np.flatnonzero(d.body_orders == 2))
            res["sfs"] = {"r_cut": rc, "picks": [d.names[c] for c in picks], "scores": scores}
        res.setdefault("n_labels", int(y.size))
        if rc == max(cfg.r_cuts):
            res["A1"] = {"r_cut": rc, "active_mean": float(X[y == 1, 0].mean()),
                         "inactive_mean": float(X[y == 0, 0].mean())}
    return res


# ------------------------------------------------------------------------------------------------ report
def _panels(new_figure, size, n, ratios):
    fig, ax = new_figure(size)
    fig.delaxes(ax)
    return fig, fig.subplots(1, n, gridspec_kw={"width_ratios": ratios})


def _plots(cfg: AceAqsConfig, res: dict, thermal: dict, otf: dict | None, report: Path) -> list[Path]:
    from glassfix.analysis.plots import new_figure, save_figure

    acc = res["accuracy"]
    names = list(SET_NAMES) + [SHUFFLED]
    fig, axes = _panels(new_figure, (13, 4.2), 2, (1.6, 1))
    ax = axes[0]
    accuracy_bars(ax, acc, names, "AQS ")
    ax.set_ylabel("grouped CV balanced accuracy")
    ax.set_ylim(0.2, 1.0)
    ax.legend(fontsize=8, ncol=2)
    ax.set_title("mechanical (AQS) task by feature set", fontsize=9)
    ax = axes[1]
    cuts = [float(c) for c in acc]
    for n, col in zip(("A–A radial (10)", "all 2-body (20)", "2 + 3 + 4-body (all)"), ("C0", "C1", "C2")):
        ax.plot(cuts, [acc[c][n] for c in acc], "o-", color=col, label=f"AQS: {n}")
        if thermal:
            tc = [c for c in thermal if n in thermal[c]]
            ax.plot([float(c) for c in tc], [thermal[c][n] for c in tc], "s--", color=col, alpha=0.7,
                    label=f"thermal: {n}")
    ax.set_xlabel("r_cut (σ)")
    ax.set_ylabel("grouped CV balanced accuracy")
    ax.set_ylim(0.2, 1.0)
    ax.legend(fontsize=7)
    ax.set_title("AQS (solid) vs thermal (dashed, docs/ace_thermal.md)", fontsize=9)
    fig.tight_layout()
    out = [save_figure(fig, report.with_name(report.stem + ".png"))]
    if otf:
        ser, pred = otf["series"], otf["pred"]
        fig, axes = _panels(new_figure, (14, 4.2), 3, (1, 1, 1))
        g0 = float(ser["gamma"][0])
        ax = axes[0]
        ax.plot(ser["gamma"] - g0, ser["sigma"], lw=1, color="k")
        ev = (ser["d2min_max"] > cfg.threshold)
        ax.plot(ser["gamma"][ev] - g0, ser["sigma"][ev], "v", ms=4, color="C3",
                label=f"steps with D²min > {cfg.threshold:g}")
        ax.set_xlabel(f"γ − γ₀ (γ₀ = {g0:.3f})")
        ax.set_ylabel("shear stress σ_xy (ε/σ³)")
        ax.legend(fontsize=8)
        ax2 = axes[1]
        ax2.plot(pred["gamma"] - g0, pred["activity_mean"], lw=1, color="C0")
        for x in ser["gamma"][ev] - g0:
            ax2.axvline(x, color="C3", lw=0.5, alpha=0.4)
        ax2.set_xlabel("γ − γ₀")
        ax2.set_ylabel("mean predicted P(active), all atoms")
        ax2.set_title("fix glass/predict on every minimum (red: rearranging steps)", fontsize=9)
        ax3 = axes[2]
        if "P_active" in otf:
            bins = np.linspace(0, 1, 26)
            ax3.hist(otf["P_other"], bins, density=True, alpha=0.6, label="A atoms that stay (D²min ≤ 0.6)")
            ax3.hist(otf["P_active"], bins, density=True, alpha=0.6, label="A atoms that rearrange (D²min > 0.6)")
            ax3.set_xlabel("predicted P(active) on the minimum before the step")
            ax3.set_ylabel("density")
            ax3.legend(fontsize=8)
            ax3.set_title("event steps of the held-out glass", fontsize=9)
        fig.tight_layout()
        out.append(save_figure(fig, report.with_name(report.stem + "_otf.png")))
    return out


def _f(v: float) -> str:
    return f"{v:.3f}"


def _paper_table(cfg: AceAqsConfig, res: dict, thermal: dict, n_samples: int) -> list[str]:
    acc = res["accuracy"]
    rc3 = f"{cfg.otf_rcut:g}"
    cuts = list(acc)
    two = [acc[c]["all 2-body (20)"] for c in cuts]
    allf = [acc[c]["2 + 3 + 4-body (all)"] for c in cuts]
    aa = [acc[c]["A–A radial (10)"] for c in cuts]
    d3 = [acc[c]["2 + 3-body"] - acc[c]["all 2-body (20)"] for c in cuts]
    d4 = [acc[c]["2 + 3 + 4-body (all)"] - acc[c]["all 2-body (20)"] for c in cuts]
    span = lambda v: f"{min(v):.3f}–{max(v):.3f}"  # noqa: E731
    sgn = lambda v: ", ".join(f"{x:+.3f}" for x in v)  # noqa: E731
    cond = f"KA N = {cfg.n}, {n_samples} samples, r_cut {', '.join(cuts)}"
    st = res["stats"]
    lines = ["| quantity | paper | ours | conditions |", "|---|---|---|---|",
             f"| r_cut dependence (all 2-body) | weak, saturates by r_cut = 3 | {span(two)} over r_cut "
             f"{cuts[0]}–{cuts[-1]} ({', '.join(_f(v) for v in two)}) | {cond} |",
             f"| r_cut dependence (all features) | weak, saturates by 3 | {', '.join(_f(v) for v in allf)} | {cond} |",
             f"| after the 10 A–A radial features | ≈ 70 % | {_f(acc[rc3]['A–A radial (10)'])} at r_cut = {rc3} "
             f"({span(aa)} over r_cut) | {cond} |",
             f"| + A–B radial (all 2-body) | maximum accuracy | {_f(acc[rc3]['all 2-body (20)'])} at r_cut = {rc3} "
             f"({acc[rc3]['all 2-body (20)'] - acc[rc3]['A–A radial (10)']:+.3f} over A–A) | {cond} |",
             f"| + 3-body | no significant gain | {sgn(d3)} (vs all 2-body, per r_cut) | {cond} |",
             f"| + 3- and 4-body | no significant gain | {sgn(d4)} (vs all 2-body, per r_cut) | {cond} |"]
    if thermal and "4" in thermal and "all 2-body (20)" in thermal["4"]:
        t2 = thermal["4"]["all 2-body (20)"]
        lines.append(f"| mechanical vs thermal | mechanical lower overall | AQS all 2-body {_f(max(two))} (best r_cut) "
                     f"vs thermal {_f(t2)} (r_cut = 4) | thermal: docs/ace_thermal.md (N = 4096, T = 0.44) |")
    if "sfs" in res:
        s = res["sfs"]
        lines.append(f"| forward selection, first picks (KA mechanical) | A1, B1 | {', '.join(s['picks'])} "
                     f"(CV {', '.join(_f(v) for v in s['scores'])}) | two-body candidates only (the paper: 2- and 3-body), r_cut = {s['r_cut']:g} |")
    if "A1" in res:
        a = res["A1"]
        lines.append(f"| first radial feature A1: inactive \\|mean\\| > active \\|mean\\| | yes (KA) | inactive "
                     f"{a['inactive_mean']:.3f}, active {a['active_mean']:.3f} | r_cut = {a['r_cut']:g} |")
    lines += [f"| active threshold | D²min > 0.6 | D²min > {cfg.threshold:g} σ² (Falk–Langer sum, r {cfg.d2min_rcut:g} σ) "
              f"| radius and normalisation unspecified in the paper |",
              f"| samples × window | 30 × 1 % strain | {n_samples} × {cfg.strain:.0%} strain "
              f"({st['n_pos']} active + {st['n_neg']} inactive A atoms) | N = 1000 has few events per 1 % |",
              f"| δγ, pre-strain | 5·10⁻⁵, 10 % | {cfg.dgamma:g} in the window; pre-strain {cfg.prestrain:.0%} at "
              f"{cfg.dgamma_pre:g} | larger steps than the paper's, to fit the 2-core budget |",
              f"| quench | T = 1 → 0 over 500 τ | T = 1 → 0.01 over {cfg.quench_steps * 0.005:g} τ, then CG | "
              f"shortened to fit the 2-core budget; the 10 % pre-strain erases the preparation memory |"]
    return lines


def _span(progress: Path) -> float:
    """Seconds from the first to the last row of a protocol's progress.csv (0 if absent)."""
    from glassfix.protocols import read_series

    if not progress.exists():
        return 0.0
    w = read_series(progress)["wall"]
    return float(w[-1] - w[0]) if w.size else 0.0


def write_report(cfg: AceAqsConfig, workdir: Path, samples: list[int], report: Path,
                 say: Callable[[str], None] = print) -> Path:
    """Analyses of the complete samples, the on-the-fly run and ``report`` with its PNGs."""
    from glassfix.core.machine import machine_description

    workdir = Path(workdir)
    if len(samples) < 2:
        raise ValueError(f"{len(samples)} complete samples: grouped cross-validation needs at least 2")
    say(f"analysis of {len(samples)} samples")
    res = _analyse(cfg, workdir, samples, say)
    thermal = thermal_table(report.with_name("ace_thermal.md"))
    otf_info = json.loads((workdir / "otf.json").read_text()) if (workdir / "otf.json").exists() else None
    otf = None
    if otf_info and _complete(workdir / otf_info["collect"], cfg.otf_strain):
        otf = otf_analysis(cfg, workdir / otf_info["collect"])
    pngs = _plots(cfg, res, thermal, otf, report)
    # spans of the runs' own progress files (first to last row): they cover every invocation, killed ones too
    wall = {"pre": 0.0, "collect": 0.0}
    for i in samples:
        d = sample_dir(workdir, i)
        wall["pre"] += _span(d / "pre" / "prepare" / "progress.csv") + _span(d / "pre" / "progress.csv")
        wall["collect"] += _span(d / "collect" / "progress.csv")
    drv = json.loads((workdir / "wall.json").read_text()) if (workdir / "wall.json").exists() else {}
    atomic_write_json(workdir / "result.json", {"samples": samples, "accuracy": res["accuracy"],
                                                "stats": res["stats"], "sfs": res.get("sfs"), "A1": res.get("A1"),
                                                "nested": res.get("nested"),
                                                "otf": {k: v for k, v in (otf or {}).items()
                                                        if isinstance(v, (int, float))}})
    st = res["stats"]
    acc = res["accuracy"]
    lines = [
        "# ACE activity classifier: mechanical (AQS) rearrangements in KA (Rottler & Ortner, seed 000)",
        "",
        f"Command: `nice -n 5 {COMMAND} --samples {cfg.samples} --workdir {workdir}` (stages generate, otf, "
        "report; each resumes)  ",
        f"Machine: {machine_description()}; date {datetime.now(timezone.utc).strftime('%Y-%m-%d')}  ",
        f"Wall time: {wall['pre'] / 3600:.2f} process-h preparing and pre-straining, {wall['collect'] / 3600:.2f} "
        f"process-h collecting ({len(samples)} samples in 2 processes on 2 cores shared with other jobs; from the "
        f"runs' progress files); on-the-fly stage {drv.get('otf', 0.0) / 60:.1f} min.",
        "",
        f"Samples: **{len(samples)} complete of the {cfg.samples} requested** (`--samples`; rerunning the command "
        "with more adds them).",
        "",
        "## Protocol",
        "",
        f"- Glass: KA 80:20, N = {cfg.n}, ρ = 1.2 (`PrepareSpec.for_aqs`): melt at T = 1 for "
        f"{cfg.melt_steps * 0.005:g} τ, linear Nosé–Hoover quench to T = 0.01 over {cfg.quench_steps * 0.005:g} τ "
        "(paper: 500 τ), CG minimisation.",
        f"- AQS (`AQSSpec`, `glassfix run aqs`): simple shear in xy, affine tilt + remap, CG after every step (etol 0; "
        f"ftol 1e-10 in the pre-strain, {cfg.collect_ftol:g} in the window). Pre-strain to γ = {cfg.prestrain:g} at δγ = {cfg.dgamma_pre:g}, then a collection window "
        f"of {cfg.strain:g} strain at δγ = {cfg.dgamma:g} ({round(cfg.strain / cfg.dgamma)} steps).",
        f"- Labels (`glassfix.labels.events.threshold_event_labels`): D²min between consecutive minima (Falk–Langer "
        f"sum, neighbours within {cfg.d2min_rcut:g} σ). Active: A atoms with D²min > {cfg.threshold:g} in a step; "
        f"steps with more than {cfg.max_active_fraction:.0%} of the A atoms active count as avalanches and give no "
        "labels. Inactive: in each of those steps, as many A atoms as it has actives, those with the lowest D²min "
        "of that step. Each label's descriptors are taken on the minimum before its step.",
        f"- Counts: {st['n_frames']} saved plastic steps, {st['n_event_frames']} of them with actives and at most "
        f"{cfg.max_active_fraction:.0%} active, {st['n_avalanche']} avalanche steps dropped; {st['n_pos']} active "
        f"+ {st['n_neg']} inactive A atoms.",
        "- Features and classifier as `ace-thermal` (`glassfix.reproduce.ace_common`): purified ACE invariants "
        "(2 species, n_max = 10, total degree 10: 20 two-body, 154 three-body, 400 four-body), standardisation + "
        f"class-balanced L2 logistic regression (C = {cfg.C:g}), balanced accuracy of {res['folds']}"
        "-fold cross-validation grouped by sample (no sample on both sides).",
        "",
        "## Accuracy by feature set and r_cut (AQS)",
        "",
        "| features | " + " | ".join(f"r_cut = {rc}" for rc in acc) + " |",
        "|---|" + "---|" * len(acc),
    ]
    for n in list(SET_NAMES) + [SHUFFLED]:
        lines.append(f"| {n} | " + " | ".join(_f(acc[rc][n]) for rc in acc) + " |")
    if not res.get("nested"):
        lines += ["", "Tuning C by nested CV needs at least 3 samples: not done."]
    else:
        nest = res["nested"]
        lines += ["", f"The same CV with C tuned inside every training part (nested grouped CV over C ∈ "
                  f"{{{', '.join(f'{c:g}' for c in cfg.tune_Cs)}}}; the paper does not give C): balanced accuracy, "
                  "and the C chosen in each outer fold.", "",
                  "| features | " + " | ".join(f"r_cut = {rc}" for rc in nest) + " |", "|---|" + "---|" * len(nest)]
        for n in NESTED_SETS:
            lines.append(f"| {n} | " + " | ".join(
                f"{_f(nest[rc][n]['accuracy'])} (C: {', '.join(f'{c:g}' for c in nest[rc][n]['C'])})"
                for rc in nest) + " |")
    lines += ["", f"![AQS accuracy; AQS vs thermal]({pngs[0].name})", "", "## Thermal vs AQS", ""]
    if thermal:
        common = [c for c in acc if c in thermal]
        lines += ["| features | " + " | ".join(f"thermal {c} | AQS {c}" for c in common) + " |",
                  "|---|" + "---|---|" * len(common)]
        for n in SET_NAMES:
            lines.append(f"| {n} | " + " | ".join(f"{_f(thermal[c][n]) if n in thermal[c] else '–'} | "
                                                  f"{_f(acc[c][n])}" for c in common) + " |")
        lines += ["", "Thermal: the committed table of `docs/ace_thermal.md` (shared isoconfigurational KA data, "
                  "N = 4096, T = 0.44, top/bottom 5 % of A atoms by isoconfigurational D²min, same descriptors and "
                  "classifier, CV grouped by configuration)."]
    else:
        lines.append("docs/ace_thermal.md was not found beside the report: no thermal comparison.")
    lines += ["", "## Paper | ours | conditions", ""] + _paper_table(cfg, res, thermal, len(samples))
    lines += ["", "## On the fly: the model inside `fix glass/predict` during AQS", ""]
    if otf:
        lines += [f"Model: `{Path(otf_info['model']).name}` (kind `ace-activity`, all 574 features at r_cut = "
                  f"{cfg.otf_rcut:g}, trained on every labelled atom of the {otf_info['n_train_samples']} samples). "
                  f"Run: sample 0 sheared a further {cfg.otf_strain:g} (δγ = {cfg.dgamma:g}) from the end of its "
                  "collection window, i.e. on strain the model was not trained on, with `AQSSpec(data=…/final.data, "
                  f"model=…, predict_every={cfg.otf_every})` (= `glassfix run aqs --data … --model … --every "
                  f"{cfg.otf_every}`): the fix evaluates the model on every minimum; its per-atom values label the "
                  "saved pre-event minima.", "",
                  f"- Mean predicted P(active) over all atoms: {np.mean(otf['pred']['activity_mean']):.3f} "
                  f"(range {np.min(otf['pred']['activity_mean']):.3f}–{np.max(otf['pred']['activity_mean']):.3f}) "
                  f"over {otf['pred']['gamma'].size} minima."]
        if "auc_all" in otf:
            lines += [f"- Event steps with rearranging A atoms (at most the avalanche cut): {otf['n_event_frames']}; "
                      f"{otf['n_active']} of {otf['n_candidates']} A atom-steps "
                      f"rearrange (D²min > {cfg.threshold:g}): AUC of P(active) for rearranging vs all other A atoms "
                      f"{otf['auc_all']:.3f}; among the 10 % highest P(active) {otf['frac_active_top10']:.1%} "
                      f"rearrange vs {otf['frac_active']:.1%} overall.",
                      f"- Held-out labels built as in training ({otf.get('heldout_n', 0)} atoms): balanced accuracy "
                      f"{otf.get('heldout_bacc', float('nan')):.3f}, AUC {otf.get('heldout_auc', float('nan')):.3f}."]
        lines += ["", f"![on the fly]({pngs[1].name})"]
    else:
        lines.append("The on-the-fly run has not finished: no time series.")
    lines.append("")
    old = report.read_text() if report.exists() else ""
    if "\n## Reading" in old:   # the hand-written reading of a previous run stays
        lines.append(old[old.index("\n## Reading") + 1:])
    atomic_write_text(report, "\n".join(lines))
    return report


# ------------------------------------------------------------------------------------------------ driver
STAGES = ("generate", "otf", "report")


def run(cfg: AceAqsConfig, workdir: Path, report: Path, stages: tuple[str, ...] = STAGES, workers: int = 2,
        say: Callable[[str], None] = print) -> Path | None:
    """Run ``stages`` (generate: the samples; otf: train + the model in an AQS run; report); each resumes."""
    workdir = Path(workdir)
    check_config(cfg, workdir)
    t0 = time.perf_counter()
    if "generate" in stages:
        generate(cfg, workdir, workers, say)
    samples = [i for i in range(cfg.samples) if _complete(sample_dir(workdir, i) / "collect", cfg.strain)]
    if "otf" in stages:
        stage_otf(cfg, workdir, samples, say)
    _add_wall(workdir, "driver", time.perf_counter() - t0)
    if "report" in stages:
        return write_report(cfg, workdir, samples, Path(report), say)
    return None
