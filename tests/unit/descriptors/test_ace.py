"""ACEDescriptor against brute-force references (pairs × periodic images, explicit neighbour tuples), invariances,
transform/basis conventions of the digest (000_ace.md §4) and the descriptor contract."""

from __future__ import annotations

import itertools
import json
import math

import numba
import numpy as np
import pytest
from scipy.special import eval_legendre, sph_harm_y

from glassfix.core.frame import Frame, NeighborList
from glassfix.core.neighbors import neighbor_list
from glassfix.descriptors import ace as ace_mod  # noqa: F401  (registers kind "ace")
from glassfix.descriptors._wigner import complex_from_real, wigner_3j, wigner_3j_tensor
from glassfix.descriptors.ace import ACEDescriptor
from glassfix.descriptors.ace_basis import ace_basis, distance_transform, radial_basis
from glassfix.descriptors.base import descriptor_from_spec
from helpers.frames import separated_positions

SQ4PI = math.sqrt(4 * math.pi)

# Small basis that still reaches l = 3 (w_l = 1) and has 4-body couplings with l up to 3.
SMALL = dict(n_species=2, max_body_order=4, degree=8, n_max=5, r_cut=2.5, w_l=1.0)


# ---------------------------------------------------------------------------------------------------
# frames
# ---------------------------------------------------------------------------------------------------


def random_frame(n: int = 120, box: float = 6.6, dmin: float = 0.85, seed: int = 0, frac_b: float = 0.3) -> Frame:
    """Random positions with periodic minimum separation dmin (rejection sampling) in a cubic box."""
    rng = np.random.default_rng(seed)
    pos = separated_positions(rng, n, box, dmin)
    types = (rng.random(n) < frac_b).astype(np.int64)
    return Frame(pos, types, np.eye(3) * box, species=("A", "B"))


def cluster_frame(n_nb: int = 11, r_cut: float = 2.5, seed: int = 3) -> Frame:
    """Centre (atom 0) plus n_nb neighbours inside r_cut, in a box far larger than the cluster (no images)."""
    rng = np.random.default_rng(seed)
    pts = [np.zeros(3)]
    while len(pts) < n_nb + 1:
        v = rng.uniform(-r_cut, r_cut, 3)
        if 0.8 < np.linalg.norm(v) < r_cut * 0.98 and all(np.linalg.norm(v - q) > 0.7 for q in pts):
            pts.append(v)
    pos = np.array(pts) + 20.0
    types = np.array([0] + list(rng.integers(0, 2, n_nb)))
    types[1], types[2] = 0, 1  # both species present
    return Frame(pos, types, np.eye(3) * 40.0)


# ---------------------------------------------------------------------------------------------------
# brute-force references (independent of the numba code: scipy Y_lm, scipy Legendre, own transform)
# ---------------------------------------------------------------------------------------------------


def ref_x(r, r_cut, r_0=1.0, transform="default"):
    """Digest §4.1: x = 1 − (y(r) − y(r_cut))/(y(0) − y(r_cut)) · (1 − (r/r_cut)⁴)."""
    if transform == "default":
        a, s = 3.0 / 11.0, r_0
    else:
        s0 = r_0 / r_cut
        a, s = (6 - 3 * s0**3) / (s0**7 + 10 * s0**4), r_cut

    def y(rr):
        u = np.asarray(rr) / s
        return (1 + u**3) / (1 + u**3 + a * u**4)

    return 1 - (y(r) - y(r_cut)) / (y(0.0) - y(r_cut)) * (1 - (np.asarray(r) / r_cut) ** 4)


def ref_R(r, n_max, r_cut, r_0=1.0, transform="default"):
    """R_n = (x − 1) √(2n−1) P_{n−1}(2x − 1), n = 1 … n_max."""
    x = ref_x(r, r_cut, r_0, transform)
    return np.stack([(x - 1) * math.sqrt(2 * k + 1) * eval_legendre(k, 2 * x - 1) for k in range(n_max)], -1)


