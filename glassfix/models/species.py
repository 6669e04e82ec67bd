"""Which model species each engine atom type is: the map used by ``fix glass/predict``, ``glassfix predict``
and the OpenMM reporter alike."""

from __future__ import annotations

import numpy as np

__all__ = ["species_map"]


def species_map(model_species: list[str], ntypes: int, types_kw: list[str] | None,
                source: str) -> np.ndarray:
    """Map engine types 1..ntypes to model species indices (array index t−1); ValueError (one line naming
    the fix: the ``types`` keyword) if impossible. ``types_kw``: one species name per engine type."""
    if types_kw is None:
        if ntypes != len(model_species):
            raise ValueError(
                f"the model {source} has {len(model_species)} species ({' '.join(model_species)}) but "
                f"LAMMPS has {ntypes} atom types; map each LAMMPS type to a model species with "
                f"'types {' '.join(model_species[min(i, len(model_species) - 1)] for i in range(ntypes))}'"
                f" (one species name per LAMMPS type)")
        return np.arange(ntypes, dtype=np.int64)
    if len(types_kw) != ntypes:
        raise ValueError(f"'types' needs exactly one model species per LAMMPS type ({ntypes}), got "
                          f"{len(types_kw)}: {' '.join(types_kw)}")
    unknown = [s for s in types_kw if s not in model_species]
    if unknown:
        raise ValueError(f"'types' names species {' '.join(unknown)} that the model {source} does not "
                          f"have; its species are {' '.join(model_species)}")
    return np.array([model_species.index(s) for s in types_kw], dtype=np.int64)
