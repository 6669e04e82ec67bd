"""One conformance test over every registered descriptor and model kind (the contracts of DESIGN.md §4).

Each built-in kind must appear in the factories below (a new kind fails ``test_every_kind_is_covered``
until it is added), and every kind must: round-trip its spec / model file exactly, return the documented
shapes, give each centre the same value whatever the atom order, and be invariant under a rigid
translation of the periodic configuration.
"""

from __future__ import annotations

import numpy as np
import pytest

from glassfix.core.frame import Frame
from glassfix.descriptors.base import DESCRIPTOR_KINDS
from glassfix.models.registry import _BUILTINS as MODEL_BUILTINS
from glassfix.models.registry import MODEL_KINDS

SPECIES = ["A", "B"]

DESCRIPTORS = {
    "radial_structure_functions": {"kind": "radial_structure_functions", "n_species": 2, "cutoff": 2.5},
    "angular_structure_functions": {"kind": "angular_structure_functions", "n_species": 2, "cutoff": 2.2},
    "combined": {"kind": "combined", "components": [
        {"kind": "radial_structure_functions", "n_species": 2, "cutoff": 2.0},
        {"kind": "angular_structure_functions", "n_species": 2, "cutoff": 2.0}]},
    "ace": {"kind": "ace", "n_species": 2, "r_cut": 2.5, "degree": 5},
    "coarse_grained": {"kind": "coarse_grained", "n_species": 2, "lengths": [0.0, 1.0, 2.0],
                       "quantities": ["density", "perimeter"], "max_range": 2.5, "voronoi_backend": "numba"},
    "interstice": {"kind": "interstice", "n_species": 2, "voronoi_backend": "numba"},
    "particle_graph": {"kind": "particle_graph", "n_species": 2, "r_edge": 2.0},
}


def _frame(seed: int = 0, n: int = 60) -> Frame:
    """A dense random binary mixture in a periodic cube (ρ = 1.2), positions jittered off a grid."""
    rng = np.random.default_rng(seed)
    length = (n / 1.2) ** (1 / 3)
    k = int(np.ceil(n ** (1 / 3)))
    grid = np.stack(np.meshgrid(*[np.arange(k)] * 3, indexing="ij"), -1).reshape(-1, 3)[:n] * (length / k)
    pos = (grid + rng.normal(0, 0.08, grid.shape)) % length
    return Frame(positions=pos, types=(rng.random(n) < 0.3).astype(np.int64), cell=np.eye(3) * length,
                 species=tuple(SPECIES))


def _moved(frame: Frame, perm: np.ndarray, shift: np.ndarray) -> Frame:
    L = np.diag(frame.cell)
    return Frame(positions=(frame.positions[perm] + shift) % L, types=frame.types[perm], cell=frame.cell,
                 species=frame.species)


def test_every_kind_is_covered():
    assert set(DESCRIPTORS) == set(DESCRIPTOR_KINDS.names())
    assert set(MODEL_FACTORIES) == set(MODEL_BUILTINS)


