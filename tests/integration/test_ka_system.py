import numpy as np
import pytest

from glassfix.systems import KobAndersen3D, available_systems, get_system


def test_registry():
    assert "ka3d" in available_systems()
    s = get_system("ka3d", cutoff_style="truncated-shifted")
    assert isinstance(s, KobAndersen3D) and s.cutoff_style == "truncated-shifted"
    with pytest.raises(KeyError):
        get_system("nope")
    with pytest.raises(ValueError):
        KobAndersen3D(cutoff_style="cubic")


@pytest.mark.parametrize("n", [1000, 256, 2000, 4001])
def test_initial_frame_composition_and_density(n):
    ka = KobAndersen3D()
    f = ka.initial_frame(n, density=1.2, seed=3)
    n_a, n_b = ka.counts(n)
    assert n_a == round(0.8 * n) and n_a + n_b == n
    assert f.n_atoms == n and (f.types == 0).sum() == n_a and (f.types == 1).sum() == n_b
    assert f.species == ("A", "B")
    assert f.n_atoms / f.volume == pytest.approx(1.2, rel=1e-12)
    L = ka.box_length(n, 1.2)
    assert np.allclose(f.cell, np.eye(3) * L)
    assert (f.positions >= 0).all() and (f.positions < L).all()
    # no two atoms on the same site
    assert len({tuple(np.round(p, 9)) for p in f.positions}) == n
    # reproducible, and types actually shuffled
    g = ka.initial_frame(n, density=1.2, seed=3)
    assert (g.types == f.types).all()
    assert not (f.types[:n_b] == 1).all()


def test_lammps_commands():
    cmds = KobAndersen3D().lammps_commands()
    assert cmds[0] == "pair_style lj/smooth/linear 2.5"
    assert "pair_coeff 1 2 1.5 0.8 2" in cmds and "pair_coeff 2 2 0.5 0.88 2.2" in cmds
    ts = KobAndersen3D(cutoff_style="truncated-shifted").lammps_commands()
    assert ts[0].startswith("pair_style lj/cut") and "pair_modify shift yes" in ts
    tr = KobAndersen3D(cutoff_style="truncated").lammps_commands()
    assert "pair_modify shift yes" not in tr


def numpy_energy(ka, frame):
    x = frame.positions
    L = np.diag(frame.cell)
    assert ka.max_cutoff < L.min() / 2  # minimum image is exact
    i, j = np.triu_indices(frame.n_atoms, k=1)
    d = x[j] - x[i]
    d -= L * np.round(d / L)
    r = np.sqrt((d * d).sum(axis=1))
    return float(ka.pair_energy(r, frame.types[i], frame.types[j]).sum())


def test_pair_energy_continuity():
    ka = KobAndersen3D()
    for a, b in ((0, 0), (0, 1), (1, 1)):
        rc = ka.cutoff_matrix()[a, b]
        e = ka.pair_energy(np.array([rc * (1 - 1e-7), rc, rc * 1.1]), np.array(a), np.array(b))
        assert abs(e[0]) < 1e-12 and e[1] == 0 and e[2] == 0


def _lammps():
    from glassfix.engines.lammps.runner import import_lammps

    lammps = import_lammps()
    return lammps.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])


@pytest.mark.parametrize("style", ["lj/smooth/linear", "truncated-shifted", "truncated"])
def test_lammps_energy_matches_numpy(style):
    ka = KobAndersen3D(cutoff_style=style)
    n = 256
    frame = ka.initial_frame(n, density=1.2, seed=11)
    rng = np.random.default_rng(0)
    L = float(frame.cell[0, 0])
    frame.positions = np.mod(frame.positions + rng.normal(scale=0.08, size=frame.positions.shape), L)
    lmp = _lammps()
    try:
        lmp.commands_list([
            "units lj", "atom_style atomic", "boundary p p p",
            f"region box block 0 {L!r} 0 {L!r} 0 {L!r}", "create_box 2 box",
        ])
        lmp.create_atoms(n, frame.ids.tolist(), (frame.types + 1).tolist(), frame.positions.ravel().tolist())
        lmp.commands_list(ka.lammps_commands() + ["thermo_style custom step pe", "thermo_modify norm no",
                                                  "run 0"])
        e_lmp = lmp.get_thermo("pe")
        assert lmp.get_natoms() == n
    finally:
        lmp.close()
    e_np = numpy_energy(ka, frame)
    assert e_lmp == pytest.approx(e_np, rel=1e-10)


def test_initial_lammps_commands_exact_counts():
    ka = KobAndersen3D()
    n = 500
    lmp = _lammps()
    try:
        lmp.commands_list(ka.initial_lammps_commands(n, 1.2, seed=7) + ka.lammps_commands() + ["run 0"])
        assert lmp.get_natoms() == n
        types = np.array(lmp.numpy.extract_atom("type")[: lmp.extract_setting("nlocal")])
        assert (types == 1).sum() == 400 and (types == 2).sum() == 100
        L = lmp.extract_box()[1][0] - lmp.extract_box()[0][0]
        assert L == pytest.approx(ka.box_length(n, 1.2), rel=1e-14)
    finally:
        lmp.close()
