"""Creep with on-the-fly looseness (Wu & Ruiz Pestana 2023) on the minimised snapshots.

    python examples/creep_looseness.py [--np 2] [--steps 2000] [--out creep_looseness_out]

Looseness uses Voronoi neighbours (receptive field inf): the protocol gathers the atoms to rank 0
(mode gather, chosen from the model) and the fix evaluates them with glassfix' own Voronoi backend.

The same run from the command line:

    glassfix run creep --data examples/models/ka_start.data --model examples/models/ka_looseness.glassfix \\
        --np 2 --out creep_looseness_out --steps 2000 --snapshot-every 1000 --every 1000

and as a plain LAMMPS input: lammps_inputs/creep_looseness.lmp (its header has the command).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from glassfix.models import load_model
from glassfix.protocols import CreepSpec, load_frame_npz, read_series, run

MODELS = Path(__file__).resolve().parent / "models"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--np", type=int, default=2, help="MPI ranks")
    ap.add_argument("--steps", type=int, default=2000, help="MD steps under load")
    ap.add_argument("--out", default="creep_looseness_out", help="work directory (re-run to resume)")
    args = ap.parse_args()
    model_path = MODELS / "ka_looseness.glassfix"
    spec = CreepSpec(data=str(MODELS / "ka_start.data"), model=str(model_path), steps=args.steps, snapshot_every=args.steps // 2, thermo_every=100,
                  predict_every=args.steps // 2, min_ftol=1e-6, stress_tol=1e-3, max_min_rounds=2)
    res = run(spec, args.out, nprocs=args.np)
    pred = read_series(Path(args.out) / "snapshot_predictions.csv")
    print(f"{res.protocol}: mean looseness at {pred['step'].size} evaluations: "
          f"first {pred['looseness_mean'][0]:.4f}, last {pred['looseness_mean'][-1]:.4f}")
    # the per-atom values of the last saved frame equal the model evaluated offline on that frame
    frame, labels, _ = load_frame_npz(sorted((Path(args.out) / "frames").glob("creep_min_*.npz"))[-1])
    offline = load_model(model_path).predict(frame)[:, 0]
    ok = ~np.isnan(offline)
    print(f"frame at step {frame.step}: max |on the fly - offline| = "
          f"{np.abs(labels['predict/looseness'][ok] - offline[ok]).max():.2e} over {ok.sum()} atoms")


if __name__ == "__main__":
    main()
