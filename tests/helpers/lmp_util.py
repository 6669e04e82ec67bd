"""Helpers for tests that run the real `lmp` binary (optionally under mpirun) with the glassfix plugin."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np

from glassfix.core.frame import Frame
from glassfix.systems import KobAndersen3D
from glassfix.engines.lammps.runner import lammps_env, venv_bin

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("GLASSFIX_SHARED", REPO.parent / "shared"))
ISO_DIR = SHARED / "data" / "ka3d_T0.44_iso_tc07" / "train"
KA_BOX = (4096 / 1.2) ** (1.0 / 3.0)  # shared KA box: N = 4096 at density 1.2 (README rounds it)

KA_PAIR = "\n".join(KobAndersen3D().lammps_commands()) + "\n"  # the system's own LAMMPS block


def shared_ka_frame(index: int = 1) -> Frame:
    """Initial configuration `index` of the shared isoconfigurational KA data (N = 4096, L = 15.0566)."""
    d = np.load(ISO_DIR / f"isoconfig_N4096T0.44_{index}_tc07.npz")
    return Frame(positions=d["initial_positions"], types=d["types"].astype(np.int64),
                 cell=np.eye(3) * KA_BOX, species=("A", "B"))


def run_lmp(script: str, cwd: Path, nprocs: int = 1, timeout: float = 120,
            name: str = "in.test", env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Write `script` to cwd/name and run `[mpirun -np K] lmp -in name` (``env``: extra environment
    variables); returns the finished process."""
    cwd.mkdir(parents=True, exist_ok=True)
    (cwd / name).write_text(script)
    cmd = [venv_bin("lmp"), "-in", name, "-log", "none"]
    if nprocs > 1:
        cmd = [venv_bin("mpirun"), "-np", str(nprocs)] + cmd
    return subprocess.run(cmd, cwd=cwd, env={**lammps_env(), **(env or {})}, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout)


def error_lines(output: str) -> list[str]:
    """The LAMMPS ERROR lines of an output."""
    return [ln for ln in output.splitlines() if ln.startswith("ERROR")]


def sheared(frame: Frame, gamma: float) -> Frame:
    """Affinely sheared copy (x += gamma*y) in a restricted-triclinic box with xy = gamma*L."""
    L = frame.cell[0, 0]
    pos = frame.positions.copy()
    pos[:, 0] += gamma * pos[:, 1]
    cell = np.array([[L, 0, 0], [gamma * L, L, 0], [0, 0, L]])
    return Frame(positions=pos, types=frame.types, cell=cell, species=frame.species)


def predict_run_script(plugin, data, model, options: str = "ghost auto", extra: str = "", dump: str = "out.dump") -> str:
    """An input that reads ``data`` (KA pair style), evaluates ``model`` once with ``fix p all glass/predict 1
    ... <options>`` at ``run 0`` and dumps ``id type x y z f_p`` at full precision, sorted by id."""
    return f"""plugin load {plugin}
units lj
atom_style atomic
read_data {data}
{KA_PAIR}
fix p all glass/predict 1 model {model} {options}
{extra}
dump d all custom 1 {dump} id type x y z f_p
dump_modify d format float %20.16g sort id
run 0
"""
