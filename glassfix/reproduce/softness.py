"""``glassfix reproduce softness``: softness and P_R(S) of the 3D Kob–Andersen liquid (seed 002, Cubuk ch. 5).

Stages, each resumable (a finished stage leaves a marker or its output file and is skipped when the
command is run again):

1. ``md``: per temperature, a glass/liquid prepared by the public ``prepare`` protocol (melt at T = 2,
   Nosé–Hoover quench and equilibration at T), then NVE production in chunks of ``chunk_steps`` with the
   online labels of the plugin: ``fix glass/phop`` (p_hop every τ over t_R = 10 τ) and ``fix glass/record``
   writing every τ into one dataset store per temperature (group = chunk, so train/test splits and
   cross-validation folds are whole chunks). A killed chunk is rerun from the same data file: the
   trajectory is the same on one rank and the store keeps the frames it already has.
2. ``tau``: τα from F_s(k = 7.25, t) of A particles on the stored trajectory (per chunk, averaged).
   ``quench`` (only with ``inherent``, the paper's choice): every recorded frame minimised (LAMMPS CG) into
   ``store_is.h5`` with p_hop of the quenched trajectory; the stages below then read that store, and the
   on-the-fly run also evaluates the model on the minimised copy of each saved frame.
3. ``train``: ``glassfix train softness`` (the public trainer) at the lowest temperature, as the paper:
   p_hop > 0.2 positive, negatives quiescent for τα, species A, linear SVM with grouped CV over C.
   ``scan``: grouped-CV balanced accuracy of every single feature and of pairs (paper: 64 % / 77 %).
4. ``apply``: the model on every labelled A particle at every temperature: (S, p_hop) per particle-frame.
5. ``otf``: the trained model inside ``fix glass/predict`` during ``glassfix run nve`` at the lowest T.
6. ``report``: fraction of rearrangers with S > 0, P_R(S), the Arrhenius analysis
   (:mod:`glassfix.analysis.softness_stats`), plots and the paper | ours | conditions table.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from glassfix.core.atomic import atomic_write_json, atomic_write_text
from glassfix.reproduce.workdir import claim_workdir

STAGES = ("md", "tau", "quench", "train", "scan", "apply", "otf", "report")


@dataclass
class SoftnessConfig:
    """Parameters (temperatures ε_AA/k_B, dt and times in τ, steps in MD steps, lengths in σ_AA)."""

    n: int = 1000
    temperatures: tuple[float, ...] = (0.54, 0.60, 0.67, 0.80)
    equil_tau: tuple[float, ...] = (1200.0, 300.0, 150.0, 100.0)
    chunks: tuple[int, ...] = (5, 1, 1, 1)
    chunk_steps: int = 40_000
    dt: float = 0.005
    melt_steps: int = 10_000
    quench_steps: int = 10_000
    label_every: int = 200           # 1 τ: p_hop sample and recorded frame
    phop_window: int = 10            # samples: t_R = 10 τ
    p_c: float = 0.2                 # σ²: rearranging if p_hop > p_c
    mu_max: float = 4.4              # radial grid 0 … mu_max: N = 1000 has L/2 = 4.7 σ
    train_every: int = 1000          # steps between training label frames (the descriptor cache stays small)
    per_class: int = 3000
    cv_C: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0, 10.0)
    apply_every: int = 1000          # steps between frames used for P_R(S)
    otf_steps: int = 10_000
    otf_every: int = 200
    s_bins: tuple[float, ...] = (-4.0, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0)
    seed: int = 1002
    system: str = "ka3d"
    inherent: bool = False           # descriptors and p_hop on inherent structures (the paper's choice)
    quench_ftol: float = 1e-6          # ε/σ: max force component at the end of a quench (LAMMPS CG)

    def __post_init__(self) -> None:
        self.temperatures = tuple(float(t) for t in self.temperatures)
        self.equil_tau = tuple(float(t) for t in self.equil_tau)
        self.chunks = tuple(int(c) for c in self.chunks)
        self.cv_C = tuple(float(c) for c in self.cv_C)
        self.s_bins = tuple(float(s) for s in self.s_bins)
        if not (len(self.temperatures) == len(self.equil_tau) == len(self.chunks)) or len(self.temperatures) < 2:
            raise ValueError(f"temperatures {self.temperatures}, equil_tau {self.equil_tau} and chunks {self.chunks} "
                             "need the same length (>= 2)")
        if self.chunk_steps % self.label_every or self.train_every % self.label_every \
                or self.apply_every % self.label_every:
            raise ValueError(f"chunk_steps {self.chunk_steps}, train_every {self.train_every} and apply_every "
                             f"{self.apply_every} must be multiples of label_every {self.label_every}")

    @property
    def t_train(self) -> float:
        """The training temperature: the lowest (as the paper)."""
        return min(self.temperatures)

    def tdir(self, workdir: Path, T: float) -> Path:
        """Work directory of temperature ``T``."""
        return Path(workdir) / f"T{T:.3f}"

    def label_store(self, workdir: Path, T: float) -> Path:
        """The store that training and application read at ``T``: the MD store (thermal positions, online
        p_hop) or, with ``inherent``, the store of quenched frames with p_hop on the quenched trajectory."""
        return self.tdir(workdir, T) / ("store_is.h5" if self.inherent else "store.h5")


def _say(progress: Callable[[str], None] | None, msg: str) -> None:
    if progress is not None:
        progress(msg)


def _add_wall(workdir: Path, stage: str, seconds: float) -> None:
    """Accumulate wall time per stage over invocations (a resumed run adds to it; a segment that was
    interrupted before it finished is not counted)."""
    path = Path(workdir) / "wall.json"
    walls = json.loads(path.read_text()) if path.exists() else {}
    walls[stage] = walls.get(stage, 0.0) + seconds
    atomic_write_json(path, walls)


# ---- stage 1: MD with online p_hop labels ---------------------------------------------------------------

def _prepare_spec(cfg: SoftnessConfig, i: int):
    from glassfix.protocols.prepare import PrepareSpec, Stage

    T = cfg.temperatures[i]
    return PrepareSpec(system=cfg.system, n=cfg.n, T=T, seed=cfg.seed + 17 * i, dt=cfg.dt, T_melt=2.0,
                       melt_steps=cfg.melt_steps, quench_steps=cfg.quench_steps,
                       stages=(Stage("nvt", int(round(cfg.equil_tau[i] / cfg.dt))),), tdamp=1.0,
                       minimize=False, chunk_steps=10_000, thermo_every=1000, group=f"T{T:.3f}-prepare")


def chunk_script(cfg: SoftnessConfig, T: float, c: int, start: Path, plugin: Path) -> str:
    """LAMMPS input of production chunk ``c`` at ``T``: NVE from ``start`` with p_hop + record (every τ)."""
    from glassfix.protocols.common import get_protocol_system, header_commands, quote

    system = get_protocol_system(cfg.system)
    s0 = c * cfg.chunk_steps
    lines = [f"plugin load {quote(plugin)}", *header_commands(system, cfg.n), f"read_data {quote(start)}",
             *system.lammps_commands(), "neighbor 0.3 bin", "neigh_modify every 1 delay 0 check yes",
             f"timestep {cfg.dt:g}", f"reset_timestep {s0}", "fix nve all nve",
             f"fix ph all glass/phop {cfg.label_every} {cfg.phop_window}",
             f"fix rec all glass/record {cfg.label_every} store.h5 values f_ph group c{c:02d} system {cfg.system} "
             f"temperature {T:g}",
             "compute pe all pe", "variable pea equal c_pe/atoms",
             f"fix th all ave/time {cfg.label_every} 1 {cfg.label_every} c_thermo_temp v_pea "
             f"file thermo_c{c:02d}.txt",
             "thermo 10000", f"run {cfg.chunk_steps}", f"write_data chunk_{c:02d}.data"]
    return "\n".join(lines) + "\n"


def stage_md(cfg: SoftnessConfig, workdir: Path, progress: Callable[[str], None] | None = None) -> None:
    """Prepare and produce every temperature (lowest first); skips finished chunks."""
    from glassfix.engines.lammps.plugin import plugin_path
    from glassfix.engines.lammps.runner import run_lammps
    from glassfix.protocols import run as run_protocol

    plugin = plugin_path()
    for i in np.argsort(cfg.temperatures):
        T = cfg.temperatures[i]
        td = cfg.tdir(workdir, T)
        td.mkdir(parents=True, exist_ok=True)
        if not (td / "prepare" / "final.data").exists():
            t0 = time.perf_counter()
            _say(progress, f"T = {T:g}: melt, quench, equilibrate {cfg.equil_tau[i]:g} τ")
            res = run_protocol(_prepare_spec(cfg, int(i)), td / "prepare", progress=False)
            if not res.complete:
                raise RuntimeError(f"{td / 'prepare'}: the preparation did not complete")
            _add_wall(workdir, "md", time.perf_counter() - t0)
        for c in range(cfg.chunks[i]):
            done = td / f"chunk_{c:02d}.done"
            if done.exists():
                continue
            start = td / "prepare" / "final.data" if c == 0 else td / f"chunk_{c - 1:02d}.data"
            _say(progress, f"T = {T:g}: production chunk {c + 1}/{cfg.chunks[i]} ({cfg.chunk_steps} steps)")
            inp = td / f"in.chunk_{c:02d}"
            atomic_write_text(inp, chunk_script(cfg, T, c, start.resolve(), plugin))
            t0 = time.perf_counter()
            run_lammps(inp.name, cwd=td, log_path=f"log.chunk_{c:02d}")
            atomic_write_json(done, {"steps": cfg.chunk_steps})
            _add_wall(workdir, "md", time.perf_counter() - t0)


def read_thermo(td: Path) -> dict[str, np.ndarray]:
    """Step, temperature and potential energy per atom of all finished chunks (fix ave/time files)."""
    from glassfix.protocols.common import read_ave_time

    rows: list[dict[str, float]] = []
    for f in sorted(td.glob("thermo_c*.txt")):
        rows += read_ave_time(f, ["temp", "pe"], keep_from=0)
    return {k: np.array([r[k] for r in rows]) for k in ("step", "temp", "pe")}


# ---- stage 2: tau_alpha ---------------------------------------------------------------------------------

def _chunk_groups(ds: Any) -> dict[str, list[str]]:
    """Store keys per group (production chunk), in step order."""
    out: dict[str, list[tuple[int, str]]] = {}
    for k in ds.keys():
        fi = ds.frame_info(k)
        out.setdefault(str(fi["group"]), []).append((int(fi["step"]), k))
    return {g: [k for _, k in sorted(v)] for g, v in sorted(out.items())}


def stage_tau(cfg: SoftnessConfig, workdir: Path, progress: Callable[[str], None] | None = None) -> None:
    """τα per temperature: F_s(k = 7.25, t) of A on the stored trajectory, chunk by chunk, averaged; the
    1/e crossing. Also the measured temperature and potential energy (fix ave/time files)."""
    from glassfix.analysis import self_intermediate_scattering, tau_alpha_crossing
    from glassfix.core.atomic import atomic_savez
    from glassfix.data.store import DatasetStore

    out = Path(workdir) / "tau.json"
    if out.exists():
        return
    t0 = time.perf_counter()
    res: dict[str, Any] = {}
    curves: dict[str, np.ndarray] = {}
    stride = 5
    for T in sorted(cfg.temperatures):
        td = cfg.tdir(workdir, T)
        fs_all = []
        with DatasetStore(td / "store.h5", mode="r") as ds:
            for g, keys in _chunk_groups(ds).items():
                frames = [ds.frame(k) for k in keys]
                a = np.flatnonzero(frames[0].types == 0)
                traj = np.stack([f.unwrapped[a] for f in frames])
                times = np.array([f.step for f in frames], float) * cfg.dt
                fs_all.append(self_intermediate_scattering(traj, 7.25, t0_stride=stride, times=times))
        n = min(len(f) for f in fs_all)
        fs = np.mean([f[:n] for f in fs_all], axis=0)
        t = np.arange(n) * cfg.label_every * cfg.dt
        tau = tau_alpha_crossing(t, fs, on_missing="nan")
        th = read_thermo(td)
        res[f"{T:g}"] = {"tau_alpha": tau, "mean_temp": float(th["temp"].mean()), "std_temp": float(th["temp"].std()),
                         "mean_pe": float(th["pe"].mean()), "chunks": len(fs_all),
                         # aging check: the production's potential energy in its first and second half
                         "pe_halves": [float(h.mean()) for h in np.array_split(th["pe"], 2)],
                         "pe_std": float(th["pe"].std()),
                         "production_tau": float(len(fs_all) * cfg.chunk_steps * cfg.dt)}
        curves[f"t_{T:g}"], curves[f"fs_{T:g}"] = t, fs
        _say(progress, f"T = {T:g}: tau_alpha = {tau:.1f} tau (F_s(7.25) 1/e), <T> = {res[f'{T:g}']['mean_temp']:.3f}")
    atomic_savez(Path(workdir) / "fs.npz", **curves)
    atomic_write_json(out, res)
    _add_wall(workdir, "tau", time.perf_counter() - t0)


def tau_table(workdir: Path) -> dict[str, Any]:
    """The tau stage's result (per temperature)."""
    return json.loads((Path(workdir) / "tau.json").read_text())


