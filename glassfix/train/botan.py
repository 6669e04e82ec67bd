"""Training BOTAN and NT-GNN (seed 004 §4.2–4.4) on isoconfigurational data from a dataset store.

Loss L = p · MSE(nodes, propensity) + (1 − p) · MSE(edges, pair-distance change), over all nodes and
all directed edges (p = 0.4 BOTAN, 1 NT-GNN, 0 edge pretraining). Adam (lr 1e-4, eps 1e-8), global
gradient-norm clip 1.0, graphs shuffled every epoch, and every graph a random element of the cubic group
O_h applied to its edge vectors (axis permutation + sign flips, as the reference code). Evaluation:
Pearson ρ per test configuration, averaged: nodes of species 0 (A), edges of species-0 pairs closer
than 1.35 at t = 0.

Resumable: after every epoch the weights, the Adam state and the epoch are written atomically to
``checkpoint.npz`` (plain arrays, no pickle) and a line is appended to ``history.jsonl``. The shuffle
and augmentation of epoch e come from ``default_rng([seed, e])``, so a resumed run continues exactly
as an uninterrupted one.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from glassfix.core.atomic import atomic_savez, atomic_write_text
from glassfix.core.frame import Frame
from glassfix.descriptors.graph import ParticleGraph, build_graph
from glassfix.train.metrics import pearson  # the one implementation (re-exported)

__all__ = ["GraphSample", "TrainConfig", "make_sample", "samples_from_store", "train_botan", "evaluate",
           "pearson"]


@dataclass
class GraphSample:
    """One configuration as a training graph (float32 network inputs, float32 targets, evaluation masks)."""

    key: str
    node_feature: np.ndarray   # (N, 1) type as float
    edge_index: np.ndarray     # (2, E) int64 src/dst
    edge_attr: np.ndarray      # (E, d) r_dst − r_src
    target_node: np.ndarray    # (N,) propensity
    target_edge: np.ndarray    # (E,) pair-distance change
    node_mask: np.ndarray      # (N,) bool: evaluated nodes
    edge_mask: np.ndarray      # (E,) bool: evaluated edges


@dataclass
class TrainConfig:
    """Hyperparameters (digest §4.3 defaults); lengths in σ."""

    p: float = 0.4
    epochs: int = 100
    lr: float = 1e-4
    eps: float = 1e-8
    clip: float = 1.0
    batch: int = 1
    augment: bool = True
    seed: int = 0
    hidden: int = 64
    n_steps: int = 7
    shared_decoder: bool = True
    r_edge: float = 2.0
    eval_every: int = 1
    threads: int = 0            # torch intra-op threads (0: torch's default)
    init: str | None = None     # npz of state-dict arrays (e.g. the authors' pretrained weights) or None

    def __post_init__(self) -> None:
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {self.p}")
        if self.epochs < 0 or self.batch < 1 or self.eval_every < 1:
            raise ValueError("epochs >= 0, batch >= 1 and eval_every >= 1 are required")


def make_sample(frame: Frame, replicas: np.ndarray, key: str = "", r_edge: float = 2.0,
                form: str = "minimum_image", eval_species: int = 0, eval_r: float = 1.35) -> GraphSample:
    """Graph + targets of one isoconfigurational configuration.

    ``replicas`` (R, N, d): positions at time t, unwrapped from ``frame.positions``. Propensity is the
    replica mean of |Δr|; the edge target the replica mean of |r_ij(t)| − |r_ij(0)| (``form`` as in
    :func:`glassfix.labels.bonds.pair_targets`; the reference used the minimum image).
    """
    from glassfix.labels.bonds import pair_targets
    from glassfix.labels.propensity import propensity

    edge_index, vec = build_graph(frame, r_edge)
    ei, target_edge = pair_targets(frame, replicas, r_edge=r_edge, form=form)
    if not np.array_equal(ei, edge_index):
        raise ValueError(f"{key}: label edges differ from graph edges")
    target_node = propensity(frame.positions, replicas, kind="abs")
    types = frame.types
    r0 = np.sqrt(np.einsum("ij,ij->i", vec, vec))
    edge_mask = (types[edge_index[0]] == eval_species) & (types[edge_index[1]] == eval_species) & (r0 < eval_r)
    return GraphSample(key=key, node_feature=types.astype(np.float32)[:, None],
                       edge_index=edge_index, edge_attr=vec.astype(np.float32),
                       target_node=np.asarray(target_node, np.float32), target_edge=target_edge.astype(np.float32),
                       node_mask=types == eval_species, edge_mask=edge_mask)


def samples_from_store(store_path: str | os.PathLike[str], time_label: str, keys: Sequence[str] | None = None,
                       r_edge: float = 2.0, form: str = "minimum_image",
                       progress: Callable[[str], None] | None = None) -> list[GraphSample]:
    """Samples of the store's frames that hold ``replicas/<time_label>`` (all of them when keys is None)."""
    from glassfix.data.store import DatasetStore

    out = []
    with DatasetStore(store_path, mode="r") as ds:
        for key in (ds.keys() if keys is None else keys):
            reps = ds.replicas(key)
            if time_label not in reps:
                if keys is not None:
                    raise KeyError(f"frame {key} has no replicas at {time_label!r} (has {sorted(reps)})")
                continue
            if progress:
                progress(key)
            out.append(make_sample(ds.frame(key), np.asarray(reps[time_label], np.float64), key, r_edge, form))
    return out


