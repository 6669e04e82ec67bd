"""BOTAN inference kernel: the no-grad message passing of :mod:`glassfix.models.botan`, blocked over edges.

One cycle's edge update is a chain of E-row steps (gather of the node blocks, + the h_e⁰ block,
+ W_e·h_e, ReLU, the second layer, the sum into the destination). Done one full E × 64 tensor at a time
(the autograd forward) every step streams ≈ 40 MB through memory for the 4096 graph; here the edges are
grouped by destination and processed in blocks of whole destination nodes (``CHUNK_EDGES`` edges, ≈ 1 MB
per tensor), so the chain runs in cache and only h_e (updated in place: an edge's new state depends on
its own old state and the node states, never on other edges) and the tied h_e⁰ block travel through
memory once per cycle. The arithmetic is the autograd forward's, term by term; each node still sums its
incoming edges in the given edge order (stable grouping).

Distributed message passing (``n_dst`` < rows, ``exchange``): only the first ``n_dst`` nodes (a rank's
owned atoms) are destinations and get node updates; the other rows are sources only (ghosts), whose
states ``exchange`` supplies after every cycle but the last.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

__all__ = ["infer", "linear_relu", "CHUNK_EDGES"]

# edges per block: 4096 × 64 float32 = 1 MB per per-edge tensor, a few of them live at once (L2 / L3)
CHUNK_EDGES = 4096

_FUSED: bool | None = None


def _fused_available() -> bool:
    global _FUSED
    if _FUSED is None:
        import torch

        _FUSED = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")
    return _FUSED


def linear_relu(layer, x):
    """relu(layer(x)); in inference on the CPU as one oneDNN call with the bias and the ReLU fused
    into the product (node-level layers and full-tensor calls; blocks of E rows use _dense_relu)."""
    import torch

    if (_fused_available() and not torch.is_grad_enabled() and x.device.type == "cpu"
            and x.dtype == torch.float32 and x.is_contiguous() and x.shape[0] > 0):
        return torch.ops.mkldnn._linear_pointwise(x, layer.weight, layer.bias, "relu", [], "")
    return layer(x).relu_()


def _dense_relu(layer, x, out=None):
    """relu(x Wᵀ + b), written into ``out`` when given (a block of a larger tensor): MKL's GEMM then one
    in-cache ReLU pass, faster on ≈ 4096-row blocks than oneDNN's fused call plus a copy."""
    import torch

    return torch.addmm(layer.bias, x, layer.weight.t(), out=out).relu_()


_POOL: dict[tuple[int, int], Any] = {}


def _over_blocks(fn: Callable[[int], Any], n_blocks: int, dev) -> list:
    """[fn(0), …, fn(n_blocks − 1)]. With several torch threads on the CPU the blocks are split into
    contiguous runs, one per thread, each run in a Python thread with single-threaded torch ops (they
    release the GIL): thousands of small ops would otherwise each open and close an OpenMP team, whose
    barriers stall whenever the machine is shared and one of its threads is descheduled."""
    import torch

    threads = torch.get_num_threads()
    if threads <= 1 or dev.type != "cpu" or n_blocks < 2 * threads:
        return [fn(i) for i in range(n_blocks)]
    from concurrent.futures import ThreadPoolExecutor

    key = (os.getpid(), threads)    # a forked child has none of its parent's pool threads
    pool = _POOL.get(key)
    if pool is None:
        pool = _POOL[key] = ThreadPoolExecutor(threads, thread_name_prefix="botan")
    runs = np.array_split(np.arange(n_blocks), threads)

    def run(ids):
        torch.set_num_threads(1)    # this thread's OpenMP team (and MKL's) during the block phase
        with torch.no_grad():    # grad mode is per thread
            return [fn(int(i)) for i in ids]

    torch.set_num_threads(1)
    try:
        results = list(pool.map(run, runs))
    finally:
        torch.set_num_threads(threads)
    return [r for part in results for r in part]


def _blocks(starts: np.ndarray, n_edges: int, chunk: int) -> list[tuple[int, int, int, int]]:
    """(first node, end node, first edge, end edge) of runs of whole destination nodes with ≈ chunk edges."""
    m = starts.shape[0]
    cuts = np.searchsorted(starts, np.arange(chunk, n_edges, chunk), side="left")
    nodes = [0, *np.unique(cuts[(cuts > 0) & (cuts < m)]).tolist(), m]
    edge_at = [int(starts[a]) if a < m else int(n_edges) for a in nodes]
    return [(nodes[k], nodes[k + 1], edge_at[k], edge_at[k + 1]) for k in range(len(nodes) - 1)
            if nodes[k + 1] > nodes[k]]


