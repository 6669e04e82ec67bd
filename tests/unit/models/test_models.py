"""Softness model training/prediction and the *.glassfix model file: round trips and hostile files."""

from __future__ import annotations

import io
import itertools
import json
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from glassfix.core.frame import Frame, NeighborList
from glassfix.descriptors.structure_functions import RadialStructureFunctions
from glassfix.models import MODEL_KINDS, ModelFileError, SoftnessModel, load_model, predict_frame
from glassfix.models.io import read_model_file, save_model_file
from glassfix.models.softness import SoftnessHead, standardization

# ---------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------


def brute_neighbor_list(frame: Frame, cutoff: float, centers=None) -> NeighborList:
    """All (neighbour, periodic image) pairs with 0 < r < cutoff; atoms assumed inside the box."""
    centers = np.arange(frame.n_atoms) if centers is None else np.asarray(centers)
    heights = 1.0 / np.linalg.norm(np.linalg.inv(frame.cell), axis=0)
    n = [int(np.ceil(cutoff / h)) + 1 for h in heights]
    shifts = np.array(list(itertools.product(*[range(-k, k + 1) for k in n])), float) @ frame.cell
    offsets, nbrs, vecs = [0], [], []
    for i in centers:
        v = frame.positions[:, None, :] + shifts[None] - frame.positions[i]
        r = np.sqrt((v * v).sum(-1))
        keep = (r > 0) & (r < cutoff)
        nbrs.append(np.nonzero(keep)[0]), vecs.append(v[keep]), offsets.append(offsets[-1] + keep.sum())
    return NeighborList(centers, np.array(offsets), np.concatenate(nbrs), np.concatenate(vecs), cutoff)


def small_frame(n: int = 100, seed: int = 0) -> Frame:
    """Random 80:20 binary 3D configuration at ρ = 1.2."""
    rng = np.random.default_rng(seed)
    L = (n / 1.2) ** (1 / 3)
    return Frame(
        positions=rng.random((n, 3)) * L, types=(rng.random(n) < 0.2).astype(np.int64),
        cell=np.eye(3) * L, species=("A", "B"),
    )


DESC = RadialStructureFunctions(2, mus=np.arange(0.0, 2.5, 0.1))  # 50 features, rc = 2.9


def separable_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Features on very different scales, a few constant columns, labels from a noisy hyperplane."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, DESC.n_features)) * rng.uniform(0.1, 20.0, DESC.n_features) + 3.0
    X[:, :3] = 0.0  # G(r < 0.3σ) ≡ 0 in real data: zero variance must be guarded
    w_true = rng.normal(size=DESC.n_features)
    w_true[:3] = 0.0
    z = ((X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1)) @ w_true
    y = z + 0.05 * z.std() * rng.normal(size=n) > np.quantile(z, 0.7)  # 30 % positives
    return X, y


@pytest.fixture(scope="module")
def trained() -> SoftnessModel:
    frame = small_frame(160, seed=1)
    G = DESC.compute(frame, neighbors=brute_neighbor_list(frame, DESC.cutoff))
    data = {}
    for t in (0, 1):
        X = G[frame.types == t]
        y = X[:, 11] < np.median(X[:, 11])  # "fewer first-shell neighbours → soft"
        data[t] = (X, y)
    return SoftnessModel.train(DESC, data, C=1.0, species=["A", "B"], provenance={"test": "fixture"})


@pytest.fixture()
def model_file(tmp_path: Path, trained: SoftnessModel) -> Path:
    return trained.save(tmp_path / "m.glassfix")


