"""OpenMM engine: LJ glass-former Systems equal the numba reference; the predictor reporter equals the fix."""

from __future__ import annotations

import numpy as np
import pytest

mm = pytest.importorskip("openmm")

from helpers.models import make_softness_model  # noqa: E402
from glassfix.core.frame import Frame  # noqa: E402
from glassfix.data.lammps_io import read_dump_frames, write_data  # noqa: E402
from glassfix.engines.openmm import PredictorReporter, build_system, kelvin, make_simulation  # noqa: E402
from glassfix.models import load_model  # noqa: E402
from glassfix.systems import KobAndersen3D, Wahnstrom  # noqa: E402
from glassfix.systems.potentials import energy_forces  # noqa: E402
from helpers.lmp_util import KA_PAIR, error_lines, predict_run_script, run_lmp, shared_ka_frame, sheared  # noqa: E402


def omm_energy_forces(system, frame, platform="Reference"):
    ctx = mm.Context(build_system(system, frame), mm.VerletIntegrator(0.001), mm.Platform.getPlatformByName(platform))
    ctx.setPositions(frame.positions)
    st = ctx.getState(getEnergy=True, getForces=True)
    return st.getPotentialEnergy()._value, np.asarray(st.getForces(asNumpy=True)._value)


@pytest.mark.parametrize("style", ["lj/smooth/linear", "truncated-shifted", "truncated", "lj/smooth"])
@pytest.mark.parametrize("geometry", ["ortho", "tri"])
def test_ka_energy_and_forces_match_numba_reference(style, geometry):
    frame = shared_ka_frame(3)
    if geometry == "tri":
        frame = sheared(frame, 0.2)
    system = KobAndersen3D(cutoff_style=style)
    ref = energy_forces(frame, system.potential())
    e, f = omm_energy_forces(system, frame)
    assert abs(e - ref.energy) <= 1e-12 * abs(ref.energy)
    assert np.abs(f - ref.forces).max() <= 1e-12 * np.abs(ref.forces).max()
    # the fast (single precision) CPU platform to its precision
    e, f = omm_energy_forces(system, frame, "CPU")
    assert abs(e - ref.energy) <= 1e-6 * abs(ref.energy)
    assert np.abs(f - ref.forces).max() <= 1e-4 * np.abs(ref.forces).max()


def test_wahnstrom_and_absolute_cutoffs():
    rng = np.random.default_rng(0)
    for system in (Wahnstrom(), KobAndersen3D(cutoff_style="lj/smooth", cutoff_units="absolute")):
        frame = system.initial_frame(600, seed=1)
        frame.positions[:] += rng.normal(scale=0.05, size=frame.positions.shape)
        ref = energy_forces(frame, system.potential())
        e, f = omm_energy_forces(system, frame)
        assert abs(e - ref.energy) <= 1e-12 * abs(ref.energy)
        assert np.abs(f - ref.forces).max() <= 1e-12 * np.abs(ref.forces).max()


def test_clear_errors():
    small = KobAndersen3D().initial_frame(60)
    with pytest.raises(ValueError, match="half the box"):
        build_system(KobAndersen3D(), small)


def test_units_nve_and_langevin():
    """T* maps to kelvin(T*); NVE conserves energy; Langevin holds the temperature."""
    system = KobAndersen3D()
    frame = system.initial_frame(1000, seed=2)    # a lattice start: N = 1000 keeps the test short
    sim = make_simulation(system, frame, dt=0.002, platform="CPU")
    mm.LocalEnergyMinimizer.minimize(sim.context, 1e-3, 2000)    # off the lattice, so NVE starts calm
    frame = Frame(positions=np.asarray(sim.context.getState(getPositions=True).getPositions(asNumpy=True)._value),
                  types=frame.types, cell=frame.cell, species=frame.species)
    sim.context.setVelocitiesToTemperature(kelvin(0.44), 5)
    st = sim.context.getState(getEnergy=True)
    n = frame.n_atoms
    t_kin = 2 * st.getKineticEnergy()._value / (3 * n - 3)  # reduced units: kJ/mol = ε
    assert t_kin == pytest.approx(0.44, rel=0.05)
    e0 = st.getKineticEnergy()._value + st.getPotentialEnergy()._value
    sim.step(200)
    st = sim.context.getState(getEnergy=True)
    e1 = st.getKineticEnergy()._value + st.getPotentialEnergy()._value
    assert abs(e1 - e0) / n < 2e-4
    lang = make_simulation(system, frame, temperature=0.8, friction=10.0, platform="CPU", seed=3)
    lang.step(300)
    ts = []
    for _ in range(10):
        lang.step(20)
        ts.append(2 * lang.context.getState(getEnergy=True).getKineticEnergy()._value / (3 * n - 3))
    assert np.mean(ts) == pytest.approx(0.8, rel=0.05)