@pytest.mark.parametrize("kind", sorted(DESCRIPTORS))
def test_descriptor_contract(kind):
    desc = DESCRIPTOR_KINDS.get(kind).from_spec(DESCRIPTORS[kind])
    spec = desc.spec()
    assert spec["kind"] == kind and DESCRIPTOR_KINDS.get(kind).from_spec(spec).spec() == spec
    frame = _frame()
    X = desc.compute(frame)
    assert X.dtype == np.float64 and X.shape == (frame.n_atoms, desc.n_features) == (frame.n_atoms, len(desc.names))
    assert np.isfinite(X).all()
    rng = np.random.default_rng(1)
    perm = rng.permutation(frame.n_atoms)
    Y = desc.compute(_moved(frame, perm, rng.uniform(-3, 3, 3)))
    np.testing.assert_allclose(Y, X[perm], rtol=1e-9, atol=1e-9)
    centers = np.array([3, 7, 11])
    np.testing.assert_allclose(desc.compute(frame, centers=centers), X[centers], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", sorted(DESCRIPTORS))
def test_descriptor_compute_hook(kind):
    """``_compute(frame, nl)`` (the one method a new descriptor implements) gives the rows of ``compute``."""
    from glassfix.core.neighbors import neighbor_list

    desc = DESCRIPTOR_KINDS.get(kind).from_spec(DESCRIPTORS[kind])
    frame = _frame(5)
    centers = np.array([0, 4, 9, 31])
    nl = neighbor_list(frame, desc.cutoff if np.isfinite(desc.cutoff) else 1.5, centers)
    out = desc._compute(frame, nl)
    assert out.shape == (centers.size, desc.n_features)
    np.testing.assert_allclose(out, desc.compute(frame)[centers], rtol=1e-12, atol=1e-12)


def _heads(n_features: int, rng: np.random.Generator):
    from glassfix.models.softness import SoftnessHead

    return {t: SoftnessHead(mean=rng.normal(size=n_features), scale=rng.uniform(0.5, 2, n_features),
                            w=rng.normal(size=n_features), b=float(rng.normal()), C=1.0) for t in (0, 1)}


def _softness(rng):
    from glassfix.descriptors.structure_functions import RadialStructureFunctions
    from glassfix.models import SoftnessModel

    d = RadialStructureFunctions(n_species=2, species_names=SPECIES, cutoff=2.5)
    return SoftnessModel(d, SPECIES, _heads(d.n_features, rng))


def _activity(rng):
    from glassfix.descriptors.ace import ACEDescriptor
    from glassfix.models import ActivityModel

    d = ACEDescriptor(n_species=2, r_cut=2.5, degree=5, species_names=SPECIES)
    return ActivityModel(d, SPECIES, _heads(d.n_features, rng))


def _looseness(rng):
    from glassfix.descriptors.interstice import IntersticeDescriptor
    from glassfix.models import LoosenessModel

    d = IntersticeDescriptor(n_species=2, species_names=SPECIES, voronoi_backend="numba")
    m = 5
    return LoosenessModel(d, SPECIES, np.arange(m), rng.normal(size=m), rng.uniform(0.5, 2, m),
                          rng.normal(size=(3, m)), rng.normal(size=3), center_types=(0, 1))


def _botan(rng):
    pytest.importorskip("torch")
    import torch

    from glassfix.descriptors.graph import ParticleGraph
    from glassfix.models import BotanModel
    from glassfix.models.botan import build_network

    torch.manual_seed(int(rng.integers(1 << 30)))
    return BotanModel.from_network(build_network(hidden=8, n_steps=2), ParticleGraph(2, 2.0, SPECIES), SPECIES)


def _tglassmlp(rng):
    pytest.importorskip("torch")
    from glassfix.descriptors.coarse_grained import CoarseGrainedDescriptor
    from glassfix.models import TGlassMLPModel
    from glassfix.models.tglassmlp_net import init_parameters, stack_members

    # the default quench: every prediction minimises the frame first (FIRE under the KA potential)
    d = CoarseGrainedDescriptor(2, lengths=[0.0, 1.0, 2.0], max_range=3.0, species_names=SPECIES,
                                pair_energy="ka3d", voronoi_backend="numba")
    seed = int(rng.integers(1 << 20))
    p = stack_members([init_parameters(d.n_features, "tglassmlp", seed + k) for k in range(2)])
    return TGlassMLPModel(d, SPECIES, rng.normal(size=d.n_features), rng.uniform(0.5, 2, d.n_features), p,
                          0.45, [0.9, 0.5], center_types=(0, 1), fire_ftol=1e-8)


MODEL_FACTORIES = {"softness": _softness, "ace": _activity, "looseness": _looseness, "botan": _botan,
                   "tglassmlp": _tglassmlp}


@pytest.mark.parametrize("kind", sorted(MODEL_FACTORIES))
def test_model_contract(kind, tmp_path):
    from glassfix.models import load_model

    model = MODEL_FACTORIES[kind](np.random.default_rng(2))
    assert model.kind == kind and MODEL_KINDS.get(kind) is type(model)
    frame = _frame(3)
    P = model.predict(frame)
    assert P.dtype == np.float64 and P.shape == (frame.n_atoms, model.n_outputs)
    loaded = load_model(model.save(tmp_path / f"{kind}.glassfix"))
    assert type(loaded) is type(model) and loaded.manifest() == model.manifest()
    np.testing.assert_array_equal(loaded.predict(frame), P)  # save -> load -> predict is bit-identical
    rng = np.random.default_rng(4)
    perm = rng.permutation(frame.n_atoms)
    tol = 2e-5 if getattr(model, "uses_torch", False) else 1e-9  # float32 networks
    np.testing.assert_allclose(model.predict(_moved(frame, perm, rng.uniform(-3, 3, 3))), P[perm],
                               rtol=tol, atol=tol)
    assert model.native_tables(np.array([0, 1])) is None or kind == "softness"
