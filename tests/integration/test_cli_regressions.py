"""Regressions found by trying the loop as a new user would (issue 12): 2D frames in ``glassfix predict``,
``glassfix label`` defaults, a relative ``--out`` under ``glassfix run --np 2``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers.models import make_softness_model
from glassfix.core.frame import Frame
from glassfix.data.lammps_io import read_dump_frames, write_data
from glassfix.systems import get_system
from helpers.lmp_util import ISO_DIR, run_lmp
from helpers import REPO


def glassfix(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "glassfix.cli", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env=env)


def cli(*args: str) -> int:
    """``glassfix ARGS`` in this process (argparse errors raise SystemExit)."""
    from glassfix.cli import main

    return main(list(args))


def test_predict_2d_dump_equals_fix_under_mpi(plugin_so, tmp_path):
    """A 2D (KA2D) frame: fix glass/predict with ``dimension 2`` under mpirun -np 2 equals ``glassfix predict``
    on its dump (the dimension comes from the file: z = 0 in a slab around 0); before, the dump was read as
    3D with a unit-thick periodic z box, so periodic z images counted as neighbours."""
    ka2 = get_system("ka2d")
    rng = np.random.default_rng(4)
    n = 200
    L = (n / 1.2) ** 0.5
    side = int(np.ceil(np.sqrt(n)))
    g = np.stack(np.meshgrid(np.arange(side), np.arange(side), indexing="ij"), -1).reshape(-1, 2)[:n] * (L / side)
    pos = (g + rng.normal(scale=0.1, size=g.shape)) % L
    types = np.zeros(n, dtype=np.int64)
    types[rng.permutation(n)[:70]] = 1
    write_data(Frame(positions=pos, types=types, cell=np.eye(2) * L, species=("A", "B")), tmp_path / "ka2.data",
               masses=[1.0, 1.0])
    model = make_softness_model(tmp_path / "soft2d.glassfix", seed=8)
    header = "\n".join(ka2.lammps_header_commands())
    script = (f"plugin load {plugin_so}\n{header}\nread_data ka2.data\n" + "\n".join(ka2.lammps_commands())
              + f"\nfix p all glass/predict 1 model {model} ghost auto\n"
              "dump d all custom 1 out.dump id type x y z f_p\ndump_modify d format float %20.16g sort id\nrun 0\n")
    proc = run_lmp(script, tmp_path, nprocs=2)
    assert proc.returncode == 0, proc.stdout[-3000:]
    online = np.asarray(read_dump_frames(tmp_path / "out.dump", dim=2)[0].metadata["columns"]["f_p"], dtype=float)
    assert cli("predict", "--model", str(model), "--frame", str(tmp_path / "out.dump"), "--out",
               str(tmp_path / "off.npy")) == 0
    np.testing.assert_allclose(np.load(tmp_path / "off.npy"), online, rtol=1e-10, atol=1e-12)
    # the data file too (write_data of a 2D frame: z = 0, zlo zhi = -0.5 0.5)
    assert cli("predict", "--model", str(model), "--frame", str(tmp_path / "ka2.data"), "--out",
               str(tmp_path / "off_data.npy")) == 0
    np.testing.assert_allclose(np.load(tmp_path / "off_data.npy"), online, rtol=1e-9, atol=1e-10)
    # an explicit --dim 3 still reads it as 3D (and then disagrees: the periodic z images count)
    assert cli("predict", "--model", str(model), "--frame", str(tmp_path / "out.dump"), "--dim", "3",
               "--out", str(tmp_path / "off3.npy")) == 0
    assert np.abs(np.load(tmp_path / "off3.npy") - online).max() > 1e-3


def test_pair_targets_default_agrees_with_the_trainer(tmp_path, capsys):
    npz = ISO_DIR / "isoconfig_N4096T0.44_1_tc07.npz"
    if not npz.exists():
        pytest.skip(f"shared data not found at {npz}")
    ref = np.load(ISO_DIR.parents[1] / "botan_reference" / "reference_forward_config1.npz")
    assert cli("label", "pair-targets", str(npz), "--out", str(tmp_path / "e.npy"), "--edges-out",
               str(tmp_path / "ei.npy")) == 0
    from glassfix.train.botan import make_sample

    d = np.load(npz)
    L = (4096 / 1.2) ** (1 / 3)
    frame = Frame(positions=d["initial_positions"], types=d["types"].astype(np.int64), cell=np.eye(3) * L)
    sample = make_sample(frame, d["positions"])  # the trainer's own labels
    np.testing.assert_array_equal(np.load(tmp_path / "ei.npy"), sample.edge_index)
    np.testing.assert_array_equal(np.load(tmp_path / "e.npy").astype(np.float32), sample.target_edge)
    np.testing.assert_array_equal(np.load(tmp_path / "ei.npy"), ref["edge_index"])
    np.testing.assert_allclose(np.load(tmp_path / "e.npy"), ref["target_edge"], rtol=0, atol=2e-6)
    capsys.readouterr()
    with pytest.raises(SystemExit):
        cli("label", "pair-targets", "--help")
    assert "minimum_image (default)" in " ".join(capsys.readouterr().out.split())


def test_propensity_has_no_ignored_box_option(tmp_path, capsys):
    with pytest.raises(SystemExit) as ei:
        cli("label", "propensity", "x.npz", "--box", "10", "--out", str(tmp_path / "p.npy"))
    assert ei.value.code != 0 and "unrecognized arguments: --box" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli("label", "propensity", "--help")
    assert "--box" not in capsys.readouterr().out


def test_run_np2_with_relative_out(tmp_path):
    """``glassfix run ... --np 2 --out run/`` (relative, as in the README) from another directory."""
    rng = np.random.default_rng(2)
    L = (108 / 1.2) ** (1 / 3)
    g = np.stack(np.meshgrid(*[np.arange(3)] * 3, indexing="ij"), -1).reshape(-1, 3)
    fcc = np.concatenate([g, g + [0.5, 0.5, 0], g + [0.5, 0, 0.5], g + [0, 0.5, 0.5]]) * (L / 3)
    types = np.zeros(108, dtype=np.int64)
    types[rng.permutation(108)[:20]] = 1
    (tmp_path / "prep").mkdir()
    write_data(Frame(positions=fcc + rng.normal(scale=0.03, size=fcc.shape), types=types, cell=np.eye(3) * L),
               tmp_path / "prep" / "final.data", masses=[1.0, 1.0])
    r = glassfix("run", "nve", "--data", "prep/final.data", "--np", "2", "--out", "run/", "--steps", "20",
                 "--frame-every", "10", "--thermo-every", "10", "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "run" / "result.json").is_file() and not (tmp_path / "run" / "run").exists()
    assert sorted(p.name for p in (tmp_path / "run" / "frames").glob("*.npz"))[-1] == "md_000000000020.npz"
