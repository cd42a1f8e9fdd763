"""Who is calling: bearer tokens, TLS credentials, and the per-call wrapper that every rpc but
health goes through (auth, the caller's identity and limits, a request id).

The tokens file (`vitrine serve --auth-tokens FILE`) has one client per line:

    # token                client-name   [limits, key=value]
    3f9c0a...e1            studio-a      concurrency=8 rate=20/s
    77d1b2...9a            build-farm    concurrency=32 rate=100/s burst=200

Blank lines and `#` comments are ignored. Tokens are opaque strings of at least 16 characters
(`openssl rand -hex 32` makes one). A client's limits (server/limits.py) are optional; those
not given take the server's defaults:

    concurrency=N   calls of this client in progress at once (gRPC streams and HTTP requests
                    together), beyond which it is refused with RESOURCE_EXHAUSTED at once
    rate=R/s        calls started per second, sustained (also R/min); `rate=0` = no rate limit
    burst=N         calls that may start at once above the rate (default: max(1, R))

Clients send `authorization: Bearer <token>` (gRPC metadata, or the HTTP header). Tokens are
compared with `hmac.compare_digest` against every known token, so the time taken does not
depend on how much of a guess matched.
"""

from __future__ import annotations

import contextvars
import hmac
import logging
import re
import secrets
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc

from server.limits import ClientLimits, Limiter, Refused

log = logging.getLogger(__name__)

MIN_TOKEN_CHARS = 16
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
# Methods that need no token: load balancers probe health without credentials.
OPEN_PREFIXES = ("/grpc.health.v1.Health/",)


class TokenFileError(ValueError):
    """The tokens file cannot be read or a line of it is malformed (names the line)."""


@dataclass(frozen=True)
class ClientIdentity:
    name: str  # the token's client name, or "peer:<host>" for a caller without a token
    limits: ClientLimits
    authenticated: bool = False


# The calling client and the call's request id, for the service and for log lines.
current_client: contextvars.ContextVar[ClientIdentity | None] = contextvars.ContextVar(
    "vitrine_client", default=None)
current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "vitrine_request_id", default="-")
# time.perf_counter() when the call was admitted (for the refusal-latency histogram).
current_call_start: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "vitrine_call_start", default=None)
# time.monotonic() at which the call's deadline passes; None = no deadline.
current_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "vitrine_deadline", default=None)


def new_request_id() -> str:
    return secrets.token_hex(8)


class RequestIdFilter(logging.Filter):
    """Puts the current call's request id on every log record (`%(request_id)s`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id.get()
        return True


def parse_tokens(path: str | Path, defaults: ClientLimits) -> dict[str, ClientIdentity]:
    """token -> identity from a tokens file; TokenFileError naming the file and the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise TokenFileError(f"cannot read the tokens file {path}: "
                             f"{getattr(err, 'strerror', None) or err}") from err
    tokens: dict[str, ClientIdentity] = {}
    names: set[str] = set()
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        where = f"{path}:{number}"
        if len(words) < 2:
            raise TokenFileError(f"{where}: expected '<token> <client-name> [key=value ...]', "
                                 f"got {len(words)} field")
        token, name, fields = words[0], words[1], words[2:]
        if len(token) < MIN_TOKEN_CHARS:
            raise TokenFileError(f"{where}: token too short ({len(token)} characters; at least "
                                 f"{MIN_TOKEN_CHARS}: `openssl rand -hex 32` makes one)")
        if not _NAME.fullmatch(name) or name.startswith("peer:"):
            raise TokenFileError(f"{where}: client name {name[:70]!r}: use 1-64 letters, digits "
                                 "and . _ @ -, starting with a letter or digit")
        if token in tokens:
            raise TokenFileError(f"{where}: this token is already given to "
                                 f"{tokens[token].name!r}")
        if name in names:
            raise TokenFileError(f"{where}: client name {name!r} appears twice")
        try:
            limits = defaults.with_fields(fields)
        except ValueError as err:
            raise TokenFileError(f"{where}: {err}") from err
        tokens[token] = ClientIdentity(name, limits, authenticated=True)
        names.add(name)
    if not tokens:
        raise TokenFileError(f"{path}: no tokens (one line per client: "
                             "'<token> <client-name> [key=value ...]')")
    return tokens


class Authenticator:
    """Checks bearer tokens (when a tokens file is given) and names the caller."""

    def __init__(self, tokens: dict[str, ClientIdentity] | None, defaults: ClientLimits):
        self.tokens = tokens  # None: no authentication, clients are named by peer host
        self.defaults = defaults
        self._known = list((tokens or {}).items())

    @property
    def enabled(self) -> bool:
        return self.tokens is not None

    def identify(self, authorization: str | None, peer_host: str) -> ClientIdentity | None:
        """The caller's identity; None when tokens are on and this one is missing or wrong."""
        if not self.enabled:
            return ClientIdentity(f"peer:{peer_host}", self.defaults)
        if not authorization:
            return None
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        token = token.strip().encode()
        found = None
        for known, identity in self._known:  # compare with every token: constant time
            if hmac.compare_digest(known.encode(), token):
                found = identity
        return found


def peer_host(peer: str | None) -> str:
    """'ipv4:127.0.0.1:5555' / 'ipv6:[::1]:5555' -> the host alone (one client may open many
    connections, from many ports)."""
    if not peer:
        return "unknown"
    _, _, rest = peer.partition(":")
    host = rest.rsplit(":", 1)[0] if ":" in rest else rest
    return host.strip("[]") or "unknown"


