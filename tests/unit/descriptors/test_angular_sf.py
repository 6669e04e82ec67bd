"""AngularStructureFunctions against a brute-force triple loop over neighbours and periodic images;
invariances, cutoff continuity, list handling, and the CombinedDescriptor (thesis 166-feature set)."""

from __future__ import annotations

import functools
import itertools
import json
import math

import numpy as np
import pytest

from glassfix.core.frame import Frame, NeighborList
from glassfix.core.neighbors import neighbor_list
from glassfix.descriptors.angular import (
    CUBUK_TABLE,
    AngularStructureFunctions,
    CombinedDescriptor,
    species_pairs,
)
from glassfix.descriptors.base import descriptor_from_spec
from glassfix.descriptors.structure_functions import RadialStructureFunctions
from helpers.radial_reference import ka_frame

# Table 4.1 plus rows exercising λ ∉ {±1} and non-integer ζ (the pow path of the kernel).
PARAMS = [list(r) for r in CUBUK_TABLE] + [[1.5, -1.0, 2.5], [0.8, 0.5, 3.0], [2.0, -0.3, 0.7]]

# ---------------------------------------------------------------------------------------------------
# brute force (independent of glassfix.core.neighbors and of the kernel's pair bookkeeping)
# ---------------------------------------------------------------------------------------------------


def image_shifts(frame: Frame, cutoff: float, extra: int = 0) -> np.ndarray:
    """Lattice translations that can bring an image within ``cutoff`` (atoms up to ``extra`` boxes out)."""
    recip = np.linalg.inv(frame.cell)
    heights = 1.0 / np.linalg.norm(recip, axis=0)
    n = [int(math.ceil(cutoff / h)) + 1 + 2 * extra if p else 0 for h, p in zip(heights, frame.pbc)]
    ints = np.array(list(itertools.product(*[range(-k, k + 1) for k in n])), dtype=np.float64)
    return ints @ frame.cell


def brute_neighbors(frame: Frame, i: int, cutoff: float, shifts: np.ndarray):
    """(types, vectors) of every (atom, image) with 0 < |r_j + shift − r_i| < cutoff."""
    v = frame.positions[:, None, :] + shifts[None, :, :] - frame.positions[i]
    r = np.sqrt((v * v).sum(-1))
    keep = (r > 0) & (r < cutoff)
    jj = np.nonzero(keep)[0]
    return frame.types[jj], v[keep]


def brute_neighbor_list(frame: Frame, cutoff: float, extra: int = 0) -> NeighborList:
    """CSR list over all atoms and images with 0 < r < cutoff, ordered by (neighbour, image)."""
    shifts = image_shifts(frame, cutoff, extra)
    offsets, nbrs, vecs = [0], [], []
    for i in range(frame.n_atoms):
        v = frame.positions[:, None, :] + shifts[None, :, :] - frame.positions[i]
        r = np.sqrt((v * v).sum(-1))
        keep = (r > 0) & (r < cutoff)
        nbrs.append(np.nonzero(keep)[0])
        vecs.append(v[keep])
        offsets.append(offsets[-1] + nbrs[-1].size)
    return NeighborList(np.arange(frame.n_atoms), np.array(offsets), np.concatenate(nbrs),
                        np.concatenate(vecs), cutoff)


def _fc(r: float, rc: float) -> float:
    return 0.5 * (math.cos(math.pi * r / rc) + 1.0) if r < rc else 0.0


