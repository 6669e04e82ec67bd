"""Equilibrium diagnostics of swap-MC chains: correlated-series errors, plateau test, cage-relative
overlap, crystallinity (ψ6 / q6) and a demixing test. The overlap's relaxation time is the package's one
crossing function, :func:`glassfix.analysis.relaxation.tau_alpha_crossing` with ``interp="linear"`` (lags
are evenly spaced) and ``on_missing="inf"`` (not relaxed within the window: a lower bound).

Units: LJ reduced units (lengths σ_AA); lags in whatever unit the caller's snapshots are spaced by
(sweeps for the ladder, τ for MD). Used by the equilibration ladder (:mod:`glassfix.mc.ladder`) and by the
swap-vs-MD comparison (:mod:`glassfix.mc.lammps_swap`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from glassfix.core.frame import Frame

__all__ = ["mean_error", "plateau_test", "cage_relative_overlap", "bond_order",
           "demixing_test", "mixing_labels"]


# ============================================================================== statistics
def mean_error(x: np.ndarray, c: float = 5.0) -> tuple[float, float, float]:
    """(mean, standard error, τ_int in samples) of a correlated series; Sokal's automatic window M ≥ c τ_int."""
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    if n == 0:
        return float("nan"), float("inf"), float("nan")
    m = float(x.mean())
    if n < 4:
        return m, float("inf"), float("nan")
    y = x - m
    var = float(y @ y) / n
    if var == 0.0:
        return m, 0.0, 0.5
    f = np.fft.rfft(y, 2 * n)
    acf = np.fft.irfft(f * np.conj(f))[:n] / (var * n)
    tau = 0.5 + np.cumsum(acf[1:])  # τ_int(M) = ½ + Σ_{t=1..M} ρ(t)
    ok = np.flatnonzero(np.arange(1, n) >= c * tau)
    # no window satisfies M ≥ c τ: the series is shorter than its own correlation time
    t_int = float(tau[ok[0]]) if ok.size else float(n)
    t_int = max(t_int, 0.5)
    return m, math.sqrt(2.0 * t_int * var / n), t_int


def plateau_test(series: np.ndarray, z: float = 3.0) -> dict[str, Any]:
    """Compare the means of the two halves of ``series``: passed if |m1 − m2| ≤ z √(e1² + e2²)."""
    x = np.asarray(series, dtype=np.float64)
    h = x.size // 2
    m1, e1, _ = mean_error(x[:h])
    m2, e2, _ = mean_error(x[h:])
    diff = abs(m1 - m2)
    sigma = math.sqrt(e1 * e1 + e2 * e2)
    return {"mean_first": m1, "err_first": e1, "mean_second": m2, "err_second": e2,
            "z_score": diff / sigma if sigma > 0 else (0.0 if diff == 0 else float("inf")),
            "passed": bool(np.isfinite(sigma) and diff <= z * sigma)}


# ============================================================================== dynamics
def cage_relative_overlap(snapshots: np.ndarray, cell: np.ndarray, a: float = 0.3, cage_radius: float = 1.5,
                          max_origins: int = 16) -> np.ndarray:
    """Q(k) for lags k = 0 … K−1 snapshots: fraction of particles with |Δr_i − ⟨Δr_j⟩_cage| < a (σ_AA).

    ``snapshots`` (K, N, d) are unwrapped positions at equally spaced times; the cage of i is the set of
    particles within ``cage_radius`` at the time origin; averages over ≤ ``max_origins`` origins. Lags no
    origin reaches are NaN.
    """
    from glassfix.core.neighbors import neighbor_list

    snaps = np.asarray(snapshots, dtype=np.float64)
    k_tot, n, d = snaps.shape
    q = np.zeros(k_tot)
    cnt = np.zeros(k_tot)
    if k_tot < 2:
        return np.ones(k_tot)
    origins = np.unique(np.linspace(0, k_tot - 2, min(max_origins, k_tot - 1)).round().astype(int))
    for k0 in origins:
        nl = neighbor_list(Frame(positions=snaps[k0], types=np.zeros(n, dtype=np.int64), cell=cell), cage_radius)
        ci = nl.center_of_pair()
        nb = nl.neighbors
        ncage = np.bincount(ci, minlength=n).astype(np.float64)
        has = ncage > 0
        for lag in range(1, k_tot - k0):
            dr = snaps[k0 + lag] - snaps[k0]
            cage = np.zeros((n, d))
            for ax in range(d):
                cage[has, ax] = np.bincount(ci, weights=dr[nb, ax], minlength=n)[has] / ncage[has]
            rel = dr - cage
            q[lag] += float(np.mean(np.einsum("ij,ij->i", rel, rel) < a * a))
            cnt[lag] += 1
    out = np.full(k_tot, np.nan)
    out[0] = 1.0
    out[cnt > 0] = q[cnt > 0] / cnt[cnt > 0]
    return out


