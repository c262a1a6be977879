"""Fixtures of the audio tests: one CREMA-D clip, its signal, a few clips, and broken files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

CREMA_CLIP = "crema-d-dev/audio/1001_DFA_ANG_XX.flac"  # 36,409 frames at 16 kHz (index.csv)


@pytest.fixture(scope="module")
def crema(shared_data: Path) -> Path:
    return shared_data / CREMA_CLIP


@pytest.fixture(scope="module")
def crema_y(crema: Path) -> np.ndarray:
    from emotune.features.audio import load_audio

    return load_audio(crema)


@pytest.fixture(scope="module")
def crema_clips(shared_data: Path) -> list[Path]:
    return sorted((shared_data / "crema-d-dev" / "audio").glob("1002_*.flac"))[:3]


@pytest.fixture()
def bad_files(tmp_path: Path) -> dict[str, Path]:
    """The four kinds of broken input a corpus can hold."""
    sf = pytest.importorskip("soundfile")
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

