"""The vectorised on-the-fly ACE kernel (``_ace_fast``) against the per-pair reference kernel and the feature
path: the exact Legendre linearisation of the purification products, and the fused decision to 1e-10 for
body orders 2-4, purified or not, one or two species, explicit lists reaching beyond the cutoff, centres
without neighbours and species without a head."""

from __future__ import annotations

import numpy as np
import pytest

from glassfix.core.frame import Frame, NeighborList
from glassfix.core.neighbors import neighbor_list
from glassfix.descriptors._ace_fast import product_tables
from glassfix.descriptors._ace_readout import merge_terms
from glassfix.descriptors.ace import ACEDescriptor
from glassfix.descriptors.ace_basis import distance_transform, radial_basis
from helpers.frames import separated_positions


def random_frame(n: int = 160, box: float = 7.0, dmin: float = 0.8, seed: int = 0, n_species: int = 2) -> Frame:
    """Random positions with periodic minimum separation dmin in a cubic box (rejection sampling)."""
    rng = np.random.default_rng(seed)
    pos = separated_positions(rng, n, box, dmin)
    types = rng.integers(0, n_species, n).astype(np.int64)
    return Frame(pos, types, np.eye(3) * box)


def random_heads(desc: ACEDescriptor, species: list[int], seed: int = 1) -> dict:
    """Standardised linear heads with generic values (mean, scale, w, b) per centre species."""
    rng = np.random.default_rng(seed)
    F = desc.n_features
    return {t: (rng.normal(size=F), rng.uniform(0.5, 2.0, F), rng.normal(size=F) * 0.05, float(rng.normal()))
            for t in species}


def test_linearised_products_equal_the_radial_products():
    """R_a R_b = Σ_q Ls S_q and R_a R_b R_c = Σ_q Lt U_q (S_q, U_q = (x−1)^{2,3} P_q(2x−1)) to round-off."""
    n_max, r_cut = 8, 3.0
    rng = np.random.default_rng(0)
    d_ab = np.array([[a, b] for a in range(n_max) for b in range(a, n_max)], dtype=np.int64)
    t_abc = rng.integers(0, n_max, size=(40, 3)).astype(np.int64)
    Ls, Lt, qs, qu = product_tables(d_ab, t_abc, n_max)
    assert qs == 2 * (n_max - 1) and qu == int(t_abc.sum(axis=1).max())
    r = np.linspace(0.3, r_cut, 57)
    R = radial_basis(r, n_max, r_cut)
    x = distance_transform(r, r_cut)
    P = np.array([np.polynomial.legendre.legval(2 * x - 1, np.eye(max(qs, qu) + 1)[q])
                  for q in range(max(qs, qu) + 1)])
    S = (x - 1) ** 2 * P[: qs + 1]
    U = (x - 1) ** 3 * P[: qu + 1]
    two = R[:, d_ab[:, 0]].T * R[:, d_ab[:, 1]].T
    three = (R[:, t_abc[:, 0]] * R[:, t_abc[:, 1]] * R[:, t_abc[:, 2]]).T
    np.testing.assert_allclose(Ls @ S, two, rtol=0, atol=1e-13 * np.abs(two).max())
    np.testing.assert_allclose(Lt @ U, three, rtol=0, atol=1e-13 * np.abs(three).max())
    assert Ls[d_ab.tolist().index([0, 1]), 2] == 0.0    # parity: P0 P1 has no P2 component, exactly


@pytest.mark.parametrize("spec", [
    dict(n_species=2, max_body_order=4, degree=8, n_max=5, r_cut=2.5, w_l=1.0),    # l up to 3
    dict(n_species=2, max_body_order=4, degree=6, r_cut=3.0),
    dict(n_species=2, max_body_order=4, degree=6, r_cut=3.0, purify=False),
    dict(n_species=2, max_body_order=3, degree=7, r_cut=2.7, transform="literal"),
    dict(n_species=2, max_body_order=2, degree=5, r_cut=2.5),
    dict(n_species=1, max_body_order=4, degree=7, r_cut=2.8),
    dict(n_species=3, max_body_order=4, degree=6, r_cut=2.8),    # the general (scatter) partition path
])
def test_fast_decision_equals_the_reference_kernel(spec):
    """Default (vectorised) vs reference=True (per-pair kernel) and vs the feature matrix → standardise → dot."""
    n_species = spec["n_species"]
    frame = random_frame(n_species=n_species, seed=len(str(spec)))
    desc = ACEDescriptor(**spec)
    heads = random_heads(desc, list(range(n_species)))
    fast = desc.linear_decision(frame, heads)
    ref = desc.linear_decision(frame, heads, reference=True)
    np.testing.assert_allclose(fast, ref, rtol=0, atol=1e-10 * max(1.0, np.abs(ref).max()))
    X = desc.compute(frame)
    t = frame.types
    mean, scale, w = (np.stack([heads[s][k] for s in t]) for k in range(3))
    by_features = np.array([heads[s][3] for s in t]) + (((X - mean) / scale) * w).sum(axis=1)
    np.testing.assert_allclose(fast, by_features, rtol=0, atol=1e-10 * max(1.0, np.abs(ref).max()))
    norm = desc.linear_decision(frame, heads, normalize_w=True)
    np.testing.assert_allclose(norm, desc.linear_decision(frame, heads, normalize_w=True, reference=True),
                               rtol=0, atol=1e-10)


