"""Energy conservation of the KA system in LAMMPS: NVE drift at dt = 0.005 with the shifted-force cutoff."""

import numpy as np

from glassfix.engines.lammps.runner import import_lammps
from glassfix.systems.ka import KobAndersen3D


def test_ka_nve_drift_below_1e4_per_particle_per_100_tau():
    lammps = import_lammps()
    system = KobAndersen3D(cutoff_style="lj/smooth/linear")
    n, dt, tau = 400, 0.005, 100.0
    lmp = lammps.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    try:
        lmp.commands_list(system.initial_lammps_commands(n, 1.2, seed=5))
        lmp.commands_list(system.lammps_commands())
        lmp.commands_list([
            "neighbor 0.3 bin", "neigh_modify every 1 delay 0 check yes",
            "minimize 1e-6 1e-8 1000 10000", "reset_timestep 0", f"timestep {dt}",
            "velocity all create 0.8 11 dist gaussian mom yes rot no",
            "fix t all nvt temp 0.8 0.8 0.5", "run 2000", "unfix t",
            "fix md all nve", "thermo_style custom step etotal", "run 0",
        ])
        energies = [lmp.get_thermo("etotal")]
        chunk = 200
        for _ in range(int(round(tau / dt)) // chunk):
            lmp.command(f"run {chunk} pre no post no")
            energies.append(lmp.get_thermo("etotal"))
    finally:
        lmp.close()
    e = np.asarray(energies)  # LAMMPS normalises thermo energies per atom in LJ units
    t = np.arange(e.size) * chunk * dt
    slope = np.polyfit(t, e, 1)[0]
    drift = abs(slope) * tau
    print(f"KA NVE drift {drift:.2e} per particle per 100 tau")
    assert drift < 1e-4, f"NVE drift {drift:.2e} per particle per 100 tau"
    # and the fluctuations stay small compared with the kinetic energy per particle (1.2 at T = 0.8)
    assert np.ptp(e) < 1e-2
