"""Model files for tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def make_softness_model(path: Path, seed: int = 0, species=("A", "B")) -> Path:
    """A softness model with random (but fixed) weights on the default radial structure functions."""
    from glassfix.descriptors.structure_functions import RadialStructureFunctions
    from glassfix.models.softness import SoftnessHead, SoftnessModel

    desc = RadialStructureFunctions(n_species=len(species), species_names=list(species))
    rng = np.random.default_rng(seed)
    heads = {t: SoftnessHead(mean=rng.uniform(0, 2, desc.n_features), scale=rng.uniform(0.5, 2, desc.n_features),
                             w=rng.normal(size=desc.n_features), b=float(rng.normal()))
             for t in range(len(species))}
    SoftnessModel(desc, list(species), heads).save(path)
    return path
