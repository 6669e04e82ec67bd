"""The 3D Kob–Andersen binary Lennard-Jones mixture (80:20).

Source: W. Kob and H. C. Andersen, "Testing mode-coupling theory for a supercooled binary
Lennard-Jones mixture: The van Hove correlation function", Phys. Rev. E 51, 4626 (1995)
(and PRL 73, 1376 (1994)). Parameters as quoted in Cubuk's thesis ch. 5/6
(see ``shared/science/002_cubuk.md`` §1.4):

    ε_AA = 1.0, ε_AB = 1.5, ε_BB = 0.5,  σ_AA = 1.0, σ_AB = 0.8, σ_BB = 0.88,  m_A = m_B = 1,

LJ reduced units (lengths σ_AA, energies ε_AA, time τ = sqrt(m σ_AA² / ε_AA), k_B = 1).
Standard state point ρ = N/V = 1.2; composition N_A = round(0.8 N) exactly.

Cutoff: the thesis says "2.5 σ_AA, smoothed so that the force varies continuously" without the form;
we follow standard KA and cut each pair at ``rc_factor · σ_αβ`` (2.5 σ_αβ: 2.5, 2.0, 2.2), and the
default smoothing is LAMMPS ``lj/smooth/linear`` (force-shifted LJ):

    E(r) = LJ(r) − LJ(r_c) − (r − r_c) · LJ'(r_c)   for r < r_c, 0 beyond,

so both energy and force vanish continuously at r_c. The alternatives are ``"truncated-shifted"``
(``lj/cut`` + ``pair_modify shift yes``: energy continuous, force jumps), ``"truncated"``
(plain ``lj/cut``, the original 1995 definition) and ``"lj/smooth"`` (the ACE paper's "smoothly
interpolated to zero between 2.2 and 2.5", ``shared/science/000_ace.md`` §1.1: ``inner_factor`` 2.2,
``rc_factor`` 2.5, in σ_αβ units by default or absolute with ``cutoff_units="absolute"``; see
:mod:`glassfix.systems.lj`). LAMMPS type 1 = A (0-based type 0), 2 = B.
"""

from __future__ import annotations

from dataclasses import dataclass

from glassfix.systems.lj import CUTOFF_STYLES, CUTOFF_UNITS, LJMixture

__all__ = ["KobAndersen3D", "CUTOFF_STYLES", "CUTOFF_UNITS"]


@dataclass(frozen=True)
class KobAndersen3D(LJMixture):
    """3D Kob–Andersen 80:20 mixture; see the module docstring for parameters and sources.

    ``cutoff_style``: ``"lj/smooth/linear"`` (default), ``"truncated-shifted"``, ``"truncated"`` or
    ``"lj/smooth"``; ``rc_factor``: outer pair cutoff (2.5 = standard KA); ``inner_factor``: inner
    radius of ``lj/smooth``; ``cutoff_units``: ``"sigma"`` (radii × σ_αβ) or ``"absolute"`` (σ_AA).
    """

    name = "ka3d"
    dim = 3
    species = ("A", "B")
    ratio = (4, 1)
    fractions = (0.8, 0.2)
    masses = (1.0, 1.0)
    #: ε_αβ and σ_αβ indexed by 0-based types (A = 0, B = 1)
    epsilon = ((1.0, 1.5), (1.5, 0.5))
    sigma = ((1.0, 0.8), (0.8, 0.88))
    default_density = 1.2
