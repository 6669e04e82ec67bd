"""freud's Voronoi must keep working in a process that has created an in-process LAMMPS instance."""

import subprocess
import sys
import textwrap


def test_freud_voronoi_after_in_process_lammps():
    # In a subprocess: a segfault must fail this test, not kill the test session.
    code = textwrap.dedent("""
        import numpy as np
        from glassfix.engines.lammps.runner import import_lammps
        lammps = import_lammps()
        lmp = lammps.lammps(cmdargs=["-log", "none", "-screen", "none"])
        lmp.close()
        import freud
        box = freud.box.Box.cube(5.0)
        pts = np.random.default_rng(0).uniform(-2.5, 2.5, (100, 3))
        v = freud.locality.Voronoi()
        v.compute((box, pts))
        assert abs(v.volumes.sum() - 125.0) < 1e-8
        print("voronoi ok")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"exit {r.returncode}: {r.stderr[-2000:]}"
    assert "voronoi ok" in r.stdout
