"""Import external data into a :class:`~glassfix.data.store.DatasetStore`, and export frames back out.

* BOTAN / GlassBench isoconfigurational ``.npz`` files (``types`` (N,), ``initial_positions`` (N, 3) wrapped
  into [0, L), ``positions`` (R, N, 3) unwrapped replica positions at one time; see
  ``shared/data/README.md``): one frame per file, the replicas under ``replicas/<time label>`` and, by
  default, the propensity label ``propensity/<time label>`` = replica mean of |r_i(t) − r_i(0)|.
* LAMMPS ``dump custom`` files: one frame per snapshot; per-atom ``f_*`` / ``c_*`` columns (fix and
  compute outputs such as ``f_phop`` or ``c_d2min``) become labels of the same name.

Every importer is resumable: frames whose key is already stored are skipped. Units are those of the
source (LJ reduced units for the model glass formers).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..core.atomic import atomic_savez
from ..core.frame import Frame
from .names import default_key
from .store import DatasetError, DatasetStore

__all__ = ["import_botan_npz", "import_lammps_dump", "botan_config_id", "export_npz", "export_dump"]

_BOTAN_NAME = re.compile(r"N(?P<n>\d+)T(?P<T>[0-9.]+?)_(?P<config>\d+)_tc(?P<tc>\d+)")
# N = 4096 at number density 1.2 exactly: (4096/1.2)^(1/3) = 15.0565765…; the data README prints it
# rounded to 15.05658, but the BOTAN reference edge vectors were computed with the exact value.
KA3D_BOX_LENGTH = (4096 / 1.2) ** (1.0 / 3.0)


def botan_config_id(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse ``isoconfig_N4096T0.44_1_tc07.npz`` -> ``{"n": 4096, "T": 0.44, "config": "1", "tc": "07"}``
    (empty dict when the name does not follow that pattern)."""
    m = _BOTAN_NAME.search(Path(path).name)
    if not m:
        return {}
    return {"n": int(m["n"]), "T": float(m["T"]), "config": m["config"], "tc": m["tc"]}


def import_botan_npz(store: DatasetStore, npz_path: str | os.PathLike[str], box_length: float = KA3D_BOX_LENGTH,
                     temperature: float | None = None, time_label: str = "t=4120", *, system: str = "ka3d",
                     group: str | None = None, key: str | None = None, propensity: bool = True) -> str:
    """Import one BOTAN/GlassBench isoconfigurational ``.npz`` as one frame; returns its key.

    The frame has ``positions = initial_positions`` (float64, as stored), ``types`` (0 = A, 1 = B), ids
    1..N, a cubic periodic box of side ``box_length`` with origin 0, step 0. ``positions`` (R, N, 3) go to
    ``replicas/<time_label>`` unchanged (dtype kept). ``group`` (for grouped splits) defaults to
    ``"config<k>"`` with k the configuration number in the file name (``isoconfig_N4096T0.44_<k>_tc07``),
    ``temperature`` to the ``T`` in the name, ``key`` to ``f"{system}/T{T}/{group}"``. With
    ``propensity=True`` the label ``propensity/<time_label>`` (replica mean of |Δr|, length units) is added.
    """
    npz_path = Path(npz_path)
    parsed = botan_config_id(npz_path)
    with np.load(npz_path, allow_pickle=False) as data:
        missing = {"types", "initial_positions", "positions"} - set(data.files)
        if missing:
            raise DatasetError(f"{npz_path}: not a BOTAN isoconfigurational file (missing {sorted(missing)}; "
                               f"has {sorted(data.files)})")
        types = data["types"]
        initial = data["initial_positions"]
        replicas = data["positions"]
    n = initial.shape[0]
    if initial.ndim != 2 or replicas.ndim != 3 or replicas.shape[1:] != initial.shape or types.shape != (n,):
        raise DatasetError(f"{npz_path}: inconsistent shapes types {types.shape}, initial_positions "
                           f"{initial.shape}, positions {replicas.shape}")
    d = initial.shape[1]
    if temperature is None:
        temperature = parsed.get("T")
    if group is None:
        group = f"config{parsed['config']}" if parsed else npz_path.stem
    if key is None:
        key = f"{system}/T{temperature}/{group}" if temperature is not None else f"{system}/{group}"
    if store.has_frame(key):
        return key
    meta: dict[str, Any] = {"source": npz_path.name, "format": "botan-npz", "box_length": float(box_length),
                            "types_dtype": str(types.dtype)}
    if parsed:
        meta.update({"tc": parsed["tc"], "config": parsed["config"]})
    frame = Frame(positions=initial, types=types.astype(np.int64), cell=np.eye(d) * float(box_length),
                  origin=np.zeros(d), species=("A", "B") if types.max() <= 1 else None, step=0, metadata=meta)
    labels = {}
    if propensity:
        from ..labels.propensity import propensity as _propensity

        labels[f"propensity/{time_label}"] = (np.asarray(_propensity(initial, replicas, kind="abs"), np.float64),
                                              {"replicas": int(replicas.shape[0]), "quantity": "mean |dr|",
                                               "recorded_step": 0, "step_offset": 0, "describes_step": 0})
    return store.add_frame(frame, key=key, group=group, system=system, temperature=temperature,
                           labels=labels, replicas={time_label: replicas})


