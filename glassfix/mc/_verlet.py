"""Numba kernels of the swap-MC engine's Verlet-list path (:mod:`glassfix.mc.engine`, ``neighbor_skin``).

Same Markov chain as :func:`glassfix.mc._kernels._run_chunk`: the same random draws in the same order and
the same exact ΔU (only the order of the floating-point sums differs), but a particle's energy comes from
its own list of neighbours within r_l = r_c + skin instead of a scan of the neighbouring cells, and a swap
costs one pass over each of the two particles' lists (both labellings at once) instead of four scans.

Validity (why ΔU stays exact): the list holds every pair closer than r_l = r_c + skin at the reference
positions ``u0`` (unwrapped coordinates at the last build); ``dmax`` bounds every particle's committed
distance from its reference. A pair (i, j) missing from the list is then closer than r_c only if
|Δ_i| + |Δ_j| ≥ skin, so a displacement trial of i with |t_i − u0_i| + dmax < skin, and any swap while
2 dmax < skin, sees all its interacting pairs. A trial beyond that reach is evaluated with the cell-scan
kernels of ``_kernels`` (exact, slower), and the list is rebuilt as soon as an accepted move makes
2 dmax ≥ skin. Only used when r_l < half the smallest perpendicular box width, so each pair has a single
image within r_l (nearest image by rounding the fractional difference) and no particle meets its own
images.

Units are the potential's (LJ reduced units). Nothing here is public API.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from glassfix.systems.potentials import C0, C2, C4, EPS, LJ_POLY, LJ_SHIFTED, LJ_TRUNCATED, OFFSET, RC, SIG
from glassfix.mc._kernels import (_CELL_FULL, _DISPLACE, _OK, _TYPE_SWAP, _cell_of, _choose_move, _displacement_delta,
                                  _move_to_cell, _particle_energy, _propose_displacement, pair_energy)



def poly_coefficients(kind: int, table: np.ndarray) -> tuple[bool, np.ndarray]:
    """(usable, coef (n_t², 6)) of the polynomial form of :func:`_pair_v` for a potential kind and table:
    LJ_POLY 4ε[(σ/r)¹² − (σ/r)⁶ + C0 + C2 x² + C4 x⁴] and LJ_TRUNCATED/LJ_SHIFTED (c2 = c4 = 0, c0 = −offset);
    other kinds use the potentials' kernel (usable False). One division per pair instead of two."""
    nt = table.shape[0]
    coef = np.zeros((nt * nt, 6))
    if kind not in (LJ_POLY, LJ_TRUNCATED, LJ_SHIFTED):
        return False, coef
    for a in range(nt):
        for b in range(nt):
            p = table[a, b]
            e4, s2 = 4.0 * p[EPS], p[SIG] * p[SIG]
            c = coef[a * nt + b]
            c[0] = p[RC] * p[RC]
            c[1] = e4 * s2 ** 6
            c[2] = e4 * s2 ** 3
            if kind == LJ_POLY:
                c[3], c[4], c[5] = e4 * p[C0], e4 * p[C2] / s2, e4 * p[C4] / (s2 * s2)
            else:
                c[3] = -p[OFFSET]
    return True, coef


@njit(cache=True, inline="always")
def _pair_v(kind, table, poly, coef, nt, ti, tj, di, dj, r2):
    """V(r) (ε_AA) of one pair at r² (< r_l²): the polynomial form of ``coef`` if ``poly``, else the
    potentials' kernel. coef[ti·nt + tj] = (r_c², 4εσ¹², 4εσ⁶, c0, c2, c4): V = 4εσ¹²/r¹² − 4εσ⁶/r⁶ + c0 +
    c2 r² + c4 r⁴ for r < r_c (LJ_POLY, LJ_TRUNCATED and LJ_SHIFTED; see :func:`poly_coefficients`)."""
    if poly:
        c = ti * nt + tj
        if r2 < coef[c, 0]:
            u = 1.0 / r2
            u3 = u * u * u
            return u3 * (coef[c, 1] * u3 - coef[c, 2]) + coef[c, 3] + r2 * (coef[c, 4] + coef[c, 5] * r2)
        return 0.0
    return pair_energy(kind, table, ti, tj, di, dj, r2)


