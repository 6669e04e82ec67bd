"""BOTAN trainer: deterministic, resumable (bit for bit), learns, and the CLI trains from a dataset store."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from glassfix.core.frame import Frame  # noqa: E402
from glassfix.data.store import DatasetStore  # noqa: E402
from glassfix.models import load_model  # noqa: E402
from glassfix.train.botan import TrainConfig, evaluate, make_sample, pearson, train_botan  # noqa: E402


def synthetic(seed: int, n: int = 160, replicas: int = 4):
    """A random binary frame and replicas whose displacement grows with the local density (learnable)."""
    rng = np.random.default_rng(seed)
    L = (n / 1.2) ** (1 / 3)
    pos = rng.uniform(0, L, (n, 3))
    frame = Frame(positions=pos, types=(rng.uniform(size=n) < 0.2).astype(np.int64), cell=np.eye(3) * L,
                  species=("A", "B"))
    d = pos[:, None, :] - pos[None, :, :]
    d -= L * np.round(d / L)
    close = (np.sqrt((d ** 2).sum(-1)) < 1.3).sum(1) - 1
    amp = 0.05 + 0.05 * close / close.max()
    reps = pos[None] + amp[None, :, None] * rng.normal(size=(replicas, n, 3))
    return frame, reps


def small_cfg(**kw):
    base = dict(p=0.5, epochs=3, lr=3e-3, hidden=8, n_steps=2, seed=1, threads=1)
    base.update(kw)
    return TrainConfig(**base)


def test_sample_targets_and_masks():
    frame, reps = synthetic(0)
    s = make_sample(frame, reps, "k")
    assert s.edge_attr.dtype == np.float32 and s.node_feature.shape == (frame.n_atoms, 1)
    disp = np.linalg.norm(reps - frame.positions[None], axis=2).mean(0)
    np.testing.assert_allclose(s.target_node, disp, rtol=1e-6)
    r0 = np.linalg.norm(s.edge_attr, axis=1)
    src, dst = s.edge_index
    assert np.array_equal(s.edge_mask, (frame.types[src] == 0) & (frame.types[dst] == 0) & (r0 < 1.35))
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)


def test_resume_is_bitwise_and_training_learns(tmp_path):
    train = [make_sample(*synthetic(s), key=f"c{s}") for s in range(3)]
    test = [make_sample(*synthetic(9), key="c9")]
    full = train_botan(train, test, small_cfg(), tmp_path / "full")
    part = train_botan(train, test, small_cfg(epochs=1), tmp_path / "part")
    assert part["final"]["epoch"] == 1
    resumed = train_botan(train, test, small_cfg(), tmp_path / "part")
    a = load_model(full["model"])
    b = load_model(resumed["model"])
    for k in a.state:
        np.testing.assert_array_equal(a.state[k], b.state[k])
    hist = [json.loads(x) for x in (tmp_path / "part" / "history.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in hist] == [0, 1, 2, 3]
    # the loss falls on a learnable target
    longer = train_botan(train, test, small_cfg(epochs=25), tmp_path / "long")
    h = longer["history"]
    assert h[-1]["train_loss"] < 0.5 * h[1]["train_loss"]
    # a different setting in the same directory is refused instead of mixing runs
    with pytest.raises(ValueError, match="other settings"):
        train_botan(train, test, small_cfg(p=0.1), tmp_path / "full")
    m = load_model(full["model"])
    assert m.n_steps == 2 and m.provenance["config"]["p"] == 0.5
    ev = evaluate(m.network(), test, 0.5)
    assert set(ev) == {"loss", "loss_node", "loss_edge", "rho_node", "rho_edge"}


def test_cli_trains_from_a_store(tmp_path):
    from glassfix.cli import main

    store = tmp_path / "iso.h5"
    with DatasetStore(store, mode="w") as ds:
        for s in range(4):
            frame, reps = synthetic(s, n=120)
            ds.add_frame(frame, key=f"toy/config{s}", group=f"config{s}", system="toy", temperature=1.0,
                         replicas={"t=1": reps})
    out = tmp_path / "run"
    rc = main(["train", "botan", "--store", str(store), "--time-label", "t=1", "--epochs", "2", "--hidden", "8",
               "--steps", "2", "--lr", "1e-3", "--threads", "1", "--out", str(out)])
    assert rc == 0
    text = (out / "report.md").read_text()
    assert "Test frames (1)" in text and (out / "report_curves.png").stat().st_size > 1000
    model = load_model(out / "botan.glassfix")
    frame, _ = synthetic(7, n=120)
    assert np.isfinite(model.predict(frame)).all()
