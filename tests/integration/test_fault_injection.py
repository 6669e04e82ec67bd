"""Fault injection (kept fast; the full campaign behind docs/reliability.md is ``python tests/helpers/fault_util.py``).

Seeded and reproducible: store writers SIGKILLed at random moments and resumed; single bytes flipped in
stores (half inside array data, half anywhere) and in model files; crafted malicious model files. Every
case must end readable (after resume or repair), without duplicates, without a silently wrong value,
and with every damaged item reported.
"""

from __future__ import annotations

from collections import Counter

import pytest

from helpers import fault_util as fu

pytestmark = pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="the writer is forked")


def test_killed_writers_resume_without_loss_or_duplicates(tmp_path):
    stats = fu.kill_writer_campaign(tmp_path, kills=5, seed=11, n_frames=60, max_delay=1.0)
    assert stats["kills"] == 5
    assert stats.get("unreadable", 0) == 0, stats.get("unreadable_error")
    assert stats["lost"] == 0 and stats["wrong"] == 0 and stats["duplicates"] == 0
    assert stats["final_complete"] == 1 and stats["final_wrong"] == 0 and stats["leftover_files"] == 0


def test_byte_flips_in_stores_are_never_silent(tmp_path):
    cases = fu.flip_store_campaign(tmp_path, n=24, seed=5)
    outcomes = Counter(c["outcome"] for c in cases)
    assert outcomes["silent"] == 0 and outcomes["unclear"] == 0, [c for c in cases if c["outcome"] in ("silent", "unclear")]
    data = [c for c in cases if c["where"] == "array data"]
    assert len(data) >= 8 and all(c["outcome"] == "detected" for c in data)  # checksums catch every data flip
    assert len(cases) - len(data) >= 6  # and some flips land in HDF5 metadata, strings, free space
    for c in cases:
        if c["outcome"] == "detected":
            assert c["reported"], c  # 'data verify' lists it (or the store refuses to open, with the fix)
            assert "repair_error" not in c, c
            if "repaired_consistent" in c:  # repair keeps only correct items and leaves nothing damaged
                assert c["repaired_consistent"] and c["verify_after_repair"] == 0, c


def test_byte_flips_in_model_files_are_never_silent(tmp_path):
    cases = fu.flip_model_campaign(tmp_path, n=60, seed=3)
    outcomes = Counter(c["outcome"] for c in cases)
    assert outcomes["silent"] == 0 and outcomes["unclear"] == 0, [c for c in cases if c["outcome"] in ("silent", "unclear")]
    assert outcomes["detected"] >= 50
    assert all(c["names_file"] for c in cases if c["outcome"] == "detected")


def test_malicious_model_files_are_refused_fast(tmp_path):
    cases = fu.malicious_model_campaign(tmp_path)
    assert len(cases) == 5
    for c in cases:
        assert c["outcome"] == "refused", c
        assert c["seconds"] < 2.0 and c["bytes"] < 300_000 and c["peak_mib"] < 64, c
