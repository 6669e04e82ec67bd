"""The blocked no-grad BOTAN forward (glassfix.models.botan_mp): block boundaries, the per-thread block
runs and the owned-rows-only mode give the per-edge-concatenation baseline's outputs."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from glassfix.models.bench import baseline_forward, compare_outputs  # noqa: E402
from glassfix.models.botan import build_network  # noqa: E402
from glassfix.models.botan_mp import _blocks, infer  # noqa: E402


def _graph(n: int = 120, seed: int = 2):
    """A random directed graph with nodes of 0 to ~25 in-edges (some isolated), edges in random order."""
    rng = np.random.default_rng(seed)
    deg = rng.integers(0, 26, n)
    deg[[3, 50]] = 0
    dst = np.repeat(np.arange(n), deg)
    src = rng.integers(0, n, dst.size)
    perm = rng.permutation(dst.size)
    ei = torch.as_tensor(np.stack([src[perm], dst[perm]]).astype(np.int64))
    ea = torch.as_tensor(rng.normal(size=(dst.size, 3)).astype(np.float32))
    x = torch.as_tensor((rng.uniform(size=(n, 1)) < 0.2).astype(np.float32))
    return x, ei, ea


def test_blocks_cover_whole_destination_runs():
    starts = np.array([0, 0, 3, 3, 10, 11, 30])    # 7 nodes, 40 edges; node 0 has none, node 3 has 7
    blocks = _blocks(starts, 40, 5)
    assert [b[0] for b in blocks][0] == 0 and blocks[-1][1] == 7 and blocks[-1][3] == 40
    for (a, b, s, e), nxt in zip(blocks, blocks[1:] + [None]):
        assert s == starts[a] and (e == 40 if b == 7 else e == starts[b])
        assert nxt is None or (nxt[0] == b and nxt[2] == e)
    assert _blocks(np.zeros(0, dtype=np.int64), 0, 5) == []


@pytest.mark.parametrize("threads", [1, 2])
def test_blocked_forward_equals_the_baseline_for_any_block_size(threads):
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(0)
        net = build_network(hidden=16, n_steps=3, shared_decoder=False).eval()
        x, ei, ea = _graph()
        with torch.no_grad():
            nb, eb = baseline_forward(net, x, ei, ea)
            one_block = infer(net, x, ei, ea, chunk=10 ** 6)
            for chunk in (1, 7, 64):    # block boundaries everywhere; many blocks: the threaded runs
                node, edge = infer(net, x, ei, ea, chunk=chunk)
                compare_outputs(node, nb, "nodes")
                compare_outputs(edge, eb, "edges")
                # blocks change no sum (each node's incoming edges are summed in one block, in edge order);
                # only the GEMM kernel MKL picks for a block's row count may round differently
                compare_outputs(node, one_block[0], "nodes vs one block", tol=1e-6)
                compare_outputs(edge, one_block[1], "edges vs one block", tol=1e-6)
            n_only, none = infer(net, x, ei, ea, edges=False, chunk=7)
        assert none is None
        compare_outputs(n_only, one_block[0], "nodes only", tol=1e-6)
    finally:
        torch.set_num_threads(old)


def test_owned_rows_only_with_an_exact_exchange_equal_the_whole_graph():
    """n_dst owned rows + source-only rows whose states an exchange supplies = the whole graph's values;
    a wrong exchange (states left from the encoder) changes them, so the test can fail."""
    torch.manual_seed(1)
    net = build_network(hidden=16, n_steps=3).eval()
    x, ei, ea = _graph(90, seed=5)
    with torch.no_grad():
        whole, _ = infer(net, x, ei, ea, edges=False)
        states = []    # the whole graph's node states after each cycle, recorded by an identity exchange
        infer(net, x, ei, ea, edges=False, n_dst=90, exchange=lambda hv: states.append(hv.clone()) or hv)
        m = 40
        keep = ei[1] < m    # the edges into the 'owned' rows; their sources anywhere
        calls = iter(states)

        def exchange(hv):
            full = next(calls)
            compare_outputs(hv, full[:m], "owned node states", tol=1e-6)    # the whole graph's
            return torch.cat([hv, full[m:]])

        got, _ = infer(net, x, ei[:, keep], ea[keep], edges=False, n_dst=m, exchange=exchange)
        compare_outputs(got, whole[:m], "owned outputs", tol=1e-6)
        hv0 = net.node_encoder(x)
        stale, _ = infer(net, x, ei[:, keep], ea[keep], edges=False, n_dst=m,
                         exchange=lambda hv: torch.cat([hv, hv0[m:]]))
    assert (stale - whole[:m]).abs().max() > 1e-3 * whole.abs().max()
    with pytest.raises(ValueError, match="only rows < 40"):
        infer(net, x, ei, ea, n_dst=m, exchange=exchange)
