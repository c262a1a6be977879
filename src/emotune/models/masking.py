"""Padding masks: checks, and pooling / softmax over the real time steps only.

A mask is a BoolTensor ``(B, T)`` that is True at real steps. Masks are
right-padded: every sample's real steps come first, and every sample has at
least one (an empty sample has nothing to classify).
"""

from __future__ import annotations

import torch

from emotune.exceptions import DatasetError

__all__ = ["lengths_from_mask", "full_mask", "masked_mean", "masked_max", "masked_softmax", "zero_padding"]


def full_mask(x: torch.Tensor) -> torch.Tensor:
    """An all-True mask (bool, shape ``(B, T)``) for ``x`` of shape ``(B, T, ...)``."""
    return torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)


def lengths_from_mask(mask: torch.Tensor) -> torch.Tensor:
    """Number of real steps of every sample.

    Args:
        mask: bool, shape ``(B, T)``, True at real steps, right-padded.

    Returns:
        int64, shape ``(B,)``, each in ``[1, T]``.

    Raises:
        DatasetError: the mask is not 2-D, a sample has no real step, or a
            sample has a padded step before a real one.
    """
    if mask.dim() != 2:
        raise DatasetError(f"mask must have shape (B, T), got {tuple(mask.shape)}")
    mask = mask.bool()
    lengths = mask.sum(dim=1)
    if bool((lengths == 0).any()):
        empty = lengths.eq(0).nonzero().flatten().tolist()
        raise DatasetError(f"every sample needs at least one real step; samples {empty} have none")
    steps = torch.arange(mask.shape[1], device=mask.device)
    if not torch.equal(steps.unsqueeze(0) < lengths.unsqueeze(1), mask):
        raise DatasetError("mask must be right-padded (True at the first steps of each sample, then False)")
    return lengths


def zero_padding(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``x`` (float, ``(B, T, D)``) with padded steps set to 0."""
    return x * mask.unsqueeze(-1).to(x.dtype)


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over real steps: ``x`` float ``(B, T, D)``, mask ``(B, T)`` -> float ``(B, D)``."""
    w = mask.unsqueeze(-1).to(x.dtype)
    return (x * w).sum(dim=1) / w.sum(dim=1).clamp_min(1.0)


def masked_max(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Max over real steps: ``x`` float ``(B, T, D)``, mask ``(B, T)`` -> float ``(B, D)``."""
    return x.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(dim=1)


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis with padded positions given weight 0.

    Args:
        scores: float, shape ``(B, T)``.
        mask: bool, shape ``(B, T)``.

    Returns:
        float, shape ``(B, T)``; each row sums to 1 over its real steps.
    """
    return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
