"""The registry of audio feature extractors: each a pure feature function with fixed parameters, named.

:class:`AudioExtractor` binds a function of :mod:`emotune.features.audio` (or
of :mod:`emotune.features.whisper`) to its parameters, output level and width,
and to what its cache key depends on. :data:`AUDIO_FEATURES` holds the presets
the CLI and YAML configs name (``mfcc``, ``logmel``, ``egemaps``,
``egemaps_lld``, ``whisper``, ``whisper_pooled``, ``whisper_base``,
``whisper_base_pooled`` and the clip-length ``whisper_base_fast`` / ``whisper_base_pooled_fast``); :func:`make_audio_extractor` returns one with some parameters changed.
"""

from __future__ import annotations

from typing import Any, Callable, Literal, Mapping, Sequence

import numpy as np

from emotune._registry import Registry
from emotune.exceptions import ConfigError, FeatureError
from emotune.features import whisper as _whisper
from emotune.features.audio import _EGEMAPS_FUNCTIONALS, _EGEMAPS_LLD, egemaps_functionals, egemaps_lld, log_mel, mfcc
from emotune.features.cache import library_versions

__all__ = ["AudioExtractor", "AUDIO_FEATURES", "make_audio_extractor"]


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

        Raises:
            FeatureError: the output has the wrong shape or a NaN / infinite
                value (the batch extraction names the file and skips or stops
                per ``on_error``; nothing is cached).
        """
        out = np.asarray(self.func(y, sr=sr, **self.params), dtype=np.float32)
        want = (self.dim,) if self.level == "clip" else (None, self.dim)
        if out.ndim != len(want) or out.shape[-1] != self.dim:
            raise FeatureError(
                f"audio extractor {self.name!r} returned shape {out.shape}, expected "
                f"{'(dim,)' if self.level == 'clip' else '(T, dim)'} with dim={self.dim}"
            )
        if not np.isfinite(out).all():  # one NaN would poison every normalisation statistic of a run
            bad = int((~np.isfinite(out)).sum())
            raise FeatureError(f"audio extractor {self.name!r} returned {bad} NaN or infinite values (of {out.size})")
        return out


AUDIO_FEATURES: Registry[AudioExtractor] = Registry("audio feature extractor")


def _register(extractor: AudioExtractor) -> None:
    AUDIO_FEATURES.add(extractor.name, extractor)


def _mfcc_dim(p: Mapping[str, Any]) -> int:
    return int(p["n_mfcc"]) * (3 if p["deltas"] else 1)


def _logmel_dim(p: Mapping[str, Any]) -> int:
    return int(p["n_mels"])


def _whisper_identity(p: Mapping[str, Any]) -> Mapping[str, Any]:
    return _whisper.whisper_identity(p.get("model_dir"), p.get("size", "tiny"))


def _whisper_frames(y: np.ndarray, *, sr: int, **params: Any) -> np.ndarray:
    return _whisper.whisper_encoder_states(y, sr=sr, **params)


def _whisper_pooled(y: np.ndarray, *, sr: int, **params: Any) -> np.ndarray:
    return _whisper.whisper_pooled(y, sr=sr, **params)


def _whisper_dim(p: Mapping[str, Any]) -> int:
    return _whisper.WHISPER_DIMS[p["size"]]


def _whisper_pooled_dim(p: Mapping[str, Any]) -> int:
    return 2 * _whisper.WHISPER_DIMS[p["size"]]


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
# whisper / whisper_pooled: tiny; whisper_base / whisper_base_pooled: base. All four run Whisper's own input,
# zero-padded 30 s windows: on RAVDESS dev the clip-length path was 3.3 UA points [1.0, 5.3] less accurate
# (bench/README.md, Speech, "clip's own length vs padded"), so by issue 8's rule ("use the faster path if
# accuracy holds") it is not the default. whisper_base_fast / whisper_base_pooled_fast run base on each clip's
# own frames (window="clip"): about 11x faster on 2-4 s clips, for users who trade those points for speed.
for _name, _func, _level, _dim, _size, _window in (
    ("whisper", _whisper_frames, "frames", _whisper_dim, "tiny", "padded"),
    ("whisper_pooled", _whisper_pooled, "clip", _whisper_pooled_dim, "tiny", "padded"),
    ("whisper_base", _whisper_frames, "frames", _whisper_dim, "base", "padded"),
    ("whisper_base_pooled", _whisper_pooled, "clip", _whisper_pooled_dim, "base", "padded"),
    ("whisper_base_fast", _whisper_frames, "frames", _whisper_dim, "base", "clip"),
    ("whisper_base_pooled_fast", _whisper_pooled, "clip", _whisper_pooled_dim, "base", "clip"),
):
    _register(
        AudioExtractor(
            _name, _func, level=_level, dim=_dim,  # type: ignore[arg-type]
            params={"model_dir": None, "compute_type": "float32", "size": _size, "window": _window},
            libraries=("ctranslate2", "librosa"),
            identity=_whisper_identity,
            unkeyed=("model_dir",),
        )
    )


def make_audio_extractor(name: str, **params: Any) -> AudioExtractor:
    """The extractor registered as ``name``, with some parameters changed."""
    return AUDIO_FEATURES.get(name).with_params(**params)
