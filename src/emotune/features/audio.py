"""Speech features: load a clip, turn it into frames or one vector, cache it.

Three layers, lowest first:

* :func:`load_audio` reads WAV / FLAC / AIFF (anything libsndfile reads) into a
  float32 mono signal at the rate asked for, and refuses files no extractor
  could use (unreadable, empty, silent, too short) with a :class:`FeatureError`
  that names the file.
* Pure, keyword-only feature functions: :func:`mfcc`, :func:`log_mel`
  (librosa), :func:`egemaps_functionals`, :func:`egemaps_lld` (openSMILE
  eGeMAPSv02). Frame outputs are time x features.
* :data:`AUDIO_FEATURES`, a registry of :class:`AudioExtractor` objects
  (a function plus its parameters), and :func:`extract_features`, which runs one
  over many files in worker processes and keeps every result in a
  :class:`~emotune.features.cache.FeatureCache`.

librosa, soundfile, openSMILE and CTranslate2 load on first use.
"""

from __future__ import annotations

import concurrent.futures as cf
from concurrent.futures.process import BrokenProcessPool
import functools
import hashlib
import inspect
import multiprocessing
import os
import pickle
from pathlib import Path
from typing import Any, Callable, Iterable, Literal, Mapping, Sequence

import numpy as np

from emotune._registry import Registry
from emotune.exceptions import ConfigError, FeatureError
from emotune.features import whisper as _whisper
from emotune.features.cache import FeatureCache, library_versions

