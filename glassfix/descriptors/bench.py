"""Descriptor throughput: atoms/s of the radial, angular and combined (166) structure functions.

Measured end to end (periodic neighbour list + numba kernel, ``Descriptor.compute``) on the shared KA
N = 4096 configuration (BOTAN sample, T = 0.44, box (N/1.2)^(1/3)), with 1 and 2 numba threads, after a
warm-up call (compilation). If ``dscribe`` is importable, the same run also times DScribe's ACSF on the
same frame: G2 with η = 1/(2δ²) and R_s = our grid at the radial cutoff, and G4 with η = 1/ξ², (ζ, λ)
from Table 4.1 at the angular cutoff, and reports our speed (1 thread, cosine cutoff as DScribe uses)
relative to it. Results are appended to ``docs/benchmarks.md`` with date and machine.
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import numba
import numpy as np

from glassfix.core.frame import Frame
from glassfix.core.machine import append_bench_section, machine_description
from glassfix.descriptors.angular import AngularStructureFunctions, CombinedDescriptor
from glassfix.descriptors.base import Descriptor
from glassfix.descriptors.structure_functions import RadialStructureFunctions

__all__ = ["bench_descriptors", "bench_cg", "shared_ka_frame"]

def shared_ka_frame() -> Frame:
    """The BOTAN KA configuration 1 (N = 4096, T = 0.44) from the shared data folder (GLASSFIX_SHARED)."""
    from glassfix.data.shared import load_iso_npz, shared_iso_files

    return load_iso_npz(shared_iso_files()[0])[0]


def _time(fn, repeats: int) -> float:
    """Median wall time of ``repeats`` calls (s)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _dscribe_acsf(**kwargs):
    from dscribe.descriptors import ACSF

    rc = kwargs.pop("rc")
    try:
        return ACSF(r_cut=rc, **kwargs)
    except TypeError:  # dscribe < 2.0 spelled it rcut
        return ACSF(rcut=rc, **kwargs)


