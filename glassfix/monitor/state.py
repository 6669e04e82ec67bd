"""The monitor's view of a run, updated poll by poll: the series, the creep-law fit, prediction statistics
per frame, event counts, the spatial map (prediction vs later non-affine displacement), throughput and ETA.

Units: time τ, strain dimensionless, D²min σ² (sum normalisation), throughput MD steps (AQS: strain
steps) per wall-clock second, ETA seconds.
"""

from __future__ import annotations

import math
import time as _time
from typing import Any

import numpy as np

from glassfix.core.frame import Frame
from glassfix.monitor.sources import PredFrame, RunData

__all__ = ["MonitorState", "nonaffine_d2min"]

_AX = "xyz"


def _unwrapped_pair(ref: Frame, cur: Frame) -> tuple[np.ndarray, np.ndarray]:
    """Reference and current positions unwrapped consistently (σ): the dumps' xu columns when both have
    them, else the current positions brought next to the affinely mapped reference (minimum image)."""
    if ref.unwrapped is not None and cur.unwrapped is not None:
        return ref.unwrapped, cur.unwrapped
    M = np.linalg.solve(ref.cell, cur.cell)  # row vectors: r_cur ≈ r_ref @ M for an affine deformation
    mapped = (ref.positions - ref.origin) @ M + cur.origin
    disp = cur.positions - mapped
    s = disp @ np.linalg.inv(cur.cell)
    s -= np.round(s)
    return ref.positions, mapped + s @ cur.cell


def nonaffine_d2min(ref: Frame, cur: Frame, rcut: float = 2.5) -> np.ndarray:
    """Falk–Langer D²min (σ², sum over neighbours within ``rcut`` at ``ref``) of every atom from ``ref`` to
    ``cur`` (same atoms, sorted by id), with the box deformation between them removed."""
    from glassfix.labels.d2min import d2min

    if ref.n_atoms != cur.n_atoms or not np.array_equal(ref.ids, cur.ids):
        raise ValueError("frames hold different atoms")
    r0, r1 = _unwrapped_pair(ref, cur)
    f0 = Frame(positions=r0, types=ref.types, cell=ref.cell, origin=ref.origin, ids=ref.ids)
    d2, _ = d2min(f0, r1, rcut, normalize="sum", cell1=cur.cell)
    return d2


def _thin(a: np.ndarray, n: int = 2000) -> np.ndarray:
    """Indices of at most ``n`` evenly spread entries (keeps first and last)."""
    if a.size <= n:
        return np.arange(a.size)
    return np.unique(np.linspace(0, a.size - 1, n).round().astype(int))


