"""LSTM self-attention classifier searched by a GA (Parada et al., Appl. Sci. 2025), registered as ``"lstm_sa"``.

Architecture, for a :class:`~emotune.models.lstm_sa_config.LstmSaConfig`::

    input layer (embedding -> d_model, + learned positions when attention is used)
    -> dropout
    -> (1 + replications) x encoder block:
           [multi-head self-attention]  if attention in {before, both}
           stacked LSTM (n_layers, uni or bi, width d_model)
           dropout
           [multi-head self-attention]  if attention in {after, both}
    -> pre-classifier op (ffnn | pooling | lstm | bilstm) -> (B, d_model)
    -> dropout -> [Linear(d_model, shape_factor * d_model) -> activation -> dropout]
    -> Linear(., n_classes) logits

Attention uses ``max(1, d_model // head_dim)`` heads of width ``head_dim`` (see
:func:`emotune.models.attention.n_heads`) with a residual connection and layer
norm. The paper's Keras models padded to a fixed length, so their ``ffnn``
could flatten time; here sequences vary in length, so ``ffnn`` is a
position-wise Linear + activation followed by a masked mean.

The 21-bit chromosome and its decoding table are in
:mod:`emotune.models.lstm_sa_config` (preset ``"lstm_sa_ga21"``).
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from emotune.models._base import MODELS, ModelSpec, resolve_params
from emotune.models.activations import make_activation
from emotune.models.attention import MultiHeadSelfAttention
from emotune.models.inputs import InputLayer, InputSpec, default_mask
from emotune.models.lstm_sa_config import GA21_SPACE, LSTM_SA_SPACE, LstmSaConfig, decode_ga21
from emotune.models.masking import masked_mean
from emotune.models.recurrent import MaskedLSTM

__all__ = ["LstmSelfAttention", "LstmSaConfig", "decode_ga21", "build_lstm_sa", "LSTM_SA_DEFAULTS"]

INPUT_KINDS = ("tokens", "frames")


def _lstm(config: LstmSaConfig, *, n_layers: int, bidirectional: bool, dropout: float) -> MaskedLSTM:
    """An LSTM stack of output width ``d_model`` (``d_model // 2`` units per direction when bidirectional)."""
    d = config.d_model
    hidden = d // 2 if bidirectional else d
    return MaskedLSTM(d, hidden, num_layers=n_layers, bidirectional=bidirectional, dropout=dropout)


class EncoderBlock(nn.Module):
    """``[attention] -> LSTM stack -> dropout -> [attention]``: float ``(B, T, d_model)`` -> same shape."""

    def __init__(self, config: LstmSaConfig) -> None:
        super().__init__()
        d, p = config.d_model, config.dropout
        self.attn_before = (
            MultiHeadSelfAttention(d, config.head_dim, dropout=p) if config.attention in ("before", "both") else None
        )
        self.lstm = _lstm(config, n_layers=config.n_layers, bidirectional=config.direction == "bi", dropout=p)
        self.drop = nn.Dropout(p)
        self.attn_after = (
            MultiHeadSelfAttention(d, config.head_dim, dropout=p) if config.attention in ("after", "both") else None
        )

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.attn_before is not None:
            h = self.attn_before(h, mask)
        h, _ = self.lstm(h, mask)
        h = self.drop(h)
        if self.attn_after is not None:
            h = self.attn_after(h, mask)
        return h


class _Pooling(nn.Module):
    """Masked mean over time: ``(B, T, d)`` -> ``(B, d)``."""

    def __init__(self, config: LstmSaConfig) -> None:
        super().__init__()

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return masked_mean(h, mask)


class _Ffnn(nn.Module):
    """Position-wise ``activation(Linear(h_t))`` then masked mean: ``(B, T, d)`` -> ``(B, d)``."""

    def __init__(self, config: LstmSaConfig) -> None:
        super().__init__()
        self.ff = nn.Sequential(nn.Linear(config.d_model, config.d_model), make_activation(config.activation))

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return masked_mean(self.ff(h), mask)


class _FinalLstm(nn.Module):
    """A final (Bi)LSTM whose state after the last real step is the summary: ``(B, T, d)`` -> ``(B, d)``."""

    bidirectional = False

    def __init__(self, config: LstmSaConfig) -> None:
        super().__init__()
        self.lstm = _lstm(config, n_layers=1, bidirectional=self.bidirectional, dropout=0.0)

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.lstm(h, mask)[1]


class _FinalBiLstm(_FinalLstm):
    bidirectional = True


PRE_CLASSIFIER_OPS: dict[str, type[nn.Module]] = {
    "ffnn": _Ffnn,
    "pooling": _Pooling,
    "lstm": _FinalLstm,
    "bilstm": _FinalBiLstm,
}
"""The operation that turns the encoded sequence into one vector, by gene value."""


class LstmSelfAttention(nn.Module):
    """The GA-searched LSTM self-attention classifier (module docstring for the layout).

    Args:
        config: the architecture.
        n_classes: number of classes.
        input_spec: tokens or frames.

    ``forward(x, mask)``: ``x`` int64 ``(B, T)`` token ids or float
    ``(B, T, F)`` frames; ``mask`` bool ``(B, T)``, True at real steps (``None``:
    non-zero tokens / all frames) -> logits float ``(B, n_classes)``.
    """

    def __init__(self, config: LstmSaConfig, *, n_classes: int, input_spec: InputSpec) -> None:
        super().__init__()
        self.config = config
        d, p = config.d_model, config.dropout
        self.input = InputLayer(input_spec, d, positions=config.attention != "none")
        self.input_drop = nn.Dropout(p)
        self.blocks = nn.ModuleList([EncoderBlock(config) for _ in range(config.n_blocks)])
        self.reduce = PRE_CLASSIFIER_OPS[config.pre_classifier](config)
        hidden = config.classifier_hidden
        layers: list[nn.Module] = [nn.Dropout(p)]
        if hidden > 0:
            layers += [nn.Linear(d, hidden), make_activation(config.activation), nn.Dropout(p)]
        layers.append(nn.Linear(hidden if hidden > 0 else d, n_classes))
        self.head = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        mask = default_mask(x, self.input.spec) if mask is None else mask.bool()
        h = self.input_drop(self.input(x, mask))
        for block in self.blocks:
            h = block(h, mask)
        return self.head(self.reduce(h, mask))


LSTM_SA_DEFAULTS: dict[str, Any] = {**LstmSaConfig().to_dict(), "lr": 1e-3, "batch_size": 32}
"""Values used for keys missing from ``params`` (architecture and trainer)."""


def build_lstm_sa(params: Mapping[str, Any], *, n_classes: int, input_spec: InputSpec) -> LstmSelfAttention:
    """Build :class:`LstmSelfAttention` from flat params (keys of :class:`LstmSaConfig`; trainer keys ignored)."""
    p = resolve_params(
        "lstm_sa",
        params,
        n_classes=n_classes,
        input_spec=input_spec,
        input_kinds=INPUT_KINDS,
        defaults=LSTM_SA_DEFAULTS,
    )
    return LstmSelfAttention(LstmSaConfig.from_params(p), n_classes=n_classes, input_spec=input_spec)


MODELS.add(
    "lstm_sa",
    ModelSpec(
        name="lstm_sa",
        build=build_lstm_sa,
        default_space=LSTM_SA_SPACE,
        presets={"lstm_sa_ga21": GA21_SPACE},
        description="LSTM + multi-head self-attention searched by a 21-bit GA (Parada et al., Appl. Sci. 2025)",
        defaults=LSTM_SA_DEFAULTS,
        input_kinds=INPUT_KINDS,
    ),
)