# ---------------------------------------------------------------------------- TLS


def _read(path: str | Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as err:
        raise OSError(f"cannot read the TLS {what} {path}: {err.strerror or err}") from err


def server_credentials(cert: str | Path, key: str | Path,
                       client_ca: str | Path | None = None) -> grpc.ServerCredentials:
    """TLS for the gRPC port; mTLS (a client certificate signed by `client_ca` required) when
    a CA is given."""
    pair = [(_read(key, "key"), _read(cert, "certificate"))]
    if client_ca is None:
        return grpc.ssl_server_credentials(pair)
    return grpc.ssl_server_credentials(pair, root_certificates=_read(client_ca, "client CA"),
                                       require_client_auth=True)


def server_ssl_context(cert: str | Path, key: str | Path,
                       client_ca: str | Path | None = None) -> ssl.SSLContext:
    """The same certificate (and client CA) for the HTTP face."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        ctx.load_cert_chain(str(cert), str(key))
        if client_ca is not None:
            ctx.load_verify_locations(str(client_ca))
            ctx.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as err:
        raise OSError(f"cannot load the TLS certificate/key ({cert}, {key}): {err}") from err
    return ctx


# ---------------------------------------------------------------------------- interceptor


def _abort_code(exc: Refused) -> tuple[grpc.StatusCode, str, tuple]:
    from server.status import CallError

    err = CallError(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc), retry_after_s=exc.retry_after_s)
    return err.code, err.message, err.trailing_metadata()


class CallGate(grpc.aio.ServerInterceptor):
    """Wraps every handler but health's: a missing or wrong token is UNAUTHENTICATED; the
    caller's concurrency and rate limits are applied (RESOURCE_EXHAUSTED with RetryInfo);
    the call gets a request id (trailing metadata `x-request-id`, and on its log lines)."""

    def __init__(self, auth: Authenticator, limiter: Limiter,
                 on_refused: Callable[[str, str], None] | None = None):
        self.auth, self.limiter, self.on_refused = auth, limiter, on_refused

    async def intercept_service(self, continuation, details):
        handler = await continuation(details)
        if handler is None or details.method.startswith(OPEN_PREFIXES):
            return handler
        metadata = details.invocation_metadata or ()
        authorization = next((v for k, v in metadata if k == "authorization"), None)
        if isinstance(authorization, bytes):
            authorization = authorization.decode("latin-1")
        rid = next((v for k, v in metadata if k == "x-request-id"), None)
        return _wrap(handler, self, authorization, clean_request_id(rid), details.method)

    async def admit(self, context, authorization: str | None, rid: str, method: str):
        """Identify and admit a call; returns (identity, release) or aborts it."""
        current_call_start.set(time.perf_counter())
        current_request_id.set(rid)
        context.set_trailing_metadata((("x-request-id", rid),))
        remaining = context.time_remaining()
        current_deadline.set(None if remaining is None or remaining > 1e8
                             else time.monotonic() + remaining)
        identity = self.auth.identify(authorization, peer_host(context.peer()))
        if identity is None:
            log.info("%s: refused: missing or unknown bearer token (UNAUTHENTICATED)", method)
            if self.on_refused is not None:
                self.on_refused("unauthenticated", "unauthenticated")
            await context.abort(grpc.StatusCode.UNAUTHENTICATED,
                                "missing or unknown token: send metadata 'authorization: "
                                "Bearer <token>'", (("x-request-id", rid),))
        current_client.set(identity)
        try:
            release = self.limiter.acquire(identity.name, identity.limits)
        except Refused as exc:
            if self.on_refused is not None:
                self.on_refused(identity.name, exc.reason)
            code, message, trailers = _abort_code(exc)
            await context.abort(code, message, (*trailers, ("x-request-id", rid)))
        return identity, release


def clean_request_id(rid) -> str:
    """A client's own x-request-id when it is a sane token, else a new one."""
    if isinstance(rid, bytes):
        rid = rid.decode("latin-1", "replace")
    if isinstance(rid, str) and re.fullmatch(r"[A-Za-z0-9._:-]{1,64}", rid):
        return rid
    return new_request_id()


def _wrap(handler, gate: CallGate, authorization, rid: str, method: str):
    if handler.request_streaming and handler.response_streaming:
        inner, make = handler.stream_stream, grpc.stream_stream_rpc_method_handler
    elif handler.request_streaming:
        inner, make = handler.stream_unary, grpc.stream_unary_rpc_method_handler
    elif handler.response_streaming:
        inner, make = handler.unary_stream, grpc.unary_stream_rpc_method_handler
    else:
        inner, make = handler.unary_unary, grpc.unary_unary_rpc_method_handler

    if handler.response_streaming:
        async def streaming(request, context):
            _, release = await gate.admit(context, authorization, rid, method)
            try:
                result = inner(request, context)
                if hasattr(result, "__aiter__"):
                    async for item in result:
                        yield item
                else:  # a sync iterator
                    for item in result:
                        yield item
            finally:
                release()

        behaviour = streaming
    else:
        async def unary(request, context):
            _, release = await gate.admit(context, authorization, rid, method)
            try:
                result = inner(request, context)
                if hasattr(result, "__await__"):
                    result = await result
                return result
            finally:
                release()

        behaviour = unary
    return make(behaviour, request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
