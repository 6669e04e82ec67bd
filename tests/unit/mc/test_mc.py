"""Swap Monte Carlo engine: exact energies, detailed balance of every move, checkpoints, reproducibility."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from glassfix.core.frame import Frame
from glassfix.mc.engine import MoveSet, SwapMC, jbb_moves, polydisperse_moves
from glassfix.systems.potentials import energy_forces, lj_potential, poly_lj_potential, soft_poly_potential

# JBB ternary (001_jung.md §1.2)
JBB_EPS = [[1.0, 1.5, 0.75], [1.5, 0.5, 1.5], [0.75, 1.5, 0.75]]
JBB_SIG = [[1.0, 0.8, 0.9], [0.8, 0.88, 0.8], [0.9, 0.8, 0.94]]
JBB = poly_lj_potential(JBB_EPS, JBB_SIG, 2.5, 0.04049023795, -0.00970155098, 0.00062012616)
KA_EPS = [[1.0, 1.5], [1.5, 0.5]]
KA_SIG = [[1.0, 0.8], [0.8, 0.88]]
KA = lj_potential(KA_EPS, KA_SIG, 2.5 * np.array(KA_SIG), style="force-shifted")


def spread_frame(n: int, cell: np.ndarray, types, seed: int, min_dist: float = 0.8) -> Frame:
    """Random positions with all minimum-image distances ≥ min_dist (rejection; tiny systems only)."""
    rng = np.random.default_rng(seed)
    d = cell.shape[0]
    inv = np.linalg.inv(cell)
    pos = np.empty((0, d))
    for _ in range(200000):
        if len(pos) == n:
            break
        x = rng.random(d) @ cell
        s = (x - pos) @ inv
        s -= np.round(s)
        if len(pos) == 0 or np.einsum("ij,ij->i", s @ cell, s @ cell).min() >= min_dist ** 2:
            pos = np.vstack([pos, x])
    assert len(pos) == n, "could not place the particles"
    return Frame(positions=pos, types=np.asarray(types), cell=cell)


def jbb_frame(n: int = 60, seed: int = 0) -> Frame:
    """A small JBB-like 2D configuration at the JBB density (types 20:11:12)."""
    L = math.sqrt(n / 1.19207)
    counts = np.round(np.array([20, 11, 12]) / 43 * n).astype(int)
    counts[0] += n - counts.sum()
    types = np.repeat(np.arange(3), counts)
    np.random.default_rng(seed).shuffle(types)
    return spread_frame(n, np.eye(2) * L, types, seed, min_dist=0.75)


def chi2_pvalue(samples: np.ndarray, probs: np.ndarray) -> float:
    """Pearson χ² p-value of integer ``samples`` (state indices) against probabilities ``probs``."""
    counts = np.bincount(samples, minlength=probs.size).astype(float)
    expected = probs * samples.size
    keep = expected >= 5
    # pool the rare states into one bin so every bin satisfies the χ² approximation
    obs = np.append(counts[keep], counts[~keep].sum())
    exp = np.append(expected[keep], expected[~keep].sum())
    if exp[-1] < 5:
        obs, exp = obs[:-1], exp[:-1]
    chi2 = float(((obs - exp) ** 2 / exp).sum())
    return float(stats.chi2.sf(chi2, obs.size - 1))


# ----------------------------------------------------------------------------- exact energies
def test_running_energy_equals_energy_forces_jbb():
    frame = jbb_frame(60, seed=1)
    mc = SwapMC(frame, JBB, 0.5, jbb_moves(step=0.1), seed=3)
    assert mc.energy == pytest.approx(energy_forces(frame, JBB).energy, rel=1e-12)
    for _ in range(3):
        mc.sweeps(40, check_energy=False)
        ref = energy_forces(mc.to_frame(), JBB)
        # the running ΔU sum (no resync) equals the recomputed total
        assert mc.energy == pytest.approx(ref.energy, rel=1e-9, abs=1e-9)
        np.testing.assert_allclose(mc.particle_energies(), ref.per_atom, rtol=1e-10, atol=1e-12)
    acc = mc.acceptance()
    assert acc["displacement"]["accepted"] > 0
    assert acc["swap 1-3"]["accepted"] + acc["swap 2-3"]["accepted"] > 0
    # composition is conserved by type swaps
    assert np.array_equal(np.bincount(mc.types, minlength=3), np.bincount(frame.types, minlength=3))


@pytest.mark.parametrize("case", ["tiny2d", "triclinic3d"])
def test_running_energy_small_and_triclinic_boxes(case):
    if case == "tiny2d":
        # L = 2.2 < r_c = 2.5: several images of every neighbour and of the particle itself interact,
        # and type swaps change the self-image energy
        frame = spread_frame(4, np.eye(2) * 2.2, [0, 1, 2, 2], seed=5, min_dist=0.85)
        pot, moves = JBB, jbb_moves(step=0.15)
    else:
        cell = np.array([[4.6, 0.0, 0.0], [1.3, 4.4, 0.0], [-0.9, 0.7, 4.8]])
        frame = spread_frame(40, cell, [0] * 32 + [1] * 8, seed=6, min_dist=0.8)
        pot, moves = KA, MoveSet(step=0.1, swaps=((0, 1, 0.2),))
    mc = SwapMC(frame, pot, 1.0, moves, seed=2)
    assert mc.energy == pytest.approx(energy_forces(frame, pot).energy, rel=1e-12)
    mc.sweeps(300, check_energy=False)
    ref = energy_forces(mc.to_frame(), pot).energy
    assert mc.energy == pytest.approx(ref, rel=1e-9, abs=1e-9)
    assert sum(v["accepted"] for k, v in mc.acceptance().items() if k.startswith("swap")) > 0


def test_swap_delta_is_exact():
    frame = jbb_frame(50, seed=2)
    mc = SwapMC(frame, JBB, 0.4, jbb_moves(), seed=0)
    e0 = energy_forces(frame, JBB).energy
    rng = np.random.default_rng(0)
    for _ in range(10):
        i = int(rng.choice(np.flatnonzero(frame.types == 0)))
        j = int(rng.choice(np.flatnonzero(frame.types == 2)))
        swapped = Frame(positions=frame.positions, types=frame.types.copy(), cell=frame.cell)
        swapped.types[[i, j]] = swapped.types[[j, i]]
        assert mc.swap_delta(i, j) == pytest.approx(energy_forces(swapped, JBB).energy - e0, abs=1e-10)
    # diameters (continuous polydispersity, non-additive)
    n = 40
    diam = np.random.default_rng(1).uniform(0.73, 1.62, n)
    pot = soft_poly_potential(max_diameter=diam.max())
    pframe = spread_frame(n, np.eye(3) * (n / 1.0) ** (1 / 3), np.zeros(n, int), seed=3, min_dist=0.8)
    pmc = SwapMC(pframe, pot, 0.1, polydisperse_moves(), diameters=diam)
    p0 = energy_forces(pframe, pot, diam).energy
    for i, j in [(0, 1), (3, 17), (5, 39)]:
        d2 = diam.copy()
        d2[[i, j]] = d2[[j, i]]
        assert pmc.swap_delta(i, j, diameters=True) == pytest.approx(energy_forces(pframe, pot, d2).energy - p0,
                                                                   abs=1e-10)
    assert np.array_equal(pmc.diameters, diam)  # swap_delta leaves the state alone


# ----------------------------------------------------------------------------- detailed balance
def _discrete_state_test(frame, pot, moves, temperature, states, key, diameters=None, sweeps=60000, thin=4):
    """Run a swap-only chain on fixed positions; χ² of the visited states against exp(−U/T)/Z.

    The state is identified by the total energy (the trace), mapped to the nearest exact state energy.
    Returns (p-value at T, p-value of the same samples against the distribution at 1.5 T).
    """
    energies = []
    for st in states:
        if diameters is None:
            f = Frame(positions=frame.positions, types=np.asarray(st), cell=frame.cell)
            energies.append(energy_forces(f, pot).energy)
        else:
            energies.append(energy_forces(frame, pot, np.asarray(st)).energy)
    energies = np.array(energies)
    levels, inverse = np.unique(np.round(energies, 8), return_inverse=True)
    assert levels.size > 5, "the test needs several distinct energy levels"

    def probs(t):
        w = np.exp(-(energies - energies.min()) / t)
        return np.bincount(inverse, weights=w, minlength=levels.size) / w.sum()

    mc = SwapMC(frame, pot, temperature, moves, seed=11, diameters=diameters)
    trace = mc.sweeps(sweeps)[::thin]
    idx = np.abs(trace[:, None] - levels[None, :]).argmin(axis=1)
    assert np.abs(trace - levels[idx]).max() < 1e-7
    assert mc.acceptance()[key]["rate"] > 0.05
    return chi2_pvalue(idx, probs(temperature)), chi2_pvalue(idx, probs(1.5 * temperature))


def test_detailed_balance_type_swaps_ternary():
    # 6 fixed particles A A B B C C: 90 labelings reachable by 1↔3 and 2↔3 swaps only
    frame = spread_frame(6, np.eye(2) * 3.2, [0, 0, 1, 1, 2, 2], seed=9, min_dist=0.9)
    states = sorted(set(itertools.permutations([0, 0, 1, 1, 2, 2])))
    moves = MoveSet(step=0.05, swaps=((0, 2, 0.5), (1, 2, 0.5)))
    assert moves.p_displacement == 0
    p, p_wrong = _discrete_state_test(frame, JBB, moves, 1.0, states, "swap 1-3")
    assert p > 1e-4
    assert p_wrong < 1e-6  # the same samples reject a wrong temperature: the test has power


def test_detailed_balance_diameter_swaps():
    diam = np.array([0.8, 0.95, 1.1, 1.3, 1.45])
    pot = soft_poly_potential(max_diameter=diam.max())
    frame = spread_frame(5, np.eye(2) * 3.0, np.zeros(5, int), seed=4, min_dist=0.95)
    states = [np.array(s) for s in itertools.permutations(diam)]
    p, p_wrong = _discrete_state_test(frame, pot, MoveSet(step=0.05, diameter_swap=1.0), 0.5, states,
                                      "diameter swap", diameters=diam)
    assert p > 1e-4
    assert p_wrong < 1e-6


def _two_particle_energy_grid(L: float, m: int = 500) -> np.ndarray:
    """U(r) of two A particles in a 2D periodic box, r on an m×m midpoint grid of the torus (force-shifted
    LJ, ε = σ = 1, r_c = 2.5, all images), computed independently of the engine's kernels."""
    rc = 2.5
    g = (np.arange(m) + 0.5) / m * L
    x, y = np.meshgrid(g, g, indexing="ij")
    u = np.zeros_like(x)

    def lj(r):
        return 4 * (r ** -12 - r ** -6)

    def dlj(r):
        return 4 * (-12 * r ** -13 + 6 * r ** -7)

    for nx, ny in itertools.product(range(-2, 3), repeat=2):
        r = np.hypot(x + nx * L, y + ny * L)
        inside = r < rc
        u[inside] += lj(r[inside]) - lj(rc) - (r[inside] - rc) * dlj(rc)
    return u