# ---- stage 2b: inherent structures (with --inherent) ------------------------------------------------------

class _Quencher:
    """Inherent structures of stored frames: LAMMPS CG (``min_modify norm max``, max|F| < ``ftol``) in one
    single-threaded in-process instance, each frame loaded from its unwrapped positions so that
    x + image · cell continues the MD trajectory (p_hop needs an unwrapped quenched trajectory)."""

    def __init__(self, system_name: str, ftol: float, tmpdir: Path) -> None:
        from glassfix.engines.lammps.session import LammpsSession
        from glassfix.systems import get_system

        self.system = get_system(system_name)
        self.ftol = float(ftol)
        self.tmp = Path(tmpdir) / f"quench_{os.getpid()}.data"
        self.session = LammpsSession()
        self.session.single_thread()

    def __call__(self, frame: Any) -> tuple[Any, float, float, int]:
        """(IS frame, energy per atom (ε), max force component (ε/σ), CG iterations) of ``frame``."""
        from glassfix.data.lammps_io import write_data
        from glassfix.protocols.base import common_settings
        from glassfix.protocols.common import header_commands, quote

        c = self.session
        start = frame.unwrapped if frame.unwrapped is not None else frame.positions
        write_data(dataclasses.replace(frame, positions=start), self.tmp, masses=self.system.masses)
        c.command("clear")
        c.commands([*header_commands(self.system, frame.n_atoms), f"read_data {quote(self.tmp)}",
                    *common_settings(self.system, 0.005), "min_style cg", "min_modify norm max",
                    f"minimize 0.0 {self.ftol:g} 100000 1000000"])
        th = c.thermo()
        out = c.frame(self.system, step=frame.step)
        return out, float(th["PotEng"]), float(th["Fmax"]), int(c.timestep)

    def close(self) -> None:
        """Free the LAMMPS instance and its scratch file."""
        self.session.close()
        self.tmp.unlink(missing_ok=True)


