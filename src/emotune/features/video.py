"""Video as the face modality: read frames (a video file with OpenCV, or a folder of frames), sample them,
find the face in each, and turn the clip into per-frame face features; cached like audio features.

Reading (:func:`read_frames`): a file is decoded with ``cv2.VideoCapture``
(its own frame rate); a folder is read as its image files in sorted name order
at ``fps`` (default 29.97, CREMA-D's and RAVDESS's rate). Sampling
(:func:`sample_indices`): ``n_frames`` evenly spaced frames, or every frame at a
``target_fps`` (nearest earlier source frame), or all.

Per frame (:func:`clip_face_features`): dlib detection (largest face), 68
landmarks, then either

* ``"mini_xception"``: the eye-aligned 64x64 crop through the FER2013
  mini-Xception, 128 pooled activations + 7 probabilities (135 values), or
* ``"landmarks"``: landmarks without position, scale and roll (136) plus their
  frame-to-frame motion (136; zero on the first frame), 272 values.

Frames with no face are filled by linear interpolation between the nearest
frames with a face (held constant before the first / after the last); the
returned ``found`` mask says which were real. A clip with no face in any
sampled frame raises :class:`NoFaceError`; :func:`video_face_features` turns it
into a missing face modality for that clip (``None`` plus a reason), so a
multimodal sample goes on with its other modalities.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from emotune.exceptions import ConfigError, FeatureError

__all__ = ["NoFaceError", "VIDEO_FEATURES", "read_frames", "sample_indices", "clip_face_features",
           "interpolate_missing", "video_face_features"]

VIDEO_FEATURES = {"mini_xception": 135, "landmarks": 272}
DEFAULT_FPS = 30000 / 1001


class NoFaceError(FeatureError):
    """No face was found in any sampled frame of a clip."""


def sample_indices(n_total: int, fps: float, *, n_frames: int | None = None,
                   target_fps: float | None = None) -> np.ndarray:
    """Indices of the frames to keep out of ``n_total`` at ``fps``: int64 ``(k,)``, increasing.

    ``n_frames``: that many evenly spaced frames (all when the clip is shorter);
    ``target_fps``: the frame at or before each tick of ``1/target_fps`` s; neither: all frames.
    """
    if n_total < 1:
        return np.zeros(0, np.int64)
    if n_frames is not None and target_fps is not None:
        raise ConfigError("give n_frames or target_fps, not both")
    if n_frames is not None:
        if n_frames < 1:
            raise ConfigError(f"n_frames must be >= 1, got {n_frames}")
        if n_frames >= n_total:
            return np.arange(n_total)
        return np.round(np.linspace(0, n_total - 1, n_frames)).astype(np.int64)
    if target_fps is not None:
        if not target_fps > 0:
            raise ConfigError(f"target_fps must be > 0, got {target_fps}")
        ticks = np.arange(0.0, n_total / fps, 1.0 / target_fps)
        return np.unique(np.minimum(np.floor(ticks * fps + 1e-9).astype(np.int64), n_total - 1))
    return np.arange(n_total)


def read_frames(path: str | Path, *, n_frames: int | None = None, target_fps: float | None = None,
                fps: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Grey frames of a video file or a folder of frames, sampled.

    Returns:
        ``(frames, times)``: uint8 ``(k, H, W)`` and float64 ``(k,)`` seconds.

    Raises:
        FeatureError: the file cannot be decoded or the folder holds no image (names it).
    """
    import cv2

    from emotune.data.readers._images import find_image_files

    path = Path(path)
    if path.is_dir():
        files = [f for f in find_image_files(path) if f.parent == path]
        if not files:
            raise FeatureError(f"{str(path)!r}: no frame images in the folder")
        rate = float(fps or DEFAULT_FPS)
        keep = sample_indices(len(files), rate, n_frames=n_frames, target_fps=target_fps)
        frames = []
        for i in keep:
            img = cv2.imread(str(files[i]), cv2.IMREAD_GRAYSCALE)
            if img is None:
                raise FeatureError(f"{str(files[i])!r}: not a readable image")
            frames.append(img)
        return np.stack(frames), keep / rate
    if not path.is_file():
        raise FeatureError(f"{str(path)!r}: video file not found")
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise FeatureError(f"{str(path)!r}: OpenCV cannot open the video")
        rate = float(fps or cap.get(cv2.CAP_PROP_FPS) or DEFAULT_FPS)
        all_frames = []
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            all_frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame)
    finally:
        cap.release()
    if not all_frames:
        raise FeatureError(f"{str(path)!r}: no frame could be decoded")
    keep = sample_indices(len(all_frames), rate, n_frames=n_frames, target_fps=target_fps)
    return np.stack([all_frames[i] for i in keep]), keep / rate


