"""``glassfix reproduce ka-looseness``: the looseness model (seed 003, Tasks 1–3 and §5) on our own creep runs.

Input: the work directory of ``glassfix reproduce ka-creep`` (KA, T = 0.1, σ0 = 0.5; per run, configurations
minimised under the applied stress every ``snapshot_every`` steps). Only complete runs are used; a
dataset with fewer complete runs than the creep command asked for is refused unless ``allow_partial``,
and then every report heading says PARTIAL.

Per run and snapshot (cached in the work directory): the 60 interstice features and positions of the A
particles, the box, and D²min (Falk–Langer, 1/n_i, neighbours within 2.5σ at t0) of every A particle
over lags of 1, 10 and 100 snapshot spacings. Labels as in the paper: Δt = one spacing (10⁴ steps in
the paper), loose when D²min > D0 = 0.25, t0 from the first snapshot after the load (the paper's t0
starts at 10⁴ steps, so the loading interval is not labelled). Split by run: the last 20 % of the runs
(2 of 10) are held out. Task 1: the (Δt, D0) scan on all runs; Task 2: RFE (gradient boosting on
balanced bootstraps of min(available, 2115) per class) and test balanced accuracy against the number of
features; Task 3: EasyEnsemble of 10 logistic regressions (C = 1) on the top 10. Then p(1|L), p(L),
⟨L⟩(t) against ⟨ε⟩(t), the spatial and temporal autocorrelations of L and the voxel fluctuations
(``glassfix.analysis.looseness_stats``). On the fly (``otf_steps`` > 0): the final model inside
``fix glass/predict`` during a new creep run (:mod:`.ka_looseness_otf`). Snapshot pairs with a
system-spanning avalanche (loose fraction above ``avalanche_fraction``) are flagged; the paper excluded
none, so the headline keeps them and a sensitivity row retrains without them. The report is written by
:mod:`.ka_looseness_report`.
"""

from __future__ import annotations

import glob
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from glassfix.core.atomic import atomic_save, atomic_savez, atomic_write_text

CACHE_VERSION = 2


@dataclass
class KaLoosenessConfig:
    """Label, model and analysis settings (lengths in σ_AA, D0 in σ², lags in snapshot spacings)."""

    d0: float = 0.25
    rcut: float = 2.5
    n_top: int = 10
    n_bootstrap: int = 5
    rfe_step: int = 1
    per_class: int = 2115
    scan_per_class: int = 1285
    scan_d0s: tuple = (0.05, 0.10, 0.15, 0.20, 0.25, 0.30)
    scan_lags: tuple = (1, 10, 100)
    test_fraction: float = 0.2
    skip_loading: bool = True
    avalanche_fraction: float = 0.2
    sacf_rmax: float = 4.0
    sacf_bins: int = 40
    tacf_max_lag: int = 60
    voxel_sides: tuple = (2, 3, 4, 5, 7)
    n_features_curve: tuple = (1, 2, 3, 5, 7, 10, 15, 20, 30, 45, 60)
    seed: int = 0
    allow_partial: bool = False
    otf_steps: int = 200_000
    otf_every: int = 1000
    workers: int = 2


# ---- data ----------------------------------------------------------------------------------------

def _complete(run_dir: Path) -> bool:
    """Whether the creep protocol in ``run_dir`` finished (state.json ``complete``)."""
    try:
        return bool(json.loads((run_dir / "state.json").read_text()).get("complete"))
    except (OSError, ValueError):
        return False


def find_runs(creep_dir: Path, allow_partial: bool) -> tuple[list[Path], int]:
    """(complete run directories in index order, runs the creep command asked for); refuses a partial set."""
    cfg_path = creep_dir / "config.json"
    if not cfg_path.exists():
        raise FileNotFoundError(f"{creep_dir}: no config.json; point --creep-dir at the --workdir of "
                                "`glassfix reproduce ka-creep`")
    wanted = int(json.loads(cfg_path.read_text())["runs"])
    runs = sorted((p for p in creep_dir.glob("run_*") if _complete(p)), key=lambda p: int(p.name[4:]))
    if len(runs) < 2:
        raise FileNotFoundError(f"{creep_dir}: {len(runs)} of {wanted} creep runs are complete; need at least 2 "
                                "(one to train, one to test); let `glassfix reproduce ka-creep` finish")
    if len(runs) < wanted and not allow_partial:
        raise FileNotFoundError(f"{creep_dir}: only {len(runs)} of {wanted} creep runs are complete; wait for "
                                "`glassfix reproduce ka-creep` to finish, or pass --allow-partial for a report "
                                "marked PARTIAL")
    return runs, wanted