def rezip(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """Write a zip with exactly ``members`` (name → bytes) to ``path``."""
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def members_of(path: Path) -> dict[str, bytes]:
    """All members of a zip as name → bytes."""
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def with_manifest(path: Path, **changes) -> Path:
    """Rewrite ``path`` with manifest fields replaced (value None deletes the field)."""
    m = members_of(path)
    man = json.loads(m["manifest.json"])
    for k, v in changes.items():
        if v is None:
            man.pop(k, None)
        else:
            man[k] = v
    m["manifest.json"] = json.dumps(man).encode()
    return rezip(path, m)


# ---------------------------------------------------------------------------------------------------
# training and prediction
# ---------------------------------------------------------------------------------------------------


def test_train_separable_accuracy() -> None:
    X, y = separable_data(1500, seed=0)
    Xte, yte = X[1000:], y[1000:]  # held out
    model = SoftnessModel.train(DESC, {0: (X[:1000], y[:1000])}, species=["A", "B"], cv_C=[0.05, 1.0], seed=3)
    head = model.heads[0]
    S = model.predict_features(Xte, np.zeros(len(Xte), np.int64))[:, 0]
    acc = ((S > 0) == yte).mean()
    assert acc > 0.9, acc
    assert head.metrics["train_balanced_accuracy"] > 0.9
    assert head.metrics["train_positive_recall"] > 0.9
    assert head.C in (0.05, 1.0) and len(head.metrics["cv_balanced_accuracy"]) == 2
    assert np.array_equal(head.scale[:3], np.ones(3))  # zero-variance columns: scale 1, no NaN
    assert np.isfinite(S).all()
    # species without a head → NaN
    assert np.isnan(model.predict_features(Xte[:4], np.ones(4, np.int64))).all()


def test_prediction_is_plain_numpy_formula_and_batch_independent() -> None:
    X, y = separable_data(400, seed=1)
    model = SoftnessModel.train(DESC, {0: (X, y)}, species=["A", "B"])
    h = model.heads[0]
    S = model.predict_features(X, np.zeros(len(X), np.int64))[:, 0]
    np.testing.assert_allclose(S, ((X - h.mean) / h.scale) @ h.w + h.b, rtol=1e-12, atol=1e-12)
    rows = np.array([17, 3, 250])
    assert np.array_equal(model.predict_features(X[rows], np.zeros(3, np.int64))[:, 0], S[rows])
    normed = SoftnessModel(DESC, ["A", "B"], model.heads, normalize_w=True)
    Sn = normed.predict_features(X, np.zeros(len(X), np.int64))[:, 0]
    np.testing.assert_allclose(Sn * np.linalg.norm(h.w), S, rtol=1e-12, atol=1e-12)


def test_standardization_matches_sklearn() -> None:
    from sklearn.preprocessing import StandardScaler

    X, _ = separable_data(200, seed=2)
    mean, scale = standardization(X)
    sk = StandardScaler().fit(X)
    np.testing.assert_allclose(mean, sk.mean_, rtol=1e-14)
    np.testing.assert_allclose(scale, sk.scale_, rtol=1e-12)


def test_predict_on_frame_with_list(trained: SoftnessModel) -> None:
    frame = small_frame(100, seed=2)
    nl = brute_neighbor_list(frame, DESC.cutoff + 0.4)  # over-long, as LAMMPS would pass it
    S = trained.predict(frame, neighbors=nl)
    assert S.shape == (100, 1) and np.isfinite(S).all()
    assert trained.output_names == ["softness"] and trained.receptive_field == DESC.cutoff
    # species given by name in another order are mapped onto the model's
    swapped = Frame(positions=frame.positions, types=1 - frame.types, cell=frame.cell, species=("B", "A"))
    assert np.array_equal(trained.predict(swapped, neighbors=nl), S)
    partial = SoftnessModel(DESC, ["A", "B"], {0: trained.heads[0]})
    Sp = partial.predict(frame, neighbors=nl)[:, 0]
    assert np.isnan(Sp[frame.types == 1]).all() and np.array_equal(Sp[frame.types == 0], S[frame.types == 0, 0])


def test_save_load_round_trip_identical(trained: SoftnessModel, model_file: Path) -> None:
    frame = small_frame(100, seed=3)
    nl = brute_neighbor_list(frame, DESC.cutoff)
    loaded = load_model(model_file)
    assert isinstance(loaded, SoftnessModel) and loaded.species == ["A", "B"]
    assert loaded.descriptor.spec() == trained.descriptor.spec()
    assert np.array_equal(loaded.predict(frame, neighbors=nl), trained.predict(frame, neighbors=nl))
    assert SoftnessModel.load(model_file).heads[1].metrics == trained.heads[1].metrics
    manifest, arrays = read_model_file(model_file)
    assert manifest["format"] == "glassfix-model" and manifest["format_version"] == 1
    assert manifest["kind"] == "softness" and manifest["outputs"] == ["softness"]
    assert manifest["provenance"] == {"test": "fixture"} and "glassfix_version" in manifest
    assert set(arrays) == {f"head_{t}_{k}" for t in (0, 1) for k in ("mean", "scale", "w", "b")}
    # re-saving over an existing file is atomic and leaves no temporaries behind
    loaded.save(model_file)
    assert sorted(p.name for p in model_file.parent.iterdir()) == ["m.glassfix"]


def test_predict_frame_builds_its_own_list(trained: SoftnessModel, model_file: Path) -> None:
    pytest.importorskip("glassfix.core.neighbors")
    frame = small_frame(100, seed=4)
    ref = trained.predict(frame, neighbors=brute_neighbor_list(frame, DESC.cutoff))
    np.testing.assert_allclose(predict_frame(model_file, frame), ref, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------------
# hostile and broken files
# ---------------------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="does not exist"):
        load_model(tmp_path / "nope.glassfix")


def test_not_a_zip(tmp_path: Path) -> None:
    p = tmp_path / "junk.glassfix"
    p.write_bytes(b"this is not a zip archive at all" * 10)
    with pytest.raises(ModelFileError, match="not a valid zip") as e:
        load_model(p)
    assert "junk.glassfix" in str(e.value)


def test_truncated_file(model_file: Path) -> None:
    data = model_file.read_bytes()
    model_file.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="truncated"):
        load_model(model_file)


def test_crc_error(model_file: Path) -> None:
    rezip(model_file, members_of(model_file), compression=zipfile.ZIP_STORED)  # bytes visible in the file
    raw = bytearray(model_file.read_bytes())
    k = raw.index(b'"softness"')
    raw[k + 1] ^= 0x01  # flip one bit inside manifest.json's data
    model_file.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match="corrupt"):
        load_model(model_file)


