"""The monitor's status lines as plain text (shared by the terminal view and the page)."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["fmt_duration", "status_rows", "one_line"]


def fmt_duration(s: float | None) -> str:
    """Seconds as ``1h 02m``, ``3m 05s`` or ``12 s``; ``n/a`` for None."""
    if s is None or not math.isfinite(s):
        return "n/a"
    s = int(round(s))
    if s >= 3600:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s} s"


def _g(v: Any, spec: str = ".4g") -> str:
    return "n/a" if v is None else format(v, spec)


def status_rows(sm: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) rows of a :meth:`MonitorState.summary`: progress, strain, fit, predictions, events,
    throughput, ETA (units: τ, steps/s)."""
    rows = []
    step, total = sm.get("step"), sm.get("total")
    pct = f" ({100 * step / total:.1f} %)" if step is not None and total else ""
    rows.append(("step", f"{step if step is not None else 'n/a'} / {total or '?'}{pct}"))
    if sm.get("time") is not None:
        rows.append(("time", f"{sm['time']:.5g} τ"))
    if sm.get("strain") is not None:
        rows.append(("strain, rate", f"{sm['strain']:.5g}, dε/dt = {_g(sm.get('strain_rate'), '.3g')} 1/τ"))
    if sm.get("gamma") is not None:
        rows.append(("shear strain γ", f"{sm['gamma']:.5g}"))
    fit = sm.get("fit")
    if fit:
        rows.append(("creep law ε0 + C log(1 + t/t0)",
                     f"ε0 = {fit['eps0']:.4g} ± {_g(fit['eps0_err'], '.2g')}, C = {fit['C']:.4g} ± "
                     f"{_g(fit['C_err'], '.2g')}, t0 = {fit['t0']:.3g} ± {_g(fit['t0_err'], '.2g')} τ "
                     f"({fit['n_points']} binned points, rms {_g(fit['rms'], '.2g')})"
                     + (f"; {sm['fit_note']}" if sm.get("fit_note") else "")))
    elif sm.get("fit_note") and sm.get("protocol") == "creep":
        rows.append(("creep law", sm["fit_note"]))
    if sm.get("pred_mean") is not None:
        rows.append(("mean prediction (latest row)", f"{sm['pred_mean']:.4g}"))
    if sm.get("pred"):
        p = sm["pred"]
        last = {k: v[-1] for k, v in p["species"].items()}
        rows.append(("mean prediction per species", ", ".join(f"{k}: {_g(v)}" for k, v in last.items())
                     + f"; fraction > {p['threshold']:g}: {_g(p['frac_above'][-1], '.3f')}"))
    ev = sm.get("events") or {}
    if ev:
        rows.append(("events", ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in ev.items())))
    rows.append(("throughput", f"{_g(sm.get('throughput'), '.3g')} steps/s"
                 + (f" ({sm['throughput_source']})" if sm.get("throughput_source") else "")))
    rows.append(("ETA", "complete" if sm.get("complete") else fmt_duration(sm.get("eta_s"))))
    m = sm.get("map")
    if m and m.get("rho") is not None:
        rows.append(("prediction vs later D²min", f"Spearman ρ = {m['rho']:.3f} (all atoms, steps "
                                                   f"{m['ref_step']} → {m['cur_step']})"))
    return rows


def one_line(sm: dict[str, Any]) -> str:
    """A compact single status line (the non-TTY output)."""
    parts = [f"step {sm.get('step')}/{sm.get('total') or '?'}"]
    if sm.get("time") is not None:
        parts.append(f"t={sm['time']:.4g}")
    if sm.get("strain") is not None:
        parts.append(f"strain={sm['strain']:.5g}")
    if sm.get("gamma") is not None:
        parts.append(f"gamma={sm['gamma']:.5g}")
    fit = sm.get("fit")
    if fit:
        parts.append(f"C={fit['C']:.4g}±{_g(fit['C_err'], '.2g')} t0={fit['t0']:.3g}")
    if sm.get("pred_mean") is not None:
        parts.append(f"pred={sm['pred_mean']:.4g}")
    p = sm.get("pred")
    if p:
        parts.append(" ".join(f"pred[{k}]={_g(v[-1])}" for k, v in p["species"].items()))
        parts.append(f"frac>{p['threshold']:g}={_g(p['frac_above'][-1], '.3f')}")
    for k, v in (sm.get("events") or {}).items():
        parts.append(f"{k}={v}")
    parts.append(f"{_g(sm.get('throughput'), '.3g')} steps/s")
    parts.append("complete" if sm.get("complete") else f"ETA {fmt_duration(sm.get('eta_s'))}")
    return " ".join(parts)
