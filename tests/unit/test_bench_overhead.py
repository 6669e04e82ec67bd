"""bench overhead --model botan: the report of a multi-variant run and the weak-scaling projection."""

from __future__ import annotations

import numpy as np

from glassfix.bench import _append_variants_report, ghost_atoms_cubic, project_weak_scaling


def test_ghost_count_of_a_cubic_subdomain_matches_counting_lattice_points():
    """density × ((l + 2s)³ − l³) against the points of a simple cubic lattice in the shell."""
    a = 0.05    # lattice spacing: density 1/a³
    side, shell = 2.0, 0.3
    g = np.arange(-shell, side + shell, a) + a / 2
    x, y, z = np.meshgrid(g, g, g, indexing="ij")
    inside = (x > 0) & (x < side) & (y > 0) & (y < side) & (z > 0) & (z < side)
    box = (np.abs(x - side / 2) < side / 2 + shell) & (np.abs(y - side / 2) < side / 2 + shell) & \
        (np.abs(z - side / 2) < side / 2 + shell)
    counted = int((box & ~inside).sum())
    n_inside = int(inside.sum())
    got = ghost_atoms_cubic(n_inside, shell, density=1 / a ** 3)
    assert abs(got - counted) <= 0.02 * counted


def test_projection_local_is_flat_and_gather_grows_with_the_total():
    rows = project_weak_scaling(1e-3, 6, 64, 2.8, [1, 8, 64], [8192])
    local = [r["local_s"] for r in rows]
    gather = [r["gather_s"] for r in rows]
    assert local[0] == gather[0] == 8.192 and local[1] == local[2] > local[0]    # P > 1: network exchanges
    assert gather[2] > 60 * gather[0]
    assert rows[1]["bytes_per_rank"] == 6 * 64 * 4 * rows[1]["ghosts"]


def test_variants_report_states_its_own_numbers(tmp_path):
    report = tmp_path / "benchmarks.md"
    report.write_text("# glassfix benchmarks\n\nearlier\n")
    sec = {"Modify": 4.0, "Other": 0.1}
    r = {"model": "botan", "date": "2026-12-02", "machine": "m", "glassfix": "0", "n_atoms": 16384, "steps": 2000,
         "every": 1000, "nprocs": 2, "loop_without_s": [10.0, 11.0], "halo": {"exchanges": 6, "width": 64},
         "variants": {"local": {"loop_s": [12.0, 13.0], "ratio_per_repeat": [1.2, 13 / 11], "median_ratio": 1.19,
                                "extra_by_section_s": sec, "nghost_per_rank": 10000.0},
                      "gather": {"loop_s": [30.0, 31.0], "ratio_per_repeat": [3.0, 31 / 11], "median_ratio": 2.9,
                                 "extra_by_section_s": {"Modify": 20.0, "Comm": -1.0}, "nghost_per_rank": 0.0}}}
    _append_variants_report(report, r)
    text = report.read_text()
    assert text.startswith("# glassfix benchmarks\n\nearlier\n")
    assert "| 1 | 10.00 | 12.00 | 30.00 | 1.200 | 3.000 |" in text
    assert "**Median ratios: local 1.190, gather 2.900**" in text
    assert "15.36 MB received per rank and evaluation" in text    # 6 × 64 × 4 B × 10000
    assert "mode local, 244 µs" in text    # 4 s / 2 evaluations / 8192 atoms
    assert "mode gather measured per atom 610 µs" in text    # 20 s / 2 / 16384


def test_ace_overhead_report_states_its_own_numbers(tmp_path):
    """bench overhead --model ace: the fix line, and a report whose verdict, per-evaluation time and budget
    follow from the loop times it lists."""
    from pathlib import Path

    from glassfix.bench import _append_report, _fix_variants

    assert _fix_variants("ace", Path("m.glassfix"), 100) == {
        "with": "fix ace all glass/predict 100 model m.glassfix ghost auto"}
    report = tmp_path / "benchmarks.md"
    r = {"model": "ace", "date": "2026-12-02", "machine": "m", "glassfix": "0", "n_atoms": 16384, "steps": 2000,
         "every": 100, "nprocs": 2, "loop_without_s": [10.0, 12.0, 11.0], "loop_with_s": [13.0, 15.0, 14.0],
         "ratio_per_repeat": [1.3, 1.25, 14 / 11], "median_ratio": 14 / 11, "model_text": "MODEL", "target": 1.25,
         "train_commands": ["glassfix train ace X"], "extra_by_section_s": {"Modify": 3.0}}
    _append_report(report, r)
    text = report.read_text()
    assert "`glassfix bench overhead --model ace --n 16384 --steps 2000 --every 100 --np 2 --repeats 3`" in text
    assert "evaluating MODEL on every atom" in text
    assert "**Median ratio: 1.273** (target ≤ 1.25: not met)" in text
    assert "extra loop time 0.150 s" in text    # median of 3/20 s per evaluation
    assert "the target allows 0.138 s (0.25 × the 0.550 s that 100 steps take" in text    # 11 s / 20
    assert "`glassfix train ace X`" in text
