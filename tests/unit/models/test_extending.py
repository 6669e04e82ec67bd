"""Adding a model kind through the documented path (docs/architecture.md) takes a few lines."""

import numpy as np

from glassfix.core.frame import Frame
from glassfix.descriptors.structure_functions import RadialStructureFunctions
from glassfix.models import load_model, predict_frame
from glassfix.models.base import Predictor, descriptor_from_manifest, register_model


@register_model
class ToyLinear(Predictor):
    """A linear read-out of any descriptor: the whole kind is the 12 lines below."""

    kind = "toy-linear"

    def __init__(self, descriptor, species, w, provenance=None):
        super().__init__(descriptor, species, ["toy"], provenance)
        self.w = np.asarray(w, dtype=np.float64)

    def predict_features(self, X, center_types):
        return (X @ self.w)[:, None]

    def params(self):
        return {}

    def arrays(self):
        return {"w": self.w}

    @classmethod
    def from_file_contents(cls, manifest, arrays):
        return cls(descriptor_from_manifest(manifest), manifest["species"], arrays["w"], manifest["provenance"])


def test_toy_kind_saves_loads_and_predicts(tmp_path):
    rng = np.random.default_rng(0)
    frame = Frame(positions=rng.uniform(0, 6, (80, 3)), types=rng.integers(0, 2, 80), cell=np.eye(3) * 6.0,
                  species=("A", "B"))
    desc = RadialStructureFunctions(n_species=2, species_names=["A", "B"])
    w = rng.normal(size=desc.n_features)
    path = ToyLinear(desc, ["A", "B"], w, {"made_by": "test"}).save(tmp_path / "toy.glassfix")
    model = load_model(path)
    assert type(model) is ToyLinear and model.provenance == {"made_by": "test"}
    expected = desc.compute(frame) @ w  # the reference: the descriptor and a plain dot product
    np.testing.assert_array_equal(predict_frame(path, frame)[:, 0], expected)