def ref_Yc(v, l_max):
    """Complex Condon–Shortley Y_l^m(r̂) at flat index l² + l + m, shape (M, (l_max+1)²)."""
    r = np.linalg.norm(v, axis=1)
    th = np.arccos(np.clip(v[:, 2] / r, -1, 1))
    ph = np.arctan2(v[:, 1], v[:, 0])
    out = np.zeros((v.shape[0], (l_max + 1) ** 2), dtype=complex)
    for l in range(l_max + 1):
        for m in range(-l, l + 1):
            out[:, l * l + l + m] = sph_harm_y(l, m, th, ph)
    return out


def ref_pairs(frame: Frame, i: int, r_cut: float):
    """(neighbour types, vectors) of centre i over every atom and periodic image with 0 < r < r_cut."""
    recip = np.linalg.inv(frame.cell)
    heights = 1.0 / np.linalg.norm(recip, axis=0)
    k = [int(math.ceil(r_cut / h)) + 1 for h in heights]
    shifts = np.array(list(itertools.product(*[range(-q, q + 1) for q in k])), float) @ frame.cell
    v = (frame.positions[:, None, :] + shifts[None] - frame.positions[i]).reshape(-1, 3)
    t = np.repeat(frame.types, shifts.shape[0])
    r = np.linalg.norm(v, axis=1)
    keep = (r > 0) & (r < r_cut)
    return t[keep], v[keep]


def ref_phi(types, vecs, desc: ACEDescriptor, l_max: int):
    """Complex one-particle basis φ[j, ζ, n−1, lm] per neighbour."""
    R = ref_R(np.linalg.norm(vecs, axis=1), desc.n_max, desc.r_cut, desc.r_0, desc.transform)
    Y = ref_Yc(vecs, l_max)
    phi = np.zeros((len(types), desc.n_species, desc.n_max, Y.shape[1]), dtype=complex)
    for j, z in enumerate(types):
        phi[j, z] = R[j][:, None] * Y[j][None, :]
    return phi


def ref_base(frame: Frame, desc: ACEDescriptor, l_max: int, centers) -> np.ndarray:
    """Complex A[c, ζ, n−1, lm] by brute force over all atoms and images."""
    out = []
    for i in centers:
        t, v = ref_pairs(frame, i, desc.r_cut)
        out.append(ref_phi(t, v, desc, l_max).sum(0))
    return np.array(out)


def sl(l):
    return slice(l * l, (l + 1) * (l + 1))


def invariants_from_base(Ac: np.ndarray, desc: ACEDescriptor) -> np.ndarray:
    """Unpurified invariants of one centre from its complex base, paper formulas (digest §4.2)."""
    out = []
    for (z, n, _), in [f for f in desc.basis_functions if len(f) == 1]:
        out.append(SQ4PI * Ac[z, n - 1, 0])
    for fac in desc.basis_functions:
        if len(fac) == 2:
            (z1, n1, l), (z2, n2, _) = fac
            a1, a2 = Ac[z1, n1 - 1, sl(l)], Ac[z2, n2 - 1, sl(l)]
            out.append(sum((-1) ** m * a1[l + m] * a2[l - m] for m in range(-l, l + 1)))
        elif len(fac) == 3:
            (z1, n1, l1), (z2, n2, l2), (z3, n3, l3) = fac
            w = wigner_3j_tensor(l1, l2, l3)
            out.append(np.einsum("abc,a,b,c->", w, Ac[z1, n1 - 1, sl(l1)], Ac[z2, n2 - 1, sl(l2)],
                                 Ac[z3, n3 - 1, sl(l3)]))
    out = np.array(out)
    assert np.abs(out.imag).max() <= 1e-10 * max(1.0, np.abs(out).max())
    return out.real


def rel_err(a, b):
    scale = np.maximum(np.abs(b).max(axis=0), 1e-300)
    return float((np.abs(a - b) / np.maximum(scale, 1e-3 * np.abs(b).max())).max())


# ---------------------------------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def frame():
    return random_frame()


@pytest.fixture(scope="module")
def desc_raw():
    return ACEDescriptor(**SMALL, purify=False)


@pytest.fixture(scope="module")
def desc_pure():
    return ACEDescriptor(**SMALL, purify=True)


