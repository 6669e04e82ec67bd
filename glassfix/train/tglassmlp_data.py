"""tGlassMLP training data from a dataset store: configurations, their descriptors (on the inherent
structure), bond-breaking labels at target C values, and the per-configuration pair bins of the
spatial-correlation loss.

A store for ``glassfix train tglassmlp`` holds swap-MC configurations (``glassfix swap``: frame attribute
``temperature``) and, on some of them, isoconfigurational bond-breaking labels written by ``glassfix iso
--times bb:C1,C2,...:TMAX`` (``labels/bond_breaking/t=<time>`` with attribute ``bb_target`` = C). Frames
without labels (e.g. below the temperatures MD can label) are the pseudo-label candidates of the transfer
procedure. Descriptors are cached in ``OUT/cache/<sha of key and settings>.npz`` (plain arrays) so a
killed run resumes without recomputing them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from glassfix.core.atomic import atomic_savez
from glassfix.core.frame import Frame

__all__ = ["Config", "PairBins", "pair_bins", "load_configs", "split_by_temperature", "default_descriptor"]


@dataclasses.dataclass
class PairBins:
    """Pairs (i < j) of the centres of one configuration closer than r_max (minimum image), their radial bin
    (width dr) and the number of pairs per bin: precomputed once per configuration."""

    i: np.ndarray
    j: np.ndarray
    bin: np.ndarray
    counts: np.ndarray
    r_max: float
    dr: float


@dataclasses.dataclass
class Config:
    """One configuration: store key, temperature (ε/k_B), ``split`` ("train"/"test"), raw descriptors X
    (n, F) of its centre (type-0) particles, their atom indices, positions and cell, labels {C: C_B (n,)}
    and the pair bins of the correlation loss."""

    key: str
    temperature: float
    split: str
    X: np.ndarray
    centers: np.ndarray
    positions: np.ndarray
    cell: np.ndarray
    labels: dict[float, np.ndarray]
    pairs: PairBins | None = None


def pair_bins(positions: np.ndarray, cell: np.ndarray, r_max: float = 5.0, dr: float = 0.5) -> PairBins:
    """Pairs i < j of ``positions`` (periodic ``cell``) with minimum-image distance < r_max (σ), binned by dr."""
    from glassfix.core.neighbors import neighbor_list

    n, d = positions.shape
    fr = Frame(positions=np.asarray(positions, dtype=np.float64), types=np.zeros(n, dtype=np.int64),
               cell=np.asarray(cell, dtype=np.float64))
    nl = neighbor_list(fr, float(r_max))
    ci = np.repeat(nl.centers, np.diff(nl.offsets))
    cj = nl.neighbors
    r = nl.distances()
    keep = ci < cj
    # in a box smaller than 2 r_max an atom can meet several images of another: keep the nearest one
    ci, cj, r = ci[keep], cj[keep], r[keep]
    order = np.lexsort((r, cj, ci))
    ci, cj, r = ci[order], cj[order], r[order]
    first = np.ones(ci.size, dtype=bool)
    first[1:] = (ci[1:] != ci[:-1]) | (cj[1:] != cj[:-1])
    ci, cj, r = ci[first], cj[first], r[first]
    nb = int(np.ceil(r_max / dr))
    b = np.minimum((r / dr).astype(np.int64), nb - 1)
    return PairBins(i=ci, j=cj, bin=b, counts=np.bincount(b, minlength=nb), r_max=float(r_max), dr=float(dr))


def default_descriptor(species: Sequence[str], system: str = "jbb", voronoi_backend: str = "numba"):
    """The paper's 176 descriptors (4 observables × 11 lengths × (3 species + all), R = 20) for ``system``."""
    from glassfix.descriptors.coarse_grained import CoarseGrainedDescriptor

    return CoarseGrainedDescriptor(len(species), pair_energy=system, species_names=list(species),
                                   voronoi_backend=voronoi_backend)


