"""On-disk asset cache: an SQLite index (WAL) and one blob file per asset file.

Layout under `data_dir`: ``index.sqlite3`` and ``blobs/<id[:2]>/<id>/<file index>``.

* `put` writes every blob to a temporary name, fsyncs, renames, then commits the index row, so
  a crash leaves either the whole asset or nothing (leftover temporaries are swept on open).
* The index is a cache too: one that is not a database or is malformed is moved aside
  (``index.sqlite3.corrupt-<time>``) and a fresh one started. Blobs with no index row cannot
  be served (the row holds the header), so they are removed on open, in one log line that says
  how many and why (an empty, missing or replaced index).
* `get` checks each blob's sha256 against the index; a damaged or missing blob is logged,
  the entry dropped, and `None` returned, so the caller regenerates instead of serving it.
* Size is capped at `max_bytes`; least recently used assets are evicted first.
* The most recently used assets (up to `memory_bytes`) are also kept in memory as they were
  verified when read or written, so a hot asset costs no disk read and no hashing.
* `remember_request` keeps the canonical request behind every asset id (a few hundred bytes,
  not counted against the byte cap) so an evicted asset can be regenerated on `Fetch`.

Backends. `Cache` is the interface the service and the HTTP face use (get, contains, put,
delete, remember_request, lookup_request, total_bytes, len, close, drop_memory, stats). Two
implement it:

* `AssetCache`: the embedded default described above (one process owns the SQLite index).
* `ObjectCache` over an `ObjectStore`: keys and whole-object reads and writes, nothing else,
  which is what several processes on several machines can share. The shipped store is
  `DirectoryStore` (a directory: local for replicas on one node, NFS/EFS/Filestore for a
  cluster); an S3/GCS store implements the same five methods (get_object, put_object,
  delete_objects, list_objects_v2, head_object), see docs/ray.md. Ray Serve replicas use it.
"""

from __future__ import annotations