def _quench_chunk(job: dict[str, Any]) -> str:
    """Worker: inherent structures of the frames ``job["keys"]`` of one chunk (step order), checkpointed every
    25 frames in ``job["part"]`` (npz: unwrapped IS trajectory (F, N, d), energy, fmax, iterations, n)."""
    from glassfix.core.atomic import atomic_savez
    from glassfix.data.store import DatasetStore

    part, keys = Path(job["part"]), list(job["keys"])
    have: dict[str, np.ndarray] = dict(np.load(part)) if part.exists() else {}
    done = int(have["n"]) if have else 0
    cols = {k: list(have[k][:done]) if have else [] for k in ("traj", "energy", "fmax", "iterations")}
    if done == len(keys):
        return str(part)
    q = _Quencher(job["system"], job["ftol"], part.parent)
    try:
        with DatasetStore(job["store"], mode="r") as ds:
            for n in range(done, len(keys)):
                fr, energy, fmax, iters = q(ds.frame(keys[n]))
                if not fmax < job["ftol"]:
                    raise RuntimeError(f"{job['what']}: CG stopped at max|F| = {fmax:.3g} >= {job['ftol']:g} on "
                                       f"frame {keys[n]} after {iters} iterations")
                for k, v in zip(("traj", "energy", "fmax", "iterations"), (fr.unwrapped, energy, fmax, iters)):
                    cols[k].append(v)
                if (n + 1) % 25 == 0 or n + 1 == len(keys):
                    atomic_savez(part, **{k: np.asarray(v) for k, v in cols.items()}, n=n + 1)
    finally:
        q.close()
    return str(part)


