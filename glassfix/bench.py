"""``glassfix bench``: speed measured as ratios within one run (ours vs a reference on the same input).

``overhead``: wall time of Kob–Andersen NVE under ``mpirun -np K`` with ``fix glass/predict`` (radial
structure-function softness every ``every`` steps; ``model_kind="botan"``: the BOTAN network in mode local,
distributed message passing, and in mode gather, in the same alternating repeats) divided by the same run
without the fix; median of alternating repeats. Results are appended to ``docs/benchmarks.md`` with date
and machine.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from glassfix import __version__
from glassfix.core.atomic import atomic_write_json, atomic_write_text
from glassfix.core.machine import append_bench_section, machine_description
from glassfix.systems import KobAndersen3D

_PREPARE = """# KA 3D configuration for the overhead benchmark
units lj
atom_style atomic
boundary p p p
variable L equal ({n}/1.2)^(1.0/3.0)
region box block 0 ${{L}} 0 ${{L}} 0 ${{L}}
create_box 2 box
create_atoms 1 random {n} {seed} box overlap 0.6 maxtry 1000
set type 1 type/subset 2 {nb} {seed2}
{pair}
minimize 1.0e-4 1.0e-2 500 5000
reset_timestep 0
velocity all create 1.0 {seed} dist gaussian mom yes rot no loop geom
fix nvt all nvt temp 1.0 0.6 1.0
timestep 0.005
run {equil}
write_data start.data
"""

_RUN = """# KA 3D NVE, {label}
{plugin_line}
units lj
atom_style atomic
boundary p p p
read_data start.data
{pair}
{comm_line}
velocity all create 0.6 4928 dist gaussian mom yes rot no loop geom
fix nve all nve
{fix_line}
timestep 0.005
thermo {every}
run {steps}
"""

# the KA potential exactly as glassfix.systems defines it (lj/smooth/linear, 2.5 σ_αβ)
_PAIR = "\n".join(KobAndersen3D().lammps_commands()
                   + ["neighbor 0.3 bin", "neigh_modify every 1 delay 0 check yes"])


def _loop_time(log: Path) -> float:
    """'Loop time of X on ...' of the last run in a LAMMPS log (s)."""
    times = re.findall(r"^Loop time of ([0-9.eE+-]+) on", log.read_text(), flags=re.M)
    if not times:
        raise RuntimeError(f"no 'Loop time' in {log}")
    return float(times[-1])


def _breakdown(log: Path) -> dict[str, float]:
    """Average time per section (Pair, Neigh, Comm, Output, Modify, Other) of the last run in a LAMMPS log (s)."""
    text = log.read_text()
    block = text[text.rfind("MPI task timing breakdown"):]
    out: dict[str, float] = {}
    for m in re.finditer(r"^(Pair|Bond|Kspace|Neigh|Comm|Output|Modify|Other)\s*\|([^\n]*)$", block, flags=re.M):
        cols = [c.strip() for c in m.group(2).split("|")]
        # 'Other' has only the average column filled
        vals = [float(c) for c in cols if re.fullmatch(r"[0-9.eE+-]+", c)]
        if vals:
            out[m.group(1)] = vals[1] if m.group(1) != "Other" and len(vals) >= 3 else vals[0]
    return out


def model_receptive_field(path: Path) -> float:
    """Receptive field (length units) of a saved model."""
    from glassfix.models import load_model

    return float(load_model(path).receptive_field)


def _random_softness_model(path: Path) -> Path:
    """A softness model with fixed random weights: the cost does not depend on the weights' values."""
    from glassfix.descriptors.structure_functions import RadialStructureFunctions
    from glassfix.models.softness import SoftnessHead, SoftnessModel

    desc = RadialStructureFunctions(n_species=2, species_names=["A", "B"])
    rng = np.random.default_rng(0)
    heads = {t: SoftnessHead(mean=np.zeros(desc.n_features), scale=np.ones(desc.n_features),
                             w=rng.normal(size=desc.n_features), b=0.0) for t in (0, 1)}
    SoftnessModel(desc, ["A", "B"], heads, provenance={"purpose": "benchmark, random weights"}).save(path)
    return path