def reference_psi(frame: Frame, params, cutoff: float, n_species: int, extra: int = 0) -> dict:
    """Ψ for all four conventions by a literal loop over i, ordered (j, k), j ≠ k, and images.

    Returns {(pairs, cutoff_fn): (N, n_pairs * n_params)}. "ordered": Ψ_XY = Σ_{j∈X} Σ_{k∈Y, k≠j};
    "unordered": each unordered {j, k} once, in the feature of (min type, max type).
    """
    p = np.asarray(params, dtype=np.float64)
    xi, lam, zeta = p[:, 0], p[:, 1], p[:, 2]
    xi2 = xi**2
    npar = p.shape[0]
    col = {pq: n for n, pq in enumerate(species_pairs(n_species))}
    shifts = image_shifts(frame, cutoff, extra)
    out = {(pr, fn): np.zeros((frame.n_atoms, len(col) * npar))
           for pr in ("ordered", "unordered") for fn in ("none", "cosine")}
    for i in range(frame.n_atoms):
        t, v = brute_neighbors(frame, i, cutoff, shifts)
        t = t.tolist()
        gram = (v @ v.T).tolist()  # v_j · v_k
        for j in range(len(t)):
            for k in range(len(t)):
                if j == k:
                    continue
                rij2, rik2, dot = gram[j][j], gram[k][k], gram[j][k]
                rij, rik = math.sqrt(rij2), math.sqrt(rik2)
                rjk2 = max(rij2 + rik2 - 2.0 * dot, 0.0)  # |v_k − v_j|²
                cos = dot / (rij * rik)
                term = np.exp(-(rij2 + rik2 + rjk2) / xi2) * (1.0 + lam * cos) ** zeta
                w = _fc(rij, cutoff) * _fc(rik, cutoff) * _fc(math.sqrt(rjk2), cutoff)
                for fn, val in (("none", term), ("cosine", w * term)):
                    if t[j] <= t[k]:  # ordered: j ∈ X, k ∈ Y with X ≤ Y
                        c0 = col[(t[j], t[k])] * npar
                        out[("ordered", fn)][i, c0:c0 + npar] += val
                    if j < k:  # unordered: each {j, k} once
                        c0 = col[(min(t[j], t[k]), max(t[j], t[k]))] * npar
                        out[("unordered", fn)][i, c0:c0 + npar] += val
    return out


def assert_rel(a: np.ndarray, ref: np.ndarray, rel: float = 1e-10) -> None:
    """Elementwise |a − ref| ≤ rel |ref| (all terms are ≥ 0, so there is no cancellation to excuse)."""
    assert a.shape == ref.shape
    err = np.abs(a - ref)
    bad = err > rel * np.abs(ref) + 1e-300
    assert not bad.any(), f"{bad.sum()} entries off; worst rel {float((err / (np.abs(ref) + 1e-300)).max()):g}"


# N≈150 at ρ = 1.2; cutoffs keep the O(N k²) python loop short. "small2d" has a box narrower than
# 2 r_c, so several images of one atom are neighbours of the same centre.
CASES = {
    "cubic3d": (lambda: ka_frame(150, 3, seed=0), 1.8),
    "triclinic3d": (lambda: ka_frame(150, 3, tilt=True, seed=1), 1.9),
    "square2d": (lambda: ka_frame(150, 2, seed=2), 2.5),
    "small2d": (lambda: ka_frame(12, 2, rho=0.8, seed=4), 2.5),
}


@functools.lru_cache(maxsize=None)
def _reference(case: str):
    make, rc = CASES[case]
    frame = make()
    return frame, rc, reference_psi(frame, PARAMS, rc, 2)


@pytest.mark.parametrize("case", list(CASES))
def test_matches_bruteforce(case: str) -> None:
    frame, rc, ref = _reference(case)
    nl = neighbor_list(frame, rc)
    for (pairs, fn), r in ref.items():
        desc = AngularStructureFunctions(2, params=PARAMS, cutoff=rc, cutoff_fn=fn, pairs=pairs)
        psi = desc.compute(frame, neighbors=nl)
        assert psi.dtype == np.float64 and psi.shape == (frame.n_atoms, 3 * len(PARAMS))
        assert r.max() > 1.0 and (r[:, : len(PARAMS)] > 0).mean() > 0.5  # not trivially 0 == 0
        assert_rel(psi, r)
        # and through the descriptor's own neighbour list
        assert_rel(desc.compute(frame), r)
    # pair-convention identity: ordered XX = 2 × unordered XX, mixed pairs equal
    u, o = ref[("unordered", "none")], ref[("ordered", "none")]
    n = len(PARAMS)
    assert_rel(o[:, :n], 2 * u[:, :n])
    assert_rel(o[:, n:2 * n], u[:, n:2 * n])


