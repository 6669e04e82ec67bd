"""OpenMM Systems of every glassfix system equal the numba reference; one neighbour-listed force (O(N));
2D systems stay in their plane."""

from __future__ import annotations

import numpy as np
import pytest

mm = pytest.importorskip("openmm")

from glassfix.engines.openmm import build_system, make_simulation  # noqa: E402
from glassfix.engines.openmm.forces import pair_table  # noqa: E402
from glassfix.engines.openmm.system import positions3, reference_energy_forces  # noqa: E402
from glassfix.systems import JBB, KobAndersen2D, KobAndersen3D, KremerGrest, Polydisperse, Wahnstrom  # noqa: E402

SYSTEMS = {
    "ka2d-ts": KobAndersen2D(),
    "ka2d-smooth": KobAndersen2D(cutoff_style="lj/smooth"),
    "ka2d-fs": KobAndersen2D(cutoff_style="lj/smooth/linear"),
    "jbb": JBB(),
    "poly3d": Polydisperse(),
    "poly2d": Polydisperse(dim=2),
    "poly-negative-na": Polydisperse(nonadditivity=-0.1),
    "kg": KremerGrest(),
    "kg-w12": KremerGrest(special_lj12=0.5, cutoff_style="truncated"),
    "wahnstrom": Wahnstrom(),
}


def _frame(system, n: int, seed: int = 1):
    frame = system.initial_frame(n, seed=seed)
    if not isinstance(system, KremerGrest):  # chains come pushed off; a lattice needs a jitter
        frame.positions[:] += np.random.default_rng(seed).normal(scale=0.05, size=frame.positions.shape)
    return frame


def omm_energy_forces(system, frame, platform="Reference"):
    ctx = mm.Context(build_system(system, frame), mm.VerletIntegrator(0.001), mm.Platform.getPlatformByName(platform))
    ctx.setPositions(positions3(frame))
    st = ctx.getState(getEnergy=True, getForces=True)
    return st.getPotentialEnergy()._value, np.asarray(st.getForces(asNumpy=True)._value)


@pytest.mark.parametrize("name", list(SYSTEMS))
def test_every_system_equals_numba_reference(name):
    system = SYSTEMS[name]
    frame = _frame(system, 400 if system.dim == 2 else 500)
    ref = reference_energy_forces(system, frame)
    e, f = omm_energy_forces(system, frame)
    assert abs(e - ref.energy) <= 1e-12 * abs(ref.energy)
    assert np.abs(f[:, :frame.dim] - ref.forces).max() <= 1e-12 * np.abs(ref.forces).max()
    if frame.dim == 2:
        assert np.all(f[:, 2] == 0.0)    # in-plane pairs: no z force, to the bit
    e_cpu, f_cpu = omm_energy_forces(system, frame, "CPU")    # single precision
    assert abs(e_cpu - ref.energy) <= 1e-5 * abs(ref.energy)
    assert np.abs(f_cpu[:, :frame.dim] - ref.forces).max() <= 1e-4 * np.abs(ref.forces).max()


def test_one_neighbour_listed_force_per_system():
    """No interaction groups (OpenMM's CPU platform evaluates them without the cell list: O(N²))."""
    for system in (KobAndersen3D(), JBB(), Polydisperse(), KremerGrest()):
        omm = build_system(system, _frame(system, 500 if system.dim == 3 else 400))
        nb = [f for f in omm.getForces() if isinstance(f, mm.CustomNonbondedForce)]
        assert len(nb) == 1
        assert nb[0].getNumInteractionGroups() == 0
        assert nb[0].getNonbondedMethod() == mm.CustomNonbondedForce.CutoffPeriodic