def _bench_dscribe(frame: Frame, radial: RadialStructureFunctions, angular: AngularStructureFunctions,
                   repeats: int) -> dict[str, Any]:
    """DScribe ACSF timings (G2 / G4 at our cutoffs) and the agreement of the values, same frame."""
    import ase

    atoms = ase.Atoms(numbers=frame.types + 1, positions=frame.positions - frame.origin,
                      cell=frame.cell, pbc=True)
    atoms.wrap()
    species = list(range(1, frame.types.max() + 2))
    g2 = [[1.0 / (2.0 * radial.delta**2), float(mu)] for mu in radial.mus]
    g4 = [[1.0 / (xi * xi), float(z), float(l)] for xi, l, z in angular.params]
    acsf_r = _dscribe_acsf(rc=radial.cutoff, g2_params=g2, species=species, periodic=True)
    acsf_a = _dscribe_acsf(rc=angular.cutoff, g4_params=g4, species=species, periodic=True)
    res: dict[str, Any] = {}
    n = frame.n_atoms
    ours = {
        "radial": RadialStructureFunctions(radial.n_species, mus=radial.mus, delta=radial.delta,
                                           cutoff=radial.cutoff, cutoff_fn="cosine"),
        "angular": AngularStructureFunctions(angular.n_species, params=angular.params, cutoff=angular.cutoff,
                                             cutoff_fn="cosine", pairs="unordered"),
    }
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        for name, acsf in (("radial", acsf_r), ("angular", acsf_a)):
            ref = np.asarray(acsf.create(atoms, n_jobs=1))  # warm-up, and the values
            t_ds = _time(lambda: acsf.create(atoms, n_jobs=1), repeats)
            desc = ours[name]
            mine = desc.compute(frame)
            t_us = _time(lambda: desc.compute(frame), repeats)
            ns = desc.n_species
            if name == "radial":  # DScribe: per species [G1, G2...]
                ref = ref.reshape(n, ns, 1 + radial.mus.size)[:, :, 1:].reshape(n, -1)
            else:  # DScribe: [G1 per species] + G4 per pair; G4 = 2^(1−ζ) Ψ
                ref = ref[:, ns:] / np.tile(2.0 ** (1.0 - angular.params[:, 2]), ns * (ns + 1) // 2)
            scale = np.maximum(np.abs(ref), 1e-300)
            res[name] = {
                "dscribe_atoms_per_s": n / t_ds, "ours_atoms_per_s": n / t_us,
                "speedup": t_ds / t_us, "dscribe_s": t_ds, "ours_s": t_us,
                "max_rel_diff": float(np.max(np.abs(mine - ref)[np.abs(ref) > 1e-12] /
                                             scale[np.abs(ref) > 1e-12], initial=0.0)),
            }
    finally:
        numba.set_num_threads(old)
    # the thesis' 166-function set: radial + angular, each side timed as above
    t_ds = res["radial"]["dscribe_s"] + res["angular"]["dscribe_s"]
    t_us = res["radial"]["ours_s"] + res["angular"]["ours_s"]
    res["radial+angular"] = {"dscribe_atoms_per_s": n / t_ds, "ours_atoms_per_s": n / t_us,
                             "speedup": t_ds / t_us, "dscribe_s": t_ds, "ours_s": t_us,
                             "max_rel_diff": max(res["radial"]["max_rel_diff"], res["angular"]["max_rel_diff"])}
    from importlib.metadata import PackageNotFoundError, version

    try:
        res["version"] = version("dscribe")
    except PackageNotFoundError:
        res["version"] = "?"
    return res


def bench_descriptors(
    report: Path | None = Path("docs/benchmarks.md"),
    threads: Sequence[int] = (1, 2),
    frame: Frame | None = None,
    repeats: int = 3,
    angular_cutoff: float = 2.5,
    dscribe: bool = True,
    include_all: bool = True,
) -> dict[str, Any]:
    """Atoms/s of radial (100), angular (66) and combined (166) features per thread count; appends to ``report``.

    ``frame`` defaults to the shared KA N = 4096 configuration. Each timing is the median of
    ``repeats`` calls after one warm-up call. ``report=None`` only returns (and prints) the results.
    """
    frame = shared_ka_frame() if frame is None else frame
    ns = int(frame.types.max()) + 1
    radial = RadialStructureFunctions(ns)
    angular = AngularStructureFunctions(ns, cutoff=angular_cutoff)
    descs: dict[str, Descriptor] = {
        "radial": radial, "angular": angular, "combined": CombinedDescriptor([radial, angular])}
    if include_all:
        from glassfix.descriptors.ace import ACEDescriptor
        from glassfix.descriptors.coarse_grained import CoarseGrainedDescriptor
        from glassfix.descriptors.interstice import IntersticeDescriptor

        # the papers' settings: ACE binary mixtures (Rottler-Ortner), Jung's 11 lengths to R = 20 with
        # KA pair energies, Wang-Jain's 60 interstice features
        descs["ace"] = ACEDescriptor(ns, max_body_order=4, degree=10, r_cut=4.0)
        descs["coarse_grained"] = CoarseGrainedDescriptor(ns, pair_energy="ka3d")
        descs["interstice"] = IntersticeDescriptor(ns)
    max_threads = numba.config.NUMBA_NUM_THREADS
    old = numba.get_num_threads()
    rows = []
    try:
        for t in threads:
            if t > max_threads:
                print(f"skipping {t} threads: numba allows at most {max_threads}", file=sys.stderr)
                continue
            numba.set_num_threads(int(t))
            for name, desc in descs.items():
                t0 = time.perf_counter()
                desc.compute(frame)  # warm-up (compilation, caches)
                first = time.perf_counter() - t0
                # a call of several seconds is its own measurement (compilation is cached and small)
                sec = first if first > 5.0 else _time(lambda: desc.compute(frame), repeats)
                rows.append({"descriptor": name, "n_features": desc.n_features, "cutoff": desc.cutoff,
                             "threads": int(t), "seconds": sec, "atoms_per_s": frame.n_atoms / sec})
                print(f"{name:9s} {desc.n_features:4d} features, rc {desc.cutoff:g}, {t} thread(s): "
                      f"{frame.n_atoms / sec:10.0f} atoms/s")
    finally:
        numba.set_num_threads(old)
    ds: dict[str, Any] | None = None
    if dscribe:
        try:
            import dscribe as _  # noqa: F401
        except ImportError:
            print("dscribe not installed")
        else:
            ds = _bench_dscribe(frame, radial, angular, repeats)
            for name in ("radial", "angular", "radial+angular"):
                r = ds[name]
                print(f"dscribe {name}: ours/dscribe speed = {r['speedup']:.2f} "
                      f"(max rel diff of values {r['max_rel_diff']:.1e})")
    result = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "machine": machine_description(),
        "n_atoms": frame.n_atoms,
        "frame": frame.metadata.get("source", "given frame"),
        "repeats": repeats,
        "rows": rows,
        "dscribe": ds,
        "numba": numba.__version__,
    }
    if report is not None:
        _append_report(Path(report), result)
    return result


