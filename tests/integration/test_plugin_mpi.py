"""fix glass/predict under mpirun -np 1/2/3 (orthorhombic and triclinic) equals the offline prediction."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from glassfix.core.frame import Frame
from glassfix.data.lammps_io import read_dump_frames, write_data
from glassfix.models import load_model
from helpers.lmp_util import KA_PAIR, error_lines, run_lmp, shared_ka_frame, sheared

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def frames_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("mpi")
    f = shared_ka_frame(1)
    write_data(f, d / "ortho.data", masses=[1.0, 1.0])
    write_data(sheared(f, 0.3), d / "tri.data", masses=[1.0, 1.0])
    return d


def predict_script(plugin, data, model, mode="local", every=1) -> str:
    """mode local / gather / python (native no) with comm_modify cutoff 6; 'auto': native, ghost auto and
    LAMMPS' own shell (the fix exchanges the positions it needs itself)."""
    extra = {"local": "", "gather": " mode gather", "python": " native no", "auto": " ghost auto",
             "auto_tiled": " ghost auto"}[mode]
    comm = {"auto": "", "auto_tiled": "comm_style tiled"}.get(mode, "comm_modify cutoff 6.0")
    return f"""plugin load {plugin}
units lj
atom_style atomic
boundary p p p
read_data {data}
{KA_PAIR}
neighbor 0.3 bin
{comm}
fix p all glass/predict {every} model {model}{extra}
compute m all reduce ave f_p
thermo_style custom step pe f_p c_m
dump d all custom 1 out.dump id type x y z f_p
dump_modify d format float %20.16g sort id
run 0
"""


def _nghost(stdout: str) -> float:
    """Average ghost atoms per rank of the last run in LAMMPS output."""
    return float(re.findall(r"^Nghost:\s+([0-9.eE+-]+) ave", stdout, flags=re.M)[-1])


