"""Rearrangement labels from p_hop and class-balanced training sets (Cubuk thesis ch. 5, §3.2–3.3 of
``shared/science/002_cubuk.md``).

- rearranging (y = 1): p_hop(i, t) > p_c (p_c = 0.2 σ² in the thesis);
- quiescent (y = 0): p_hop(i, t') < p_c for every t' in [t − lookback, t] (the thesis uses
  lookback = τ_α in frames), all those values finite.

All arrays are (T, N): frame index first, atom index second, as returned by
:func:`glassfix.labels.phop.phop`.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def _as_phop(phop: np.ndarray) -> np.ndarray:
    p = np.asarray(phop, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"phop must have shape (T, N), got {p.shape}")
    return p


def rearranging_mask(phop: np.ndarray, p_c: float = 0.2) -> np.ndarray:
    """(T, N) bool: p_hop(i, t) > p_c (NaN → False)."""
    p = _as_phop(phop)
    with np.errstate(invalid="ignore"):
        return np.isfinite(p) & (p > p_c)


def quiescent_mask(phop: np.ndarray, p_c: float = 0.2, lookback_frames: int = 0) -> np.ndarray:
    """(T, N) bool: p_hop(i, t') finite and < p_c for every t' in [t − lookback_frames, t].

    Frames with t < lookback_frames (history not available) are False. O(T·N) via a running count.
    """
    p = _as_phop(phop)
    L = int(lookback_frames)
    if L < 0:
        raise ValueError(f"lookback_frames must be >= 0, got {lookback_frames}")
    T, N = p.shape
    with np.errstate(invalid="ignore"):
        bad = ~(np.isfinite(p) & (p < p_c))
    c = np.zeros((T + 1, N), dtype=np.int64)
    np.cumsum(bad, axis=0, out=c[1:])
    out = np.zeros((T, N), dtype=bool)
    if L < T:
        # window [t - L, t] has count c[t + 1] - c[t - L]
        out[L:] = (c[L + 1:] - c[: T - L]) == 0
    return out


def _type_mask(types: np.ndarray, shape: tuple[int, int], species: int | Sequence[int] | None) -> np.ndarray:
    T, N = shape
    if species is None:
        return np.ones(shape, dtype=bool)
    ty = np.asarray(types)
    if ty.shape == (N,):
        ty = np.broadcast_to(ty, (T, N))
    elif ty.shape != (T, N):
        raise ValueError(f"types must have shape ({N},) or ({T}, {N}), got {ty.shape}")
    wanted = np.atleast_1d(np.asarray(species, dtype=np.int64))
    return np.isin(ty, wanted)


def select_training_set(phop: np.ndarray, types: np.ndarray | None, p_c: float = 0.2, lookback: int = 0,
                        n_per_class: int = 6000, species: int | Sequence[int] | None = None,
                        seed: int | None = 0, balance: bool = True,
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """Class-balanced (frame, atom) examples: positives rearrange at t, negatives are quiescent for
    ``lookback`` frames up to t.

    ``types``: (N,) or (T, N) 0-based types (may be None when ``species`` is None); ``species``:
    a type index or indices to keep (e.g. 0 for A only), None = all. Examples are drawn uniformly
    without replacement with ``np.random.default_rng(seed)``; each class gets
    min(n_per_class, available), and with ``balance=True`` both classes are cut to the smaller of the two.

    Returns ``(frame_idx, atom_idx, y, info)``: int64, int64, int8 (1 = rearranging, 0 = quiescent)
    arrays sorted by (frame, atom), and ``info`` with ``n_pos_available``, ``n_neg_available``,
    ``n_pos``, ``n_neg``, ``n_requested``, ``complete`` (True when both classes got ``n_per_class``)
    and ``message`` describing any shortfall.
    """
    p = _as_phop(phop)
    n_per_class = int(n_per_class)
    if n_per_class < 0:
        raise ValueError("n_per_class must be >= 0")
    if types is None and species is not None:
        raise ValueError("species selection needs types")
    keep = _type_mask(types, p.shape, species)
    pos = np.flatnonzero((rearranging_mask(p, p_c) & keep).ravel())
    neg = np.flatnonzero((quiescent_mask(p, p_c, lookback) & keep).ravel())
    n_pos = min(n_per_class, pos.size)
    n_neg = min(n_per_class, neg.size)
    if balance:
        n_pos = n_neg = min(n_pos, n_neg)
    rng = np.random.default_rng(seed)
    pick_pos = np.sort(rng.choice(pos, size=n_pos, replace=False)) if n_pos else pos[:0]
    pick_neg = np.sort(rng.choice(neg, size=n_neg, replace=False)) if n_neg else neg[:0]
    flat = np.concatenate([pick_pos, pick_neg])
    y = np.concatenate([np.ones(n_pos, dtype=np.int8), np.zeros(n_neg, dtype=np.int8)])
    order = np.argsort(flat, kind="stable")
    flat, y = flat[order], y[order]
    N = p.shape[1]
    frame_idx = (flat // N).astype(np.int64)
    atom_idx = (flat % N).astype(np.int64)
    complete = n_pos == n_per_class and n_neg == n_per_class
    if complete:
        message = f"{n_pos} positives and {n_neg} negatives as requested"
    else:
        message = (f"requested {n_per_class} per class; available {pos.size} rearranging and {neg.size} "
                   f"quiescent examples; returning {n_pos} positives and {n_neg} negatives"
                   + (" (balanced to the smaller class)" if balance else ""))
    info = {
        "n_requested": n_per_class, "n_pos_available": int(pos.size), "n_neg_available": int(neg.size),
        "n_pos": int(n_pos), "n_neg": int(n_neg), "complete": bool(complete), "message": message,
        "p_c": float(p_c), "lookback": int(lookback),
        "species": None if species is None else np.atleast_1d(species).tolist(), "seed": seed,
    }
    return frame_idx, atom_idx, y, info


__all__ = ["rearranging_mask", "quiescent_mask", "select_training_set", "threshold_event_labels"]


def extremes(values: np.ndarray, fraction: float = 0.05, types: np.ndarray | None = None,
             species: int | Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the top and bottom ``fraction`` of ``values`` (N,) among the selected species.

    Rottler–Ortner thermal labels (``shared/science/000_ace.md`` §3.3): rank A particles of one
    configuration by isoconfigurationally averaged D²min; top 5 % = active (1), bottom 5 % = inactive (0),
    equal counts. NaN values are never selected. Returns ``(active, inactive)`` atom indices, sorted.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"values must have shape (N,), got {v.shape}")
    if not 0.0 < fraction <= 0.5:
        raise ValueError(f"fraction must be in (0, 0.5], got {fraction}")
    keep = np.isfinite(v)
    if species is not None:
        if types is None:
            raise ValueError("species selection needs types")
        keep &= np.isin(np.asarray(types), np.atleast_1d(np.asarray(species)))
    idx = np.flatnonzero(keep)
    k = int(np.floor(fraction * idx.size))
    # stable order: ties are broken by atom index, so the selection is deterministic
    order = idx[np.lexsort((idx, v[idx]))]
    return np.sort(order[idx.size - k:]), np.sort(order[:k])


def loose_tight(d2min: np.ndarray, threshold: float = 0.25) -> np.ndarray:
    """Creep-paper classes from D²min over a window (``shared/science/003_creep.md`` §4): 1 = loose
    (D²min > threshold, σ² units), 0 = tight; NaN D²min gives -1 (no label)."""
    d = np.asarray(d2min, dtype=np.float64)
    out = np.where(d > threshold, 1, 0).astype(np.int8)
    out[~np.isfinite(d)] = -1
    return out


def extreme_fraction_labels(values: np.ndarray, mask: np.ndarray | None = None,
                            fraction: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Balanced two-class labels from a per-atom score (Rottler & Ortner thermal labels: the top and bottom
    5 % of A particles by isoconfigurational D²min).

    Among the atoms with ``mask`` (default all) and a finite score, the ``k = floor(fraction · n)``
    largest become active (y = True) and the k smallest inactive (y = False); ties at the boundaries
    are broken by atom index. Returns ``(indices, y)`` sorted by atom index.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError("values must be 1-D (one score per atom)")
    if not 0.0 < fraction <= 0.5:
        raise ValueError(f"fraction must be in (0, 0.5], got {fraction}")
    ok = np.isfinite(v) if mask is None else (np.asarray(mask, dtype=bool) & np.isfinite(v))
    cand = np.flatnonzero(ok)
    k = int(np.floor(fraction * cand.size))
    if k < 1:
        raise ValueError(f"{cand.size} candidate atoms give no label at fraction {fraction}")
    order = cand[np.lexsort((cand, v[cand]))]    # by score, ties by index
    idx = np.concatenate([order[:k], order[-k:]])
    y = np.concatenate([np.zeros(k, bool), np.ones(k, bool)])
    srt = np.argsort(idx, kind="stable")
    return idx[srt], y[srt]


def threshold_event_labels(d2min: np.ndarray, mask: np.ndarray, threshold: float = 0.6,
                           max_active_fraction: float = 1.0, seed: int = 0, inactive: str = "step",
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """Balanced mechanical (AQS) labels of one sample (Rottler & Ortner, ``shared/science/000_ace.md`` §3.2).

    ``d2min``: (F, N) forward D²min (σ², e.g. Falk–Langer sum) of the F saved steps of one collection
    window, row f measured from the minimum of frame f to the next one; ``mask``: (N,) candidate atoms
    (the A particles). Active (y = 1): candidate atoms with D²min > ``threshold`` in a step; a step with
    more than ``max_active_fraction`` of the candidates active is an avalanche and gives no actives.
    Inactive (y = 0), ``inactive="step"`` (default): in every kept step, as many candidate atoms as it has
    actives, those with the lowest finite D²min of that step (ties by atom index). ``inactive="window"``:
    the candidate atoms with the lowest D²min summed over all F steps (never active in any step, all values
    finite), the j-th of them assigned to the frame of the j-th active; if there are fewer such atoms than
    actives, the actives are subsampled at random (``seed``) to match. Either way every kept step has equal
    class counts.

    Returns ``(frame_idx, atom_idx, y, info)`` sorted by (frame, atom); ``info`` has ``n_frames``,
    ``n_avalanche``, ``n_event_frames`` (frames that give actives), ``n_active_available``, ``n_pos``, ``n_neg``.
    """
    d = np.asarray(d2min, dtype=np.float64)
    if d.ndim != 2:
        raise ValueError(f"d2min must have shape (F, N), got {d.shape}")
    m = np.asarray(mask, dtype=bool)
    if m.shape != (d.shape[1],):
        raise ValueError(f"mask must have shape ({d.shape[1]},), got {m.shape}")
    if not 0.0 < max_active_fraction <= 1.0:
        raise ValueError(f"max_active_fraction must be in (0, 1], got {max_active_fraction}")
    if inactive not in ("step", "window"):
        raise ValueError(f"inactive must be 'step' or 'window', got {inactive!r}")
    with np.errstate(invalid="ignore"):
        act = (d > threshold) & m[None, :]
    n_act = act.sum(axis=1)
    avalanche = n_act > max_active_fraction * max(int(m.sum()), 1)
    keep = act & ~avalanche[:, None]
    pf, pa = np.nonzero(keep)                  # row-major: frame order, then atom
    if inactive == "step":
        nf, na = [], []
        for f in np.flatnonzero(keep.any(axis=1)):
            c = np.flatnonzero(m & ~act[f] & np.isfinite(d[f]))
            k = min(int(keep[f].sum()), c.size)
            nf.append(np.full(k, f))
            na.append(c[np.lexsort((c, d[f, c]))][:k])
        negf = np.concatenate(nf).astype(np.int64) if nf else np.zeros(0, np.int64)
        nega = np.concatenate(na).astype(np.int64) if na else np.zeros(0, np.int64)
        if negf.size < pf.size:   # a step with more actives than quiet atoms: subsample its actives
            rng = np.random.default_rng(seed)
            keep_idx = []
            for f in np.unique(pf):
                idx = np.flatnonzero(pf == f)
                k = int((negf == f).sum())
                keep_idx.append(np.sort(rng.choice(idx, size=k, replace=False)) if k < idx.size else idx)
            sel = np.concatenate(keep_idx)
            pf, pa = pf[sel], pa[sel]
        frame_idx = np.concatenate([pf, negf]).astype(np.int64)
        atom_idx = np.concatenate([pa, nega]).astype(np.int64)
        y = np.concatenate([np.ones(pf.size, np.int8), np.zeros(negf.size, np.int8)])
        order = np.lexsort((atom_idx, frame_idx))
        info = {"n_frames": int(d.shape[0]), "n_avalanche": int(avalanche.sum()),
                "n_event_frames": int(((n_act > 0) & ~avalanche).sum()), "n_active_available": int(keep.sum()),
                "n_pos": int(pf.size), "n_neg": int(negf.size)}
        return frame_idx[order], atom_idx[order], y[order], info
    # inactive candidates: never active (avalanches included), finite in every step
    cand = np.flatnonzero(m & ~act.any(axis=0) & np.isfinite(d).all(axis=0))
    score = d[:, cand].sum(axis=0)
    k = min(pf.size, cand.size)
    if k < pf.size:
        pick = np.sort(np.random.default_rng(seed).choice(pf.size, size=k, replace=False))
        pf, pa = pf[pick], pa[pick]
    neg = cand[np.lexsort((cand, score))][:k]
    frame_idx = np.concatenate([pf, pf]).astype(np.int64)
    atom_idx = np.concatenate([pa, neg]).astype(np.int64)
    y = np.concatenate([np.ones(k, np.int8), np.zeros(k, np.int8)])
    order = np.lexsort((atom_idx, frame_idx))
    info = {"n_frames": int(d.shape[0]), "n_avalanche": int(avalanche.sum()),
            "n_event_frames": int(((n_act > 0) & ~avalanche).sum()), "n_active_available": int(keep.sum()),
            "n_pos": int(k), "n_neg": int(k)}
    return frame_idx[order], atom_idx[order], y[order], info
