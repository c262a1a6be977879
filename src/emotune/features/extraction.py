"""Batch extraction: one audio extractor over many files, in worker processes, through the feature cache.

:func:`extract_features` reads each file with
:func:`~emotune.features.audio.load_audio`, runs an
:class:`~emotune.features.audio_extractors.AudioExtractor` on it and keeps
every result in a :class:`~emotune.features.cache.FeatureCache`, so a file is
featurised once per setting. Cache misses run in a process pool (forkserver,
else spawn) behind an optional Rich progress bar.
"""

from __future__ import annotations

import concurrent.futures as cf
from concurrent.futures.process import BrokenProcessPool
import hashlib
import inspect
import multiprocessing
import os
import pickle
from typing import Any, Callable, Iterable, Literal, Mapping

import numpy as np

from emotune.exceptions import ConfigError, FeatureError
from emotune.features import whisper as _whisper
from emotune.features.audio import _LOAD_LIBRARIES, _check_load_args, _fail, load_audio
from emotune.features.audio_extractors import AUDIO_FEATURES, AudioExtractor
from emotune.features.cache import FeatureCache, library_versions

__all__ = ["extract_features"]

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


_FORKSERVER_PRELOAD = ("emotune.features.extraction", "librosa.feature.spectral", "soundfile")


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
    counts: dict[str, int] | None = None,
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
        counts: if given, filled with this call's own ``"cached"`` (files served
            from the cache) and ``"computed"`` (files whose features were computed
            here); unlike a before/after count of cache entries, other processes
            writing to the same cache do not change them.

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

    n_cached = 0
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
                n_cached += 1
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
    if counts is not None:
        counts["cached"] = n_cached
        counts["computed"] = len(files) - n_cached - len(failed)
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
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"), TimeRemainingColumn(), transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(self.description, total=self.total, rate="")
        return self

    def advance(self, n: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)
            speed = self._progress.tasks[0].speed  # items per second over Rich's recent window
            self._progress.update(self._task, rate=f"{speed:.1f} clips/s" if speed else "")

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.stop()
