"""FeatureCache: hits and misses, keys, atomic writes, concurrent writers, housekeeping."""

from __future__ import annotations

import multiprocessing as mp
import sys
from pathlib import Path

import numpy as np
import pytest

from emotune.exceptions import ConfigError, FeatureError
from emotune.features.cache import FeatureCache, content_hash, default_cache_root, library_versions


@pytest.fixture()
def cache(tmp_path: Path) -> FeatureCache:
    return FeatureCache(tmp_path / "cache")


def test_miss_then_hit_round_trips_dtype_and_shape(cache: FeatureCache) -> None:
    k = cache.key("abc", "extractor", {"n": 3})
    assert cache.get(k) is None
    assert k not in cache
    arr = np.arange(12, dtype=np.float32).reshape(3, 4)
    cache.put(k, arr)
    got = cache.get(k)
    assert got is not None and got.dtype == np.float32 and got.shape == (3, 4)
    np.testing.assert_array_equal(got, arr)
    assert k in cache
    assert cache.path(k).parent.name == k[:2]  # sharded by prefix


def test_constructor_does_no_io(tmp_path: Path) -> None:
    FeatureCache(tmp_path / "not-yet")
    assert not (tmp_path / "not-yet").exists()


def test_key_is_canonical_and_changes_with_every_part() -> None:
    base = FeatureCache.key("hash1", "minilm", {"max_len": 64, "pooled": True}, {"torch": "2.1"})
    assert len(base) == 64
    assert base == FeatureCache.key("hash1", "minilm", {"pooled": True, "max_len": 64}, {"torch": "2.1"})
    assert base == FeatureCache.key("hash1", "minilm", {"max_len": np.int64(64), "pooled": True}, {"torch": "2.1"})
    for other in (
        FeatureCache.key("hash2", "minilm", {"max_len": 64, "pooled": True}, {"torch": "2.1"}),
        FeatureCache.key("hash1", "w2v", {"max_len": 64, "pooled": True}, {"torch": "2.1"}),
        FeatureCache.key("hash1", "minilm", {"max_len": 128, "pooled": True}, {"torch": "2.1"}),
        FeatureCache.key("hash1", "minilm", {"max_len": 64, "pooled": True}, {"torch": "2.2"}),
    ):
        assert other != base
    with pytest.raises(FeatureError, match="JSON-like"):
        FeatureCache.key(object())


def test_content_hash_and_versions() -> None:
    assert content_hash("hi") == content_hash(b"hi")
    a = np.zeros(3, np.float32)
    assert content_hash(a) != content_hash(a.astype(np.float64))
    assert library_versions("numpy")["numpy"] == np.__version__
    assert library_versions("no-such-dist-xyz") == {"no-such-dist-xyz": None}


def test_bad_key_and_bad_root_are_errors(cache: FeatureCache) -> None:
    with pytest.raises(FeatureError, match="hex digest"):
        cache.get("../../etc/passwd")
    with pytest.raises(ConfigError, match="root"):
        FeatureCache("")
    with pytest.raises(FeatureError, match="numeric"):
        cache.put(cache.key("x"), np.array([object()]))


def test_stray_temp_file_is_ignored_and_cleared(cache: FeatureCache) -> None:
    k = cache.key("killed writer")
    shard = cache.path(k).parent
    shard.mkdir(parents=True)
    (shard / ".tmp-abc123.part").write_bytes(b"\x93NUMPY half a fi")
    assert cache.get(k) is None
    assert cache.info()["entries"] == 0
    cache.put(k, np.ones(2))
    assert cache.info()["entries"] == 1
    assert cache.clear() == 1
    assert not shard.exists()


@pytest.mark.parametrize("keep", [0, 10, 100, -8])  # empty, in the header, in the data
def test_truncated_file_is_a_miss_and_is_removed(cache: FeatureCache, keep: int) -> None:
    k = cache.key("truncated", keep)
    cache.put(k, np.arange(100, dtype=np.float64))
    path = cache.path(k)
    path.write_bytes(path.read_bytes()[:keep])
    assert cache.get(k) is None
    assert not path.exists()
    # and get_or_compute recomputes it
    out = cache.get_or_compute([k], lambda pos: [np.full(3, 7.0)])
    np.testing.assert_array_equal(out[0], np.full(3, 7.0))
    np.testing.assert_array_equal(cache.get(k), np.full(3, 7.0))


