"""The self-contained dashboard page: inline SVG plots, inline data and a few lines of inline script (no
network access, no external files), written atomically so a browser never loads a half-written page.

While the run is live the page reloads itself every ``refresh`` seconds (keeping the scroll position);
once the run is complete (or for ``live=False``, the end-of-run report) it stays put.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from glassfix.core.atomic import atomic_write_text
from glassfix.monitor.svg import PALETTE, Axes, colors, esc
from glassfix.monitor.text import _g, status_rows

__all__ = ["render_page", "write_page"]

W, H = 560, 330


def _xs(sm: dict[str, Any]) -> tuple[list, str]:
    ser = sm["series"]
    if ser.get("time"):
        return ser["time"], "time t (τ)"
    return ser.get("step", []), "step"


def _panel_main(sm: dict[str, Any]) -> str:
    ser = sm["series"]
    if sm.get("protocol") == "aqs" and ser.get("gamma") and ser.get("sigma"):
        ax = Axes(W, H, ser["gamma"], ser["sigma"])
        ax.frame("shear strain γ", "shear stress σ (ε/σ³)", "stress–strain (AQS)")
        ax.line(ser["gamma"], ser["sigma"], PALETTE[0])
        return ax.svg()
    if ser.get("strain") and ser.get("time"):
        t0 = ser["time"][0] or 0.0
        t = [None if v is None else v - t0 for v in ser["time"]]
        eps = ser["strain"]
        ax = Axes(W, H, [v for v in t if v and v > 0], eps, xlog=True)
        ax.frame("time since loading t (τ)", "axial strain ε", "strain vs log t, creep-law fit")
        ax.line(t, eps, PALETTE[0], label="strain")
        fit = sm.get("fit")
        items = [(PALETTE[0], "strain ε(t)")]
        if fit and fit.get("C") is not None and fit.get("t0"):
            tt = np.geomspace(ax.xlim[0], ax.xlim[1], 120)
            ax.line(list(tt), list(fit["eps0"] + fit["C"] * np.log1p(tt / fit["t0"])), PALETTE[1], 2.0, "6 4")
            items.append((PALETTE[1], f"fit: C = {fit['C']:.3g} ± {_g(fit.get('C_err'), '.2g')}, "
                                      f"t0 = {fit['t0']:.3g} τ"))
        ax.legend(items, right=False)
        return ax.svg()
    ys, name = (ser.get("pe"), "potential energy per atom (ε)") if ser.get("pe") else (ser.get("pred_mean"), "mean prediction")
    xs, xl = _xs(sm)
    if ys and xs:
        ax = Axes(W, H, xs, ys)
        ax.frame(xl, name, "series")
        ax.line(xs, ys, PALETTE[0])
        return ax.svg()
    ax = Axes(W, H, [], [])
    ax.frame("time t (τ)", "strain", "strain vs log t")
    ax.message("no series rows yet")
    return ax.svg()


def _panel_pred(sm: dict[str, Any]) -> str:
    pred, ser = sm.get("pred"), sm["series"]
    xs_ser, xl = _xs(sm)
    use_time = xl.startswith("time")
    ys_all: list = list(ser.get("pred_mean") or [])
    if pred:
        for v in pred["species"].values():
            ys_all += v
    if not ys_all:
        ax = Axes(W, H, [], [])
        ax.frame(xl, "mean prediction", "mean prediction per species vs time")
        ax.message("no predictions in this run (no fix glass/predict output found)")
        return ax.svg()
    xs_pred = (pred["time"] if use_time else pred["step"]) if pred else []
    ax = Axes(W, H, list(xs_ser) + list(xs_pred), ys_all)
    name = (pred or {}).get("name") or "prediction"
    ax.frame(xl, f"mean {name}", "mean prediction per species vs time")
    items = []
    if ser.get("pred_mean"):
        ax.line(xs_ser, ser["pred_mean"], "#777777", 1.2)
        items.append(("#777777", "all atoms (series)"))
    if pred:
        for k, (sp, v) in enumerate(pred["species"].items()):
            c = PALETTE[k % len(PALETTE)]
            ax.line(xs_pred, v, c, 2.0)
            ax.points(xs_pred, v, c, 3.0)
            items.append((c, f"{sp} (frames)"))
    ax.legend(items)
    return ax.svg()


def _panel_frac(sm: dict[str, Any]) -> str:
    pred = sm.get("pred")
    _, xl = _xs(sm)
    if not pred or not any(v is not None for v in pred["frac_above"]):
        ax = Axes(W, H, [], [0, 1])
        ax.frame(xl, "fraction above threshold", "fraction predicted to rearrange")
        ax.message("no per-atom predictions yet")
        return ax.svg()
    xs = pred["time"] if xl.startswith("time") else pred["step"]
    ax = Axes(W, H, xs, [0.0] + [v for v in pred["frac_above"] if v is not None])
    ax.frame(xl, f"fraction with {pred.get('name') or 'prediction'} > {pred['threshold']:g}",
             "fraction predicted to rearrange")
    ax.line(xs, pred["frac_above"], PALETTE[2], 2.0)
    ax.points(xs, pred["frac_above"], PALETTE[2], 3.0)
    return ax.svg()


def _panel_hist(sm: dict[str, Any]) -> str:
    h = sm.get("hist")
    if not h:
        ax = Axes(W, H, [], [])
        ax.frame("prediction", "atoms", "per-atom predictions, latest frame")
        ax.message("no per-atom predictions yet")
        return ax.svg()
    tot = [sum(c) for c in zip(*h["counts"].values())]
    ax = Axes(W, H, h["edges"], [0] + tot, ylim=(0, max(tot + [1]) * 1.08))
    ax.frame(h.get("name") or "prediction", "atoms", f"per-atom predictions at step {h['step']}")
    items = []
    for k, (sp, c) in enumerate(h["counts"].items()):
        col = PALETTE[k % len(PALETTE)]
        ax.bars(h["edges"], c, col)
        items.append((col, f"{sp}"))
    if h.get("threshold") is not None:
        ax.vline(h["threshold"], label=f"threshold {h['threshold']:g}")
    ax.legend(items)
    return ax.svg()


def _panel_map(m: dict[str, Any] | None, which: str) -> str:
    w, h = W, 400
    title = {"pred": "prediction", "d2min": "later non-affine displacement"}[which]
    if not m or not m.get(which):
        ax = Axes(w, h, [0, 1], [0, 1], margin=(50, 70, 30, 46))
        ax.frame("", "", title)
        ax.message({"pred": "no per-atom predictions in this run",
                    "d2min": "needs a later frame"}[which] if m else "no frames yet")
        return ax.svg()
    x, y = m["x"], m["y"]
    ax = Axes(w, h, x, y, margin=(50, 70, 30, 46), xlim=(0, m["box"][0]), ylim=(0, m["box"][1]), equal=True)
    vals = m[which]
    if which == "d2min":
        vals = [None if v is None else math.log10(max(v, 1e-6)) for v in vals]
        label = "log10 D²min (σ²)"
        ttl = f"D²min from step {m['ref_step']} to {m['cur_step']}"
    else:
        label = m.get("name") or "prediction"
        ttl = f"{label} at step {m['ref_step']}"
    fin = np.array([v for v in vals if v is not None])
    lo, hi = (float(np.percentile(fin, 2)), float(np.percentile(fin, 98))) if fin.size else (0.0, 1.0)
    ax.frame(f"{m['axes'][0]} (σ)", f"{m['axes'][1]} (σ)", f"{ttl}; slab {m['slab']}")
    r = max(2.0, min(7.0, 0.45 * (ax.X(1.0) - ax.X(0.0))))
    cols = colors(vals, lo, hi, "viridis" if which == "pred" else "magma")
    ax.points(x, y, cols, r, titles=[f"{label} = {v:.3g}" if v is not None else "n/a" for v in vals])
    ax.colorbar(lo, hi, label, "viridis" if which == "pred" else "magma")
    return ax.svg()


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:16px;color:#222;background:#fafafa}
h1{font-size:20px;margin:0 0 4px} .sub{color:#555;font-size:13px;margin-bottom:10px}
table.st{border-collapse:collapse;font-size:13px;margin:8px 0 12px} table.st td{padding:2px 12px 2px 0}
table.st td:first-child{color:#666;white-space:nowrap;vertical-align:top} .grid2{display:flex;flex-wrap:wrap;gap:12px}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:6px}
svg text{font-size:11px;fill:#333} svg .title{font-size:13px;font-weight:600}
svg .label{font-size:12px} svg .legend{font-size:11px} svg .note{font-size:13px;fill:#888}
svg .grid{stroke:#eee} svg .box{fill:none;stroke:#999}
.bar{height:10px;background:#e4e4e4;border-radius:5px;width:320px;display:inline-block;vertical-align:middle}
.bar>div{height:10px;background:#0072B2;border-radius:5px} .note{color:#8a5a00;font-size:13px}
.err{color:#b00;font-size:13px} #gf-js-error{display:none;color:#b00;font-weight:600}
"""

