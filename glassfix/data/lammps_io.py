"""Read and write LAMMPS data files and ``dump custom`` text files as :class:`~glassfix.core.Frame` objects.

Lengths, velocities and masses are in the LAMMPS units of the run (LJ reduced units for the model
glass formers). LAMMPS types 1..ntypes become 0-based ``Frame.types``; atom ids are kept in ``Frame.ids``
and frames are returned sorted by id so that atoms match across files, ranks and engines.
"""

from __future__ import annotations

import io
import itertools
import os
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TextIO

import numpy as np

from ..core.atomic import atomic_write_text
from ..core.cell import cell_to_lammps_box, lammps_box_to_cell, to_fractional
from ..core.frame import Frame

__all__ = ["read_data", "write_data", "read_dump", "read_dump_frames", "write_dump", "parse_dump_box", "build_dump_frame",
           "read_frame"]

# Data-file atom styles: (number of columns without image flags, column of id, type, x).
_ATOM_STYLES: dict[str, tuple[int, int, int, int]] = {
    "atomic": (5, 0, 1, 2),
    "charge": (6, 0, 1, 3),
    "molecular": (6, 0, 2, 3),
    "bond": (6, 0, 2, 3),
    "angle": (6, 0, 2, 3),
    "full": (7, 0, 2, 4),
    "sphere": (7, 0, 1, 4),
}

_FLOAT = "%.17g"  # shortest format that round-trips every float64


# ----------------------------------------------------------------------------------------------------
# shared helpers
# ----------------------------------------------------------------------------------------------------


def _parse_table(lines: Sequence[str], ncol: int | None = None) -> np.ndarray:
    """Whitespace-separated numeric rows -> (len(lines), ncol) float64 array, parsed in C."""
    text = "".join(lines)
    if "#" in text:
        text = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    with warnings.catch_warnings():
        # fromstring warns (and stops) at the first non-numeric token; the size check below reports it.
        warnings.simplefilter("ignore", DeprecationWarning)
        flat = np.fromstring(text, dtype=np.float64, sep=" ")
    nrow = len(lines)
    if ncol is None:
        ncol = flat.size // nrow if nrow else 0
    if flat.size != nrow * ncol:
        raise ValueError(f"expected {nrow} rows of {ncol} numbers, could not parse them as such")
    return flat.reshape(nrow, ncol)


def _format_rows(table: np.ndarray, int_cols: Sequence[bool]) -> str:
    """Rows of a float table as text: integer columns as %d, the rest at full precision."""
    buf = io.StringIO()
    if table.shape[0]:
        np.savetxt(buf, table, fmt=["%d" if is_int else _FLOAT for is_int in int_cols])
    return buf.getvalue()


def _sorted(order: np.ndarray, a: np.ndarray | None) -> np.ndarray | None:
    return None if a is None else a[order]


# ----------------------------------------------------------------------------------------------------
# data files
# ----------------------------------------------------------------------------------------------------


