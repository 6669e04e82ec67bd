"""fix glass/record: frames and per-atom labels/predictions of other glass fixes appended to a store."""

from __future__ import annotations

import numpy as np
import pytest

from glassfix.data.lammps_io import read_dump_frames, write_data
from glassfix.data.store import DatasetStore
from helpers.lmp_util import KA_PAIR, error_lines, run_lmp, shared_ka_frame

pytestmark = pytest.mark.slow


def script(plugin, model, store, nrun=100, record_line=None) -> str:
    record_line = record_line or f"fix rec all glass/record 20 {store} values f_ph f_soft group run1 system ka3d temperature 0.6"
    return f"""plugin load {plugin}
units lj
atom_style atomic
read_data ka.data
{KA_PAIR}
comm_modify cutoff 6.0
velocity all create 0.6 77 dist gaussian mom yes rot no loop geom
fix nve all nve
timestep 0.005
fix ph all glass/phop 20 4
fix soft all glass/predict 20 model {model}
{record_line}
dump d all custom 20 out.dump id type x y z xu yu zu f_ph f_soft
dump_modify d format float %20.16g sort id
run {nrun}
"""


def test_record_matches_dump_and_resume_has_no_duplicates(tmp_path, plugin_so, softness_model_file):
    write_data(shared_ka_frame(4), tmp_path / "ka.data", masses=[1.0, 1.0])
    store = tmp_path / "online.h5"
    proc = run_lmp(script(plugin_so, softness_model_file, store), tmp_path, nprocs=3, timeout=300)
    assert proc.returncode == 0 and not error_lines(proc.stdout), proc.stdout[-3000:]
    dump = {f.step: f for f in read_dump_frames(tmp_path / "out.dump")}
    with DatasetStore(store) as ds:
        keys = ds.keys()
        assert len(keys) == 6  # steps 0, 20, ..., 100
        for key in keys:
            fr = ds.frame(key)
            ref = dump[fr.step]
            np.testing.assert_array_equal(fr.ids, ref.ids)
            np.testing.assert_allclose(fr.unwrapped, ref.unwrapped, rtol=0, atol=1e-12)
            labels = ds.labels(key)
            # glass/phop values are stored by kind and parameters, other values by their name; glass/phop 20 4
            # has a defined value from its 5th sample (step 80) on: before that the frame is recorded
            # without the label, never with NaN standing in for it
            phop = "phop/every=20,window=4"
            assert (phop in labels) == (fr.step >= 80), fr.step
            assert "f_soft" in labels
            for name, col in ((phop, "f_ph"), ("f_soft", "f_soft")):
                if name not in labels:
                    continue
                a, b = labels[name], ref.metadata["columns"][col]
                assert np.isfinite(a).all(), (name, fr.step)
                np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
                assert np.allclose(a[~np.isnan(a)], b[~np.isnan(b)], rtol=1e-14, atol=1e-14)
    # the same run again (e.g. a restarted job): the store keeps one copy of every frame
    proc = run_lmp(script(plugin_so, softness_model_file, store, nrun=140), tmp_path, nprocs=2, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    with DatasetStore(store) as ds:
        steps = sorted(ds.frame(k).step for k in ds.keys())
    assert steps == [0, 20, 40, 60, 80, 100, 120, 140]


@pytest.mark.parametrize("line,expected", [
    ("fix rec all glass/record 20 {store} values f_nosuch", "no fix with ID 'nosuch'"),
    ("fix rec all glass/record 20 {store} values c_pe", "per-atom values of fixes only"),
    ("fix rec all glass/record 30 {store} values f_ph", "not a multiple of the interval 20"),
    ("fix rec all glass/record 20 {store} colour red", "unknown keyword 'colour'"),
])
def test_record_bad_input(tmp_path, plugin_so, softness_model_file, line, expected):
    write_data(shared_ka_frame(4), tmp_path / "ka.data", masses=[1.0, 1.0])
    rec = line.format(store=tmp_path / "s.h5")
    proc = run_lmp(script(plugin_so, softness_model_file, tmp_path / "s.h5", nrun=20, record_line=rec),
                   tmp_path, nprocs=2, timeout=120)
    errs = error_lines(proc.stdout)
    assert proc.returncode != 0 and len(errs) == 1, proc.stdout[-2000:]
    assert expected in errs[0], errs[0]


def test_record_must_follow_the_fixes_it_records(tmp_path, plugin_so, softness_model_file):
    write_data(shared_ka_frame(4), tmp_path / "ka.data", masses=[1.0, 1.0])
    text = script(plugin_so, softness_model_file, tmp_path / "s.h5", nrun=20)
    # move the recorder before the fixes it records
    lines = text.splitlines()
    rec = next(ln for ln in lines if "glass/record" in ln)
    lines.remove(rec)
    lines.insert(lines.index("fix nve all nve") + 1, rec)
    proc = run_lmp("\n".join(lines) + "\n", tmp_path, nprocs=2, timeout=120)
    errs = error_lines(proc.stdout)
    assert proc.returncode != 0 and len(errs) == 1
    assert "define it after fix" in errs[0] or "no fix with ID" in errs[0], errs[0]
