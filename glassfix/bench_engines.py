"""``glassfix bench engines``: MD speed of LAMMPS and OpenMM on the same Kob–Andersen configurations.

KA 3D (ρ = 1.2, ``lj/smooth/linear`` at 2.5 σ_αβ, NVE, dt = 0.005) at several N, each configuration
prepared once by LAMMPS (random insertion, minimisation, short NVT) and read by both engines. Per N and
repeat, in alternating order: LAMMPS under ``mpirun -np 1`` and ``-np 2`` (its 'Loop time'), OpenMM CPU
with 1 and 2 threads (wall time of ``integrator.step``), OpenMM CUDA where a GPU is present, and — as the
"before" of issue 18, at N ≤ 4000 with a tenth of the steps — the old one-force-per-pair OpenMM System
with interaction groups. The figure is atom-steps/s (median over repeats); linear cost in N shows as
atom-steps/s independent of N. Results are appended to ``docs/benchmarks.md``; the run is resumable
(``state.json`` in the working directory).
"""

from __future__ import annotations

import json
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from glassfix import __version__
from glassfix.bench import _PAIR, _PREPARE, _RUN, _loop_time, machine_description
from glassfix.core.atomic import atomic_write_text
from glassfix.systems import KobAndersen3D

__all__ = ["bench_engines", "interaction_group_system", "cuda_skip_reason"]

TEMPERATURE = 0.6
DT = 0.005


def interaction_group_system(system: Any, frame):
    """The OpenMM System of glassfix ≤ 0.1.0 (one CustomNonbondedForce per species pair restricted by
    interaction groups; force-shifted LJ only) — kept for this benchmark's "before" column."""
    import openmm as mm

    from glassfix.systems.lj import _lj, _lj_force

    if system.cutoff_style != "lj/smooth/linear":
        raise ValueError("the interaction-group System is kept for lj/smooth/linear only")
    eps, sig, rc = system.epsilon_matrix(), system.sigma_matrix(), system.cutoff_matrix()
    out = mm.System()
    out.setDefaultPeriodicBoxVectors(*(mm.Vec3(*map(float, v)) for v in frame.cell))
    types = np.asarray(frame.types)
    for t in types:
        out.addParticle(float(system.masses[t]))
    nt = len(system.species)
    for a in range(nt):
        for b in range(a, nt):
            e, s, c = (float(x[a, b]) for x in (eps, sig, rc))
            e0, f0 = float(_lj(c, e, s)), float(_lj_force(c, e, s))
            force = mm.CustomNonbondedForce(f"4*{e!r}*(({s!r}/r)^12-({s!r}/r)^6)-({e0!r})+(r-{c!r})*({f0!r})")
            force.setNonbondedMethod(mm.CustomNonbondedForce.CutoffPeriodic)
            force.setCutoffDistance(float(rc[a, b]))
            for _ in range(types.size):
                force.addParticle([])
            force.addInteractionGroup(np.flatnonzero(types == a).tolist(), np.flatnonzero(types == b).tolist())
            out.addForce(force)
    return out


def _openmm_rate(frame, steps: int, platform: str, properties: dict[str, str], legacy: bool = False) -> float:
    """atom-steps/s of OpenMM NVE on ``frame`` (context creation and 20 warm-up steps excluded)."""
    import openmm as mm

    from glassfix.engines.openmm import build_system, kelvin

    system = KobAndersen3D()
    omm = interaction_group_system(system, frame) if legacy else build_system(system, frame)
    ctx = mm.Context(omm, mm.VerletIntegrator(DT), mm.Platform.getPlatformByName(platform), properties)
    ctx.setPositions(np.asarray(frame.positions, dtype=np.float64))
    ctx.setVelocitiesToTemperature(kelvin(TEMPERATURE), 4928)
    integ = ctx.getIntegrator()
    integ.step(20)
    ctx.getState(getEnergy=True)       # synchronise (CUDA runs asynchronously)
    t0 = time.perf_counter()
    integ.step(steps)
    ctx.getState(getEnergy=True)
    wall = time.perf_counter() - t0
    del ctx
    return frame.n_atoms * steps / wall


def cuda_skip_reason() -> str | None:
    """None when OpenMM's CUDA platform can run here, else why its benchmark row is skipped."""
    import openmm as mm

    from glassfix.engines.openmm import best_platform

    names = [mm.Platform.getPlatform(i).getName() for i in range(mm.Platform.getNumPlatforms())]
    if "CUDA" not in names:
        return "no GPU: OpenMM's CUDA platform is not installed (pip install 'glassfix[openmm-cuda]')"
    if best_platform().getName() != "CUDA":
        return "no GPU: the CUDA platform is installed but cannot create a Context here"
    return None