def read_data(
    path: str | os.PathLike[str],
    species: Sequence[str] | None = None,
    atom_style: str | None = None,
    dim: int | None = 3,
) -> Frame:
    """Read a LAMMPS data file (atomic, charge, molecular/bond/angle, full, sphere styles) as a Frame.

    The atom style comes from ``atom_style``, else the ``Atoms # style`` hint, else the column count
    (5 or 8 columns: atomic). Image flags, if present, also fill ``unwrapped``. ``dim=2`` drops z;
    ``dim=None`` takes it from the file (2 when every atom sits at z = 0 inside a z slab around 0, as
    LAMMPS ``dimension 2`` writes it, else 3).
    Masses go to ``metadata["masses"]`` (indexed by 0-based type, NaN where absent); molecule ids and
    charges to ``metadata["molecules"]``/``["charges"]``. Species default to the ``Atom Type Labels``.
    """
    if dim not in (2, 3, None):
        raise ValueError(f"dim must be 2 or 3 (or None: from the file), got {dim}")
    with open(path) as fh:
        lines = fh.readlines()
    header: dict[str, list[float]] = {}
    sections: dict[str, tuple[str, list[str]]] = {}
    current: list[str] | None = None
    step = 0
    m = re.search(r"timestep\s*=\s*(\d+)", lines[0]) if lines else None
    if m:
        step = int(m.group(1))
    for raw in lines[1:]:  # the first line is always a title/comment
        body = raw.split("#", 1)[0].strip()
        if not body:
            continue
        if body[0].isalpha():
            # A section title such as "Atoms # atomic" or "Pair Coeffs # lj/cut".
            title = body
            hint = raw.split("#", 1)[1].strip() if "#" in raw else ""
            current = []
            sections[title] = (hint, current)
        elif current is not None:
            current.append(raw)
        else:
            tokens = body.split()
            nums = [t for t in tokens if not t[0].isalpha()]
            key = " ".join(tokens[len(nums):])
            header[key] = [float(t) for t in nums]

    if "atoms" not in header:
        raise ValueError(f"{path}: no 'atoms' count in the header")
    n = int(header["atoms"][0])
    if "Atoms" not in sections:
        if n == 0:
            sections["Atoms"] = ("", [])
        else:
            raise ValueError(f"{path}: no Atoms section")
    hint, atom_lines = sections["Atoms"]
    if len(atom_lines) != n:
        raise ValueError(f"{path}: header says {n} atoms, Atoms section has {len(atom_lines)} lines")
    style = atom_style or (hint.split()[0] if hint else "")
    table = _parse_table(atom_lines) if n else np.zeros((0, 5))
    ncol = table.shape[1]
    if not style:
        if ncol in (5, 8):
            style = "atomic"
        else:
            raise ValueError(f"{path}: Atoms section has {ncol} columns and no style hint; pass atom_style=")
    if style not in _ATOM_STYLES:
        raise ValueError(f"{path}: unsupported atom style {style!r} (supported: {sorted(_ATOM_STYLES)})")
    base, c_id, c_type, c_x = _ATOM_STYLES[style]
    if n and ncol not in (base, base + 3):
        raise ValueError(f"{path}: atom style {style!r} needs {base} or {base + 3} columns, found {ncol}")

    # Box: general triclinic (LAMMPS >= 2024) gives the box vectors directly; else restricted triclinic.
    if "avec" in header:
        cell = np.array([header["avec"], header["bvec"], header["cvec"]], dtype=np.float64)
        origin = np.array(header["abc origin"], dtype=np.float64)
    else:
        lo = [header.get(k, [-0.5, 0.5])[0] for k in ("xlo xhi", "ylo yhi", "zlo zhi")]
        hi = [header.get(k, [-0.5, 0.5])[1] for k in ("xlo xhi", "ylo yhi", "zlo zhi")]
        xy, xz, yz = header.get("xy xz yz", [0.0, 0.0, 0.0])
        cell, origin = lammps_box_to_cell(lo, hi, xy, xz, yz)
    if dim is None:
        zcol = c_x + 2
        dim = 2 if (n >= 2 and origin[2] < 0.0 < origin[2] + cell[2, 2] and not cell[2, :2].any()
                    and np.all(table[:, zcol] == 0.0)) else 3
    cell, origin = cell[:dim, :dim].copy(), origin[:dim].copy()

    ids = table[:, c_id].astype(np.int64)
    types = table[:, c_type].astype(np.int64) - 1
    positions = table[:, c_x:c_x + dim]
    unwrapped = None
    if n and ncol == base + 3:
        images = table[:, base:base + dim]
        unwrapped = positions + images @ cell
    metadata: dict[str, Any] = {"atom_style": style}
    if style in ("molecular", "bond", "angle", "full"):
        metadata["molecules"] = table[:, 1].astype(np.int64)
    if style in ("charge", "full"):
        metadata["charges"] = table[:, c_x - 1].copy()

    ntypes = int(header.get("atom types", [0])[0])
    if "Masses" in sections:
        mass_table = _parse_table(sections["Masses"][1], 2)
        masses = np.full(max(ntypes, int(mass_table[:, 0].max())), np.nan)
        masses[mass_table[:, 0].astype(np.int64) - 1] = mass_table[:, 1]
        metadata["masses"] = masses
    if species is None and "Atom Type Labels" in sections:
        labels = dict(line.split()[:2] for line in sections["Atom Type Labels"][1])
        species = tuple(labels.get(str(t), str(t)) for t in range(1, max(ntypes, len(labels)) + 1))

    velocities = None
    if "Velocities" in sections and n:
        vel = _parse_table(sections["Velocities"][1])
        # Velocities are listed by id, not necessarily in Atoms order.
        by_id = np.argsort(vel[:, 0].astype(np.int64), kind="stable")
        vel_ids = vel[by_id, 0].astype(np.int64)
        where = np.searchsorted(vel_ids, ids)
        if (where >= len(vel_ids)).any() or (vel_ids[np.minimum(where, len(vel_ids) - 1)] != ids).any():
            raise ValueError(f"{path}: Velocities section does not list every atom id")
        velocities = vel[by_id][where, 1:1 + dim]

    order = np.argsort(ids, kind="stable")
    for key in ("molecules", "charges"):
        if key in metadata:
            metadata[key] = metadata[key][order]
    return Frame(
        positions=positions[order], types=types[order], cell=cell, origin=origin, ids=ids[order],
        species=tuple(species) if species is not None else None, unwrapped=_sorted(order, unwrapped),
        velocities=_sorted(order, velocities), step=step, metadata=metadata,
    )


