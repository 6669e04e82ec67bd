"""Make the small example models and start configuration in examples/models/ (run from the repository root).

    python examples/models/make_models.py            # a few minutes on 2 cores; overwrites the files below

Every model is trained by the public commands a user runs (each manifest's provenance records the exact
command, the store hash, the label and its rule):

    glassfix data import botan <shared iso file> store.h5          (configurations 1-3, propensity labels)
    glassfix train softness|ace|looseness|botan --store store.h5 ...

- ``ka_start.data``: a 3D Kob–Andersen glass, N = 500, ρ = 1.2: melt at T = 2, quench to T = 0.45,
  2000 NVT steps, minimised (``glassfix.protocols``: the same code as ``glassfix prepare``);
- ``ka_softness.glassfix``: linear SVM (C = 1) per species on the default radial structure functions;
- ``ka_ace.glassfix``: logistic-regression activity classifier of A atoms on ACE invariants (r_cut = 4,
  body order ≤ 4, degree 6);
- ``ka_looseness.glassfix``: EasyEnsemble of 10 logistic regressions on the 60 interstice features of A
  atoms, trained with the freud Voronoi backend (inside LAMMPS the fix switches to glassfix' own backend
  by itself — the inputs exercise that);
- ``ka_botan.glassfix``: BOTAN fine-tuned for one epoch from the authors' edge-pretrained weights
  (``shared/data/botan_reference``).

Training data (small on purpose: these models make the inputs in lammps_inputs/ run out of the box; they
are not science): three configurations of the shared isoconfigurational KA data (N = 4096, T = 0.44,
t = 4120, 32 replicas); label "rearranging" = propensity (replica mean |Δr|) in the top 10 % of its
species, "quiescent" = bottom 50 %, at most 150 atoms of each class per species.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 7
CLASSES = ["--label", "propensity", "--top", "0.1", "--bottom", "0.5", "--per-class", "150", "--seed", str(SEED)]


def glassfix(*argv: str) -> None:
    """Run one ``glassfix`` command in this process (the same entry point as the shell command)."""
    from glassfix.cli import main as cli

    print("$ glassfix " + " ".join(argv), flush=True)
    rc = cli(list(argv))
    if rc:
        raise SystemExit(f"glassfix {argv[0]} failed with exit code {rc}")


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
    import shutil
    import tempfile

    from glassfix.data.shared import SHARED_BOTAN_WEIGHTS, shared_dir, shared_iso_files

    make_start(HERE / "ka_start.data")
    print("wrote ka_start.data")
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "ka_iso.h5"
        for path in shared_iso_files()[:3]:
            glassfix("data", "import", "botan", str(path), str(store))
        runs = {
            "softness": ["--species", "A", "B", "--C", "1", "--cv-C"],
            "ace": ["--species", "A", "--body-order", "4", "--degree", "6", "--r-cut", "4", "--C", "1", "--cv-C"],
            "looseness": ["--species", "A", "--voronoi-backend", "freud", "--rfe", "0", "--learners", "10"],
        }
        for kind, extra in runs.items():
            glassfix("train", kind, "--store", str(store), "--out", str(Path(tmp) / kind), *CLASSES, *extra)
            shutil.copyfile(Path(tmp) / kind / f"{kind}.glassfix", HERE / f"ka_{kind}.glassfix")
            print(f"wrote ka_{kind}.glassfix")
        glassfix("train", "botan", "--store", str(store), "--out", str(Path(tmp) / "botan"), "--time-label",
                 "t=4120", "--epochs", "1", "--init", str(shared_dir() / SHARED_BOTAN_WEIGHTS), "--seed", str(SEED))
        shutil.copyfile(Path(tmp) / "botan" / "botan.glassfix", HERE / "ka_botan.glassfix")
        print("wrote ka_botan.glassfix")
    return 0


if __name__ == "__main__":
    sys.exit(main())
