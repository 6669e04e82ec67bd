"""glassfix.protocols: prepare, NVE, creep and AQS with real LAMMPS runs (tiny KA systems).

Resume tolerance: a run stopped at a checkpoint and resumed must follow the uninterrupted trajectory.
LAMMPS rebuilds the same atom order from a restart file on 1 rank, so creep agrees bitwise in practice;
AQS minimisations after a restart differ at round-off (measured 1e-14 in positions). The tests require
max |Δx| ≤ RESUME_TOL = 1e-8 (σ) and identical event flags.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from glassfix.core.frame import Frame
from glassfix.data.lammps_io import read_data, write_data
from glassfix.data.store import DatasetStore
from glassfix.protocols import (
    AQSSpec, CreepSpec, NVESpec, PrepareSpec, ProtocolError, Stage, detect_events, load_frame_npz,
    read_series, run, spec_from_dict,
)
from glassfix.protocols.common import SeriesFile

RESUME_TOL = 1e-8


def _max_diff(a: Frame, b: Frame) -> float:
    assert (a.ids == b.ids).all() and (a.types == b.types).all()
    return float(max(np.abs(a.unwrapped - b.unwrapped).max(), np.abs(a.cell - b.cell).max()))


@pytest.fixture(scope="module")
def glass(tmp_path_factory) -> Path:
    """A tiny prepared KA glass (N = 200): <dir>/final.data and <dir>/inherent.data."""
    out = tmp_path_factory.mktemp("glass") / "prep"
    spec = PrepareSpec(n=200, T=0.5, T_melt=2.0, melt_steps=200, quench_steps=200, stages=(Stage("nvt", 100),),
                       chunk_steps=150, thermo_every=50, seed=11, min_ftol=1e-8)
    res = run(spec, out, progress=False)
    assert res.complete
    return out


# ---------------------------------------------------------------------------------------------- no LAMMPS


def test_specs_validate_and_round_trip(tmp_path):
    prep = PrepareSpec.for_creep(n=300, melt_steps=100)
    assert prep.T_melt == 3.0 and prep.dt == 0.01 and prep.melt_thermostat == "langevin" and prep.stages == ()
    c = CreepSpec(prepare=prep, steps=100, snapshot_every=50)
    d = json.loads(json.dumps(c.to_dict()))
    assert spec_from_dict("creep", d) == c
    a = AQSSpec(data="x.data", dgamma=1e-3, prestrain=0.002, strain=0.003)
    assert a.n_prestrain == 2 and a.n_steps == 5 and spec_from_dict("aqs", json.loads(json.dumps(a.to_dict()))) == a
    bad = [
        (lambda: CreepSpec(steps=10), "give data"),
        (lambda: CreepSpec(data="x", axis="w"), "axis"),
        (lambda: CreepSpec(data="x", snapshot_every=30, checkpoint_every=40), "multiple of"),
        (lambda: AQSSpec(data="x", dgamma=3e-5, prestrain=0.0001, strain=0.001), "whole number"),
        (lambda: PrepareSpec(melt_thermostat="berendsen"), "melt_thermostat"),
        (lambda: Stage("npt", 100), "pressure"),
        (lambda: PrepareSpec.from_dict({"n": 10, "tempo": 3}), "tempo"),
        (lambda: NVESpec(data="x", seed=0), "seed"),
    ]
    for make, words in bad:
        with pytest.raises(ProtocolError, match=words):
            make()
    with pytest.raises(ProtocolError, match="engine 'gromacs' is not available; supported: lammps, openmm"):
        run(NVESpec(data="x"), tmp_path, engine="gromacs")


def test_detect_events_criteria():
    dg, v = 1e-3, 0.8
    sigma = np.array([0.10, 0.11, 0.12, 0.05, 0.06])
    # elastic steps: ΔU = v·½(σ_k + σ_k−1)·δγ exactly; step 3 releases energy, step 4 only has large D²min
    pe = np.zeros(5)
    for k in range(1, 5):
        pe[k] = pe[k - 1] + v * 0.5 * (sigma[k] + sigma[k - 1]) * dg
    pe[3] -= 1e-3
    pe[4] -= 1e-3
    d2 = np.array([np.nan, 0.01, 0.02, 2.0, 0.9])
    ev = detect_events(sigma, pe, v, dg, d2, d2min_threshold=0.6)
    assert ev["event_stress"].tolist() == [False, False, False, True, False]
    assert ev["event_energy"].tolist() == [False, False, False, True, False]
    assert ev["event_d2min"].tolist() == [False, False, False, True, True]
    assert ev["event"].tolist() == [False, False, False, True, True]
    assert abs(ev["energy_residual"][1]) < 1e-15 and ev["energy_residual"][3] == pytest.approx(-1e-3)


def test_series_file_is_append_safe(tmp_path):
    sf = SeriesFile(tmp_path / "s.csv", ["step", "x"])
    sf.append([{"step": 0, "x": 0.1}, {"step": 10, "x": 1 / 3}])
    sf.append([{"step": 20, "x": float("nan")}])
    with open(sf.path, "a") as fh:  # what a writer killed mid-line leaves behind
        fh.write("30,0.12")
    r = sf.read()
    assert r["step"].tolist() == [0, 10, 20] and r["x"][1] == 1 / 3 and np.isnan(r["x"][2])
    assert sf.truncate(10) == 2
    sf.append([{"step": 20, "x": 2.0}])
    assert sf.read()["step"].tolist() == [0, 10, 20]
    with pytest.raises(ProtocolError, match="columns"):
        SeriesFile(sf.path, ["step", "y"]).read()


# ---------------------------------------------------------------------------------------------- prepare


def test_prepare_outputs_and_langevin_resume(glass, tmp_path):
    res = json.loads((glass / "result.json").read_text())
    fin, inh = read_data(glass / "final.data"), read_data(glass / "inherent.data")
    assert fin.n_atoms == inh.n_atoms == 200 and (fin.types == 0).sum() == 160
    assert fin.velocities is not None
    assert res["inherent_pe"] < res["final_pe"] - 0.3 and res["inherent_fnorm"] < 1e-8
    ser = read_series(glass / "series.csv")
    assert ser["step"].tolist() == list(range(0, 501, 50))  # no duplicated rows across 4 checkpoints
    assert ser["phase"].tolist() == [0] * 5 + [1] * 4 + [2] * 2
    assert ser["temp"][0] == pytest.approx(2.0)
    # a second call finds the run complete and returns at once
    again = run(PrepareSpec.from_dict(json.loads((glass / "spec.json").read_text())["spec"]), glass, progress=False)
    assert again.complete and again.step == 500

    # Langevin melt: re-seeded per segment, so a resumed run draws the same random forces
    spec = PrepareSpec(n=120, T=0.8, T_melt=2.0, melt_steps=200, melt_thermostat="langevin", quench_steps=100,
                       quench_thermostat="langevin", stages=(), chunk_steps=100, thermo_every=50, seed=5,
                       minimize=False)
    run(spec, tmp_path / "a", progress=False)
    part = run(spec, tmp_path / "b", progress=False, stop_after=100)
    assert not part.complete and part.step == 100
    run(spec, tmp_path / "b", progress=False)
    d = _max_diff(read_data(tmp_path / "a" / "final.data"), read_data(tmp_path / "b" / "final.data"))
    assert d <= RESUME_TOL


def test_resume_refuses_a_different_spec(glass, tmp_path):
    spec = NVESpec(data=str(glass / "final.data"), steps=20, frame_every=0, thermo_every=10)
    run(spec, tmp_path / "w", progress=False, stop_after=10)
    with pytest.raises(ProtocolError, match="differs in T"):
        run(spec.replace(T=0.7), tmp_path / "w", progress=False)
    with pytest.raises(ProtocolError, match="holds a 'nve' run"):
        run(AQSSpec(data=str(glass / "inherent.data"), dgamma=1e-3, prestrain=0, strain=0.001), tmp_path / "w",
            progress=False)
    # extending a finished run continues it
    run(spec, tmp_path / "w", progress=False)
    longer = run(spec.replace(steps=40), tmp_path / "w", progress=False)
    assert longer.complete and read_series(tmp_path / "w" / "series.csv")["step"].tolist() == [0, 10, 20, 30, 40]


# ---------------------------------------------------------------------------------------------- creep


def test_creep_resume_matches_uninterrupted(glass, tmp_path):
    spec = CreepSpec(data=str(glass / "inherent.data"), steps=200, snapshot_every=100, thermo_every=50, seed=3,
                     min_ftol=1e-7, stress_tol=1e-5)
    a = run(spec, tmp_path / "A", progress=False)
    part = run(spec, tmp_path / "B", progress=False, stop_after=100)
    assert not part.complete and part.step == 100
    with DatasetStore(tmp_path / "store.h5", "a") as st:
        b = run(spec, tmp_path / "B", progress=False, store=st)
        keys = st.keys()
    assert a.complete and b.complete
    diff = _max_diff(read_data(tmp_path / "A" / "final.data"), read_data(tmp_path / "B" / "final.data"))
    assert diff <= RESUME_TOL
    sa, sb = read_series(tmp_path / "A" / "series.csv"), read_series(tmp_path / "B" / "series.csv")
    assert sa["step"].tolist() == sb["step"].tolist() == [0, 50, 100, 150, 200]
    for k in sa:
        np.testing.assert_allclose(sb[k], sa[k], rtol=0, atol=RESUME_TOL)
    na, nb = read_series(tmp_path / "A" / "snapshots.csv"), read_series(tmp_path / "B" / "snapshots.csv")
    assert na["step"].tolist() == nb["step"].tolist() == [0, 100, 200]
    for k in na:
        np.testing.assert_allclose(nb[k], na[k], rtol=0, atol=RESUME_TOL)

    # physics of the load and of the stress-constrained minima
    L0 = a.summary["L0"]
    assert sa["strain"] == pytest.approx((sa["lz"] - L0[2]) / L0[2], abs=1e-15)
    assert (na["converged"] == 1).all() and (na["residual"] <= 1e-5).all()
    assert na["pzz"] == pytest.approx(0.5, abs=1e-5) and np.abs(na["pxx"]).max() < 1e-5
    assert np.abs(na["pyy"]).max() < 1e-5
    assert na["strain"] == pytest.approx((na["lz"] - L0[2]) / L0[2], abs=1e-15)
    assert a.summary["n_unconverged"] == 0
    # frames: minimised copies in the store, the MD trajectory untouched by them (equal final states above)
    assert keys == [f"ka3d/B/creep_min-{s:012d}" for s in (0, 100, 200)]
    fr, _, kind = load_frame_npz(tmp_path / "B" / "frames" / "creep_min_000000000100.npz")
    assert kind == "creep_min" and fr.metadata["converged"] and fr.metadata["sigma0"] == 0.5
    assert fr.cell[2, 2] == pytest.approx(nb["lz"][1], abs=1e-12)


def test_creep_lateral_fixed_and_unconverged_report(glass, tmp_path):
    msgs: list[str] = []
    spec = CreepSpec(data=str(glass / "inherent.data"), steps=100, snapshot_every=100, thermo_every=50, seed=3,
                     lateral="fixed", axis="x", sigma0=0.3, min_ftol=1e-7, stress_tol=1e-12, max_min_rounds=1,
                     min_maxiter=50)
    res = run(spec, tmp_path / "f", progress=msgs.append)
    ser = read_series(tmp_path / "f" / "series.csv")
    snap = read_series(tmp_path / "f" / "snapshots.csv")
    for col in ("ly", "lz"):  # lateral box fixed, both in the MD and in the minimised copies
        assert np.ptp(ser[col]) == 0 and np.ptp(snap[col]) == 0
    assert np.ptp(ser["lx"]) > 0 and "strain_y" in ser
    # 50 CG iterations cannot reach 1e-12: reported, flagged, counted
    assert (snap["converged"] == 0).all() and res.summary["n_unconverged"] == 2
    assert any("did not converge" in m for m in msgs)
    with pytest.raises(ProtocolError, match="did not converge"):
        run(spec.replace(require_convergence=True), tmp_path / "g", progress=False)


# ---------------------------------------------------------------------------------------------- AQS


def test_aqs_resume_matches_uninterrupted(glass, tmp_path):
    spec = AQSSpec(data=str(glass / "inherent.data"), dgamma=1e-3, prestrain=0.002, strain=0.004,
                   checkpoint_every=2, save_every=1, min_ftol=1e-9)
    a = run(spec, tmp_path / "A", progress=False)
    part = run(spec, tmp_path / "B", progress=False, stop_after=3)
    assert not part.complete and part.step == 3  # an extra checkpoint at the stop
    b = run(spec, tmp_path / "B", progress=False)
    assert a.complete and b.complete and a.summary["gamma_final"] == pytest.approx(0.006)
    diff = _max_diff(read_data(tmp_path / "A" / "final.data"), read_data(tmp_path / "B" / "final.data"))
    assert diff <= RESUME_TOL
    sa, sb = read_series(tmp_path / "A" / "series.csv"), read_series(tmp_path / "B" / "series.csv")
    assert sa["step"].tolist() == sb["step"].tolist() == list(range(7))
    for k in ("event", "event_stress", "event_energy", "event_d2min", "phase", "gamma"):
        assert sa[k].tolist() == sb[k].tolist()
    for k in ("pe", "sigma", "pxy", "d2min_max"):
        np.testing.assert_allclose(sb[k], sa[k], rtol=0, atol=RESUME_TOL)
    assert sa["gamma"] == pytest.approx(np.arange(7) * 1e-3, abs=1e-15)
    assert sa["phase"].tolist() == [0, 0, 0, 1, 1, 1, 1]
    # frames of the collection window: minima 2..5 with their forward D²min
    names = sorted(p.name for p in (tmp_path / "B" / "frames").glob("aqs_*.npz"))
    assert names == [f"aqs_{m:012d}.npz" for m in range(2, 6)]
    fa, la, _ = load_frame_npz(tmp_path / "A" / "frames" / "aqs_000000000004.npz")
    fb, lb, _ = load_frame_npz(tmp_path / "B" / "frames" / "aqs_000000000004.npz")
    name = spec.label_name()
    assert list(la) == [name] and la[name].shape == (200,)
    np.testing.assert_allclose(lb[name], la[name], rtol=0, atol=RESUME_TOL)
    A = fa.types == 0
    assert np.nanmax(la[name][A]) == pytest.approx(sa["d2min_max"][5], abs=1e-15)
    assert fa.metadata["gamma"] == pytest.approx(0.004) and fa.cell[1, 0] == pytest.approx(0.004 * fa.cell[1, 1])
    # an elastic step: energy follows the work of the shear stress, residual ~ O(δγ³)
    elastic = sa["event"][1:] == 0
    assert np.abs(sa["energy_residual"][1:][elastic]).max() < 1e-6


def test_aqs_affine_step_gives_zero_d2min_and_no_event(glass, tmp_path):
    # (1) no minimisation: the step is exactly the affine remap of every atom
    spec = AQSSpec(data=str(glass / "inherent.data"), dgamma=1e-3, prestrain=0.0, strain=0.002, relax=False,
                   save_every=1, d2min_types=None)
    res = run(spec, tmp_path / "affine", progress=False)
    ser = read_series(tmp_path / "affine" / "series.csv")
    assert ser["d2min_max"][1:].max() < 1e-20 and not ser["event"].any() and res.summary["n_events"] == 0
    assert np.abs(ser["energy_residual"][1:]).max() < 1e-6  # the affine path: ΔU = V∫σ dγ
    # (2) full protocol on a perfect FCC crystal: forces vanish by symmetry, the minimum stays affine
    a = (4 / 1.2) ** (1 / 3)
    basis = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    cells = np.indices((4, 4, 4)).reshape(3, -1).T
    pos = ((cells[:, None, :] + basis[None]) * a).reshape(-1, 3) + 0.1
    fcc = Frame(positions=pos, types=np.zeros(len(pos), dtype=int), cell=np.eye(3) * 4 * a, species=("A", "B"),
                metadata={"masses": [1.0, 1.0]})
    write_data(fcc, tmp_path / "fcc.data")
    spec = AQSSpec(data=str(tmp_path / "fcc.data"), dgamma=1e-3, prestrain=0.0, strain=0.002)
    res = run(spec, tmp_path / "fcc", progress=False)
    ser = read_series(tmp_path / "fcc" / "series.csv")
    assert ser["d2min_max"][1:].max() < 1e-20
    assert not ser["event"].any() and ser["dsigma"][1:].min() > 0 and res.summary["n_events"] == 0


# ---------------------------------------------------------------------------------------------- NVE + MPI + CLI


def test_nve_frames_store_and_two_ranks(glass, tmp_path):
    spec = NVESpec(data=str(glass / "final.data"), T=0.5, steps=200, frame_every=100, thermo_every=50,
                   inherent=True, min_ftol=1e-6)
    res = run(spec, tmp_path / "one", progress=False, store=tmp_path / "st.h5")
    ser = read_series(tmp_path / "one" / "series.csv")
    assert ser["temp"][0] == pytest.approx(0.5, rel=1e-12)  # fresh Maxwell–Boltzmann velocities at T
    assert res.summary["etotal_max_deviation"] < 2e-3
    with DatasetStore(tmp_path / "st.h5") as st:
        assert sorted(st.keys()) == sorted(f"ka3d/one/{k}-{s:012d}" for k in ("md", "is") for s in (0, 100, 200))
        md = st.frame("ka3d/one/md-000000000100")
    fr, _, _ = load_frame_npz(tmp_path / "one" / "frames" / "md_000000000100.npz")
    inh, _, _ = load_frame_npz(tmp_path / "one" / "frames" / "is_000000000100.npz")
    assert fr.velocities is not None and inh.metadata["pe"] < ser["pe"][2] - 0.3
    np.testing.assert_array_equal(md.positions, fr.positions)
    np.testing.assert_array_equal(md.velocities, fr.velocities)
    # the same protocol on 2 MPI ranks (mpirun -np 2 python -m glassfix.protocols.worker)
    two = run(spec.replace(inherent=False), tmp_path / "two", nprocs=2, progress=False)
    assert two.complete
    s2 = read_series(tmp_path / "two" / "series.csv")
    assert s2["step"].tolist() == ser["step"].tolist()
    assert s2["etotal"][0] == pytest.approx(ser["etotal"][0], abs=1e-12)
    np.testing.assert_allclose(s2["etotal"], ser["etotal"], rtol=0, atol=1e-8)


def test_cli_prepare_and_run(tmp_path, capsys):
    from glassfix.cli import main

    rc = main(["prepare", "ka3d", "--n", "120", "--T", "0.8", "--melt-steps", "100", "--quench-steps", "100",
               "--equil-steps", "0", "--chunk-steps", "100", "--thermo-every", "50", "--out",
               str(tmp_path / "prep"), "--quiet"])
    assert rc == 0 and (tmp_path / "prep" / "inherent.data").is_file()
    assert "prepare: complete" in capsys.readouterr().out
    rc = main(["run", "aqs", "--data", str(tmp_path / "prep" / "inherent.data"), "--dgamma", "1e-3", "--prestrain",
               "0", "--strain", "0.002", "--min-ftol", "1e-8", "--out", str(tmp_path / "aqs"), "--quiet", "--json",
               "--store", str(tmp_path / "st.h5"), "--save-every", "1"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["complete"] and out["summary"]["gamma_final"] == pytest.approx(0.002)
    with DatasetStore(tmp_path / "st.h5") as st:
        assert st.keys() == ["ka3d/aqs/aqs-000000000000", "ka3d/aqs/aqs-000000000001"]
    rc = main(["run", "creep", "--out", str(tmp_path / "c"), "--quiet"])
    assert rc == 2 and "--data FILE" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["run", "creep", "--help"])
    text = capsys.readouterr().out
    assert "Units: LJ reduced units" in text and "--sigma0" in text and "compressive" in text
