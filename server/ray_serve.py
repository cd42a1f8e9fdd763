"""vitrine on Ray Serve: every model a Serve deployment, our own gRPC (+ HTTP) front the ingress.

    vitrine serve --ray [--ray-replicas 2 | --ray-replicas procedural=2] [--ray-autoscale 1:4]
    serve run deploy/ray/serve.yaml          (the same application from a Serve config file)

The application (`build_app`) is one `ModelReplica` deployment per model, named after the
model (so a Serve config sets each one's replicas, autoscaling and resources by that name),
and one `Front` deployment, its ingress. Each model replica runs the embedded server's own
`AssetService` over that one model -- validation, single-flight, the scheduler, batching, the
very same bytes -- with the cache on a shared `ObjectCache` (server/cache.py), so an asset
made by one replica is a hit on every other. The front is the embedded server's assembly
(`server.app.create_server`: TLS, tokens, per-client limits, health, reflection, keepalive
policy, the HTTP face, metrics) over a `Router` servicer that forwards each call to its
model's deployment through a streaming `DeploymentHandle` and relays the AssetParts as the
replica yields them, so streaming (progressive LODs included) is preserved end to end.

Why our front and not Ray Serve's gRPC proxy: the proxy serves user protos, but not
grpc.health.v1 or reflection (load balancers and grpcurl rely on them), not our interceptor
(tokens, per-client limits, request ids), not the keepalive policy engine clients need
(TurboLink's pings without calls), nor the HTTP face with Range and ETags; docs/ray.md says
more. Ray still places, restarts and autoscales everything, the front included.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import grpc
from vitrine.v1 import assets_pb2 as pb

from server.auth import (
    ClientIdentity,
    current_call_start,
    current_client,
    current_deadline,
    current_request_id,
)
from server.cache import DirectoryStore, ObjectCache
from server.config import ServerConfig
from server.service import AssetService, Ready
from server.status import CallError, to_call_error

log = logging.getLogger(__name__)

try:  # an optional dependency: the `ray` extra (pyproject.toml), `make test` installs it
    from ray import serve
    from ray.serve.handle import DeploymentHandle
except ImportError:  # pragma: no cover - said when asked for (`require_ray`)
    serve = None
    DeploymentHandle = Any  # type: ignore[misc,assignment]

RAY_PIN = "ray[serve]==2.60.0"
FRONT = "front"  # the ingress deployment's name; model deployments are named after models

# rpc -> request type, for the replica to parse what the front forwards as bytes.
_REQUESTS = {"Generate": pb.GenerateRequest, "GenerateBatch": pb.GenerateBatchRequest,
             "Fetch": pb.FetchRequest}


def require_ray() -> None:
    """Refuse clearly when Ray Serve is not installed."""
    if serve is None:
        raise RuntimeError(f"Ray Serve is not installed: pip install '{RAY_PIN}' (or "
                           "`pip install -e '.[ray]'`; `make test` installs it)")


@dataclass
class RayOptions:
    """How the models are deployed; Serve config files override these per deployment."""

    models: tuple[str, ...] = ()  # models to deploy; empty = every registered model
    replicas: int = 1  # replicas per model deployment when not autoscaling
    # model -> replicas, for the models that need other than `replicas`.
    model_replicas: dict[str, int] = field(default_factory=dict)
    # (min, max) replicas per model with Serve's autoscaling; None = fixed `replicas`.
    autoscale: tuple[int, int] | None = None
    # Ray CPUs each model replica reserves (a logical resource: the scheduler packs replicas
    # by it). 0 packs any number of replicas on a node (tests on 2 cores).
    replica_cpus: float = 1.0
    torch_threads: int = 1  # intra-op threads per replica: its workers already share cores
    # Seconds a front waits for each model's first replica at start before refusing to start.
    start_timeout_s: float = 600.0

    def __post_init__(self) -> None:
        if self.replicas < 1 or any(n < 1 for n in self.model_replicas.values()):
            raise ValueError("replicas must be >= 1")
        if self.autoscale is not None:
            lo, hi = self.autoscale
            if not 0 <= lo <= hi or hi < 1:
                raise ValueError(f"autoscale must be MIN:MAX with 0 <= MIN <= MAX and MAX >= 1, "
                                 f"got {lo}:{hi}")
        if self.replica_cpus < 0 or self.torch_threads < 1:
            raise ValueError("replica_cpus must be >= 0 and torch_threads >= 1")

    def deployment_options(self, model: str, config: ServerConfig) -> dict[str, Any]:
        """Serve options of one model's deployment."""
        # A replica takes calls up to what its own scheduler admits (workers running plus
        # max_queue waiting) and refuses beyond with RESOURCE_EXHAUSTED and a retry time;
        # cache hits and coalesced waits hold a slot too, hence the headroom. Calls waiting
        # for a free replica in the front are bounded by max_queue (then RESOURCE_EXHAUSTED).
        opts: dict[str, Any] = {
            "name": model,
            "max_ongoing_requests": 2 * (config.workers + config.max_queue),
            "max_queued_requests": config.max_queue,
            "ray_actor_options": {"num_cpus": self.replica_cpus},
            "graceful_shutdown_timeout_s": config.shutdown_grace_s,
            # A model that cannot load (missing weights, a bad model dir) fails the same way
            # every time: refuse the deployment after a few tries, not Serve's default 20.
            "max_constructor_retry_count": 3,
        }
        if self.autoscale is not None and model not in self.model_replicas:
            lo, hi = self.autoscale
            # A replica with more calls in progress than workers has calls waiting: add one.
            opts["autoscaling_config"] = {"min_replicas": lo, "max_replicas": hi,
                                          "initial_replicas": max(lo, 1),
                                          "target_ongoing_requests": config.workers}
        else:
            opts["num_replicas"] = self.model_replicas.get(model, self.replicas)
        return opts


