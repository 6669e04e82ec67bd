"""NVE with on-the-fly BOTAN propensity (the authors' pretrained weights, mode gather).

    python examples/nve_botan.py [--np 2] [--steps 200] [--out nve_botan_out]

The graph network sees 7 × 2.0 σ: the protocol gathers all atoms to rank 0 (mode gather, chosen from the
model) and evaluates the whole graph once per evaluation; values equal offline to float32 round-off.

The same run from the command line:

    glassfix run nve --data examples/models/ka_start.data --model examples/models/ka_botan.glassfix \\
        --np 2 --out nve_botan_out --T 0.45 --steps 200 --frame-every 100

and as a plain LAMMPS input: lammps_inputs/nve_botan.lmp (its header has the command).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from glassfix.models import load_model
from glassfix.protocols import NVESpec, load_frame_npz, read_series, run

MODELS = Path(__file__).resolve().parent / "models"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--np", type=int, default=2, help="MPI ranks")
    ap.add_argument("--steps", type=int, default=200, help="MD steps")
    ap.add_argument("--out", default="nve_botan_out", help="work directory (re-run to resume)")
    args = ap.parse_args()
    model_path = MODELS / "ka_botan.glassfix"
    spec = NVESpec(data=str(MODELS / "ka_start.data"), model=str(model_path), T=0.45, steps=args.steps, frame_every=args.steps // 2, thermo_every=args.steps // 4)
    res = run(spec, args.out, nprocs=args.np)
    pred = read_series(Path(args.out) / "predictions.csv")
    print(f"{res.protocol}: mean propensity at {pred['step'].size} evaluations: "
          f"first {pred['propensity_mean'][0]:.4f}, last {pred['propensity_mean'][-1]:.4f}")
    # the per-atom values of the last saved frame equal the model evaluated offline on that frame
    frame, labels, _ = load_frame_npz(sorted((Path(args.out) / "frames").glob("md_*.npz"))[-1])
    offline = load_model(model_path).predict(frame)[:, 0]
    ok = ~np.isnan(offline)
    print(f"frame at step {frame.step}: max |on the fly - offline| = "
          f"{np.abs(labels['predict/propensity'][ok] - offline[ok]).max():.2e} over {ok.sum()} atoms")


if __name__ == "__main__":
    main()
