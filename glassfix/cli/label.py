"""``glassfix label KIND ...``: offline labels from LAMMPS dumps or isoconfigurational ``.npz`` files.

Kinds (lengths in the engine's units, times in frames of the input trajectory):

- ``phop``: Candelier p_hop on the unwrapped positions of a dump trajectory -> (T, N) by atom id;
- ``d2min``: Falk–Langer D²min between frames ``lag`` apart, neighbours within ``rcut`` at the earlier one;
- ``propensity``: replica mean of |Δr| (or |Δr|²) of an isoconfigurational ``.npz`` (BOTAN layout);
- ``pair-targets``: BOTAN pair targets (mean change of distance of pairs closer than ``r_edge``).

Results go to ``--out X.npy`` (written atomically) and/or, with ``--store S.h5``, into a dataset store.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from glassfix.core.atomic import atomic_save


def _save(out: str | None, arr: np.ndarray) -> None:
    if out is None:
        return
    path = Path(out)
    atomic_save(path, arr)
    print(f"wrote {path}: {arr.shape}")


def _dump_traj(path: str):
    from glassfix.data.lammps_io import read_dump_frames

    frames = read_dump_frames(path)
    if not frames:
        raise SystemExit(f"error: no frames in {path}")
    if any(f.unwrapped is None for f in frames):
        raise SystemExit(f"error: {path} has no unwrapped positions (dump xu yu zu, or x y z with ix iy iz)")
    ids = frames[0].ids
    for f in frames:
        if not np.array_equal(f.ids, ids):
            raise SystemExit(f"error: frames of {path} do not hold the same atoms (step {f.step})")
    return frames


def _cmd_phop(args: argparse.Namespace) -> int:
    from glassfix.labels.phop import phop

    frames = _dump_traj(args.traj)
    values = phop(np.stack([f.unwrapped for f in frames]), args.window)
    _save(args.out, values)
    if args.store:
        # offline p_hop(t) is centred on frame t: it describes the frame it is stored on
        _to_store(args, frames, {f"phop/window={args.window}": values}, offsets={})
    return 0


def _cmd_d2min(args: argparse.Namespace) -> int:
    from glassfix.core.frame import Frame
    from glassfix.labels.d2min import d2min

    frames = _dump_traj(args.traj)
    T, N = len(frames), frames[0].n_atoms
    values = np.full((T, N), np.nan)
    for k in range(args.lag, T):
        f0 = frames[k - args.lag]
        ref = Frame(positions=f0.unwrapped, types=f0.types, cell=f0.cell, origin=f0.origin, pbc=f0.pbc,
                    ids=f0.ids)
        values[k], _ = d2min(ref, frames[k].unwrapped, args.rcut, normalize=args.normalize,
                             cell1=frames[k].cell)
    _save(args.out, values)
    if args.store:
        # D²min stored on frame k compares it with frame k − lag and describes that reference frame
        name = f"d2min/lag={args.lag},rcut={args.rcut},normalize={args.normalize}"
        offsets = {k: frames[k - args.lag].step - frames[k].step for k in range(args.lag, T)}
        _to_store(args, frames, {name: values}, offsets={name: offsets})
    return 0


def _load_iso(path: str):
    d = np.load(path, allow_pickle=False)
    for key in ("types", "initial_positions", "positions"):
        if key not in d:
            raise SystemExit(f"error: {path} lacks '{key}' (expected the BOTAN/GlassBench npz layout)")
    return d["types"].astype(np.int64), d["initial_positions"], d["positions"]


def _cmd_propensity(args: argparse.Namespace) -> int:
    from glassfix.labels.propensity import propensity

    _, initial, replicas = _load_iso(args.npz)
    values = propensity(initial, replicas, kind=args.kind)
    _save(args.out, values)
    return 0


def _cmd_pairs(args: argparse.Namespace) -> int:
    from glassfix.core.frame import Frame
    from glassfix.labels.bonds import pair_targets

    types, initial, replicas = _load_iso(args.npz)
    frame = Frame(positions=initial, types=types, cell=np.eye(3) * args.box)
    try:
        edges, target = pair_targets(frame, replicas, r_edge=args.r_edge, form=args.form)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    _save(args.out, target)
    if args.edges_out:
        _save(args.edges_out, edges)
    return 0


def _to_store(args: argparse.Namespace, frames, labels: dict[str, np.ndarray],
              offsets: dict[str, dict[int, int]]) -> None:
    """Frames + labels into the store; ``offsets[name][k]``: MD steps from frame k to the frame its label
    describes (0 when absent), stored as label metadata (glassfix.data.labels_meta)."""
    from glassfix.data.labels_meta import offset_attrs
    from glassfix.data.store import DatasetStore

    with DatasetStore(args.store, mode="a") as ds:
        for k, f in enumerate(frames):
            key = f"{args.system}/{args.group}/{f.step:012d}"
            ds.add_frame(f, key=key, group=args.group, system=args.system)
            ds.add_labels(key, {name: (v[k], offset_attrs(f.step, offsets.get(name, {}).get(k, 0)))
                                for name, v in labels.items()})
    print(f"stored {len(frames)} frames with {', '.join(labels)} in {args.store}")


def add_arguments(subparsers: argparse._SubParsersAction) -> None:
    """Register ``glassfix label`` and its kinds on the ``glassfix`` sub-command parser."""
    parser = subparsers.add_parser("label", help="offline labels: phop, d2min, propensity, pair-targets")
    sub = parser.add_subparsers(dest="label_kind", required=True)

    def common_traj(p):
        p.add_argument("traj", help="LAMMPS dump with unwrapped positions (xu yu zu), equally spaced frames")
        p.add_argument("--out", help="output .npy, (frames, atoms) ordered by atom id; NaN where undefined")
        p.add_argument("--store", help="also append frames + labels to this dataset store (HDF5)")
        p.add_argument("--system", default="lammps", help="system name for store keys")
        p.add_argument("--group", default="run", help="configuration/run id for grouped splits")

    p = sub.add_parser("phop", help="Candelier p_hop (length^2)")
    common_traj(p)
    p.add_argument("--window", type=int, default=10, help="t_R in frames (halves of window//2 frames)")
    p.set_defaults(func=_cmd_phop)

    p = sub.add_parser("d2min", help="Falk-Langer D2min (length^2)")
    common_traj(p)
    p.add_argument("--lag", type=int, default=1, help="lag in frames")
    p.add_argument("--rcut", type=float, default=2.5, help="neighbour cutoff at the earlier frame (length)")
    p.add_argument("--normalize", choices=["sum", "mean"], default="sum", help="sum over neighbours or 1/z")
    p.set_defaults(func=_cmd_d2min)

    def common_iso(p):
        p.add_argument("npz", help="isoconfigurational .npz: types, initial_positions, positions (R, N, 3), "
                                   "replica positions unwrapped from initial_positions")
        p.add_argument("--out", required=True, help="output .npy")

    # propensity needs no box: the replica positions are unwrapped, Δr = r(t) − r(0) directly
    p = sub.add_parser("propensity", help="replica mean of |dr| (length) or |dr|^2 (length^2)",
                       description="Isoconfigurational propensity from unwrapped replica positions (no box "
                                   "needed): the replica mean of |r_i(t) - r_i(0)| (--kind abs, length) or of "
                                   "its square (--kind sq, length^2).")
    common_iso(p)
    p.add_argument("--kind", choices=["abs", "sq"], default="abs", help="abs: |dr|; sq: |dr|^2 [default: abs]")
    p.set_defaults(func=_cmd_propensity)

    p = sub.add_parser("pair-targets", help="BOTAN pair targets (length)",
                       description="BOTAN pair targets E_ij = replica mean of |r_ij(t)| - |r_ij(0)| for the pairs "
                                   "closer than --r-edge at t = 0 (lengths in the file's unit).")
    common_iso(p)
    p.add_argument("--box", type=float, default=(4096 / 1.2) ** (1 / 3),
                   help="cubic box length (length) [default: 15.0566, KA N=4096 at density 1.2]")
    p.add_argument("--r-edge", type=float, default=2.0, help="pair cutoff at t = 0 (length) [default: 2.0]")
    p.add_argument("--form", choices=["minimum_image", "robust"], default="minimum_image",
                   help="pair separation at time t: minimum_image (default) = minimum image of r_j(t) - r_i(t), "
                        "what `glassfix train botan` and the BOTAN reference use; robust = the t = 0 image "
                        "followed continuously, which stays right for pairs separating by more than half the "
                        "box (it differs from the trainer's labels only for such pairs)")
    p.add_argument("--edges-out", help="also save edge_index (2, E)")
    p.set_defaults(func=_cmd_pairs)


def main(args: argparse.Namespace) -> int:
    """Run the chosen ``label`` sub-command."""
    return int(args.func(args) or 0)