def _snapshots(run_dir: Path) -> list:
    """The run's minimised configurations in step order."""
    from glassfix.protocols import load_frame_npz

    frames = [load_frame_npz(f)[0] for f in glob.glob(str(run_dir / "frames" / "creep_min_*.npz"))]
    return sorted(frames, key=lambda f: f.step)


def _extract(run_dir: Path, cfg: KaLoosenessConfig) -> dict[str, np.ndarray]:
    """Per snapshot: steps (S,), features X (S, nA, 60) float32, A positions (S, nA, 3), boxes (S, 3, 3);
    D²min ``d2_<k>`` (S − k, nA) for every lag k; the axial strain at the snapshot steps."""
    from glassfix.descriptors.interstice import IntersticeDescriptor
    from glassfix.labels.d2min import d2min
    from glassfix.protocols import read_series

    desc = IntersticeDescriptor(n_species=2, species_names=["A", "B"])
    frames = _snapshots(run_dir)
    a = np.flatnonzero(frames[0].types == 0)
    for f in frames:
        if f.ids is not None and frames[0].ids is not None and not np.array_equal(f.ids, frames[0].ids):
            raise ValueError(f"{run_dir}: atom order differs between snapshots (step {f.step})")
    out = {"steps": np.array([f.step for f in frames], np.int64), "ids": a,
           "X": np.stack([desc.compute(f, centers=a) for f in frames]).astype(np.float32),
           "pos": np.stack([f.positions[a] for f in frames]), "cell": np.stack([f.cell for f in frames])}
    for k in cfg.scan_lags:
        rows = []
        for f0, f1 in zip(frames[:-k], frames[k:]):
            # positions at t1 unwrapped consistently with the (wrapped) positions at t0
            p1 = f0.positions + (f1.unwrapped - f0.unwrapped)
            rows.append(d2min(f0, p1, cfg.rcut, normalize="mean", cell1=f1.cell, centers=a)[0])
        out[f"d2_{k}"] = np.array(rows).reshape(len(rows), a.size)
    s = read_series(run_dir / "series.csv")
    out["strain"] = np.interp(out["steps"], s["step"], s["strain"])
    return out


def _extract_to_cache(run_dir: Path, cache: Path, cfg: KaLoosenessConfig) -> float:
    """Extract one run into its cache file (atomic); returns the wall time (s)."""
    t0 = time.perf_counter()
    d = _extract(run_dir, cfg)
    d["wall_s"] = np.float64(time.perf_counter() - t0)
    atomic_savez(cache, **d)
    return float(d["wall_s"])


def _cache_ok(cache: Path, n_frames: int, cfg: KaLoosenessConfig) -> bool:
    """Whether ``cache`` exists and holds ``n_frames`` snapshots and every lag of ``cfg``."""
    if not cache.exists():
        return False
    with np.load(cache, allow_pickle=False) as z:
        return z["steps"].size == n_frames and all(f"d2_{k}" in z.files for k in cfg.scan_lags)