@pytest.mark.slow
def test_reporter_equals_offline_and_the_lammps_fix(tmp_path, plugin_so):
    """Values every N steps equal glassfix's offline prediction on the dumped frames, and at step 0 the
    values of fix glass/predict on the same configuration in LAMMPS."""
    frame = shared_ka_frame(4)
    model_path = make_softness_model(tmp_path / "soft.glassfix", seed=2)
    model = load_model(model_path)
    rep = PredictorReporter(model, 10, frame.types, dump=tmp_path / "omm.dump", log=tmp_path / "omm.log")
    sim = make_simulation(KobAndersen3D(), frame, temperature=0.44, platform="CPU", reporters=[rep])
    v0 = rep.report_now(sim).copy()
    sim.step(20)
    frames = read_dump_frames(tmp_path / "omm.dump")
    assert [f.step for f in frames] == [0, 10, 20]
    for fr in frames:
        got = fr.metadata["columns"]["softness"]
        expected = model.predict(fr)[:, 0]
        assert np.abs(got - expected).max() <= 1e-12 * np.abs(expected).max()
    log = np.loadtxt(tmp_path / "omm.log")
    assert log.shape == (3, 2) and log[-1, 1] == pytest.approx(rep.means[0])
    np.testing.assert_array_equal(rep.values[:, 0], frames[-1].metadata["columns"]["softness"])

    write_data(frame, tmp_path / "ka.data", masses=[1.0, 1.0])
    script = predict_run_script(plugin_so, tmp_path / "ka.data", model_path, dump="lmp.dump")
    proc = run_lmp(script, tmp_path / "lmp", nprocs=2, timeout=300)
    assert proc.returncode == 0 and not error_lines(proc.stdout), proc.stdout[-2000:]
    lmp = read_dump_frames(tmp_path / "lmp" / "lmp.dump")[0].metadata["columns"]["f_p"]
    assert np.abs(lmp - v0[:, 0]).max() <= 1e-10 * np.abs(lmp).max()


def test_reporter_group_and_botan(tmp_path):
    """A group gets values, the rest 0 (as the fix); a GNN model runs through the same reporter."""
    pytest.importorskip("torch")
    from glassfix.models.botan import BotanModel
    from helpers.lmp_util import SHARED

    frame = shared_ka_frame(1)
    model = BotanModel.from_reference_weights(str(SHARED / "data/botan_reference/pretrained_edge_model1_state_dict.npz"))
    group = np.flatnonzero(frame.types == 0)
    rep = PredictorReporter(model, 5, frame.types, group=group)
    sim = make_simulation(KobAndersen3D(), frame, platform="Reference")
    vals = rep.report_now(sim)
    ref = np.load(SHARED / "data/botan_reference/reference_forward_config1.npz")["node_out"]
    assert np.all(vals[frame.types == 1] == 0.0)
    assert np.abs(vals[group, 0] - ref[group]).max() <= 2e-5 * np.abs(ref).max()
    assert rep.means[0] == pytest.approx(float(np.mean(vals[group, 0])))


def test_aqs_elastic_steps_and_events():
    """OpenMM AQS: elastic steps do work V·σ·δγ = ΔU, the stress rises between events, drops at events."""
    from glassfix.engines.openmm.aqs import aqs_shear

    system = KobAndersen3D()
    r = aqs_shear(system, system.initial_frame(500, seed=3), dgamma=1e-3, steps=20, platform="CPU", tolerance=1e-4)
    elastic = ~r["event"]
    elastic[0] = False
    assert elastic.sum() >= 10
    assert np.nanmax(np.abs(r["energy_residual"][elastic])) < 1e-5
    assert np.all(np.diff(r["sigma"])[elastic[1:]] > 0)
    assert np.all(np.diff(r["sigma"])[r["event_stress"][1:]] < 0)
    np.testing.assert_allclose(r["gamma"], 1e-3 * np.arange(21))
    assert r["frames"][5].cell[1, 0] == pytest.approx(r["frames"][0].cell[1, 0] + 5e-3 * r["frames"][0].cell[1, 1])


@pytest.mark.slow
def test_aqs_matches_lammps_on_elastic_steps(tmp_path):
    """From the same minimum, OpenMM (box tilt + L-BFGS) and LAMMPS (change_box remap + CG) reach the same
    minima on elastic steps: equal shear stress."""
    from glassfix.engines.openmm.aqs import aqs_shear

    system = KobAndersen3D()
    # a deterministic start: the multithreaded CPU platform quenches the lattice into a different minimum on
    # every run, and some of those are soft enough that CG and L-BFGS part by ~1e-5 in the stress
    r0 = aqs_shear(system, system.initial_frame(500, seed=5), steps=0, platform="Reference", tolerance=1e-6)
    start = r0["frames"][0]
    r = aqs_shear(system, start, dgamma=1e-4, steps=3, platform="Reference", tolerance=1e-9)
    assert not r["event"].any()
    write_data(start, tmp_path / "start.data", masses=[1.0, 1.0])
    ly = start.cell[1, 1]
    lines = ["units lj", "atom_style atomic", "boundary p p p", f"read_data {tmp_path / 'start.data'}",
             "change_box all triclinic", KA_PAIR, "min_modify dmax 0.01", "thermo_style custom step pxy",
             "thermo_modify format float %20.15g", "minimize 0 1e-10 20000 200000"]
    for n in range(1, 4):
        lines += [f"change_box all xy final {n * 1e-4 * ly:.17g} remap units box", "minimize 0 1e-10 20000 200000",
                  f'print "SIGMA {n} $(-pxy:%.15g)"']
    proc = run_lmp("\n".join(lines) + "\n", tmp_path / "lmp", timeout=120)
    assert proc.returncode == 0 and not error_lines(proc.stdout), proc.stdout[-2000:]
    sig = {int(ln.split()[1]): float(ln.split()[2]) for ln in proc.stdout.splitlines() if ln.startswith("SIGMA")}
    assert sorted(sig) == [1, 2, 3]
    for n in (1, 2, 3):
        assert sig[n] == pytest.approx(r["sigma"][n], rel=1e-5, abs=1e-7)