def write_data(
    frame: Frame,
    path: str | os.PathLike[str],
    masses: Sequence[float] | Mapping[int, float] | np.ndarray | None = None,
) -> None:
    """Write ``frame`` as an atomic-style LAMMPS data file (full precision, image flags 0), atomically.

    ``masses`` are per 0-based type (sequence or {type: mass}); default ``frame.metadata["masses"]``.
    Positions are written as they are (LAMMPS remaps atoms outside periodic bounds on read). A 2D frame
    gets ``zlo zhi = -0.5 0.5`` and z = 0. ``frame.species``, if set, become ``Atom Type Labels``.
    """
    d = frame.dim
    cell3 = np.eye(3)
    cell3[:d, :d] = frame.cell
    origin3 = np.array([0.0, 0.0, -0.5])
    origin3[:d] = frame.origin
    box = cell_to_lammps_box(cell3, origin3)  # raises for cells LAMMPS cannot represent

    if masses is None:
        masses = frame.metadata.get("masses")
    if isinstance(masses, Mapping):
        mass_items = sorted((int(t), float(m)) for t, m in masses.items())
    elif masses is not None:
        mass_items = [(t, float(m)) for t, m in enumerate(np.asarray(masses, dtype=np.float64)) if np.isfinite(m)]
    else:
        mass_items = []
    ntypes = max(
        int(frame.types.max()) + 1 if frame.n_atoms else 1,
        len(frame.species) if frame.species else 0,
        max((t + 1 for t, _ in mass_items), default=0),
    )

    out = [f"LAMMPS data file written by glassfix, timestep = {int(frame.step)}\n\n",
           f"{frame.n_atoms} atoms\n{ntypes} atom types\n\n"]
    for a, name in enumerate(("x", "y", "z")):
        out.append(f"{_FLOAT % box['lo'][a]} {_FLOAT % box['hi'][a]} {name}lo {name}hi\n")
    if box["xy"] or box["xz"] or box["yz"]:
        out.append(f"{_FLOAT % box['xy']} {_FLOAT % box['xz']} {_FLOAT % box['yz']} xy xz yz\n")
    if frame.species:
        out.append("\nAtom Type Labels\n\n")
        out.extend(f"{t + 1} {name}\n" for t, name in enumerate(frame.species))
    if mass_items:
        out.append("\nMasses\n\n")
        out.extend(f"{t + 1} {_FLOAT % m}\n" for t, m in mass_items)

    pos3 = np.zeros((frame.n_atoms, 3))
    pos3[:, :d] = frame.positions
    table = np.column_stack([frame.ids, frame.types + 1, pos3, np.zeros((frame.n_atoms, 3))])
    out.append("\nAtoms # atomic\n\n")
    out.append(_format_rows(table, [True, True, False, False, False, True, True, True]))
    if frame.velocities is not None:
        vel3 = np.zeros((frame.n_atoms, 3))
        vel3[:, :d] = frame.velocities
        out.append("\nVelocities\n\n")
        out.append(_format_rows(np.column_stack([frame.ids, vel3]), [True, False, False, False]))
    atomic_write_text(path, "".join(out), durable=True)


