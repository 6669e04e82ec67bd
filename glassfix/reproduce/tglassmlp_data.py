"""Data stages of ``glassfix reproduce tglassmlp`` (swap samples, iso labels, TTS) and the scale configurations.

Stages, each resumable and skipped when its output exists (``shared/science/001_jung.md`` §6):

a. **swap** — equilibrium JBB configurations per temperature from the ``glassfix swap`` ladder
   (:func:`glassfix.mc.ladder.run_ladder`), or an existing ladder store (``--swap-store``; it may still be
   running: it is read through a snapshot copy, never written);
b. **labels** — per label temperature, up to N_S samples are copied into ``WORKDIR/iso/T<T>.h5`` and
   :func:`glassfix.ensembles.iso.run_iso` (the ``glassfix iso --out-labels bonds --times bb:…`` machinery)
   adds N_R NVE replicas and bond-breaking labels at the times where ⟨C̄_B⟩ reaches the Table-1 targets
   (placed by pilot runs). Temperatures whose samples do not exist yet are skipped (rerun later);
c. **tts** — ⟨C̄_B⟩(t) per T (pilots + labels), τα^BB (0.5 crossing or TTS shift), Arrhenius fit;
d. **train** / e. **predict** / **otf** (the model inside an NVE run): :mod:`glassfix.reproduce.tglassmlp_model`;
f. **report**: :mod:`glassfix.reproduce.tglassmlp_report`.

Units: LJ reduced units (times τ, temperatures ε/k_B, lengths σ); C_B dimensionless.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from glassfix.core.atomic import atomic_write_json

__all__ = ["ScaleConfig", "LabelPlan", "SCALES", "TABLE1_TARGETS", "STAGES", "snapshot_store", "copy_samples",
           "merged_snapshot", "stage_swap", "stage_labels", "load_labels", "curves_from_labels", "stage_tts"]

# the ⟨C̄_B⟩ values of the label time grid (Table 1 of the paper)
TABLE1_TARGETS = (0.99, 0.94, 0.90, 0.85, 0.80, 0.75, 0.65, 0.50, 0.25, 0.15, 0.075)


@dataclass
class LabelPlan:
    """Iso labels at one temperature: N_S frames, N_R replicas, the lowest ⟨C̄_B⟩ target and the pilot TMAX (τ)."""

    T: float
    n_structures: int
    replicas: int
    c_min: float
    tmax: float
    role: str = "train"  # train | transfer (held-out lower T, early times only)
    pilot_replicas: int | None = None  # default: ScaleConfig.pilot_replicas

    def spec(self) -> str:
        """The ``bb:`` time-grid spec of ``glassfix iso``."""
        targets = [c for c in TABLE1_TARGETS if c >= self.c_min - 1e-12]
        return "bb:" + ",".join(f"{c:g}" for c in targets) + f":{self.tmax:g}"


@dataclass
class ScaleConfig:
    """Sizes of one scale: the swap ladder, the labelled temperatures and the training budget."""

    name: str
    swap_temperatures: list[float]
    swap_samples: int
    swap_sweeps_max: int
    labels: list[LabelPlan]
    pilot_frames: int = 2
    pilot_replicas: int = 2
    dt: float = 0.005
    seed: int = 16
    n_test_fraction: float = 0.5
    train_seeds: int = 4
    extra: dict[str, Any] = field(default_factory=dict)


SCALES = {
    # 2 cores (one NVE replica of N = 1290 to 220 τ takes ≈ 11 s of one quiet core in LAMMPS): two training
    # temperatures to τα^BB (⟨C̄_B⟩ = 0.5), two more at early times only (⟨C̄_B⟩ ≥ 0.8), and the held-out
    # T = 0.4 at early times, the analogue of the paper's T = 0.21 column (τα^BB grows ≈ 10× from 0.6 to 0.4;
    # as in the paper the training range spans several temperatures); N_R = 4; pilot TMAX just past the last
    # target (τα^BB(0.6) ≈ 180 τ; at 0.4 the ⟨C̄_B⟩ = 0.8 time was only extrapolated, so its pilot runs to
    # 600 τ); the paper's full Table-2 schedule, 2 networks per step (the three models ≈ 10 min of one core)
    "small": ScaleConfig(
        name="small", swap_temperatures=[0.6, 0.55, 0.5, 0.45, 0.4], swap_samples=10, swap_sweeps_max=200_000,
        labels=[LabelPlan(0.6, 10, 4, 0.5, 220.0),
                LabelPlan(0.55, 10, 4, 0.5, 400.0, pilot_replicas=1),
                LabelPlan(0.5, 10, 4, 0.8, 150.0, pilot_replicas=1),
                LabelPlan(0.45, 10, 4, 0.8, 300.0, pilot_replicas=1),
                LabelPlan(0.4, 10, 4, 0.8, 600.0, role="transfer", pilot_replicas=1)],
        n_test_fraction=1 / 3, train_seeds=2,
        # bigbox: 3 × 3 tiles of a swap sample (N = 11610) decorrelated by MD for ≈ 10 τα^MD (τα^MD ≈ 40 τ at
        # 0.6, ≈ 90 τ at 0.5: docs/swap_jbb.md), then frames 170 / 300 τ apart; early-time labels to 0.8
        extra={"epochs_scale": 1.0, "predict_frames": 3,
               "bigbox": [{"T": 0.6, "equil_tau": 400.0, "spacing_tau": 170.0, "tmax": 60.0},
                          {"T": 0.5, "equil_tau": 600.0, "spacing_tau": 300.0, "tmax": 120.0}],
               "bigbox_tile": 3, "bigbox_frames": 3, "bigbox_replicas": 4}),
    # a workstation: more structures and replicas, T = 0.4 to τα and the transfer test at 0.4
    "medium": ScaleConfig(
        name="medium", swap_temperatures=[0.6, 0.55, 0.5, 0.45, 0.4, 0.35, 0.3], swap_samples=30,
        swap_sweeps_max=1_000_000,
        labels=[LabelPlan(0.6, 30, 16, 0.15, 800.0), LabelPlan(0.5, 30, 16, 0.25, 2000.0),
                LabelPlan(0.45, 30, 16, 0.5, 3000.0), LabelPlan(0.4, 20, 16, 0.8, 3000.0, role="transfer")],
        train_seeds=16),
}


def _tkey(T: float) -> str:
    return f"T{T:.6g}"


def snapshot_store(src: Path, dst: Path, attempts: int = 5) -> Path:
    """Copy a dataset store that another process may be writing to ``dst`` and check it opens (retry)."""
    from glassfix.data.store import DatasetStore

    dst.parent.mkdir(parents=True, exist_ok=True)
    last: Exception | None = None
    for k in range(attempts):
        tmp = dst.with_name(dst.name + ".tmp")
        shutil.copyfile(src, tmp)
        try:
            with DatasetStore(tmp, "r", locking=False) as ds:
                len(ds)
            tmp.replace(dst)
            return dst
        except Exception as exc:  # a copy taken during a commit: try again a moment later
            last = exc
            time.sleep(2.0 * (k + 1))
    raise RuntimeError(f"could not take a consistent snapshot of {src} in {attempts} attempts: {last}")


def copy_samples(src: Path, dst: Path, T: float, n: int) -> list[str]:
    """Copy the first ``n`` swap samples at temperature ``T`` from store ``src`` into ``dst`` (keys kept,
    existing ones skipped); returns the keys now in ``dst`` at that T (fewer than n if src has fewer)."""
    from glassfix.data.store import DatasetStore

    with DatasetStore(src, "r", locking=False) as s:
        keys = sorted(k for k in s.keys() if abs(float(s.frame_info(k)["temperature"]) - T) < 1e-9)[:n]
        with DatasetStore(dst, "a") as d:
            for k in keys:
                if k not in d:
                    info = s.frame_info(k)
                    d.add_frame(s.frame(k), key=k, group=info["group"], system=info["system"],
                                temperature=float(info["temperature"]))
    return keys


def _temperatures(store: Path) -> set[float]:
    from glassfix.data.store import DatasetStore

    with DatasetStore(store, "r", locking=False) as s:
        return {round(float(s.frame_info(k)["temperature"]), 9) for k in s.keys()}


def merged_snapshot(stores: list[Path], work: Path) -> Path:
    """Snapshot the swap stores into ``WORKDIR/swap_snapshot.h5``: every sample of the first (the store the
    labels come from) plus, from each further store, the samples at temperatures no earlier store has.

    Why: the deep ladder that reaches T ≤ 0.35 stores few samples per T (each costs 2 τ_swap there), while
    the labelled temperatures need many; two ladders side by side give both, and the predictions below the
    labelled range read the deep one's samples."""
    work.mkdir(parents=True, exist_ok=True)
    snap = snapshot_store(stores[0], work / "swap_snapshot.h5.part")
    have = _temperatures(snap)
    for i, extra in enumerate(stores[1:], start=1):
        tmp = snapshot_store(extra, work / f"swap_snapshot_extra{i}.h5")
        for T in sorted(_temperatures(tmp) - have, reverse=True):
            copy_samples(tmp, snap, T, 10**9)
            have.add(T)
        tmp.unlink()
    return snap.replace(work / "swap_snapshot.h5")


