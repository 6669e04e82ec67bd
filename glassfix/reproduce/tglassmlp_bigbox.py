"""Stage ``bigbox`` of ``glassfix reproduce tglassmlp``: ξ4 from MD labels and from predictions on a larger box.

At N = 1290 (L = 32.9 σ) the S4 fit window q ≤ 0.6 holds two radial bins, which fix the two
Ornstein–Zernike parameters exactly and measure nothing (the paper used N = 82560 for ξ4). Here the first
swap sample of each temperature is tiled k × k and decorrelated by plain Langevin MD (LAMMPS) for many
τα^MD — affordable at the MD temperatures, where MD relaxes in tens of τ — and frames a few τα^MD apart
are (1) labelled by isoconfigurational NVE replicas at early times (⟨C̄_B⟩ ≥ 0.8, cheap even for the large
box) and (2) predicted by the transfer model. S4(q) of both fields on the same frames and the OZ fit over
q ≤ 0.6 give ξ4 from MD and from the predictions.

Resumable: each decorrelated frame is stored as soon as its MD segment ends (the next segment starts from
the last stored frame), the iso labels resume from their journal, and the descriptors are cached.
Units: LJ reduced units (times τ, temperatures ε/k_B, lengths σ).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from glassfix.core.atomic import atomic_write_json

__all__ = ["BigBoxPlan", "tile_frame", "tile_overlap", "stage_bigbox", "bigbox_section"]


@dataclass
class BigBoxPlan:
    """One temperature of the big-box stage: MD decorrelation time, spacing of the frames and pilot TMAX (τ)."""

    T: float
    equil_tau: float
    spacing_tau: float
    tmax: float


def tile_frame(frame: Any, k: int) -> Any:
    """The k × k (× k in 3D) periodic tiling of ``frame`` (positions wrapped into the box, types repeated)."""
    from glassfix.core.frame import Frame

    cell = np.asarray(frame.cell, dtype=np.float64)
    if np.count_nonzero(cell - np.diag(np.diag(cell))):
        raise ValueError("tile_frame supports orthorhombic boxes only")
    L = np.diag(cell)
    d = frame.positions.shape[1]
    x = np.mod(np.asarray(frame.positions, dtype=np.float64) - (frame.origin if frame.origin is not None else 0.0), L)
    shifts = np.stack(np.meshgrid(*[np.arange(k)] * d, indexing="ij"), axis=-1).reshape(-1, d) * L
    pos = (x[None, :, :] + shifts[:, None, :]).reshape(-1, d)
    types = np.tile(np.asarray(frame.types), len(shifts))
    return Frame(positions=pos, types=types, cell=np.diag(L * k), species=frame.species,
                 metadata={k2: v for k2, v in frame.metadata.items() if k2 in ("system", "temperature")})


def tile_overlap(frame: Any, k: int, a: float = 0.3) -> float:
    """Mean over pairs of tile images of the fraction of particles within ``a`` (σ) of their image's position
    (modulo the tile): 1 right after :func:`tile_frame`, small once MD has decorrelated the images."""
    d = frame.positions.shape[1]
    m = k ** d
    n = frame.n_atoms // m
    Ls = np.diag(np.asarray(frame.cell, dtype=np.float64)) / k
    x = np.asarray(frame.positions, dtype=np.float64).reshape(m, n, d)
    vals = []
    for i in range(m):
        for j in range(i + 1, m):
            dx = x[i] - x[j]
            dx -= Ls * np.round(dx / Ls)
            vals.append(float((np.linalg.norm(dx, axis=1) < a).mean()))
    return float(np.mean(vals))


def _plans(cfg: Any) -> list[BigBoxPlan]:
    return [p if isinstance(p, BigBoxPlan) else BigBoxPlan(**p) for p in cfg.extra.get("bigbox", [])]


def _frames(cfg: Any, plan: BigBoxPlan, store: Path, snap: Path, say: Callable[[str], None]) -> list[str]:
    """Decorrelated big-box frames at plan.T in ``store`` (made by MD until there are enough)."""
    from glassfix.data.store import DatasetStore
    from glassfix.mc.lammps_swap import run_hybrid_md_swap
    from glassfix.systems import get_system

    n_want, tile = int(cfg.extra.get("bigbox_frames", 3)), int(cfg.extra.get("bigbox_tile", 3))
    system = get_system("jbb")
    tk = f"T{plan.T:.6g}"
    with DatasetStore(store, "a") as ds:
        keys = sorted(k for k in ds.keys() if f"/{tk}/" in k)
        last = ds.frame(keys[-1]) if keys else None
    if last is None:
        with DatasetStore(snap, "r", locking=False) as s:
            start = s.frame(f"swap/jbb/{tk}/00000")
        last = tile_frame(start, tile)
    dt = float(cfg.dt)
    while len(keys) < n_want:
        tau = plan.equil_tau if not keys else plan.spacing_tau
        steps = int(round(tau / dt))
        say(f"bigbox: T={plan.T:g}, N={last.n_atoms}, frame {len(keys) + 1}/{n_want}: {steps} MD steps "
            f"({tau:g} τ, Langevin)")
        t0 = time.perf_counter()
        res = run_hybrid_md_swap(system, last, plan.T, steps, pairs=(), dt=dt, thermostat="langevin", damp=1.0,
                                 sample_every=max(1, steps // 20), seed=1000 + len(keys) + int(plan.T * 1e4))
        key = f"bigbox/jbb/{tk}/{len(keys):05d}"
        f = res.frame
        f.metadata.update(system="jbb", temperature=plan.T, md_tau=tau, wall_s=time.perf_counter() - t0,
                          tile=tile, start="swap/jbb/" + tk + "/00000")
        with DatasetStore(store, "a") as ds:
            ds.add_frame(f, key=key, group=key, system="jbb", temperature=plan.T)
        keys.append(key)
        last = f
    return keys[:n_want]


def stage_bigbox(cfg: Any, work: Path, say: Callable[[str], None]) -> dict[str, Any]:
    """Big-box frames, their early-time iso labels and the transfer model's predictions; S4 and ξ4 of both."""
    from glassfix.analysis.heterogeneity import pearson_per_config
    from glassfix.data.store import DatasetStore
    from glassfix.ensembles.executors import executor_context
    from glassfix.ensembles.iso import run_iso
    from glassfix.ensembles.labels import DEFAULT_BB_FACTORS
    from glassfix.ensembles.plan import IsoSettings
    from glassfix.models.base import load_model
    from glassfix.reproduce.tglassmlp_analysis import s4_xi4
    from glassfix.reproduce.tglassmlp_data import TABLE1_TARGETS, load_labels
    from glassfix.reproduce.tglassmlp_model import train_info
    from glassfix.train import tglassmlp_data as td

    plans = _plans(cfg)
    if not plans:
        return {}
    d = work / "bigbox"
    d.mkdir(parents=True, exist_ok=True)
    info = train_info(work, "bigbox")
    model = load_model(info["models"]["transfer"])
    snap = work / "swap_snapshot.h5"
    c_min = float(cfg.extra.get("bigbox_c_min", 0.8))
    tile = int(cfg.extra.get("bigbox_tile", 3))
    out: dict[str, Any] = {"tile": tile, "temperatures": {}}
    for plan in plans:
        store = d / f"T{plan.T:.6g}.h5"
        keys = _frames(cfg, plan, store, snap, say)
        targets = [c for c in TABLE1_TARGETS if c >= c_min - 1e-12]
        spec = "bb:" + ",".join(f"{c:g}" for c in targets) + f":{plan.tmax:g}"
        settings = IsoSettings(replicas=int(cfg.extra.get("bigbox_replicas", 4)), times=spec, dt=cfg.dt,
                               seed=cfg.seed + 77, keys=keys, bb_factors=DEFAULT_BB_FACTORS,
                               pilot_frames=2, pilot_replicas=1)
        say(f"bigbox: T={plan.T:g}: iso labels, {len(keys)} frames x {settings.replicas} replicas, grid {spec}")
        with executor_context("serial", 1) as ex:
            run_iso(store, settings, executor=ex, workers=1)
        lab = load_labels(store)
        times = {float(lab["targets"][t]): float(lab["times"][t]) for t in lab["C"]}
        confs = td.load_configs(store, model, work / "features", keys=keys, progress=say)
        box = np.diag(confs[0].cell).copy()
        tab = []
        for c_target in sorted({c for conf in confs for c in conf.labels}, reverse=True):
            have = [conf for conf in confs if c_target in conf.labels]
            md = [conf.labels[c_target] for conf in have]
            pred = model.predict_states([conf.X for conf in have], plan.T, [c_target])
            ml = [p[:, 0] for p in pred.mean]
            pos = [conf.positions for conf in have]
            row: dict[str, Any] = {"target": c_target, "t": times.get(c_target, float("nan")),
                                   "C_mean": float(np.nanmean(np.concatenate(md))), "n_frames": len(have),
                                   "rho": pearson_per_config(md, ml)["per_config"]}
            for name, vals in (("md", md), ("ml", ml)):
                q, s4, row[f"xi4_{name}"], row[f"chi4oz_{name}"], row["oz_points"] = s4_xi4(pos, vals, box)
                row[f"{name}_q"], row[f"{name}_s4"] = q.tolist(), s4.tolist()
            tab.append(row)
            say(f"bigbox: T={plan.T:g}, ⟨C̄_B⟩={c_target:g}: ξ4 MD {row['xi4_md']:.3g}, ML {row['xi4_ml']:.3g}, "
                f"ρ_P {row['rho']:.3f}")
        with DatasetStore(store, "r") as ds:
            md_wall = sum(float(ds.frame(k).metadata.get("wall_s", 0.0) or 0.0) for k in keys)
            n_atoms = ds.frame(keys[0]).n_atoms
            overlap = tile_overlap(ds.frame(keys[0]), tile)
        out["temperatures"][f"{plan.T:g}"] = {"n_frames": len(keys), "n_atoms": n_atoms, "L": float(box.max()),
                                              "replicas": settings.replicas, "plan": plan.__dict__, "rows": tab,
                                              "md_wall_s": md_wall, "tile_overlap": overlap}
    atomic_write_json(work / "bigbox.json", out, default=float)
    return out


