"""AssetService: thin servicers. Validate, look in the cache, schedule generation, stream.

Every call follows one path: request -> `_prepare` (model, category, options -> a Job with its
asset id) -> `_materialize` (cache hit, or generate + export + store) -> `_stream` (header,
then bounded chunks, coarsest file first).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import grpc
from vitrine.v1 import assets_pb2 as pb
from vitrine.v1 import assets_pb2_grpc as pb_grpc

from generators.core.asset import CancelToken, Spec
from generators.core.registry import Generator
from generators.export import export_asset
from server import convert
from server.cache import AssetCache
from server.config import ServerConfig
from server.scheduler import Scheduler
from server.status import CallError, rpc_code, to_call_error

log = logging.getLogger(__name__)


@dataclass
class Job:
    model: Generator
    spec: Spec
    canonical: bytes
    asset_id: str


@dataclass
class Ready:
    """An asset ready to stream: its header and its files' bytes, in header order."""

    header: pb.AssetHeader
    files: list[bytes]


@dataclass
class Stats:
    generated: int = 0  # assets generated (not served from cache)
    cache_hits: int = 0
    errors: dict[str, int] = field(default_factory=dict)


class AssetService(pb_grpc.AssetServiceServicer):
    def __init__(self, models: dict[str, Generator], cache: AssetCache, config: ServerConfig):
        self.models = models
        self.cache = cache
        self.config = config
        self.scheduler = Scheduler(config.workers, config.max_queue)
        self.stats = Stats()

    # ------------------------------------------------------------------ rpcs

    async def ListModels(self, request, context):
        return pb.ListModelsResponse(
            models=[convert.model_info_to_proto(m.info) for m in self.models.values()]
        )

    async def Generate(self, request, context) -> AsyncIterator[pb.AssetPart]:
        try:
            job = self._prepare(request)
            ready = await self._materialize([job])
        except Exception as exc:  # noqa: BLE001 - every failure becomes a status
            await self._abort(context, exc)
        async for part in self._stream(ready[0], 0):
            yield part

    async def GenerateBatch(self, request, context) -> AsyncIterator[pb.AssetPart]:
        n = len(request.requests)
        if not 1 <= n <= self.config.max_batch_requests:
            await self._abort(context, CallError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"requests: got {n} requests; allowed: 1 to {self.config.max_batch_requests}",
                "requests"))
        jobs: list[Job | CallError] = []
        for i, req in enumerate(request.requests):
            try:
                jobs.append(self._prepare(req, field_prefix=f"requests[{i}]."))
            except Exception as exc:  # noqa: BLE001 - reported per request below
                jobs.append(to_call_error(exc, f"requests[{i}]."))
        # Windows of max_batch requests: generate the window's misses together (one model call
        # per model), then stream the window in request order while later windows wait.
        step = self.config.max_batch
        for start in range(0, n, step):
            window = jobs[start:start + step]
            valid = [j for j in window if isinstance(j, Job)]
            try:
                ready = iter(await self._materialize(valid)) if valid else iter(())
            except Exception as exc:  # noqa: BLE001
                err = to_call_error(exc)
                if err.code in (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.CANCELLED):
                    await self._abort(context, err)
                ready = None
            for offset, job in enumerate(window):
                index = start + offset
                if isinstance(job, CallError):
                    yield self._error_part(index, job)
                elif ready is None:
                    yield self._error_part(index, err)
                else:
                    async for part in self._stream(next(ready), index):
                        yield part

    async def Fetch(self, request, context) -> AsyncIterator[pb.AssetPart]:
        try:
            ready = await self._fetch(request.asset_id)
            files = ready.header.files
            if request.file_index >= max(len(files), 1):
                raise CallError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"file_index: got {request.file_index}; allowed: 0 to {len(files) - 1}",
                    "file_index")
            size = files[request.file_index].size_bytes
            if request.offset > size:
                raise CallError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"offset: got {request.offset}; allowed: 0 to {size} "
                    f"(the size of file {request.file_index})", "offset")
        except Exception as exc:  # noqa: BLE001
            await self._abort(context, exc)
        async for part in self._stream(ready, 0, request.file_index, request.offset):
            yield part

    # ------------------------------------------------------------------ steps

    def _prepare(self, request: pb.GenerateRequest, field_prefix: str = "") -> Job:
        model = self.models.get(request.model)
        if model is None:
            known = ", ".join(self.models) or "none"
            raise CallError(grpc.StatusCode.NOT_FOUND,
                            f"{field_prefix}model: unknown model {request.model!r}; "
                            f"known models: {known}", field_prefix + "model")
        spec = model.resolve(request.category, request.seed,
                             convert.options_from_proto(request.options))
        canonical = convert.canonical_request(model.info.name, model.info.version, spec)
        return Job(model, spec, canonical, convert.asset_id(canonical))

    async def _materialize(self, jobs: Sequence[Job]) -> list[Ready]:
        """Each job's asset: from the cache when it is there and intact, else generated."""
        cached = await asyncio.gather(*(asyncio.to_thread(self.cache.get, j.asset_id)
                                        for j in jobs))
        out: list[Ready | None] = []
        for hit in cached:
            if hit is None:
                out.append(None)
                continue
            header = pb.AssetHeader.FromString(hit.meta)
            header.timings.cache_hit = True
            out.append(Ready(header, hit.files))
            self.stats.cache_hits += 1
        misses = [i for i, r in enumerate(out) if r is None]
        by_model: dict[str, list[int]] = {}
        for i in misses:
            by_model.setdefault(jobs[i].model.info.name, []).append(i)
        for idxs in by_model.values():
            made = await self._generate([jobs[i] for i in idxs])
            for i, ready in zip(idxs, made):
                out[i] = ready
        return out  # type: ignore[return-value]

    async def _generate(self, jobs: list[Job]) -> list[Ready]:
        model = jobs[0].model

        def work(cancel: CancelToken):
            t0 = time.perf_counter()
            assets = model.generate([j.spec for j in jobs], cancel)
            t1 = time.perf_counter()
            made = []
            for job, asset in zip(jobs, assets):
                cancel.check()
                files = export_asset(asset, job.spec.options.get("format", "glb"))
                made.append((job, asset, files))
            return made, (t1 - t0) * 1000, (time.perf_counter() - t1) * 1000

        (made, gen_ms, export_ms), queued_s = await self.scheduler.run(work)
        out = []
        for job, asset, files in made:
            info = model.info
            header = convert.header_for(job.asset_id, info.name, info.version, asset, files)
            blobs = [f.data for f in files]
            # Store without timings: they describe this call, not the asset.
            await asyncio.to_thread(self._store, job, header.SerializeToString(), blobs)
            header.timings.queue_ms = queued_s * 1000
            header.timings.generate_ms = gen_ms / len(made)
            header.timings.export_ms = export_ms / len(made)
            out.append(Ready(header, blobs))
            self.stats.generated += 1
            log.info("generated %s %s seed=%d id=%s in %.0f ms", info.name, asset.category,
                     asset.seed, job.asset_id, gen_ms / len(made))
        return out

    def _store(self, job: Job, meta: bytes, blobs: list[bytes]) -> None:
        self.cache.put(job.asset_id, meta, blobs)
        self.cache.remember_request(job.asset_id, job.model.info.name, job.canonical)

    async def _fetch(self, aid: str) -> Ready:
        hit = await asyncio.to_thread(self.cache.get, aid) if _is_id(aid) else None
        if hit is not None:
            header = pb.AssetHeader.FromString(hit.meta)
            header.timings.cache_hit = True
            return Ready(header, hit.files)
        # Evicted (or found corrupt): regenerate from the remembered request when the model
        # that made it is still here at the same version, which gives the very same bytes.
        remembered = await asyncio.to_thread(self.cache.lookup_request, aid) if _is_id(aid) else None
        if remembered is not None:
            name, version, spec = convert.spec_from_canonical(remembered[1])
            model = self.models.get(name)
            if model is not None and model.info.version == version:
                job = Job(model, spec, remembered[1], aid)
                return (await self._generate([job]))[0]
        raise CallError(grpc.StatusCode.NOT_FOUND,
                        f"asset_id: no asset {aid!r} on this server (never generated here, or "
                        "made by a model version no longer loaded)", "asset_id")

    async def _stream(self, ready: Ready, index: int, file_index: int = 0,
                      offset: int = 0) -> AsyncIterator[pb.AssetPart]:
        yield pb.AssetPart(request_index=index, header=ready.header)
        size = self.config.chunk_bytes
        for fi in range(file_index, len(ready.files)):
            data = ready.files[fi]
            start = offset if fi == file_index else 0
            for pos in range(start, len(data), size):
                yield pb.AssetPart(request_index=index, chunk=pb.Chunk(
                    file_index=fi, offset=pos, data=data[pos:pos + size]))

    # ------------------------------------------------------------------ errors

    def _error_part(self, index: int, err: CallError) -> pb.AssetPart:
        self._count(err)
        return pb.AssetPart(request_index=index, error=pb.Error(
            code=rpc_code(err.code), message=err.message, field=err.field))

    def _count(self, err: CallError) -> None:
        self.stats.errors[err.code.name] = self.stats.errors.get(err.code.name, 0) + 1

    async def _abort(self, context: grpc.aio.ServicerContext, exc: Exception) -> None:
        err = to_call_error(exc)
        self._count(err)
        if err.code == grpc.StatusCode.INTERNAL:
            log.exception("internal error", exc_info=exc)
        await context.abort(err.code, err.message, trailing_metadata=err.trailing_metadata())


def _is_id(aid: str) -> bool:
    return len(aid) == 32 and all(c in "0123456789abcdef" for c in aid)