def _cubic_group(rng: np.random.Generator, d: int) -> tuple[np.ndarray, np.ndarray]:
    """A random element of the hyperoctahedral group: axis permutation and per-axis signs."""
    return rng.permutation(d), rng.choice(np.array([-1.0, 1.0], np.float32), size=d)


def _batch(samples: list[GraphSample], transforms: list[tuple[np.ndarray, np.ndarray]] | None):
    """Concatenate graphs into one disconnected graph (torch tensors)."""
    import torch

    xs, eis, eas, tn, te = [], [], [], [], []
    offset = 0
    for k, s in enumerate(samples):
        ea = s.edge_attr
        if transforms is not None:
            perm, signs = transforms[k]
            ea = ea[:, perm] * signs
        xs.append(s.node_feature)
        eis.append(s.edge_index + offset)
        eas.append(ea)
        tn.append(s.target_node)
        te.append(s.target_edge)
        offset += s.node_feature.shape[0]
    cat = np.concatenate
    return (torch.from_numpy(cat(xs)), torch.from_numpy(cat(eis, axis=1)),
            torch.from_numpy(np.ascontiguousarray(cat(eas), dtype=np.float32)),
            torch.from_numpy(cat(tn)), torch.from_numpy(cat(te)))


def _loss(net, samples, p: float, transforms=None):
    import torch

    x, ei, ea, tn, te = _batch(samples, transforms)
    node, edge = net(x, ei, ea)
    ln = torch.mean((node - tn) ** 2)
    le = torch.mean((edge - te) ** 2) if te.numel() else torch.zeros(())
    return p * ln + (1.0 - p) * le, ln, le, node, edge


def evaluate(net, samples: list[GraphSample], p: float) -> dict[str, float]:
    """Mean over samples of the loss terms and of ρ on the masked nodes and edges (no augmentation)."""
    import torch

    rows = []
    with torch.no_grad():
        for s in samples:
            loss, ln, le, node, edge = _loss(net, [s], p)
            node, edge = node.numpy(), edge.numpy()
            rows.append((float(loss), float(ln), float(le),
                         pearson(node[s.node_mask], s.target_node[s.node_mask]),
                         pearson(edge[s.edge_mask], s.target_edge[s.edge_mask]) if s.edge_mask.any() else np.nan))
    a = np.array(rows) if rows else np.full((1, 5), np.nan)
    return {"loss": float(np.mean(a[:, 0])), "loss_node": float(np.mean(a[:, 1])),
            "loss_edge": float(np.mean(a[:, 2])), "rho_node": float(np.nanmean(a[:, 3])),
            "rho_edge": float(np.nanmean(a[:, 4])) if np.isfinite(a[:, 4]).any() else float("nan")}


# ---- checkpoints (plain arrays) -------------------------------------------------------------------

def _save_checkpoint(path: Path, net, opt, epoch: int, config: TrainConfig) -> None:
    arrays: dict[str, np.ndarray] = {f"model/{k}": v.detach().numpy() for k, v in net.state_dict().items()}
    st = opt.state_dict()
    for idx, s in st["state"].items():
        for name, v in s.items():
            arrays[f"adam/{idx}/{name}"] = v.detach().numpy() if hasattr(v, "detach") else np.asarray(v)
    arrays["adam_param_groups"] = np.array(json.dumps(st["param_groups"]))
    arrays["epoch"] = np.array(epoch)
    arrays["config"] = np.array(json.dumps(asdict(config)))
    atomic_savez(path, **arrays)


def _load_checkpoint(path: Path, net, opt) -> tuple[int, dict[str, Any]]:
    import torch

    with np.load(path, allow_pickle=False) as z:
        net.load_state_dict({k[6:]: torch.from_numpy(z[k].copy()) for k in z.files if k.startswith("model/")})
        state: dict[int, dict[str, Any]] = {}
        for k in z.files:
            if k.startswith("adam/"):
                _, idx, name = k.split("/")
                state.setdefault(int(idx), {})[name] = torch.from_numpy(np.array(z[k]))
        opt.load_state_dict({"state": state, "param_groups": json.loads(str(z["adam_param_groups"]))})
        return int(z["epoch"]), json.loads(str(z["config"]))


