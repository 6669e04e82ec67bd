"""Looseness model (kind "looseness"): EasyEnsemble of logistic regressions, equal to imbalanced-learn."""

from __future__ import annotations

import numpy as np
import pytest

from glassfix.descriptors.interstice import IntersticeDescriptor
from glassfix.models import LoosenessModel, ModelFileError, load_model
from glassfix.models.looseness import select_features_rfe
from helpers.lmp_util import shared_ka_frame


def imbalanced(seed=0, n=3000, nf=60, rate=0.05):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, nf))
    score = 1.5 * X[:, 3] - X[:, 7] + 0.5 * rng.normal(size=n)
    y = score > np.quantile(score, 1 - rate)
    return X, y


def descriptor():
    return IntersticeDescriptor(n_species=2, species_names=["A", "B"])


def test_ensemble_equals_imblearn_and_learns():
    from imblearn.ensemble import EasyEnsembleClassifier
    from sklearn.linear_model import LogisticRegression

    desc = descriptor()
    assert desc.n_features == 60
    X, y = imbalanced()
    sel = np.array([3, 7, 11, 20, 41])
    model = LoosenessModel.train(desc, X, y, feature_index=sel, seed=4)
    # the same ensemble fitted directly: identical probabilities
    Z = (X[:, sel] - model.mean) / model.scale
    ee = EasyEnsembleClassifier(n_estimators=10, estimator=LogisticRegression(C=1.0, max_iter=10_000),
                                random_state=4).fit(Z, y.astype(int))
    np.testing.assert_allclose(model.looseness(X), ee.predict_proba(Z)[:, 1], rtol=1e-10, atol=1e-12)
    assert model.weights.shape == (10, 5) and model.metrics["train_balanced_accuracy"] > 0.8
    L = model.looseness(X)
    assert np.all((L >= 0) & (L <= 1)) and L[y].mean() > L[~y].mean() + 0.3


def test_round_trip_species_and_errors(tmp_path):
    desc = descriptor()
    X, y = imbalanced(1)
    model = LoosenessModel.train(desc, X, y, feature_index=[3, 7], seed=0)
    loaded = load_model(model.save(tmp_path / "l.glassfix"))
    assert isinstance(loaded, LoosenessModel) and loaded.output_names == ["looseness"]
    types = np.array([0, 1, 0])
    out = loaded.predict_features(X[:3], types)
    assert np.isnan(out[1, 0]) and np.allclose(out[[0, 2], 0], model.looseness(X[[0, 2]]))
    with pytest.raises(ValueError, match="both classes"):
        LoosenessModel.train(desc, X, np.zeros(len(X), bool))
    with pytest.raises(ValueError, match="feature_index"):
        LoosenessModel(desc, ["A", "B"], [60], [0.0], [1.0], [[1.0]], [0.0])
    import json
    import zipfile

    bad = tmp_path / "bad.glassfix"
    with zipfile.ZipFile(tmp_path / "l.glassfix") as zin, zipfile.ZipFile(bad, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "manifest.json":
                m = json.loads(data)
                m["outputs"] = ["softness"]
                data = json.dumps(m).encode()
            zout.writestr(item, data)
    with pytest.raises(ModelFileError, match="outputs"):
        load_model(bad)


def test_predict_on_a_frame_and_rfe_ranks_informative_features():
    frame = shared_ka_frame(1)
    desc = descriptor()
    centers = np.flatnonzero(frame.types == 0)[:400]
    X = desc.compute(frame, centers=centers)
    y = X[:, 5] > np.quantile(X[:, 5], 0.9)    # a structural label
    model = LoosenessModel.train(desc, X, y, feature_index=[5, 6, 7], seed=0)
    p = model.predict(frame, centers=centers)[:, 0]
    np.testing.assert_allclose(p, model.looseness(X), rtol=1e-12)
    Xs, ys = imbalanced(2, n=600, nf=8, rate=0.2)
    order = select_features_rfe(Xs, ys, n_bootstrap=2, seed=0)
    assert set(order[:2]) == {3, 7}
    # the bootstraps are fitted in parallel processes without changing the ranking
    np.testing.assert_array_equal(select_features_rfe(Xs, ys, n_bootstrap=2, seed=0, n_jobs=2), order)