def import_lammps_dump(store: DatasetStore, dump_path: str | os.PathLike[str], *, system: str, group: str,
                       temperature: float | None = None, dim: int | None = None,
                       label_prefixes: Sequence[str] = ("f_", "c_"), steps=None) -> list[str]:
    """Import every snapshot of a LAMMPS ``dump custom`` file; returns the keys (``system/group/step``).

    Columns whose name starts with one of ``label_prefixes`` become per-atom labels of that name (e.g.
    ``f_phop``, ``c_d2min[1]``); other extra columns stay in ``metadata["columns"]``. Snapshots already
    stored (same key) are skipped, so an interrupted import can be rerun.
    """
    from .lammps_io import read_dump

    keys = []
    for frame in read_dump(dump_path, dim=dim, steps=steps):
        key = default_key(system, group, frame.step)
        keys.append(key)
        if store.has_frame(key):
            continue
        columns = dict(frame.metadata.get("columns", {}))
        labels = {}
        for name in list(columns):
            if name.startswith(tuple(label_prefixes)) and np.asarray(columns[name]).dtype.kind in "fiu":
                labels[name] = (np.asarray(columns.pop(name), np.float64), {"source": "lammps dump column"})
        frame.metadata["columns"] = columns
        frame.metadata["source"] = Path(dump_path).name
        store.add_frame(frame, key=key, group=group, system=system, temperature=temperature, labels=labels)
    return keys


def export_npz(store: DatasetStore, key: str, out: str | os.PathLike[str], time_label: str | None = None) -> Path:
    """Write one stored frame as a BOTAN-style ``.npz``: ``types`` (int8 when it fits), ``initial_positions``,
    ``positions`` (the replicas at ``time_label``, default the only/first set, if any), plus ``ids``, ``cell``,
    ``origin``, ``step`` and every label as ``label:<name>``. Written atomically."""
    frame = store.frame(key)
    arrays: dict[str, np.ndarray] = {}
    types = frame.types
    arrays["types"] = types.astype(np.int8) if (types.size == 0 or types.max() < 127) else types
    arrays["initial_positions"] = frame.positions
    reps = store.replicas(key)
    if reps:
        if time_label is None:
            time_label = sorted(reps)[0]
        if time_label not in reps:
            raise KeyError(f"frame {key!r} has no replicas {time_label!r} (has {sorted(reps)})")
        arrays["positions"] = reps[time_label]
    arrays["ids"] = frame.ids
    arrays["cell"] = frame.cell
    arrays["origin"] = frame.origin
    arrays["step"] = np.int64(frame.step)
    for name, values in store.labels(key).items():
        arrays[f"label:{name}"] = values
    out = Path(out)
    atomic_savez(out, **arrays)
    return out


def export_dump(store: DatasetStore, key: str, out: str | os.PathLike[str]) -> Path:
    """Write one stored frame as a LAMMPS ``dump custom`` file with its labels as extra columns
    (``id type x y z <label>...``; label names with '/' are written with '/' replaced by ':')."""
    from .lammps_io import write_dump

    frame = store.frame(key)
    columns = ["id", "type", *("x", "y", "z")[: frame.dim]]
    extra = {}
    for name, values in store.labels(key).items():
        if values.ndim == 1:
            col = name.replace("/", ":")
            extra[col] = values
            columns.append(col)
    frame.metadata = {**frame.metadata, "columns": {**frame.metadata.get("columns", {}), **extra}}
    write_dump(frame, out, columns=columns)
    return Path(out)
