"""The 3D Kob–Andersen binary Lennard-Jones mixture (80:20).

Source: W. Kob and H. C. Andersen, "Testing mode-coupling theory for a supercooled binary
Lennard-Jones mixture: The van Hove correlation function", Phys. Rev. E 51, 4626 (1995)
(and PRL 73, 1376 (1994)). Parameters as quoted in Cubuk's thesis ch. 5/6
(see ``shared/science/002_cubuk.md`` §1.4):

    ε_AA = 1.0, ε_AB = 1.5, ε_BB = 0.5,  σ_AA = 1.0, σ_AB = 0.8, σ_BB = 0.88,  m_A = m_B = 1,

LJ reduced units (lengths σ_AA, energies ε_AA, time τ = sqrt(m σ_AA² / ε_AA), k_B = 1).
Standard state point ρ = N/V = 1.2.

Cutoff: the thesis says "2.5 σ_AA, smoothed so that the force varies continuously" without the form;
we follow standard KA and cut each pair at ``rc_factor · σ_αβ`` (2.5 σ_αβ: 2.5, 2.0, 2.2), and the
default smoothing is LAMMPS ``lj/smooth/linear`` (force-shifted LJ):

    E(r) = LJ(r) − LJ(r_c) − (r − r_c) · LJ'(r_c)   for r < r_c, 0 beyond,

so both energy and force vanish continuously at r_c. The alternatives are ``"truncated-shifted"``
(``lj/cut`` + ``pair_modify shift yes``: energy continuous, force jumps) and ``"truncated"``
(plain ``lj/cut``, the original 1995 definition). LAMMPS type 1 = A (0-based type 0), 2 = B.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from glassfix.core.frame import Frame

CUTOFF_STYLES = ("lj/smooth/linear", "truncated-shifted", "truncated")


@dataclass(frozen=True)
class KobAndersen3D:
    """3D Kob–Andersen 80:20 mixture; see the module docstring for parameters and sources.

    ``cutoff_style``: ``"lj/smooth/linear"`` (default), ``"truncated-shifted"`` or ``"truncated"``;
    ``rc_factor``: pair cutoff in units of σ_αβ (2.5 = standard KA).
    """

    cutoff_style: str = "lj/smooth/linear"
    rc_factor: float = 2.5

    name = "ka3d"
    dim = 3
    species = ("A", "B")
    fractions = (0.8, 0.2)
    masses = (1.0, 1.0)
    #: ε_αβ and σ_αβ indexed by 0-based types (A = 0, B = 1)
    epsilon = ((1.0, 1.5), (1.5, 0.5))
    sigma = ((1.0, 0.8), (0.8, 0.88))
    default_density = 1.2

    def __post_init__(self) -> None:
        if self.cutoff_style not in CUTOFF_STYLES:
            raise ValueError(f"cutoff_style must be one of {CUTOFF_STYLES}, got {self.cutoff_style!r}")
        if not self.rc_factor > 0:
            raise ValueError(f"rc_factor must be positive, got {self.rc_factor}")

    # ------------------------------------------------------------------ potential
    def epsilon_matrix(self) -> np.ndarray:
        """(2, 2) ε_αβ in ε_AA."""
        return np.array(self.epsilon, dtype=np.float64)

    def sigma_matrix(self) -> np.ndarray:
        """(2, 2) σ_αβ in σ_AA."""
        return np.array(self.sigma, dtype=np.float64)

    def cutoff_matrix(self) -> np.ndarray:
        """(2, 2) pair cutoffs r_c,αβ = rc_factor · σ_αβ (σ_AA units)."""
        return self.rc_factor * self.sigma_matrix()

    @property
    def max_cutoff(self) -> float:
        """Largest pair cutoff (σ_AA units)."""
        return float(self.cutoff_matrix().max())

    def pair_energy(self, r: np.ndarray, ti: np.ndarray, tj: np.ndarray) -> np.ndarray:
        """Pair energy (ε_AA) at distance(s) ``r`` between 0-based types ``ti`` and ``tj`` (numpy reference)."""
        r = np.asarray(r, dtype=np.float64)
        eps = self.epsilon_matrix()[ti, tj]
        sig = self.sigma_matrix()[ti, tj]
        rc = self.cutoff_matrix()[ti, tj]

        def lj(x):
            s6 = (sig / x) ** 6
            return 4.0 * eps * (s6 * s6 - s6)

        def dlj(x):
            s6 = (sig / x) ** 6
            return 4.0 * eps * (-12.0 * s6 * s6 + 6.0 * s6) / x

        e = lj(r)
        if self.cutoff_style == "lj/smooth/linear":
            e = e - lj(rc) - (r - rc) * dlj(rc)
        elif self.cutoff_style == "truncated-shifted":
            e = e - lj(rc)
        return np.where(r < rc, e, 0.0)

    def lammps_commands(self) -> list[str]:
        """pair_style / pair_coeff / (pair_modify) / mass commands; issue after ``create_box`` or ``read_data``."""
        rc = self.cutoff_matrix()
        eps, sig = self.epsilon, self.sigma
        style = "lj/smooth/linear" if self.cutoff_style == "lj/smooth/linear" else "lj/cut"
        cmds = [f"pair_style {style} {self.max_cutoff:.16g}"]
        for i, j in ((0, 0), (0, 1), (1, 1)):
            cmds.append(
                f"pair_coeff {i + 1} {j + 1} {eps[i][j]:.16g} {sig[i][j]:.16g} {rc[i, j]:.16g}"
            )
        if self.cutoff_style == "truncated-shifted":
            cmds.append("pair_modify shift yes")
        for t, m in enumerate(self.masses):
            cmds.append(f"mass {t + 1} {m:.16g}")
        return cmds

    # ------------------------------------------------------------------ composition and box
    def counts(self, n: int) -> tuple[int, int]:
        """Exact (N_A, N_B) with N_A = round(0.8 N)."""
        n = int(n)
        if n < 1:
            raise ValueError(f"n must be positive, got {n}")
        n_a = int(math.floor(self.fractions[0] * n + 0.5))
        return n_a, n - n_a

    def box_length(self, n: int, density: float = 1.2) -> float:
        """Edge L of the cubic box holding ``n`` atoms at number density ``density``: L = (n/ρ)^(1/3)."""
        if not density > 0:
            raise ValueError(f"density must be positive, got {density}")
        return float((n / density) ** (1.0 / 3.0))

    def initial_lammps_commands(self, n: int, density: float = 1.2, seed: int = 12345,
                                overlap: float = 0.6, maxtry: int = 1000) -> list[str]:
        """Commands creating a cubic periodic box with ``n`` random atoms, exactly N_A of type 1 (A).

        Atoms are inserted at random with a minimum separation ``overlap`` (σ_AA) and then exactly
        N_B = n − round(0.8 n) random atoms are switched to type 2 (``set ... type/subset``). The
        configuration still has large forces: minimise (or use ``fix nve/limit``) before MD.
        The interaction commands (:meth:`lammps_commands`) must follow. ``seed`` must be a positive
        integer (LAMMPS requirement); the type draw uses ``seed + 1``.
        """
        seed = int(seed)
        if seed <= 0:
            raise ValueError("LAMMPS seeds must be positive integers")
        _, n_b = self.counts(n)
        L = self.box_length(n, density)
        cmds = [
            "units lj",
            "dimension 3",
            "atom_style atomic",
            "boundary p p p",
            f"region box block 0 {L:.16g} 0 {L:.16g} 0 {L:.16g}",
            "create_box 2 box",
            f"create_atoms 1 random {int(n)} {seed} box overlap {overlap:.16g} maxtry {int(maxtry)}",
        ]
        if n_b > 0:
            cmds.append(f"set type 1 type/subset 2 {n_b} {seed + 1}")
        return cmds

    def initial_frame(self, n: int, density: float = 1.2, seed: int = 0) -> Frame:
        """Offline starting frame: ``n`` atoms on a simple-cubic grid (m³ ≥ n sites, a random subset
        of sites when m³ > n) in a cubic box at ``density``, types shuffled with exactly N_A = round(0.8 n)
        A atoms (0-based type 0) and N_B B atoms (type 1). Ids are 1..n."""
        rng = np.random.default_rng(seed)
        n_a, n_b = self.counts(n)
        L = self.box_length(n, density)
        m = int(math.ceil(round(n ** (1.0 / 3.0), 9)))
        while m ** 3 < n:
            m += 1
        grid = np.indices((m, m, m)).reshape(3, -1).T.astype(np.float64)
        sites = grid if m ** 3 == n else grid[np.sort(rng.choice(m ** 3, size=n, replace=False))]
        positions = (sites + 0.5) * (L / m)
        types = np.concatenate([np.zeros(n_a, dtype=np.int64), np.ones(n_b, dtype=np.int64)])
        rng.shuffle(types)
        return Frame(
            positions=positions, types=types, cell=np.eye(3) * L, species=self.species,
            metadata={"system": self.name, "density": float(density), "cutoff_style": self.cutoff_style,
                      "rc_factor": float(self.rc_factor)},
        )
