"""The 2D Kob–Andersen binary Lennard-Jones mixture (65:35), "KA2D".

Sources: the KA parameters of W. Kob and H. C. Andersen, Phys. Rev. E 51, 4626 (1995) with the 2D
composition 65:35 of R. Brüning, D. A. St-Onge, S. Patterson, W. Kob, J. Phys.: Condens. Matter 21,
035117 (2009); it is the "standard 2D KA" that the JBB ternary generalises
(``shared/science/001_jung.md`` §1.1–1.2) and the KA2D of the GlassBench roadmap (arXiv:2311.14752):

    ε_AA = 1.0, ε_AB = 1.5, ε_BB = 0.5,  σ_AA = 1.0, σ_AB = 0.8, σ_BB = 0.88,  m_A = m_B = 1,
    N_A : N_B = 65 : 35 (= 13 : 7, exact by largest remainder),  ρ = N/A = 1.2.

Cutoff: r_c = 2.5 σ_αβ, LJ truncated and shifted (``"truncated-shifted"``, the default) as in Brüning
et al. and in ParticlesMC's ``KobAndersen`` model (the code behind the JBB data). The GlassBench KA2D
data may use a different smoothing; that is not documented in our sources [uncertain]. Every cutoff
convention of :mod:`glassfix.systems.lj` is selectable. LJ reduced units; LAMMPS ``dimension 2``
(use ``fix enforce2d`` in MD); type 1 = A, 2 = B.
"""

from __future__ import annotations

from dataclasses import dataclass

from glassfix.systems.lj import LJMixture

__all__ = ["KobAndersen2D"]


@dataclass(frozen=True)
class KobAndersen2D(LJMixture):
    """2D Kob–Andersen 65:35 mixture at ρ = 1.2; see the module docstring. Cutoff fields as KobAndersen3D."""

    cutoff_style: str = "truncated-shifted"

    name = "ka2d"
    dim = 2
    species = ("A", "B")
    ratio = (13, 7)
    fractions = (0.65, 0.35)
    masses = (1.0, 1.0)
    epsilon = ((1.0, 1.5), (1.5, 0.5))
    sigma = ((1.0, 0.8), (0.8, 0.88))
    default_density = 1.2