def stage_quench(cfg: SoftnessConfig, workdir: Path, progress: Callable[[str], None] | None = None,
                 workers: int | None = None) -> None:
    """With ``inherent``: every recorded frame quenched (LAMMPS CG, max|F| < ``quench_ftol``) into
    ``store_is.h5`` beside the MD store, with p_hop of the quenched trajectory (window ``phop_window``
    frames, centred, the centre frame in both halves as ``fix glass/phop``) stored on the frame it
    describes (step offset 0). Chunks are quenched in parallel (``workers``, default: the CPU count)."""
    from concurrent.futures import ProcessPoolExecutor, as_completed
    import multiprocessing

    from glassfix.core.atomic import atomic_write_json
    from glassfix.data.labels_meta import offset_attrs
    from glassfix.data.store import DatasetStore
    from glassfix.labels.phop import phop

    if not cfg.inherent:
        return
    label = f"phop/every={cfg.label_every},window={cfg.phop_window}"    # the online label's name
    jobs: list[dict[str, Any]] = []
    for T in sorted(cfg.temperatures):
        td = cfg.tdir(workdir, T)
        if (td / "quench.done").exists():
            continue
        with DatasetStore(td / "store.h5", mode="r") as ds:
            for g, keys in _chunk_groups(ds).items():
                jobs.append({"T": T, "group": g, "keys": keys, "store": str(td / "store.h5"), "system": cfg.system,
                             "ftol": cfg.quench_ftol, "part": str(td / f"quench_{g}.npz"), "what": f"T = {T:g} {g}"})
    if not jobs:
        return
    t0 = time.perf_counter()
    n_workers = max(1, min(len(jobs), workers or os.cpu_count() or 1))
    _say(progress, f"quench: {sum(len(j['keys']) for j in jobs)} frames in {len(jobs)} chunks, {n_workers} workers")
    # spawn: each worker starts its own LAMMPS instance, never a forked copy of the parent's state
    with ProcessPoolExecutor(n_workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(_quench_chunk, j): j for j in jobs}
        for f in as_completed(futures):
            f.result()
            _say(progress, f"quench: {futures[f]['what']} done")
    for T in sorted({j["T"] for j in jobs}):
        td = cfg.tdir(workdir, T)
        summary: dict[str, Any] = {}
        with DatasetStore(td / "store.h5", mode="r") as ds, DatasetStore(td / "store_is.h5", mode="a") as out:
            for j in (j for j in jobs if j["T"] == T):
                q = dict(np.load(j["part"]))
                p = phop(q["traj"], cfg.phop_window, shared_endpoint=True)
                for n, k in enumerate(j["keys"]):
                    fr = ds.frame(k)
                    info = ds.frame_info(k)
                    base = fr.unwrapped if fr.unwrapped is not None else fr.positions
                    isf = dataclasses.replace(fr, positions=fr.positions + (q["traj"][n] - base),
                                              unwrapped=q["traj"][n], velocities=None, energies=None)
                    attrs = {"positions": "inherent structures (LAMMPS CG)", **offset_attrs(int(info["step"]), 0)}
                    labels = {label: (p[n], attrs)} if np.isfinite(p[n]).any() else {}
                    out.add_frame(isf, key=k, group=info["group"], system=info["system"],
                                  temperature=info["temperature"], labels=labels)
                summary[j["group"]] = {"frames": len(j["keys"]), "mean_energy": float(q["energy"].mean()),
                                       "max_fmax": float(q["fmax"].max()),
                                       "mean_iterations": float(q["iterations"].mean()),
                                       "max_iterations": int(q["iterations"].max())}
        atomic_write_json(td / "quench.done", summary)
    _add_wall(workdir, "quench", time.perf_counter() - t0)