def _f(x: Any) -> float | None:
    """A finite float for JSON, else None."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _fl(a: np.ndarray) -> list[float | None]:
    return [_f(v) for v in np.asarray(a, dtype=np.float64)]


class MonitorState:
    """Accumulates :class:`RunData` polls; :meth:`summary` is the JSON-able view the terminal and the page
    draw. ``threshold``: prediction value above which an atom counts as "predicted to rearrange" (default:
    0.5 for outputs within [0, 1] — probabilities — else 0). ``slab_axis``: normal of the map's slab
    (default: y, so the map shows x horizontally and the loading axis z vertically; 2D: the whole box)."""

    def __init__(self, threshold: float | None = None, slab_axis: str = "y", slab_width: float = 2.0,
                 d2min_rcut: float = 2.5, d2min_threshold: float = 0.6, total: int | None = None) -> None:
        self.threshold = threshold
        self.slab_axis, self.slab_width = slab_axis, float(slab_width)
        self.rcut, self.d2_thr = float(d2min_rcut), float(d2min_threshold)
        self.total = total
        self.rd: RunData | None = None
        self.observed: list[tuple[float, float]] = []  # (wall s, step) as seen by this monitor
        self._clear_frames()
        self.fit: Any = None
        self.fit_note = ""
        self._fit_rows = -1
        self.started = _time.time()

    def _clear_frames(self) -> None:
        self.fstats: list[dict[str, Any]] = []
        self.ref: PredFrame | None = None
        self.prev: PredFrame | None = None
        self.latest: PredFrame | None = None
        self.map: dict[str, Any] | None = None
        self.d2_events = 0

    # ------------------------------------------------------------------ update
    def update(self, rd: RunData, now: float | None = None) -> None:
        """Take one poll."""
        now = _time.time() if now is None else now
        if rd.reset_frames:
            self._clear_frames()
        self.rd = rd
        step = self.step
        if step is not None and (not self.observed or self.observed[-1][1] != step):
            self.observed.append((now, float(step)))
            del self.observed[:-200]
        for pf in rd.frames:
            self._add_frame(pf)
        if rd.frames and self.ref is not None and self.latest is not None:
            self._update_map()
        self._update_fit()

    def _species_names(self, f: Frame) -> list[str]:
        nt = int(f.types.max()) + 1 if f.n_atoms else 0
        if f.species and len(f.species) >= nt:
            return list(f.species[:nt])
        return [f"type {k + 1}" for k in range(nt)]

    def _add_frame(self, pf: PredFrame) -> None:
        f = pf.frame
        st: dict[str, Any] = {"step": int(f.step), "time": self._time_of(f.step)}
        if pf.values is not None:
            v = pf.values
            if self.threshold is None:
                fin = v[np.isfinite(v)]
                self.threshold = 0.5 if fin.size and fin.min() >= 0 and fin.max() <= 1 else 0.0
            st["species"] = {name: _f(np.nanmean(v[f.types == k])) if np.any(f.types == k) else None
                             for k, name in enumerate(self._species_names(f))}
            st["frac_above"] = _f(np.mean(v[np.isfinite(v)] > self.threshold)) if np.isfinite(v).any() else None
        if self.prev is not None and self.prev.frame.n_atoms == f.n_atoms:
            try:
                d2 = nonaffine_d2min(self.prev.frame, f, self.rcut)
                st["d2min_events"] = int(np.count_nonzero(np.nan_to_num(d2) > self.d2_thr))
                self.d2_events += st["d2min_events"]
            except (ValueError, np.linalg.LinAlgError):
                pass
        self.fstats.append(st)
        if self.ref is None or (self.ref.values is None and pf.values is not None):
            self.ref = pf  # the map's reference: the first frame with predictions
        self.prev = self.latest = pf

    def _time_of(self, step: int) -> float | None:
        s = self.series
        if "time" in s and "step" in s and s["step"].size:
            k = np.searchsorted(s["step"], step)
            if k < s["step"].size and s["step"][k] == step:
                return _f(s["time"][k])
        dt = (self.rd.info.get("dt") if self.rd else None)
        return _f(step * float(dt)) if dt else None

    def _update_map(self) -> None:
        ref, cur = self.ref, self.latest
        assert ref is not None and cur is not None
        f0 = ref.frame
        d = f0.dim
        d2 = None
        if cur is not ref:
            try:
                d2 = nonaffine_d2min(f0, cur.frame, self.rcut)
            except (ValueError, np.linalg.LinAlgError):
                d2 = None
        frac = (f0.positions - f0.origin) @ np.linalg.inv(f0.cell)
        frac -= np.floor(frac)
        if d == 3:
            a = _AX.index(self.slab_axis)
            hx, hy = [k for k in range(3) if k != a][:2]
            L = float(np.linalg.norm(f0.cell[a]))
            sel = np.abs(frac[:, a] - 0.5) * L <= self.slab_width / 2
        else:
            hx, hy = 0, 1
            sel = np.ones(f0.n_atoms, dtype=bool)
        pos = frac @ f0.cell  # wrapped into the box
        idx = np.flatnonzero(sel)
        rho = None
        if d2 is not None and ref.values is not None:
            ok = np.isfinite(d2) & np.isfinite(ref.values)
            if ok.sum() > 3:
                from scipy.stats import spearmanr

                rho = _f(spearmanr(ref.values[ok], d2[ok]).statistic)
        self.map = {
            "x": _fl(pos[idx, hx]), "y": _fl(pos[idx, hy]), "axes": [_AX[hx], _AX[hy]],
            "box": [_f(f0.cell[hx, hx]), _f(f0.cell[hy, hy])],
            "pred": _fl(ref.values[idx]) if ref.values is not None else None,
            "d2min": _fl(d2[idx]) if d2 is not None else None,
            "ref_step": int(f0.step), "cur_step": int(cur.frame.step), "n_slab": int(idx.size),
            "slab": f"|{self.slab_axis} − L/2| ≤ {self.slab_width / 2:g} σ" if d == 3 else "whole box",
            "rho": rho, "name": ref.name,
        }

    def _update_fit(self) -> None:
        from glassfix.analysis.creep import fit_log_creep

        s = self.series
        if "strain" not in s or "time" not in s or self.protocol == "aqs":
            self.fit, self.fit_note = None, "no strain vs time series (not a creep run)"
            return
        n = s["strain"].size
        if n == self._fit_rows:
            return
        self._fit_rows = n
        try:
            t = s["time"] - s["time"][0]
            self.fit = fit_log_creep(t, s["strain"])
            tp = t[t > 0]
            edge = self.fit.t0 <= 1.01 * tp.min() / 100 or self.fit.t0 >= 0.99 * tp.max() * 10
            self.fit_note = ("t0 is at the edge of its range (t_min/100 … 10 t_max): the data do not determine it "
                             "yet, C is then the slope of ε against ln t" if edge else "")
        except (ValueError, RuntimeError, np.linalg.LinAlgError) as exc:
            self.fit, self.fit_note = None, f"fit not available yet: {exc}"

    # ------------------------------------------------------------------ derived values
    @property
    def series(self) -> dict[str, np.ndarray]:
        """The latest series."""
        return self.rd.series if self.rd is not None else {}

    @property
    def protocol(self) -> str | None:
        """creep / aqs / nve, where the files tell."""
        if self.rd is None:
            return None
        p = self.rd.info.get("protocol")
        if p:
            return str(p)
        s = self.rd.series
        return "aqs" if "gamma" in s else ("creep" if "strain" in s else None)

    @property
    def step(self) -> int | None:
        """The last step written to the series (or to a frame)."""
        s = self.series
        if "step" in s and s["step"].size:
            return int(s["step"][-1])
        if self.latest is not None:
            return int(self.latest.frame.step)
        return None

    def throughput(self) -> tuple[float | None, str]:
        """Steps per wall-clock second and where the number comes from."""
        info = self.rd.info if self.rd else {}
        wall = info.get("wall")
        if wall is not None and len(wall[0]) >= 2:
            st, w = np.asarray(wall[0]), np.asarray(wall[1])
            k = max(0, st.size - 10)
            if w[-1] > w[k] and st[-1] > st[k]:
                return float((st[-1] - st[k]) / (w[-1] - w[k])), "run progress file"
        if len(self.observed) >= 3:
            (w0, s0), (w1, s1) = self.observed[max(0, len(self.observed) - 20)], self.observed[-1]
            if w1 > w0 and s1 > s0:
                return float((s1 - s0) / (w1 - w0)), "observed by the monitor"
        loops = info.get("loops") or []
        sec = sum(t for _, t in loops)
        s = self.series
        # every run/minimize of the log counts (a creep input's snapshot minimisations take most of the
        # time), divided into the MD steps the series advanced
        st = float(s["step"][-1] - s["step"][0]) if "step" in s and s["step"].size > 1 else \
            float(sum(n for n, _ in loops))
        if st > 0 and sec > 0:
            return st / sec, "LAMMPS loop times"
        return None, ""

    def total_steps(self) -> int | None:
        """Run length in steps (series units), where known."""
        info = self.rd.info if self.rd else {}
        for v in (self.total, info.get("total"), info.get("total_steps")):
            if v:
                return int(v)
        return None

    def strain_rate(self) -> float | None:
        """dε/dt over the last tenth of the series (1/τ), by a linear fit."""
        s = self.series
        if "strain" not in s or "time" not in s or s["time"].size < 3:
            return None
        n = s["time"].size
        k = max(0, n - max(3, n // 10))
        t, e = s["time"][k:], s["strain"][k:]
        if np.ptp(t) <= 0:
            return None
        return _f(np.polyfit(t, e, 1)[0])

    def events(self) -> dict[str, int]:
        """Event counts: AQS stress drops (and the protocol's own criteria), frame-to-frame D²min events."""
        s = self.series
        out: dict[str, int] = {}
        for k in ("event_stress", "event_energy", "event_d2min", "event"):
            if k in s:
                out[k] = int(np.nansum(s[k] > 0))
        if "event_stress" not in s and "sigma" in s and s["sigma"].size > 1:
            out["stress_drops"] = int(np.count_nonzero(np.diff(s["sigma"]) < -1e-6))
        if len(self.fstats) > 1:
            out["d2min_atoms"] = int(self.d2_events)
        return out

    # ------------------------------------------------------------------ summary
    def summary(self) -> dict[str, Any]:
        """JSON-able view of everything the terminal and the page show."""
        rd = self.rd
        info = rd.info if rd else {}
        s = self.series
        rate, rate_src = self.throughput()
        total, step = self.total_steps(), self.step
        complete = bool(info.get("complete"))
        eta = None
        if rate and total is not None and step is not None and not complete:
            eta = max(0.0, (total - step) / rate)
        ser: dict[str, Any] = {}
        if "step" in s:
            idx = _thin(s["step"])
            for k in ("step", "time", "strain", "pred_mean", "gamma", "sigma", "temp", "pe"):
                if k in s:
                    ser[k] = _fl(s[k][idx])
        fit = None
        if self.fit is not None:
            f = self.fit
            fit = {k: _f(getattr(f, k)) for k in ("eps0", "C", "t0", "eps0_err", "C_err", "t0_err", "rms")}
            fit["n_points"] = f.n_points
        pred = None
        pst = [x for x in self.fstats if "species" in x]
        if pst:
            names = list(pst[-1]["species"])
            pred = {"step": [x["step"] for x in pst], "time": [x["time"] for x in pst],
                    "species": {n: [x["species"].get(n) for x in pst] for n in names},
                    "frac_above": [x["frac_above"] for x in pst], "threshold": self.threshold,
                    "name": self.latest.name if self.latest else None}
        hist = None
        lt = self.latest
        if lt is not None and lt.values is not None and np.isfinite(lt.values).any():
            v = lt.values
            fin = v[np.isfinite(v)]
            lo, hi = float(fin.min()), float(fin.max())
            if hi <= lo:
                hi = lo + 1.0
            edges = np.linspace(lo, hi, 41)
            hist = {"edges": _fl(edges), "step": int(lt.frame.step), "counts": {},
                    "threshold": self.threshold, "name": lt.name}
            for k, name in enumerate(self._species_names(lt.frame)):
                c, _ = np.histogram(v[(lt.frame.types == k) & np.isfinite(v)], bins=edges)
                hist["counts"][name] = [int(x) for x in c]
        notes = list(rd.notes) if rd else []
        if rd is not None and not self.fstats:
            notes.append("no frames yet: the map and histogram appear with the first dump/frame")
        elif self.fstats and pred is None:
            notes.append("this run has no per-atom predictions (no fix glass/predict f_ID column in its dumps "
                         "or frames): the prediction panels are empty")
        return {
            "path": str(rd.path) if rd else "", "kind": rd.kind if rd else "", "protocol": self.protocol,
            "complete": complete, "updated": _time.strftime("%Y-%m-%d %H:%M:%S"),
            "step": step, "total": total, "time": _f(s["time"][-1]) if "time" in s and s["time"].size else None,
            "strain": _f(s["strain"][-1]) if "strain" in s and s["strain"].size else None,
            "strain_rate": self.strain_rate(), "sigma0": _f(info.get("sigma0")),
            "gamma": _f(s["gamma"][-1]) if "gamma" in s and s["gamma"].size else None,
            "pred_mean": _f(s["pred_mean"][-1]) if "pred_mean" in s and s["pred_mean"].size else None,
            "series": ser, "fit": fit, "fit_note": self.fit_note, "pred": pred, "hist": hist, "map": self.map,
            "events": self.events(), "throughput": _f(rate), "throughput_source": rate_src, "eta_s": _f(eta),
            "n_frames": len(self.fstats), "notes": notes, "errors": list(info.get("errors") or []),
        }
