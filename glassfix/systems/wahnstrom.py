"""The Wahnström binary Lennard-Jones mixture (50:50, m_A = 2 m_B).

Source: G. Wahnström, Phys. Rev. A 44, 3752 (1991); parameters as used by the ACE paper
(``shared/science/000_ace.md`` §1.1):

    ε_AA = ε_AB = ε_BB = 1,  σ_AA = 1, σ_AB = 11/12, σ_BB = 5/6,  m_A = 2, m_B = 1,
    N_A : N_B = 1 : 1,  ρ = N/V = 1.3 (the ACE paper; Wahnström's original state is 1.296).

Which mass is the unit is unspecified in the paper; we take m_B = 1 (so τ = sqrt(m_B σ_AA²/ε)).

Cutoff: the ACE paper's "LJ smoothly interpolated to zero between r = 2.2 and 2.5" — LAMMPS
``lj/smooth`` with ``pair_modify shift yes`` (default ``cutoff_style="lj/smooth"``). Whether 2.2/2.5
are absolute or in units of σ_αβ is not stated; the default multiplies by σ_αβ (the KA convention),
``cutoff_units="absolute"`` selects the other reading. All conventions of :mod:`glassfix.systems.lj`
are available. LJ reduced units; LAMMPS type 1 = A (large, heavy), 2 = B.
"""

from __future__ import annotations

from dataclasses import dataclass

from glassfix.systems.lj import LJMixture

__all__ = ["Wahnstrom"]


@dataclass(frozen=True)
class Wahnstrom(LJMixture):
    """Wahnström 50:50 mixture; see the module docstring. Cutoff fields as KobAndersen3D."""

    cutoff_style: str = "lj/smooth"

    name = "wahnstrom"
    dim = 3
    species = ("A", "B")
    ratio = (1, 1)
    fractions = (0.5, 0.5)
    masses = (2.0, 1.0)
    epsilon = ((1.0, 1.0), (1.0, 1.0))
    sigma = ((1.0, 11.0 / 12.0), (11.0 / 12.0, 5.0 / 6.0))
    default_density = 1.3
