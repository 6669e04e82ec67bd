"""Swap MC against LAMMPS: the same mean potential energy as thermostatted MD, and hybrid MD + atom/swap."""

from __future__ import annotations

import math

import numpy as np
import pytest

from glassfix.mc.engine import SwapMC
from glassfix.mc.diagnostics import mean_error
from glassfix.mc.setup import setup_system
from glassfix.mc.lammps_swap import hybrid_commands, run_hybrid_md_swap, swap_fix_commands
from glassfix.systems import get_system
from glassfix.systems.potentials import energy_forces


@pytest.fixture(scope="module")
def table_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("tables")


def test_swap_mc_and_md_sample_the_same_mean_energy(table_dir):
    # JBB N = 129 at T = 2.0: LAMMPS Langevin MD (pair_style table) vs swap MC (numba kernel)
    system = get_system("jbb")
    frame = system.initial_frame(129, None, seed=0)
    T = 2.0
    md = run_hybrid_md_swap(system, frame, T, 40000, pairs=(), dt=0.003, sample_every=20, seed=11,
                            lammps_kwargs={"table_dir": table_dir})
    m_md, e_md, _ = mean_error(md.potential_energy[200:])  # drop 12 τ of equilibration
    assert md.temperature[200:].mean() == pytest.approx(T, rel=0.02)
    setup = setup_system("jbb", step=0.12)
    mc = SwapMC(frame, setup.potential, T, setup.moves, seed=3)
    mc.sweeps(300)
    m_mc, e_mc, _ = mean_error(mc.sweeps(6000) / 129)
    sigma = math.hypot(e_md, e_mc)
    assert sigma < 0.03  # enough statistics to resolve a 0.1 T shift (dE/dT ≈ 1 per particle)
    assert abs(m_md - m_mc) < 4 * sigma, (m_md, e_md, m_mc, e_mc)


def test_hybrid_md_swap_conserves_composition(table_dir):
    system = get_system("jbb")
    frame = system.initial_frame(129, None, seed=1)
    res = run_hybrid_md_swap(system, frame, 1.0, 3000, swap_every=50, dt=0.003, seed=7,
                             lammps_kwargs={"table_dir": table_dir})
    assert np.array_equal(np.bincount(res.frame.types, minlength=3), np.bincount(frame.types, minlength=3))
    assert set(res.swaps) == {"A-C", "B-C"}
    for st in res.swaps.values():
        assert st["attempts"] == 60 * 12 and 0 < st["accepted"] < st["attempts"]
    assert np.array_equal(res.frame.ids, frame.ids)
    assert (res.frame.types != frame.types).sum() > 0
    # the LAMMPS energy of the final state equals our kernel's (the table is accurate to ~1e-9)
    e = energy_forces(res.frame, system.potential()).energy / 129
    assert res.potential_energy[-1] == pytest.approx(e, rel=1e-6)


def test_swap_commands():
    cmds = swap_fix_commands([(0, 2), (1, 2)], 0.4, 100, 13, seed=5)
    assert cmds == ["fix swap0 all atom/swap 100 13 5 0.4 ke yes semi-grand no types 1 3",
                    "fix swap1 all atom/swap 100 13 6 0.4 ke yes semi-grand no types 2 3"]
    block = hybrid_commands(2, 0.4, [(0, 2)], swap_every=10, swap_attempts=3, seed=9)
    assert "fix twod all enforce2d" in block and block[-1].startswith("fix swap0 all atom/swap 10 3 11 0.4")
    with pytest.raises(ValueError, match="diameters"):
        run_hybrid_md_swap(get_system("polydisperse"), get_system("polydisperse").initial_frame(10), 1.0, 10)
    with pytest.raises(ValueError, match="'berendsen'"):
        hybrid_commands(3, 1.0, [], thermostat="berendsen")
