"""IntersticeDescriptor against a brute-force reference (scipy Delaunay on a replicated frame, explicit
loops, independent solid-angle formula), invariances and the spec contract."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from scipy.spatial import ConvexHull, Delaunay

from glassfix.core.frame import Frame
from glassfix.descriptors.base import descriptor_from_spec
from glassfix.descriptors.interstice import MRF_NAMES, SRF_NAMES, IntersticeDescriptor

RTOL = 1e-10


def rsa_frame(n, density, dmin, seed, tilt=0.12):
    """3D random sequential addition at ``density`` (two species 80:20), mildly triclinic cell."""
    rng = np.random.default_rng(seed)
    L = (n / density) ** (1.0 / 3.0)
    pts = []
    while len(pts) < n:
        x = rng.uniform(0, L, 3)
        if pts:
            dx = np.array(pts) - x
            dx -= L * np.round(dx / L)
            if (dx * dx).sum(1).min() < dmin * dmin:
                continue
        pts.append(x)
    cell = np.eye(3) * L
    cell[1, 0], cell[2, 0], cell[2, 1] = tilt * L, -0.5 * tilt * L, 0.7 * tilt * L
    types = (rng.random(n) < 0.2).astype(np.int64)
    return Frame(positions=np.array(pts) / L @ cell - 1.7, types=types, cell=cell)


@pytest.fixture(scope="module")
def frame():
    return rsa_frame(130, 1.2, 0.75, seed=5)


def _angle(u, w):
    return math.atan2(np.linalg.norm(np.cross(u, w)), float(np.dot(u, w)))


def _solid_angle_excess(a, b, c):
    """Solid angle at the origin of the trihedron (a, b, c): spherical excess of its dihedral angles."""
    def dihedral(x, y, z):  # angle along edge x between the planes (x, y) and (x, z)
        return _angle(np.cross(x, y), np.cross(x, z))

    return dihedral(a, b, c) + dihedral(b, c, a) + dihedral(c, a, b) - math.pi


def _stats(x):
    x = np.asarray(x, dtype=float)
    return [x.mean(), x.max(), x.min(), math.sqrt(((x - x.mean()) ** 2).mean())]


def reference_interstice(frame, radii, clip=True):
    n = frame.n_atoms
    s = (frame.positions - frame.origin) @ np.linalg.inv(frame.cell)
    wrapped = (s - np.floor(s)) @ frame.cell
    ints = np.array(list(itertools.product(range(-1, 2), repeat=3)))
    pts = (wrapped[None] + (ints @ frame.cell)[:, None]).reshape(-1, 3)
    c0 = [tuple(x) for x in ints].index((0, 0, 0))
    indptr, ind = Delaunay(pts).vertex_neighbor_vertices
    nbrs, srf = [], np.zeros((n, 12))
    for i in range(n):
        g = c0 * n + i
        js = ind[indptr[g]:indptr[g + 1]]
        nbrs.append(js % n)
        vec = pts[js] - pts[g]
        ro = radii[frame.types[i]]
        rj = [radii[frame.types[j % n]] for j in js]
        dist = [np.linalg.norm(vec[a]) / (ro + rj[a]) - 1.0 for a in range(len(js))]
        area_i, vol_i = [], []
        for f in ConvexHull(vec).simplices:
            P = [vec[m] for m in f]
            R = [rj[m] for m in f]
            tri_area = 0.5 * np.linalg.norm(np.cross(P[1] - P[0], P[2] - P[0]))
            packed = 0.0
            for a in range(3):
                b, c = (a + 1) % 3, (a + 2) % 3
                packed += _angle(P[b] - P[a], P[c] - P[a]) / 2.0 * R[a] ** 2
            x = 1.0 - packed / tri_area
            area_i.append(max(x, 0.0) if clip else x)
            tet = abs(np.dot(P[0], np.cross(P[1], P[2]))) / 6.0
            packed = _solid_angle_excess(P[0], P[1], P[2]) * ro ** 3 / 3.0
            for a in range(3):
                b, c = (a + 1) % 3, (a + 2) % 3
                packed += _solid_angle_excess(-P[a], P[b] - P[a], P[c] - P[a]) * R[a] ** 3 / 3.0
            x = 1.0 - packed / tet
            vol_i.append(max(x, 0.0) if clip else x)
        srf[i] = _stats(dist) + _stats(area_i) + _stats(vol_i)
    mrf = np.array([[v for f in range(12) for v in _stats(srf[nb, f])] for nb in nbrs])
    return np.concatenate([srf, mrf], axis=1)


def test_names_and_counts():
    d = IntersticeDescriptor(2)
    assert d.n_features == 60 == len(d.names) == len(set(d.names))
    assert d.names[:4] == ["Mean(D)", "Max(D)", "Min(D)", "Std(D)"]
    assert d.names[11] == "Std(V)" and d.names[12] == "mean[Mean(D)]" and d.names[-1] == "std[Std(V)]"
    assert {"Std(A)", "Std(V)", "Std(D)", "Min(D)"} <= set(SRF_NAMES) and "std[Mean(V)]" in MRF_NAMES
    assert IntersticeDescriptor(2, include_mrf=False).n_features == 12
    assert np.allclose(d.radii, [0.5, 0.44])


@pytest.mark.parametrize("clip", [True, False])
def test_matches_reference(frame, clip):
    d = IntersticeDescriptor(2, clip=clip)
    got = d.compute(frame)
    ref = reference_interstice(frame, d.radii, clip=clip)
    assert got.shape == (frame.n_atoms, 60) and np.all(np.isfinite(got))
    np.testing.assert_allclose(got, ref, rtol=RTOL, atol=1e-12)
    if clip:
        assert got[:, 4:12].min() >= 0.0
    # centre subsets select rows (the MRFs still see every neighbour's SRFs)
    idx = np.array([9, 3, 100])
    np.testing.assert_allclose(d.compute(frame, centers=idx), got[idx], rtol=1e-14)


def test_invariances(frame):
    d = IntersticeDescriptor(2, radii=(0.5, 0.44))
    base = d.compute(frame)
    n = frame.n_atoms
    rng = np.random.default_rng(2)
    tol = dict(rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(d.compute(Frame(frame.positions + rng.normal(0, 5, 3), frame.types, frame.cell)),
                               base, **tol)
    img = rng.integers(-2, 3, (n, 3)) @ frame.cell
    np.testing.assert_allclose(d.compute(Frame(frame.positions + img, frame.types, frame.cell)), base, **tol)
    perm = rng.permutation(n)
    np.testing.assert_allclose(d.compute(Frame(frame.positions[perm], frame.types[perm], frame.cell)),
                               base[perm], **tol)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    np.testing.assert_allclose(d.compute(Frame(frame.positions @ q.T, frame.types, frame.cell @ q.T)), base, **tol)
    # scaling the radii by a common factor is not an invariance, but a zero radius makes D = d/r_O - 1
    d0 = IntersticeDescriptor(2, radii=(0.5, 0.0), include_mrf=False)
    assert d0.compute(frame).shape == (n, 12)


def test_spec_and_errors(frame):
    d = IntersticeDescriptor(2, radii=(0.55, 0.4), species_names=["A", "B"], clip=False, voronoi_backend="numba")
    spec = json.loads(json.dumps(d.spec()))
    d2 = descriptor_from_spec(spec)
    assert isinstance(d2, IntersticeDescriptor) and d2.spec() == d.spec()
    np.testing.assert_array_equal(d2.compute(frame, centers=[0, 1]), d.compute(frame, centers=[0, 1]))
    d_freud = IntersticeDescriptor(2, radii=(0.55, 0.4), clip=False)
    np.testing.assert_allclose(d_freud.compute(frame), d.compute(frame), rtol=1e-11, atol=1e-13)
    with pytest.raises(ValueError):
        IntersticeDescriptor(3)  # radii required beyond the KA default
    flat = Frame(frame.positions[:, :2], frame.types, frame.cell[:2, :2])
    with pytest.raises(ValueError, match="3D"):
        IntersticeDescriptor(2).compute(flat)
    from glassfix.core.neighbors import neighbor_list

    with pytest.raises(ValueError):
        IntersticeDescriptor(2).compute(frame, neighbors=neighbor_list(frame, 2.0))