def _append_report(report: Path, r: dict[str, Any]) -> None:
    """Append a dated section to ``report`` (Markdown) atomically."""
    from glassfix import __version__

    lines = [
        "",
        f"## Descriptor throughput — {r['date']}",
        "",
        f"Machine: {r['machine']}; glassfix {__version__}, numba {r['numba']}  ",
        f"Frame: N = {r['n_atoms']} ({Path(str(r['frame'])).name}); `Descriptor.compute` end to end "
        f"(periodic cell-list neighbour list + kernel), median of {r['repeats']} calls after a warm-up.",
        "",
        "| descriptor | features | cutoff | threads | s / frame | atoms/s |",
        "|---|---|---|---|---|---|",
        *[f"| {x['descriptor']} | {x['n_features']} | {x['cutoff']:g} | {x['threads']} | "
          f"{x['seconds']:.3f} | {x['atoms_per_s']:.0f} |" for x in r["rows"]],
        "",
    ]
    ds = r["dscribe"]
    if ds is None:
        lines += ["DScribe comparison: dscribe not installed.", ""]
    else:
        lines += [
            f"DScribe {ds['version']} ACSF on the same frame in the same run (1 thread each, cosine cutoff; "
            "G2 η = 1/(2δ²), R_s = grid; G4 η = 1/ξ², G4 = 2^(1−ζ) Ψ):",
            "",
            "| functions | dscribe atoms/s | ours atoms/s | ours / dscribe | max rel diff |",
            "|---|---|---|---|---|",
            *[f"| {k} | {ds[k]['dscribe_atoms_per_s']:.0f} | {ds[k]['ours_atoms_per_s']:.0f} | "
              f"{ds[k]['speedup']:.2f} | {ds[k]['max_rel_diff']:.1e} |" for k in ("radial", "angular", "radial+angular")],
            "",
        ]
    append_bench_section(report, lines)


def _jbb_frame(seed: int = 1) -> Frame:
    """A JBB N = 1290 2D configuration: the lattice melted by 300 swap-MC sweeps at T = 0.8, 300 at T = 0.4."""
    from glassfix.mc.engine import SwapMC
    from glassfix.mc.setup import setup_system

    setup = setup_system("jbb")
    frame, _ = setup.frame(1290, None, seed)
    mc = SwapMC(frame, setup.potential, 0.8, setup.moves, seed=seed)
    mc.sweeps(300)
    mc.temperature = 0.4
    mc.sweeps(300)
    out = mc.to_frame()
    out.metadata["source"] = "JBB N=1290 (swap MC from the lattice: 300 sweeps at T=0.8, 300 at T=0.4)"
    return out


