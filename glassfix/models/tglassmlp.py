"""tGlassMLP (Jung, Biroli & Berthier, PRB 109, 064205 (2024); digest ``shared/science/001_jung.md`` §4–5):
the transferable predictor of the bond-breaking propensity C_B^i at state points (T, C = ⟨C̄_B(t)⟩), and
its single-state-point baseline GlassMLP, as model kind ``"tglassmlp"``.

A model holds
* the coarse-grained descriptor (:class:`~glassfix.descriptors.coarse_grained.CoarseGrainedDescriptor`, 176
  features for the 2D ternary JBB model) and a **frozen standardiser** (mean, scale; scale 1 for constant
  columns: 12 of the 176 are constant for type-0 centres);
* an **ensemble** of E networks (:mod:`glassfix.models.tglassmlp_net`, the kept step-2 networks of the
  transfer procedure); predictions are the ensemble mean, the spread (std across members) the error bar;
* its **state**: ``temperature`` T (ε/k_B) and ``targets``, the grid of C values it predicts (one output
  column ``cb_<C>`` per target), with the network inputs ``inputs`` used for them (= targets, or the
  constrained-mean corrected values after :meth:`calibrate`). Set at train time, changed with
  :meth:`set_state` (or ``glassfix predict --temperature/--targets``).
* ``quench``: ``"fire"`` (default) — the descriptors are computed on the inherent structure of the frame
  it is given, obtained in-process with FIRE (:func:`glassfix.systems.minimize.fire_minimize`, max|F| <
  ``fire_ftol``) under the descriptor's pair potential, as the paper does (§4.1); so the model can be fed
  thermal configurations offline, in ``fix glass/predict`` and in the OpenMM reporter alike.
  ``"none"``: the caller passes inherent structures.

Predictions are made for the centre species in ``center_types`` (type 0, "A", the large particles the
paper trains on); other atoms get NaN. The receptive field is unbounded (Voronoi cells and the
minimisation need the whole periodic frame; R = 20 also exceeds half the 2D box), so ``fix
glass/predict`` evaluates it in ``mode gather`` (chosen automatically).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

import numpy as np

from glassfix.core.frame import Frame, NeighborList
from glassfix.descriptors.base import as_center_indices
from glassfix.descriptors.coarse_grained import CoarseGrainedDescriptor
from glassfix.models.base import Predictor, descriptor_from_manifest, register_model
from glassfix.models.io import ModelFileError
from glassfix.models.tglassmlp_net import VARIANTS, build_network, parameter_shapes, state_embedding

__all__ = ["TGlassMLPModel", "StatePrediction", "output_name", "constrained_inputs"]

QUENCH = ("fire", "none")


def output_name(c: float) -> str:
    """Output column name of target C (``cb_0.5``); one token, usable in ``fix ... out NAME``."""
    return f"cb_{float(c):g}"


@dataclasses.dataclass
class StatePrediction:
    """Result of :meth:`TGlassMLPModel.predict_states` (C_B dimensionless).

    ``mean[f]`` (n_f, K) ensemble-mean propensity of the centres of frame f at each target; ``std[f]`` (n_f, K)
    spread across members; ``members[f]`` (E, n_f, K) every member; ``centers[f]`` their atom indices;
    ``inputs`` (K,) network inputs C* used (the constrained mean's corrected values); ``set_mean`` (K,) the
    mean over all centres of all frames at those inputs; ``iterations`` (K,) and ``sign`` (K,) of the
    correction (+1: X̄ increases with C)."""

    mean: list[np.ndarray]
    std: list[np.ndarray]
    members: list[np.ndarray]
    centers: list[np.ndarray]
    targets: np.ndarray
    inputs: np.ndarray
    set_mean: np.ndarray
    iterations: np.ndarray
    sign: np.ndarray


def constrained_inputs(mean_at: Any, target: float, factor: float = 0.75, max_iter: int = 6,
                       tol: float = 1e-6, h: float = 1e-3) -> tuple[float, float, int, float]:
    """Digest §5.5: the input C* with X̄(C*) ≈ target, X̄(c) = ``mean_at(c)`` the mean prediction over the
    whole set of structures. C^{j+1} = C^j − s · factor · (X̄^j − target), s = sign of dX̄/dC measured by a
    central difference (step h) at C^0 = target ("sign checked numerically"); at most ``max_iter``
    corrections, stop when |X̄ − target| < tol; returns the best (C*, X̄(C*), iterations, s) seen."""
    c = float(target)
    xbar = float(mean_at(c))
    slope = float(mean_at(c + h)) - float(mean_at(c - h))
    s = 1.0 if slope >= 0 else -1.0
    best = (c, xbar)
    it = 0
    for it in range(1, int(max_iter) + 1):
        if abs(xbar - target) < tol:
            it -= 1
            break
        c = c - s * factor * (xbar - target)
        xbar = float(mean_at(c))
        if abs(xbar - target) < abs(best[1] - target):
            best = (c, xbar)
    return best[0], best[1], it, s


@register_model
class TGlassMLPModel(Predictor):
    """tGlassMLP / GlassMLP ensemble predicting C_B^i at the model's (temperature, targets); see the module
    docstring. Outputs ``cb_<C>`` per target."""

    kind = "tglassmlp"
    uses_torch = True    # the LAMMPS bridge limits torch to one thread per MPI rank

    def __init__(self, descriptor: CoarseGrainedDescriptor, species: Sequence[str], mean: np.ndarray,
                 scale: np.ndarray, params: dict[str, np.ndarray], temperature: float, targets: Sequence[float],
                 inputs: Sequence[float] | None = None, variant: str = "tglassmlp",
                 bottleneck_act: str = "linear", center_types: Sequence[int] = (0,), quench: str = "fire",
                 fire_ftol: float = 1e-6, metrics: dict[str, Any] | None = None,
                 provenance: dict[str, Any] | None = None) -> None:
        """params: name → (E, ...) float64 network arrays, kept as ``weights``
        (:func:`~glassfix.models.tglassmlp_net.parameter_shapes`)."""
        if not isinstance(descriptor, CoarseGrainedDescriptor):
            raise ValueError(f"a tglassmlp model needs a CoarseGrainedDescriptor, got {type(descriptor).__name__}")
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        if quench not in QUENCH:
            raise ValueError(f"quench must be one of {QUENCH}, got {quench!r}")
        F = descriptor.n_features
        self.mean = np.asarray(mean, dtype=np.float64).reshape(-1)
        self.scale = np.asarray(scale, dtype=np.float64).reshape(-1)
        if self.mean.shape != (F,) or self.scale.shape != (F,):
            raise ValueError(f"mean/scale must have shape ({F},), got {self.mean.shape}, {self.scale.shape}")
        if not (np.isfinite(self.mean).all() and np.isfinite(self.scale).all() and np.all(self.scale > 0)):
            raise ValueError("the standardiser needs finite means and positive finite scales")
        want = parameter_shapes(F, variant)
        if set(params) != set(want):
            missing, extra = sorted(set(want) - set(params))[:4], sorted(set(params) - set(want))[:4]
            raise ModelFileError(f"tglassmlp ({variant}) parameters do not match the architecture: missing "
                                 f"{missing}, unexpected {extra}")
        E = int(np.shape(params["bottleneck.weight"])[0])
        for k, shape in want.items():
            if tuple(np.shape(params[k])) != (E, *shape):
                raise ModelFileError(f"tglassmlp parameter {k} has shape {tuple(np.shape(params[k]))}, "
                                     f"expected {(E, *shape)}")
            if not np.isfinite(params[k]).all():
                raise ModelFileError(f"tglassmlp parameter {k} holds non-finite values")
        self.weights = {k: np.ascontiguousarray(params[k], dtype=np.float64) for k in want}
        self.n_members = E
        self.variant = variant
        self.bottleneck_act = str(bottleneck_act)
        self.center_types = sorted({int(t) for t in center_types})
        self.quench = quench
        self.fire_ftol = float(fire_ftol)
        self.metrics = dict(metrics or {})
        self.temperature = float("nan")
        self.targets = np.zeros(0)
        self.inputs = np.zeros(0)
        self._net = None
        self.device = "cpu"
        self._apply_state(temperature, targets, inputs)
        super().__init__(descriptor, species, [output_name(c) for c in self.targets], provenance)
        if not self.center_types or min(self.center_types) < 0 or max(self.center_types) >= len(self.species):
            raise ValueError(f"center_types {self.center_types} outside the model's {len(self.species)} species")

    # ---- state --------------------------------------------------------------------------------------

    def _apply_state(self, temperature: float, targets: Sequence[float], inputs: Sequence[float] | None) -> None:
        T = float(temperature)
        if not (math.isfinite(T) and T > 0):
            raise ValueError(f"temperature must be a positive number (ε/k_B), got {temperature!r}")
        tg = np.atleast_1d(np.asarray(targets, dtype=np.float64))
        if tg.ndim != 1 or tg.size == 0 or not np.isfinite(tg).all():
            raise ValueError(f"targets must be a non-empty list of finite C = <C_B(t)> values, got {targets!r}")
        if len({output_name(c) for c in tg}) != tg.size:
            raise ValueError(f"targets must be distinct, got {tg.tolist()}")
        inp = tg.copy() if inputs is None else np.atleast_1d(np.asarray(inputs, dtype=np.float64))
        if inp.shape != tg.shape or not np.isfinite(inp).all():
            raise ValueError(f"inputs must give one finite network input per target ({tg.size}), got {inputs!r}")
        self.temperature, self.targets, self.inputs = T, tg, inp

    def set_state(self, temperature: float | None = None, targets: Sequence[float] | None = None,
                  inputs: Sequence[float] | None = None) -> "TGlassMLPModel":
        """Change the temperature (ε/k_B) and/or targets the model predicts (in place; returns self).

        New targets reset the network inputs to the targets unless ``inputs`` is given; a new temperature
        alone keeps targets and resets the inputs (a calibration holds for one temperature)."""
        T = self.temperature if temperature is None else temperature
        tg = self.targets if targets is None else targets
        self._apply_state(T, tg, inputs)
        self.output_names = [output_name(c) for c in self.targets]
        return self

    def calibrate(self, frames: Sequence[Frame | np.ndarray], temperature: float | None = None,
                  targets: Sequence[float] | None = None, **kw: Any) -> StatePrediction:
        """Run the constrained mean (§5.5) over ``frames`` and store the corrected inputs, so that later
        single-frame predictions (the fix, the reporter) use them. Returns the set prediction."""
        T = self.temperature if temperature is None else float(temperature)
        tg = self.targets if targets is None else np.asarray(targets, dtype=np.float64)
        res = self.predict_states(frames, T, tg, constrained=True, **kw)
        self.set_state(T, tg, res.inputs)
        return res

    # ---- network ------------------------------------------------------------------------------------

    def network(self):
        """The torch module holding every member (built once, evaluation only)."""
        if self._net is None:
            self._net = build_network(self.weights, self.variant, self.bottleneck_act).to(self.device)
            self._net.eval()
        return self._net

    def set_device(self, device: str) -> None:
        """Evaluate on ``device`` ('cpu' or 'cuda:K'), as the fix's ``device`` keyword."""
        self.device = str(device)
        if self._net is not None:
            self._net = self._net.to(self.device)

    @property
    def feature_lengths(self) -> np.ndarray:
        """Coarse-graining length L (σ) of every descriptor column (F,), for P_int(L) from attention weights."""
        d = self.descriptor
        n_ch = d.n_species + 1
        return np.tile(np.repeat(d.lengths, n_ch), len(d.quantities))

    @property
    def receptive_field(self) -> float:
        """Unbounded: Voronoi cells, the minimisation and R = 20 need the whole periodic frame (mode gather)."""
        return math.inf

    # ---- descriptors --------------------------------------------------------------------------------

    def inherent_structure(self, frame: Frame) -> Frame:
        """The frame the descriptors are computed on: its FIRE inherent structure (``quench="fire"``) or itself."""
        if self.quench == "none":
            return frame
        from glassfix.systems.minimize import fire_minimize

        pot = self._potential()
        return fire_minimize(frame, pot, ftol=self.fire_ftol).frame

    def _potential(self):
        spec = self.descriptor.spec().get("pair_energy")
        from glassfix.systems import get_system

        if isinstance(spec, str):
            system = get_system(spec)
        elif isinstance(spec, dict):
            kw = dict(spec)
            system = get_system(kw.pop("system"), **kw)
        else:
            raise ValueError("quench='fire' needs the descriptor's pair_energy to name a system (e.g. 'jbb')")
        return system.potential()

    def descriptors(self, frame: Frame, centers: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(raw descriptors (n, F), centre indices) of the centre-species atoms of ``frame`` (model species
        order) among ``centers`` (default all), computed on the inherent structure."""
        frame = self._in_model_species(frame)
        idx = as_center_indices(centers, frame.n_atoms)
        idx = idx[np.isin(frame.types[idx], self.center_types)]
        if idx.size == 0:
            return np.zeros((0, self.descriptor.n_features)), idx
        return self.descriptor.compute(self.inherent_structure(frame), centers=idx), idx

    def standardize(self, X: np.ndarray) -> np.ndarray:
        """(X − mean)/scale with the frozen training statistics."""
        return (np.asarray(X, dtype=np.float64) - self.mean) / self.scale

    def _features(self, item: Frame | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(item, Frame):
            return self.descriptors(item)
        X = np.asarray(item, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.descriptor.n_features:
            raise ValueError(f"descriptor rows must have shape (n, {self.descriptor.n_features}), got {X.shape}")
        return X, np.arange(X.shape[0])

    # ---- evaluation ---------------------------------------------------------------------------------

    def evaluate(self, S: np.ndarray, temperature: float, c: float, extras: bool = False):
        """Members' outputs (E, n) for *standardised* rows S at (T, C); with ``extras`` also the attention
        weights (E, n, F) (None for glassmlp) and bottleneck outputs (E, n, 2)."""
        import torch

        net = self.network()
        St = torch.as_tensor(np.ascontiguousarray(S, dtype=np.float64), device=self.device)
        z = torch.as_tensor(state_embedding(temperature, c), device=self.device)
        with torch.no_grad():
            out = net(St, z, extras=extras)
        if not extras:
            return out.cpu().numpy()
        X, w, b = out
        return X.cpu().numpy(), None if w is None else w.cpu().numpy(), b.cpu().numpy()

    def predict_features(self, X: np.ndarray, center_types: np.ndarray) -> np.ndarray:
        """Ensemble-mean C_B (n, K) at (temperature, inputs) from raw descriptor rows; NaN for other species."""
        out = np.full((X.shape[0], self.targets.size), np.nan)
        rows = np.flatnonzero(np.isin(center_types, self.center_types))
        if rows.size:
            S = self.standardize(X[rows])
            for k, c in enumerate(self.inputs):
                out[rows, k] = self.evaluate(S, self.temperature, c).mean(axis=0)
        return out

    def predict(self, frame: Frame, centers: np.ndarray | None = None,
                neighbors: NeighborList | None = None) -> np.ndarray:
        """C_B (n_centers, K) of ``frame`` (a thermal configuration with ``quench="fire"``); NaN for atoms
        outside ``center_types``. Needs the whole periodic frame: a neighbour list (mode local) is refused."""
        if neighbors is not None:
            raise ValueError("a tglassmlp model needs the whole periodic frame (Voronoi cells, inherent "
                             "structure): use 'mode gather'")
        frame = self._in_model_species(frame)
        idx = as_center_indices(centers, frame.n_atoms)
        out = np.full((idx.size, self.targets.size), np.nan)
        X, cidx = self.descriptors(frame, idx)
        if cidx.size:
            rows = np.searchsorted(idx, cidx) if np.all(np.diff(idx) > 0) else \
                np.array([int(np.flatnonzero(idx == c)[0]) for c in cidx])
            out[rows] = self.predict_features(X, np.full(cidx.size, self.center_types[0]))
        return out

    def predict_states(self, frames: Sequence[Frame | np.ndarray], temperature: float, targets: Sequence[float],
                       constrained: bool = True, factor: float = 0.75, max_iter: int = 6,
                       tol: float = 1e-6) -> StatePrediction:
        """Propensities of the centres of every frame at (T, each C of ``targets``), offline.

        ``frames``: Frames (descriptors computed on their inherent structures) or raw descriptor rows (n, F)
        of centre particles. ``constrained``: correct the network input per target so that the mean over
        **all centres of all frames together** equals C (§5.5; never per frame, which would erase the
        sample-to-sample fluctuations and χ4); see :func:`constrained_inputs`."""
        feats = [self._features(f) for f in frames]
        S_all = [self.standardize(X) for X, _ in feats]
        sizes = [S.shape[0] for S in S_all]
        if sum(sizes) == 0:
            raise ValueError("no centre particles in the frames given")
        S_cat = np.concatenate(S_all, axis=0)
        tg = np.atleast_1d(np.asarray(targets, dtype=np.float64))
        K, E = tg.size, self.n_members
        members = np.zeros((E, S_cat.shape[0], K))
        inputs, set_mean = tg.copy(), np.zeros(K)
        iters, signs = np.zeros(K, dtype=np.int64), np.ones(K)

        def mean_at(c: float) -> float:
            return float(self.evaluate(S_cat, temperature, c).mean())

        for k, c in enumerate(tg):
            if constrained:
                inputs[k], set_mean[k], iters[k], signs[k] = constrained_inputs(mean_at, c, factor, max_iter, tol)
            members[:, :, k] = self.evaluate(S_cat, temperature, inputs[k])
            set_mean[k] = float(members[:, :, k].mean())
        bounds = np.cumsum([0, *sizes])
        parts = [members[:, bounds[f]:bounds[f + 1]] for f in range(len(sizes))]
        return StatePrediction(mean=[p.mean(axis=0) for p in parts], std=[p.std(axis=0) for p in parts],
                               members=parts, centers=[ix for _, ix in feats], targets=tg, inputs=inputs,
                               set_mean=set_mean, iterations=iters, sign=signs)

    def attention_weights(self, item: Frame | np.ndarray, temperature: float, c: float) -> np.ndarray:
        """Softmax attention weights w (E, n, F) of the centres at (T, C) (they sum to 1 over F); see
        :attr:`feature_lengths` to aggregate them into P_int(L). glassmlp has no attention (ValueError)."""
        if self.variant != "tglassmlp":
            raise ValueError("a single-state glassmlp model has no attention layer")
        X, _ = self._features(item)
        return self.evaluate(self.standardize(X), temperature, c, extras=True)[1]

    def bottleneck(self, item: Frame | np.ndarray, temperature: float, c: float) -> np.ndarray:
        """The 2 bottleneck outputs (E, n, 2) of the centres at (T, C) (Figs. 10–11 bottleneck maps)."""
        X, _ = self._features(item)
        return self.evaluate(self.standardize(X), temperature, c, extras=True)[2]

    # ---- persistence --------------------------------------------------------------------------------

    def params(self) -> dict[str, Any]:
        """Variant, state (T, targets, inputs), centre species, quench and training metrics."""
        return {"variant": self.variant, "bottleneck_act": self.bottleneck_act, "n_members": self.n_members,
                "temperature": self.temperature, "targets": [float(c) for c in self.targets],
                "inputs": [float(c) for c in self.inputs], "center_types": self.center_types,
                "quench": self.quench, "fire_ftol": self.fire_ftol, "metrics": self.metrics}

    def arrays(self) -> dict[str, np.ndarray]:
        """Standardiser (``std_mean``, ``std_scale``) and the stacked network parameters ``net.<name>``."""
        out = {"std_mean": self.mean, "std_scale": self.scale}
        out.update({f"net.{k}": v for k, v in self.weights.items()})
        return out

    @classmethod
    def from_file_contents(cls, manifest: dict[str, Any], arrays: dict[str, np.ndarray]) -> "TGlassMLPModel":
        """Rebuild and validate against the descriptor."""
        desc = descriptor_from_manifest(manifest)
        if not isinstance(desc, CoarseGrainedDescriptor):
            raise ModelFileError(f"a tglassmlp model needs a coarse_grained descriptor, got {desc.kind!r}")
        p = manifest["params"]
        if "std_mean" not in arrays or "std_scale" not in arrays:
            raise ModelFileError("a tglassmlp model file needs the arrays std_mean and std_scale")
        net = {k[4:]: v for k, v in arrays.items() if k.startswith("net.")}
        extra = sorted(set(arrays) - {"std_mean", "std_scale"} - {f"net.{k}" for k in net})
        if extra:
            raise ModelFileError(f"unexpected arrays in a tglassmlp model: {extra[:4]}")
        model = cls(desc, manifest["species"], arrays["std_mean"], arrays["std_scale"], net,
                    temperature=p["temperature"], targets=p["targets"], inputs=p.get("inputs"),
                    variant=p.get("variant", "tglassmlp"), bottleneck_act=p.get("bottleneck_act", "linear"),
                    center_types=p.get("center_types", [0]), quench=p.get("quench", "fire"),
                    fire_ftol=p.get("fire_ftol", 1e-6), metrics=p.get("metrics"),
                    provenance=manifest.get("provenance") or {})
        if list(manifest["outputs"]) != model.output_names:
            raise ModelFileError(f"tglassmlp outputs {manifest['outputs']} do not match its targets "
                                 f"{model.output_names}")
        return model