def test_detailed_balance_displacements_energy_histogram():
    # two particles in a box narrower than 2 r_c: the relative vector is Boltzmann-distributed on the torus
    L, T = 3.0, 1.0
    pot = lj_potential(1.0, 1.0, 2.5, style="force-shifted")
    frame = Frame(positions=np.array([[0.3, 0.4], [1.8, 1.9]]), types=np.zeros(2, int), cell=np.eye(2) * L)
    mc = SwapMC(frame, pot, T, MoveSet(step=0.6, displacement="uniform"), seed=5)
    trace = mc.sweeps(300000)[::3]
    u = _two_particle_energy_grid(L).ravel()
    edges = np.quantile(u, np.linspace(0, 1, 13))  # bins equally populated at infinite T
    edges[0], edges[-1] = -np.inf, np.inf

    def probs(t):
        w = np.exp(-(u - u.min()) / t)
        return np.histogram(u, edges, weights=w)[0] / w.sum()

    idx = np.clip(np.searchsorted(edges, trace, side="right") - 1, 0, edges.size - 2)
    assert chi2_pvalue(idx, probs(T)) > 1e-4
    assert chi2_pvalue(idx, probs(1.3 * T)) < 1e-6
    assert 0.2 < mc.acceptance()["displacement"]["rate"] < 0.95


