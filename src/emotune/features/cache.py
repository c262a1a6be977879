"""An on-disk cache of feature arrays, shared by every trial and process.

Each entry is one ``.npy`` file named by a SHA-256 key and sharded into
sub-folders by the key's first two hex digits (``root/ab/ab12....npy``).
Writes go to a temporary file in the same folder and are moved into place with
:func:`os.replace`, so a reader sees either the whole array or nothing: two
processes writing the same key leave one valid file, and a killed writer leaves
at most a stray temporary file, which readers ignore and :meth:`FeatureCache.clear`
removes. A file that cannot be read (truncated, corrupt) counts as a miss and is
deleted, so it is recomputed on the next :meth:`FeatureCache.get_or_compute`.

The cache keeps no index: the files are the state, so any number of processes
can share a folder without locks.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from emotune.exceptions import ConfigError, FeatureError

__all__ = ["FeatureCache", "default_cache_root", "content_hash", "library_versions"]

_SUFFIX = ".npy"
_TMP_PREFIX = ".tmp-"
_TMP_SUFFIX = ".part"


def default_cache_root() -> Path:
    """The folder named by ``$EMOTUNE_CACHE``, else ``~/.cache/emotune``.

    Only the CLI and experiment runners should call this; library code takes the
    root as an argument.
    """
    env = os.environ.get("EMOTUNE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "emotune"


def content_hash(data: str | bytes | np.ndarray) -> str:
    """SHA-256 hex digest of a text (UTF-8), raw bytes or an array (dtype, shape and bytes)."""
    h = hashlib.sha256()
    if isinstance(data, str):
        h.update(data.encode("utf-8"))
    elif isinstance(data, (bytes, bytearray, memoryview)):
        h.update(bytes(data))
    elif isinstance(data, np.ndarray):
        arr = np.ascontiguousarray(data)
        h.update(f"{arr.dtype.str}{arr.shape}".encode())
        h.update(arr.tobytes())
    else:
        raise FeatureError(f"content_hash takes str, bytes or numpy array, got {type(data).__name__}")
    return h.hexdigest()


def library_versions(*names: str) -> dict[str, str | None]:
    """Installed versions of the named distributions (``None`` when not installed), for cache keys."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _jsonable(obj: Any) -> Any:
    """``json.dumps`` fallback so keys can hold paths, NumPy scalars, arrays and sets."""
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return {"__ndarray_sha256__": content_hash(obj)}
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=repr)
    if isinstance(obj, bytes):
        return {"__bytes_sha256__": content_hash(obj)}
    raise FeatureError(f"cache key parts must be JSON-like, got {type(obj).__name__}: {obj!r}")


