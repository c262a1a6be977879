"""The audio extractor registry: the documented presets, parameter changes and the extractor contract."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("librosa")
pytest.importorskip("soundfile")

from emotune._registry import Registry  # noqa: E402
from emotune.exceptions import ConfigError, RegistryError  # noqa: E402
from emotune.features.audio_extractors import AUDIO_FEATURES, AudioExtractor, make_audio_extractor  # noqa: E402


def test_registry_holds_the_documented_extractors() -> None:
    expected = {
        "mfcc": ("frames", 120),
        "logmel": ("frames", 64),
        "egemaps": ("clip", 88),
        "egemaps_lld": ("frames", 25),
        "whisper": ("frames", 384),
        "whisper_pooled": ("clip", 768),
        "whisper_base": ("frames", 512),
        "whisper_base_pooled": ("clip", 1024),
        "whisper_base_fast": ("frames", 512),
        "whisper_base_pooled_fast": ("clip", 1024),
    }
    assert set(AUDIO_FEATURES.names()) == set(expected)
    for name, (level, dim) in expected.items():
        ext = AUDIO_FEATURES.get(name)
        assert (ext.name, ext.level, ext.dim) == (name, level, dim)
        assert isinstance(ext.params, dict)


def test_with_params_changes_dim_and_refuses_unknown_names() -> None:
    ext = make_audio_extractor("mfcc", n_mfcc=20, deltas=False)
    assert ext.dim == 20 and AUDIO_FEATURES.get("mfcc").dim == 120  # the registered preset is unchanged
    with pytest.raises(ConfigError, match="n_mfc"):
        make_audio_extractor("mfcc", n_mfc=20)
    with pytest.raises(RegistryError, match="known"):
        make_audio_extractor("wav2vec")
    reg: Registry[AudioExtractor] = Registry("audio feature extractor")
    reg.add("mfcc", ext)
    with pytest.raises(RegistryError, match="already registered"):
        reg.add("mfcc", ext)


@pytest.mark.parametrize("name", ["mfcc", "logmel", "egemaps", "egemaps_lld"])
def test_extractor_contract(name: str, crema_y: np.ndarray) -> None:
    ext = AUDIO_FEATURES.get(name)
    out = ext(crema_y, 16000)
    assert out.dtype == np.float32 and np.isfinite(out).all()
    assert out.shape == ((ext.dim,) if ext.level == "clip" else (out.shape[0], ext.dim))


def _nan_on_loud_clips(y: np.ndarray, *, sr: int) -> np.ndarray:
    """A 2-value clip vector that is NaN for a loud clip (an extractor hiccup on one file)."""
    value = np.nan if np.abs(y).max() > 0.5 else float(np.abs(y).mean())
    return np.array([value, 1.0], np.float32)


def test_a_nan_or_inf_output_is_a_bad_file_never_cached(tmp_path) -> None:
    import soundfile as sf

    from emotune.exceptions import FeatureError
    from emotune.features.cache import FeatureCache
    from emotune.features.extraction import extract_features

    rng = np.random.default_rng(0)
    quiet, loud = tmp_path / "quiet.wav", tmp_path / "loud.wav"
    sf.write(quiet, 0.1 * rng.uniform(-1, 1, 4000).astype(np.float32), 16000)
    sf.write(loud, 0.9 * rng.uniform(-1, 1, 4000).astype(np.float32), 16000)
    ext = AudioExtractor("nan_probe", _nan_on_loud_clips, level="clip", dim=2)
    with pytest.raises(FeatureError, match="NaN or infinite"):
        ext(np.full(4000, 0.9, np.float32), 16000)
    cache = FeatureCache(tmp_path / "cache")
    feats, errors = extract_features([quiet, loud], ext, cache=cache, workers=1, on_error="skip", progress=False)
    assert feats[0] is not None and np.isfinite(feats[0]).all() and feats[1] is None
    assert [p for p, _ in errors] == [str(loud)] and "NaN or infinite" in errors[0][1]
    assert cache.info()["entries"] == 1  # only the good clip
    with pytest.raises(FeatureError, match="loud.wav"):
        extract_features([quiet, loud], ext, cache=cache, workers=1, on_error="raise", progress=False)