def test_kremer_grest_bonds_excluded_from_pairs():
    system = KremerGrest()
    frame = _frame(system, 500)
    omm = build_system(system, frame)
    nb = next(f for f in omm.getForces() if isinstance(f, mm.CustomNonbondedForce))
    bond = next(f for f in omm.getForces() if isinstance(f, mm.CustomBondForce))
    assert nb.getNumExclusions() == bond.getNumBonds() == len(frame.metadata["bonds"])


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_pair_table_is_exact(n):
    rng = np.random.default_rng(n)
    m = rng.uniform(0.5, 3.0, size=(n, n))
    m = m + m.T
    expr = pair_table(m)
    for i in range(n):
        for j in range(n):
            f = mm.CustomCompoundBondForce(2, f"{expr}")   # evaluate through Lepton as OpenMM does
            f.addPerBondParameter("t1")
            f.addPerBondParameter("t2")
            f.addBond([0, 1], [float(i), float(j)])
            s = mm.System()
            s.addParticle(1.0)
            s.addParticle(1.0)
            s.addForce(f)
            ctx = mm.Context(s, mm.VerletIntegrator(0.001), mm.Platform.getPlatformByName("Reference"))
            ctx.setPositions([mm.Vec3(0, 0, 0), mm.Vec3(1, 0, 0)])
            assert ctx.getState(getEnergy=True).getPotentialEnergy()._value == pytest.approx(m[i, j], rel=1e-14)
    with pytest.raises(ValueError, match="symmetric"):
        pair_table(np.array([[1.0, 2.0], [3.0, 4.0]]))


def test_2d_dynamics_stay_in_plane():
    """Verlet and the planar Langevin integrator keep z = 0 exactly; Langevin holds the in-plane T*."""
    system = KobAndersen2D()
    frame = _frame(system, 400, seed=3)
    sim = make_simulation(system, frame, dt=0.002, platform="CPU")
    mm.LocalEnergyMinimizer.minimize(sim.context, 1e-2, 500)
    sim.context.setVelocities(np.zeros((frame.n_atoms, 3)))
    sim.step(50)
    assert np.all(sim.context.getState(getPositions=True).getPositions(asNumpy=True)._value[:, 2] == 0.0)
    lang = make_simulation(system, frame, dt=0.002, temperature=1.0, friction=10.0, platform="CPU", seed=4)
    st = lang.context.getState(getVelocities=True)
    v = st.getVelocities(asNumpy=True)._value
    n = frame.n_atoms
    assert np.all(v[:, 2] == 0.0) and (v ** 2).sum() / (2 * n - 2) == pytest.approx(1.0, rel=1e-12)
    mm.LocalEnergyMinimizer.minimize(lang.context, 1e-2, 500)
    lang.step(300)
    ts = []
    for _ in range(40):    # samples 0.02 τ apart, relaxation ~0.05 τ: σ of the mean ≈ 1.2 %
        lang.step(10)
        st = lang.context.getState(getVelocities=True, getPositions=True)
        v = st.getVelocities(asNumpy=True)._value
        assert np.all(v[:, 2] == 0.0) and np.all(st.getPositions(asNumpy=True)._value[:, 2] == 0.0)
        ts.append((v ** 2).sum() / (2 * n - 2))
    assert np.mean(ts) == pytest.approx(1.0, rel=0.05)


def test_clear_errors_for_systems():
    with pytest.raises(ValueError, match="2D but the frame is 3D"):
        build_system(KobAndersen2D(), KobAndersen3D().initial_frame(500))
    frame = Polydisperse().initial_frame(500)
    del frame.metadata["diameters"]
    with pytest.raises(ValueError, match="diameters"):
        build_system(Polydisperse(), frame)


def test_aqs_2d_on_the_best_platform():
    """AQS of a 2D system with the default platform (best_platform: CPU here): elastic steps do work
    A·σ·δγ = ΔU, minima stay 2D."""
    from glassfix.engines.openmm.aqs import aqs_shear

    system = KobAndersen2D()
    # small strain steps: most are elastic whatever minimum the (multithreaded, single-precision) CPU
    # platform quenched the start into; at 1e-3 a fresh machine once found only 3 of 10 elastic
    r = aqs_shear(system, _frame(system, 400, seed=5), dgamma=2e-4, steps=10, tolerance=1e-4)
    elastic = ~r["event"]
    elastic[0] = False
    assert elastic.sum() >= 3
    assert np.nanmax(np.abs(r["energy_residual"][elastic])) < 1e-5
    assert r["frames"][-1].dim == 2 and r["frames"][-1].cell[1, 0] == pytest.approx(10 * 2e-4 * r["frames"][0].cell[1, 1])


