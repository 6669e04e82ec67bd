"""Model glass formers. Each system exports LAMMPS commands (and, later, an OpenMM System).

``get_system(name, **kwargs)`` builds a registered system by name (``"ka3d"``).
"""

from __future__ import annotations

from typing import Any, Callable

from glassfix.systems.ka import KobAndersen3D

_REGISTRY: dict[str, Callable[..., Any]] = {
    "ka3d": KobAndersen3D,
}


def available_systems() -> list[str]:
    """Names accepted by :func:`get_system`."""
    return sorted(_REGISTRY)


def get_system(name: str, **kwargs: Any) -> Any:
    """Instantiate the system registered as ``name`` (case-insensitive) with ``kwargs``."""
    key = name.lower().replace("-", "").replace("_", "")
    try:
        factory = _REGISTRY[key]
    except KeyError:
        raise KeyError(f"unknown system {name!r}; available: {', '.join(available_systems())}") from None
    return factory(**kwargs)


__all__ = ["KobAndersen3D", "get_system", "available_systems"]
