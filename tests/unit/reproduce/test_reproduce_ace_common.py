"""The ACE reproductions' shared analysis on synthetic data: feature sets, grouped CV, forward selection,
and the thermal table read back from a report."""

from __future__ import annotations

import numpy as np
import pytest

from glassfix.reproduce.ace_aqs_report import thermal_table
from glassfix.reproduce.ace_common import SET_NAMES, SHUFFLED, accuracy_row, feature_sets, forward_selection


def _data(n=600, p=8, informative=(2,), shift=2.0, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n // 2).astype(np.int8)
    X = rng.normal(size=(n, p))
    for c in informative:
        X[:, c] += shift * y
    groups = np.tile(np.arange(6), n // 6)
    return X, y, groups


def test_feature_sets_follow_the_paper_order():
    body = np.array([2] * 20 + [3] * 5 + [4] * 7)
    sets = feature_sets(body, 10)
    assert list(sets) == list(SET_NAMES)
    assert sets["A1 (first feature)"].tolist() == [0] and sets["B1"].tolist() == [10]
    assert sets["A–A radial (10)"].tolist() == list(range(10))
    assert sets["all 2-body (20)"].tolist() == list(range(20))
    assert sets["2 + 3-body"].tolist() == list(range(25))
    assert sets["2 + 3 + 4-body (all)"].tolist() == list(range(32))


def test_accuracy_row_sees_the_informative_feature_only():
    # 22 columns laid out as 20 two-body (A: 0-9, B: 10-19) + 2 three-body; only B1 (column 10) informs
    X, y, g = _data(n=480, p=22, informative=(10,))
    body = np.array([2] * 20 + [3] * 2)
    row = accuracy_row(X, y, g, body, 10, 3, 1.0, 0)
    # shift 2 sigma: the Bayes balanced accuracy is Phi(1) = 0.841
    assert 0.78 < row["B1"] < 0.90
    assert abs(row["A1 (first feature)"] - 0.5) < 0.08 and abs(row["A–A radial (10)"] - 0.5) < 0.08
    assert row["all 2-body (20)"] > 0.75
    assert abs(row[SHUFFLED] - 0.5) < 0.08


def test_forward_selection_picks_the_informative_columns_first():
    X, y, g = _data(n=600, p=4, informative=(2,), shift=2.0)
    X[:, 3] += 1.5 * y            # the weaker second signal
    picks, scores = forward_selection(X, y, g, 2, 3, 1.0, 0)
    assert picks == [2, 3]
    assert scores[1] > scores[0] > 0.75
    # restricted candidates are respected
    picks, _ = forward_selection(X, y, g, 1, 3, 1.0, 0, candidates=np.array([0, 1, 3]))
    assert picks == [3]


def test_thermal_table_reads_a_report(tmp_path):
    md = tmp_path / "ace_thermal.md"
    md.write_text("# t\n\ntext | not a table\n\n| features | r_cut = 2.5 | r_cut = 4 |\n|---|---|---|\n"
                  "| A1 (first feature) | 0.557 | 0.594 |\n| all 2-body (20) | 0.748 | 0.841 |\n\nafter\n")
    t = thermal_table(md)
    assert t == {"2.5": {"A1 (first feature)": 0.557, "all 2-body (20)": 0.748},
                 "4": {"A1 (first feature)": 0.594, "all 2-body (20)": 0.841}}
    assert thermal_table(tmp_path / "missing.md") == {}


def test_nested_cv_tunes_C_inside_each_training_part():
    """One informative feature among 150 noise columns and few examples: the nested CV picks C from the grid
    in every outer fold and finds the signal; shuffled labels stay near chance."""
    from glassfix.reproduce.ace_common import nested_cv_accuracy

    rng = np.random.default_rng(4)
    n, groups = 240, np.repeat(np.arange(8), 30)
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, 151))
    X[:, 0] += 1.5 * (2 * y - 1)
    Cs = (1e-3, 1e-2, 1e-1, 1.0, 10.0)
    acc, chosen = nested_cv_accuracy(X, y, groups, 4, Cs, 0)
    assert len(chosen) == 4 and set(chosen) <= set(Cs)
    assert acc > 0.7
    acc0, _ = nested_cv_accuracy(X, rng.permutation(y), groups, 4, Cs, 0)
    assert abs(acc0 - 0.5) < 0.1
    with pytest.raises(ValueError, match="nested CV needs >= 2 groups"):
        nested_cv_accuracy(X[:60], y[:60], groups[:60], 2, Cs, 0)