def test_swap_moves_sample_boltzmann_over_type_assignments():
    """Detailed balance of OpenMM swap batches: 2 A + 2 B at fixed positions visit the 6 type assignments
    with the Boltzmann weights of their OpenMM (Reference) energies; the Context follows every batch."""
    import itertools

    from glassfix.core.frame import Frame
    from glassfix.mc.openmm_swap import OpenMMSwap

    system = KobAndersen3D()
    pos = np.array([[2.0, 2.0, 2.0], [3.05, 2.1, 2.0], [2.4, 3.0, 2.1], [2.6, 2.5, 3.0]])
    cell = np.eye(3) * 5.2

    def frame_of(types):
        return Frame(positions=pos, types=np.array(types), cell=cell, species=("A", "B"))

    states = sorted(set(itertools.permutations((0, 0, 1, 1))))
    energy = np.array([omm_energy_forces(system, frame_of(s))[0] for s in states])
    t = 0.5
    p = np.exp(-(energy - energy.min()) / t)
    p /= p.sum()
    assert p.max() - p.min() > 0.2          # the weights differ: a biased sampler cannot pass
    sim = make_simulation(system, frame_of((0, 0, 1, 1)), platform="Reference")
    swap = OpenMMSwap(sim, system, frame_of((0, 0, 1, 1)), t, seed=3)
    counts = np.zeros(len(states))
    for _ in range(1000):
        swap.sweeps(1)
        counts[states.index(tuple(swap.types))] += 1
    np.testing.assert_allclose(counts / counts.sum(), p, atol=0.05)
    ctx_e = sim.context.getState(getEnergy=True).getPotentialEnergy()._value
    assert ctx_e == pytest.approx(energy[states.index(tuple(swap.types))], rel=1e-12)


def test_diameter_swaps_update_the_context():
    from glassfix.mc.openmm_swap import OpenMMSwap

    system = Polydisperse()
    frame = _frame(system, 500, seed=2)
    sim = make_simulation(system, frame, platform="Reference")
    swap = OpenMMSwap(sim, system, frame, 0.1, seed=1)
    assert swap.sweeps(2) > 0
    new = swap.to_frame()
    np.testing.assert_array_equal(np.sort(new.metadata["diameters"]), np.sort(frame.metadata["diameters"]))
    assert np.any(new.metadata["diameters"] != frame.metadata["diameters"])
    e = sim.context.getState(getEnergy=True).getPotentialEnergy()._value
    assert e == pytest.approx(reference_energy_forces(system, new).energy, rel=1e-12)
    with pytest.raises(ValueError, match="equal mass"):
        OpenMMSwap(make_simulation(Wahnstrom(), _frame(Wahnstrom(), 500), platform="Reference"), Wahnstrom(),
                   _frame(Wahnstrom(), 500), 0.5)


@pytest.mark.slow
def test_creep_mean_axial_stress_is_sigma0():
    """MonteCarloAnisotropicBarostat in reduced units: a KA liquid (T* = 1) held at σ0 along z with fixed lateral
    lengths relaxes to ⟨P_zz⟩ = σ0 (virial + kinetic, numba) and, being a liquid, equal lateral stresses;
    x and y never move; the snapshot is minimised to P_zz = σ0."""
    from glassfix.engines.openmm.creep import creep

    system = KobAndersen3D()
    frame = _frame(system, 256, seed=4)
    r = creep(system, frame, sigma0=3.0, temperature=1.0, steps=3000, thermo_every=10, barostat_every=5,
              lateral="fixed", snapshot_every=3000, dt=0.004, seed=2, platform="CPU", stress_tol=5e-4)
    s = r["series"]
    k = len(s["pzz"]) // 3          # the first third relaxes the lattice's P ≈ 40 down to σ0
    # N = 256: block means scatter by ±0.15; a unit (×16.6) or sign error misses by far more than 0.45
    assert s["pzz"][k:].mean() == pytest.approx(3.0, abs=0.45)
    assert 0.5 * (s["pxx"][k:] + s["pyy"][k:]).mean() == pytest.approx(3.0, abs=0.45)
    assert np.all(s["lx"] == frame.cell[0, 0]) and np.all(s["ly"] == frame.cell[1, 1])
    assert s["strain"][-1] > 0.05    # the liquid expanded along z from ρ = 1.2
    snap = r["snapshots"][0]
    assert snap["converged"] and snap["stress"][2] == pytest.approx(3.0, abs=5e-4)


