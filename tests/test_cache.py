"""AssetCache: intact round trips, damage detection, LRU eviction, persistence, requests."""

import pytest

from server.cache import AssetCache

A, B, C = "a" * 32, "b" * 32, "c" * 32


def test_round_trip_and_persistence(tmp_path):
    cache = AssetCache(tmp_path, 10_000)
    cache.put(A, b"meta", [b"one", b"two" * 10])
    got = cache.get(A)
    assert got.meta == b"meta" and got.files == [b"one", b"two" * 10]
    cache.close()
    again = AssetCache(tmp_path, 10_000)
    assert again.get(A).files == [b"one", b"two" * 10]
    assert len(again) == 1 and again.total_bytes() == 33
    assert again.stats.hits == 1


def test_damaged_or_missing_blob_is_dropped_not_served(tmp_path):
    cache = AssetCache(tmp_path, 10_000, memory_bytes=0)  # every read goes to disk
    cache.put(A, b"m", [b"x" * 100, b"y" * 100])
    path = tmp_path / "blobs" / A[:2] / A / "1"
    path.write_bytes(b"y" * 99 + b"z")
    assert cache.get(A) is None
    assert not cache.contains(A) and cache.stats.corrupt == 1
    cache.put(B, b"m", [b"q"])
    (tmp_path / "blobs" / B[:2] / B / "0").unlink()
    assert cache.get(B) is None and cache.stats.corrupt == 2


def test_least_recently_used_is_evicted_first(tmp_path):
    cache = AssetCache(tmp_path, 250)
    cache.put(A, b"m", [b"a" * 100])
    cache.put(B, b"m", [b"b" * 100])
    assert cache.get(A) is not None  # A is now more recent than B
    cache.put(C, b"m", [b"c" * 100])
    assert cache.contains(A) and cache.contains(C) and not cache.contains(B)
    assert cache.stats.evictions == 1 and cache.total_bytes() == 200
    assert not (tmp_path / "blobs" / B[:2] / B).exists()


def test_asset_larger_than_the_cache_is_not_stored(tmp_path):
    cache = AssetCache(tmp_path, 50)
    cache.put(A, b"m", [b"a" * 100])
    assert not cache.contains(A)


def test_requests_outlive_eviction_and_are_capped(tmp_path):
    cache = AssetCache(tmp_path, 150, max_requests=2)
    cache.put(A, b"m", [b"a" * 100])
    cache.remember_request(A, "procedural", b'{"seed":1}')
    cache.put(B, b"m", [b"b" * 100])  # evicts A
    assert not cache.contains(A)
    assert cache.lookup_request(A) == ("procedural", b'{"seed":1}')
    cache.remember_request(B, "procedural", b"2")
    cache.remember_request(C, "procedural", b"3")
    assert cache.lookup_request(A) is None  # oldest request forgotten past max_requests
    assert cache.lookup_request(C) == ("procedural", b"3")


def test_leftovers_of_an_interrupted_write_are_swept(tmp_path):
    AssetCache(tmp_path, 1000).close()
    stray = tmp_path / "blobs" / "dd" / ("d" * 32)
    stray.mkdir(parents=True)
    (stray / "0").write_bytes(b"half")
    tmp = tmp_path / "blobs" / "dd" / (".x.tmp-1-2")
    tmp.mkdir()
    AssetCache(tmp_path, 1000)
    assert not stray.exists() and not tmp.exists()


def test_bad_ids_are_refused(tmp_path):
    cache = AssetCache(tmp_path, 1000)
    for bad in ("", "../../etc", "A" * 32, "a" * 65):
        with pytest.raises(ValueError, match="hex"):
            cache.get(bad)


def test_memory_tier_serves_verified_copies_and_disk_reads_are_still_checked(tmp_path):
    cache = AssetCache(tmp_path, 10_000, memory_bytes=1_000)
    cache.put(A, b"m", [b"x" * 100])
    path = tmp_path / "blobs" / A[:2] / A / "0"
    path.write_bytes(b"z" * 100)  # damaged on disk after it was written and verified
    assert cache.get(A).files == [b"x" * 100]  # the in-memory copy is the verified original
    cache.drop_memory()
    assert cache.get(A) is None and cache.stats.corrupt == 1  # the disk read is checked


def test_memory_tier_is_bounded(tmp_path):
    cache = AssetCache(tmp_path, 10_000, memory_bytes=1_000)
    for aid in (A, B, C):
        cache.put(aid, b"m", [b"x" * 240])
    assert cache._hot_bytes <= 1_000 and list(cache._hot) == [A, B, C]
    cache.put("d" * 32, b"m", [b"x" * 240])
    cache.put("e" * 32, b"m", [b"x" * 240])
    assert cache._hot_bytes <= 1_000 and A not in cache._hot
    assert cache.get(A).files == [b"x" * 240]  # still on disk


@pytest.mark.parametrize("column, value", [
    ("sha256", "not-a-digest"),
    ("sizes", "1,2,3"),
    ("sizes", "many"),
    ("meta", "text, not bytes"),
])
def test_damaged_index_row_is_dropped_not_an_error(tmp_path, caplog, column, value):
    cache = AssetCache(tmp_path, 10_000, memory_bytes=0)
    cache.put(A, b"m", [b"x" * 10, b"y" * 10])
    cache._db.execute(f"UPDATE assets SET {column}=? WHERE asset_id=?", (value, A))
    with caplog.at_level("WARNING", logger="server.cache"):
        assert cache.get(A) is None
    assert not cache.contains(A) and cache.stats.corrupt == 1
    assert not (tmp_path / "blobs" / A[:2] / A).exists()
    assert sum("damaged index row" in r.getMessage() for r in caplog.records) == 1


def _blob_dirs(root):
    return [p for p in (root / "blobs").glob("*/*") if p.is_dir()]


def test_garbage_index_is_moved_aside_and_the_cache_starts_fresh(tmp_path, caplog):
    cache = AssetCache(tmp_path, 10_000)
    cache.put(A, b"m", [b"x"])
    cache.put(B, b"m", [b"y"])
    cache.close()
    index = tmp_path / "index.sqlite3"
    raw = bytearray(index.read_bytes())
    raw[:100] = b"garbage!" * 12 + b"junk"  # the SQLite file header
    index.write_bytes(bytes(raw))
    with caplog.at_level("INFO", logger="server.cache"):
        again = AssetCache(tmp_path, 10_000)
    assert len(again) == 0 and again.get(A) is None and _blob_dirs(tmp_path) == []
    assert list(tmp_path.glob("index.sqlite3.corrupt-*")), "the bad index is kept aside"
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "moved aside" in lines[0] and "removed 2" in lines[0], lines
    again.put(A, b"m", [b"x"])  # and it works as a cache again, across a restart
    again.close()
    assert AssetCache(tmp_path, 10_000).get(A).files == [b"x"]


def test_empty_index_says_it_removed_the_blobs(tmp_path, caplog):
    cache = AssetCache(tmp_path, 10_000)
    cache.put(A, b"m", [b"x"])
    cache.close()
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"index.sqlite3{suffix}").unlink(missing_ok=True)
    (tmp_path / "index.sqlite3").write_bytes(b"")
    with caplog.at_level("WARNING", logger="server.cache"):
        again = AssetCache(tmp_path, 10_000)
    assert len(again) == 0 and _blob_dirs(tmp_path) == []
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "empty" in lines[0] and "removed 1" in lines[0], lines
