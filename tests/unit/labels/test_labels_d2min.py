import itertools

import numpy as np
import pytest

from glassfix.core.cell import wrap_positions
from glassfix.core.frame import Frame
from glassfix.labels.d2min import d2min, d2min_trajectory


def d2min_bruteforce(x0, cell0, x1, cell1, rcut, normalize="sum", rcond=1e-10, nmax=4):
    """Plain loops over atom pairs, all lattice images n in [-nmax, nmax]^d (covers input unwrapped by up to
    one box); R(t1) from unwrapped displacements."""
    N, d = x0.shape
    u = x1 - x0
    images = np.array(list(itertools.product(range(-nmax, nmax + 1), repeat=d)), dtype=float)
    d2 = np.full(N, np.nan)
    lam = np.full((N, d, d), np.nan)
    for i in range(N):
        r0, r1 = [], []
        for j in range(N):
            v = x0[j] + images @ cell0 - x0[i]
            r = np.sqrt(np.sum(v * v, axis=1))
            for k in np.flatnonzero((r > 0) & (r < rcut)):
                r0.append(v[k])
                r1.append(v[k] + (u[j] - u[i]) + images[k] @ (cell1 - cell0))
        if not r0:
            continue
        r0, r1 = np.array(r0), np.array(r1)
        w = np.linalg.eigvalsh(r0.T @ r0)
        if w[-1] <= 0 or w[0] <= rcond * w[-1]:
            continue
        m, *_ = np.linalg.lstsq(r0, r1, rcond=None)  # r0 @ m ≈ r1, i.e. Λ = m.T
        res = r1 - r0 @ m
        s = float(np.sum(res * res))
        d2[i] = s / len(r0) if normalize == "mean" else s
        lam[i] = m.T
    return d2, lam


def random_frame(rng, n, cell, types=None, unwrap_shift=0):
    d = cell.shape[0]
    s = rng.uniform(0, 1, size=(n, d))
    if unwrap_shift:
        s += rng.integers(-unwrap_shift, unwrap_shift + 1, size=(n, d))
    x = s @ cell
    t = np.zeros(n, dtype=int) if types is None else types
    return Frame(positions=x, types=t, cell=cell)