# ---- stage 3: training at the lowest temperature ---------------------------------------------------------

def _train_glob(cfg: SoftnessConfig) -> str:
    """Key glob selecting label frames every ``train_every`` steps (keys end in the zero-padded step)."""
    k = len(str(cfg.train_every)) - len(str(cfg.train_every).rstrip("0"))
    if cfg.train_every != 10 ** k:
        raise ValueError(f"train_every must be a power of ten (a key glob selects it), got {cfg.train_every}")
    return "*" + "0" * k


def classifier_config(cfg: SoftnessConfig, tau_low: float):
    """The public trainer's configuration: p_hop > p_c positive, negatives quiescent for τα (as the paper)."""
    from glassfix.train.classifiers import ClassifierConfig

    q = int(np.ceil(tau_low / cfg.dt / cfg.label_every)) * cfg.label_every
    return ClassifierConfig(kind="softness", label="phop", above=cfg.p_c, quiescent=q, species=["A"],
                            frames=[_train_glob(cfg)], per_class=cfg.per_class, cv_C=list(cfg.cv_C),
                            descriptor={"mu_max": cfg.mu_max}, seed=cfg.seed)


def stage_train(cfg: SoftnessConfig, workdir: Path, progress: Callable[[str], None] | None = None) -> None:
    """``glassfix train softness`` at the lowest temperature (its descriptor cache makes it resumable)."""
    from glassfix.train.classifiers import train_classifier

    out = Path(workdir) / "train"
    if (out / "softness.glassfix").exists() and (out / "metrics.json").exists():
        return
    t0 = time.perf_counter()
    tau = tau_table(workdir)[f"{cfg.t_train:g}"]["tau_alpha"]
    if not np.isfinite(tau):
        raise RuntimeError(f"tau_alpha at T = {cfg.t_train:g} was not reached in a chunk; run longer chunks")
    cc = classifier_config(cfg, tau)
    store = cfg.label_store(workdir, cfg.t_train)
    cmd = (f"glassfix train softness --store {store} --out {out} --label phop --above {cfg.p_c:g} --quiescent "
           f"{cc.quiescent} --species A --frames '{cc.frames[0]}' --per-class {cfg.per_class} --mu-max {cfg.mu_max:g} "
           f"--cv-C {' '.join(f'{c:g}' for c in cfg.cv_C)} --seed {cfg.seed}")
    _say(progress, f"training: {cmd}")
    last = [0.0]

    def log(msg: str) -> None:
        if time.perf_counter() - last[0] > 30 or not msg.startswith("descriptors"):
            last[0] = time.perf_counter()
            _say(progress, "  " + msg)

    train_classifier(store, out, cc, command=cmd, log=log)
    _add_wall(workdir, "train", time.perf_counter() - t0)


