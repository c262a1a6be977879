"""dlib face detection, 68 landmarks and alignment on the real CREMA-D video frames; landmark normalisation."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("dlib")
cv2 = pytest.importorskip("cv2")

from emotune.features import face  # noqa: E402


@pytest.fixture(scope="module")
def frames(shared_data):
    root = shared_data / "crema-d-video-sample" / "frames"
    files = []
    for clip in sorted(root.iterdir()):
        files += sorted(clip.glob("frame_*.jpg"))[::12]  # about 5 frames from each of the 6 clips
    return [cv2.imread(str(f), cv2.IMREAD_GRAYSCALE) for f in files]


def test_a_face_is_found_in_most_frames_and_landmarks_lie_in_the_box(frames):
    found = 0
    for img in frames:
        boxes = face.detect_faces(img)
        if not boxes:
            continue
        found += 1
        box = boxes[0]
        assert 60 <= box.right - box.left <= 250, box  # a head-and-shoulders shot at 480x360
        pts = face.face_landmarks(img, box)
        assert pts.shape == (68, 2)
        assert face.FaceBox(0, 0, img.shape[1], img.shape[0]).contains(pts).all()
        assert box.contains(pts, margin=0.15).mean() >= 0.95
        left, right = face.eye_centres(pts)
        assert left[0] < right[0] and abs(left[1] - right[1]) < 0.3 * (right[0] - left[0])
    assert found >= 0.9 * len(frames), f"face found in {found} of {len(frames)} frames"


def test_no_face_in_a_blank_frame():
    assert face.detect_faces(np.full((360, 480), 90, np.uint8)) == []


def test_aligned_crop_has_level_eyes(frames):
    img = frames[0]
    pts = face.face_landmarks(img, face.detect_faces(img)[0])
    m = cv2.getRotationMatrix2D((240, 180), 12.0, 1.0)  # roll the frame by 12 degrees
    rolled = cv2.warpAffine(img, m, (480, 360), borderMode=cv2.BORDER_REPLICATE)
    box = face.detect_faces(rolled, upsample=1)[0]
    crop = face.align_face(rolled, face.face_landmarks(rolled, box), size=96)
    assert crop.shape == (96, 96) and crop.dtype == np.uint8
    boxes = face.detect_faces(cv2.resize(crop, (192, 192)))
    assert boxes, "the aligned crop must still hold a detectable face"
    again = face.face_landmarks(cv2.resize(crop, (192, 192)), boxes[0])
    left, right = face.eye_centres(again)
    assert abs(np.degrees(np.arctan2(right[1] - left[1], right[0] - left[0]))) < 4.0
    assert np.hypot(*(pts[36] - pts[45])) > 0


def test_normalized_landmarks_ignore_shift_zoom_and_roll():
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(68, 2)) * 10 + 100
    pts[36:42] += [-30, 0]
    pts[42:48] += [30, 0]
    a = np.radians(20)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    moved = (pts @ rot.T) * 1.7 + [55, -20]
    np.testing.assert_allclose(face.normalize_landmarks(moved), face.normalize_landmarks(pts), atol=1e-4)
    assert not np.allclose(face.normalize_landmarks(pts * [1.0, 1.3]), face.normalize_landmarks(pts), atol=1e-3)
