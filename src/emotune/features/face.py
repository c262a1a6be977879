"""Face detection, 68 landmarks and eye alignment with dlib, offline.

* Detection: dlib's built-in HOG + linear SVM frontal face detector
  (``dlib.get_frontal_face_detector``, shipped inside the ``dlib-bin`` wheel).
* Landmarks: the iBUG 68-point shape predictor ``shape_predictor_68_face_landmarks.dat``
  from the ``face-recognition-models`` wheel (found on disk without importing
  that package, whose ``__init__`` needs ``pkg_resources``).
* Alignment: rotate about the midpoint of the eyes so they are level, scale so
  the eye distance is a fixed fraction of the crop, crop a square grey face.
* Landmark features: the 68 points centred on their mean, divided by the eye
  distance and rotated so the eyes are level (position, scale and roll removed).

Coordinates are pixels ``(x, y)`` of the image given, origin top left. Images are
uint8 grey ``(H, W)``. Models load lazily, once per process.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emotune.exceptions import FeatureError

__all__ = [
    "N_LANDMARKS",
    "LEFT_EYE",
    "RIGHT_EYE",
    "FaceBox",
    "dlib_model_path",
    "detect_faces",
    "face_landmarks",
    "eye_centres",
    "normalize_landmarks",
    "align_face",
]

N_LANDMARKS = 68
LEFT_EYE = slice(36, 42)
"""The subject's right eye, on the image's left (iBUG points 37-42, 0-based 36-41)."""
RIGHT_EYE = slice(42, 48)
"""The subject's left eye, on the image's right (iBUG points 43-48)."""


@dataclass(frozen=True)
class FaceBox:
    """A detected face: pixel box ``[left, right) x [top, bottom)`` and the detector's score."""

    left: int
    top: int
    right: int
    bottom: int
    score: float = 0.0

    @property
    def area(self) -> int:
        return max(self.right - self.left, 0) * max(self.bottom - self.top, 0)

    def contains(self, points: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """Bool ``(n,)``: which of the float ``(n, 2)`` ``(x, y)`` points lie in the box grown by ``margin`` of its size."""
        mx = margin * (self.right - self.left)
        my = margin * (self.bottom - self.top)
        x, y = points[:, 0], points[:, 1]
        return (x >= self.left - mx) & (x <= self.right + mx) & (y >= self.top - my) & (y <= self.bottom + my)


def dlib_model_path(name: str = "shape_predictor_68_face_landmarks.dat") -> Path:
    """A model file of the ``face-recognition-models`` wheel (``models/<name>``)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FeatureError(
            "dlib's landmark model comes from the 'face-recognition-models' package, which is not installed; "
            "pip install face-recognition-models (or emotune[face])"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / name
    if not path.is_file():
        raise FeatureError(f"face-recognition-models has no {path}")
    return path


def _dlib():
    try:
        import dlib
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise FeatureError("face detection needs dlib: pip install dlib-bin (or emotune[face])") from exc
    return dlib


@functools.lru_cache(maxsize=1)
def _detector():
    return _dlib().get_frontal_face_detector()


@functools.lru_cache(maxsize=1)
def _predictor():
    return _dlib().shape_predictor(str(dlib_model_path()))


def _gray(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 3:
        import cv2

        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.ndim != 2:
        raise FeatureError(f"image must be grey (H, W) or BGR (H, W, 3), got shape {image.shape}")
    return np.ascontiguousarray(image, dtype=np.uint8)


def detect_faces(image: np.ndarray, *, upsample: int = 0) -> list[FaceBox]:
    """Faces in ``image`` (uint8 grey ``(H, W)`` or BGR ``(H, W, 3)``), largest first.

    ``upsample``: times the image is doubled before detection (finds faces under
    about 80x80 pixels, at four times the cost each).
    """
    dets, scores, _ = _detector().run(_gray(image), int(upsample), 0.0)
    boxes = [FaceBox(d.left(), d.top(), d.right(), d.bottom(), float(s)) for d, s in zip(dets, scores)]
    return sorted(boxes, key=lambda b: -b.area)


def face_landmarks(image: np.ndarray, box: FaceBox) -> np.ndarray:
    """The 68 iBUG landmarks of the face in ``box``: float32 ``(68, 2)`` pixel ``(x, y)``."""
    dlib = _dlib()
    rect = dlib.rectangle(int(box.left), int(box.top), int(box.right), int(box.bottom))
    shape = _predictor()(_gray(image), rect)
    return np.array([[p.x, p.y] for p in shape.parts()], np.float32)


def eye_centres(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the image-left and image-right eye, each float ``(2,)``, from ``(68, 2)`` landmarks."""
    points = np.asarray(points, np.float64)
    if points.shape != (N_LANDMARKS, 2):
        raise FeatureError(f"landmarks must have shape ({N_LANDMARKS}, 2), got {points.shape}")
    return points[LEFT_EYE].mean(axis=0), points[RIGHT_EYE].mean(axis=0)


def normalize_landmarks(points: np.ndarray) -> np.ndarray:
    """Landmarks without position, scale and roll: float32 ``(68, 2)``.

    Centred on the mean of the 68 points, rotated by minus the angle of the line
    between the eye centres, divided by the eye distance. Two faces that differ
    only by a shift, a zoom and an in-plane rotation give the same result.
    """
    left, right = eye_centres(points)
    d = right - left
    dist = float(np.hypot(*d))
    if dist < 1e-6:
        raise FeatureError("landmarks have both eyes at the same point; cannot normalise")
    angle = np.arctan2(d[1], d[0])
    c, s = np.cos(-angle), np.sin(-angle)
    rot = np.array([[c, -s], [s, c]])
    centred = np.asarray(points, np.float64) - np.asarray(points, np.float64).mean(axis=0)
    return ((centred @ rot.T) / dist).astype(np.float32)


def align_face(image: np.ndarray, points: np.ndarray, *, size: int = 64, eye_fraction: float = 0.36,
               eye_height: float = 0.38) -> np.ndarray:
    """A square grey face crop with level eyes.

    Args:
        image: uint8 grey ``(H, W)`` or BGR ``(H, W, 3)``.
        points: float ``(68, 2)`` landmarks of the face in ``image``.
        size: side of the crop in pixels.
        eye_fraction: eye distance as a fraction of ``size``.
        eye_height: height of the eye line as a fraction of ``size`` from the top.

    Returns:
        uint8 ``(size, size)``.
    """
    import cv2

    left, right = eye_centres(points)
    d = right - left
    angle = float(np.degrees(np.arctan2(d[1], d[0])))
    scale = eye_fraction * size / max(float(np.hypot(*d)), 1e-6)
    centre = (left + right) / 2.0
    m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, scale)
    m[0, 2] += size / 2.0 - centre[0]
    m[1, 2] += eye_height * size - centre[1]
    return cv2.warpAffine(_gray(image), m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
