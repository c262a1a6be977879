"""Masked attention layers: multi-head scaled dot-product self-attention and additive attention pooling."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from emotune.exceptions import ConfigError
from emotune.models.masking import masked_softmax, zero_padding

__all__ = ["n_heads", "MultiHeadSelfAttention", "AdditiveAttention"]


def n_heads(d_model: int, head_dim: int) -> int:
    """Number of heads for a model width and a per-head width: ``max(1, d_model // head_dim)``.

    The heads need not tile ``d_model`` exactly: queries, keys and values are
    projected to ``n_heads * head_dim`` and the output back to ``d_model`` (as
    Keras' ``MultiHeadAttention(num_heads, key_dim)`` does). ``d_model=300,
    head_dim=128`` gives 2 heads over a 256-wide inner space; ``d_model=64,
    head_dim=128`` gives 1 head of 128.
    """
    if d_model < 1 or head_dim < 1:
        raise ConfigError(f"d_model and head_dim must be >= 1, got d_model={d_model}, head_dim={head_dim}")
    return max(1, d_model // head_dim)


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention with a residual connection and layer norm.

    ``y = LayerNorm(x + Dropout(W_o · concat_h softmax(Q_h K_h^T / sqrt(head_dim) + M) V_h))``
    where ``M`` is ``-inf`` at padded keys (Vaswani et al. 2017, eq. 1-2).

    Args:
        d_model: width of inputs and outputs.
        head_dim: width of every head; ``n_heads(d_model, head_dim)`` heads.
        dropout: dropout on the attention weights and on the output.

    ``forward(x, mask)``: ``x`` float ``(B, T, d_model)``, ``mask`` bool
    ``(B, T)`` or ``None`` (all steps real) -> float ``(B, T, d_model)`` with
    padded steps zeroed.
    """

    def __init__(self, d_model: int, head_dim: int, *, dropout: float = 0.0) -> None:
        super().__init__()
        self.heads = n_heads(d_model, head_dim)
        self.head_dim = int(head_dim)
        inner = self.heads * self.head_dim
        self.qkv = nn.Linear(d_model, 3 * inner)
        self.out = nn.Linear(inner, d_model)
        self.dropout = float(dropout)
        self.drop = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        B, T, _ = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)  # each (B, h, T, hd)
        attn_mask = None if mask is None else mask[:, None, None, :]  # True = may attend
        ctx = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, dropout_p=self.dropout if self.training else 0.0
        )  # (B, h, T, hd)
        ctx = ctx.transpose(1, 2).reshape(B, T, self.heads * self.head_dim)
        y = self.norm(x + self.drop(self.out(ctx)))
        return y if mask is None else zero_padding(y, mask)


class AdditiveAttention(nn.Module):
    """Additive attention pooling over time (Bahdanau-style scoring).

    ``score_t = v^T tanh(W h_t + b)``, ``alpha = softmax(score)`` over the real
    steps, ``c = sum_t alpha_t h_t``.

    Args:
        input_dim: width of ``h_t``.
        attention_dim: width of ``W h_t``.

    ``forward(h, mask)``: ``h`` float ``(B, T, input_dim)``, ``mask`` bool
    ``(B, T)`` -> ``(context, weights)``: float ``(B, input_dim)`` and float
    ``(B, T)`` (zero at padded steps, rows sum to 1).
    """

    def __init__(self, input_dim: int, attention_dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(input_dim, attention_dim)  # W, b
        self.v = nn.Linear(attention_dim, 1, bias=False)  # v

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scores = self.v(torch.tanh(self.proj(h))).squeeze(-1)  # (B, T): v^T tanh(W h_t + b)
        weights = masked_softmax(scores, mask)
        context = torch.bmm(weights.unsqueeze(1), h).squeeze(1)  # sum_t alpha_t h_t
        return context, weights