_JS = """
window.addEventListener('error', function (e) {
  var d = document.getElementById('gf-js-error');
  d.textContent = 'script error: ' + e.message; d.style.display = 'block';
  document.body.setAttribute('data-gf-error', '1');
});
(function () {
  var data = JSON.parse(document.getElementById('gf-data').textContent);
  var age = document.getElementById('gf-age');
  function tick() { age.textContent = Math.max(0, Math.round(Date.now() / 1000 - data.written)) + ' s ago'; }
  tick(); setInterval(tick, 1000);
  try { var y = sessionStorage.getItem('gf-scroll'); if (y !== null) { window.scrollTo(0, +y); } } catch (err) {}
  if (data.live) {
    setTimeout(function () {
      try { sessionStorage.setItem('gf-scroll', String(window.scrollY)); } catch (err) {}
      location.reload();
    }, data.refresh * 1000);
  }
  var rects = [];
  document.querySelectorAll('.card').forEach(function (c) {
    var r = c.getBoundingClientRect();
    rects.push([c.id, Math.round(r.left + window.scrollX), Math.round(r.top + window.scrollY),
                Math.round(r.width), Math.round(r.height)].join(':'));
  });
  document.body.setAttribute('data-gf-rects', rects.join(' '));
  document.body.setAttribute('data-gf-ready', '1');
})();
"""


