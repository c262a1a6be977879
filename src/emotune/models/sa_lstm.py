"""Self-attention BiLSTM of SALSTM-LWARO, registered as ``"sa_lstm"``.

::

    input layer (embedding, or frames as they are)
    -> BiLSTM (num_layers, hidden_size per direction)           h_t: (B, T, 2H)
    -> additive self-attention over time:
           score_t = v^T tanh(W h_t + b)
           alpha   = softmax(score) over the real steps
           c       = sum_t alpha_t h_t                           (B, 2H)
    -> dropout -> Linear(2H, n_classes) logits

The attention weights of the last forward pass are kept in
``model.last_attention`` (float ``(B, T)``, detached) and
:meth:`SelfAttentionLstm.forward_with_attention` returns them with the logits.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from emotune.models._base import MODELS, ModelSpec, check_int, check_rate, module_builder
from emotune.models.attention import AdditiveAttention
from emotune.models.inputs import InputLayer, InputSpec, default_mask
from emotune.models.recurrent import MaskedLSTM
from emotune.search.spaces import Categorical, Float, Int, Space

__all__ = ["SelfAttentionLstm", "build_sa_lstm", "SA_LSTM_SPACE", "SA_LSTM_DEFAULTS"]

INPUT_KINDS = ("tokens", "frames")


class SelfAttentionLstm(nn.Module):
    """BiLSTM + additive self-attention pooling + linear head.

    Args:
        n_classes: number of classes.
        input_spec: tokens or frames.
        hidden_size: LSTM units per direction.
        num_layers: stacked LSTM layers.
        dropout: dropout on the inputs, between LSTM layers and before the head.
        bidirectional: BiLSTM (the paper) or a forward LSTM.
        attention_dim: width of ``W h_t``; ``None`` uses the LSTM output width.

    ``forward(x, mask)``: ``x`` int64 ``(B, T)`` or float ``(B, T, F)``, mask
    bool ``(B, T)`` (``None``: non-zero tokens / all frames) -> logits float
    ``(B, n_classes)``.
    """

    def __init__(
        self,
        *,
        n_classes: int,
        input_spec: InputSpec,
        hidden_size: int = 128,
        num_layers: int = 1,
        dropout: float = 0.3,
        bidirectional: bool = True,
        attention_dim: int | None = None,
    ) -> None:
        super().__init__()
        hidden_size = check_int("sa_lstm", "hidden_size", hidden_size)
        num_layers = check_int("sa_lstm", "num_layers", num_layers)
        dropout = check_rate("sa_lstm", "dropout", dropout)
        self.input = InputLayer(input_spec)
        self.input_drop = nn.Dropout(dropout)
        self.lstm = MaskedLSTM(
            self.input.out_dim, hidden_size, num_layers=num_layers, bidirectional=bool(bidirectional), dropout=dropout
        )
        width = self.lstm.out_dim
        self.attention = AdditiveAttention(width, int(attention_dim or width))
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(width, n_classes)
        self.last_attention: torch.Tensor | None = None

    def forward_with_attention(
        self, x: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits float ``(B, n_classes)`` and attention weights float ``(B, T)`` (0 at padding)."""
        mask = default_mask(x, self.input.spec) if mask is None else mask.bool()
        h, _ = self.lstm(self.input_drop(self.input(x, mask)), mask)
        context, weights = self.attention(h, mask)
        self.last_attention = weights.detach()
        return self.head(self.drop(context)), weights

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.forward_with_attention(x, mask)[0]


SA_LSTM_SPACE = Space(
    {
        "hidden_size": Int(32, 256),
        "num_layers": Int(1, 2),
        "dropout": Float(0.0, 0.5),
        "lr": Float(1e-4, 1e-2, log=True),
        "batch_size": Categorical([16, 32, 64, 128]),
    }
)
"""The space searched in SALSTM-LWARO: LSTM width and depth, dropout, learning rate, batch size."""

SA_LSTM_CPU_SPACE = Space(
    {
        "hidden_size": Int(16, 96),
        "dropout": Float(0.0, 0.5),
        "lr": Float(3e-4, 1e-2, log=True),
        "batch_size": Categorical([32, 64, 128]),
        "weight_decay": Float(1e-6, 1e-2, log=True),
    }
)
"""A lighter space for two CPU cores (one BiLSTM layer, narrower), used by ``make demo``."""

SA_LSTM_DEFAULTS: dict[str, Any] = {
    "hidden_size": 128,
    "num_layers": 1,
    "dropout": 0.3,
    "bidirectional": True,
    "attention_dim": None,
    "lr": 1e-3,
    "batch_size": 32,
}


build_sa_lstm = module_builder("sa_lstm", SelfAttentionLstm, SA_LSTM_DEFAULTS, INPUT_KINDS)


MODELS.add(
    "sa_lstm",
    ModelSpec(
        name="sa_lstm",
        build=build_sa_lstm,
        default_space=SA_LSTM_SPACE,
        presets={"cpu": SA_LSTM_CPU_SPACE},
        description="BiLSTM with additive self-attention pooling (SALSTM-LWARO)",
        defaults=SA_LSTM_DEFAULTS,
        input_kinds=INPUT_KINDS,
    ),
)
