"""The IEMOCAP paper's motion-capture CNN, registered as ``mocap_cnn``.

Input: frames float ``(B, T, F)``: the motion-capture streams of an utterance
cut into ``T = 200`` segments and averaged (:func:`~emotune.data.readers.mocap.segment_average`),
streams concatenated on the feature axis. Architecture::

    3 stages, filters (128, 128), (64, 64), (32, 32):
        Conv1D(k) -> BN -> ReLU, Conv1D(k) -> BN -> ReLU, MaxPool1D(2), Dropout
    masked mean over the remaining steps (not the paper's flatten, so any T works) -> Dense(256) -> ReLU
    -> Dropout
    -> Linear(n_classes)

Convolutions are "same" padded; the mask (bool ``(B, T)``) zeroes padded steps
before each stage and is max-pooled with the frames.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from emotune.models._base import MODELS, ModelSpec, check_int, check_rate, module_builder
from emotune.models.inputs import InputSpec
from emotune.search.spaces import Categorical, Float, Int, Space

__all__ = ["MocapCnn", "MOCAP_CNN_SPACE", "MOCAP_CNN_DEFAULTS"]


class MocapCnn(nn.Module):
    """``forward(x, mask)``: float ``(B, T, F)``, bool ``(B, T)`` or None -> logits ``(B, n_classes)``."""

    def __init__(self, *, n_classes: int, input_spec: InputSpec, filters: Sequence[int] = (128, 64, 32),
                 kernel_size: int = 3, dense_units: int = 256, dropout: float = 0.2) -> None:
        super().__init__()
        k = check_int("mocap_cnn", "kernel_size", kernel_size)
        dropout = check_rate("mocap_cnn", "dropout", dropout)
        c = int(input_spec.feature_dim or 0)
        stages = []
        for f in filters:
            f = check_int("mocap_cnn", "filters", f)
            stages.append(nn.ModuleList([
                nn.Conv1d(c, f, k, padding=k // 2), nn.BatchNorm1d(f),
                nn.Conv1d(f, f, k, padding=k // 2), nn.BatchNorm1d(f),
            ]))
            c = f
        self.stages = nn.ModuleList(stages)
        self.dropout = nn.Dropout(dropout)
        self.dense = nn.Linear(c, check_int("mocap_cnn", "dense_units", dense_units))
        self.out = nn.Linear(self.dense.out_features, n_classes)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.out(self.dropout(self.encode(x, mask)))

    def encode(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The last hidden layer: float ``(B, T, F)`` -> ``(B, dense_units)`` (after the ReLU), as intermediate
        fusion uses it."""
        h = x.transpose(1, 2)  # (B, F, T)
        m = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device) if mask is None else mask.bool()
        for conv1, bn1, conv2, bn2 in self.stages:
            h = h * m[:, None, :]
            h = torch.relu(bn1(conv1(h)))
            h = torch.relu(bn2(conv2(h)))
            if h.shape[2] >= 2:
                h = nn.functional.max_pool1d(h, 2)
                m = nn.functional.max_pool1d(m[:, None, :].float(), 2)[:, 0] > 0
            h = self.dropout(h)
        w = m[:, None, :].float()
        pooled = (h * w).sum(dim=2) / w.sum(dim=2).clamp(min=1.0)  # masked mean over the remaining steps
        return torch.relu(self.dense(pooled))


MOCAP_CNN_SPACE = Space({
    "kernel_size": Categorical([3, 5]),
    "dense_units": Int(64, 512, log=True),
    "dropout": Float(0.0, 0.5),
    "lr": Float(1e-4, 1e-2, log=True),
    "batch_size": Categorical([16, 32, 64]),
    "weight_decay": Float(1e-6, 1e-2, log=True),
})

MOCAP_CNN_DEFAULTS: dict[str, Any] = {"filters": (128, 64, 32), "kernel_size": 3, "dense_units": 256, "dropout": 0.2,
                                      "lr": 1e-3, "batch_size": 32}

build_mocap_cnn = module_builder("mocap_cnn", MocapCnn, MOCAP_CNN_DEFAULTS, ("frames",))

MODELS.add("mocap_cnn", ModelSpec(
    name="mocap_cnn", build=build_mocap_cnn, default_space=MOCAP_CNN_SPACE,
    description="IEMOCAP motion-capture CNN: 3 stages of two BN Conv1D (128, 64, 32), max-pool 2, dense 256",
    defaults=MOCAP_CNN_DEFAULTS, input_kinds=("frames",),
))
