"""Server assembly: models + cache + servicers + health + reflection (+ the HTTP face and the
metrics endpoint when asked for), and graceful shutdown."""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from vitrine.v1 import assets_pb2 as pb

from generators.core.registry import Generator, add_model_dir, load_models
from server.auth import (
    Authenticator,
    CallGate,
    parse_tokens,
    server_credentials,
    server_ssl_context,
)
from server.cache import AssetCache
from server.config import ServerConfig
from server.http import HttpFace
from server.limits import Limiter
from server.metrics import MetricsEndpoint, serve_metrics
from server.render import SERVICE_NAME as RENDER_SERVICE_NAME
from server.render import RenderService
from server.render import add_to_server as add_render_to_server
from server.service import AssetService, add_to_server
from server.workers import ProcessPipeline, worker_spec

log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["AssetService"].full_name


@dataclass
class Running:
    server: grpc.aio.Server
    port: int
    service: AssetService
    health: health.aio.HealthServicer
    metrics: MetricsEndpoint | None = None  # the HTTP metrics endpoint, when one is served
    http: HttpFace | None = None  # the HTTP face (server/http.py), when one is served
    render: RenderService | None = None  # RenderService (server/render.py)

    @property
    def metrics_port(self) -> int | None:
        return None if self.metrics is None else self.metrics.port

    @property
    def http_port(self) -> int | None:
        return None if self.http is None else self.http.port

    async def stop(self, grace: float | None) -> None:
        """New calls get UNAVAILABLE (HTTP: 503) at once; in-flight streams and HTTP requests
        get `grace` seconds to finish, both faces draining together."""
        await self.health.enter_graceful_shutdown()
        await asyncio.gather(self.server.stop(grace),
                             self.http.stop(grace) if self.http is not None else asyncio.sleep(0))
        if self.metrics is not None:  # after the drain, so the last calls are still scraped
            await self.metrics.stop()
        self.service.scheduler.shutdown()
        if isinstance(self.service.pipeline, ProcessPipeline):
            self.service.pipeline.close()
        self.service.cache.close()


WORKER_START_S = 600.0  # loading every model takes ~7 s alone here; a loaded machine, more


async def create_server(
    config: ServerConfig, models: dict[str, Generator] | None = None,
    service: AssetService | None = None,
) -> Running:
    """Load the models (refusing to start if one cannot serve), bind, start; returns the port.
    With `service`, serve that servicer instead (its models and cache are its own: the Ray
    front's Router, server/ray_serve.py, forwards every call to the model deployments)."""
    workers = None
    if models is None and service is None:
        if config.worker_processes:  # they load their models while this process loads its own
            workers = ProcessPipeline(worker_spec(config), config.workers)
        for model_dir in config.model_dirs:
            add_model_dir(model_dir)
        try:
            models = load_models(config.models or None)
        except BaseException:
            if workers is not None:
                workers.close()
            raise
    defaults = config.client_limits()
    # Tokens and certificates are read before anything binds: a bad file is refused at start
    # (TokenFileError names the line; OSError names the file).
    tokens = parse_tokens(config.auth_tokens, defaults) if config.auth_tokens else None
    credentials = None
    ssl_context = None
    if config.tls:
        credentials = server_credentials(config.tls_cert, config.tls_key, config.tls_client_ca)
        ssl_context = server_ssl_context(config.tls_cert, config.tls_key, config.tls_client_ca)
    if service is None:
        cache = AssetCache(config.data_dir, config.cache_max_bytes,
                           memory_bytes=config.cache_memory_bytes)
        service = AssetService(models, cache, config)
        if workers is not None:
            service.pipeline = workers.attach(service.pipeline)
            # Ready means able to generate: the processes have loaded their models (in
            # parallel with this one) before the port opens; one that cannot refuses the start.
            try:
                await asyncio.to_thread(workers.wait_ready, WORKER_START_S)
            except BaseException:
                workers.close()
                service.cache.close()
                raise
    cache = service.cache
    auth = Authenticator(tokens, defaults)
    limiter = Limiter()
    service.auth, service.limiter = auth, limiter
    gate = CallGate(auth, limiter,
                    on_refused=lambda client, why: service.metrics.refusals.labels(
                        client, why).inc())
    server = grpc.aio.server(options=config.channel_options(), interceptors=[gate])
    add_to_server(service, server)  # bytes that do not parse: INVALID_ARGUMENT, no traceback
    # RenderService renders with the loaded models of kind "render" (neural-render) scenes of
    # the assets this AssetService made. A prebuilt servicer (the Ray front) brings no local
    # models: its front renders nothing until render models are deployed on Ray too.
    render = RenderService(service, models if models is not None else {})
    add_render_to_server(render, server)
    health_servicer = health.aio.HealthServicer()
    service.health = health_servicer  # NOT_SERVING while the data dir cannot be written
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, RENDER_SERVICE_NAME,
         health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
        server)
    try:
        port = (server.add_secure_port(config.address, credentials) if credentials is not None
                else server.add_insecure_port(config.address))
    except RuntimeError:  # grpcio >= 1.5x raises instead of returning 0
        port = 0
    if port == 0:
        cache.close()
        raise OSError(f"cannot bind {config.address}: address in use or not available")
    endpoint = None
    if config.metrics_address is not None:
        try:
            endpoint = serve_metrics(service.metrics, config.metrics_address)
        except OSError as err:
            await server.stop(None)
            cache.close()
            raise OSError(f"cannot bind the metrics address {config.metrics_address}: "
                          f"{err.strerror or err}") from err
    http = None
    if config.http_address is not None:
        http = HttpFace(service, config.viewer_dir)
        try:
            await http.start(config.http_address, ssl_context)
        except OSError as err:
            if endpoint is not None:
                await endpoint.stop()
            await server.stop(None)
            cache.close()
            raise OSError(f"cannot bind the HTTP address {config.http_address}: "
                          f"{err.strerror or err}") from err
    await server.start()
    for name in ("", SERVICE_NAME, RENDER_SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return Running(server, port, service, health_servicer, endpoint, http, render)


async def serve(config: ServerConfig, port_file: str | None = None) -> None:
    """Run until SIGINT/SIGTERM, then shut down gracefully."""
    running = await create_server(config)
    host = config.address.rsplit(":", 1)[0]
    auth = running.service.auth
    log.info("vitrine serving on %s:%d (models: %s; cache %s, cap %.1f GiB; %s; %s)", host,
             running.port, ", ".join(running.service.models), config.data_dir,
             config.cache_max_bytes / 2**30,
             "TLS" + (" with client certificates" if config.tls_client_ca else "")
             if config.tls else "plaintext",
             f"{len(auth.tokens)} client tokens" if auth.enabled else "no tokens")
    if running.http is not None:
        log.info("HTTP on %s://%s:%d/ (viewer: /viewer/, API: /v1/openapi.json)",
                 "https" if config.tls else "http", config.http_address.rsplit(":", 1)[0],
                 running.http_port)
    if port_file:
        Path(port_file).write_text(str(running.port))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down: finishing in-flight calls (up to %.0f s)", config.shutdown_grace_s)
    await running.stop(config.shutdown_grace_s)
    log.info("stopped")
