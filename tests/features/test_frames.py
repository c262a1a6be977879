"""Pure frame helpers: masks, the frame count of a clip, pooling, padding and normalisation."""

from __future__ import annotations

import numpy as np
import pytest

from emotune.exceptions import DatasetError
from emotune.features.audio_extractors import make_audio_extractor
from emotune.features.frames import (
    feature_stats,
    lengths_to_mask,
    max_frames,
    normalize_features,
    pad_frames,
    pool_frames,
    speaker_normalize,
)


def test_lengths_to_mask_keeps_at_least_one_step():
    mask = lengths_to_mask(np.array([3, 0, 5]), 4)
    assert mask.dtype == bool and mask.shape == (3, 4)
    assert mask.sum(axis=1).tolist() == [3, 1, 4]


def test_max_frames_counts_centred_frames_after_pooling():
    ext = make_audio_extractor("mfcc", n_mfcc=2, deltas=False)
    assert max_frames(ext, sr=16000, max_seconds=0.3) == 31  # 1 + 4800 // 160
    assert max_frames(ext, sr=16000, max_seconds=0.3, frame_pool=4) == -(-31 // 4)
    assert max_frames(make_audio_extractor("egemaps"), sr=16000, max_seconds=0.3) is None  # no hop: clip level


def test_pool_frames_averages_windows_and_the_partial_last_one():
    x = np.arange(10, dtype=np.float32).reshape(5, 2)
    np.testing.assert_allclose(pool_frames(x, 2), [[1, 2], [5, 6], [8, 9]])
    assert pool_frames(x, 1).shape == (5, 2)


def test_pad_frames_crops_to_max_len_and_masks_real_frames():
    x, mask = pad_frames([np.ones((50, 2)), np.ones((3, 2))], 31)  # crops to max_len
    assert x.shape == (2, 31, 2) and mask.sum(axis=1).tolist() == [31, 3]
    assert not x[~mask].any()
    with pytest.raises(DatasetError, match="same features per frame"):
        pad_frames([np.ones((2, 2)), np.ones((2, 3))])


def test_feature_stats_ignore_padding_and_floor_the_std():
    x, mask = pad_frames([np.array([[1.0, 5.0], [3.0, 5.0]]), np.array([[2.0, 5.0]])])
    mean, std = feature_stats(x, mask)
    np.testing.assert_allclose(mean, [2.0, 5.0])
    np.testing.assert_allclose(std, [np.sqrt(2 / 3), 1.0])  # a constant feature gets std 1
    out = normalize_features(x, mask, mean, std)
    assert out.dtype == np.float32 and not out[~mask].any()
    np.testing.assert_allclose(out[mask][:, 1], 0.0)


def test_speaker_normalize_vectors():
    x = np.array([[1.0, 2.0], [3.0, 6.0], [10.0, 0.0], [14.0, 0.0]], np.float32)
    out = speaker_normalize(x, None, ["a", "a", "b", "b"])
    np.testing.assert_allclose(out, [[-1, -1], [1, 1], [-1, 0], [1, 0]], atol=1e-6)
