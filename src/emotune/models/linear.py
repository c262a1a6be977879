"""Linear softmax classifier (multinomial logistic regression) on one feature vector, registered as ``"linear"``.

::

    x (B, F)  -- or frames (B, T, F) averaged over the real steps --
    -> dropout(dropout) -> Linear(F, n_classes) logits

Trained by the emotune trainer like every model (class-weighted cross-entropy,
Adam, early stopping); ``weight_decay`` is an L2 penalty on the weight matrix
only (:meth:`Linear.l2_parameters`; the bias is free), as in scikit-learn's
logistic regression. For strong fixed features
(e.g. the face task's ``mx_hog``) on a few hundred samples, where a hidden layer
mostly adds variance. Features are expected standardised by the data side.
"""

from __future__ import annotations

from typing import Any, Iterator

import torch
from torch import nn

from emotune.models._base import MODELS, ModelSpec, check_rate, module_builder
from emotune.models.inputs import InputLayer, InputSpec, default_mask
from emotune.models.masking import masked_mean
from emotune.search.spaces import Categorical, Float, Space

__all__ = ["Linear", "LINEAR_SPACE", "LINEAR_DEFAULTS"]

INPUT_KINDS = ("vector", "frames")


class Linear(nn.Module):
    """Logits as one affine map of the input.

    Args:
        n_classes: number of classes.
        input_spec: vector (or frames, mean-pooled over real steps).
        dropout: dropout rate on the input features, in [0, 1).

    ``forward(x, mask)``: ``x`` float ``(B, F)`` with ``mask=None``, or float
    ``(B, T, F)`` with mask bool ``(B, T)`` -> logits float ``(B, n_classes)``.
    """

    def __init__(self, *, n_classes: int, input_spec: InputSpec, dropout: float = 0.0) -> None:
        super().__init__()
        self.input = InputLayer(input_spec)
        self.dropout = nn.Dropout(check_rate("linear", "dropout", dropout))
        self.out = nn.Linear(self.input.out_dim, n_classes)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        h = self.input(x, mask)
        if self.input.spec.sequential:
            h = masked_mean(h, default_mask(x, self.input.spec) if mask is None else mask.bool())
        return self.out(self.dropout(h))

    def l2_parameters(self) -> Iterator[nn.Parameter]:
        """The parameters ``weight_decay`` applies to: the weight matrix, not the bias."""
        yield self.out.weight


LINEAR_SPACE = Space(
    {
        "dropout": Float(0.0, 0.5),
        "lr": Float(1e-3, 3e-2, log=True),
        "batch_size": Categorical([16, 32, 64]),
        "weight_decay": Float(1e-6, 1e-2, log=True),
    }
)
"""Input dropout and the training hyperparameters (the L2 penalty, with early stopping, sets the regularisation)."""

LINEAR_DEFAULTS: dict[str, Any] = {
    "dropout": 0.0,
    "lr": 1e-2,
    "batch_size": 32,
    "weight_decay": 1e-3,
}
"""The untuned configuration (the search's warm start)."""

MODELS.add(
    "linear",
    ModelSpec(
        name="linear",
        build=module_builder("linear", Linear, LINEAR_DEFAULTS, INPUT_KINDS),
        default_space=LINEAR_SPACE,
        description="Linear softmax classifier (logistic regression) on a feature vector",
        defaults=LINEAR_DEFAULTS,
        input_kinds=INPUT_KINDS,
    ),
)