def test_fast_decision_on_an_overlong_explicit_list_with_lonely_centres_and_missing_heads():
    """A list reaching beyond r_cut (as LAMMPS' cutoff + skin), a centre with no neighbour in range and a
    species without a head (NaN): the same as the reference kernel."""
    frame = random_frame(n=140, seed=5)
    pos = np.vstack([frame.positions, [[50.0, 50.0, 50.0]]])    # far from everyone, in a bigger box
    big = Frame(pos, np.append(frame.types, 1), np.eye(3) * 100.0)
    desc = ACEDescriptor(n_species=2, max_body_order=4, degree=6, r_cut=2.6)
    centers = np.array([0, 3, 7, 11, 139, 140])
    nl = neighbor_list(big, desc.cutoff + 0.4, centers)
    heads = random_heads(desc, [0])
    fast = desc.linear_decision(big, heads, neighbors=nl)
    ref = desc.linear_decision(big, heads, neighbors=nl, reference=True)
    assert np.array_equal(np.isnan(fast), big.types[centers] == 1) and np.array_equal(np.isnan(ref), np.isnan(fast))
    ok = ~np.isnan(ref)
    np.testing.assert_allclose(fast[ok], ref[ok], rtol=0, atol=1e-10)
    nl0 = NeighborList(centers[:0], np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros((0, 3)),
                       desc.cutoff)
    assert desc.linear_decision(big, heads, neighbors=nl0).shape == (0,)


def test_explicit_image_list_equals_the_periodic_list():
    """linear_decision_explicit (LAMMPS' layout: owned atoms then explicit ghost images, int32 neighbour
    indices, a list reaching beyond r_cut) equals linear_decision on the periodic list, and the reference."""
    frame = random_frame(n=150, seed=9)
    desc = ACEDescriptor(n_species=2, max_body_order=4, degree=6, r_cut=2.6)
    heads = random_heads(desc, [0, 1], seed=4)
    centers = np.arange(0, frame.n_atoms, 3)
    skin = neighbor_list(frame, desc.cutoff + 0.5, centers)
    ghosts = frame.positions[skin.centers[skin.center_of_pair()]] + skin.vectors    # one image per pair
    x = np.vstack([frame.positions, ghosts])
    types = np.concatenate([frame.types, frame.types[skin.neighbors]])
    neigh = (frame.n_atoms + np.arange(skin.n_pairs)).astype(np.int32)
    got = desc.linear_decision_explicit(x, types, centers, skin.offsets, neigh, heads)
    want = desc.linear_decision(frame, heads, centers=centers)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)
    np.testing.assert_allclose(got, desc.linear_decision(frame, heads, centers=centers, reference=True),
                               rtol=0, atol=1e-10)


def test_explicit_list_with_shared_ghost_images():
    """LAMMPS' real layout (each periodic image once, owned atoms as neighbours by their own index; the
    benchmark builds it with models.bench._explicit_images): equal to the periodic list."""
    from glassfix.models.bench import _explicit_images

    frame = random_frame(n=150, seed=11)
    desc = ACEDescriptor(n_species=2, max_body_order=4, degree=6, r_cut=2.6)
    heads = random_heads(desc, [0, 1], seed=6)
    x, types, rows, offsets, neigh = _explicit_images(frame, desc.cutoff + 0.3)
    assert frame.n_atoms < x.shape[0] < frame.n_atoms + neigh.size    # images shared between lists
    got = desc.linear_decision_explicit(x, types, rows, offsets, neigh, heads)
    np.testing.assert_allclose(got, desc.linear_decision(frame, heads), rtol=0, atol=1e-10)