# ---------------------------------------------------------------------------------------------------
# conventions: 3j, harmonics, transform, radial basis, basis selection
# ---------------------------------------------------------------------------------------------------


def test_wigner_3j_known_values_and_orthogonality():
    assert wigner_3j(1, 1, 0, 0, 0, 0) == pytest.approx(-1 / math.sqrt(3), abs=1e-15)
    assert wigner_3j(1, 1, 2, 0, 0, 0) == pytest.approx(math.sqrt(2 / 15), abs=1e-15)
    assert wigner_3j(2, 2, 2, 0, 0, 0) == pytest.approx(-math.sqrt(2 / 35), abs=1e-15)
    assert wigner_3j(1, 1, 1, 1, -1, 0) == pytest.approx(1 / math.sqrt(6), abs=1e-15)
    assert wigner_3j(2, 1, 1, 0, 1, -1) == pytest.approx(1 / math.sqrt(30), abs=1e-15)
    for l1, l2 in [(1, 2), (3, 2), (4, 4)]:
        for l3 in range(abs(l1 - l2), l1 + l2 + 1):
            for l3p in range(abs(l1 - l2), l1 + l2 + 1):
                w, wp = wigner_3j_tensor(l1, l2, l3), wigner_3j_tensor(l1, l2, l3p)
                for m3 in range(-min(l3, l3p), min(l3, l3p) + 1):
                    s = (2 * l3 + 1) * np.sum(w[:, :, l3 + m3] * wp[:, :, l3p + m3])
                    assert s == pytest.approx(float(l3 == l3p), abs=1e-13)


