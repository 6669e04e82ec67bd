"""core.machine.append_bench_section: the one writer of docs/benchmarks.md sections."""

from glassfix.core.machine import BENCH_HEADER, append_bench_section


def test_append_bench_section_creates_with_header_then_appends(tmp_path):
    report = tmp_path / "sub" / "benchmarks.md"
    append_bench_section(report, ["", "## first", "a"])
    assert report.read_text() == f"# glassfix benchmarks\n\n{BENCH_HEADER}\n\n## first\na"
    append_bench_section(report, ["", "## second", ""])
    text = report.read_text()
    assert text.startswith(f"# glassfix benchmarks\n\n{BENCH_HEADER}\n\n## first\na\n\n## second")
    assert text.count("# glassfix benchmarks") == 1