def _status(sm: dict[str, Any]) -> str:
    rows = []
    for k, v in status_rows(sm):
        v = esc(v)
        if k == "step" and sm.get("step") is not None and sm.get("total"):
            f = min(max(sm["step"] / sm["total"], 0.0), 1.0)
            v += f' <span class="bar"><div style="width:{100 * f:.1f}%"></div></span>'
        rows.append((k, v))
    return '<table class="st">' + "".join(f"<tr><td>{esc(k)}</td><td>{v}</td></tr>" for k, v in rows) + "</table>"


def render_page(sm: dict[str, Any], live: bool = True, refresh: float = 5.0, written: float | None = None) -> str:
    """The dashboard HTML of a :meth:`MonitorState.summary` (``live``: reload every ``refresh`` s)."""
    import time

    live = bool(live and not sm.get("complete"))
    data = {"written": time.time() if written is None else written, "live": live, "refresh": float(refresh),
            "summary": sm}
    blob = json.dumps(data, allow_nan=False, separators=(",", ":")).replace("</", "<\\/")
    state = "complete" if sm.get("complete") else ("running" if live else "stopped (not complete)")
    notes = "".join(f'<div class="note">{esc(n)}</div>' for n in sm.get("notes", []))
    errs = "".join(f'<div class="err">{esc(e)}</div>' for e in sm.get("errors", []))
    panels = [_panel_main(sm), _panel_pred(sm), _panel_frac(sm), _panel_hist(sm)]
    maps = [_panel_map(sm.get("map"), "pred"), _panel_map(sm.get("map"), "d2min")]
    cards = "".join(f'<div class="card" id="gf-panel-{k}">{p}</div>' for k, p in enumerate(panels + maps))
    title = f"glassfix monitor — {Path(sm.get('path') or '').name or 'run'}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title><style>{_CSS}</style></head>
<body>
<h1>{esc(title)}</h1>
<div class="sub">{esc(sm.get('kind', ''))} {esc(sm.get('protocol') or '')} · {esc(sm.get('path', ''))} ·
<b>{esc(state)}</b> · page written {esc(sm.get('updated', ''))} (<span id="gf-age"></span>)</div>
<div id="gf-js-error"></div>
{errs}{notes}{_status(sm)}
<div class="grid2">{cards}</div>
<script type="application/json" id="gf-data">{blob}</script>
<script>{_JS}</script>
</body></html>
"""


def write_page(path: str | os.PathLike[str], sm: dict[str, Any], live: bool = True, refresh: float = 5.0) -> Path:
    """Write the page atomically (a reader sees the old or the new page, never a torn one)."""
    out = Path(path)
    atomic_write_text(out, render_page(sm, live, refresh))
    return out