# ---------------------------------------------------------------------------- replica side


@dataclass
class RemoteStatus:
    """How a call ended in a replica, when not OK: relayed to the client by the front."""

    code: str  # grpc.StatusCode name
    message: str
    trailers: tuple = ()  # the status's trailing metadata (BadRequest, RetryInfo details)
    field: str = ""
    retry_after_s: float | None = None

    def error(self) -> CallError:
        return CallError(grpc.StatusCode[self.code], self.message, self.field,
                         self.retry_after_s)


class _Aborted(Exception):
    def __init__(self, code: grpc.StatusCode, details: str, trailers: tuple):
        super().__init__(details)
        self.code, self.details, self.trailers = code, details, trailers


class _ReplicaContext:
    """What the servicer methods use of a grpc.aio ServicerContext, inside a replica: abort
    ends the call with a status the front relays; the deadline is the client's."""

    def __init__(self, deadline: float | None):
        self._deadline = deadline
        self._code: grpc.StatusCode | None = None
        self._details = ""
        self._trailers: tuple = ()

    async def abort(self, code: grpc.StatusCode, details: str = "",
                    trailing_metadata: Sequence = ()) -> None:
        raise _Aborted(code, details, tuple(trailing_metadata or ()))

    def set_code(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode | None:
        return self._code

    def set_details(self, details: str) -> None:
        self._details = details

    def details(self) -> str:
        return self._details

    def set_trailing_metadata(self, metadata: Sequence) -> None:
        self._trailers = tuple(metadata)

    def trailing_metadata(self) -> tuple:
        return self._trailers

    def invocation_metadata(self) -> tuple:
        return ()

    def time_remaining(self) -> float | None:
        return None if self._deadline is None else max(0.0, self._deadline - time.monotonic())

    def peer(self) -> str:
        return "ipv4:127.0.0.1:0"  # the caller is the front; the client's name travels apart

    def cancelled(self) -> bool:
        return False

    def done(self) -> bool:
        return False


def _adopt_caller(caller: Mapping[str, Any], config: ServerConfig) -> float | None:
    """Set the client, deadline and request id of the call the front forwarded, as the
    front's CallGate set them there, so this replica's scheduler is fair per client and
    deadline-aware; returns the deadline (time.monotonic())."""
    current_call_start.set(time.perf_counter())
    current_request_id.set(str(caller.get("request_id") or "-"))
    name = caller.get("client") or ""
    if name:
        current_client.set(ClientIdentity(name, config.client_limits(),
                                          bool(caller.get("authenticated"))))
    remaining = caller.get("remaining_s")
    deadline = None if remaining is None else time.monotonic() + float(remaining)
    current_deadline.set(deadline)
    return deadline


class ModelReplica:
    """One replica of one model: the embedded AssetService over that model and the shared
    cache. The front calls `call` (an rpc, streamed part by part), `ready` (the HTTP face's
    whole assets) and `info` (the catalog entry)."""

    def __init__(self, model: str, config: ServerConfig, options: RayOptions):
        import torch

        from generators.core.registry import add_model_dir, load_models

        torch.set_num_threads(options.torch_threads)
        for model_dir in config.model_dirs:
            add_model_dir(model_dir)
        t0 = time.perf_counter()
        models = load_models([model])  # refuses (ModelLoadError) when it cannot serve
        self.model = model
        self.config = config
        self.cache = ObjectCache(DirectoryStore(config.data_dir), config.cache_max_bytes,
                                 memory_bytes=config.cache_memory_bytes)
        self.service = AssetService({model: models[model]}, self.cache, config)
        self.calls = 0  # rpcs and steps taken
        log.info("ray replica %s (pid %d) loaded in %.1f s; cache %s", model, os.getpid(),
                 time.perf_counter() - t0, self.cache.store.describe())

    def info(self) -> bytes:
        """The model's ListModels entry (pb.ModelInfo bytes)."""
        return self.service.catalog().models[0].SerializeToString()

    def stats(self) -> dict[str, Any]:
        """This replica's Serve id and counts (tests and the benchmark tell replicas apart by
        them): calls taken, assets generated, cache hits, generation jobs running now."""
        running, _ = self.service.scheduler.depth()
        return {"replica": serve.get_replica_context().replica_id.unique_id,
                "calls": self.calls, "generated": self.service.stats.generated,
                "cache_hits": self.service.stats.cache_hits, "running": running}

    async def call(self, rpc: str, request: bytes,
                   caller: Mapping[str, Any]) -> AsyncIterator[bytes | RemoteStatus]:
        """Run one rpc of AssetService; yields its AssetParts serialized, then a RemoteStatus
        when it ended with a status other than OK."""
        self.calls += 1
        deadline = _adopt_caller(caller, self.config)
        context = _ReplicaContext(deadline)
        try:
            message = _REQUESTS[rpc].FromString(request)
            async for part in getattr(self.service, rpc)(message, context):
                yield part.SerializeToString()
        except _Aborted as ab:
            yield RemoteStatus(ab.code.name, ab.details, ab.trailers)
            return
        code = context.code()
        if code is not None and code != grpc.StatusCode.OK:
            yield RemoteStatus(code.name, context.details(), context.trailing_metadata())

    async def ready(self, step: str, arg: bytes | str,
                    caller: Mapping[str, Any]) -> tuple[bytes, list[bytes]] | RemoteStatus:
        """A whole asset for the HTTP face: `generate_one` (arg: GenerateRequest bytes) or
        `fetch` (arg: an asset id) -> (header bytes, files), or how it failed."""
        self.calls += 1
        _adopt_caller(caller, self.config)
        try:
            if step == "generate_one":
                got = await self.service.generate_one(pb.GenerateRequest.FromString(arg))
            elif step == "fetch":
                got = await self.service.fetch(str(arg))
            else:
                raise ValueError(f"unknown step {step!r}")
        except Exception as exc:
            err = to_call_error(exc)
            if err.code == grpc.StatusCode.INTERNAL:
                log.exception("ray replica %s: internal error", self.model, exc_info=exc)
            return RemoteStatus(err.code.name, err.message, tuple(err.trailing_metadata()),
                                err.field, err.retry_after_s)
        return got.header.SerializeToString(), list(got.files)

    def check_health(self) -> None:
        """Serve's health probe: unhealthy while the shared cache cannot be written."""
        if not self.service.writable:
            raise RuntimeError(f"cannot write the shared cache {self.config.data_dir}")

    async def __del__(self) -> None:
        self.service.scheduler.shutdown()
        self.cache.close()


# ---------------------------------------------------------------------------- front side


def _caller() -> dict[str, Any]:
    """The calling client as the front's CallGate (or HTTP gate) identified it."""
    identity = current_client.get()
    deadline = current_deadline.get()
    return {"client": identity.name if identity is not None else "",
            "authenticated": bool(identity is not None and identity.authenticated),
            "remaining_s": None if deadline is None else deadline - time.monotonic(),
            "request_id": current_request_id.get()}


def _ray_call_error(exc: BaseException, model: str) -> CallError:
    """A failure of Ray itself (not of the model) as a status a client can act on."""
    from ray.exceptions import RayActorError
    from ray.serve.exceptions import (
        BackPressureError,
        DeploymentUnavailableError,
        ReplicaUnavailableError,
    )

    if isinstance(exc, BackPressureError):
        return CallError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                         f"model {model}: every replica is busy and the queue for them is full; "
                         "retry in about 1 s", retry_after_s=1.0)
    if isinstance(exc, (RayActorError, ReplicaUnavailableError, DeploymentUnavailableError)):
        return CallError(grpc.StatusCode.UNAVAILABLE,
                         f"model {model}: its replica went away ({type(exc).__name__}); retry")
    log.error("ray: call to model %s failed: %s: %s", model, type(exc).__name__, exc)
    return CallError(grpc.StatusCode.INTERNAL,
                     f"internal error: model {model}: {type(exc).__name__}")


