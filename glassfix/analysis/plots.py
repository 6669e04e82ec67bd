"""PNG figures for the analysis layer: F_s with fits, MSD, creep curve, AQS stress-strain with drops,
bottleneck maps.

Figures are drawn on a bare :class:`matplotlib.figure.Figure` with the Agg canvas (no pyplot global
state, so it is safe in worker processes and without a display) and written atomically: to a
temporary file in the target directory, then ``os.replace``, so a reader never sees a half-written PNG.
Every function returns the path it wrote.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from glassfix.core.atomic import atomic_write

from .creep import CreepFit
from .relaxation import RelaxationFit
from .mechanics import DropEvents

__all__ = ["plot_fs", "plot_msd", "plot_creep", "plot_stress_strain", "plot_bottleneck", "save_figure", "new_figure"]


def new_figure(figsize: tuple[float, float] = (5.0, 3.8)) -> tuple[Figure, Axes]:
    """A pyplot-free Agg figure with one axes (size in inches), for :func:`save_figure`."""
    fig = Figure(figsize=figsize, dpi=120)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot(1, 1, 1)


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Write ``fig`` as PNG to ``path`` atomically (temp file in the same directory, then os.replace)."""
    return atomic_write(path, lambda fh: fig.savefig(fh, format="png", bbox_inches="tight"))


def _positive(t: np.ndarray, *ys: np.ndarray) -> list[np.ndarray]:
    t = np.asarray(t, dtype=np.float64)
    keep = t > 0
    return [t[keep]] + [np.asarray(y, dtype=np.float64)[keep] for y in ys]


def plot_fs(
    path: str | os.PathLike[str],
    t: np.ndarray,
    fs: np.ndarray | dict[str, np.ndarray],
    fits: RelaxationFit | Sequence[RelaxationFit] = (),
    tau_alpha: float | None = None,
    k: float | None = None,
    title: str | None = None,
) -> Path:
    """Plot F_s(t) against log t (tau) with fitted curves (star at each fit's tau_alpha) and a tau_alpha line; PNG.

    ``tau_alpha`` (tau), e.g. from :func:`tau_alpha_crossing`, is drawn as a vertical dashed line.
    """
    fig, ax = new_figure()
    curves = fs if isinstance(fs, dict) else {"data": fs}
    for label, y in curves.items():
        tp, yp = _positive(t, y)
        ax.plot(tp, yp, "o", ms=3, label=label)
    if isinstance(fits, RelaxationFit):
        fits = [fits]
    tp = _positive(t)[0]
    if len(fits) and tp.size:
        tt = np.logspace(np.log10(tp.min()), np.log10(tp.max()), 300)
        for f in fits:
            (line,) = ax.plot(tt, f(tt), "-", lw=1.2, label=f"{f.model} fit, $\\tau_\\alpha$={f.tau_alpha:.3g}")
            # a fit's tau_alpha is a parameter, not the 1/e time, so mark it on the fitted curve itself
            if np.isfinite(f.tau_alpha) and f.tau_alpha > 0:
                ax.plot([f.tau_alpha], f(np.array([f.tau_alpha])), "*", color=line.get_color(), ms=9, mec="k")
    ax.axhline(1.0 / np.e, color="0.6", lw=0.8, ls=":")
    if tau_alpha is not None and np.isfinite(tau_alpha) and tau_alpha > 0:
        # e.g. the 1/e crossing of the data (tau_alpha_crossing)
        ax.axvline(tau_alpha, color="k", lw=0.8, ls="--", label=f"$\\tau_\\alpha$ (crossing) = {tau_alpha:.3g}")
    ax.set_xscale("log")
    ax.set_xlabel(r"$t$ [$\tau$]")
    ax.set_ylabel(r"$F_s(k,t)$" if k is None else rf"$F_s(k={k:.3g},t)$")
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title)
    return save_figure(fig, path)


def plot_msd(
    path: str | os.PathLike[str],
    t: np.ndarray,
    msd: np.ndarray | dict[str, np.ndarray],
    title: str | None = None,
) -> Path:
    """Plot MSD (sigma^2) against t (tau) on log-log axes, with t and t^2 guides; writes a PNG."""
    fig, ax = new_figure()
    curves = msd if isinstance(msd, dict) else {"MSD": msd}
    for label, y in curves.items():
        tp, yp = _positive(t, y)
        ok = yp > 0
        ax.plot(tp[ok], yp[ok], "o-", ms=3, lw=1, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"$t$ [$\tau$]")
    ax.set_ylabel(r"$\langle \Delta r^2 \rangle$ [$\sigma^2$]")
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title)
    return save_figure(fig, path)