def test_names_and_shape() -> None:
    desc = AngularStructureFunctions(2, species_names=["A", "B"])
    assert desc.n_features == 66 == len(desc.names) == len(set(desc.names))
    assert desc.names[0] == "Psi_AA(xi=14.633,l=-1,z=1)"
    assert "Psi_AB(xi=2.554,l=+1,z=2)" in desc.names
    assert desc.names[22].startswith("Psi_AB(") and desc.names[44].startswith("Psi_BB(")
    assert desc.names[-1] == "Psi_BB(xi=0.695,l=+1,z=16)"
    three = AngularStructureFunctions(3, params=[[1.0, 1, 1]])
    assert [n.split("(")[0] for n in three.names] == [
        "Psi_AA", "Psi_AB", "Psi_AC", "Psi_BB", "Psi_BC", "Psi_CC"]
    with pytest.raises(ValueError):
        AngularStructureFunctions(2, pairs="both")
    with pytest.raises(ValueError):
        AngularStructureFunctions(2, params=[[1.0, 2.0, 1.0]])
    with pytest.raises(ValueError):
        AngularStructureFunctions(2, cutoff_fn="tanh")


def test_single_triplet_value() -> None:
    """i at the origin, j (A) and k (B) at unit distance, 90° apart: Ψ_AB = exp(−4/ξ²)(1 + 0)^ζ."""
    frame = Frame(positions=[[0.0, 0, 0], [1.0, 0, 0], [0, 1.0, 0]], types=[0, 0, 1],
                  cell=np.eye(3) * 30.0)
    desc = AngularStructureFunctions(2, params=[[2.0, 1, 2], [1.0, -1, 1]], cutoff=1.2)
    psi = desc.compute(frame)
    np.testing.assert_allclose(psi[0], [0, 0, math.exp(-1.0), math.exp(-4.0), 0, 0], rtol=1e-14, atol=1e-300)


# ---------------------------------------------------------------------------------------------------
# invariances and list handling
# ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_case():
    frame = ka_frame(150, 3, tilt=True, seed=3)
    desc = AngularStructureFunctions(2, cutoff=2.2, cutoff_fn="cosine", species_names=["A", "B"])
    return frame, desc, desc.compute(frame)


def _random_rotation(rng) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def test_rotation_invariance(small_case) -> None:
    frame, desc, psi = small_case
    rot = _random_rotation(np.random.default_rng(11))
    turned = Frame(positions=frame.positions @ rot.T, types=frame.types, cell=frame.cell @ rot.T,
                   origin=frame.origin @ rot.T)
    assert_rel(desc.compute(turned), psi, rel=1e-10)


def test_translation_invariance(small_case) -> None:
    frame, desc, psi = small_case
    moved = Frame(positions=frame.positions + np.array([0.37, -1.9, 12.3]), types=frame.types,
                  cell=frame.cell, origin=frame.origin)
    assert_rel(desc.compute(moved), psi, rel=1e-10)


def test_permutation_invariance(small_case) -> None:
    frame, desc, psi = small_case
    perm = np.random.default_rng(7).permutation(frame.n_atoms)
    shuffled = Frame(positions=frame.positions[perm], types=frame.types[perm], cell=frame.cell,
                     origin=frame.origin)
    assert_rel(desc.compute(shuffled), psi[perm], rel=1e-10)


