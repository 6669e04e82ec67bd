"""Minimal inline-SVG plotting for the dashboard (no JavaScript, no network): axes with linear or log
ticks, lines, markers, histograms, scatter maps with a colour bar. Coordinates are data units."""

from __future__ import annotations

import html
import math
from typing import Sequence

import numpy as np

__all__ = ["Axes", "colors", "PALETTE", "esc"]

#: line colours (Okabe–Ito, colour-blind safe)
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")


def esc(s: object) -> str:
    """Text escaped for SVG/HTML."""
    return html.escape(str(s), quote=True)


def colors(values: Sequence[float | None], lo: float, hi: float, cmap: str = "viridis") -> list[str]:
    """Hex colours of ``values`` on a matplotlib colour map between ``lo`` and ``hi`` (grey for None)."""
    import matplotlib

    cm = matplotlib.colormaps[cmap]
    span = hi - lo if hi > lo else 1.0
    out = []
    for v in values:
        if v is None or not math.isfinite(v):
            out.append("#bbbbbb")
            continue
        r, g, b, _ = cm(min(max((v - lo) / span, 0.0), 1.0))
        out.append(f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}")
    return out


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e4 or a < 1e-3:
        return f"{v:.0e}".replace("e+0", "e").replace("e-0", "e-")
    return f"{v:.4g}"


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=10 * mag)
    start = math.ceil(lo / step - 1e-9) * step
    ticks, k = [], 0
    while start + k * step <= hi + 1e-9 * step and k < 50:
        ticks.append(round(start + k * step, 12))
        k += 1
    return ticks


def _limits(vals: Sequence[float], log: bool = False, pad: float = 0.05) -> tuple[float, float]:
    a = np.asarray([v for v in vals if v is not None and math.isfinite(v) and (v > 0 or not log)], dtype=float)
    if a.size == 0:
        return (1.0, 10.0) if log else (0.0, 1.0)
    lo, hi = float(a.min()), float(a.max())
    if log:
        lo, hi = math.log10(lo), math.log10(hi)
        if hi - lo < 1e-9:
            lo, hi = lo - 0.5, hi + 0.5
        return 10 ** lo, 10 ** hi
    if hi - lo < 1e-12 * max(1.0, abs(hi)):
        d = max(abs(hi) * 0.05, 1e-9)
        return lo - d, hi + d
    d = (hi - lo) * pad
    return lo - d, hi + d