def plot_creep(
    path: str | os.PathLike[str],
    t: np.ndarray,
    strain: np.ndarray,
    fit: CreepFit | None = None,
    std: np.ndarray | None = None,
    title: str | None = None,
) -> Path:
    """Plot creep strain against log t (tau), the fitted law in its window and an optional std band; PNG."""
    fig, ax = new_figure()
    if std is None and fit is not None and fit.n_runs > 1:
        std = fit.std_strain
    if std is not None:
        tp, yp, sp = _positive(t, strain, std)
        ax.fill_between(tp, yp - sp, yp + sp, color="C0", alpha=0.25, lw=0, label="± std over runs")
    else:
        tp, yp = _positive(t, strain)
    ax.plot(tp, yp, "-", color="C0", lw=1, label="strain")
    if fit is not None:
        tt = np.logspace(np.log10(fit.t_window[0]), np.log10(fit.t_window[1]), 200)
        lg = r"\ln" if fit.base == "e" else r"\log_{10}"
        sg = "-" if fit.sign < 0 else ""
        ax.plot(tt, fit(tt), "--", color="C3", lw=1.5,
                label=rf"${sg}(\varepsilon_0 + (\sigma_0/C){lg} t)$: C={fit.C:.3g}, $\varepsilon_0$={fit.eps0:.3g}")
    ax.set_xscale("log")
    ax.set_xlabel(r"$t$ [$\tau$]")
    ax.set_ylabel(r"$\varepsilon$")
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title)
    return save_figure(fig, path)


def plot_stress_strain(
    path: str | os.PathLike[str],
    strain: np.ndarray,
    stress: np.ndarray,
    events: DropEvents | None = None,
    flow_stress: float | None = None,
    title: str | None = None,
) -> Path:
    """Plot an AQS stress-strain curve with plastic drops marked (stress units); writes a PNG."""
    fig, ax = new_figure((6.0, 3.8))
    e = np.asarray(strain, dtype=np.float64)
    s = np.asarray(stress, dtype=np.float64)
    ax.plot(e, s, "-", lw=0.8, color="C0", label="stress")
    if events is not None and len(events):
        # from the stress after the event up by its size: also right for merged multi-step events
        after = s[events.index]
        ax.vlines(events.strain, after, after + events.d_stress, color="C3", lw=1.2, label=f"drops ({len(events)})")
    if flow_stress is not None and np.isfinite(flow_stress):
        ax.axhline(flow_stress, color="0.5", ls="--", lw=0.8, label=f"flow stress {flow_stress:.3g}")
    ax.set_xlabel(r"strain $\gamma$")
    ax.set_ylabel(r"stress [$\epsilon/\sigma^d$]")
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title)
    return save_figure(fig, path)


def plot_bottleneck(path: str | os.PathLike[str], panels: Sequence[tuple[str, np.ndarray, np.ndarray]],
                    vmin: float = 0.0, vmax: float = 1.0) -> Path:
    """Bottleneck maps: per panel (title, outputs (n, 2), true C_B (n,)) a scatter coloured by C_B (dimensionless)."""
    if not panels:
        raise ValueError("plot_bottleneck needs at least one (title, outputs, C_B) panel")
    fig = Figure(figsize=(3.2 * len(panels) + 0.8, 3.2), dpi=120)
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, len(panels), k + 1) for k in range(len(panels))]
    sc = None
    for ax, (title, b, c) in zip(axes, panels):
        b = np.asarray(b, dtype=np.float64)
        c = np.asarray(c, dtype=np.float64)
        if b.ndim != 2 or b.shape[1] != 2 or c.shape != (b.shape[0],):
            raise ValueError(f"panel {title!r}: outputs must be (n, 2) and C_B (n,), got {b.shape}, {c.shape}")
        o = np.argsort(-c)  # draw the active (low C_B) particles last, on top
        sc = ax.scatter(b[o, 0], b[o, 1], c=c[o], s=2, cmap="coolwarm_r", vmin=vmin, vmax=vmax, rasterized=True)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("bottleneck 1")
    axes[0].set_ylabel("bottleneck 2")
    fig.colorbar(sc, ax=axes, label="true $C_B$")
    return save_figure(fig, path)
