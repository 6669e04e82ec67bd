"""The glassfix command line: descriptors of every kind, labels, data stores (small frames)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from glassfix.core.frame import Frame
from glassfix.data.lammps_io import write_data
from glassfix.descriptors.base import descriptor_from_spec


def glassfix(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "glassfix.cli", *args], capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def ka_data(tmp_path_factory):
    """A KA-like random frame (N = 250, ρ = 1.2, minimum separation 0.8) written as a LAMMPS data file."""
    rng = np.random.default_rng(5)
    L = (250 / 1.2) ** (1 / 3)
    pos = []
    while len(pos) < 250:
        p = rng.random(3) * L
        if all(np.linalg.norm((p - q) - L * np.round((p - q) / L)) > 0.8 for q in pos):
            pos.append(p)
    types = np.zeros(250, dtype=np.int64)
    types[rng.permutation(250)[:50]] = 1
    frame = Frame(positions=np.array(pos), types=types, cell=np.eye(3) * L, species=("A", "B"))
    path = tmp_path_factory.mktemp("cli") / "ka.data"
    write_data(frame, path, masses=[1.0, 1.0])
    return path, frame


@pytest.mark.parametrize("kind,spec", [("ace", {"kind": "ace", "n_species": 2, "r_cut": 3.0, "degree": 6}),
                                       ("interstice", {"kind": "interstice", "n_species": 2}),
                                       ("coarse_grained", {"kind": "coarse_grained", "n_species": 2,
                                                           "pair_energy": "ka3d", "max_range": 4.0})])
def test_descriptors_cli_equals_api(tmp_path, ka_data, kind, spec):
    path, frame = ka_data
    extra = {k: v for k, v in spec.items() if k not in ("kind", "n_species")}
    out = tmp_path / "X.npy"
    import json

    proc = glassfix("descriptors", kind, str(path), "--out", str(out), "--spec", json.dumps(extra))
    assert proc.returncode == 0, proc.stderr
    X = np.load(out)
    desc = descriptor_from_spec({**spec, "species_names": ["A", "B"]})
    assert X.shape == (frame.n_atoms, desc.n_features)
    np.testing.assert_allclose(X, desc.compute(frame), rtol=1e-12, atol=1e-12)
    names = (tmp_path / "X.names.txt").read_text().split("\n")
    assert names[: desc.n_features] == desc.names


def test_descriptors_cli_rejects_misplaced_options(tmp_path, ka_data):
    path, _ = ka_data
    proc = glassfix("descriptors", "ace", str(path), "--out", str(tmp_path / "x.npy"), "--cutoff", "3")
    assert proc.returncode != 0 and "--spec" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_predict_cli_clear_error_for_bad_model(tmp_path, ka_data):
    path, _ = ka_data
    bad = tmp_path / "bad.glassfix"
    bad.write_bytes(b"not a zip")
    proc = glassfix("predict", "--model", str(bad), "--frame", str(path), "--out", str(tmp_path / "p.npy"))
    assert proc.returncode != 0 and "not a glassfix model" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_label_and_data_cli_on_shared_botan_file(tmp_path):
    from helpers.lmp_util import ISO_DIR

    npz = ISO_DIR / "isoconfig_N4096T0.44_1_tc07.npz"
    if not npz.exists():
        pytest.skip(f"shared data not found at {npz}")
    ref = np.load(ISO_DIR.parents[1] / "botan_reference" / "reference_forward_config1.npz")
    proc = glassfix("label", "propensity", str(npz), "--out", str(tmp_path / "prop.npy"))
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "prop.npy").astype(np.float32), ref["target_node"])
    store = tmp_path / "s.h5"
    assert glassfix("data", "import", "botan", str(npz), str(store)).returncode == 0
    info = glassfix("data", "info", str(store), "--json")
    assert info.returncode == 0, info.stderr
    import json

    summary = json.loads(info.stdout)
    assert summary["n_frames"] == 1, summary


def test_descriptor_cutoff_beyond_reason_is_one_clear_line(tmp_path, ka_data):
    """A cutoff of 1e9 used to hang or die with a bare MemoryError naming nothing."""
    from glassfix.descriptors.structure_functions import RadialStructureFunctions

    path, frame = ka_data
    proc = subprocess.run([sys.executable, "-m", "glassfix.cli", "descriptors", "radial", str(path), "--out",
                           str(tmp_path / "x.npy"), "--cutoff", "1e9"], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert "--cutoff" in err and "ka.data" in err and "1e+09" in err and "too large" in err, err
    with pytest.raises(ValueError, match=r"radial_structure_functions descriptor's cutoff 1e\+09 is too large.*box widths"):
        RadialStructureFunctions(2, cutoff=1e9).compute(frame)
    assert RadialStructureFunctions(2, cutoff=5.4).compute(frame).shape[0] == frame.n_atoms  # sane ones pass


@pytest.mark.parametrize("option", ["--every", "--repeats", "--np", "--n", "--steps"])
def test_bench_rejects_non_positive_counts_in_one_line(option):
    """A zero interval or repeat count would start minutes of preparation (or end in a traceback): argparse
    stops it with one line naming the option and the value."""
    proc = glassfix("bench", "overhead", option, "0", "--out", "unused", "--report", "unused.md")
    assert proc.returncode == 2
    assert f"argument {option}: must be >= 1, got 0" in proc.stderr
    assert "Traceback" not in proc.stderr