def test_get_or_compute_batches_misses_and_dedupes(cache: FeatureCache) -> None:
    keys = [cache.key(i) for i in ("a", "b", "c", "b", "d")]
    cache.put(keys[0], np.array([0.0]))
    calls: list[list[int]] = []

    def compute(positions: list[int]) -> list[np.ndarray]:
        calls.append(list(positions))
        return [np.array([float(p)]) for p in positions]

    out = cache.get_or_compute(keys, compute)
    assert calls == [[1, 2, 4]]  # one batch, only misses, the repeated "b" once
    assert [float(a[0]) for a in out] == [0.0, 1.0, 2.0, 1.0, 4.0]

    calls.clear()
    assert [float(a[0]) for a in cache.get_or_compute(keys, compute)] == [0.0, 1.0, 2.0, 1.0, 4.0]
    assert calls == []  # all hits


def test_get_or_compute_chunks_and_reports_progress(cache: FeatureCache) -> None:
    keys = [cache.key(i) for i in range(7)]
    calls: list[int] = []
    done: list[int] = []

    def compute(positions: list[int]) -> list[np.ndarray]:
        calls.append(len(positions))
        return [np.zeros(1) for _ in positions]

    cache.get_or_compute(keys, compute, chunk_size=3, on_progress=done.append)
    assert calls == [3, 3, 1] and done == [3, 3, 1]
    with pytest.raises(ConfigError, match="chunk_size"):
        cache.get_or_compute(keys, compute, chunk_size=0)


def test_get_or_compute_checks_result_count(cache: FeatureCache) -> None:
    with pytest.raises(FeatureError, match="one array per missing item"):
        cache.get_or_compute([cache.key(1), cache.key(2)], lambda pos: [np.zeros(1)])


def _writer(root: str, key: str, value: float, rounds: int, start: mp.synchronize.Event) -> None:
    cache = FeatureCache(root)
    arr = np.full(200_000, value, dtype=np.float64)  # 1.6 MB, so writes overlap
    start.wait()
    for _ in range(rounds):
        cache.put(key, arr)


@pytest.mark.skipif(sys.platform == "win32", reason="uses the fork start method")
def test_concurrent_writers_leave_one_valid_file(cache: FeatureCache) -> None:
    ctx = mp.get_context("fork")
    key = cache.key("contended")
    start = ctx.Event()
    procs = [ctx.Process(target=_writer, args=(str(cache.root), key, float(v), 15, start)) for v in (1, 2)]
    for p in procs:
        p.start()
    start.set()
    seen = set()
    while any(p.is_alive() for p in procs):  # a reader never sees a partial array
        got = cache.get(key)
        if got is not None:
            assert got.shape == (200_000,)
            assert np.unique(got).size == 1
            seen.add(float(got[0]))
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    final = cache.get(key)
    assert final is not None and final.shape == (200_000,)
    assert np.unique(final).tolist() in ([1.0], [2.0])
    assert cache.info()["entries"] == 1
    assert list(cache.path(key).parent.glob(".tmp-*")) == []


def test_info_and_clear(cache: FeatureCache) -> None:
    assert cache.info() == {"entries": 0, "bytes": 0, "path": str(cache.root)}
    for i in range(5):
        cache.put(cache.key(i), np.zeros(10, np.float32))
    info = cache.info()
    assert info["entries"] == 5 and info["bytes"] > 5 * 40
    other = cache.root / "README.txt"
    other.write_text("not ours")
    assert cache.clear() == 5
    assert cache.info()["entries"] == 0
    assert other.exists()  # only the cache's own files are removed


def test_default_root_follows_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EMOTUNE_CACHE", str(tmp_path / "c"))
    assert default_cache_root() == tmp_path / "c"
    monkeypatch.delenv("EMOTUNE_CACHE")
    assert default_cache_root() == Path.home() / ".cache" / "emotune"