def train_botan(train: list[GraphSample], test: list[GraphSample], config: TrainConfig, out_dir: str | os.PathLike[str],
                species: Sequence[str] = ("A", "B"), provenance: dict[str, Any] | None = None,
                log: Callable[[dict[str, Any]], None] | None = None,
                model_name: str = "botan.glassfix") -> dict[str, Any]:
    """Train (or resume) in ``out_dir``; writes ``model_name`` (default ``botan.glassfix``), ``history.jsonl``
    and ``checkpoint.npz``.

    Returns {"model": path, "history": [...], "final": last evaluation}.
    """
    import torch

    from glassfix.models.botan import BotanModel, build_network

    if not train:
        raise ValueError("no training graphs")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if config.threads:
        torch.set_num_threads(int(config.threads))
    torch.manual_seed(config.seed)    # PyTorch-default initialisation, reproducible
    d = train[0].edge_attr.shape[1]
    net = build_network(config.hidden, config.n_steps, 1, d, config.shared_decoder)
    if config.init:
        with np.load(config.init, allow_pickle=False) as z:
            missing = net.load_state_dict({k: torch.from_numpy(z[k].copy()) for k in z.files}, strict=False)
        if missing.missing_keys or missing.unexpected_keys:
            raise ValueError(f"initial weights {config.init} do not fit the network: missing "
                             f"{missing.missing_keys[:3]}, unexpected {missing.unexpected_keys[:3]}")
    opt = torch.optim.Adam(net.parameters(), lr=config.lr, eps=config.eps)
    ckpt = out / "checkpoint.npz"
    hist_path = out / "history.jsonl"
    start = 0
    if ckpt.exists():
        start, saved = _load_checkpoint(ckpt, net, opt)
        mismatched = {k: (saved.get(k), v) for k, v in asdict(config).items()
                      if k not in ("epochs", "threads", "eval_every") and saved.get(k) != v}
        if mismatched:
            raise ValueError(f"{out} holds a run with other settings {mismatched}; use another --out")
    history = []
    if hist_path.exists():
        history = [json.loads(ln) for ln in hist_path.read_text().splitlines() if ln.strip()]
        history = [h for h in history if h["epoch"] <= start]    # drop lines of an epoch not checkpointed
        atomic_write_text(hist_path, "".join(json.dumps(h) + "\n" for h in history))
    if start == 0 and not history:
        net.eval()
        row = {"epoch": 0, "train_loss": None, "time_s": 0.0, **{f"test_{k}": v for k, v in evaluate(net, test, config.p).items()}}
        history.append(row)
        with hist_path.open("a") as f:
            f.write(json.dumps(row) + "\n")
        if log:
            log(row)

    for epoch in range(start + 1, config.epochs + 1):
        t0 = time.perf_counter()
        rng = np.random.default_rng([config.seed, epoch])
        order = rng.permutation(len(train))
        net.train()
        losses = []
        for b in range(0, len(order), config.batch):
            batch = [train[i] for i in order[b:b + config.batch]]
            tf = [_cubic_group(rng, d) for _ in batch] if config.augment else None
            opt.zero_grad()
            loss, _, _, _, _ = _loss(net, batch, config.p, tf)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), config.clip)
            opt.step()
            losses.append(float(loss.detach()))
        net.eval()
        row: dict[str, Any] = {"epoch": epoch, "train_loss": float(np.mean(losses)),
                               "time_s": time.perf_counter() - t0}
        if test and (epoch % config.eval_every == 0 or epoch == config.epochs):
            row.update({f"test_{k}": v for k, v in evaluate(net, test, config.p).items()})
        _save_checkpoint(ckpt, net, opt, epoch, config)
        with hist_path.open("a") as f:
            f.write(json.dumps(row) + "\n")
        history.append(row)
        if log:
            log(row)

    desc = ParticleGraph(n_species=len(species), r_edge=config.r_edge, species_names=list(species))
    prov = {"trainer": "glassfix.train.botan", "config": asdict(config), "train_keys": [s.key for s in train],
            "test_keys": [s.key for s in test], "final": history[-1] if history else {}, **(provenance or {})}
    model = BotanModel.from_network(net, desc, species, provenance=prov)
    path = model.save(out / model_name)
    return {"model": str(path), "history": history, "final": history[-1] if history else {}}