def test_real_harmonics_map_to_complex_condon_shortley():
    rng = np.random.default_rng(0)
    u = rng.normal(size=(20, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    u[0] = [0, 0, 1]  # pole
    yr = ace_mod.real_spherical_harmonics(u, 6)
    yc = ref_Yc(u, 6)
    for l in range(7):
        np.testing.assert_allclose(yr[:, sl(l)] @ complex_from_real(l).T, yc[:, sl(l)], atol=1e-14)


@pytest.mark.parametrize("transform", ["default", "literal"])
def test_distance_transform(transform):
    r_cut = 4.0
    r = np.linspace(0, r_cut, 4001)
    x = distance_transform(r, r_cut, 1.0, transform)
    np.testing.assert_allclose(x, ref_x(r, r_cut, 1.0, transform), atol=1e-14)
    assert x[0] == pytest.approx(0.0, abs=1e-15) and x[-1] == pytest.approx(1.0, abs=1e-15)
    assert np.all(np.diff(x) > 0)
    # digest §4.1 values at r_cut = 4
    want = {"default": (0.235, 0.654), "literal": (0.376, 0.912)}[transform]
    got = distance_transform(np.array([1.0, 2.0]), r_cut, 1.0, transform)
    np.testing.assert_allclose(got, want, atol=6e-4)
    # |y'| of the Agnesi factor peaks at r_0 = 1 (a = 3/11 resp. the literal formula)
    scale, a = ace_mod._transform_params(transform, r_cut, 1.0)
    rr = np.linspace(1e-3, r_cut, 200001)
    y = (1 + (rr / scale) ** 3) / (1 + (rr / scale) ** 3 + a * (rr / scale) ** 4)
    assert rr[np.argmax(np.abs(np.gradient(y, rr)))] == pytest.approx(1.0, abs=1e-3)


def test_radial_basis_legendre_orthonormal_and_envelope():
    r_cut = 3.0
    # p_k = R_{k+1} / (x − 1) are orthonormal on x ∈ [0, 1]
    xq, wq = np.polynomial.legendre.leggauss(40)
    xq, wq = 0.5 * (xq + 1), 0.5 * wq
    p = np.stack([math.sqrt(2 * k + 1) * eval_legendre(k, 2 * xq - 1) for k in range(12)], -1)
    np.testing.assert_allclose(p.T @ (wq[:, None] * p), np.eye(12), atol=1e-12)
    r = np.linspace(0.5, r_cut, 50)
    np.testing.assert_allclose(radial_basis(r, 12, r_cut), ref_R(r, 12, r_cut), atol=1e-13)
    # first function is sign-definite (coarse-grained density)
    R = radial_basis(np.linspace(0, r_cut * (1 - 1e-4), 500), 12, r_cut)
    assert np.all(R[:, 0] < 0)
    # E = x − 1 = −g(r)·(1 − (r/r_cut)⁴) with g(r_cut) = 0: every R_n vanishes quadratically in r at r_cut
    e1, e2 = (np.abs(radial_basis(np.array([r_cut - h]), 12, r_cut)).max() for h in (1e-3, 1e-4))
    assert e1 < 1e-4 and e1 / e2 == pytest.approx(100.0, rel=0.02)
    assert np.all(radial_basis(np.array([r_cut, r_cut + 0.1]), 12, r_cut) == 0)


def test_basis_selection_paper_counts_and_names():
    d = ACEDescriptor(2, 4, degree=10, n_max=10, r_cut=4.0, species_names=["A", "B"])
    bo = d.body_orders
    assert [(bo == k).sum() for k in (2, 3, 4)] == [20, 154, 400]
    assert d.l_max == 2 and d.n_features == 574
    assert d.names[:20] == [f"A{n}" for n in range(1, 11)] + [f"B{n}" for n in range(1, 11)]
    assert d.names[20] == "A1l0|A1l0" and d.names[21] == "A1l0|B1l0" and d.names[22] == "B1l0|B1l0"
    assert len(set(d.names)) == d.n_features
    assert np.all(np.diff(bo) >= 0)
    # every many-body tuple obeys the rule and the block is sorted by total degree
    degs = [sum(n + 1.5 * l for _, n, l in f) for f in d.basis_functions[20:]]
    assert max(degs) <= 10
    assert all(a <= b for a, b in zip(degs[:154], degs[1:154]))
    poly = ace_basis(1, 4, 18, 20, 1.5)
    assert [len(b) for b in poly] == [20, 204, 897]
    assert ACEDescriptor(1, 4, degree=18, n_max=20).l_max == 5
    assert ACEDescriptor(2, 2, degree=10).n_features == 20
    assert ACEDescriptor(2, 3, degree=10).n_features == 174
    assert "sum_t (n_t + 1.5 l_t) <= 10" in d.selection_rule


# ---------------------------------------------------------------------------------------------------
# (1)–(2) atomic base and invariants against brute force
# ---------------------------------------------------------------------------------------------------


def test_atomic_base_matches_brute_force(frame, desc_raw):
    l_max = 3
    A = desc_raw.atomic_base(frame, l_max=l_max)
    centers = np.arange(0, frame.n_atoms, 3)
    ref = ref_base(frame, desc_raw, l_max, centers)
    Ac = np.zeros_like(ref)
    for l in range(l_max + 1):
        Ac[..., sl(l)] = np.einsum("mu,cznu->cznm", complex_from_real(l), A[centers][..., sl(l)])
    scale = np.abs(ref).max()
    assert np.abs(Ac - ref).max() <= 1e-12 * max(scale, 1.0)


def test_invariants_match_brute_force(frame, desc_raw):
    centers = np.arange(0, frame.n_atoms, 4)
    X = desc_raw.compute(frame, centers=centers)
    ref_A = ref_base(frame, desc_raw, desc_raw.l_max, centers)
    ref = np.array([invariants_from_base(a, desc_raw) for a in ref_A])
    assert np.abs(X - ref).max() <= 1e-11 * np.abs(ref).max()
    assert (desc_raw.body_orders == 4).sum() > 50 and desc_raw.l_max == 3


# ---------------------------------------------------------------------------------------------------
# (4) purification = explicit sums over distinct neighbour tuples
# ---------------------------------------------------------------------------------------------------


def test_purified_equals_sum_over_distinct_tuples(desc_pure):
    fr = cluster_frame(n_nb=10, r_cut=desc_pure.r_cut)
    X = desc_pure.compute(fr, centers=np.array([0]))[0]
    t, v = ref_pairs(fr, 0, desc_pure.r_cut)
    nc = len(t)
    assert nc == 10
    phi = ref_phi(t, v, desc_pure, desc_pure.l_max)
    pairs = [(a, b) for a, b in itertools.permutations(range(nc), 2)]
    triples = [(a, b, c) for a, b, c in itertools.permutations(range(nc), 3)]
    ia, ib = np.array(pairs).T
    ja, jb, jc = np.array(triples).T
    ref = []
    for fac in desc_pure.basis_functions:
        if len(fac) == 1:
            (z, n, _), = fac
            ref.append(sum(phi[j, z, n - 1, 0] * SQ4PI for j in range(nc)))
        elif len(fac) == 2:
            (z1, n1, l), (z2, n2, _) = fac
            p1, p2 = phi[:, z1, n1 - 1, sl(l)], phi[:, z2, n2 - 1, sl(l)]
            sign = (-1.0) ** np.arange(-l, l + 1)
            M = np.einsum("m,jm,km->jk", sign, p1, p2[:, ::-1])  # Σ_m (−1)^m φ1_m(j) φ2_{−m}(k)
            ref.append(M[ia, ib].sum())
        else:
            (z1, n1, l1), (z2, n2, l2), (z3, n3, l3) = fac
            w = wigner_3j_tensor(l1, l2, l3)
            Tt = np.einsum("abc,ia,jb,kc->ijk", w, phi[:, z1, n1 - 1, sl(l1)], phi[:, z2, n2 - 1, sl(l2)],
                           phi[:, z3, n3 - 1, sl(l3)])
            ref.append(Tt[ja, jb, jc].sum())
    ref = np.array(ref)
    assert np.abs(ref.imag).max() < 1e-12
    ref = ref.real
    assert np.abs(X - ref).max() <= 1e-12 * max(1.0, np.abs(ref).max())
    # and purification really changes the 3-/4-body features
    raw = ACEDescriptor(**SMALL, purify=False).compute(fr, centers=np.array([0]))[0]
    assert np.abs(raw[20:] - X[20:]).max() > 1e-3


# ---------------------------------------------------------------------------------------------------
# (3) invariances
# ---------------------------------------------------------------------------------------------------


def random_rotation(rng, reflect=False):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q @ np.diag(np.sign(np.diag(r)))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    if reflect:
        q = q @ np.diag([1.0, 1.0, -1.0])
    return q


def test_rotation_reflection_translation_permutation_image_invariance(frame, desc_pure):
    X = desc_pure.compute(frame)
    rng = np.random.default_rng(7)
    for reflect in (False, False, True):
        Q = random_rotation(rng, reflect)
        fr = Frame(frame.positions @ Q.T, frame.types, frame.cell @ Q.T, origin=frame.origin @ Q.T)
        assert rel_err(desc_pure.compute(fr), X) <= 1e-10
    # translation
    fr = Frame(frame.positions + np.array([0.37, -1.2, 5.1]), frame.types, frame.cell)
    assert rel_err(desc_pure.compute(fr), X) <= 1e-10
    # periodic images: move atoms by lattice vectors
    shifts = rng.integers(-3, 4, size=(frame.n_atoms, 3)) @ frame.cell
    fr = Frame(frame.positions + shifts, frame.types, frame.cell)
    assert rel_err(desc_pure.compute(fr), X) <= 1e-10
    # permutation of atoms
    perm = rng.permutation(frame.n_atoms)
    fr = Frame(frame.positions[perm], frame.types[perm], frame.cell)
    assert rel_err(desc_pure.compute(fr), X[perm]) <= 1e-10
    # permutation of pairs inside the neighbour list of every centre
    nl = neighbor_list(frame, desc_pure.cutoff)
    order = np.concatenate([nl.offsets[c] + rng.permutation(nl.offsets[c + 1] - nl.offsets[c])
                            for c in range(nl.n_centers)])
    nl2 = NeighborList(nl.centers, nl.offsets, nl.neighbors[order], nl.vectors[order], nl.cutoff)
    assert rel_err(desc_pure.compute(frame, neighbors=nl2), X) <= 1e-10


# ---------------------------------------------------------------------------------------------------
# (5) continuity at r_cut, (7) over-long lists, determinism
# ---------------------------------------------------------------------------------------------------


def test_continuity_at_cutoff(desc_pure):
    fr = cluster_frame(n_nb=8, r_cut=desc_pure.r_cut, seed=11)
    direction = np.array([0.48, -0.6, 0.64]) / 1.0
    direction /= np.linalg.norm(direction)
    base = desc_pure.compute(fr, centers=np.array([0]))[0]

    def with_atom(r):
        pos = np.vstack([fr.positions, fr.positions[0] + r * direction])
        f2 = Frame(pos, np.append(fr.types, 1), fr.cell)
        return desc_pure.compute(f2, centers=np.array([0]))[0]

    rc = desc_pure.r_cut
    np.testing.assert_array_equal(with_atom(rc * (1 + 1e-9)), base)
    scale = max(1.0, np.abs(base).max())
    d1 = np.abs(with_atom(rc - 1e-3) - base).max()
    d2 = np.abs(with_atom(rc - 1e-4) - base).max()
    assert d1 < 1e-4 * scale and d2 < 1e-6 * scale
    # E = x − 1 and x'(r_cut) = 0: a neighbour enters quadratically (features are C¹ at r_cut)
    assert d1 / d2 == pytest.approx(100.0, rel=0.05)


def test_overlong_neighbour_list_and_determinism(frame, desc_pure):
    X = desc_pure.compute(frame)
    long = neighbor_list(frame, desc_pure.cutoff + 0.7)
    np.testing.assert_allclose(desc_pure.compute(frame, neighbors=long), X, rtol=0, atol=1e-12 * np.abs(X).max())
    np.testing.assert_array_equal(desc_pure.compute(frame, neighbors=long),
                                  desc_pure.compute(frame, neighbors=long.within(desc_pure.cutoff)))
    # rows are independent of the other centres and of the thread count
    sub = np.array([5, 17, 3])
    np.testing.assert_array_equal(desc_pure.compute(frame, centers=sub), X[sub])
    n0 = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        X1 = desc_pure.compute(frame)
    finally:
        numba.set_num_threads(n0)
    np.testing.assert_array_equal(X1, X)


# ---------------------------------------------------------------------------------------------------
# (6) spec round trip, contract, errors
# ---------------------------------------------------------------------------------------------------


def test_spec_round_trip_and_names(frame):
    d = ACEDescriptor(2, 3, degree=7.5, n_max=6, r_cut=2.2, r_0=0.9, transform="literal", purify=True,
                      species_names=["Cu", "Zr"])
    spec = json.loads(json.dumps(d.spec()))
    d2 = descriptor_from_spec(spec)
    assert isinstance(d2, ACEDescriptor) and d2.spec() == d.spec()
    assert d2.names == d.names and d2.names[0] == "Cu1" and d2.names[6] == "Zr1"
    np.testing.assert_array_equal(d2.compute(frame), d.compute(frame))
    assert ACEDescriptor(2, 3, degree=7.5, n_max=6).names == ACEDescriptor(2, 3, degree=7.5, n_max=6).names
    with pytest.raises(ValueError):
        descriptor_from_spec({**spec, "bogus": 1})


def test_errors_and_edge_cases(frame):
    d = ACEDescriptor(2, 4, degree=5, r_cut=2.0)
    f2d = Frame(np.random.default_rng(0).uniform(0, 5, (10, 2)), np.zeros(10, int), np.eye(2) * 5)
    with pytest.raises(ValueError, match="3D"):
        d.compute(f2d)
    for bad in [dict(max_body_order=5), dict(transform="x"), dict(r_0=3.0), dict(degree=0), dict(n_max=0)]:
        with pytest.raises(ValueError):
            ACEDescriptor(2, **{"r_cut": 2.0, **bad})
    with pytest.raises(ValueError):
        ACEDescriptor(1, 2).compute(frame)  # frame has type 1
    # an isolated atom has all-zero features
    lone = Frame(np.array([[1.0, 1.0, 1.0], [9.0, 9.0, 9.0]]), np.array([0, 1]), np.eye(3) * 20)
    assert np.all(d.compute(lone) == 0)
