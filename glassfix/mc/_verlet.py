"""Numba kernels of the swap-MC engine's Verlet-list path (:mod:`glassfix.mc.engine`, ``neighbor_skin``).

Same Markov chain as :func:`glassfix.mc._kernels._run_chunk`: the same random draws in the same order and
the same exact ΔU (only the order of the floating-point sums differs), but a particle's energy comes from
its own list of neighbours within r_l = r_c + skin instead of a scan of the neighbouring cells, and a swap
costs one pass over each of the two particles' lists (both labellings at once) instead of four scans.

Validity (why ΔU stays exact): the list holds every pair closer than r_l at the reference positions
``u0`` (unwrapped coordinates at the last build). While every particle is closer than skin/2 to its
reference position, no pair outside the list can be closer than r_c. A displacement trial that would take
its particle skin/2 or more away from its reference first triggers a rebuild; if the step itself is
≥ skin/2 (rare: Gaussian tails), that attempt is evaluated with the cell-scan kernels of ``_kernels`` and,
if accepted, the list is rebuilt before the next attempt. Only used when r_l < half the smallest
perpendicular box width, so each pair has a single image within r_l (nearest image by rounding the
fractional difference) and no particle meets its own images.

Units are the potential's (LJ reduced units). Nothing here is public API.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from glassfix.mc._kernels import (_CELL_FULL, _DISPLACE, _OK, _TYPE_SWAP, _cell_of, _displacement_delta,
                                  _particle_energy, pair_energy)



@njit(cache=True, inline="always")
def _nearest_r2(sj0, sj1, sj2, s0, s1, s2, H, ortho):
    """Squared Cartesian length of the nearest image of the fractional difference s_j − s (σ_AA²)."""
    d0 = sj0 - s0
    d1 = sj1 - s1
    d2 = sj2 - s2
    d0 -= math.floor(d0 + 0.5)
    d1 -= math.floor(d1 + 0.5)
    d2 -= math.floor(d2 + 0.5)
    if ortho:
        x = d0 * H[0, 0]
        y = d1 * H[1, 1]
        z = d2 * H[2, 2]
    else:
        x = d0 * H[0, 0] + d1 * H[1, 0] + d2 * H[2, 0]
        y = d0 * H[0, 1] + d1 * H[1, 1] + d2 * H[2, 1]
        z = d0 * H[0, 2] + d1 * H[1, 2] + d2 * H[2, 2]
    return x * x + y * y + z * z


@njit(cache=True)
def _build_verlet(frac, unwrapped, H, ortho, ncell, klist, cmem, ccount, rl2, nbr, ncount, u0):
    """Fill ``nbr``/``ncount`` with every j ≠ i within r_l (nearest image), ``u0`` = unwrapped; False if full."""
    n = frac.shape[0]
    n0, n1, n2 = ncell[0], ncell[1], ncell[2]
    cap = nbr.shape[1]
    m0 = min(2 * klist[0] + 1, n0)
    m1 = min(2 * klist[1] + 1, n1)
    m2 = min(2 * klist[2] + 1, n2)
    ok = True
    for i in range(n):
        for a in range(3):
            u0[i, a] = unwrapped[i, a]
        s0, s1, s2 = frac[i, 0], frac[i, 1], frac[i, 2]
        c0 = min(int(s0 * n0), n0 - 1)
        c1 = min(int(s1 * n1), n1 - 1)
        c2 = min(int(s2 * n2), n2 - 1)
        m = 0
        # cells c + k, |k_a| ≤ klist_a, each wrapped cell once (all cells of an axis if the range covers it)
        for x0 in range(m0):
            w0 = x0 if m0 == n0 else (c0 + x0 - klist[0]) % n0
            for x1 in range(m1):
                w1 = x1 if m1 == n1 else (c1 + x1 - klist[1]) % n1
                for x2 in range(m2):
                    w2 = x2 if m2 == n2 else (c2 + x2 - klist[2]) % n2
                    c = (w0 * n1 + w1) * n2 + w2
                    for q in range(ccount[c]):
                        j = cmem[c, q]
                        if j == i:
                            continue
                        r2 = _nearest_r2(frac[j, 0], frac[j, 1], frac[j, 2], s0, s1, s2, H, ortho)
                        if r2 < rl2:
                            if m < cap:
                                nbr[i, m] = j
                            m += 1
        if m > cap:
            ok = False
        ncount[i] = min(m, cap)
    return ok


@njit(cache=True)
def _rebuild(frac, unwrapped, H, ortho, ncell, klist, cmem, ccount, rl2, nbr, ncount, u0):
    """:func:`_build_verlet`, doubling the list capacity until every particle fits; returns the list array."""
    while not _build_verlet(frac, unwrapped, H, ortho, ncell, klist, cmem, ccount, rl2, nbr, ncount, u0):
        nbr = np.empty((nbr.shape[0], 2 * nbr.shape[1]), dtype=np.int64)
    return nbr


@njit(cache=True)
def _displacement_delta_verlet(i, s, t, ti, di, frac, types, diam, H, ortho, nbr, ncount, kind, table, rc2):
    """E_i(t) − E_i(s) (ε_AA) over i's Verlet list (both positions in one pass)."""
    e_old = 0.0
    e_new = 0.0
    for q in range(ncount[i]):
        j = nbr[i, q]
        r2 = _nearest_r2(frac[j, 0], frac[j, 1], frac[j, 2], s[0], s[1], s[2], H, ortho)
        r2n = _nearest_r2(frac[j, 0], frac[j, 1], frac[j, 2], t[0], t[1], t[2], H, ortho)
        if r2 < rc2:
            e_old += pair_energy(kind, table, ti, types[j], di, diam[j], r2)
        if r2n < rc2:
            e_new += pair_energy(kind, table, ti, types[j], di, diam[j], r2n)
    return e_new - e_old


