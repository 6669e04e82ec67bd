"""The tGlassMLP / GlassMLP network (Jung, Biroli & Berthier, PRB 109, 064205 (2024); digest 001 §5.1) as
an *ensemble* of E networks evaluated together (leading dimension E on every parameter).

Per particle, from the F = 176 standardised coarse-grained descriptors S and the state point (T, C):

    z      = (1/T, 1/T², 1/T³, C, C², C³)                               state embedding (6)
    m      = MLP1(z): 6 → 6 (ELU) → 6 (ELU) → 2 (linear)
    A^k    = S^k f1^k + m1 f2^k + m2 f3^k + f4^k,  w = softmax_k(A)       attention (4·F parameters)
    b      = Bottleneck(S ⊙ w): F → 2 (linear by default, [PROP]; ``bottleneck_act="elu"`` the variant)
    q      = MLP2(z): 6 → 7 (ELU) → 7 (ELU) → 4 (linear)                  ([PROP]: the same z as MLP1)
    X      = Head([b, q]): 6 → 10 (ELU) → 10 (ELU) → 1 (linear)           predicted C_B^i

The single-state GlassMLP (``variant="glassmlp"``, digest §7 item 17) has no state input and no attention:
X = Head(Bottleneck(S)), head 2 → 10 → 10 → 1.

Parameters are stored as plain arrays named ``att_f`` (E, 4, F), ``mlp1.{0,1,2}.{weight,bias}``,
``bottleneck.{weight,bias}``, ``mlp2.{0,1,2}.*``, ``head.{0,1,2}.*`` with weights (E, out, in) and
biases (E, out). float64 throughout (the network has ~1.5k parameters: double precision costs nothing
measurable on a CPU and keeps the constrained-mean iteration and fix-vs-offline comparisons at
round-off). Initialisation: PyTorch's ``nn.Linear`` default (U(±1/√fan_in) for weights and biases);
attention f ~ U(±1/√F).
"""

from __future__ import annotations

import math
import numpy as np

__all__ = ["VARIANTS", "parameter_shapes", "init_parameters", "state_embedding", "build_network",
           "stack_members", "count_parameters"]

VARIANTS = ("tglassmlp", "glassmlp")
_ACTS = ("linear", "elu")


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("tGlassMLP models need PyTorch: pip install 'glassfix[torch]' (torch==2.13.0, CPU build)"
                          ) from exc
    return torch


