"""What a model is fed (:class:`InputSpec`) and the input layer built from it (:class:`InputLayer`).

Three kinds of input:

* ``"tokens"``: LongTensor ``(B, T)`` of token ids, pad id 0. The layer is a
  trainable embedding ``(vocab_size, embedding_dim)``, optionally initialised
  from ``pretrained`` (float, ``(vocab_size, embedding_dim)``, e.g. word2vec).
* ``"frames"``: FloatTensor ``(B, T, feature_dim)`` of precomputed features per
  time step (MiniLM token states, 384; MFCC frames; ...).
* ``"vector"``: FloatTensor ``(B, feature_dim)``, one feature vector per sample
  (eGeMAPS functionals, pooled embeddings).

:class:`InputLayer` maps any of them to float features of width ``out_dim``:
with ``d_model`` given, a Linear projection to ``d_model`` (omitted when the
width already matches); with ``positions=True``, learned position embeddings
are added (attention has no notion of order). Padded steps come out as zeros.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from emotune.exceptions import ConfigError, DatasetError
from emotune.models._base import INPUT_KINDS
from emotune.models.masking import zero_padding

__all__ = ["InputSpec", "InputLayer", "PAD_ID", "default_mask"]

PAD_ID = 0
"""Token id of padding; its embedding row is zero and never updated."""


@dataclass(frozen=True)
class InputSpec:
    """What a model is fed.

    Args:
        kind: ``"tokens"``, ``"frames"`` or ``"vector"``.
        vocab_size: number of token ids, pad (0) included (tokens only).
        embedding_dim: width of the token embedding (tokens only).
        pretrained: optional float array ``(vocab_size, embedding_dim)`` that
            initialises the embedding (tokens only); row 0 (pad) is zeroed.
        fine_tune: whether the embedding is trained (True) or frozen.
        feature_dim: width ``F`` of a frame or vector (frames and vector).
        max_len: longest sequence the learned position embeddings cover.
    """

    kind: str
    vocab_size: int | None = None
    embedding_dim: int | None = None
    pretrained: Any = None
    fine_tune: bool = True
    feature_dim: int | None = None
    max_len: int = 512

    def __post_init__(self) -> None:
        if self.kind not in INPUT_KINDS:
            raise ConfigError(f"InputSpec.kind must be one of {list(INPUT_KINDS)}, got {self.kind!r}")
        if self.kind == "tokens":
            for name in ("vocab_size", "embedding_dim"):
                value = getattr(self, name)
                if value is None or int(value) != value or value < 1:
                    raise ConfigError(f"InputSpec(kind='tokens') needs a positive integer {name}, got {value!r}")
            if self.vocab_size < 2:
                raise ConfigError(f"InputSpec.vocab_size must be >= 2 (pad id 0 plus tokens), got {self.vocab_size}")
            if self.pretrained is not None:
                shape = tuple(np.shape(self.pretrained))
                if shape != (self.vocab_size, self.embedding_dim):
                    raise ConfigError(
                        f"InputSpec.pretrained must have shape (vocab_size, embedding_dim) = "
                        f"{(self.vocab_size, self.embedding_dim)}, got {shape}"
                    )
        else:
            if self.feature_dim is None or int(self.feature_dim) != self.feature_dim or self.feature_dim < 1:
                raise ConfigError(
                    f"InputSpec(kind={self.kind!r}) needs a positive integer feature_dim, got {self.feature_dim!r}"
                )
        if int(self.max_len) != self.max_len or self.max_len < 1:
            raise ConfigError(f"InputSpec.max_len must be a positive integer, got {self.max_len!r}")

    @property
    def width(self) -> int:
        """Width of the raw features: ``embedding_dim`` for tokens, else ``feature_dim``."""
        return int(self.embedding_dim if self.kind == "tokens" else self.feature_dim)

    @property
    def sequential(self) -> bool:
        """Whether inputs have a time axis (tokens, frames) or not (vector)."""
        return self.kind != "vector"


def default_mask(x: torch.Tensor, spec: InputSpec) -> torch.Tensor:
    """The mask used when a caller passes ``None``: bool ``(B, T)``.

    Non-pad tokens for ``x`` int64 ``(B, T)``; every step for frames
    ``(B, T, F)``.
    """
    if spec.kind == "tokens":
        return x != PAD_ID
    return torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)


class InputLayer(nn.Module):
    """Embedding or projection from an :class:`InputSpec` to float features.

    Args:
        spec: the input description.
        d_model: output width; ``None`` keeps the raw width (``spec.width``).
        positions: add learned position embeddings (sequential kinds only).

    ``forward(x, mask)``: ``x`` as described by ``spec`` and mask bool
    ``(B, T)`` (``None`` for vectors, or all real) -> float ``(B, T, out_dim)``
    (``(B, out_dim)`` for vectors) with padded steps zeroed.
    """

    def __init__(self, spec: InputSpec, d_model: int | None = None, *, positions: bool = False) -> None:
        super().__init__()
        if positions and not spec.sequential:
            raise ConfigError(
                "InputLayer: positions=True needs a sequential input (tokens or frames), got kind='vector'"
            )
        self.spec = spec
        self.embedding: nn.Embedding | None = None
        if spec.kind == "tokens":
            self.embedding = nn.Embedding(spec.vocab_size, spec.embedding_dim, padding_idx=PAD_ID)
            if spec.pretrained is not None:
                with torch.no_grad():
                    weight = torch.as_tensor(np.asarray(spec.pretrained), dtype=torch.float32)
                    self.embedding.weight.copy_(weight)
                    self.embedding.weight[PAD_ID].zero_()
            self.embedding.weight.requires_grad_(bool(spec.fine_tune))
        width = spec.width
        self.out_dim = int(d_model) if d_model is not None else width
        self.projection: nn.Module = nn.Linear(width, self.out_dim) if self.out_dim != width else nn.Identity()
        self.positions = nn.Embedding(spec.max_len, self.out_dim) if positions else None

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        spec = self.spec
        want = {"tokens": 2, "frames": 3, "vector": 2}[spec.kind]
        if x.dim() != want:
            raise DatasetError(f"{spec.kind} input must have {want} dimensions, got shape {tuple(x.shape)}")
        if spec.kind == "tokens":
            h = self.embedding(x.long())
        else:
            if x.shape[-1] != spec.feature_dim:
                raise DatasetError(
                    f"{spec.kind} input must have feature_dim={spec.feature_dim}, got shape {tuple(x.shape)}"
                )
            h = x.float()
        h = self.projection(h)
        if not spec.sequential:
            return h
        if self.positions is not None:
            T = h.shape[1]
            if T > spec.max_len:
                raise DatasetError(f"sequence of {T} steps is longer than InputSpec.max_len={spec.max_len}")
            h = h + self.positions(torch.arange(T, device=h.device)).unsqueeze(0)
        return h if mask is None else zero_padding(h, mask)