class Router(AssetService):
    """The front's servicer: the AssetService rpcs and steps, each forwarded to its model's
    deployment. What it inherits is transport: `_abort`, metrics, error counts; the caches,
    the scheduler and the models live in the replicas."""

    def __init__(self, handles: Mapping[str, DeploymentHandle], infos: Sequence[pb.ModelInfo],
                 config: ServerConfig):
        # No models and no cache here: the replicas have them. The base gives the metrics,
        # the error counts and the health/auth/limiter slots create_server fills.
        super().__init__({}, _NoCache(), config)
        self.handles = dict(handles)
        self.infos = list(infos)
        self.models = {i.name: i for i in infos}  # for the metric labels and error messages
        self.requests = ObjectCache(DirectoryStore(config.data_dir), config.cache_max_bytes,
                                    memory_bytes=0, scan_interval_s=float("inf"))

    # ------------------------------------------------------------------ rpcs

    async def ListModels(self, request, context):
        return self.catalog()

    async def Generate(self, request, context) -> AsyncIterator[pb.AssetPart]:
        try:
            model = self._model(request.model)
        except CallError as exc:
            await self._abort(context, exc)
        async for part in self._relay(model, "Generate", request, context):
            yield part

    async def GenerateBatch(self, request, context) -> AsyncIterator[pb.AssetPart]:
        n = len(request.requests)
        if not 1 <= n <= self.config.max_batch_requests:
            await self._abort(context, CallError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"requests: got {n} requests; allowed: 1 to {self.config.max_batch_requests}",
                "requests"))
        groups: dict[str, list[int]] = {}
        for i, req in enumerate(request.requests):
            if req.model in self.handles:
                groups.setdefault(req.model, []).append(i)
        if len(groups) == 1 and len(next(iter(groups.values()))) == n:  # one model: as it is
            async for part in self._relay(next(iter(groups)), "GenerateBatch", request,
                                          context):
                yield part
            return
        # Several models: one sub-batch per model, run at once; parts go out in request
        # order (each sub-batch streams its requests in order), indices mapped back.
        streams = {}
        for model, idxs in groups.items():
            sub = pb.GenerateBatchRequest(requests=[request.requests[i] for i in idxs])
            streams[model] = _Pump(self._relay(model, "GenerateBatch", sub, context))
        owner = {i: model for model, idxs in groups.items() for i in idxs}
        local = {model: {i: k for k, i in enumerate(idxs)} for model, idxs in groups.items()}
        try:
            for i, req in enumerate(request.requests):
                model = owner.get(i)
                if model is None:
                    yield self._error_part(i, self._unknown(req.model, f"requests[{i}]."))
                    continue
                stream, mine = streams[model], local[model][i]
                while (part := await stream.peek()) is not None and part.request_index == mine:
                    await stream.next()
                    part.request_index = i
                    yield part
        finally:
            for stream in streams.values():
                await stream.aclose()

    async def Fetch(self, request, context) -> AsyncIterator[pb.AssetPart]:
        model = await self._owner(request.asset_id)
        async for part in self._relay(model, "Fetch", request, context):
            yield part

    # ------------------------------------------------------------------ steps (HTTP face)

    def catalog(self) -> pb.ListModelsResponse:
        return pb.ListModelsResponse(models=self.infos)

    async def generate_one(self, request: pb.GenerateRequest) -> Ready:
        model = self._model(request.model)
        return await self._ready(model, "generate_one", request.SerializeToString())

    async def fetch(self, aid: str) -> Ready:
        return await self._ready(await self._owner(aid), "fetch", aid)

    # ------------------------------------------------------------------ forwarding

    def _unknown(self, name: str, field_prefix: str = "") -> CallError:
        from generators.core.errors import short_repr

        known = ", ".join(self.handles) or "none"
        return CallError(grpc.StatusCode.NOT_FOUND,
                         f"{field_prefix}model: unknown model {short_repr(name)}; "
                         f"known models: {known}", field_prefix + "model")

    def _model(self, name: str) -> str:
        if name not in self.handles:
            raise self._unknown(name)
        return name

    async def _owner(self, aid: str) -> str:
        """The model whose replicas can serve asset `aid`: the one that made it (its request
        is remembered in the shared cache); else any, which answers from the cache or says
        NOT_FOUND exactly as the embedded server does."""
        remembered = None
        if len(aid) == 32 and set(aid) <= set("0123456789abcdef"):
            remembered = await asyncio.to_thread(self.requests.lookup_request, aid)
        if remembered is not None and remembered[0] in self.handles:
            return remembered[0]
        return next(iter(self.handles))

    async def _relay(self, model: str, rpc: str, request,
                     context) -> AsyncIterator[pb.AssetPart]:
        """Forward one rpc to a replica of `model` and yield its parts as they come; a
        status it ended with becomes this call's. Leaving early (client gone, deadline)
        cancels the replica's call, which cancels its generation."""
        handle = self.handles[model].options(stream=True)
        stream = handle.call.remote(rpc, request.SerializeToString(), _caller())
        status: RemoteStatus | CallError | None = None
        try:
            try:
                async for item in stream:
                    if isinstance(item, RemoteStatus):
                        status = item
                        break
                    part = pb.AssetPart.FromString(item)
                    if part.WhichOneof("part") == "chunk":
                        self.metrics.bytes_streamed.inc(len(part.chunk.data))
                    yield part
            except (asyncio.CancelledError, GeneratorExit):
                raise
            except Exception as exc:  # noqa: BLE001 - Ray's own failures
                status = _ray_call_error(exc, model)
        finally:
            if status is None:
                stream.cancel()  # no-op when it finished; stops the replica's work otherwise
        if isinstance(status, RemoteStatus):
            self.count_error(status.error())
            await context.abort(grpc.StatusCode[status.code], status.message,
                                trailing_metadata=_with_request_id(status.trailers))
        elif status is not None:
            await self._abort(context, status)

    async def _ready(self, model: str, step: str, arg: bytes | str) -> Ready:
        try:
            got = await self.handles[model].ready.remote(step, arg, _caller())
        except (asyncio.CancelledError, CallError):
            raise
        except Exception as exc:
            raise _ray_call_error(exc, model) from exc
        if isinstance(got, RemoteStatus):
            raise got.error()
        header, files = got
        return Ready(pb.AssetHeader.FromString(header), files)


