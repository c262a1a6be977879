"""CNN + BiLSTM audio branch of the IEMOCAP paper, registered as ``"cnn_bilstm"``.

::

    frames (B, T, F)  (or token embeddings)
    -> 5 conv blocks, filters 64, 128, 64, 32, 64:
           Conv1d(kernel 3, same padding) -> [batch norm] -> ReLU -> MaxPool(2) -> dropout
    -> BiLSTM(128) returning sequences -> BiLSTM(128) final states    (B, 256)
    -> Dense(256) + ReLU -> dropout -> Linear(256, n_classes) logits (softmax in the loss)

Pooling halves the time axis, rounding up (``ceil(T / 2)``), and is skipped
once a single step is left, so even a 1-step input goes through every block.
Padded steps are zeroed before every convolution, excluded from the batch-norm
statistics, and the LSTMs read only real steps, so padding never changes a
sample's output.

The paper regularises the convolutions with Keras' L2 (``l2 = 0.01``). The
model exposes those weights via :meth:`CnnBiLstm.l2_parameters`, and the trainer
applies the trainer key ``weight_decay`` to them only. Keras adds
``l2 * sum(w ** 2)`` to the loss, whose gradient is ``2 * l2 * w``, so the
paper's ``l2 = 0.01`` is ``weight_decay = 0.02`` with coupled decay (Adam, SGD):
that is the default here. Paper defaults: dropout 0.3, l2 0.01 (weight decay
0.02), lr 1e-3; emotune's default lr is 3e-3 (see :data:`CNN_BILSTM_DEFAULTS`).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from emotune.exceptions import ConfigError
from emotune.models._base import MODELS, ModelSpec, check_int, check_rate, module_builder
from emotune.models.inputs import InputLayer, InputSpec, default_mask
from emotune.models.masking import lengths_from_mask, zero_padding
from emotune.models.recurrent import MaskedLSTM
from emotune.search.spaces import Categorical, Float, Space

__all__ = [
    "MaskedBatchNorm1d",
    "ConvBlock",
    "CnnBiLstm",
    "build_cnn_bilstm",
    "CNN_BILSTM_SPACE",
    "CNN_BILSTM_DEFAULTS",
    "PAPER_L2",
]

INPUT_KINDS = ("frames", "tokens")

PAPER_L2 = 0.01
"""The paper's Keras L2 coefficient on the convolutions; ``weight_decay = 2 * PAPER_L2``."""


