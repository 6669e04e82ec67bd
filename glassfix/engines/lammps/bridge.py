"""The Python side of the LAMMPS plugin: what ``fix glass/predict`` and ``fix glass/python`` call.

The C++ fix calls :func:`create` once per fix (on every MPI rank) with the fix arguments after ``N``,
then every N steps either ``handler.compute_local(view)`` (mode local: this rank's owned atoms, with
ghosts and LAMMPS' full neighbour list) or, on rank 0 only, ``handler.compute_gather(view)`` (mode
gather: all atoms). ``view`` is a dict of zero-copy memoryviews over LAMMPS memory, valid only during
the call; results are written into ``view["out"]``.

Every error raised towards the fix is a :class:`BridgeError` whose text is a complete, one-line
message naming the problem and the fix; the C++ side recognises it by its class and prints it through
LAMMPS' error mechanism. The fix parses only N: this module parses everything after it and owns each
style's usage line (:func:`usage`). What the fix sends (the view layout) and the contract version both
sides must agree on live in :mod:`glassfix.engines.lammps.contract`.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from dataclasses import dataclass
from typing import Any, Callable

# Numba's default OpenMP threading layer leaves its worker threads spinning after every parallel region.
# Inside an MPI-parallel LAMMPS each rank already owns a core, so those threads steal it from the MD:
# with the fix present but idle, KA N = 32000 on 2 ranks lost 1.7 ms per step (LAMMPS' "Other" time,
# 0.11 s -> 1.73 s per 1000 steps). The workqueue layer blocks instead of spinning. This only takes
# effect when numba is first imported here (plain `lmp`); when Python drives LAMMPS, numba is usually
# imported already and _quiet_thread_pool switches the layer before the pool starts. A user's choice is kept.
os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

import numba  # noqa: E402
import numpy as np  # noqa: E402

from glassfix.core.frame import Frame, NeighborList
from glassfix.engines.lammps.contract import (  # noqa: F401  (part of this module's API)
    CONTRACT_VERSION, VIEW_LAYOUT, GatheredAtoms, LocalAtoms, check_contract,
)
from glassfix.engines.lammps.model_modes import (  # noqa: F401  (BridgeError is part of this module's API)
    BridgeError, choose_mode, describe_model, engine_safe,
)
from glassfix.engines.lammps.fix_args import (  # noqa: F401  (names used by the handlers and tests)
    parse_ghost as _parse_ghost, parse_keywords as _parse_keywords, parse_mode as _parse_mode,
    set_state,
)
from glassfix.models.species import species_map


# ---------------------------------------------------------------------------------------------------
# helpers shared by both styles


def box_to_cell(box: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """LAMMPS box tuple from the plugin -> (cell rows (d, d), origin (d,), pbc (d,), dimension)."""
    lo, hi, (xy, xz, yz), periodic, _triclinic, dim = box
    lx, ly, lz = hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]
    cell = np.array([[lx, 0.0, 0.0], [xy, ly, 0.0], [xz, yz, lz]])
    origin = np.array(lo, dtype=np.float64)
    pbc = np.array(periodic, dtype=bool)
    if dim == 2:
        return cell[:2, :2].copy(), origin[:2].copy(), pbc[:2].copy(), 2
    return cell, origin, pbc, 3


def _quiet_thread_pool(numba: Any) -> None:
    """A numba thread pool whose idle workers never spin, also when numba was imported before this module.

    numba's default OpenMP layer starts its pool (NUMBA_NUM_THREADS workers, one per core) on the first
    parallel call or set_num_threads(); libgomp's idle workers busy-wait, and with one rank per core that
    spinning takes the core from the other rank's MD between evaluations (measured with LAMMPS driven from
    Python, which had imported numba: a fix that never evaluated in the run, KA N = 16384 on 2 ranks, loop
    time 12.7 s against 10.2 s with a non-spinning pool). So, before the pool starts, numba uses its workqueue
    layer (workers block) unless the user chose a layer; OMP_WAIT_POLICY covers an OpenMP runtime started
    later, when the user did not set it."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from numba.np.ufunc import parallel

    if not parallel._is_initialized and str(numba.config.THREADING_LAYER).lower() == "default":
        numba.config.THREADING_LAYER = "workqueue"


