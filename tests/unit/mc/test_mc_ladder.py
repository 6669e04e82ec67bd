"""Swap-MC equilibration ladder: diagnostics, samples in the store, exact resume, CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from glassfix.core.frame import Frame
from glassfix.data.store import DatasetStore
from glassfix.analysis.relaxation import tau_alpha_crossing
from glassfix.mc.diagnostics import bond_order, cage_relative_overlap, demixing_test, mean_error, plateau_test
from glassfix.mc.ladder import LadderConfig, load_summary, run_ladder
from glassfix.mc.setup import setup_system
from glassfix.systems.potentials import energy_forces

# tiny, hot JBB ladder: 43 particles (composition 20:11:12), large steps so τ_swap is a few hundred sweeps
SMALL = dict(system="jbb", temperatures=[2.0], n=43, n_samples=3, sweeps_max=20000, round_sweeps=300, step=0.15,
             min_decays=4.0, seed=3)


# ----------------------------------------------------------------------------- statistics
def test_mean_error_matches_ar1_theory():
    rng = np.random.default_rng(0)
    rho, n = 0.9, 200_000
    x = np.empty(n)
    x[0] = 0.0
    noise = rng.normal(size=n)
    for k in range(1, n):
        x[k] = rho * x[k - 1] + noise[k]
    m, err, tau = mean_error(x)
    tau_exact = 0.5 * (1 + rho) / (1 - rho)  # Sokal's τ_int of AR(1)
    assert tau == pytest.approx(tau_exact, rel=0.15)
    err_exact = math.sqrt(2 * tau_exact / (1 - rho ** 2) / n)
    assert err == pytest.approx(err_exact, rel=0.15)
    assert abs(m) < 5 * err_exact


def test_plateau_detects_drift_and_accepts_stationary_noise():
    rng = np.random.default_rng(1)
    noise = rng.normal(size=4000)
    assert plateau_test(noise)["passed"]
    drifting = noise + np.linspace(0.0, 1.0, noise.size)
    res = plateau_test(drifting)
    assert not res["passed"] and res["z_score"] > 10


def relaxation_time(lags, corr):
    """The ladder's Q relaxation time: the one crossing function, linear in the evenly spaced lags."""
    return tau_alpha_crossing(lags, corr, interp="linear", on_missing="inf")


def test_relaxation_time_of_exponential():
    t = np.arange(0, 50, 2.0)
    assert relaxation_time(t, np.exp(-t / 7.0)) == pytest.approx(7.0, rel=0.03)
    assert relaxation_time(t, np.full(t.size, 0.9)) == math.inf
    assert relaxation_time(np.zeros(1), np.ones(1)) == math.inf  # one snapshot: not relaxed


def test_cage_relative_overlap_ignores_collective_drift():
    rng = np.random.default_rng(2)
    n, L = 200, 14.0
    base = rng.random((n, 2)) * L
    drift = np.array([np.array([k * 0.5, 0.0]) + base for k in range(6)])  # rigid translation, 0.5 per frame
    q = cage_relative_overlap(drift, np.eye(2) * L)
    assert np.allclose(q, 1.0)
    kicks = np.array([base + rng.normal(scale=0.3 * k, size=base.shape) for k in range(6)])
    q = cage_relative_overlap(kicks, np.eye(2) * L)
    assert q[0] == 1.0 and q[-1] < 0.2 and np.all(np.diff(q) < 0.05)


def _triangular(m: int, spacing: float = 1.0) -> Frame:
    pos = np.array([[spacing * (i + 0.5 * (j % 2)), spacing * math.sqrt(3) / 2 * j]
                    for i in range(m) for j in range(m)])
    return Frame(positions=pos, types=np.zeros(len(pos), int),
                 cell=np.diag([spacing * m, spacing * math.sqrt(3) / 2 * m]))


def test_bond_order_separates_crystal_from_gas():
    rng = np.random.default_rng(3)
    crystal = _triangular(12)
    crystal.positions += rng.normal(scale=0.04, size=crystal.positions.shape)
    assert bond_order(crystal)["crystalline_fraction"] > 0.95
    gas = Frame(positions=rng.random((144, 2)) * np.sqrt(144), types=np.zeros(144, int), cell=np.eye(2) * 12.0)
    assert bond_order(gas)["crystalline_fraction"] < 0.05
    # 3D: fcc (q6 = 0.575) against a random gas
    g = np.indices((4, 4, 4)).reshape(3, -1).T
    basis = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    fcc = Frame(positions=(g[:, None, :] + basis[None]).reshape(-1, 3) * 1.5, types=np.zeros(256, int),
                cell=np.eye(3) * 6.0)
    res = bond_order(fcc)
    assert res["bond_order"] == pytest.approx(0.5745, abs=2e-3) and res["crystalline_fraction"] == 1.0
    gas3 = Frame(positions=rng.random((256, 3)) * 6.0, types=np.zeros(256, int), cell=np.eye(3) * 6.0)
    assert bond_order(gas3)["crystalline_fraction"] < 0.05