def load_runs(runs: list[Path], workdir: Path, cfg: KaLoosenessConfig, console,
              workers: int = 1) -> tuple[dict[str, dict], list[str]]:
    """Cached per-run arrays (recomputed when the run's snapshot count or the lags changed, in ``workers``
    processes) and the runs whose arrays were computed now."""
    caches = {r.name: workdir / f"{r.name}.v{CACHE_VERSION}.npz" for r in runs}
    todo = [r for r in runs if not _cache_ok(caches[r.name], len(glob.glob(str(r / "frames" / "creep_min_*.npz"))), cfg)]
    n_proc = max(1, min(workers, len(todo)))
    if todo:
        console.print(f"D²min and interstice features of {len(todo)} run(s) in {n_proc} process(es) …")
    if n_proc == 1:
        for r in todo:
            console.print(f"  {r.name}: {_extract_to_cache(r, caches[r.name], cfg):.0f} s")
    else:
        from concurrent.futures import ProcessPoolExecutor, as_completed
        from multiprocessing import get_context

        with ProcessPoolExecutor(max_workers=n_proc, mp_context=get_context("spawn")) as ex:
            futs = {ex.submit(_extract_to_cache, r, caches[r.name], cfg): r.name for r in todo}
            for f in as_completed(futs):
                console.print(f"  {futs[f]}: {f.result():.0f} s")
    data = {}
    for r in runs:
        with np.load(caches[r.name], allow_pickle=False) as z:
            data[r.name] = {k: z[k] for k in z.files}
    return data, [r.name for r in todo]


def spacing(data: dict) -> int:
    """Steps between consecutive snapshots (the smallest over all runs)."""
    gaps = np.concatenate([np.diff(d["steps"]) for d in data.values()])
    return int(gaps.min()) if gaps.size else 0