def _variants(n: int, cuda: bool) -> list[str]:
    out = ["lammps-1", "lammps-2", "openmm-cpu-1", "openmm-cpu-2"]
    if cuda:
        out.append("openmm-cuda")
    if n <= 4000:
        out.append("openmm-groups-1")
    return out


def bench_engines(out_dir: Path, sizes: tuple[int, ...] = (1000, 4000, 16000), atom_steps: float = 2e6,
                  repeats: int = 3, report: Path | None = Path("docs/benchmarks.md")) -> dict:
    """atom-steps/s of LAMMPS (1, 2 ranks) and OpenMM (CPU 1, 2 threads; CUDA if present) on KA 3D at each N
    of ``sizes``; ``atom_steps`` per timed run (N × steps); median of ``repeats`` alternating repeats."""
    import openmm as mm
    from rich.console import Console

    from glassfix.data.lammps_io import read_data
    from glassfix.engines.lammps.runner import run_lammps

    console = Console()
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)

    names = [mm.Platform.getPlatform(i).getName() for i in range(mm.Platform.getNumPlatforms())]
    cuda_skip = cuda_skip_reason()     # the row is skipped — and says so — where no GPU can run it
    cuda = cuda_skip is None
    if not cuda:
        console.print(f"  OpenMM CUDA: skipped ({cuda_skip})")
    state_path = out_dir / "state.json"
    key = dict(sizes=list(sizes), atom_steps=atom_steps, repeats=repeats)
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    if state.get("key") != key:
        state = {"key": key, "runs": []}

    def save() -> None:
        atomic_write_text(state_path, json.dumps(state, indent=2))

    t_start = time.perf_counter()
    for n in sizes:
        data = out_dir / f"start_{n}.data"
        if not data.exists():
            with console.status(f"preparing KA N={n} with LAMMPS …"):
                (out_dir / f"prepare_{n}.lmp").write_text(_PREPARE.format(
                    n=n, seed=4711, seed2=4712, nb=n - round(0.8 * n), pair=_PAIR, equil=1000).replace(
                    "write_data start.data", f"write_data {data.name}"))
                run_lammps(out_dir / f"prepare_{n}.lmp", nprocs=2, cwd=out_dir, log_path=f"log.prepare_{n}")
    for rep in range(repeats):
        for n in sizes:
            steps = max(50, int(round(atom_steps / n)))
            frame = read_data(out_dir / f"start_{n}.data")
            frame.types = np.asarray(frame.types, dtype=np.int64)
            variants = _variants(n, cuda)
            if rep % 2:
                variants = variants[::-1]
            for v in variants:
                if any(r["repeat"] == rep and r["n"] == n and r["variant"] == v for r in state["runs"]):
                    continue
                s = steps // 10 if v == "openmm-groups-1" else steps
                with console.status(f"repeat {rep + 1}/{repeats}, N={n}: {v} ({s} steps) …"):
                    if v.startswith("lammps"):
                        np_ = int(v.rsplit("-", 1)[1])
                        inp = out_dir / f"run_{n}.lmp"
                        inp.write_text(_RUN.format(label=f"N={n}", plugin_line="", fix_line="", comm_line="",
                                                   pair=_PAIR, every=s, steps=s).replace(
                            "read_data start.data", f"read_data start_{n}.data"))
                        log = f"log.{v}.{n}.{rep}"
                        run_lammps(inp, nprocs=np_, cwd=out_dir, log_path=log, use_mpirun=True)
                        rate = n * s / _loop_time(out_dir / log)
                    elif v == "openmm-cuda":
                        rate = _openmm_rate(frame, s, "CUDA", {"Precision": "mixed"})
                    else:
                        threads = v.rsplit("-", 1)[1]
                        rate = _openmm_rate(frame, s, "CPU", {"Threads": threads}, legacy="groups" in v)
                state["runs"].append({"repeat": rep, "n": n, "variant": v, "steps": s, "atom_steps_per_s": rate})
                save()
                console.print(f"  repeat {rep + 1} N={n:6d} {v:16s} {rate / 1e3:9.1f} k atom-steps/s")
    table: dict[str, dict[int, float]] = {}
    for r in state["runs"]:
        table.setdefault(r["variant"], {}).setdefault(r["n"], [])
        table[r["variant"]][r["n"]].append(r["atom_steps_per_s"])
    medians = {v: {n: statistics.median(x) for n, x in d.items()} for v, d in table.items()}
    result = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "machine": machine_description(), "glassfix": __version__, "openmm": mm.__version__,
        "platforms": names, "sizes": list(sizes), "atom_steps": atom_steps, "repeats": repeats,
        "wall_s": time.perf_counter() - t_start, "medians": medians, "runs": state["runs"],
        "skipped": {} if cuda else {"openmm-cuda": cuda_skip},
    }
    atomic_write_text(out_dir / "result.json", json.dumps(result, indent=2))
    if report is not None:
        _append_report(Path(report), result)
        console.print(f"[bold]engine benchmark[/bold] → {report}")
    return result


