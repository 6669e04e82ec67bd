"""threshold_event_labels: the mechanical (AQS) labels of Rottler & Ortner on constructed D²min tables
(inactive per step, the default, and over the window)."""

from __future__ import annotations

import numpy as np
import pytest

from glassfix.labels.events import threshold_event_labels


def _brute_step(d2, mask, thr, frac):
    """Reference of inactive="step": per kept step, the quietest non-active A atoms of that step."""
    F, N = d2.shape
    na = mask.sum()
    out = []
    for f in range(F):
        act = [i for i in range(N) if mask[i] and d2[f, i] > thr]
        if not act or len(act) > frac * na:
            continue
        quiet = sorted((i for i in range(N) if mask[i] and i not in act and np.isfinite(d2[f, i])),
                       key=lambda i: (d2[f, i], i))
        assert len(quiet) >= len(act)
        out += [(f, i, 1) for i in act] + [(f, i, 0) for i in quiet[:len(act)]]
    return sorted(out)


def test_step_labels_match_brute_force_on_random_tables():
    rng = np.random.default_rng(5)
    for _ in range(20):
        F, N = rng.integers(1, 6), 60
        d2 = rng.exponential(0.05, (F, N))
        hot = rng.random((F, N)) < 0.1
        d2[hot] = 0.6 + rng.random(hot.sum())
        d2[rng.random((F, N)) < 0.02] = np.nan
        mask = rng.random(N) < 0.8
        fi, atom, y, info = threshold_event_labels(d2, mask, 0.6, 0.3)
        assert sorted(zip(fi.tolist(), atom.tolist(), y.tolist())) == _brute_step(d2, mask, 0.6, 0.3)
        assert info["n_pos"] == info["n_neg"]


def _brute(d2, mask, thr, frac):
    """Reference: loops over frames and atoms."""
    F, N = d2.shape
    na = mask.sum()
    pos = []
    ever = set()
    for f in range(F):
        act = [i for i in range(N) if mask[i] and d2[f, i] > thr]
        ever.update(act)
        if len(act) <= frac * na:
            pos += [(f, i) for i in act]
    cand = [i for i in range(N) if mask[i] and i not in ever and np.isfinite(d2[:, i]).all()]
    cand.sort(key=lambda i: (d2[:, i].sum(), i))
    k = min(len(pos), len(cand))
    assert k == len(pos)
    neg = [(pos[j][0], cand[j]) for j in range(k)]
    return sorted([(f, i, 1) for f, i in pos] + [(f, i, 0) for f, i in neg])


def test_matches_brute_force_on_random_tables():
    rng = np.random.default_rng(3)
    for _ in range(20):
        F, N = rng.integers(1, 6), 60
        d2 = rng.exponential(0.05, (F, N))
        hot = rng.random((F, N)) < 0.05
        d2[hot] = 0.6 + rng.random(hot.sum())
        mask = rng.random(N) < 0.8
        fi, atom, y, info = threshold_event_labels(d2, mask, 0.6, 0.2, inactive="window")
        got = sorted(zip(fi.tolist(), atom.tolist(), y.tolist()))
        assert got == _brute(d2, mask, 0.6, 0.2)
        assert info["n_pos"] == info["n_neg"] == int(y.sum()) == int((y == 0).sum())


def test_constructed_case():
    # 3 steps, 10 atoms; atoms 8, 9 are B (not candidates)
    d2 = np.full((3, 10), 0.01)
    d2[0, [1, 2]] = 1.0          # step 0: two actives
    d2[1, 3:8] = 0.9             # step 1: 5 of 8 A active -> avalanche at 50 %
    d2[2, 9] = 5.0               # step 2: only a B atom moves -> no label
    d2[:, 0] = 0.0               # atom 0 is the stillest A atom
    d2[:, 8] = 0.0               # but 8 is B: never inactive
    mask = np.arange(10) < 8
    fi, atom, y, info = threshold_event_labels(d2, mask, 0.6, 0.5, inactive="window")
    assert info["n_avalanche"] == 1 and info["n_event_frames"] == 1
    # actives 1, 2 at step 0; inactives: never-active A atoms {0} only (3-7 were active in the avalanche)
    # -> one inactive; the actives are subsampled to one
    assert y.tolist().count(1) == y.tolist().count(0) == 1
    assert set(atom[y == 0].tolist()) == {0} and set(fi.tolist()) == {0}
    assert atom[y == 1][0] in (1, 2)
    # a laxer avalanche cut keeps step 1 (its actives are then labelled, and inactive candidates shrink)
    fi, atom, y, info = threshold_event_labels(d2, mask, 0.6, 1.0, inactive="window")
    assert info["n_avalanche"] == 0 and info["n_active_available"] == 7
    # per step: step 0 pairs actives 1, 2 with its two quietest A atoms (0, then 3 by index)
    fi, atom, y, info = threshold_event_labels(d2, mask, 0.6, 0.5)
    assert fi.tolist() == [0, 0, 0, 0] and atom.tolist() == [0, 1, 2, 3] and y.tolist() == [0, 1, 1, 0]


def test_no_events_and_bad_input():
    fi, atom, y, info = threshold_event_labels(np.zeros((2, 5)), np.ones(5, bool), 0.6)
    assert fi.size == atom.size == y.size == 0 and info["n_pos"] == 0
    with pytest.raises(ValueError, match="shape"):
        threshold_event_labels(np.zeros(5), np.ones(5, bool))
    with pytest.raises(ValueError, match="mask"):
        threshold_event_labels(np.zeros((2, 5)), np.ones(4, bool))
    with pytest.raises(ValueError, match="max_active_fraction"):
        threshold_event_labels(np.zeros((2, 5)), np.ones(5, bool), max_active_fraction=0.0)


def test_nan_atoms_are_never_inactive():
    d2 = np.zeros((2, 6))
    d2[0, 1] = 1.0
    d2[1, 0] = np.nan            # atom 0 would be the stillest but has an undefined D²min
    fi, atom, y, _ = threshold_event_labels(d2, np.ones(6, bool), 0.6, inactive="window")
    assert atom[y == 0].tolist() == [2] and atom[y == 1].tolist() == [1]
    with pytest.raises(ValueError, match="inactive"):
        threshold_event_labels(d2, np.ones(6, bool), 0.6, inactive="bogus")