def test_missing_manifest(model_file: Path) -> None:
    m = members_of(model_file)
    rezip(model_file, {"arrays.npz": m["arrays.npz"]})
    with pytest.raises(ModelFileError, match="no manifest.json"):
        load_model(model_file)


def test_bad_json(model_file: Path) -> None:
    m = members_of(model_file)
    m["manifest.json"] = b'{"format": "glassfix-model", '
    rezip(model_file, m)
    with pytest.raises(ModelFileError, match="not valid JSON"):
        load_model(model_file)


def test_wrong_format(model_file: Path) -> None:
    with pytest.raises(ModelFileError, match="format"):
        load_model(with_manifest(model_file, format="pytorch"))


def test_too_new_version(model_file: Path) -> None:
    with pytest.raises(ModelFileError, match=r"newer glassfix \(version 2 > 1\); upgrade glassfix"):
        load_model(with_manifest(model_file, format_version=2))


def test_unknown_kind(model_file: Path) -> None:
    assert "softness" in MODEL_KINDS
    with pytest.raises(ModelFileError, match="unknown model kind 'teleporter'"):
        load_model(with_manifest(model_file, kind="teleporter"))


def test_unknown_descriptor_kind(model_file: Path) -> None:
    with pytest.raises(ModelFileError, match="unknown descriptor kind 'bogus'"):
        load_model(with_manifest(model_file, descriptor={"kind": "bogus"}))


def test_unexpected_member(model_file: Path) -> None:
    m = members_of(model_file)
    m["model.pkl"] = b"\x80\x04K\x01."
    rezip(model_file, m)
    with pytest.raises(ModelFileError, match=r"unexpected members \['model.pkl'\]"):
        load_model(model_file)


def test_array_shapes_validated_against_descriptor(model_file: Path) -> None:
    man = json.loads(members_of(model_file)["manifest.json"])
    desc = dict(man["descriptor"], mus=man["descriptor"]["mus"][:-5])  # 45 features per species now
    with pytest.raises(ModelFileError, match="features"):
        load_model(with_manifest(model_file, descriptor=desc))


def test_save_refuses_object_arrays(tmp_path: Path, trained: SoftnessModel) -> None:
    with pytest.raises(ValueError, match="object"):
        save_model_file(tmp_path / "x.glassfix", trained.manifest(), {"a": np.array([{}], dtype=object)})
    assert list(tmp_path.iterdir()) == []


