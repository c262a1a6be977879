"""Features of grey face crops (CK+48, image folders), one vector per image, cached on disk.

Kinds (:data:`FACE_FEATURES`), each a float32 vector per image:

* ``pixels``: the crop resized to ``size`` x ``size`` (default 48), scaled to
  ``[0, 1]``, flattened row by row (2304 values). Also the input of ``face_cnn``.
* ``hog``: OpenCV's HOG descriptor of the 48x48 crop, 8x8 cells, 16x16 blocks
  with stride 8, 9 orientation bins (900 values).
* ``mini_xception``: fer's FER2013 mini-Xception
  (:mod:`emotune.features.mini_xception`): 128 pooled penultimate activations
  followed by the 7 class probabilities (135 values).
* ``landmarks``: dlib's 68 landmarks of the face (:mod:`emotune.features.face`),
  position, scale and roll removed (136 values). The crop itself is the face box
  (CK+48 crops are too small for the HOG detector).
* ``mx_hog``: mini-Xception (135) joined with HOG of 6x6-pixel cells (1764), each
  averaged over the crop and its mirror image (:mod:`emotune.features.face_combo`);
  two blocks (:data:`FACE_FEATURE_BLOCKS`) that the face task weights equally.

Images are read grey with OpenCV (:func:`load_gray`). The cache key is the
SHA-256 of the file's bytes, the kind, its parameters and the library versions,
so the same image under another name is computed once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from emotune.exceptions import ConfigError, FeatureError
from emotune.features.face_combo import HOG_CELL, MX_HOG_BLOCKS

__all__ = ["FACE_FEATURES", "FACE_FEATURE_DIMS", "FACE_FEATURE_BLOCKS", "load_gray", "face_vectors",
           "face_image_features"]

FACE_FEATURES = ("mx_hog", "mini_xception", "hog", "pixels", "landmarks")
"""Face-image feature kinds; the first is the default of ``--task face``."""

FACE_FEATURE_DIMS = {"pixels": 48 * 48, "hog": 900, "mini_xception": 135, "landmarks": 136,
                     "mx_hog": sum(MX_HOG_BLOCKS)}

FACE_FEATURE_BLOCKS: dict[str, tuple[int, ...]] = {"mx_hog": MX_HOG_BLOCKS}
"""Kinds that join several feature blocks: the width of each block, in order (others are one block)."""

_SIZE = 48


def load_gray(path: str | Path) -> np.ndarray:
    """The image at ``path`` as uint8 grey ``(H, W)``; a :class:`FeatureError` naming the file if unreadable."""
    import cv2

    data = np.fromfile(str(path), dtype=np.uint8) if Path(path).is_file() else None
    if data is None:
        raise FeatureError(f"{str(path)!r}: image file not found")
    image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise FeatureError(f"{str(path)!r}: not a readable image (OpenCV cannot decode it)")
    return image


def _resize(face: np.ndarray, size: int) -> np.ndarray:
    import cv2

    if face.shape == (size, size):
        return face
    return cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA)


def _pixels(faces: list[np.ndarray]) -> np.ndarray:
    return np.stack([_resize(f, _SIZE).reshape(-1) for f in faces]).astype(np.float32) / 255.0


def _hog(faces: list[np.ndarray]) -> np.ndarray:
    import cv2

    hog = cv2.HOGDescriptor((_SIZE, _SIZE), (16, 16), (8, 8), (8, 8), 9)
    return np.stack([hog.compute(_resize(f, _SIZE)).reshape(-1) for f in faces]).astype(np.float32)


def _mini_xception(faces: list[np.ndarray]) -> np.ndarray:
    from emotune.features.mini_xception import mini_xception_outputs

    proba, pooled = mini_xception_outputs(np.stack([_resize(f, 64) for f in faces]))
    return np.concatenate([pooled, proba], axis=1)


def _landmarks(faces: list[np.ndarray]) -> np.ndarray:
    from emotune.features.face import FaceBox, face_landmarks, normalize_landmarks

    out = []
    for f in faces:
        big = _resize(f, 128)  # the predictor works at a usable scale
        pts = face_landmarks(big, FaceBox(0, 0, big.shape[1] - 1, big.shape[0] - 1))
        out.append(normalize_landmarks(pts).reshape(-1))
    return np.stack(out).astype(np.float32)


def _mx_hog(faces: list[np.ndarray]) -> np.ndarray:
    from emotune.features.face_combo import mx_hog_vectors

    return mx_hog_vectors(faces)


_COMPUTE: dict[str, Callable[[list[np.ndarray]], np.ndarray]] = {
    "pixels": _pixels, "hog": _hog, "mini_xception": _mini_xception, "landmarks": _landmarks, "mx_hog": _mx_hog,
}

_KEY_PARAMS: dict[str, dict[str, Any]] = {"mx_hog": {"size": _SIZE, "hog_cell": HOG_CELL, "mirror": "mean"}}
"""Cache-key parameters of a kind (default ``{"size": 48}``); a change of the recipe must change them."""


def face_vectors(faces: Sequence[np.ndarray], features: str) -> np.ndarray:
    """Features of uint8 grey crops ``faces`` (each ``(H, W)``): float32 ``(n, FACE_FEATURE_DIMS[features])``."""
    if features not in _COMPUTE:
        raise ConfigError(f"face features must be one of {FACE_FEATURES}, got {features!r}")
    if not len(faces):
        return np.zeros((0, FACE_FEATURE_DIMS[features]), np.float32)
    return _COMPUTE[features](list(faces))


def _versions(features: str) -> dict[str, Any]:
    from emotune.features.cache import library_versions

    libs = {"pixels": ("opencv-python-headless",), "hog": ("opencv-python-headless",),
            "mini_xception": ("opencv-python-headless", "torch", "fer"),
            "mx_hog": ("opencv-python-headless", "torch", "fer"),
            "landmarks": ("opencv-python-headless", "dlib-bin", "face-recognition-models")}[features]
    return library_versions(*libs)


def face_image_features(
    paths: Sequence[str], features: str, *, cache: Any = None, on_error: str = "raise", chunk_size: int = 256,
) -> tuple[list[np.ndarray | None], list[tuple[str, str]]]:
    """Features of the face images at ``paths`` (through ``cache`` when given).

    Returns:
        ``(vectors, errors)``: one float32 ``(D,)`` vector per path (``None`` for
        an image that failed under ``on_error="skip"``) and ``(path, reason)`` pairs.

    Raises:
        FeatureError: an unreadable image under ``on_error="raise"`` (names the file).
    """
    from emotune.features.cache import FeatureCache, content_hash

    if features not in _COMPUTE:
        raise ConfigError(f"face features must be one of {FACE_FEATURES}, got {features!r}")
    if on_error not in ("raise", "skip"):
        raise ConfigError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    errors: list[tuple[str, str]] = []
    ok: list[int] = []
    keys: list[str] = []
    versions = _versions(features)
    key_params = _KEY_PARAMS.get(features, {"size": _SIZE})
    for i, p in enumerate(paths):
        try:
            data = Path(p).read_bytes()
        except OSError as exc:
            if on_error == "raise":
                raise FeatureError(f"{str(p)!r}: cannot read image: {exc}") from exc
            errors.append((str(p), f"cannot read image: {exc}"))
            continue
        ok.append(i)
        keys.append(FeatureCache.key(content_hash(data), "face_image", features, key_params, versions))
    bad: set[int] = set()

    def compute(positions: list[int]) -> list[np.ndarray]:
        faces = []
        for pos in positions:
            try:
                faces.append(load_gray(paths[ok[pos]]))
            except FeatureError:
                if on_error == "raise":
                    raise
                bad.add(pos)
                faces.append(np.zeros((_SIZE, _SIZE), np.uint8))
        return list(face_vectors(faces, features))

    if cache is not None:
        arrays = cache.get_or_compute(keys, compute, chunk_size=chunk_size)
    else:
        arrays = compute(list(range(len(ok))))
    out: list[np.ndarray | None] = [None] * len(paths)
    for pos, i in enumerate(ok):
        if pos in bad:
            errors.append((str(paths[i]), "not a readable image (OpenCV cannot decode it)"))
            if cache is not None:  # never keep the placeholder's features
                cache.path(keys[pos]).unlink(missing_ok=True)
            continue
        out[i] = np.asarray(arrays[pos], np.float32)
    return out, errors