def test_periodic_image_invariance(small_case) -> None:
    frame, desc, psi = small_case
    jumps = np.random.default_rng(8).integers(-1, 2, size=(frame.n_atoms, 3)) @ frame.cell
    imaged = Frame(positions=frame.positions + jumps, types=frame.types, cell=frame.cell,
                   origin=frame.origin)
    assert_rel(desc.compute(imaged), psi, rel=1e-10)
    nl = brute_neighbor_list(imaged, desc.cutoff, extra=1)
    assert_rel(desc.compute(imaged, neighbors=nl), psi, rel=1e-10)


def test_overlong_list_is_filtered(small_case) -> None:
    """A LAMMPS-style list to cutoff + skin gives the exact list's features (bit for bit in the same order)."""
    frame, desc, psi = small_case
    long_nl = neighbor_list(frame, desc.cutoff + 0.7)
    got = desc.compute(frame, neighbors=long_nl)
    assert np.array_equal(got, desc.compute(frame, neighbors=long_nl.within(desc.cutoff)))
    assert_rel(got, psi, rel=1e-12)
    for pairs in ("ordered", "unordered"):
        d2 = AngularStructureFunctions(2, cutoff=2.2, pairs=pairs)
        assert np.array_equal(d2.compute(frame, neighbors=long_nl),
                              d2.compute(frame, neighbors=long_nl.within(d2.cutoff)))


def test_short_list_is_rejected(small_case) -> None:
    frame, desc, _ = small_case
    with pytest.raises(ValueError, match="shorter"):
        desc.compute(frame, neighbors=neighbor_list(frame, desc.cutoff - 0.1))


def test_thread_count_does_not_change_result(small_case) -> None:
    import numba

    frame, desc, psi = small_case
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = desc.compute(frame)
    finally:
        numba.set_num_threads(old)
    assert np.array_equal(one, psi)


@pytest.mark.parametrize("pairs", ["ordered", "unordered"])
def test_continuity_at_cutoff_with_cosine(pairs: str) -> None:
    """Moving one neighbour from rc − 1e-7 to rc + 1e-7 changes Ψ by < 1e-6 (a jump without fc)."""
    rc = 2.5
    rng = np.random.default_rng(5)
    others = rng.normal(size=(6, 3))
    others = others / np.linalg.norm(others, axis=1)[:, None] * rng.uniform(0.9, 1.6, size=(6, 1))
    direction = np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8])
    types = np.array([0, 0, 1, 0, 1, 0, 0, 1])

    def psi(r: float, fn: str) -> np.ndarray:
        pos = np.vstack([[0.0, 0.0, 0.0], others, r * direction])
        frame = Frame(positions=pos, types=types, cell=np.eye(3) * 50.0, pbc=[False] * 3)
        d = AngularStructureFunctions(2, cutoff=rc, cutoff_fn=fn, pairs=pairs)
        return d.compute(frame, centers=np.array([0]))[0]

    inside, outside = psi(rc - 1e-7, "cosine"), psi(rc + 1e-7, "cosine")
    assert inside.max() > 1e-3
    assert np.abs(inside - outside).max() < 1e-6
    hard = np.abs(psi(rc - 1e-7, "none") - psi(rc + 1e-7, "none")).max()
    assert hard > 1e-3  # the hard cutoff does jump: the test has teeth


def test_empty_and_isolated() -> None:
    frame = Frame(positions=[[0.0, 0, 0], [5.0, 0, 0]], types=[0, 1], cell=np.eye(3) * 20.0)
    desc = AngularStructureFunctions(2)
    assert np.array_equal(desc.compute(frame), np.zeros((2, 66)))
    assert desc.compute(frame, centers=np.zeros(0, dtype=np.int64)).shape == (0, 66)


# ---------------------------------------------------------------------------------------------------
# specs and the combined descriptor
# ---------------------------------------------------------------------------------------------------


