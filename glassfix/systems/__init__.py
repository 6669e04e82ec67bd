"""Model glass formers. Each system exports LAMMPS commands, starting configurations and a numba potential.

``get_system(name, **kwargs)`` builds a registered system by name (case-insensitive; ``-``/``_`` ignored):

=================  ==========================================================  =========================
name               model                                                       module
=================  ==========================================================  =========================
``ka3d``           3D Kob–Andersen 80:20 LJ mixture                            :mod:`.ka`
``ka2d``           2D Kob–Andersen 65:35 LJ mixture                            :mod:`.ka2d`
``jbb``            2D ternary Jung–Biroli–Berthier (polynomial-smoothed LJ)   :mod:`.jbb`
``wahnstrom``      Wahnström 50:50 LJ mixture (m_A = 2 m_B)                    :mod:`.wahnstrom`
``kremergrest``    Kremer–Grest bead-spring polymer (alias ``kg``)             :mod:`.polymer`
``polydisperse``   NBC continuously polydisperse soft spheres (alias ``nbc``)  :mod:`.polydisperse`
=================  ==========================================================  =========================

Parameters, sources and LAMMPS realisations: ``docs/systems.md`` and each module's docstring.
"""

from __future__ import annotations

from typing import Any, Callable

from glassfix.core.registry import Registry
from glassfix.systems.jbb import JBB
from glassfix.systems.ka import KobAndersen3D
from glassfix.systems.ka2d import KobAndersen2D
from glassfix.systems.polydisperse import Polydisperse
from glassfix.systems.polymer import KremerGrest
from glassfix.systems.wahnstrom import Wahnstrom

#: name -> system class; aliases and spelling (case, ``-``, ``_``) are normalised by the registry.
SYSTEMS: Registry[Callable[..., Any]] = Registry(
    "system",
    builtins={
        "ka3d": "glassfix.systems.ka:KobAndersen3D",
        "ka2d": "glassfix.systems.ka2d:KobAndersen2D",
        "jbb": "glassfix.systems.jbb:JBB",
        "wahnstrom": "glassfix.systems.wahnstrom:Wahnstrom",
        "kremergrest": "glassfix.systems.polymer:KremerGrest",
        "polydisperse": "glassfix.systems.polydisperse:Polydisperse",
    },
    aliases={"kg": "kremergrest", "nbc": "polydisperse", "wahnström": "wahnstrom"},
    key="name",
    normalize=lambda s: s.lower().replace("-", "").replace("_", ""),
)


def available_systems() -> list[str]:
    """Names accepted by :func:`get_system` (aliases not listed)."""
    return SYSTEMS.names()


def get_system(name: str, **kwargs: Any) -> Any:
    """Instantiate the system registered as ``name`` (case-insensitive, ``-``/``_`` ignored) with ``kwargs``."""
    return SYSTEMS.get(name)(**kwargs)


__all__ = ["KobAndersen3D", "KobAndersen2D", "JBB", "Wahnstrom", "KremerGrest", "Polydisperse",
           "get_system", "available_systems", "SYSTEMS"]