def _configure_threads(info: dict[str, Any], torch: bool = False) -> None:
    """Under MPI every rank already owns a core: one numba, BLAS (and torch) thread per rank unless
    GLASSFIX_NUM_THREADS says otherwise. BLAS too: OpenBLAS workers spin after a threaded call, so the
    products that build a model's tables left a spinning thread per rank beside the first MD steps
    (profile of the overhead benchmark: ≈ 0.1 s of CPU on 2 ranks). Called before the model loads and after."""
    want = os.environ.get("GLASSFIX_NUM_THREADS")
    mpi = int(info.get("nprocs", 1)) > 1
    if want or mpi:
        try:
            from threadpoolctl import threadpool_limits

            threadpool_limits(limits=max(1, int(want)) if want else 1, user_api="blas")
        except (ImportError, ValueError):
            pass
    try:
        import numba

        _quiet_thread_pool(numba)
        if want:
            numba.set_num_threads(max(1, min(int(want), numba.config.NUMBA_NUM_THREADS)))
        elif mpi:
            numba.set_num_threads(1)
    except (ImportError, ValueError):
        pass
    if torch:
        try:
            import torch as _torch

            if want:
                _torch.set_num_threads(max(1, int(want)))
            elif mpi:
                _torch.set_num_threads(1)
        except (ImportError, ValueError):
            pass


@dataclass
class LocalView:
    """What a ``fix glass/python`` callback receives (lengths in LAMMPS units; arrays valid during the call).

    ``positions`` (nall, d) hold owned atoms first (``nlocal`` of them) then ghosts (periodic images
    and atoms of other ranks); ``types`` are LAMMPS types (1-based); ``centers`` index the owned atoms
    of the fix group, in the order the result must follow; ``neighbors`` is the CSR list of those
    centres over all atoms within ``cutoff`` (vectors r_j − r_i, already the right image). In mode
    gather there are no ghosts: ``positions`` are all atoms, and ``neighbors`` is built periodically.
    """

    step: int
    positions: np.ndarray
    types: np.ndarray
    ids: np.ndarray
    nlocal: int
    centers: np.ndarray
    neighbors: NeighborList | None
    cell: np.ndarray
    origin: np.ndarray
    pbc: np.ndarray
    cutoff: float
    frame: Frame | None = None


