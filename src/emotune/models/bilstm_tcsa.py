"""BiLSTM-TCSA of the improved-PSO paper (Electronics 2023), registered as ``"bilstm_tcsa"``.

::

    input layer (embedding, or frames as they are)  -> dropout
    h1 = BiLSTM_1(x)                       (B, T, 2H)
    h2 = BiLSTM_2(dropout(h1))             (B, T, 2H)
    r  = h1 + h2                           residual connection
    TextCNN over r: for k in (3, 4, 5): ReLU(Conv1d(2H -> n_filters, kernel k, stride s)),
        max-pooled over the windows inside the sample     -> (B, 3, n_filters)
    self-attention across the three scales (one head, residual + layer norm)
    -> concatenate (B, 3 * n_filters) -> dropout -> Linear(., n_classes) logits (softmax in the loss)

Short sequences: the time axis is zero-padded to the largest kernel, so a
sample of 1 or 2 steps yields one window per kernel (its real steps plus
zeros). Only windows that lie inside ``max(length, kernel)`` steps are
pooled, so the amount of padding never changes a sample's output.

The default space is the paper's (dropout, hidden size, learning rate, batch
size, stride), except that dropout is capped at 0.9: the paper searches (0, 1),
but a rate near 1 zeroes almost every activation (at 1.0 PyTorch's dropout
outputs all zeros and no gradient flows), so those candidates only waste
evaluations.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from emotune.exceptions import ConfigError
from emotune.models._base import MODELS, ModelSpec, check_int, check_rate, module_builder
from emotune.models.attention import MultiHeadSelfAttention
from emotune.models.inputs import InputLayer, InputSpec, default_mask
from emotune.models.masking import lengths_from_mask
from emotune.models.recurrent import MaskedLSTM
from emotune.search.spaces import Categorical, Float, Int, Space

__all__ = ["TextCnn", "BiLstmTcsa", "build_bilstm_tcsa", "BILSTM_TCSA_SPACE", "BILSTM_TCSA_DEFAULTS"]

INPUT_KINDS = ("tokens", "frames")


class TextCnn(nn.Module):
    """Multi-scale 1-D convolutions over time with masked max-pooling (Kim 2014).

    Args:
        input_dim: width of the sequence features.
        n_filters: filters per kernel size.
        kernel_sizes: one convolution per size.
        stride: stride of every convolution, in steps.

    ``forward(h, lengths)``: ``h`` float ``(B, T, input_dim)`` with zeros at
    padded steps, ``lengths`` int64 ``(B,)`` real steps -> float
    ``(B, len(kernel_sizes), n_filters)``, one pooled vector per kernel size.
    """

    def __init__(
        self, input_dim: int, n_filters: int, *, kernel_sizes: Sequence[int] = (3, 4, 5), stride: int = 1
    ) -> None:
        super().__init__()
        self.kernel_sizes = tuple(int(k) for k in kernel_sizes)
        if not self.kernel_sizes or min(self.kernel_sizes) < 1:
            raise ConfigError(f"TextCnn: kernel_sizes must be positive integers, got {list(kernel_sizes)}")
        self.stride = int(stride)
        self.convs = nn.ModuleList(nn.Conv1d(input_dim, n_filters, k, stride=self.stride) for k in self.kernel_sizes)

    def forward(self, h: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        T = h.shape[1]
        k_max = max(self.kernel_sizes)
        x = h.transpose(1, 2)  # (B, D, T)
        if T < k_max:
            x = F.pad(x, (0, k_max - T))  # zeros on the right: short sequences still give one window
        pooled = []
        for k, conv in zip(self.kernel_sizes, self.convs):
            y = torch.relu(conv(x))  # (B, n_filters, n_out)
            n_valid = (torch.clamp(lengths, min=k) - k) // self.stride + 1  # windows inside max(length, k)
            valid = torch.arange(y.shape[-1], device=y.device).unsqueeze(0) < n_valid.to(y.device).unsqueeze(1)
            pooled.append(y.masked_fill(~valid.unsqueeze(1), float("-inf")).amax(dim=-1))  # (B, n_filters)
        return torch.stack(pooled, dim=1)


class BiLstmTcsa(nn.Module):
    """Residual two-layer BiLSTM + TextCNN + self-attention classifier (module docstring).

    Args:
        n_classes: number of classes.
        input_spec: tokens or frames.
        hidden_size: LSTM units per direction (``H``).
        dropout: dropout rate in [0, 1).
        stride: stride of the TextCNN convolutions.
        n_filters: filters per kernel size.
        kernel_sizes: TextCNN kernel sizes.

    ``forward(x, mask)``: ``x`` int64 ``(B, T)`` or float ``(B, T, F)``, mask
    bool ``(B, T)`` (``None``: non-zero tokens / all frames) -> logits float
    ``(B, n_classes)``.
    """

    def __init__(
        self,
        *,
        n_classes: int,
        input_spec: InputSpec,
        hidden_size: int = 100,
        dropout: float = 0.5,
        stride: int = 1,
        n_filters: int = 100,
        kernel_sizes: Sequence[int] = (3, 4, 5),
    ) -> None:
        super().__init__()
        hidden_size = check_int("bilstm_tcsa", "hidden_size", hidden_size)
        dropout = check_rate("bilstm_tcsa", "dropout", dropout)
        stride = check_int("bilstm_tcsa", "stride", stride)
        n_filters = check_int("bilstm_tcsa", "n_filters", n_filters)
        self.input = InputLayer(input_spec)
        self.drop = nn.Dropout(dropout)
        self.lstm1 = MaskedLSTM(self.input.out_dim, hidden_size, bidirectional=True)
        self.lstm2 = MaskedLSTM(2 * hidden_size, hidden_size, bidirectional=True)
        self.cnn = TextCnn(2 * hidden_size, n_filters, kernel_sizes=kernel_sizes, stride=stride)
        self.attention = MultiHeadSelfAttention(n_filters, n_filters, dropout=dropout)  # one head over the scales
        self.head = nn.Linear(len(self.cnn.kernel_sizes) * n_filters, n_classes)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        mask = default_mask(x, self.input.spec) if mask is None else mask.bool()
        lengths = lengths_from_mask(mask)
        h1, _ = self.lstm1(self.drop(self.input(x, mask)), mask)
        h2, _ = self.lstm2(self.drop(h1), mask)
        r = h1 + h2  # residual: layer-2 output + layer-1 output (zeros at padding)
        scales = self.cnn(r, lengths)  # (B, 3, n_filters)
        z = self.attention(scales)  # (B, 3, n_filters)
        return self.head(self.drop(z.flatten(1)))


BILSTM_TCSA_SPACE = Space(
    {
        "dropout": Float(0.0, 0.9),
        "hidden_size": Int(50, 200),
        "lr": Float(1e-4, 1e-2, log=True),
        "batch_size": Categorical([16, 32, 64, 128]),
        "stride": Categorical([1, 2, 3, 4]),
    }
)
"""The improved-PSO paper's space; dropout capped at 0.9 instead of 1 (module docstring)."""

BILSTM_TCSA_DEFAULTS: dict[str, Any] = {
    "hidden_size": 100,
    "dropout": 0.5,
    "stride": 1,
    "n_filters": 100,
    "kernel_sizes": (3, 4, 5),
    "lr": 1e-3,
    "batch_size": 64,
}


build_bilstm_tcsa = module_builder("bilstm_tcsa", BiLstmTcsa, BILSTM_TCSA_DEFAULTS, INPUT_KINDS)


MODELS.add(
    "bilstm_tcsa",
    ModelSpec(
        name="bilstm_tcsa",
        build=build_bilstm_tcsa,
        default_space=BILSTM_TCSA_SPACE,
        description="Residual BiLSTM + multi-scale TextCNN + self-attention (improved-PSO paper, Electronics 2023)",
        defaults=BILSTM_TCSA_DEFAULTS,
        input_kinds=INPUT_KINDS,
    ),
)
