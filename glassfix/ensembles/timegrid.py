"""Time grids of the isoconfigurational replicas: the MD steps at which a replica's positions are read.

A grid is a strictly increasing tuple of integer steps at a timestep dt; its store labels ``t=<time>``
name the replica sets and labels (``replicas/t=…``, ``propensity/t=…``). Specs: ``log:TMIN:TMAX:N``,
explicit times, ``steps:…``, and ``bb:C1,C2,…:TMAX`` (times where the mean bond-breaking correlation C_B
reaches the targets: parsed here, placed by :func:`bond_breaking_grid` from the launcher's pilot runs).

Units: times τ, dt τ, steps dimensionless; C_B targets dimensionless.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["format_time", "TimeGrid", "parse_time_grid", "parse_bond_breaking_spec", "bond_breaking_grid"]


def format_time(t: float) -> str:
    """A time (τ) as the shortest plain decimal that round-trips at 12 significant digits.

    0.13 → '0.13', 4120 → '4120', 2.5e-05 → '0.000025'.
    """
    return np.format_float_positional(float(f"{float(t):.12g}"), trim="-")


@dataclass(frozen=True)
class TimeGrid:
    """Snapshot times of the replicas: strictly increasing integer MD ``steps`` (≥ 1) at timestep ``dt`` (τ).

    ``targets``: for a bond-breaking grid, the target values of the mean C_B each step was found for
    (same length as ``steps``), else None. ``spec``: the text it was parsed from.
    """

    steps: tuple[int, ...]
    dt: float
    spec: str = ""
    targets: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        steps = tuple(int(s) for s in self.steps)
        if not steps:
            raise ValueError(f"time grid {self.spec!r} has no times")
        if steps[0] < 1 or any(b <= a for a, b in zip(steps, steps[1:])):
            raise ValueError(f"time grid steps must be strictly increasing integers >= 1, got {list(steps)}")
        if not (self.dt > 0 and math.isfinite(self.dt)):
            raise ValueError(f"dt must be a positive time step (τ), got {self.dt}")
        object.__setattr__(self, "steps", steps)
        labels = self.labels
        if len(set(labels)) != len(labels):
            raise ValueError(f"time grid {self.spec!r}: steps {list(steps)} at dt={self.dt} give equal time "
                             f"labels {labels}; use fewer points")

    @property
    def times(self) -> np.ndarray:
        """Snapshot times (τ): steps × dt."""
        return np.asarray(self.steps, dtype=np.float64) * self.dt

    @property
    def labels(self) -> list[str]:
        """Store time labels ``t=<time in τ>`` (``replicas/<label>``, ``propensity/<label>``)."""
        return [f"t={format_time(s * self.dt)}" for s in self.steps]

    @property
    def n_steps(self) -> int:
        """MD steps of one replica (the last snapshot)."""
        return self.steps[-1]


def _floats(text: str, what: str) -> list[float]:
    try:
        vals = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"{what}: cannot parse {text!r} as comma-separated numbers") from None
    if not vals:
        raise ValueError(f"{what}: no values in {text!r}")
    return vals


def parse_time_grid(spec: str, dt: float) -> TimeGrid:
    """Parse a time-grid spec into a :class:`TimeGrid` of integer steps at timestep ``dt`` (τ).

    * ``"log:TMIN:TMAX:N"``: N log-spaced times from TMIN to TMAX (τ), each rounded to the nearest step
      (≥ 1); points that round to the same step are merged, so fewer than N may remain.
    * ``"0.13,1.3,13"``: explicit times (τ), rounded to the nearest step.
    * ``"steps:10,100,1000"``: explicit step counts.
    * ``"bb:..."`` (times where the mean bond-breaking correlation reaches targets) needs pilot runs:
      use :func:`bond_breaking_grid` / :func:`run_iso`, which call this only for the other forms.
    """
    text = str(spec).strip()
    if not (dt > 0 and math.isfinite(dt)):
        raise ValueError(f"dt must be a positive time step (τ), got {dt}")
    if text.startswith("bb:"):
        raise ValueError(f"time grid {text!r} is a bond-breaking target grid: it is resolved by pilot runs in "
                         f"run_iso (or bond_breaking_grid), not by parse_time_grid")
    if text.startswith("log:"):
        parts = text[4:].split(":")
        if len(parts) != 3:
            raise ValueError(f"log grid must be 'log:TMIN:TMAX:N' (times in τ), got {text!r}")
        try:
            tmin, tmax, n = float(parts[0]), float(parts[1]), int(parts[2])
        except ValueError:
            raise ValueError(f"log grid must be 'log:TMIN:TMAX:N' with numbers, got {text!r}") from None
        if not (0 < tmin <= tmax) or n < 1:
            raise ValueError(f"log grid needs 0 < TMIN <= TMAX and N >= 1, got {text!r}")
        if tmin < 0.5 * dt:
            raise ValueError(f"log grid TMIN={tmin} is below half a time step (dt={dt}); raise TMIN or lower --dt")
        times = np.geomspace(tmin, tmax, n)
    elif text.startswith("steps:"):
        steps = _floats(text[6:], "steps grid")
        if any(s != int(s) or s < 1 for s in steps):
            raise ValueError(f"steps grid needs positive integers, got {text!r}")
        return TimeGrid(tuple(sorted({int(s) for s in steps})), float(dt), text)
    else:
        times = np.asarray(_floats(text, "time grid (τ, comma-separated; or log:TMIN:TMAX:N)"))
        if (times <= 0).any():
            raise ValueError(f"times must be positive (τ), got {text!r}")
    steps_arr = np.rint(np.asarray(times) / dt).astype(np.int64)
    if (steps_arr < 1).any():
        bad = float(np.asarray(times)[steps_arr < 1][0])
        raise ValueError(f"time {bad} τ is less than one step of dt={dt}; use a larger time or a smaller --dt")
    return TimeGrid(tuple(sorted(set(int(s) for s in steps_arr))), float(dt), text)


def parse_bond_breaking_spec(spec: str) -> tuple[list[float], float]:
    """Targets (decreasing, dimensionless) and the longest pilot time TMAX (τ) of a ``bb:C1,C2,...:TMAX`` grid spec."""
    parts = spec[3:].split(":")
    if len(parts) != 2:
        raise ValueError(f"bond-breaking grid must be 'bb:C1,C2,...:TMAX' (targets of the mean C_B in (0, 1), "
                         f"longest pilot time in τ), got {spec!r}")
    targets = _floats(parts[0], "bond-breaking targets")
    try:
        tmax = float(parts[1])
    except ValueError:
        raise ValueError(f"bond-breaking grid TMAX must be a time in τ, got {parts[1]!r}") from None
    if any(not 0 < c < 1 for c in targets):
        raise ValueError(f"bond-breaking targets must lie in (0, 1), got {targets}")
    if tmax <= 0:
        raise ValueError(f"bond-breaking grid TMAX must be positive (τ), got {tmax}")
    return sorted(set(targets), reverse=True), tmax


def bond_breaking_grid(curve_steps: np.ndarray, curve: np.ndarray, targets: Sequence[float], dt: float,
                       spec: str = "") -> TimeGrid:
    """The grid of steps where a decreasing mean-C_B ``curve`` (at ``curve_steps``) first reaches each
    target, by linear interpolation in log(t) between the bracketing points (dimensionless targets)."""
    curve_steps = np.asarray(curve_steps, dtype=np.float64)
    curve = np.asarray(curve, dtype=np.float64)
    steps, tg = [], []
    for c in sorted(targets, reverse=True):
        below = np.flatnonzero(curve <= c)
        if below.size == 0:
            raise ValueError(f"the pilot mean C_B only fell to {curve.min():.3f} by t = "
                             f"{curve_steps[-1] * dt:g} τ, never to the target {c}: raise TMAX or drop the target")
        k = int(below[0])
        if k == 0:
            s = curve_steps[0]
        else:
            c0, c1 = curve[k - 1], curve[k]
            l0, l1 = math.log(curve_steps[k - 1]), math.log(curve_steps[k])
            f = (c0 - c) / (c0 - c1) if c0 != c1 else 1.0
            s = math.exp(l0 + f * (l1 - l0))
        s = max(int(round(s)), 1)
        if steps and s <= steps[-1]:
            raise ValueError(f"bond-breaking targets {sorted(targets, reverse=True)} are too close: two map to "
                             f"the same step {s} (dt={dt}); use fewer targets or a smaller dt")
        steps.append(s)
        tg.append(float(c))
    return TimeGrid(tuple(steps), float(dt), spec, tuple(tg))

