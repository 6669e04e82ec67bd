"""OpenMM + a glassfix model: KA 3D at T* = 0.44 with BOTAN propensity every 50 steps.

    python examples/openmm_botan.py [--steps 200] [--platform CPU] [--out openmm_out]

Starts from the shared BOTAN configuration 1 (N = 4096), runs Langevin dynamics (reduced units:
σ = 1 nm, ε = 1 kJ/mol, m = 1 amu, τ = 1 ps) and writes a LAMMPS-style dump with the per-atom
propensity plus a log of its mean, the same outputs as `fix glass/predict ... mode gather` in LAMMPS.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from glassfix.core.frame import Frame
from glassfix.engines.openmm import PredictorReporter, make_simulation
from glassfix.models.botan import BotanModel
from glassfix.systems import KobAndersen3D

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--every", type=int, default=50)
    ap.add_argument("--platform", default=None, help="OpenMM platform (default: CUDA if present, else CPU)")
    ap.add_argument("--out", default="openmm_out")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    d = np.load(SHARED / "ka3d_T0.44_iso_tc07/train/isoconfig_N4096T0.44_1_tc07.npz")
    L = (4096 / 1.2) ** (1 / 3)
    frame = Frame(positions=d["initial_positions"], types=d["types"].astype(np.int64), cell=np.eye(3) * L,
                  species=("A", "B"))
    model = BotanModel.from_reference_weights(str(SHARED / "botan_reference/pretrained_edge_model1_state_dict.npz"))
    rep = PredictorReporter(model, args.every, frame.types, dump=out / "botan.dump", log=out / "botan.log")
    sim = make_simulation(KobAndersen3D(), frame, temperature=0.44, dt=0.005, platform=args.platform,
                          reporters=[rep])
    rep.report_now(sim)    # step 0, as the fix does at setup
    sim.step(args.steps)
    for step, means in rep.history:
        print(f"step {step:6d}  mean propensity {means[0]:.5f}")
    print(f"dump: {out / 'botan.dump'}")


if __name__ == "__main__":
    main()
