"""A small ResNet on grey face crops, registered as ``face_cnn`` (the "ResNet face" branch of SALSTM-LWARO).

torchvision is not usable here, so this is our own ResNet-18-shaped network
(random initialisation): a 3x3 stem, four stages of ``blocks`` basic residual
blocks (two 3x3 convs with batch norm, identity or strided 1x1 shortcut) with
widths ``w, 2w, 4w, 8w`` and stride 2 from the second stage on, global average
pooling, dropout, linear. ``blocks = 2`` and ``base_width = 64`` is ResNet-18's
layout; the default is 2 blocks of width 16 (about 0.7M parameters), which fits
48x48 crops and two CPU cores.

Input: the ``pixels`` face feature, one vector per image, float ``(B, side*side)``
(row-major; ``side`` is inferred from ``feature_dim``, 48 for CK+48), reshaped
to ``(B, 1, side, side)``. With ``flip=True`` each training image is mirrored
left-right with probability 0.5 (faces are roughly symmetric).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import torch
from torch import nn

from emotune.exceptions import ConfigError
from emotune.models._base import MODELS, ModelSpec, check_int, check_rate, module_builder
from emotune.models.inputs import InputSpec
from emotune.search.spaces import Categorical, Float, Space

__all__ = ["FaceCnn", "FACE_CNN_SPACE", "FACE_CNN_DEFAULTS"]


class _Block(nn.Module):
    """ResNet basic block: conv3x3-BN-ReLU-conv3x3-BN plus shortcut, ReLU."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = (nn.Identity() if stride == 1 and c_in == c_out else
                         nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(h)) + self.shortcut(x))


class FaceCnn(nn.Module):
    """``forward(x, mask=None)``: float ``(B, side*side)`` pixels -> logits ``(B, n_classes)``."""

    def __init__(self, *, n_classes: int, input_spec: InputSpec, base_width: int = 16, blocks: int = 2,
                 dropout: float = 0.2, flip: bool = True) -> None:
        super().__init__()
        side = math.isqrt(int(input_spec.feature_dim or 0))
        if side * side != input_spec.feature_dim or side < 8:
            raise ConfigError(f"model 'face_cnn' reads square grey crops (the 'pixels' face feature): feature_dim "
                              f"must be side*side with side >= 8, got {input_spec.feature_dim}")
        self.side = side
        w = check_int("face_cnn", "base_width", base_width)
        blocks = check_int("face_cnn", "blocks", blocks)
        self.flip = bool(flip)
        self.stem = nn.Sequential(nn.Conv2d(1, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU())
        layers: list[nn.Module] = []
        c = w
        for stage, width in enumerate((w, 2 * w, 4 * w, 8 * w)):
            for b in range(blocks):
                layers.append(_Block(c, width, 2 if (stage > 0 and b == 0) else 1))
                c = width
        self.stages = nn.Sequential(*layers)
        self.dropout = nn.Dropout(check_rate("face_cnn", "dropout", dropout))
        self.fc = nn.Linear(c, n_classes)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        img = x.reshape(len(x), 1, self.side, self.side)
        if self.training and self.flip:
            flip = torch.rand(len(x), device=x.device) < 0.5
            img = torch.where(flip[:, None, None, None], img.flip(-1), img)
        h = self.stages(self.stem(img)).mean(dim=(2, 3))
        return self.fc(self.dropout(h))


FACE_CNN_SPACE = Space({
    "base_width": Categorical([8, 16, 32]),
    "blocks": Categorical([1, 2]),
    "dropout": Float(0.0, 0.5),
    "lr": Float(1e-4, 3e-3, log=True),
    "batch_size": Categorical([16, 32, 64]),
    "weight_decay": Float(1e-6, 1e-2, log=True),
})

FACE_CNN_DEFAULTS: dict[str, Any] = {"base_width": 16, "blocks": 2, "dropout": 0.2, "flip": True, "lr": 1e-3,
                                     "batch_size": 32}

build_face_cnn = module_builder("face_cnn", FaceCnn, FACE_CNN_DEFAULTS, ("vector",))

MODELS.add("face_cnn", ModelSpec(
    name="face_cnn", build=build_face_cnn, default_space=FACE_CNN_SPACE,
    description="Small ResNet (ResNet-18 layout, narrower) on grey face crops (the 'pixels' face feature)",
    defaults=FACE_CNN_DEFAULTS, input_kinds=("vector",),
))