# ----------------------------------------------------------------------------------------------------
# dump files
# ----------------------------------------------------------------------------------------------------

# Coordinate column families, in order of preference for Frame.positions.
_WRAPPED = ("x", "y", "z")
_SCALED = ("xs", "ys", "zs")
_UNWRAPPED = ("xu", "yu", "zu")
_SCALED_UNWRAPPED = ("xsu", "ysu", "zsu")
_IMAGES = ("ix", "iy", "iz")
_VELOCITIES = ("vx", "vy", "vz")
_KNOWN = {"id", "type", *_WRAPPED, *_SCALED, *_UNWRAPPED, *_SCALED_UNWRAPPED, *_IMAGES, *_VELOCITIES}
_INT_COLUMNS = {"id", "type", "mol", "proc", "procp1", *_IMAGES}


def parse_dump_box(header: str, rows: list[str]) -> tuple[np.ndarray, np.ndarray, float, float, float, list[str]]:
    """(lo, hi, xy, xz, yz, boundary flags) from an ``ITEM: BOX BOUNDS`` header and its three lines."""
    tokens = header.split()[2:]  # after "BOX BOUNDS"
    if tokens[:2] == ["abc", "origin"]:
        raise NotImplementedError("general-triclinic dumps (BOX BOUNDS abc origin) are not supported")
    triclinic = tokens[:3] == ["xy", "xz", "yz"]
    flags = tokens[3:] if triclinic else tokens
    vals = np.array([[float(v) for v in row.split()] for row in rows])
    lo, hi = vals[:, 0].copy(), vals[:, 1].copy()
    xy = xz = yz = 0.0
    if triclinic:
        xy, xz, yz = (float(v) for v in vals[:, 2])
        # Triclinic dumps store the bounding box of the tilted cell; undo it as the LAMMPS docs
        # ("Howto triclinic") prescribe to get the box parameters xlo, xhi, ylo, yhi.
        lo[0] -= min(0.0, xy, xz, xy + xz)
        hi[0] -= max(0.0, xy, xz, xy + xz)
        lo[1] -= min(0.0, yz)
        hi[1] -= max(0.0, yz)
    return lo, hi, xy, xz, yz, flags or ["pp", "pp", "pp"]


def _family(cols: dict[str, int], names: tuple[str, ...], d: int) -> list[int] | None:
    """Column indices of the first d names if all present, else None."""
    return [cols[c] for c in names[:d]] if all(c in cols for c in names[:d]) else None


def _planar_z(table: np.ndarray, cols: dict[str, int], lo: np.ndarray, hi: np.ndarray) -> bool:
    """Whether a dump with z columns comes from a 2D LAMMPS run: ``dimension 2`` keeps every atom at z = 0
    inside a z slab around 0 (LAMMPS writes z = 0, zs = −zlo/(zhi − zlo)); a 3D frame of two or more
    atoms never has all z exactly 0."""
    if table.shape[0] < 2 or not lo[2] < 0.0 < hi[2]:
        return False
    for name in ("z", "zu"):
        if name in cols:
            return bool(np.all(table[:, cols[name]] == 0.0))
    for name in ("zs", "zsu"):
        if name in cols:
            return bool(np.allclose(table[:, cols[name]], -lo[2] / (hi[2] - lo[2]), rtol=0.0, atol=1e-12))
    return False


