"""``glassfix predict``: evaluate a model on one frame offline (the fix's values; engine units)."""

from __future__ import annotations

import argparse
from pathlib import Path


def _cmd_predict(args: argparse.Namespace) -> int:
    import numpy as np

    from glassfix.models import load_model
    from glassfix.models.io import ModelFileError

    try:
        model = load_model(args.model)
    except (ModelFileError, FileNotFoundError) as exc:
        raise SystemExit(f"error: {exc}") from None
    if args.temperature is not None or args.targets is not None:
        if not hasattr(model, "set_state"):
            raise SystemExit(f"error: --temperature/--targets apply to state-point models (tglassmlp); "
                             f"{args.model} is a {model.kind} model")
        try:
            targets = None if args.targets is None else [float(x) for x in args.targets.split(",")]
            model.set_state(temperature=args.temperature, targets=targets)
        except ValueError as exc:
            raise SystemExit(f"error: --temperature/--targets: {exc}") from None
    from glassfix.data.lammps_io import read_frame

    try:
        frame = read_frame(args.frame, args.format, args.step, args.dim).sorted_by_id()
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    frame.check_finite()
    ntypes = int(args.ntypes) if args.ntypes else int(frame.types.max()) + 1
    from glassfix.models.species import species_map

    try:
        tmap = species_map(list(model.species), ntypes, args.types, f"'{args.model}'")
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    frame.types = tmap[frame.types]
    from glassfix.models.device import place_model

    try:
        place_model(model, args.device, "glassfix predict --device")
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    pred = np.asarray(model.predict(frame), dtype=np.float64)
    if pred.ndim == 2 and pred.shape[1] == 1:
        pred = pred[:, 0]
    out = Path(args.out)
    tmp = out.with_name(out.name + ".tmp.npy")
    np.save(tmp, pred)
    tmp.replace(out)
    if args.ids_out:
        np.save(args.ids_out, frame.ids)
    print(f"wrote {out}: {pred.shape} ({', '.join(model.output_names)}) for {frame.n_atoms} atoms "
          f"ordered by atom id")
    return 0


def add_arguments(sub: argparse._SubParsersAction) -> None:
    """Register ``glassfix predict`` on the sub-command parser."""
    pr = sub.add_parser("predict", help="evaluate a model on one frame offline (same values as the fix)")
    pr.add_argument("--model", required=True, help="*.glassfix model file")
    pr.add_argument("--frame", required=True, help="LAMMPS data file or dump file")
    pr.add_argument("--format", choices=["auto", "data", "dump"], default="auto")
    pr.add_argument("--step", type=int, default=None, help="timestep to take from a dump (default: last)")
    pr.add_argument("--types", nargs="+", default=None,
                    help="model species name of each LAMMPS type (as the fix's 'types' keyword)")
    pr.add_argument("--ntypes", type=int, default=None, help="number of LAMMPS atom types (default: from file)")
    pr.add_argument("--dim", type=int, choices=[2, 3], default=None,
                    help="dimension of the frame (default: from the file: 2 when every atom has z = 0 inside a z "
                         "slab around 0, as a LAMMPS 'dimension 2' run writes it, else 3)")
    pr.add_argument("--out", required=True, help="output .npy: (N,) or (N, n_outputs), rows by atom id")
    pr.add_argument("--ids-out", default=None, help="also save the atom ids (rows of --out) to this .npy")
    pr.add_argument("--temperature", type=float, default=None, help="tglassmlp: temperature of the prediction "
                    "(ε/k_B; default: the one stored in the model)")
    pr.add_argument("--targets", default=None, help="tglassmlp: comma-separated C = <C_B(t)> values to predict "
                    "(default: the model's grid); one output column cb_<C> each")
    pr.add_argument("--device", default="auto", help="torch models: auto (a CUDA GPU when visible, else the "
                    "CPU), cpu or cuda (an error without a GPU), as the fix's 'device' keyword")
    pr.set_defaults(func=_cmd_predict)