# ============================================================================== structure
def _nearest(frame: Frame, k: int, search: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(centre, neighbour, vector) of the k nearest neighbours of every particle within ``search``."""
    from glassfix.core.neighbors import neighbor_list

    nl = neighbor_list(frame, search)
    ci = nl.center_of_pair()
    dist = nl.distances()
    order = np.lexsort((dist, ci))
    ci, nb, vec = ci[order], nl.neighbors[order], nl.vectors[order]
    rank = np.arange(ci.size) - nl.offsets[ci]
    keep = rank < k
    return ci[keep], nb[keep], vec[keep]


def bond_order(frame: Frame) -> dict[str, float]:
    """Crystallinity: mean local bond order and fraction of solid-like particles (2D ψ6, 3D q6).

    3D: Steinhardt q6 over the 12 nearest neighbours, solid-like with ≥ 7 of 12 ten Wolde connections
    d6 > 0.7. 2D: ψ6 over the 6 nearest neighbours, solid-like if |ψ6| > 0.85 and ≥ 5 of 6 neighbours have
    cos 6(φ_i − φ_j) > 0.9 — calibrated on a thermal LJ triangular crystal (fraction 0.95–1.0 at T = 0.3–0.6)
    against JBB liquids at T = 1.0–0.35 (0.01–0.05); looser 2D thresholds flag hexatic liquid patches.
    """
    n, d = frame.positions.shape
    diam = frame.metadata.get("diameters")
    scale = float(np.mean(diam)) if diam is not None else 1.0
    k = 6 if d == 2 else 12
    ci, nb, vec = _nearest(frame, k, 2.2 * scale)
    nnb = np.bincount(ci, minlength=n).astype(np.float64)
    if d == 2:
        ang = np.arctan2(vec[:, 1], vec[:, 0])
        qv = np.zeros((n, 1), dtype=np.complex128)
        qv[:, 0] = np.bincount(ci, weights=np.cos(6 * ang), minlength=n) + 1j * np.bincount(
            ci, weights=np.sin(6 * ang), minlength=n)
        qv /= np.maximum(nnb, 1)[:, None]
        local = np.abs(qv[:, 0])
        need, extra, connection = 5, local > 0.85, 0.9
    else:
        from scipy.special import sph_harm_y

        r = np.linalg.norm(vec, axis=1)
        theta = np.arccos(np.clip(vec[:, 2] / r, -1.0, 1.0))
        phi = np.arctan2(vec[:, 1], vec[:, 0])
        qv = np.zeros((n, 13), dtype=np.complex128)
        for col, m in enumerate(range(-6, 7)):
            y = sph_harm_y(6, m, theta, phi)
            qv[:, col] = (np.bincount(ci, weights=y.real, minlength=n)
                          + 1j * np.bincount(ci, weights=y.imag, minlength=n))
        qv /= np.maximum(nnb, 1)[:, None]
        local = np.sqrt(4 * np.pi / 13 * np.sum(np.abs(qv) ** 2, axis=1))
        need, extra, connection = 7, np.ones(n, dtype=bool), 0.7
    norm = np.linalg.norm(qv, axis=1)
    unit = qv / np.where(norm > 0, norm, 1.0)[:, None]
    dot = np.real(np.sum(unit[ci] * np.conj(unit[nb]), axis=1))
    conn = np.bincount(ci, weights=(dot > connection).astype(np.float64), minlength=n)
    solid = (conn >= need) & extra
    return {"bond_order": float(local.mean()), "crystalline_fraction": float(solid.mean()),
            "order_parameter": "psi6" if d == 2 else "q6"}


def demixing_test(frame: Frame, labels: np.ndarray | None = None, per_block: float = 30.0) -> dict[str, float]:
    """χ² test of independence of species (``labels``, default types) and coarse blocks (~``per_block`` each).

    Returns χ²/dof and the p-value: random mixing gives χ²/dof ≈ 1; demixing gives large χ²/dof and p → 0.
    """
    from scipy import stats

    n, d = frame.positions.shape
    lab = np.asarray(frame.types if labels is None else labels)
    _, lab = np.unique(lab, return_inverse=True)
    m = max(2, int(np.floor((n / per_block) ** (1.0 / d))))
    s = np.linalg.solve(frame.cell.T, (frame.positions - frame.origin).T).T
    s -= np.floor(s)
    b = np.clip((s * m).astype(np.int64), 0, m - 1)
    block = np.ravel_multi_index(tuple(b.T), (m,) * d)
    table = np.zeros((m ** d, lab.max() + 1))
    np.add.at(table, (block, lab), 1.0)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if table.shape[0] < 2 or table.shape[1] < 2:
        return {"chi2_per_dof": 0.0, "p_value": 1.0, "blocks": int(table.shape[0])}
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    chi2 = float(((table - expected) ** 2 / expected).sum())
    dof = (table.shape[0] - 1) * (table.shape[1] - 1)
    return {"chi2_per_dof": chi2 / dof, "p_value": float(stats.chi2.sf(chi2, dof)), "blocks": int(table.shape[0])}


def mixing_labels(frame: Frame) -> np.ndarray | None:
    """Labels for the demixing test: types, or diameter terciles for a single-type polydisperse frame."""
    diam = frame.metadata.get("diameters")
    if diam is not None and np.unique(frame.types).size == 1:
        cuts = np.quantile(diam, [1 / 3, 2 / 3])
        return np.searchsorted(cuts, diam, side="right")
    return None