def build_dump_frame(
    step: int, time: float | None, box: tuple, columns: list[str], lines: list[str], dim: int | None
) -> Frame:
    """One Frame from a parsed dump snapshot (atoms sorted by id)."""
    cols = {name: k for k, name in enumerate(columns)}
    n = len(lines)
    try:
        table = _parse_table(lines, len(columns))
        text_columns: dict[str, np.ndarray] = {}
    except ValueError:
        # Some column holds text (e.g. ``element``): split in Python and keep those columns as strings.
        raw = np.array([line.split() for line in lines], dtype=object).reshape(n, len(columns))
        table = np.zeros((n, len(columns)))
        text_columns = {}
        for name, k in cols.items():
            try:
                table[:, k] = raw[:, k].astype(np.float64)
            except ValueError:
                if name in _KNOWN:
                    raise ValueError(f"dump column {name!r} is not numeric") from None
                text_columns[name] = raw[:, k].astype(str)
    lo, hi, xy, xz, yz, flags = box
    d = dim or (3 if any(c in cols for c in ("z", "zs", "zu", "zsu")) and not _planar_z(table, cols, lo, hi)
                else 2)
    cell, origin = lammps_box_to_cell(lo[:d], hi[:d], xy, xz if d == 3 else 0.0, yz if d == 3 else 0.0)
    pbc = np.array([f == "pp" for f in flags[:d]])

    def cartesian(idx: list[int], scaled: bool) -> np.ndarray:
        vals = table[:, idx]
        return origin + vals @ cell if scaled else vals.copy()

    positions = unwrapped = None
    for names, scaled in ((_WRAPPED, False), (_SCALED, True), (_UNWRAPPED, False), (_SCALED_UNWRAPPED, True)):
        idx = _family(cols, names, d)
        if idx is not None:
            positions = cartesian(idx, scaled)
            break
    if positions is None:
        raise ValueError(f"dump has no complete set of coordinate columns for d={d}: {columns}")
    for names, scaled in ((_UNWRAPPED, False), (_SCALED_UNWRAPPED, True)):
        idx = _family(cols, names, d)
        if idx is not None:
            unwrapped = cartesian(idx, scaled)
            break
    images = _family(cols, _IMAGES, d)
    if unwrapped is None and images is not None:
        # No unwrapped columns, so positions came from x or xs: unwrap them with the image flags.
        unwrapped = positions + table[:, images] @ cell
    vidx = _family(cols, _VELOCITIES, d)
    velocities = table[:, vidx] if vidx is not None else None
    ids = table[:, cols["id"]].astype(np.int64) if "id" in cols else np.arange(1, n + 1, dtype=np.int64)
    types = table[:, cols["type"]].astype(np.int64) - 1 if "type" in cols else np.zeros(n, dtype=np.int64)

    order = np.argsort(ids, kind="stable")
    extras: dict[str, np.ndarray] = {}
    for name, k in cols.items():
        if name not in _KNOWN:
            extras[name] = (text_columns[name] if name in text_columns else table[:, k])[order]
    metadata = {"columns": extras, "boundary": tuple(flags), "dump_columns": tuple(columns)}
    return Frame(
        positions=positions[order], types=types[order], cell=cell, origin=origin, pbc=pbc, ids=ids[order],
        unwrapped=_sorted(order, unwrapped), velocities=_sorted(order, velocities), step=step,
        time=0.0 if time is None else time, metadata=metadata,
    )


def _take(fh: TextIO, k: int, path: Any) -> list[str]:
    lines = list(itertools.islice(fh, k))
    if len(lines) != k:
        raise ValueError(f"{path}: file ends in the middle of a snapshot")
    return lines