@njit(cache=True)
def _build_verlet(frac, unwrapped, types, diam, H, ncell, klist, cmem, ccount, rl2, nbr, ncount, u0, shift, pe, rev,
                  kind, table, poly, coef, nt):
    """Fill the lists with every pair within r_l (nearest image), each pair found once from its lower index
    and entered in both rows: nbr/ncount, ``shift`` (Cartesian, σ_AA: r_ij = u_j − u_i + shift until the
    next build, u the unwrapped positions), ``pe`` = V of the pair (ε_AA), ``rev`` = slot of i in j's row;
    ``u0`` = unwrapped. False if a row overflowed the capacity."""
    n = frac.shape[0]
    n0, n1, n2 = ncell[0], ncell[1], ncell[2]
    cap = nbr.shape[1]
    m0 = min(2 * klist[0] + 1, n0)
    m1 = min(2 * klist[1] + 1, n1)
    m2 = min(2 * klist[2] + 1, n2)
    for i in range(n):
        ncount[i] = 0
        for a in range(3):
            u0[i, a] = unwrapped[i, a]
    ok = True
    for i in range(n):
        s0, s1, s2 = frac[i, 0], frac[i, 1], frac[i, 2]
        c0 = min(int(s0 * n0), n0 - 1)
        c1 = min(int(s1 * n1), n1 - 1)
        c2 = min(int(s2 * n2), n2 - 1)
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
                        if j <= i:
                            continue
                        d0 = frac[j, 0] - s0
                        d1 = frac[j, 1] - s1
                        d2 = frac[j, 2] - s2
                        d0 -= math.floor(d0 + 0.5)
                        d1 -= math.floor(d1 + 0.5)
                        d2 -= math.floor(d2 + 0.5)
                        x = d0 * H[0, 0] + d1 * H[1, 0] + d2 * H[2, 0]
                        y = d0 * H[0, 1] + d1 * H[1, 1] + d2 * H[2, 1]
                        z = d0 * H[0, 2] + d1 * H[1, 2] + d2 * H[2, 2]
                        r2 = x * x + y * y + z * z
                        if not r2 < rl2:
                            continue
                        qi = ncount[i]
                        qj = ncount[j]
                        ncount[i] += 1
                        ncount[j] += 1
                        if qi >= cap or qj >= cap:
                            ok = False
                            continue
                        v = _pair_v(kind, table, poly, coef, nt, types[i], types[j], diam[i], diam[j], r2)
                        nbr[i, qi] = j
                        nbr[j, qj] = i
                        rev[i, qi] = qj
                        rev[j, qj] = qi
                        pe[i, qi] = v
                        pe[j, qj] = v
                        shift[i, qi, 0] = x - (unwrapped[j, 0] - unwrapped[i, 0])
                        shift[i, qi, 1] = y - (unwrapped[j, 1] - unwrapped[i, 1])
                        shift[i, qi, 2] = z - (unwrapped[j, 2] - unwrapped[i, 2])
                        for a in range(3):
                            shift[j, qj, a] = -shift[i, qi, a]
    return ok


@njit(cache=True)
def _rebuild(frac, unwrapped, types, diam, H, ncell, klist, cmem, ccount, rl2, nbr, ncount, u0, kind, table,
             poly, coef, nt):
    """:func:`_build_verlet`, doubling the capacity until every row fits; returns (nbr, shift, pe, rev)."""
    while True:
        shape = nbr.shape
        shift = np.empty((shape[0], shape[1], 3))
        pe = np.empty(shape)
        rev = np.empty(shape, dtype=np.int64)
        if _build_verlet(frac, unwrapped, types, diam, H, ncell, klist, cmem, ccount, rl2, nbr, ncount, u0, shift, pe,
                         rev, kind, table, poly, coef, nt):
            return nbr, shift, pe, rev
        nbr = np.empty((shape[0], 2 * shape[1]), dtype=np.int64)


@njit(cache=True, inline="always")
def _r2_list(unwrapped, j, x0, x1, x2, shift, i, q):
    """|u_j − x + shift[i, q]|² (σ_AA²): the list entry q of i, with i at Cartesian (unwrapped) x."""
    a = unwrapped[j, 0] - x0 + shift[i, q, 0]
    b = unwrapped[j, 1] - x1 + shift[i, q, 1]
    c = unwrapped[j, 2] - x2 + shift[i, q, 2]
    return a * a + b * b + c * c


