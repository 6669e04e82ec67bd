"""The demo pipeline end to end at a tiny size: MD -> IS -> p_hop -> softness -> fix under MPI -> report."""

import json

import pytest

from glassfix.demo import run_demo

pytestmark = pytest.mark.slow


def test_quick_demo_writes_report_and_resumes(tmp_path, plugin_so):
    out = tmp_path / "demo"
    report = run_demo(out, nprocs=2, quick=True)
    assert report.is_file()
    text = report.read_text()
    assert "fix vs `glassfix predict` offline" in text
    assert (out / "softness_vs_displacement.png").stat().st_size > 10_000
    result = json.loads((out / "report.json").read_text())
    # the values the fix computed under MPI equal the offline model on the same frame
    assert result["fix_vs_offline_rel"] < 1e-10
    assert {h["species"] for h in result["heads"]} == {"A", "B"}
    # a second invocation resumes: every stage is skipped and the report is rewritten
    mtime = (out / "ka_softness.glassfix").stat().st_mtime_ns
    run_demo(out, nprocs=2, quick=True)
    assert (out / "ka_softness.glassfix").stat().st_mtime_ns == mtime
