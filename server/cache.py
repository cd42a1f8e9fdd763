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
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
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


class AssetCache:
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
        check_id(asset_id)
        if sha256s is None:
            sha256s = [hashlib.sha256(f).hexdigest() for f in files]
        total = sum(len(f) for f in files)
        if total > self.max_bytes:
            log.warning("cache: asset %s (%d bytes) is larger than the whole cache (%d); "
                        "not stored", asset_id, total, self.max_bytes)
            return
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

    def drop_memory(self) -> None:
        """Forget the in-memory copies (the next read of each asset goes to disk)."""
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
        old = self._hot.pop(asset_id, None)
        if old is not None:
            self._hot_bytes -= sum(len(f) for f in old.files)
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