@njit(cache=True)
def _swap_delta_verlet(i, j, new_ti, new_tj, new_di, new_dj, frac, types, diam, H, ortho, nbr, ncount, kind,
                       table, rc2):
    """ΔU (ε_AA) of giving i (new_ti, new_di) and j (new_tj, new_dj): one pass over each list, i–j pair apart."""
    ti, tj, di, dj = types[i], types[j], diam[i], diam[j]
    du = 0.0
    for q in range(ncount[i]):
        k = nbr[i, q]
        if k == j:
            continue
        r2 = _nearest_r2(frac[k, 0], frac[k, 1], frac[k, 2], frac[i, 0], frac[i, 1], frac[i, 2], H, ortho)
        if r2 < rc2:
            du += (pair_energy(kind, table, new_ti, types[k], new_di, diam[k], r2)
                   - pair_energy(kind, table, ti, types[k], di, diam[k], r2))
    for q in range(ncount[j]):
        k = nbr[j, q]
        if k == i:
            continue
        r2 = _nearest_r2(frac[k, 0], frac[k, 1], frac[k, 2], frac[j, 0], frac[j, 1], frac[j, 2], H, ortho)
        if r2 < rc2:
            du += (pair_energy(kind, table, new_tj, types[k], new_dj, diam[k], r2)
                   - pair_energy(kind, table, tj, types[k], dj, diam[k], r2))
    r2 = _nearest_r2(frac[j, 0], frac[j, 1], frac[j, 2], frac[i, 0], frac[i, 1], frac[i, 2], H, ortho)
    if r2 < rc2:
        du += (pair_energy(kind, table, new_ti, new_tj, new_di, new_dj, r2)
               - pair_energy(kind, table, ti, tj, di, dj, r2))
    return du