@pytest.mark.parametrize("n_species", [2, 3])
def test_binned_positions_equal_the_periodic_list(n_species):
    """linear_decision_binned (no list: owned atoms + shared ghost images sorted into cells of r_cut/4) equals
    the periodic list and the reference kernel; a far atom (sparse grid), a lonely centre and ghosts that
    are not centres included; two and three species (branch-free and scatter partitions)."""
    from glassfix.models.bench import _explicit_images

    frame = random_frame(n=150, seed=13, n_species=n_species)
    desc = ACEDescriptor(n_species=n_species, max_body_order=4, degree=6, r_cut=2.6)
    heads = random_heads(desc, list(range(n_species)), seed=8)
    x, types, rows, _, _ = _explicit_images(frame, desc.cutoff + 0.3)
    got = desc.linear_decision_binned(x, types, rows, heads)
    np.testing.assert_allclose(got, desc.linear_decision(frame, heads), rtol=0, atol=1e-10)
    np.testing.assert_allclose(got, desc.linear_decision(frame, heads, reference=True), rtol=0, atol=1e-10)
    # one more atom far away (the grid then spans 60 σ): it is a centre without neighbours, nobody's neighbour
    xf = np.vstack([x, [[60.0, -5.0, 30.0]]])
    tf = np.append(types, 0)
    rf = np.append(rows[::7], x.shape[0])
    far = desc.linear_decision_binned(xf, tf, rf, heads)
    np.testing.assert_allclose(far[:-1], got[::7], rtol=0, atol=1e-10)
    lone = ACEDescriptor(n_species=n_species, max_body_order=4, degree=6, r_cut=2.6)
    alone = Frame(np.array([[0.0, 0.0, 0.0]]), np.array([0]), np.eye(3) * 50.0)
    np.testing.assert_allclose(far[-1], lone.linear_decision(alone, heads)[0], rtol=0, atol=1e-10)


def test_binned_cells_never_drop_a_pair_at_the_cell_bounds():
    """Atoms placed on cell boundaries and at distances r_cut(1 − 1e-12) along the axes and diagonals of a
    centre on a cell corner: the binned and explicit-list decisions agree (same pairs inside the cutoff)."""
    desc = ACEDescriptor(n_species=2, max_body_order=3, degree=5, r_cut=2.0)
    heads = random_heads(desc, [0, 1], seed=2)
    rc = desc.r_cut * (1 - 1e-12)
    dirs = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1], [1, 1, 1], [-1, 1, -1],
                     [1, -1, 0], [0, 1, -1]], dtype=float)
    dirs /= np.linalg.norm(dirs, axis=1)[:, None]
    x = np.vstack([[[0.0, 0.0, 0.0]], rc * dirs, 0.5 * rc * dirs, [[-3.0, -3.0, -3.0], [3.0, 3.0, 3.0]]])
    types = np.arange(x.shape[0]) % 2
    rows = np.arange(x.shape[0])
    n = x.shape[0]
    offsets = np.arange(0, n * n + 1, n)    # everyone in everyone's list (self excluded by r = 0)
    neigh = np.tile(np.arange(n), n).astype(np.int32)
    want = desc.linear_decision_explicit(x, types, rows, offsets, neigh, heads)
    got = desc.linear_decision_binned(x, types, rows, heads)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_sparse_heads_prune_terms_and_equal_the_full_path(monkeypatch):
    """Heads that weigh few features (a selected-feature model): only their monomials are summed, and the
    decision equals the reference kernel (all invariants computed) and the feature path to 1e-10."""
    frame = random_frame(n=150, seed=13)
    desc = ACEDescriptor(n_species=2, max_body_order=4, degree=7, r_cut=2.8)
    rng = np.random.default_rng(3)
    heads = random_heads(desc, [0, 1], seed=8)
    keep = rng.random(desc.n_features) < 0.1    # ~10 % of the features, the same set for both heads
    heads = {t: (m, s, np.where(keep, w, 0.0), b) for t, (m, s, w, b) in heads.items()}
    got = desc.linear_decision(frame, heads)
    np.testing.assert_allclose(got, desc.linear_decision(frame, heads, reference=True), rtol=0, atol=1e-10)
    X = desc.compute(frame)
    want = np.array([heads[t][3] + (((X[i] - heads[t][0]) / heads[t][1]) * heads[t][2]).sum()
                     for i, t in enumerate(frame.types)])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)
    # the pruned sum has only the kept features' terms
    terms = desc._tables["terms"]
    n_all = sum(terms[k + "_feat"].size for k in ("a", "aa", "aaa", "ad", "d", "t"))
    n_kept = sum(int(keep[terms[k + "_feat"]].sum()) for k in ("a", "aa", "aaa", "ad", "d", "t"))
    assert 0 < n_kept < 0.3 * n_all
    # ... with terms of the same monomial merged (index order irrelevant for the products of A)
    n_unique = 0
    for k in ("a", "aa", "aaa", "ad", "d", "t"):
        idx = terms[k + "_idx"][keep[terms[k + "_feat"]]]
        n_unique += len({tuple(sorted(r)) if k in ("aa", "aaa") else tuple(r) for r in idx.tolist()})
    assert n_unique < n_kept
    import glassfix.descriptors.ace as ace_mod

    seen = {}
    kernel = ace_mod._ace_linear_fast

    def spy(*args):
        # the 12 monomial arrays follow (center_types, b0, norm, has): 6 index/coefficient pairs
        seen["n_terms"] = sum(a.shape[0] for a in args[25:37:2])
        return kernel(*args)

    monkeypatch.setattr(ace_mod, "_ace_linear_fast", spy)
    desc.linear_decision(frame, heads)
    assert seen["n_terms"] == n_unique


