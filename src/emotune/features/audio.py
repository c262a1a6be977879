"""Audio loading and pure feature functions: a clip in, float32 frames or one vector out.

* :func:`load_audio` reads WAV / FLAC / AIFF (anything libsndfile reads) into a
  float32 mono signal at the rate asked for, and refuses files no extractor
  could use (unreadable, empty, silent, too short) with a :class:`FeatureError`
  that names the file.
* Pure, keyword-only feature functions: :func:`mfcc`, :func:`log_mel`
  (librosa), :func:`egemaps_functionals`, :func:`egemaps_lld` (openSMILE
  eGeMAPSv02). Frame outputs are time x features.

:mod:`emotune.features.audio_extractors` names these functions with their
parameters (:data:`~emotune.features.audio_extractors.AUDIO_FEATURES`), and
:func:`emotune.features.extraction.extract_features` runs one over many files
in worker processes, through the on-disk feature cache.

librosa, soundfile and openSMILE load on first use.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import numpy as np

from emotune.exceptions import ConfigError, FeatureError

__all__ = [
    "load_audio",
    "mfcc",
    "log_mel",
    "egemaps_functionals",
    "egemaps_lld",
]

_SILENCE_PEAK = 1e-4
"""A clip whose peak |amplitude| is below this (-80 dBFS, about 3 LSB of 16-bit PCM) counts as silent."""
_LOAD_LIBRARIES = ("soundfile", "soxr", "librosa")
_EGEMAPS_FUNCTIONALS = 88
_EGEMAPS_LLD = 25


# -- loading -----------------------------------------------------------------------------------------------


def _fail(path: Any, reason: str, fix: str) -> FeatureError:
    return FeatureError(f"cannot use audio file {str(path)!r}: {reason}; {fix}")


def load_audio(
    path: str | os.PathLike[str],
    *,
    sr: int = 16000,
    mono: bool = True,
    trim_db: float | None = None,
    max_seconds: float | None = None,
    pad: bool = False,
    min_seconds: float = 0.1,
) -> np.ndarray:
    """Read an audio file as float32 samples in [-1, 1] at ``sr``.

    Args:
        path: a file libsndfile reads (WAV, FLAC, AIFF, OGG, ...).
        sr: output sample rate in Hz; a file at another rate is resampled with
            soxr (``librosa.resample(res_type="soxr_hq")``).
        mono: mix channels down by their mean; ``False`` keeps them.
        trim_db: cut leading and trailing parts quieter than this many dB below
            the clip's peak (``librosa.effects.trim(top_db=trim_db)``); ``None`` keeps all.
        max_seconds: keep at most the first ``max_seconds`` seconds (after trimming).
        pad: zero-pad to exactly ``max_seconds`` seconds (needs ``max_seconds``).
        min_seconds: a clip shorter than this, after trimming, is refused.

    Returns:
        float32, shape ``(n_samples,)`` when ``mono``, else ``(n_samples, n_channels)``.

    Raises:
        FeatureError: the file is missing, unreadable, in an unsupported format,
            empty, truncated (fewer frames than its header announces), silent
            (peak below -80 dBFS, checked after the downmix to mono), not
            finite, or shorter than ``min_seconds``. The message names the
            file, the reason and a fix.
        ConfigError: an argument breaks its rule.
    """
    _check_load_args(sr=sr, trim_db=trim_db, max_seconds=max_seconds, pad=pad, min_seconds=min_seconds)
    import soundfile as sf

    p = Path(path)
    if not p.is_file():
        raise _fail(path, "no such file", "check the path (datasets resolve paths relative to their root)")
    if p.stat().st_size == 0:
        raise _fail(path, "the file is empty (0 bytes)", "re-copy or re-download it")
    try:
        data, file_sr = sf.read(str(p), dtype="float32", always_2d=True)  # (n, channels)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as err:
        raise _fail(
            path,
            f"not a readable audio file ({err})",
            "convert it to WAV or FLAC (e.g. `ffmpeg -i in -ar 16000 -ac 1 out.flac`)",
        ) from err
    if data.shape[0] == 0:
        raise _fail(path, "it holds no samples", "re-export it or leave it out")
    declared = _declared_frames(p)
    if declared is not None and data.shape[0] < declared:
        raise _fail(
            path,
            f"it is truncated: its header announces {declared} frames but the file holds {data.shape[0]}",
            "re-copy or re-export it (the end of the file is missing)",
        )
    if not np.isfinite(data).all():
        raise _fail(path, "it holds NaN or infinite samples", "re-export it as 16-bit PCM")

    y = data.mean(axis=1) if mono else data
    y = np.ascontiguousarray(y, dtype=np.float32)
    peak = float(np.abs(y).max())  # after the downmix: phase-inverted channels cancel out
    if peak < _SILENCE_PEAK:
        what = "silent" if mono and data.shape[1] == 1 else "silent after mixing its channels to mono"
        raise _fail(
            path,
            f"it is {what} (peak amplitude {peak:.2g}, below -80 dBFS)",
            "check the recording (a phase-inverted channel cancels the other) or leave it out",
        )
    if file_sr != sr:
        import librosa

        y = librosa.resample(y, orig_sr=file_sr, target_sr=sr, res_type="soxr_hq", axis=0).astype(np.float32)
    if trim_db is not None:
        import librosa

        _, (start, end) = librosa.effects.trim(y if mono else y.T, top_db=trim_db)
        y = y[start:end]
    n = y.shape[0]
    if n < min_seconds * sr:
        what = "after trimming silence" if trim_db is not None else "long"
        raise _fail(
            path,
            f"it is {n / sr:.3f} s {what}, shorter than min_seconds={min_seconds}",
            "leave it out or lower min_seconds",
        )
    if max_seconds is not None:
        limit = int(round(max_seconds * sr))
        y = y[:limit]
        if pad and y.shape[0] < limit:
            y = np.concatenate([y, np.zeros((limit - y.shape[0],) + y.shape[1:], np.float32)], axis=0)
    return np.ascontiguousarray(y, dtype=np.float32)


def _declared_frames(path: Path) -> int | None:
    """The frame count a file's header announces, or ``None`` when it does not say.

    libsndfile shortens a WAV's frame count to the bytes present, so for
    RIFF/WAVE files the ``data`` chunk size is read from the header itself
    (``size / block_align``; the streaming sizes 0 and 0xFFFFFFFF mean unknown).
    Other formats: ``soundfile.info(path).frames`` (FLAC: its STREAMINFO total).
    """
    import struct

    import soundfile as sf

    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) == 12 and head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            block_align = None
            while True:
                chunk = fh.read(8)
                if len(chunk) < 8:
                    return None
                cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if cid == b"fmt ":
                    fmt = fh.read(size + (size & 1))
                    block_align = struct.unpack("<H", fmt[12:14])[0] if len(fmt) >= 14 else None
                elif cid == b"data":
                    if not block_align or size in (0, 0xFFFFFFFF):
                        return None
                    return size // block_align
                else:
                    fh.seek(size + (size & 1), os.SEEK_CUR)
    try:
        frames = int(sf.info(str(path)).frames)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
        return None
    return frames if 0 < frames < 2**62 else None


def _check_load_args(*, sr: Any, trim_db: Any, max_seconds: Any, pad: Any, min_seconds: Any) -> None:
    if not isinstance(sr, (int, np.integer)) or isinstance(sr, bool) or sr <= 0:
        raise ConfigError(f"sr must be a positive int in Hz, got {sr!r}")
    if trim_db is not None and not (isinstance(trim_db, (int, float)) and trim_db > 0):
        raise ConfigError(f"trim_db must be a positive number of dB or None, got {trim_db!r}")
    if max_seconds is not None and not (isinstance(max_seconds, (int, float)) and max_seconds > 0):
        raise ConfigError(f"max_seconds must be a positive number of seconds or None, got {max_seconds!r}")
    if pad and max_seconds is None:
        raise ConfigError("pad=True needs max_seconds (the length to pad to), got max_seconds=None")
    if not (isinstance(min_seconds, (int, float)) and min_seconds >= 0):
        raise ConfigError(f"min_seconds must be a number of seconds >= 0, got {min_seconds!r}")


# -- pure feature functions --------------------------------------------------------------------------------


def _check_signal(y: np.ndarray, sr: Any, where: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise FeatureError(f"{where} takes a mono signal of shape (n_samples,), got shape {y.shape}")
    if y.size == 0:
        raise FeatureError(f"{where} needs a non-empty signal, got 0 samples")
    if not isinstance(sr, (int, np.integer)) or isinstance(sr, bool) or sr <= 0:
        raise ConfigError(f"sr must be a positive int in Hz, got {sr!r}")
    return y.astype(np.float32, copy=False)


def mfcc(
    y: np.ndarray, *, sr: int, n_mfcc: int = 40, deltas: bool = True, n_fft: int = 400, hop: int = 160, n_mels: int = 64
) -> np.ndarray:
    """MFCCs, optionally with their first and second time derivatives.

    ``librosa.feature.mfcc`` (power mel spectrogram in dB, DCT-II, ortho) with a
    Hann window, centred frames; deltas by ``librosa.feature.delta`` (width 9;
    ``mode="nearest"`` for clips shorter than 9 frames).

    Args:
        y: float mono signal, shape ``(n_samples,)``.
        sr: sample rate in Hz.
        n_mfcc: coefficients per frame (<= ``n_mels``).
        deltas: append delta and delta-delta coefficients.
        n_fft: FFT and window length in samples (400 = 25 ms at 16 kHz).
        hop: frame step in samples (160 = 10 ms at 16 kHz).
        n_mels: mel bands the cepstrum is taken from.

    Returns:
        float32, shape ``(1 + n_samples // hop, n_mfcc * (3 if deltas else 1))``:
        frames x ``[mfcc, delta, delta2]``.
    """
    import librosa

    y = _check_signal(y, sr, "mfcc")
    m = librosa.feature.mfcc(y=y, sr=int(sr), n_mfcc=n_mfcc, n_fft=n_fft, hop_length=hop, n_mels=n_mels)
    if deltas:
        mode = "interp" if m.shape[1] >= 9 else "nearest"
        m = np.concatenate(
            [m, librosa.feature.delta(m, order=1, mode=mode), librosa.feature.delta(m, order=2, mode=mode)], axis=0
        )
    return np.ascontiguousarray(m.T, dtype=np.float32)


def log_mel(y: np.ndarray, *, sr: int, n_mels: int = 64, n_fft: int = 400, hop: int = 160) -> np.ndarray:
    """Log mel spectrogram in dB.

    ``librosa.power_to_db(librosa.feature.melspectrogram(...))``: power (``|STFT|^2``)
    mel spectrogram, Hann window, centred frames, Slaney mel filters, then
    ``10 log10(max(S, 1e-10))`` with values floored 80 dB below the clip's peak.

    Args:
        y: float mono signal, shape ``(n_samples,)``.
        sr: sample rate in Hz.
        n_mels: mel bands.
        n_fft: FFT and window length in samples.
        hop: frame step in samples.

    Returns:
        float32, shape ``(1 + n_samples // hop, n_mels)``, dB relative to full-scale power 1.
    """
    import librosa

    y = _check_signal(y, sr, "log_mel")
    s = librosa.feature.melspectrogram(y=y, sr=int(sr), n_fft=n_fft, hop_length=hop, n_mels=n_mels, power=2.0)
    return np.ascontiguousarray(librosa.power_to_db(s).T, dtype=np.float32)


@functools.lru_cache(maxsize=2)
def _smile(level: str) -> Any:
    try:
        import opensmile
    except ImportError as err:  # pragma: no cover - depends on the install
        raise FeatureError(f"eGeMAPS features need opensmile ({err}); run `pip install opensmile`") from err
    feature_level = {
        "functionals": opensmile.FeatureLevel.Functionals,
        "lld": opensmile.FeatureLevel.LowLevelDescriptors,
    }[level]
    return opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02, feature_level=feature_level)


def egemaps_functionals(y: np.ndarray, *, sr: int) -> np.ndarray:
    """The 88 eGeMAPS v02 functionals of a clip (openSMILE ``process_signal``).

    Eyben et al. (2016), "The Geneva Minimalistic Acoustic Parameter Set": pitch,
    jitter, shimmer, loudness, formants, spectral slopes, ... summarised over the clip.

    Args:
        y: float mono signal, shape ``(n_samples,)``.
        sr: sample rate in Hz.

    Returns:
        float32, shape ``(88,)``, in openSMILE's column order (mixed units: semitones, dB, Hz, ...).
    """
    y = _check_signal(y, sr, "egemaps_functionals")
    table = _smile("functionals").process_signal(y, int(sr))
    return np.ascontiguousarray(table.to_numpy()[0], dtype=np.float32)


def egemaps_lld(y: np.ndarray, *, sr: int) -> np.ndarray:
    """The 25 eGeMAPS v02 low-level descriptors per frame (openSMILE ``process_signal``).

    Args:
        y: float mono signal, shape ``(n_samples,)``.
        sr: sample rate in Hz.

    Returns:
        float32, shape ``(T, 25)``: 10 ms frames (20-60 ms windows) x descriptors, in openSMILE's column order.
    """
    y = _check_signal(y, sr, "egemaps_lld")
    table = _smile("lld").process_signal(y, int(sr))
    return np.ascontiguousarray(table.to_numpy(), dtype=np.float32).reshape(-1, _EGEMAPS_LLD)
