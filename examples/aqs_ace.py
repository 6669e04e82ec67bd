"""AQS shear with the ACE activity classifier evaluated on every minimum.

    python examples/aqs_ace.py [--np 2] [--steps 20] [--out aqs_ace_out]

Athermal quasistatic simple shear (δγ = 1e-4) of the shipped glass; P(active) of every atom on every
minimum (predictions.csv, labels predict/activity on the saved minima, next to their forward D²min).

The same run from the command line:

    glassfix run aqs --data examples/models/ka_start.data --model examples/models/ka_ace.glassfix \\
        --np 2 --out aqs_ace_out --dgamma 1e-4 --prestrain 0 --strain 0.002 --save-every 5

and as a plain LAMMPS input: lammps_inputs/aqs_ace.lmp (its header has the command).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from glassfix.models import load_model
from glassfix.protocols import AQSSpec, load_frame_npz, read_series, run

MODELS = Path(__file__).resolve().parent / "models"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--np", type=int, default=2, help="MPI ranks")
    ap.add_argument("--steps", type=int, default=20, help="AQS steps")
    ap.add_argument("--out", default="aqs_ace_out", help="work directory (re-run to resume)")
    args = ap.parse_args()
    model_path = MODELS / "ka_ace.glassfix"
    spec = AQSSpec(data=str(MODELS / "ka_start.data"), model=str(model_path), dgamma=1e-4, prestrain=0.0, strain=args.steps * 1e-4, save_every=5)
    res = run(spec, args.out, nprocs=args.np)
    pred = read_series(Path(args.out) / "predictions.csv")
    print(f"{res.protocol}: mean activity at {pred['step'].size} evaluations: "
          f"first {pred['activity_mean'][0]:.4f}, last {pred['activity_mean'][-1]:.4f}")
    # the per-atom values of the last saved frame equal the model evaluated offline on that frame
    frame, labels, _ = load_frame_npz(sorted((Path(args.out) / "frames").glob("aqs_*.npz"))[-1])
    offline = load_model(model_path).predict(frame)[:, 0]
    ok = ~np.isnan(offline)
    print(f"frame at step {frame.step}: max |on the fly - offline| = "
          f"{np.abs(labels['predict/activity'][ok] - offline[ok]).max():.2e} over {ok.sum()} atoms")


if __name__ == "__main__":
    main()
