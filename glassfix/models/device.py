"""Where a torch model evaluates: the ``device auto|cpu|cuda`` choice of ``fix glass/predict``,
``glassfix predict --device`` and the OpenMM ``PredictorReporter(device=...)``.

``auto`` uses a CUDA GPU when torch sees one in this process (the rank's GPU: local rank modulo the number
of visible GPUs), the CPU otherwise; ``cuda`` without a visible GPU is an error rather than a silent CPU
run. Models without a torch network always evaluate on the CPU.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["DEVICES", "resolve_device", "place_model"]

DEVICES = ("auto", "cpu", "cuda")

# the launchers' local-rank variables (MPICH/hydra, Open MPI, Slurm): ranks on one node share its GPUs
_LOCAL_RANK_VARS = ("MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK", "PMI_LOCAL_RANK", "SLURM_LOCALID")


def _local_rank() -> int:
    """This process's rank among those on its node (0 outside MPI)."""
    for var in _LOCAL_RANK_VARS:
        value = os.environ.get(var, "")
        if value.isdigit():
            return int(value)
    return 0


def resolve_device(requested: str, context: str) -> str:
    """``'cpu'`` or ``'cuda:K'`` for ``requested`` in auto|cpu|cuda; ValueError prefixed by ``context`` (e.g.
    'glassfix predict --device'; empty where the caller prefixes it, as LAMMPS does with the fix's name)
    for an unknown value or for cuda when no GPU is visible."""
    where = f"{context}: " if context else ""
    if requested not in DEVICES:
        raise ValueError(f"{where}device must be auto, cpu or cuda, got '{requested}'")
    if requested == "cpu":
        return "cpu"
    try:
        import torch
    except ImportError:
        if requested == "cuda":
            raise ValueError(f"{where}device cuda needs PyTorch with CUDA, and torch is not installed; "
                             "use device auto or cpu") from None
        return "cpu"
    n_gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if n_gpus == 0:
        if requested == "cuda":
            visible = os.environ.get("CUDA_VISIBLE_DEVICES", "unset")
            build = "a CPU-only build" if torch.version.cuda is None else f"CUDA {torch.version.cuda}"
            raise ValueError(f"{where}device cuda requested but no CUDA GPU is visible to this process "
                             f"(torch {torch.__version__}, {build}, CUDA_VISIBLE_DEVICES={visible}); "
                             "use device auto (GPU when present, else CPU) or device cpu")
        return "cpu"
    return f"cuda:{_local_rank() % n_gpus}"


def place_model(model: Any, requested: str, context: str) -> str:
    """Put ``model``'s network on the resolved device and return it ('cpu' or 'cuda:K'); a model without
    a torch network stays on the CPU (and refuses an explicit cuda); errors as resolve_device."""
    where = f"{context}: " if context else ""
    if not getattr(model, "uses_torch", False):
        if requested not in DEVICES:
            raise ValueError(f"{where}device must be auto, cpu or cuda, got '{requested}'")
        if requested == "cuda":
            raise ValueError(f"{where}device cuda applies to torch models (botan); this "
                             f"{getattr(model, 'kind', type(model).__name__)} model evaluates on the CPU "
                             "(use device auto or cpu)")
        return "cpu"
    device = resolve_device(requested, context)
    model.set_device(device)
    return device