def _with_request_id(trailers: tuple) -> tuple:
    """The replica's trailers with this call's request id (abort replaces those set before)."""
    rid = current_request_id.get()
    kept = tuple((k, v) for k, v in trailers if k != "x-request-id")
    return (*kept, ("x-request-id", rid)) if rid != "-" else kept


class _Pump:
    """An AssetPart stream read ahead by a task of its own (so several sub-batches run at
    once), with one part of lookahead for merging them in request order."""

    _END = object()

    def __init__(self, source: AsyncIterator[pb.AssetPart], depth: int = 64):
        self._queue: asyncio.Queue = asyncio.Queue(depth)  # bounded: a slow client holds back
        self._next: Any = None
        self._task = asyncio.ensure_future(self._run(source))

    async def _run(self, source: AsyncIterator[pb.AssetPart]) -> None:
        try:
            async for part in source:
                await self._queue.put(part)
            await self._queue.put(self._END)
        except BaseException as exc:
            await self._queue.put(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise

    async def peek(self) -> pb.AssetPart | None:
        if self._next is None:
            self._next = await self._queue.get()
        if isinstance(self._next, BaseException):
            raise self._next
        return None if self._next is self._END else self._next

    async def next(self) -> pb.AssetPart | None:
        part = await self.peek()
        if part is not None:
            self._next = None
        return part

    async def aclose(self) -> None:
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task


class _NoCache:
    """The front keeps no assets: a stand-in for the base class's cache slot (the metrics
    read its stats and size; `Running.stop` closes it)."""

    def __init__(self):
        from server.cache import CacheStats

        self.stats = CacheStats()
        self._hot_bytes = 0

    def total_bytes(self) -> int:
        return 0

    def contains(self, asset_id: str) -> bool:
        return False

    def close(self) -> None:
        pass


class Front:
    """The ingress: the embedded server's gRPC front (and HTTP face, and metrics endpoint)
    over a Router to the model deployments, listening on `config.address`."""

    async def __init__(self, handles: Mapping[str, DeploymentHandle], config: ServerConfig,
                       options: RayOptions):
        from server.app import create_server

        t0 = time.perf_counter()
        infos = []
        for handle in handles.values():  # each waits for that model's first replica
            raw = await asyncio.wait_for(handle.info.remote(), options.start_timeout_s)
            infos.append(pb.ModelInfo.FromString(raw))
        self.router = Router(handles, infos, config)
        self.running = await create_server(config, service=self.router)
        log.info("ray front serving gRPC on port %d%s for %d models (%.1f s to start)",
                 self.running.port, "" if self.running.http_port is None else
                 f", HTTP on port {self.running.http_port}", len(infos),
                 time.perf_counter() - t0)

    def ports(self) -> dict[str, int | None]:
        """{'grpc': port, 'http': port or None, 'metrics': port or None}."""
        r = self.running
        return {"grpc": r.port, "http": r.http_port, "metrics": r.metrics_port}

    async def __del__(self) -> None:
        running = getattr(self, "running", None)  # None when __init__ failed
        if running is not None:
            await running.stop(self.router.config.shutdown_grace_s)


# ---------------------------------------------------------------------------- assembly


def build(config: ServerConfig, options: RayOptions | None = None):
    """The Serve application: a deployment per model and the front, bound."""
    require_ray()
    options = options or RayOptions()
    # Replicas do not run in this process's working directory: paths must be absolute.
    config = replace(config, data_dir=Path(config.data_dir).resolve(),
                     viewer_dir=Path(config.viewer_dir).resolve())
    models = list(options.models or config.models)
    if not models:
        from generators.core.registry import add_model_dir, names

        for model_dir in config.model_dirs:
            add_model_dir(model_dir)
        models = names()
    unknown = set(options.model_replicas) - set(models)
    if unknown:
        raise ValueError(f"replicas given for models not deployed: {', '.join(sorted(unknown))}"
                         f"; deployed: {', '.join(models)}")
    model_deployment = serve.deployment(ModelReplica)
    handles = {name: model_deployment.options(**options.deployment_options(name, config))
               .bind(name, config, options) for name in models}
    front = serve.deployment(Front).options(
        name=FRONT, num_replicas=1, ray_actor_options={"num_cpus": 0},
        graceful_shutdown_timeout_s=config.shutdown_grace_s)
    return front.bind(handles, config, options)


def build_app(args: dict[str, Any]):
    """`serve run` / `serve deploy` entry (import_path: server.ray_serve:build_app): `args`
    holds ServerConfig fields (address, data_dir, http_address, workers, ...) and RayOptions
    fields (replicas, model_replicas, autoscale: [MIN, MAX], replica_cpus, torch_threads)."""
    server_names = {f.name for f in fields(ServerConfig)}
    option_names = {f.name for f in fields(RayOptions)}
    unknown = set(args) - server_names - option_names
    if unknown:
        raise ValueError(f"unknown args: {', '.join(sorted(unknown))}; allowed: ServerConfig "
                         f"fields ({', '.join(sorted(server_names))}) and RayOptions fields "
                         f"({', '.join(sorted(option_names))})")
    server_args = {k: v for k, v in args.items() if k in server_names}
    for key in ("models", "model_dirs"):
        if key in server_args:
            server_args[key] = tuple(server_args[key])
    option_args = {k: v for k, v in args.items() if k in option_names}
    if "models" in option_args:
        option_args["models"] = tuple(option_args["models"])
    if option_args.get("autoscale") is not None:
        option_args["autoscale"] = tuple(option_args["autoscale"])
    return build(ServerConfig(**server_args), RayOptions(**option_args))


def connect(address: str | None) -> None:
    """Join the Ray cluster at `address` ('auto': the one this node belongs to), or start a
    local one (None). Ray installs its own SIGTERM handler (which aborts) as it starts."""
    require_ray()
    import ray

    if not ray.is_initialized():
        ray.init(address=address or "local", include_dashboard=False, log_to_driver=True)


def run(config: ServerConfig, options: RayOptions, address: str | None = None,
        name: str = "vitrine") -> dict[str, int | None]:
    """Deploy on the Ray cluster at `address` ('auto': the one this node belongs to; None:
    start a local one) and return the front's ports. Blocks until every model is up."""
    connect(address)
    serve.start(proxy_location="Disabled")  # our front is the ingress, not Serve's proxy
    app = build(config, options)
    try:
        handle = serve.run(app, name=name, route_prefix=None)
        return handle.ports.remote().result()
    except Exception as err:  # Serve's own errors: a replica that cannot load, a bind failure
        raise RuntimeError(f"deploying on Ray failed (each replica's log says why; "
                           f"`serve status` too): {type(err).__name__}: {err}") from err


def serve_forever(config: ServerConfig, options: RayOptions, address: str | None,
                  port_file: str | None = None) -> None:
    """`vitrine serve --ray`: deploy, log where it listens, run until SIGINT/SIGTERM, then
    delete the application (in-flight calls get config.shutdown_grace_s)."""
    import signal
    import threading

    connect(address)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # after Ray's own handlers, to replace them
        signal.signal(sig, lambda *_: stop.set())
    ports = run(config, options, address)
    log.info("vitrine on Ray Serve: gRPC on %s:%d%s (models: %s)",
             config.address.rsplit(":", 1)[0], ports["grpc"],
             "" if ports["http"] is None else f", HTTP on port {ports['http']}",
             ", ".join(options.models or config.models) or "all")
    if port_file:
        Path(port_file).write_text(str(ports["grpc"]))
    stop.wait()
    log.info("shutting down the Ray Serve application")
    serve.delete("vitrine")
    serve.shutdown()


def options_from_flags(replicas: Sequence[str], autoscale: str | None, replica_cpus: float,
                       torch_threads: int, models: Sequence[str] = ()) -> RayOptions:
    """RayOptions from `vitrine serve --ray` flags; ValueError naming the flag and the form."""
    every, per_model = 1, {}
    for spec in replicas:
        name, sep, count = spec.rpartition("=")
        if not count.isdigit() or int(count) < 1 or (sep and not name):
            raise ValueError(f"--ray-replicas must be N or MODEL=N with N >= 1, got {spec!r}")
        if sep:
            per_model[name] = int(count)
        else:
            every = int(count)
    scale = None
    if autoscale is not None:
        lo, sep, hi = autoscale.partition(":")
        if not (sep and lo.isdigit() and hi.isdigit()):
            raise ValueError(f"--ray-autoscale must be MIN:MAX (e.g. 1:4), got {autoscale!r}")
        scale = (int(lo), int(hi))
    try:
        return RayOptions(models=tuple(models), replicas=every, model_replicas=per_model,
                          autoscale=scale, replica_cpus=replica_cpus,
                          torch_threads=torch_threads)
    except ValueError as err:
        raise ValueError(f"--ray-autoscale / --ray-replica-cpus: {err}") from err
