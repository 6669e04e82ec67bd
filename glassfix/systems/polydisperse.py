"""Continuously polydisperse, non-additive soft spheres for swap Monte Carlo (Ninarello–Berthier–Coslovich).

Source: A. Ninarello, L. Berthier, D. Coslovich, "Models and algorithms for the next generation of glass
transition studies", Phys. Rev. X 7, 021039 (2017) (NBC); 2D variant: L. Berthier, P. Charbonneau,
A. Ninarello, M. Ozawa, S. Yaida, Nat. Commun. 10, 1508 (2019).

    V(r_ij) = ε [(σ_ij/r_ij)^12 + c0 + c2 (r_ij/σ_ij)^2 + c4 (r_ij/σ_ij)^4]   for r_ij < x_c σ_ij, else 0
    σ_ij = (σ_i + σ_j)/2 · (1 − ε_na |σ_i − σ_j|)            (non-additive mixing)
    c0 = −28/x_c^12, c2 = 48/x_c^14, c4 = −21/x_c^16          (V, V′, V″ vanish at x_c; computed exactly)
    ε = 1, ε_na = 0.2, x_c = 1.25, all masses 1
    P(σ) ∝ σ^−3 on [σ_min, σ_max], σ_min/σ_max = 0.449, mean diameter ⟨σ⟩ = 1
      → σ_min = (1 + 0.449)/2 = 0.7245, σ_max = σ_min/0.449 = 1.6136 (NBC quote 0.73 and 1.62)
    ρ = N/V = 1.02 (3D, NBC). 2D: ρ = 1.0 — Berthier et al. 2019 [uncertain: quoted from the brief,
    not checked against the paper; pass ``density=`` to override].

Diameters are drawn deterministically: σ_k = F⁻¹((k + ½)/N) (midpoint quantiles of P), then scaled by
1/mean so that the sample mean is exactly 1 (the scale differs from 1 by O(1/N); the ratio
σ_min/σ_max and the shape are untouched); a seed only permutes them over the sites.

LAMMPS realisation: LAMMPS has no built-in per-particle-diameter, non-additive soft polynomial pair
style, but the LEPTON package's ``pair_style lepton/sphere`` evaluates an arbitrary expression of r and
the two per-atom radii (``radi``, ``radj``) with analytic derivatives, so no plugin is needed:
``atom_style sphere`` (diameter per atom, mass set to 1 by ``set group all mass 1``), the expression
above with σ_ij = (radi + radj)(1 − ε_na |2 radi − 2 radj|) and a ``step(x_c σ_ij − r)`` cutoff, and a
global cutoff x_c σ_max. It agrees with the numba kernel to round-off. Use ``fix nve`` (not
``nve/sphere``): the particles carry no torques, and the temperature is translational. Swap moves of
diameters need the numba engine (``glassfix.mc``) — LAMMPS' ``fix atom/swap`` exchanges types, not
diameters.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from glassfix.core.atomic import atomic_write_text
from glassfix.core.cell import cell_to_lammps_box
from glassfix.core.frame import Frame
from glassfix.systems.base import cube_box_length, grid_positions, system_metadata
from glassfix.systems.potentials import (EnergyForces, PairPotential, energy_forces,
                                         smooth_polynomial_coefficients, soft_poly_potential)

__all__ = ["Polydisperse"]


@dataclass(frozen=True)
class Polydisperse:
    """NBC continuously polydisperse soft-sphere model; see the module docstring for parameters and sources.

    ``dim`` (2 or 3), ``epsilon`` (ε_AA), ``nonadditivity`` ε_na, ``xc`` (cutoff in σ_ij),
    ``size_ratio`` σ_min/σ_max.
    """

    dim: int = 3
    epsilon: float = 1.0
    nonadditivity: float = 0.2
    xc: float = 1.25
    size_ratio: float = 0.449

    name = "polydisperse"
    species = ("P",)
    ratio = (1,)
    fractions = (1.0,)
    masses = (1.0,)
    cutoff_style = "smooth-polynomial"

    def __post_init__(self) -> None:
        if self.dim not in (2, 3):
            raise ValueError(f"dim must be 2 or 3, got {self.dim}")
        if not 0 < self.size_ratio < 1:
            raise ValueError(f"size_ratio σ_min/σ_max must lie in (0, 1), got {self.size_ratio}")
        # soft_poly_potential validates ε, x_c and ε_na
        soft_poly_potential(self.epsilon, self.nonadditivity, self.xc)

    @property
    def default_density(self) -> float:
        """ρ = 1.02 in 3D (NBC 2017), 1.0 in 2D (Berthier et al. 2019)."""
        return 1.02 if self.dim == 3 else 1.0

    # ------------------------------------------------------------------ diameters
    def sigma_bounds(self) -> tuple[float, float]:
        """(σ_min, σ_max) of P(σ) ∝ σ^−3 with mean 1: σ_min = (1 + r)/2, σ_max = σ_min / r, r = size_ratio."""
        smin = 0.5 * (1.0 + self.size_ratio)
        return smin, smin / self.size_ratio

    def diameter_pdf(self, sigma: np.ndarray) -> np.ndarray:
        """Normalised P(σ) (1/σ_AA) at ``sigma``."""
        smin, smax = self.sigma_bounds()
        s = np.asarray(sigma, dtype=np.float64)
        a = 2.0 / (smin ** -2 - smax ** -2)
        return np.where((s >= smin) & (s <= smax), a * s ** -3.0, 0.0)

    def diameters(self, n: int, seed: int | None = None) -> np.ndarray:
        """``n`` diameters (σ_AA): midpoint quantiles of P(σ) scaled to mean exactly 1, permuted by ``seed``."""
        n = int(n)
        if n < 1:
            raise ValueError(f"n must be positive, got {n}")
        smin, smax = self.sigma_bounds()
        u = (np.arange(n) + 0.5) / n
        # inverse of F(σ) = (σ_min^−2 − σ^−2)/(σ_min^−2 − σ_max^−2)
        sig = (smin ** -2 - u * (smin ** -2 - smax ** -2)) ** -0.5
        sig /= sig.mean()
        if seed is not None:
            sig = np.random.default_rng(seed).permutation(sig)
        return sig

    # ------------------------------------------------------------------ potential
    def polynomial_coefficients(self) -> tuple[float, float, float]:
        """(c0, c2, c4) of the smoothing polynomial (units of ε)."""
        return smooth_polynomial_coefficients(self.xc)

    def pair_sigma(self, di: np.ndarray, dj: np.ndarray) -> np.ndarray:
        """Non-additive σ_ij = (σ_i + σ_j)/2 (1 − ε_na |σ_i − σ_j|) (σ_AA)."""
        di, dj = np.asarray(di, dtype=np.float64), np.asarray(dj, dtype=np.float64)
        return 0.5 * (di + dj) * (1.0 - self.nonadditivity * np.abs(di - dj))

    def pair_energy_force(self, r: np.ndarray, di: np.ndarray, dj: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray]:
        """(V (ε_AA), −dV/dr (ε_AA/σ_AA)) at ``r`` between diameters ``di``, ``dj`` (numpy reference)."""
        r = np.asarray(r, dtype=np.float64)
        s = self.pair_sigma(di, dj)
        c0, c2, c4 = self.polynomial_coefficients()
        x = r / s
        e = self.epsilon * (x ** -12 + c0 + c2 * x ** 2 + c4 * x ** 4)
        f = self.epsilon * (12.0 * x ** -13 - 2.0 * c2 * x - 4.0 * c4 * x ** 3) / s
        inside = x < self.xc
        return np.where(inside, e, 0.0), np.where(inside, f, 0.0)

    def pair_curvature(self, r: np.ndarray, di: float, dj: float) -> np.ndarray:
        """V″(r) (ε_AA/σ_AA²) inside the cutoff (continuity check at x_c)."""
        s = self.pair_sigma(di, dj)
        c0, c2, c4 = self.polynomial_coefficients()
        x = np.asarray(r, dtype=np.float64) / s
        return self.epsilon * (156.0 * x ** -14 + 2.0 * c2 + 12.0 * c4 * x ** 2) / s ** 2

    @property
    def max_cutoff(self) -> float:
        """Largest interaction range x_c max σ_ij (σ_AA): x_c σ_max for ε_na ≥ 0 (σ_ij ≤ σ_max); a negative
        ε_na widens σ_ij by at most 1 + |ε_na| (σ_max − σ_min)."""
        smin, smax = self.sigma_bounds()
        return float(self.xc * smax * (1.0 + max(-self.nonadditivity, 0.0) * (smax - smin)))

    def potential(self) -> PairPotential:
        """The numba :class:`~glassfix.systems.potentials.PairPotential` (kind ``SOFT_POLY``)."""
        return soft_poly_potential(self.epsilon, self.nonadditivity, self.xc,
                                   max_diameter=self.max_cutoff / self.xc)

    def energy_forces(self, frame: Frame) -> EnergyForces:
        """Numba energy (ε), forces and virial with the diameters in ``frame.metadata["diameters"]``."""
        if "diameters" not in frame.metadata:
            raise ValueError("polydisperse frame has no metadata['diameters']")
        return energy_forces(frame, self.potential(), diameters=frame.metadata["diameters"])

    # ------------------------------------------------------------------ LAMMPS
    def lammps_expression(self) -> str:
        """The ``lepton/sphere`` expression of V(r, radi, radj) (σ_ij from the radii, step-function cutoff)."""
        c0, c2, c4 = self.polynomial_coefficients()
        return (f"step(xc*sij-r)*eps*((sij/r)^12+c0+c2*(r/sij)^2+c4*(r/sij)^4); "
                f"sij=(radi+radj)*(1-na*abs(2*radi-2*radj)); eps={self.epsilon:.17g}; xc={self.xc:.17g}; "
                f"na={self.nonadditivity:.17g}; c0={c0:.17g}; c2={c2:.17g}; c4={c4:.17g}")

    def lammps_header_commands(self) -> list[str]:
        """``units``/``dimension``/``atom_style sphere``/``boundary`` — what must precede ``read_data``."""
        return ["units lj", f"dimension {self.dim}", "atom_style sphere", "boundary p p p"]

    def lammps_commands(self) -> list[str]:
        """``pair_style lepton/sphere`` + masses; needs ``atom_style sphere`` and must follow ``read_data``."""
        rc = self.max_cutoff
        return [f"pair_style lepton/sphere {rc:.16g}",
                f'pair_coeff 1 1 "{self.lammps_expression()}" {rc:.16g}',
                # atom_style sphere derives per-atom masses from diameter and density; the model has m = 1
                "set group all mass 1.0"]

    # ------------------------------------------------------------------ configurations
    def counts(self, n: int) -> tuple[int]:
        """(n,) — a single particle type."""
        n = int(n)
        if n < 1:
            raise ValueError(f"n must be positive, got {n}")
        return (n,)

    def box_length(self, n: int, density: float | None = None) -> float:
        """Edge L = (n/ρ)^(1/d) (σ_AA) of the square/cubic box."""
        return cube_box_length(n, self.default_density if density is None else density, self.dim)

    def initial_frame(self, n: int, density: float | None = None, seed: int = 0) -> Frame:
        """Offline starting frame on a square/cubic grid; diameters in ``metadata["diameters"]`` (mean 1)."""
        rho = self.default_density if density is None else float(density)
        rng = np.random.default_rng(seed)
        L = self.box_length(n, rho)
        positions = grid_positions(int(n), L, self.dim, rng)
        diam = self.diameters(n, seed=int(rng.integers(2 ** 31)))
        return Frame(positions=positions, types=np.zeros(int(n), dtype=np.int64), cell=np.eye(self.dim) * L,
                     species=self.species,
                     metadata={**system_metadata(self, rho), "diameters": diam})

    def write_data(self, frame: Frame, path: str | os.PathLike[str]) -> Path:
        """Write an ``atom_style sphere`` data file (diameter per atom; density chosen so that m = 1 in 3D)."""
        path = Path(path)
        if "diameters" not in frame.metadata:
            raise ValueError("polydisperse frame has no metadata['diameters']")
        diam = np.asarray(frame.metadata["diameters"], dtype=np.float64)
        d = frame.dim
        cell3 = np.eye(3)
        cell3[:d, :d] = frame.cell
        origin3 = np.array([0.0, 0.0, -0.5])
        origin3[:d] = frame.origin
        box = cell_to_lammps_box(cell3, origin3)
        pos3 = np.zeros((frame.n_atoms, 3))
        pos3[:, :d] = frame.positions
        dens = 1.0 / (np.pi / 6.0 * diam ** 3)  # LAMMPS: mass = density · (π/6) d³; reset by lammps_commands
        out = [f"LAMMPS data file: NBC polydisperse soft spheres (glassfix), {d}D\n\n",
               f"{frame.n_atoms} atoms\n1 atom types\n\n"]
        for a, name in enumerate("xyz"):
            out.append(f"{box['lo'][a]:.17g} {box['hi'][a]:.17g} {name}lo {name}hi\n")
        if box["xy"] or box["xz"] or box["yz"]:
            out.append(f"{box['xy']:.17g} {box['xz']:.17g} {box['yz']:.17g} xy xz yz\n")
        out.append("\nAtoms # sphere\n\n")
        out.extend(f"{frame.ids[i]} {frame.types[i] + 1} {diam[i]:.17g} {dens[i]:.17g} "
                   f"{pos3[i, 0]:.17g} {pos3[i, 1]:.17g} {pos3[i, 2]:.17g}\n" for i in range(frame.n_atoms))
        atomic_write_text(path, "".join(out))
        return path

    def initial_lammps_commands(self, n: int, density: float | None = None, seed: int = 0,
                                data_path: str | os.PathLike[str] | None = None) -> list[str]:
        """Write :meth:`initial_frame` to ``data_path`` (default ``polydisperse_N{n}_rho{ρ}_seed{seed}.data``
        in the current directory) and return the commands reading it (``atom_style sphere``);
        :meth:`lammps_commands` must follow."""
        if data_path is None:
            # one name per (N, ρ, seed): concurrent runs of the same start write identical files
            rho = self.default_density if density is None else float(density)
            data_path = f"{self.name}_N{int(n)}_rho{rho:g}_seed{int(seed)}.data"
        path = self.write_data(self.initial_frame(n, density, seed), data_path).resolve()
        if any(c.isspace() for c in str(path)):
            raise ValueError(f"LAMMPS cannot read a data path containing whitespace: {path}")
        return self.lammps_header_commands() + [f"read_data {path}"]
