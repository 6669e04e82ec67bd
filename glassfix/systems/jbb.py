"""The 2D ternary "JBB" glass former of Jung, Biroli and Berthier (tGlassMLP, PRB 109, 064205 (2024)).

The paper gives no interaction parameters (they are in the GlassMLP SM); ours come from the public
ParticlesMC code (``TheDisorderedOrganization/ParticlesMC``, ``src/models.jl``, model ``JBB``), whose
example scripts use the paper's density and composition — see ``shared/science/001_jung.md`` §1.2–1.3:

    V_αβ(r) = 4 ε_αβ [(σ_αβ/r)^12 − (σ_αβ/r)^6 + C0 + C2 (r/σ_αβ)^2 + C4 (r/σ_αβ)^4],  r < 2.5 σ_αβ,
    C0 = 0.04049023795, C2 = −0.00970155098, C4 = 0.00062012616,

    pair  ε    σ          pair  ε    σ
    A–A  1.00 1.00        B–B  0.50 0.88
    A–B  1.50 0.80        B–C  1.50 0.80
    A–C  0.75 0.90        C–C  0.75 0.94

A = large (type 1), B = small (type 2), C = intermediate (type 3); all masses 1. The C's make V, V′ and
V″ vanish at r = 2.5 σ_αβ up to their 11-digit rounding (|V(r_c)| ≈ 1e-9 ε). Composition
N_A : N_B : N_C = 20 : 11 : 12, exactly 600 : 330 : 360 for the paper's N = 1290 (largest remainder
otherwise). Density ρ = 1290 / 32.896² = 1.19207… (paper: square box L = 32.896). LJ reduced units,
LAMMPS ``dimension 2`` (``fix enforce2d`` in MD).

LAMMPS realisation (``lammps_style``):

``"table"`` (default)  ``pair_style table spline N`` (or ``linear``) with one table per pair written
    by :meth:`JBB.write_table`: N points uniform in r² from r_lo = ``table_inner_factor`` · σ_αβ to
    r_c with exact E, F and end slopes (``FPRIME``) — the grid LAMMPS itself uses, so the only error
    is its run-time interpolation in r². :meth:`JBB.table_error` models that error exactly
    (it agrees with LAMMPS ``pair_write`` output). Measured for r ≥ 0.8 σ_αβ (a liquid below T ≈ 2
    does not come closer): default spline, N = 5000: |ΔV| ≤ 8.2e-9 ε, |ΔF| ≤ 2.6e-7 ε/σ (relative
    ≤ 2e-9); linear, N = 20000: |ΔV| ≤ 9.2e-5 ε, |ΔF| ≤ 2.4e-3 ε/σ (relative ≤ 3.5e-6). Distances
    below r_lo stop LAMMPS with "Pair distance < table inner cutoff".
``"lepton"``  ``pair_style lepton`` with the analytic expression: exact to round-off (≈1e-13), slower
    (and its ``pair_write``/``single`` re-parses the expression on every call).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from glassfix.core.atomic import atomic_write_text
from glassfix.systems.base import DiscreteMixture
from glassfix.systems.potentials import PairPotential, poly_lj_potential

__all__ = ["JBB"]

LAMMPS_STYLES = ("table", "lepton")
TABLE_STYLES = ("linear", "spline")


@dataclass(frozen=True)
class JBB(DiscreteMixture):
    """JBB 2D ternary LJ mixture with polynomial smoothing; see the module docstring for parameters.

    ``lammps_style``: ``"table"`` or ``"lepton"``; ``table_points``: N of the tables; ``table_style``:
    LAMMPS' ``linear`` or ``spline`` lookup; ``table_inner_factor``: table start r_lo / σ_αβ.
    """

    lammps_style: str = "table"
    table_points: int = 5000
    table_style: str = "spline"
    table_inner_factor: float = 0.5

    name = "jbb"
    dim = 2
    species = ("A", "B", "C")
    ratio = (20, 11, 12)
    fractions = (20 / 43, 11 / 43, 12 / 43)
    masses = (1.0, 1.0, 1.0)
    epsilon = ((1.0, 1.5, 0.75), (1.5, 0.5, 1.5), (0.75, 1.5, 0.75))
    sigma = ((1.0, 0.8, 0.9), (0.8, 0.88, 0.8), (0.9, 0.8, 0.94))
    rc_factor = 2.5
    C0 = 0.04049023795
    C2 = -0.00970155098
    C4 = 0.00062012616
    default_density = 1290 / 32.896 ** 2
    cutoff_style = "smooth-polynomial"

    def __post_init__(self) -> None:
        if self.lammps_style not in LAMMPS_STYLES:
            raise ValueError(f"lammps_style must be one of {LAMMPS_STYLES}, got {self.lammps_style!r}")
        if self.table_style not in TABLE_STYLES:
            raise ValueError(f"table_style must be one of {TABLE_STYLES}, got {self.table_style!r}")
        if int(self.table_points) != self.table_points or self.table_points < 10:
            raise ValueError(f"table_points must be an integer >= 10, got {self.table_points}")
        if not 0 < self.table_inner_factor < self.rc_factor:
            raise ValueError(f"table_inner_factor must lie in (0, {self.rc_factor}), got {self.table_inner_factor}")

    # ------------------------------------------------------------------ parameters
    def epsilon_matrix(self) -> np.ndarray:
        """(3, 3) ε_αβ in ε_AA."""
        return np.array(self.epsilon, dtype=np.float64)

    def sigma_matrix(self) -> np.ndarray:
        """(3, 3) σ_αβ in σ_AA."""
        return np.array(self.sigma, dtype=np.float64)

    def cutoff_matrix(self) -> np.ndarray:
        """(3, 3) pair cutoffs r_c,αβ = 2.5 σ_αβ (σ_AA)."""
        return self.rc_factor * self.sigma_matrix()

    @property
    def max_cutoff(self) -> float:
        """Largest pair cutoff (σ_AA), 2.5."""
        return float(self.cutoff_matrix().max())

    # ------------------------------------------------------------------ numpy reference
    def pair_energy_force(self, r: np.ndarray, ti: np.ndarray, tj: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray]:
        """(V (ε_AA), −dV/dr (ε_AA/σ_AA)) at distances ``r`` between 0-based types (numpy reference)."""
        r = np.asarray(r, dtype=np.float64)
        eps = self.epsilon_matrix()[ti, tj]
        sig = self.sigma_matrix()[ti, tj]
        x = r / sig
        e = 4.0 * eps * (x ** -12 - x ** -6 + self.C0 + self.C2 * x ** 2 + self.C4 * x ** 4)
        f = 4.0 * eps * (12.0 * x ** -13 - 6.0 * x ** -7 - 2.0 * self.C2 * x - 4.0 * self.C4 * x ** 3) / sig
        inside = r < self.rc_factor * sig
        return np.where(inside, e, 0.0), np.where(inside, f, 0.0)

    def pair_energy(self, r: np.ndarray, ti: np.ndarray, tj: np.ndarray) -> np.ndarray:
        """Pair energy (ε_AA) at distances ``r`` between 0-based types (numpy reference)."""
        return self.pair_energy_force(r, ti, tj)[0]

    def pair_curvature(self, r: np.ndarray, ti: int, tj: int) -> np.ndarray:
        """V″(r) (ε_AA/σ_AA²) inside the cutoff (for the continuity check at r_c)."""
        eps = self.epsilon_matrix()[ti, tj]
        sig = self.sigma_matrix()[ti, tj]
        x = np.asarray(r, dtype=np.float64) / sig
        return 4.0 * eps * (156.0 * x ** -14 - 42.0 * x ** -8 + 2.0 * self.C2 + 12.0 * self.C4 * x ** 2) / sig ** 2

    def potential(self) -> PairPotential:
        """The numba :class:`~glassfix.systems.potentials.PairPotential` (kind ``LJ_POLY``)."""
        return poly_lj_potential(self.epsilon_matrix(), self.sigma_matrix(), self.rc_factor,
                                 self.C0, self.C2, self.C4)

    # ------------------------------------------------------------------ LAMMPS tables
    def _pairs(self) -> list[tuple[int, int]]:
        n = len(self.species)
        return [(i, j) for i in range(n) for j in range(i, n)]

    def table_keyword(self, i: int, j: int) -> str:
        """Section keyword of type pair (i, j) (0-based) in the table file, e.g. ``"A_C"``."""
        return f"{self.species[i]}_{self.species[j]}"

    def _table_grid(self, i: int, j: int) -> tuple[float, float, np.ndarray]:
        sig = self.sigma_matrix()[i, j]
        rlo, rc = self.table_inner_factor * sig, self.rc_factor * sig
        n = int(self.table_points)
        # LAMMPS' RSQ grid: r_k² = r_lo² + (r_c² − r_lo²) k/(N−1), computed in the same order it does.
        rsq = rlo * rlo + (rc * rc - rlo * rlo) * np.arange(n) / (n - 1)
        return rlo, rc, np.sqrt(rsq)

    def write_table(self, path: str | os.PathLike[str]) -> Path:
        """Write the LAMMPS ``pair_style table`` file (one section per type pair, keywords ``A_A`` …) to ``path``."""
        path = Path(path)
        lines = [f"# JBB 2D ternary pair potential (glassfix): 4 eps [(s/r)^12 - (s/r)^6 + C0 + C2 (r/s)^2"
                 f" + C4 (r/s)^4], C = {self.C0!r} {self.C2!r} {self.C4!r}; columns: index r E F=-dE/dr\n"]
        for i, j in self._pairs():
            rlo, rc, r = self._table_grid(i, j)
            e, f = self.pair_energy_force(r, i, j)
            # r_c itself lies outside "r < r_c" in pair_energy_force; the model's value there is 0 anyway.
            e[-1], f[-1] = 0.0, 0.0
            # FPRIME: dF/dr at both ends, so a spline lookup does not have to guess the end slopes.
            fp = -self.pair_curvature(np.array([rlo, rc]), i, j)
            lines.append(f"\n{self.table_keyword(i, j)}\n"
                         f"N {len(r)} RSQ {rlo:.17g} {rc:.17g} FPRIME {fp[0]:.17g} {fp[1]:.17g}\n\n")
            idx = np.arange(1, len(r) + 1)
            lines.append("".join(f"{k} {a:.17g} {b:.17g} {c:.17g}\n" for k, a, b, c in zip(idx, r, e, f)))
        atomic_write_text(path, "".join(lines))
        return path

    def table_path(self, table_dir: str | os.PathLike[str] | None = None) -> Path:
        """Where :meth:`lammps_commands` puts the table: ``table_dir`` (default: ``$GLASSFIX_TABLE_DIR``, else
        ``$XDG_CACHE_HOME/glassfix/tables`` or ``~/.cache/glassfix/tables``); the name encodes N, r_lo and a
        hash of the model constants, so different tables never share a file."""
        if table_dir is None:
            env = os.environ.get("GLASSFIX_TABLE_DIR")
            cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
            table_dir = env if env else os.path.join(cache, "glassfix", "tables")
        key = repr((self.epsilon, self.sigma, self.rc_factor, self.C0, self.C2, self.C4, self.table_inner_factor,
                    int(self.table_points)))
        tag = hashlib.sha256(key.encode()).hexdigest()[:10]
        return Path(table_dir) / f"jbb_N{int(self.table_points)}_lo{self.table_inner_factor:g}_{tag}.table"

    def lammps_commands(self, table_dir: str | os.PathLike[str] | None = None) -> list[str]:
        """pair_style / pair_coeff / mass commands (after ``create_box`` or ``read_data``).

        With ``lammps_style="table"`` the table file (:meth:`table_path`) is written into ``table_dir``
        (default: a per-user cache directory — pass a directory every MPI rank can read on a cluster)
        unless an identical file is already there, and referenced by its absolute path.
        """
        eps, sig, rc = self.epsilon_matrix(), self.sigma_matrix(), self.cutoff_matrix()
        if self.lammps_style == "table":
            path = self.table_path(table_dir).resolve()
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.is_file():
                self.write_table(path)  # written atomically, so concurrent writers cannot leave half a file
            if any(c.isspace() for c in str(path)):
                raise ValueError(f"LAMMPS cannot read a table path containing whitespace: {path}")
            cmds = [f"pair_style table {self.table_style} {int(self.table_points)}"]
            for i, j in self._pairs():
                # the cutoff must equal the table's last r exactly for LAMMPS to use our nodes as they are
                cmds.append(f"pair_coeff {i + 1} {j + 1} {path} {self.table_keyword(i, j)} {rc[i, j]:.17g}")
        else:
            cmds = [f"pair_style lepton {self.max_cutoff:.16g}"]
            for i, j in self._pairs():
                expr = (f"4*eps*((sig/r)^12-(sig/r)^6+c0+c2*(r/sig)^2+c4*(r/sig)^4); eps={eps[i, j]:.17g}; "
                        f"sig={sig[i, j]:.17g}; c0={self.C0:.17g}; c2={self.C2:.17g}; c4={self.C4:.17g}")
                cmds.append(f'pair_coeff {i + 1} {j + 1} "{expr}" {rc[i, j]:.16g}')
        for t, m in enumerate(self.masses):
            cmds.append(f"mass {t + 1} {m:.16g}")
        return cmds

    def table_lookup(self, r: np.ndarray, i: int, j: int) -> tuple[np.ndarray, np.ndarray]:
        """(V, −dV/dr) that LAMMPS' table lookup (``table_style``) returns at ``r`` for types (i, j) (0-based).

        Reproduces ``pair_style table`` on our matching r² grid: ``linear`` interpolates the node values
        E_k and F_k/r_k linearly in r²; ``spline`` uses cubic splines of E and F/r in r² clamped with
        the exact end slopes (what LAMMPS derives from F and our ``FPRIME`` line). ``r`` must lie in
        [r_lo, r_c).
        """
        from scipy.interpolate import CubicSpline

        rlo, rc, r_n = self._table_grid(i, j)
        r = np.asarray(r, dtype=np.float64)
        if r.size and (r.min() < rlo or r.max() >= rc):
            raise ValueError(f"r must lie in [{rlo}, {rc}) for pair {self.table_keyword(i, j)}")
        e_n, f_n = self.pair_energy_force(r_n, i, j)
        e_n[-1], f_n[-1] = 0.0, 0.0
        rsq_n, rsq = r_n ** 2, r ** 2
        if self.table_style == "linear":
            return np.interp(rsq, rsq_n, e_n), np.interp(rsq, rsq_n, f_n / r_n) * r
        # dE/d(r²) = −F/(2r); d(F/r)/d(r²) = (F′/r − F/r²)/(2r), with F′ = −V″
        fp = -self.pair_curvature(np.array([rlo, rc]), i, j)
        e_spl = CubicSpline(rsq_n, e_n, bc_type=((1, -f_n[0] / (2 * rlo)), (1, 0.0)))
        g_spl = CubicSpline(rsq_n, f_n / r_n, bc_type=((1, (fp[0] / rlo - f_n[0] / rlo ** 2) / (2 * rlo)),
                                                       (1, fp[1] / rc / (2 * rc))))
        return e_spl(rsq), g_spl(rsq) * r

    def table_error(self, r_min_factor: float = 0.8, samples_per_bin: int = 8) -> dict[str, float]:
        """Largest error of LAMMPS' table lookup (:meth:`table_lookup`) for r in [r_min_factor σ_αβ, r_c).

        Sampled at ``samples_per_bin`` points inside every r² bin of every pair. Returns max |ΔV|
        (``energy_abs``, ε_AA), max |ΔF| (``force_abs``, ε_AA/σ_AA) and the largest errors relative to
        max(|V|, ε_αβ) and max(|F|, ε_αβ/σ_αβ) (``energy_rel``, ``force_rel``).
        """
        out = {"energy_abs": 0.0, "force_abs": 0.0, "energy_rel": 0.0, "force_rel": 0.0}
        for i, j in self._pairs():
            rlo, rc, r_n = self._table_grid(i, j)
            rsq_n = r_n ** 2
            lo = max(int(np.searchsorted(rsq_n, (r_min_factor * self.sigma_matrix()[i, j]) ** 2)) - 1, 0)
            u = (np.arange(samples_per_bin) + 0.5) / samples_per_bin
            r = np.sqrt((rsq_n[lo:-1, None] + u[None, :] * np.diff(rsq_n[lo:])[:, None]).ravel())
            e_int, f_int = self.table_lookup(r, i, j)
            e_ex, f_ex = self.pair_energy_force(r, i, j)
            eps, sig = self.epsilon_matrix()[i, j], self.sigma_matrix()[i, j]
            de, df = np.abs(e_int - e_ex), np.abs(f_int - f_ex)
            out["energy_abs"] = max(out["energy_abs"], float(de.max()))
            out["force_abs"] = max(out["force_abs"], float(df.max()))
            out["energy_rel"] = max(out["energy_rel"], float((de / np.maximum(np.abs(e_ex), eps)).max()))
            out["force_rel"] = max(out["force_rel"], float((df / np.maximum(np.abs(f_ex), eps / sig)).max()))
        return out
