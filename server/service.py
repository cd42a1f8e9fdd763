"""AssetService: thin servicers over the one pipeline (`generators.pipeline`).

Every call follows one path: request -> `Pipeline.prepare` (model, category, options -> a Job
with its asset id) -> `_materialize` (cache hit, or `Pipeline.build` on the scheduler + store)
-> `_stream` (header, then bounded chunks, coarsest file first). What is here is transport:
the cache, the wire types, the scheduling and the statuses.

A progressive Generate (`GenerateRequest.progressive`) on a cache miss streams each file as
the pipeline exports it (`Pipeline.build(on_file=...)`): the header with the first file, then
an `AssetPart.file` and its chunks per later file. Concurrent cache misses for a model in
`config.batch_models` are grouped into one model call (`server/batching.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import grpc
from google.protobuf.message import DecodeError
from grpc_health.v1 import health_pb2
from vitrine.v1 import assets_pb2 as pb
from vitrine.v1 import assets_pb2_grpc as pb_grpc

from generators.core.asset import CancelToken
from generators.core.errors import GeneratorError, short_repr
from generators.core.registry import Generator
from generators.pipeline import Built, Job, Pipeline, Progress
from server import convert
from server.auth import (
    current_call_start,
    current_client,
    current_deadline,
    current_request_id,
)
from server.batching import Batcher
from server.cache import AssetCache, CachedAsset
from server.config import ServerConfig
from server.metrics import Metrics
from server.scheduler import Overloaded, Scheduler
from server.status import CallError, rpc_code, to_call_error

log = logging.getLogger(__name__)


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
        self.pipeline = Pipeline(models)
        self.cache = cache
        self.config = config
        self.scheduler = Scheduler(config.workers, config.max_queue)
        self.stats = Stats()
        self.metrics = Metrics()  # served by create_server when config.metrics_address is set
        self.metrics.watch(cache, self.scheduler)
        # asset id -> the generation in flight for it (`_coalesced`); event-loop only.
        self._inflight: dict[str, asyncio.Future] = {}
        # model name -> its dynamic batcher (`_batcher`), for the models config.batch_models
        # names, when config.batch_delay_ms > 0.
        self._batchers: dict[str, Batcher] = {}
        self.health = None  # the server's health.aio.HealthServicer, set by create_server
        # Tokens and per-client limits (server/auth.py, server/limits.py), set by
        # create_server; the HTTP face applies the same ones.
        self.auth = None
        self.limiter = None
        self.writable = True  # the last cache write succeeded (see _set_writable)

    # ------------------------------------------------------------------ rpcs

    async def ListModels(self, request, context):
        return self.catalog()

    async def Generate(self, request, context) -> AsyncIterator[pb.AssetPart]:
        if request.progressive:
            async for part in self._progressive(request, context):
                yield part
            return
        try:
            ready = await self.generate_one(request)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a status
            await self._abort(context, exc)
        async for part in self._stream(ready, 0):
            yield part

    async def _progressive(self, request, context) -> AsyncIterator[pb.AssetPart]:
        """A Generate that streams each file as soon as it is exported (see the proto). A hit,
        or a miss that joins another call's generation, streams as usual (the header lists
        every file)."""
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        news: asyncio.Queue[Progress] = asyncio.Queue()

        def on_file(_index: int, progress: Progress) -> None:  # on the worker thread
            loop.call_soon_threadsafe(news.put_nowait, progress)

        try:
            job = self._prepare(request)
        except Exception as exc:  # noqa: BLE001
            await self._abort(context, exc)
        task = asyncio.ensure_future(self._materialize([job], on_file=on_file))
        sent: list[str] = []  # sha256 of the files streamed so far
        getter: asyncio.Future | None = None
        try:
            while not task.done() or not news.empty():
                if news.empty():
                    getter = asyncio.ensure_future(news.get())
                    await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
                    if not getter.done():  # the generation ended; drain what it left
                        getter.cancel()
                        getter = None
                        continue
                    progress, getter = getter.result(), None
                else:
                    progress = news.get_nowait()
                for fi in range(len(sent), len(progress.files)):
                    f = progress.files[fi]
                    if not sent:
                        head = convert.progress_header(progress)
                        head.timings.queue_ms = max(0.0, (time.perf_counter() - started) * 1000
                                                    - progress.generate_ms - progress.export_ms)
                        yield pb.AssetPart(request_index=0, header=head)
                    else:
                        yield pb.AssetPart(request_index=0, file=convert.file_to_proto(f))
                    sent.append(f.sha256)
                    async for part in self._chunks(f.data, 0, fi):
                        yield part
            try:
                ready = task.result()[0]
                if isinstance(ready, CallError):
                    raise ready
            except Exception as exc:  # noqa: BLE001 - before or after the first file
                await self._abort(context, exc)
        finally:
            if getter is not None:
                getter.cancel()
            if not task.done():  # the client went away: stop the generation
                task.cancel()
        if not sent:  # a hit, or another call's generation: the whole asset at once
            async for part in self._stream(ready, 0):
                yield part
        elif len(sent) != len(ready.files) or any(
                h != f.sha256 for h, f in zip(sent, ready.header.files)):
            await self._abort(context, RuntimeError(
                f"progressive stream of {job.asset_id} sent {len(sent)} files, built "
                f"{len(ready.files)}"))

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
        # per model), then stream the window in request order while later windows wait. A
        # request that fails fails alone; overload and cancellation end the whole call.
        step = self.config.max_batch
        for start in range(0, n, step):
            window = jobs[start:start + step]
            valid = [j for j in window if isinstance(j, Job)]
            try:
                ready = iter(await self._materialize(valid)) if valid else iter(())
            except Exception as exc:  # noqa: BLE001
                await self._abort(context, exc)
            for offset, job in enumerate(window):
                index = start + offset
                result = job if isinstance(job, CallError) else next(ready)
                if isinstance(result, CallError):
                    yield self._error_part(index, result)
                else:
                    async for part in self._stream(result, index):
                        yield part

    async def Fetch(self, request, context) -> AsyncIterator[pb.AssetPart]:
        try:
            ready = await self.fetch(request.asset_id)
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
    # catalog, generate_one and fetch are what the rpcs and the HTTP face (server/http.py)
    # both call, so they share the cache, validation, scheduler limits and coalescing.

    def catalog(self) -> pb.ListModelsResponse:
        return pb.ListModelsResponse(
            models=[convert.model_info_to_proto(m.info) for m in self.models.values()]
        )

    async def generate_one(self, request: pb.GenerateRequest) -> Ready:
        """One request's asset: from the cache, joined to a generation in flight, or generated;
        raises CallError (or a generator/scheduler error `to_call_error` maps) on failure."""
        job = self._prepare(request)
        ready = (await self._materialize([job]))[0]
        if isinstance(ready, CallError):
            raise ready
        return ready

    def _prepare(self, request: pb.GenerateRequest, field_prefix: str = "") -> Job:
        if request.model not in self.models:
            known = ", ".join(self.models) or "none"
            raise CallError(grpc.StatusCode.NOT_FOUND,
                            f"{field_prefix}model: unknown model {short_repr(request.model)}; "
                            f"known models: {known}", field_prefix + "model")
        return self.pipeline.prepare(request.model, request.category, request.seed,
                                     convert.options_from_proto(request.options))

    async def _materialize(self, jobs: Sequence[Job],
                           on_file=None) -> list[Ready | CallError]:
        """Each job's asset (from the cache when it is there and intact, else generated), or
        the error of that job alone. `on_file` (`Pipeline.build`'s) hears of each file of the
        assets this call generates itself."""
        self._refuse_early(jobs)
        cached = await asyncio.gather(*(asyncio.to_thread(self.cache.get, j.asset_id)
                                        for j in jobs))
        out: list[Ready | CallError | None] = []
        for job, hit in zip(jobs, cached):
            header = None if hit is None else await self._cached_header(job.asset_id, hit)
            if header is None:
                out.append(None)
                continue
            out.append(Ready(header, hit.files))
            self.stats.cache_hits += 1
        misses = [i for i, r in enumerate(out) if r is None]
        if misses:
            made = await self._coalesced([jobs[i] for i in misses], on_file=(
                None if on_file is None else lambda k, p: on_file(misses[k], p)))
            for i, ready in zip(misses, made):
                out[i] = ready
        return out  # type: ignore[return-value]

    def _count_refusal(self, client: str, exc: Overloaded) -> None:
        self.metrics.refusals.labels(client or "-", exc.reason).inc()
        start = current_call_start.get()
        if start is not None:
            self.metrics.refusal_seconds.observe(time.perf_counter() - start)

    def _refuse_early(self, jobs: Sequence[Job]) -> None:
        """Refuse a call the scheduler would refuse now before the cache lookup's hop to a
        thread (under load that hop made refusals take 100+ ms), unless one of its assets is
        stored or being made (neither needs a worker). Overloaded, counted, when refused."""
        if not jobs or any(j.asset_id in self._inflight for j in jobs):
            return
        client, remaining = _caller()
        try:
            self.scheduler.check(client, remaining)
        except Overloaded as exc:
            if any(self.cache.contains(j.asset_id) for j in jobs):  # one indexed row: µs
                return
            self._count_refusal(client, exc)
            raise

    async def _coalesced(self, jobs: list[Job], on_file=None) -> list[Ready | CallError]:
        """Generate the misses, once per asset id: a job whose id is already being made (by
        another call, or earlier in this batch) waits for that generation instead of running
        its own (16 identical concurrent misses used to run 16 generations). `on_file` hears
        of the files of the jobs this call generates itself (by index in `jobs`)."""
        loop = asyncio.get_running_loop()
        owned: dict[str, tuple[Job, asyncio.Future]] = {}
        owned_index: list[int] = []  # index in `jobs` of each owned job
        waits: list[asyncio.Future] = []
        for i, job in enumerate(jobs):
            fut = self._inflight.get(job.asset_id)
            if fut is None:
                fut = loop.create_future()
                self._inflight[job.asset_id] = fut
                owned[job.asset_id] = (job, fut)
                owned_index.append(i)
            waits.append(fut)
        if owned:
            made: list[Ready | CallError | None] = [None] * len(owned)
            hook = None if on_file is None else (
                lambda k, p: on_file(owned_index[k], p))
            try:
                made = await self._generate([job for job, _ in owned.values()], hook)
            finally:  # None tells a waiting call to generate for itself (this one failed)
                for (aid, (_, fut)), ready in zip(owned.items(), made):
                    self._inflight.pop(aid, None)
                    if not fut.done():
                        fut.set_result(ready)
        mine = set(owned_index)
        for i, job in enumerate(jobs):
            if i not in mine:
                self.metrics.coalesced.labels(job.model.info.name).inc()
        out: list[Ready | CallError] = []
        for job, fut in zip(jobs, waits):
            ready = await asyncio.shield(fut)
            if ready is None:  # the call that owned it was cancelled or refused
                ready = (await self._coalesced([job]))[0]
            elif job.asset_id not in owned and isinstance(ready, Ready):
                header = pb.AssetHeader()
                header.CopyFrom(ready.header)
                ready = Ready(header, ready.files)
            out.append(ready)
        return out

    async def _generate(self, jobs: list[Job], on_file=None) -> list[Ready | CallError]:
        def work(cancel: CancelToken) -> list[Built | GeneratorError]:
            return self.pipeline.build(jobs, cancel, on_file)

        client, remaining = _caller()
        batcher = self._batcher(jobs)
        try:
            if batcher is not None:
                result, queued_s = await batcher.submit(
                    _Pending(jobs[0], on_file, client, remaining))
                results = [result]
            else:
                results, queued_s = await self.scheduler.run(work, client=client,
                                                             deadline_s=remaining)
                self.metrics.batch_size.labels(jobs[0].model.info.name).observe(len(jobs))
        except Overloaded as exc:
            self._count_refusal(client, exc)
            raise
        out: list[Ready | CallError] = []
        for result in results:
            if isinstance(result, GeneratorError):
                err = to_call_error(result)
                out.append(err)
                continue
            header = convert.header_for(result)
            blobs = [f.data for f in result.files]
            # Store without timings: they describe this call, not the asset. A store that
            # fails (a full disk) still streams the bytes made; it only costs the cache.
            try:
                await asyncio.to_thread(self._store, result, header.SerializeToString(), blobs)
            except (OSError, sqlite3.Error) as exc:
                await self._set_writable(False, exc)
            else:
                await self._set_writable(True)
            header.timings.queue_ms = queued_s * 1000
            header.timings.generate_ms = result.generate_ms
            header.timings.export_ms = result.export_ms
            out.append(Ready(header, blobs))
            self.stats.generated += 1
            model = result.job.model.info.name
            self.metrics.generations.labels(model).inc()
            self.metrics.generation_seconds.labels(model).observe(result.generate_ms / 1000)
        return out

    def _batcher(self, jobs: list[Job]) -> Batcher | None:
        """The dynamic batcher of a lone miss of a batched model; None to run it alone (a
        GenerateBatch window is a batch already)."""
        name = jobs[0].model.info.name
        if (len(jobs) != 1 or self.config.batch_delay_ms <= 0
                or name not in self.config.batch_models):
            return None
        batcher = self._batchers.get(name)
        if batcher is None:
            batcher = self._batchers[name] = Batcher(
                self._run_batch, self.config.batch_delay_ms / 1000, self.config.max_batch)
        return batcher

    async def _run_batch(self, items: list[_Pending],
                         cancel: CancelToken) -> list[tuple[Built | GeneratorError, float]]:
        """One model call for a dynamic batch (one job per caller, distinct asset ids: the
        callers were coalesced first); each result with the batch's queue time."""
        jobs = [it.job for it in items]
        hooks = [it.on_file for it in items]

        def on_file(k: int, progress: Progress) -> None:
            if hooks[k] is not None:
                hooks[k](0, progress)

        def work(token: CancelToken) -> list[Built | GeneratorError]:
            return self.pipeline.build(jobs, token, on_file if any(hooks) else None)

        first = items[0]  # the batch queues as its first caller (fair share, deadline)
        results, queued_s = await self.scheduler.run(work, cancel, client=first.client,
                                                     deadline_s=first.remaining)
        self.metrics.batch_size.labels(jobs[0].model.info.name).observe(len(jobs))
        return [(r, queued_s) for r in results]

    async def _cached_header(self, aid: str, hit: CachedAsset) -> pb.AssetHeader | None:
        """The stored header of a cache hit, marked as a hit; None (and the entry dropped, so
        the asset is regenerated) when the stored header is damaged: bytes that do not parse,
        another asset's id, or files that do not match the blobs."""
        try:
            header = pb.AssetHeader.FromString(hit.meta)
        except DecodeError:
            header = None
        if header is not None and header.asset_id == aid and len(header.files) == len(
                hit.files) and all(f.size_bytes == len(d) for f, d in zip(header.files, hit.files)):
            header.timings.cache_hit = True
            header.file_count = len(header.files)  # entries stored before file_count: 0
            return header
        log.warning("cache: asset %s has a damaged header in the index; dropping it so it is "
                    "regenerated", aid)
        self.cache.stats.corrupt += 1
        await asyncio.to_thread(self.cache.delete, aid)
        return None

    async def _set_writable(self, ok: bool, exc: Exception | None = None) -> None:
        """Track whether the data dir takes writes: health is NOT_SERVING while it does not
        (logged once per outage, not per request) and SERVING again after a write succeeds."""
        if ok == self.writable:
            return
        self.writable = ok
        if ok:
            log.warning("cache: writes to %s succeed again; health is SERVING",
                        self.config.data_dir)
        else:
            log.warning("cache: cannot write to %s (%s: %s); assets are still streamed but not "
                        "stored, and health is NOT_SERVING until a write succeeds",
                        self.config.data_dir, type(exc).__name__, exc)
        if self.health is not None:
            status = health_pb2.HealthCheckResponse.SERVING if ok else \
                health_pb2.HealthCheckResponse.NOT_SERVING
            for name in ("", pb.DESCRIPTOR.services_by_name["AssetService"].full_name):
                await self.health.set(name, status)

    def _store(self, built: Built, meta: bytes, blobs: list[bytes]) -> None:
        job = built.job
        self.cache.put(job.asset_id, meta, blobs, [f.sha256 for f in built.files])
        self.cache.remember_request(job.asset_id, job.model.info.name, job.canonical)

    async def fetch(self, aid: str) -> Ready:
        """The asset with id `aid`: from the cache, or regenerated from its remembered request
        when it was evicted; CallError NOT_FOUND when this server cannot make it."""
        hit = await asyncio.to_thread(self.cache.get, aid) if _is_id(aid) else None
        header = None if hit is None else await self._cached_header(aid, hit)
        if header is not None:
            return Ready(header, hit.files)
        made = self._inflight.get(aid)
        if made is not None:  # being made now (a progressive client resuming): wait for it
            ready = await asyncio.shield(made)
            if isinstance(ready, Ready):
                header = pb.AssetHeader()
                header.CopyFrom(ready.header)
                return Ready(header, ready.files)
        # Evicted (or found corrupt): regenerate from the remembered request when the model
        # that made it is still here at the same version, which gives the very same bytes.
        remembered = await asyncio.to_thread(self.cache.lookup_request, aid) if _is_id(aid) else None
        job = self.pipeline.replay(remembered[1]) if remembered is not None else None
        if job is not None:
            ready = (await self._coalesced([job]))[0]
            if isinstance(ready, CallError):
                raise ready
            return ready
        raise CallError(grpc.StatusCode.NOT_FOUND,
                        f"asset_id: no asset {short_repr(aid)} on this server (never generated here, or "
                        "made by a model version no longer loaded)", "asset_id")

    async def _stream(self, ready: Ready, index: int, file_index: int = 0,
                      offset: int = 0) -> AsyncIterator[pb.AssetPart]:
        yield pb.AssetPart(request_index=index, header=ready.header)
        for fi in range(file_index, len(ready.files)):
            async for part in self._chunks(ready.files[fi], index, fi,
                                           offset if fi == file_index else 0):
                yield part

    async def _chunks(self, data: bytes, index: int, fi: int,
                      start: int = 0) -> AsyncIterator[pb.AssetPart]:
        size = self.config.chunk_bytes
        for pos in range(start, len(data), size):
            piece = data[pos:pos + size]
            yield pb.AssetPart(request_index=index, chunk=pb.Chunk(
                file_index=fi, offset=pos, data=piece))
            self.metrics.bytes_streamed.inc(len(piece))

    # ------------------------------------------------------------------ metrics

    def _model_label(self, request) -> str:
        """The model a call names, bounded: 'unknown' for a name not loaded (clients choose
        the names, and each label value is a time series), 'mixed' for a batch of several."""
        if isinstance(request, pb.GenerateRequest):
            names = {request.model}
        elif isinstance(request, pb.GenerateBatchRequest):
            names = {r.model for r in request.requests}
        else:
            return ""
        labels = {n if n in self.models else "unknown" for n in names}
        return labels.pop() if len(labels) == 1 else ("mixed" if labels else "")

    def _observe(self, rpc: str, request, code: grpc.StatusCode, start: float) -> None:
        self.metrics.latency.labels(rpc).observe(time.perf_counter() - start)
        self.metrics.requests.labels(rpc, self._model_label(request), code.name).inc()

    # ------------------------------------------------------------------ errors

    def _error_part(self, index: int, err: CallError) -> pb.AssetPart:
        self.count_error(err)
        return pb.AssetPart(request_index=index, error=pb.Error(
            code=rpc_code(err.code), message=err.message, field=err.field))

    def count_error(self, err: CallError) -> None:
        self.stats.errors[err.code.name] = self.stats.errors.get(err.code.name, 0) + 1

    async def _abort(self, context: grpc.aio.ServicerContext, exc: Exception) -> None:
        err = to_call_error(exc)
        self.count_error(err)
        if err.code == grpc.StatusCode.INTERNAL:
            log.exception("internal error", exc_info=exc)
        trailers = err.trailing_metadata()
        rid = current_request_id.get()
        if rid != "-":  # abort's trailers replace those set before: the id goes with them
            trailers = (*trailers, ("x-request-id", rid))
        await context.abort(err.code, err.message, trailing_metadata=trailers)


@dataclass(frozen=True)
class _Pending:
    """One caller's job waiting in a dynamic batch."""

    job: Job
    on_file: object  # Pipeline.build's on_file for this job alone, or None
    client: str
    remaining: float | None  # seconds to the caller's deadline


class Malformed:
    """What a request that does not parse is handed to its rpc as (see `add_to_server`)."""

    def __init__(self, rpc: str, message_type: str, size: int):
        self.rpc, self.message_type, self.size = rpc, message_type, size

    def error(self) -> CallError:
        return CallError(grpc.StatusCode.INVALID_ARGUMENT,
                         f"request: the bytes do not parse as {self.message_type}", "request")


# rpc name -> (handler kind, request type, response type)
_RPCS = {
    "ListModels": (grpc.unary_unary_rpc_method_handler, pb.ListModelsRequest,
                   pb.ListModelsResponse),
    "Generate": (grpc.unary_stream_rpc_method_handler, pb.GenerateRequest, pb.AssetPart),
    "GenerateBatch": (grpc.unary_stream_rpc_method_handler, pb.GenerateBatchRequest,
                      pb.AssetPart),
    "Fetch": (grpc.unary_stream_rpc_method_handler, pb.FetchRequest, pb.AssetPart),
}


def add_to_server(service: AssetService, server: grpc.aio.Server) -> None:
    """Register `service` like `add_AssetServiceServicer_to_server`, except that request bytes
    that do not parse are INVALID_ARGUMENT with one log line: grpcio runs the deserializer
    before any servicer code, and a deserializer that raises is UNKNOWN plus a traceback."""
    handlers = {}
    for rpc, (kind, request_type, response_type) in _RPCS.items():
        handlers[rpc] = kind(_guarded(service, rpc),
                             request_deserializer=_lenient(rpc, request_type),
                             response_serializer=response_type.SerializeToString)
    name = pb.DESCRIPTOR.services_by_name["AssetService"].full_name
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(name, handlers),))
    if hasattr(server, "add_registered_method_handlers"):  # grpcio >= 1.63: faster lookup
        server.add_registered_method_handlers(name, handlers)


