"""Multi-layer perceptron on one feature vector per sample, registered as ``"mlp"``.

::

    x (B, F)  -- or frames (B, T, F) averaged over the real steps --
    -> [Linear -> activation -> dropout] x len(hidden_sizes)
    -> Linear(., n_classes) logits

For eGeMAPS functionals, pooled sentence embeddings and the like. Features are
expected standardised by the data side (the model applies no input scaling).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import nn

from emotune.models._base import MODELS, ModelSpec, check_int, check_rate, resolve_params
from emotune.models.activations import make_activation
from emotune.models.inputs import InputLayer, InputSpec, default_mask
from emotune.models.masking import masked_mean
from emotune.search.spaces import Categorical, Float, Int, Space

__all__ = ["Mlp", "build_mlp", "MLP_SPACE", "MLP_DEFAULTS"]

INPUT_KINDS = ("vector", "frames")


class Mlp(nn.Module):
    """Feed-forward classifier.

    Args:
        n_classes: number of classes.
        input_spec: vector (or frames, mean-pooled over real steps).
        hidden_sizes: widths of the hidden layers; empty gives a linear model.
        dropout: dropout after every hidden layer.
        activation: name in :data:`emotune.models.activations.ACTIVATIONS`.

    ``forward(x, mask)``: ``x`` float ``(B, F)`` with ``mask=None``, or float
    ``(B, T, F)`` with mask bool ``(B, T)`` -> logits float ``(B, n_classes)``.
    """

    def __init__(
        self,
        *,
        n_classes: int,
        input_spec: InputSpec,
        hidden_sizes: Sequence[int] = (256,),
        dropout: float = 0.2,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        dropout = check_rate("mlp", "dropout", dropout)
        sizes = [check_int("mlp", "hidden_sizes", h) for h in hidden_sizes]
        self.input = InputLayer(input_spec)
        layers: list[nn.Module] = []
        width = self.input.out_dim
        for h in sizes:
            layers += [nn.Linear(width, h), make_activation(activation), nn.Dropout(dropout)]
            width = h
        layers.append(nn.Linear(width, n_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        h = self.input(x, mask)
        if self.input.spec.sequential:
            h = masked_mean(h, default_mask(x, self.input.spec) if mask is None else mask.bool())
        return self.net(h)


MLP_SPACE = Space(
    {
        "n_layers": Int(1, 3),
        "hidden_size": Int(32, 512, log=True),
        "dropout": Float(0.0, 0.5),
        "activation": Categorical(["relu", "tanh", "leaky_relu", "elu"]),
        "lr": Float(1e-4, 1e-2, log=True),
        "batch_size": Categorical([16, 32, 64, 128]),
        "weight_decay": Float(1e-6, 1e-2, log=True),
    }
)
"""Depth and width (all hidden layers equally wide), dropout, activation and training hyperparameters."""

MLP_DEFAULTS: dict[str, Any] = {
    "n_layers": 1,
    "hidden_size": 256,
    "hidden_sizes": None,
    "dropout": 0.2,
    "activation": "relu",
    "lr": 1e-3,
    "batch_size": 32,
}
"""``hidden_sizes`` (a list), when given, overrides ``n_layers`` x ``hidden_size``."""


def build_mlp(params: Mapping[str, Any], *, n_classes: int, input_spec: InputSpec) -> Mlp:
    """Build :class:`Mlp` from flat params (trainer keys ignored)."""
    p = resolve_params(
        "mlp", params, n_classes=n_classes, input_spec=input_spec, input_kinds=INPUT_KINDS, defaults=MLP_DEFAULTS
    )
    n_layers = check_int("mlp", "n_layers", p.pop("n_layers"), low=0)
    hidden_size = p.pop("hidden_size")
    if p["hidden_sizes"] is None:
        p["hidden_sizes"] = [hidden_size] * n_layers
    return Mlp(n_classes=n_classes, input_spec=input_spec, **p)


MODELS.add(
    "mlp",
    ModelSpec(
        name="mlp",
        build=build_mlp,
        default_space=MLP_SPACE,
        description="Multi-layer perceptron on a feature vector (eGeMAPS functionals, pooled embeddings)",
        defaults=MLP_DEFAULTS,
        input_kinds=INPUT_KINDS,
    ),
)