class _Payload:
    """Pickles to a call that creates a marker file (what a malicious model would do)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def test_pickle_payload_is_never_unpickled(tmp_path: Path, trained: SoftnessModel) -> None:
    marker = tmp_path / "PWNED"
    arrays = trained.arrays()
    buf = io.BytesIO()
    np.savez(buf, **{**arrays, "head_0_w": np.array([_Payload(marker)], dtype=object)})  # savez pickles
    evil = tmp_path / "evil.glassfix"
    man = json.loads(members_of(trained.save(tmp_path / "good.glassfix"))["manifest.json"])
    rezip(evil, {"manifest.json": json.dumps(man).encode(), "arrays.npz": buf.getvalue()})

    with pytest.raises(ModelFileError, match="pickled object array; glassfix model files never execute code"):
        load_model(evil)
    with pytest.raises(ModelFileError, match="pickled object array"):
        read_model_file(evil)
    assert not marker.exists()

    # the payload is live: an unsafe loader would have run it (proves the test above means something)
    np.load(io.BytesIO(buf.getvalue()), allow_pickle=True)["head_0_w"]
    assert marker.exists()


def test_head_validation() -> None:
    with pytest.raises(ValueError, match="shape"):
        SoftnessModel(DESC, ["A", "B"], {0: SoftnessHead(np.zeros(3), np.ones(3), np.zeros(3), 0.0)})
    with pytest.raises(ValueError):
        SoftnessModel.train(DESC, {0: (np.zeros((10, DESC.n_features)), np.zeros(10, bool))}, species=["A", "B"])


# ---------------------------------------------------------------------------------------------------
# zip bombs: declared sizes and names are checked before anything is inflated
# ---------------------------------------------------------------------------------------------------

BOMB_BYTES = 3200 * 2**20  # what the inner .npy member inflates to: 3.2 GB of zeros


def _bomb_manifest(trained: SoftnessModel, listing: dict | None) -> bytes:
    man = dict(trained.manifest(), format="glassfix-model", format_version=1)
    if listing is not None:
        man["arrays"] = listing
    return json.dumps(man).encode()


def _nested_bomb(path: Path, trained: SoftnessModel, listing: dict | None) -> Path:
    """A model file of a few kB whose arrays.npz holds a deflated .npy of 3.2 GB (honest headers)."""
    from helpers.fault_util import deflate, deflate_zeros, npy_header, raw_zip

    header = npy_header("<f8", (BOMB_BYTES // 8,))
    # .npy = header + zeros: deflate the header as a first (non-final) block by flushing, then the zeros.
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    inner_payload = co.compress(header) + co.flush(zlib.Z_FULL_FLUSH) + deflate_zeros(BOMB_BYTES)
    npz = raw_zip([("w.npy", inner_payload, 8, len(header) + BOMB_BYTES, 0)])
    man = _bomb_manifest(trained, listing)
    data = raw_zip([("manifest.json", deflate(man), 8, len(man), zlib.crc32(man)),
                    ("arrays.npz", deflate(npz), 8, len(npz), zlib.crc32(npz))])
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("listing", [None, {"w": {"dtype": "<f8", "shape": [10]}},
                                     {"w": {"dtype": "<f8", "shape": [BOMB_BYTES // 8]}}],
                         ids=["no-listing", "small-listing", "honest-listing"])
def test_zip_bomb_rejected_before_inflating(tmp_path: Path, trained: SoftnessModel, listing) -> None:
    import time
    import tracemalloc

    bomb = _nested_bomb(tmp_path / "bomb.glassfix", trained, listing)
    assert bomb.stat().st_size < 64 * 1024  # a few kB on disk
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(ModelFileError) as e:
            read_model_file(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    msg = str(e.value)
    assert "bomb.glassfix" in msg and ("limit" in msg or "zip bomb" in msg), msg
    assert ("w.npy" in msg or "arrays" in msg), msg
    assert time.perf_counter() - t0 < 5.0
    assert peak < 64 * 2**20, f"reading the bomb allocated {peak / 2**20:.0f} MiB"


def test_lying_member_size_is_not_inflated_past_it(tmp_path: Path, trained: SoftnessModel) -> None:
    """arrays.npz declares 1 kB but its deflate stream holds 256 MiB: reading stops at the declared size."""
    import tracemalloc

    from helpers.fault_util import deflate, deflate_zeros, raw_zip

    man = _bomb_manifest(trained, None)
    path = tmp_path / "liar.glassfix"
    path.write_bytes(raw_zip([("manifest.json", deflate(man), 8, len(man), zlib.crc32(man)),
                              ("arrays.npz", deflate_zeros(256 * 2**20), 8, 1024, 0)]))
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match="arrays.npz"):
            read_model_file(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * 2**20, f"reading allocated {peak / 2**20:.0f} MiB"


def test_npz_member_not_in_manifest_rejected(model_file: Path) -> None:
    m = members_of(model_file)
    with np.load(io.BytesIO(m["arrays.npz"])) as npz:
        arrays = {k: npz[k] for k in npz.files}
    buf = io.BytesIO()
    np.savez(buf, **arrays, extra=np.zeros(3))
    m["arrays.npz"] = buf.getvalue()
    rezip(model_file, m)
    with pytest.raises(ModelFileError, match="'extra.npy' is not listed in the manifest"):
        read_model_file(model_file)


def test_manifest_lists_arrays_and_old_files_still_load(model_file: Path, trained: SoftnessModel) -> None:
    manifest, arrays = read_model_file(model_file)
    assert set(manifest["arrays"]) == set(arrays)
    assert all(manifest["arrays"][k] == {"dtype": v.dtype.str, "shape": list(v.shape)} for k, v in arrays.items())
    old = load_model(with_manifest(model_file, arrays=None))  # a file written before the listing existed
    frame = small_frame(50, seed=3)
    assert np.array_equal(old.predict(frame), trained.predict(frame))
