"""The HTTP face: the catalog, generation and asset files as JSON and plain GETs (aiohttp).

It runs on the gRPC server's event loop (`vitrine serve --http-address HOST:PORT`) and calls
the same AssetService steps as the rpcs (`catalog`, `generate_one`, `fetch`), so both faces
share the cache, validation, scheduler limits, coalescing and metrics. Engine URL loaders
(glTFast, glTFRuntime, three.js GLTFLoader), browsers, Unity WebGL and CDNs need nothing else.

    GET  /v1/models                          the catalog: ListModelsResponse as proto3 JSON
    POST /v1/generate                        a GenerateRequest in proto3 JSON -> Asset
    GET  /v1/assets/{asset_id}               Asset: {"header": AssetHeader, "files": [{name, url}]}
    GET  /v1/assets/{asset_id}/{file_name}   the file's bytes: Range, ETag, immutable caching
    GET  /v1/openapi.json                    the OpenAPI 3.1 document (server/http_openapi.py)
    GET  /viewer/{path}                      the web viewer's files (clients/web)

`POST /v1/generate` takes an optional `X-Request-Timeout: <seconds>` header, gRPC's deadline
for HTTP: a call that cannot finish in it is refused at once (429 with Retry-After, as the
scheduler refuses a gRPC call whose deadline is too near), and one still running when it
passes is stopped and answered 504 DEADLINE_EXCEEDED.

Errors are `{"code": "NOT_FOUND", "message": ..., "field": ...}` from the same CallErrors the
gRPC side turns into statuses (server/status.py).

With `--auth-tokens`, every route but CORS preflights and /viewer/ needs the header
`Authorization: Bearer <token>` (401 UNAUTHENTICATED without it); the same per-client limits
as gRPC apply (429 with Retry-After). The viewer sends no token: with tokens on, it can show
files but not call the API. Every response carries `X-Request-Id` (the client's own, when it
sends a sane one), also on the request's log lines. With `--tls-cert` this face is HTTPS with
the same certificate (and client CA).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import mimetypes
import re
import time
from pathlib import Path
from urllib.parse import quote

import grpc
from aiohttp import web
from google.protobuf import json_format
from prometheus_client import Counter, Histogram
from vitrine.v1 import assets_pb2 as pb

from generators.core.errors import short_repr
from server.auth import clean_request_id, current_client, current_deadline, current_request_id
from server.http_openapi import OPENAPI
from server.limits import Refused
from server.service import AssetService, Ready
from server.status import CallError, to_call_error

log = logging.getLogger(__name__)

# Ids are content addresses (model version + canonical request): a file's bytes never change.
IMMUTABLE = "public, max-age=31536000, immutable"
# CORS: any origin may read (nothing here depends on cookies); the headers a resumable
# download and a cache check need are exposed to scripts.
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "ETag, Content-Range, Content-Length, Accept-Ranges, "
                                     "X-Request-Id, Retry-After",
}
PREFLIGHT_MAX_AGE_S = 86_400
# How each status of the gRPC side reads over HTTP.
HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.OUT_OF_RANGE: 416,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.CANCELLED: 499,  # the client went away (nginx's convention)
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
# aiohttp's own refusals (no such route, wrong method, body too large) in the same JSON.
_CODE_OF_STATUS = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 405: "UNIMPLEMENTED",
                   401: "UNAUTHENTICATED", 413: "INVALID_ARGUMENT", 416: "OUT_OF_RANGE",
                   429: "RESOURCE_EXHAUSTED",
                   503: "UNAVAILABLE"}
# Types the viewer's files need that Python's mimetypes may not know (a module script served
# as application/octet-stream is refused by browsers).
_VIEWER_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".json": "application/json",
                 ".glb": "model/gltf-binary", ".wasm": "application/wasm", ".css": "text/css",
                 ".html": "text/html"}
_REQUEST_ID = web.RequestKey("request_id", str)
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class _Unsatisfiable(Exception):
    pass


def byte_range(value: str, size: int) -> tuple[int, int] | None:
    """The (first, last) bytes, inclusive, of a `Range: bytes=...` header for a file of `size`
    bytes; None when the header is to be ignored (another unit, several ranges, or not a valid
    range: RFC 9110 lets a server answer those with the whole file); raises _Unsatisfiable
    for a range that starts at or past the end."""
    m = _RANGE.fullmatch(value.strip())
    if m is None or m.groups() == ("", ""):
        return None
    first, last = m.groups()
    if first == "":  # bytes=-N: the last N bytes
        if int(last) == 0 or size == 0:
            raise _Unsatisfiable
        return max(0, size - int(last)), size - 1
    start = int(first)
    if last != "" and int(last) < start:
        return None
    if start >= size:
        raise _Unsatisfiable
    return start, size - 1 if last == "" else min(int(last), size - 1)


def _etag_matches(header: str | None, etag: str) -> bool:
    """If-None-Match's weak comparison: `*`, or any listed tag (W/ or not) equal to etag."""
    if not header:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


