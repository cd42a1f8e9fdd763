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
