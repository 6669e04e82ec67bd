"""The report of ``glassfix reproduce softness``: P_R(S), the Arrhenius analysis, the SVM, the on-the-fly run.

Every number in the text is computed here from the stage outputs of :mod:`glassfix.reproduce.softness`;
sentences that compare with the paper are chosen by the numbers (e.g. "decreasing" only if the fitted
slope is negative), so the prose cannot disagree with the tables.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import numpy as np

from glassfix.core.atomic import atomic_write_text
from glassfix.reproduce.softness_plots import softness_plots

MIN_R = 3   # rearranging entries a P_R bin needs to be plotted and fitted


def _load_apply(cfg: Any, workdir: Path) -> dict[float, dict[str, np.ndarray]]:
    out = {}
    for T in sorted(cfg.temperatures):
        with np.load(cfg.tdir(workdir, T) / "apply.npz") as z:
            out[T] = {k: z[k] for k in z.files}
    return out


def _test_chunks(model: Any) -> list[int]:
    """Chunks (groups cNN) the trainer held out."""
    frames = model.provenance.get("split", {}).get("test_frames", [])
    return sorted({int(k.split("/")[1].lstrip("c")) for k in frames})


def _fix_vs_offline(cfg: Any, files: list[Path], model: Any) -> np.ndarray:
    """Rows (t (τ), fraction of A with S > 0, max |S_fix − S_offline|, ⟨S_fix⟩_A) of the saved frames in ``files``
    that carry the fix's per-atom softness."""
    from glassfix.protocols import load_frame_npz

    rows = []
    for f in files:
        frame, labels, _ = load_frame_npz(f)
        if "predict/softness" not in labels:
            continue
        s_fix = np.asarray(labels["predict/softness"], float)
        a = np.flatnonzero(frame.types == 0)
        s_off = model.predict(frame, centers=a)[:, 0]
        rows.append((frame.step * cfg.dt, float(np.mean(s_fix[a] > 0)), float(np.max(np.abs(s_fix[a] - s_off))),
                     float(np.mean(s_fix[a]))))
    return np.array(rows)


def _otf(cfg: Any, workdir: Path, model: Any) -> dict[str, Any]:
    """The on-the-fly run: ⟨S⟩_A time series (fix glass/predict) and, on its saved frames (and, with
    --inherent, on their minimised copies), the fix's per-atom S against the offline model, and the fraction
    of A with S > 0."""
    from glassfix.protocols import read_series

    wd = Path(workdir) / "otf"
    res = json.loads((wd / "result.json").read_text()) if (wd / "result.json").exists() else {}
    return {"pred": read_series(wd / "predictions.csv"),
            "frames": _fix_vs_offline(cfg, sorted((wd / "frames").glob("md_*.npz")), model),
            "is_frames": _fix_vs_offline(cfg, sorted((wd / "frames").glob("is_*.npz")), model), "result": res}


def _fmt(x: float, nd: int = 2) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.{nd}f}"


def span_sentence(Ts: list[float], spans: list[float]) -> str:
    """Whether P_R(S) flattens on heating: the span (decades) must fall at every step up in T."""
    spans = [round(float(x), 1) for x in spans]   # compare what the table shows
    if all(a > b for a, b in zip(spans, spans[1:])):
        return "The span shrinks at every step up in T: P_R(S) flattens on heating, as in the paper."
    if spans[0] > spans[-1]:
        return ("The span is smaller at the highest than at the lowest T but does not shrink at every step (spans: "
                + ", ".join(_fmt(x, 1) for x in spans) + " decades), so the flattening on heating is reproduced only "
                "as an overall trend.")
    return ("The span does not shrink on heating (spans: " + ", ".join(_fmt(x, 1) for x in spans)
            + " decades): the paper's flattening of P_R(S) with T is not reproduced.")


def _sign_word(x: float, err: float) -> str:
    """'decreases' / 'increases' / 'is flat within 2 standard errors' for a slope −x (x = e1 or Σ1)."""
    if abs(x) <= 2 * err:
        return "is flat within two standard errors"
    return "decreases" if x > 0 else "increases"


def arrhenius_sentence(e1: float, e1_err: float, S1: float, S1_err: float, T0: float, T0_err: float,
                       T_low: float, T_high: float) -> str:
    """The Arrhenius reading against the paper (ΔE and Σ decreasing in S, T0 above the studied T)."""
    e, s = _sign_word(e1, e1_err), _sign_word(S1, S1_err)
    both = e == s == "decreases"
    text = (f"ΔE(S) {e} with S and Σ(S) {s} with S"
            + (", both as in the paper (softer particles: lower barriers and lower entropic prefactor). " if both else
               "; the paper has both decreasing. "))
    if not np.isfinite(T0):
        return text + "T0 is undefined (Σ1 = 0)."
    where = ("above every studied temperature, as in the paper (T0 is the onset of glassy dynamics)" if T0 > T_high else
             f"inside the studied range {T_low:g}–{T_high:g}, not above it as in the paper" if T0 >= T_low else
             "below the studied temperatures, not above them as in the paper")
    near = " (within two standard errors of the highest studied T)" if T0 > T_high and T0 - 2 * T0_err <= T_high else ""
    return text + f"T0 = {T0:.2f} ± {T0_err:.2f} lies {where}{near}."


