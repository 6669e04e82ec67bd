"""Every file in lammps_inputs/ runs as its usage header says: the ``mpirun -np 2 lmp -in lammps_inputs/...``
command is parsed from the file's header comment and run by bash from a directory that looks like the
repository root (``lammps_inputs/`` and ``examples/`` linked in), with the shipped example models and start
glass; only step counts are made tiny by replacing ``-var NAME VALUE`` pairs (a header that names a missing
file, a wrong variable or a bad option fails here)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from glassfix.engines.lammps.runner import lammps_env, venv_bin
from helpers.lmp_util import error_lines

from helpers import REPO  # noqa: E402
INPUTS = REPO / "lammps_inputs"

# tiny runs: -var values replaced in (or appended to) the header's command
SHORT = {
    "nve_ka.lmp": dict(steps=40, every=20, dump_every=20, thermo_every=20),
    "nve_softness.lmp": dict(steps=40, every=20, dump_every=20),
    "nve_botan.lmp": dict(steps=10, every=10, dump_every=10, thermo_every=10),
    "creep_ka.lmp": dict(nsnap=1, snapshot_every=20, every=10, thermo_every=10, maxiter=20),
    "creep_softness.lmp": dict(steps=20, snapshot_every=20, every=10, thermo_every=10, maxiter=20),
    "creep_looseness.lmp": dict(steps=20, snapshot_every=20, every=20, thermo_every=20, maxiter=20),
    "aqs_ka.lmp": dict(nsteps=2, dgamma=1e-3, dump_every=1, ftol=1e-6),
    "aqs_ace.lmp": dict(nsteps=2, dgamma=1e-3, dump_every=1, ftol=1e-6),
    "ka_prepare.lmp": dict(N=200, melt_steps=100, quench_steps=100, equil_steps=100, prod_steps=100,
                           dump_every=100, thermo_every=100),
    "ka_quench_frames.lmp": dict(last=100, every=100, ftol=1e-4, maxiter=200),
}
# run in this order in one directory (the second reads what the first wrote)
CHAINS = [["ka_prepare.lmp", "ka_quench_frames.lmp"]]


def usage_command(path: Path) -> str:
    """The ``mpirun ...`` command of the header comment, continuation lines joined."""
    lines = path.read_text().splitlines()
    for k, line in enumerate(lines):
        if not line.startswith("#"):
            break
        text = line[1:].strip()
        if text.startswith("mpirun"):
            parts = [text]
            while parts[-1].endswith("\\"):
                parts[-1] = parts[-1][:-1].rstrip()
                k += 1
                parts.append(lines[k][1:].strip())
            return " ".join(parts)
    raise AssertionError(f"{path.name}: no '#   mpirun -np 2 lmp -in lammps_inputs/{path.name} ...' usage line")


def shortened(cmd: str, overrides: dict) -> str:
    for name, value in overrides.items():
        pat = re.compile(rf"(-var\s+{re.escape(name)}\s+)(\S+)")
        cmd = pat.sub(lambda m: m.group(1) + str(value), cmd) if pat.search(cmd) else f"{cmd} -var {name} {value}"
    return cmd


def run_usage(name: str, cwd: Path) -> None:
    cmd = usage_command(INPUTS / name)
    assert re.match(rf"mpirun -np 2 lmp -in lammps_inputs/{re.escape(name)}\b", cmd), cmd
    env = lammps_env({"PATH": f"{Path(venv_bin('lmp')).parent}{os.pathsep}{os.environ.get('PATH', '')}",
                      "PYTHONPATH": str(REPO)})
    proc = subprocess.run(["bash", "-c", shortened(cmd, SHORT[name])], cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=300)
    assert proc.returncode == 0 and not error_lines(proc.stdout), f"{name}: {cmd}\n{proc.stdout[-3000:]}"
    out = re.search(r"-var\s+out\s+(\S+)", cmd)
    if out:
        assert (cwd / out.group(1)).exists(), f"{name}: no output {out.group(1)}"


def repo_like(tmp_path: Path) -> Path:
    for d in ("lammps_inputs", "examples"):
        (tmp_path / d).symlink_to(REPO / d)
    return tmp_path


def test_every_input_has_a_usage_line_and_a_test():
    names = sorted(p.name for p in INPUTS.glob("*.lmp"))
    assert names == sorted(SHORT), "add the new input to SHORT (tiny -var overrides) in this test"
    for name in names:
        usage_command(INPUTS / name)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(set(SHORT) - {n for c in CHAINS for n in c}))
def test_input_runs_as_its_usage_header_says(name, tmp_path, plugin_so):
    run_usage(name, repo_like(tmp_path))


@pytest.mark.slow
@pytest.mark.parametrize("chain", CHAINS, ids=lambda c: "+".join(c))
def test_chained_inputs_run_as_their_usage_headers_say(chain, tmp_path):
    cwd = repo_like(tmp_path)
    for name in chain:
        run_usage(name, cwd)