def test_minimize_under_uniaxial_stress_with_free_laterals():
    from glassfix.engines.openmm.creep import minimize_under_stress

    system = KobAndersen3D()
    m, info = minimize_under_stress(system, _frame(system, 256, seed=4), 0.5, platform="CPU", stress_tol=5e-4)
    assert info["converged"]
    np.testing.assert_allclose(info["stress"], [0.0, 0.0, 0.5], atol=5e-4)
    ef = reference_energy_forces(system, m)
    assert np.sqrt((ef.forces ** 2).mean()) < 1e-2          # a minimum
    with pytest.raises(ValueError, match="axis"):
        minimize_under_stress(system, m, 0.5, axis="w")


def test_reporter_on_a_2d_system(tmp_path):
    """PredictorReporter(dim=2) hands the model the in-plane frame: values equal the offline prediction."""
    from helpers.models import make_softness_model
    from glassfix.core.frame import Frame
    from glassfix.engines.openmm import PredictorReporter
    from glassfix.models import load_model

    system = KobAndersen2D()
    frame = _frame(system, 400, seed=6)
    model = load_model(make_softness_model(tmp_path / "soft.glassfix", seed=1))
    rep = PredictorReporter(model, 5, frame.types, dim=2, dump=tmp_path / "p.dump")
    sim = make_simulation(system, frame, temperature=0.5, dt=0.002, platform="CPU", reporters=[rep])
    mm.LocalEnergyMinimizer.minimize(sim.context, 1e-2, 200)
    sim.step(10)
    st = sim.context.getState(getPositions=True)
    pos = st.getPositions(asNumpy=True)._value
    assert np.all(pos[:, 2] == 0.0)
    now = Frame(positions=pos[:, :2], types=frame.types, cell=frame.cell, species=frame.species)
    np.testing.assert_allclose(rep.values[:, 0], model.predict(now)[:, 0], rtol=1e-12, atol=1e-12)
    assert [s for s, _ in rep.history] == [5, 10]


def test_iso_replicas_with_openmm_equal_lammps(tmp_path):
    """glassfix iso --engine openmm: the same task (positions, Maxwell–Boltzmann seed) gives the LAMMPS
    trajectory (double precision on Reference; chaos parts them only slowly over 100 steps); run_iso
    stores replicas and labels equal to the LAMMPS launcher's to the engines' precision."""
    import dataclasses

    from glassfix.data.store import DatasetStore
    from glassfix.engines.openmm.replica import replica_positions
    from glassfix.ensembles import IsoSettings, ReplicaTask, SystemSpec, get_executor, run_iso, run_replica
    from glassfix.ensembles.replica import maxwell_boltzmann, replica_seed

    system = KobAndersen3D()
    fr = _frame(system, 250, seed=8)
    m = make_simulation(system, fr, platform="CPU")
    mm.LocalEnergyMinimizer.minimize(m.context, 1e-2, 300)
    fr.positions[:] = m.context.getState(getPositions=True).getPositions(asNumpy=True)._value
    task = ReplicaTask("ka/0", 0, replica_seed(7, "ka/0", 0), fr.positions, fr.types, fr.cell, fr.origin,
                       SystemSpec.from_system(system), 0.8, (10, 50, 100), 0.005)
    lmp = run_replica(task).positions
    vel = maxwell_boltzmann(np.ones(250), 0.8, 3, task.seed, True)
    ref = replica_positions(system, fr.positions, fr.types, fr.cell, vel, task.steps, task.dt, "Reference")
    assert np.abs(ref - lmp).max() < 1e-8
    cpu = run_replica(dataclasses.replace(task, engine="openmm", system_object=system)).positions
    assert np.abs(cpu - lmp).max() < 1e-3       # single-precision CPU platform

    stores = {}
    for engine in ("lammps", "openmm"):
        path = tmp_path / f"{engine}.h5"
        with DatasetStore(path, "a") as st:
            st.add_frame(fr, key="ka/0", group="c0", system="ka3d", temperature=0.8)
        with get_executor("serial") as ex:
            run_iso(path, IsoSettings(replicas=2, times="log:0.05:0.5:3", seed=7, engine=engine), executor=ex)
        with DatasetStore(path, "r") as st:
            stores[engine] = st.labels("ka/0")
    assert stores["lammps"].keys() == stores["openmm"].keys() and stores["lammps"]
    for name, lab in stores["lammps"].items():
        np.testing.assert_allclose(stores["openmm"][name], lab, atol=1e-4)
