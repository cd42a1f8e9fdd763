"""Errors as gRPC statuses with meaning, plus google.rpc details a client can act on."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from generators.core.errors import (
    Cancelled,
    GenerationFailed,
    InvalidOption,
    UnknownCategory,
    UnknownModel,
)
from server.scheduler import Overloaded

# A status message and its field travel in the trailers (twice with a BadRequest detail), and
# clients refuse trailers over their metadata limit (8 KiB by default) with RESOURCE_EXHAUSTED:
# a message that echoes a huge input must be cut, or the client never sees the real status.
MAX_MESSAGE_CHARS = 1024
MAX_FIELD_CHARS = 128


def bounded(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`text`, cut to about `limit` characters when longer: its start and its end are kept
    (the field first, what is allowed last), the middle is cut, saying how much."""
    if len(text) <= limit:
        return text
    head, tail = limit // 2, limit - limit // 2
    return f"{text[:head]}… ({len(text) - head - tail} characters cut) …{text[-tail:]}"


class CallError(Exception):
    """A request failure, ready to become a status (or an AssetPart.error in a batch)."""

    def __init__(self, code: grpc.StatusCode, message: str, field: str = "",
                 retry_after_s: float | None = None):
        message, field = bounded(message), bounded(field, MAX_FIELD_CHARS)
        super().__init__(message)
        self.code, self.message, self.field, self.retry_after_s = code, message, field, retry_after_s

    def trailing_metadata(self):
        details = []
        if self.field:
            detail = error_details_pb2.BadRequest(field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=self.field,
                                                            description=self.message)])
            details.append(detail)
        if self.retry_after_s is not None:
            delay = duration_pb2.Duration()
            delay.FromMilliseconds(int(self.retry_after_s * 1000))
            details.append(error_details_pb2.RetryInfo(retry_delay=delay))
        if not details:
            return ()  # grpc.aio's abort wants a sequence; None raises a TypeError (UNKNOWN)
        packed = []
        for d in details:
            a = any_pb2.Any()
            a.Pack(d)
            packed.append(a)
        status = status_pb2.Status(code=self.code.value[0], message=self.message, details=packed)
        return rpc_status.to_status(status).trailing_metadata


def to_call_error(exc: Exception, field_prefix: str = "") -> CallError:
    """Map a generator/scheduler exception to a CallError; unknown exceptions are INTERNAL."""
    if isinstance(exc, CallError):
        return exc
    if isinstance(exc, UnknownModel):
        return CallError(grpc.StatusCode.NOT_FOUND, str(exc), field_prefix + "model")
    if isinstance(exc, UnknownCategory):
        return CallError(grpc.StatusCode.NOT_FOUND, str(exc), field_prefix + "category")
    if isinstance(exc, InvalidOption):
        field = field_prefix + exc.field
        return CallError(grpc.StatusCode.INVALID_ARGUMENT, f"{field_prefix}{exc}", field)
    if isinstance(exc, Overloaded):
        return CallError(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc),
                         retry_after_s=exc.retry_after_s)
    if isinstance(exc, Cancelled):
        return CallError(grpc.StatusCode.CANCELLED, str(exc))
    if isinstance(exc, GenerationFailed):  # this request's own failure, already logged
        return CallError(grpc.StatusCode.INTERNAL, str(exc))
    return CallError(grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}: {exc}")


def rpc_code(code: grpc.StatusCode) -> int:
    """The google.rpc.Code number of a status (for AssetPart.error.code)."""
    return code.value[0]