def read_dump(
    path: str | os.PathLike[str], dim: int | None = None, steps: Iterable[int] | None = None
) -> Iterator[Frame]:
    """Iterate over the snapshots of a LAMMPS ``dump custom`` text file as Frames sorted by id.

    Positions come from x/y/z, else xs (scaled), else xu, else xsu; ``unwrapped`` from xu, xsu, or
    positions + image flags; velocities from vx/vy/vz; any other column lands in
    ``metadata["columns"][name]`` (float, or str for text columns). ``dim`` (None) is taken from the file:
    2 without a z column or when every atom sits at z = 0 inside a z slab around 0 (what a LAMMPS
    ``dimension 2`` run dumps), else 3; pass ``dim`` to override. Only snapshots
    whose timestep is in ``steps`` are parsed when it is given.
    """
    wanted = None if steps is None else {int(s) for s in steps}
    with open(path) as fh:
        step, time, n, box = 0, None, None, None
        for line in fh:
            if not line.strip():
                continue
            if not line.startswith("ITEM:"):
                raise ValueError(f"{path}: expected an 'ITEM:' line, got {line[:60]!r}")
            item = line[5:].strip()
            if item.startswith("TIMESTEP"):
                step = int(_take(fh, 1, path)[0])
            elif item.startswith("TIME"):
                time = float(_take(fh, 1, path)[0])
            elif item.startswith("UNITS"):
                _take(fh, 1, path)
            elif item.startswith("NUMBER OF ATOMS"):
                n = int(_take(fh, 1, path)[0])
            elif item.startswith("BOX BOUNDS"):
                box = parse_dump_box(item, _take(fh, 3, path))
            elif item.startswith("ATOMS"):
                if n is None or box is None:
                    raise ValueError(f"{path}: ITEM: ATOMS before NUMBER OF ATOMS / BOX BOUNDS")
                columns = item.split()[1:]
                if wanted is not None and step not in wanted:
                    for _ in itertools.islice(fh, n):  # skip without parsing
                        pass
                else:
                    yield build_dump_frame(step, time, box, columns, _take(fh, n, path), dim)
                step, time, n, box = 0, None, None, None
            else:
                raise ValueError(f"{path}: unknown dump item {item!r}")


def read_dump_frames(
    path: str | os.PathLike[str], steps: Iterable[int] | None = None, dim: int | None = None
) -> list[Frame]:
    """All snapshots of a dump file (or only those whose timestep is in ``steps``) as a list of Frames."""
    return list(read_dump(path, dim=dim, steps=steps))


def _dump_column(frame: Frame, name: str) -> np.ndarray:
    """Values of one dump column for every atom of frame."""
    d = frame.dim

    def component(a: np.ndarray | None, axis: int, what: str) -> np.ndarray:
        if a is None:
            raise ValueError(f"column {name!r} needs frame.{what}, which is None")
        return a[:, axis] if axis < d else np.zeros(frame.n_atoms)

    if name == "id":
        return frame.ids
    if name == "type":
        return frame.types + 1
    for names, src in ((_WRAPPED, "positions"), (_UNWRAPPED, "unwrapped"), (_VELOCITIES, "velocities")):
        if name in names:
            return component(getattr(frame, src), names.index(name), src)
    if name in _SCALED or name in _SCALED_UNWRAPPED:
        src = "positions" if name in _SCALED else "unwrapped"
        axis = (_SCALED if name in _SCALED else _SCALED_UNWRAPPED).index(name)
        values = getattr(frame, src)
        if values is None:
            raise ValueError(f"column {name!r} needs frame.{src}, which is None")
        return component(to_fractional(values, frame.cell, frame.origin), axis, src)
    if name in _IMAGES:
        if frame.unwrapped is None:
            return np.zeros(frame.n_atoms, dtype=np.int64)
        images = np.rint(to_fractional(frame.unwrapped - frame.positions, frame.cell))
        return component(images, _IMAGES.index(name), "unwrapped")
    extra = frame.metadata.get("columns", {})
    if name in extra:
        return np.asarray(extra[name], dtype=np.float64)
    raise ValueError(f"unknown dump column {name!r} (not a standard column nor in metadata['columns'])")


