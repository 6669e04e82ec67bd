"""The figures of ``glassfix reproduce softness``'s report (P_R(S), Arrhenius, SVM weights, F_s, on the fly)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def softness_plots(cfg: Any, report: Path, apply: dict, prs: dict, fit: Any, model: Any, otf: dict,
                   fs: dict, Tm: dict, min_r: int = 3) -> dict[str, str]:
    """The report's PNGs beside ``report``; ``Tm``: measured mean temperature of each nominal T (the Arrhenius
    abscissa); P_R bins with fewer than ``min_r`` rearrangers are not drawn."""
    from glassfix.analysis.plots import new_figure, save_figure

    names = {}
    Ts = sorted(cfg.temperatures)
    colors = {T: c for T, c in zip(Ts, ["#1f3b99", "#2c7fb8", "#41b6c4", "#f39c12", "#c0392b", "#7f0000"])}
    # P_R(S)
    fig, ax = new_figure((5.6, 4.0))
    for T in Ts:
        pr = prs[T]
        ok = pr.n_r >= min_r
        ax.errorbar(pr.centers[ok], pr.p[ok], yerr=pr.err[ok], fmt="o-", ms=4, color=colors[T], label=f"T = {T:g}")
    ax.set_yscale("log")
    ax.set_xlabel("softness S")
    ax.set_ylabel("P_R(S)")
    ax.set_title(f"P_R(S), KA N = {cfg.n}: p_hop > {cfg.p_c:g} σ² (A particles)")
    ax.legend(fontsize=8)
    names["pr"] = save_figure(fig, report.with_name(report.stem + "_pr.png")).name
    # Arrhenius
    if fit is not None:
        from matplotlib.figure import Figure
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        fig = Figure(figsize=(14.0, 4.0), dpi=120)
        FigureCanvasAgg(fig)
        ax1, ax2, ax3 = fig.add_subplot(1, 3, 1), fig.add_subplot(1, 3, 2), fig.add_subplot(1, 3, 3)
        invT = np.linspace(1 / max(Tm.values()) * 0.97, 1 / min(Tm.values()) * 1.03, 50)
        edges = prs[Ts[0]].edges
        for b in range(edges.size - 1):
            if not np.isfinite(fit.dE[b]):
                continue
            pts = [(1 / Tm[T], prs[T].p[b], prs[T].err[b]) for T in Ts if prs[T].n_r[b] >= min_r]
            x, y, e = map(np.array, zip(*pts))
            line = ax1.errorbar(x, np.log(y), yerr=e / y, fmt="o", ms=4, label=f"S ∈ [{edges[b]:g}, {edges[b + 1]:g})")
            ax1.plot(invT, fit.sigma[b] - fit.dE[b] * invT, "-", color=line[0].get_color(), lw=1)
        ax1.set_xlabel("1/T (measured ⟨T⟩ of the NVE runs)")
        ax1.set_ylabel("ln P_R")
        ax1.set_title("Arrhenius per S bin: ln P_R = Σ(S) − ΔE(S)/T")
        ax1.legend(fontsize=7)
        ok = np.isfinite(fit.dE)
        ax2.errorbar(fit.S[ok], fit.dE[ok], yerr=fit.dE_err[ok], fmt="o", color="#c0392b", label="ΔE(S)")
        ax2.errorbar(fit.S[ok], fit.sigma[ok], yerr=fit.sigma_err[ok], fmt="s", color="#1f3b99", label="Σ(S)")
        ss = np.linspace(np.nanmin(fit.S), np.nanmax(fit.S), 20)
        ax2.plot(ss, fit.e0 - fit.e1 * ss, "-", color="#c0392b", lw=1,
                 label=f"e0 − e1 S: e0 = {fit.e0:.2f}, e1 = {fit.e1:.2f}")
        ax2.plot(ss, fit.Sigma0 - fit.Sigma1 * ss, "-", color="#1f3b99", lw=1,
                 label=f"Σ0 − Σ1 S: Σ0 = {fit.Sigma0:.2f}, Σ1 = {fit.Sigma1:.2f}")
        ax2.set_xlabel("softness S")
        ax2.set_title(f"T0 = e1/Σ1 = {fit.T0:.2f} ± {fit.T0_err:.2f}")
        ax2.legend(fontsize=7)
        # the paper's collapse: P_R/P0 against ΔE/T for every T and S bin falls on exp(−x)
        xs = []
        for T in Ts:
            pr = prs[T]
            keep = np.isfinite(fit.dE) & (pr.n_r >= min_r)
            x = fit.dE[keep] / Tm[T]
            ax3.semilogy(x, pr.p[keep] / np.exp(fit.sigma[keep]), "o", ms=4, color=colors[T], label=f"T = {T:g}")
            xs.append(x)
        xx = np.linspace(min(float(np.min(x)) for x in xs if x.size), max(float(np.max(x)) for x in xs if x.size), 20)
        ax3.semilogy(xx, np.exp(-xx), "k-", lw=1, label="exp(−ΔE/T)")
        ax3.set_xlabel("ΔE(S)/T")
        ax3.set_ylabel("P_R / exp(Σ(S))")
        ax3.set_title("collapse (per-bin Σ, ΔE)")
        ax3.legend(fontsize=7)
        fig.subplots_adjust(wspace=0.32)
        names["arrhenius"] = save_figure(fig, report.with_name(report.stem + "_arrhenius.png")).name
    # weights against r, with the A-centred pair correlation from the mean features
    head = model.heads[0]
    mus = np.asarray(model.descriptor.mus, float)
    m = mus.size
    fig, ax = new_figure((5.6, 4.0))
    g_mean = apply[min(Ts)]["mean_features"]
    for k, (sp, c) in enumerate((("A", "#1f3b99"), ("B", "#c0392b"))):
        ax.plot(mus, head.w[k * m:(k + 1) * m], "o-", ms=3, color=c, label=f"SVM weight, G_{sp}(r)")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("r (σ)")
    ax.set_ylabel("weight (standardised features)")
    ax2 = ax.twinx()
    with np.errstate(divide="ignore", invalid="ignore"):
        for k, (sp, c) in enumerate((("A", "#1f3b99"), ("B", "#c0392b"))):
            g = g_mean[k * m:(k + 1) * m] / np.where(mus > 0.3, mus ** 2, np.nan)
            ax2.plot(mus, g / np.nanmax(g), "--", color=c, alpha=0.5, lw=1, label=f"g_A{sp}(r) (scaled)")
    ax2.set_ylabel("⟨G(r)⟩/r², scaled")
    ax.legend(fontsize=7, loc="lower right")
    ax2.legend(fontsize=7, loc="upper right")
    ax.set_title(f"softness hyperplane (trained at T = {min(Ts):g})")
    names["weights"] = save_figure(fig, report.with_name(report.stem + "_weights.png")).name
    # on the fly
    fig, ax = new_figure((5.6, 3.6))
    p = otf["pred"]
    ax.plot(p["time"], p["softness_mean"], "-", color="#1f3b99", lw=1, label="⟨S⟩_A, fix glass/predict every τ")
    ax.axhline(float(np.mean(apply[min(Ts)]["S"])), color="k", ls="--", lw=0.8,
               label="⟨S⟩_A of the production run (offline)")
    if otf.get("is_frames") is not None and otf["is_frames"].size:
        ax.plot(otf["is_frames"][:, 0], otf["is_frames"][:, 3], "o", color="#27ae60", ms=5,
                label="⟨S⟩_A, fix on the minimised copy (inherent structure)")
    if otf["frames"].size:
        ax2 = ax.twinx()
        ax2.plot(otf["frames"][:, 0], otf["frames"][:, 1], "s", color="#c0392b", ms=4, label="fraction S > 0")
        ax2.set_ylabel("fraction of A with S > 0")
        # below the axes: the curves fill the whole height
        ax2.legend(fontsize=7, loc="upper right", bbox_to_anchor=(1.0, -0.16), frameon=False)
    ax.set_xlabel("t (τ)")
    ax.set_ylabel("⟨S⟩ of A particles")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.16), frameon=False)
    ax.set_title(f"softness on the fly: NVE at T = {min(Ts):g}")
    names["otf"] = save_figure(fig, report.with_name(report.stem + "_otf.png")).name
    # F_s
    fig, ax = new_figure((5.0, 3.6))
    for T in Ts:
        t, f = fs[f"t_{T:g}"], fs[f"fs_{T:g}"]
        ax.semilogx(t[1:], f[1:], color=colors[T], label=f"T = {T:g}")
    ax.axhline(1 / np.e, color="k", lw=0.5, ls=":")
    ax.set_xlabel("t (τ)")
    ax.set_ylabel("F_s(k = 7.25, t), A")
    ax.legend(fontsize=8)
    names["fs"] = save_figure(fig, report.with_name(report.stem + "_fs.png")).name
    return names