def _iso_settings(cfg: ScaleConfig, plan: LabelPlan, keys: list[str]) -> Any:
    from glassfix.ensembles.labels import DEFAULT_BB_FACTORS
    from glassfix.ensembles.plan import IsoSettings

    return IsoSettings(replicas=plan.replicas, times=plan.spec(), dt=cfg.dt, seed=cfg.seed, keys=keys,
                       bb_factors=DEFAULT_BB_FACTORS, pilot_frames=cfg.pilot_frames,
                       pilot_replicas=plan.pilot_replicas or cfg.pilot_replicas)


def stage_labels(cfg: ScaleConfig, snap: Path, work: Path, say: Callable[[str], None],
                 only: list[float] | None = None, workers: int = 1, max_frames: int | None = None) -> dict[str, Any]:
    """Stage b: copy samples out of the swap snapshot ``snap`` (:func:`merged_snapshot`) and run the iso
    labels per temperature of ``cfg.labels`` (resumable).

    ``max_frames`` caps N_S in this invocation (label every temperature a little first; a later call
    without the cap adds the remaining frames with the same pilots and grid)."""
    from glassfix.ensembles.executors import executor_context
    from glassfix.ensembles.iso import run_iso

    (work / "iso").mkdir(parents=True, exist_ok=True)
    done: dict[str, Any] = {}
    for plan in cfg.labels:
        if only and not any(abs(plan.T - t) < 1e-9 for t in only):
            continue
        iso_store = work / "iso" / f"{_tkey(plan.T)}.h5"
        summary_path = iso_store.with_suffix(".summary.json")
        n_want = min(plan.n_structures, max_frames or plan.n_structures)
        keys = copy_samples(snap, iso_store, plan.T, n_want) if _has_t(snap, plan.T) else []
        if len(keys) < max(cfg.pilot_frames, 2):
            say(f"T={plan.T:g}: {len(keys)} of {plan.n_structures} swap samples so far; labels wait for more")
            continue
        if len(keys) < n_want:  # label what exists; a rerun adds the rest (same pilots, same grid)
            say(f"T={plan.T:g}: {len(keys)} of {plan.n_structures} swap samples so far; labelling those")
        say(f"T={plan.T:g}: iso labels, {len(keys)} frames x {plan.replicas} replicas, grid {plan.spec()}")
        t0 = time.perf_counter()
        with executor_context("local" if workers > 1 else "serial", workers) as ex:
            rep = run_iso(iso_store, _iso_settings(cfg, plan, keys), executor=ex, workers=workers)
        summ = rep.to_json()
        summ["stage_wall_s"] = time.perf_counter() - t0
        summ["total_wall_s"] = summ["stage_wall_s"]
        if summary_path.exists():  # keep the pilot record of the first run; add up the wall time of all runs
            old = json.loads(summary_path.read_text())
            summ["first_run"] = old.get("first_run", old)
            summ["total_wall_s"] += float(old.get("total_wall_s", old.get("stage_wall_s", 0.0)))
        atomic_write_json(summary_path, summ, default=float)
        done[_tkey(plan.T)] = str(iso_store)
    return done