def _grouped_cv(X: np.ndarray, y: np.ndarray, groups: np.ndarray, C: float, seed: int) -> float:
    """Balanced accuracy of a standardised class-balanced linear SVM, grouped k-fold (k ≤ 5)."""
    from sklearn.model_selection import GroupKFold
    from sklearn.svm import LinearSVC

    k = min(5, np.unique(groups).size)
    scores = []
    for tr, te in GroupKFold(n_splits=k).split(X, y, groups):
        mu, sd = X[tr].mean(axis=0), X[tr].std(axis=0)
        sd[sd == 0] = 1.0
        svc = LinearSVC(C=C, class_weight="balanced", dual="auto", random_state=seed, max_iter=20000)
        svc.fit((X[tr] - mu) / sd, y[tr])
        pred = svc.predict((X[te] - mu) / sd).astype(bool)
        scores.append(0.5 * ((pred & y[te]).sum() / max(1, y[te].sum()) + (~pred & ~y[te]).sum() / max(1, (~y[te]).sum())))
    return float(np.mean(scores))


def stage_scan(cfg: SoftnessConfig, workdir: Path, progress: Callable[[str], None] | None = None) -> None:
    """Single features and pairs on the trainer's balanced training examples (descriptor cache reused):
    every single feature, the paper's pair G_B(0.9) + G_A(1.1), and every pair of the 12 best singles."""
    from glassfix.data.store import DatasetStore
    from glassfix.models.base import load_model
    from glassfix.train.classifiers import make_descriptor
    from glassfix.train.dataset import aligned_pairs, balance, build_examples, resolve_label, select_keys, species_names_of

    out = Path(workdir) / "train" / "scan.json"
    if out.exists():
        return
    t0 = time.perf_counter()
    model = load_model(Path(workdir) / "train" / "softness.glassfix")
    cc = classifier_config(cfg, tau_table(workdir)[f"{cfg.t_train:g}"]["tau_alpha"])
    train_frames = set(model.provenance["split"]["train_frames"])
    with DatasetStore(cfg.label_store(workdir, cfg.t_train), mode="r") as ds:
        keys = select_keys(ds, cc.frames)
        label = resolve_label(ds, cc.label, keys)
        pairs = aligned_pairs(ds, label, keys)
        desc = make_descriptor("softness", species_names_of(ds, keys), cc.descriptor)
        ex = build_examples(ds, label, [p for p in pairs if p[1] in train_frames], cc.rule(), [0], desc,
                            Path(workdir) / "train" / "cache", history=pairs)
    ex = balance(ex, cfg.per_class, cfg.seed)
    if np.unique(ex.group).size < 2:   # one training chunk: folds of frames, as the trainer does
        ex.group = ex.frame_key
    C = float(model.heads[0].C)
    names = desc.names
    _say(progress, f"feature scan: {len(names)} single features, C = {C:g}, {ex.n} examples")
    single = {names[j]: _grouped_cv(ex.X[:, [j]], ex.y, ex.group, C, cfg.seed) for j in range(len(names))}
    mus = np.asarray(desc.mus)
    m = mus.size
    pa = (int(np.argmin(np.abs(mus - 0.9))) + m, int(np.argmin(np.abs(mus - 1.1))))
    top = sorted(range(len(names)), key=lambda j: -single[names[j]])[:12]
    pair_scores = {}
    for a_ in range(len(top)):
        for b_ in range(a_ + 1, len(top)):
            j, k = top[a_], top[b_]
            pair_scores[f"{names[j]} + {names[k]}"] = _grouped_cv(ex.X[:, [j, k]], ex.y, ex.group, C, cfg.seed)
    best_pair = max(pair_scores, key=pair_scores.get)
    atomic_write_json(out, {"C": C, "n_examples": ex.n, "single": single,
                            "best_single": max(single, key=single.get), "paper_pair": f"{names[pa[0]]} + {names[pa[1]]}",
                            "paper_pair_score": _grouped_cv(ex.X[:, list(pa)], ex.y, ex.group, C, cfg.seed),
                            "best_pair": best_pair, "best_pair_score": pair_scores[best_pair],
                            "all_features_score": _grouped_cv(ex.X, ex.y, ex.group, C, cfg.seed)})
    _add_wall(workdir, "scan", time.perf_counter() - t0)