def test_merged_terms_give_the_same_polynomial():
    """merge_terms: repeated and permuted monomials summed into one term; the polynomial is unchanged."""
    rng = np.random.default_rng(4)
    A = rng.normal(size=12)
    idx = rng.integers(0, 12, size=(200, 3))
    idx[100:] = idx[:100][:, ::-1]    # every monomial twice, once with its factors reversed
    coef = rng.normal(size=(2, 200))
    uniq, merged = merge_terms(idx, coef, commuting=True)
    assert uniq.shape[0] <= 100
    for t in range(2):
        np.testing.assert_allclose((merged[t] * A[uniq].prod(axis=1)).sum(), (coef[t] * A[idx].prod(axis=1)).sum(),
                                   rtol=1e-12)
    # index pairs into two different arrays (A, D) are not reordered
    pair = np.array([[1, 2], [2, 1], [1, 2]])
    uniq, merged = merge_terms(pair, np.ones((1, 3)), commuting=False)
    np.testing.assert_array_equal(uniq, [[1, 2], [2, 1]])
    np.testing.assert_array_equal(merged, [[2.0, 1.0]])


def test_changed_heads_are_not_served_from_the_merged_coefficients():
    """The merged read-out is cached per heads: new weights on the same descriptor give their own decision."""
    frame = random_frame(n=120, seed=21)
    desc = ACEDescriptor(n_species=2, max_body_order=4, degree=6, r_cut=2.8)
    for seed in (5, 6, 5):
        heads = random_heads(desc, [0, 1], seed=seed)
        np.testing.assert_allclose(desc.linear_decision(frame, heads),
                                   desc.linear_decision(frame, heads, reference=True), rtol=0, atol=1e-10)


@pytest.mark.parametrize("l_max", [0, 1, 2])
def test_written_out_low_order_harmonics_equal_the_recurrences(l_max):
    """_harmonics for l ≤ 2 (closed forms) equals the general recurrences (taken from an l_max = 3 call)."""
    from glassfix.descriptors._ace_fast import _harmonics
    from glassfix.descriptors._wigner import real_ylm_norms

    rng = np.random.default_rng(l_max)
    m = 41
    u = rng.normal(size=(3, m))
    u /= np.linalg.norm(u, axis=0)
    u[:, 0] = [0.0, 0.0, 1.0]    # the poles and an in-plane direction
    u[:, 1] = [0.0, 0.0, -1.0]
    u[:, 2] = [np.sqrt(0.5), -np.sqrt(0.5), 0.0]
    norms = real_ylm_norms(3)
    nlm = (l_max + 1) ** 2
    got = np.zeros((nlm, m))
    _harmonics(m, u[0].copy(), u[1].copy(), u[2].copy(), l_max, norms, np.zeros((nlm, m)), got, np.zeros(m),
               np.zeros(m))
    want = np.zeros((16, m))
    _harmonics(m, u[0].copy(), u[1].copy(), u[2].copy(), 3, norms, np.zeros((16, m)), want, np.zeros(m), np.zeros(m))
    np.testing.assert_allclose(got, want[:nlm], rtol=0, atol=1e-15)
