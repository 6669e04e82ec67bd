"""OpenMM engine (DESIGN.md §7): Systems for every glassfix model glass former (one neighbour-listed force,
cost linear in N; :mod:`~glassfix.engines.openmm.forces`) and a reporter that runs any glassfix model
every N steps, writing the same per-atom outputs and means as ``fix glass/predict``; AQS shear in
:mod:`~glassfix.engines.openmm.aqs`, creep at constant uniaxial stress in
:mod:`~glassfix.engines.openmm.creep`, swap moves in :mod:`~glassfix.mc.openmm_swap`, the sessions that run
the protocols (``glassfix run … --engine openmm``) in :mod:`~glassfix.engines.openmm.session`.

Units: LJ reduced units map one to one onto OpenMM's with σ_AA → 1 nm, ε_AA → 1 kJ/mol and m → 1 amu,
so τ → 1 ps; a reduced temperature T* is ``kelvin(T*)`` = T* / k_B[kJ/mol/K] kelvin. openmm is imported
lazily (``pip install 'glassfix[openmm]'``, openmm 8.6.1). Platform: CUDA when it can run here, else CPU
(``best_platform``); the Reference platform (double precision) is what the tests compare with.
"""

from glassfix.engines.openmm.reporter import PredictorReporter, frame_from_state
from glassfix.engines.openmm.system import best_platform, build_system, kelvin, make_simulation

__all__ = ["build_system", "make_simulation", "best_platform", "kelvin", "PredictorReporter",
           "frame_from_state"]