def bigbox_section(res: dict[str, Any] | None, report: Path) -> list[str]:
    """Markdown of the big-box stage (ξ4 from MD labels and from predictions) and its S4 figure."""
    L = ["", "## ξ4 on a larger box", ""]
    if not res or not res.get("temperatures"):
        return L + ["Not run (stage `bigbox`, after stage train: `glassfix reproduce tglassmlp --stages bigbox`)."]
    temps = sorted(res["temperatures"], key=float, reverse=True)
    first = res["temperatures"][temps[0]]
    L += [f"The first swap sample of each temperature tiled {res['tile']} × {res['tile']} (N = {first['n_atoms']}, "
          f"L = {first['L']:.1f} σ, so q_min = 2π/L = {2 * np.pi / first['L']:.3f}), decorrelated by Langevin MD "
          "(LAMMPS, dt = 0.005 τ) for many τα^MD, then frames spaced by a few τα^MD; on the same frames the "
          "isoconfigurational bond-breaking labels (early times, ⟨C̄_B⟩ ≥ 0.8) and the transfer model's "
          "predictions at the label's ⟨C̄_B⟩ (constrained mean). S4(q) of each field over the frames (mean "
          "subtracted), OZ fit S4 = χ̃4/(1+(qξ4)²) over q ≤ 0.6 with the number of radial bins in brackets. "
          "The MD labels average only N_R replicas: their replica noise adds a q-independent floor to S4, which "
          "pulls the fitted ξ4 of MD down. Memory of the tiling: the fraction of particles of the first frame "
          "within 0.3 σ of their copy in another tile (modulo the tile; 1 right after tiling) is "
          + ", ".join(f"{res['temperatures'][T].get('tile_overlap', float('nan')):.3f} at T = {T}" for T in temps)
          + "; any residual correlation between tiles would show as excess S4 at multiples of "
          f"2π/(L/{res['tile']}) = {2 * np.pi * res['tile'] / first['L']:.2f}.", "",
          "| T | frames | N_R | MD per frame (τ) | ⟨C̄_B⟩ | t (τ) | ρ_P (per config) | ξ4 MD (σ) | ξ4 ML (σ) | χ̃4 MD | χ̃4 ML |",
          "|---|---|---|---|---|---|---|---|---|---|---|"]
    for T in temps:
        r = res["temperatures"][T]
        p = r["plan"]
        for row in r["rows"]:
            L.append(f"| {T} | {r['n_frames']} | {r['replicas']} | {p['equil_tau']:g}, then {p['spacing_tau']:g} | "
                     f"{row['target']:g} | {row['t']:.3g} | {row['rho']:.3f} | {row['xi4_md']:.3g} ({row['oz_points']}) | "
                     f"{row['xi4_ml']:.3g} ({row['oz_points']}) | {row['chi4oz_md']:.3g} | {row['chi4oz_ml']:.3g} |")
    png = _figure(res, report.with_name(report.stem + "_s4.png"))
    if png:
        L += ["", f"![S4 on the large box]({png.name})"]
    return L


