"""Inherent structures in-process: FIRE energy minimisation of a frame under a numba pair potential.

Used where no LAMMPS session is at hand (the tGlassMLP descriptors are computed on the inherent structure
of every frame, Jung et al. §4.1; digest 001 §4.2 [PROP] FIRE). Lengths σ_AA, energies ε_AA, forces
ε_AA/σ_AA. FIRE of Bitzek et al., PRL 97, 170201 (2006) with the usual parameters (N_min 5, f_inc 1.1,
f_dec 0.5, α₀ 0.1, f_α 0.99, Δt_max = 10 Δt₀) and unit masses; the neighbour list (cutoff r_c + skin) is
built by :func:`glassfix.core.neighbors.neighbor_list` and rebuilt when an atom has moved more than half
the skin, so every pair within r_c is always present. Deterministic (no random numbers, serial sums).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numba import njit

from glassfix.core.frame import Frame
from glassfix.systems.potentials import PairPotential, pair_energy_force

__all__ = ["fire_minimize", "FireResult"]


@dataclasses.dataclass
class FireResult:
    """Minimised frame, its energy per atom (ε_AA), the final max |F| (ε_AA/σ_AA), steps and convergence."""

    frame: Frame
    energy_per_atom: float
    max_force: float
    steps: int
    converged: bool


@njit(cache=True)
def _forces(x, types, diam, pi, pj, shift, kind, table, out):
    """Forces on every atom from the half pair list (i < j, image shift: Newton's third law); returns the
    total energy."""
    out[:] = 0.0
    d = x.shape[1]
    etot = 0.0
    v = np.empty(d)
    for p in range(pi.shape[0]):
        i = pi[p]
        j = pj[p]
        r2 = 0.0
        for a in range(d):
            v[a] = x[j, a] + shift[p, a] - x[i, a]
            r2 += v[a] * v[a]
        e, fr = pair_energy_force(kind, table, types[i], types[j], diam[i], diam[j], r2)
        etot += e
        for a in range(d):
            out[i, a] -= fr * v[a]
            out[j, a] += fr * v[a]
    return etot


@njit(cache=True)
def _fire(x, types, diam, pi, pj, shift, kind, table, ftol, max_steps, dt0, half_skin, state):
    """FIRE steps until max|F| < ftol, max_steps, or an atom moved half the skin (list rebuild).

    ``state`` = [dt, alpha, n_positive, steps_done, energy, fmax]: carried across list rebuilds.
    Returns 0 converged, 1 rebuild needed, 2 out of steps."""
    n, d = x.shape
    f = np.zeros((n, d))
    v = np.zeros((n, d))
    x_ref = x.copy()
    dt = state[0]
    alpha = state[1]
    npos = int(state[2])
    dtmax = 10.0 * dt0
    e = _forces(x, types, diam, pi, pj, shift, kind, table, f)
    while True:
        fmax2 = 0.0
        for i in range(n):
            s = 0.0
            for a in range(d):
                s += f[i, a] * f[i, a]
            if s > fmax2:
                fmax2 = s
        state[4] = e
        state[5] = np.sqrt(fmax2)
        if fmax2 < ftol * ftol:
            return 0
        if state[3] >= max_steps:
            return 2
        # FIRE mixing and power check
        P = 0.0
        vn2 = 0.0
        fn2 = 0.0
        for i in range(n):
            for a in range(d):
                P += f[i, a] * v[i, a]
                vn2 += v[i, a] * v[i, a]
                fn2 += f[i, a] * f[i, a]
        if P > 0.0:
            scale = alpha * np.sqrt(vn2 / fn2) if fn2 > 0.0 else 0.0
            for i in range(n):
                for a in range(d):
                    v[i, a] = (1.0 - alpha) * v[i, a] + scale * f[i, a]
            npos += 1
            if npos > 5:
                dt = min(dt * 1.1, dtmax)
                alpha *= 0.99
        else:
            npos = 0
            dt *= 0.5
            alpha = 0.1
            v[:] = 0.0
        # semi-implicit Euler (velocity Verlet with unit masses, as LAMMPS min_style fire)
        for i in range(n):
            for a in range(d):
                v[i, a] += dt * f[i, a]
                x[i, a] += dt * v[i, a]
        e = _forces(x, types, diam, pi, pj, shift, kind, table, f)
        state[3] += 1
        moved = 0.0
        for i in range(n):
            s = 0.0
            for a in range(d):
                s += (x[i, a] - x_ref[i, a]) ** 2
            if s > moved:
                moved = s
        if moved > half_skin * half_skin:
            state[0] = dt
            state[1] = alpha
            state[2] = npos
            return 1
    return 2


def fire_minimize(frame: Frame, potential: PairPotential, ftol: float = 1e-8, max_steps: int = 100_000,
                  dt0: float = 0.005, skin: float = 0.5, diameters: np.ndarray | None = None) -> FireResult:
    """Minimise ``frame`` (periodic, σ_AA) to max|F| < ``ftol`` (ε_AA/σ_AA) with FIRE; returns a copy.

    Positions are not wrapped (the IS of atom i is the local minimum reached from its own position).
    ``converged`` is False when ``max_steps`` ran out first (the caller decides whether that is an error).
    """
    from glassfix.core.neighbors import neighbor_list

    if not np.all(frame.pbc):
        raise ValueError("fire_minimize needs a periodic frame (pbc in every direction)")
    x = np.array(frame.positions, dtype=np.float64, copy=True)
    types = np.ascontiguousarray(frame.types, dtype=np.int64)
    diam = np.ones(frame.n_atoms) if diameters is None else np.ascontiguousarray(diameters, dtype=np.float64)
    # state: dt, alpha, n_positive, steps, energy, fmax; velocities restart at 0 after a list rebuild
    # (the rebuild only happens after atoms moved half a skin, far from the end game)
    state = np.array([dt0, 0.1, 0.0, 0.0, 0.0, np.inf])
    code = 1
    while code == 1:
        cur = dataclasses.replace(frame, positions=x)
        nl = neighbor_list(cur, potential.max_cutoff + skin)
        pi = np.repeat(nl.centers, np.diff(nl.offsets))
        pj = nl.neighbors
        half = pi < pj    # each pair once (a pair with itself through an image would need r_c > L/2)
        pi, pj = np.ascontiguousarray(pi[half]), np.ascontiguousarray(pj[half])
        shift = np.ascontiguousarray(nl.vectors[half] - (x[pj] - x[pi]))
        code = _fire(x, types, diam, pi, pj, shift, potential.kind, potential.table, float(ftol), int(max_steps),
                     float(dt0), 0.5 * float(skin), state)
    out = dataclasses.replace(frame, positions=x, unwrapped=None, velocities=None, energies=None)
    return FireResult(frame=out, energy_per_atom=float(state[4]) / max(frame.n_atoms, 1), max_force=float(state[5]),
                      steps=int(state[3]), converged=code == 0)