@njit(cache=True)
def _run_chunk_verlet(frac, unwrapped, types, diam, H, Hinv, ortho, dim, ncell, ksearch, klist, cmem, ccount,
                      cslot, cof, tmem, tcount, tslot, nbr, ncount, u0, skin, kind, table, rc2, rl2, beta,
                      move_cum, move_kind, move_a, move_b, step, gaussian, max_dd, n_attempts, start, n_per_sweep,
                      energy, trace, att, acc, seed, reseed, counters):
    """:func:`glassfix.mc._kernels._run_chunk` with Verlet lists (module docstring); same arguments plus the
    list arrays, ``skin`` (σ_AA), r_l² and ``counters`` (rebuilds, cell-scan fallbacks). The list is rebuilt
    on entry (so a chunk's result depends only on the chain state, as checkpoints need); returns
    (status, next attempt, energy, particle, list array — a larger one if it had to grow)."""
    if reseed:
        np.random.seed(seed)
    nbr = _rebuild(frac, unwrapped, H, ortho, ncell, klist, cmem, ccount, rl2, nbr, ncount, u0)
    counters[0] += 1
    half2 = 0.25 * skin * skin
    n = frac.shape[0]
    trial = np.zeros(3)
    delta = np.zeros(3)
    nmoves = move_cum.shape[0]
    stale = False
    for k in range(start, n_attempts):
        if stale:
            nbr = _rebuild(frac, unwrapped, H, ortho, ncell, klist, cmem, ccount, rl2, nbr, ncount, u0)
            counters[0] += 1
            stale = False
        u = np.random.random()
        m = 0
        while m < nmoves - 1 and u >= move_cum[m]:
            m += 1
        att[m] += 1
        mk = move_kind[m]
        pending = -1
        if mk == _DISPLACE:
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
                if t >= 1.0:
                    t = 0.0
                trial[a] = t
            if dim == 2:
                trial[2] = 0.0
            c_new = _cell_of(trial[0], trial[1], trial[2], ncell)
            c_old = cof[i]
            # distance of the trial position from the list's reference position of i
            g2 = 0.0
            for a in range(dim):
                x = unwrapped[i, a] + delta[a] - u0[i, a]
                g2 += x * x
            if not g2 < half2:
                nbr = _rebuild(frac, unwrapped, H, ortho, ncell, klist, cmem, ccount, rl2, nbr, ncount, u0)
                counters[0] += 1
                g2 = 0.0
                for a in range(dim):
                    g2 += delta[a] * delta[a]
            if g2 < half2:
                du = _displacement_delta_verlet(i, frac[i], trial, types[i], diam[i], frac, types, diam, H, ortho,
                                                nbr, ncount, kind, table, rc2)
            else:
                # a step ≥ skin/2: exact energies from the cell scans, and a fresh list if it is accepted
                counters[1] += 1
                if c_new == c_old:
                    du = _displacement_delta(i, frac[i], trial, types[i], diam[i], frac, types, diam, H, ortho,
                                             ncell, ksearch, cmem, ccount, kind, table, rc2)
                else:
                    e_old, _ = _particle_energy(i, frac[i], types[i], diam[i], -1, frac, types, diam, H, ortho,
                                                ncell, ksearch, cmem, ccount, kind, table, rc2)
                    e_new, _ = _particle_energy(i, trial, types[i], diam[i], -1, frac, types, diam, H, ortho,
                                                ncell, ksearch, cmem, ccount, kind, table, rc2)
                    du = e_new - e_old
            if du <= 0.0 or np.random.random() < np.exp(-beta * du):
                acc[m] += 1
                energy += du
                for a in range(3):
                    frac[i, a] = trial[a]
                for a in range(dim):
                    unwrapped[i, a] += delta[a]
                if not g2 < half2:
                    stale = True
                if c_new != c_old:
                    last = cmem[c_old, ccount[c_old] - 1]
                    cmem[c_old, cslot[i]] = last
                    cslot[last] = cslot[i]
                    ccount[c_old] -= 1
                    cof[i] = c_new
                    if ccount[c_new] >= cmem.shape[1]:
                        pending = i
                    else:
                        cmem[c_new, ccount[c_new]] = i
                        cslot[i] = ccount[c_new]
                        ccount[c_new] += 1
        elif mk == _TYPE_SWAP:
            a_t = move_a[m]
            b_t = move_b[m]
            i = tmem[a_t, np.random.randint(0, tcount[a_t])]
            j = tmem[b_t, np.random.randint(0, tcount[b_t])]
            du = _swap_delta_verlet(i, j, b_t, a_t, diam[i], diam[j], frac, types, diam, H, ortho, nbr, ncount,
                                    kind, table, rc2)
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
                du = _swap_delta_verlet(i, j, types[i], types[j], diam[j], diam[i], frac, types, diam, H, ortho,
                                        nbr, ncount, kind, table, rc2)
                if du <= 0.0 or np.random.random() < np.exp(-beta * du):
                    acc[m] += 1
                    energy += du
                    tmp = diam[i]
                    diam[i] = diam[j]
                    diam[j] = tmp
        if (k + 1) % n_per_sweep == 0:
            trace[(k + 1) // n_per_sweep - 1] = energy
        if pending >= 0:
            return _CELL_FULL, k + 1, energy, pending, nbr
    return _OK, n_attempts, energy, -1, nbr