def summary_text(frac_held: float, cv_best: float, scan: dict | None, wA: float, wB: float, per_T: dict,
                 Ts: list[float], fit: Any, Tm: dict, prs: dict, inherent: bool = False) -> str:
    """Which of the paper's results are reproduced and which are not, decided by the numbers."""
    yes, no = [], []
    (yes if wA < 0 and wB < 0 else no).append("negative SVM weights at the first peaks of g_AA and g_AB")
    if scan:
        best = scan["single"][scan["best_single"]]
        r = float(scan["best_single"].split("r=")[1].rstrip(")"))
        ok = best <= 0.67 and 0.8 <= r <= 1.2
        (yes if ok else no).append(f"the best single feature ({scan['best_single']}, {100 * best:.1f} %; paper ≤ 64 % "
                                   "at the first peaks)")
        (yes if scan["best_pair_score"] >= 0.72 else no).append(
            f"the best pair ({100 * scan['best_pair_score']:.1f} %; paper 77 %)")
    rising = all(np.all(np.diff(prs[T].p[prs[T].n_r >= MIN_R]) > 0) for T in Ts)
    (yes if rising else no).append(f"P_R(S) increasing with S at every temperature (over the S bins with ≥ {MIN_R} rearrangers)")
    qs = [per_T[T]["q"] for T in Ts]
    (yes if all(a > b for a, b in zip(qs, qs[1:])) else no).append(
        "the flattening of P_R(S) on heating (Q = " + ", ".join(f"{q:.1f}" for q in qs) + f" at T = "
        + ", ".join(f"{T:g}" for T in Ts) + ")")
    if fit is not None:
        (yes if fit.e1 > 2 * fit.e1_err and fit.Sigma1 > 2 * fit.Sigma1_err else no).append(
            "Arrhenius rates per S bin with ΔE(S) and Σ(S) linear and decreasing in S")
        (yes if fit.T0 > max(Tm.values()) else no).append(f"an onset T0 = e1/Σ1 above the studied temperatures "
                                                          f"(T0 = {fit.T0:.2f})")
    (yes if frac_held >= 0.85 else no).append(f"the fraction of held-out rearrangers with S > 0 ({100 * frac_held:.1f} %; "
                                              "paper 90 %, 85–90 % expected at small N)")
    (yes if cv_best >= 0.85 else no).append(f"the classification accuracy ({100 * cv_best:.1f} % balanced CV; paper 88 % "
                                            "radial only)")
    q0 = per_T[Ts[0]]["q"]
    (yes if q0 >= 50 else no).append(f"the strength of the softness signal, Q = {q0:.1f} at T = {Ts[0]:g} (paper 165 at "
                                     "T = 0.47)")
    text = ("**Reproduced (qualitatively):** " + "; ".join(yes) + ".\n\n" if yes else "") + \
        ("**Not reproduced:** " + "; ".join(no) + "." if no else "")
    if no and inherent:
        text += ("\n\nLikely causes, not tested here (descriptors and p_hop are already on inherent structures, as in "
                 "the paper): N = 1000 limits the radial grid to 4.4 σ and we use no angular functions; the training "
                 "set is smaller than the paper's 6,000 + 6,000; and our lowest temperature (0.54) is above the paper's "
                 "0.47, where the contrast is larger. What would test them: N = 2000 for the full 4.9 σ grid with the "
                 "angular functions, and longer runs at T ≤ 0.5 for more positives.")
    elif no:
        text += ("\n\nLikely causes, not tested here: the structure functions and p_hop are computed on thermal "
                 "positions, while the paper uses inherent structures (vibrations blur the first-shell features that "
                 "carry the signal, and add a noise floor to p_hop); N = 1000 limits the radial grid to 4.4 σ and we use "
                 "no angular functions; the training set is smaller than the paper's 6,000 + 6,000; and our lowest "
                 "temperature (0.54) is above the paper's 0.47, where the contrast is larger. What would test them: "
                 "the same pipeline with every recorded frame quenched to its inherent structure before p_hop and the "
                 "descriptors (as `glassfix run nve --inherent` does for its frames), N = 2000 for the full 4.9 σ grid, "
                 "and longer runs at T ≤ 0.5 for more positives.")
    return text


def weights_sentence(wA: float, wB: float) -> str:
    """The sign of the first-peak weights against the paper (negative)."""
    if wA < 0 and wB < 0:
        return "both negative, as in the paper (more first-shell neighbours: harder)."
    return "not both negative, unlike the paper (where the first-peak weights are negative)."


