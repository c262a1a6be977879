"""Video: frame sampling, reading a folder of frames and a video file, per-frame face features, the no-face path."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("dlib")
cv2 = pytest.importorskip("cv2")

from emotune.features import video  # noqa: E402
from emotune.features.cache import FeatureCache  # noqa: E402


def test_sample_indices():
    np.testing.assert_array_equal(video.sample_indices(10, 30.0, n_frames=4), [0, 3, 6, 9])
    np.testing.assert_array_equal(video.sample_indices(3, 30.0, n_frames=8), [0, 1, 2])
    np.testing.assert_array_equal(video.sample_indices(60, 30.0, target_fps=5), np.arange(0, 60, 6))
    assert len(video.sample_indices(60, 30.0)) == 60


def test_interpolation_fills_frames_without_a_face():
    x = np.array([[0.0], [9.0], [2.0], [9.0], [9.0]])
    found = np.array([True, False, True, False, False])
    np.testing.assert_allclose(video.interpolate_missing(x, found)[:, 0], [0, 1, 2, 2, 2])
    with pytest.raises(video.NoFaceError):
        video.interpolate_missing(x, np.zeros(5, bool))


def test_crema_d_frames_folder_gives_face_features(shared_data, tmp_path):
    clip = shared_data / "crema-d-video-sample" / "frames" / "1001_DFA_HAP_XX"
    frames, times = video.read_frames(clip, n_frames=6)
    assert frames.shape == (6, 360, 480) and frames.dtype == np.uint8
    assert times[0] == 0.0 and times[-1] == pytest.approx(55 / (30000 / 1001))
    x, found = video.clip_face_features(frames, "mini_xception")
    assert x.shape == (6, 135) and found.all()
    np.testing.assert_allclose(x[:, -7:].sum(axis=1), 1.0, atol=1e-5)
    lm, _ = video.clip_face_features(frames[:3], "landmarks")
    assert lm.shape == (3, 272) and not lm[0, 136:].any() and lm[1, 136:].any()
    cache = FeatureCache(tmp_path / "cache")
    feats, missing = video.video_face_features([str(clip)], "landmarks", cache=cache, n_frames=3)
    again, _ = video.video_face_features([str(clip)], "landmarks", cache=cache, n_frames=3)
    assert not missing and cache.info()["entries"] == 1
    np.testing.assert_array_equal(feats[0], again[0])


def test_video_file_and_the_no_face_path(tmp_path):
    path = tmp_path / "blank.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (160, 120))
    for i in range(12):
        writer.write(np.full((120, 160, 3), 40 + 10 * i, np.uint8))
    writer.release()
    frames, times = video.read_frames(path, n_frames=4)
    assert frames.shape == (4, 120, 160) and times[1] == pytest.approx(4 / 25.0)
    with pytest.raises(video.NoFaceError, match="no face found in any of the 4"):
        video.clip_face_features(frames)
    cache = FeatureCache(tmp_path / "cache")
    feats, missing = video.video_face_features([str(path), str(tmp_path / "gone.mp4")], cache=cache, n_frames=4)
    assert feats == [None, None]
    assert "no face" in missing[0][1] and "No such file" in missing[1][1]
    feats, missing = video.video_face_features([str(path)], cache=cache, n_frames=4)  # the verdict is cached
    assert feats == [None] and "cached" in missing[0][1]
