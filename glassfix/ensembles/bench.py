"""Benchmark of the isoconfigurational launcher: replica atom-steps/s vs bare LAMMPS on the same cores.

Used by ``glassfix bench`` (:mod:`glassfix.bench`); see ``docs/ensembles.md`` for the figures.
Units: rates in atom-steps/s, wall times in s, MD times τ.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

from .iso import run_iso
from .plan import IsoSettings
from .replica import SystemSpec, make_liquid_frame
from .timegrid import parse_time_grid

__all__ = ["launcher_throughput"]


def launcher_throughput(system: Any = None, n_atoms: int = 1000, replicas: int = 4, steps: int = 5000,
                        n_times: int = 10, workers: int | None = None, dt: float = 0.005,
                        temperature: float = 0.8, seed: int = 1, workdir: str | os.PathLike[str] | None = None,
                        executor_kind: str = "local", repeats: int = 1) -> dict[str, Any]:
    """Replica atom-steps/s of the launcher vs bare LAMMPS on the same cores (target ratio ≥ 0.9).

    Launcher: :func:`run_iso` on a fresh store holding one frame of ``system`` (default KA3D) with
    ``replicas`` replicas of ``steps`` steps, ``n_times`` log-spaced snapshots, ``workers`` processes;
    timed end to end (pool start-up, task transfer, LAMMPS setup, snapshots, store writes, labels).
    Bare: the same number of NVE runs of the same frame as plain ``lmp`` processes (``read_data``,
    ``velocity create``, one ``run``), at most ``workers`` at a time. Returns a JSON-able dict with both
    rates (atom-steps/s), the ratio launcher / bare and the wall times (s); the best of ``repeats``.
    """
    import shutil
    import subprocess
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    from ..data.lammps_io import write_data
    from ..data.store import DatasetStore
    from ..engines.lammps.runner import lammps_env, venv_bin
    from ..systems import KobAndersen3D
    from .executors import default_workers, get_executor

    system = system or KobAndersen3D()
    workers = int(workers or default_workers())
    spec = SystemSpec.from_system(system)
    own_dir = workdir is None
    wd = Path(tempfile.mkdtemp(prefix="glassfix-iso-bench-")) if own_dir else Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    try:
        frame = make_liquid_frame(system, n_atoms, temperature, steps=1000, dt=dt, seed=seed)
        data = wd / "start.data"
        write_data(frame, data, masses=spec.masses)
        t_max = steps * dt
        times = f"log:{max(dt, t_max / 1000):g}:{t_max!r}:{n_times}" if n_times > 1 else f"steps:{steps}"
        settings = IsoSettings(replicas=replicas, times=times, dt=dt, seed=seed)
        grid = parse_time_grid(times, dt)
        total = replicas * n_atoms * grid.n_steps
        best_l, best_b = math.inf, math.inf
        for rep in range(max(1, repeats)):
            store_path = wd / f"iso-{rep}.h5"
            for p in (store_path, store_path.with_name(store_path.name + ".iso")):
                if p.is_dir():
                    shutil.rmtree(p)
                elif p.exists():
                    p.unlink()
            with DatasetStore(store_path, "w") as st:
                st.add_frame(frame, key="bench/0", group="bench", system=spec.name, temperature=temperature)
            t0 = time.perf_counter()
            with get_executor(executor_kind, workers) as ex:
                run_iso(store_path, settings, executor=ex, workers=workers)
            best_l = min(best_l, time.perf_counter() - t0)

            inputs = []
            for r in range(replicas):
                inp = wd / f"in.bare{r}"
                inp.write_text(_bare_input(data.name, spec, temperature, 1000 + r, dt, grid.n_steps))
                inputs.append(inp)
            env = lammps_env()
            lmp = venv_bin("lmp")

            def bare(inp: Path) -> None:
                subprocess.run([lmp, "-in", inp.name, "-log", "none", "-screen", "none", "-nocite"], cwd=wd, env=env,
                               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

            t0 = time.perf_counter()
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(bare, inputs))
            best_b = min(best_b, time.perf_counter() - t0)
        return {"system": spec.name, "n_atoms": n_atoms, "replicas": replicas, "steps": grid.n_steps,
                "n_times": len(grid.steps), "workers": workers, "executor": executor_kind,
                "launcher_wall_s": best_l, "bare_wall_s": best_b,
                "launcher_atom_steps_per_s": total / best_l, "bare_atom_steps_per_s": total / best_b,
                "ratio": best_b / best_l}
    finally:
        if own_dir:
            shutil.rmtree(wd, ignore_errors=True)


def _bare_input(data_file: str, spec: SystemSpec, temperature: float, seed: int, dt: float, steps: int) -> str:
    """A plain ``lmp`` input: the same frame and system, ``velocity create`` and one NVE run."""
    return "\n".join([
        "units lj", f"dimension {spec.dim}", "atom_style atomic", "boundary p p p", "atom_modify map array",
        f"read_data {data_file}", *spec.commands,
        *(["fix glassfix_2d all enforce2d"] if spec.dim == 2 else []),
        f"velocity all create {float(temperature)!r} {seed} mom yes dist gaussian",
        f"timestep {float(dt)!r}", "fix 1 all nve", "thermo_style custom step", "thermo 0",
        f"run {int(steps)}", ""])
