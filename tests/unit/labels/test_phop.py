import numpy as np
import pytest

from glassfix.labels.events import quiescent_mask, rearranging_mask, select_training_set
from glassfix.labels.phop import phop, window_halves


def phop_bruteforce(traj, window, shared_endpoint=True):
    T, N, _ = traj.shape
    h = window // 2
    out = np.full((T, N), np.nan)
    for t in range(h, T - h):
        a = list(range(t - h, t + 1)) if shared_endpoint else list(range(t - h, t))
        b = list(range(t, t + h + 1))
        for i in range(N):
            ra = traj[a, i, :]
            rb = traj[b, i, :]
            ma = ra.mean(axis=0)
            mb = rb.mean(axis=0)
            qa = np.mean(np.sum((ra - mb) ** 2, axis=1))
            qb = np.mean(np.sum((rb - ma) ** 2, axis=1))
            out[t, i] = np.sqrt(qa * qb)
    return out


def random_walk(rng, T, N, d, step=0.1, offset=0.0):
    return offset + np.cumsum(rng.normal(scale=step, size=(T, N, d)), axis=0)


@pytest.mark.parametrize("method", ["cumsum", "direct"])
@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("window,d", [(10, 3), (7, 2), (2, 3)])
def test_matches_bruteforce(method, shared, window, d):
    rng = np.random.default_rng(window + d)
    traj = random_walk(rng, 60, 9, d, offset=rng.uniform(-20, 20, size=(9, d)))
    ref = phop_bruteforce(traj, window, shared)
    got = phop(traj, window, shared_endpoint=shared, method=method)
    assert got.shape == ref.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    ok = ~np.isnan(ref)
    np.testing.assert_allclose(got[ok], ref[ok], rtol=1e-12, atol=1e-12)


def test_nan_layout_and_halves():
    h, na, nb = window_halves(10)
    assert (h, na, nb) == (5, 6, 6)
    assert window_halves(10, shared_endpoint=False) == (5, 5, 6)
    traj = random_walk(np.random.default_rng(1), 20, 3, 3)
    p = phop(traj, 10)
    assert np.isnan(p[:5]).all() and np.isnan(p[15:]).all()
    assert np.isfinite(p[5:15]).all()
    # windows never fit
    assert np.isnan(phop(traj[:8], 10)).all()


def test_single_jump_peaks_at_jump():
    rng = np.random.default_rng(3)
    T, jump = 100, 50
    x = rng.normal(scale=0.01, size=(T, 2, 3))
    x[jump:, 0, 0] += 1.0  # particle 0 hops by 1 sigma between frames jump-1 and jump
    p = phop(x, 10)
    assert abs(int(np.nanargmax(p[:, 0])) - jump) <= 1
    assert np.nanmax(p[:, 0]) > 0.5  # sqrt(5/6 * 25/36) ~ 0.76 for a clean step
    far = np.abs(np.arange(T) - jump) > 6
    assert np.nanmax(p[far, 0]) < 1e-3
    assert np.nanmax(p[:, 1]) < 1e-3  # the caged particle never hops


def test_translation_invariance():
    rng = np.random.default_rng(4)
    traj = random_walk(rng, 50, 7, 3)
    p0 = phop(traj, 10)
    p1 = phop(traj + np.array([123.4, -56.7, 1e3]), 10)
    np.testing.assert_allclose(p1, p0, rtol=1e-10, atol=1e-12, equal_nan=True)
    # translating each particle differently (a rigid drift per particle) is also harmless
    p2 = phop(traj + rng.uniform(-100, 100, size=(1, 7, 3)), 10)
    np.testing.assert_allclose(p2, p0, rtol=1e-10, atol=1e-12, equal_nan=True)


def test_rejects_bad_input():
    with pytest.raises(ValueError):
        phop(np.zeros((10, 3)), 4)
    with pytest.raises(ValueError):
        phop(np.zeros((10, 3, 3)), 1)
    with pytest.raises(ValueError):
        phop(np.zeros((10, 3, 3)), 4, method="nope")


def test_masks():
    p = np.array([[np.nan, 0.1, 0.3],
                  [0.1, 0.1, 0.1],
                  [0.1, 0.25, 0.1],
                  [0.1, 0.1, 0.1]])
    np.testing.assert_array_equal(rearranging_mask(p, 0.2), [[0, 0, 1], [0, 0, 0], [0, 1, 0], [0, 0, 0]])
    q = quiescent_mask(p, 0.2, 1)
    np.testing.assert_array_equal(q, [[0, 0, 0], [0, 1, 0], [1, 0, 1], [1, 0, 1]])
    np.testing.assert_array_equal(quiescent_mask(p, 0.2, 0), (p < 0.2) & np.isfinite(p))
    assert not quiescent_mask(p, 0.2, 10).any()


def test_select_training_set_balanced_and_short():
    rng = np.random.default_rng(5)
    T, N = 40, 50
    p = rng.uniform(0, 0.22, size=(T, N))  # about 9% above 0.2
    p[:3] = np.nan
    types = (np.arange(N) % 5 == 0).astype(int)  # 80:20
    f, a, y, info = select_training_set(p, types, p_c=0.2, lookback=2, n_per_class=20, species=0, seed=1)
    assert info["complete"] and (y == 1).sum() == 20 and (y == 0).sum() == 20
    assert (types[a] == 0).all()
    assert (p[f[y == 1], a[y == 1]] > 0.2).all()
    qm = quiescent_mask(p, 0.2, 2)
    assert qm[f[y == 0], a[y == 0]].all()
    assert len(set(zip(f.tolist(), a.tolist()))) == f.size  # without replacement
    # reproducible
    f2, a2, y2, _ = select_training_set(p, types, 0.2, 2, 20, species=0, seed=1)
    assert (f2 == f).all() and (a2 == a).all() and (y2 == y).all()
    # more than available: returns what is possible, balanced, and says so
    f, a, y, info = select_training_set(p, types, 0.2, 2, 10**6, species=[0, 1], seed=1)
    n_pos_avail = int(rearranging_mask(p, 0.2).sum())
    assert info["n_pos_available"] == n_pos_avail and not info["complete"]
    assert (y == 1).sum() == (y == 0).sum() == n_pos_avail
    assert "available" in info["message"]
    _, _, y, info = select_training_set(p, None, 0.2, 2, 10**6, balance=False)
    assert (y == 0).sum() == info["n_neg_available"] > (y == 1).sum()


def test_extremes_top_and_bottom_fraction_of_one_species():
    from glassfix.labels.events import extremes

    rng = np.random.default_rng(3)
    v = rng.random(1000)
    v[5] = np.nan
    types = (np.arange(1000) % 5 == 0).astype(int)  # 200 B, 800 A
    active, inactive = extremes(v, 0.05, types, species=0)
    a_idx = np.flatnonzero((types == 0) & np.isfinite(v))
    ranked = a_idx[np.argsort(v[a_idx])]
    k = int(0.05 * a_idx.size)
    assert active.size == inactive.size == k
    np.testing.assert_array_equal(active, np.sort(ranked[-k:]))
    np.testing.assert_array_equal(inactive, np.sort(ranked[:k]))
    assert 5 not in active and 5 not in inactive
    assert (types[active] == 0).all()


def test_loose_tight_classes():
    from glassfix.labels.events import loose_tight

    np.testing.assert_array_equal(loose_tight(np.array([0.1, 0.3, np.nan, 0.25]), 0.25), [0, 1, -1, 0])