def _has_t(store: Path, T: float) -> bool:
    from glassfix.data.store import DatasetStore

    with DatasetStore(store, "r", locking=False) as s:
        return any(abs(float(s.frame_info(k)["temperature"]) - T) < 1e-9 for k in s.keys())


def load_labels(iso_store: Path) -> dict[str, Any]:
    """Per-frame type-0 bond-breaking labels of an iso store: {time label: (n_frames, n1)}, times (τ), targets,
    positions and types of the frames, the box, and the frame keys."""
    from glassfix.data.store import DatasetStore

    out: dict[str, Any] = {"keys": [], "positions": [], "C": {}, "box": None}
    with DatasetStore(iso_store, "r") as ds:
        for k in ds.keys():
            names = [n for n in ds.label_names(k) if n.startswith("bond_breaking/")]
            if not names:
                continue
            f = ds.frame(k)
            first = f.types == 0
            out["keys"].append(k)
            out["positions"].append(f.positions[first])
            out["box"] = np.diag(f.cell).copy()
            labs = ds.labels(k, names)
            for n in names:
                t = n.split("/", 1)[1]
                out["C"].setdefault(t, []).append(labs[n][first])
                if "targets" not in out:
                    out["targets"] = {}
                if t not in out["targets"]:
                    p = ds.label_params(k, n)
                    out["targets"][t] = float(p.get("bb_target", float("nan")))
    out["C"] = {t: np.asarray(v) for t, v in out["C"].items()}
    out["times"] = {t: float(t.split("=", 1)[1]) for t in out["C"]}
    return out


