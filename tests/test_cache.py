"""The cache backends: AssetCache (embedded SQLite + blobs) and ObjectCache (a shared object
store: a directory here, the layout an S3 store takes): intact round trips, damage detection,
LRU eviction, persistence, requests, and several processes' caches over one store."""

import json
import os
import threading
import time

import pytest

from server.cache import AssetCache, Cache, DirectoryStore, ObjectCache, ObjectStore

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


# ---------------------------------------------------------------------------- ObjectCache


class MemoryStore(ObjectStore):
    """An object store as S3 is one: whole objects, write times only (no touch)."""

    def __init__(self):
        self.objects: dict[str, tuple[bytes, float]] = {}
        self.lock = threading.Lock()

    def read(self, key):
        with self.lock:
            got = self.objects.get(key)
        return None if got is None else got[0]

    def write(self, key, data):
        with self.lock:
            self.objects[key] = (bytes(data), time.time())

    def exists(self, key):
        return key in self.objects

    def delete(self, keys):
        with self.lock:
            for key in keys:
                self.objects.pop(key, None)

    def list(self, prefix):
        with self.lock:
            items = [(k, len(v), t) for k, (v, t) in self.objects.items() if k.startswith(prefix)]
        yield from items


def _dir_cache(root, max_bytes=10_000, **kw):
    kw.setdefault("scan_interval_s", 0)  # keep the cap after every put
    return ObjectCache(DirectoryStore(root), max_bytes, **kw)


def test_both_backends_are_caches(tmp_path):
    assert isinstance(AssetCache(tmp_path / "a", 100), Cache)
    assert isinstance(_dir_cache(tmp_path / "b"), Cache)


def test_object_cache_is_shared_by_instances_over_one_directory(tmp_path):
    one, two = _dir_cache(tmp_path), _dir_cache(tmp_path)  # two replicas, one folder
    one.put(A, b"meta", [b"one", b"two" * 10])
    got = two.get(A)
    assert got.meta == b"meta" and got.files == [b"one", b"two" * 10]
    assert two.contains(A) and len(two) == 1 and two.total_bytes() == 33
    one.remember_request(A, "procedural", b'{"seed":1}')
    assert two.lookup_request(A) == ("procedural", b'{"seed":1}')
    assert two.delete(A) and not two.contains(A) and len(one) == 0
    assert one.get(A) is not None  # one's verified memory copy: equal ids are equal bytes
    one.drop_memory()
    assert one.get(A) is None and not one.contains(A)
    # The layout an object store takes: blobs, then the manifest that commits them.
    one.put(B, b"m", [b"x"])
    keys = sorted(k for k, _, _ in one.store.list(""))
    assert keys == [f"assets/bb/{B}/0", f"assets/bb/{B}/manifest.json",
                    f"requests/aa/{A}.json"], keys


def test_object_cache_drops_damaged_blobs_and_manifests(tmp_path):
    cache = _dir_cache(tmp_path, memory_bytes=0)  # every read goes to the store
    cache.put(A, b"m", [b"x" * 100, b"y" * 100])
    (tmp_path / "assets" / "aa" / A / "1").write_bytes(b"z" * 100)
    assert cache.get(A) is None and not cache.contains(A) and cache.stats.corrupt == 1
    assert not (tmp_path / "assets" / "aa" / A).exists()
    cache.put(B, b"m", [b"q"])
    (tmp_path / "assets" / "bb" / B / "0").unlink()
    assert cache.get(B) is None and cache.stats.corrupt == 2
    for bad in (b"not json", json.dumps({"meta": "!!", "sha256": [], "sizes": []}).encode(),
                json.dumps({"meta": "", "sha256": ["0" * 64], "sizes": [1, 2]}).encode()):
        cache.put(C, b"m", [b"c"])
        (tmp_path / "assets" / "cc" / C / "manifest.json").write_bytes(bad)
        assert cache.get(C) is None and not cache.contains(C)
    assert cache.stats.corrupt == 5