class MaskedBatchNorm1d(nn.Module):
    """Batch norm over channels whose training statistics use real steps only.

    ``forward(x, mask)``: ``x`` float ``(B, C, T)``, ``mask`` bool ``(B, T)``
    -> float ``(B, C, T)``. In training, ``mean`` and (biased) ``var`` are taken
    over the real ``(b, t)`` positions and the running estimates (unbiased var)
    are updated with ``momentum``; in evaluation the running estimates are used.
    """

    def __init__(self, num_features: int, *, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        self.eps, self.momentum = float(eps), float(momentum)
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.training:
            m = mask.unsqueeze(1).to(x.dtype)  # (B, 1, T)
            n = m.sum().clamp_min(1.0)
            mean = (x * m).sum(dim=(0, 2)) / n
            var = (((x - mean[None, :, None]) * m) ** 2).sum(dim=(0, 2)) / n
            with torch.no_grad():
                unbiased = var * n / (n - 1).clamp_min(1.0)
                self.running_mean.lerp_(mean.detach(), self.momentum)
                self.running_var.lerp_(unbiased.detach(), self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        x_hat = (x - mean[None, :, None]) / torch.sqrt(var[None, :, None] + self.eps)
        return x_hat * self.weight[None, :, None] + self.bias[None, :, None]


class ConvBlock(nn.Module):
    """``Conv1d(k, same) -> [MaskedBatchNorm1d] -> ReLU -> MaxPool(2, ceil) -> dropout`` with masking.

    ``forward(x, mask)``: ``x`` float ``(B, C_in, T)`` zero at padding, mask
    bool ``(B, T)`` -> ``(y, mask')``: float ``(B, C_out, T')`` zero at padding
    and bool ``(B, T')``, ``T' = ceil(T / 2)`` (``T' = T`` when ``T == 1``).
    """

    def __init__(
        self, in_channels: int, out_channels: int, *, kernel_size: int, batchnorm: bool, dropout: float
    ) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, padding="same")
        self.norm = MaskedBatchNorm1d(out_channels) if batchnorm else None
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = self.conv(x)
        if self.norm is not None:
            y = self.norm(y, mask)
        y = torch.relu(y) * mask.unsqueeze(1).to(y.dtype)  # >= 0, zero at padding
        if y.shape[-1] >= 2:  # stop pooling before the time axis would vanish
            y = F.max_pool1d(y, 2, ceil_mode=True)  # max(real, 0) == real, so padding cannot leak in
            mask = F.max_pool1d(mask.unsqueeze(1).float(), 2, ceil_mode=True).squeeze(1).bool()
        return self.drop(y), mask


class CnnBiLstm(nn.Module):
    """Conv1D blocks + two BiLSTM layers + dense head (module docstring).

    Args:
        n_classes: number of classes.
        input_spec: frames (or tokens, embedded first).
        dropout: dropout after every conv block, between and after the LSTMs
            and after the dense layer.
        use_batchnorm: batch norm in every conv block.
        filters: output channels of the conv blocks.
        kernel_size: convolution width, in steps.
        lstm_units: units per direction of both BiLSTM layers.
        dense_units: width of the dense layer.

    ``forward(x, mask)``: ``x`` float ``(B, T, F)`` (or int64 ``(B, T)``),
    mask bool ``(B, T)`` (``None``: all frames / non-zero tokens) -> logits
    float ``(B, n_classes)``.
    """

    def __init__(
        self,
        *,
        n_classes: int,
        input_spec: InputSpec,
        dropout: float = 0.3,
        use_batchnorm: bool = True,
        filters: Sequence[int] = (64, 128, 64, 32, 64),
        kernel_size: int = 3,
        lstm_units: int = 128,
        dense_units: int = 256,
    ) -> None:
        super().__init__()
        dropout = check_rate("cnn_bilstm", "dropout", dropout)
        kernel_size = check_int("cnn_bilstm", "kernel_size", kernel_size)
        lstm_units = check_int("cnn_bilstm", "lstm_units", lstm_units)
        dense_units = check_int("cnn_bilstm", "dense_units", dense_units)
        filters = [check_int("cnn_bilstm", "filters", f) for f in filters]
        if not filters:
            raise ConfigError("model 'cnn_bilstm': filters must list at least one conv block, got []")
        self.input = InputLayer(input_spec)
        channels = [self.input.out_dim, *filters]
        self.blocks = nn.ModuleList(
            ConvBlock(c_in, c_out, kernel_size=kernel_size, batchnorm=bool(use_batchnorm), dropout=dropout)
            for c_in, c_out in zip(channels[:-1], channels[1:])
        )
        self.lstm = MaskedLSTM(filters[-1], lstm_units, num_layers=2, bidirectional=True, dropout=dropout)
        self.drop = nn.Dropout(dropout)
        self.dense = nn.Linear(self.lstm.out_dim, dense_units)
        self.head = nn.Linear(dense_units, n_classes)

    def l2_parameters(self) -> list[nn.Parameter]:
        """The convolution weights (biases excluded): the only parameters the trainer's ``weight_decay`` reaches."""
        return [block.conv.weight for block in self.blocks]

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        mask = default_mask(x, self.input.spec) if mask is None else mask.bool()
        lengths_from_mask(mask)  # validate once (right-padded, no empty sample)
        h = zero_padding(self.input(x, mask), mask).transpose(1, 2)  # (B, F, T)
        for block in self.blocks:
            h, mask = block(h, mask)
        _, final = self.lstm(self.drop(h.transpose(1, 2)), mask)  # (B, 2 * lstm_units)
        z = self.drop(torch.relu(self.dense(self.drop(final))))
        return self.head(z)


CNN_BILSTM_SPACE = Space(
    {
        "dropout": Float(0.0, 0.5),
        "use_batchnorm": Categorical([True, False]),
        "weight_decay": Float(1e-5, 3e-2, log=True),
        "lr": Float(5e-4, 5e-3, log=True),
        "batch_size": Categorical([16, 32, 64]),
    }
)
"""Dropout, batch norm on/off, conv weight decay, learning rate and batch size around the paper's values.

``weight_decay`` reaches the convolutions only (:meth:`CnnBiLstm.l2_parameters`);
its range covers the paper's 0.02. The ranges are narrower than they were
(lr 1e-4..1e-2, weight decay 1e-4..1e-1), where every tuned trial of the CREMA-D
benchmark predicted one class: measured on 230 CREMA-D training clips (MFCC,
``frame_pool`` 4), lr 1e-3 with the paper's decay sits at the uniform prior
(loss ln 6, 16.7 % UA) for the first 4 epochs (about 30 optimizer steps), lr
1e-2 with decay 0.1 falls back to one class in 2 of 6 epochs, and lr 3e-3
leaves the plateau after 2 epochs and reaches 38 % UA at epoch 6
(``bench/README.md``, Speech, "Why cnn_bilstm collapsed").
"""

CNN_BILSTM_DEFAULTS: dict[str, Any] = {
    "dropout": 0.3,
    "use_batchnorm": True,
    "filters": (64, 128, 64, 32, 64),
    "kernel_size": 3,
    "lstm_units": 128,
    "dense_units": 256,
    "lr": 3e-3,
    "batch_size": 32,
    "weight_decay": 2 * PAPER_L2,
}
"""The paper's values (dropout 0.3, l2 0.01 as weight decay 0.02) and layer sizes, with lr 3e-3 instead of the
paper's 1e-3: at 1e-3 the model needs about 30 optimizer steps to leave the uniform prior, so early stopping on a
small corpus ended runs there (see :data:`CNN_BILSTM_SPACE`)."""


build_cnn_bilstm = module_builder("cnn_bilstm", CnnBiLstm, CNN_BILSTM_DEFAULTS, INPUT_KINDS)


MODELS.add(
    "cnn_bilstm",
    ModelSpec(
        name="cnn_bilstm",
        build=build_cnn_bilstm,
        default_space=CNN_BILSTM_SPACE,
        description="Conv1D blocks + two BiLSTM layers + dense head, the audio branch of the IEMOCAP paper",
        defaults=CNN_BILSTM_DEFAULTS,
        input_kinds=INPUT_KINDS,
    ),
)