def run_and_read(tmp, plugin, data, model, nprocs, mode="local"):
    wd = tmp / f"{data.stem}_{mode}_np{nprocs}"
    proc = run_lmp(predict_script(plugin, data, model, mode), wd, nprocs=nprocs, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert not error_lines(proc.stdout)
    fr = read_dump_frames(wd / "out.dump")[0]
    return fr, fr.metadata["columns"]["f_p"], proc.stdout


@pytest.mark.parametrize("geometry", ["ortho", "tri"])
def test_same_values_for_any_rank_count_and_offline(tmp_path, frames_dir, plugin_so, softness_model_file,
                                                    geometry):
    data = frames_dir / f"{geometry}.data"
    results = {}
    for nprocs in (1, 2, 3):
        fr, vals, out = run_and_read(tmp_path, plugin_so, data, softness_model_file, nprocs)
        results[nprocs] = (fr.ids, vals, out)
    fr_g, vals_g, _ = run_and_read(tmp_path, plugin_so, data, softness_model_file, 2, mode="gather")
    # the generic path (descriptor + model in Python on the same ghost atoms) instead of the C++ one
    fr_p, vals_p, _ = run_and_read(tmp_path, plugin_so, data, softness_model_file, 3, mode="python")
    # ghost auto: the native sum over the fix's own halo (brick exchange, lamda coordinates if triclinic)
    autos = {n: run_and_read(tmp_path, plugin_so, data, softness_model_file, n, mode="auto") for n in (1, 2, 3, 4)}
    # under comm_style tiled the fix enlarges LAMMPS' ghost shell instead (same values)
    fr_t, vals_t, _ = run_and_read(tmp_path, plugin_so, data, softness_model_file, 3, mode="auto_tiled")
    ids1, v1, _ = results[1]
    assert ids1.size == 4096 and np.isfinite(v1).all()
    scale = np.abs(v1).max()
    assert scale > 0
    for nprocs in (2, 3):
        ids, v, _ = results[nprocs]
        np.testing.assert_array_equal(ids, ids1)
        assert np.abs(v - v1).max() <= 1e-10 * scale, nprocs
    for nprocs, (fr_a, vals_a, out_a) in autos.items():
        np.testing.assert_array_equal(fr_a.ids, ids1)
        assert np.abs(vals_a - v1).max() <= 1e-10 * scale, nprocs
        if nprocs in results:    # LAMMPS keeps its own (pair) ghost shell: far fewer ghosts than with cutoff 6
            assert _nghost(out_a) < 0.7 * _nghost(results[nprocs][2]), nprocs
    np.testing.assert_array_equal(fr_t.ids, ids1)
    assert np.abs(vals_t - v1).max() <= 1e-10 * scale
    np.testing.assert_array_equal(fr_g.ids, ids1)
    assert np.abs(vals_g - v1).max() <= 1e-10 * scale
    np.testing.assert_array_equal(fr_p.ids, ids1)
    assert np.abs(vals_p - v1).max() <= 1e-10 * scale

    # offline on the frame LAMMPS wrote at full precision (types 1..2 -> species A, B)
    model = load_model(softness_model_file)
    offline = model.predict(fr_g)[:, 0]
    assert np.abs(offline - v1).max() <= 1e-10 * scale


def test_cli_predict_matches_fix(tmp_path, frames_dir, plugin_so, softness_model_file):
    fr, vals, _ = run_and_read(tmp_path, plugin_so, frames_dir / "ortho.data", softness_model_file, 2)
    out = tmp_path / "p.npy"
    subprocess.run([sys.executable, "-m", "glassfix.cli", "predict", "--model", str(softness_model_file),
                    "--frame", str(tmp_path / "ortho_local_np2" / "out.dump"), "--out", str(out)],
                   check=True, timeout=300)
    p = np.load(out)
    assert p.shape == (4096,)
    assert np.abs(p - vals).max() <= 1e-10 * np.abs(vals).max()


def test_thermo_mean_and_multiple_runs_and_restart(tmp_path, frames_dir, plugin_so, softness_model_file):
    """Global mean in thermo, several runs, write_restart/read_restart + re-issued fix, clear."""
    data = frames_dir / "ortho.data"
    script = f"""plugin load {plugin_so}
units lj
atom_style atomic
read_data {data}
{KA_PAIR}
comm_modify cutoff 6.0
velocity all create 0.44 1234 loop geom
fix nve all nve
fix p all glass/predict 10 model {softness_model_file}
thermo_style custom step f_p
thermo 10
timestep 0.005
run 20
run 20
write_restart ka.restart
clear
plugin load {plugin_so}
read_restart ka.restart
{KA_PAIR}
comm_modify cutoff 6.0
fix nve all nve
fix p all glass/predict 10 model {softness_model_file}
compute m all reduce ave f_p
variable d equal abs(f_p-c_m)
thermo_style custom step f_p c_m v_d
thermo 10
run 20
"""
    proc = run_lmp(script, tmp_path / "restart", nprocs=2, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    # the last thermo block: f_p (the fix's global mean) equals compute reduce ave over the per-atom values
    rows = [ln.split() for ln in proc.stdout.splitlines() if ln.strip() and ln.split()[0] in ("40", "50", "60")]
    last = [r for r in rows if len(r) == 4]
    assert len(last) == 3, proc.stdout[-2000:]
    for r in last:
        assert abs(float(r[3])) <= 1e-9 * max(1.0, abs(float(r[1])))


@pytest.mark.parametrize("ghost,newton", [("auto", "on"), ("static", "on"), ("static", "off")])
def test_values_during_md_equal_offline_on_each_frame(tmp_path, frames_dir, plugin_so, softness_model_file, ghost,
                                                      newton):
    """Evaluations during NVE (re-neighbouring, atoms migrating between 3 ranks) equal the offline model.

    ``ghost auto`` enlarges the ghost shell only on evaluation steps (no comm_modify needed); ``static``
    relies on comm_modify cutoff. The native sum must give the same values with newton on and off.
    """
    comm = "" if ghost == "auto" else "comm_modify cutoff 6.0"
    script = f"""plugin load {plugin_so}
newton {newton}
units lj
atom_style atomic
read_data {frames_dir / 'ortho.data'}
{KA_PAIR}
neighbor 0.3 bin
{comm}
velocity all create 0.8 99 dist gaussian mom yes rot no loop geom
fix nve all nve
timestep 0.005
fix p all glass/predict 50 model {softness_model_file} ghost {ghost}
thermo_style custom step temp f_p
thermo 50
dump d all custom 50 out.dump id type x y z f_p
dump_modify d format float %20.16g sort id
run 200
"""
    proc = run_lmp(script, tmp_path, nprocs=3, timeout=300)
    assert proc.returncode == 0 and not error_lines(proc.stdout), proc.stdout[-3000:]
    model = load_model(softness_model_file)
    frames = read_dump_frames(tmp_path / "out.dump")
    assert [f.step for f in frames] == [0, 50, 100, 150, 200]
    for fr in frames:
        got = fr.metadata["columns"]["f_p"]
        expected = model.predict(fr)[:, 0]
        assert np.abs(got - expected).max() <= 1e-10 * np.abs(expected).max(), fr.step


def test_evaluations_without_reneighbouring_in_between(tmp_path, frames_dir, plugin_so, softness_model_file):
    """LAMMPS reuses an occasional list until the next re-neighbouring: evaluations between two of them
    must still see every pair inside the receptive field (the list reaches cutoff + skin)."""
    script = f"""plugin load {plugin_so}
units lj
atom_style atomic
read_data {frames_dir / 'ortho.data'}
{KA_PAIR}
neighbor 0.3 bin
neigh_modify every 1000 delay 1000 check no
comm_modify cutoff 6.0
velocity all create 1.0 7 dist gaussian mom yes rot no loop geom
fix nve all nve
timestep 0.005
fix p all glass/predict 2 model {softness_model_file}
dump d all custom 2 out.dump id type x y z f_p
dump_modify d format float %20.16g sort id
run 12
"""
    proc = run_lmp(script, tmp_path, nprocs=2, timeout=300)
    assert proc.returncode == 0 and not error_lines(proc.stdout), proc.stdout[-3000:]
    assert "Neighbor list builds = 0" in proc.stdout
    model = load_model(softness_model_file)
    for fr in read_dump_frames(tmp_path / "out.dump"):
        got = fr.metadata["columns"]["f_p"]
        expected = model.predict(fr)[:, 0]
        assert np.abs(got - expected).max() <= 1e-10 * np.abs(expected).max(), fr.step


def _native_case(case: str, tmp_path):
    """(frame, model path, group command, fix group) for the native-path edge cases."""
    from glassfix.descriptors.structure_functions import RadialStructureFunctions
    from glassfix.models.softness import SoftnessHead, SoftnessModel
    from glassfix.systems import KobAndersen2D

    rng = np.random.default_rng(3)
    if case == "2d":
        frame = KobAndersen2D().initial_frame(900, seed=4)
        frame.positions[:, :2] += rng.normal(scale=0.05, size=(900, 2))
        frame = Frame(positions=frame.positions, types=frame.types, cell=frame.cell, species=("A", "B"))
    elif case == "sparse":
        # few atoms in a large box: the sum's cell grid must grow instead of scaling with the volume
        n, L = 60, 40.0
        frame = Frame(positions=rng.uniform(0, L, (n, 3)), types=(np.arange(n) % 2).astype(np.int64),
                      cell=np.eye(3) * L, species=("A", "B"))
    else:
        frame = shared_ka_frame(2)
    cutoff_fn = "cosine" if case == "cosine_one_head" else "none"
    desc = RadialStructureFunctions(n_species=2, species_names=["A", "B"], cutoff=4.0 if case == "2d" else None,
                                    cutoff_fn=cutoff_fn)
    heads = {t: SoftnessHead(mean=rng.uniform(0, 2, desc.n_features), scale=rng.uniform(0.5, 2, desc.n_features),
                             w=rng.normal(size=desc.n_features), b=float(rng.normal()))
             for t in ((0,) if case == "cosine_one_head" else (0, 1))}
    model = tmp_path / f"{case}.glassfix"
    SoftnessModel(desc, ["A", "B"], heads).save(model)
    group = "group sel type 2" if case == "group" else "group sel union all"
    return frame, model, group


@pytest.mark.parametrize("case", ["group", "cosine_one_head", "2d", "sparse"])
def test_native_path_edge_cases(tmp_path, plugin_so, case):
    """The C++ pair sum on a group of atoms, with a cosine cutoff and a head for one species only, in 2D
    and for a sparse box equals the offline model (values outside the group are 0, headless species NaN);
    every instruction-set path of the kernel gives the same bits (GLASSFIX_RADIAL_ISA=avx2 / scalar force the
    narrower ones; on a CPU without AVX2 or AVX-512 the forced runs repeat the scalar path)."""
    frame, model_path, group = _native_case(case, tmp_path)
    write_data(frame, tmp_path / "in.data", masses=[1.0, 1.0])
    results = []
    runs = ((1, None), (3, None), (1, {"GLASSFIX_RADIAL_ISA": "avx2"}), (1, {"GLASSFIX_RADIAL_ISA": "scalar"}))
    for nprocs, env in runs:
        wd = tmp_path / f"np{nprocs}{'_' + env['GLASSFIX_RADIAL_ISA'] if env else ''}"
        script = f"""plugin load {plugin_so}
units lj
dimension {frame.dim}
atom_style atomic
boundary p p p
read_data {tmp_path / 'in.data'}
pair_style zero 2.5
pair_coeff * *
neighbor 0.3 bin
{group}
fix p sel glass/predict 1 model {model_path} ghost auto
dump d all custom 1 out.dump id type x y z f_p
dump_modify d format float %24.17g sort id
run 0
"""
        proc = run_lmp(script, wd, nprocs=nprocs, timeout=300, env=env)
        assert proc.returncode == 0 and not error_lines(proc.stdout), proc.stdout[-3000:]
        fr = read_dump_frames(wd / "out.dump")[0]
        results.append(fr.metadata["columns"]["f_p"])
        if frame.dim == 2:    # the dump reader gives a 3D frame with a thin z; the model wants the 2D one
            fr = Frame(positions=fr.positions[:, :2], types=fr.types, cell=frame.cell, species=frame.species)
        expected = load_model(model_path).predict(fr)[:, 0]
        in_group = fr.types == 1 if case == "group" else np.ones(fr.n_atoms, bool)
        got = results[-1]
        assert np.all(got[~in_group] == 0.0)
        headless = in_group & np.isnan(expected)
        assert (case == "cosine_one_head") == bool(headless.any())
        assert np.isnan(got[headless]).all()
        ok = in_group & ~headless
        assert ok.sum() > 0
        assert np.abs(got[ok] - expected[ok]).max() <= 1e-10 * np.abs(expected[ok]).max(), (case, nprocs)
    np.testing.assert_allclose(results[0], results[1], rtol=0, atol=1e-10 * np.nanmax(np.abs(results[0])))
    np.testing.assert_array_equal(results[0], results[2])    # same bits on the AVX2 path
    np.testing.assert_array_equal(results[0], results[3])    # and on the scalar one
