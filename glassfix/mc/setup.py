"""A model glass former prepared for swap Monte Carlo: its pair potential and its swap moves.

Units: LJ reduced units (σ_AA, ε_AA). Shared by the equilibration ladder and the LAMMPS hybrid
MD + swap driver, which both need the same allowed swaps for a system.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from glassfix.core.frame import Frame
from glassfix.mc.engine import MoveSet, binary_swap_moves, jbb_moves, polydisperse_moves
from glassfix.systems.potentials import SOFT_POLY, PairPotential

__all__ = ["SystemSetup", "setup_system"]


# ============================================================================== systems
@dataclass
class SystemSetup:
    """A registered system with its potential and swap moves; ``frame()`` makes starting configurations."""

    name: str
    system: Any
    potential: PairPotential
    moves: MoveSet

    @property
    def polydisperse(self) -> bool:
        """True for continuously polydisperse (diameter-swap) systems."""
        return self.potential.kind == SOFT_POLY

    def frame(self, n: int, density: float | None, seed: int) -> tuple[Frame, np.ndarray | None]:
        """A starting (grid) frame of ``n`` particles and its diameters (None for discrete mixtures)."""
        f = self.system.initial_frame(n, density, seed=seed)
        diam = f.metadata.get("diameters")
        if self.polydisperse and diam is None:
            raise ValueError(f"system {self.name!r} gave no diameters in its initial frame metadata")
        return f, (None if diam is None else np.asarray(diam, dtype=np.float64))


def setup_system(name: str, p_swap: float | None = None, step: float | None = None,
                 **system_kwargs: Any) -> SystemSetup:
    """System ``name`` (``glassfix.systems.get_system``) with its swap moves (defaults: 001_jung.md §2.2 for
    JBB; p_swap = 0.1 A↔B for binary mixtures and 0.2 diameter swaps for polydisperse [PROP]; σ_δ = 0.05)."""
    from glassfix.systems import get_system

    system = get_system(name, **system_kwargs)
    if not hasattr(system, "potential"):
        raise ValueError(f"system {name!r} has no pair potential for swap MC")
    if system.name == "kremergrest":
        raise ValueError("the Kremer–Grest polymer is bonded: swap MC of this engine handles pair potentials only")
    potential = system.potential()
    st = 0.05 if step is None else float(step)
    key = system.name
    n_species = len(system.species)
    if potential.kind == SOFT_POLY:
        moves = polydisperse_moves(0.2 if p_swap is None else p_swap, st)
    elif key == "jbb":
        moves = jbb_moves(0.2 if p_swap is None else p_swap, st)
    elif n_species == 2:
        moves = binary_swap_moves(0.1 if p_swap is None else p_swap, st)
    elif n_species > 2:
        pairs = [(a, b) for a in range(n_species) for b in range(a + 1, n_species)]
        p = (0.2 if p_swap is None else p_swap) / len(pairs)
        moves = MoveSet(step=st, swaps=tuple((a, b, p) for a, b in pairs))
    else:
        raise ValueError(f"system {name!r} has a single species and no diameters: nothing to swap")
    return SystemSetup(name=key, system=system, potential=potential, moves=moves)