def comparison_rows(this: dict, other: dict, this_name: str, other_name: str) -> list[str]:
    """Markdown table of the headline numbers of two runs' ``summary.json`` (same MD, different positions)."""
    def pct(x: Any) -> str:
        return "—" if x is None or not np.isfinite(x) else f"{100 * x:.1f} %"

    def num(x: Any, nd: int = 1) -> str:
        return "—" if x is None or not np.isfinite(x) else f"{x:.{nd}f}"

    Ts = sorted(this["per_T"], key=float)
    rows = [f"| quantity | {other_name} | {this_name} |", "|---|---|---|",
            f"| rearrangers with S > 0 (held-out, T = {Ts[0]}) | {pct(other['frac_pos_held_out'])} | {pct(this['frac_pos_held_out'])} |",
            f"| grouped-CV balanced accuracy | {pct(other['cv_best'])} | {pct(this['cv_best'])} |"]
    for key, name in (("best_single_score", "best single feature"), ("best_pair_score", "best pair")):
        if key in this and key in other:
            rows.append(f"| {name} | {pct(other[key])} | {pct(this[key])} |")
    for T in Ts:
        a, b = other["per_T"].get(T), this["per_T"][T]
        if a is None:
            continue
        rows.append(f"| T = {T}: fraction rearranging; Q; P_R span (decades) | {pct(a['f_r'])}; {num(a['q'])}; "
                    f"{num(a['span'])} | {pct(b['f_r'])}; {num(b['q'])}; {num(b['span'])} |")
    ta, tb = other.get("arrhenius"), this.get("arrhenius")
    rows.append(f"| onset T0 = e1/Σ1 | {num(ta['T0'], 2) if ta else '—'} | {num(tb['T0'], 2) if tb else '—'} |")
    return rows


