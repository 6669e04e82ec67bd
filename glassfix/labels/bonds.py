"""Pair labels: BOTAN pair-distance changes E_ij and the bond-breaking propensity C_B.

Lengths are in the frame's length unit (σ_AA for the LJ glass formers); E_ij is a length, C_B is a
dimensionless fraction.

**Pair targets** (Shiba et al., J. Chem. Phys. 158, 084503 (2023), Eq. 11; ``shared/science/004_botan.md``
§2.2): for every ordered pair with 0 < |r_ij(0)| < r_edge at t = 0 (both directions, no self-loops),

    E_ij(t) = ⟨ |r_ij(t)| − |r_ij(0)| ⟩_IC,        r_ij = r_j − r_i  (edge src = i → dst = j),

averaged over the R isoconfigurational replicas.

**Bond breaking** (Jung, Biroli, Berthier, PRB 109, 064205 (2024); Guiselin, Scalliet, Berthier 2022;
``shared/science/001_jung.md`` §3.1–3.2): with n_0^i the number of neighbours j of i with
r_ij(0) < a_{t_i t_j} and n_t^i the number of *those* still within b_{t_i t_j} at time t,

    C_B^i(t) = ⟨ n_t^i / n_0^i ⟩_IC  ∈ [0, 1],

with per-type-pair cutoffs a (``cut_in``) and b ≥ a (``cut_out``, hysteresis; default b = a, i.e. one
criterion at both times). The paper gives no cutoffs; a commonly quoted choice is a = 1.485 σ_αβ,
b = 1.7 σ_αβ (unverified, see the digest).

**Pair separation at time t** (``form``), for positions that are unwrapped *consistently with the
t = 0 positions*, i.e. ``positions_t[i] − initial[i]`` is the true displacement Δr_i of particle i:

- ``"robust"`` (default): r_ij(t) = r_ij(0) + (Δr_j − Δr_i) + n_ij · (cell_t − cell_0), where r_ij(0) is
  the periodic image found by the t = 0 neighbour list and n_ij its integer lattice translation. This
  follows the *same* pair continuously in time, so it stays correct when the separation grows beyond half
  the box. The last term vanishes for a fixed box; for a deformed box (shear, LAMMPS ``fix deform``) it
  is what makes unwrapped coordinates of the form x + image·cell(t) consistent.
- ``"minimum_image"``: r_ij(t) = minimum image of r_j(t) − r_i(t) in ``cell_t`` (what the BOTAN
  reference code does). It is wrong for pairs whose separation crosses half the box, and is refused when
  the t = 0 cutoff exceeds half the smallest periodic width (the t = 0 image would not be unique).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..core.cell import minimum_image, perpendicular_widths
from ..core.frame import Frame, NeighborList
from ..core.neighbors import neighbor_list

__all__ = ["pair_targets", "bond_breaking", "cutoff_matrix"]

_FORMS = ("robust", "minimum_image")


# ----------------------------------------------------------------------------------------------------
# shared helpers (also used by glassfix.labels.d2min)
# ----------------------------------------------------------------------------------------------------

def _check_form(form: str) -> None:
    if form not in _FORMS:
        raise ValueError(f"form must be one of {_FORMS}, got {form!r}")


def _as_cell_t(frame0: Frame, cell_t: np.ndarray | None) -> np.ndarray:
    if cell_t is None:
        return frame0.cell
    cell_t = np.ascontiguousarray(cell_t, dtype=np.float64)
    d = frame0.dim
    if cell_t.shape != (d, d):
        raise ValueError(f"cell at time t must have shape ({d}, {d}), got {cell_t.shape}")
    return cell_t


def _as_initial(frame0: Frame, initial: np.ndarray | None) -> np.ndarray:
    if initial is None:
        return frame0.positions
    initial = np.ascontiguousarray(initial, dtype=np.float64)
    if initial.shape != frame0.positions.shape:
        raise ValueError(f"initial must have shape {frame0.positions.shape}, got {initial.shape}")
    return initial


def _as_replicas(frame0: Frame, positions_t: np.ndarray, name: str = "positions_t") -> tuple[np.ndarray, bool]:
    """(R, N, d) float64 array and whether the input was a single (N, d) configuration."""
    p = np.asarray(positions_t, dtype=np.float64)
    single = p.ndim == 2
    if single:
        p = p[None]
    n, d = frame0.positions.shape
    if p.ndim != 3 or p.shape[1:] != (n, d):
        raise ValueError(f"{name} must have shape ({n}, {d}) or (R, {n}, {d}), got {np.shape(positions_t)}")
    if not np.isfinite(p).all():
        raise ValueError(f"{name} contains non-finite positions")
    return np.ascontiguousarray(p), single


def _check_minimum_image_cutoff(frame0: Frame, cutoff: float) -> None:
    """Refuse the minimum-image form when the t = 0 image of a pair within ``cutoff`` is not unique."""
    pbc = np.asarray(frame0.pbc, dtype=bool)
    if not pbc.any():
        return
    widths = perpendicular_widths(frame0.cell)[pbc]
    if cutoff >= 0.5 * widths.min():
        raise ValueError(
            f"form='minimum_image' needs the cutoff ({cutoff}) below half the smallest periodic width "
            f"({0.5 * widths.min()}); use form='robust'"
        )


def _lattice_translations(frame0: Frame, src: np.ndarray, dst: np.ndarray, vec0: np.ndarray) -> np.ndarray:
    """Integer lattice translations n (E, d) with vec0 = x_dst − x_src + n @ cell (n = 0 on open axes)."""
    d = frame0.dim
    pbc = np.asarray(frame0.pbc, dtype=bool)
    n = np.zeros((vec0.shape[0], d))
    if not pbc.any() or vec0.shape[0] == 0:
        return n
    x = frame0.positions
    shift = vec0 - (x[dst] - x[src])
    rows = frame0.cell[pbc]
    n[:, pbc] = np.rint(shift @ np.linalg.pinv(rows))
    resid = np.abs(shift - n @ frame0.cell).max()
    scale = max(1.0, float(np.abs(x).max()), float(np.abs(frame0.cell).max()))
    if resid > 1e-8 * scale:  # cannot happen for a NeighborList built from frame0
        raise ValueError("neighbour vectors are not lattice images of the frame's positions")
    return n


@njit(cache=True, parallel=True)
def _robust_distances(vec0: np.ndarray, shift: np.ndarray, src: np.ndarray, dst: np.ndarray,
                      disp: np.ndarray) -> np.ndarray:
    """|vec0 + shift + Δr_dst − Δr_src| per replica: (R, E)."""
    R = disp.shape[0]
    E = vec0.shape[0]
    d = vec0.shape[1]
    out = np.empty((R, E))
    for e in prange(E):
        i = src[e]
        j = dst[e]
        for r in range(R):
            s = 0.0
            for k in range(d):
                x = (vec0[e, k] + shift[e, k]) + (disp[r, j, k] - disp[r, i, k])
                s += x * x
            out[r, e] = np.sqrt(s)
    return out


@njit(cache=True, parallel=True)
def _minimum_image_distances(pos: np.ndarray, src: np.ndarray, dst: np.ndarray, cell: np.ndarray,
                             inv: np.ndarray, periodic: np.ndarray, widths: np.ndarray,
                             search: bool) -> np.ndarray:
    """|minimum image of pos[r, dst] − pos[r, src]| per replica: (R, E).

    Same algorithm as :func:`glassfix.core.cell.minimum_image`: reduce the fractional components to
    [-1/2, 1/2] along periodic axes, then (``search``, needed for non-orthogonal cells) try every lattice
    translation with |n_a| <= floor(|v_reduced| / w_a + 1/2), which always contains the shortest image.
    """
    R = pos.shape[0]
    E = src.shape[0]
    d = pos.shape[2]
    out = np.empty((R, E))
    for e in prange(E):
        i = src[e]
        j = dst[e]
        v = np.empty(d)
        n0 = np.zeros(d)
        best = np.empty(d)
        m = np.zeros(3, dtype=np.int64)
        for r in range(R):
            for k in range(d):
                v[k] = pos[r, j, k] - pos[r, i, k]
            for a in range(d):
                n0[a] = 0.0
                if periodic[a]:
                    s = 0.0
                    for k in range(d):
                        s += v[k] * inv[k, a]
                    n0[a] = -np.rint(s)
            b2 = 0.0
            for k in range(d):
                x = v[k]
                for a in range(d):
                    x += n0[a] * cell[a, k]
                best[k] = x
                b2 += x * x
            if search:
                vr = np.sqrt(b2)
                for a in range(3):
                    m[a] = 0
                for a in range(d):
                    if periodic[a]:
                        m[a] = np.int64(np.floor(vr / widths[a] + 0.5))
                for s0 in range(-m[0], m[0] + 1):
                    for s1 in range(-m[1], m[1] + 1):
                        for s2 in range(-m[2], m[2] + 1):
                            c2 = 0.0
                            for k in range(d):
                                x = v[k] + n0[0] * cell[0, k] + n0[1] * cell[1, k] + s0 * cell[0, k] + s1 * cell[1, k]
                                if d == 3:
                                    x += n0[2] * cell[2, k] + s2 * cell[2, k]
                                c2 += x * x
                            if c2 < b2:
                                b2 = c2
            out[r, e] = np.sqrt(b2)
    return out


def _pair_vectors_t(frame0: Frame, src: np.ndarray, dst: np.ndarray, vec0: np.ndarray, positions_t: np.ndarray,
                    initial: np.ndarray, cell_t: np.ndarray, form: str) -> np.ndarray:
    """Pair vectors r_ij(t) (E, d) for one configuration ``positions_t`` (N, d), see the module docstring."""
    if form == "minimum_image":
        return minimum_image(positions_t[dst] - positions_t[src], cell_t, frame0.pbc)
    n = _lattice_translations(frame0, src, dst, vec0)
    disp = positions_t - initial
    return (vec0 + n @ (cell_t - frame0.cell)) + (disp[dst] - disp[src])


def _pair_distances_t(frame0: Frame, src: np.ndarray, dst: np.ndarray, vec0: np.ndarray, replicas: np.ndarray,
                      initial: np.ndarray, cell_t: np.ndarray, form: str) -> np.ndarray:
    """|r_ij(t)| for every replica: (R, E)."""
    R = replicas.shape[0]
    if form == "minimum_image":
        pbc = np.asarray(frame0.pbc, dtype=bool)
        basis = cell_t.copy()
        if not pbc.all():  # open axes: only the periodic rows define translations
            _, _, vt = np.linalg.svd(cell_t[pbc]) if pbc.any() else (None, None, np.eye(cell_t.shape[0]))
            basis[~pbc] = vt[int(pbc.sum()):][: int((~pbc).sum())]
        inv = np.linalg.inv(basis)
        widths = 1.0 / np.linalg.norm(inv, axis=0)
        off_diag = cell_t - np.diag(np.diag(cell_t))
        search = bool(np.any(off_diag != 0.0))
        return _minimum_image_distances(replicas, np.ascontiguousarray(src, dtype=np.int64),
                                        np.ascontiguousarray(dst, dtype=np.int64), np.ascontiguousarray(cell_t),
                                        inv, pbc, widths, search)
    n = _lattice_translations(frame0, src, dst, vec0)
    shift = np.ascontiguousarray(n @ (cell_t - frame0.cell))
    disp = np.ascontiguousarray(replicas - initial[None])
    return _robust_distances(np.ascontiguousarray(vec0), shift, np.ascontiguousarray(src, dtype=np.int64),
                             np.ascontiguousarray(dst, dtype=np.int64), disp)


def _pairs_of(nl: NeighborList) -> tuple[np.ndarray, np.ndarray]:
    """(src atom, dst atom) of every pair of a neighbour list."""
    return nl.centers[nl.center_of_pair()], nl.neighbors


# ----------------------------------------------------------------------------------------------------
# BOTAN pair targets
# ----------------------------------------------------------------------------------------------------

def pair_targets(frame0: Frame, replicas: np.ndarray, r_edge: float = 2.0, form: str = "robust",
                 initial: np.ndarray | None = None, cell_t: np.ndarray | None = None,
                 per_replica: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """BOTAN edge targets E_ij = ⟨|r_ij(t)| − |r_ij(0)|⟩ over replicas, for pairs 0 < |r_ij(0)| < r_edge.

    ``frame0``: the t = 0 configuration (positions may be wrapped); ``replicas``: (R, N, d) or (N, d)
    positions at time t, unwrapped consistently with ``initial`` (default ``frame0.positions``), i.e.
    ``replicas[r, i] − initial[i]`` is the displacement of i in replica r. ``r_edge`` in length units.
    ``form``: ``"robust"`` or ``"minimum_image"`` (module docstring). ``cell_t``: box at time t (default:
    ``frame0.cell``). Edges are directed, both directions present, sorted by (src, dst); src is the
    centre i and dst the neighbour j, r_ij = r_j − r_i. In the robust form an atom within ``r_edge`` through
    two periodic images gives two edges with the same (src, dst) (only possible when r_edge exceeds half
    the box; the minimum-image form refuses that case).

    Returns ``(edge_index, target)``: int64 (2, E) and float64 (E,) in length units, or (R, E) per-replica
    changes |r_ij(t)| − |r_ij(0)| when ``per_replica=True`` (their replica mean is the target).
    """
    _check_form(form)
    r_edge = float(r_edge)
    reps, _ = _as_replicas(frame0, replicas, "replicas")
    initial = _as_initial(frame0, initial)
    cell_t = _as_cell_t(frame0, cell_t)
    if form == "minimum_image":
        _check_minimum_image_cutoff(frame0, r_edge)
    nl = neighbor_list(frame0, r_edge)
    src, dst = _pairs_of(nl)
    order = np.lexsort((dst, src))  # stable: images of the same (src, dst) keep neighbour-list order
    src, dst, vec0 = src[order], dst[order], nl.vectors[order]
    r0 = np.sqrt(np.einsum("ij,ij->i", vec0, vec0))
    change = _pair_distances_t(frame0, src, dst, vec0, reps, initial, cell_t, form) - r0[None]
    edge_index = np.stack([src, dst]).astype(np.int64)
    return edge_index, (change if per_replica else change.mean(axis=0))


# ----------------------------------------------------------------------------------------------------
# bond breaking
# ----------------------------------------------------------------------------------------------------

def cutoff_matrix(sigma: np.ndarray | float, factor: float, n_types: int | None = None) -> np.ndarray:
    """Per-type-pair cutoffs factor · σ_αβ (length units) as an (S, S) matrix, e.g. ``cutoff_matrix(σ, 1.485)``.

    ``sigma``: scalar or symmetric (S, S) matrix of σ_αβ; a scalar needs ``n_types``.
    """
    s = np.asarray(sigma, dtype=np.float64)
    if s.ndim == 0:
        if n_types is None:
            raise ValueError("a scalar sigma needs n_types")
        s = np.full((int(n_types), int(n_types)), float(s))
    return factor * s


def _cut_matrix(cut, n_types: int, name: str) -> np.ndarray:
    c = np.asarray(cut, dtype=np.float64)
    if c.ndim == 0:
        c = np.full((n_types, n_types), float(c))
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise ValueError(f"{name} must be a scalar or a square (species x species) matrix, got shape {c.shape}")
    if c.shape[0] < n_types:
        raise ValueError(f"{name} is {c.shape[0]}x{c.shape[0]} but the frame has types up to {n_types - 1}")
    if not np.allclose(c, c.T, rtol=0, atol=0):
        raise ValueError(f"{name} must be symmetric")
    if not np.isfinite(c).all() or (c <= 0).any():
        raise ValueError(f"{name} must be positive and finite")
    return c


def bond_breaking(frame0: Frame, positions_t: np.ndarray, cut_in, cut_out=None,
                  centers: np.ndarray | None = None, initial: np.ndarray | None = None,
                  cell_t: np.ndarray | None = None, form: str = "robust",
                  per_replica: bool = False) -> np.ndarray:
    """Bond-breaking propensity C_B^i(t) = ⟨n_t^i / n_0^i⟩ over replicas (Jung et al.), dimensionless.

    Bonds of i at t = 0: all j with 0 < r_ij(0) < ``cut_in``[t_i, t_j] (over all species j; each periodic
    image within the cutoff is its own bond). A bond survives at t if r_ij(t) < ``cut_out``[t_i, t_j]
    (default ``cut_out = cut_in``; hysteresis with cut_out ≥ cut_in). Cutoffs: scalar or symmetric
    (S, S) matrix indexed by the 0-based types of ``frame0``, length units. ``positions_t``: (N, d) or
    (R, N, d) positions at t, unwrapped consistently with ``initial`` (default ``frame0.positions``);
    ``form``/``cell_t`` as in the module docstring. ``centers``: atoms to label (default all).

    Returns (n_centers,) float64 (replica mean), or (R, n_centers) when ``per_replica=True``; NaN for
    centres with no bond at t = 0.
    """
    _check_form(form)
    reps, _ = _as_replicas(frame0, positions_t)
    initial = _as_initial(frame0, initial)
    cell_t = _as_cell_t(frame0, cell_t)
    n_types = int(frame0.types.max()) + 1 if frame0.n_atoms else 1
    cin = _cut_matrix(cut_in, n_types, "cut_in")
    cout = cin if cut_out is None else _cut_matrix(cut_out, n_types, "cut_out")
    if cout.shape != cin.shape:
        raise ValueError("cut_in and cut_out must have the same shape")
    if (cout < cin).any():
        raise ValueError("cut_out must be >= cut_in for every type pair (hysteresis)")
    rmax = float(cin[:n_types, :n_types].max())
    if form == "minimum_image":
        _check_minimum_image_cutoff(frame0, float(cout[:n_types, :n_types].max()))
    nl = neighbor_list(frame0, rmax, centers)
    src, dst = _pairs_of(nl)
    ti, tj = frame0.types[src], frame0.types[dst]
    keep = nl.distances() < cin[ti, tj]
    cpair = nl.center_of_pair()[keep]
    src, dst, vec0 = src[keep], dst[keep], nl.vectors[keep]
    bout = cout[ti[keep], tj[keep]]
    n0 = np.bincount(cpair, minlength=nl.n_centers)
    dist = _pair_distances_t(frame0, src, dst, vec0, reps, initial, cell_t, form)
    alive = dist < bout[None]
    # pairs stay grouped by centre (CSR order), so per-centre counts are differences of a cumulative sum
    off = np.zeros(nl.n_centers + 1, dtype=np.int64)
    np.cumsum(n0, out=off[1:])
    cs = np.zeros((reps.shape[0], alive.shape[1] + 1), dtype=np.int64)
    np.cumsum(alive, axis=1, out=cs[:, 1:])
    nt = cs[:, off[1:]] - cs[:, off[:-1]]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(n0[None] > 0, nt / np.maximum(n0, 1)[None], np.nan)
    return frac if per_replica else frac.mean(axis=0)