def interpolate_missing(x: np.ndarray, found: np.ndarray) -> np.ndarray:
    """Rows of float ``(T, D)`` where ``found`` (bool ``(T,)``) is False, filled by linear interpolation over time."""
    x = np.asarray(x, np.float32).copy()
    found = np.asarray(found, bool)
    if found.all():
        return x
    if not found.any():
        raise NoFaceError("no frame with a face to interpolate from")
    t = np.arange(len(x))
    for d in range(x.shape[1]):
        x[~found, d] = np.interp(t[~found], t[found], x[found, d])
    return x


def clip_face_features(frames: np.ndarray, features: str = "mini_xception", *,
                       upsample: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame face features of grey ``frames`` (uint8 ``(T, H, W)``).

    Returns:
        ``(x, found)``: float32 ``(T, VIDEO_FEATURES[features])`` (frames without a
        face interpolated) and bool ``(T,)``, True where a face was detected.

    Raises:
        NoFaceError: no face in any frame.
    """
    from emotune.features.face import align_face, detect_faces, face_landmarks, normalize_landmarks
    from emotune.features.mini_xception import mini_xception_outputs

    if features not in VIDEO_FEATURES:
        raise ConfigError(f"video face features must be one of {sorted(VIDEO_FEATURES)}, got {features!r}")
    found = np.zeros(len(frames), bool)
    rows: list[np.ndarray] = []
    crops: list[np.ndarray] = []
    for t, frame in enumerate(frames):
        boxes = detect_faces(frame, upsample=upsample)
        if not boxes:
            rows.append(np.zeros(136, np.float32))
            crops.append(np.zeros((64, 64), np.uint8))
            continue
        found[t] = True
        pts = face_landmarks(frame, boxes[0])
        rows.append(normalize_landmarks(pts).reshape(-1))
        crops.append(align_face(frame, pts, size=64) if features == "mini_xception" else np.zeros((64, 64), np.uint8))
    if not found.any():
        raise NoFaceError(f"no face found in any of the {len(frames)} sampled frames")
    if features == "mini_xception":
        proba, pooled = mini_xception_outputs(np.stack(crops))
        x = np.concatenate([pooled, proba], axis=1)
    else:
        pts = interpolate_missing(np.stack(rows), found)
        x = np.concatenate([pts, np.diff(pts, axis=0, prepend=pts[:1])], axis=1)
    return interpolate_missing(x, found), found


def video_face_features(paths: Sequence[str], features: str = "mini_xception", *, cache: Any = None,
                        n_frames: int | None = 16, target_fps: float | None = None,
                        fps: float | None = None) -> tuple[list[np.ndarray | None], list[tuple[str, str]]]:
    """Face features of each clip (a video file or a folder of frames), cached; a clip without a face is missing.

    Returns:
        ``(features, missing)``: float32 ``(T, D)`` per clip, or ``None`` for a clip
        with no face in any sampled frame or that cannot be read; ``missing``
        lists ``(path, reason)`` of those clips.
    """
    import hashlib

    from emotune.features.cache import FeatureCache, library_versions

    versions = library_versions("opencv-python-headless", "dlib-bin", "face-recognition-models", "torch", "fer")
    out: list[np.ndarray | None] = []
    missing: list[tuple[str, str]] = []
    settings = {"n_frames": n_frames, "target_fps": target_fps, "fps": fps}
    for p in paths:
        path = Path(p)
        try:
            if path.is_dir():
                h = hashlib.sha256()
                for f in sorted(path.iterdir()):
                    if f.is_file():
                        h.update(f.name.encode())
                        h.update(f.read_bytes())
                digest = h.hexdigest()
            else:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as exc:
            out.append(None)
            missing.append((str(p), f"cannot read: {exc}"))
            continue
        key = FeatureCache.key(digest, "video_face", features, settings, versions)
        hit = cache.get(key) if cache is not None else None
        if hit is not None:
            out.append(hit if hit.size else None)
            if not hit.size:
                missing.append((str(p), "no face found in any sampled frame (cached)"))
            continue
        try:
            frames, _ = read_frames(path, n_frames=n_frames, target_fps=target_fps, fps=fps)
            x, _ = clip_face_features(frames, features)
        except NoFaceError as exc:
            if cache is not None:  # remember the verdict: an empty array means "no face"
                cache.put(key, np.zeros((0, VIDEO_FEATURES[features]), np.float32))
            out.append(None)
            missing.append((str(p), str(exc)))
            continue
        except FeatureError as exc:
            out.append(None)
            missing.append((str(p), str(exc)))
            continue
        if cache is not None:
            cache.put(key, x)
        out.append(x)
    return out, missing
