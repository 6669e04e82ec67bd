"""tGlassMLP / GlassMLP (model kind ``tglassmlp``, trainer ``glassfix train tglassmlp``): network against a
numpy reference, attention normalisation, constrained mean, loss terms by hand, transfer filter, model
files, training, FIRE, and the model in ``fix glass/predict`` (2D JBB, mpirun -np 2) and the OpenMM reporter."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from glassfix.core.frame import Frame  # noqa: E402
from glassfix.descriptors.coarse_grained import CoarseGrainedDescriptor  # noqa: E402
from glassfix.models.tglassmlp import TGlassMLPModel, constrained_inputs  # noqa: E402
from glassfix.models.tglassmlp_net import (count_parameters, init_parameters, stack_members,  # noqa: E402
                                           state_embedding)
from glassfix.systems import get_system  # noqa: E402
from glassfix.train.tglassmlp import (TGlassConfig, glassmlp_loss, mean_predictions, mse_loss,  # noqa: E402
                                      select_networks, schedule, train_tglassmlp)
from glassfix.train.tglassmlp_data import pair_bins  # noqa: E402

SPECIES = ["A", "B", "C"]


def _desc(max_range: float = 20.0) -> CoarseGrainedDescriptor:
    return CoarseGrainedDescriptor(3, pair_energy="jbb", species_names=SPECIES, voronoi_backend="numba",
                                   max_range=max_range)


def _model(E: int = 3, variant: str = "tglassmlp", quench: str = "none", seed: int = 0, **kw) -> TGlassMLPModel:
    d = _desc()
    rng = np.random.default_rng(seed)
    p = stack_members([init_parameters(d.n_features, variant, seed * 10 + k) for k in range(E)])
    return TGlassMLPModel(d, SPECIES, rng.normal(0, 0.1, d.n_features), rng.uniform(0.5, 2, d.n_features), p,
                          kw.pop("temperature", 0.4), kw.pop("targets", [0.9, 0.5]), variant=variant, quench=quench,
                          **kw)


def _jbb_frame(n: int = 172, seed: int = 1, jitter: float = 0.1) -> Frame:
    f = get_system("jbb").initial_frame(n, seed=seed)
    rng = np.random.default_rng(seed)
    return dataclasses.replace(f, positions=f.positions + rng.normal(0, jitter, f.positions.shape))


@pytest.fixture(scope="module")
def is_frame():
    """A small 2D JBB inherent structure (N = 172, L = 12.0 < 2R: every periodic image within R = 20 counts)."""
    from glassfix.systems.minimize import fire_minimize

    res = fire_minimize(_jbb_frame(), get_system("jbb").potential(), ftol=1e-8)
    assert res.converged
    f = res.frame
    return dataclasses.replace(f, positions=f.positions % np.diag(f.cell))    # wrapped: still a minimum


# ---- network -----------------------------------------------------------------------------------------

def _numpy_forward(p: dict[str, np.ndarray], S: np.ndarray, z: np.ndarray, variant: str, e: int = 0):
    """Brute-force reference of one member, particle by particle (digest §5.1)."""
    elu = lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0)))  # noqa: E731

    def mlp(prefix, x):
        for k in range(3):
            x = p[f"{prefix}.{k}.weight"][e] @ x + p[f"{prefix}.{k}.bias"][e]
            x = elu(x) if k < 2 else x
        return x

    out, ws, bs = [], [], []
    for s in S:
        if variant == "tglassmlp":
            m = mlp("mlp1", z)
            f = p["att_f"][e]
            A = s * f[0] + m[0] * f[1] + m[1] * f[2] + f[3]
            w = np.exp(A - A.max())
            w /= w.sum()
            b = p["bottleneck.weight"][e] @ (s * w) + p["bottleneck.bias"][e]
            h = np.concatenate([b, mlp("mlp2", z)])
            ws.append(w)
        else:
            b = p["bottleneck.weight"][e] @ s + p["bottleneck.bias"][e]
            h = b
        bs.append(b)
        out.append(mlp("head", h)[0])
    return np.array(out), (np.array(ws) if ws else None), np.array(bs)


@pytest.mark.parametrize("variant", ["tglassmlp", "glassmlp"])
def test_forward_shapes_attention_and_numpy_reference(variant):
    model = _model(E=3, variant=variant)
    rng = np.random.default_rng(3)
    S = rng.normal(size=(7, 176))
    X, w, b = model.evaluate(S, 0.35, 0.8, extras=True)
    assert X.shape == (3, 7) and b.shape == (3, 7, 2)
    z = state_embedding(0.35, 0.8)
    np.testing.assert_allclose(z, [1 / 0.35, 0.35 ** -2, 0.35 ** -3, 0.8, 0.64, 0.512])
    for e in range(3):
        Xr, wr, br = _numpy_forward(model.weights, S, z, variant, e)
        np.testing.assert_allclose(X[e], Xr, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(b[e], br, rtol=1e-12, atol=1e-12)
        if variant == "tglassmlp":
            np.testing.assert_allclose(w[e], wr, rtol=1e-12, atol=1e-15)
    if variant == "tglassmlp":
        assert w.shape == (3, 7, 176)
        np.testing.assert_allclose(w.sum(axis=-1), 1.0, atol=1e-12)      # softmax over the 176 descriptors
        assert count_parameters(176, variant) == 1484
        # the state point changes the weights (through m)
        assert np.abs(model.evaluate(S, 0.5, 0.3, extras=True)[1] - w).max() > 1e-6
    else:
        assert w is None and count_parameters(176, variant) == 505
        np.testing.assert_array_equal(model.evaluate(S, 0.5, 0.3), X)    # no state input
    L = model.feature_lengths
    assert L.shape == (176,) and list(L[:4]) == [0.0] * 4 and L[4] == 1.0 and L[44] == 0.0


def test_predict_on_frame_nan_for_other_species_and_model_file_bit_identical(is_frame, tmp_path):
    from glassfix.models import load_model

    model = _model(E=2, quench="fire")
    P = model.predict(is_frame)
    a = is_frame.types == 0
    assert P.shape == (is_frame.n_atoms, 2) and np.isfinite(P[a]).all() and np.isnan(P[~a]).all()
    assert model.output_names == ["cb_0.9", "cb_0.5"] and math.isinf(model.receptive_field)
    loaded = load_model(model.save(tmp_path / "tg.glassfix"))
    assert isinstance(loaded, TGlassMLPModel) and loaded.manifest() == model.manifest()
    np.testing.assert_array_equal(loaded.predict(is_frame), P)      # save -> load -> predict bit-identical
    X, centers = model.descriptors(is_frame)
    np.testing.assert_array_equal(centers, np.flatnonzero(a))
    np.testing.assert_array_equal(model.predict_features(X, np.zeros(len(X), dtype=int)), P[a])
    # a different state through the small API, persisted in the file
    loaded.set_state(temperature=0.3, targets=[0.7])
    assert loaded.output_names == ["cb_0.7"]
    again = load_model(loaded.save(tmp_path / "tg2.glassfix"))
    assert again.temperature == 0.3 and again.targets.tolist() == [0.7]
    with pytest.raises(ValueError, match="temperature"):
        loaded.set_state(temperature=-1)


# ---- constrained mean --------------------------------------------------------------------------------

@pytest.mark.parametrize("slope", [1.2, -0.9])
def test_constrained_mean_known_answer_and_sign(slope):
    """X̄(c) = slope·c + 0.1: the answer is c* = (target − 0.1)/slope; the sign is found numerically and each
    of the 6 corrections shrinks the error by |1 − 0.75 |slope|| (0.1 and 0.325 here)."""
    f = lambda c: slope * c + 0.1  # noqa: E731
    c, xbar, it, s = constrained_inputs(f, 0.5, tol=1e-12)
    assert s == np.sign(slope) and it == 6
    e0 = abs(f(0.5) - 0.5)
    want = e0 * abs(1 - 0.75 * abs(slope)) ** 6
    assert abs(abs(xbar - 0.5) - want) < 1e-12 and abs(c - (xbar - 0.1) / slope) < 1e-12
    assert abs(c - (0.5 - 0.1) / slope) < 2e-3
    # converged early when the tolerance is met
    assert constrained_inputs(f, 0.5, tol=2e-2)[2] < 6
    # the printed sign (+) diverges for an increasing X̄(C): the error grows
    c_wrong = 0.5 + 0.75 * (f(0.5) - 0.5)
    if slope > 0:
        assert abs(f(c_wrong) - 0.5) > abs(f(0.5) - 0.5)


def test_predict_states_constrains_the_set_mean_not_each_frame():
    model = _model(E=2, targets=[0.6])
    rng = np.random.default_rng(5)
    frames = [rng.normal(size=(50, 176)) + 0.3 * k for k in range(3)]    # descriptor rows per "frame"
    free = model.predict_states(frames, 0.4, [0.6], constrained=False)
    res = model.predict_states(frames, 0.4, [0.6], constrained=True)
    assert len(res.mean) == 3 and res.mean[0].shape == (50, 1) and res.members[0].shape == (2, 50, 1)
    pooled = np.concatenate([m[:, 0] for m in res.mean]).mean()
    np.testing.assert_allclose(res.set_mean[0], pooled, rtol=1e-12)
    assert abs(pooled - 0.6) <= abs(np.concatenate([m[:, 0] for m in free.mean]).mean() - 0.6)
    # the same input for every frame: their means still differ (sample-to-sample fluctuations kept)
    assert np.ptp([m.mean() for m in res.mean]) > 1e-6
    c_ref = constrained_inputs(lambda c: model.evaluate(np.concatenate([model.standardize(f) for f in frames]),
                                                        0.4, c).mean(), 0.6)[0]
    assert res.inputs[0] == c_ref
    model.calibrate(frames, 0.4, [0.6])      # stored: single-frame predictions (the fix) use the corrected input
    assert model.inputs[0] == res.inputs[0] and model.targets.tolist() == [0.6]
    np.testing.assert_allclose(model.predict_features(frames[1], np.zeros(50, dtype=int))[:, 0], res.mean[1][:, 0],
                               rtol=1e-12, atol=1e-15)    # (one frame vs the set in one product: round-off)
    std = np.concatenate([s[:, 0] for s in res.std])
    assert np.all(std >= 0) and std.max() > 0     # spread across the 2 members


# ---- losses ------------------------------------------------------------------------------------------

def test_loss_terms_against_hand_computed_values():
    # 4 particles on a line in a 10×10 box: distances 1 (0-1, 1-2), 2 (0-2), 3 (0-3 via the image),
    # 4 (1-3 via the image); 2-3 is at exactly r_max = 5 and excluded
    pos = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [7.0, 0.0]])
    pairs = pair_bins(pos, np.eye(2) * 10.0, r_max=5.0, dr=1.0)
    got = {(int(i), int(j)): int(b) for i, j, b in zip(pairs.i, pairs.j, pairs.bin)}
    assert got == {(0, 1): 1, (1, 2): 1, (0, 2): 2, (0, 3): 3, (1, 3): 4}
    X = torch.tensor([0.2, 0.4, 0.6, 0.8], dtype=torch.float64)
    y = torch.tensor([0.1, 0.5, 0.5, 0.9], dtype=torch.float64)
    assert abs(float(mse_loss(X, y)) - (0.01 + 0.01 + 0.01 + 0.01) / 4) < 1e-15
    total, mae, var, corr = glassmlp_loss(X, y, pairs, lam_v=2.0, lam_c=3.0)
    assert abs(float(mae) - 0.1) < 1e-15
    sx, sy = math.sqrt(0.05), math.sqrt(0.08)       # population std: Σδ²/4 = 0.2/4, 0.32/4
    assert abs(float(var) - abs(sx - sy)) < 1e-15
    dX = np.array([-0.3, -0.1, 0.1, 0.3])
    dy = np.array([-0.4, 0.0, 0.0, 0.4])
    # bins: 1 → pairs (0,1), (1,2); 2 → (0,2); 3 → (0,3); 4 → (1,3)
    G = lambda d: [(d[0] * d[1] + d[1] * d[2]) / 2, d[0] * d[2], d[0] * d[3], d[1] * d[3]]  # noqa: E731
    want_corr = sum(abs(a - b) for a, b in zip(G(dX), G(dy)))
    assert abs(float(corr) - want_corr) < 1e-15
    assert abs(float(total) - (0.1 + 2 * abs(sx - sy) + 3 * want_corr)) < 1e-14


def test_schedule_is_table_2_scaled():
    assert schedule(1.0) == [(10, 1e-3, "mse"), (50, 5e-4, "mse"), (25, 2e-4, "mse"), (50, 4e-5, "glassmlp")]
    assert [n for n, _, _ in schedule(0.05)] == [1, 3, 2, 3]


# ---- transfer filter ---------------------------------------------------------------------------------

def _constant_net(F: int, value: float) -> dict[str, np.ndarray]:
    """A tglassmlp member whose output is ``value`` for every input (head weights 0)."""
    p = init_parameters(F, "tglassmlp", 1)
    for k in range(3):
        p[f"head.{k}.weight"][:] = 0.0
        p[f"head.{k}.bias"][:] = 0.0
    p["head.2.bias"][:] = value
    return p


def test_transfer_filter_keeps_the_self_consistent_network():
    rng = np.random.default_rng(0)
    S = [rng.normal(size=(30, 176)), rng.normal(size=(20, 176))]
    C = 0.8
    good, bad = _constant_net(176, C), _constant_net(176, C + 0.05)
    dev = [abs(float(mean_predictions(p, S, 0.3, C, "tglassmlp")[0]) - C) for p in (good, bad)]
    assert dev[0] < 1e-12 and abs(dev[1] - 0.05) < 1e-12
    kept, tol, relaxed = select_networks(np.array(dev), 1e-4)
    assert kept.tolist() == [0] and tol == 1e-4 and relaxed == 0
    # none passes: the tolerance is relaxed (and reported), then the closer one is kept
    kept, tol, relaxed = select_networks(np.array([0.05, 0.002]), 1e-4, relax_factor=10, max_relax=3)
    assert kept.tolist() == [1] and tol == pytest.approx(1e-2) and relaxed == 2
    kept, tol, relaxed = select_networks(np.array([0.5]), 1e-4, max_relax=1)
    assert kept.size == 0


# ---- training ----------------------------------------------------------------------------------------

def _toy_store(path, n: int = 86, per_T: int = 3, temps=(0.5, 0.4, 0.3), labelled=(0.5, 0.4), targets=(0.9, 0.6)):
    """Frames at three T; labels (learnable: the number of neighbours within 1.5σ, a smoothed density) at
    two, none at 0.3 (the pseudo-label candidates)."""
    from glassfix.core.neighbors import neighbor_list
    from glassfix.data.store import DatasetStore

    rng = np.random.default_rng(0)
    with DatasetStore(path, "w") as ds:
        for T in temps:
            for k in range(per_T):
                f = _jbb_frame(n, seed=int(rng.integers(1 << 20)), jitter=0.15)
                labels = {}
                if T in labelled:
                    cnt = neighbor_list(f, 1.5).counts().astype(float)
                    u = (cnt - cnt.mean()) / cnt.std()
                    for j, C in enumerate(targets):
                        cb = C + 0.5 * (1 - C) * u
                        cb += C - cb[f.types == 0].mean()
                        labels[f"bond_breaking/t={j + 1}"] = (cb, {"bb_target": C, "T": T})
                ds.add_frame(f, key=f"swap/jbb/T{T:g}/{k:05d}", group=f"g{T}-{k}", system="jbb", temperature=T,
                             labels=labels)
    return path


def test_training_reduces_the_loss_resumes_and_reports(tmp_path):
    store = _toy_store(tmp_path / "toy.h5")
    cfg = TGlassConfig(t_min=0.4, n_step1=1, n_step2=2, epochs_scale=0.08, quench="none", tol=1e-3,
                       test_fraction=0.34)
    logs: list[str] = []
    res = train_tglassmlp(store, tmp_path / "run", cfg, log=logs.append)
    model_path = tmp_path / "run" / "tglassmlp.glassfix"
    assert res["model"] == str(model_path) and model_path.exists()
    for name in ("metrics.json", "report.md", "report_tglassmlp.png"):
        assert (tmp_path / "run" / name).exists()
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert m["transfer"]["low_temperatures"] == [0.3] and set(m["transfer"]["step1"]) == {"0.6", "0.9"}
    assert {(r["T"], r["C"]) for r in m["test"]} == {(0.4, 0.6), (0.4, 0.9), (0.5, 0.6), (0.5, 0.9)}
    hist = [np.load(p)["history"] for p in sorted((tmp_path / "run" / "nets").glob("step2_s*.npz"))]
    assert len(hist) == 2
    for h in hist:
        mse = h[:len(h) - schedule(cfg.epochs_scale)[-1][0]]       # phase 1 (MSE) epochs
        assert mse[-1] < 0.5 * mse[0]
    from glassfix.models import load_model

    model = load_model(model_path)
    assert model.temperature == 0.3 and model.targets.tolist() == [0.6, 0.9] and model.n_members >= 1
    assert any("relaxed" in ln for ln in logs) == any(r["relaxed"] for r in m["transfer"]["step1"].values())
    assert any(ln.startswith("progress step2_s1: epoch 11 (glassmlp") for ln in logs)
    # resume: every network is reused, the model is the same
    before = model_path.read_bytes()
    logs2: list[str] = []
    train_tglassmlp(store, tmp_path / "run", cfg, log=logs2.append)
    assert load_model(model_path).manifest()["params"]["targets"] == [0.6, 0.9]
    a, b = load_model(model_path), TGlassMLPModel.from_file_contents(*_read(before))
    for k in a.weights:
        np.testing.assert_array_equal(a.weights[k], b.weights[k])
    # glassfix evaluate: the trainer's test split on its own store reproduces its test metrics
    from glassfix.cli import main

    assert main(["evaluate", str(model_path), "--store", str(store), "--out", str(tmp_path / "ev")]) == 0
    ev = json.loads((tmp_path / "ev" / "evaluation.json").read_text())
    assert {(r["T"], r["C"]) for r in ev["test"]} == {(r["T"], r["C"]) for r in m["test"]}
    by_state = lambda rows: sorted(rows, key=lambda r: (r["T"], r["C"]))  # noqa: E731
    for a, b in zip(by_state(ev["test"]), by_state(m["test"])):
        assert a["rho_per_config"] == pytest.approx(b["rho_per_config"], abs=1e-12)
    # the single-state baseline, through the command line

    assert main(["train", "tglassmlp", "--store", str(store), "--out", str(tmp_path / "single"), "--single-state",
                 "0.4,0.6", "--step2-networks", "1", "--epochs-scale", "0.05", "--quench", "none"]) == 0
    base = load_model(tmp_path / "single" / "glassmlp.glassfix")
    assert base.variant == "glassmlp" and base.targets.tolist() == [0.6] and base.temperature == 0.4
    assert "glassfix train tglassmlp" in base.provenance["command"]
    with pytest.raises(SystemExit, match="single-state must be T,C"):
        main(["train", "tglassmlp", "--store", str(store), "--out", str(tmp_path / "x"), "--single-state", "0.4"])


def _read(blob: bytes):
    import tempfile

    from glassfix.models.io import read_model_file

    with tempfile.NamedTemporaryFile(suffix=".glassfix") as fh:
        fh.write(blob)
        fh.flush()
        return read_model_file(fh.name)


# ---- FIRE --------------------------------------------------------------------------------------------

def test_fire_reaches_a_minimum_of_the_reference_potential():
    from glassfix.systems.minimize import fire_minimize
    from glassfix.systems.potentials import energy_forces

    system = get_system("jbb")
    frame = _jbb_frame(86, seed=3, jitter=0.1)
    e0 = energy_forces(frame, system.potential()).energy
    res = fire_minimize(frame, system.potential(), ftol=1e-8)
    ef = energy_forces(res.frame, system.potential())
    assert res.converged and np.abs(ef.forces).max() < 1e-8 * 1.01 and ef.energy < e0
    assert abs(res.energy_per_atom - ef.energy / frame.n_atoms) < 1e-12
    again = fire_minimize(res.frame, system.potential(), ftol=1e-8)
    assert again.steps == 0 and np.array_equal(again.frame.positions, res.frame.positions)


# ---- engines -----------------------------------------------------------------------------------------

def test_fix_glass_predict_2d_jbb_under_mpi_equals_offline(is_frame, plugin_so, tmp_path):
    """2D JBB, R = 20 > L/2: the fix gathers by itself (no 'mode'), under mpirun -np 2, and equals
    glassfix predict on its dump; the model minimises the frame it sees (FIRE; here already an IS)."""
    from glassfix.cli import main
    from glassfix.data.lammps_io import read_dump_frames, write_data
    from lmp_util import run_lmp

    model = _model(E=2, quench="fire", targets=[0.9, 0.6])
    model.save(tmp_path / "tg.glassfix")
    jbb = get_system("jbb")
    write_data(is_frame, tmp_path / "jbb.data", masses=[1.0, 1.0, 1.0])
    script = (f"plugin load {plugin_so}\n" + "\n".join(jbb.lammps_header_commands()) + "\nread_data jbb.data\n"
              + "\n".join(jbb.lammps_commands(table_dir=tmp_path))
              + "\nfix p all glass/predict 1 model tg.glassfix\n"
              "fix q all glass/predict 1 model tg.glassfix state 0.3 0.7\n"
              "dump d all custom 1 out.dump id type x y z f_p[1] f_p[2] f_q\n"
              "dump_modify d format float %20.16g sort id\nrun 0\n")
    proc = run_lmp(script, tmp_path, nprocs=2, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:]
    cols = read_dump_frames(tmp_path / "out.dump", dim=2)[0].metadata["columns"]
    online = np.stack([np.asarray(cols["f_p[1]"], float), np.asarray(cols["f_p[2]"], float)], axis=1)
    assert main(["predict", "--model", str(tmp_path / "tg.glassfix"), "--frame", str(tmp_path / "out.dump"),
                 "--out", str(tmp_path / "off.npy")]) == 0
    offline = np.load(tmp_path / "off.npy")
    a = is_frame.types == 0
    # the fix writes 0 where the model gives NaN (non-centre species)
    np.testing.assert_allclose(online[a], offline[a], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(offline[a], model.predict(is_frame)[a], rtol=1e-8, atol=1e-9)
    # the 'state' keyword = glassfix predict --temperature/--targets
    assert main(["predict", "--model", str(tmp_path / "tg.glassfix"), "--frame", str(tmp_path / "out.dump"),
                 "--temperature", "0.3", "--targets", "0.7", "--out", str(tmp_path / "off_q.npy")]) == 0
    off_q = np.load(tmp_path / "off_q.npy")
    np.testing.assert_allclose(np.asarray(cols["f_q"], float)[a], off_q[a], rtol=1e-10, atol=1e-12)
    assert np.abs(off_q[a] - offline[a, 1]).max() > 1e-6


def test_openmm_reporter_equals_offline(is_frame, tmp_path):
    mm = pytest.importorskip("openmm")
    from glassfix.engines.openmm import PredictorReporter, make_simulation

    model = _model(E=2, quench="fire", targets=[0.8])
    rep = PredictorReporter(model, 5, is_frame.types, dim=2)
    sim = make_simulation(get_system("jbb"), is_frame, temperature=0.3, dt=0.002, platform="Reference",
                          reporters=[rep])
    sim.step(5)
    pos = sim.context.getState(getPositions=True).getPositions(asNumpy=True)._value[:, :2]
    now = Frame(positions=pos, types=is_frame.types, cell=is_frame.cell, species=is_frame.species)
    a = is_frame.types == 0
    np.testing.assert_allclose(rep.values[a, 0], model.predict(now)[a, 0], rtol=1e-12, atol=1e-12)
    assert np.isfinite(rep.means).all() and mm is not None


def test_state_keyword_errors_are_one_line(tmp_path):
    from conftest import make_softness_model
    from glassfix.engines.lammps.bridge import BridgeError, _set_state
    from glassfix.models import load_model

    soft = load_model(make_softness_model(tmp_path / "s.glassfix"))
    with pytest.raises(BridgeError, match="applies to state-point models"):
        _set_state(soft, ["0.3"], "s.glassfix")
    model = _model(E=1)
    with pytest.raises(BridgeError, match="state -1: temperature must be a positive"):
        _set_state(model, ["-1"], "tg.glassfix")
    _set_state(model, ["0.25", "0.8", "0.4"], "tg.glassfix")
    assert model.temperature == 0.25 and model.output_names == ["cb_0.8", "cb_0.4"]