@numba.njit(cache=True)
def _explicit_pairs(x: np.ndarray, centers: np.ndarray, offsets: np.ndarray, neigh: np.ndarray,
                    cutoff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep the pairs of an explicit (ghost-atom) list with r < cutoff: (offsets, neighbours, vectors)."""
    n = centers.shape[0]
    d = x.shape[1]
    cut2 = cutoff * cutoff
    counts = np.zeros(n, dtype=np.int64)
    for c in range(n):
        i = centers[c]
        k = 0
        for p in range(offsets[c], offsets[c + 1]):
            j = neigh[p]
            r2 = 0.0
            for a in range(d):
                dx = x[j, a] - x[i, a]
                r2 += dx * dx
            if r2 < cut2:
                k += 1
        counts[c] = k
    new_off = np.zeros(n + 1, dtype=np.int64)
    for c in range(n):
        new_off[c + 1] = new_off[c] + counts[c]
    out_j = np.empty(new_off[n], dtype=np.int64)
    vec = np.empty((new_off[n], d), dtype=np.float64)
    for c in range(n):
        i = centers[c]
        q = new_off[c]
        for p in range(offsets[c], offsets[c + 1]):
            j = neigh[p]
            r2 = 0.0
            for a in range(d):
                dx = x[j, a] - x[i, a]
                r2 += dx * dx
            if r2 < cut2:
                out_j[q] = j
                for a in range(d):
                    vec[q, a] = x[j, a] - x[i, a]
                q += 1
    return new_off, out_j, vec


def _local_neighbors(la: LocalAtoms, cutoff: float) -> NeighborList:
    """LAMMPS' full list of the centre atoms as a NeighborList with vectors, pairs r < cutoff only."""
    # ghosts are explicit periodic images, so r_j - r_i needs no minimum image; LAMMPS includes pairs
    # up to cutoff + skin, and we keep exactly the pairs an offline list would have (r < cutoff)
    new_off, out_j, vec = _explicit_pairs(np.ascontiguousarray(la.positions), la.rows, la.offsets,
                                          la.neighbors, float(cutoff))
    return NeighborList(la.rows, new_off, out_j, vec, float(cutoff))


def _out_array(view: dict[str, Any], nrows: int, ncols: int) -> np.ndarray:
    out = np.frombuffer(view["out"], dtype=np.float64, count=nrows * ncols)
    return out.reshape(nrows, ncols)


def _gather_frame(view: dict[str, Any]) -> tuple[Frame, np.ndarray, np.ndarray]:
    """Frame of all atoms (sorted by id) from a gather view; returns (frame, order, in_group mask)."""
    g = GatheredAtoms.from_view(view)
    cell, origin, pbc, dim = box_to_cell(g.box)
    # sort by id so the result does not depend on how atoms were distributed over ranks
    order = np.argsort(g.ids, kind="stable")
    frame = Frame(positions=g.positions()[order, :dim], types=g.types[order].astype(np.int64) - 1, cell=cell,
                  origin=origin, pbc=pbc, ids=g.ids[order].astype(np.int64), step=g.step)
    return frame, order, g.in_group[order]


# ---------------------------------------------------------------------------------------------------
# fix glass/predict

PREDICT_USAGE = ("fix ID group glass/predict N model FILE [mode local|gather] [out NAME ...] "
                 "[types SPECIES_OF_TYPE_1 SPECIES_OF_TYPE_2 ...] [native yes|no] [ghost static|auto] "
                 "[device auto|cpu|cuda] [state T [C ...]]")


class PredictHandler:
    """Evaluates a saved glassfix model on the fix group (one instance per fix and rank)."""

    def __init__(self, args: list[str], info: dict[str, Any]) -> None:
        if len(args) < 2 or args[0] != "model":
            raise BridgeError(f"expected 'model FILE' after N. Usage: {PREDICT_USAGE}")
        path = args[1]
        kw = _parse_keywords(args[2:], {"mode": 1, "out": None, "types": None, "native": 1, "ghost": 1,
                                        "device": 1, "state": None}, "glass/predict", PREDICT_USAGE)
        _parse_mode(kw, PREDICT_USAGE)  # validates the value
        self.ghost_auto = _parse_ghost(kw, PREDICT_USAGE)
        _configure_threads(info)    # before any BLAS call (the native tables); torch once the model is known
        from glassfix.models import load_model

        try:
            self.model = engine_safe(load_model(path))
        except FileNotFoundError:
            raise BridgeError(f"model file '{path}' not found (working directory {os.getcwd()})") from None
        except Exception as exc:  # every loader failure becomes one clear line
            raise BridgeError(f"cannot load model '{path}': {exc}") from None
        if "state" in kw:    # state-point models (tglassmlp): temperature and C targets of the prediction
            set_state(self.model, kw["state"], path, PREDICT_USAGE)
        self.gather = choose_mode(self.model, kw["mode"][0] if "mode" in kw else None, f"'{path}'")
        from glassfix.models.device import place_model

        try:    # torch models on the rank's GPU when one is visible (device auto), else the CPU
            self.device = place_model(self.model, kw.get("device", ["auto"])[0], "")    # LAMMPS names the fix
        except ValueError as exc:
            raise BridgeError(str(exc)) from None
        self.dim = int(info["dimension"])
        try:
            self.type_map = species_map(list(self.model.species), int(info["ntypes"]), kw.get("types"),
                                        f"'{path}'")
        except ValueError as exc:
            raise BridgeError(str(exc)) from None
        names = list(self.model.output_names)
        sel = kw.get("out")
        if sel is None:
            self.columns = list(range(len(names)))
        else:
            missing = [s for s in sel if s not in names]
            if missing:
                raise BridgeError(f"model '{path}' has no output {' '.join(missing)}; its outputs are "
                                  f"{' '.join(names)}")
            self.columns = [names.index(s) for s in sel]
        self.output_names = [names[c] for c in self.columns]
        self.n_outputs = len(self.columns)
        self.receptive_field = float(self.model.receptive_field)
        # message-passing models in mode local run distributed: a ghost shell of one edge cutoff, and
        # the ghosts' node states exchanged between cycles (the fix's forward communication)
        self.halo_width = self.halo_exchanges = 0
        if not self.gather and int(getattr(self.model, "halo_width", 0)) > 0:
            self.halo_width = int(self.model.halo_width)
            self.halo_exchanges = int(self.model.halo_exchanges)
            self.receptive_field = float(self.model.message_cutoff)
        use_native = kw.get("native", ["yes"])[0]
        if use_native not in ("yes", "no"):
            raise BridgeError(f"native must be 'yes' or 'no', got '{use_native}'. Usage: {PREDICT_USAGE}")
        # the model declares what it can do natively (None: the generic Python path)
        self.native = self.model.native_tables(self.type_map) if use_native == "yes" else None
        # a model that finds each atom's environment itself from positions (the ACE kernel sorts atoms into
        # cells) needs no LAMMPS list: the fix then neither builds nor copies one (native no: LAMMPS' list)
        self.bins_atoms = bool(use_native == "yes" and self.native is None and not self.gather
                               and not self.halo_width and self.model.bins_locally(self.dim))
        _configure_threads(info, torch=bool(getattr(self.model, "uses_torch", False)))

    def compute_local(self, view: dict[str, Any]) -> None:
        """Mode local: predict for this rank's group atoms from owned + ghost atoms."""
        if self.halo_width:
            return self._compute_distributed(view)
        try:
            la = LocalAtoms.from_view(view, self.dim)
            x, ltypes, ids = la.positions, la.types, la.ids
            if la.rows.size:
                # a model that reads LAMMPS' explicit list itself, or bins the atoms itself (ACE activity): no
                # pair-vector arrays
                fast = self.model.predict_local(np.ascontiguousarray(x), self.type_map[ltypes - 1], la.rows,
                                                None if self.bins_atoms else la.offsets,
                                                None if self.bins_atoms else la.neighbors)
                if fast is not None:
                    out = _out_array(view, la.rows.size, self.n_outputs)
                    out[:] = np.asarray(fast, dtype=np.float64).reshape(la.rows.size, -1)[:, self.columns]
                    return
            nl = _local_neighbors(la, self.receptive_field)
            out = _out_array(view, nl.n_centers, self.n_outputs)
            if nl.n_centers == 0:
                return
            # ghost atoms are explicit images: the environment is non-periodic here
            frame = Frame(positions=x, types=self.type_map[ltypes - 1], cell=np.eye(self.dim),
                          pbc=np.zeros(self.dim, dtype=bool), ids=ids.astype(np.int64),
                          step=int(view["step"]))
            pred = self.model.predict(frame, neighbors=nl)
            out[:] = np.asarray(pred, dtype=np.float64).reshape(nl.n_centers, -1)[:, self.columns]
        except BridgeError:
            raise
        except Exception as exc:
            raise BridgeError(f"prediction failed at step {view.get('step')}: "
                              f"{type(exc).__name__}: {exc}") from None

    def _compute_distributed(self, view: dict[str, Any]) -> None:
        """Distributed message passing: the graph of every edge into this rank's owned atoms, the ghosts'
        node states refreshed by ``view["halo"]`` between cycles (BotanModel.predict_distributed)."""
        exchange = view.get("halo")
        done = 0

        def halo(rows: np.ndarray | None) -> None:
            nonlocal done
            done += 1
            exchange(rows)

        try:
            la = LocalAtoms.from_view(view, self.dim)
            if exchange is None or la.halo_width != self.halo_width:
                raise BridgeError(f"the plugin passed no halo exchange of width {self.halo_width} "
                                  f"(got {la.halo_width}); rebuild it with 'glassfix plugin build'")
            nl = _local_neighbors(la, self.receptive_field)    # rows: every owned atom
            dst = nl.centers[nl.center_of_pair()]
            src = nl.neighbors
            # sorted by (source id, destination id), the order of the whole-frame graph (build_graph on
            # an id-sorted frame): every atom sums its incoming edges in the same order as mode gather
            ids = la.ids.astype(np.int64)
            order = np.lexsort((ids[dst], ids[src]))
            edge_index = np.stack([src[order], dst[order]])
            edge_vec = -nl.vectors[order]    # r_dst − r_src; the list holds r_j − r_i with i = dst
            species = self.type_map[la.types - 1]
            node = self.model.predict_distributed(species, edge_index, edge_vec, halo, n_owned=la.nlocal)
            out = _out_array(view, la.centers.size, self.n_outputs)
            out[:] = node[la.centers][:, None][:, self.columns]
        except BridgeError:
            raise
        except Exception as exc:
            raise BridgeError(f"prediction failed at step {view.get('step')}: "
                              f"{type(exc).__name__}: {exc}") from None
        finally:
            # the exchanges are collective: a rank that failed early still joins the others' remaining
            # ones (without data), so every rank reaches the fix's collective error report
            while exchange is not None and done < self.halo_exchanges:
                halo(None)

    def compute_gather(self, view: dict[str, Any]) -> None:
        """Mode gather: predict for the whole system at once (rank 0)."""
        try:
            frame, order, in_group = _gather_frame(view)
            frame.types = self.type_map[frame.types]
            out = _out_array(view, frame.n_atoms, self.n_outputs)
            centers = np.flatnonzero(in_group)
            if centers.size == 0:
                return
            pred = np.asarray(self.model.predict(frame, centers=centers), dtype=np.float64)
            out[order[centers]] = pred.reshape(centers.size, -1)[:, self.columns]
        except Exception as exc:
            raise BridgeError(f"prediction failed at step {view.get('step')}: "
                              f"{type(exc).__name__}: {exc}") from None


# ---------------------------------------------------------------------------------------------------
# fix glass/python

PYTHON_USAGE = ("fix ID group glass/python N MODULE.FUNCTION [cutoff R] [ncol K] [mode local|gather] "
                "[ghost static|auto] [nan error|allow]")


class PythonHandler:
    """Calls a user function ``f(view: LocalView) -> (n_centers,) or (n_centers, ncol)`` every N steps."""

    def __init__(self, args: list[str], info: dict[str, Any]) -> None:
        if not args or "." not in args[0] or args[0].startswith(".") or args[0].endswith("."):
            got = args[0] if args else "nothing"
            raise BridgeError(f"expected MODULE.FUNCTION after N, got '{got}'. Usage: {PYTHON_USAGE}")
        target = args[0]
        kw = _parse_keywords(args[1:], {"cutoff": 1, "ncol": 1, "mode": 1, "ghost": 1, "nan": 1},
                             "glass/python", PYTHON_USAGE)
        nan = kw.get("nan", ["error"])[0]
        if nan not in ("error", "allow"):
            raise BridgeError(f"nan must be 'error' or 'allow', got '{nan}'. Usage: {PYTHON_USAGE}")
        # a NaN result usually means a bug in the callback; a user who means "undefined" says so
        self.allow_nan = nan == "allow"
        self.gather = _parse_mode(kw, PYTHON_USAGE)
        self.ghost_auto = _parse_ghost(kw, PYTHON_USAGE)
        try:
            self.receptive_field = float(kw.get("cutoff", ["0"])[0])
            self.n_outputs = int(kw.get("ncol", ["1"])[0])
        except ValueError:
            raise BridgeError(f"cutoff must be a number and ncol an integer. Usage: {PYTHON_USAGE}") from None
        if self.receptive_field < 0 or not np.isfinite(self.receptive_field):
            raise BridgeError(f"cutoff must be >= 0, got {self.receptive_field}")
        if self.n_outputs < 1:
            raise BridgeError(f"ncol must be >= 1, got {self.n_outputs}")
        self.output_names = [f"c{k + 1}" for k in range(self.n_outputs)]
        self.dim = int(info["dimension"])
        module_name, func_name = target.rsplit(".", 1)
        # the input script's directory is where users put their callback modules
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            raise BridgeError(f"cannot import module '{module_name}' ({type(exc).__name__}: {exc}); put "
                              f"{module_name}.py in the working directory or on PYTHONPATH") from None
        func = getattr(module, func_name, None)
        if not callable(func):
            raise BridgeError(f"module '{module_name}' ({getattr(module, '__file__', '?')}) has no "
                              f"function '{func_name}'")
        self.func: Callable[[LocalView], Any] = func
        self.target = target
        _configure_threads(info)

    def _call(self, lv: LocalView, step: int) -> np.ndarray:
        """The callback's result as (n_centres, ncol) float64; BridgeError for exceptions, bad shapes
        and (unless ``nan allow``) non-finite values, naming the first offending atom id."""
        try:
            result = self.func(lv)
        except Exception as exc:
            tb = traceback.extract_tb(exc.__traceback__)
            where = f" at {os.path.basename(tb[-1].filename)}:{tb[-1].lineno}" if tb else ""
            raise BridgeError(f"{self.target} raised {type(exc).__name__}: {exc}{where} "
                              f"(step {step})") from None
        try:
            arr = np.asarray(result, dtype=np.float64)
        except (TypeError, ValueError):
            raise BridgeError(f"{self.target} must return numbers, got {type(result).__name__}") from None
        n = lv.centers.size
        if arr.shape == (n,) and self.n_outputs == 1:
            arr = arr.reshape(n, 1)
        if arr.shape != (n, self.n_outputs):
            want = f"({n},)" if self.n_outputs == 1 else f"({n}, {self.n_outputs})"
            raise BridgeError(f"{self.target} returned shape {arr.shape}, expected {want}: one row per "
                              f"centre atom (view.centers) and ncol={self.n_outputs} columns")
        if not self.allow_nan:
            bad = ~np.isfinite(arr)
            if bad.any():
                row, col = np.argwhere(bad)[0]
                atom_id = int(lv.ids[lv.centers[row]])
                colname = f" column {col + 1}" if self.n_outputs > 1 else ""
                raise BridgeError(f"{self.target} returned {arr[row, col]}{colname} for atom id {atom_id} "
                                  f"(step {step}; {int(bad.any(axis=1).sum())} of {n} atoms non-finite); "
                                  f"return finite values, or add 'nan allow' to the fix to store NaN/inf "
                                  f"as given")
        return arr

    def compute_local(self, view: dict[str, Any]) -> None:
        """Mode local: call the user function on this rank's owned + ghost atoms."""
        la = LocalAtoms.from_view(view, self.dim)
        cell, origin, pbc, _ = box_to_cell(la.box)
        nl = _local_neighbors(la, self.receptive_field) if self.receptive_field > 0 else None
        lv = LocalView(step=la.step, positions=la.positions, types=la.types, ids=la.ids, nlocal=la.nlocal,
                       centers=la.centers, neighbors=nl, cell=cell, origin=origin, pbc=pbc,
                       cutoff=self.receptive_field)
        _out_array(view, la.centers.size, self.n_outputs)[:] = self._call(lv, lv.step)

    def compute_gather(self, view: dict[str, Any]) -> None:
        """Mode gather: call the user function once with all atoms (rank 0)."""
        frame, order, in_group = _gather_frame(view)
        centers = np.flatnonzero(in_group)
        nl = None
        if self.receptive_field > 0:
            from glassfix.core.neighbors import neighbor_list

            nl = neighbor_list(frame, self.receptive_field, centers)
        lv = LocalView(step=frame.step, positions=frame.positions, types=frame.types + 1,
                       ids=frame.ids, nlocal=frame.n_atoms, centers=centers, neighbors=nl,
                       cell=frame.cell, origin=frame.origin, pbc=frame.pbc,
                       cutoff=self.receptive_field, frame=frame)
        _out_array(view, frame.n_atoms, self.n_outputs)[order[centers]] = self._call(lv, lv.step)


# ---------------------------------------------------------------------------------------------------
# fix glass/record

RECORD_USAGE = ("fix ID group glass/record N FILE [values f_ID f_ID[k] ...] [group NAME] [system NAME] "
                "[temperature T]")


class RecordHandler:
    """Appends every N-th frame and the per-atom values of other fixes to a dataset store (rank 0 writes).

    Frames are keyed ``SYSTEM/GROUP/STEP`` (zero-padded), so a restarted run that re-records a step
    it already stored skips it: the store stays free of duplicates. A value is stored as a label of a
    frame only if its fix had defined values at that step (``view["valid"]``): frames recorded while a
    glass/phop window or a glass/d2min lag is still filling lack that label.
    """

    n_outputs = 0
    receptive_field = 0.0
    gather = True
    output_names: list[str] = []
    store = None  # set on rank 0 once the arguments are valid (also read by __del__ on failure)

    def __init__(self, args: list[str], info: dict[str, Any]) -> None:
        if not args or args[0] in ("values", "group", "system", "temperature"):
            raise BridgeError(f"expected FILE after N. Usage: {RECORD_USAGE}")
        self.path = args[0]
        kw = _parse_keywords(args[1:], {"values": None, "group": 1, "system": 1, "temperature": 1},
                             "glass/record", RECORD_USAGE)
        self.values = list(kw.get("values", []))
        self.group = kw.get("group", [str(info.get("fix_id", "run"))])[0]
        self.system = kw.get("system", ["lammps"])[0]
        try:
            self.temperature = float(kw["temperature"][0]) if "temperature" in kw else None
        except ValueError:
            raise BridgeError(f"temperature must be a number. Usage: {RECORD_USAGE}") from None
        self.rank = int(info.get("rank", 0))
        self.sources: list[str] = ["{}"] * len(self.values)
        if self.rank == 0:
            from glassfix.data.store import DatasetStore

            try:
                self.store = DatasetStore(self.path, mode="a")
            except Exception as exc:
                raise BridgeError(f"cannot open dataset store '{self.path}': {exc}") from None

    def set_sources(self, sources: list[str]) -> None:
        """Called by the fix at every init: one JSON self-description per recorded value (label kind,
        parameters, step offset), stored with the label (glassfix.data.labels_meta)."""
        if len(sources) != len(self.values):
            raise BridgeError(f"got {len(sources)} value descriptions for {len(self.values)} values")
        self.sources = [str(s) for s in sources]

    def record(self, view: dict[str, Any]) -> None:
        """Write one frame with the recorded per-atom values as labels (sorted by atom id)."""
        try:
            g = GatheredAtoms.from_view(view)
            cell, origin, pbc, dim = box_to_cell(g.box)
            order = np.argsort(g.ids, kind="stable")
            frame = Frame(positions=g.positions()[order, :dim], types=g.types[order].astype(np.int64) - 1,
                          cell=cell, origin=origin, pbc=pbc, ids=g.ids[order].astype(np.int64),
                          unwrapped=g.unwrapped()[order, :dim], step=g.step, time=g.time)
            from glassfix.data.labels_meta import offset_attrs, online_label

            # a value whose fix has no defined output yet (glass/phop before its window is full,
            # glass/d2min before LAG) is left out of this frame rather than stored as NaN labels
            valid = list(view.get("valid", [True] * len(self.values)))
            labels = {}
            for k, (value, source) in enumerate(zip(self.values, self.sources)):
                if not valid[k]:
                    continue
                name, attrs = online_label(value, source, frame.step)
                labels[name] = (g.value(k)[order].copy(), attrs)
            labels["in_group"] = (g.in_group[order].astype(np.float64), offset_attrs(frame.step, 0))
            key = f"{self.system}/{self.group}/{frame.step:012d}"
            self.store.add_frame(frame, key=key, group=self.group, system=self.system,
                                 temperature=self.temperature, labels=labels)
        except Exception as exc:
            raise BridgeError(f"recording step {view.get('step')} to '{self.path}' failed: "
                              f"{type(exc).__name__}: {exc}") from None

    def __del__(self) -> None:
        if self.store is not None:
            try:
                self.store.close()
            except Exception:
                pass


# ---------------------------------------------------------------------------------------------------


_USAGES = {"predict": PREDICT_USAGE, "python": PYTHON_USAGE, "record": RECORD_USAGE}


def usage(style: str) -> str:
    """The usage line of fix glass/STYLE (style 'predict', 'python' or 'record'); the C++ fix asks for it."""
    return _USAGES.get(style, f"unknown glassfix fix style '{style}'")


def create(style: str, args: list[str], info: dict[str, Any]) -> PredictHandler | PythonHandler | RecordHandler:
    """Factory called by the C++ fix: style 'predict', 'python' or 'record'; args = fix arguments after N;
    info carries the plugin's contract_version (checked first) and ntypes, dimension, nprocs, rank, ..."""
    check_contract(info)
    try:
        if style == "predict":
            return PredictHandler(list(args), info)
        if style == "python":
            return PythonHandler(list(args), info)
        if style == "record":
            return RecordHandler(list(args), info)
        raise BridgeError(f"unknown glassfix fix style '{style}'")
    except BridgeError:
        raise
    except Exception as exc:
        raise BridgeError(f"{type(exc).__name__}: {exc}") from None
