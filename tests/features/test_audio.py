"""Audio loading and the pure librosa / openSMILE feature functions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("librosa")
sf = pytest.importorskip("soundfile")

from emotune.exceptions import ConfigError, FeatureError  # noqa: E402
from emotune.features.audio import egemaps_functionals, egemaps_lld, load_audio, log_mel, mfcc  # noqa: E402

RAVDESS_MONO = "ravdess-dev/audio/Actor_01/03-01-01-01-01-01-01.wav"  # 158,558 frames at 48 kHz, mono
RAVDESS_STEREO = "ravdess-dev/audio/Actor_01/03-01-02-01-01-02-01.wav"  # 172,972 frames, 2 channels (MANIFEST.md)


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


def test_phase_inverted_stereo_is_silent_after_the_downmix(tmp_path: Path) -> None:
    sf = pytest.importorskip("soundfile")
    y = 0.3 * np.random.default_rng(1).standard_normal(16000).astype(np.float32)
    path = tmp_path / "inverted.wav"
    sf.write(path, np.stack([y, -y], axis=1), 16000, subtype="PCM_16")
    with pytest.raises(FeatureError, match="silent after mixing its channels to mono") as info:
        load_audio(path)
    assert str(path) in str(info.value)
    assert load_audio(path, mono=False).shape == (16000, 2)  # the channels themselves are not silent


def test_a_truncated_file_is_reported_with_its_frame_counts(tmp_path: Path) -> None:
    sf = pytest.importorskip("soundfile")
    y = 0.3 * np.random.default_rng(2).standard_normal(32000).astype(np.float32)
    for suffix in (".wav", ".flac"):
        whole = tmp_path / f"whole{suffix}"
        sf.write(whole, y, 16000, subtype="PCM_16")
        assert load_audio(whole).shape == (32000,)
        cut = tmp_path / f"cut{suffix}"
        cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
        with pytest.raises(FeatureError) as info:  # FLAC: libsndfile itself refuses it
            load_audio(cut)
        assert str(cut) in str(info.value)
    assert sf.read(tmp_path / "cut.wav")[0].shape[0] < 32000  # libsndfile reads half a WAV without a word
    with pytest.raises(FeatureError, match=r"truncated: its header announces 32000 frames but the file holds 1"):
        load_audio(tmp_path / "cut.wav")


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