# ----------------------------------------------------------------------------- reproducibility, checkpoints
def test_checkpoint_resume_reproduces_chain(tmp_path):
    frame = jbb_frame(48, seed=4)
    a = SwapMC(frame, JBB, 0.45, jbb_moves(step=0.08), seed=21)
    a.sweeps(30)
    a.sweeps(25)
    ck = a.save(tmp_path / "chain.npz")
    tail_a = [a.sweeps(30), a.sweeps(10)]
    b = SwapMC.load(ck, JBB)
    assert b.chunk == 2 and b.sweeps_done == 55
    tail_b = [b.sweeps(30), b.sweeps(10)]
    for x, y in zip(tail_a, tail_b):
        assert np.array_equal(x, y)
    assert np.array_equal(a.positions, b.positions) and np.array_equal(a.types, b.types)
    assert np.array_equal(a.unwrapped, b.unwrapped)
    assert a.energy == b.energy and np.array_equal(a.accepted, b.accepted)
    # the same seed from scratch gives the same chain; another seed does not
    c = SwapMC(frame, JBB, 0.45, jbb_moves(step=0.08), seed=21)
    for n in (30, 25, 30, 10):
        c.sweeps(n)
    assert np.array_equal(c.positions, a.positions) and c.energy == a.energy
    d = SwapMC(frame, JBB, 0.45, jbb_moves(step=0.08), seed=22)
    d.sweeps(30)
    assert not np.array_equal(d.positions, frame.positions) and not np.allclose(d.positions, c.positions)
    with pytest.raises(ValueError, match="differs"):
        SwapMC.load(ck, KA)


