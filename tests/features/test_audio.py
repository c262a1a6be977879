"""Audio loading, librosa / openSMILE features, the extractor registry and cached batch extraction."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("librosa")
sf = pytest.importorskip("soundfile")

from emotune._registry import Registry  # noqa: E402
from emotune.exceptions import ConfigError, FeatureError, RegistryError  # noqa: E402
from emotune.features.audio import (  # noqa: E402
    AUDIO_FEATURES,
    AudioExtractor,
    egemaps_functionals,
    egemaps_lld,
    extract_features,
    load_audio,
    log_mel,
    make_audio_extractor,
    mfcc,
)
from emotune.features.cache import FeatureCache  # noqa: E402

CREMA_CLIP = "crema-d-dev/audio/1001_DFA_ANG_XX.flac"  # 36,409 frames at 16 kHz (index.csv)
RAVDESS_MONO = "ravdess-dev/audio/Actor_01/03-01-01-01-01-01-01.wav"  # 158,558 frames at 48 kHz, mono
RAVDESS_STEREO = "ravdess-dev/audio/Actor_01/03-01-02-01-01-02-01.wav"  # 172,972 frames, 2 channels (MANIFEST.md)


@pytest.fixture(scope="module")
def crema(shared_data: Path) -> Path:
    return shared_data / CREMA_CLIP


@pytest.fixture(scope="module")
def crema_y(crema: Path) -> np.ndarray:
    return load_audio(crema)


@pytest.fixture(scope="module")
def crema_clips(shared_data: Path) -> list[Path]:
    return sorted((shared_data / "crema-d-dev" / "audio").glob("1002_*.flac"))[:3]


@pytest.fixture()
def bad_files(tmp_path: Path) -> dict[str, Path]:
    """The four kinds of broken input a corpus can hold."""
    files = {
        "zero_bytes": tmp_path / "zero_bytes.wav",
        "text": tmp_path / "notes_renamed.wav",
        "all_zeros": tmp_path / "all_zeros.wav",
        "too_short": tmp_path / "too_short.wav",
    }
    files["zero_bytes"].write_bytes(b"")
    files["text"].write_text("this is not audio\n" * 20)
    sf.write(files["all_zeros"], np.zeros(16000, np.float32), 16000, subtype="PCM_16")
    rng = np.random.default_rng(0)
    sf.write(files["too_short"], 0.3 * rng.standard_normal(160).astype(np.float32), 16000, subtype="PCM_16")
    return files


# -- load_audio ---------------------------------------------------------------------------------------------


def test_load_crema_flac_is_16k_mono_float32(crema: Path, crema_y: np.ndarray) -> None:
    ref, rate = sf.read(crema, dtype="float32")
    assert rate == 16000
    assert crema_y.dtype == np.float32 and crema_y.shape == (36409,)
    np.testing.assert_array_equal(crema_y, ref)  # no resampling at the file's own rate


def test_load_ravdess_48k_is_resampled_to_16k(shared_data: Path) -> None:
    path = shared_data / RAVDESS_MONO
    native = load_audio(path, sr=48000)
    assert native.shape == (158558,)
    y = load_audio(path)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(y.shape[0] - 158558 / 3) <= 1
    # same loudness after resampling (soxr keeps the band below 8 kHz)
    assert np.sqrt(np.mean(y**2)) == pytest.approx(np.sqrt(np.mean(native**2)), rel=0.05)


def test_stereo_ravdess_file_is_downmixed_by_mean(shared_data: Path) -> None:
    path = shared_data / RAVDESS_STEREO
    data, rate = sf.read(path, dtype="float32", always_2d=True)
    assert rate == 48000 and data.shape == (172972, 2)
    np.testing.assert_allclose(load_audio(path, sr=48000), data.mean(axis=1), atol=1e-7)
    both = load_audio(path, sr=48000, mono=False)
    assert both.shape == (172972, 2) and both.dtype == np.float32
    y = load_audio(path)
    assert y.ndim == 1 and abs(y.shape[0] - 172972 / 3) <= 1


def test_trim_crop_and_pad(crema: Path, crema_y: np.ndarray) -> None:
    trimmed = load_audio(crema, trim_db=30)
    assert 0 < trimmed.shape[0] < crema_y.shape[0]
    cropped = load_audio(crema, max_seconds=1.0)
    np.testing.assert_array_equal(cropped, crema_y[:16000])
    padded = load_audio(crema, max_seconds=16.0, pad=True)  # the IEMOCAP cap
    assert padded.shape == (16 * 16000,)
    np.testing.assert_array_equal(padded[: crema_y.shape[0]], crema_y)
    assert not padded[crema_y.shape[0] :].any()
    assert load_audio(crema, max_seconds=10.0).shape == crema_y.shape  # no pad unless asked


def test_load_arguments_are_checked(crema: Path) -> None:
    with pytest.raises(ConfigError, match="max_seconds"):
        load_audio(crema, pad=True)
    with pytest.raises(ConfigError, match="sr"):
        load_audio(crema, sr=0)
    with pytest.raises(ConfigError, match="trim_db"):
        load_audio(crema, trim_db=-5)


@pytest.mark.parametrize(
    "kind, reason",
    [("zero_bytes", "empty"), ("text", "not a readable audio file"), ("all_zeros", "silent"), ("too_short", "shorter")],
)
def test_bad_files_raise_feature_error_naming_the_file(bad_files: dict[str, Path], kind: str, reason: str) -> None:
    path = bad_files[kind]
    with pytest.raises(FeatureError, match=reason) as info:
        load_audio(path)
    assert str(path) in str(info.value)


def test_missing_file_and_min_seconds(tmp_path: Path, bad_files: dict[str, Path]) -> None:
    with pytest.raises(FeatureError, match="no such file"):
        load_audio(tmp_path / "absent.flac")
    assert load_audio(bad_files["too_short"], min_seconds=0.005).shape == (160,)


# -- pure feature functions ---------------------------------------------------------------------------------


def test_mfcc_equals_librosa(crema_y: np.ndarray) -> None:
    import librosa

    out = mfcc(crema_y, sr=16000)
    ref = librosa.feature.mfcc(y=crema_y, sr=16000, n_mfcc=40, n_fft=400, hop_length=160, n_mels=64)
    full = np.concatenate([ref, librosa.feature.delta(ref), librosa.feature.delta(ref, order=2)]).T
    assert out.dtype == np.float32 and out.shape == (1 + crema_y.size // 160, 120)
    np.testing.assert_allclose(out, full, rtol=1e-5, atol=1e-4)
    plain = mfcc(crema_y, sr=16000, n_mfcc=13, deltas=False)
    assert plain.shape == (out.shape[0], 13)
    np.testing.assert_allclose(plain, ref[:13].T, rtol=1e-5, atol=1e-4)


def test_mfcc_deltas_on_a_clip_shorter_than_the_delta_window() -> None:
    y = np.random.default_rng(1).standard_normal(800).astype(np.float32)  # 6 frames < width 9
    assert mfcc(y, sr=16000).shape == (6, 120)


def test_log_mel_equals_librosa(crema_y: np.ndarray) -> None:
    import librosa

    out = log_mel(crema_y, sr=16000)
    ref = librosa.power_to_db(
        librosa.feature.melspectrogram(y=crema_y, sr=16000, n_fft=400, hop_length=160, n_mels=64)
    ).T
    assert out.dtype == np.float32 and out.shape == (1 + crema_y.size // 160, 64)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-3)


def test_egemaps_equals_opensmile(crema_y: np.ndarray) -> None:
    opensmile = pytest.importorskip("opensmile")
    smile = opensmile.Smile(opensmile.FeatureSet.eGeMAPSv02, opensmile.FeatureLevel.Functionals)
    ref = smile.process_signal(crema_y, 16000).to_numpy()[0]
    out = egemaps_functionals(crema_y, sr=16000)
    assert out.dtype == np.float32 and out.shape == (88,)
    np.testing.assert_allclose(out, ref.astype(np.float32), rtol=1e-6)
    lld = egemaps_lld(crema_y, sr=16000)
    assert lld.dtype == np.float32 and lld.ndim == 2 and lld.shape[1] == 25
    assert abs(lld.shape[0] - crema_y.size / 160) < 10  # 10 ms frames


def test_feature_functions_refuse_non_mono_input() -> None:
    with pytest.raises(FeatureError, match="mono"):
        mfcc(np.zeros((100, 2), np.float32), sr=16000)


# -- registry -----------------------------------------------------------------------------------------------


def test_registry_holds_the_documented_extractors() -> None:
    expected = {
        "mfcc": ("frames", 120),
        "logmel": ("frames", 64),
        "egemaps": ("clip", 88),
        "egemaps_lld": ("frames", 25),
        "whisper": ("frames", 384),
        "whisper_pooled": ("clip", 768),
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


# -- extract_features ---------------------------------------------------------------------------------------


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
