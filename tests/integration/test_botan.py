"""BOTAN network: the authors' pretrained weights reproduce their reference outputs, in Python and in LAMMPS."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from glassfix.core.frame import Frame  # noqa: E402
from glassfix.data.lammps_io import read_dump_frames, write_data  # noqa: E402
from glassfix.descriptors.base import descriptor_from_spec  # noqa: E402
from glassfix.descriptors.graph import ParticleGraph  # noqa: E402
from glassfix.models import ModelFileError, load_model  # noqa: E402
from glassfix.models.botan import BotanModel, build_network, parameter_shapes  # noqa: E402
from helpers.lmp_util import SHARED, error_lines, predict_run_script, run_lmp, shared_ka_frame  # noqa: E402

REF = SHARED / "data" / "botan_reference"
WEIGHTS = REF / "pretrained_edge_model1_state_dict.npz"


@pytest.fixture(scope="module")
def reference():
    with np.load(REF / "reference_forward_config1.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def model():
    return BotanModel.from_reference_weights(str(WEIGHTS))


@pytest.fixture(scope="module")
def float64_outputs(model, reference):
    """The same network and graph evaluated in float64: the yardstick for float32 round-off."""
    net = build_network()
    net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in model.state.items()})
    net = net.double().eval()
    with torch.no_grad():
        node, edge = net(torch.as_tensor(reference["node_feature"], dtype=torch.float64),
                         torch.as_tensor(reference["edge_index"].astype(np.int64)),
                         torch.as_tensor(reference["edge_attr"], dtype=torch.float64))
    return node.numpy(), edge.numpy()


def assert_float32_roundoff(ours, ref, exact):
    """ours agrees with the reference as closely as two float32 evaluations can: its distance from the
    float64 result is no larger (within 2×) than the reference's own, and both are tiny."""
    scale = np.abs(exact).max()
    ref_err = np.abs(ref - exact).max()
    assert ref_err <= 1e-4 * scale, "the float64 yardstick itself disagrees with the reference"
    assert np.abs(ours - exact).max() <= max(2.0 * ref_err, 1e-6 * scale)
    assert np.abs(ours - ref).max() <= 4.0 * ref_err + 1e-6 * scale


def test_architecture_matches_the_reference_weights():
    with np.load(WEIGHTS, allow_pickle=False) as z:
        names = {k: z[k].shape for k in z.files}
    shapes = parameter_shapes()
    assert names == shapes
    assert sum(int(np.prod(s)) for s in shapes.values()) == 54209  # digest §4.1
    assert sum(p.numel() for p in build_network().parameters()) == 54209
    # the paper's variant with its own edge decoder (digest: 62,594 parameters)
    assert sum(int(np.prod(s)) for s in parameter_shapes(shared_decoder=False).values()) == 62594


def test_reference_graph_reproduces_reference_outputs(model, reference, float64_outputs):
    node, edge = model.forward_graph(reference["node_feature"], reference["edge_index"], reference["edge_attr"])
    assert_float32_roundoff(node, reference["node_out"], float64_outputs[0])
    assert_float32_roundoff(edge, reference["edge_out"], float64_outputs[1])


def test_own_graph_from_the_configuration_reproduces_reference(model, reference, float64_outputs):
    """From positions only: our graph equals the reference graph and the outputs agree."""
    frame = shared_ka_frame(1)
    node, edge_index, edge = model.predict_graph(frame)
    np.testing.assert_array_equal(edge_index, reference["edge_index"].astype(np.int64))
    assert_float32_roundoff(node, reference["node_out"], float64_outputs[0])
    assert_float32_roundoff(edge, reference["edge_out"], float64_outputs[1])
    p = model.predict(frame, centers=np.array([5, 3, 4000]))
    assert p.shape == (3, 1) and p.dtype == np.float64
    np.testing.assert_array_equal(p[:, 0], node[[5, 3, 4000]].astype(np.float64))


def small_frame(seed: int = 0, n: int = 300) -> Frame:
    rng = np.random.default_rng(seed)
    L = (n / 1.2) ** (1 / 3)
    return Frame(positions=rng.uniform(0, L, (n, 3)), types=(rng.uniform(size=n) < 0.2).astype(np.int64),
                 cell=np.eye(3) * L, species=("A", "B"))


