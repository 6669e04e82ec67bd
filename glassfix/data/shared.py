"""The project's shared data folder (``../shared`` beside the checkout, or ``$GLASSFIX_SHARED``).

It holds the BOTAN isoconfigurational KA configurations (N = 4096, T = 0.44, 32 replicas at t = τα) and
the BOTAN reference weights; reproductions, benchmarks and tests read them from here.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from glassfix.core.frame import Frame

__all__ = ["shared_dir", "shared_iso_files", "load_iso_npz", "SHARED_ISO", "SHARED_BOTAN_WEIGHTS"]

SHARED_ISO = "data/ka3d_T0.44_iso_tc07/train"
SHARED_BOTAN_WEIGHTS = "data/botan_reference/pretrained_edge_model1_state_dict.npz"


def shared_dir() -> Path:
    """$GLASSFIX_SHARED, else ``shared/`` beside the checkout."""
    env = os.environ.get("GLASSFIX_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared"


def shared_iso_files() -> list[Path]:
    """The shared isoconfigurational ``.npz`` files ordered by configuration number (1, 2, …, 10)."""
    files = sorted((shared_dir() / SHARED_ISO).glob("isoconfig_*.npz"), key=lambda p: int(p.stem.split("_")[2]))
    if not files:
        raise FileNotFoundError(f"no isoconfigurational files in {shared_dir() / SHARED_ISO}; set GLASSFIX_SHARED "
                                "to the shared/ folder")
    return files


def load_iso_npz(path: str | os.PathLike[str], density: float = 1.2) -> tuple[Frame, np.ndarray]:
    """(t = 0 frame in a cubic box of the given number density, replicas (R, N, 3) unwrapped) of a BOTAN file."""
    with np.load(path, allow_pickle=False) as z:
        types, x0, reps = z["types"].astype(np.int64), z["initial_positions"], z["positions"]
    L = (types.size / density) ** (1.0 / 3.0)    # the printed 15.05658 is this, rounded
    frame = Frame(positions=x0, types=types, cell=np.eye(3) * L, species=("A", "B"),
                  metadata={"source": str(path)})
    return frame, reps