# ---- stage 4: softness and p_hop of every A particle-frame ----------------------------------------------

def stage_apply(cfg: SoftnessConfig, workdir: Path, progress: Callable[[str], None] | None = None) -> None:
    """Per temperature ``apply_T.npz``: S and p_hop of A particles every ``apply_every`` steps (features
    cached per temperature, the training temperature shares the trainer's cache)."""
    from glassfix.core.atomic import atomic_savez
    from glassfix.data.store import DatasetStore
    from glassfix.models.base import load_model
    from glassfix.train.dataset import aligned_pairs, frame_features, resolve_label

    model = load_model(Path(workdir) / "train" / "softness.glassfix")
    for T in sorted(cfg.temperatures):
        td = cfg.tdir(workdir, T)
        out = td / "apply.npz"
        if out.exists():
            continue
        t0 = time.perf_counter()
        cache = Path(workdir) / "train" / "cache" if T == cfg.t_train else td / "cache"
        cols: dict[str, list[np.ndarray]] = {k: [] for k in ("S", "phop", "chunk", "step", "id")}
        gsum = None
        with DatasetStore(cfg.label_store(workdir, T), mode="r") as ds:
            keys = ds.keys()
            label = resolve_label(ds, "phop", keys)
            pairs = [(lk, fk) for lk, fk in aligned_pairs(ds, label, keys)
                     if ds.frame_info(fk)["step"] % cfg.apply_every == 0]
            for n, (lk, fk) in enumerate(pairs):
                if n % 50 == 0:
                    _say(progress, f"T = {T:g}: softness of frame {n + 1}/{len(pairs)}")
                fr = ds.frame(fk)
                vals = np.asarray(ds.labels(lk, [label])[label], float)
                lids = ds.frame(lk).ids
                if not np.array_equal(lids, fr.ids):
                    order = {int(i): j for j, i in enumerate(lids)}
                    vals = vals[[order[int(i)] for i in fr.ids]]
                a = np.flatnonzero(fr.types == 0)
                X = frame_features(ds, fk, model.descriptor, a, cache)
                gsum = X.sum(axis=0) if gsum is None else gsum + X.sum(axis=0)
                cols["S"].append(model.predict_features(X, fr.types[a])[:, 0])
                cols["phop"].append(vals[a])
                cols["chunk"].append(np.full(a.size, int(str(ds.frame_info(fk)["group"]).lstrip("c"))))
                cols["step"].append(np.full(a.size, fr.step))
                cols["id"].append(fr.ids[a])
        arrays = {k: np.concatenate(v) for k, v in cols.items()}
        arrays["mean_features"] = gsum / arrays["S"].size
        atomic_savez(out, **arrays)
        _add_wall(workdir, "apply", time.perf_counter() - t0)