def infer(net, x, edge_index, edge_attr, edges: bool = True, n_dst: int | None = None,
          exchange: Callable[[Any], Any] | None = None, chunk: int = CHUNK_EDGES):
    """No-grad BOTAN forward of ``net`` (a build_network module): (node_out (n_dst,), edge_out (E,) or None).

    ``x`` (n, 1) node features, ``edge_index`` (2, E) src/dst, ``edge_attr`` (E, d) r_dst − r_src. With
    ``n_dst`` every destination must be < n_dst; node states and outputs are those of rows < n_dst, and
    ``exchange(hv (n_dst, h)) -> (n, h)`` returns all rows' states (rows ≥ n_dst from their owners)
    between cycles (without it, n_dst must be n)."""
    import torch

    F = torch.nn.functional
    n = int(x.shape[0])
    m = n if n_dst is None else int(n_dst)
    if m != n and exchange is None:
        raise ValueError(f"n_dst = {m} < {n} rows needs an exchange of the other rows' node states")
    h = net.decoder.fc1.in_features
    e1, e2 = net.network.edge_model.mlp.fc1, net.network.edge_model.mlp.fc2
    v1, v2 = net.network.node_model.mlp.fc1, net.network.node_model.mlp.fc2
    src, dst = edge_index[0], edge_index[1]
    n_e = int(src.numel())
    dev = edge_attr.device

    # edges grouped by destination; stable, so each node sums its incoming edges in the given order
    keys = dst.to(torch.int32) if m < 2 ** 31 else dst
    order = torch.argsort(keys, stable=True)
    counts = torch.bincount(dst, minlength=m)
    if counts.numel() != m:
        raise ValueError(f"an edge ends on row {int(dst.max())}, but only rows < {m} are destinations")
    starts = (torch.cumsum(counts, 0) - counts).cpu().numpy()
    # row 2i of the node table viewed as (2n, h) is W_src·h_i, row 2i+1 is W_dst·h_i: bags of two
    pairs = torch.stack([2 * src[order], 2 * dst[order] + 1], dim=1).reshape(-1)
    blocks = _blocks(starts, n_e, max(1, int(chunk)))
    widest = max([e - s for _, _, s, e in blocks], default=0)
    pair_offsets = torch.arange(0, 2 * widest, 2, dtype=torch.int64, device=dev)
    rows = torch.arange(widest, dtype=torch.int64, device=dev)
    in_offsets = [torch.as_tensor(starts[a:b] - s, dtype=torch.int64, device=dev) for a, b, s, _ in blocks]

    w_nodes = torch.cat([e1.weight[:, :h], e1.weight[:, h:2 * h]], dim=0)    # [W_src; W_dst]
    w_edge, w_e0 = e1.weight[:, 2 * h:3 * h].t(), e1.weight[:, 3 * h:].t()
    w_v, w_agg = v1.weight[:, :h].t(), v1.weight[:, 2 * h:].t()
    dtype = edge_attr.dtype
    # h_e (updated in place, block by block) and the tied h_e⁰ block W_e⁰·h_e⁰ + b, encoded by blocks
    he = torch.empty((n_e, h), dtype=dtype, device=dev)
    c_edge = torch.empty((n_e, h), dtype=dtype, device=dev)
    enc = net.edge_encoder
    dec_e = net.decoder if net.edge_decoder is None else net.edge_decoder
    edge = torch.empty(n_e, dtype=dtype, device=dev) if edges else None

    def encode(i: int) -> None:
        s, e = blocks[i][2:]
        _dense_relu(enc.fc2, _dense_relu(enc.fc1, edge_attr[order[s:e]]), out=he[s:e])
        torch.addmm(e1.bias, he[s:e], w_e0, out=c_edge[s:e])

    def update(i: int, table, last: bool):
        """One block's edge update; returns the sums of its edges per destination node."""
        a, b, s, e = blocks[i]
        k = e - s
        if k == 0:    # destinations without incoming edges sum nothing
            return torch.zeros((b - a, h), dtype=dtype, device=dev)
        pre = F.embedding_bag(pairs[2 * s:2 * e], table, pair_offsets[:k], mode="sum")
        pre.add_(c_edge[s:e]).addmm_(he[s:e], w_edge).relu_()
        _dense_relu(e2, pre, out=he[s:e])
        if last and edges:    # decode the final edge states while they are in cache
            edge[s:e] = dec_e.fc3(_dense_relu(dec_e.fc2, _dense_relu(dec_e.fc1, he[s:e]))).squeeze(-1)
        return F.embedding_bag(rows[:k], he[s:e], in_offsets[i], mode="sum")    # Σ over incoming edges

    _over_blocks(encode, len(blocks), dev)
    hv = net.node_encoder(x)
    c_node = F.linear(hv[:m], v1.weight[:, h:2 * h], v1.bias)
    for cycle in range(net.n_steps):
        last = cycle == net.n_steps - 1
        table = F.linear(hv, w_nodes).reshape(2 * hv.shape[0], h)
        agg = _over_blocks(lambda i: update(i, table, last), len(blocks), dev)
        agg = torch.cat(agg) if agg else torch.zeros((m, h), dtype=dtype, device=dev)
        hv_new = _dense_relu(v2, torch.addmm(c_node, hv[:m], w_v).addmm_(agg, w_agg).relu_())
        if not last and exchange is not None:
            hv = exchange(hv_new)
        else:
            hv = hv_new
    node = net.decoder(hv[:m])
    if not edges:    # node outputs only (what predict needs): the E-row decoder is skipped
        return node, None
    out = torch.empty_like(edge)
    out[order] = edge    # back to the given edge order
    return node, out