def _longest_pilot(iso_store: Path, dt: float) -> dict[str, Any] | None:
    """The pilot record (times τ, ⟨C̄_B⟩) reaching the longest time among the ``grid`` events of an iso journal."""
    jpath = Path(str(iso_store) + ".iso") / "journal.jsonl"
    if not jpath.exists():
        return None
    best = None
    for line in jpath.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if rec.get("event") != "grid" or "pilot_steps" not in rec:
            continue
        cand = {"pilot_times": [s * dt for s in rec["pilot_steps"]], "pilot_curve": rec["pilot_curve"]}
        if best is None or cand["pilot_times"][-1] > best["pilot_times"][-1]:
            best = cand
    return best


def curves_from_labels(work: Path, cfg: ScaleConfig) -> dict[float, dict[str, Any]]:
    """⟨C̄_B⟩(t) per labelled temperature: the pilot curve (dense log grid, few replicas) and the label-grid
    means over all frames (τ, dimensionless)."""
    out: dict[float, dict[str, Any]] = {}
    for plan in cfg.labels:
        iso_store = work / "iso" / f"{_tkey(plan.T)}.h5"
        summary_path = iso_store.with_suffix(".summary.json")
        if not summary_path.exists():
            continue
        summ = json.loads(summary_path.read_text())
        grid = next(iter((summ.get("grids") or {}).values()), None)
        longest = _longest_pilot(iso_store, cfg.dt)
        if longest is not None and (grid is None or longest["pilot_times"][-1] > grid["pilot_times"][-1]):
            grid = longest  # an earlier pilot to a longer TMAX (same frames) gives a longer ⟨C̄_B⟩(t) curve
        lab = load_labels(iso_store)
        ts = sorted(lab["C"], key=lambda t: lab["times"][t])
        out[plan.T] = {
            "pilot_t": np.asarray(grid["pilot_times"]) if grid else None,
            "pilot_c": np.asarray(grid["pilot_curve"]) if grid else None,
            "label_t": np.array([lab["times"][t] for t in ts]),
            "label_c": np.array([np.nanmean(lab["C"][t]) for t in ts]),
            "label_target": np.array([lab["targets"][t] for t in ts]),
            "n_frames": len(lab["keys"]), "role": plan.role,
        }
    return out