# ---- stage 5: the model on the fly ----------------------------------------------------------------------

def otf_spec(cfg: SoftnessConfig, workdir: Path):
    """``glassfix run nve`` at the training T from the last production configuration, model in fix glass/predict."""
    from glassfix.protocols.nve import NVESpec

    i = int(np.argmin(cfg.temperatures))
    start = cfg.tdir(workdir, cfg.t_train) / f"chunk_{cfg.chunks[i] - 1:02d}.data"
    return NVESpec(system=cfg.system, data=str(start.resolve()), T=cfg.t_train, seed=cfg.seed + 5, dt=cfg.dt,
                   steps=cfg.otf_steps, frame_every=10 * cfg.otf_every, thermo_every=cfg.otf_every,
                   model=str((Path(workdir) / "train" / "softness.glassfix").resolve()), predict_every=cfg.otf_every,
                   # a model of inherent structures is also evaluated on the minimised copy of every saved frame
                   inherent=cfg.inherent)


def stage_otf(cfg: SoftnessConfig, workdir: Path, progress: Callable[[str], None] | None = None) -> None:
    """Run the NVE protocol with the trained model evaluated every ``otf_every`` steps (resumable protocol)."""
    from glassfix.protocols import run as run_protocol

    wd = Path(workdir) / "otf"
    state = wd / "state.json"
    if state.exists() and json.loads(state.read_text()).get("complete"):
        return
    t0 = time.perf_counter()
    _say(progress, f"on the fly: glassfix run nve --T {cfg.t_train:g} --steps {cfg.otf_steps} --model train/softness.glassfix")
    res = run_protocol(otf_spec(cfg, workdir), wd, progress=False)
    if not res.complete:
        raise RuntimeError(f"{wd}: the on-the-fly NVE run did not complete")
    _add_wall(workdir, "otf", time.perf_counter() - t0)


# ---- driver ---------------------------------------------------------------------------------------------

def run(cfg: SoftnessConfig, workdir: Path, report: Path, until: str = "report",
        progress: Callable[[str], None] | None = print, compare: Path | None = None) -> Path | None:
    """Run the missing stages up to ``until`` (see the module docstring); returns the report path at the end."""
    if until not in STAGES:
        raise ValueError(f"until must be one of {STAGES}, got {until!r}")
    workdir = Path(workdir)
    if compare is not None and not (Path(compare) / "summary.json").exists():
        # checked before the stages run, not after an hour of them
        raise FileNotFoundError(f"--compare-workdir {compare} has no summary.json; point it at the --workdir of a "
                                "finished `glassfix reproduce softness` run (its report stage writes summary.json)")
    claim_workdir(workdir, cfg)
    stages = {"md": stage_md, "tau": stage_tau, "quench": stage_quench, "train": stage_train, "scan": stage_scan, "apply": stage_apply, "otf": stage_otf}
    for name in STAGES[:STAGES.index(until) + 1]:
        if name == "report":
            from glassfix.reproduce.softness_report import write_report

            return write_report(cfg, workdir, Path(report), compare=compare)
        stages[name](cfg, workdir, progress)
    return None