def test_demixing_test():
    rng = np.random.default_rng(4)
    pos = rng.random((600, 2)) * 20.0
    mixed = Frame(positions=pos, types=rng.integers(0, 2, 600), cell=np.eye(2) * 20.0)
    assert demixing_test(mixed)["p_value"] > 1e-3
    segregated = Frame(positions=pos, types=(pos[:, 0] > 10).astype(int), cell=np.eye(2) * 20.0)
    res = demixing_test(segregated)
    assert res["p_value"] < 1e-12 and res["chi2_per_dof"] > 10


def test_ladder_config_validation():
    with pytest.raises(ValueError, match=r"decrease strictly.*\[0\.3, 0\.4\]"):
        LadderConfig(system="jbb", temperatures=[0.3, 0.4], n=43)
    with pytest.raises(ValueError, match="n_samples"):
        LadderConfig(system="jbb", temperatures=[0.3], n=43, n_samples=-1)
    with pytest.raises(ValueError, match="bonded"):
        setup_system("kremergrest")


# ----------------------------------------------------------------------------- ladder
@pytest.fixture(scope="module")
def small_ladder(tmp_path_factory):
    d = tmp_path_factory.mktemp("ladder")
    rows = run_ladder(LadderConfig(**SMALL), d / "s.h5")
    return d, rows


def test_ladder_equilibrates_and_stores_decorrelated_samples(small_ladder):
    d, rows = small_ladder
    (row,) = rows
    assert row["status"] == "equilibrated" and all(row["checks"].values())
    assert row["samples"] == 3 and row["max_energy_drift"] < 1e-9
    tau = row["tau_swap"]
    assert 0 < tau < math.inf
    assert row["sweeps_per_chain"] >= SMALL["min_decays"] * tau * 2  # window = second half ≥ 4 τ
    assert set(row["acceptance"]) == {"displacement", "swap A-C", "swap B-C"}
    summary = load_summary(d / "s.swap")
    assert summary["rows"]["2"]["samples"] == 3 and summary["config"]["n"] == 43
    pot = setup_system("jbb").potential
    with DatasetStore(d / "s.h5") as store:
        keys = store.keys()
        assert keys == [f"swap/jbb/T2/{k:05d}" for k in range(3)]
        frames = [store.frame(k) for k in keys]
    chains = [f.metadata["chain"] for f in frames]
    assert chains == [0, 1, 0]
    # samples of one chain are ≥ 2 τ_swap apart, and after the equilibration sweeps
    s0 = [f.metadata["sweeps"] for f in frames if f.metadata["chain"] == 0]
    assert s0[1] - s0[0] >= 2 * tau
    assert min(f.metadata["sweeps"] for f in frames) > frames[0].metadata["swap_diagnostics"]["eq_sweeps"]
    for f in frames:
        assert f.metadata["temperature"] == 2.0
        assert np.array_equal(np.bincount(f.types), [20, 11, 12])
        assert f.metadata["energy_per_particle"] == pytest.approx(energy_forces(f, pot).energy / 43, rel=1e-10)


def test_ladder_resume_reproduces_uninterrupted_run(small_ladder, tmp_path):
    ref_dir, _ = small_ladder
    cfg = LadderConfig(**SMALL)
    seen = {"round": 0, "sample": 0}

    class Stop(Exception):
        pass

    def interrupt_at(event_name: str, count: int):
        def cb(event, info):
            if event == event_name:
                seen[event] += 1
                if seen[event] == count:
                    raise Stop
        return cb

    # killed after the 2nd equilibration round, then after the first sample, then run to the end
    with pytest.raises(Stop):
        run_ladder(cfg, tmp_path / "s.h5", progress=interrupt_at("round", 2))
    with pytest.raises(Stop):
        run_ladder(cfg, tmp_path / "s.h5", progress=interrupt_at("sample", 1))
    run_ladder(cfg, tmp_path / "s.h5")
    with DatasetStore(ref_dir / "s.h5") as a, DatasetStore(tmp_path / "s.h5") as b:
        assert a.keys() == b.keys()
        for k in a.keys():
            fa, fb = a.frame(k), b.frame(k)
            assert np.array_equal(fa.positions, fb.positions) and np.array_equal(fa.types, fb.types)
            assert fa.metadata["sweeps"] == fb.metadata["sweeps"]
    # a resumed ladder with different chain parameters is refused, naming the parameter
    with pytest.raises(ValueError, match="seed"):
        run_ladder(LadderConfig(**{**SMALL, "seed": 4}), tmp_path / "s.h5")