def stage_tts(work: Path, cfg: ScaleConfig) -> dict[str, Any]:
    """Stage c: τα^BB per labelled T (0.5 crossing of the pilot curve, else TTS shift), master curve, Arrhenius."""
    from glassfix.analysis.tts import fit_arrhenius, tts_taus

    curves = curves_from_labels(work, cfg)
    use = {T: (c["pilot_t"], c["pilot_c"]) for T, c in curves.items() if c["pilot_t"] is not None}
    if not use:
        raise RuntimeError("stage tts: no labelled temperature yet; run stage labels first")
    taus, how, master = tts_taus(use)
    res: dict[str, Any] = {"taus": {f"{T:g}": taus[T] for T in taus}, "method": {f"{T:g}": how[T] for T in how},
                           "master_x": master.x.tolist(), "master_c": master.c.tolist()}
    # the label-grid means against the master curve: how good is the collapse at the labelled times
    dev = []
    for T, c in curves.items():
        pred = master(np.log10(c["label_t"] / taus[T]))
        ok = np.isfinite(pred)
        dev.extend(np.abs(pred[ok] - c["label_c"][ok]).tolist())
    res["collapse_max_abs_dev"] = float(max(dev)) if dev else float("nan")
    res["collapse_mean_abs_dev"] = float(np.mean(dev)) if dev else float("nan")
    Ts = sorted(taus)
    if len(Ts) >= 2:
        arr = fit_arrhenius(np.array(Ts), np.array([taus[T] for T in Ts]))
        res["arrhenius"] = {"tau0": arr.tau0, "E": arr.E, "T": list(arr.T),
                            "T_g_1e12": arr.temperature_at(1e12) if arr.E > 0 else float("nan")}
    atomic_write_json(work / "tts.json", res, default=float)
    return res


def config_json(cfg: ScaleConfig) -> dict[str, Any]:
    """The scale's parameters as JSON (for the report and resume checks)."""
    return json.loads(json.dumps(asdict(cfg), default=float))


def finite(x: float) -> bool:
    """True for a finite float."""
    return isinstance(x, (int, float)) and math.isfinite(x)


STAGES = ("swap", "labels", "tts", "features", "train", "predict", "bigbox", "otf", "report")


def stage_swap(cfg: ScaleConfig, work: Path, say: Callable[[str], None]) -> Path:
    """Stage a: the swap-MC ladder of the scale into ``WORKDIR/swap.h5`` (resumable; ``glassfix swap``)."""
    from glassfix.mc.ladder import LadderConfig, run_ladder

    store = work / "swap.h5"
    lc = LadderConfig(system="jbb", temperatures=cfg.swap_temperatures, n=1290, n_samples=cfg.swap_samples,
                      sweeps_max=cfg.swap_sweeps_max, seed=11)

    def progress(event: str, info: dict) -> None:
        if event in ("start", "done", "sample"):
            say(f"swap {event}: T={info['T']:g} " + (f"{info.get('samples')}/{info.get('n_samples')}"
                                                       if event == "sample" else ""))

    run_ladder(lc, store, progress=progress)
    return store
