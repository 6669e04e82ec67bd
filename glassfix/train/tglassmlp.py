"""Training tGlassMLP (Jung, Biroli & Berthier 2024; digest 001 §5.2–5.4) and the single-state GlassMLP.

* **Loss** (per batch = all centre particles of ONE configuration at ONE state point, §5.3): phase 1 MSE;
  phase 2 the GlassMLP loss ([PROP] §5.2) mean|X − C| + λ_v |std(X) − std(C)| + λ_c Σ_r |G_X(r) − G_C(r)|,
  G_Y(r) = mean of δY_i δY_j over the pairs i < j in radial bin r (0, r_max] (minimum image), δY = Y − mean Y;
  the pairs are binned once per configuration (:func:`glassfix.train.tglassmlp_data.pair_bins`).
* **Schedule** (Table 2): Adam (PyTorch defaults), 10 epochs at 1e-3, 50 at 5e-4, 25 at 2e-4 (MSE), then
  50 at 4e-5 (GlassMLP loss); ``epochs_scale`` multiplies every count (rounded up, ≥ 1) for small runs.
* **Transfer** (§5.4): step 1 trains ``n_step1`` networks per target C on the labelled configurations at
  T ≥ T_min at that C; each is applied at every T < T_min at the same C, and kept if |X̄ − C| < tol at each
  such T (X̄ the mean over all centres of the T < T_min training configurations); if none passes, tol is
  multiplied by ``relax_factor`` (up to ``max_relax`` times; each relaxation is logged and recorded).
  The kept networks' mean prediction is the pseudo-label of every T < T_min training configuration at C
  (MD labels below T_min, if any, are never trained on: they only evaluate the transfer). Step 2 trains
  ``n_step2`` networks on all labels and pseudo-labels (every T, every C) and keeps those passing the same
  filter at every (T < T_min, C); the kept networks are the ensemble saved in ``tglassmlp.glassfix``.
  Without T_min (or no configuration below it) there is no step 1 and every step-2 network is kept.
* **Single-state GlassMLP** (``single_state=(T, C)``): ``n_step2`` glassmlp networks on the labels at that
  state point only, all kept; saved as ``glassmlp.glassfix``.

Resumable: every finished network is written to ``OUT/nets/<name>.npz`` (parameters and loss history,
plain arrays) and reused on a rerun with the same settings; descriptors are cached in ``OUT/cache``.
Networks are trained deterministically (seeded init, shuffles from ``default_rng([seed, epoch])``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from glassfix.core.atomic import atomic_savez, atomic_write_text
from glassfix.train.tglassmlp_data import Config, PairBins, default_descriptor, load_configs

__all__ = ["TGlassConfig", "schedule", "mse_loss", "glassmlp_loss", "train_network", "mean_predictions",
           "select_networks", "train_tglassmlp", "train_from_configs"]

#: Table 2: (epochs, learning rate, loss) of the two phases.
TABLE2 = ((10, 1e-3, "mse"), (50, 5e-4, "mse"), (25, 2e-4, "mse"), (50, 4e-5, "glassmlp"))


@dataclasses.dataclass
class TGlassConfig:
    """Settings of ``glassfix train tglassmlp`` (lengths σ, temperatures ε/k_B, C dimensionless)."""

    t_min: float | None = None            # lowest labelled T used in step 1 (None: no transfer)
    targets: list[float] | None = None    # C rows to train (default: every bb_target found)
    n_step1: int = 16
    n_step2: int = 16
    epochs_scale: float = 1.0
    lam_v: float = 1.0
    lam_c: float = 1.0
    r_max: float = 5.0
    dr: float = 0.5
    tol: float = 1e-4
    relax_factor: float = 10.0
    max_relax: int = 3
    test_fraction: float = 0.5
    split_seed: int = 0
    seed: int = 0
    variant: str = "tglassmlp"
    bottleneck_act: str = "linear"
    single_state: tuple[float, float] | None = None
    quench: str = "fire"
    fire_ftol: float = 1e-6
    label_prefix: str = "bond_breaking"
    system: str = "jbb"
    center_type: int = 0
    threads: int = 1                      # torch threads (1: a 1.5k-parameter net gains nothing from more)

    def __post_init__(self) -> None:
        if self.epochs_scale <= 0 or self.n_step1 < 1 or self.n_step2 < 1:
            raise ValueError("epochs_scale > 0, n_step1 >= 1 and n_step2 >= 1 are required")
        if not 0 <= self.test_fraction < 1:
            raise ValueError(f"test_fraction must be in [0, 1), got {self.test_fraction}")
        if self.single_state is not None:
            self.single_state = (float(self.single_state[0]), float(self.single_state[1]))
            self.variant = "glassmlp"


def schedule(epochs_scale: float = 1.0) -> list[tuple[int, float, str]]:
    """Table 2 with every epoch count multiplied by ``epochs_scale`` (rounded up, at least 1)."""
    return [(max(1, int(math.ceil(n * epochs_scale))), lr, loss) for n, lr, loss in TABLE2]


# ---- losses -----------------------------------------------------------------------------------------

def mse_loss(X, y):
    """Phase 1: mean (X − y)² over the batch (torch tensors)."""
    return ((X - y) ** 2).mean()


def glassmlp_loss(X, y, pairs: PairBins | None, lam_v: float = 1.0, lam_c: float = 1.0, torch_pairs=None):
    """Phase 2 (digest §5.2 [PROP]): (total, mae, variance term, correlation term) for one configuration.

    variance term = |std(X) − std(y)| (population std); correlation term = Σ_r |G_X(r) − G_y(r)| over the
    bins holding pairs, G_Y(r) = Σ_{pairs in r} δY_i δY_j / n_pairs(r)."""
    import torch

    mae = (X - y).abs().mean()
    var = (X.std(unbiased=False) - y.std(unbiased=False)).abs()
    corr = torch.zeros((), dtype=X.dtype)
    if pairs is not None and lam_c != 0.0 and pairs.i.size:
        i, j, b, counts = torch_pairs if torch_pairs is not None else _torch_pairs(pairs)
        dX, dy = X - X.mean(), y - y.mean()
        nb = counts.shape[0]
        gX = torch.zeros(nb, dtype=X.dtype).index_add_(0, b, dX[i] * dX[j])
        gy = torch.zeros(nb, dtype=X.dtype).index_add_(0, b, dy[i] * dy[j])
        has = counts > 0
        corr = ((gX[has] - gy[has]) / counts[has]).abs().sum()
    return mae + lam_v * var + lam_c * corr, mae, var, corr


def _torch_pairs(p: PairBins):
    import torch

    return (torch.from_numpy(p.i), torch.from_numpy(p.j), torch.from_numpy(p.bin),
            torch.from_numpy(p.counts.astype(np.float64)))


# ---- one network ------------------------------------------------------------------------------------

@dataclasses.dataclass
class Sample:
    """One batch: configuration index, state point (T, C) and its targets (n,) (MD labels or pseudo-labels)."""

    config: int
    temperature: float
    c: float
    y: np.ndarray


def train_network(samples: list[Sample], S_list: list[np.ndarray], pairs: list[PairBins | None], variant: str,
                  seed: int, sched: list[tuple[int, float, str]], lam_v: float = 1.0, lam_c: float = 1.0,
                  bottleneck_act: str = "linear",
                  log: Callable[[str], None] | None = None) -> tuple[dict[str, np.ndarray], list[float]]:
    """Train one network from a seeded init on ``samples`` (standardised descriptors ``S_list[config]``);
    returns (parameters (1, ...), mean training loss per epoch)."""
    import torch

    from glassfix.models.tglassmlp_net import build_network, init_parameters, state_embedding

    if not samples:
        raise ValueError("no training samples")
    F = S_list[samples[0].config].shape[1]
    net = build_network(init_parameters(F, variant, seed), variant, bottleneck_act, requires_grad=True)
    S_t = {s.config: torch.from_numpy(np.ascontiguousarray(S_list[s.config])) for s in samples}
    P_t = {s.config: _torch_pairs(pairs[s.config]) for s in samples if pairs[s.config] is not None}
    y_t = [torch.from_numpy(np.ascontiguousarray(s.y, dtype=np.float64)) for s in samples]
    z_t = [torch.from_numpy(state_embedding(s.temperature, s.c)) for s in samples]
    opt = torch.optim.Adam(net.parameters(), lr=sched[0][1])
    history: list[float] = []
    epoch = 0
    for n_ep, lr, kind in sched:
        for g in opt.param_groups:
            g["lr"] = lr
        for _ in range(n_ep):
            epoch += 1
            order = np.random.default_rng([int(seed), epoch]).permutation(len(samples))
            tot = 0.0
            for k in order:
                s = samples[k]
                opt.zero_grad()
                X = net(S_t[s.config], z_t[k])[0]
                if kind == "mse":
                    loss = mse_loss(X, y_t[k])
                else:
                    loss = glassmlp_loss(X, y_t[k], pairs[s.config], lam_v, lam_c, P_t.get(s.config))[0]
                loss.backward()
                opt.step()
                tot += float(loss.detach())
            history.append(tot / len(samples))
            if log:
                log(f"epoch {epoch} ({kind}, lr {lr:g}): loss {history[-1]:.5f}")
    return net.arrays(), history


def mean_predictions(params: dict[str, np.ndarray], S_list: Sequence[np.ndarray], temperature: float, c: float,
                     variant: str, bottleneck_act: str = "linear") -> np.ndarray:
    """X̄ per member (E,): the mean prediction over all centres of all configurations ``S_list`` at (T, C)."""
    import torch

    from glassfix.models.tglassmlp_net import build_network, state_embedding

    net = build_network(params, variant, bottleneck_act)
    S = torch.from_numpy(np.ascontiguousarray(np.concatenate(list(S_list), axis=0)))
    with torch.no_grad():
        return net(S, torch.from_numpy(state_embedding(temperature, c))).mean(dim=1).numpy()


def select_networks(deviation: np.ndarray, tol: float, relax_factor: float = 10.0, max_relax: int = 3
                    ) -> tuple[np.ndarray, float, int]:
    """Self-consistency filter: indices of the networks whose max |X̄ − C| over the checked state points
    (``deviation`` (n_networks,)) is below tol; if none passes, tol × relax_factor, at most ``max_relax``
    times. Returns (kept indices, tol used, relaxations); kept is empty if even the last tol fails."""
    dev = np.asarray(deviation, dtype=np.float64)
    t = float(tol)
    for r in range(int(max_relax) + 1):
        kept = np.flatnonzero(dev < t)
        if kept.size:
            return kept, t, r
        if r < max_relax:
            t *= relax_factor
    return np.zeros(0, dtype=np.int64), t, int(max_relax)


# ---- the procedure ----------------------------------------------------------------------------------

def _epoch_log(say: Callable[[str], None], name: str) -> Callable[[str], None]:
    """Per-epoch progress lines ``progress <network>: epoch ...`` (the CLI shows them on its status line)."""
    return lambda msg: say(f"progress {name}: {msg}")


def _net_path(out: Path, name: str) -> Path:
    return out / "nets" / f"{name}.npz"


def _cached_network(out: Path, name: str, fingerprint: str, train: Callable[[], tuple[dict, list]]
                    ) -> tuple[dict[str, np.ndarray], list[float]]:
    """Load ``nets/<name>.npz`` if it was trained with the same fingerprint, else train and save it."""
    path = _net_path(out, name)
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            if str(z["fingerprint"]) == fingerprint:
                params = {k[2:]: z[k] for k in z.files if k.startswith("p.")}
                return params, z["history"].tolist()
    params, hist = train()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_savez(path, fingerprint=np.array(fingerprint), history=np.asarray(hist, dtype=np.float64),
                 **{f"p.{k}": v for k, v in params.items()})
    return params, hist


def _standardiser(configs: list[Config]) -> tuple[np.ndarray, np.ndarray]:
    from glassfix.models.softness import standardization

    rows = [c.X for c in configs if c.split == "train"]
    return standardization(np.concatenate(rows, axis=0))


def train_from_configs(configs: list[Config], out_dir: str | os.PathLike[str], cfg: TGlassConfig, template: Any,
                       log: Callable[[str], None] | None = None, provenance: dict[str, Any] | None = None
                       ) -> dict[str, Any]:
    """The procedure of the module docstring on loaded configurations; writes the model, ``metrics.json``,
    ``report.md`` + PNG into ``out_dir``. ``template``: a TGlassMLPModel whose descriptor, species, quench
    and centre species the result keeps. Returns {"model", "metrics", "report"}."""
    from glassfix.models.tglassmlp import TGlassMLPModel
    from glassfix.models.tglassmlp_net import stack_members

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    say = log or (lambda msg: None)
    t_start = time.perf_counter()
    mean, scale = _standardiser(configs)
    S_list = [(c.X - mean) / scale for c in configs]
    pairs = [c.pairs for c in configs]
    sched = schedule(cfg.epochs_scale)
    all_targets = sorted({c for conf in configs for c in conf.labels})
    targets = sorted(cfg.targets) if cfg.targets else all_targets
    if not targets:
        raise ValueError(f"no configuration holds a '{cfg.label_prefix}/...' label with a bb_target; write labels "
                         "with glassfix iso --times bb:C1,C2,...:TMAX")
    fp_base = json.dumps({"sched": sched, "lam": [cfg.lam_v, cfg.lam_c], "variant": cfg.variant,
                          "act": cfg.bottleneck_act, "keys": [c.key for c in configs],
                          "split": [c.split for c in configs], "mean": float(mean.sum()), "scale": float(scale.sum())})
    t_min = cfg.t_min
    train_idx = [k for k, c in enumerate(configs) if c.split == "train"]
    low_T = sorted({configs[k].temperature for k in train_idx if t_min is not None and configs[k].temperature < t_min})
    record: dict[str, Any] = {"targets": targets, "t_min": t_min, "low_temperatures": low_T, "step1": {}, "step2": {}}

    def labelled(k: int, c: float, allow_low: bool) -> bool:
        conf = configs[k]
        return c in conf.labels and (allow_low or t_min is None or conf.temperature >= t_min)

    pseudo: dict[tuple[int, float], np.ndarray] = {}
    if cfg.single_state is None and low_T:
        # ---- step 1: per-C networks on T >= T_min, filter at T < T_min, pseudo-labels
        for c in targets:
            samples = [Sample(k, configs[k].temperature, c, configs[k].labels[c]) for k in train_idx
                       if labelled(k, c, False)]
            if not samples:
                say(f"step 1, C = {c:g}: no labels at T >= {t_min:g}; no pseudo-labels at this C")
                continue
            nets, devs = [], []
            for s in range(cfg.n_step1):
                name = f"step1_C{c:g}_s{s}"
                say(f"step 1, C = {c:g}: network {s + 1}/{cfg.n_step1}")
                seed = cfg.seed * 100003 + 1000 + s + int(c * 1e4) * 97
                p, _ = _cached_network(out, name, fp_base + f"|{name}|{cfg.seed}", lambda seed=seed, smp=samples:
                                       train_network(smp, S_list, pairs, "tglassmlp", seed, sched, cfg.lam_v,
                                                     cfg.lam_c, cfg.bottleneck_act, log=_epoch_log(say, name)))
                dev = max(abs(float(mean_predictions(p, [S_list[k] for k in train_idx if configs[k].temperature == T],
                                                      T, c, "tglassmlp", cfg.bottleneck_act)[0]) - c) for T in low_T)
                nets.append(p)
                devs.append(dev)
            kept, tol_used, relax = select_networks(np.array(devs), cfg.tol, cfg.relax_factor, cfg.max_relax)
            if relax:
                say(f"step 1, C = {c:g}: no network passed |X̄ − C| < {cfg.tol:g}; tolerance relaxed to {tol_used:g}")
            record["step1"][f"{c:g}"] = {"deviation": devs, "kept": kept.tolist(), "tol": tol_used, "relaxed": relax}
            if kept.size == 0:
                say(f"step 1, C = {c:g}: no network passed even |X̄ − C| < {tol_used:g}; no pseudo-labels at this C")
                continue
            ens = stack_members([nets[i] for i in kept])
            for k in train_idx:
                if configs[k].temperature < t_min:
                    pseudo[(k, c)] = mean_predictions_per_particle(ens, S_list[k], configs[k].temperature, c,
                                                                   cfg.bottleneck_act)
    # ---- step 2 (or the single-state baseline)
    if cfg.single_state is not None:
        T0, C0 = cfg.single_state
        samples = [Sample(k, T0, C0, configs[k].labels[C0]) for k in train_idx
                   if configs[k].temperature == T0 and C0 in configs[k].labels]
        if not samples:
            raise ValueError(f"no training configuration at T = {T0:g} holds a label at C = {C0:g}")
    else:
        samples = [Sample(k, configs[k].temperature, c, configs[k].labels[c]) for k in train_idx for c in targets
                   if labelled(k, c, False)]
        samples += [Sample(k, configs[k].temperature, c, y) for (k, c), y in sorted(pseudo.items())]
    variant = cfg.variant
    nets2, devs2, hists = [], [], []
    for s in range(cfg.n_step2):
        if cfg.single_state is None:
            name = f"step2_s{s}"
        else:
            name = f"single_T{cfg.single_state[0]:g}_C{cfg.single_state[1]:g}_s{s}"
        say(f"{'step 2' if cfg.single_state is None else 'single-state GlassMLP'}: network {s + 1}/{cfg.n_step2} "
            f"({len(samples)} batches per epoch)")
        fp = fp_base + f"|{name}|{cfg.seed}|{len(samples)}|" + ",".join(f"{sm.config}:{sm.c:g}" for sm in samples)
        p, hist = _cached_network(out, name, fp, lambda s=s, name=name: train_network(
            samples, S_list, pairs, variant, cfg.seed * 100003 + 500000 + s, sched, cfg.lam_v, cfg.lam_c,
            cfg.bottleneck_act, log=_epoch_log(say, name)))
        checks = [(T, c) for T in low_T for c in targets if any((k, c) in pseudo for k in train_idx
                                                               if configs[k].temperature == T)]
        dev = max([abs(float(mean_predictions(p, [S_list[k] for k in train_idx if configs[k].temperature == T], T, c,
                                              variant, cfg.bottleneck_act)[0]) - c) for T, c in checks] or [0.0])
        nets2.append(p)
        devs2.append(dev)
        hists.append(hist)
    if cfg.single_state is None and low_T:
        kept, tol_used, relax = select_networks(np.array(devs2), cfg.tol, cfg.relax_factor, cfg.max_relax)
        if relax:
            say(f"step 2: no network passed |X̄ − C| < {cfg.tol:g}; tolerance relaxed to {tol_used:g}")
        if kept.size == 0:
            kept = np.array([int(np.argmin(devs2))])
            say(f"step 2: no network passed even {tol_used:g}; keeping the most self-consistent one "
                f"(|X̄ − C| = {min(devs2):.3g})")
    else:
        kept, tol_used, relax = np.arange(len(nets2)), cfg.tol, 0
    record["step2"] = {"deviation": devs2, "kept": kept.tolist(), "tol": tol_used, "relaxed": relax}
    ens = stack_members([nets2[i] for i in kept])
    if cfg.single_state is not None:
        T_model, tg = cfg.single_state[0], [cfg.single_state[1]]
    else:
        T_model, tg = min(c.temperature for c in configs), targets
    model = TGlassMLPModel(template.descriptor, template.species, mean, scale, ens, T_model, tg, variant=variant,
                           bottleneck_act=cfg.bottleneck_act, center_types=template.center_types,
                           quench=template.quench, fire_ftol=template.fire_ftol)
    from glassfix.train.tglassmlp_report import evaluate_configs, write_outputs

    metrics = evaluate_configs(model, configs, S_list, targets if cfg.single_state is None else tg,
                               single_state=cfg.single_state)
    metrics.update({"transfer": record, "n_members": int(ens["bottleneck.weight"].shape[0]),
                    "wall_s": time.perf_counter() - t_start, "config": dataclasses.asdict(cfg)})
    model.metrics = {k: metrics[k] for k in ("test_rho_mean",) if k in metrics}
    model.provenance = {"trainer": "glassfix.train.tglassmlp", "config": dataclasses.asdict(cfg),
                        "train_keys": [c.key for c in configs if c.split == "train"],
                        "test_keys": [c.key for c in configs if c.split == "test"],
                        "transfer": record, **(provenance or {})}
    name = "glassmlp.glassfix" if cfg.single_state is not None else "tglassmlp.glassfix"
    path = model.save(out / name)
    report = write_outputs(out, metrics, hists, kept, provenance or {})
    say(f"model: {path} ({metrics['n_members']} networks)")
    return {"model": str(path), "metrics": metrics, "report": str(report)}


def mean_predictions_per_particle(params: dict[str, np.ndarray], S: np.ndarray, temperature: float, c: float,
                                  bottleneck_act: str = "linear") -> np.ndarray:
    """Ensemble-mean prediction (n,) of tglassmlp members ``params`` at (T, C): the pseudo-labels."""
    import torch

    from glassfix.models.tglassmlp_net import build_network, state_embedding

    net = build_network(params, "tglassmlp", bottleneck_act)
    with torch.no_grad():
        return net(torch.from_numpy(np.ascontiguousarray(S)),
                   torch.from_numpy(state_embedding(temperature, c))).mean(dim=0).numpy()


def train_tglassmlp(store: str | os.PathLike[str], out_dir: str | os.PathLike[str], cfg: TGlassConfig | None = None,
                    log: Callable[[str], None] | None = None, command: str = "") -> dict[str, Any]:
    """``glassfix train tglassmlp``: load ``store`` (descriptors cached in OUT/cache), run the transfer
    procedure (or the single-state baseline), write ``tglassmlp.glassfix`` (or ``glassmlp.glassfix``),
    ``metrics.json``, ``report.md`` + ``report_tglassmlp.png``. Resumable. Returns {"model", "metrics", "report"}."""
    import torch

    from glassfix.data.store import DatasetStore
    from glassfix.models.tglassmlp import TGlassMLPModel
    from glassfix.models.tglassmlp_net import init_parameters
    from glassfix.train.dataset import store_sha256

    cfg = cfg or TGlassConfig()
    if cfg.threads > 0:    # oversubscribed cores slow these tiny products ~20x (measured on a shared 2-core VM)
        torch.set_num_threads(int(cfg.threads))
    with DatasetStore(store, mode="r") as ds:
        keys = ds.keys()
        if not keys:
            raise ValueError(f"{store}: the store holds no frames")
        species = list(ds.frame(keys[0]).species or ("A", "B", "C"))
    desc = default_descriptor(species, cfg.system)
    template = TGlassMLPModel(desc, species, np.zeros(desc.n_features), np.ones(desc.n_features),
                              init_parameters(desc.n_features, cfg.variant, 0), 1.0, [0.5], variant=cfg.variant,
                              center_types=[cfg.center_type], quench=cfg.quench, fire_ftol=cfg.fire_ftol)
    out = Path(out_dir)
    configs = load_configs(store, template, out / "cache", cfg.label_prefix, cfg.test_fraction, cfg.split_seed,
                           cfg.r_max, cfg.dr, progress=log)
    prov = {"store": os.path.abspath(store), "store_sha256": store_sha256(store), "command": command}
    res = train_from_configs(configs, out, cfg, template, log=log, provenance=prov)
    atomic_write_text(out / "done.json", json.dumps({"model": res["model"]}))
    return res
