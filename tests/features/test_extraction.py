"""Cached batch extraction: cache hits and misses, worker processes, bad files, argument checks."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("librosa")
pytest.importorskip("soundfile")

from emotune.exceptions import ConfigError, FeatureError  # noqa: E402
from emotune.features.audio import load_audio, mfcc  # noqa: E402
from emotune.features.audio_extractors import AudioExtractor, make_audio_extractor  # noqa: E402
from emotune.features.cache import FeatureCache  # noqa: E402
from emotune.features.extraction import extract_features  # noqa: E402


class _Counting:
    """A feature function that counts its calls (in-process extraction only)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, y: np.ndarray, *, sr: int, scale: float = 1.0) -> np.ndarray:
        self.calls += 1
        return np.array([y.size / sr, scale], np.float32)


def test_cache_hits_on_second_extraction_and_misses_when_settings_change(
    tmp_path: Path, crema_clips: list[Path]
) -> None:
    func = _Counting()
    ext = AudioExtractor("duration", func, level="clip", dim=2, params={"scale": 1.0})
    cache = FeatureCache(tmp_path / "cache")
    first, errors = extract_features(crema_clips, ext, cache=cache, workers=1, progress=False)
    assert errors == [] and func.calls == 3 and cache.info()["entries"] == 3
    again, _ = extract_features(crema_clips, ext, cache=cache, workers=1, progress=False)
    assert func.calls == 3  # all hits
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    # a renamed copy of a file has the same bytes, so the same key
    copy = tmp_path / "renamed.flac"
    shutil.copy(crema_clips[0], copy)
    extract_features([copy], ext, cache=cache, workers=1, progress=False)
    assert func.calls == 3
    # new params, new load settings, new sample rate: all misses
    extract_features(crema_clips, ext.with_params(scale=2.0), cache=cache, workers=1, progress=False)
    assert func.calls == 6
    extract_features(crema_clips, ext, cache=cache, workers=1, progress=False, load_kwargs={"max_seconds": 1.0})
    assert func.calls == 9
    extract_features(crema_clips, ext, sr=8000, cache=cache, workers=1, progress=False)
    assert func.calls == 12
    # an explicit default is the same setting as none
    extract_features(crema_clips, ext, cache=cache, workers=1, progress=False, load_kwargs={"trim_db": None})
    assert func.calls == 12


class _NoisyNeighbour(_Counting):
    """Counts its calls and, like another process sharing the cache, writes two unrelated entries per call."""

    def __init__(self, cache: FeatureCache) -> None:
        super().__init__()
        self.cache = cache

    def __call__(self, y: np.ndarray, *, sr: int, scale: float = 1.0) -> np.ndarray:
        for k in range(2):
            self.cache.put(FeatureCache.key("someone else", self.calls, k), np.zeros(3, np.float32))
        return super().__call__(y, sr=sr, scale=scale)


def test_counts_are_this_calls_own_hits_and_computations(
    tmp_path: Path, crema_clips: list[Path], bad_files: dict[str, Path]
) -> None:
    cache = FeatureCache(tmp_path / "cache")
    func = _NoisyNeighbour(cache)
    ext = AudioExtractor("duration", func, level="clip", dim=2, params={"scale": 1.0})
    extract_features(crema_clips[:1], ext, cache=cache, workers=1, progress=False)
    counts: dict[str, int] = {}
    paths = [*crema_clips, bad_files["text"]]
    _, errors = extract_features(paths, ext, cache=cache, workers=1, on_error="skip", progress=False, counts=counts)
    # 1 hit, 2 computed, 1 failed; the neighbour's 6 entries (2 per call) are not counted as this call's
    assert len(errors) == 1 and counts == {"cached": 1, "computed": len(crema_clips) - 1}
    assert cache.info()["entries"] == len(crema_clips) + 2 * func.calls


def test_mfcc_cache_is_invalidated_by_a_param_change(tmp_path: Path, crema_clips: list[Path]) -> None:
    cache = FeatureCache(tmp_path / "cache")
    a, _ = extract_features(crema_clips[:1], "mfcc", cache=cache, workers=1, progress=False)
    b, _ = extract_features(crema_clips[:1], make_audio_extractor("mfcc", n_mfcc=13), cache=cache, workers=1,
                            progress=False)
    assert a[0].shape[1] == 120 and b[0].shape[1] == 39 and cache.info()["entries"] == 2


def test_skip_mode_lists_bad_files_and_keeps_good_ones_in_worker_processes(
    tmp_path: Path, crema_clips: list[Path], bad_files: dict[str, Path]
) -> None:
    paths = [crema_clips[0], *bad_files.values(), crema_clips[1], tmp_path / "absent.wav"]
    cache = FeatureCache(tmp_path / "cache")
    feats, errors = extract_features(paths, "mfcc", cache=cache, workers=2, on_error="skip", progress=False)
    assert len(feats) == len(paths)
    bad = [str(p) for p in (*bad_files.values(), tmp_path / "absent.wav")]
    assert [p for p, _ in errors] == bad
    for path, reason in errors:
        assert path in reason
    for i in (0, 5):
        np.testing.assert_allclose(feats[i], mfcc(load_audio(paths[i]), sr=16000), rtol=1e-6, atol=1e-5)
    assert all(f is None for f in feats[1:5]) and feats[6] is None
    assert cache.info()["entries"] == 2


def test_raise_mode_names_the_file_and_keeps_finished_features(
    tmp_path: Path, crema_clips: list[Path], bad_files: dict[str, Path]
) -> None:
    cache = FeatureCache(tmp_path / "cache")
    paths = [crema_clips[0], bad_files["text"], crema_clips[1]]
    with pytest.raises(FeatureError, match="notes_renamed.wav"):
        extract_features(paths, "mfcc", cache=cache, workers=1, progress=False)
    assert cache.info()["entries"] == 1  # the clip before the bad file is kept
    feats, errors = extract_features(paths, "mfcc", cache=cache, workers=1, on_error="skip", progress=False)
    assert [p for p, _ in errors] == [str(bad_files["text"])] and feats[2] is not None


def test_extract_features_checks_its_arguments(tmp_path: Path, crema_clips: list[Path]) -> None:
    with pytest.raises(ConfigError, match="on_error"):
        extract_features(crema_clips, "mfcc", on_error="ignore", progress=False)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="load_kwargs"):
        extract_features(crema_clips, "mfcc", load_kwargs={"mono": False}, progress=False)
    with pytest.raises(ConfigError, match="workers"):
        extract_features(crema_clips, "mfcc", workers=0, progress=False)
    local = AudioExtractor("local", lambda y, *, sr: np.zeros(1, np.float32), level="clip", dim=1)
    with pytest.raises(ConfigError, match="workers=1"):
        extract_features(crema_clips, local, workers=2, progress=False)
    feats, _ = extract_features(crema_clips, local, workers=1, progress=False)
    assert [f.shape for f in feats] == [(1,)] * 3