def _figure(res: dict[str, Any], path: Path) -> Path | None:
    from matplotlib.figure import Figure

    from glassfix.analysis.plots import save_figure

    temps = sorted(res["temperatures"], key=float, reverse=True)
    if not temps:
        return None
    fig = Figure(figsize=(5 * len(temps), 3.8))
    for i, T in enumerate(temps):
        ax = fig.add_subplot(1, len(temps), i + 1)
        rows = res["temperatures"][T]["rows"]
        row = min(rows, key=lambda r: abs(r["target"] - 0.8))
        for name, style in (("md", "o-"), ("ml", "s--")):
            q, s4 = np.asarray(row[f"{name}_q"]), np.asarray(row[f"{name}_s4"])
            ax.plot(q, s4, style, ms=4, label=f"{name.upper()}: ξ4 = {row[f'xi4_{name}']:.2g} σ")
            xi, c = row[f"xi4_{name}"], row[f"chi4oz_{name}"]
            if np.isfinite(xi) and np.isfinite(c):
                qq = np.linspace(max(q.min(), 1e-3), 0.6, 50)
                ax.plot(qq, c / (1 + (qq * xi) ** 2), ":", color="gray")
        ax.set_xlabel("q (1/σ)")
        ax.set_ylabel("S4(q)")
        ax.set_title(f"T = {T}, ⟨C̄_B⟩ = {row['target']:g}")
        ax.legend(fontsize=8)
    return save_figure(fig, path)