def _dump_snapshot(frame: Frame, columns: Sequence[str]) -> str:
    """Text of one dump snapshot."""
    d = frame.dim
    cell3 = np.eye(3)
    cell3[:d, :d] = frame.cell
    origin3 = np.array([0.0, 0.0, -0.5])
    origin3[:d] = frame.origin
    box = cell_to_lammps_box(cell3, origin3)
    lo, hi = box["lo"], box["hi"]
    xy, xz, yz = box["xy"], box["xz"], box["yz"]
    flags = ["pp" if p else "ff" for p in frame.pbc] + ["pp"] * (3 - d)
    out = []
    if frame.time:
        out.append(f"ITEM: TIME\n{_FLOAT % frame.time}\n")
    out.append(f"ITEM: TIMESTEP\n{int(frame.step)}\nITEM: NUMBER OF ATOMS\n{frame.n_atoms}\n")
    if xy or xz or yz:
        # Triclinic dumps store the bounding box of the tilted cell plus the tilt factors.
        blo = [lo[0] + min(0.0, xy, xz, xy + xz), lo[1] + min(0.0, yz), lo[2]]
        bhi = [hi[0] + max(0.0, xy, xz, xy + xz), hi[1] + max(0.0, yz), hi[2]]
        out.append(f"ITEM: BOX BOUNDS xy xz yz {' '.join(flags)}\n")
        for a, tilt in enumerate((xy, xz, yz)):
            out.append(f"{_FLOAT % blo[a]} {_FLOAT % bhi[a]} {_FLOAT % tilt}\n")
    else:
        out.append(f"ITEM: BOX BOUNDS {' '.join(flags)}\n")
        for a in range(3):
            out.append(f"{_FLOAT % lo[a]} {_FLOAT % hi[a]}\n")
    out.append(f"ITEM: ATOMS {' '.join(columns)}\n")
    table = np.column_stack([_dump_column(frame, c) for c in columns]) if columns else np.zeros((frame.n_atoms, 0))
    out.append(_format_rows(table, [c in _INT_COLUMNS for c in columns]))
    return "".join(out)


def write_dump(
    frames: Frame | Iterable[Frame],
    path: str | os.PathLike[str],
    columns: Sequence[str] | None = None,
    append: bool = False,
) -> None:
    """Write frames as a ``dump custom`` text file at full precision (%.17g).

    ``columns`` default to ``id type x y z`` (``id type x y`` in 2D). Any standard column (x/xs/xu/xsu,
    ix, vx, ...) or a name in ``frame.metadata["columns"]`` may be requested. With ``append=True`` the
    snapshots are appended to an existing file, each with a single write of complete text so a reader
    never sees a partial snapshot from an earlier call; otherwise the file is replaced atomically.
    """
    frame_list = [frames] if isinstance(frames, Frame) else list(frames)
    text = []
    for frame in frame_list:
        cols = list(columns) if columns is not None else ["id", "type", *_WRAPPED[: frame.dim]]
        text.append(_dump_snapshot(frame, cols))
    if append:
        with open(path, "a") as fh:
            for snap in text:
                fh.write(snap)
                fh.flush()
    else:
        atomic_write_text(path, "".join(text), durable=True)


def read_frame(path: str | os.PathLike[str], fmt: str = "auto", step: int | None = None,
               dim: int | None = None) -> Frame:
    """One frame of a LAMMPS data file or dump (``fmt`` auto: a file starting with "ITEM:" is a dump).

    From a dump, ``step`` selects the snapshot (default: the last one). ``dim`` = 2 drops z; None takes
    the dimension from the file (a LAMMPS ``dimension 2`` run writes every z = 0 in a slab around 0).
    """
    p = os.fspath(path)
    if fmt == "auto":
        with open(p) as fh:
            fmt = "dump" if fh.readline().startswith("ITEM:") else "data"
    if fmt == "data":
        return read_data(p, dim=dim)
    if fmt != "dump":
        raise ValueError(f"format must be auto, data or dump, got {fmt!r}")
    frames = read_dump_frames(p, steps=None if step is None else [step], dim=dim)
    if not frames:
        raise ValueError(f"no frame{'' if step is None else f' at step {step}'} in {p}")
    return frames[-1]