def bench_cg(report: Path | None = Path("docs/benchmarks.md"), repeats: int = 3,
             frames: Sequence[str] = ("jbb2d", "ka3d")) -> dict[str, Any]:
    """Coarse-grained (Jung) descriptors, 176/132 features at R = 20 with the self term, one numba thread:
    the one-pass whole-frame kernel (``compute``) vs the per-centre neighbour-list path (``compute_pairs``,
    the code before it) in one run, alternating, median CPU time; appends a section to ``report``."""
    from glassfix.descriptors.coarse_grained import CoarseGrainedDescriptor

    old = numba.get_num_threads()
    numba.set_num_threads(1)
    rows = []
    try:
        for name in frames:
            if name == "jbb2d":
                frame, desc = _jbb_frame(), CoarseGrainedDescriptor(3, pair_energy="jbb")
            elif name == "ka3d":
                frame, desc = shared_ka_frame(), CoarseGrainedDescriptor(2, pair_energy="ka3d")
            else:
                raise ValueError(f"unknown frame {name!r}; use jbb2d or ka3d")
            fast = desc.compute(frame)  # warm-up (compilation)
            ref = desc.compute_pairs(frame, centers=np.arange(min(64, frame.n_atoms)))
            diff = float(np.max(np.abs(fast[:ref.shape[0]] - ref) / np.maximum(np.abs(ref), 1e-12)))
            t_new, t_old = [], []
            for _ in range(repeats):
                t0 = time.process_time()
                desc.compute(frame)
                t_new.append(time.process_time() - t0)
                t0 = time.process_time()
                desc.compute_pairs(frame)
                t_old.append(time.process_time() - t0)
                if t_old[-1] > 20.0:
                    break  # a call of tens of seconds is its own measurement
            a, b = statistics.median(t_new), statistics.median(t_old)
            rows.append({"frame": name, "n_atoms": frame.n_atoms, "dim": frame.dim, "n_features": desc.n_features,
                         "source": frame.metadata.get("source", ""), "new_s": a, "old_s": b, "speedup": b / a,
                         "new_atoms_per_s": frame.n_atoms / a, "old_atoms_per_s": frame.n_atoms / b,
                         "repeats": len(t_new), "max_rel_diff": diff})
            print(f"{name}: one-pass {a:.3f} s, per-centre lists {b:.3f} s, ratio {b / a:.1f}")
    finally:
        numba.set_num_threads(old)
    result = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d"), "machine": machine_description(),
              "rows": rows, "numba": numba.__version__}
    if report is not None:
        _append_cg_report(Path(report), result)
    return result


def _append_cg_report(report: Path, r: dict[str, Any]) -> None:
    """Append the coarse-grained section to ``report`` (Markdown) atomically."""
    from glassfix import __version__

    lines = [
        "",
        f"## Coarse-grained (Jung) descriptors, R = 20 — {r['date']}",
        "",
        f"Command: `glassfix bench cg`. Machine: {r['machine']}; glassfix {__version__}, numba {r['numba']}, "
        "one numba thread. `CoarseGrainedDescriptor.compute` end to end (per-particle energies, periodic "
        "Voronoi cells, every periodic image within R = 20, self term, 11 lengths L = 0 … 9) against "
        "`compute_pairs`, the per-centre neighbour-list path the descriptor used before, in the same run: "
        "alternating calls, median CPU time. max rel diff: the two paths on the first 64 particles.",
        "",
        "| frame | N | features | one-pass s / frame | per-centre s / frame | ratio | one-pass atoms/s | "
        "per-centre atoms/s | calls | max rel diff |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *[f"| {x['source'] or x['frame']} | {x['n_atoms']} | {x['n_features']} | {x['new_s']:.3f} | "
          f"{x['old_s']:.3f} | {x['speedup']:.1f} | {x['new_atoms_per_s']:.0f} | {x['old_atoms_per_s']:.0f} | "
          f"{x['repeats']} | {x['max_rel_diff']:.1e} |" for x in r["rows"]],
        "",
    ]
    append_bench_section(report, lines)


if __name__ == "__main__":  # pragma: no cover - python -m glassfix.descriptors.bench [REPORT]
    bench_descriptors(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/benchmarks.md"))