@njit(cache=True)
def _displacement_trial(i, x0, x1, x2, ti, di, unwrapped, types, diam, nbr, ncount, shift, pe, kind, table, poly,
                        coef, nt, tmp):
    """E_i(x) − E_i(now) (ε_AA) with i at unwrapped x: new pair energies into ``tmp``, old ones cached."""
    e_old = 0.0
    e_new = 0.0
    for q in range(ncount[i]):
        j = nbr[i, q]
        v = _pair_v(kind, table, poly, coef, nt, ti, types[j], di, diam[j],
                    _r2_list(unwrapped, j, x0, x1, x2, shift, i, q))
        tmp[q] = v
        e_new += v
        e_old += pe[i, q]
    return e_new - e_old


@njit(cache=True, inline="always")
def _relabel_row(i, j, new_ti, new_tj, new_di, new_dj, unwrapped, types, diam, nbr, ncount, shift, pe, kind,
                 table, poly, coef, nt, tmp):
    """(Σ new pair energies of i, Σ cached, new V_ij, cached V_ij) with i → (new_ti, new_di), j → (new_tj,
    new_dj); the new values go to ``tmp``."""
    e_new = 0.0
    e_old = 0.0
    v_ij = 0.0
    o_ij = 0.0
    x0 = unwrapped[i, 0]
    x1 = unwrapped[i, 1]
    x2 = unwrapped[i, 2]
    for q in range(ncount[i]):
        k = nbr[i, q]
        tk = types[k]
        dk = diam[k]
        if k == j:
            tk = new_tj
            dk = new_dj
        r2 = _r2_list(unwrapped, k, x0, x1, x2, shift, i, q)
        v = _pair_v(kind, table, poly, coef, nt, new_ti, tk, new_di, dk, r2)
        tmp[q] = v
        e_new += v
        e_old += pe[i, q]
        if k == j:
            v_ij = v
            o_ij = pe[i, q]
    return e_new, e_old, v_ij, o_ij


@njit(cache=True)
def _swap_trial(i, j, new_ti, new_tj, new_di, new_dj, unwrapped, types, diam, nbr, ncount, shift, pe, kind, table,
                poly, coef, nt, tmpi, tmpj):
    """ΔU (ε_AA) of giving i (new_ti, new_di) and j (new_tj, new_dj): one pass over each list (new energies
    into ``tmpi``/``tmpj``), old ones from the cache; the i–j pair, in both sums, counted once."""
    ei, oi, vij, oij = _relabel_row(i, j, new_ti, new_tj, new_di, new_dj, unwrapped, types, diam, nbr, ncount, shift,
                                    pe, kind, table, poly, coef, nt, tmpi)
    ej, oj, _, _ = _relabel_row(j, i, new_tj, new_ti, new_dj, new_di, unwrapped, types, diam, nbr, ncount, shift,
                                pe, kind, table, poly, coef, nt, tmpj)
    return (ei + ej - vij) - (oi + oj - oij)


@njit(cache=True, inline="always")
def _commit_row(i, nbr, ncount, pe, rev, tmp):
    """Write i's new pair energies into its row and into the partners' rows."""
    for q in range(ncount[i]):
        v = tmp[q]
        pe[i, q] = v
        pe[nbr[i, q], rev[i, q]] = v


