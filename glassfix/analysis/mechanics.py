"""Stress-strain analysis of athermal quasistatic (AQS) deformation: plastic drops and their statistics.

In AQS the stress grows elastically between plastic events and drops when an event happens, so a
plastic event is a decrease of stress (and/or of potential energy) between consecutive strain steps.
Inputs: ``strain`` (dimensionless, strictly increasing: for loading in the negative direction pass
``-strain`` and ``-stress``), ``stress`` in LJ stress units (epsilon/sigma^d) of the loading component,
optional ``energy`` in epsilon (total or per particle: the output is in the same unit).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DropEvents", "DropStatistics", "detect_drops", "drop_statistics", "detect_events"]


@dataclass(frozen=True)
class DropEvents:
    """Plastic events: index of the step after the drop, strain before it, stress and energy drop sizes (> 0)."""

    index: np.ndarray
    strain: np.ndarray
    d_stress: np.ndarray
    d_energy: np.ndarray

    def __len__(self) -> int:
        return int(self.index.size)


@dataclass(frozen=True)
class DropStatistics:
    """Summary of the drops of one stress-strain curve; stresses in stress units, energies as input."""

    n_events: int
    mean_drop: float
    mean_energy_drop: float
    hist_edges: np.ndarray
    hist_density: np.ndarray
    mean_strain_interval: float
    yield_stress: float
    yield_strain: float
    flow_stress: float
    flow_strain: float
    events: DropEvents


def _check_curve(strain: np.ndarray, stress: np.ndarray, energy: np.ndarray | None) -> tuple:
    e = np.asarray(strain, dtype=np.float64)
    s = np.asarray(stress, dtype=np.float64)
    if e.ndim != 1 or s.shape != e.shape:
        raise ValueError(f"strain and stress must be 1-D arrays of equal length, got {e.shape} and {s.shape}")
    if e.size < 2:
        raise ValueError(f"need at least 2 strain steps, got {e.size}")
    if np.any(np.diff(e) <= 0):
        raise ValueError(
            "strain must be strictly increasing; for loading in the negative direction pass -strain and -stress"
        )
    if not (np.all(np.isfinite(e)) and np.all(np.isfinite(s))):
        raise ValueError("strain and stress must be finite; drop failed minimisation steps first")
    u = None
    if energy is not None:
        u = np.asarray(energy, dtype=np.float64)
        if u.shape != e.shape:
            raise ValueError(f"energy has shape {u.shape} but strain has {e.shape}; pass one energy per step")
        if not np.all(np.isfinite(u)):
            raise ValueError("energy must be finite")
    return e, s, u


def detect_drops(
    strain: np.ndarray,
    stress: np.ndarray,
    energy: np.ndarray | None = None,
    min_drop: float = 0.0,
    min_energy_drop: float | None = None,
    criterion: str = "stress",
    merge_consecutive: bool = False,
) -> DropEvents:
    """Plastic events between consecutive AQS steps; drop sizes in stress units and energy units (> 0).

    A step i -> i+1 is an event when the stress falls by more than ``min_drop`` (``criterion="stress"``),
    the energy by more than ``min_energy_drop`` (``"energy"``), either (``"either"``) or both
    (``"both"``). Set the thresholds above the minimiser's noise. With ``merge_consecutive`` runs of
    event steps are merged into one event (sizes summed), for avalanches split over several steps.
    """
    e, s, u = _check_curve(strain, stress, energy)
    if criterion not in ("stress", "energy", "either", "both"):
        raise ValueError(f'criterion must be "stress", "energy", "either" or "both", got {criterion!r}')
    if min_drop < 0:
        raise ValueError(f"min_drop must be >= 0 (stress units), got {min_drop}")
    ds = s[:-1] - s[1:]  # positive for a drop
    du = u[:-1] - u[1:] if u is not None else np.full(ds.shape, np.nan)
    by_stress = ds > min_drop
    if criterion != "stress":
        if u is None:
            raise ValueError(f'criterion="{criterion}" needs the energy per step: pass energy=')
        thr = 0.0 if min_energy_drop is None else float(min_energy_drop)
        if thr < 0:
            raise ValueError(f"min_energy_drop must be >= 0 (energy units), got {min_energy_drop}")
        by_energy = du > thr
        sel = {"energy": by_energy, "either": by_stress | by_energy, "both": by_stress & by_energy}[criterion]
    else:
        sel = by_stress
    steps = np.flatnonzero(sel)
    if merge_consecutive and steps.size:
        # a new event starts wherever the previous selected step is not adjacent
        starts = np.concatenate([[True], np.diff(steps) > 1])
        group = np.cumsum(starts) - 1
        first = steps[starts]
        last = steps[np.concatenate([starts[1:], [True]])]
        return DropEvents(
            index=last + 1,
            strain=e[first],
            d_stress=np.bincount(group, weights=ds[steps]),
            d_energy=np.bincount(group, weights=du[steps]) if u is not None else np.full(first.size, np.nan),
        )
    return DropEvents(index=steps + 1, strain=e[steps], d_stress=ds[steps], d_energy=du[steps])


def drop_statistics(
    strain: np.ndarray,
    stress: np.ndarray,
    energy: np.ndarray | None = None,
    min_drop: float = 0.0,
    flow_strain: float | None = None,
    bins_per_decade: int = 5,
    events: DropEvents | None = None,
    **detect_kwargs: object,
) -> DropStatistics:
    """Drop-size statistics, yield (max) stress and mean flow stress of an AQS curve; stress units.

    ``hist_density`` is the probability density of stress-drop sizes on log-spaced bins
    (``bins_per_decade``), normalised so that sum(density * bin width) = 1. The flow stress is the mean
    stress for strain >= ``flow_strain`` (default: the strain at the yield peak). Detection uses
    :func:`detect_drops` with ``min_drop`` and ``detect_kwargs`` unless ``events`` are given.
    """
    e, s, u = _check_curve(strain, stress, energy)
    if bins_per_decade < 1:
        raise ValueError(f"bins_per_decade must be >= 1, got {bins_per_decade}")
    if events is None:
        events = detect_drops(e, s, u, min_drop=min_drop, **detect_kwargs)  # type: ignore[arg-type]
    n = len(events)
    sizes = events.d_stress[events.d_stress > 0]
    if sizes.size:
        lo, hi = np.log10(sizes.min()), np.log10(sizes.max())
        nb = max(1, int(np.ceil((hi - lo) * bins_per_decade)))
        # pad by a tiny relative margin so the extreme sizes fall inside the outer bins
        edges = np.logspace(lo - 1e-9, hi + 1e-9, nb + 1)
        counts, edges = np.histogram(sizes, bins=edges)
        density = counts / (sizes.size * np.diff(edges))
    else:
        edges, density = np.empty(0), np.empty(0)
    has_energy = n > 0 and bool(np.any(np.isfinite(events.d_energy)))
    i_peak = int(np.argmax(s))
    fs = e[i_peak] if flow_strain is None else float(flow_strain)
    after = e >= fs
    if not after.any():
        raise ValueError(f"flow_strain = {fs} lies beyond the last strain {e[-1]}; pass a smaller flow_strain")
    return DropStatistics(
        n_events=n,
        mean_drop=float(events.d_stress.mean()) if n else float("nan"),
        mean_energy_drop=float(np.nanmean(events.d_energy)) if has_energy else float("nan"),
        hist_edges=edges,
        hist_density=density,
        mean_strain_interval=float(np.diff(events.strain).mean()) if n >= 2 else float("nan"),
        yield_stress=float(s[i_peak]),
        yield_strain=float(e[i_peak]),
        flow_stress=float(s[after].mean()),
        flow_strain=fs,
        events=events,
    )


def detect_events(sigma: np.ndarray, pe: np.ndarray, volume_per_atom: float | np.ndarray, dgamma: float,
                  d2min_max: np.ndarray | None = None, stress_drop_tol: float = 1e-6,
                  energy_drop_tol: float = 1e-6, d2min_threshold: float = 0.6) -> dict[str, np.ndarray]:
    """Plastic-event flags of AQS steps 1..n−1 from per-step series (index 0 = the starting minimum).

    ``sigma``: shear stress σ = −P_plane (ε/σ³); ``pe``: potential energy per atom (ε); ``volume_per_atom``
    (σ³); ``d2min_max``: max D²min of step k (minimum k−1 → k; entry 0 ignored). Returns arrays of length n
    (entry 0 False/NaN): ``dsigma``, ``energy_residual`` = Δpe − v·½(σ_k + σ_{k−1})·δγ, and boolean
    ``event_stress``, ``event_energy``, ``event_d2min``, ``event``.
    """
    sigma = np.asarray(sigma, dtype=np.float64)
    pe = np.asarray(pe, dtype=np.float64)
    n = sigma.shape[0]
    v = np.broadcast_to(np.asarray(volume_per_atom, dtype=np.float64), (n,))
    dsigma = np.full(n, np.nan)
    resid = np.full(n, np.nan)
    dsigma[1:] = np.diff(sigma)
    resid[1:] = np.diff(pe) - v[1:] * 0.5 * (sigma[1:] + sigma[:-1]) * dgamma
    ev_s = np.zeros(n, dtype=bool)
    ev_e = np.zeros(n, dtype=bool)
    ev_d = np.zeros(n, dtype=bool)
    ev_s[1:] = dsigma[1:] < -stress_drop_tol
    ev_e[1:] = resid[1:] < -energy_drop_tol
    if d2min_max is not None:
        dm = np.asarray(d2min_max, dtype=np.float64)
        ev_d[1:] = np.nan_to_num(dm[1:], nan=0.0) > d2min_threshold
    return {"dsigma": dsigma, "energy_residual": resid, "event_stress": ev_s, "event_energy": ev_e,
            "event_d2min": ev_d, "event": ev_s | ev_e | ev_d}