__all__ = [
    "load_audio",
    "mfcc",
    "log_mel",
    "egemaps_functionals",
    "egemaps_lld",
    "AudioExtractor",
    "AUDIO_FEATURES",
    "make_audio_extractor",
    "extract_features",
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
            empty, silent (peak below -80 dBFS), not finite, or shorter than
            ``min_seconds``. The message names the file, the reason and a fix.
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
    if not np.isfinite(data).all():
        raise _fail(path, "it holds NaN or infinite samples", "re-export it as 16-bit PCM")
    peak = float(np.abs(data).max())
    if peak < _SILENCE_PEAK:
        raise _fail(
            path,
            f"it is silent (peak amplitude {peak:.2g}, below -80 dBFS)",
            "check the recording or leave it out",
        )

    y = data.mean(axis=1) if mono else data
    y = np.ascontiguousarray(y, dtype=np.float32)
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


# -- extractors and their registry -------------------------------------------------------------------------


class AudioExtractor:
    """A named feature function with fixed parameters: ``extractor(y, sr) -> array``.

    Presets are configurations, not subclasses: :meth:`with_params` returns a copy
    with other parameter values. Instances pickle (for worker processes) when
    ``func`` and ``dim`` are module-level functions.

    Args:
        name: registry name, part of every cache key.
        func: ``func(y, *, sr, **params) -> np.ndarray``.
        level: ``"frames"`` (output ``(T, dim)``) or ``"clip"`` (output ``(dim,)``).
        dim: features per frame or per clip: an int, or a function of the params.
        params: keyword arguments for ``func``; their names are the only ones
            :meth:`with_params` accepts.
        libraries: distributions whose versions enter the cache key.
        identity: optional ``identity(params) -> dict`` of what else the output
            depends on (model files); params named in ``unkeyed`` are left out of
            the key in its favour (a model's folder, not its contents).
        unkeyed: names of params the cache key replaces by ``identity``.
    """

    def __init__(
        self,
        name: str,
        func: Callable[..., np.ndarray],
        *,
        level: Literal["frames", "clip"],
        dim: int | Callable[[Mapping[str, Any]], int],
        params: Mapping[str, Any] | None = None,
        libraries: Sequence[str] = ("librosa",),
        identity: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None,
        unkeyed: Sequence[str] = (),
    ) -> None:
        if not name or not isinstance(name, str):
            raise ConfigError(f"extractor name must be a non-empty str, got {name!r}")
        if level not in ("frames", "clip"):
            raise ConfigError(f"level must be 'frames' or 'clip', got {level!r}")
        if not callable(func):
            raise ConfigError(f"func must be callable, got {type(func).__name__}")
        self.name = name
        self.func = func
        self.level = level
        self._dim = dim
        self.params: dict[str, Any] = dict(params or {})
        self.libraries = tuple(libraries)
        self.identity = identity
        self.unkeyed = tuple(unkeyed)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"AudioExtractor({self.name!r}, level={self.level!r}, dim={self.dim}, {args})"

    @property
    def dim(self) -> int:
        """Features per frame (``level="frames"``) or per clip (``level="clip"``)."""
        return int(self._dim(self.params) if callable(self._dim) else self._dim)

    def with_params(self, **params: Any) -> "AudioExtractor":
        """A copy with some parameters changed; an unknown name is a :class:`ConfigError`."""
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            raise ConfigError(
                f"audio extractor {self.name!r} has no parameter(s) {unknown}; known: {sorted(self.params)}"
            )
        return AudioExtractor(
            self.name,
            self.func,
            level=self.level,
            dim=self._dim,
            params={**self.params, **params},
            libraries=self.libraries,
            identity=self.identity,
            unkeyed=self.unkeyed,
        )

    def key_parts(self) -> dict[str, Any]:
        """Everything the output depends on besides the signal: name, params, library versions, model."""
        parts: dict[str, Any] = {
            "extractor": self.name,
            "params": {k: v for k, v in self.params.items() if k not in self.unkeyed},
            "libraries": library_versions(*self.libraries),
        }
        if self.identity is not None:
            parts["identity"] = dict(self.identity(self.params))
        return parts

    def __call__(self, y: np.ndarray, sr: int) -> np.ndarray:
        """Features of one mono signal.

        Args:
            y: float32, shape ``(n_samples,)``.
            sr: sample rate in Hz.

        Returns:
            float32, shape ``(T, dim)`` for ``level="frames"``, ``(dim,)`` for ``level="clip"``.
        """
        out = np.asarray(self.func(y, sr=sr, **self.params), dtype=np.float32)
        want = (self.dim,) if self.level == "clip" else (None, self.dim)
        if out.ndim != len(want) or out.shape[-1] != self.dim:
            raise FeatureError(
                f"audio extractor {self.name!r} returned shape {out.shape}, expected "
                f"{'(dim,)' if self.level == 'clip' else '(T, dim)'} with dim={self.dim}"
            )
        return out


AUDIO_FEATURES: Registry[AudioExtractor] = Registry("audio feature extractor")


def _register(extractor: AudioExtractor) -> None:
    AUDIO_FEATURES.add(extractor.name, extractor)


def _mfcc_dim(p: Mapping[str, Any]) -> int:
    return int(p["n_mfcc"]) * (3 if p["deltas"] else 1)


def _logmel_dim(p: Mapping[str, Any]) -> int:
    return int(p["n_mels"])


def _whisper_identity(p: Mapping[str, Any]) -> Mapping[str, Any]:
    return _whisper.whisper_identity(p.get("model_dir"))


def _whisper_frames(y: np.ndarray, *, sr: int, **params: Any) -> np.ndarray:
    return _whisper.whisper_encoder_states(y, sr=sr, **params)


def _whisper_pooled(y: np.ndarray, *, sr: int, **params: Any) -> np.ndarray:
    return _whisper.whisper_pooled(y, sr=sr, **params)


_register(
    AudioExtractor(
        "mfcc", mfcc, level="frames", dim=_mfcc_dim,
        params={"n_mfcc": 40, "deltas": True, "n_fft": 400, "hop": 160, "n_mels": 64},
    )
)
_register(
    AudioExtractor("logmel", log_mel, level="frames", dim=_logmel_dim, params={"n_mels": 64, "n_fft": 400, "hop": 160})
)
_register(AudioExtractor("egemaps", egemaps_functionals, level="clip", dim=_EGEMAPS_FUNCTIONALS, libraries=("opensmile",)))
_register(AudioExtractor("egemaps_lld", egemaps_lld, level="frames", dim=_EGEMAPS_LLD, libraries=("opensmile",)))
for _name, _func, _level, _dim in (
    ("whisper", _whisper_frames, "frames", _whisper.WHISPER_DIM),
    ("whisper_pooled", _whisper_pooled, "clip", 2 * _whisper.WHISPER_DIM),
):
    _register(
        AudioExtractor(
            _name, _func, level=_level, dim=_dim,  # type: ignore[arg-type]
            params={"model_dir": None, "compute_type": "float32"},
            libraries=("ctranslate2", "librosa"),
            identity=_whisper_identity,
            unkeyed=("model_dir",),
        )
    )


def make_audio_extractor(name: str, **params: Any) -> AudioExtractor:
    """The extractor registered as ``name``, with some parameters changed."""
    return AUDIO_FEATURES.get(name).with_params(**params)


# -- batch extraction with a cache and worker processes ----------------------------------------------------

_LOAD_DEFAULTS = {
    k: v.default
    for k, v in inspect.signature(load_audio).parameters.items()
    if v.kind is inspect.Parameter.KEYWORD_ONLY and k not in ("sr", "mono")
}


def _file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _compute_one(path: str, extractor: AudioExtractor, sr: int, load_kwargs: Mapping[str, Any]) -> np.ndarray:
    """Load and featurise one file; any failure becomes a FeatureError naming the file."""
    try:
        y = load_audio(path, sr=sr, mono=True, **load_kwargs)
        return extractor(y, sr)
    except FeatureError as err:
        if str(path) in str(err):
            raise
        raise FeatureError(f"{path!r}: {err}") from None
    except Exception as err:  # a library error on one file must not look like a crash of the batch
        raise FeatureError(f"{path!r}: {extractor.name} failed with {type(err).__name__}: {err}") from None


def _worker_init(threads: int) -> None:
    _whisper.set_default_threads(threads)


_FORKSERVER_PRELOAD = ("emotune.features.audio", "librosa.feature.spectral", "soundfile")


def _pool_context() -> multiprocessing.context.BaseContext:
    """forkserver (else spawn), never fork: the parent may hold threads (CTranslate2, OpenMP, torch).

    The fork server imports librosa once (about 3 s) and every later worker is
    forked from it, so repeated calls start their workers in well under a second.
    Modules someone else asked the server to preload are kept.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    try:
        from multiprocessing import forkserver

        current = list(getattr(forkserver._forkserver, "_preload_modules", []) or [])
        wanted = current + [m for m in _FORKSERVER_PRELOAD if m not in current]
        if wanted != current:
            ctx.set_forkserver_preload(wanted)  # takes effect only when the server starts
    except Exception:  # pragma: no cover - private detail of CPython; preloading is only a speed-up
        pass
    return ctx


def extract_features(
    paths: Iterable[str | os.PathLike[str]],
    extractor: str | AudioExtractor,
    *,
    sr: int = 16000,
    cache: FeatureCache | None = None,
    workers: int = 2,
    on_error: Literal["raise", "skip"] = "raise",
    progress: bool = True,
    load_kwargs: Mapping[str, Any] | None = None,
) -> tuple[list[np.ndarray | None], list[tuple[str, str]]]:
    """Features of many audio files, computed once and kept in ``cache``.

    Each file is read with :func:`load_audio` (mono, at ``sr``) and passed to the
    extractor. The cache key is the SHA-256 of the file's bytes plus the
    extractor's name, parameters, model identity and library versions plus the
    load settings, so a renamed copy of a file hits and a changed parameter misses.
    Misses run in ``workers`` processes (forkserver or spawn; ``workers=1`` runs
    in this process) and are stored as they finish. Identical files are computed once.

    Args:
        paths: audio files.
        extractor: a name in :data:`AUDIO_FEATURES` or an :class:`AudioExtractor`.
        sr: sample rate in Hz the files are resampled to before extraction.
        cache: where features are kept; ``None`` computes everything.
        workers: processes for cache misses; 1 runs in-process.
        on_error: ``"raise"``: the first failing file raises a
            :class:`FeatureError` naming it (files not yet started are dropped;
            finished ones stay in the cache). ``"skip"``: failing files get
            ``None`` and are listed in the returned errors.
        progress: show a Rich progress bar.
        load_kwargs: more :func:`load_audio` settings (``trim_db``,
            ``max_seconds``, ``pad``, ``min_seconds``); they enter the cache key.

    Returns:
        ``features``: one array per path, in order (``(T, dim)`` or ``(dim,)``
        float32, see the extractor's ``level``), ``None`` for a skipped file.
        ``errors``: ``(path, reason)`` for each skipped file, in path order.
    """
    ext = AUDIO_FEATURES.get(extractor) if isinstance(extractor, str) else extractor
    if not isinstance(ext, AudioExtractor):
        raise ConfigError(f"extractor must be a registered name or an AudioExtractor, got {type(extractor).__name__}")
    if on_error not in ("raise", "skip"):
        raise ConfigError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ConfigError(f"workers must be a positive int, got {workers!r}")
    if cache is not None and not isinstance(cache, FeatureCache):
        raise ConfigError(f"cache must be a FeatureCache or None, got {type(cache).__name__}")
    load = dict(load_kwargs or {})
    unknown = sorted(set(load) - set(_LOAD_DEFAULTS))
    if unknown:
        raise ConfigError(f"load_kwargs has unknown setting(s) {unknown}; allowed: {sorted(_LOAD_DEFAULTS)}")
    settings = {**_LOAD_DEFAULTS, **load}
    _check_load_args(sr=sr, **settings)

    files = [os.fspath(p) for p in paths]
    out: list[np.ndarray | None] = [None] * len(files)
    failed: dict[int, str] = {}
    todo: dict[str, list[int]] = {}  # key (or path without a cache) -> positions

    def fail(i: int, reason: str) -> None:
        if on_error == "raise":
            raise FeatureError(reason if files[i] in reason else f"{files[i]!r}: {reason}")
        failed[i] = reason

    with _ProgressBar(progress, f"{ext.name} features", len(files)) as bar:
        key_base = None
        if cache is not None:
            key_base = (ext.key_parts(), {"sr": sr, **settings, "libraries": library_versions(*_LOAD_LIBRARIES)})
        for i, f in enumerate(files):
            if cache is None:
                todo.setdefault(f, []).append(i)
                continue
            try:
                digest = _file_sha256(f)
            except OSError as err:
                fail(i, str(_fail(f, f"cannot read it ({err.strerror or err})", "check the path and permissions")))
                bar.advance(1)
                continue
            key = cache.key(digest, *key_base)
            hit = cache.get(key)
            if hit is not None:
                out[i] = hit
                bar.advance(1)
            else:
                todo.setdefault(key, []).append(i)

        def done(key: str, result: np.ndarray | None, reason: str | None) -> None:
            positions = todo[key]
            if result is None:
                for i in positions:
                    bar.advance(1)
                    fail(i, reason or "failed")
                return
            if cache is not None:
                cache.put(key, result)
            for i in positions:
                out[i] = result
            bar.advance(len(positions))

        jobs = list(todo)
        if workers == 1 or len(jobs) <= 1:
            for key in jobs:
                try:
                    result = _compute_one(files[todo[key][0]], ext, sr, settings)
                except FeatureError as err:
                    done(key, None, str(err))
                else:
                    done(key, result, None)
        elif jobs:
            _run_pool(jobs, todo, files, ext, sr, settings, workers, done)

    errors = [(files[i], failed[i]) for i in sorted(failed)]
    return out, errors


def _run_pool(
    jobs: list[str],
    todo: Mapping[str, list[int]],
    files: list[str],
    ext: AudioExtractor,
    sr: int,
    settings: Mapping[str, Any],
    workers: int,
    done: Callable[[str, np.ndarray | None, str | None], None],
) -> None:
    """Compute ``jobs`` in worker processes, reporting each to ``done`` as it finishes."""
    try:
        pickle.dumps(ext)
    except Exception as err:
        raise ConfigError(
            f"audio extractor {ext.name!r} cannot be sent to worker processes ({err}); "
            "use module-level functions in it or pass workers=1"
        ) from err
    n = min(workers, len(jobs))
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    with cf.ProcessPoolExecutor(
        max_workers=n, mp_context=_pool_context(), initializer=_worker_init, initargs=(max(1, cores // n),)
    ) as pool:
        futures = {pool.submit(_compute_one, files[todo[key][0]], ext, sr, dict(settings)): key for key in jobs}
        handled: set[cf.Future] = set()
        try:
            for fut in cf.as_completed(futures):
                handled.add(fut)
                key = futures[fut]
                try:
                    result = fut.result()
                except FeatureError as err:
                    done(key, None, str(err))
                except BrokenProcessPool as err:
                    done(key, None, f"{files[todo[key][0]]!r}: a worker process died ({err}); retry with workers=1")
                else:
                    done(key, result, None)
        except BaseException:
            # on_error="raise" or Ctrl-C: drop what has not started, but keep (cache) what is running
            for fut in futures:
                fut.cancel()
            for fut in futures:
                if fut in handled or fut.cancelled():
                    continue
                try:
                    done(futures[fut], fut.result(), None)
                except BaseException:
                    continue
            raise


class _ProgressBar:
    """A Rich progress bar over ``total`` items (no-op when disabled), used as a context manager."""

    def __init__(self, enabled: bool, description: str, total: int) -> None:
        self.enabled = enabled and total > 0
        self.description = description
        self.total = total
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> "_ProgressBar":
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(self.description, total=self.total)
        return self

    def advance(self, n: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.stop()