class FeatureCache:
    """Content-addressed ``.npy`` store under ``root``.

    Args:
        root: folder of the cache; created on the first write.

    Example:
        >>> cache = FeatureCache(tmp_path)
        >>> k = cache.key(content_hash("hello"), "minilm", {"max_len": 128})
        >>> cache.put(k, np.zeros(384, np.float32))
        >>> cache.get(k).shape
        (384,)
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        if root is None or str(root) == "":
            raise ConfigError(f"FeatureCache root must be a folder path, got {root!r}")
        self.root = Path(root).expanduser()

    def __repr__(self) -> str:
        return f"FeatureCache({str(self.root)!r})"

    # -- keys and paths -------------------------------------------------------

    @staticmethod
    def key(*parts: Any) -> str:
        """SHA-256 hex digest of the canonical JSON of ``parts``.

        Pass everything the array depends on: a content hash of the input, the
        extractor's name, its parameters and the library versions. Dict order
        does not matter (keys are sorted); tuples and lists are the same.
        """
        text = json.dumps(
            list(parts), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_jsonable
        )
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def path(self, key: str) -> Path:
        """Where the entry for ``key`` lives (``root/<key[:2]>/<key>.npy``)."""
        if len(key) < 3 or not all(c in "0123456789abcdef" for c in key):
            raise FeatureError(f"cache key must be a lower-case hex digest from FeatureCache.key, got {key!r}")
        return self.root / key[:2] / f"{key}{_SUFFIX}"

    # -- single entries -------------------------------------------------------

    def get(self, key: str) -> np.ndarray | None:
        """The stored array, or ``None`` on a miss; an unreadable file is removed and is a miss."""
        path = self.path(key)
        try:
            return np.load(path, allow_pickle=False)
        except FileNotFoundError:
            return None
        except (ValueError, EOFError, OSError):  # truncated or corrupt: drop it, recompute later
            try:
                path.unlink()
            except OSError:
                pass
            return None

    def put(self, key: str, array: np.ndarray) -> None:
        """Store ``array`` under ``key`` atomically (temporary file + :func:`os.replace`)."""
        arr = np.asarray(array)
        if arr.dtype.hasobject:
            raise FeatureError(f"cache stores numeric arrays only, got dtype {arr.dtype} for key {key}")
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, suffix=_TMP_SUFFIX, dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, arr, allow_pickle=False)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def __contains__(self, key: str) -> bool:
        return self.path(key).is_file()

    # -- batches --------------------------------------------------------------

    def get_or_compute(
        self,
        keys: Sequence[str],
        compute_fn: Callable[[list[int]], Sequence[np.ndarray]],
        *,
        chunk_size: int | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> list[np.ndarray]:
        """Arrays for ``keys``, computing only the misses.

        Args:
            keys: one key per item; repeated keys are computed once.
            compute_fn: called with the positions (into ``keys``) of missing
                items, returns one array per position, in that order.
            chunk_size: call ``compute_fn`` on at most this many misses at a
                time and store each chunk before the next, so an interrupted run
                keeps its progress. ``None`` computes all misses in one call.
            on_progress: called with the number of items finished after each chunk.

        Returns:
            One array per key, in the order of ``keys``.
        """
        if chunk_size is not None and chunk_size < 1:
            raise ConfigError(f"chunk_size must be a positive int or None, got {chunk_size!r}")
        out: list[np.ndarray | None] = [None] * len(keys)
        first: dict[str, int] = {}  # key -> first position needing computation
        for i, k in enumerate(keys):
            if k in first:
                continue
            hit = self.get(k)
            if hit is None:
                first[k] = i
            else:
                out[i] = hit
        misses = list(first.values())
        step = chunk_size or max(len(misses), 1)
        for start in range(0, len(misses), step):
            chunk = misses[start : start + step]
            arrays = list(compute_fn(chunk))
            if len(arrays) != len(chunk):
                raise FeatureError(
                    f"compute_fn must return one array per missing item: asked for {len(chunk)}, got {len(arrays)}"
                )
            for i, arr in zip(chunk, arrays):
                arr = np.asarray(arr)
                self.put(keys[i], arr)
                out[i] = arr
            if on_progress is not None:
                on_progress(len(chunk))
        for i, k in enumerate(keys):  # repeated keys take the first copy's array
            if out[i] is None:
                out[i] = out[first[k]]
        return out  # type: ignore[return-value]

    # -- housekeeping ---------------------------------------------------------

    def _shards(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return [p for p in self.root.iterdir() if p.is_dir() and len(p.name) == 2]

    def info(self) -> dict[str, Any]:
        """``{"entries": int, "bytes": int, "path": str}``; stray temporary files are not counted."""
        entries = 0
        size = 0
        for shard in self._shards():
            for f in shard.glob(f"*{_SUFFIX}"):
                try:
                    size += f.stat().st_size
                except FileNotFoundError:  # removed by another process meanwhile
                    continue
                entries += 1
        return {"entries": entries, "bytes": size, "path": str(self.root)}

    def clear(self) -> int:
        """Delete every entry and stray temporary file; returns the number of entries removed.

        Only the cache's own shard folders are touched, never other files under ``root``.
        """
        removed = 0
        for shard in self._shards():
            for f in list(shard.iterdir()):
                name = f.name
                if f.is_file() and (name.endswith(_SUFFIX) or name.startswith(_TMP_PREFIX)):
                    try:
                        f.unlink()
                    except FileNotFoundError:
                        continue
                    removed += name.endswith(_SUFFIX)
            try:
                shard.rmdir()  # only if empty
            except OSError:
                pass
        return removed