_LABELS = {"lammps-1": "LAMMPS 1 rank", "lammps-2": "LAMMPS 2 ranks", "openmm-cpu-1": "OpenMM CPU 1 thread",
           "openmm-cpu-2": "OpenMM CPU 2 threads", "openmm-cuda": "OpenMM CUDA (mixed)",
           "openmm-groups-1": "OpenMM before (interaction groups, 1 thread)"}


def _append_report(report: Path, r: dict) -> None:
    med = {v: {int(n): x for n, x in d.items()} for v, d in r["medians"].items()}

    def ratio_n(v: str, n: int, n0: int) -> str:
        x, y = med.get(v, {}).get(n), med.get(v, {}).get(n0)
        return "—" if x is None or y is None else f"{x / y:.2f}"

    sizes = r["sizes"]
    skipped = r.get("skipped") or {}
    variants = [v for v in _LABELS if v in med or v in skipped]

    def cell(v: str, n: int) -> str:
        x = med.get(v, {}).get(n)
        if x is None and v in skipped:
            return "skipped"
        return "—" if x is None else f"{x / 1e3:,.0f} k"

    def ratio(a: str, b: str, n: int) -> str:
        x, y = med.get(a, {}).get(n), med.get(b, {}).get(n)
        return "—" if x is None or y is None else f"{x / y:.2f}"

    n0 = sizes[0]
    scaling = [f"| {_LABELS[v]}: atom-steps/s relative to N = {n0:,} | "
               + " | ".join(ratio_n(v, n, n0) for n in sizes) + " |" for v in variants if v in med] if len(sizes) > 1 else []

    lines = [
        "",
        f"## Engine speed: LAMMPS vs OpenMM — {r['date']}",
        "",
        f"Command: `glassfix bench engines --sizes {','.join(map(str, sizes))} --atom-steps {r['atom_steps']:g} "
        f"--repeats {r['repeats']}`  ",
        f"Machine: {r['machine']}; OpenMM {r['openmm']} (platforms: {', '.join(r['platforms'])}); glassfix "
        f"{r['glassfix']}; wall time {r['wall_s'] / 60:.1f} min. The machine was shared with other jobs while "
        "this ran: compare the figures of one row with each other, not with other runs.",
        "",
        "KA 3D (ρ = 1.2, `lj/smooth/linear` at 2.5 σ_αβ) NVE, dt = 0.005, the same LAMMPS-prepared "
        f"configuration for every engine; {r['atom_steps']:g} atom-steps per timed run (the interaction-group "
        "System: a tenth), variants alternating in order, median of the repeats. Atom-steps/s:",
        "",
        "| engine | " + " | ".join(f"N = {n:,}" for n in sizes) + " |",
        "|---|" + "---|" * len(sizes),
        *[f"| {_LABELS[v]} | " + " | ".join(cell(v, n) for n in sizes) + " |" for v in variants],
        "",
        "Derived (same medians): cost linear in N ⇔ the first block ≈ 1 at every N; the second is how many "
        "times faster one LAMMPS rank is than one OpenMM CPU thread.",
        "",
        "| ratio | " + " | ".join(f"N = {n:,}" for n in sizes) + " |",
        "|---|" + "---|" * len(sizes),
        *scaling,
        "| LAMMPS 1 rank / OpenMM CPU 1 thread | " + " | ".join(ratio("lammps-1", "openmm-cpu-1", n) for n in sizes)
        + " |",
        "| LAMMPS 2 ranks / OpenMM CPU 2 threads | " + " | ".join(ratio("lammps-2", "openmm-cpu-2", n)
                                                               for n in sizes) + " |",
        "",
        *[f"{_LABELS[v]}: skipped ({why})." for v, why in skipped.items()],
    ]
    atomic_write_text(report, (report.read_text() if report.exists() else "# glassfix benchmarks\n").rstrip("\n")
                      + "\n" + "\n".join(lines))