def _mlp_shapes(prefix: str, sizes: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    out: dict[str, tuple[int, ...]] = {}
    for k in range(len(sizes) - 1):
        out[f"{prefix}.{k}.weight"] = (sizes[k + 1], sizes[k])
        out[f"{prefix}.{k}.bias"] = (sizes[k + 1],)
    return out


def parameter_shapes(n_features: int, variant: str = "tglassmlp") -> dict[str, tuple[int, ...]]:
    """Parameter name → shape of ONE network (the stored arrays add a leading ensemble dimension)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    F = int(n_features)
    shapes: dict[str, tuple[int, ...]] = {}
    if variant == "tglassmlp":
        shapes["att_f"] = (4, F)
        shapes.update(_mlp_shapes("mlp1", (6, 6, 6, 2)))
        shapes.update(_mlp_shapes("mlp2", (6, 7, 7, 4)))
        shapes.update(_mlp_shapes("head", (6, 10, 10, 1)))
    else:
        shapes.update(_mlp_shapes("head", (2, 10, 10, 1)))
    shapes["bottleneck.weight"] = (2, F)
    shapes["bottleneck.bias"] = (2,)
    return shapes


def init_parameters(n_features: int, variant: str, seed: int) -> dict[str, np.ndarray]:
    """Fresh parameters of one network (float64, shapes of :func:`parameter_shapes`, leading E = 1)."""
    rng = np.random.default_rng([int(seed), 7919])
    out: dict[str, np.ndarray] = {}
    for name, shape in parameter_shapes(n_features, variant).items():
        if name == "att_f":
            bound = 1.0 / math.sqrt(shape[1])
        else:
            fan_in = shape[1] if name.endswith("weight") else None
            if fan_in is None:    # a bias: its layer's fan-in
                fan_in = parameter_shapes(n_features, variant)[name[:-4] + "weight"][1]
            bound = 1.0 / math.sqrt(fan_in)
        out[name] = rng.uniform(-bound, bound, size=(1, *shape))
    return out


def state_embedding(temperature: float, c: float) -> np.ndarray:
    """z = (1/T, 1/T², 1/T³, C, C², C³) (T in ε/k_B, C = ⟨C̄_B⟩ dimensionless)."""
    T = float(temperature)
    if not (np.isfinite(T) and T > 0):
        raise ValueError(f"temperature must be positive and finite, got {temperature!r}")
    c = float(c)
    return np.array([1 / T, 1 / T ** 2, 1 / T ** 3, c, c * c, c ** 3])


def build_network(params: dict[str, np.ndarray], variant: str = "tglassmlp", bottleneck_act: str = "linear",
                  requires_grad: bool = False):
    """A torch Module holding ``params`` (each (E, ...), copied to float64 tensors).

    ``forward(S, z, extras=False)``: S (n, F) standardised descriptors, z (6,) or (n, 6) state embeddings
    (ignored by ``glassmlp``); returns X (E, n), or with ``extras`` (X, w (E, n, F) attention weights or
    None, b (E, n, 2) bottleneck outputs)."""
    torch = _torch()
    nn = torch.nn
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    if bottleneck_act not in _ACTS:
        raise ValueError(f"bottleneck_act must be one of {_ACTS}, got {bottleneck_act!r}")
    elu = torch.nn.functional.elu

    class _Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.variant = variant
            self.bottleneck_act = bottleneck_act
            self.names = sorted(params)
            for name in self.names:
                t = torch.tensor(np.asarray(params[name], dtype=np.float64), dtype=torch.float64)
                self.register_parameter(name.replace(".", "__"), nn.Parameter(t, requires_grad=requires_grad))

        def p(self, name: str):
            return getattr(self, name.replace(".", "__"))

        @property
        def n_members(self) -> int:
            return int(self.p("bottleneck.weight").shape[0])

        def _lin(self, name: str, x):
            # x (E, n, in) or (n, in) shared by every member
            W, b = self.p(f"{name}.weight"), self.p(f"{name}.bias")
            if x.dim() == 2:
                y = torch.einsum("ni,eoi->eno", x, W)
            else:
                y = torch.einsum("eni,eoi->eno", x, W)
            return y + b[:, None, :]

        def _mlp(self, prefix: str, x, n_layers: int = 3):
            for k in range(n_layers):
                x = self._lin(f"{prefix}.{k}", x)
                if k < n_layers - 1:
                    x = elu(x)
            return x

        def forward(self, S, z=None, extras: bool = False):
            n = S.shape[0]
            w = None
            if self.variant == "tglassmlp":
                if z is None:
                    raise ValueError("tglassmlp needs the state embedding z")
                if z.dim() == 1:
                    z = z[None, :].expand(n, 6)
                m = self._mlp("mlp1", z)                      # (E, n, 2)
                f = self.p("att_f")                            # (E, 4, F)
                A = (S[None, :, :] * f[:, None, 0, :] + m[:, :, 0:1] * f[:, None, 1, :]
                     + m[:, :, 1:2] * f[:, None, 2, :] + f[:, None, 3, :])
                w = torch.softmax(A, dim=-1)                   # (E, n, F), sums to 1 over descriptors
                b = self._lin("bottleneck", S[None, :, :] * w)
            else:
                b = self._lin("bottleneck", S)
            if self.bottleneck_act == "elu":
                b = elu(b)
            if self.variant == "tglassmlp":
                q = self._mlp("mlp2", z)                      # (E, n, 4)
                h = torch.cat([b, q], dim=-1)
            else:
                h = b
            X = self._mlp("head", h)[..., 0]                  # (E, n)
            if extras:
                return X, w, b
            return X

        def arrays(self) -> dict[str, np.ndarray]:
            return {name: self.p(name).detach().cpu().numpy().astype(np.float64) for name in self.names}

    return _Net()


def stack_members(members: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate per-network parameter dicts (each (1, ...) or (E_k, ...)) into one ensemble dict."""
    if not members:
        raise ValueError("an ensemble needs at least one network")
    names = sorted(members[0])
    for m in members[1:]:
        if sorted(m) != names:
            raise ValueError("ensemble members have different parameter sets")
    return {k: np.concatenate([np.asarray(m[k], dtype=np.float64) for m in members], axis=0) for k in names}


def count_parameters(n_features: int, variant: str) -> int:
    """Number of trainable parameters of one network (1468 for tglassmlp with F = 176)."""
    return int(sum(np.prod(s) for s in parameter_shapes(n_features, variant).values()))