def labelled(d: dict, lag: int, cfg: KaLoosenessConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of one run for one lag: (X (n, 60) float32, D²min (n,), snapshot index of t0 (n,)); t0 > 0 when
    ``skip_loading`` (the loading interval is not labelled, as in the paper)."""
    d2 = d[f"d2_{lag}"]
    s0 = 1 if cfg.skip_loading else 0
    S = d2.shape[0]
    if S <= s0:
        return np.zeros((0, d["X"].shape[2]), np.float32), np.zeros(0), np.zeros(0, np.int64)
    nA = d2.shape[1]
    X = d["X"][s0:S].reshape(-1, d["X"].shape[2])
    return X, d2[s0:S].ravel(), np.repeat(np.arange(s0, S), nA)


def avalanche_pairs(data: dict, cfg: KaLoosenessConfig) -> list[dict]:
    """Snapshot pairs (Δt = one spacing, t0 labelled) whose loose fraction exceeds ``avalanche_fraction``."""
    out = []
    s0 = 1 if cfg.skip_loading else 0
    for name, d in data.items():
        frac = (d["d2_1"] > cfg.d0).mean(axis=1)
        for s in np.flatnonzero(frac > cfg.avalanche_fraction):
            if s >= s0:
                out.append({"run": name, "snapshot": int(s), "step": int(d["steps"][s]), "fraction": float(frac[s]),
                            "n_loose": int((d["d2_1"][s] > cfg.d0).sum())})
    return out


# ---- pipeline -------------------------------------------------------------------------------------

def _metrics(y_tr, L_tr, y_te, L_te) -> dict[str, float]:
    from sklearn.metrics import f1_score

    from glassfix.train.metrics import classification_metrics

    mtr, mte = classification_metrics(y_tr, L_tr, 0.5), classification_metrics(y_te, L_te, 0.5)
    return {"train balanced accuracy": mtr["balanced_accuracy"], "test balanced accuracy": mte["balanced_accuracy"],
            "test recall (loose)": mte["recall_positive"], "test specificity (tight)": mte["specificity"],
            "test AUC": mte["auc"], "test weighted F1": float(f1_score(y_te, L_te > 0.5, average="weighted")),
            "n train": int(y_tr.size), "n train loose": int(y_tr.sum()), "n test": int(y_te.size),
            "n test loose": int(y_te.sum())}


def run(cfg: KaLoosenessConfig, creep_dir: Path, workdir: Path, report: Path, command: str | None = None) -> Path:
    """Labels and features (cached), scan, RFE, EasyEnsemble, the §5 analyses, result.json and the report."""
    from rich.console import Console

    from glassfix.analysis import looseness_stats as ls
    from glassfix.core.cell import to_fractional
    from glassfix.core.machine import machine_description
    from glassfix.descriptors.interstice import IntersticeDescriptor
    from glassfix.models.looseness import LoosenessModel, select_features_rfe

    t_start = time.perf_counter()
    console = Console()
    runs, wanted = find_runs(creep_dir, cfg.allow_partial)
    if cfg.otf_steps > 0:
        # checked before the hours of analysis, not after them
        from .ka_looseness_otf import check_steps

        check_steps(creep_dir, cfg.otf_steps, cfg.otf_every)
    workdir.mkdir(parents=True, exist_ok=True)
    data, extracted = load_runs(runs, workdir, cfg, console, cfg.workers)
    names = list(data)
    n_test = max(1, int(round(cfg.test_fraction * len(names))))
    train_runs, test_runs = names[:-n_test], names[-n_test:]
    every = spacing(data)
    if 1 not in cfg.scan_lags:
        raise ValueError(f"scan_lags {cfg.scan_lags} must contain 1 (the headline Δt of one snapshot spacing)")

    def rows(run_names, exclude=()):
        Xs, ys = [], []
        for k in run_names:
            X, d2, s = labelled(data[k], 1, cfg)
            keep = ~np.isin(s, [p["snapshot"] for p in exclude if p["run"] == k])
            Xs.append(X[keep])
            ys.append(d2[keep] > cfg.d0)
        return np.concatenate(Xs), np.concatenate(ys)

    Xtr, ytr = rows(train_runs)
    Xte, yte = rows(test_runs)
    if ytr.sum() < 2 or yte.sum() < 1:
        raise ValueError(f"too few loose labels at D0 = {cfg.d0}: {int(ytr.sum())} in the training runs, "
                         f"{int(yte.sum())} in the test runs; longer or more creep runs are needed")
    desc = IntersticeDescriptor(n_species=2, species_names=["A", "B"])
    # Task 2: RFE ranking (cached with the data it was computed from)
    sig = {"runs": train_runs, "n": int(ytr.size), "n_loose": int(ytr.sum()), "d0": cfg.d0,
           "per_class": cfg.per_class, "n_bootstrap": cfg.n_bootstrap, "seed": cfg.seed, "step": cfg.rfe_step}
    rank_path, sig_path = workdir / "rfe_ranking.npy", workdir / "rfe_ranking.json"
    if rank_path.exists() and sig_path.exists() and json.loads(sig_path.read_text()) == sig:
        order = np.load(rank_path)
    else:
        with console.status("recursive feature elimination (gradient boosting, balanced bootstraps) …"):
            order = select_features_rfe(Xtr, ytr, n_bootstrap=cfg.n_bootstrap, seed=cfg.seed, per_class=cfg.per_class,
                                        step=cfg.rfe_step, n_jobs=cfg.workers)
        atomic_save(rank_path, order)
        atomic_write_text(sig_path, json.dumps(sig))
    top = order[:cfg.n_top]
    command = command or "glassfix reproduce ka-looseness"
    prov = {"command": command, "train_runs": train_runs, "labels": asdict(cfg)}
    rng = np.random.default_rng(cfg.seed)
    curve = {}
    with console.status("test balanced accuracy against the number of RFE features …"):
        for n in cfg.n_features_curve:
            if n <= order.size:
                m = LoosenessModel.train(desc, Xtr, ytr, feature_index=order[:n], seed=cfg.seed)
                curve[int(n)] = _metrics(ytr, m.looseness(Xtr), yte, m.looseness(Xte))["test balanced accuracy"]
    # Task 3: the final model and its controls
    rows_out, models = {}, {}
    for name, cols, labels in (("top-10 features (RFE)", top, ytr), ("all 60 features", None, ytr),
                               ("shuffled labels (top 10)", top, rng.permutation(ytr))):
        m = LoosenessModel.train(desc, Xtr, labels, feature_index=cols, seed=cfg.seed, provenance=prov)
        rows_out[name] = _metrics(labels, m.looseness(Xtr), yte, m.looseness(Xte))
        models[name] = m
    aval = avalanche_pairs(data, cfg)
    if aval:
        Xtr2, ytr2 = rows(train_runs, aval)
        Xte2, yte2 = rows(test_runs, aval)
        if ytr2.sum() >= 2 and yte2.sum() >= 1:
            m = LoosenessModel.train(desc, Xtr2, ytr2, feature_index=top, seed=cfg.seed)
            rows_out["top 10, avalanche pairs excluded"] = _metrics(ytr2, m.looseness(Xtr2), yte2, m.looseness(Xte2))
    model = models["top-10 features (RFE)"]
    model_path = model.save(workdir / "ka_looseness.glassfix")
    # the model on the fly: inside fix glass/predict during a new creep run (resumable protocol run), in
    # its own process while the scan and the §5 analyses below run here
    otf, otf_job, otf_pool = None, None, None
    if cfg.otf_steps > 0:
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        from .ka_looseness_otf import otf_analysis, stage_otf

        otf_pool = ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"))
        otf_job = otf_pool.submit(stage_otf, creep_dir, workdir, model_path, cfg.otf_steps, cfg.otf_every)
    # Task 1: the (Δt, D0) scan over all runs
    feats, d2s = {}, {}
    for k in cfg.scan_lags:
        parts = [labelled(data[n], k, cfg) for n in names]
        feats[k] = np.concatenate([p[0] for p in parts])
        d2s[k] = np.concatenate([p[1] for p in parts])
    with console.status("(Δt, D0) label scan …"):
        scan = ls.label_scan(feats, d2s, cfg.scan_d0s, per_class=cfg.scan_per_class, n_bootstrap=cfg.n_bootstrap,
                             seed=cfg.seed)
    del feats, d2s
    # §5: L of every A particle in every snapshot
    Lall = {n: model.looseness(d["X"].reshape(-1, d["X"].shape[2]).astype(np.float64)).reshape(d["X"].shape[:2])
            for n, d in data.items()}
    L_lab, y_lab = [], []
    for n, d in data.items():
        _, d2, s = labelled(d, 1, cfg)
        L_lab.append(Lall[n][s, np.tile(np.arange(d["X"].shape[1]), s.size // max(d["X"].shape[1], 1))])
        y_lab.append(d2 > cfg.d0)
    L_lab, y_lab = np.concatenate(L_lab), np.concatenate(y_lab)
    edges = np.linspace(0, 1, 21)
    p1 = ls.loose_given_l(L_lab, y_lab, edges)
    pfit = ls.fit_exponential(p1)
    dists = ls.l_distributions(L_lab, y_lab, edges)
    # beyond half the smallest box width a pair also sees other images: stop there
    from glassfix.core.cell import perpendicular_widths

    half = 0.5 * min(float(perpendicular_widths(d["cell"][s]).min()) for d in data.values() for s in range(d["steps"].size))
    r_max = min(cfg.sacf_rmax, half)
    with console.status("spatial and temporal autocorrelation of L …"):
        sacf = ls.spatial_autocorrelation([(d["pos"][s], d["cell"][s], Lall[n][s]) for n, d in data.items()
                                           for s in range(d["steps"].size)], r_max, cfg.sacf_bins)
        tacf = ls.temporal_autocorrelation(list(Lall.values()), cfg.tacf_max_lag)
        vox = ls.voxel_fluctuations([(to_fractional(d["pos"][s], d["cell"][s]), Lall[n][s]) for n, d in data.items()
                                     for s in range(d["steps"].size)], cfg.voxel_sides)
        # the paper's TACF: L on voxels of the unit cube (≈ 2.4 A particles per voxel, as 8000/15³)
        n_a = next(iter(data.values()))["X"].shape[1]
        side = max(2, int(round((n_a / 2.4) ** (1 / 3))))
        fields = [ls.voxel_field(np.stack([to_fractional(d["pos"][s], d["cell"][s]) for s in range(d["steps"].size)]),
                                 Lall[n], side) for n, d in data.items()]
        vtacf = ls.temporal_autocorrelation(fields, cfg.tacf_max_lag)
        tc = np.concatenate([ls.crossing_times(f, cfg.tacf_max_lag) for f in fields])
    dl = ls.decay_length(sacf.r, sacf.c)
    tc_ok = tc[np.isfinite(tc)]
    tc_stats = {"side": side, "n_voxels": int(tc.size), "n_cross": int(tc_ok.size),
                "median": float(np.median(tc_ok)) if tc_ok.size else float("nan"),
                "max": float(tc_ok.max()) if tc_ok.size else float("nan"), "slope": float("nan"),
                "slope_err": float("nan")}
    if tc_ok.size >= 10 and tc_ok.max() > 2:
        # the distribution of t_c on log bins (density per unit lag); the paper: a power law, exponent ≈ −1
        e = np.unique(np.round(np.logspace(0, np.log10(tc_ok.max() + 1), 8)))
        h, _ = np.histogram(tc_ok, bins=e)
        dens = h / np.diff(e)
        mid = np.sqrt(e[:-1] * e[1:])
        okh = h > 0
        if okh.sum() >= 3:
            from glassfix.analysis.softness_stats import linear_fit

            _, b, _, be = linear_fit(np.log(mid[okh]), np.log(dens[okh]))
            tc_stats.update(slope=float(b), slope_err=float(be))
    # ⟨L⟩(t) and ⟨ε⟩(t) on the common snapshot grid
    nsteps = min(d["steps"].size for d in data.values())
    steps = data[names[0]]["steps"][:nsteps]
    mL = np.array([Lall[n][:nsteps].mean(axis=1) for n in names])
    eps = np.array([data[n]["strain"][:nsteps] for n in names])
    trends = ls.series_trends(steps.astype(float), mL.mean(0), eps.mean(0))
    # D²min statistics per decade of t0 (Δt = one spacing)
    d2stats = []
    all_d2 = {n: labelled(d, 1, cfg) for n, d in data.items()}
    lo = max(every, 1)
    while lo <= steps.max():
        hi = lo * 10
        v = np.concatenate([d2[(data[n]["steps"][s] >= lo) & (data[n]["steps"][s] < hi)]
                            for n, (_, d2, s) in all_d2.items()])
        if v.size:
            a, ae, na = ls.hill_exponent(v, 0.05)
            d2stats.append({"t0_from": int(lo), "t0_to": int(hi), "n": int(v.size), "mean": float(np.mean(v)),
                            "alpha": a, "alpha_err": ae, "n_tail": na})
        lo = hi
    if otf_job is not None:
        with console.status("waiting for the on-the-fly creep run …"):
            try:
                otf_wd = otf_job.result()
            finally:
                otf_pool.shutdown()
        otf = otf_analysis(otf_wd, model_path)
    creep_res = creep_dir / "result.json"
    res = {
        "config": asdict(cfg), "runs_complete": len(names), "runs_wanted": wanted, "runs": names,
        "train_runs": train_runs, "test_runs": test_runs, "spacing": every, "n_snapshots": nsteps,
        "n_particles": int(data[names[0]]["X"].shape[1]),
        "metrics": rows_out, "curve": curve, "top_features": [desc.names[i] for i in top],
        "avalanche_pairs": aval,
        "scan": {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in asdict(scan).items()},
        "p1": {k: v.tolist() for k, v in asdict(p1).items()}, "p1_fit": asdict(pfit),
        "dists": {k: v.tolist() for k, v in dists.items()},
        "frac_loose_L_gt_half": float((L_lab[y_lab] > 0.5).mean()) if y_lab.any() else float("nan"),
        "L_quantiles": np.quantile(L_lab, [0.1, 0.25, 0.5, 0.75, 0.9]).tolist(),
        "sacf": {k: v.tolist() for k, v in asdict(sacf).items()}, "decay": dl, "sacf_rmax": r_max,
        "tacf": {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in asdict(tacf).items()},
        "voxel": {k: v.tolist() for k, v in vox.items()},
        "vtacf": {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in asdict(vtacf).items()},
        "tc": tc_stats,
        "series": {"steps": steps.tolist(), "mean_L": mL.tolist(), "strain": eps.tolist()},
        "trends": asdict(trends), "d2stats": d2stats,
        "creep": json.loads(creep_res.read_text()) if creep_res.exists() else None,
        "otf": otf, "model": model_path.name, "command": command, "machine": machine_description(),
        "n_labelled": int(y_lab.size), "n_loose": int(y_lab.sum()),
    }
    res["wall_s"] = time.perf_counter() - t_start
    res["extracted"] = extracted
    res["extract_wall_s"] = float(sum(float(d.get("wall_s", np.nan)) for d in data.values()))
    atomic_write_text(workdir / "result.json", json.dumps(res, indent=1, default=float))
    from .ka_looseness_report import write_report

    return write_report(res, report)