@njit(cache=True)
def _run_chunk_verlet(frac, unwrapped, types, diam, H, Hinv, ortho, dim, ncell, ksearch, klist, cmem, ccount,
                      cslot, cof, tmem, tcount, tslot, nbr, ncount, u0, skin, kind, table, poly, coef, rc2, rl2,
                      beta,
                      move_cum, move_kind, move_a, move_b, step, gaussian, max_dd, n_attempts, start, n_per_sweep,
                      energy, trace, att, acc, seed, reseed, counters):
    """:func:`glassfix.mc._kernels._run_chunk` with Verlet lists (module docstring); same arguments plus the
    list arrays, ``skin`` (σ_AA), the polynomial form (``poly``, ``coef``, :func:`_pair_v`), r_l² and
    ``counters`` (rebuilds, cell-scan fallbacks). The list is rebuilt
    on entry (so a chunk's result depends only on the chain state, as checkpoints need); returns
    (status, next attempt, energy, particle, list array — a larger one if it had to grow)."""
    if reseed:
        np.random.seed(seed)
    nt = table.shape[0]
    nbr, shift, pe, rev = _rebuild(frac, unwrapped, types, diam, H, ncell, klist, cmem, ccount, rl2, nbr,
                                   ncount, u0, kind, table, poly, coef, nt)
    tmpi = np.zeros(nbr.shape[1])
    tmpj = np.zeros(nbr.shape[1])
    counters[0] += 1
    dmax = 0.0  # largest distance of any particle from its reference position (σ_AA), since the build
    n = frac.shape[0]
    trial = np.zeros(3)
    delta = np.zeros(3)
    stale = False
    for k in range(start, n_attempts):
        if stale:
            nbr, shift, pe, rev = _rebuild(frac, unwrapped, types, diam, H, ncell, klist, cmem, ccount, rl2,
                                           nbr, ncount, u0, kind, table, poly, coef, nt)
            if tmpi.shape[0] < nbr.shape[1]:
                tmpi = np.zeros(nbr.shape[1])
                tmpj = np.zeros(nbr.shape[1])
            counters[0] += 1
            stale = False
            dmax = 0.0
        m = _choose_move(move_cum)
        att[m] += 1
        mk = move_kind[m]
        pending = -1
        if mk == _DISPLACE:
            i = _propose_displacement(frac, n, step, gaussian, dim, Hinv, delta, trial)
            c_new = _cell_of(trial[0], trial[1], trial[2], ncell)
            c_old = cof[i]
            # the list is exact for this trial if i's distance from its reference position plus the largest
            # committed distance of any particle stays below the skin
            g2 = 0.0
            for a in range(dim):
                x = unwrapped[i, a] + delta[a] - u0[i, a]
                g2 += x * x
            g = math.sqrt(g2)
            if g + dmax < skin:
                du = _displacement_trial(i, unwrapped[i, 0] + delta[0], unwrapped[i, 1] + delta[1],
                                         unwrapped[i, 2] + delta[2], types[i], diam[i], unwrapped, types, diam, nbr,
                                         ncount, shift, pe, kind, table, poly, coef, nt, tmpi)
            else:
                # a trial beyond the list's reach: exact energies from the cell scans
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
                if g + dmax < skin:
                    _commit_row(i, nbr, ncount, pe, rev, tmpi)
                if g > dmax:
                    dmax = g
                    # swaps need every pair within the skin: |Δ_i| + |Δ_j| ≤ 2 dmax < skin
                    if not 2.0 * dmax < skin:
                        stale = True
                if c_new != c_old:
                    pending = _move_to_cell(i, c_old, c_new, cmem, cslot, ccount, cof)
        elif mk == _TYPE_SWAP:
            a_t = move_a[m]
            b_t = move_b[m]
            i = tmem[a_t, np.random.randint(0, tcount[a_t])]
            j = tmem[b_t, np.random.randint(0, tcount[b_t])]
            du = _swap_trial(i, j, b_t, a_t, diam[i], diam[j], unwrapped, types, diam, nbr, ncount, shift, pe, kind,
                             table, poly, coef, nt, tmpi, tmpj)
            if du <= 0.0 or np.random.random() < np.exp(-beta * du):
                acc[m] += 1
                _commit_row(i, nbr, ncount, pe, rev, tmpi)
                _commit_row(j, nbr, ncount, pe, rev, tmpj)
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
                du = _swap_trial(i, j, types[i], types[j], diam[j], diam[i], unwrapped, types, diam, nbr, ncount,
                                 shift, pe, kind, table, poly, coef, nt, tmpi, tmpj)
                if du <= 0.0 or np.random.random() < np.exp(-beta * du):
                    acc[m] += 1
                    _commit_row(i, nbr, ncount, pe, rev, tmpi)
                    _commit_row(j, nbr, ncount, pe, rev, tmpj)
                    energy += du
                    tmp = diam[i]
                    diam[i] = diam[j]
                    diam[j] = tmp
        if (k + 1) % n_per_sweep == 0:
            trace[(k + 1) // n_per_sweep - 1] = energy
        if pending >= 0:
            return _CELL_FULL, k + 1, energy, pending, nbr
    return _OK, n_attempts, energy, -1, nbr
