"""``glassfix bench engines`` says when its OpenMM CUDA row is skipped instead of omitting it silently."""

import pytest

pytest.importorskip("openmm")

from glassfix.bench_engines import _append_report, cuda_skip_reason  # noqa: E402
from glassfix.engines.openmm import best_platform  # noqa: E402


def test_cuda_row_skipped_without_gpu_is_reported(tmp_path):
    reason = cuda_skip_reason()
    on_gpu = best_platform().getName() == "CUDA"
    assert (reason is None) == on_gpu
    if on_gpu:
        pytest.skip("a CUDA GPU is usable here: the row is measured, not skipped")
    assert reason.startswith("no GPU")
    med = {"lammps-1": {"1000": 1e6, "4000": 1e6}, "openmm-cpu-1": {"1000": 3e5, "4000": 3e5}}
    result = {"date": "2026-12-02", "machine": "test", "glassfix": "0", "openmm": "8", "platforms": ["CPU"],
              "sizes": [1000, 4000], "atom_steps": 1e5, "repeats": 1, "wall_s": 1.0, "medians": med, "runs": [],
              "skipped": {"openmm-cuda": reason}}
    report = tmp_path / "bench.md"
    _append_report(report, result)
    text = report.read_text()
    assert "| OpenMM CUDA (mixed) | skipped | skipped |" in text
    assert f"OpenMM CUDA (mixed): skipped ({reason})." in text
    assert "OpenMM CUDA (mixed): atom-steps/s relative" not in text