def write_report(cfg: Any, workdir: Path, report: Path, compare: Path | None = None) -> Path:
    """Compute the statistics from the stage outputs and write ``report`` (markdown) with its PNGs."""
    from glassfix.analysis.softness_stats import fit_softness_arrhenius, fraction_positive, q_ratio, rearrangement_probability
    from glassfix.core.machine import machine_description
    from glassfix.models.base import load_model

    workdir, report = Path(workdir), Path(report)
    report.parent.mkdir(parents=True, exist_ok=True)
    Ts = sorted(cfg.temperatures)
    T_low, T_high = Ts[0], Ts[-1]
    tau = json.loads((workdir / "tau.json").read_text())
    # NVE runs drift slightly from the nominal T: the Arrhenius analysis uses the measured mean temperature
    Tm = {T: float(tau[f"{T:g}"]["mean_temp"]) for T in Ts}
    model = load_model(workdir / "train" / "softness.glassfix")
    metrics = json.loads((workdir / "train" / "metrics.json").read_text())
    apply = _load_apply(cfg, workdir)
    prs, per_T = {}, {}
    for T in Ts:
        d = apply[T]
        ok = np.isfinite(d["phop"])
        S, r = d["S"][ok], d["phop"][ok] > cfg.p_c
        prs[T] = rearrangement_probability(S, r, cfg.s_bins)
        per_T[T] = {"n": int(ok.sum()), "frames": int(np.unique(d["step"][ok] + 10**9 * d["chunk"][ok]).size),
                    "f_r": float(r.mean()), "frac_pos": fraction_positive(S, r), "q": q_ratio(S, r),
                    "span": prs[T].span_decades(MIN_R), "mean_S": float(S.mean()), "std_S": float(S.std()), "max_abs_S": float(np.abs(S).max()),
                    "frac_soft": float((S > 0).mean())}
    test_chunks = _test_chunks(model)
    d = apply[T_low]
    held = np.isin(d["chunk"], test_chunks) & np.isfinite(d["phop"])
    frac_held = fraction_positive(d["S"][held], d["phop"][held] > cfg.p_c)
    n_r_held = int((d["phop"][held] > cfg.p_c).sum())
    S_tab = np.array([prs[T].centers for T in Ts])
    p_tab = np.array([np.where(prs[T].n_r >= MIN_R, prs[T].p, np.nan) for T in Ts])
    e_tab = np.array([prs[T].err for T in Ts])
    try:
        fit = fit_softness_arrhenius([Tm[T] for T in Ts], S_tab, p_tab, e_tab, min_temperatures=3)
        fit_error = ""
    except ValueError as exc:
        fit, fit_error = None, str(exc)
    otf = _otf(cfg, workdir, model)
    fs = dict(np.load(workdir / "fs.npz"))
    positions = "inherent structures" if cfg.inherent else "thermal positions"
    thermal_check: dict[str, float] = {}
    if cfg.inherent:
        # the IS-trained model on thermal frames, as the fix sees them (every 50th frame of the lowest T)
        from glassfix.data.store import DatasetStore

        with DatasetStore(cfg.tdir(workdir, T_low) / "store.h5", mode="r") as ds:
            keys = ds.keys()[::50]
            vals = []
            for k in keys:
                fr = ds.frame(k)
                vals.append(model.predict(fr)[fr.types == 0, 0])
        sv = np.concatenate(vals)
        thermal_check = {"frames": len(keys), "mean": float(sv.mean()), "frac_pos": float((sv > 0).mean())}
    quench: dict[str, float] = {}
    if cfg.inherent:
        qs = [json.loads((cfg.tdir(workdir, T) / "quench.done").read_text()) for T in Ts]
        chunks = [c for q in qs for c in q.values()]
        quench = {"iterations": float(np.average([c["mean_iterations"] for c in chunks],
                                                 weights=[c["frames"] for c in chunks])),
                  "fmax": max(c["max_fmax"] for c in chunks)}
    png = softness_plots(cfg, report, apply, prs, fit, model, otf, fs, Tm, min_r=MIN_R)

    head = model.heads[0]
    mus = np.asarray(model.descriptor.mus, float)
    m = mus.size
    cv_folds = metrics["cv"].get("A", {}).get("folds", "")

    def w_at(sp: int, r: float) -> float:
        return float(head.w[sp * m + int(np.argmin(np.abs(mus - r)))])

    g_mean = apply[T_low]["mean_features"]
    peaks = {}
    for k, sp in enumerate("AB"):
        g = g_mean[k * m:(k + 1) * m] / np.where(mus > 0.3, mus ** 2, np.inf)
        peaks[sp] = float(mus[int(np.argmax(g))])
    cv = metrics["cv"].get("A", {})
    cv_scores = {float(c): v for c, v in cv.get("scores", {}).items()}
    best_C = cv.get("best_C")
    cv_best = max(cv_scores.values()) if cv_scores else float("nan")
    test = metrics.get("test") or {}
    walls = json.loads((workdir / "wall.json").read_text())
    scan_path = workdir / "train" / "scan.json"
    scan = json.loads(scan_path.read_text()) if scan_path.exists() else None
    prov = model.provenance
    ex = prov.get("examples", {})
    q_steps = prov.get("config", {}).get("quiescent")
    span_low, span_high = per_T[T_low]["span"], per_T[T_high]["span"]
    spans = [per_T[T]["span"] for T in Ts]
    mono = all(round(a, 1) > round(b, 1) for a, b in zip(spans, spans[1:]))
    o = otf["frames"]
    oi = otf["is_frames"]
    otf_res = otf["result"]

    L: list[str] = []
    a = L.append
    a("# Softness of the 3D Kob–Andersen liquid: P_R(S), Arrhenius barriers and the onset T0 (Cubuk ch. 5)")
    a("")
    flags = (" --inherent" if cfg.inherent else "") + (f" --compare-workdir {compare}" if compare is not None else "")
    a(f"Command: `glassfix reproduce softness{flags} --workdir {workdir} --report {report.name if report.parent.name != 'docs' else 'docs/' + report.name}` (parameters: N = {cfg.n}, T = "
      f"{', '.join(f'{T:g}' for T in cfg.temperatures)}; equilibration {', '.join(f'{t:g}' for t in cfg.equil_tau)} τ; "
      f"production chunks {', '.join(map(str, cfg.chunks))} × {cfg.chunk_steps} steps)  ")
    a(f"Machine: {machine_description()} (2 cores, shared with other jobs)  ")
    a(f"Date: {datetime.date.today().isoformat()}  ")
    a(f"Wall time: {sum(walls.values()) / 60:.0f} min in all ("
      + ", ".join(f"{k} {v / 60:.1f} min" for k, v in walls.items()) + "; summed over invocations, segments that "
      "were interrupted and redone not counted)")
    a("")
    a("Paper: Cubuk's thesis ch. 5 (Schoenholz, Cubuk et al., Nat. Phys. 2016), digest `shared/science/002_cubuk.md` "
      "§3.2, §4.3 and the small-scale plan §9.1. The analyses are `glassfix.analysis.softness_stats` "
      "(tests: `tests/test_analysis_softness.py`).")
    a("")
    a("## Summary")
    i_summary = len(L)
    a("")   # filled in below, once every number is known
    a("")
    a("## Protocol")
    a(f"- KA 80:20, N = {cfg.n}, ρ = 1.2 (L = {(cfg.n / 1.2) ** (1 / 3):.2f} σ), `{cfg.system}` (LAMMPS `lj/smooth/linear`, "
      f"cut at 2.5 σ_αβ), m = 1, dt = {cfg.dt:g} τ (the digest allows 0.005 for speed; the paper used 0.0025).")
    a("- Per temperature: the `prepare` protocol (Nosé–Hoover melt at T = 2 and quench, "
      f"{cfg.melt_steps} + {cfg.quench_steps} steps; NVT at T, τ_damp = 1 τ, for the equilibration time in the table), "
      f"then NVE production in chunks of {cfg.chunk_steps} steps ({cfg.chunk_steps * cfg.dt:g} τ), each chunk continuing from "
      "the previous one's configuration and velocities.")
    a(f"- Labels online in LAMMPS: `fix glass/phop {cfg.label_every} {cfg.phop_window}` (p_hop every τ over "
      f"t_R = {cfg.phop_window * cfg.label_every * cfg.dt:g} τ) and `fix glass/record {cfg.label_every}` into one store per "
      "temperature; a store group is one chunk."
      + (f" **Inherent structures, as in the paper** (stage `quench`): every recorded frame (every τ) is "
         f"minimised by LAMMPS CG to a largest force component below {cfg.quench_ftol:g} ε/σ "
         f"(mean {quench['iterations']:.0f} CG iterations per frame, largest final force component "
         f"{quench['fmax']:.1e}); p_hop is recomputed on the quenched trajectory (same window, the centre frame in both "
         "halves as the fix), and the structure functions of training and application are computed on the quenched "
         "frames. The online thermal p_hop of the fix is not used."
         if cfg.inherent else
         " **Deviation:** p_hop is computed on the thermal positions, not on inherent structures as in the paper "
         "(quenching every frame was out of the CPU budget); vibrations add a baseline to p_hop, so p_c = 0.2 σ² "
         "selects somewhat different events than in the paper (`--inherent` runs the paper's choice)."))
    a(f"- Rearranging: p_hop > p_c = {cfg.p_c:g} σ² at the frame (the paper's per-frame definition of P_R).")
    a(f"- Training (public trainer, at the lowest T = {T_low:g}, as the paper): `{prov.get('command', '')}`. "
      f"Radial structure functions G_A(r), G_B(r), δ = 0.1, r = 0 … {cfg.mu_max:g} σ ({model.descriptor.n_features} "
      f"features; the grid stops at {cfg.mu_max:g} σ because L/2 = {(cfg.n / 1.2) ** (1 / 3) / 2:.2f} σ at N = {cfg.n}; "
      f"no angular functions), label frames every {cfg.train_every * cfg.dt:g} τ, negatives quiescent (p_hop < p_c) for "
      f"{q_steps} steps ≥ τα before the frame, classes balanced ({ex.get('train', 0) // 2} + {ex.get('train', 0) // 2} "
      f"examples; the paper used 6,000 + 6,000), grouped train/test split by chunk (test chunks "
      f"{', '.join(map(str, test_chunks))}), C by grouped cross-validation ({cv_folds}).")
    a(f"- Application: the model on every A particle every {cfg.apply_every * cfg.dt:g} τ at every temperature.")
    a(f"- On the fly: `glassfix run nve` (protocol `NVESpec`) at T = {T_low:g} from the last production "
      f"configuration with fresh velocities, {cfg.otf_steps} steps, the model in `fix glass/predict` every "
      f"{cfg.otf_every} steps.")
    a("")
    a("## State points")
    a("| T | measured ⟨T⟩ (NVE) | τα (F_s(7.25) = 1/e) | equilibration | production | equil./τα | ⟨pe⟩ 1st / 2nd half of production (ε) | frames used | A particle-frames | fraction rearranging |")
    a("|---|---|---|---|---|---|---|---|---|---|")
    for T, eq in sorted(zip(cfg.temperatures, cfg.equil_tau)):
        tt = tau[f"{T:g}"]
        a(f"| {T:g} | {tt['mean_temp']:.3f} ± {tt['std_temp']:.3f} | {_fmt(tt['tau_alpha'], 1)} τ | {eq:g} τ | "
          f"{tt['production_tau']:g} τ | {_fmt(eq / tt['tau_alpha'], 0)} | {tt['pe_halves'][0]:.4f} / {tt['pe_halves'][1]:.4f} | "
          f"{per_T[T]['frames']} | {per_T[T]['n']} | "
          f"{100 * per_T[T]['f_r']:.2f} % |")
    short = [T for T, eq in zip(cfg.temperatures, cfg.equil_tau) if eq < 10 * tau[f"{T:g}"]["tau_alpha"]]
    a("")
    # aging: the halves' means differ by more than 3 standard errors, counting ~10 independent blocks
    drift = [T for T in Ts if abs(tau[f"{T:g}"]["pe_halves"][1] - tau[f"{T:g}"]["pe_halves"][0])
             > 3 * tau[f"{T:g}"]["pe_std"] / np.sqrt(10)]
    a(("All temperatures were equilibrated for at least 10 τα" if not short else
       f"Equilibration was shorter than 10 τα at T = {', '.join(f'{T:g}' for T in short)}")
      + ("; the potential energy of no production run drifts between its halves by more than 3 × std/√10 "
         "(about ten independent blocks), so no aging is detected." if not drift else
         f"; the potential energy drifts between the production halves at T = {', '.join(f'{T:g}' for T in drift)} "
         "(more than 3 × std/√10): those state points may still age."))
    a("")
    taus = [tau[f"{T:g}"]["tau_alpha"] for T in Ts]
    a(f"F_s(k = 7.25, t) of A particles (figure, averaged over chunks and time origins) falls below 1/e within a chunk "
      f"at every temperature; τα grows from {taus[-1]:.1f} τ at T = {T_high:g} to {taus[0]:.1f} τ at T = {T_low:g} "
      f"(a factor {taus[0] / taus[-1]:.0f}).")
    a("")
    a(f"![F_s]({png['fs']})")
    a("")
    a("## The softness hyperplane")
    a("| C | grouped CV balanced accuracy |")
    a("|---|---|")
    for c, v in sorted(cv_scores.items()):
        a(f"| {c:g} | {v:.3f}{' (chosen)' if best_C is not None and c == best_C else ''} |")
    a("")
    a(f"On the held-out chunks at T = {T_low:g} ({test.get('n', 0)} examples: all rearranging A particles and the quiescent "
      f"non-rearranging ones, not balanced): balanced accuracy {_fmt(test.get('balanced_accuracy', float('nan')), 3)}, "
      f"recall of rearrangers (S > 0) {_fmt(test.get('recall_positive', float('nan')), 3)}, ROC AUC "
      f"{_fmt(test.get('auc', float('nan')), 3)}.")
    a("")
    sA, sB = w_at(0, peaks["A"]), w_at(1, peaks["B"])
    a(f"The first peaks of the A-centred pair correlations (from ⟨G(r)⟩/r²) are at r = {peaks['A']:g} σ (AA) and "
      f"{peaks['B']:g} σ (AB). The weights there are {sA:+.3f} (G_A) and {sB:+.3f} (G_B): "
      + weights_sentence(sA, sB))
    a("")
    jA, jB = int(np.argmin(head.w[:m])), int(np.argmin(head.w[m:]))

    def flips(w: np.ndarray) -> int:
        v = w[mus > 2]
        return int(np.sum(np.sign(v[1:]) != np.sign(v[:-1])))

    a(f"In the figure, the most negative weights are G_A at r = {mus[jA]:g} σ ({head.w[jA]:+.3f}) and G_B at "
      f"r = {mus[jB]:g} σ ({head.w[m + jB]:+.3f}). Beyond r = 2 σ the sign of the weight changes between neighbouring "
      f"grid points {flips(head.w[:m])} times for G_A and {flips(head.w[m:])} times for G_B (out of {int((mus > 2).sum()) - 1}), "
      f"with |w| up to {np.abs(head.w)[np.tile(mus, 2) > 2].max():.3f}: with {ex.get('train', 0) // 2} + "
      f"{ex.get('train', 0) // 2} examples and strongly correlated neighbouring features, this is probably partly fitted noise.")
    a("")
    a(f"![weights]({png['weights']})")
    a("")
    a("## P_R(S)")
    a("| T | fraction of rearrangers with S > 0 | fraction of A with S > 0 | ⟨S⟩ | std S | P_R span (decades, bins with ≥ 3 rearrangers) | Q = P_R(S > μ+σ)/P_R(S < μ−σ) |")
    a("|---|---|---|---|---|---|---|")
    for T in Ts:
        pt = per_T[T]
        a(f"| {T:g} | {pt['frac_pos']:.3f} | {pt['frac_soft']:.3f} | {pt['mean_S']:+.2f} | {pt['std_S']:.2f} | {_fmt(pt['span'], 2)} | {_fmt(pt['q'], 1)} |")
    a("")
    a(f"(All frames; the held-out-only figure is in the hyperplane section.) S is the raw decision value, whose scale "
      f"depends on C: with C = {best_C} our S has a standard deviation of {per_T[T_low]['std_S']:.2f} at T = {T_low:g} and "
      f"reaches at most |S| = {per_T[T_low]['max_abs_S']:.1f}, while the paper's S spans about −4 … 4. The span of P_R over fixed S bins is therefore "
      "not comparable with the paper's; Q, which uses S in units of its own spread, is.")
    a("")
    a("P_R(S) per bin (rearranging / all A particle-frames):")
    a("")
    edges = prs[T_low].edges
    a("| S bin | " + " | ".join(f"T = {T:g}" for T in Ts) + " |")
    a("|---|" + "---|" * len(Ts))
    for b in range(edges.size - 1):
        cells = []
        for T in Ts:
            pr = prs[T]
            cells.append("—" if pr.n[b] == 0 else f"{pr.p[b]:.2e} ({pr.n_r[b]}/{pr.n[b]})")
        a(f"| [{edges[b]:g}, {edges[b + 1]:g}) | " + " | ".join(cells) + " |")
    a("")
    a("Error bars and the weights of the fits below are binomial, n_r/n per bin; particle-frames 5 τ apart are "
      "correlated (τα ≥ 5 τ at the lower temperatures), so these errors are underestimates.")
    a("")
    a(f"![P_R(S)]({png['pr']})")
    a("")
    a(f"At the training temperature T = {T_low:g}, P_R rises by {_fmt(span_low, 1)} decades across the S bins that "
      f"hold at least {MIN_R} rearrangers; at T = {T_high:g} the span is {_fmt(span_high, 1)} decades. "
      + span_sentence(Ts, spans))
    a("")
    a("## Arrhenius analysis")
    if fit is None:
        a(f"The fit failed: {fit_error}")
    else:
        a("| S (bin mean) | Σ(S) | ΔE(S) (ε) | R² of ln P_R vs 1/T |")
        a("|---|---|---|---|")
        for b in range(fit.S.size):
            if np.isfinite(fit.dE[b]):
                a(f"| {fit.S[b]:+.2f} | {fit.sigma[b]:.2f} ± {fit.sigma_err[b]:.2f} | {fit.dE[b]:.2f} ± {fit.dE_err[b]:.2f} | "
                  f"{fit.r2[b]:.3f} |")
        a("")
        a(f"Linear forms: ΔE(S) = e0 − e1 S with e0 = {fit.e0:.2f} ± {fit.e0_err:.2f}, e1 = {fit.e1:.2f} ± {fit.e1_err:.2f}; "
          f"Σ(S) = Σ0 − Σ1 S with Σ0 = {fit.Sigma0:.2f} ± {fit.Sigma0_err:.2f}, Σ1 = {fit.Sigma1:.2f} ± {fit.Sigma1_err:.2f}; "
          f"onset T0 = e1/Σ1 = {fit.T0:.2f} ± {fit.T0_err:.2f}.")
        a("")
        a("(Fitted against the measured mean temperatures of the NVE runs, "
          + ", ".join(f"{Tm[T]:.3f}" for T in Ts) + ", not the nominal ones.)")
        a("")
        a(arrhenius_sentence(fit.e1, fit.e1_err, fit.Sigma1, fit.Sigma1_err, fit.T0, fit.T0_err, Tm[T_low], Tm[T_high]))
        a("")
        res = [np.log(prs[T].p[b]) - (fit.sigma[b] - fit.dE[b] / Tm[T]) for T in Ts for b in range(fit.S.size)
               if np.isfinite(fit.dE[b]) and prs[T].n_r[b] >= MIN_R]
        a(f"In the figure, left: ln P_R against 1/T with the per-bin lines; middle: ΔE(S) and Σ(S) with the linear forms; "
          f"right: P_R/exp(Σ(S)) against ΔE(S)/T for every temperature and bin, which falls on exp(−ΔE/T) with the largest "
          f"deviation {np.max(np.abs(res)):.2f} in ln P_R over {len(res)} points (the per-bin fits have 2 parameters for "
          f"{len(Ts)} temperatures, so the collapse is partly built in).")
        a("")
        a(f"![Arrhenius]({png['arrhenius']})")
    a("")
    a("## Softness on the fly")
    pm = otf["pred"]["softness_mean"]
    a(f"`fix glass/predict` evaluated the trained model every {cfg.otf_every} steps during {cfg.otf_steps} NVE steps "
      f"({cfg.otf_steps * cfg.dt:g} τ) at T = {T_low:g}: ⟨S⟩_A over the run {np.mean(pm):+.3f} (standard deviation of "
      f"the per-step mean {np.std(pm):.3f}), against {per_T[T_low]['mean_S']:+.3f} offline over the production run."
      + (f" On the {len(o)} saved frames the fix's per-atom S equals the offline model to within "
         f"{o[:, 2].max():.1e} (largest absolute difference), and {100 * o[:, 1].mean():.1f} % of A particles have S > 0 "
         f"(offline production run: {100 * per_T[T_low]['frac_soft']:.1f} %)." if len(o) else "")
      + (f" Total-energy drift: {otf_res.get('etotal_max_deviation', float('nan')):.1e} ε per atom (largest deviation)."
         if otf_res else "")
      + (" The model was trained on inherent structures but the fix evaluates it on the instantaneous thermal "
         "positions (a quench at every evaluation is not part of `fix glass/predict` for this model), so its on-the-fly "
         f"S is that of a vibrating configuration. Offline, the same model on {thermal_check['frames']} thermal frames of "
         f"the production run at T = {T_low:g} gives ⟨S⟩_A = {thermal_check['mean']:+.3f} and "
         f"{100 * thermal_check['frac_pos']:.1f} % with S > 0, close to the on-the-fly values: the shift from the "
         "inherent-structure S is this mismatch, not an error of the fix." if cfg.inherent else "")
      + (f" What the model is for, S of the inherent structure, is what the fix gives on the minimised copy of "
         f"each saved frame (`glassfix run nve --inherent --model`): on those {len(oi)} minima ⟨S⟩_A = "
         f"{oi[:, 3].mean():+.3f} and {100 * oi[:, 1].mean():.1f} % of A particles have S > 0 (offline production run: "
         f"{per_T[T_low]['mean_S']:+.3f} and {100 * per_T[T_low]['frac_soft']:.1f} %), equal to the offline model on "
         f"the same minima within {oi[:, 2].max():.1e}." if cfg.inherent and len(oi) else ""))
    a("")
    a(f"![on the fly]({png['otf']})")
    a("")
    a("## Paper | ours | conditions (digest §9.1 list of numbers to reproduce)")
    a("| quantity | paper | ours | conditions |")
    a("|---|---|---|---|")
    a(f"| rearrangers with S > 0 (held-out data) | 90 % (85–90 % expected at small N) | **{100 * frac_held:.1f} %** "
      f"({n_r_held} rearrangers in held-out chunks {', '.join(map(str, test_chunks))}) | T = {T_low:g} vs 0.47; {positions} p_hop; radial only |")
    a(f"| cross-validation accuracy | 90 % all 166 features, 88 % radial only | **{100 * cv_best:.1f} %** (balanced, {cv.get('folds', '')}, "
      f"best C = {best_C}) | {model.descriptor.n_features} radial features, ≤ {cfg.mu_max:g} σ |")
    if scan:
        a(f"| best single feature | ≤ 64 % (first peaks of g) | **{100 * scan['single'][scan['best_single']]:.1f} %** "
          f"({scan['best_single']}) | grouped CV, {scan['n_examples']} balanced examples, C = {scan['C']:g} |")
        a(f"| best pair | 77 % (B@0.9σ + A@1.1σ) | **{100 * scan['best_pair_score']:.1f} %** ({scan['best_pair']}, "
          f"searched among the 12 best singles); the paper's pair {scan['paper_pair']}: {100 * scan['paper_pair_score']:.1f} % | "
          "the paper searched all 4,950 pairs |")
    else:
        a("| best single feature / best pair (B@0.9σ + A@1.1σ) | 64 % / 77 % | not measured | scan stage not run |")
    a(f"| first-peak weights | negative | G_A@{peaks['A']:g}: {sA:+.3f}; G_B@{peaks['B']:g}: {sB:+.3f} | |")
    a(f"| P_R(S) at the lowest T | rises by orders of magnitude from S = −3 to 3 | {_fmt(span_low, 1)} decades at T = {T_low:g} | "
      f"bins of width 1 with ≥ {MIN_R} rearrangers |")
    qs = [per_T[T]["q"] for T in Ts]
    a(f"| P_R(S) flattens as T rises | yes | span over S bins: {'falls at every step' if mono else ('falls overall only' if spans[0] > spans[-1] else 'does not fall')} ("
      + ", ".join(_fmt(s, 1) for s in spans) + " decades); Q: "
      + ("falls at every step" if all(a > b for a, b in zip(qs, qs[1:])) else "does not fall at every step")
      + " (" + ", ".join(_fmt(q, 1) for q in qs) + f") | T = {', '.join(f'{T:g}' for T in Ts)} |")
    if fit is not None:
        a(f"| ΔE(S) = e0 − e1 S, Σ(S) = Σ0 − Σ1 S, all positive | values not printed (figures only) | e0 = {fit.e0:.2f}, "
          f"e1 = {fit.e1:.2f}, Σ0 = {fit.Sigma0:.2f}, Σ1 = {fit.Sigma1:.2f} | {len(Ts)} temperatures {T_low:g}–{T_high:g} |")
        a(f"| onset T0 = e1/Σ1 | above the studied T; matches Keys et al. onset (value not printed) | {fit.T0:.2f} ± {fit.T0_err:.2f} "
          f"| Keys et al.'s ρ = 1.2 onset not available here to compare |")
    else:
        a("| ΔE(S), Σ(S), T0 | linear, positive coefficients | fit failed | see above |")
    a(f"| Q of softness | 165 (T = 0.47) | {_fmt(per_T[T_low]['q'], 1)} (T = {T_low:g}) | {positions} p_hop |")
    for q, p in (("softness correlation length / p_hop", "1.2 σ / 1.1 σ"), ("Q of coordination / local energy", "6.2 / 5.0"),
                 ("E_L + coordination classifier", "65 %"), ("exponential / piecewise softness", "82 % / 85 %"),
                 ("⟨cos θ(Δr, ∇S)⟩", "≈ 0.45"), ("f_irrev falls on cooling", "yes"),
                 ("q(t) from P_R + propagator vs independent Arrhenius", "propagator better")):
        a(f"| {q} | {p} | not measured | outside this command's scope |")
    a("")
    L[i_summary] = summary_text(frac_held, cv_best, scan, sA, sB, per_T, Ts, fit, Tm, prs, inherent=cfg.inherent)
    summary = {
        "positions": positions, "frac_pos_held_out": frac_held, "cv_best": cv_best,
        "best_single_score": scan["single"][scan["best_single"]] if scan else None,
        "best_pair_score": scan["best_pair_score"] if scan else None,
        "per_T": {f"{T:g}": per_T[T] for T in Ts},
        "arrhenius": None if fit is None else {k: getattr(fit, k) for k in ("e0", "e1", "Sigma0", "Sigma1", "T0", "T0_err")},
    }
    if compare is not None:
        other = json.loads((Path(compare) / "summary.json").read_text())
        this = json.loads(json.dumps(summary, default=float))
        o_name = other.get("positions", "thermal positions")
        a(f"## {positions.capitalize()} vs {o_name}")
        a(f"The same MD trajectories analysed with descriptors and p_hop on {o_name} (`--workdir {compare}`, its own "
          "report is the earlier version of this page) and on " + positions + " (this page):")
        a("")
        L.extend(comparison_rows(this, other, positions, o_name))
        a("")
        t0 = f"{Ts[0]:g}"
        a(f"From {o_name} to {positions}, on the same trajectories: the held-out fraction of rearrangers with S > 0 "
          f"goes from {100 * other['frac_pos_held_out']:.1f} % to {100 * frac_held:.1f} %, Q at T = {t0} from "
          f"{other['per_T'][t0]['q']:.1f} to {per_T[T_low]['q']:.1f}, and the grouped-CV balanced accuracy from "
          f"{100 * other['cv_best']:.1f} % to {100 * cv_best:.1f} %.")
        a("")
    atomic_write_text(report, "\n".join(L) + "\n")
    atomic_write_text(workdir / "summary.json", json.dumps(summary, indent=1, default=float))
    return report
