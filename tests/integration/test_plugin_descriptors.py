"""Every local descriptor can drive fix glass/predict (Python path), equal to the offline model under MPI."""

from __future__ import annotations

import numpy as np
import pytest

from glassfix.data.lammps_io import read_dump_frames, write_data
from glassfix.descriptors.base import descriptor_from_spec
from glassfix.models import load_model
from glassfix.models.softness import SoftnessHead, SoftnessModel
from helpers.lmp_util import error_lines, predict_run_script, run_lmp, shared_ka_frame

pytestmark = pytest.mark.slow

SPECS = {
    "softness166": {"kind": "combined", "components": [
        {"kind": "radial_structure_functions", "n_species": 2, "species_names": ["A", "B"]},
        {"kind": "angular_structure_functions", "n_species": 2, "species_names": ["A", "B"]}]},
    "ace": {"kind": "ace", "n_species": 2, "r_cut": 3.0, "degree": 6, "species_names": ["A", "B"]},
}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_linear_model_on_descriptor_in_lammps(tmp_path, plugin_so, name):
    desc = descriptor_from_spec(SPECS[name])
    rng = np.random.default_rng(1)
    frame = shared_ka_frame(5)
    # standardise with the statistics of the frame itself, random weights: a well-conditioned head
    X = desc.compute(frame, centers=np.arange(0, frame.n_atoms, 8))
    mean, scale = X.mean(axis=0), np.where(X.std(axis=0) > 1e-6 * X.std(axis=0).max(), X.std(axis=0), 1.0)
    heads = {t: SoftnessHead(mean=mean, scale=scale, w=rng.normal(size=desc.n_features) / desc.n_features,
                             b=0.1) for t in (0, 1)}
    model_path = tmp_path / f"{name}.glassfix"
    SoftnessModel(desc, ["A", "B"], heads).save(model_path)
    write_data(frame, tmp_path / "ka.data", masses=[1.0, 1.0])
    script = predict_run_script(plugin_so, "ka.data", model_path)
    proc = run_lmp(script, tmp_path, nprocs=2, timeout=300)
    assert proc.returncode == 0 and not error_lines(proc.stdout), proc.stdout[-3000:]
    fr = read_dump_frames(tmp_path / "out.dump")[0]
    got = fr.metadata["columns"]["f_p"]
    expected = load_model(model_path).predict(fr)[:, 0]
    assert np.abs(got - expected).max() <= 1e-10 * np.abs(expected).max()
