"""Integration tests of lammps_inputs/*.lmp under ``mpirun -np 2 lmp`` (tiny N and step counts)."""

from pathlib import Path

import numpy as np
import pytest

from glassfix.engines.lammps.runner import (
    LammpsError, lammps_command_line, lammps_env, run_lammps, venv_bin,
)
from glassfix.systems import KobAndersen3D
from helpers import REPO

INPUTS = REPO / "lammps_inputs"


def read_dump_simple(path):
    """Minimal reader for orthogonal-box 'id type x y z xu yu zu' dumps: list of (step, L, array)."""
    frames = []
    with open(path) as fh:
        lines = fh.read().splitlines()
    k = 0
    while k < len(lines):
        assert lines[k] == "ITEM: TIMESTEP"
        step = int(lines[k + 1])
        n = int(lines[k + 3])
        lo, hi = (float(v) for v in lines[k + 5].split()[:2])
        cols = lines[k + 8].split()[2:]
        assert cols == ["id", "type", "x", "y", "z", "xu", "yu", "zu"]
        arr = np.array([ln.split() for ln in lines[k + 9: k + 9 + n]], dtype=np.float64)
        frames.append((step, hi - lo, arr))
        k += 9 + n
    return frames


def energy_per_atom(ka, arr, L):
    x = arr[:, 2:5]
    t = arr[:, 1].astype(int) - 1
    i, j = np.triu_indices(len(x), k=1)
    d = x[j] - x[i]
    d -= L * np.round(d / L)
    r = np.sqrt((d * d).sum(axis=1))
    return ka.pair_energy(r, t[i], t[j]).sum() / len(x)


def test_runner_basics(tmp_path):
    assert Path(venv_bin("lmp")).is_file() and Path(venv_bin("mpirun")).is_file()
    env = lammps_env({"FOO": "1"})
    assert env["OMP_NUM_THREADS"] == "1" and env["FOO"] == "1"
    assert env["LD_LIBRARY_PATH"].split(":")[0].endswith("/lib")
    args = lammps_command_line("in.lmp", 2, {"N": 10, "T": 0.5, "multi": ["a", "b"]}, "log.x")
    assert args[1:3] == ["-np", "2"] and args[-2:] == ["-log", "log.x"]
    assert args[args.index("-var") + 1: args.index("-var") + 3] == ["N", "10"]
    assert "multi" in args and args[args.index("multi") + 1: args.index("multi") + 3] == ["a", "b"]

    (tmp_path / "ok.lmp").write_text('variable x index 1\nprint "VALUE=${x}"\n')
    seen = []
    run = run_lammps("ok.lmp", nprocs=2, variables={"x": 42}, cwd=tmp_path, progress=seen.append)
    assert run.returncode == 0 and any("VALUE=42" in s for s in seen)
    assert "VALUE=42" in run.stdout_path.read_text() and run.log_path.is_file()

    (tmp_path / "bad.lmp").write_text("units lj\nthis_is_not_a_command 1 2\n")
    with pytest.raises(LammpsError) as ei:
        run_lammps("bad.lmp", nprocs=2, cwd=tmp_path, log_path="bad.log")
    assert "Unknown command" in ei.value.message and ei.value.returncode != 0
    assert "this_is_not_a_command" in str(ei.value)

    (tmp_path / "slow.lmp").write_text(
        "units lj\nregion b block 0 10 0 10 0 10\ncreate_box 1 b\ncreate_atoms 1 random 500 1 b\n"
        "mass 1 1\npair_style lj/cut 2.5\npair_coeff 1 1 1 1\nvelocity all create 1 1\nfix 1 all nve\n"
        "run 100000000\n")
    with pytest.raises(LammpsError, match="timed out"):
        run_lammps("slow.lmp", nprocs=2, cwd=tmp_path, log_path="slow.log", timeout=3)


@pytest.mark.slow
def test_prepare_and_quench_pipeline(tmp_path):
    N, dump_every, prod = 256, 100, 400
    run = run_lammps(
        INPUTS / "ka_prepare.lmp", nprocs=2, cwd=tmp_path, log_path="prep.log", timeout=120,
        variables=dict(N=N, seed=4242, T=0.6, out="run", melt_steps=500, quench_steps=500,
                       equil_steps=500, prod_steps=prod, dump_every=dump_every, thermo_every=100),
    )
    assert "mpirun" in run.args[0]
    out = tmp_path / "run"
    for name in ("start.data", "final.data", "prod.dump"):
        assert (out / name).is_file(), name
    md = read_dump_simple(out / "prod.dump")
    assert [s for s, _, _ in md] == list(range(0, prod + 1, dump_every))
    ka = KobAndersen3D()
    L = md[0][1]
    assert L == pytest.approx(ka.box_length(N, 1.2), rel=1e-12)
    types = md[0][2][:, 1]
    assert (types == 1).sum() == round(0.8 * N) and (types == 2).sum() == N - round(0.8 * N)

    run_lammps(
        INPUTS / "ka_quench_frames.lmp", nprocs=2, cwd=tmp_path, log_path="quench.log", timeout=120,
        variables=dict(data="run/start.data", dump="run/prod.dump", first=0, last=prod,
                       every=2 * dump_every, out="run/is.dump", ftol=1e-6),
    )
    IS = read_dump_simple(out / "is.dump")
    assert [s for s, _, _ in IS] == list(range(0, prod + 1, 2 * dump_every))
    energies = np.loadtxt(out / "is.dump.energy", ndmin=2)
    assert energies.shape == (len(IS), 5)
    assert (energies[:, 0] == [s for s, _, _ in IS]).all()
    md_by_step = {s: a for s, _, a in md}
    for (step, L_is, a), (_, e_file, fnorm, fmax, _) in zip(IS, energies):
        b = md_by_step[step]
        assert L_is == L
        assert (a[:, 0] == np.arange(1, N + 1)).all() and (a[:, 1] == b[:, 1]).all()
        e_is = energy_per_atom(ka, a, L)
        e_md = energy_per_atom(ka, b, L)
        assert e_is == pytest.approx(e_file, abs=1e-9)  # the dumped IS is what LAMMPS minimised
        assert e_is < e_md - 0.3  # inherent structures sit far below the thermal potential energy
        assert fmax <= 1e-6 * 1.0001 or fnorm < 1e-4  # converged (ftol on the largest component)
        # unwrapped IS positions continue the MD unwrapped trajectory (image flags kept)
        disp = np.linalg.norm(a[:, 5:8] - b[:, 5:8], axis=1)
        assert disp.max() < 1.5 and disp.mean() < 0.5
    # re-running overwrites rather than appends
    run_lammps(
        INPUTS / "ka_quench_frames.lmp", nprocs=2, cwd=tmp_path, log_path="quench2.log", timeout=120,
        variables=dict(data="run/start.data", dump="run/prod.dump", first=dump_every, last=dump_every,
                       every=dump_every, out="run/is.dump"),
    )
    assert [s for s, _, _ in read_dump_simple(out / "is.dump")] == [dump_every]
    assert np.loadtxt(out / "is.dump.energy", ndmin=2).shape[0] == 1