def split_by_temperature(keys_T: dict[str, float], test_fraction: float, seed: int) -> dict[str, str]:
    """Per temperature, a random ``test_fraction`` of the configurations (rounded; at least one stays in
    train) goes to "test" (the paper: 150/150 per T); ``default_rng([seed, round(1e6 T)])``."""
    out: dict[str, str] = {}
    temps = sorted(set(keys_T.values()))
    for T in temps:
        ks = sorted(k for k, t in keys_T.items() if t == T)
        rng = np.random.default_rng([int(seed), int(round(T * 1e6))])
        perm = rng.permutation(len(ks))
        n_test = min(int(round(test_fraction * len(ks))), len(ks) - 1)
        test = {ks[p] for p in perm[:n_test]}
        out.update({k: ("test" if k in test else "train") for k in ks})
    return out


def _label_targets(ds: Any, key: str, prefix: str) -> dict[float, str]:
    """{C: label name} of the bond-breaking labels of a frame that carry a ``bb_target``."""
    out: dict[float, str] = {}
    for name in ds.label_names(key):
        if not name.startswith(prefix + "/"):
            continue
        c = ds.label_params(key, name).get("bb_target")
        if c is not None:
            out[float(c)] = name
    return out


def load_configs(store: str | os.PathLike[str], model_template: Any, cache_dir: str | os.PathLike[str] | None,
                 label_prefix: str = "bond_breaking", test_fraction: float = 0.5, split_seed: int = 0,
                 r_max: float = 5.0, dr: float = 0.5, keys: Sequence[str] | None = None,
                 progress: Callable[[str], None] | None = None) -> list[Config]:
    """Every frame of ``store`` (or ``keys``) with a temperature as a :class:`Config`: descriptors of its
    centre particles on the inherent structure (``model_template.descriptors``: its quench, descriptor and
    centre species), bond-breaking labels by target C, pair bins. Split: the store's stored split if any,
    else :func:`split_by_temperature`."""
    from glassfix.data.store import DatasetError, DatasetStore

    cache = Path(cache_dir) if cache_dir is not None else None
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
    settings = json.dumps({"descriptor": model_template.descriptor.spec(), "quench": model_template.quench,
                           "fire_ftol": model_template.fire_ftol, "centers": model_template.center_types},
                          sort_keys=True)
    out: list[Config] = []
    with DatasetStore(store, mode="r") as ds:
        all_keys = list(ds.keys()) if keys is None else list(keys)
        temps = {k: float(ds.frame_info(k)["temperature"]) for k in all_keys}
        bad = [k for k, t in temps.items() if not (np.isfinite(t) and t > 0)]
        if bad:
            raise ValueError(f"{store}: frames without a temperature ({bad[:3]}); tGlassMLP needs the T of every "
                             f"configuration (glassfix swap stores it)")
        try:
            train_keys, test_keys = ds.split_keys()
            split = {k: "test" for k in test_keys} | {k: "train" for k in train_keys}
        except DatasetError:
            split = split_by_temperature(temps, test_fraction, split_seed)
        for n, key in enumerate(all_keys):
            if progress:
                progress(f"descriptors {n + 1}/{len(all_keys)}: {key}")
            frame = ds.frame(key)
            targets = _label_targets(ds, key, label_prefix)
            h = hashlib.sha256((key + "|" + settings).encode()).hexdigest()[:24]
            path = cache / f"{h}.npz" if cache is not None else None
            if path is not None and path.exists():
                with np.load(path, allow_pickle=False) as z:
                    X, centers = z["X"], z["centers"]
            else:
                X, centers = model_template.descriptors(frame)
                if path is not None:
                    atomic_savez(path, X=X, centers=centers)
            labels = {}
            if targets:
                lab = ds.labels(key, list(targets.values()))
                labels = {c: np.asarray(lab[name], dtype=np.float64)[centers] for c, name in targets.items()}
            pos = np.asarray(frame.positions, dtype=np.float64)[centers]
            cfg = Config(key=key, temperature=temps[key], split=split.get(key, "train"), X=X, centers=centers,
                         positions=pos, cell=np.asarray(frame.cell, dtype=np.float64), labels=labels)
            cfg.pairs = pair_bins(pos, cfg.cell, r_max, dr)
            out.append(cfg)
    return out
