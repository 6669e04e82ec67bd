"""p_hop, the cage-jump indicator of Candelier, Dauchot & Biroli, PRL 105, 135702 (2010).

For particle i at frame t, with a window of W frames (t_R = W · frame interval) split at t into
A = [t − W/2, t] and B = [t, t + W/2] (h = W // 2 frames each side)::

    p_hop(i, t) = sqrt( ⟨(r_i − ⟨r_i⟩_B)²⟩_A · ⟨(r_i − ⟨r_i⟩_A)²⟩_B )

(units: length², e.g. σ²). Cubuk's thesis (ch. 5/6, ``shared/science/002_cubuk.md`` §3.2) uses IS
positions every τ and t_R = 10 τ, i.e. ``window=10`` with frames every τ; whether frame t belongs to
both halves is unspecified there. Here ``shared_endpoint=True`` (default) puts t in both A and B
(h + 1 frames each: 6 frames for W = 10); ``shared_endpoint=False`` puts t in B only
(A = [t − h, t − 1], h frames; B = [t, t + h], h + 1 frames). Frames where a half does not fit
(t < h or t > T − 1 − h) are NaN.

Implementation: ⟨(r − ⟨r⟩_B)²⟩_A = Var_A(r) + |⟨r⟩_A − ⟨r⟩_B|², so only per-window means of r and r²
are needed. ``method="cumsum"`` (default) gets them from prefix sums of r − r(0) kept in double-double
(compensated) arithmetic, O(T·N·d); its absolute round-off is ~ε·|r(t) − r(0)|² (ε = 2.2e-16), far
below any physical p_hop scale;
``method="direct"`` recomputes each window with a two-pass mean/variance, O(T·N·W·d). Both are numba,
parallel over particles. Input must be unwrapped positions (no periodic jumps).
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, inline="always")
def _two_sum(a, b):
    s = a + b
    bb = s - a
    err = (a - (s - bb)) + (b - bb)
    return s, err


@nb.njit(cache=True, parallel=True)
def _phop_cumsum(traj, h, a_n, b_n):
    T, N, D = traj.shape
    out = np.full((T, N), np.nan)
    t_first = h
    t_last = T - 1 - h
    if t_last < t_first:
        return out
    for i in nb.prange(N):
        # prefix sums (double-double: hi + lo) of x and x^2, per dimension, of x = r - r(0)
        s1h = np.zeros((T + 1, D))
        s1l = np.zeros((T + 1, D))
        s2h = np.zeros((T + 1, D))
        s2l = np.zeros((T + 1, D))
        for k in range(D):
            x0 = traj[0, i, k]
            h1 = 0.0
            l1 = 0.0
            h2 = 0.0
            l2 = 0.0
            for t in range(T):
                x = traj[t, i, k] - x0
                h1, e = _two_sum(h1, x)
                l1 += e
                h2, e = _two_sum(h2, x * x)
                l2 += e
                s1h[t + 1, k] = h1
                s1l[t + 1, k] = l1
                s2h[t + 1, k] = h2
                s2l[t + 1, k] = l2
        for t in range(t_first, t_last + 1):
            a0 = t - h  # A = [a0, a0 + a_n)
            b0 = t  # B = [b0, b0 + b_n)
            a1 = a0 + a_n
            b1 = b0 + b_n
            var_a = 0.0
            var_b = 0.0
            d2 = 0.0
            for k in range(D):
                sa1 = (s1h[a1, k] - s1h[a0, k]) + (s1l[a1, k] - s1l[a0, k])
                sa2 = (s2h[a1, k] - s2h[a0, k]) + (s2l[a1, k] - s2l[a0, k])
                sb1 = (s1h[b1, k] - s1h[b0, k]) + (s1l[b1, k] - s1l[b0, k])
                sb2 = (s2h[b1, k] - s2h[b0, k]) + (s2l[b1, k] - s2l[b0, k])
                ma = sa1 / a_n
                mb = sb1 / b_n
                va = sa2 / a_n - ma * ma
                vb = sb2 / b_n - mb * mb
                var_a += va if va > 0.0 else 0.0
                var_b += vb if vb > 0.0 else 0.0
                d2 += (ma - mb) * (ma - mb)
            out[t, i] = np.sqrt((var_a + d2) * (var_b + d2))
    return out


@nb.njit(cache=True, parallel=True)
def _phop_direct(traj, h, a_n, b_n):
    T, N, D = traj.shape
    out = np.full((T, N), np.nan)
    t_first = h
    t_last = T - 1 - h
    if t_last < t_first:
        return out
    for i in nb.prange(N):
        for t in range(t_first, t_last + 1):
            a0 = t - h
            b0 = t
            var_a = 0.0
            var_b = 0.0
            d2 = 0.0
            for k in range(D):
                ma = 0.0
                for s in range(a0, a0 + a_n):
                    ma += traj[s, i, k]
                ma /= a_n
                mb = 0.0
                for s in range(b0, b0 + b_n):
                    mb += traj[s, i, k]
                mb /= b_n
                va = 0.0
                for s in range(a0, a0 + a_n):
                    va += (traj[s, i, k] - ma) ** 2
                vb = 0.0
                for s in range(b0, b0 + b_n):
                    vb += (traj[s, i, k] - mb) ** 2
                var_a += va / a_n
                var_b += vb / b_n
                d2 += (ma - mb) * (ma - mb)
            out[t, i] = np.sqrt((var_a + d2) * (var_b + d2))
    return out


def window_halves(window: int, shared_endpoint: bool = True) -> tuple[int, int, int]:
    """(h, n_A, n_B) for a window of ``window`` frames: h = window // 2 frames on each side of t,
    n_A / n_B = number of frames in A / B (both h + 1 when t is shared, else h and h + 1)."""
    window = int(window)
    if window < 2:
        raise ValueError(f"window must be >= 2 frames, got {window}")
    h = window // 2
    return h, (h + 1 if shared_endpoint else h), h + 1


def phop(traj: np.ndarray, window: int, shared_endpoint: bool = True, method: str = "cumsum") -> np.ndarray:
    """p_hop(i, t) for unwrapped positions ``traj`` of shape (T, N, d) at equally spaced frames.

    ``window`` is t_R in frames (W); halves have h = W // 2 frames each side of t (odd W rounds down).
    ``shared_endpoint``: frame t in both A and B (default) or in B only. ``method``: ``"cumsum"``
    (O(T·N)) or ``"direct"`` (O(T·N·W)); they agree to round-off. Returns (T, N) float64 in length²,
    NaN for t < h and t > T − 1 − h (the windows do not fit).
    """
    traj = np.ascontiguousarray(traj, dtype=np.float64)
    if traj.ndim != 3:
        raise ValueError(f"traj must have shape (T, N, d), got {traj.shape}")
    if not np.isfinite(traj).all():
        raise ValueError("traj contains non-finite positions")
    h, n_a, n_b = window_halves(window, shared_endpoint)
    if method == "cumsum":
        return _phop_cumsum(traj, h, n_a, n_b)
    if method == "direct":
        return _phop_direct(traj, h, n_a, n_b)
    raise ValueError(f"method must be 'cumsum' or 'direct', got {method!r}")


__all__ = ["phop", "window_halves"]
