"""fix glass/phop and glass/d2min (online, per-atom history migrating between ranks) equal the offline labels."""

from __future__ import annotations

import numpy as np
import pytest

from glassfix.core.frame import Frame
from glassfix.data.lammps_io import read_dump_frames, write_data
from glassfix.labels.d2min import d2min
from glassfix.labels.phop import phop
from helpers.lmp_util import KA_PAIR, error_lines, run_lmp, shared_ka_frame

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
dump d all custom {EVERY} out.dump id type x y z xu yu zu ix iy iz f_ph f_d2
dump_modify d format float %20.16g sort id
run 300
"""


@pytest.fixture(scope="module")
def online_dir(tmp_path_factory, plugin_so):
    """NVE runs with both fixes on 1 and 3 ranks: <dir>/np1/out.dump, <dir>/np3/out.dump."""
    d = tmp_path_factory.mktemp("online")
    write_data(shared_ka_frame(3), d / "ka.data", masses=[1.0, 1.0])
    for nprocs in (1, 3):
        wd = d / f"np{nprocs}"
        proc = run_lmp(online_script(plugin_so, d / "ka.data"), wd, nprocs=nprocs, timeout=300)
        assert proc.returncode == 0 and not error_lines(proc.stdout), proc.stdout[-3000:]
    return d


@pytest.fixture(scope="module")
def runs(online_dir):
    return {nprocs: read_dump_frames(online_dir / f"np{nprocs}" / "out.dump") for nprocs in (1, 3)}


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


def test_same_for_any_rank_count_on_the_same_positions(online_dir, plugin_so):
    """Rank-count independence as it holds: the same positions give the same labels (<= 1e-10) on 1, 2 and
    3 ranks. Here: `rerun` of one trajectory. (Free MD on different rank counts drifts apart at round-off,
    so comparing two independent MD runs tests the integrator's chaos, not the fixes.)"""
    labels = {}
    for nprocs in (1, 2, 3):
        wd = online_dir / f"rerun_np{nprocs}"
        script = f"""plugin load {plugin_so}
units lj
atom_style atomic
read_data {online_dir / 'ka.data'}
{KA_PAIR}
comm_modify cutoff 3.0
fix ph all glass/phop {EVERY} {WINDOW}
fix d2 all glass/d2min {EVERY} {LAG} {RCUT} margin 1.0
dump d all custom {EVERY} rerun.dump id type x y z f_ph f_d2
dump_modify d format float %20.16g sort id
rerun {online_dir / 'np1' / 'out.dump'} dump x y z ix iy iz
"""
        proc = run_lmp(script, wd, nprocs=nprocs, timeout=300)
        assert proc.returncode == 0 and not error_lines(proc.stdout), proc.stdout[-3000:]
        frames = read_dump_frames(wd / "rerun.dump")
        assert [f.step for f in frames] == list(range(0, 301, EVERY))
        labels[nprocs] = {name: np.stack([f.metadata["columns"][name] for f in frames])
                          for name in ("f_ph", "f_d2")}
    for name in ("f_ph", "f_d2"):
        a = labels[1][name]
        ok = ~np.isnan(a)
        assert ok.sum() > a.size // 2
        for nprocs in (2, 3):
            b = labels[nprocs][name]
            np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
            assert np.abs(a[ok] - b[ok]).max() <= 1e-10 * np.abs(a[ok]).max(), (name, nprocs)


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


def restart_scripts(plugin, data, store, restart: bool) -> list[tuple[str, int]]:
    """(input, ranks) of 200 steps of KA NVE with phop, d2min and a recorder on them: one run on 2 ranks,
    or with ``restart`` two jobs: 100 steps on 2 ranks ending in write_restart, then read_restart, the
    same fix IDs and 100 more steps on 3 ranks."""
    pair = f"{KA_PAIR}\ncomm_modify cutoff 3.0\n"
    fixes = f"""fix nve all nve
timestep 0.005
fix ph all glass/phop 10 {WINDOW}
fix d2 all glass/d2min 10 {LAG} {RCUT} margin 1.0
fix rec all glass/record 10 {store} values f_ph f_d2 group g system ka
"""

    def dump(name):
        return (f"dump d all custom 10 {name} id type x y z f_ph f_d2\n"
                "dump_modify d format float %20.16g sort id\n")

    start = (f"plugin load {plugin}\nunits lj\natom_style atomic\nread_data {data}\n{pair}"
             "velocity all create 0.6 2024 dist gaussian mom yes rot no loop geom\n" + fixes + dump("a.dump"))
    if not restart:
        return [(start + "run 200\n", 2)]
    return [(start + "run 100\nwrite_restart ka.restart\n", 2),
            (f"plugin load {plugin}\nread_restart ka.restart\n{pair}" + fixes + dump("b.dump") + "run 100\n", 3)]


def test_restart_continues_label_history(tmp_path, plugin_so):
    """write_restart, then read_restart (on another rank count) + the same fix IDs: phop and d2min continue
    as if never interrupted (before, they were NaN until the window / lag refilled and the recorder stored
    those NaN); a fix re-defined with another window refuses the stored history."""
    write_data(shared_ka_frame(3), tmp_path / "ka.data", masses=[1.0, 1.0])
    out = {}
    for restart in (False, True):
        wd = tmp_path / ("restarted" if restart else "straight")
        for k, (text, nprocs) in enumerate(restart_scripts(plugin_so, tmp_path / "ka.data", wd / "s.h5", restart)):
            proc = run_lmp(text, wd, nprocs=nprocs, timeout=300, name=f"in.part{k}")
            assert proc.returncode == 0 and not error_lines(proc.stdout), proc.stdout[-3000:]
            if k == 1:
                assert "Resetting peratom fix info from restart file" in proc.stdout
        frames = read_dump_frames(wd / "a.dump")
        if restart:
            frames = frames + read_dump_frames(wd / "b.dump")  # b.dump starts at step 100 again
        out[restart] = ({f.step: f.metadata["columns"] for f in frames}, wd / "s.h5")
    straight, restarted = out[False][0], out[True][0]
    assert sorted(straight) == sorted(restarted) == list(range(0, 201, 10))
    for name, first_valid in (("f_ph", 10 * 2 * (WINDOW // 2)), ("f_d2", LAG)):
        for step in range(first_valid, 201, 10):
            a, b = straight[step][name], restarted[step][name]
            assert np.isfinite(a).all() and np.isfinite(b).all(), (name, step)
            assert np.abs(a - b).max() <= 1e-12 * np.abs(a).max(), (name, step, np.abs(a - b).max())

    # the recorders of both runs hold the same 21 frames, each label only from its first defined step
    from glassfix.data.store import DatasetStore

    stores = {}
    for restart in (False, True):
        with DatasetStore(out[restart][1]) as ds:
            stores[restart] = {ds.frame(k).step: ds.labels(k) for k in ds.keys()}
    assert sorted(stores[False]) == sorted(stores[True]) == list(range(0, 201, 10))
    for step in range(0, 201, 10):
        # stored under kind and parameters (docs/dataset.md); the dump column is the fix's f_ID
        for kind, col, first_valid in (("phop/", "f_ph", 10 * 2 * (WINDOW // 2)), ("d2min/", "f_d2", LAG)):
            for restart in (False, True):
                labels = stores[restart][step]
                names = [n for n in labels if n.startswith(kind)]
                assert len(names) == (1 if step >= first_valid else 0), (restart, step, kind, sorted(labels))
                if names:
                    dumped = (restarted if restart else straight)[step][col]  # %.16g: 1 ulp off
                    np.testing.assert_allclose(labels[names[0]], dumped, rtol=1e-15, atol=0)

    # the same fix ID with another window: the stored history does not fit, and the fix says so
    text = (f"plugin load {plugin_so}\nread_restart ka.restart\n{KA_PAIR}\ncomm_modify cutoff 3.0\n"
            f"fix ph all glass/phop 10 {WINDOW + 2}\nrun 0\n")
    proc = run_lmp(text, tmp_path / "restarted", nprocs=2, timeout=120, name="in.mismatch")
    errs = error_lines(proc.stdout)
    assert proc.returncode != 0 and len(errs) == 1, proc.stdout[-2000:]
    assert f"sampled with N = 10, WINDOW = {WINDOW} but the fix now has N = 10, WINDOW = {WINDOW + 2}" in errs[0]