class Axes:
    """One plot: ``Axes(w, h, xs, ys, xlog=...)`` sets the limits from the data lists; draw with the methods,
    then :meth:`svg` returns the ``<svg>`` element."""

    def __init__(self, w: int, h: int, xvals: Sequence[float], yvals: Sequence[float], xlog: bool = False,
                 ylog: bool = False, margin: tuple[int, int, int, int] = (66, 16, 30, 46),
                 xlim: tuple[float, float] | None = None, ylim: tuple[float, float] | None = None,
                 equal: bool = False) -> None:
        self.w, self.h, self.xlog, self.ylog = w, h, xlog, ylog
        self.ml, self.mr, self.mt, self.mb = margin
        self.xlim = xlim or _limits(xvals, xlog)
        self.ylim = ylim or _limits(yvals, ylog)
        if equal:  # same scale on both axes (a map of the box)
            pw, ph = w - self.ml - self.mr, h - self.mt - self.mb
            sx = (self.xlim[1] - self.xlim[0]) / pw
            sy = (self.ylim[1] - self.ylim[0]) / ph
            if sx > sy:
                self.mt += int(ph - (self.ylim[1] - self.ylim[0]) / sx)
            else:
                self.mr += int(pw - (self.xlim[1] - self.xlim[0]) / sy)
        self.parts: list[str] = []

    def _t(self, v: float, log: bool) -> float:
        return math.log10(v) if log else v

    def X(self, x: float) -> float:
        """Pixel x of data x."""
        a, b = (self._t(v, self.xlog) for v in self.xlim)
        return self.ml + (self._t(x, self.xlog) - a) / (b - a) * (self.w - self.ml - self.mr)

    def Y(self, y: float) -> float:
        """Pixel y of data y."""
        a, b = (self._t(v, self.ylog) for v in self.ylim)
        return self.h - self.mb - (self._t(y, self.ylog) - a) / (b - a) * (self.h - self.mt - self.mb)

    def _ok(self, x: float | None, y: float | None) -> bool:
        return (x is not None and y is not None and math.isfinite(x) and math.isfinite(y)
                and (x > 0 or not self.xlog) and (y > 0 or not self.ylog))

    def _ticks(self, lim: tuple[float, float], log: bool) -> list[float]:
        if not log:
            return _nice_ticks(*lim)
        lo, hi = math.floor(math.log10(lim[0])), math.ceil(math.log10(lim[1]))
        ticks = [10.0 ** k for k in range(lo, hi + 1) if lim[0] <= 10.0 ** k <= lim[1]]
        if len(ticks) < 3:
            ticks = sorted({m * 10.0 ** k for k in range(lo, hi + 1) for m in (1, 2, 5)
                            if lim[0] <= m * 10.0 ** k <= lim[1]})
        return ticks

    def frame(self, xlabel: str, ylabel: str, title: str = "") -> None:
        """Axes box, ticks, grid and labels."""
        x0, x1, y0, y1 = self.ml, self.w - self.mr, self.mt, self.h - self.mb
        p = self.parts
        for t in self._ticks(self.xlim, self.xlog):
            x = self.X(t)
            p.append(f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y1}" class="grid"/>')
            p.append(f'<text x="{x:.1f}" y="{y1 + 14}" class="tick" text-anchor="middle">{esc(_fmt(t))}</text>')
        for t in self._ticks(self.ylim, self.ylog):
            y = self.Y(t)
            p.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x1}" y2="{y:.1f}" class="grid"/>')
            p.append(f'<text x="{x0 - 4}" y="{y + 4:.1f}" class="tick" text-anchor="end">{esc(_fmt(t))}</text>')
        p.append(f'<rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}" class="box"/>')
        p.append(f'<text x="{(x0 + x1) / 2:.1f}" y="{self.h - 6}" class="label" text-anchor="middle">{esc(xlabel)}</text>')
        p.append(f'<text transform="translate(13,{(y0 + y1) / 2:.1f}) rotate(-90)" class="label" '
                 f'text-anchor="middle">{esc(ylabel)}</text>')
        if title:
            p.append(f'<text x="{x0}" y="{y0 - 8}" class="title">{esc(title)}</text>')

    def line(self, xs: Sequence[float | None], ys: Sequence[float | None], color: str, width: float = 1.6,
             dash: str | None = None, label: str | None = None) -> None:
        """A polyline through the finite points (gaps at missing values)."""
        segs, cur = [], []
        for x, y in zip(xs, ys):
            if self._ok(x, y):
                cur.append(f"{self.X(x):.1f},{self.Y(y):.1f}")
            elif cur:
                segs.append(cur)
                cur = []
        if cur:
            segs.append(cur)
        d = f' stroke-dasharray="{dash}"' if dash else ""
        for s in segs:
            if len(s) == 1:
                x, y = s[0].split(",")
                self.parts.append(f'<circle cx="{x}" cy="{y}" r="2.5" fill="{color}"/>')
            else:
                t = f"<title>{esc(label)}</title>" if label else ""
                self.parts.append(f'<polyline points="{" ".join(s)}" fill="none" stroke="{color}" '
                                  f'stroke-width="{width}"{d}>{t}</polyline>')

    def points(self, xs: Sequence[float | None], ys: Sequence[float | None], color: str | Sequence[str],
               r: float = 2.2, titles: Sequence[str] | None = None) -> None:
        """Markers (one colour, or one per point)."""
        cols = [color] * len(xs) if isinstance(color, str) else list(color)
        for k, (x, y) in enumerate(zip(xs, ys)):
            if self._ok(x, y):
                t = f"<title>{esc(titles[k])}</title>" if titles else ""
                self.parts.append(f'<circle cx="{self.X(x):.1f}" cy="{self.Y(y):.1f}" r="{r:.2f}" '
                                  f'fill="{cols[k]}">{t}</circle>')

    def bars(self, edges: Sequence[float], counts: Sequence[int], color: str, opacity: float = 0.55) -> None:
        """A histogram (bars between consecutive edges)."""
        for k, c in enumerate(counts):
            if c <= 0:
                continue
            x0, x1 = self.X(edges[k]), self.X(edges[k + 1])
            y = self.Y(c)
            self.parts.append(f'<rect x="{x0:.1f}" y="{y:.1f}" width="{max(x1 - x0 - 0.5, 0.5):.1f}" '
                              f'height="{self.Y(self.ylim[0]) - y:.1f}" fill="{color}" fill-opacity="{opacity}"/>')

    def vline(self, x: float, color: str = "#444", dash: str = "4 3", label: str = "") -> None:
        """A vertical marker line."""
        if not self._ok(x, self.ylim[0]) or not (self.xlim[0] <= x <= self.xlim[1]):
            return
        X = self.X(x)
        self.parts.append(f'<line x1="{X:.1f}" y1="{self.mt}" x2="{X:.1f}" y2="{self.h - self.mb}" '
                          f'stroke="{color}" stroke-dasharray="{dash}"/>')
        if label:
            self.parts.append(f'<text x="{X + 3:.1f}" y="{self.mt + 12}" class="tick">{esc(label)}</text>')

    def legend(self, items: Sequence[tuple[str, str]], right: bool = True) -> None:
        """Colour swatches with labels in the top corner."""
        x = self.w - self.mr - 8 if right else self.ml + 8
        if items:
            wmax = max(6.5 * len(t) + 22 for _, t in items)
            bx = x - wmax if right else x - 4
            self.parts.append(f'<rect x="{bx:.0f}" y="{self.mt + 3}" width="{wmax + 4:.0f}" height="{15 * len(items) + 4}" '
                              f'fill="#fff" fill-opacity="0.85"/>')
        for k, (color, text) in enumerate(items):
            y = self.mt + 14 + 15 * k
            anchor = "end" if right else "start"
            sx = x - 6.5 * len(text) - 18 if right else x
            self.parts.append(f'<rect x="{sx:.0f}" y="{y - 8}" width="10" height="10" fill="{color}"/>')
            tx = sx + 14
            self.parts.append(f'<text x="{tx:.0f}" y="{y + 1}" class="legend" text-anchor="start">{esc(text)}</text>')
            del anchor

    def colorbar(self, lo: float, hi: float, label: str, cmap: str = "viridis") -> None:
        """A vertical colour bar in the right margin."""
        x = self.w - self.mr + 10
        y0, y1 = self.mt, self.h - self.mb
        n = 24
        cs = colors([lo + (hi - lo) * (k + 0.5) / n for k in range(n)], lo, hi, cmap)
        hgt = (y1 - y0) / n
        for k, c in enumerate(cs):
            self.parts.append(f'<rect x="{x}" y="{y1 - (k + 1) * hgt:.1f}" width="12" height="{hgt + 0.6:.1f}" fill="{c}"/>')
        self.parts.append(f'<text x="{x + 15}" y="{y0 + 8}" class="tick">{esc(_fmt(hi))}</text>')
        self.parts.append(f'<text x="{x + 15}" y="{y1}" class="tick">{esc(_fmt(lo))}</text>')
        self.parts.append(f'<text transform="translate({x + 30},{(y0 + y1) / 2:.0f}) rotate(90)" class="label" '
                          f'text-anchor="middle">{esc(label)}</text>')

    def message(self, text: str) -> None:
        """A centred note (an empty panel says why)."""
        self.parts.append(f'<text x="{self.w / 2:.0f}" y="{self.h / 2:.0f}" class="note" '
                          f'text-anchor="middle">{esc(text)}</text>')

    def svg(self, cls: str = "plot") -> str:
        """The finished ``<svg>`` element."""
        return (f'<svg class="{cls}" width="{self.w}" height="{self.h}" viewBox="0 0 {self.w} {self.h}" '
                f'xmlns="http://www.w3.org/2000/svg">' + "".join(self.parts) + "</svg>")