def _random_botan_model(path: Path) -> Path:
    """A BOTAN model (reference architecture, r_edge = 2σ) with fixed random weights: same cost as trained."""
    import torch

    from glassfix.descriptors.graph import ParticleGraph
    from glassfix.models.botan import BotanModel, build_network

    torch.manual_seed(0)
    net = build_network()
    desc = ParticleGraph(n_species=2, r_edge=2.0, species_names=["A", "B"])
    BotanModel.from_network(net, desc, ["A", "B"], provenance={"purpose": "benchmark, random weights"}).save(path)
    return path


# the public commands that make the ACE activity model of the overhead benchmark: the shared KA data
# (configurations 1-3, propensity at t = 4120), both species, the trainer's default descriptor (body order 4,
# degree 10, r_cut 4σ: what `glassfix train ace` gives a user who sets nothing) and its default C search
ACE_TRAIN_ARGS = ["--label", "propensity", "--top", "0.1", "--bottom", "0.5", "--species", "A", "B",
                  "--per-class", "500", "--seed", "7"]


def _trained_ace_model(out_dir: Path, console) -> tuple[Path, list[str]]:
    """An ACE activity model trained by the public commands on the shared KA data (resumable: the import
    is atomic, the trainer caches its descriptors); returns (model path, the commands run)."""
    import os
    import subprocess
    import sys

    from glassfix.data.shared import shared_iso_files

    store = out_dir / "ace_store.h5"
    train_dir = out_dir / "ace_train"
    model = train_dir / "ace.glassfix"
    cli = [sys.executable, "-m", "glassfix.cli"]
    srcs = [str(p) for p in shared_iso_files()[:3]]
    commands = [f"glassfix data import botan {' '.join(Path(p).name for p in srcs)} ace_store.h5",
                "glassfix train ace --store ace_store.h5 --out ace_train " + " ".join(ACE_TRAIN_ARGS)]
    if model.exists():
        return model, commands
    if not store.exists():
        tmp = out_dir / "ace_store.partial.h5"
        tmp.unlink(missing_ok=True)
        with console.status("importing the shared KA configurations 1-3 …"):
            subprocess.run(cli + ["data", "import", "botan", *srcs, str(tmp)], check=True, capture_output=True)
        os.replace(tmp, store)
    with console.status("training the ACE activity model (glassfix train ace) …"):
        proc = subprocess.run(cli + ["train", "ace", "--store", str(store), "--out", str(train_dir), *ACE_TRAIN_ARGS],
                              capture_output=True, text=True)
    if proc.returncode != 0 or not model.exists():
        raise RuntimeError(f"glassfix train ace failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return model, commands


def _model_text(model_kind: str, model: Path) -> tuple[str, float]:
    """(what the fix evaluates, in words from the model file; the issue's target ratio)."""
    if model_kind == "ace":
        from glassfix.models import load_model

        m = load_model(model)
        d = m.descriptor.spec()
        heads = ", ".join(m.species[t] for t in sorted(m.heads))
        return (f"the ACE activity model (logistic regression per species, heads {heads}; purified ACE invariants "
                f"of body order {d['max_body_order']}, degree {d['degree']:g}, r_cut = {d['r_cut']:g}σ: "
                f"{m.descriptor.n_features} features; trained by `glassfix train ace` on the shared KA data, "
                "commands below) through the Python bridge, invariants and read-out in one vectorised numba "
                "kernel per centre (atoms binned by the kernel: no LAMMPS neighbour list)", 1.25)
    return ("radial structure-function softness (100 features, cutoff 5.4σ, tabulated C++ path)", 1.05)


def _nghost(log: Path) -> float:
    """Average ghost atoms per rank ('Nghost: X ave') of the last run in a LAMMPS log."""
    found = re.findall(r"^Nghost:\s+([0-9.eE+-]+) ave", log.read_text(), flags=re.M)
    return float(found[-1]) if found else float("nan")


def _fix_variants(model_kind: str, model: Path, every: int) -> dict[str, str]:
    """The fix line of each 'with' variant: softness in its fastest configuration (tabulated C++ path, ghost
    shell enlarged on evaluation steps only); BOTAN distributed (mode local) and gathered (mode gather)."""
    if model_kind == "softness":
        return {"with": f"fix soft all glass/predict {every} model {model} ghost auto"}
    if model_kind == "ace":
        return {"with": f"fix ace all glass/predict {every} model {model} ghost auto"}
    if model_kind == "botan":
        return {"local": f"fix gnn all glass/predict {every} model {model} mode local",
                "gather": f"fix gnn all glass/predict {every} model {model} mode gather"}
    raise ValueError(f"bench overhead: model must be softness, ace or botan, got {model_kind!r}")


def bench_overhead(out_dir: Path, n_atoms: int = 32000, steps: int = 2000, every: int = 100,
                   repeats: int = 3, nprocs: int = 2, report: Path = Path("docs/benchmarks.md"),
                   model: Path | None = None, model_kind: str = "softness") -> dict:
    """Median wall-time ratio (with fix / without) of KA NVE; resumable; appends to ``report``.
    ``model_kind`` 'softness' or 'ace' (one 'with' variant; ace: a model trained by the public commands on
    the shared data, :func:`_trained_ace_model`) or 'botan' (variants 'local' and 'gather')."""
    from rich.console import Console

    from glassfix.engines.lammps.plugin import plugin_path
    from glassfix.engines.lammps.runner import run_lammps

    console = Console()
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    state_path = out_dir / "state.json"
    key = dict(n_atoms=n_atoms, steps=steps, every=every, nprocs=nprocs)
    if model_kind != "softness":
        key["model"] = model_kind
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    if state.get("key") != key:
        state = {"key": key, "runs": []}

    def save_state():
        atomic_write_json(state_path, state, indent=2)

    # the start configuration is reused only for the same N (a directory reused with another --n
    # would otherwise time the old size under the new label)
    start_key = out_dir / "start.json"
    start_ok = ((out_dir / "start.data").exists() and start_key.exists()
                and json.loads(start_key.read_text()).get("n_atoms") == n_atoms)
    if not start_ok:
        with console.status(f"preparing KA N={n_atoms} …"):
            (out_dir / "prepare.lmp").write_text(_PREPARE.format(
                n=n_atoms, seed=4711, seed2=4712, nb=n_atoms - round(0.8 * n_atoms), pair=_PAIR, equil=2000))
            run_lammps(out_dir / "prepare.lmp", nprocs=nprocs, cwd=out_dir, log_path="log.prepare")
        atomic_write_json(start_key, {"n_atoms": n_atoms}, indent=None)
    _fix_variants(model_kind, Path("m"), every)    # validates model_kind before any work
    train_commands: list[str] = []
    if not model:
        if model_kind == "ace":
            model, train_commands = _trained_ace_model(out_dir, console)
        else:
            model = (_random_botan_model(out_dir / "bench_botan.glassfix") if model_kind == "botan"
                     else _random_softness_model(out_dir / "bench_softness.glassfix"))
    model = Path(model)
    plugin = plugin_path()
    # "without" is what a user runs today; the others add the fix
    variants = {"without": dict(label="no fix", plugin_line="", fix_line="", comm_line="")}
    for name, fix_line in _fix_variants(model_kind, model, every).items():
        variants[name] = dict(label=f"with fix glass/predict ({name})", plugin_line=f"plugin load {plugin}",
                              fix_line=fix_line, comm_line="")
    withs = [n for n in variants if n != "without"]
    for name, v in variants.items():
        (out_dir / f"{name}.lmp").write_text(_RUN.format(pair=_PAIR, every=every, steps=steps, **v))

    # warm-up: compile numba kernels into the cache so the timed runs measure steady state
    if not state.get("warm"):
        with console.status("warm-up run (numba compile cache) …"):
            (out_dir / "warm.lmp").write_text(_RUN.format(pair=_PAIR, every=every, steps=every,
                                                          **variants[withs[0]]))
            run_lammps(out_dir / "warm.lmp", nprocs=nprocs, cwd=out_dir, log_path="log.warm")
        state["warm"] = True
        save_state()

    names = ["without"] + withs
    order = [names if i % 2 == 0 else names[::-1] for i in range(repeats)]
    for i, pair in enumerate(order):
        for name in pair:
            if any(r["repeat"] == i and r["variant"] == name for r in state["runs"]):
                continue
            t0 = time.perf_counter()
            with console.status(f"repeat {i + 1}/{repeats}: {variants[name]['label']} …"):
                run_lammps(out_dir / f"{name}.lmp", nprocs=nprocs, cwd=out_dir, log_path=f"log.{name}.{i}")
            wall = time.perf_counter() - t0
            loop = _loop_time(out_dir / f"log.{name}.{i}")
            state["runs"].append({"repeat": i, "variant": name, "loop_s": loop, "wall_s": wall,
                                  "sections_s": _breakdown(out_dir / f"log.{name}.{i}")})
            save_state()
            console.print(f"  repeat {i + 1} {name:8s} loop {loop:7.2f} s (process wall {wall:6.2f} s)")

    loops = {n: sorted_by_repeat(state, n) for n in variants}
    ratios = {n: [w / wo for w, wo in zip(loops[n], loops["without"])] for n in withs}
    first = withs[0]
    result = {
        "model": model_kind,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "machine": machine_description(),
        "n_atoms": n_atoms, "steps": steps, "every": every, "nprocs": nprocs,
        "loop_without_s": loops["without"], "loop_with_s": loops[first],
        "ratio_per_repeat": ratios[first], "median_ratio": statistics.median(ratios[first]),
        "glassfix": __version__,
        # median over repeats of (with - without) per LAMMPS timing section: where the extra time goes
        "extra_by_section_s": _extra_by_section(state, first),
    }
    if model_kind in ("softness", "ace"):
        result["model_text"], result["target"] = _model_text(model_kind, model)
        result["train_commands"] = train_commands
    if model_kind == "botan":
        from glassfix.models import load_model

        m = load_model(model)
        result["halo"] = {"exchanges": int(m.halo_exchanges), "width": int(m.halo_width)}
    if len(withs) > 1:
        result["variants"] = {n: {"loop_s": loops[n], "ratio_per_repeat": ratios[n],
                                  "median_ratio": statistics.median(ratios[n]),
                                  "extra_by_section_s": _extra_by_section(state, n),
                                  "nghost_per_rank": statistics.median(
                                      _nghost(out_dir / f"log.{n}.{i}") for i in range(repeats))}
                              for n in withs}
    (out_dir / "result.json").write_text(json.dumps(result, indent=2))
    if len(withs) > 1:
        _append_variants_report(Path(report), result)
        for n in withs:
            console.print(f"[bold]{n}: median overhead ratio {result['variants'][n]['median_ratio']:.3f}[/bold]")
        console.print(f"→ {report}")
    else:
        _append_report(Path(report), result)
        console.print(f"[bold]median overhead ratio {result['median_ratio']:.3f}[/bold] → {report}")
    return result


def _extra_by_section(state: dict, variant: str = "with") -> dict[str, float]:
    """Median over repeats of the with − without time of each LAMMPS timing section (s)."""
    import statistics

    by = {(r["repeat"], r["variant"]): r.get("sections_s") or {} for r in state["runs"]}
    reps = sorted({r["repeat"] for r in state["runs"]})
    names = sorted({k for d in by.values() for k in d})
    out = {}
    for k in names:
        diffs = [by[(i, variant)].get(k, 0.0) - by[(i, "without")].get(k, 0.0)
                 for i in reps if (i, variant) in by and (i, "without") in by]
        if diffs:
            out[k] = statistics.median(diffs)
    return out


def sorted_by_repeat(state: dict, variant: str) -> list[float]:
    """Loop times of one variant ordered by repeat index."""
    runs = sorted((r for r in state["runs"] if r["variant"] == variant), key=lambda r: r["repeat"])
    return [r["loop_s"] for r in runs]


def _append_report(report: Path, r: dict) -> None:
    """Report section of a one-variant overhead run (softness or ACE); every sentence from ``r``."""
    model_text = r.get("model_text", "radial structure-function softness (100 features, cutoff 5.4σ, tabulated "
                                     "C++ path)")
    target = float(r.get("target", 1.10))
    model_flag = f"--model {r['model']} " if r.get("model", "softness") != "softness" else ""
    evals = r["steps"] // r["every"]
    extra = [(w - wo) / evals for w, wo in zip(r["loop_with_s"], r["loop_without_s"])]
    per_interval = statistics.median(r["loop_without_s"]) / evals
    budget = (target - 1.0) * per_interval
    met = "met" if r["median_ratio"] <= target else "not met"
    section = [
        "",
        f"## Overhead of fix glass/predict{' (' + r['model'] + ')' if model_flag else ''} — {r['date']}",
        "",
        f"Command: `glassfix bench overhead {model_flag}--n {r['n_atoms']} --steps {r['steps']} --every {r['every']} "
        f"--np {r['nprocs']} --repeats {len(r['ratio_per_repeat'])}`  ",
        f"Machine: {r['machine']}; glassfix {r['glassfix']}",
        "",
        f"KA 3D N = {r['n_atoms']} NVE (lj/smooth/linear 2.5σ_αβ, dt = 0.005) under `mpirun -np "
        f"{r['nprocs']}`, with vs without `fix glass/predict {r['every']} ... ghost auto` evaluating "
        f"{model_text} on every atom. Loop times (LAMMPS 'Loop time'), alternating order:",
        "",
        "| repeat | without (s) | with (s) | ratio |",
        "|---|---|---|---|",
        *[f"| {i + 1} | {a:.2f} | {b:.2f} | {q:.3f} |"
          for i, (a, b, q) in enumerate(zip(r["loop_without_s"], r["loop_with_s"], r["ratio_per_repeat"]))],
        "",
        f"**Median ratio: {r['median_ratio']:.3f}** (target ≤ {target:.2f}: {met}).",
        "",
        f"Per evaluation ({r['n_atoms'] / r['nprocs']:.0f} atoms per rank): extra loop time "
        f"{statistics.median(extra):.3f} s (median over repeats of (with − without) / {evals} evaluations); the "
        f"target allows {budget:.3f} s ({target - 1.0:.2f} × the {per_interval:.3f} s that {r['every']} steps take "
        "without the fix, median).",
        "",
    ]
    if r.get("train_commands"):
        section += ["Model made by: " + "; ".join(f"`{c}`" for c in r["train_commands"]) + ".", ""]
    extra_s = r.get("extra_by_section_s") or {}
    if extra_s:
        section += [
            "Extra time with the fix by LAMMPS timing section (median over repeats of with − without, s, "
            f"over {r['steps']} steps = {evals} evaluations):",
            "",
            "| " + " | ".join(extra_s) + " |",
            "|" + "---|" * len(extra_s),
            "| " + " | ".join(f"{v:+.2f}" for v in extra_s.values()) + " |",
            "",
        ]
    append_bench_section(report, section)


# assumed network for the projection (not measured here: this machine has one node): per-message latency
# and bandwidth of a typical InfiniBand cluster
NET_LATENCY_S = 5e-6
NET_BANDWIDTH_BPS = 10e9


def ghost_atoms_cubic(n_per_rank: float, shell: float, density: float = 1.2) -> float:
    """Ghost atoms of a cubic subdomain holding n_per_rank atoms at ``density`` with a ghost ``shell``
    (length units): density × ((l + 2 shell)³ − l³)."""
    side = (n_per_rank / density) ** (1.0 / 3.0)
    return density * ((side + 2.0 * shell) ** 3 - side ** 3)


def project_weak_scaling(s_per_atom: float, exchanges: int, width: int, shell: float, ranks: list[int],
                         n_per_rank: list[int]) -> list[dict]:
    """Projected time per evaluation (s) of mode local and mode gather for ``ranks`` × ``n_per_rank``.

    Both run the same network per atom (``s_per_atom``, measured). local: s_per_atom × n, plus for P > 1
    the exchanges over the assumed network (each a 6-message LAMMPS forward communication of ``width``
    float32 per ghost of a cubic subdomain). gather: s_per_atom × P n on rank 0, plus 44 B per atom
    through rank 0's link."""
    rows = []
    for p in ranks:
        for n in n_per_rank:
            ng = ghost_atoms_cubic(n, shell)
            comm_bytes = exchanges * width * 4 * ng
            comm = 0.0 if p == 1 else exchanges * 6 * NET_LATENCY_S + comm_bytes / NET_BANDWIDTH_BPS
            rows.append({"ranks": p, "n_per_rank": n, "n_total": p * n, "ghosts": ng,
                         "bytes_per_rank": comm_bytes, "local_s": s_per_atom * n + comm, "local_comm_s": comm,
                         "gather_s": s_per_atom * p * n + (0.0 if p == 1 else 44 * p * n / NET_BANDWIDTH_BPS)})
    return rows


def _append_variants_report(report: Path, r: dict) -> None:
    """Report section of a multi-variant overhead run (BOTAN: mode local, distributed, vs mode gather)."""
    names = list(r["variants"])
    v = r["variants"]
    probe = r["halo"]
    section = [
        "",
        f"## Overhead of fix glass/predict with BOTAN: distributed (mode local) vs mode gather — {r['date']}",
        "",
        f"Command: `glassfix bench overhead --model {r['model']} --n {r['n_atoms']} --steps {r['steps']} "
        f"--every {r['every']} --np {r['nprocs']} --repeats {len(r['loop_without_s'])}`  ",
        f"Machine: {r['machine']}; glassfix {r['glassfix']}",
        "",
        f"KA 3D N = {r['n_atoms']} NVE (lj/smooth/linear 2.5σ_αβ, dt = 0.005, neighbor skin 0.3) under "
        f"`mpirun -np {r['nprocs']}`, without the fix and with `fix glass/predict {r['every']} model BOTAN` "
        "(reference architecture: 7 cycles, hidden width 64, r_edge = 2σ; random weights, same cost) in "
        "`mode local` (each rank its own atoms, ghosts one edge cutoff deep, ghost node states exchanged "
        "between cycles) and in `mode gather` (all atoms on rank 0). One torch thread per rank. Loop times "
        f"(LAMMPS 'Loop time', {r['steps'] // r['every']} evaluations inside the loop; the one at setup is "
        "outside it), the variants alternating in order:",
        "",
        "| repeat | without (s) | " + " | ".join(f"{n} (s)" for n in names) + " | "
        + " | ".join(f"ratio {n}" for n in names) + " |",
        "|---|---|" + "---|" * (2 * len(names)),
        *[f"| {i + 1} | {wo:.2f} | " + " | ".join(f"{v[n]['loop_s'][i]:.2f}" for n in names) + " | "
          + " | ".join(f"{v[n]['ratio_per_repeat'][i]:.3f}" for n in names) + " |"
          for i, wo in enumerate(r["loop_without_s"])],
        "",
        "**Median ratios: " + ", ".join(f"{n} {v[n]['median_ratio']:.3f}" for n in names) + "** (target for "
        "BOTAN every 1000 steps: ≤ 1.3).",
        "",
        "Extra time with the fix by LAMMPS timing section (median over repeats of with − without, s):",
        "",
    ]
    secs = sorted({k for n in names for k in v[n]["extra_by_section_s"]})
    section += ["| variant | " + " | ".join(secs) + " |", "|---|" + "---|" * len(secs)]
    section += [f"| {n} | " + " | ".join(f"{v[n]['extra_by_section_s'].get(k, 0.0):+.2f}" for k in secs) + " |"
                for n in names]
    if "local" in v:
        ng = v["local"]["nghost_per_rank"]
        per_eval = probe["exchanges"] * probe["width"] * 4 * ng
        section += [
            "",
            f"Communication of mode local (measured ghost count, LAMMPS 'Nghost' average per rank: {ng:.0f}): "
            f"{probe['exchanges']} exchanges × {probe['width']} float32 per ghost atom = "
            f"{per_eval / 1e6:.2f} MB received per rank and evaluation (including periodic self-images "
            f"that stay on the rank), {per_eval / r['every'] / 1e3:.1f} kB per rank and MD step averaged over "
            f"the interval of {r['every']} steps. Mode gather moves 44 B per atom per evaluation (positions, "
            f"ids, types and in-group flags to rank 0, the outputs back): "
            f"{44 * r['n_atoms'] / 1e6:.2f} MB, all through rank 0.",
        ]
    if "local" in v and "gather" in v:
        evals = r["steps"] // r["every"]
        per_rank = r["n_atoms"] / r["nprocs"]
        tau_l = v["local"]["extra_by_section_s"].get("Modify", 0.0) / evals / per_rank
        # gather: rank 0 evaluates every atom (the fix's Modify time, averaged over ranks that all wait for it)
        tau_g = v["gather"]["extra_by_section_s"].get("Modify", 0.0) / evals / r["n_atoms"]
        ranks, sizes = [1, 8, 64, 512, 4096], [8192, 65536]
        rows = project_weak_scaling(tau_l, probe["exchanges"], probe["width"], 2.8, ranks, sizes)
        section += [
            "",
            "**Projected weak scaling** (not measured: one node here). Inputs measured above: the cost of one "
            f"evaluation per owned atom in mode local, {tau_l * 1e6:.0f} µs (extra Modify time / "
            f"{evals} evaluations / {per_rank:.0f} atoms per rank, the on-node exchanges included; the "
            f"{v['local']['nghost_per_rank'] / per_rank:.2f} ghosts per owned atom get no node update, only the "
            "node blocks of those that are the source of an edge; the ≈ 40 edges per owned atom dominate), "
            "used for both modes (the same network per atom; mode gather measured per "
            f"atom {tau_g * 1e6:.0f} µs, extra Modify time / evaluations / N). Assumed: cubic "
            "subdomains at density 1.2 with the ghost shell of the KA pair style (2.5 + 0.3 = 2.8σ, which "
            f"covers BOTAN's r_edge + skin = 2.3σ), a network of {NET_LATENCY_S * 1e6:.0f} µs latency per "
            f"message and {NET_BANDWIDTH_BPS / 1e9:.0f} GB/s, {probe['exchanges']} exchanges of 6 messages "
            "per evaluation, the per-atom cost independent of the subdomain (one thread per rank). One rank "
            "exchanges with its own periodic images only (no network). Time per evaluation (s):",
            "",
            "| ranks | atoms/rank | total atoms | ghosts/rank | MB exchanged/rank | local: comm | local: total "
            "| gather: total |",
            "|---|---|---|---|---|---|---|---|",
            *[f"| {q['ranks']} | {q['n_per_rank']} | {q['n_total']:.3g} | {q['ghosts']:.0f} | "
              f"{q['bytes_per_rank'] / 1e6:.1f} | {q['local_comm_s']:.4f} | {q['local_s']:.2f} | "
              f"{q['gather_s']:.3g} |" for q in rows],
            "",
            "Mode local stays at the cost of one rank's atoms at any rank count (the exchanges add "
            f"≤ {max(q['local_comm_s'] / q['local_s'] for q in rows) * 100:.2f} % in this projection); "
            "mode gather grows with the total number of atoms on one core (and its memory).",
        ]
    section.append("")
    append_bench_section(report, section)


def bench_iso(n_atoms: int = 1000, replicas: int = 4, steps: int = 10000, repeats: int = 3, workers: int = 2,
              report: Path = Path("docs/benchmarks.md")) -> dict:
    """Isoconfigurational launcher vs bare ``lmp`` (replica atom-steps/s, same cores); appends to ``report``.

    Each repeat measures both in turn (``launcher_throughput``); the reported figure is the median of the
    per-repeat ratios, like the overhead benchmark.
    """
    import datetime
    import statistics

    from rich.console import Console

    from glassfix import __version__
    from glassfix.ensembles.bench import launcher_throughput

    console = Console()
    rows = []
    for rep in range(repeats):
        r = launcher_throughput(n_atoms=n_atoms, replicas=replicas, steps=steps, workers=workers,
                                seed=1 + rep, repeats=1)
        rows.append(r)
        console.print(f"repeat {rep + 1}/{repeats}: launcher {r['launcher_atom_steps_per_s'] / 1e6:.3f} M, "
                      f"bare {r['bare_atom_steps_per_s'] / 1e6:.3f} M atom-steps/s, ratio {r['ratio']:.3f}")
    median = statistics.median(r["ratio"] for r in rows)
    lines = [
        "",
        f"## Isoconfigurational launcher throughput — {datetime.date.today().isoformat()}",
        "",
        f"Command: `glassfix bench iso --n {n_atoms} --replicas {replicas} --steps {steps} --repeats {repeats} "
        f"--np {workers}`  ",
        f"Machine: {machine_description()}; glassfix {__version__}",
        "",
        f"KA 3D N = {n_atoms} liquid frame (T = 0.8), {replicas} NVE replicas × {steps} steps (dt = 0.005) "
        f"with 10 log-spaced snapshots, {workers} worker processes. Launcher = `glassfix iso` end to end "
        "(pool start-up, LAMMPS setup, snapshots, store writes, labels); bare = the same runs as plain "
        f"`lmp` processes, {workers} at a time, on the same cores.",
        "",
        "| repeat | launcher (M atom-steps/s) | bare lmp (M atom-steps/s) | ratio |",
        "|---|---|---|---|",
    ]
    for i, r in enumerate(rows):
        lines.append(f"| {i + 1} | {r['launcher_atom_steps_per_s'] / 1e6:.3f} | {r['bare_atom_steps_per_s'] / 1e6:.3f} | {r['ratio']:.3f} |")
    lines += ["", f"**Median ratio: {median:.3f}** (target ≥ 0.9).", ""]
    report.parent.mkdir(parents=True, exist_ok=True)
    text = report.read_text() if report.exists() else "# glassfix benchmarks\n"
    atomic_write_text(report, text.rstrip("\n") + "\n" + "\n".join(lines))
    console.print(f"[bold]median launcher/bare ratio {median:.3f}[/bold] → {report}")
    return {"rows": rows, "median_ratio": median}