def asset_json(ready: Ready) -> dict:
    """The Asset document: the header in proto3 JSON and each file's URL (header order)."""
    header = ready.header
    return {
        "header": json_format.MessageToDict(header, always_print_fields_with_no_presence=True),
        "files": [{"name": f.name, "url": f"/v1/assets/{header.asset_id}/{quote(f.name)}"}
                  for f in header.files],
    }


def error_response(status: int, code: str, message: str, field: str = "",
                   headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"code": code, "message": message, "field": field},
                             status=status, headers=headers)


def call_error_response(err: CallError) -> web.Response:
    headers = {}
    if err.retry_after_s is not None:
        headers["Retry-After"] = str(max(1, math.ceil(err.retry_after_s)))
    return error_response(HTTP_STATUS.get(err.code, 500), err.code.name, err.message,
                          err.field, headers)


# POST /v1/generate's deadline, as gRPC's grpc-timeout: seconds the client will wait.
TIMEOUT_HEADER = "X-Request-Timeout"
MAX_TIMEOUT_S = 3600.0


def _request_timeout(value: str | None) -> float | None:
    """The header's seconds (0 < s <= 3600), None when absent; INVALID_ARGUMENT otherwise."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds <= MAX_TIMEOUT_S:  # also NaN
        raise CallError(grpc.StatusCode.INVALID_ARGUMENT,
                        f"{TIMEOUT_HEADER}: {short_repr(value)} is not a number of seconds in "
                        f"(0, {MAX_TIMEOUT_S:g}]", TIMEOUT_HEADER)
    return seconds


class HttpFace:
    """The aiohttp application over one AssetService, and its site once started."""

    def __init__(self, service: AssetService, viewer_dir: Path):
        self.service = service
        self.viewer_dir = Path(viewer_dir)
        self.port: int | None = None
        self.draining = False
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._tasks: set[asyncio.Task] = set()  # handlers running now, for the drain
        self._idle = asyncio.Event()
        self._idle.set()
        registry = service.metrics.registry
        self.requests = Counter(
            "vitrine_http_requests", "HTTP requests finished, by route (the path template, "
            "'unmatched' for none) and HTTP status code", ["route", "code"], registry=registry)
        self.latency = Histogram(
            "vitrine_http_request_seconds", "HTTP request duration until the response is "
            "written, by route", ["route"], buckets=_LATENCY_BUCKETS, registry=registry)
        self.app = self._build_app()

    # ------------------------------------------------------------------ assembly

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._observed, self._gate, self._errors])
        r = app.router
        r.add_get("/v1/models", self.models, allow_head=False)
        r.add_post("/v1/generate", self.generate)
        r.add_get("/v1/assets/{asset_id}", self.asset, allow_head=False)
        r.add_get("/v1/assets/{asset_id}/{file_name}", self.file)  # HEAD too: size and ETag
        r.add_get("/v1/openapi.json", self.openapi, allow_head=False)
        r.add_get("/viewer", self.viewer_redirect, allow_head=False)
        r.add_get("/viewer/{path:.*}", self.viewer, allow_head=False)
        for resource in r.resources():
            resource.add_route("OPTIONS", self.preflight)
        app.on_response_prepare.append(_add_cors)
        return app

    async def start(self, address: str, ssl_context=None) -> int:
        """Bind `address` (HOST:PORT; port 0 picks one) and serve (HTTPS with `ssl_context`);
        returns the port. OSError when it cannot bind."""
        host, _, port = address.rpartition(":")
        # handler_cancellation: a client that goes away cancels its generation, as on gRPC.
        self._runner = web.AppRunner(self.app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, host.strip("[]"), int(port),
                                 ssl_context=ssl_context)
        try:
            await self._site.start()
        except OSError:
            await self._runner.cleanup()
            raise
        self.port = self._runner.addresses[0][1]
        return self.port

    async def stop(self, grace: float | None) -> None:
        """Stop accepting connections; requests in flight get `grace` seconds (None = none)
        to finish, then are cancelled; a new request on an open connection gets 503."""
        self.draining = True
        if self._site is not None:
            await self._site.stop()
        if self._tasks:
            try:
                await asyncio.wait_for(self._idle.wait(), grace or 0)
            except TimeoutError:
                log.warning("HTTP: cancelling %d requests still running after %.0f s",
                            len(self._tasks), grace or 0)
                for task in list(self._tasks):
                    task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------------ middleware

    @web.middleware
    async def _observed(self, request: web.Request, handler) -> web.StreamResponse:
        """Refuse new requests while draining; count each request by route and status."""
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        start, status = time.perf_counter(), 500
        rid = clean_request_id(request.headers.get("X-Request-Id"))
        request[_REQUEST_ID] = rid
        current_request_id.set(rid)
        task = asyncio.current_task()
        self._tasks.add(task)
        self._idle.clear()
        try:
            if self.draining:
                response: web.StreamResponse = error_response(
                    503, "UNAVAILABLE", "server shutting down; retry on another server",
                    headers={"Connection": "close"})
            else:
                response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:  # redirects
            status = exc.status
            raise
        except asyncio.CancelledError:
            status = 499
            raise
        finally:
            self._tasks.discard(task)
            if not self._tasks:
                self._idle.set()
            self.requests.labels(route, str(status)).inc()
            self.latency.labels(route).observe(time.perf_counter() - start)

    @web.middleware
    async def _gate(self, request: web.Request, handler) -> web.StreamResponse:
        """Tokens and per-client limits, as the gRPC side's CallGate (server/auth.py)."""
        auth, limiter = self.service.auth, self.service.limiter
        if auth is None or request.method == "OPTIONS" or request.path == "/viewer" or \
                request.path.startswith("/viewer/"):
            return await handler(request)
        identity = auth.identify(request.headers.get("Authorization"),
                                 request.remote or "unknown")
        if identity is None:
            log.info("HTTP %s %s: refused: missing or unknown bearer token (401)",
                     request.method, short_repr(request.path))
            self.service.metrics.refusals.labels("unauthenticated", "unauthenticated").inc()
            return error_response(401, "UNAUTHENTICATED", "missing or unknown token: send the "
                                  "header 'Authorization: Bearer <token>'",
                                  headers={"WWW-Authenticate": "Bearer"})
        current_client.set(identity)
        try:
            release = limiter.acquire(identity.name, identity.limits)
        except Refused as exc:
            self.service.metrics.refusals.labels(identity.name, exc.reason).inc()
            return error_response(429, "RESOURCE_EXHAUSTED", str(exc), headers={
                "Retry-After": str(max(1, math.ceil(exc.retry_after_s)))})
        try:
            return await handler(request)
        finally:
            release()

    @web.middleware
    async def _errors(self, request: web.Request, handler) -> web.StreamResponse:
        """Every failure as JSON: the service's CallErrors with their status, aiohttp's own
        refusals (404 no route, 405, 413) with the nearest code."""
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
            message = exc.reason if exc.status != 404 else \
                f"no route {request.method} {short_repr(request.path)}; see /v1/openapi.json"
            return error_response(exc.status, _CODE_OF_STATUS.get(exc.status, "UNKNOWN"),
                                  message, headers=headers)
        except Exception as exc:  # every failure becomes a JSON error
            err = to_call_error(exc)
            self.service.count_error(err)
            if err.code == grpc.StatusCode.INTERNAL:
                log.exception("HTTP %s %s: internal error", request.method, request.path,
                              exc_info=exc)
            return call_error_response(err)

    # ------------------------------------------------------------------ routes

    async def models(self, request: web.Request) -> web.Response:
        return web.json_response(json_format.MessageToDict(
            self.service.catalog(), always_print_fields_with_no_presence=True))

    async def generate(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            doc = json.loads(body)
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
            raise CallError(grpc.StatusCode.INVALID_ARGUMENT,
                            f"body: not JSON ({exc}); send a GenerateRequest in proto3 JSON, "
                            'e.g. {"model": "procedural", "category": "chair"}', "body") from exc
        if not isinstance(doc, dict):
            raise CallError(grpc.StatusCode.INVALID_ARGUMENT,
                            f"body: a JSON {type(doc).__name__}, not an object; send a "
                            "GenerateRequest in proto3 JSON", "body")
        try:
            req = json_format.ParseDict(doc, pb.GenerateRequest())
        except json_format.ParseError as exc:
            raise CallError(grpc.StatusCode.INVALID_ARGUMENT,
                            f"body: not a GenerateRequest: {exc}", "body") from exc
        timeout = _request_timeout(request.headers.get(TIMEOUT_HEADER))
        if timeout is None:
            return web.json_response(asset_json(await self.service.generate_one(req)))
        # The deadline the scheduler admits by (a call that cannot finish in it is refused up
        # front, 429), and the one that stops the work when it passes (504).
        current_deadline.set(time.monotonic() + timeout)
        try:
            ready = await asyncio.wait_for(self.service.generate_one(req), timeout)
        except TimeoutError:
            raise CallError(grpc.StatusCode.DEADLINE_EXCEEDED,
                            f"{TIMEOUT_HEADER}: the asset was not ready within {timeout:g} s; "
                            "its generation was stopped", TIMEOUT_HEADER) from None
        return web.json_response(asset_json(ready))

    async def asset(self, request: web.Request) -> web.Response:
        ready = await self.service.fetch(request.match_info["asset_id"])
        return web.json_response(asset_json(ready))

    async def file(self, request: web.Request) -> web.Response:
        aid, name = request.match_info["asset_id"], request.match_info["file_name"]
        ready = await self.service.fetch(aid)  # regenerated when evicted
        names = [f.name for f in ready.header.files]
        if name not in names:
            raise CallError(grpc.StatusCode.NOT_FOUND,
                            f"file_name: asset {aid} has no file {short_repr(name)}; its files: "
                            f"{', '.join(names)}", "file_name")
        index = names.index(name)
        meta, data = ready.header.files[index], ready.files[index]
        etag = f'"{meta.sha256}"'
        headers = {"ETag": etag, "Cache-Control": IMMUTABLE, "Accept-Ranges": "bytes"}
        if _etag_matches(request.headers.get("If-None-Match"), etag):
            return web.Response(status=304, headers=headers)
        headers["Content-Type"] = meta.mime_type or "application/octet-stream"
        span, value = None, request.headers.get("Range")
        if value and request.headers.get("If-Range", etag) == etag:
            try:
                span = byte_range(value, len(data))
            except _Unsatisfiable:
                return error_response(
                    416, "OUT_OF_RANGE", f"Range: {short_repr(value)} starts at or past the end "
                    f"of {name} ({len(data)} bytes); allowed: first byte 0 to {len(data) - 1}",
                    "Range", {k: v for k, v in headers.items() if k != "Content-Type"} |
                    {"Content-Range": f"bytes */{len(data)}"})
        if span is None:
            body, status = data, 200
        else:
            first, last = span
            body, status = data[first:last + 1], 206
            headers["Content-Range"] = f"bytes {first}-{last}/{len(data)}"
        if request.method != "HEAD":
            self.service.metrics.bytes_streamed.inc(len(body))
        return web.Response(body=body, status=status, headers=headers)

    async def openapi(self, request: web.Request) -> web.Response:
        return web.json_response(OPENAPI)

    async def viewer_redirect(self, request: web.Request) -> web.Response:
        query = f"?{request.query_string}" if request.query_string else ""
        raise web.HTTPFound(f"/viewer/{query}")

    async def viewer(self, request: web.Request) -> web.StreamResponse:
        root = self.viewer_dir.resolve()
        if not root.is_dir():
            raise CallError(grpc.StatusCode.NOT_FOUND, f"path: the web viewer is not installed "
                            f"on this server ({root} does not exist)", "path")
        path = (root / request.match_info["path"]).resolve()
        if path.is_dir():
            path = path / "index.html"
        if not path.is_relative_to(root) or not path.is_file():
            raise CallError(grpc.StatusCode.NOT_FOUND,
                            f"path: no file {short_repr(request.match_info['path'])} in the web "
                            "viewer", "path")
        kind = _VIEWER_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or \
            "application/octet-stream"
        # no-cache: the viewer changes with the server; the browser revalidates by ETag.
        return web.FileResponse(path, headers={"Content-Type": kind, "Cache-Control": "no-cache"})

    async def preflight(self, request: web.Request) -> web.Response:
        allowed = request.headers.get("Access-Control-Request-Headers",
                                      "Content-Type, Range, If-None-Match, If-Range, "
                                      "Authorization, X-Request-Id, X-Request-Timeout")
        return web.Response(status=204, headers={
            "Access-Control-Allow-Methods": "GET, HEAD, POST, OPTIONS",
            "Access-Control-Allow-Headers": allowed,
            "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_S)})


async def _add_cors(request: web.Request, response: web.StreamResponse) -> None:
    for key, value in CORS_HEADERS.items():
        response.headers.setdefault(key, value)
    if _REQUEST_ID in request:
        response.headers.setdefault("X-Request-Id", request[_REQUEST_ID])
