"""Dynamic batching (server/batching.py): grouping by delay and size, callers that leave, and
bytes identical to unbatched runs for the learned prop models over a real socket."""

from __future__ import annotations

import asyncio
import hashlib
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from conftest import start_server
from vitrine.v1 import assets_pb2 as pb
from vitrine.v1 import assets_pb2_grpc as pb_grpc

from generators.core.registry import load_models
from generators.pipeline import Pipeline
from server.batching import Batcher


class Recorder:
    """A run_batch that records its batches and answers each item with item * 10."""

    def __init__(self, delay: float = 0.0, fail: Exception | None = None):
        self.batches: list[list[int]] = []
        self.tokens = []
        self.delay, self.fail = delay, fail

    async def __call__(self, items, cancel):
        self.batches.append(list(items))
        self.tokens.append(cancel)
        await asyncio.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        return [i * 10 for i in items]


def run(coro):
    return asyncio.run(coro)


def test_items_within_the_delay_share_a_batch_and_a_full_batch_goes_at_once():
    async def main():
        rec = Recorder()
        b = Batcher(rec, max_delay_s=0.05, max_size=3)
        first = asyncio.gather(*(b.submit(i) for i in (1, 2)))
        await asyncio.sleep(0.01)
        assert rec.batches == []  # still waiting for company
        assert await first == [10, 20] and rec.batches == [[1, 2]]
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        assert await asyncio.gather(*(b.submit(i) for i in (3, 4, 5, 6))) == [30, 40, 50, 60]
        assert rec.batches[1:] == [[3, 4, 5], [6]]  # full at 3: flushed without the delay
        assert b.batches == 3 and b.items == 6
        assert loop.time() - t0 < 1.0

    run(main())


def test_a_zero_delay_batches_only_what_arrives_in_the_same_loop_turn():
    async def main():
        rec = Recorder()
        b = Batcher(rec, max_delay_s=0.0, max_size=8)
        assert await asyncio.gather(*(b.submit(i) for i in range(3))) == [0, 10, 20]
        assert await b.submit(7) == 70
        assert rec.batches == [[0, 1, 2], [7]]

    run(main())


def test_a_failure_reaches_every_caller_of_its_batch():
    async def main():
        b = Batcher(Recorder(fail=RuntimeError("model broke")), max_delay_s=0.01, max_size=8)
        out = await asyncio.gather(*(b.submit(i) for i in range(3)), return_exceptions=True)
        assert all(isinstance(e, RuntimeError) and "model broke" in str(e) for e in out)

    run(main())


def test_callers_that_leave_and_a_batch_nobody_waits_for():
    async def main():
        rec = Recorder(delay=0.2)
        b = Batcher(rec, max_delay_s=0.02, max_size=8)
        # Gone before the flush: the batch is never run.
        lone = asyncio.ensure_future(b.submit(1))
        await asyncio.sleep(0)
        lone.cancel()
        await asyncio.sleep(0.05)
        assert rec.batches == []
        # One of two leaves while the batch runs: the other still gets its result, and the
        # batch's token is not set; when the last one leaves too, it is.
        a, c = asyncio.ensure_future(b.submit(2)), asyncio.ensure_future(b.submit(3))
        await asyncio.sleep(0.05)
        a.cancel()
        assert await c == 30 and not rec.tokens[0].cancelled
        d, e = asyncio.ensure_future(b.submit(4)), asyncio.ensure_future(b.submit(5))
        await asyncio.sleep(0.05)
        d.cancel()
        e.cancel()
        await asyncio.sleep(0)
        assert rec.tokens[1].cancelled

    run(main())


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="max_delay_s >= 0"):
        Batcher(Recorder(), max_delay_s=-1, max_size=4)
    with pytest.raises(ValueError, match="max_size >= 1"):
        Batcher(Recorder(), max_delay_s=0.01, max_size=0)


SMALL = pb.Options(max_triangles=1500, lod_count=2, resolution=32, texture_size=64)


@pytest.mark.parametrize("model, category", [("voxel-gan", "chair"),
                                             ("implicit-gan", "vase")])
def test_concurrent_misses_run_as_one_model_call_with_the_unbatched_bytes(tmp_path, model,
                                                                          category):
    """Four concurrent Generates of distinct seeds: one model call of four specs (metrics), and
    each asset's files are byte for byte those of the same request generated alone."""
    models = load_models([model])
    server = start_server(tmp_path, models, batch_delay_ms=300.0, batch_models=(model,))
    seeds = [11, 12, 13, 14]
    try:
        with grpc.insecure_channel(server.address) as channel:
            stub = pb_grpc.AssetServiceStub(channel)

            def generate(seed: int):
                req = pb.GenerateRequest(model=model, category=category, seed=seed,
                                         options=SMALL, progressive=seed % 2 == 0)
                parts = list(stub.Generate(req))
                files = [p.file for p in parts if p.HasField("file")]
                header = parts[0].header
                listed = list(header.files) + files
                data = [bytearray() for _ in listed]
                for p in parts:
                    if p.HasField("chunk"):
                        data[p.chunk.file_index] += p.chunk.data
                return header.asset_id, listed, [bytes(d) for d in data]

            with ThreadPoolExecutor(len(seeds)) as pool:
                got = list(pool.map(generate, seeds))
        registry = server.service.metrics.registry
        labels = {"model": model}
        assert registry.get_sample_value("vitrine_batch_size_count", labels) == 1
        assert registry.get_sample_value("vitrine_batch_size_sum", labels) == len(seeds)
    finally:
        server.stop()
    alone = Pipeline(models)
    for seed, (aid, listed, data) in zip(seeds, got):
        job = alone.prepare(model, category, seed, {"max_triangles": 1500, "lod_count": 2,
                                                    "resolution": 32, "texture_size": 64})
        (built,) = alone.build([job])
        assert aid == job.asset_id
        assert [f.name for f in listed] == [f.name for f in built.files]
        assert data == [f.data for f in built.files], f"{model} seed {seed}: batched bytes differ"
        assert [hashlib.sha256(d).hexdigest() for d in data] == [f.sha256 for f in listed]