def test_angular_spec_round_trip() -> None:
    desc = AngularStructureFunctions(2, params=PARAMS, cutoff=2.3, cutoff_fn="cosine", pairs="ordered",
                                     species_names=["Cu", "Zr"])
    again = descriptor_from_spec(json.loads(json.dumps(desc.spec())))
    assert isinstance(again, AngularStructureFunctions)
    assert again.spec() == desc.spec() and again.names == desc.names
    frame = ka_frame(60, 3, seed=6)
    assert np.array_equal(again.compute(frame), desc.compute(frame))


def test_combined_thesis_set_and_round_trip() -> None:
    radial = RadialStructureFunctions(2, species_names=["A", "B"])
    angular = AngularStructureFunctions(2, species_names=["A", "B"])
    comb = CombinedDescriptor([radial, angular])
    assert comb.n_features == 166 == len(comb.names)
    assert comb.cutoff == max(radial.cutoff, angular.cutoff) == radial.cutoff
    assert comb.names == radial.names + angular.names
    spec = json.loads(json.dumps(comb.spec()))
    again = descriptor_from_spec(spec)
    assert isinstance(again, CombinedDescriptor) and again.spec() == comb.spec()
    assert again.names == comb.names
    frame = ka_frame(100, 3, seed=7)
    got = again.compute(frame)
    assert np.array_equal(got, comb.compute(frame))
    # the shared (longer) list gives the components' own values
    assert_rel(got[:, :100], radial.compute(frame), rel=1e-12)
    assert_rel(got[:, 100:], angular.compute(frame), rel=1e-12)
    with pytest.raises(ValueError):
        CombinedDescriptor([radial, AngularStructureFunctions(3)])
    with pytest.raises(ValueError):
        CombinedDescriptor([angular, angular])
    with pytest.raises(ValueError):
        descriptor_from_spec({"kind": "combined", "components": [{"kind": "nope"}]})


# ---------------------------------------------------------------------------------------------------
# command line: glassfix descriptors KIND FRAME --out X.npy
# ---------------------------------------------------------------------------------------------------


def _parse(argv):
    import argparse

    from glassfix.cli.descriptors import add_options

    return add_options(argparse.ArgumentParser()).parse_args(argv)


@pytest.mark.parametrize("kind", ["angular", "softness166", "radial"])
def test_cli_round_trip_on_data_file(tmp_path, kind: str, capsys) -> None:
    from glassfix.data.lammps_io import write_data, write_dump
    from glassfix.cli.descriptors import descriptor_from_name, main

    base = ka_frame(80, 3, seed=12)
    perm = np.random.default_rng(1).permutation(base.n_atoms)
    ids = np.arange(1, base.n_atoms + 1)[perm] * 3  # shuffled, non-contiguous ids
    frame = Frame(positions=base.positions, types=base.types, cell=base.cell, origin=base.origin,
                  ids=ids, species=("A", "B"))
    data = tmp_path / "conf.data"
    write_data(frame, data, masses=[1.0, 1.0])
    out = tmp_path / "sub" / f"{kind}.npy"
    extra = ["--cutoff-fn", "cosine"]
    if kind == "radial":
        extra += ["--mus", "0.5:3.0:0.1", "--cutoff", "3.5"]
    elif kind == "angular":
        extra += ["--pairs", "ordered", "--cutoff", "2.2"]
    assert main(_parse([kind, str(data), "--out", str(out), "--ids-out", str(tmp_path / "ids.npy"), *extra])) == 0
    assert "wrote" in capsys.readouterr().out
    got = np.load(out)
    names = (tmp_path / "sub" / f"{kind}.names.txt").read_text().splitlines()
    assert np.array_equal(np.load(tmp_path / "ids.npy"), np.sort(ids))

    opts = {"cutoff_fn": "cosine"}
    if kind == "radial":
        opts.update(mus=list(np.arange(0.5, 3.0, 0.1)), cutoff=3.5)
    elif kind == "angular":
        opts.update(pairs="ordered", cutoff=2.2)
    desc = descriptor_from_name(kind, 2, ["A", "B"], **opts)
    want = desc.compute(frame.sorted_by_id())
    assert names == desc.names and got.shape == want.shape == (80, len(names))
    if kind == "softness166":
        assert got.shape[1] == 166
    # the data file stores positions at full precision but LAMMPS may re-express the box: tiny round-off
    assert_rel(got, want, rel=1e-9)
    assert not list((tmp_path / "sub").glob("*.tmp"))

    # the same frame as a dump gives the same rows
    dump = tmp_path / "conf.dump"
    write_dump(frame, dump)
    out2 = tmp_path / "from_dump.npy"
    assert main(_parse([kind, str(dump), "--out", str(out2), "--species", "A", "B", *extra])) == 0
    assert_rel(np.load(out2), want, rel=1e-9)