import abc
import base64
import binascii
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_HEX = frozenset("0123456789abcdef")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS assets (
    asset_id TEXT PRIMARY KEY,
    meta BLOB NOT NULL,
    sha256 TEXT NOT NULL,      -- comma-separated, one per file
    sizes TEXT NOT NULL,       -- comma-separated, one per file
    total_bytes INTEGER NOT NULL,
    last_used REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS assets_lru ON assets (last_used);
CREATE TABLE IF NOT EXISTS requests (
    asset_id TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    canonical BLOB NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS requests_age ON requests (created);
"""


@dataclass
class CachedAsset:
    meta: bytes  # the serialized header as stored (no timings)
    files: list[bytes]


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    corrupt: int = 0


def check_id(asset_id: str) -> str:
    if not (16 <= len(asset_id) <= 64 and set(asset_id) <= _HEX):
        raise ValueError(f"asset id must be 16-64 lowercase hex characters, got {asset_id!r}")
    return asset_id


def _entries(shas: object, sizes: object) -> list[tuple[str, int]] | None:
    """(sha256, size) per file from an index row's columns; None when they are damaged (not
    text, not one sha256 per size, a size that is not a number)."""
    if not isinstance(shas, str) or not isinstance(sizes, str):
        return None
    sha_list, size_list = shas.split(","), sizes.split(",")
    if len(sha_list) != len(size_list) or not all(
            len(h) == 64 and set(h) <= _HEX for h in sha_list):
        return None
    try:
        return [(h, int(n)) for h, n in zip(sha_list, size_list)]
    except ValueError:
        return None


class Cache(abc.ABC):
    """A content-addressed store of assets (header + files), verified on every read.

    Subclasses keep `stats`, and the verified in-memory copies of recently used assets in
    `_hot` (bounded by `memory_bytes`, guarded by `_lock`)."""

    stats: CacheStats
    memory_bytes: int
    max_bytes: int
    _lock: threading.Lock
    _hot: OrderedDict[str, CachedAsset]
    _hot_bytes: int

    @abc.abstractmethod
    def get(self, asset_id: str) -> CachedAsset | None:
        """The asset if it is stored and every blob is intact; else None (damage is dropped)."""

    @abc.abstractmethod
    def contains(self, asset_id: str) -> bool:
        """Whether the asset is stored (its blobs are not read)."""

    @abc.abstractmethod
    def put(self, asset_id: str, meta: bytes, files: Sequence[bytes],
            sha256s: Sequence[str] | None = None) -> None:
        """Store an asset so that a reader sees all of it or none, then keep under the cap."""

    @abc.abstractmethod
    def delete(self, asset_id: str) -> bool:
        """Drop the asset; whether it was stored."""

    @abc.abstractmethod
    def remember_request(self, asset_id: str, model: str, canonical: bytes) -> None:
        """Keep the request behind `asset_id` so the asset can be regenerated after eviction."""

    @abc.abstractmethod
    def lookup_request(self, asset_id: str) -> tuple[str, bytes] | None:
        """(model name, canonical request) behind `asset_id`, or None if never seen."""

    @abc.abstractmethod
    def total_bytes(self) -> int:
        """Bytes of the stored assets' files."""

    @abc.abstractmethod
    def __len__(self) -> int:
        """Number of stored assets."""

    @abc.abstractmethod
    def close(self) -> None:
        """Flush what is pending and release the backend."""

    def _admit(self, asset_id: str, files: Sequence[bytes],
               sha256s: Sequence[str] | None) -> Sequence[str] | None:
        """`put`'s checks: the id, the files' digests (computed when not given), and None
        (logged, nothing stored) when the asset is larger than the whole cache."""
        check_id(asset_id)
        if sha256s is None:
            sha256s = [hashlib.sha256(f).hexdigest() for f in files]
        total = sum(len(f) for f in files)
        if total > self.max_bytes:
            log.warning("cache: asset %s (%d bytes) is larger than the whole cache (%d); "
                        "not stored", asset_id, total, self.max_bytes)
            return None
        return sha256s

    def drop_memory(self) -> None:
        """Forget the in-memory copies (the next read of each asset goes to the backend)."""
        with self._lock:
            self._hot.clear()
            self._hot_bytes = 0

    def _remember_hot_locked(self, asset_id: str, asset: CachedAsset) -> None:
        size = sum(len(f) for f in asset.files)
        if size > self.memory_bytes // 4:
            return
        old = self._hot.pop(asset_id, None)
        if old is not None:
            self._hot_bytes -= sum(len(f) for f in old.files)
        self._hot[asset_id] = asset
        self._hot_bytes += size
        while self._hot_bytes > self.memory_bytes:
            _, gone = self._hot.popitem(last=False)
            self._hot_bytes -= sum(len(f) for f in gone.files)

    def _forget_hot_locked(self, asset_id: str) -> None:
        old = self._hot.pop(asset_id, None)
        if old is not None:
            self._hot_bytes -= sum(len(f) for f in old.files)


class AssetCache(Cache):
    """The embedded backend: an SQLite index and blob files in one process's data dir."""

    def __init__(self, data_dir: Path | str, max_bytes: int, max_requests: int = 200_000,
                 memory_bytes: int = 256 * 2**20):
        if max_bytes <= 0:
            raise ValueError(f"cache max_bytes must be positive, got {max_bytes}")
        self.dir = Path(data_dir)
        self.blobs = self.dir / "blobs"
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.max_bytes = int(max_bytes)
        self.max_requests = int(max_requests)
        self.stats = CacheStats()
        self.memory_bytes = int(memory_bytes)
        self._hot: OrderedDict[str, CachedAsset] = OrderedDict()  # verified copies, LRU order
        self._hot_bytes = 0
        self._touched: dict[str, float] = {}  # last_used updates not yet written to the index
        self._lock = threading.Lock()
        self.index_path = self.dir / "index.sqlite3"
        why = None  # why the index describes no blob that is on disk, when it cannot
        try:
            if self.index_path.stat().st_size == 0:
                why = "was empty (0 bytes)"
        except FileNotFoundError:
            why = "was missing"
        try:
            self._db = self._open_index()
        except sqlite3.OperationalError as err:  # locked, no permission: not ours to replace
            raise OSError(f"cannot open the cache index {self.index_path}: {err}") from err
        except sqlite3.DatabaseError as err:  # not a database, or malformed: it is a cache
            aside = self._move_index_aside()
            why = f"was unreadable ({err}); moved aside to {aside.name}"
            self._db = self._open_index()
        self._sweep(why)

    # ------------------------------------------------------------------ public

    def get(self, asset_id: str) -> CachedAsset | None:
        """The asset if it is stored and every blob is intact; else None (damage is dropped)."""
        check_id(asset_id)
        with self._lock:
            hot = self._hot.get(asset_id)
            if hot is not None:
                self._hot.move_to_end(asset_id)
                self._touch_locked(asset_id)
                self.stats.hits += 1
                return hot
            row = self._db.execute("SELECT meta, sha256, sizes FROM assets WHERE asset_id=?",
                                   (asset_id,)).fetchone()
            if row is None:
                self.stats.misses += 1
                return None
            meta, shas, sizes = row
            entries = _entries(shas, sizes)
            if entries is None or not isinstance(meta, bytes):
                log.warning("cache: asset %s has a damaged index row (header, sha256 or sizes "
                            "columns); dropping it so it is regenerated", asset_id)
                self.stats.corrupt += 1
                self.stats.misses += 1
                self._delete_locked(asset_id)
                return None
            files = []
            for i, (sha, size) in enumerate(entries):
                path = self._blob_dir(asset_id) / str(i)
                try:
                    data = path.read_bytes()
                except OSError:
                    data = None
                if data is None or len(data) != size or \
                        hashlib.sha256(data).hexdigest() != sha:
                    log.warning("cache: asset %s file %d is missing or damaged; dropping it so "
                                "it is regenerated", asset_id, i)
                    self.stats.corrupt += 1
                    self.stats.misses += 1
                    self._delete_locked(asset_id)
                    return None
                files.append(data)
            self._touch_locked(asset_id)
            self.stats.hits += 1
            got = CachedAsset(bytes(meta), files)
            self._remember_hot_locked(asset_id, got)
            return got

    def contains(self, asset_id: str) -> bool:
        check_id(asset_id)
        with self._lock:
            return self._db.execute("SELECT 1 FROM assets WHERE asset_id=?",
                                    (asset_id,)).fetchone() is not None

    def put(self, asset_id: str, meta: bytes, files: Sequence[bytes],
            sha256s: Sequence[str] | None = None) -> None:
        """Store an asset atomically, then evict least recently used assets over the cap.
        `sha256s`: the files' digests when the caller has them already (the pipeline does)."""
        sha256s = self._admit(asset_id, files, sha256s)
        if sha256s is None:
            return
        total = sum(len(f) for f in files)
        final = self._blob_dir(asset_id)
        tmp = final.with_name(f".{asset_id}.tmp-{os.getpid()}-{threading.get_ident()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            for i, data in enumerate(files):
                with open(tmp / str(i), "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
            with self._lock:
                shutil.rmtree(final, ignore_errors=True)
                os.replace(tmp, final)
                self._db.execute(
                    "INSERT OR REPLACE INTO assets VALUES (?, ?, ?, ?, ?, ?)",
                    (asset_id, bytes(meta),
                     ",".join(sha256s),
                     ",".join(str(len(f)) for f in files), total, time.time()))
                self._remember_hot_locked(asset_id, CachedAsset(bytes(meta), list(files)))
                self._evict_locked(keep=asset_id)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def delete(self, asset_id: str) -> bool:
        check_id(asset_id)
        with self._lock:
            return self._delete_locked(asset_id)

    def remember_request(self, asset_id: str, model: str, canonical: bytes) -> None:
        """Keep the request behind `asset_id` so the asset can be regenerated after eviction."""
        check_id(asset_id)
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO requests VALUES (?, ?, ?, ?)",
                             (asset_id, model, bytes(canonical), time.time()))
            n = self._db.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
            if n > self.max_requests:
                self._db.execute(
                    "DELETE FROM requests WHERE asset_id IN (SELECT asset_id FROM requests "
                    "ORDER BY created LIMIT ?)", (n - self.max_requests,))

    def lookup_request(self, asset_id: str) -> tuple[str, bytes] | None:
        """(model name, canonical request) behind `asset_id`, or None if never seen."""
        check_id(asset_id)
        with self._lock:
            row = self._db.execute("SELECT model, canonical FROM requests WHERE asset_id=?",
                                   (asset_id,)).fetchone()
        return None if row is None else (row[0], bytes(row[1]))

    def total_bytes(self) -> int:
        with self._lock:
            return int(self._db.execute(
                "SELECT COALESCE(SUM(total_bytes), 0) FROM assets").fetchone()[0])

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM assets").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._flush_touches_locked()
            self._db.close()

    # ------------------------------------------------------------------ internals

    def _blob_dir(self, asset_id: str) -> Path:
        return self.blobs / asset_id[:2] / asset_id

    def _touch_locked(self, asset_id: str) -> None:
        self._touched[asset_id] = time.time()
        if len(self._touched) >= 64:
            self._flush_touches_locked()

    def _flush_touches_locked(self) -> None:
        if self._touched:
            self._db.executemany("UPDATE assets SET last_used=? WHERE asset_id=?",
                                 [(t, a) for a, t in self._touched.items()])
            self._touched.clear()

    def _delete_locked(self, asset_id: str) -> bool:
        self._forget_hot_locked(asset_id)
        self._touched.pop(asset_id, None)
        cur = self._db.execute("DELETE FROM assets WHERE asset_id=?", (asset_id,))
        shutil.rmtree(self._blob_dir(asset_id), ignore_errors=True)
        return cur.rowcount > 0

    def _evict_locked(self, keep: str) -> None:
        self._flush_touches_locked()
        total = self._db.execute("SELECT COALESCE(SUM(total_bytes), 0) FROM assets").fetchone()[0]
        if total <= self.max_bytes:
            return
        rows = self._db.execute(
            "SELECT asset_id, total_bytes FROM assets WHERE asset_id != ? ORDER BY last_used",
            (keep,)).fetchall()
        for aid, size in rows:
            if total <= self.max_bytes:
                break
            self._delete_locked(aid)
            total -= size
            self.stats.evictions += 1
            log.info("cache: evicted %s (%d bytes) to stay under %d bytes", aid, size,
                     self.max_bytes)

    def _open_index(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.index_path, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            db.execute("SELECT COUNT(*) FROM assets").fetchone()
            db.execute("SELECT COUNT(*) FROM requests").fetchone()
        except BaseException:
            db.close()
            raise
        return db

    def _move_index_aside(self) -> Path:
        """Rename the index (and its WAL files) to ``index.sqlite3.corrupt-<time>``."""
        aside = self.index_path.with_name(f"{self.index_path.name}.corrupt-{int(time.time())}")
        for suffix in ("", "-wal", "-shm"):
            src = Path(f"{self.index_path}{suffix}")
            if src.exists():
                os.replace(src, f"{aside}{suffix}")
        return aside

    def _sweep(self, why: str | None = None) -> None:
        """Remove temporaries of interrupted writes and blob folders with no index row. An
        index row holds the asset's header, which the blobs alone cannot give back, so blobs
        the index does not describe cannot be verified or served: they are removed, saying so
        (with `why` the index describes none of them, when it was empty, missing or corrupt)."""
        known = {r[0] for r in self._db.execute("SELECT asset_id FROM assets")}
        temporaries = orphans = 0
        for shard in self.blobs.iterdir():
            if not shard.is_dir():
                continue
            for entry in shard.iterdir():
                if entry.name.startswith("."):
                    shutil.rmtree(entry, ignore_errors=True)
                    temporaries += 1
                elif entry.name not in known:
                    shutil.rmtree(entry, ignore_errors=True)
                    orphans += 1
        # Index rows whose blobs vanished are found (and dropped) lazily by `get`.
        if why is not None and (orphans or "moved aside" in why):
            log.warning("cache: the index %s %s; started a fresh index and removed %d stored "
                        "assets it no longer describes (kept %d); they are regenerated on "
                        "request", self.index_path, why, orphans, len(known))
        elif orphans or temporaries:
            log.info("cache: removed %d leftover blob folders from an earlier run (%d "
                     "unfinished writes, %d with no index row)", orphans + temporaries,
                     temporaries, orphans)
        with self._lock:
            self._evict_locked(keep="")


# ---------------------------------------------------------------------------- shared backend


class ObjectStore(abc.ABC):
    """Whole objects under '/'-separated text keys: what S3, GCS and a shared directory all
    offer. A write is atomic (a reader sees the old object, the new one or none, never part);
    nothing spans two objects, so `ObjectCache` writes an asset's manifest last as its commit."""

    @abc.abstractmethod
    def read(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is none (S3: GetObject, NoSuchKey)."""

    @abc.abstractmethod
    def write(self, key: str, data: bytes) -> None:
        """Create or replace the object atomically (S3: PutObject)."""

    @abc.abstractmethod
    def exists(self, key: str) -> bool:
        """Whether the object is there, without reading it (S3: HeadObject)."""

    @abc.abstractmethod
    def delete(self, keys: Sequence[str]) -> None:
        """Remove the objects; missing ones are no error (S3: DeleteObjects)."""

    @abc.abstractmethod
    def list(self, prefix: str) -> Iterator[tuple[str, int, float]]:
        """(key, size, last-modified time) of every object under `prefix` (S3:
        ListObjectsV2 pages)."""

    def touch(self, key: str) -> None:
        """Mark the object used now, for LRU eviction. Object stores cannot (an S3 object's
        time is its write time): there eviction is by age of write, or a bucket lifecycle
        rule; a directory updates the file's mtime."""

    def describe(self) -> str:
        return type(self).__name__


class DirectoryStore(ObjectStore):
    """Objects as files under `root` (key 'a/b/c' -> root/a/b/c). Writes go to a temporary
    name in the same folder, are fsynced and renamed into place, which is atomic on local
    file systems and on NFS, so replicas on one node or on many (sharing the folder) can use
    one cache. Temporaries start with '.' and are never listed."""

    def __init__(self, root: Path | str):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if not parts or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
            raise ValueError(f"object key must be '/'-separated names, got {key!r}")
        return self.root.joinpath(*parts)

    def read(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
        for attempt in range(3):  # another process may remove an emptied folder meanwhile
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                with open(tmp, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
                return
            except FileNotFoundError:
                if attempt == 2:
                    raise
            finally:
                with _suppress_missing():
                    tmp.unlink()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, keys: Sequence[str]) -> None:
        parents = set()
        for key in keys:
            path = self._path(key)
            with _suppress_missing():
                path.unlink()
            parents.add(path.parent)
        for parent in parents:  # an asset's folder goes with its last file
            with _suppress_missing(OSError):
                parent.rmdir()

    def list(self, prefix: str) -> Iterator[tuple[str, int, float]]:
        base = self.root / prefix.rstrip("/") if prefix else self.root
        for folder, dirs, names in os.walk(base):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            rel = Path(folder).relative_to(self.root).as_posix()
            for name in names:
                if name.startswith("."):
                    continue
                try:
                    st = os.stat(os.path.join(folder, name))
                except FileNotFoundError:  # removed by another process while listing
                    continue
                yield (name if rel == "." else f"{rel}/{name}"), st.st_size, st.st_mtime

    def sweep_temporaries(self, older_than_s: float) -> int:
        """Remove temporaries of writes interrupted over `older_than_s` ago (a live writer's
        are younger); how many."""
        n, cutoff = 0, time.time() - older_than_s
        for folder, _, names in os.walk(self.root):
            for name in names:
                if name.startswith(".") and ".tmp-" in name:
                    path = os.path.join(folder, name)
                    with _suppress_missing():
                        if os.stat(path).st_mtime < cutoff:
                            os.unlink(path)
                            n += 1
        return n

    def touch(self, key: str) -> None:
        with _suppress_missing():
            os.utime(self._path(key))

    def describe(self) -> str:
        return f"directory {self.root}"


class _suppress_missing:
    """Ignore a file that another process removed first (or `errors`)."""

    def __init__(self, errors: type[BaseException] | tuple = (FileNotFoundError,
                                                              NotADirectoryError)):
        self.errors = errors

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb) -> bool:
        return kind is not None and issubclass(kind, self.errors)


class ObjectCache(Cache):
    """The shared backend: every replica reads and writes the same `ObjectStore`.

    Keys: ``assets/<id[:2]>/<id>/<file index>`` (the blobs, written first), then
    ``assets/<id[:2]>/<id>/manifest.json`` (header, sha256s and sizes: the commit; an asset
    is stored once its manifest is), and ``requests/<id[:2]>/<id>.json`` (the canonical
    request, for `Fetch` after eviction). Equal ids are equal bytes, so two replicas writing
    the same asset at once write the same objects; no lock is needed.

    Every blob is checked against the manifest's sha256 when read; damage is dropped and the
    caller regenerates. The cap is kept by a scan (list the assets, evict the least recently
    used manifests and their blobs) after a put, at most every `scan_interval_s` per process
    unless the bytes put since the last scan pass a twentieth of the cap; blobs with no
    manifest older than `orphan_age_s` (a writer that died) go in the same scan.
    """

    _ASSETS = "assets/"
    _REQUESTS = "requests/"

    def __init__(self, store: ObjectStore, max_bytes: int, max_requests: int = 200_000,
                 memory_bytes: int = 256 * 2**20, scan_interval_s: float = 30.0,
                 orphan_age_s: float = 3600.0, touch_interval_s: float = 60.0):
        if max_bytes <= 0:
            raise ValueError(f"cache max_bytes must be positive, got {max_bytes}")
        self.store = store
        self.max_bytes = int(max_bytes)
        self.max_requests = int(max_requests)
        self.memory_bytes = int(memory_bytes)
        self.scan_interval_s = float(scan_interval_s)  # 0 = scan after every put (tests)
        self.orphan_age_s = float(orphan_age_s)
        self.touch_interval_s = float(touch_interval_s)  # a hot asset's use is recorded this often
        self.stats = CacheStats()
        self._hot = OrderedDict()
        self._hot_bytes = 0
        self._lock = threading.Lock()
        self._touched: dict[str, float] = {}  # asset id -> when this process last touched it
        self._scan_lock = threading.Lock()  # one scan at a time in this process
        self._last_scan = 0.0
        self._put_since_scan = 0
        if isinstance(store, DirectoryStore):
            store.sweep_temporaries(self.orphan_age_s)
        self._scan(force=True)

    # ------------------------------------------------------------------ keys

    @classmethod
    def _asset_prefix(cls, asset_id: str) -> str:
        return f"{cls._ASSETS}{asset_id[:2]}/{asset_id}/"

    @classmethod
    def _manifest_key(cls, asset_id: str) -> str:
        return cls._asset_prefix(asset_id) + "manifest.json"

    @classmethod
    def _request_key(cls, asset_id: str) -> str:
        return f"{cls._REQUESTS}{asset_id[:2]}/{asset_id}.json"

    # ------------------------------------------------------------------ public

    def get(self, asset_id: str) -> CachedAsset | None:
        check_id(asset_id)
        with self._lock:
            hot = self._hot.get(asset_id)
            if hot is not None:
                self._hot.move_to_end(asset_id)
                self.stats.hits += 1
        if hot is not None:
            self._touch(asset_id)
            return hot
        raw = self.store.read(self._manifest_key(asset_id))
        if raw is None:
            with self._lock:
                self.stats.misses += 1
            return None
        manifest = _parse_manifest(raw)
        if manifest is None:
            log.warning("cache: asset %s has a damaged manifest in %s; dropping it so it is "
                        "regenerated", asset_id, self.store.describe())
            self._drop_damaged(asset_id)
            return None
        meta, entries = manifest
        files = []
        prefix = self._asset_prefix(asset_id)
        for i, (sha, size) in enumerate(entries):
            data = self.store.read(f"{prefix}{i}")
            if data is None or len(data) != size or hashlib.sha256(data).hexdigest() != sha:
                log.warning("cache: asset %s file %d is missing or damaged in %s; dropping it "
                            "so it is regenerated", asset_id, i, self.store.describe())
                self._drop_damaged(asset_id)
                return None
            files.append(data)
        got = CachedAsset(meta, files)
        with self._lock:
            self.stats.hits += 1
            self._remember_hot_locked(asset_id, got)
        self._touch(asset_id, force=True)
        return got

    def contains(self, asset_id: str) -> bool:
        check_id(asset_id)
        with self._lock:
            if asset_id in self._hot:
                return True
        return self.store.exists(self._manifest_key(asset_id))

    def put(self, asset_id: str, meta: bytes, files: Sequence[bytes],
            sha256s: Sequence[str] | None = None) -> None:
        sha256s = self._admit(asset_id, files, sha256s)
        if sha256s is None:
            return
        total = sum(len(f) for f in files)
        prefix = self._asset_prefix(asset_id)
        for i, data in enumerate(files):
            self.store.write(f"{prefix}{i}", data)
        manifest = {"meta": base64.b64encode(bytes(meta)).decode(), "sha256": list(sha256s),
                    "sizes": [len(f) for f in files]}
        self.store.write(self._manifest_key(asset_id), json.dumps(manifest).encode())
        with self._lock:
            self._remember_hot_locked(asset_id, CachedAsset(bytes(meta), list(files)))
            self._touched[asset_id] = time.time()
            self._put_since_scan += total
        self._scan(keep=asset_id)

    def delete(self, asset_id: str) -> bool:
        check_id(asset_id)
        with self._lock:
            self._forget_hot_locked(asset_id)
            self._touched.pop(asset_id, None)
        return self._delete_objects(asset_id)

    def remember_request(self, asset_id: str, model: str, canonical: bytes) -> None:
        check_id(asset_id)
        doc = {"model": model, "canonical": base64.b64encode(bytes(canonical)).decode()}
        self.store.write(self._request_key(asset_id), json.dumps(doc).encode())

    def lookup_request(self, asset_id: str) -> tuple[str, bytes] | None:
        check_id(asset_id)
        raw = self.store.read(self._request_key(asset_id))
        if raw is None:
            return None
        try:
            doc = json.loads(raw)
            return str(doc["model"]), base64.b64decode(doc["canonical"], validate=True)
        except (ValueError, KeyError, TypeError, binascii.Error):
            log.warning("cache: the remembered request of %s is damaged; forgetting it",
                        asset_id)
            self.store.delete([self._request_key(asset_id)])
            return None

    def total_bytes(self) -> int:
        return sum(a.size for a in self._assets().values() if a.manifest)

    def __len__(self) -> int:
        return sum(1 for a in self._assets().values() if a.manifest)

    def close(self) -> None:
        """Nothing is pending: every write went to the store when it was made."""

    # ------------------------------------------------------------------ internals

    def _drop_damaged(self, asset_id: str) -> None:
        with self._lock:
            self.stats.corrupt += 1
            self.stats.misses += 1
            self._forget_hot_locked(asset_id)
        self._delete_objects(asset_id)

    def _delete_objects(self, asset_id: str) -> bool:
        """Manifest first (the asset stops being stored at once), then its blobs."""
        prefix = self._asset_prefix(asset_id)
        manifest = self._manifest_key(asset_id)
        had = self.store.exists(manifest)
        self.store.delete([manifest])
        self.store.delete([key for key, _, _ in self.store.list(prefix)])
        return had

    def _touch(self, asset_id: str, force: bool = False) -> None:
        """Record a use in the store (the manifest's time), at most every touch_interval_s."""
        now = time.time()
        with self._lock:
            last = self._touched.get(asset_id, 0.0)
            if not force and now - last < self.touch_interval_s:
                return
            self._touched[asset_id] = now
            if len(self._touched) > 4 * 65536:  # bounded: forget the oldest half
                for aid in sorted(self._touched, key=self._touched.get)[:len(self._touched) // 2]:
                    del self._touched[aid]
        self.store.touch(self._manifest_key(asset_id))

    def _assets(self) -> dict[str, _Listed]:
        """Every asset folder in the store: its bytes, whether it has a manifest, its time."""
        out: dict[str, _Listed] = {}
        for key, size, mtime in self.store.list(self._ASSETS):
            parts = key.split("/")
            if len(parts) != 4:
                continue
            entry = out.setdefault(parts[2], _Listed())
            if parts[3] == "manifest.json":
                entry.manifest, entry.used = True, mtime
            else:
                entry.size += size
                entry.newest_blob = max(entry.newest_blob, mtime)
        return out

    def _scan(self, keep: str = "", force: bool = False) -> None:
        """Evict least recently used assets over the cap, orphans and surplus requests."""
        now = time.time()
        with self._lock:
            due = force or now - self._last_scan >= self.scan_interval_s or \
                self._put_since_scan * 20 >= self.max_bytes
        if not due or not self._scan_lock.acquire(blocking=False):
            return
        try:
            with self._lock:
                self._last_scan, self._put_since_scan = now, 0
            assets = self._assets()
            orphans = [aid for aid, a in assets.items() if not a.manifest and aid != keep
                       and now - a.newest_blob > self.orphan_age_s]
            for aid in orphans:
                self._delete_objects(aid)
            if orphans:
                log.info("cache: removed %d blob folders with no manifest (writes that never "
                         "finished) from %s", len(orphans), self.store.describe())
            stored = sorted(((a.used, aid, a.size) for aid, a in assets.items() if a.manifest),
                            reverse=True)
            total = sum(size for _, _, size in stored)
            while total > self.max_bytes and stored:
                _, aid, size = stored.pop()  # the least recently used
                if aid == keep:
                    continue
                with self._lock:
                    self._forget_hot_locked(aid)
                    self._touched.pop(aid, None)
                    self.stats.evictions += 1
                self._delete_objects(aid)
                total -= size
                log.info("cache: evicted %s (%d bytes) to stay under %d bytes", aid, size,
                         self.max_bytes)
            requests = sorted((mtime, key) for key, _, mtime in self.store.list(self._REQUESTS))
            if len(requests) > self.max_requests:
                self.store.delete([key for _, key in requests[:len(requests) -
                                                               self.max_requests]])
        finally:
            self._scan_lock.release()


@dataclass
class _Listed:
    size: int = 0
    manifest: bool = False
    used: float = 0.0  # the manifest's time: its last recorded use
    newest_blob: float = 0.0


def _parse_manifest(raw: bytes) -> tuple[bytes, list[tuple[str, int]]] | None:
    """(header bytes, [(sha256, size)]) from a manifest; None when it is damaged."""
    try:
        doc = json.loads(raw)
        meta = base64.b64decode(doc["meta"], validate=True)
        shas, sizes = doc["sha256"], doc["sizes"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None
    if not (isinstance(shas, list) and isinstance(sizes, list) and len(shas) == len(sizes)):
        return None
    if not all(isinstance(h, str) and len(h) == 64 and set(h) <= _HEX for h in shas) or \
            not all(isinstance(n, int) and n >= 0 for n in sizes):
        return None
    return meta, list(zip(shas, sizes))