@pytest.mark.parametrize("normalize", ["sum", "mean"])
@pytest.mark.parametrize("case", ["ortho3d", "tri3d", "tri2d", "deformed3d"])
def test_matches_bruteforce(case, normalize):
    rng = np.random.default_rng(hash(case) % 2**32)
    if case == "ortho3d":
        cell0 = np.diag([4.2, 4.6, 4.4])
        n, rcut = 90, 1.6
    elif case == "tri3d":
        cell0 = np.array([[4.5, 0, 0], [1.1, 4.3, 0], [-0.8, 0.9, 4.6]])
        n, rcut = 95, 1.6
    elif case == "tri2d":
        cell0 = np.array([[7.0, 0.0], [2.2, 6.5]])
        n, rcut = 50, 1.7
    else:
        cell0 = np.array([[4.5, 0, 0], [0.4, 4.3, 0], [0.2, -0.3, 4.6]])
        n, rcut = 95, 1.6
    d = cell0.shape[0]
    frame = random_frame(rng, n, cell0, unwrap_shift=1)
    cell1 = cell0.copy()
    if case == "deformed3d":
        cell1 = cell0 @ (np.eye(3) + 0.05 * rng.normal(size=(3, 3))).T
    x1 = frame.positions + 0.15 * rng.normal(size=(n, d))
    got, glam = d2min(frame, x1, rcut, normalize=normalize, cell1=cell1)
    ref, rlam = d2min_bruteforce(frame.positions, cell0, x1, cell1, rcut, normalize)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    assert np.isfinite(got).sum() > n // 2
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(glam, rlam, rtol=1e-9, atol=1e-10)
    # centres subset gives the same rows
    centers = np.array([5, 0, 17])
    sub, sublam = d2min(frame, x1, rcut, normalize=normalize, cell1=cell1, centers=centers)
    np.testing.assert_allclose(sub, got[centers], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("strain", [0.03, 0.4])
def test_pure_affine_is_zero(d, strain):
    rng = np.random.default_rng(10 * d + int(strain * 100))
    if d == 3:
        cell0 = np.array([[6.0, 0, 0], [0.7, 5.8, 0], [-0.5, 0.6, 6.2]])
        n = 200
    else:
        cell0 = np.array([[9.0, 0], [1.5, 8.5]])
        n = 80
    frame = random_frame(rng, n, cell0, unwrap_shift=3)  # far-unwrapped input
    F = np.eye(d) + strain * rng.uniform(-1, 1, size=(d, d))
    x1 = frame.positions @ F.T
    cell1 = cell0 @ F.T
    for normalize in ("sum", "mean"):
        D2, lam = d2min(frame, x1, 1.8, normalize=normalize, cell1=cell1)
        ok = np.isfinite(D2)
        assert ok.sum() > 0.9 * n
        assert np.abs(D2[ok]).max() < 1e-12
        np.testing.assert_allclose(lam[ok], np.broadcast_to(F, lam[ok].shape), rtol=0, atol=1e-12)
    if strain < 0.1:
        # wrapped input at both times with the minimum-image form gives the same
        x0w = wrap_positions(frame.positions, cell0)
        x1w = wrap_positions(x1, cell1)
        fw = Frame(positions=x0w, types=frame.types, cell=cell0)
        D2w, lamw = d2min(fw, x1w, 1.8, cell1=cell1, form="minimum_image")
        ok = np.isfinite(D2w)
        assert np.abs(D2w[ok]).max() < 1e-12
        np.testing.assert_allclose(lamw[ok], np.broadcast_to(F, lamw[ok].shape), rtol=0, atol=1e-12)


def simple_cubic(m, a=1.0):
    g = np.arange(m) * a
    x = np.array(list(itertools.product(g, g, g)), dtype=float)
    return Frame(positions=x, types=np.zeros(len(x), dtype=int), cell=np.eye(3) * m * a)


@pytest.mark.parametrize("form", ["unwrapped", "minimum_image"])
def test_single_displaced_particle(form):
    a = 1.0
    frame = simple_cubic(6, a)
    delta = np.array([-0.13, 0.07, 0.05])  # atom 0 sits at the corner: it crosses the box boundary
    x1 = frame.positions.copy()
    x1[0] += delta
    if form == "minimum_image":
        x1 = wrap_positions(x1, frame.cell)
    dd = float(delta @ delta)
    D2, lam = d2min(frame, x1, 1.2, form=form)  # 6 nearest neighbours, Y = 2 a^2 I
    D2m, _ = d2min(frame, x1, 1.2, normalize="mean", form=form)
    r = frame.positions - frame.positions[0]
    r -= frame.cell[0, 0] * np.round(r / frame.cell[0, 0])
    dist = np.linalg.norm(r, axis=1)
    nbr = np.flatnonzero(np.isclose(dist, a))
    others = np.flatnonzero(dist > 1.01 * a)
    assert len(nbr) == 6
    # the displaced particle: R_0j(t1) = R_0j − δ, Σ_j R_0j = 0 ⇒ Λ = 1, D² = z |δ|²
    assert D2[0] == pytest.approx(6 * dd, rel=1e-12)
    assert D2m[0] == pytest.approx(dd, rel=1e-12)
    np.testing.assert_allclose(lam[0], np.eye(3), atol=1e-14)
    # each neighbour k: Λ = 1 + δ R_k0ᵀ / (2a²); residual δ/2 on the bonds to 0 and to its opposite
    for k in nbr:
        assert D2[k] == pytest.approx(dd / 2, rel=1e-12)
        assert D2m[k] == pytest.approx(dd / 12, rel=1e-12)
        rk0 = -r[k]
        np.testing.assert_allclose(lam[k], np.eye(3) + np.outer(delta, rk0) / (2 * a * a), atol=1e-14)
    assert np.abs(D2[others]).max() < 1e-24
    np.testing.assert_allclose(lam[others], np.broadcast_to(np.eye(3), lam[others].shape), atol=1e-13)


def test_singular_neighbourhoods_are_nan():
    # open box: atoms on a line (collinear neighbours) and one isolated atom
    x = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [10.0, 10.0, 10.0]])
    frame = Frame(positions=x, types=np.zeros(4, dtype=int), cell=np.eye(3) * 20, pbc=[False] * 3)
    D2, lam = d2min(frame, x + 0.01, 1.5)
    assert np.isnan(D2).all() and np.isnan(lam).all()
    # 2D: two neighbours spanning the plane are enough
    x2 = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    f2 = Frame(positions=x2, types=np.zeros(3, dtype=int), cell=np.eye(2) * 20, pbc=[False, False])
    D2, lam = d2min(f2, x2 * 1.1, 1.2)
    assert np.isfinite(D2[0]) and D2[0] < 1e-28
    np.testing.assert_allclose(lam[0], 1.1 * np.eye(2), atol=1e-14)
    assert np.isnan(D2[1:]).all()  # atoms 1 and 2 have a single neighbour within 1.2


def test_argument_checks():
    frame = simple_cubic(4)
    with pytest.raises(ValueError):
        d2min(frame, frame.positions, 1.2, normalize="avg")
    with pytest.raises(ValueError):
        d2min(frame, frame.positions[:-1], 1.2)
    with pytest.raises(ValueError):
        d2min(frame, frame.positions, 2.5, form="minimum_image")  # >= half the box


def test_trajectory_helper():
    rng = np.random.default_rng(5)
    T, n = 6, 70
    cell0 = np.array([[5.0, 0, 0], [0.3, 5.2, 0], [0.1, 0.2, 4.9]])
    x = rng.uniform(0, 1, size=(n, 3)) @ cell0
    traj = x + np.cumsum(0.05 * rng.normal(size=(T, n, 3)), axis=0)
    cells = np.array([cell0 @ (np.eye(3) + np.array([[0, 0.02 * t, 0], [0, 0, 0], [0, 0, 0]])).T for t in range(T)])
    t0, D2, lam = d2min_trajectory(traj, cells, 1.6, lag=2, stride=2, normalize="mean", return_lambda=True)
    np.testing.assert_array_equal(t0, [0, 2])
    for k, t in enumerate(t0):
        f = Frame(positions=traj[t], types=np.zeros(n, dtype=int), cell=cells[t])
        ref, rlam = d2min(f, traj[t + 2], 1.6, normalize="mean", cell1=cells[t + 2])
        np.testing.assert_array_equal(D2[k], ref)
        np.testing.assert_array_equal(lam[k], rlam)
    t0, D2 = d2min_trajectory(traj, cell0, 1.6, lag=10)
    assert t0.shape == (0,) and D2.shape == (0, n)