def test_invariances(model):
    """Permutation (outputs follow the atoms), translation and periodic images leave predictions unchanged."""
    f = small_frame()
    base = model.predict(f)[:, 0]
    perm = np.random.default_rng(1).permutation(f.n_atoms)
    fp = Frame(positions=f.positions[perm], types=f.types[perm], cell=f.cell, species=f.species)
    np.testing.assert_allclose(model.predict(fp)[:, 0], base[perm], rtol=0, atol=1e-5 * np.abs(base).max())
    shift = np.array([0.37, -1.2, 5.5])
    ft = Frame(positions=(f.positions + shift) % f.cell[0, 0], types=f.types, cell=f.cell, species=f.species)
    np.testing.assert_allclose(model.predict(ft)[:, 0], base, rtol=0, atol=1e-5 * np.abs(base).max())
    images = f.positions + np.random.default_rng(2).integers(-2, 3, (f.n_atoms, 3)) * f.cell[0, 0]
    fi = Frame(positions=images, types=f.types, cell=f.cell, species=f.species)
    np.testing.assert_allclose(model.predict(fi)[:, 0], base, rtol=0, atol=1e-5 * np.abs(base).max())


def test_save_load_roundtrip_and_species_by_name(tmp_path, model):
    path = model.save(tmp_path / "botan.glassfix")
    loaded = load_model(path)
    assert isinstance(loaded, BotanModel) and loaded.receptive_field == pytest.approx(14.0)
    f = small_frame(3)
    np.testing.assert_array_equal(loaded.predict(f), model.predict(f))
    # a frame naming its species in the other order is mapped by name
    fs = Frame(positions=f.positions, types=1 - f.types, cell=f.cell, species=("B", "A"))
    np.testing.assert_array_equal(loaded.predict(fs), model.predict(f))
    spec = loaded.descriptor.spec()
    assert isinstance(descriptor_from_spec(spec), ParticleGraph) and spec["r_edge"] == 2.0


def test_inconsistent_weights_are_rejected(tmp_path, model):
    state = dict(model.state)
    state["decoder.fc3.weight"] = np.zeros((1, 32), np.float32)
    with pytest.raises(ModelFileError, match="decoder.fc3.weight"):
        BotanModel(model.descriptor, model.species, state)
    state = dict(model.state)
    del state["network.node_model.mlp.fc2.bias"]
    with pytest.raises(ModelFileError, match="missing"):
        BotanModel(model.descriptor, model.species, state)
    state = dict(model.state)
    state["decoder.fc1.bias"] = np.full(64, np.nan, np.float32)
    with pytest.raises(ModelFileError, match="non-finite"):
        BotanModel(model.descriptor, model.species, state)


def test_trained_network_round_trips(tmp_path):
    net = build_network(hidden=16, n_steps=2, shared_decoder=False)
    m = BotanModel.from_network(net, ParticleGraph(2, 1.5, ["A", "B"]), ["A", "B"])
    assert m.params() == {"hidden": 16, "n_steps": 2, "shared_decoder": False}
    f = small_frame(4, 120)
    np.testing.assert_array_equal(load_model(m.save(tmp_path / "m.glassfix")).predict(f), m.predict(f))


@pytest.mark.slow
def test_lammps_gather_mode_reproduces_reference(tmp_path, plugin_so, model, reference, float64_outputs):
    """fix glass/predict with the BOTAN model (mode gather, 2 ranks) gives the reference propensities, and
    so does mode local (distributed message passing, tests/test_botan_distributed.py)."""
    path = model.save(tmp_path / "botan.glassfix")
    write_data(shared_ka_frame(1), tmp_path / "ka.data", masses=[1.0, 1.0])
    script = predict_run_script(plugin_so, tmp_path / "ka.data", path, "mode gather",
                                extra="compute m all reduce ave f_p\nthermo_style custom step pe c_m")
    proc = run_lmp(script, tmp_path, nprocs=2, timeout=300)
    assert proc.returncode == 0 and not error_lines(proc.stdout), proc.stdout[-3000:]
    got = read_dump_frames(tmp_path / "out.dump")[0].metadata["columns"]["f_p"]
    assert_float32_roundoff(got, reference["node_out"], float64_outputs[0])

    # the offline CLI on the same data file gives the same values
    import subprocess
    import sys

    subprocess.run([sys.executable, "-m", "glassfix.cli", "predict", "--model", str(path), "--frame",
                    str(tmp_path / "ka.data"), "--out", str(tmp_path / "p.npy")], check=True, timeout=300)
    assert_float32_roundoff(np.load(tmp_path / "p.npy"), reference["node_out"], float64_outputs[0])

    # mode local runs distributed (ghosts one edge cutoff deep, which the pair style's shell already
    # covers; node states exchanged between cycles): the same values
    local = script.replace("mode gather", "mode local")
    proc = run_lmp(local, tmp_path / "local", nprocs=2, timeout=300)
    assert proc.returncode == 0 and not error_lines(proc.stdout), proc.stdout[-3000:]
    loc = read_dump_frames(tmp_path / "local" / "out.dump")[0].metadata["columns"]["f_p"]
    assert np.abs(loc - got).max() <= 1e-5 * np.abs(got).max()


