"""Periodic-cell helpers for 2D and 3D boxes.

Conventions (same as :class:`glassfix.core.frame.Frame`): rows of ``cell`` are the box vectors, ``origin``
is the lower corner, so a point with fractional coordinates ``s`` sits at ``origin + s @ cell``.
All lengths are in the engine's length unit (sigma_AA for the LJ glass formers).
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = [
    "perpendicular_widths",
    "to_fractional",
    "to_cartesian",
    "wrap_positions",
    "minimum_image",
    "lammps_box_to_cell",
    "cell_to_lammps_box",
]


def _as_cell(cell: np.ndarray) -> np.ndarray:
    cell = np.asarray(cell, dtype=np.float64)
    if cell.ndim != 2 or cell.shape[0] != cell.shape[1] or cell.shape[0] not in (2, 3):
        raise ValueError(f"cell must have shape (2, 2) or (3, 3), got {cell.shape}")
    return cell


def _as_pbc(pbc: np.ndarray | bool | None, d: int) -> np.ndarray:
    if pbc is None:
        return np.ones(d, dtype=bool)
    return np.broadcast_to(np.asarray(pbc, dtype=bool), (d,)).copy()


def perpendicular_widths(cell: np.ndarray) -> np.ndarray:
    """Distance between each pair of opposite cell faces, shape (d,), length units."""
    cell = _as_cell(cell)
    # Column a of inv(cell) is the reciprocal vector b_a (a_i . b_j = delta_ij); the faces spanned by the
    # other box vectors are 1/|b_a| apart.
    return 1.0 / np.linalg.norm(np.linalg.inv(cell), axis=0)


def to_fractional(positions: np.ndarray, cell: np.ndarray, origin: np.ndarray | None = None) -> np.ndarray:
    """Fractional coordinates s (dimensionless) with positions = origin + s @ cell."""
    cell = _as_cell(cell)
    positions = np.asarray(positions, dtype=np.float64)
    shifted = positions if origin is None else positions - np.asarray(origin, dtype=np.float64)
    # Solve s @ cell = r for every row instead of forming inv(cell): better conditioned.
    return np.linalg.solve(cell.T, shifted.reshape(-1, cell.shape[0]).T).T.reshape(positions.shape)


def to_cartesian(fractional: np.ndarray, cell: np.ndarray, origin: np.ndarray | None = None) -> np.ndarray:
    """Cartesian positions (length units) origin + s @ cell from fractional coordinates s."""
    cell = _as_cell(cell)
    out = np.asarray(fractional, dtype=np.float64) @ cell
    return out if origin is None else out + np.asarray(origin, dtype=np.float64)


def wrap_positions(
    positions: np.ndarray,
    cell: np.ndarray,
    origin: np.ndarray | None = None,
    pbc: np.ndarray | bool | None = None,
) -> np.ndarray:
    """Positions (length units) mapped into [origin, origin + cell) along periodic axes; others untouched.

    The guarantee is on fractional coordinates: 0 <= s_a < 1 for periodic a (before the final
    fractional -> Cartesian conversion, which may round the last bit).
    """
    cell = _as_cell(cell)
    d = cell.shape[0]
    origin = np.zeros(d) if origin is None else np.asarray(origin, dtype=np.float64)
    pbc = _as_pbc(pbc, d)
    positions = np.asarray(positions, dtype=np.float64)
    s = to_fractional(positions, cell, origin)
    sp = s[..., pbc]
    sp = sp - np.floor(sp)
    # s = -tiny gives s - floor(s) == 1.0 exactly in floating point; that point belongs at 0.
    sp[sp >= 1.0] = 0.0
    s[..., pbc] = sp
    out = to_cartesian(s, cell, origin)
    # Keep non-periodic components bit-identical (no round trip through fractional coordinates) when
    # the cell does not mix them with periodic ones, which is the common orthorhombic/slab case.
    if not pbc.all():
        keep = ~pbc
        mixes = np.abs(cell[pbc][:, keep]).any(axis=0)
        cols = np.flatnonzero(keep)[~mixes]
        out[..., cols] = positions[..., cols]
    return out


def minimum_image(
    vectors: np.ndarray, cell: np.ndarray, pbc: np.ndarray | bool | None = None
) -> np.ndarray:
    """Shortest periodic image of each separation vector (length units), same shape as ``vectors``.

    Vectors are first reduced to fractional components in [-1/2, 1/2] along periodic axes, then all
    lattice translations n with |n_a| <= floor(max|v_reduced| / w_a + 1/2) are tried (w_a = perpendicular
    widths). The shortest image v* satisfies |s*_a| <= |v*| / w_a <= |v_reduced| / w_a, so this range
    always contains it: the result is exact for any cell, however skewed (ties between equally short
    images are broken by the first one found). For cells with LAMMPS-legal tilts (|xy| <= lx/2, ...)
    the range is just {-1, 0, 1} per periodic axis.
    """
    cell = _as_cell(cell)
    d = cell.shape[0]
    pbc = _as_pbc(pbc, d)
    v = np.asarray(vectors, dtype=np.float64)
    shape = v.shape
    v = v.reshape(-1, d)
    if not pbc.any() or v.shape[0] == 0:
        return v.reshape(shape).copy()
    s = to_fractional(v, cell)
    n0 = np.zeros_like(s)
    n0[:, pbc] = -np.round(s[:, pbc])
    best = v + n0 @ cell
    best_r2 = np.einsum("ij,ij->i", best, best)
    widths = perpendicular_widths(cell)
    vmax = float(np.sqrt(best_r2.max()))
    ranges = [
        range(-int(np.floor(vmax / widths[a] + 0.5)), int(np.floor(vmax / widths[a] + 0.5)) + 1)
        if pbc[a] else range(0, 1)
        for a in range(d)
    ]
    for shift in itertools.product(*ranges):
        if not any(shift):
            continue
        # Build every candidate from v itself so the result is exactly the image v + n @ cell.
        cand = v + (n0 + np.asarray(shift, dtype=np.float64)) @ cell
        r2 = np.einsum("ij,ij->i", cand, cand)
        better = r2 < best_r2
        if better.any():
            best[better] = cand[better]
            best_r2[better] = r2[better]
    return best.reshape(shape)


def lammps_box_to_cell(
    lo: np.ndarray, hi: np.ndarray, xy: float = 0.0, xz: float = 0.0, yz: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """(cell, origin) in length units from a LAMMPS restricted-triclinic box; d = len(lo) (2 or 3)."""
    lo = np.asarray(lo, dtype=np.float64).reshape(-1)
    hi = np.asarray(hi, dtype=np.float64).reshape(-1)
    d = lo.shape[0]
    if d not in (2, 3) or hi.shape != (d,):
        raise ValueError(f"lo and hi must both have length 2 or 3, got {lo.shape} and {hi.shape}")
    lengths = hi - lo
    if (lengths <= 0).any():
        raise ValueError(f"box lengths hi - lo must be positive, got {lengths.tolist()}")
    cell = np.diag(lengths)
    cell[1, 0] = xy
    if d == 3:
        cell[2, 0] = xz
        cell[2, 1] = yz
    elif xz != 0.0 or yz != 0.0:
        raise ValueError("a 2D box cannot have xz or yz tilt")
    return cell, lo.copy()


def cell_to_lammps_box(cell: np.ndarray, origin: np.ndarray | None = None) -> dict[str, object]:
    """LAMMPS box dict(lo, hi, xy, xz, yz) (length units) from a lower-triangular cell.

    LAMMPS restricted triclinic requires a=(lx,0,0), b=(xy,ly,0), c=(xz,yz,lz) with lx, ly, lz > 0;
    anything else (a rotated or upper-triangular cell) raises ValueError rather than silently rotating.
    """
    cell = _as_cell(cell)
    d = cell.shape[0]
    origin = np.zeros(d) if origin is None else np.asarray(origin, dtype=np.float64).reshape(d)
    upper = cell[np.triu_indices(d, k=1)]
    if np.any(upper != 0.0):
        raise ValueError(
            "cell is not a LAMMPS restricted-triclinic cell: rows must be a=(lx,0,0), b=(xy,ly,0), "
            f"c=(xz,yz,lz) (lower-triangular), got\n{cell}"
        )
    diag = np.diag(cell).copy()
    if (diag <= 0).any():
        raise ValueError(f"cell diagonal (lx, ly[, lz]) must be positive, got {diag.tolist()}")
    return {
        "lo": origin.copy(),
        "hi": origin + diag,
        "xy": float(cell[1, 0]),
        "xz": float(cell[2, 0]) if d == 3 else 0.0,
        "yz": float(cell[2, 1]) if d == 3 else 0.0,
    }
