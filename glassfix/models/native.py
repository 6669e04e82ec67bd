"""Tables for the LAMMPS plugin's native (C++) evaluation of linear models on radial structure functions.

A model that can run natively says so through :meth:`glassfix.models.base.Predictor.native_tables`; the
plugin's bridge only forwards what the model returns. Lengths in the descriptor's unit (σ_AA).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["radial_quintic_tables"]


def radial_quintic_tables(model: Any, type_map: np.ndarray, spacing: float = 4e-3,
                          tolerance: float = 1e-12) -> dict[str, Any] | None:
    """Tables for the plugin's C++ evaluation of a linear model on radial structure functions.

    A softness head is S = b + Σ_f w_f (G_f − mean_f) / scale_f and every G_f is a sum over pairs, so
    S_i = b' + Σ_j F_{t(i) t(j)}(r_ij) with b' = b − Σ_f w_f mean_f / scale_f and the pair function
    F_{ab}(r) = fc(r) Σ_m (w_{b,m} / scale_{b,m}) exp(−(r − μ_m)² / 2δ²). The plugin sums tabulated F
    (quintic Hermite interpolation of exact F, F', F'' at nodes h apart, the cutoff on a node) over the
    atoms within the cutoff: no feature matrix and no Python in the time-step loop. h starts at about
    ``spacing`` (length units) and is halved until the interpolation error, checked at nine points of
    every interval, is below ``tolerance`` × max(1, max |F|); a model needing more than 2^18 nodes
    keeps the Python path. A coarse table matters: it has to stay in the CPU's L2 cache.
    Returns None when the descriptor is not plain radial structure functions with a none/cosine cutoff.
    """
    from glassfix.descriptors.structure_functions import RadialStructureFunctions

    if type(model.descriptor) is not RadialStructureFunctions:
        return None
    desc = model.descriptor
    if desc.cutoff_fn not in ("none", "cosine"):
        return None
    nsp, nmu, rc = int(desc.n_species), int(desc.mus.size), float(desc.cutoff)
    heads: dict[int, tuple[np.ndarray, float]] = {}
    for a, head in model.heads.items():
        w = head.w / head.scale
        b = head.b - float(np.sum(head.w * head.mean / head.scale))
        if model.normalize_w:
            norm = float(np.sqrt(np.dot(head.w, head.w)))
            w, b = w / norm, b / norm
        heads[int(a)] = (w, b)

    def tables(r: np.ndarray) -> np.ndarray:
        """(3, nsp, nsp, len(r)): F, F', F'' (the cutoff's left limits at r = rc, zero beyond)."""
        z = (r[:, None] - desc.mus[None, :]) / desc.delta
        g = np.exp(-0.5 * z * z)                           # (n, nmu)
        g1 = g * (-z / desc.delta)
        g2 = g * (z * z - 1.0) / desc.delta ** 2
        inside = r <= rc
        if desc.cutoff_fn == "cosine":
            k = np.pi / rc
            fc = np.where(inside, 0.5 * (np.cos(k * r) + 1.0), 0.0)
            fc1 = np.where(inside, -0.5 * k * np.sin(k * r), 0.0)
            fc2 = np.where(inside, -0.5 * k * k * np.cos(k * r), 0.0)
        else:
            fc, fc1, fc2 = inside.astype(float), np.zeros(r.size), np.zeros(r.size)
        out = np.zeros((3, nsp, nsp, r.size))
        for a, (w, _) in heads.items():
            for c in range(nsp):
                wc = w[c * nmu:(c + 1) * nmu]
                c0, c1, c2 = g @ wc, g1 @ wc, g2 @ wc
                out[0, a, c] = fc * c0
                out[1, a, c] = fc1 * c0 + fc * c1
                out[2, a, c] = fc2 * c0 + 2.0 * fc1 * c1 + fc * c2
        return out

    m = max(1, int(np.ceil(rc / spacing)))
    while True:
        h = rc / m
        r = np.arange(m + 1) * h
        T = tables(r)
        fmax = max(1.0, float(np.abs(T[0]).max()))
        err = 0.0
        for t in np.linspace(0.1, 0.9, 9):
            exact = tables(r[:-1] + t * h)[0]
            H0 = 1 - 10 * t**3 + 15 * t**4 - 6 * t**5
            H1 = t - 6 * t**3 + 8 * t**4 - 3 * t**5
            H2 = 0.5 * t**2 - 1.5 * t**3 + 1.5 * t**4 - 0.5 * t**5
            H3 = 0.5 * t**3 - t**4 + 0.5 * t**5
            H4 = -4 * t**3 + 7 * t**4 - 3 * t**5
            H5 = 10 * t**3 - 15 * t**4 + 6 * t**5
            interp = (H0 * T[0][..., :-1] + H1 * h * T[1][..., :-1] + H2 * h * h * T[2][..., :-1]
                      + H5 * T[0][..., 1:] + H4 * h * T[1][..., 1:] + H3 * h * h * T[2][..., 1:])
            err = max(err, float(np.abs(interp - exact).max()))
        if err <= tolerance * fmax:
            break
        m *= 2
        if m > 2 ** 18:
            return None
    has = [1 if a in heads else 0 for a in range(nsp)]
    bias = [heads[a][1] if a in heads else 0.0 for a in range(nsp)]
    return {"kind": "radial_quintic", "n_species": nsp, "cutoff": rc, "spacing": float(h), "n": m + 1,
            "type_map": [int(t) for t in type_map], "has_head": has, "bias": bias,
            "F": np.ascontiguousarray(T[0]).tobytes(), "dF": np.ascontiguousarray(T[1]).tobytes(),
            "d2F": np.ascontiguousarray(T[2]).tobytes()}
