"""Simulation protocols: glass preparation, NVE production, creep and AQS shear — resumable, on 1 or K ranks.

Each protocol is a dataclass spec plus ``run(spec, workdir, engine="lammps", nprocs=1, store=None,
resume=True, progress=True)``. See ``docs/protocols.md`` for the physics, parameters, checkpoint layout
and CLI (``glassfix prepare``, ``glassfix run nve|creep|aqs``). Units: LJ reduced units.

    from glassfix.protocols import PrepareSpec, CreepSpec, run
    res = run(CreepSpec(prepare=PrepareSpec.for_creep(n=1000), steps=100_000), "creep_run")
"""

from glassfix.protocols.api import PROTOCOLS, protocol_of, run, run_local, spec_from_dict
from glassfix.protocols.aqs import AQSSpec, detect_events
from glassfix.protocols.base import MinimizeSettings
from glassfix.protocols.common import ProtocolError, ProtocolResult, load_frame_npz, read_series
from glassfix.protocols.creep import CreepSpec
from glassfix.protocols.nve import NVESpec
from glassfix.protocols.prepare import PrepareSpec, Stage

__all__ = [
    "run", "run_local", "spec_from_dict", "protocol_of", "PROTOCOLS", "PrepareSpec", "Stage", "NVESpec",
    "CreepSpec", "AQSSpec", "MinimizeSettings", "ProtocolError", "ProtocolResult", "detect_events",
    "load_frame_npz", "read_series",
]
