"""CoarseGrainedDescriptor / periodic_voronoi / FrozenStandardizer against brute-force references.

References are independent of glassfix.core.neighbors and of freud: explicit loops over atoms and
periodic images (numpy inside one centre), scipy.spatial.Voronoi on a periodically replicated frame.
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from scipy.spatial import ConvexHull, Delaunay, Voronoi

import glassfix.descriptors.coarse_grained as cgmod
from glassfix.core.frame import Frame
from glassfix.descriptors.base import descriptor_from_spec
from glassfix.descriptors.coarse_grained import JUNG_LENGTHS, CoarseGrainedDescriptor
from glassfix.descriptors.standardizer import FrozenStandardizer
from glassfix.descriptors.voronoi import periodic_voronoi
from glassfix.systems import get_system

RTOL = 1e-10

# ---------------------------------------------------------------------------------------------------
# configurations and brute-force helpers
# ---------------------------------------------------------------------------------------------------


def rsa_frame(n, dim, density, dmin, n_species, seed, tilt=0.15):
    """Random sequential addition (min distance ``dmin`` in fractional-cubic metric), mildly triclinic."""
    rng = np.random.default_rng(seed)
    L = (n / density) ** (1.0 / dim)
    pts = []
    while len(pts) < n:
        x = rng.uniform(0, L, dim)
        if pts:
            dx = np.array(pts) - x
            dx -= L * np.round(dx / L)
            if (dx * dx).sum(1).min() < dmin * dmin:
                continue
        pts.append(x)
    cell = np.eye(dim) * L
    cell[1, 0] = tilt * L
    if dim == 3:
        cell[2, 0], cell[2, 1] = -0.5 * tilt * L, 0.7 * tilt * L
    s = np.array(pts) / L
    types = rng.integers(0, n_species, n)
    return Frame(positions=s @ cell + 0.3, types=types, cell=cell)


def image_shifts(cell, cutoff):
    recip = np.linalg.inv(cell)
    heights = 1.0 / np.linalg.norm(recip, axis=0)
    nmax = [int(math.ceil(cutoff / h)) + 1 for h in heights]
    ints = np.array(list(itertools.product(*[range(-k, k + 1) for k in nmax])), dtype=np.float64)
    return ints @ cell


def lj2d(r, ti, tj):
    """A three-species smooth pair potential (JBB-like LJ with the C0/C2/C4 polynomial, digest 001 §1.2)."""
    eps = np.array([[1.0, 1.5, 0.75], [1.5, 0.5, 1.5], [0.75, 1.5, 0.75]])[ti, tj]
    sig = np.array([[1.0, 0.8, 0.9], [0.8, 0.88, 0.8], [0.9, 0.8, 0.94]])[ti, tj]
    x = r / sig
    v = 4 * eps * (x ** -12 - x ** -6 + 0.04049023795 - 0.00970155098 * x ** 2 + 0.00062012616 * x ** 4)
    return np.where(r < 2.5 * sig, v, 0.0)


def ref_energies(frame, pair, rc):
    shifts = image_shifts(frame.cell, rc)
    e = np.zeros(frame.n_atoms)
    for i in range(frame.n_atoms):
        v = frame.positions[:, None, :] + shifts[None] - frame.positions[i]
        r = np.linalg.norm(v, axis=-1)
        keep = (r > 0) & (r < rc)
        jj = np.nonzero(keep)[0]
        e[i] = 0.5 * pair(r[keep], np.full(jj.size, frame.types[i]), frame.types[jj]).sum()
    return e


def ref_voronoi(frame):
    """(measure, boundary, neighbour counts) from scipy Voronoi/Delaunay of the 3^d replicated frame."""
    d, n = frame.dim, frame.n_atoms
    s = (frame.positions - frame.origin) @ np.linalg.inv(frame.cell)
    wrapped = (s - np.floor(s)) @ frame.cell
    ints = np.array(list(itertools.product(range(-1, 2), repeat=d)))
    pts = (wrapped[None] + (ints @ frame.cell)[:, None]).reshape(-1, d)
    c0 = [tuple(x) for x in ints].index((0,) * d)
    vor = Voronoi(pts)
    meas, bnd = np.zeros(n), np.zeros(n)
    for i in range(n):
        reg = vor.regions[vor.point_region[c0 * n + i]]
        assert -1 not in reg and reg
        hull = ConvexHull(vor.vertices[reg])
        meas[i], bnd[i] = hull.volume, hull.area
    tri = Delaunay(pts)
    indptr, ind = tri.vertex_neighbor_vertices
    counts = np.array([indptr[c0 * n + i + 1] - indptr[c0 * n + i] for i in range(n)])
    return meas, bnd, counts


def ref_coarse_grained(frame, values, lengths, rmax, n_species, quantities, centers=None):
    """Eqs. (1)–(4) of digest 001 §4.1 by explicit loops (self included at R = 0, w_0 = self only)."""
    shifts = image_shifts(frame.cell, rmax)
    n = frame.n_atoms
    rows = []
    for i in (range(n) if centers is None else centers):
        v = frame.positions[:, None, :] + shifts[None] - frame.positions[i]
        r = np.linalg.norm(v, axis=-1)
        keep = r < rmax  # includes the self term (r = 0) exactly once
        jj = np.nonzero(keep)[0]
        rr = r[keep]
        row = {q: [] for q in quantities}
        for L in lengths:
            w = np.exp(-rr / L) if L > 0 else (rr == 0).astype(float)
            for ch in list(range(n_species)) + ["all"]:
                sel = np.ones(jj.size, bool) if ch == "all" else frame.types[jj] == ch
                ws, js = w[sel], jj[sel]
                rho = ws.sum()
                for q in quantities:
                    if q == "density":
                        row[q].append(rho)
                    elif q == "energy_variance":
                        if rho > 0:
                            ebar = (ws * values["energy"][js]).sum() / rho
                            row[q].append((ws * (values["energy"][js] - ebar) ** 2).sum() / rho)
                        else:
                            row[q].append(0.0)
                    else:
                        row[q].append((ws * values[q][js]).sum() / rho if rho > 0 else 0.0)
        rows.append(np.concatenate([row[q] for q in quantities]))
    return np.array(rows)


@pytest.fixture(scope="module")
def frame2d():
    return rsa_frame(110, 2, 1.19207, 0.6, 3, seed=3)


@pytest.fixture(scope="module")
def frame3d():
    f = rsa_frame(140, 3, 1.2, 0.7, 2, seed=4)
    return f


# ---------------------------------------------------------------------------------------------------
# Voronoi and energies
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["frame2d", "frame3d"])
def test_voronoi_matches_scipy(which, request):
    frame = request.getfixturevalue(which)
    cells = periodic_voronoi(frame)
    meas, bnd, counts = ref_voronoi(frame)
    np.testing.assert_allclose(cells.measure, meas, rtol=RTOL)
    np.testing.assert_allclose(cells.boundary, bnd, rtol=RTOL)
    np.testing.assert_array_equal(cells.neighbors.counts(), counts)
    assert abs(cells.measure.sum() / frame.volume - 1) < 1e-13
    # the face weights sum to the perimeter / surface, and every pair vector is a real image vector
    np.testing.assert_allclose(np.bincount(cells.neighbors.center_of_pair(), cells.face), cells.boundary,
                               rtol=1e-12)
    nl = cells.neighbors
    frac = (frame.positions[nl.neighbors] - frame.positions[nl.center_of_pair()] - nl.vectors) @ np.linalg.inv(
        frame.cell)
    np.testing.assert_allclose(frac, np.round(frac), atol=1e-9)


@pytest.mark.parametrize("which", ["frame2d", "frame3d"])
def test_voronoi_backends_agree(which, request):
    frame = request.getfixturevalue(which)
    a = periodic_voronoi(frame, backend="freud")
    b = periodic_voronoi(frame, backend="numba")
    np.testing.assert_allclose(b.measure, a.measure, rtol=1e-12)
    np.testing.assert_allclose(b.boundary, a.boundary, rtol=1e-12)
    np.testing.assert_array_equal(b.neighbors.offsets, a.neighbors.offsets)
    np.testing.assert_array_equal(b.neighbors.neighbors, a.neighbors.neighbors)
    np.testing.assert_allclose(b.face, a.face, rtol=1e-12)
    with pytest.raises(ValueError):
        periodic_voronoi(frame, backend="voro")
    open_frame = Frame(frame.positions, frame.types, frame.cell, pbc=[True] * (frame.dim - 1) + [False])
    with pytest.raises(ValueError, match="periodic"):
        periodic_voronoi(open_frame)


def test_energies_match_reference(frame2d, frame3d):
    e = cgmod.particle_energies(frame2d, lj2d, 2.5)
    np.testing.assert_allclose(e, ref_energies(frame2d, lj2d, 2.5), rtol=RTOL)
    ka = get_system("ka3d")
    e3 = cgmod.particle_energies(frame3d, ka.pair_energy, ka.max_cutoff)
    np.testing.assert_allclose(e3, ref_energies(frame3d, ka.pair_energy, ka.max_cutoff), rtol=RTOL)


# ---------------------------------------------------------------------------------------------------
# coarse-grained descriptors
# ---------------------------------------------------------------------------------------------------


def test_jung_defaults_count_and_names():
    d = CoarseGrainedDescriptor(3, species_names=["1", "2", "3"], pair_energy=lj2d, pair_cutoff=2.5)
    assert d.n_features == 176 == len(d.names) == len(set(d.names))
    assert tuple(d.lengths) == JUNG_LENGTHS and len(JUNG_LENGTHS) == 11
    assert d.names[:4] == ["rho_1(L=0)", "rho_2(L=0)", "rho_3(L=0)", "rho_all(L=0)"]
    assert d.names[-1] == "dE_all(L=9)"
    assert d.cutoff == 20.0


def test_coarse_grained_2d_matches_reference(frame2d):
    quantities = ("density", "energy", "perimeter", "volume", "energy_variance")
    d = CoarseGrainedDescriptor(3, quantities=quantities, pair_energy=lj2d, pair_cutoff=2.5)
    got = d.compute(frame2d)
    assert got.shape == (frame2d.n_atoms, 5 * 11 * 4)
    meas, bnd, _ = ref_voronoi(frame2d)
    values = {"energy": ref_energies(frame2d, lj2d, 2.5), "perimeter": bnd, "volume": meas}
    ref = ref_coarse_grained(frame2d, values, JUNG_LENGTHS, 20.0, 3, quantities)
    np.testing.assert_allclose(got, ref, rtol=RTOL, atol=1e-12)
    # L = 0: self only -> own channel and "all" density exactly 1, variance exactly 0, E = E_i
    t = frame2d.types
    rho0 = got[:, :4]
    assert np.array_equal(rho0[np.arange(len(t)), t], np.ones(len(t))) and np.all(rho0[:, 3] == 1)
    assert np.all(got[:, 4 * 44: 4 * 44 + 4] == 0)
    np.testing.assert_allclose(got[:, 44 + 3], values["energy"], rtol=RTOL)


def test_coarse_grained_3d_frame_energies_and_given_neighbors(frame3d):
    rng = np.random.default_rng(7)
    frame = Frame(frame3d.positions, frame3d.types, frame3d.cell, energies=rng.normal(-5, 1, frame3d.n_atoms))
    lengths = (0.0, 0.7, 2.0)
    d = CoarseGrainedDescriptor(2, lengths=lengths, max_range=4.5)
    assert d.n_features == 4 * 3 * 3
    got = d.compute(frame)
    meas, bnd, _ = ref_voronoi(frame)
    values = {"energy": frame.energies, "perimeter": bnd}
    ref = ref_coarse_grained(frame, values, lengths, 4.5, 2, d.quantities)
    np.testing.assert_allclose(got, ref, rtol=RTOL, atol=1e-12)
    # centres subset and an explicit (longer) neighbour list give the same rows
    from glassfix.core.neighbors import neighbor_list

    idx = np.array([5, 0, 77])
    np.testing.assert_allclose(d.compute(frame, centers=idx), got[idx], rtol=1e-14)
    nl = neighbor_list(frame, 5.0, idx)
    np.testing.assert_allclose(d.compute(frame, neighbors=nl), got[idx], rtol=1e-13)
    # energy_source="pair" ignores frame.energies; "frame" without energies fails
    dp = CoarseGrainedDescriptor(2, lengths=lengths, max_range=4.5, pair_energy="ka3d", energy_source="pair",
                                 voronoi_backend="numba")
    e_ka = ref_energies(frame, get_system("ka3d").pair_energy, 2.5)
    ref2 = ref_coarse_grained(frame, {"energy": e_ka, "perimeter": bnd}, lengths, 4.5, 2, d.quantities)
    np.testing.assert_allclose(dp.compute(frame), ref2, rtol=RTOL, atol=1e-12)
    with pytest.raises(ValueError):
        CoarseGrainedDescriptor(2, energy_source="frame").compute(frame3d)


def jbb_like_frame(n=1290, seed=5):
    """A JBB-sized 2D frame: the JBB starting lattice (N = 1290, L = 32.896 < 2 R) with random jitter."""
    frame = get_system("jbb").initial_frame(n, None, seed=seed)
    rng = np.random.default_rng(seed)
    return Frame(positions=frame.positions + rng.uniform(-0.12, 0.12, frame.positions.shape), types=frame.types,
                 cell=frame.cell)


@pytest.mark.parametrize("case", ["jbb2d", "triclinic3d"])
def test_fast_whole_frame_path_matches_brute_force(case, frame3d):
    # the one-pass kernel (every pair once, both ends; tabulated exp; ΔĒ from Σw E², Σw E) against the
    # explicit image loops and against the per-centre neighbour-list path, with R beyond half the box
    if case == "jbb2d":
        frame = jbb_like_frame()
        d = CoarseGrainedDescriptor(3, pair_energy=lj2d, pair_cutoff=2.5)
        values = {"energy": ref_energies(frame, lj2d, 2.5), "perimeter": ref_voronoi(frame)[1]}
        assert 20.0 > 0.5 * frame.cell[0, 0]
    else:
        frame = frame3d  # L ≈ 4.9 (triclinic): R = 7 reaches several shells of images, self images too
        d = CoarseGrainedDescriptor(2, lengths=(0.0, 0.3, 1.0, 2.5, 9.0), max_range=7.0, pair_energy="ka3d",
                                    quantities=("density", "energy", "perimeter", "volume", "energy_variance"))
        ka = get_system("ka3d")
        meas, bnd, _ = ref_voronoi(frame)
        values = {"energy": ref_energies(frame, ka.pair_energy, ka.max_cutoff), "perimeter": bnd, "volume": meas}
    got = d.compute(frame)
    centers = np.random.default_rng(1).choice(frame.n_atoms, 60, replace=False)
    ref = ref_coarse_grained(frame, values, d.lengths, d.max_range, d.n_species, d.quantities, centers)
    np.testing.assert_allclose(got[centers], ref, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(d.compute(frame, centers=centers), ref, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(d.compute_pairs(frame, centers=centers), ref, rtol=RTOL, atol=1e-12)
    # the energy variance against its two-pass definition Σw (E − Ē)² / ρ̄ (the reference) to 1e-10
    k = d.quantities.index("energy_variance")
    nb = d.lengths.size * (d.n_species + 1)
    var, var_ref = got[centers, k * nb:(k + 1) * nb], ref[:, k * nb:(k + 1) * nb]
    assert np.all(var >= 0) and np.max(np.abs(var - var_ref)) <= 1e-10 * max(1.0, np.abs(var_ref).max())


def _cg_small(dim):
    if dim == 2:
        return CoarseGrainedDescriptor(3, lengths=(0.0, 1.0, 3.0), max_range=6.0, pair_energy=lj2d,
                                       pair_cutoff=2.5)
    return CoarseGrainedDescriptor(2, lengths=(0.0, 1.0, 2.0), max_range=4.0, pair_energy="ka3d")


@pytest.mark.parametrize("which", ["frame2d", "frame3d"])
def test_invariances(which, request):
    frame = request.getfixturevalue(which)
    d = _cg_small(frame.dim)
    base = d.compute(frame)
    n, dim = frame.positions.shape
    rng = np.random.default_rng(11)
    # translation
    moved = Frame(frame.positions + rng.normal(0, 3, dim), frame.types, frame.cell)
    np.testing.assert_allclose(d.compute(moved), base, rtol=1e-9, atol=1e-11)
    # periodic images: each atom shifted by a random lattice vector
    img = rng.integers(-2, 3, (n, dim)) @ frame.cell
    np.testing.assert_allclose(d.compute(Frame(frame.positions + img, frame.types, frame.cell)), base,
                               rtol=1e-9, atol=1e-11)
    # permutation
    perm = rng.permutation(n)
    np.testing.assert_allclose(d.compute(Frame(frame.positions[perm], frame.types[perm], frame.cell)),
                               base[perm], rtol=1e-9, atol=1e-11)
    # rotation (proper, random axis)
    q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    rot = Frame(frame.positions @ q.T, frame.types, frame.cell @ q.T)
    np.testing.assert_allclose(d.compute(rot), base, rtol=1e-9, atol=1e-11)


def test_spec_round_trip():
    d = CoarseGrainedDescriptor(2, lengths=(0.0, 1.5), max_range=3.0,
                                pair_energy={"system": "ka3d", "cutoff_style": "truncated-shifted"})
    spec = json.loads(json.dumps(d.spec()))
    d2 = descriptor_from_spec(spec)
    assert isinstance(d2, CoarseGrainedDescriptor) and d2.spec() == d.spec()
    ka = get_system("ka3d")
    d3 = CoarseGrainedDescriptor(2, pair_energy=ka, lengths=(1.0,), max_range=3.0)
    assert descriptor_from_spec(json.loads(json.dumps(d3.spec()))).spec() == d3.spec()
    d4 = CoarseGrainedDescriptor(3, pair_energy=lj2d, pair_cutoff=2.5)
    with pytest.raises(ValueError, match="callable"):
        d4.spec()
    assert "CoarseGrainedDescriptor" in repr(d4)
    with pytest.raises(ValueError):
        CoarseGrainedDescriptor(2, quantities=("density", "bogus"))
    with pytest.raises(ValueError):
        CoarseGrainedDescriptor(2, lengths=(-1.0,))
    with pytest.raises(ValueError):
        CoarseGrainedDescriptor(3, pair_energy=lj2d)  # callable without pair_cutoff


# ---------------------------------------------------------------------------------------------------
# frozen standardiser
# ---------------------------------------------------------------------------------------------------


def test_frozen_standardizer_constant_columns():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, (500, 5))
    x[:, 1] = 1.0  # exactly constant
    x[:, 3] = 0.0
    x[:, 4] = -2.5 + 1e-16 * rng.normal(size=500)  # constant up to round-off
    st = FrozenStandardizer().fit([x[:200], x[200:]], names=list("abcde"))
    assert st.constant.tolist() == [False, True, False, True, True]
    np.testing.assert_array_equal(st.scale[[1, 3, 4]], 1.0)
    z = st.transform(x)
    assert np.all(np.isfinite(z))
    np.testing.assert_allclose(z[:, [0, 2]].mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(z[:, [0, 2]].std(0), 1, rtol=1e-12)
    assert np.all(z[:, [1, 3]] == 0) and np.abs(z[:, 4]).max() < 1e-14
    np.testing.assert_allclose(st.inverse_transform(z), x, rtol=1e-14, atol=1e-14)
    # frozen: new data do not change the statistics; serialisation round trips exactly
    st2 = FrozenStandardizer.from_json(st.to_json())
    st3 = FrozenStandardizer.from_arrays(st.to_arrays(), names=st.names)
    y = rng.normal(size=(7, 5))
    for s in (st2, st3):
        np.testing.assert_array_equal(s.transform(y), st.transform(y))
        assert s.names == list("abcde")
    with pytest.raises(ValueError):
        st.transform(np.zeros((2, 4)))
    with pytest.raises(RuntimeError):
        FrozenStandardizer().transform(y)
