"""Numba kernel of :mod:`glassfix.analysis.lengths`: periodic runs of mobile lattice sites (site counts)."""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["runs_periodic"]


@njit(cache=True)
def runs_periodic(mobile: np.ndarray) -> np.ndarray:
    """Lengths (in sites) of the maximal runs of True along axis 1 of a 2-D bool array, periodic."""
    # maximal runs of True along axis 1 of a 2-D bool array, with periodic wrapping
    out = np.empty(mobile.size, dtype=np.int64)
    k = 0
    nr, nc = mobile.shape
    for r in range(nr):
        start = -1
        for c in range(nc):
            if not mobile[r, c]:
                start = c
                break
        if start < 0:  # mobile everywhere: one chord of the full length
            out[k] = nc
            k += 1
            continue
        run = 0
        for j in range(1, nc + 1):
            c = (start + j) % nc
            if mobile[r, c]:
                run += 1
            elif run > 0:
                out[k] = run
                k += 1
                run = 0
    return out[:k]