def _lenient(rpc: str, request_type):
    full_name = request_type.DESCRIPTOR.full_name

    def deserialize(data: bytes):
        try:
            return request_type.FromString(data)
        except Exception:  # noqa: BLE001 - DecodeError, or anything else bad bytes cause
            log.warning("%s: %d request bytes do not parse as %s; INVALID_ARGUMENT", rpc,
                        len(data), full_name)
            return Malformed(rpc, full_name, len(data))

    return deserialize


@contextlib.asynccontextmanager
async def _observed(service: AssetService, rpc: str, request, context):
    """Refuse malformed bytes, and record the call's final status and latency once."""
    start, code = time.perf_counter(), grpc.StatusCode.OK
    try:
        if isinstance(request, Malformed):
            await service._abort(context, request.error())
        yield
    except (asyncio.CancelledError, GeneratorExit):  # client gone, deadline, shutdown
        code = grpc.StatusCode.CANCELLED
        raise
    except BaseException:  # re-raised: only the status is read here
        code = _final_code(context)
        raise
    finally:
        service._observe(rpc, request, code, start)


def _guarded(service: AssetService, rpc: str):
    method = getattr(service, rpc)
    if _RPCS[rpc][0] is grpc.unary_unary_rpc_method_handler:
        async def unary(request, context):
            async with _observed(service, rpc, request, context):
                return await method(request, context)

        return unary

    async def stream(request, context):
        async with _observed(service, rpc, request, context):
            async for part in method(request, context):
                yield part

    return stream


def _final_code(context: grpc.aio.ServicerContext) -> grpc.StatusCode:
    """The status a call that raised ends with: what abort set, else UNKNOWN."""
    try:
        code = context.code()
    except Exception:  # noqa: BLE001 - an experimental API
        code = None
    return code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.UNKNOWN


def _caller() -> tuple[str, float | None]:
    """The calling client's name ('' when unknown) and the seconds left to its deadline."""
    identity = current_client.get()
    deadline = current_deadline.get()
    return (identity.name if identity is not None else "",
            None if deadline is None else deadline - time.monotonic())


def _is_id(aid: str) -> bool:
    return len(aid) == 32 and all(c in "0123456789abcdef" for c in aid)
