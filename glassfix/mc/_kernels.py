"""Numba kernels of the swap Monte Carlo engine (:mod:`glassfix.mc.engine`): energies, cell list, chunk loop.

Units are the potential's (LJ reduced units). The state layout, cell-list scheme and move rules are
described in :mod:`glassfix.mc.engine`; this module holds only the jitted code so the engine module stays
readable. Nothing here is public API.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from glassfix.systems.potentials import pair_energy_force

# move kinds inside the jitted loop
_DISPLACE, _TYPE_SWAP, _DIAM_SWAP = 0, 1, 2
# status codes of the chunk kernel
_OK, _CELL_FULL = 0, 1


# ---------------------------------------------------------------------------------------------- kernels
# The potentials' own kernel source, compiled *inline* into the MC loops: the formulas are exactly those of
# ``potentials.pair_energy_force`` (one definition), but inlining lets LLVM drop the unused force and the
# call overhead — a plain call to the separately compiled kernel makes a JBB sweep 1.8x slower.
_pair_energy_force_inline = njit(inline="always")(pair_energy_force.py_func)


@njit(inline="always")
def pair_energy(kind, table, ti, tj, di, dj, r2):
    """V(r) of one pair (ε_AA), inlined copy of :func:`glassfix.systems.potentials.pair_energy`."""
    return _pair_energy_force_inline(kind, table, ti, tj, di, dj, r2)[0]


@njit(cache=True, inline="always")
def _cell_of(s0: float, s1: float, s2: float, ncell: np.ndarray) -> int:
    c0 = int(s0 * ncell[0])
    c1 = int(s1 * ncell[1])
    c2 = int(s2 * ncell[2])
    # s < 1 always, but s·n can round up to n for s = 1 − ε
    if c0 >= ncell[0]:
        c0 = ncell[0] - 1
    if c1 >= ncell[1]:
        c1 = ncell[1] - 1
    if c2 >= ncell[2]:
        c2 = ncell[2] - 1
    return (c0 * ncell[1] + c1) * ncell[2] + c2


@njit(cache=True)
def _particle_energy(i, s, ti, di, partner, frac, types, diam, H, ortho, ncell, ksearch, cmem, ccount,
                     kind, table, rc2):
    """(Σ_(j≠i, images) V, the part of it with j == partner) for particle i at fractional ``s``."""
    n0, n1, n2 = ncell[0], ncell[1], ncell[2]
    c0 = int(s[0] * n0)
    c1 = int(s[1] * n1)
    c2 = int(s[2] * n2)
    if c0 >= n0:
        c0 = n0 - 1
    if c1 >= n1:
        c1 = n1 - 1
    if c2 >= n2:
        c2 = n2 - 1
    h00, h11, h22 = H[0, 0], H[1, 1], H[2, 2]
    e = 0.0
    ep = 0.0
    for k0 in range(-ksearch[0], ksearch[0] + 1):
        u0 = c0 + k0
        w0 = u0 % n0
        sh0 = (u0 - w0) // n0
        for k1 in range(-ksearch[1], ksearch[1] + 1):
            u1 = c1 + k1
            w1 = u1 % n1
            sh1 = (u1 - w1) // n1
            for k2 in range(-ksearch[2], ksearch[2] + 1):
                u2 = c2 + k2
                w2 = u2 % n2
                sh2 = (u2 - w2) // n2
                c = (w0 * n1 + w1) * n2 + w2
                for q in range(ccount[c]):
                    j = cmem[c, q]
                    if j == i:
                        continue  # own images are the lattice self-energy term, handled separately
                    d0 = frac[j, 0] + sh0 - s[0]
                    d1 = frac[j, 1] + sh1 - s[1]
                    d2 = frac[j, 2] + sh2 - s[2]
                    if ortho:
                        x = d0 * h00
                        y = d1 * h11
                        z = d2 * h22
                    else:
                        x = d0 * H[0, 0] + d1 * H[1, 0] + d2 * H[2, 0]
                        y = d0 * H[0, 1] + d1 * H[1, 1] + d2 * H[2, 1]
                        z = d0 * H[0, 2] + d1 * H[1, 2] + d2 * H[2, 2]
                    r2 = x * x + y * y + z * z
                    if r2 < rc2:
                        v = pair_energy(kind, table, ti, types[j], di, diam[j], r2)
                        e += v
                        if j == partner:
                            ep += v
    return e, ep


@njit(cache=True)
def _displacement_delta(i, s, t, ti, di, frac, types, diam, H, ortho, ncell, ksearch, cmem, ccount, kind, table,
                        rc2):
    """E_i(t) − E_i(s) (ε_AA) for particle i moved from fractional s to t within the same cell: one scan."""
    n0, n1, n2 = ncell[0], ncell[1], ncell[2]
    c0 = min(int(s[0] * n0), n0 - 1)
    c1 = min(int(s[1] * n1), n1 - 1)
    c2 = min(int(s[2] * n2), n2 - 1)
    h00, h11, h22 = H[0, 0], H[1, 1], H[2, 2]
    e_old = 0.0
    e_new = 0.0
    for k0 in range(-ksearch[0], ksearch[0] + 1):
        u0 = c0 + k0
        w0 = u0 % n0
        sh0 = (u0 - w0) // n0
        for k1 in range(-ksearch[1], ksearch[1] + 1):
            u1 = c1 + k1
            w1 = u1 % n1
            sh1 = (u1 - w1) // n1
            for k2 in range(-ksearch[2], ksearch[2] + 1):
                u2 = c2 + k2
                w2 = u2 % n2
                sh2 = (u2 - w2) // n2
                c = (w0 * n1 + w1) * n2 + w2
                for q in range(ccount[c]):
                    j = cmem[c, q]
                    if j == i:
                        continue
                    a0 = frac[j, 0] + sh0
                    a1 = frac[j, 1] + sh1
                    a2 = frac[j, 2] + sh2
                    d0 = a0 - s[0]
                    d1 = a1 - s[1]
                    d2 = a2 - s[2]
                    f0 = a0 - t[0]
                    f1 = a1 - t[1]
                    f2 = a2 - t[2]
                    if ortho:
                        x = d0 * h00
                        y = d1 * h11
                        z = d2 * h22
                        xn = f0 * h00
                        yn = f1 * h11
                        zn = f2 * h22
                    else:
                        x = d0 * H[0, 0] + d1 * H[1, 0] + d2 * H[2, 0]
                        y = d0 * H[0, 1] + d1 * H[1, 1] + d2 * H[2, 1]
                        z = d0 * H[0, 2] + d1 * H[1, 2] + d2 * H[2, 2]
                        xn = f0 * H[0, 0] + f1 * H[1, 0] + f2 * H[2, 0]
                        yn = f0 * H[0, 1] + f1 * H[1, 1] + f2 * H[2, 1]
                        zn = f0 * H[0, 2] + f1 * H[1, 2] + f2 * H[2, 2]
                    r2 = x * x + y * y + z * z
                    r2n = xn * xn + yn * yn + zn * zn
                    tj = types[j]
                    dj = diam[j]
                    if r2 < rc2:
                        e_old += pair_energy(kind, table, ti, tj, di, dj, r2)
                    if r2n < rc2:
                        e_new += pair_energy(kind, table, ti, tj, di, dj, r2n)
    return e_new - e_old


@njit(cache=True)
def _self_energy(ti, di, lattice_r2, kind, table):
    """Σ_(n≠0) V(|n·H|) of a particle with its own periodic images (0 unless the box is narrower than r_c)."""
    e = 0.0
    for q in range(lattice_r2.shape[0]):
        e += pair_energy(kind, table, ti, ti, di, di, lattice_r2[q])
    return e


@njit(cache=True)
def _total_energy(frac, types, diam, H, ortho, ncell, ksearch, cmem, ccount, lattice_r2, kind, table, rc2):
    """U = ½ Σ_i [E_i(other particles) + E_i(own images)] (ε_AA)."""
    u = 0.0
    for i in range(frac.shape[0]):
        e, _ = _particle_energy(i, frac[i], types[i], diam[i], -1, frac, types, diam, H, ortho, ncell,
                                ksearch, cmem, ccount, kind, table, rc2)
        u += 0.5 * e
        if lattice_r2.shape[0]:
            u += 0.5 * _self_energy(types[i], diam[i], lattice_r2, kind, table)
    return u


@njit(cache=True)
def _particle_energies(frac, types, diam, H, ortho, ncell, ksearch, cmem, ccount, lattice_r2, kind, table,
                       rc2):
    """Per-particle energies (half of every pair, as energy_forces' per_atom), ε_AA."""
    out = np.empty(frac.shape[0])
    for i in range(frac.shape[0]):
        e, _ = _particle_energy(i, frac[i], types[i], diam[i], -1, frac, types, diam, H, ortho, ncell,
                                ksearch, cmem, ccount, kind, table, rc2)
        out[i] = 0.5 * e
        if lattice_r2.shape[0]:
            out[i] += 0.5 * _self_energy(types[i], diam[i], lattice_r2, kind, table)
    return out


@njit(cache=True)
def _build_cells(frac, ncell, cap):
    """Cell membership from scratch: (members (n_cells, cap), counts, slot of each particle, cell of each)."""
    n = frac.shape[0]
    nc = ncell[0] * ncell[1] * ncell[2]
    cmem = np.full((nc, cap), -1, dtype=np.int64)
    ccount = np.zeros(nc, dtype=np.int64)
    cslot = np.empty(n, dtype=np.int64)
    cof = np.empty(n, dtype=np.int64)
    for i in range(n):
        c = _cell_of(frac[i, 0], frac[i, 1], frac[i, 2], ncell)
        if ccount[c] >= cap:
            return cmem, ccount, cslot, cof, False
        cmem[c, ccount[c]] = i
        cslot[i] = ccount[c]
        ccount[c] += 1
        cof[i] = c
    return cmem, ccount, cslot, cof, True


@njit(cache=True)
def _swap_delta(i, j, new_ti, new_tj, new_di, new_dj, frac, types, diam, H, ortho, ncell, ksearch, cmem,
                ccount, kind, table, rc2):
    """ΔU (ε_AA) of giving i (type, diameter) = (new_ti, new_di) and j (new_tj, new_dj); arrays restored."""
    ti, tj, di, dj = types[i], types[j], diam[i], diam[j]
    ei, xi = _particle_energy(i, frac[i], ti, di, j, frac, types, diam, H, ortho, ncell, ksearch, cmem,
                              ccount, kind, table, rc2)
    ej, _ = _particle_energy(j, frac[j], tj, dj, -1, frac, types, diam, H, ortho, ncell, ksearch, cmem,
                             ccount, kind, table, rc2)
    types[i], types[j], diam[i], diam[j] = new_ti, new_tj, new_di, new_dj
    fi, yi = _particle_energy(i, frac[i], new_ti, new_di, j, frac, types, diam, H, ortho, ncell, ksearch,
                              cmem, ccount, kind, table, rc2)
    fj, _ = _particle_energy(j, frac[j], new_tj, new_dj, -1, frac, types, diam, H, ortho, ncell, ksearch,
                             cmem, ccount, kind, table, rc2)
    types[i], types[j], diam[i], diam[j] = ti, tj, di, dj
    # the i–j pair is counted in both particle energies: remove it once, before and after. (For an
    # exchange it is the same pair energy before and after, and the self-image energies of i and j swap
    # places, so neither changes ΔU; subtracting the pair keeps ΔU exact for any (type, diameter) update.)
    du = (fi + fj - yi) - (ei + ej - xi)
    return du


@njit(cache=True, inline="always")
def _choose_move(move_cum):
    """Index of the move type picked by one uniform draw against the cumulative probabilities ``move_cum``."""
    u = np.random.random()
    m = 0
    nmoves = move_cum.shape[0]
    while m < nmoves - 1 and u >= move_cum[m]:
        m += 1
    return m


@njit(cache=True, inline="always")
def _propose_displacement(frac, n, step, gaussian, dim, Hinv, delta, trial):
    """Draw a particle i and its Cartesian step ``delta`` (σ); ``trial`` = its wrapped fractional position; return i.

    The draws (randint, then one normal or uniform per dimension) are in the order both chunk kernels
    have always used, so the chains are unchanged.
    """
    i = np.random.randint(0, n)
    for a in range(dim):
        if gaussian:
            delta[a] = step * np.random.normal()
        else:
            delta[a] = step * (2.0 * np.random.random() - 1.0)
    for a in range(3):
        ds = 0.0
        for b in range(dim):
            ds += delta[b] * Hinv[b, a]
        t = frac[i, a] + ds
        t -= np.floor(t)
        if t >= 1.0:  # −tiny − floor(−tiny) rounds to exactly 1.0
            t = 0.0
        trial[a] = t
    if dim == 2:
        trial[2] = 0.0
    return i


@njit(cache=True, inline="always")
def _move_to_cell(i, c_old, c_new, cmem, cslot, ccount, cof):
    """Move particle i from cell c_old to c_new (the last member fills its hole); return i if c_new is full, else -1.

    A returned i is in no cell yet: the caller grows the cell arrays and inserts it (``_CELL_FULL``).
    """
    last = cmem[c_old, ccount[c_old] - 1]
    cmem[c_old, cslot[i]] = last
    cslot[last] = cslot[i]
    ccount[c_old] -= 1
    cof[i] = c_new
    if ccount[c_new] >= cmem.shape[1]:
        return i
    cmem[c_new, ccount[c_new]] = i
    cslot[i] = ccount[c_new]
    ccount[c_new] += 1
    return -1


@njit(cache=True)
def _run_chunk(frac, unwrapped, types, diam, H, Hinv, ortho, dim, ncell, ksearch, cmem, ccount, cslot, cof,
               tmem, tcount, tslot, kind, table, rc2, beta, move_cum, move_kind, move_a, move_b,
               step, gaussian, max_dd, n_attempts, start, n_per_sweep, energy, trace, att, acc, seed, reseed):
    """Run attempts ``start`` … ``n_attempts``−1 of one chunk; returns (status, next attempt, energy, particle).

    status ``_CELL_FULL``: the accepted displacement of the returned particle left it outside any cell
    (its target cell was at capacity); the caller grows the cell arrays, inserts it and continues.
    """
    if reseed:
        np.random.seed(seed)
    n = frac.shape[0]
    trial = np.zeros(3)
    delta = np.zeros(3)
    for k in range(start, n_attempts):
        m = _choose_move(move_cum)
        att[m] += 1
        mk = move_kind[m]
        pending = -1
        if mk == _DISPLACE:
            i = _propose_displacement(frac, n, step, gaussian, dim, Hinv, delta, trial)
            c_new = _cell_of(trial[0], trial[1], trial[2], ncell)
            c_old = cof[i]
            if c_new == c_old:
                # the usual case (steps ≪ cell width): both energies from one scan of the same cells
                du = _displacement_delta(i, frac[i], trial, types[i], diam[i], frac, types, diam, H, ortho,
                                         ncell, ksearch, cmem, ccount, kind, table, rc2)
            else:
                e_old, _ = _particle_energy(i, frac[i], types[i], diam[i], -1, frac, types, diam, H, ortho,
                                            ncell, ksearch, cmem, ccount, kind, table, rc2)
                e_new, _ = _particle_energy(i, trial, types[i], diam[i], -1, frac, types, diam, H, ortho,
                                            ncell, ksearch, cmem, ccount, kind, table, rc2)
                du = e_new - e_old
            # NaN (exact overlap) fails both comparisons and is rejected
            if du <= 0.0 or np.random.random() < np.exp(-beta * du):
                acc[m] += 1
                energy += du
                for a in range(3):
                    frac[i, a] = trial[a]
                for a in range(dim):
                    unwrapped[i, a] += delta[a]
                if c_new != c_old:
                    pending = _move_to_cell(i, c_old, c_new, cmem, cslot, ccount, cof)
        elif mk == _TYPE_SWAP:
            a_t = move_a[m]
            b_t = move_b[m]
            i = tmem[a_t, np.random.randint(0, tcount[a_t])]
            j = tmem[b_t, np.random.randint(0, tcount[b_t])]
            du = _swap_delta(i, j, b_t, a_t, diam[i], diam[j], frac, types, diam, H, ortho, ncell, ksearch,
                             cmem, ccount, kind, table, rc2)
            if du <= 0.0 or np.random.random() < np.exp(-beta * du):
                acc[m] += 1
                energy += du
                types[i] = b_t
                types[j] = a_t
                si = tslot[i]
                sj = tslot[j]
                tmem[a_t, si] = j
                tmem[b_t, sj] = i
                tslot[i] = sj
                tslot[j] = si
        else:
            i = np.random.randint(0, n)
            j = np.random.randint(0, n - 1)
            if j >= i:
                j += 1
            if abs(diam[i] - diam[j]) <= max_dd:
                du = _swap_delta(i, j, types[i], types[j], diam[j], diam[i], frac, types, diam, H, ortho, ncell,
                                 ksearch, cmem, ccount, kind, table, rc2)
                if du <= 0.0 or np.random.random() < np.exp(-beta * du):
                    acc[m] += 1
                    energy += du
                    tmp = diam[i]
                    diam[i] = diam[j]
                    diam[j] = tmp
        if (k + 1) % n_per_sweep == 0:
            trace[(k + 1) // n_per_sweep - 1] = energy
        if pending >= 0:
            return _CELL_FULL, k + 1, energy, pending
    return _OK, n_attempts, energy, -1