def test_cell_capacity_growth_keeps_chain(tmp_path):
    # a dense cluster in a large box overflows the initial per-cell capacity: the chain must go on exactly
    cluster = spread_frame(22, np.eye(2) * 6.0, np.zeros(22, int), seed=3, min_dist=0.85)
    frame = Frame(positions=cluster.positions + 1.0, types=cluster.types, cell=np.eye(2) * 20.0)
    pot = lj_potential(1.0, 1.0, 2.5, style="force-shifted")
    mc = SwapMC(frame, pot, 1.0, MoveSet(step=0.3), seed=1)
    mc._cells_from_scratch(cap=2)  # force the overflow path
    mc.sweeps(20, check_energy=False)
    assert mc._cmem.shape[1] > 2
    assert mc.energy == pytest.approx(energy_forces(mc.to_frame(), pot).energy, rel=1e-9)


def test_polydisperse_conserves_diameters_and_energy():
    n = 64
    rng = np.random.default_rng(2)
    diam = rng.uniform(0.73, 1.62, n)
    pot = soft_poly_potential(max_diameter=diam.max())
    frame = spread_frame(n, np.eye(2) * math.sqrt(n / 0.9), np.zeros(n, int), seed=8, min_dist=0.85)
    mc = SwapMC(frame, pot, 0.3, polydisperse_moves(step=0.08), seed=4, diameters=diam)
    mc.sweeps(200, check_energy=False)
    assert np.array_equal(np.sort(mc.diameters), np.sort(diam))
    assert not np.array_equal(mc.diameters, diam)
    assert mc.acceptance()["diameter swap"]["accepted"] > 0
    out = mc.to_frame()
    assert mc.energy == pytest.approx(energy_forces(out, pot, out.metadata["diameters"]).energy, rel=1e-9)


