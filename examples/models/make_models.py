"""Make the small example models and start configuration in examples/models/ (run from the repository root).

    python examples/models/make_models.py            # ~2 min on 2 cores; overwrites the files below

Writes, each with its provenance (this script, data, date, parameters) in the model manifest:

- ``ka_start.data``: a 3D Kob–Andersen glass, N = 500, ρ = 1.2: melt at T = 2, quench to T = 0.45,
  2000 NVT steps, minimised (``glassfix.protocols``: the same code as ``glassfix prepare``);
- ``ka_softness.glassfix``: linear SVM (C = 1) per species on the default radial structure functions;
- ``ka_ace.glassfix``: logistic-regression activity classifier of A atoms on ACE invariants (r_cut = 4,
  body order ≤ 4, degree 6);
- ``ka_looseness.glassfix``: EasyEnsemble of 10 logistic regressions on the 60 interstice features of A
  atoms, trained with the descriptor's defaults (freud Voronoi backend; inside LAMMPS the fix switches to
  glassfix' own backend by itself);
- ``ka_botan.glassfix``: the BOTAN network with the authors' edge-pretrained weights
  (``shared/data/botan_reference``), converted by ``BotanModel.from_reference_weights``.

Training data (small on purpose: these models make the inputs in lammps_inputs/ run out of the box; they
are not science): two configurations of the shared isoconfigurational KA data (N = 4096, T = 0.44,
t = 4120, 32 replicas); label "rearranging" = propensity (replica mean |Δr|) in the top 10 % of its
species, "quiescent" = bottom 50 %, up to 150 atoms of each class per species and configuration (B: 81).
"""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SEED = 7
N_PER_CLASS = 150


def provenance(**params) -> dict:
    """What every manifest records about how the model was made."""
    from glassfix import __version__
    from glassfix.data.shared import SHARED_ISO

    return {"script": "examples/models/make_models.py", "command": "python examples/models/make_models.py",
            "data": SHARED_ISO + " (configurations 1 and 2)", "date": datetime.date.today().isoformat(),
            "glassfix_version": __version__,
            "labels": "propensity (replica mean |dr|, t = 4120) top 10 % of the species = 1, bottom 50 % = 0",
            "parameters": params}


def training_set(species: int) -> list[tuple[object, np.ndarray, np.ndarray]]:
    """Per configuration: (frame, centre indices, labels) for atoms of ``species``."""
    from glassfix.data.shared import load_iso_npz, shared_iso_files
    from glassfix.labels.propensity import propensity

    rng = np.random.default_rng(SEED + species)
    out = []
    for path in shared_iso_files()[:2]:
        frame, reps = load_iso_npz(path)
        prop = propensity(frame.positions, reps, kind="abs")
        idx = np.flatnonzero(frame.types == species)
        hi, lo = np.quantile(prop[idx], 0.9), np.quantile(prop[idx], 0.5)
        k = min(N_PER_CLASS, int(np.count_nonzero(prop[idx] >= hi)))
        pos = rng.choice(idx[prop[idx] >= hi], k, replace=False)
        neg = rng.choice(idx[prop[idx] <= lo], k, replace=False)
        centers = np.concatenate([pos, neg])
        out.append((frame, centers, np.r_[np.ones(k, bool), np.zeros(k, bool)]))
    return out


def features(desc, species: int) -> tuple[np.ndarray, np.ndarray]:
    rows, ys = [], []
    for frame, centers, y in training_set(species):
        rows.append(desc.compute(frame, centers=centers))
        ys.append(y)
    return np.concatenate(rows), np.concatenate(ys)


def make_start(path: Path) -> None:
    import shutil
    import tempfile

    from glassfix.protocols import PrepareSpec, Stage, run

    spec = PrepareSpec(n=500, T=0.45, T_melt=2.0, melt_steps=2000, quench_steps=4000,
                       stages=(Stage("nvt", 2000),), chunk_steps=8000, thermo_every=500, seed=SEED)
    with tempfile.TemporaryDirectory() as tmp:
        res = run(spec, Path(tmp) / "prep", progress=False)
        if not res.complete:
            raise RuntimeError("preparation did not complete")
        shutil.copyfile(Path(tmp) / "prep" / "inherent.data", path)


def main() -> int:
    from glassfix.data.shared import SHARED_BOTAN_WEIGHTS, shared_dir
    from glassfix.descriptors.ace import ACEDescriptor
    from glassfix.descriptors.interstice import IntersticeDescriptor
    from glassfix.descriptors.structure_functions import RadialStructureFunctions
    from glassfix.models.activity import ActivityModel
    from glassfix.models.botan import BotanModel
    from glassfix.models.looseness import LoosenessModel
    from glassfix.models.softness import SoftnessModel

    species = ["A", "B"]
    make_start(HERE / "ka_start.data")
    print("wrote ka_start.data")

    desc = RadialStructureFunctions(n_species=2, species_names=species)
    data = {t: features(desc, t) for t in (0, 1)}
    SoftnessModel.train(desc, data, C=1.0, species=species, seed=SEED,
                        provenance=provenance(model="linear SVM per species", C=1.0, descriptor=desc.spec(),
                                              n_per_class=N_PER_CLASS)).save(HERE / "ka_softness.glassfix")
    print("wrote ka_softness.glassfix")

    desc = ACEDescriptor(n_species=2, r_cut=4.0, degree=6, species_names=species)
    X, y = features(desc, 0)
    ActivityModel.train(desc, {0: (X, y)}, C=1.0, species=species, seed=SEED,
                        provenance=provenance(model="logistic regression, A atoms", C=1.0, descriptor=desc.spec(),
                                              n_per_class=N_PER_CLASS)).save(HERE / "ka_ace.glassfix")
    print("wrote ka_ace.glassfix")

    desc = IntersticeDescriptor(n_species=2, species_names=species)  # defaults, as a user would train
    X, y = features(desc, 0)
    LoosenessModel.train(desc, X, y, n_learners=10, C=1.0, seed=SEED, species=species,
                         provenance=provenance(model="EasyEnsemble of 10 logistic regressions, A atoms", C=1.0,
                                               descriptor=desc.spec(), n_per_class=N_PER_CLASS)
                         ).save(HERE / "ka_looseness.glassfix")
    print("wrote ka_looseness.glassfix")

    weights = shared_dir() / SHARED_BOTAN_WEIGHTS
    model = BotanModel.from_reference_weights(str(weights), species=species)
    model.provenance = {**provenance(model="BOTAN, authors' edge-pretrained weights (no training here)",
                                     weights=SHARED_BOTAN_WEIGHTS, r_edge=2.0, n_steps=7),
                        "data": SHARED_BOTAN_WEIGHTS, "labels": "none (pretrained by Shiba et al. 2023)"}
    model.save(HERE / "ka_botan.glassfix")
    print("wrote ka_botan.glassfix")
    return 0


if __name__ == "__main__":
    sys.exit(main())
