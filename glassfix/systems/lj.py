"""Lennard-Jones mixtures with selectable cutoff conventions (shared by KA3D, KA2D and Wahnström).

V_αβ(r) = 4 ε_αβ [(σ_αβ/r)^12 − (σ_αβ/r)^6] cut at r_c,αβ, with ε_αβ, σ_αβ, masses and composition
given by each system's module. Cutoff conventions (``cutoff_style``), each realised exactly by a
LAMMPS pair style:

``"lj/smooth/linear"``   force-shifted: V − V(r_c) − (r − r_c) V′(r_c); V and F continuous at r_c
                         (LAMMPS ``lj/smooth/linear``).
``"truncated-shifted"``  V − V(r_c): V continuous, F jumps at r_c (``lj/cut`` + ``pair_modify shift yes``).
``"truncated"``          plain V: both jump (``lj/cut``; the original Kob–Andersen 1995 definition).
``"lj/smooth"``          LJ up to r_in; between r_in and r_c the force is the cubic in t = r − r_in that
                         matches the LJ force and its slope at r_in and vanishes with zero slope at r_c;
                         energy its integral, shifted to 0 at r_c (LAMMPS ``lj/smooth`` +
                         ``pair_modify shift yes``). V, F and F′ are continuous everywhere. This is the
                         "smoothly interpolated to zero between 2.2 and 2.5" of the ACE paper
                         (``shared/science/000_ace.md`` §1.1).

Cutoff radii: ``rc_factor`` (outer, default 2.5) and ``inner_factor`` (``lj/smooth`` only, default 2.2)
are multiplied by σ_αβ when ``cutoff_units = "sigma"`` (the Kob–Andersen convention, r_c = 2.5 σ_αβ,
and our reading of the ACE paper, which does not say) or used as they are for every pair when
``cutoff_units = "absolute"`` (the other reading: 2.2 and 2.5 σ_AA for all pairs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from glassfix.systems.base import DiscreteMixture
from glassfix.systems.potentials import PairPotential, lj_potential

CUTOFF_STYLES = ("lj/smooth/linear", "truncated-shifted", "truncated", "lj/smooth")
CUTOFF_UNITS = ("sigma", "absolute")

_KERNEL_STYLE = {"lj/smooth/linear": "force-shifted", "truncated-shifted": "shifted",
                 "truncated": "truncated", "lj/smooth": "smooth-shifted"}


def _lj(r: np.ndarray, eps: np.ndarray, sig: np.ndarray) -> np.ndarray:
    s6 = (sig / r) ** 6
    return 4.0 * eps * (s6 * s6 - s6)


def _lj_force(r: np.ndarray, eps: np.ndarray, sig: np.ndarray) -> np.ndarray:
    """−dLJ/dr."""
    s6 = (sig / r) ** 6
    return 24.0 * eps * (2.0 * s6 * s6 - s6) / r


def _lj_dforce(r: np.ndarray, eps: np.ndarray, sig: np.ndarray) -> np.ndarray:
    """d/dr of −dLJ/dr."""
    s6 = (sig / r) ** 6
    return -24.0 * eps * (26.0 * s6 * s6 - 7.0 * s6) / (r * r)


def smooth_force_coefficients(rin: float, rc: float, eps: float, sig: float) -> np.ndarray:
    """(a0, a1, a2, a3) of the ``lj/smooth`` force a0 + a1 t + a2 t² + a3 t³, t = r − r_in (ε_AA/σ_AA^(k+1)).

    Solved here as the 4×4 system F(0) = F_LJ(r_in), F′(0) = F′_LJ(r_in), F(t_c) = F′(t_c) = 0 —
    deliberately not LAMMPS' closed form, so the numpy reference is independent of the numba kernel.
    """
    tc = rc - rin
    a = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0],
                  [1.0, tc, tc ** 2, tc ** 3], [0.0, 1.0, 2 * tc, 3 * tc ** 2]])
    b = np.array([_lj_force(np.float64(rin), eps, sig), _lj_dforce(np.float64(rin), eps, sig), 0.0, 0.0])
    return np.linalg.solve(a, b)


@dataclass(frozen=True)
class LJMixture(DiscreteMixture):
    """Base of the LJ mixtures (KA 3D, KA 2D, Wahnström): the cutoff fields and everything computed from the
    class attributes ``epsilon``, ``sigma``, ``masses`` (+ the composition attributes of DiscreteMixture).

    Fields: ``cutoff_style`` (one of CUTOFF_STYLES; subclasses change the default), ``rc_factor`` (outer pair
    cutoff), ``inner_factor`` (inner radius of ``lj/smooth``), ``cutoff_units`` (``"sigma"``: radii × σ_αβ,
    or ``"absolute"``: σ_AA).
    """

    cutoff_style: str = "lj/smooth/linear"
    rc_factor: float = 2.5
    inner_factor: float = 2.2
    cutoff_units: str = "sigma"

    epsilon: ClassVar[tuple]
    sigma: ClassVar[tuple]
    masses: ClassVar[tuple]

    def __post_init__(self) -> None:
        self._validate()

    def _validate(self) -> None:
        if self.cutoff_style not in CUTOFF_STYLES:
            raise ValueError(f"cutoff_style must be one of {CUTOFF_STYLES}, got {self.cutoff_style!r}")
        if self.cutoff_units not in CUTOFF_UNITS:
            raise ValueError(f"cutoff_units must be one of {CUTOFF_UNITS}, got {self.cutoff_units!r}")
        if not self.rc_factor > 0:
            raise ValueError(f"rc_factor must be positive, got {self.rc_factor}")
        if self.cutoff_style == "lj/smooth" and not 0 < self.inner_factor < self.rc_factor:
            raise ValueError(f"lj/smooth needs 0 < inner_factor < rc_factor, got inner_factor="
                             f"{self.inner_factor}, rc_factor={self.rc_factor}")

    # ------------------------------------------------------------------ parameters
    def epsilon_matrix(self) -> np.ndarray:
        """(n_types, n_types) ε_αβ in ε_AA."""
        return np.array(self.epsilon, dtype=np.float64)

    def sigma_matrix(self) -> np.ndarray:
        """(n_types, n_types) σ_αβ in σ_AA."""
        return np.array(self.sigma, dtype=np.float64)

    def _radius_matrix(self, factor: float) -> np.ndarray:
        if self.cutoff_units == "sigma":
            return factor * self.sigma_matrix()
        return np.full_like(self.sigma_matrix(), float(factor))

    def cutoff_matrix(self) -> np.ndarray:
        """(n_types, n_types) outer cutoffs r_c,αβ (σ_AA): rc_factor · σ_αβ, or rc_factor if absolute."""
        return self._radius_matrix(self.rc_factor)

    def inner_matrix(self) -> np.ndarray:
        """(n_types, n_types) ``lj/smooth`` inner radii r_in,αβ (σ_AA): inner_factor · σ_αβ, or absolute."""
        return self._radius_matrix(self.inner_factor)

    @property
    def max_cutoff(self) -> float:
        """Largest pair cutoff (σ_AA units)."""
        return float(self.cutoff_matrix().max())

    # ------------------------------------------------------------------ numpy reference
    def pair_energy_force(self, r: np.ndarray, ti: np.ndarray, tj: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray]:
        """Pair energy (ε_AA) and force −dV/dr (ε_AA/σ_AA) at distances ``r`` between 0-based types (numpy).

        Written independently of the numba kernels (they are tested against it).
        """
        r = np.asarray(r, dtype=np.float64)
        ti, tj = np.asarray(ti), np.asarray(tj)
        eps = self.epsilon_matrix()[ti, tj]
        sig = self.sigma_matrix()[ti, tj]
        rc = self.cutoff_matrix()[ti, tj]
        e, f = _lj(r, eps, sig), _lj_force(r, eps, sig)
        if self.cutoff_style == "lj/smooth/linear":
            e = e - _lj(rc, eps, sig) + (r - rc) * _lj_force(rc, eps, sig)
            f = f - _lj_force(rc, eps, sig)
        elif self.cutoff_style == "truncated-shifted":
            e = e - _lj(rc, eps, sig)
        elif self.cutoff_style == "lj/smooth":
            rin = self.inner_matrix()[ti, tj]
            shape = np.broadcast(r, eps).shape
            r_b, eps_b, sig_b = (np.broadcast_to(x, shape).ravel() for x in (r, eps, sig))
            rin_b, rc_b = (np.broadcast_to(x, shape).ravel() for x in (rin, rc))
            e_s = np.empty(r_b.size)
            f_s = np.empty(r_b.size)
            for k in range(r_b.size):
                a = smooth_force_coefficients(rin_b[k], rc_b[k], eps_b[k], sig_b[k])
                tc = rc_b[k] - rin_b[k]
                # E(r) = ∫_r^{r_c} F: zero at r_c; below r_in, LJ shifted to join it at r_in.
                prim = lambda t: a[0] * t + a[1] * t ** 2 / 2 + a[2] * t ** 3 / 3 + a[3] * t ** 4 / 4  # noqa: E731
                if r_b[k] < rin_b[k]:
                    e_s[k] = (_lj(r_b[k], eps_b[k], sig_b[k]) - _lj(rin_b[k], eps_b[k], sig_b[k])
                              + prim(tc))
                    f_s[k] = _lj_force(r_b[k], eps_b[k], sig_b[k])
                else:
                    t = r_b[k] - rin_b[k]
                    e_s[k] = prim(tc) - prim(t)
                    f_s[k] = a[0] + a[1] * t + a[2] * t ** 2 + a[3] * t ** 3
            e, f = e_s.reshape(shape), f_s.reshape(shape)
        inside = r < rc
        return np.where(inside, e, 0.0), np.where(inside, f, 0.0)

    def pair_energy(self, r: np.ndarray, ti: np.ndarray, tj: np.ndarray) -> np.ndarray:
        """Pair energy (ε_AA) at distance(s) ``r`` between 0-based types ``ti`` and ``tj`` (numpy reference)."""
        return self.pair_energy_force(r, ti, tj)[0]

    def potential(self) -> PairPotential:
        """The numba :class:`~glassfix.systems.potentials.PairPotential` of this cutoff convention."""
        inner = self.inner_matrix() if self.cutoff_style == "lj/smooth" else None
        return lj_potential(self.epsilon_matrix(), self.sigma_matrix(), self.cutoff_matrix(),
                            style=_KERNEL_STYLE[self.cutoff_style], inner=inner)

    # ------------------------------------------------------------------ LAMMPS
    def lammps_commands(self) -> list[str]:
        """pair_style / pair_coeff / (pair_modify) / mass commands; issue after ``create_box`` or ``read_data``."""
        rc = self.cutoff_matrix()
        rin = self.inner_matrix()
        eps, sig = self.epsilon, self.sigma
        n = len(self.species)
        if self.cutoff_style == "lj/smooth":
            # the global inner radius must not exceed the global cutoff; per-pair values follow
            cmds = [f"pair_style lj/smooth {float(rin.max()):.16g} {self.max_cutoff:.16g}"]
        elif self.cutoff_style == "lj/smooth/linear":
            cmds = [f"pair_style lj/smooth/linear {self.max_cutoff:.16g}"]
        else:
            cmds = [f"pair_style lj/cut {self.max_cutoff:.16g}"]
        for i in range(n):
            for j in range(i, n):
                radii = (f"{rin[i, j]:.16g} {rc[i, j]:.16g}" if self.cutoff_style == "lj/smooth"
                         else f"{rc[i, j]:.16g}")
                cmds.append(f"pair_coeff {i + 1} {j + 1} {eps[i][j]:.16g} {sig[i][j]:.16g} {radii}")
        if self.cutoff_style in ("truncated-shifted", "lj/smooth"):
            cmds.append("pair_modify shift yes")
        for t, m in enumerate(self.masses):
            cmds.append(f"mass {t + 1} {m:.16g}")
        return cmds
