"""Predict-time speech inputs: the training rules for pooling, padding and each normalisation."""

from __future__ import annotations

import numpy as np

from emotune.features.audio_inputs import clip_inputs
from emotune.features.frames import normalize_features, pad_frames, speaker_normalize


def _clips(seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(int(rng.integers(4, 12)), 3)) * (1 + i) + 5 * i).astype(np.float32) for i in range(4)]


def _meta(normalize, level="frames"):
    return {"extractor": {"name": "mfcc", "params": {}}, "level": level, "frame_pool": 1, "max_frames": 20,
            "normalize": normalize, "mean": [1.0, 2.0, 3.0], "std": [2.0, 2.0, 2.0]}


def test_global_uses_the_saved_statistics():
    feats = _clips()
    x, mask = clip_inputs(_meta("global"), feats)
    ref_x, ref_mask = pad_frames(feats, 20)
    np.testing.assert_array_equal(mask, ref_mask)
    np.testing.assert_allclose(x, normalize_features(ref_x, ref_mask, np.array([1.0, 2, 3]), np.array([2.0, 2, 2])))


def test_speaker_enrolment_uses_a_speakers_own_clips_when_there_are_enough():
    feats, groups = _clips(), ["a", "a", "b", "b"]
    meta = {**_meta("speaker"), "enrol_min_clips": 2}
    x, mask = clip_inputs(meta, feats, groups)
    ref_x, ref_mask = pad_frames(feats, 20)
    np.testing.assert_allclose(x, speaker_normalize(ref_x, ref_mask, np.array(groups)), atol=1e-5)


def test_speaker_enrolment_falls_back_to_the_saved_statistics():
    feats = _clips()
    meta = {**_meta("speaker"), "enrol_min_clips": 2}
    ref_x, ref_mask = pad_frames(feats, 20)
    saved = normalize_features(ref_x, ref_mask, np.array([1.0, 2, 3]), np.array([2.0, 2, 2]))
    x, _ = clip_inputs(meta, feats)  # no speakers at all
    np.testing.assert_allclose(x, saved, atol=1e-6)
    x, _ = clip_inputs(meta, feats, ["a", "b", "c", "d"])  # one clip each: too few to enrol
    np.testing.assert_allclose(x, saved, atol=1e-6)
