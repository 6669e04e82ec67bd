"""``glassfix reproduce ace-aqs``: ACE activity classification of mechanical (AQS) rearrangements (seed 000).

Rottler & Ortner's mechanical task at Tier 1 (``shared/science/000_ace.md`` §1.3, §3.2, §6.2) on the public
protocols: per sample a KA glass (``PrepareSpec.for_aqs``: melt at T = 1, quench to T → 0 over
``quench_steps`` (the paper: 500 τ), minimise), AQS pre-strain to γ = 0.10 at δγ = ``dgamma_pre`` (``AQSSpec``, run "pre"), then the collection
window of ``strain`` at δγ = ``dgamma`` (a second ``AQSSpec`` from the pre-strained minimum, run
"collect", CG force tolerance ``collect_ftol``, saving the minimum before every plastic step with its forward D²min). Labels
(:func:`glassfix.labels.events.threshold_event_labels`): A particles with D²min > 0.6 σ² in a step are
active (steps with more than ``max_active_fraction`` of the A particles active are avalanches and
dropped), the same number of A particles with the lowest D²min in the same step are inactive, each on
the pre-step minimum of its step. Features and classifier as ``ace-thermal``
(:mod:`glassfix.reproduce.ace_common`), CV grouped by sample. On the fly: the model trained on every
sample (r_cut = ``otf_rcut``) inside ``fix glass/predict`` while sample 0 is sheared ``otf_strain`` beyond
its collection window (strain not used in training). Every run is a resumable protocol work directory; samples run in ``workers`` processes.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Callable

import numpy as np

from glassfix.core.atomic import atomic_write_json
from glassfix.reproduce.workdir import claim_workdir


@dataclass
class AceAqsConfig:
    """Parameters: strains dimensionless, lengths σ_AA, D²min σ_AA² (Falk–Langer sum), steps MD steps."""

    n: int = 1000
    samples: int = 30
    seed: int = 7000
    melt_steps: int = 1000
    quench_steps: int = 10_000
    dgamma_pre: float = 5e-4
    prestrain: float = 0.10
    dgamma: float = 1e-4
    strain: float = 0.08
    collect_ftol: float = 1e-7
    # as long as the collection window: at N = 1000, 0.02 held one event step below the avalanche cut
    otf_strain: float = 0.08
    d2min_rcut: float = 2.5
    threshold: float = 0.6
    max_active_fraction: float = 0.2
    r_cuts: tuple[float, ...] = (2.5, 3.0, 3.5, 4.0)
    folds: int = 5
    C: float = 1.0
    # the C grid of the nested-CV check (C tuned inside every training part; the paper does not give C)
    tune_Cs: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0, 10.0)
    otf_rcut: float = 3.0
    otf_every: int = 1

    def sample_seed(self, i: int) -> int:
        """LAMMPS seed of sample ``i`` (positive, distinct per sample)."""
        return int(self.seed) + 101 * int(i) + 1


def _specs(cfg: AceAqsConfig, i: int, workdir: Path):
    """(pre-strain spec, collection spec) of sample ``i``; the collection starts from pre/final.data."""
    from glassfix.protocols.aqs import AQSSpec
    from glassfix.protocols.prepare import PrepareSpec

    prep = PrepareSpec.for_aqs(n=cfg.n, seed=cfg.sample_seed(i), melt_steps=cfg.melt_steps,
                               quench_steps=cfg.quench_steps)
    pre = AQSSpec(prepare=prep, dgamma=cfg.dgamma_pre, prestrain=cfg.prestrain, strain=0.0,
                  d2min_rcut=cfg.d2min_rcut, d2min_threshold=cfg.threshold, save_events=False,
                  checkpoint_every=100)
    collect = AQSSpec(data=str((workdir / "pre" / "final.data").resolve()), dgamma=cfg.dgamma, prestrain=0.0,
                      strain=cfg.strain, d2min_rcut=cfg.d2min_rcut, d2min_threshold=cfg.threshold,
                      min_ftol=cfg.collect_ftol, save_events=True, checkpoint_every=10)
    return pre, collect


def otf_spec(cfg: AceAqsConfig, workdir: Path, model: str):
    """The on-the-fly run: ``otf_strain`` more AQS strain from the end of sample 0's collection window, the
    model in ``fix glass/predict`` every ``otf_every`` steps (strain the model was not trained on)."""
    from glassfix.protocols.aqs import AQSSpec

    start = sample_dir(workdir, 0) / "collect" / "final.data"
    return AQSSpec(data=str(start.resolve()), dgamma=cfg.dgamma, prestrain=0.0, strain=cfg.otf_strain,
                   d2min_rcut=cfg.d2min_rcut, d2min_threshold=cfg.threshold, min_ftol=cfg.collect_ftol,
                   save_events=True, checkpoint_every=10, model=model, predict_every=cfg.otf_every)


def _complete(wd: Path, strain: float | None = None) -> bool:
    """Whether the protocol run in ``wd`` finished (with ``strain``, when given: a longer window extends it)."""
    state = wd / "state.json"
    try:
        done = state.exists() and bool(json.loads(state.read_text()).get("complete"))
        if done and strain is not None:
            done = abs(float(json.loads((wd / "spec.json").read_text())["spec"]["strain"]) - strain) < 1e-12
        return done
    except (OSError, ValueError, KeyError):
        return False


def run_sample(cfg: AceAqsConfig, i: int, workdir: Path, collect_name: str | None = "collect") -> dict:
    """Prepare, pre-strain and (unless ``collect_name`` is None) collect sample ``i`` in ``workdir``, each
    stage resumable. Wall times in s."""
    from glassfix.protocols import run

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    pre, collect = _specs(cfg, i, workdir)
    t0 = time.perf_counter()
    if not _complete(workdir / "pre"):
        run(pre, workdir / "pre", progress=False)
    t1 = time.perf_counter()
    if collect_name is not None and not _complete(workdir / collect_name, cfg.strain):
        run(collect, workdir / collect_name, progress=False)
    t2 = time.perf_counter()
    wpath = workdir / "wall.json"
    old = json.loads(wpath.read_text()) if wpath.exists() else {}
    wall = {"pre": old.get("pre", 0.0) + t1 - t0}
    if collect_name is not None:
        wall[collect_name] = old.get(collect_name, 0.0) + t2 - t1
    atomic_write_json(wpath, {**old, **wall}, indent=None)
    return {"index": i, "wall": t2 - t0, **wall}


def sample_dir(workdir: Path, i: int) -> Path:
    """Work directory of sample ``i``."""
    return Path(workdir) / f"sample_{i:03d}"


def generate(cfg: AceAqsConfig, workdir: Path, workers: int = 2,
             say: Callable[[str], None] = print) -> list[int]:
    """Run the missing samples (resumable, ``workers`` processes); returns the indices of the complete ones."""
    todo = [i for i in range(cfg.samples) if not _complete(sample_dir(workdir, i) / "collect", cfg.strain)]
    if todo:
        say(f"AQS samples: {len(todo)} of {cfg.samples} to do (N = {cfg.n}, pre-strain {cfg.prestrain:g} at "
            f"δγ = {cfg.dgamma_pre:g}, window {cfg.strain:g} at δγ = {cfg.dgamma:g}; {workers} processes)")
        with ProcessPoolExecutor(max_workers=max(1, workers), mp_context=get_context("spawn")) as ex:
            futs = [ex.submit(run_sample, cfg, i, sample_dir(workdir, i)) for i in todo]
            for k, f in enumerate(as_completed(futs)):
                info = f.result()
                say(f"  sample {info['index']} done in {info['wall']:.0f} s ({k + 1}/{len(todo)})")
    return [i for i in range(cfg.samples) if _complete(sample_dir(workdir, i) / "collect", cfg.strain)]


# ------------------------------------------------------------------------------------------------ labels, features
def _label_tag(cfg: AceAqsConfig) -> str:
    # the window's strain too: a longer window adds frames
    return f"thr{cfg.threshold:g}_aval{cfg.max_active_fraction:g}_strain{cfg.strain:g}_step"


def sample_labels(cfg: AceAqsConfig, collect: Path) -> dict[str, np.ndarray]:
    """Labels of one sample's collection run: frame step, atom index, y, and the label statistics (cached)."""
    from glassfix.core.atomic import atomic_savez
    from glassfix.labels.events import threshold_event_labels
    from glassfix.protocols import load_frame_npz

    cache = collect / "analysis" / f"labels_{_label_tag(cfg)}.npz"
    if cache.exists():
        with np.load(cache, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    _, collect_spec = _specs(cfg, 0, collect.parent)
    key = collect_spec.label_name()
    steps, d2, types = [], [], None
    for path in sorted((collect / "frames").glob("aqs_*.npz")):
        frame, labels, _ = load_frame_npz(path)
        steps.append(frame.step)
        d2.append(labels[key])
        types = frame.types
    if not steps:
        out = {k: np.zeros(0, np.int64) for k in ("step", "atom", "y")}
        out["info"] = np.zeros(6, np.int64)
    else:
        fi, atom, y, info = threshold_event_labels(np.array(d2), types == 0, cfg.threshold, cfg.max_active_fraction)
        out = {"step": np.asarray(steps, np.int64)[fi], "atom": atom, "y": y,
               "info": np.array([info[k] for k in _INFO], np.int64)}
    cache.parent.mkdir(exist_ok=True)
    atomic_savez(cache, **out)
    return out


_INFO = ("n_frames", "n_avalanche", "n_event_frames", "n_active_available", "n_pos", "n_neg")


def sample_features(cfg: AceAqsConfig, collect: Path, lab: dict[str, np.ndarray], r_cut: float) -> np.ndarray:
    """ACE invariants (2 species, n_max 10, degree 10, up to 4-body) of the labelled atoms, each on the
    minimum before its step (cached per sample and r_cut)."""
    from glassfix.core.atomic import atomic_save
    from glassfix.descriptors.ace import ACEDescriptor
    from glassfix.protocols import load_frame_npz

    cache = collect / "analysis" / f"ace_{_label_tag(cfg)}_rcut{r_cut:g}.npy"
    if cache.exists():
        return np.load(cache)
    desc = ACEDescriptor(n_species=2, r_cut=r_cut, species_names=["A", "B"])
    rows = np.zeros((lab["y"].size, desc.n_features))
    for st in np.unique(lab["step"]):
        sel = np.flatnonzero(lab["step"] == st)
        frame, _, _ = load_frame_npz(collect / "frames" / f"aqs_{int(st):012d}.npz")
        rows[sel] = desc.compute(frame, centers=lab["atom"][sel])
    cache.parent.mkdir(exist_ok=True)
    atomic_save(cache, rows)
    return rows


def dataset(cfg: AceAqsConfig, workdir: Path, samples: list[int], r_cut: float
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, y, sample index) of every labelled atom of ``samples`` at ``r_cut``."""
    Xs, ys, gs = [], [], []
    for i in samples:
        collect = sample_dir(workdir, i) / "collect"
        lab = sample_labels(cfg, collect)
        if lab["y"].size:
            Xs.append(sample_features(cfg, collect, lab, r_cut))
            ys.append(lab["y"])
            gs.append(np.full(lab["y"].size, i))
    if not ys:
        raise ValueError(f"no labelled atoms in {len(samples)} samples: no A particle passed D²min > "
                         f"{cfg.threshold:g} outside avalanches; collect a longer window (--strain)")
    return np.concatenate(Xs), np.concatenate(ys), np.concatenate(gs)


def label_stats(cfg: AceAqsConfig, workdir: Path, samples: list[int]) -> dict[str, int]:
    """Label counts summed over ``samples`` (keys of :func:`glassfix.labels.events.threshold_event_labels`)."""
    tot = np.zeros(len(_INFO), np.int64)
    for i in samples:
        tot += sample_labels(cfg, sample_dir(workdir, i) / "collect")["info"]
    return {k: int(v) for k, v in zip(_INFO, tot)}


# ------------------------------------------------------------------------------------------------ work directory
def check_config(cfg: AceAqsConfig, workdir: Path) -> None:
    """Refuse a work directory made with other simulation parameters (analysis settings may change)."""
    claim_workdir(workdir, cfg, compare=_SIM_FIELDS)


# the window's strain is not among them: a longer window extends the runs
_SIM_FIELDS = ("n", "seed", "melt_steps", "quench_steps", "dgamma_pre", "prestrain", "dgamma", "d2min_rcut",
               "threshold", "collect_ftol")


def _add_wall(workdir: Path, key: str, seconds: float) -> None:
    path = Path(workdir) / "wall.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    old[key] = old.get(key, 0.0) + seconds
    atomic_write_json(path, old, indent=None)