def test_invalid_inputs_name_the_bad_value():
    frame = jbb_frame(30, seed=0)
    with pytest.raises(ValueError, match=r"sum to 1\.2"):
        MoveSet(swaps=((0, 2, 0.6), (1, 2, 0.6)))
    with pytest.raises(ValueError, match="'levy'"):
        MoveSet(displacement="levy")
    with pytest.raises(ValueError, match=r"\(0, 3\)"):
        SwapMC(frame, JBB, 0.4, MoveSet(swaps=((0, 3, 0.1),)))
    with pytest.raises(ValueError, match="-0.1"):
        SwapMC(frame, JBB, -0.1)
    with pytest.raises(ValueError, match="diameters"):
        SwapMC(frame, soft_poly_potential(), 0.4)


# ----------------------------------------------------------------------------- Verlet lists: the same chain
def _grid_start(name: str, n: int, seed: int):
    from glassfix.mc.setup import setup_system

    setup = setup_system(name)
    frame, diam = setup.frame(n, None, seed)
    return setup, frame, diam


@pytest.mark.parametrize("case", ["jbb2d", "ka3d_triclinic", "poly2d"])
def test_verlet_lists_run_the_same_chain(case, tmp_path):
    # the list path (neighbor_skin > 0) draws the same random numbers and computes the same exact ΔU as the
    # cell scan (neighbor_skin = 0, the path the detailed-balance tests above check), so both chains must
    # make the same decisions; a large step forces list rebuilds and the cell-scan fallback of long trials
    if case == "jbb2d":
        setup, frame, diam = _grid_start("jbb", 300, 2)
        moves = jbb_moves(p_swap=0.4, step=0.05)
    elif case == "ka3d_triclinic":
        setup, frame, diam = _grid_start("ka3d", 500, 3)
        cell = frame.cell.copy()
        cell[1, 0] = 0.6
        cell[2, 1] = -0.4
        frame = Frame(positions=frame.positions, types=frame.types, cell=cell)
        moves = MoveSet(step=0.05, swaps=((0, 1, 0.3),))
    else:
        setup, frame, diam = _grid_start("polydisperse", 300, 4)
        moves = polydisperse_moves(p_swap=0.4, step=0.05)
    for step in (moves.step, 0.25):
        mv = MoveSet(step=step, displacement=moves.displacement, swaps=moves.swaps,
                     diameter_swap=moves.diameter_swap)
        a = SwapMC(frame, setup.potential, 0.6, mv, seed=5, diameters=diam, neighbor_skin=0)
        b = SwapMC(frame, setup.potential, 0.6, mv, seed=5, diameters=diam)
        assert not a.uses_lists and b.uses_lists
        ta = np.concatenate([a.sweeps(30), a.sweeps(20)])
        tb = np.concatenate([b.sweeps(30), b.sweeps(20)])
        assert np.array_equal(a.accepted, b.accepted) and np.array_equal(a.attempts, b.attempts)
        assert np.array_equal(a.types, b.types) and np.array_equal(a.diameters, b.diameters)
        np.testing.assert_allclose(b.positions, a.positions, rtol=0, atol=1e-12)
        np.testing.assert_allclose(tb, ta, rtol=1e-12, atol=1e-9)
        assert b.accepted[1:].sum() > 0
        ref = energy_forces(b.to_frame(), setup.potential, b.diameters if diam is not None else None).energy
        assert b.energy == pytest.approx(ref, rel=1e-10)
        if step > 0.2:
            assert b.list_stats[0] > 2 and b.list_stats[1] > 0  # rebuilds and fallbacks were exercised
    # checkpoints of a list chain resume bit for bit (the lists are rebuilt at every chunk)
    ck = b.save(tmp_path / "chain.npz")
    c = SwapMC.load(ck, setup.potential)
    assert c.uses_lists and c.neighbor_skin == b.neighbor_skin
    assert np.array_equal(b.sweeps(15), c.sweeps(15)) and np.array_equal(b.positions, c.positions)


def test_verlet_lists_only_where_exact():
    frame = jbb_frame(48, seed=4)  # L ≈ 6.3 < 2 (r_c + skin): the cell scan handles such boxes
    assert not SwapMC(frame, JBB, 0.5, jbb_moves()).uses_lists
    with pytest.raises(ValueError, match="neighbor_skin"):
        SwapMC(frame, JBB, 0.5, jbb_moves(), neighbor_skin=-0.1)
