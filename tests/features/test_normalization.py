"""Speaker enrolment: a speaker's statistics come from that speaker's clips only, with a global fallback."""

from __future__ import annotations

import numpy as np
import pytest

from emotune.exceptions import ConfigError, DatasetError
from emotune.features.frames import feature_stats, normalize_features
from emotune.features.normalization import enrol_normalize


def _frames(n: int, seed: int = 0):
    """``n`` clips of 3 features, 4-9 frames, speaker k has offset 10 k; padded to 9 frames."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(4, 10, n)
    x = np.zeros((n, 9, 3), np.float32)
    mask = np.zeros((n, 9), bool)
    for i, t in enumerate(lengths):
        x[i, :t] = rng.normal(size=(t, 3)) * (1 + i % 3) + 10 * (i % 3)
        mask[i, :t] = True
    return x, mask


def test_each_enrolled_speaker_gets_zero_mean_unit_std_from_their_own_clips():
    x, mask = _frames(18)
    speakers = np.array([f"s{i % 3}" for i in range(18)])
    mean, std = feature_stats(x, mask)
    out, info = enrol_normalize(x, mask, speakers, mean=mean, std=std, min_clips=5)
    assert info.speakers == ["s0", "s1", "s2"] and info.n_fallback_clips == 0
    for s in ("s0", "s1", "s2"):
        real = out[speakers == s][mask[speakers == s]]
        np.testing.assert_allclose(real.mean(0), 0.0, atol=1e-5)
        np.testing.assert_allclose(real.std(0), 1.0, atol=1e-4)
    assert not out[~mask].any()
    # another speaker's clips change: s0's output must not move
    changed = x.copy()
    changed[speakers == "s1"] += 100.0
    again, _ = enrol_normalize(changed, mask, speakers, mean=mean, std=std, min_clips=5)
    np.testing.assert_array_equal(again[speakers == "s0"], out[speakers == "s0"])


def test_speakers_below_the_minimum_and_unknown_clips_use_the_global_statistics():
    x, mask = _frames(10)
    speakers = ["a"] * 6 + ["b"] * 2 + [None, ""]
    mean, std = np.full(3, 5.0), np.full(3, 2.0)
    out, info = enrol_normalize(x, mask, speakers, mean=mean, std=std, min_clips=3)
    assert info.speakers == ["a"] and info.fallback_speakers == ["b"] and info.n_fallback_clips == 4
    expected = normalize_features(x[6:], mask[6:], mean, std)
    np.testing.assert_array_equal(out[6:], expected)
    assert info.to_dict()["n_fallback_speakers"] == 1
    none, info_none = enrol_normalize(x, mask, None, mean=mean, std=std)
    np.testing.assert_array_equal(none, normalize_features(x, mask, mean, std))
    assert info_none.n_fallback_clips == 10


def test_vectors_and_argument_checks():
    rng = np.random.default_rng(3)
    v = rng.normal(size=(8, 4)).astype(np.float32) + np.repeat([0.0, 50.0], 4)[:, None]
    out, _ = enrol_normalize(v, None, ["x"] * 4 + ["y"] * 4, mean=np.zeros(4), std=np.ones(4), min_clips=4)
    np.testing.assert_allclose(out[4:].mean(0), 0.0, atol=1e-5)
    with pytest.raises(ConfigError, match="enrol_min_clips"):
        enrol_normalize(v, None, None, mean=np.zeros(4), std=np.ones(4), min_clips=0)
    with pytest.raises(DatasetError, match="one entry per clip"):
        enrol_normalize(v, None, ["x"], mean=np.zeros(4), std=np.ones(4))
