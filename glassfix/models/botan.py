"""BOTAN (Shiba et al., J. Chem. Phys. 158, 084503 (2023); seed 004): a weight-tied message-passing
network predicting particle propensity (nodes) and pair-distance change (edges) from the t = 0 structure.

Architecture (digest §4.1, verified against the authors' weights and outputs in ``../shared/data``):
node encoder 1 → 64 → 64 and edge encoder 3 → 64 → 64 (ReLU after both layers); ``n_steps`` cycles of
the *same* edge MLP on [h_src, h_dst, h_e, h_e⁰] (256 → 64 → 64) and node MLP on
[h_v, h_v⁰, Σ_{e: dst(e) = v} h_e] (192 → 64 → 64); one decoder 64 → 64 → 64 → 1 shared by nodes and
edges (the reference code; ``shared_decoder=False`` gives the paper's separate edge decoder). float32,
no normalisation layers. Parameter names follow the reference state dict, so its weights load as they are.

torch is imported only when a network is built (``pip install 'glassfix[torch]'``).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from glassfix.core.frame import Frame, NeighborList
from glassfix.descriptors.base import as_center_indices
from glassfix.descriptors.graph import ParticleGraph
from glassfix.models.base import Predictor, descriptor_from_manifest, register_model
from glassfix.models.botan_mp import infer, linear_relu
from glassfix.models.io import ModelFileError

__all__ = ["BotanModel", "build_network", "parameter_shapes", "EDGE_OUTPUT", "NODE_OUTPUT"]

NODE_OUTPUT = "propensity"
EDGE_OUTPUT = "pair_distance_change"


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("BOTAN models need PyTorch: pip install 'glassfix[torch]' "
                          "(torch==2.13.0, CPU build)") from exc
    return torch


def parameter_shapes(hidden: int = 64, node_in: int = 1, edge_in: int = 3,
                     shared_decoder: bool = True) -> dict[str, tuple[int, ...]]:
    """State-dict names → shapes of a BOTAN network (the reference code's names)."""
    h = int(hidden)
    shapes: dict[str, tuple[int, ...]] = {}

    def lin(name: str, n_in: int, n_out: int) -> None:
        shapes[f"{name}.weight"] = (n_out, n_in)
        shapes[f"{name}.bias"] = (n_out,)

    lin("node_encoder.fc1", node_in, h)
    lin("node_encoder.fc2", h, h)
    lin("edge_encoder.fc1", edge_in, h)
    lin("edge_encoder.fc2", h, h)
    decoders = ["decoder"] if shared_decoder else ["decoder", "edge_decoder"]
    for d in decoders:
        lin(f"{d}.fc1", h, h)
        lin(f"{d}.fc2", h, h)
        lin(f"{d}.fc3", h, 1)
    lin("network.edge_model.mlp.fc1", 4 * h, h)
    lin("network.edge_model.mlp.fc2", h, h)
    lin("network.node_model.mlp.fc1", 3 * h, h)
    lin("network.node_model.mlp.fc2", h, h)
    return shapes


def build_network(hidden: int = 64, n_steps: int = 7, node_in: int = 1, edge_in: int = 3,
                  shared_decoder: bool = True):
    """A fresh (PyTorch-default initialised) BOTAN ``torch.nn.Module``; forward(x, edge_index, edge_attr)
    returns (node_out (N,), edge_out (E,)) (``edges=False``: (node_out, None), skipping the edge decoder)."""
    torch = _torch()
    nn = torch.nn

    F = torch.nn.functional

    def _segments(index, n: int):
        """Edges ordered by ``index`` (stable) and the start of each node's run: bags for embedding_bag."""
        # int32 keys sort ≈ 4× faster than int64 on CPU
        keys = index.to(torch.int32) if n < 2 ** 31 else index
        order = torch.argsort(keys, stable=True)
        offsets = torch.zeros(n, dtype=order.dtype, device=order.device)
        if n > 1:
            offsets[1:] = torch.cumsum(torch.bincount(index, minlength=n), 0)[:-1]
        return order, offsets

    class _Graph:
        """Index arrays of one graph, built once per forward and shared by the 7 cycles (and backward)."""

        def __init__(self, edge_index, n: int) -> None:
            self.n, self.src, self.dst = int(n), edge_index[0].contiguous(), edge_index[1].contiguous()
            # row 2i of a node table viewed as (2n, h) is W_src·h_i, row 2i+1 is W_dst·h_i: bags of two
            self.pairs = torch.stack([2 * self.src, 2 * self.dst + 1], dim=1).reshape(-1)
            self.pair_offsets = torch.arange(0, self.pairs.numel(), 2, dtype=self.pairs.dtype,
                                             device=self.pairs.device)
            # stable: each node sums its incoming edges in edge order, as index_add_ does
            self.in_order, self.in_offsets = _segments(self.dst, self.n)
            self._out = None

        def out_segments(self):
            """Edges grouped by source node (needed only by backward, so built on first use)."""
            if self._out is None:
                self._out = _segments(self.src, self.n)
            return self._out

    class _PairSum(torch.autograd.Function):
        """(n, 2h) table [W_src·h | W_dst·h] → (E, h) W_src·h_src + W_dst·h_dst: one fused gather-add;
        the backward sums per node with two more embedding_bags (no sort per call, unlike autograd's)."""

        @staticmethod
        def forward(ctx, table, g):
            ctx.g = g
            n, two_h = table.shape
            return F.embedding_bag(g.pairs, table.reshape(2 * n, two_h // 2), g.pair_offsets, mode="sum")

        @staticmethod
        def backward(ctx, grad):
            g, grad = ctx.g, grad.contiguous()
            out_order, out_offsets = g.out_segments()
            g_src = F.embedding_bag(out_order, grad, out_offsets, mode="sum")
            g_dst = F.embedding_bag(g.in_order, grad, g.in_offsets, mode="sum")
            return torch.cat([g_src, g_dst], dim=1), None

    class _InSum(torch.autograd.Function):
        """(E, h) → (n, h) sum over each node's incoming edges; the backward is a gather."""

        @staticmethod
        def forward(ctx, he, g):
            ctx.g = g
            return F.embedding_bag(g.in_order, he, g.in_offsets, mode="sum")

        @staticmethod
        def backward(ctx, grad):
            return grad.index_select(0, ctx.g.dst), None

    _linear_relu = linear_relu

    class _TwoLayer(nn.Module):
        """Linear → ReLU → Linear → ReLU (encoders and the message-passing MLPs)."""

        def __init__(self, n_in: int, n_hidden: int) -> None:
            super().__init__()
            self.fc1 = nn.Linear(n_in, n_hidden)
            self.fc2 = nn.Linear(n_hidden, n_hidden)

        def forward(self, x):
            return _linear_relu(self.fc2, _linear_relu(self.fc1, x))

    class _Wrapped(nn.Module):
        """Holds a two-layer MLP as ``.mlp`` (the reference's module nesting, for its parameter names)."""

        def __init__(self, n_in: int, n_hidden: int) -> None:
            super().__init__()
            self.mlp = _TwoLayer(n_in, n_hidden)

        def forward(self, x):
            return self.mlp(x)

    class _Core(nn.Module):
        def __init__(self, n_hidden: int) -> None:
            super().__init__()
            self.edge_model = _Wrapped(4 * n_hidden, n_hidden)
            self.node_model = _Wrapped(3 * n_hidden, n_hidden)

    class _Decoder(nn.Module):
        """Linear → ReLU → Linear → ReLU → Linear (no final activation)."""

        def __init__(self, n_hidden: int) -> None:
            super().__init__()
            self.fc1 = nn.Linear(n_hidden, n_hidden)
            self.fc2 = nn.Linear(n_hidden, n_hidden)
            self.fc3 = nn.Linear(n_hidden, 1)

        def forward(self, x):
            return self.fc3(_linear_relu(self.fc2, _linear_relu(self.fc1, x))).squeeze(-1)

    class BotanNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.n_steps = int(n_steps)
            self.node_encoder = _TwoLayer(node_in, hidden)
            self.edge_encoder = _TwoLayer(edge_in, hidden)
            self.network = _Core(hidden)
            self.decoder = _Decoder(hidden)
            self.edge_decoder = None if shared_decoder else _Decoder(hidden)

        def forward(self, x, edge_index, edge_attr, edges: bool = True):
            # The edge layer W·[h_src, h_dst, h_e, h_e⁰] + b is split into its four column blocks: the two
            # node blocks are applied once per node and gathered per edge (N ≪ E), the h_e⁰ block (tied
            # across cycles) once per forward, so per edge and cycle only W_e·h_e and fc2 remain (2.5×
            # fewer FLOPs than the 256-wide product) and no E×256 concatenation is written. Same
            # parameters (the reference names), same float32 values up to the order of the sums.
            # Without gradients: the same arithmetic blocked over edges so it runs in cache (botan_mp).
            if not torch.is_grad_enabled():
                return infer(self, x, edge_index, edge_attr, edges)
            h = self.decoder.fc1.in_features
            g = _Graph(edge_index, x.shape[0])
            e1, e2 = self.network.edge_model.mlp.fc1, self.network.edge_model.mlp.fc2
            v1, v2 = self.network.node_model.mlp.fc1, self.network.node_model.mlp.fc2
            w_nodes = torch.cat([e1.weight[:, :h], e1.weight[:, h:2 * h]], dim=0)    # [W_src; W_dst]
            w_edge = e1.weight[:, 2 * h:3 * h].t()
            w_v, w_agg = v1.weight[:, :h].t(), v1.weight[:, 2 * h:].t()
            hv0 = self.node_encoder(x)
            he0 = self.edge_encoder(edge_attr)
            c_edge = F.linear(he0, e1.weight[:, 3 * h:], e1.bias)    # the tied h_e⁰ block, once per forward
            c_node = F.linear(hv0, v1.weight[:, h:2 * h], v1.bias)
            hv, he = hv0, he0
            for _ in range(self.n_steps):
                pre = _PairSum.apply(F.linear(hv, w_nodes), g)    # W_src·h_src + W_dst·h_dst per edge
                # in place: no E×h temporaries beyond the two layers' outputs
                pre = pre.add_(c_edge).addmm_(he, w_edge).relu_()
                he = _linear_relu(e2, pre)
                agg = _InSum.apply(he, g)    # Σ over incoming edges
                hv = _linear_relu(v2, torch.addmm(c_node, hv, w_v).addmm_(agg, w_agg).relu_())
            if not edges:    # node outputs only (what predict needs): the E-row decoder is skipped
                return self.decoder(hv), None
            dec_e = self.decoder if self.edge_decoder is None else self.edge_decoder
            return self.decoder(hv), dec_e(he)

    return BotanNet()


@register_model
class BotanModel(Predictor):
    """BOTAN predictor: per-atom propensity (and per-edge pair-distance change via ``predict_edges``).

    The receptive field is ``n_steps × r_edge`` (14σ for the reference). In LAMMPS ``mode local`` runs it
    distributed (:meth:`predict_distributed`: ghosts one edge cutoff deep, their node states exchanged
    between cycles); ``mode gather`` evaluates the whole system on rank 0.
    """

    kind = "botan"
    uses_torch = True    # the LAMMPS bridge limits torch to one thread per MPI rank

    def __init__(self, descriptor: ParticleGraph, species: Sequence[str], state: dict[str, np.ndarray],
                 hidden: int = 64, n_steps: int = 7, shared_decoder: bool = True,
                 provenance: dict[str, Any] | None = None) -> None:
        """``state``: parameter name → float32 array (the reference state-dict names, see parameter_shapes)."""
        if not isinstance(descriptor, ParticleGraph):
            raise ValueError(f"a BOTAN model needs a ParticleGraph descriptor, got {type(descriptor).__name__}")
        super().__init__(descriptor, species, [NODE_OUTPUT], provenance)
        self.hidden, self.n_steps, self.shared_decoder = int(hidden), int(n_steps), bool(shared_decoder)
        if self.hidden < 1 or self.n_steps < 1:
            raise ValueError(f"hidden and n_steps must be positive, got {hidden}, {n_steps}")
        want = parameter_shapes(self.hidden, 1, _edge_dim(state), self.shared_decoder)
        missing = sorted(set(want) - set(state))
        extra = sorted(set(state) - set(want))
        if missing or extra:
            raise ModelFileError(f"BOTAN parameters do not match the architecture (hidden={self.hidden}, "
                                 f"shared_decoder={self.shared_decoder}): missing {missing[:4]}, "
                                 f"unexpected {extra[:4]}")
        for k, shape in want.items():
            if tuple(np.shape(state[k])) != shape:
                raise ModelFileError(f"BOTAN parameter {k} has shape {tuple(np.shape(state[k]))}, expected {shape}")
            if not np.isfinite(state[k]).all():
                raise ModelFileError(f"BOTAN parameter {k} holds non-finite values")
        self.state = {k: np.ascontiguousarray(state[k], dtype=np.float32) for k in want}
        self.edge_dim = want["edge_encoder.fc1.weight"][1]
        self._net = None
        self.device = "cpu"    # where the network evaluates (set_device; fix glass/predict's device keyword)

    # ---- construction -------------------------------------------------------------------------------

    @classmethod
    def from_network(cls, net, descriptor: ParticleGraph, species: Sequence[str],
                     provenance: dict[str, Any] | None = None) -> "BotanModel":
        """Wrap a trained ``build_network`` module (its weights are copied)."""
        state = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in net.state_dict().items()}
        return cls(descriptor, species, state, hidden=net.decoder.fc1.in_features, n_steps=net.n_steps,
                   shared_decoder=net.edge_decoder is None, provenance=provenance)

    @classmethod
    def from_reference_weights(cls, path: str, species: Sequence[str] = ("A", "B"), r_edge: float = 2.0,
                               n_steps: int = 7) -> "BotanModel":
        """Load the authors' weights exported as an npz of state-dict arrays (allow_pickle=False)."""
        with np.load(path, allow_pickle=False) as z:
            state = {k: z[k] for k in z.files}
        hidden = int(state["node_encoder.fc1.weight"].shape[0]) if "node_encoder.fc1.weight" in state else 64
        shared = not any(k.startswith("edge_decoder.") for k in state)
        desc = ParticleGraph(n_species=len(species), r_edge=r_edge, species_names=list(species))
        return cls(desc, species, state, hidden=hidden, n_steps=n_steps, shared_decoder=shared,
                   provenance={"source": str(path)})

    def network(self):
        """The torch module with this model's weights (built once, in eval mode)."""
        if self._net is None:
            torch = _torch()
            net = build_network(self.hidden, self.n_steps, 1, self.edge_dim, self.shared_decoder)
            net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in self.state.items()})
            net.eval()
            self._net = net.to(self.device)
        return self._net

    def set_device(self, device: str) -> None:
        """Evaluate on ``device`` ('cpu', 'cuda', 'cuda:K'); see glassfix.models.device.place_model."""
        self.device = str(device)
        if self._net is not None:
            self._net = self._net.to(self.device)

    # ---- prediction ---------------------------------------------------------------------------------

    @property
    def receptive_field(self) -> float:
        """n_steps × r_edge (length units): every cycle reaches one more edge further."""
        return float(self.n_steps * self.descriptor.cutoff)

    def forward_graph(self, node_feature: np.ndarray, edge_index: np.ndarray,
                      edge_attr: np.ndarray, edges: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """Raw network outputs (node (N,), edge (E,) or None if not ``edges``) float32 for an explicit graph."""
        torch = _torch()
        net = self.network()
        with torch.no_grad():
            x, ei, ea = self._tensors(node_feature, edge_index, edge_attr)
            node, edge = net(x, ei, ea, edges=edges)
        return node.cpu().numpy(), (edge.cpu().numpy() if edge is not None else None)

    def _tensors(self, node_feature: np.ndarray, edge_index: np.ndarray, edge_attr: np.ndarray):
        """(x (N, 1), edge_index (2, E), edge_attr (E, d)) as tensors on the model's device."""
        torch = _torch()
        dev = self.device
        x = torch.as_tensor(np.asarray(node_feature, dtype=np.float32).reshape(-1, 1), device=dev)
        ei = torch.as_tensor(np.asarray(edge_index, dtype=np.int64).reshape(2, -1), device=dev)
        ea = np.asarray(edge_attr, dtype=np.float32)
        ea = torch.as_tensor(ea if ea.size else ea.reshape(0, self.edge_dim), device=dev)
        if ea.shape[1] != self.edge_dim:
            raise ValueError(f"edge vectors have {ea.shape[1]} components; this model was trained on "
                             f"{self.edge_dim}-dimensional systems")
        return x, ei, ea

    # ---- distributed message passing (fix glass/predict mode local) -------------------------------

    @property
    def message_cutoff(self) -> float:
        """r_edge (length units): the ghost shell one rank needs when node states are exchanged per cycle."""
        return float(self.descriptor.cutoff)

    @property
    def halo_width(self) -> int:
        """float32 node-state values per atom exchanged between cycles (the hidden width)."""
        return self.hidden

    @property
    def halo_exchanges(self) -> int:
        """Exchanges per evaluation: after every node update but the last (n_steps − 1)."""
        return self.n_steps - 1

    def predict_distributed(self, species: np.ndarray, edge_index: np.ndarray, edge_vec: np.ndarray,
                            halo: Any, n_owned: int | None = None) -> np.ndarray:
        """Propensities (n_owned,) float64 of one MPI rank's owned atoms (the first ``n_owned`` rows).

        ``species`` (n,) 0-based model species of owned and ghost atoms (owned first; ``n_owned`` None:
        all n rows are owned); ``edge_index`` (2, E) src/dst and ``edge_vec`` (E, d) = r_dst − r_src: every
        edge *into* an owned atom (r < r_edge). ``halo(a)`` overwrites, in place, the ghost rows of ``a``
        ((n, halo_width) float32, C-contiguous) with the rows their owners computed; it is called
        ``halo_exchanges`` times.

        Why this is exact, and what is computed: in the whole-system graph an owned atom's update reads
        its own state and the edges into it; an edge's update reads its own previous state and the node
        states of its two ends. So the edges into owned atoms, and only those, follow the same states as
        in the whole graph as long as their ends' node states do: owned ends are updated here (all their
        incoming edges are present), ghost ends are refreshed from their owners after every cycle that
        precedes another one. Edge states therefore never need exchanging, no edge into a ghost is ever
        built, and a ghost's node state is never computed here: only the rows of owned atoms are updated
        (the node blocks W_src·h, W_dst·h for owned atoms and for the ghosts that are the source of an
        edge, nothing for ghosts in the skin beyond r_edge), and the last cycle's ghost states are not
        needed at all. The owned rows' results are what the owners' ranks compute for the same atoms,
        so every rank's exchange delivers exact states."""
        torch = _torch()
        species = np.asarray(species)
        n = species.shape[0]
        m = n if n_owned is None else int(n_owned)
        src, dst = (np.asarray(a, dtype=np.int64) for a in np.asarray(edge_index).reshape(2, -1))
        if not 0 <= m <= n or (dst.size and (dst.min() < 0 or dst.max() >= m)) or (src.size and src.max() >= n):
            raise ValueError(f"predict_distributed: edges must end on one of the {m} owned rows and start "
                             f"on one of the {n} rows")
        # the network's rows: owned atoms, then the ghosts that are the source of an edge (compacted)
        ghosts = np.unique(src[src >= m])
        local = np.empty(n, dtype=np.int64)
        local[ghosts] = np.arange(m, m + ghosts.size)
        src = np.where(src < m, src, local[src])
        buf = np.zeros((n, self.halo_width), dtype=np.float32)    # the exchange rows, in the rank's order
        dev = self.device

        def exchange(hv):    # owned rows (m, h) -> the network's rows (m + ghosts, h)
            buf[:m] = hv.cpu().numpy() if hv.device.type != "cpu" else hv.numpy()
            halo(buf)
            return torch.cat([hv, torch.from_numpy(buf[ghosts]).to(dev)])

        x, ei, ea = self._tensors(np.concatenate([species[:m], species[ghosts]]).astype(np.float64),
                                  np.stack([src, dst]), edge_vec)
        with torch.no_grad():
            node, _ = infer(self.network(), x, ei, ea, edges=False, n_dst=m, exchange=exchange)
        return node.cpu().numpy().astype(np.float64)

    def predict_graph(self, frame: Frame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(node_out (N,), edge_index (2, E), edge_out (E,)) for the whole frame (float32 outputs)."""
        frame = self._in_model_species(frame)
        x = self.descriptor.compute(frame)
        edge_index, edge_vec = self.descriptor.graph(frame)
        node, edge = self.forward_graph(x, edge_index, edge_vec)
        return node, edge_index, edge

    def predict_edges(self, frame: Frame) -> tuple[np.ndarray, np.ndarray]:
        """(edge_index (2, E) src/dst, predicted pair-distance change (E,)) for edges with r < r_edge."""
        _, edge_index, edge = self.predict_graph(frame)
        return edge_index, edge.astype(np.float64)

    def predict(self, frame: Frame, centers: np.ndarray | None = None,
                neighbors: NeighborList | None = None) -> np.ndarray:
        """Propensity (n_centers, 1) float64. The network runs on the whole frame (in LAMMPS' local mode:
        owned + ghost atoms, exact for atoms at least ``receptive_field`` inside the ghost shell)."""
        idx = neighbors.centers if neighbors is not None else as_center_indices(centers, frame.n_atoms)
        frame = self._in_model_species(frame)
        edge_index, edge_vec = self.descriptor.graph(frame)
        node, _ = self.forward_graph(self.descriptor.compute(frame), edge_index, edge_vec, edges=False)
        return node[idx].astype(np.float64)[:, None]

    def predict_features(self, X: np.ndarray, center_types: np.ndarray) -> np.ndarray:
        """Not available: a GNN needs the graph, not per-atom features (use ``predict``)."""
        raise NotImplementedError("BOTAN predicts from the whole graph; call predict(frame)")

    # ---- persistence --------------------------------------------------------------------------------

    def params(self) -> dict[str, Any]:
        """Architecture hyperparameters."""
        return {"hidden": self.hidden, "n_steps": self.n_steps, "shared_decoder": self.shared_decoder}

    def arrays(self) -> dict[str, np.ndarray]:
        """The network weights (float32), under their state-dict names."""
        return dict(self.state)

    @classmethod
    def from_file_contents(cls, manifest: dict[str, Any], arrays: dict[str, np.ndarray]) -> "BotanModel":
        """Rebuild from a validated manifest and its arrays."""
        desc = descriptor_from_manifest(manifest)
        if not isinstance(desc, ParticleGraph):
            raise ModelFileError(f"a botan model needs a particle_graph descriptor, got {desc.kind!r}")
        if list(manifest["outputs"]) != [NODE_OUTPUT]:
            raise ModelFileError(f"a botan model has the output [{NODE_OUTPUT!r}], got {manifest['outputs']}")
        p = manifest["params"]
        return cls(desc, manifest["species"], dict(arrays), hidden=int(p["hidden"]), n_steps=int(p["n_steps"]),
                   shared_decoder=bool(p["shared_decoder"]), provenance=manifest.get("provenance") or {})


def _edge_dim(state: dict[str, np.ndarray]) -> int:
    """Edge-vector dimension the weights expect (3 for the reference; 2 for a 2D model)."""
    w = state.get("edge_encoder.fc1.weight")
    return int(np.shape(w)[1]) if w is not None and np.ndim(w) == 2 else 3
