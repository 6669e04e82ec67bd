"""Swap Monte Carlo moves between OpenMM MD segments, through the per-particle parameters of the System.

``OpenMMSwap(sim, system, frame, temperature, moves)``: each :meth:`~OpenMMSwap.sweeps` call reads the
current positions from the OpenMM Context, runs ``n`` sweeps (N attempts each) of type swaps (KA, JBB,
Wahnström) or diameter swaps (polydisperse) with glassfix's numba swap engine (:class:`glassfix.mc.SwapMC`,
Metropolis with symmetric proposals, hence detailed balance; its pair kernel is the numba reference
the OpenMM forces equal), and writes the accepted types/diameters back into the nonbonded force's
per-particle parameters with a single ``updateParametersInContext`` — batched, so a sweep costs one
O(N) Context update however many swaps it accepted. Positions are not moved (swap-only move set), and
velocities are kept: swaps are allowed only between particles of equal mass, so the kinetic energy and
the Maxwell–Boltzmann distribution are untouched and MD + swaps samples the canonical ensemble.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glassfix.core.frame import Frame

__all__ = ["OpenMMSwap"]


class OpenMMSwap:
    """Swap moves on the OpenMM Simulation ``sim`` built by ``make_simulation(system, frame, ...)``.

    ``temperature``: T* of the Metropolis rule (ε_AA/k_B); ``moves``: a swap-only
    :class:`~glassfix.mc.engine.MoveSet` (default: every pair of equal-mass types, or diameter swaps for
    a polydisperse system); ``seed``: the swap chain's seed. ``types`` and ``diameters`` hold the current
    per-particle state (also kept in the Context).
    """

    def __init__(self, sim, system: Any, frame: Frame, temperature: float, moves=None, seed: int = 0) -> None:
        import openmm as mm

        from glassfix.mc.engine import MoveSet
        from glassfix.systems.polydisperse import Polydisperse

        self.sim = sim
        self.system = system
        self.temperature = float(temperature)
        self.seed = int(seed)
        self.dim = frame.dim
        self.species = frame.species
        self.polydisperse = isinstance(system, Polydisperse)
        self.types = np.asarray(frame.types, dtype=np.int64).copy()
        self.diameters = (np.asarray(frame.metadata["diameters"], dtype=np.float64).copy()
                          if self.polydisperse else None)
        masses = np.asarray(system.masses, dtype=np.float64)
        if moves is None:
            if self.polydisperse:
                moves = MoveSet(diameter_swap=1.0)
            else:
                pairs = [(a, b) for a in range(len(masses)) for b in range(a + 1, len(masses))
                         if masses[a] == masses[b] and (self.types == a).any() and (self.types == b).any()]
                if not pairs:
                    raise ValueError(f"{system.name}: no two species of equal mass to swap")
                moves = MoveSet(swaps=tuple((a, b, 1.0 / len(pairs)) for a, b in pairs))
        if moves.p_displacement > 1e-12:
            raise ValueError(f"OpenMMSwap takes swap-only move sets (displacements are MD's job); this one "
                             f"displaces with probability {moves.p_displacement:g}")
        for a, b, _ in moves.swaps:
            if masses[a] != masses[b]:
                raise ValueError(f"swapping types {a} and {b} of masses {masses[a]} and {masses[b]} would change "
                                 "the kinetic energy; only equal-mass swaps are supported")
        self.moves = moves
        forces = [f for f in sim.system.getForces() if isinstance(f, mm.CustomNonbondedForce)]
        if len(forces) != 1:
            raise ValueError("OpenMMSwap needs a System from glassfix.engines.openmm.build_system")
        self.force = forces[0]
        self.chunk = 0
        self.attempts = 0
        self.accepted = 0

    def _frame(self) -> Frame:
        st = self.sim.context.getState(getPositions=True, enforcePeriodicBox=True)
        pos = np.asarray(st.getPositions(asNumpy=True)._value, dtype=np.float64)[:, :self.dim]
        box = np.asarray(st.getPeriodicBoxVectors(asNumpy=True)._value, dtype=np.float64)[:self.dim, :self.dim]
        return Frame(positions=pos, types=self.types.copy(), cell=box, species=self.species)

    def sweeps(self, n_sweeps: int = 1) -> int:
        """Run ``n_sweeps`` × N swap attempts on the current positions; update the Context once. Returns the
        number of accepted swaps."""
        from glassfix.mc.engine import SwapMC

        mc = SwapMC(self._frame(), self.system.potential(), self.temperature, self.moves,
                    seed=self.seed + 7919 * self.chunk, diameters=self.diameters)
        mc.sweeps(int(n_sweeps), check_energy=False)
        self.chunk += 1
        att, acc = int(mc.attempts.sum()), int(mc.accepted.sum())
        self.attempts += att
        self.accepted += acc
        if acc:
            if self.polydisperse:
                self.diameters = mc.diameters.copy()
                for i, d in enumerate(self.diameters):
                    self.force.setParticleParameters(i, [float(d)])
            else:
                self.types = mc.types.copy()
                for i, t in enumerate(self.types):
                    self.force.setParticleParameters(i, [float(t)])
            self.force.updateParametersInContext(self.sim.context)
        return acc

    @property
    def acceptance(self) -> float:
        """Accepted / attempted swaps so far (NaN before the first sweep)."""
        return self.accepted / self.attempts if self.attempts else float("nan")

    def to_frame(self) -> Frame:
        """The current configuration with its types (and ``metadata["diameters"]``)."""
        f = self._frame()
        if self.polydisperse:
            f.metadata["diameters"] = self.diameters.copy()
        return f
