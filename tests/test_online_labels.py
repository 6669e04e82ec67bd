"""fix glass/phop and glass/d2min (online, per-atom history migrating between ranks) equal the offline labels."""

from __future__ import annotations

import numpy as np
import pytest

from glassfix.core.frame import Frame
from glassfix.data.lammps_io import read_dump_frames, write_data
from glassfix.labels.d2min import d2min
from glassfix.labels.phop import phop
from lmp_util import KA_PAIR, error_lines, run_lmp, shared_ka_frame

pytestmark = pytest.mark.slow

EVERY, WINDOW, LAG, RCUT = 20, 6, 40, 1.5


def online_script(plugin, data, extra="") -> str:
    return f"""plugin load {plugin}
units lj
atom_style atomic
read_data {data}
{KA_PAIR}
comm_modify cutoff 3.0
velocity all create 0.6 2024 dist gaussian mom yes rot no loop geom
fix nve all nve
timestep 0.005
fix ph all glass/phop {EVERY} {WINDOW}
fix d2 all glass/d2min {EVERY} {LAG} {RCUT} margin 1.0 {extra}
thermo_style custom step temp f_ph f_d2
thermo {EVERY}
dump d all custom {EVERY} out.dump id type x y z xu yu zu f_ph f_d2
dump_modify d format float %20.16g sort id
run 300
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory, plugin_so):
    d = tmp_path_factory.mktemp("online")
    write_data(shared_ka_frame(3), d / "ka.data", masses=[1.0, 1.0])
    out = {}
    for nprocs in (1, 3):
        wd = d / f"np{nprocs}"
        proc = run_lmp(online_script(plugin_so, d / "ka.data"), wd, nprocs=nprocs, timeout=300)
        assert proc.returncode == 0 and not error_lines(proc.stdout), proc.stdout[-3000:]
        out[nprocs] = read_dump_frames(wd / "out.dump")
    return out


def test_online_phop_equals_offline(runs):
    h = WINDOW // 2
    for nprocs, frames in runs.items():
        traj = np.stack([f.unwrapped for f in frames])
        offline = phop(traj, WINDOW)
        online = np.stack([f.metadata["columns"]["f_ph"] for f in frames])
        # the online value at sample k is p_hop at the centre of the window that ends at k
        assert np.isnan(online[: 2 * h]).all()
        expected = offline[h: len(frames) - h]
        got = online[2 * h:]
        assert np.isfinite(got).all()
        assert np.abs(got - expected).max() <= 1e-10 * np.abs(expected).max(), nprocs


def test_online_d2min_equals_offline(runs):
    lag = LAG // EVERY
    for nprocs, frames in runs.items():
        online = np.stack([f.metadata["columns"]["f_d2"] for f in frames])
        assert np.isnan(online[:lag]).all()
        for k in range(lag, len(frames)):
            f0 = frames[k - lag]
            ref = Frame(positions=f0.unwrapped, types=f0.types, cell=f0.cell, origin=f0.origin, ids=f0.ids)
            expected, _ = d2min(ref, frames[k].unwrapped, RCUT)
            assert np.isfinite(online[k]).all()
            assert np.abs(online[k] - expected).max() <= 1e-10 * np.abs(expected).max(), (nprocs, k)


def test_same_for_any_rank_count(runs):
    for name in ("f_ph", "f_d2"):
        a = np.stack([f.metadata["columns"][name] for f in runs[1]])
        b = np.stack([f.metadata["columns"][name] for f in runs[3]])
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        ok = ~np.isnan(a)
        assert np.abs(a[ok] - b[ok]).max() <= 1e-10 * np.abs(a[ok]).max()


@pytest.mark.parametrize("line,expected", [
    ("glass/phop 10 1", "WINDOW must be >= 2"),
    ("glass/phop 0 6", "N must be a positive integer"),
    ("glass/d2min 10 25 1.5", "must be a multiple of N"),
    ("glass/d2min 10 20 -1", "RCUT must be a positive length"),
    ("glass/d2min 10 20 1.5 normalize median", "normalize must be 'sum' or 'mean'"),
    ("glass/d2min 10 20 1.5 flavour x", "unknown keyword 'flavour'"),
    ("glass/d2min 10 20 4.0", "comm_modify cutoff"),
])
def test_bad_arguments(tmp_path, plugin_so, line, expected):
    write_data(shared_ka_frame(3), tmp_path / "ka.data", masses=[1.0, 1.0])
    script = f"""plugin load {plugin_so}
units lj
atom_style atomic
read_data ka.data
{KA_PAIR}
fix l all {line}
run 10
"""
    proc = run_lmp(script, tmp_path, nprocs=2, timeout=120)
    errs = error_lines(proc.stdout)
    assert proc.returncode != 0 and len(errs) == 1, proc.stdout[-2000:]
    assert expected in errs[0], errs[0]
