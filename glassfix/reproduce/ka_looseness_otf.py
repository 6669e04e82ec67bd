"""The on-the-fly part of ``glassfix reproduce ka-looseness``: the trained looseness model inside a new creep run.

A glass that none of the ensemble's runs used (ka-creep's seeding with run index :data:`OTF_INDEX`) is
prepared and crept exactly as the ensemble (same N, T, σ0, dt and snapshot spacing) for ``otf_steps`` MD
steps with the model in ``fix glass/predict``: on the thermal configuration every ``otf_every`` MD steps
(``predictions.csv``) and on every minimised snapshot (``snapshot_predictions.csv`` and per-atom values on
the saved frames). The analysis checks the fix's per-atom values against the model applied offline to the
same minimised frames, and sets ⟨L⟩(t) beside the run's strain and the ensemble's offline ⟨L⟩(t).

The run lives in ``<workdir>/otf_<model sha256[:12]>``: a retrained model gets a new run, an interrupted
one resumes (it is a protocol work directory).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields
from pathlib import Path
from typing import Any, Callable

import numpy as np

#: ka-creep run index whose seeds make the on-the-fly glass (the ensemble uses 0 … runs − 1)
OTF_INDEX = 1000


def creep_config(creep_dir: Path):
    """The :class:`~glassfix.reproduce.ka_creep.KaCreepConfig` recorded in ``creep_dir/config.json``."""
    from glassfix.reproduce.ka_creep import KaCreepConfig

    raw = json.loads((Path(creep_dir) / "config.json").read_text())
    names = {f.name for f in fields(KaCreepConfig)}
    return KaCreepConfig(**{k: v for k, v in raw.items() if k in names})


def model_digest(model_path: Path) -> str:
    """sha256 of what the model predicts with (kind, species, descriptor, outputs, parameters, arrays), not of
    the file: the zip members carry a save time and the provenance names the command, neither of which
    changes a prediction."""
    from glassfix.core.atomic import json_default
    from glassfix.models import load_model

    model = load_model(model_path)
    man = {k: v for k, v in model.manifest().items() if k != "provenance"}
    h = hashlib.sha256(json.dumps(man, sort_keys=True, default=json_default).encode())
    for name, arr in sorted(model.arrays().items()):
        a = np.ascontiguousarray(arr)
        h.update(f"{name}|{a.dtype.str}|{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def otf_dir(workdir: Path, model_path: Path) -> Path:
    """``<workdir>/otf_<first 12 hex digits of model_digest>``: one on-the-fly run per model content."""
    return Path(workdir) / f"otf_{model_digest(model_path)[:12]}"


def overrides(model_path: Path, steps: int, every: int) -> dict[str, Any]:
    """CreepSpec fields that turn an ensemble run into the on-the-fly run (``steps``, ``every`` in MD steps)."""
    return {"steps": int(steps), "model": str(Path(model_path).resolve()), "predict_every": int(every)}


def check_steps(creep_dir: Path, steps: int, every: int) -> None:
    """ValueError naming the value unless ``steps`` is a multiple of the snapshot spacing and of ``every``."""
    snap = creep_config(creep_dir).snapshot_every
    if steps % snap or every < 1 or snap % every:
        raise ValueError(f"on-the-fly run: --otf-steps ({steps}) must be a multiple of the creep runs' snapshot "
                         f"spacing ({snap} steps), which must be a multiple of --otf-every ({every})")


def stage_otf(creep_dir: Path, workdir: Path, model_path: Path, steps: int, every: int,
              say: Callable[[str], None] = print) -> Path:
    """Run (or resume) the on-the-fly creep run; returns its protocol work directory."""
    from glassfix.reproduce.ka_creep import run_one

    check_steps(creep_dir, steps, every)
    ccfg = creep_config(creep_dir)
    wd = otf_dir(workdir, model_path)
    state = wd / "state.json"
    if state.exists() and json.loads(state.read_text()).get("complete"):
        return wd
    wd.mkdir(parents=True, exist_ok=True)
    say(f"on the fly: a new glass (N = {ccfg.n}) crept {steps} steps with the looseness model in "
        f"fix glass/predict every {every} steps and on every minimised snapshot → {wd}")
    info = run_one(ccfg, OTF_INDEX, wd, overrides=overrides(model_path, steps, every))
    if not info["complete"]:
        raise RuntimeError(f"{wd}: the on-the-fly creep run did not complete")
    return wd


def otf_analysis(run_dir: Path, model_path: Path) -> dict[str, Any]:
    """Series of the on-the-fly run and the largest |L(fix) − L(offline)| over its minimised frames."""
    from glassfix.models import load_model
    from glassfix.models.looseness import OUTPUT_NAME
    from glassfix.protocols import load_frame_npz, read_series
    from glassfix.protocols.predict import label_name

    run_dir = Path(run_dir)
    model = load_model(model_path)
    col = f"{OUTPUT_NAME}_mean"
    snap = read_series(run_dir / "snapshot_predictions.csv")
    md = read_series(run_dir / "predictions.csv")
    ser = read_series(run_dir / "series.csv")
    max_diff, n_values, nan_mismatch, frames = 0.0, 0, 0, 0
    for path in sorted((run_dir / "frames").glob("creep_min_*.npz")):
        frame, labels, _ = load_frame_npz(path)
        online = labels[label_name(OUTPUT_NAME)]
        ref = model.predict(frame)[:, 0]
        nan_mismatch += int(np.count_nonzero(np.isnan(online) != np.isnan(ref)))
        ok = ~np.isnan(ref) & ~np.isnan(online)
        if ok.any():
            max_diff = max(max_diff, float(np.abs(online[ok] - ref[ok]).max()))
        n_values += int(ok.sum())
        frames += 1
    spec = json.loads((run_dir / "spec.json").read_text())["spec"]
    return {"snap_steps": snap["step"].tolist(), "snap_L": snap[col].tolist(),
            "md_steps": md["step"].tolist(), "md_L": md[col].tolist(),
            "strain_steps": ser["step"].tolist(), "strain": ser["strain"].tolist(),
            "frames": frames, "values": n_values, "max_abs_diff": max_diff, "nan_mismatch": nan_mismatch,
            "every": int(spec.get("predict_every") or 0), "steps": int(spec.get("steps") or 0),
            "dir": run_dir.name}


def otf_plot(otf: dict, ens_steps: list, ens_L: np.ndarray, path: Path) -> Path:
    """⟨L⟩(t) of the on-the-fly run (snapshots and MD) and of the ensemble (offline), ε(t) on a second axis."""
    from glassfix.analysis.plots import new_figure, save_figure

    fig, ax = new_figure((6.4, 4.0))
    ms, mL = np.asarray(otf["md_steps"], float), np.asarray(otf["md_L"], float)
    ss, sL = np.asarray(otf["snap_steps"], float), np.asarray(otf["snap_L"], float)
    es = np.asarray(ens_steps, float)
    k = (es > 0) & (es <= max(ss.max(), 1.0))
    ax.plot(ms[ms > 0], mL[ms > 0], color="0.6", lw=0.8, label=f"on the fly, MD every {otf['every']} steps")
    ax.plot(ss[ss > 0], sL[ss > 0], "o-", color="C0", ms=3.5, label="on the fly, minimised snapshots")
    ax.plot(es[k], np.asarray(ens_L, float).mean(0)[k], "s--", color="C2", ms=3, label="ensemble, offline (mean)")
    ax.set_xscale("log")
    ax.set_xlabel("t (MD steps)")
    ax.set_ylabel("⟨L⟩ of the A particles")
    ax2 = ax.twinx()
    st, e = np.asarray(otf["strain_steps"], float), np.asarray(otf["strain"], float)
    ax2.plot(st[st > 0], e[st > 0], color="C3", lw=0.8)
    ax2.set_ylabel("ε (on-the-fly run)", color="C3")
    ax.legend(fontsize=7, loc="best")
    ax.set_title("looseness model inside fix glass/predict during creep", fontsize=9)
    return save_figure(fig, path)


def otf_lines(otf: dict, ens_steps: list, ens_L: np.ndarray, png: str, steps_fmt: Callable[[int], str]) -> list[str]:
    """The report's on-the-fly section, every sentence from the numbers in ``otf``."""
    from glassfix.analysis.looseness_stats import series_trends

    ss, sL = np.asarray(otf["snap_steps"], float), np.asarray(otf["snap_L"], float)
    ms, mL = np.asarray(otf["md_steps"], float), np.asarray(otf["md_L"], float)
    es, eL = np.asarray(ens_steps, float), np.asarray(ens_L, float).mean(0)
    st, e = np.asarray(otf["strain_steps"], float), np.asarray(otf["strain"], float)
    tr = series_trends(ss, sL, np.interp(ss, st, e))
    common = [i for i, s in enumerate(ss) if s > 0 and s in set(es.tolist())]
    ens_at = np.interp(ss[common], es, eL) if common else np.zeros(0)
    gap = float(np.mean(sL[common] - ens_at)) if common else float("nan")
    later = ss > 0
    md_gap = float(np.mean(mL[ms > 0]) - np.mean(sL[later])) if later.any() and (ms > 0).any() else float("nan")
    ok = otf["nan_mismatch"] == 0 and otf["max_abs_diff"] <= 1e-8
    if np.isfinite(tr.slope_L) and abs(tr.slope_L) > 2 * tr.slope_L_err:
        trend = (f"it {'decreases' if tr.slope_L < 0 else 'increases'} with ln t (slope {tr.slope_L:.4f} ± "
                 f"{tr.slope_L_err:.4f} per e-fold over {tr.n} snapshots)")
    else:
        slope = f"{tr.slope_L:.4f} ± {tr.slope_L_err:.4f}" if np.isfinite(tr.slope_L) else "undefined"
        trend = f"it has no significant trend with ln t (slope {slope} per e-fold over {tr.n} snapshots)"
    return [
        "## On the fly: the model inside `fix glass/predict` during creep",
        f"The trained top-10 model in `fix glass/predict` during a new creep run: a glass none of the "
        f"ensemble's runs used (ka-creep seeds of run index {OTF_INDEX}), prepared and loaded as they were, "
        f"{steps_fmt(otf['steps'])} steps, the model evaluated every {steps_fmt(otf['every'])} MD steps on the "
        f"thermal configuration and on each of the {otf['frames']} configurations minimised under the stress "
        f"(work directory `{otf['dir']}`).",
        "",
        f"![on-the-fly ⟨L⟩(t)]({png})",
        "",
        f"Fix against offline: on the {otf['frames']} minimised frames the fix's per-atom L equals the model "
        "applied offline to the same frame "
        + ("bit for bit" if otf["max_abs_diff"] == 0 else f"to {otf['max_abs_diff']:.1e} at most")
        + f" over {otf['values']} values, "
        + ("with NaN exactly on the B particles." if otf["nan_mismatch"] == 0 else
           f"but {otf['nan_mismatch']} values are NaN on one side only.")
        + ("" if ok else " **This is a mismatch.**")
        + f" ⟨L⟩ on the minimised snapshots goes from {sL[later][0]:.4f} at t = {steps_fmt(int(ss[later][0]))} "
        f"steps to {sL[-1]:.4f} at {steps_fmt(int(ss[-1]))}; {trend}, while the run's strain goes to {e[-1]:.4f}. "
        + (f"It lies {abs(gap):.4f} {'above' if gap > 0 else 'below'} the ensemble's offline mean at the same "
           f"steps (mean difference over {len(common)} snapshots). " if common else "")
        + (f"On the thermal MD configurations ⟨L⟩ is {abs(md_gap):.4f} {'higher' if md_gap > 0 else 'lower'} on "
           "average than on the minimised snapshots: the model was trained on minimised configurations, so "
           "only the snapshot values are comparable with the offline ones."
           if np.isfinite(md_gap) else ""),
        "",
    ]