def test_split_weight_forward_equals_the_concatenating_baseline(model):
    """The model's forward (edge layer split into node / edge / h_e⁰ blocks, fused gathers) gives the
    per-edge-concatenation baseline's outputs and gradients to float32 round-off, on an unsorted graph
    with an isolated atom; node-only evaluation gives the same node outputs."""
    from glassfix.models.bench import ROUNDOFF, baseline_forward, compare_outputs

    f = small_frame(5, 200)
    ei, ev = model.descriptor.graph(f)
    rng = np.random.default_rng(7)
    perm = rng.permutation(ei.shape[1])
    ei, ev = ei[:, perm], ev[perm]
    keep = (ei[0] != f.n_atoms - 1) & (ei[1] != f.n_atoms - 1)    # the last atom becomes isolated
    ei, ev = ei[:, keep], ev[keep]
    x = torch.as_tensor(model.descriptor.compute(f).astype(np.float32).reshape(-1, 1))
    ei_t, ea_t = torch.as_tensor(ei.astype(np.int64)), torch.as_tensor(ev.astype(np.float32))
    for net in (model.network(), build_network(hidden=16, n_steps=3, shared_decoder=False)):
        with torch.no_grad():
            nf, ef = net(x, ei_t, ea_t)
            nb, eb = baseline_forward(net, x, ei_t, ea_t)
            n_only, none = net(x, ei_t, ea_t, edges=False)
            # float64 yardstick: both float32 evaluations are as close to it as each other
            net64 = build_network(net.decoder.fc1.in_features, net.n_steps, 1, 3, net.edge_decoder is None)
            net64.load_state_dict(net.state_dict())
            n64, e64 = net64.double()(x.double(), ei_t, ea_t.double())
        assert none is None and torch.equal(n_only, nf)
        compare_outputs(nf, nb, "nodes")
        compare_outputs(ef, eb, "edges")
        for ours, base, exact in ((nf, nb, n64), (ef, eb, e64)):
            scale = exact.abs().max().item()
            assert (ours.double() - exact).abs().max().item() <= max(4 * (base.double() - exact).abs().max().item(),
                                                                     ROUNDOFF / 10 * scale)
        # gradients: float32 gradients are far noisier than the outputs, so compare both variants'
        # distances from the float64 gradients, parameter by parameter
        def grads(net, fwd, dtype):
            net.zero_grad(set_to_none=True)
            node, edge = fwd(x.to(dtype), ei_t, ea_t.to(dtype))
            (0.4 * (node ** 2).mean() + 0.6 * ((edge - 0.3) ** 2).mean()).backward()
            return {k: p.grad.double() for k, p in net.named_parameters()}

        g_fast = grads(net, net.forward, torch.float32)
        g_base = grads(net, lambda *a: baseline_forward(net, *a), torch.float32)
        g64 = grads(net64, net64.forward, torch.float64)
        rel = {k: ((g_fast[k] - g64[k]).abs().max().item(), (g_base[k] - g64[k]).abs().max().item(),
                   g64[k].abs().max().item()) for k in g64}
        worst_fast = max(a / s for a, _, s in rel.values())
        worst_base = max(b / s for _, b, s in rel.values())
        # float32 gradients through 7 cycles scatter by up to ≈ 2e-3 of their scale for either variant
        # (which one is closer depends on the edge order); a wrong term would be O(1)
        assert worst_fast <= max(4 * worst_base, 5e-3), (worst_fast, worst_base)