def test_object_cache_memory_copies_are_the_verified_originals(tmp_path):
    cache = _dir_cache(tmp_path, memory_bytes=1_000)
    cache.put(A, b"m", [b"x" * 100])
    (tmp_path / "assets" / "aa" / A / "0").write_bytes(b"z" * 100)
    assert cache.get(A).files == [b"x" * 100]
    cache.drop_memory()
    assert cache.get(A) is None and cache.stats.corrupt == 1


def test_object_cache_evicts_least_recently_used(tmp_path):
    cache = _dir_cache(tmp_path, 250, memory_bytes=0, touch_interval_s=0)
    cache.put(A, b"m", [b"a" * 100])
    cache.put(B, b"m", [b"b" * 100])
    manifest = tmp_path / "assets" / "aa" / A / "manifest.json"
    os.utime(tmp_path / "assets" / "bb" / B / "manifest.json", (1, 1_000))  # B used long ago
    os.utime(manifest, (1, 500))  # and A before it ...
    assert cache.get(A) is not None  # ... until now: a read records the use
    assert manifest.stat().st_mtime > 1_000
    cache.put(C, b"m", [b"c" * 100])
    assert cache.contains(A) and cache.contains(C) and not cache.contains(B)
    assert cache.stats.evictions == 1 and cache.total_bytes() == 200
    assert not (tmp_path / "assets" / "bb").exists() or not any(
        (tmp_path / "assets" / "bb").iterdir())


def test_object_cache_over_a_store_without_touch_evicts_oldest_writes(tmp_path):
    store = MemoryStore()
    cache = ObjectCache(store, 250, memory_bytes=0, scan_interval_s=0)
    for aid in (A, B):
        cache.put(aid, b"m", [aid.encode() * 3])  # 96 bytes each
        time.sleep(0.002)
    cache.put(C, b"m", [b"c" * 100])
    assert not cache.contains(A) and cache.contains(B) and cache.contains(C)
    assert cache.get(B).files == [B.encode() * 3]
    assert ObjectCache(store, 250).get(C).files == [b"c" * 100]  # another replica's view


def test_object_cache_refuses_assets_over_the_cap_and_bad_ids(tmp_path):
    cache = _dir_cache(tmp_path, 50)
    cache.put(A, b"m", [b"a" * 100])
    assert not cache.contains(A) and len(cache) == 0
    for bad in ("", "../../etc", "A" * 32, "a" * 65):
        with pytest.raises(ValueError, match="hex"):
            cache.get(bad)
    with pytest.raises(ValueError, match="key"):
        DirectoryStore(tmp_path).read("../outside")


def test_object_cache_sweeps_unfinished_writes_and_forgets_surplus_requests(tmp_path):
    orphan = tmp_path / "assets" / "dd" / ("d" * 32)
    orphan.mkdir(parents=True)
    (orphan / "0").write_bytes(b"half")  # blobs whose manifest never came
    tmp = tmp_path / "assets" / "dd" / ".0.tmp-1-2"
    tmp.write_bytes(b"torn")
    young = tmp_path / "assets" / "ee" / ("e" * 32)
    young.mkdir(parents=True)
    (young / "0").write_bytes(b"being written")  # a live writer's: left alone
    for path in (orphan / "0", tmp):
        os.utime(path, (1, 1))
    cache = _dir_cache(tmp_path, 1_000, max_requests=2)
    assert not orphan.exists() and not tmp.exists() and (young / "0").exists()
    for i, aid in enumerate((A, B, C)):
        cache.remember_request(aid, "procedural", str(i).encode())
        time.sleep(0.002)
    cache.put("f" * 32, b"m", [b"f"])  # the scan after a put keeps max_requests
    assert cache.lookup_request(A) is None and cache.lookup_request(C) == ("procedural", b"2")


def test_object_cache_concurrent_puts_of_one_asset_from_two_caches(tmp_path):
    one, two = _dir_cache(tmp_path), _dir_cache(tmp_path)
    files = [bytes([i]) * 2_000 for i in range(3)]
    threads = [threading.Thread(target=c.put, args=(A, b"m", files)) for c in (one, two) * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    fresh = _dir_cache(tmp_path, memory_bytes=0)
    assert fresh.get(A).files == files and fresh.stats.corrupt == 0
    assert not [p for p in tmp_path.rglob(".*")], "no temporaries left"
