"""Random test frames shared by the descriptor tests."""

from __future__ import annotations

import numpy as np


def separated_positions(rng: np.random.Generator, n: int, box: float, dmin: float) -> np.ndarray:
    """n random positions (σ) in a cubic periodic box of side ``box`` with all minimum-image distances > dmin
    (rejection sampling, one uniform draw of 3 per trial, so the caller's later draws from ``rng`` follow)."""
    pos = np.zeros((0, 3))
    while pos.shape[0] < n:
        p = rng.uniform(0, box, 3)
        d = pos - p
        d -= box * np.round(d / box)
        if pos.shape[0] == 0 or (np.einsum("ij,ij->i", d, d) > dmin * dmin).all():
            pos = np.vstack([pos, p])
    return pos
