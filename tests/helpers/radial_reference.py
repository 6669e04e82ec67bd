"""Brute-force radial structure functions (pairs x periodic images; independent of glassfix.core.neighbors)."""

from __future__ import annotations

import itertools
import math

import numpy as np

from glassfix.core.frame import Frame, NeighborList


def image_shifts(frame: Frame, cutoff: float, extra: int = 0) -> np.ndarray:
    """Lattice translations that can bring an image within ``cutoff`` (atoms up to ``extra`` boxes out)."""
    recip = np.linalg.inv(frame.cell)  # columns are reciprocal vectors: plane spacing = 1/|b_k|
    heights = 1.0 / np.linalg.norm(recip, axis=0)
    n = [int(math.ceil(cutoff / h)) + 1 + 2 * extra if p else 0 for h, p in zip(heights, frame.pbc)]
    ints = np.array(list(itertools.product(*[range(-k, k + 1) for k in n])), dtype=np.float64)
    return ints @ frame.cell


def brute_neighbor_list(frame: Frame, cutoff: float, centers=None, extra: int = 0) -> NeighborList:
    """CSR list over all atoms and periodic images with 0 < r < cutoff, ordered by (neighbour, image)."""
    centers = np.arange(frame.n_atoms) if centers is None else np.asarray(centers)
    shifts = image_shifts(frame, cutoff, extra)
    pos = frame.positions
    offsets, nbrs, vecs = [0], [], []
    for i in centers:
        v = pos[:, None, :] + shifts[None, :, :] - pos[i]  # (N, S, d): neighbour-major order
        r = np.sqrt((v * v).sum(-1))
        keep = (r > 0) & (r < cutoff)
        jj = np.nonzero(keep)[0]
        nbrs.append(jj)
        vecs.append(v[keep])
        offsets.append(offsets[-1] + jj.size)
    d = frame.dim
    return NeighborList(
        centers=centers, offsets=np.array(offsets),
        neighbors=np.concatenate(nbrs) if nbrs else np.zeros(0, np.int64),
        vectors=np.concatenate(vecs) if vecs else np.zeros((0, d)), cutoff=cutoff,
    )


def reference_G(frame: Frame, mus, delta, cutoff, n_species, cutoff_fn="none", centers=None) -> np.ndarray:
    """G_X(i; r) by a loop over centres and a numpy sum over every (neighbour, image) pair."""
    centers = np.arange(frame.n_atoms) if centers is None else np.asarray(centers)
    mus = np.asarray(mus)
    shifts = image_shifts(frame, cutoff)
    out = np.zeros((len(centers), n_species * len(mus)))
    for row, i in enumerate(centers):
        v = frame.positions[:, None, :] + shifts[None, :, :] - frame.positions[i]
        r = np.linalg.norm(v, axis=-1)
        for x in range(n_species):
            rx = r[(frame.types == x)[:, None] & (r > 0) & (r < cutoff)]
            g = np.exp(-((mus[None, :] - rx[:, None]) ** 2) / (2 * delta**2))
            if cutoff_fn == "cosine":
                g *= (0.5 * (np.cos(np.pi * rx / cutoff) + 1.0))[:, None]
            out[row, x * len(mus):(x + 1) * len(mus)] = g.sum(0)
    return out


def ka_frame(n: int = 300, dim: int = 3, rho: float = 1.2, tilt: bool = False, seed: int = 0) -> Frame:
    """Random 80:20 binary configuration at number density rho (unphysical overlaps are fine here)."""
    rng = np.random.default_rng(seed)
    L = (n / rho) ** (1.0 / dim)
    cell = np.eye(dim) * L
    if tilt:
        cell[1, 0] = 0.3 * L
        cell[2, 0] = 0.2 * L
        cell[2, 1] = -0.25 * L
    origin = rng.normal(size=dim)
    pos = rng.random((n, dim)) @ cell + origin
    types = (rng.random(n) < 0.2).astype(np.int64)
    return Frame(positions=pos, types=types, cell=cell, origin=origin, species=("A", "B"))


def assert_close(G: np.ndarray, ref: np.ndarray, rel: float = 1e-10) -> None:
    """|G − ref| ≤ rel × feature scale (max |ref|)."""
    scale = max(1.0, float(np.abs(ref).max()))
    err = float(np.abs(G - ref).max())
    assert err <= rel * scale, f"max error {err:g} vs scale {scale:g}"


# ---------------------------------------------------------------------------------------------------
# reference agreement
# ---------------------------------------------------------------------------------------------------
