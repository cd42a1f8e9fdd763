"""Reliability: fuzzed request bytes across every rpc never give UNKNOWN or INTERNAL and leave
the server SERVING; kill -9 during a burst of cache misses leaves only verifiable assets.

Bounded for `make test` (well under two minutes on the 2-core reference machine).
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
from conftest import start_server
from grpc_health.v1 import health_pb2, health_pb2_grpc
from test_server_auth import _procedural
from vitrine.v1 import assets_pb2 as pb

FAST = pb.Options(max_triangles=500, lod_count=1, texture_size=64, resolution=32)
SERVICE = "/vitrine.v1.AssetService/"
FUZZ_REQUESTS = 2000
# Statuses a request may get for bytes it chose; UNKNOWN and INTERNAL mean the server could
# not name what went wrong.
NAMED = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
         grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.DEADLINE_EXCEEDED,
         grpc.StatusCode.OUT_OF_RANGE, grpc.StatusCode.FAILED_PRECONDITION}


class ServeProcess:
    """`vitrine serve` in a subprocess (procedural model only), logging to a file."""

    def __init__(self, tmp: Path, data_dir: Path, *extra: str):
        tmp.mkdir(parents=True, exist_ok=True)
        self.port_file = tmp / "port"
        self.port_file.unlink(missing_ok=True)
        self.log = tmp / "serve.log"
        self._log_fh = open(self.log, "a")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vitrine.cli", "serve", "--address", "127.0.0.1:0",
             "--models", "procedural", "--data-dir", str(data_dir), "--port-file",
             str(self.port_file), *extra],
            stdout=self._log_fh, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while not (self.port_file.exists() and self.port_file.read_text().strip().isdigit()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"server did not start: {self.log.read_text()[-3000:]}")
            time.sleep(0.05)
        self.address = f"127.0.0.1:{self.port_file.read_text().strip()}"

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self._log_fh.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log_fh.close()


# ---------------------------------------------------------------------------- fuzz


def _seeds() -> dict[str, list[bytes]]:
    """Valid serialized requests per rpc, to mutate."""
    gen = [pb.GenerateRequest(model="procedural", category=c, seed=s, options=FAST)
           for c, s in (("chair", 1), ("vase", 2), ("table", 3), ("lamp", 4))]
    gen.append(pb.GenerateRequest(model="procedural", category="chair", seed=5,
                                  options=pb.Options(pivot=pb.PIVOT_CENTER, max_triangles=800,
                                                     resolution=32, lod_count=1)))
    return {
        "ListModels": [pb.ListModelsRequest().SerializeToString()],
        "Generate": [g.SerializeToString() for g in gen],
        "GenerateBatch": [pb.GenerateBatchRequest(requests=gen[:3]).SerializeToString(),
                          pb.GenerateBatchRequest(requests=gen[3:]).SerializeToString()],
        "Fetch": [pb.FetchRequest(asset_id="0123456789abcdef" * 2).SerializeToString(),
                  pb.FetchRequest(asset_id="ab" * 16, file_index=1, offset=7).SerializeToString()],
    }


def _mutate(rng: random.Random, data: bytes) -> bytes:
    kind = rng.randrange(6)
    buf = bytearray(data)
    if kind == 0 or not buf:  # random bytes of a random length
        return rng.randbytes(rng.choice((0, 1, 2, 5, 17, 64, 300, 2000)))
    if kind == 1:  # bit flips
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
        return bytes(buf)
    if kind == 2:  # truncation
        return bytes(buf[:rng.randrange(len(buf))])
    if kind == 3:  # random bytes overwritten or inserted
        i = rng.randrange(len(buf))
        chunk = rng.randbytes(rng.randint(1, 16))
        return bytes(buf[:i] + chunk + buf[i + (len(chunk) if rng.random() < 0.5 else 0):])
    if kind == 4:  # a varint length blown up
        i = rng.randrange(len(buf))
        return bytes(buf[:i] + bytes([0xFF] * rng.randint(1, 10)) + buf[i:])
    return bytes(buf + buf[: rng.randrange(len(buf) + 1)])  # a field repeated


def test_fuzzed_bytes_across_every_rpc_get_named_statuses(tmp_path):
    # No per-client rate or concurrency limit here: every fuzzed request reaches the parsers.
    server = start_server(tmp_path, _procedural(), workers=2, max_queue=8, client_rate=0,
                          client_concurrency=1000)
    rng = random.Random(20)
    seeds = _seeds()
    rpcs = list(seeds)
    codes: collections.Counter = collections.Counter()
    bad: list[str] = []

    async def one(channel, sem, rpc: str, data: bytes):
        if rpc == "ListModels":
            call = channel.unary_unary(SERVICE + rpc, request_serializer=None,
                                       response_deserializer=None)
        else:
            call = channel.unary_stream(SERVICE + rpc, request_serializer=None,
                                        response_deserializer=None)
        async with sem:
            try:
                if rpc == "ListModels":
                    await call(data, timeout=5)
                else:
                    async for _ in call(data, timeout=3):
                        pass
                code = grpc.StatusCode.OK
            except grpc.aio.AioRpcError as err:
                code = err.code()
                if code not in NAMED:
                    bad.append(f"{rpc} {data[:40].hex()}: {code.name}: {err.details()}")
        codes[code.name] += 1

    async def main():
        sem = asyncio.Semaphore(24)
        async with grpc.aio.insecure_channel(server.address) as channel:
            jobs = []
            for i in range(FUZZ_REQUESTS):
                rpc = rpcs[i % len(rpcs)]
                data = _mutate(rng, rng.choice(seeds[rpc]))
                jobs.append(one(channel, sem, rpc, data))
            await asyncio.gather(*jobs)
            health = health_pb2_grpc.HealthStub(channel)
            return (await health.Check(health_pb2.HealthCheckRequest(), timeout=10)).status

    try:
        t0 = time.perf_counter()
        status = asyncio.run(main())
        print(f"\n{sum(codes.values())} fuzzed requests in {time.perf_counter() - t0:.1f} s: "
              f"{dict(codes)}")
        assert sum(codes.values()) == FUZZ_REQUESTS
        assert not bad, bad[:10]
        assert codes["UNKNOWN"] == 0 and codes["INTERNAL"] == 0
        assert codes["INVALID_ARGUMENT"] > 100  # the fuzz reached the parsers and validation
        assert status == health_pb2.HealthCheckResponse.SERVING
        # and it still serves
        from vitrine import Client

        with Client(server.address, timeout=60) as client:
            assert client.generate("procedural", "chair", seed=77, max_triangles=500,
                                   resolution=32, lod_count=1).files
    finally:
        server.stop()


# ---------------------------------------------------------------------------- kill -9


def _verify_store(data_dir: Path) -> int:
    """Every asset the index lists has every blob, with the sizes and sha256 it records;
    returns how many there are."""
    db = sqlite3.connect(f"file:{data_dir / 'index.sqlite3'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT asset_id, sha256, sizes FROM assets").fetchall()
    finally:
        db.close()
    for aid, shas, sizes in rows:
        folder = data_dir / "blobs" / aid[:2] / aid
        for i, (sha, size) in enumerate(zip(shas.split(","), sizes.split(","))):
            data = (folder / str(i)).read_bytes()
            assert len(data) == int(size), f"{aid} file {i}: {len(data)} of {size} bytes"
            assert hashlib.sha256(data).hexdigest() == sha, f"{aid} file {i}: sha256 differs"
    return len(rows)


def test_kill_9_during_a_burst_of_misses_leaves_only_whole_assets(tmp_path):
    from vitrine import Client, VitrineError

    data = tmp_path / "data"
    server = ServeProcess(tmp_path / "run1", data, "--workers", "2")
    done: list[str] = []
    stop = threading.Event()
    seeds = iter(range(1000, 100_000))
    lock = threading.Lock()

    def burst():
        with Client(server.address, timeout=60, retries=0) as client:
            while not stop.is_set():
                with lock:
                    seed = next(seeds)
                try:
                    asset = client.generate("procedural", "vase", seed=seed, max_triangles=3000,
                                            resolution=48, lod_count=2)
                except VitrineError:
                    continue  # refused (queue full) or the server went away
                with lock:
                    done.append(asset.asset_id)

    threads = [threading.Thread(target=burst, daemon=True) for _ in range(8)]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    while len(done) < 6 and time.monotonic() - t0 < 60:
        time.sleep(0.05)
    server.kill()  # mid-burst: generations and writes in flight
    stop.set()
    for t in threads:
        t.join(30)
    assert len(done) >= 6, server.log.read_text()[-2000:]
    stored = _verify_store(data)
    assert stored >= 1

    server = ServeProcess(tmp_path / "run2", data, "--workers", "2")
    try:
        with Client(server.address, timeout=60) as client:
            for aid in done:  # each completed asset comes back whole (stored or regenerated)
                asset = client.fetch(aid)  # the client checks every size and sha256
                assert asset.asset_id == aid
            health = health_pb2_grpc.HealthStub(client.channel)
            assert health.Check(health_pb2.HealthCheckRequest(), timeout=10).status == \
                health_pb2.HealthCheckResponse.SERVING
    finally:
        server.stop()
    assert _verify_store(data) >= stored
    leftovers = [p for p in (data / "blobs").glob("*/.*")]
    assert not leftovers, leftovers
    print(f"\nkill -9 after {len(done)} assets: {stored} stored assets verified, every "
          f"completed asset fetched whole after the restart")