def test_cli_rejects_bad_options(tmp_path) -> None:
    from glassfix.cli.descriptors import descriptor_from_name, main

    with pytest.raises(ValueError):
        descriptor_from_name("radial", 2, None, pairs="ordered")
    with pytest.raises(ValueError):
        descriptor_from_name("voronoi", 2, None)
    assert descriptor_from_name("softness166", 2, None, angular_cutoff=2.0).components[1].cutoff == 2.0
    with pytest.raises(SystemExit):
        main(_parse(["softness166", str(tmp_path / "x.data"), "--out", "y.npy", "--cutoff", "3"]))
    with pytest.raises(SystemExit, match="error"):
        main(_parse(["angular", str(tmp_path / "missing.data"), "--out", str(tmp_path / "y.npy")]))


def test_behler_g4_relation_against_dscribe() -> None:
    """Optional (dscribe is not a dependency): G4 = 2^(1−ζ) Ψ[unordered, cosine] with η = 1/ξ²."""
    pytest.importorskip("dscribe")
    ase = pytest.importorskip("ase")
    from dscribe.descriptors import ACSF

    frame = ka_frame(60, 3, tilt=True, seed=13)
    desc = AngularStructureFunctions(2, params=PARAMS, cutoff=2.3, cutoff_fn="cosine")
    g4 = [[1.0 / x**2, z, l] for x, l, z in PARAMS]
    try:
        acsf = ACSF(r_cut=2.3, g4_params=g4, species=[1, 2], periodic=True)
    except TypeError:
        acsf = ACSF(rcut=2.3, g4_params=g4, species=[1, 2], periodic=True)
    atoms = ase.Atoms(numbers=frame.types + 1, positions=frame.positions - frame.origin, cell=frame.cell,
                      pbc=True)
    ref = np.asarray(acsf.create(atoms))[:, 2:] / np.tile(2.0 ** (1.0 - np.array(PARAMS)[:, 2]), 3)
    psi = desc.compute(frame)
    keep = ref > 1e-12
    assert keep.mean() > 0.5
    assert_rel(psi[keep], ref[keep], rel=1e-10)


def test_bench_smoke(tmp_path, capsys) -> None:
    """bench_descriptors on a small frame: rows per (descriptor, threads), report appended atomically."""
    from glassfix.descriptors.bench import bench_descriptors

    report = tmp_path / "docs" / "benchmarks.md"
    report.parent.mkdir()
    report.write_text("# glassfix benchmarks\n\nearlier content\n")
    r = bench_descriptors(report=report, threads=(1, 2), frame=ka_frame(120, 3, seed=14), repeats=1)
    assert {x["descriptor"] for x in r["rows"]} == {"radial", "angular", "combined", "ace", "coarse_grained",
                                                  "interstice"}
    assert all(x["atoms_per_s"] > 0 for x in r["rows"])
    text = report.read_text()
    assert text.startswith("# glassfix benchmarks\n\nearlier content\n")
    assert "## Descriptor throughput" in text and "| combined | 166 |" in text
    if r["dscribe"] is None:
        assert "dscribe not installed" in capsys.readouterr().out
    assert sorted(p.name for p in report.parent.iterdir()) == ["benchmarks.md"]