def test_ladder_stops_at_first_unequilibrated_temperature(tmp_path):
    cfg = LadderConfig(system="jbb", temperatures=[0.3, 0.25], n=43, n_samples=2, sweeps_max=400,
                       round_sweeps=200, seed=1)
    rows = run_ladder(cfg, tmp_path / "s.h5")
    assert [r["status"] for r in rows] == ["not equilibrated", "not attempted"]
    assert rows[0]["sweeps_per_chain"] == 400 and rows[0]["samples"] == 0
    with DatasetStore(tmp_path / "s.h5") as store:
        assert len(store) == 0
    # a larger budget resumes the same temperature from its checkpoint
    rows = run_ladder(LadderConfig(**{**cfg.__dict__, "sweeps_max": 800}), tmp_path / "s.h5")
    assert rows[0]["sweeps_per_chain"] == 800


def test_polydisperse_ladder_anneals_diameters(tmp_path):
    cfg = LadderConfig(system="polydisperse", temperatures=[1.0, 0.7], n=36, n_samples=2, sweeps_max=20000,
                       round_sweeps=300, step=0.15, min_decays=4.0, system_kwargs={"dim": 2})
    rows = run_ladder(cfg, tmp_path / "p.h5")
    assert [r["status"] for r in rows] == ["equilibrated", "equilibrated"]
    assert rows[0]["acceptance"]["diameter swap"] > 0.05
    with DatasetStore(tmp_path / "p.h5") as store:
        frames = [store.frame(k) for k in store.keys()]
    assert len(frames) == 4
    ref = np.sort(frames[0].metadata["diameters"])
    for f in frames[1:]:
        assert np.array_equal(np.sort(f.metadata["diameters"]), ref)  # the multiset is conserved
    assert not np.array_equal(frames[0].metadata["diameters"], frames[2].metadata["diameters"])


def test_cli_swap_runs_and_prints_summary(tmp_path, capsys):
    from glassfix.cli import main

    args = ["swap", "jbb", "--T", "2.0", "--n", "43", "--samples", "2", "--sweeps-max", "20000",
            "--round-sweeps", "300", "--step", "0.15", "--min-decays", "4", "--seed", "5", "--quiet",
            "--out", str(tmp_path / "c.h5")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "swap MC ladder" in out and "equilibrated" in out and "A-C" in out
    summary = json.loads((tmp_path / "c.swap" / "summary.json").read_text())
    assert summary["rows"]["2"]["samples"] == 2
    assert main(["swap", "jbb", "--T", "0.3", "0.4", "--out", str(tmp_path / "x.h5")]) == 2
    assert "decrease strictly" in capsys.readouterr().err


def test_speedup_report_measures_md_tau_with_the_same_overlap(small_ladder, tmp_path):
    from glassfix.mc.ladder import speedup_report

    d, rows = small_ladder
    res = speedup_report(d / "s.h5", tmp_path / "rep.md", md_steps=3000, md_every=50, md_dt=0.005,
                         lammps_kwargs={"table_dir": tmp_path})
    (r,) = res
    assert r["T"] == 2.0 and r["tau_swap_sweeps"] == pytest.approx(rows[0]["tau_swap"])
    # hot liquid: MD relaxes within the run; Q(t) starts at 1 and crosses 1/e at τα
    assert not r["tau_alpha_lower_bound"] and 0 < r["tau_alpha_md"] < 15.0
    q = np.asarray(r["md_overlap"])
    assert q[0] == 1.0 and q[-1] < 1 / math.e
    assert r["speedup"] == pytest.approx(r["md_cpu_s"] / r["swap_cpu_s"])
    text = (tmp_path / "rep.md").read_text()
    assert "| 2 |" in text and "speed-up" in text
    assert json.loads((tmp_path / "rep.json").read_text())[0]["T"] == 2.0
    with pytest.raises(ValueError, match="0.5"):
        speedup_report(d / "s.h5", tmp_path / "x.md", temperatures=[0.5])


def test_jbb_swap_report_reuses_md_runs_from_the_same_start(small_ladder, tmp_path, monkeypatch):
    import glassfix.mc.ladder as ladder_mod
    from glassfix.reproduce.jbb_swap import write_report

    d, _ = small_ladder
    real, calls = ladder_mod.speedup_report, []

    def counted(*a, **kw):  # the real MD run, counted; the JBB table files go to tmp_path
        calls.append(kw["md_steps"])
        return real(*a, **kw, lammps_kwargs={"table_dir": tmp_path})

    monkeypatch.setattr(ladder_mod, "speedup_report", counted)
    report = tmp_path / "swap.md"
    write_report(d / "s.h5", report, [2.0], md_steps=[2000], md_every=50)
    write_report(d / "s.h5", report, [2.0], md_steps=[2000], md_every=50)  # same start and settings: reused
    assert calls == [2000]
    res = json.loads((tmp_path / "swap_md.json").read_text())
    assert res[0]["md_steps"] == 2000 and len(res[0]["start_sha256"]) == 64
    write_report(d / "s.h5", report, [2.0], md_steps=[2500], md_every=50)  # longer run asked: MD again
    assert calls == [2000, 2500]
    assert "| 2 |" in report.read_text()
    with pytest.raises(ValueError, match="one per temperature"):
        write_report(d / "s.h5", report, [2.0], md_steps=[2000, 3000], md_every=50)
