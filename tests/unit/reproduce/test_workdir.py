"""The work-directory check shared by every ``glassfix reproduce`` run."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from glassfix.reproduce.workdir import WorkdirMismatch, claim_workdir


@dataclass
class _Cfg:
    n: int = 1000
    T: float = 0.5
    temps: tuple[float, ...] = (0.5, 0.6)
    workers: int = 2


def test_records_and_accepts_the_same_parameters(tmp_path):
    wd = tmp_path / "run"
    path = claim_workdir(wd, _Cfg(n=500))
    assert json.loads(path.read_text()) == {"n": 500, "T": 0.5, "temps": [0.5, 0.6], "workers": 2}
    claim_workdir(wd, _Cfg(n=500))    # tuples read back as lists still compare equal


def test_refuses_other_parameters_and_names_them(tmp_path):
    claim_workdir(tmp_path, _Cfg())
    with pytest.raises(WorkdirMismatch, match=r"T: 0\.5 there, 0\.45 now; temps: \[0\.5, 0\.6\] there, \[0\.5\] now"):
        claim_workdir(tmp_path, _Cfg(T=0.45, temps=(0.5,)))
    assert json.loads((tmp_path / "config.json").read_text())["T"] == 0.5    # the record is untouched


def test_a_parameter_missing_from_an_older_record_counts_as_its_default(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"n": 1000, "T": 0.5, "temps": [0.5, 0.6]}))
    claim_workdir(tmp_path, _Cfg())                       # 'workers' did not exist then: default 2
    (tmp_path / "config.json").write_text(json.dumps({"n": 1000, "T": 0.5, "temps": [0.5, 0.6]}))
    with pytest.raises(WorkdirMismatch, match="workers: 2 there, 3 now"):
        claim_workdir(tmp_path, _Cfg(workers=3))


def test_fields_outside_compare_may_change_and_are_recorded(tmp_path):
    claim_workdir(tmp_path, _Cfg(), compare=["n", "T"])
    claim_workdir(tmp_path, _Cfg(workers=8), compare=["n", "T"])
    assert json.loads((tmp_path / "config.json").read_text())["workers"] == 8
    with pytest.raises(ValueError, match="no field"):
        claim_workdir(tmp_path, _Cfg(), compare=["nonsense"])


def test_an_unreadable_record_is_refused(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(WorkdirMismatch, match="not valid JSON"):
        claim_workdir(tmp_path, _Cfg())


def test_cli_reports_a_mismatch_in_one_line(tmp_path, capsys):
    """`glassfix reproduce ka-creep` on a work directory of another run stops with one error line, before
    simulating anything."""
    from glassfix.cli import main
    from glassfix.reproduce.ka_creep import KaCreepConfig

    wd = tmp_path / "creep"
    claim_workdir(wd, KaCreepConfig(sigma0=0.3))
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "ka-creep", "--workdir", str(wd), "--report", str(tmp_path / "r.md")])
    msg = str(exc.value)
    assert msg.startswith("error: ") and "sigma0: 0.3 there, 0.5 now" in msg and "\n" not in msg
    assert sorted(p.name for p in wd.iterdir()) == ["config.json"]
