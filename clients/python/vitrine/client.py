"""A small synchronous client: list models, generate to bytes or files, fetch by id.

Every file is reassembled from its chunks and checked against the header's size and SHA-256
before it is returned. A stream that breaks mid-asset is resumed with `Fetch` from the first
missing byte, so a flaky connection costs a retry, not a regeneration.

`generate(..., progressive=True, on_file=fn)` asks for progressive streaming: on a cache miss
the server sends each file as soon as it is built (a prop's coarsest level of detail first),
and `fn(name, data)` is called with each file the moment it is complete and verified, so an
engine can show the coarse level while the finer ones are still being made.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.descriptor import FieldDescriptor

from vitrine.v1 import assets_pb2 as pb
from vitrine.v1 import assets_pb2_grpc as pb_grpc

DEFAULT_ADDRESS = os.environ.get("VITRINE_ADDRESS", "127.0.0.1:50051")
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
ProgressFn = Callable[[int, int], None]  # (bytes received, bytes expected so far)
FileFn = Callable[[str, bytes], None]  # (file name, its verified bytes)


class VitrineError(Exception):
    """The server refused a request, or could not be reached."""

    def __init__(self, code: grpc.StatusCode, message: str, field: str = ""):
        self.code, self.message, self.field = code, message, field
        super().__init__(f"{code.name}: {message}")


@dataclass
class Asset:
    header: pb.AssetHeader
    files: dict[str, bytes] = field(default_factory=dict)  # name -> bytes, streaming order

    @property
    def asset_id(self) -> str:
        return self.header.asset_id

    @property
    def seed(self) -> int:
        return self.header.seed

    def save(self, directory: str | os.PathLike) -> list[Path]:
        """Write every file into `directory` (created); returns the paths."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, data in self.files.items():
            path = out / Path(name).name  # never let a name escape the directory
            path.write_bytes(data)
            paths.append(path)
        return paths


class _Assembly:
    """Reassembles one asset from its parts and verifies it."""

    def __init__(self, header: pb.AssetHeader, on_file: FileFn | None = None):
        self.header = pb.AssetHeader()
        self.header.CopyFrom(header)  # a progressive stream appends the files announced later
        self.on_file = on_file
        self.pieces: list[list[bytes]] = []
        self.received: list[int] = []
        # Each file is hashed chunk by chunk as it arrives (hashlib lets go of the GIL, so this
        # overlaps the next chunk's transfer) instead of all at once at the end: a 1.9 MiB
        # textured cache hit waited 1.3 ms for its sha256 after the last byte.
        self.hashes: list = []
        self.replaying = False  # a restarted Generate resends bytes already received
        self._open(0)

    @property
    def file_count(self) -> int:
        """Files the asset has: the header's count (0 from older servers: all are listed)."""
        return self.header.file_count or len(self.header.files)

    def _open(self, start: int) -> None:
        for f in self.header.files[start:]:
            self.pieces.append([])
            self.received.append(0)
            self.hashes.append(hashlib.sha256())
            if f.size_bytes == 0:
                self._complete(len(self.pieces) - 1)

    def announce(self, f: pb.AssetFile) -> None:
        """A progressive stream's next file (`AssetPart.file`)."""
        if len(self.header.files) >= self.file_count:
            raise VitrineError(grpc.StatusCode.DATA_LOSS,
                               f"file part {f.name!r} past the asset's {self.file_count} files")
        self.header.files.append(f)
        self._open(len(self.header.files) - 1)

    def extend(self, header: pb.AssetHeader) -> None:
        """A resumed stream's header: it lists every file; take those not announced yet."""
        known = len(self.header.files)
        for f in header.files[known:]:
            self.header.files.append(f)
        self._open(known)

    def _complete(self, fi: int) -> None:
        f = self.header.files[fi]
        if self.hashes[fi].hexdigest() != f.sha256:
            raise VitrineError(grpc.StatusCode.DATA_LOSS, f"{f.name}: sha256 mismatch")
        if self.on_file is not None:
            self.on_file(f.name, b"".join(self.pieces[fi]))

    @property
    def total(self) -> int:
        return sum(f.size_bytes for f in self.header.files)

    @property
    def done_bytes(self) -> int:
        return sum(self.received)

    def add(self, chunk: pb.Chunk) -> None:
        fi = chunk.file_index
        if fi >= len(self.pieces):
            raise VitrineError(grpc.StatusCode.DATA_LOSS,
                               f"chunk for file {fi} of {len(self.pieces)}")
        if self.replaying and chunk.offset < self.received[fi]:  # bytes we have: skip them
            skip = self.received[fi] - chunk.offset
            if skip >= len(chunk.data):
                return
            chunk = pb.Chunk(file_index=fi, offset=self.received[fi], data=chunk.data[skip:])
        # Chunks of a file arrive in order, and a resumed stream starts at the first missing
        # byte, so each chunk must continue its file exactly.
        if chunk.offset != self.received[fi]:
            raise VitrineError(grpc.StatusCode.DATA_LOSS,
                               f"chunk at offset {chunk.offset} of file {fi}; expected "
                               f"{self.received[fi]}")
        end = chunk.offset + len(chunk.data)
        if end > self.header.files[fi].size_bytes:
            raise VitrineError(grpc.StatusCode.DATA_LOSS, f"chunk past the end of file {fi}")
        self.pieces[fi].append(chunk.data)
        self.hashes[fi].update(chunk.data)
        self.received[fi] = end
        if end == self.header.files[fi].size_bytes:
            self._complete(fi)

    @property
    def complete(self) -> bool:
        return len(self.header.files) == self.file_count and self.resume_point()[0] == \
            self.file_count

    def resume_point(self) -> tuple[int, int]:
        for i, f in enumerate(self.header.files):
            if self.received[i] < f.size_bytes:
                return i, self.received[i]
        return len(self.header.files), 0

    def finish(self) -> Asset:
        if len(self.header.files) < self.file_count:
            raise VitrineError(grpc.StatusCode.DATA_LOSS,
                               f"the stream ended after {len(self.header.files)} of "
                               f"{self.file_count} files")
        self.header.file_count = self.file_count
        files = {}
        for f, pieces, got, h in zip(self.header.files, self.pieces, self.received, self.hashes):
            if got != f.size_bytes:
                raise VitrineError(grpc.StatusCode.DATA_LOSS,
                                   f"{f.name}: got {got} of {f.size_bytes} bytes")
            if h.hexdigest() != f.sha256:
                raise VitrineError(grpc.StatusCode.DATA_LOSS, f"{f.name}: sha256 mismatch")
            files[f.name] = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        return Asset(self.header, files)


MAX_SEED = 2**63 - 1  # the server's seed range is 0 to 2^63-1 (0 = the server picks)

# Integer ranges of the proto scalar types an option field may have.
_INT_RANGES = {
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1), FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1), FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
}
_FLOATS = (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE)


@dataclass(frozen=True)
class OptionField:
    """One field of `vitrine.v1.Options`, as the generated descriptor declares it: the one
    table the client and the CLI read option names, types and enum values from, so a new
    field in the .proto needs no client edit."""

    name: str  # the proto field name, e.g. "max_triangles"
    kind: str  # "int", "float", "enum", "string" or "bool"
    lo: int | None = None  # integer fields: the range of their wire type
    hi: int | None = None
    prefix: str = ""  # enum fields: the value-name prefix, e.g. "PIVOT_"
    choices: tuple[str, ...] = ()  # enum fields: the values as clients write them: "center"

    def encode(self, value: Any) -> Any:
        """A Python value -> what the proto field takes ("center" -> PIVOT_CENTER)."""
        if self.kind != "enum":
            return value
        text = str(value).strip().upper().replace("-", "_").removeprefix(self.prefix)
        enum = pb.Options.DESCRIPTOR.fields_by_name[self.name].enum_type
        if text.lower() not in self.choices:
            raise ValueError(f"{self.name} must be one of {', '.join(self.choices)}; "
                             f"got {value!r}")
        return enum.values_by_name[self.prefix + text].number

    def decode(self, text: str) -> str:
        """A value name as the server reports it (PIVOT_CENTER) -> as clients write it."""
        return text.removeprefix(self.prefix).lower() if self.kind == "enum" and text else text


def _enum_prefix(enum) -> str:
    """NormalConvention -> "NORMAL_CONVENTION_" (the proto style guide's value prefix)."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", enum.name).upper() + "_"
    names = [v.name for v in enum.values]
    if all(n.startswith(snake) for n in names):
        return snake
    return os.path.commonprefix(names)


def _option_field(f) -> OptionField:
    if f.type == FieldDescriptor.TYPE_ENUM:
        prefix = _enum_prefix(f.enum_type)
        choices = tuple(v.name.removeprefix(prefix).lower() for v in f.enum_type.values
                        if v.number != 0)  # 0 is *_UNSPECIFIED: the model's default
        return OptionField(f.name, "enum", prefix=prefix, choices=choices)
    if f.type in _INT_RANGES:
        lo, hi = _INT_RANGES[f.type]
        return OptionField(f.name, "int", lo, hi)
    if f.type in _FLOATS:
        return OptionField(f.name, "float")
    if f.type == FieldDescriptor.TYPE_BOOL:
        return OptionField(f.name, "bool")
    return OptionField(f.name, "string")


OPTION_FIELDS: dict[str, OptionField] = {
    f.name: _option_field(f) for f in pb.Options.DESCRIPTOR.fields}


def request(model: str, category: str, seed: int = 0, **options: Any) -> pb.GenerateRequest:
    """Build a GenerateRequest; options by their proto names (pivot="center", format="glb").
    An option set to None is left unset (the model's default)."""
    opts = pb.Options()
    for name, value in options.items():
        if value is None:
            continue
        field_ = OPTION_FIELDS.get(name)
        if field_ is None:
            raise TypeError(f"unknown option {name!r}; options: {', '.join(OPTION_FIELDS)}")
        setattr(opts, name, field_.encode(value))
    return pb.GenerateRequest(model=model, category=category, seed=seed, options=opts)


class Client:
    def __init__(self, address: str = DEFAULT_ADDRESS, timeout: float | None = 300.0,
                 retries: int = 3, *, token: str | None = None,
                 ca_file: str | os.PathLike | None = None, tls: bool | None = None,
                 cert_file: str | os.PathLike | None = None,
                 key_file: str | os.PathLike | None = None):
        """`token`: sent as `authorization: Bearer <token>` on every call (default
        $VITRINE_TOKEN). TLS is used when `tls` is true or a `ca_file` (the PEM that signed
        the server's certificate; None with tls=True = the system roots) or a client
        certificate is given; `cert_file` + `key_file` are this client's certificate for a
        server that requires one (mTLS)."""
        self.address = address
        self.timeout = timeout  # per call, seconds; None = no deadline
        self.retries = retries  # Fetch-resumes after a broken stream
        token = token if token is not None else os.environ.get("VITRINE_TOKEN") or None
        self._metadata = (("authorization", f"Bearer {token}"),) if token else None
        options = [
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            # Idle connections stay open through proxies; the server accepts pings >= 10 s.
            ("grpc.keepalive_time_ms", 45_000),
            ("grpc.keepalive_permit_without_calls", 1),
        ]
        if (cert_file is None) != (key_file is None):
            raise ValueError("a client certificate needs both cert_file and key_file")
        self.tls = bool(tls or ca_file is not None or cert_file is not None)
        if self.tls:
            creds = grpc.ssl_channel_credentials(
                root_certificates=Path(ca_file).read_bytes() if ca_file else None,
                private_key=Path(key_file).read_bytes() if key_file else None,
                certificate_chain=Path(cert_file).read_bytes() if cert_file else None)
            self.channel = grpc.secure_channel(address, creds, options=options)
        else:
            self.channel = grpc.insecure_channel(address, options=options)
        self.stub = pb_grpc.AssetServiceStub(self.channel)

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> Client:  # noqa: PYI034
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def list_models(self) -> list[pb.ModelInfo]:
        return list(self._call(lambda: self.stub.ListModels(
            pb.ListModelsRequest(), timeout=self.timeout, metadata=self._metadata)).models)

    def generate(self, model: str, category: str, seed: int = 0, *,
                 progress: ProgressFn | None = None, progressive: bool = False,
                 on_file: FileFn | None = None, **options: Any) -> Asset:
        """Generate one asset; returns it verified. Raises VitrineError if refused.

        `progressive`: ask the server to stream each file as soon as it is built (the
        module docstring); `on_file(name, data)` hears of each file once it is verified."""
        req = request(model, category, seed, **options)
        req.progressive = progressive
        def start() -> Iterator[pb.AssetPart]:
            return self._stream(lambda: self.stub.Generate(req, timeout=self.timeout,
                                                           metadata=self._metadata))

        # A progressive miss cut off mid-asset stops its generation on the server, so the
        # Fetch that resumes it may find nothing: then the same request is sent again (same
        # bytes), and what already arrived is not handed over twice.
        return self._assemble(start(), progress, on_file, restart=start if progressive else None)

    def generate_batch(self, requests: Iterable[pb.GenerateRequest], *,
                       progress: ProgressFn | None = None) -> list[Asset | VitrineError]:
        """Many assets in one call; a refused request yields a VitrineError in its place."""
        reqs = list(requests)
        results: list[Asset | VitrineError | None] = [None] * len(reqs)
        current: dict[int, _Assembly] = {}
        for part in self._stream(lambda: self.stub.GenerateBatch(
                pb.GenerateBatchRequest(requests=reqs), timeout=self.timeout,
                metadata=self._metadata)):
            i = part.request_index
            kind = part.WhichOneof("part")
            if kind == "error":
                results[i] = VitrineError(grpc.StatusCode(_code(part.error.code)),
                                          part.error.message, part.error.field)
            elif kind == "header":
                current[i] = _Assembly(part.header)
            elif kind == "chunk":
                asm = current[i]
                asm.add(part.chunk)
                if asm.complete:
                    results[i] = asm.finish()
                    del current[i]
        for i, asm in current.items():  # zero-byte tails, or a short stream
            results[i] = asm.finish()
        return [r if r is not None else VitrineError(grpc.StatusCode.DATA_LOSS, "no answer")
                for r in results]

    def render(self, objects, poses, **kw):
        """Frames of one RenderService.Render stream: `vitrine.render.render(self, ...)`."""
        from vitrine.render import render

        return render(self, objects, poses, **kw)

    def render_frame(self, objects, camera, **kw):
        """One frame (RenderFrame; reference=True for the offline reference):
        `vitrine.render.render_frame(self, ...)`."""
        from vitrine.render import render_frame

        return render_frame(self, objects, camera, **kw)

    def fetch(self, asset_id: str, *, progress: ProgressFn | None = None) -> Asset:
        stream = self._stream(lambda: self.stub.Fetch(pb.FetchRequest(asset_id=asset_id),
                                                      timeout=self.timeout,
                                                      metadata=self._metadata))
        return self._assemble(stream, progress)

    # ------------------------------------------------------------------ internals

    def _assemble(self, parts: Iterator[pb.AssetPart], progress: ProgressFn | None,
                  on_file: FileFn | None = None,
                  restart: Callable[[], Iterator[pb.AssetPart]] | None = None) -> Asset:
        asm: _Assembly | None = None
        attempts = 0
        resuming = False
        while True:
            try:
                for part in parts:
                    if part.HasField("header"):
                        if asm is None:
                            asm = _Assembly(part.header, on_file)
                        else:  # a resumed stream (Fetch) lists every file
                            asm.extend(part.header)
                    elif part.HasField("file") and asm is not None:
                        asm.announce(part.file)
                    elif part.HasField("chunk") and asm is not None:
                        asm.add(part.chunk)
                        if progress:
                            progress(asm.done_bytes, asm.total)
                    elif part.HasField("error"):
                        raise VitrineError(grpc.StatusCode(_code(part.error.code)),
                                           part.error.message, part.error.field)
                break
            except VitrineError as err:
                resumable = err.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL)
                gone = resuming and err.code == grpc.StatusCode.NOT_FOUND and restart is not None
                if asm is None or not (resumable or gone) or attempts >= self.retries:
                    raise
                attempts += 1
                if gone:  # never stored: its generation stopped with the broken stream
                    asm.replaying, resuming = True, False
                    parts = restart()
                    continue
                resuming = True
                fi, off = asm.resume_point()
                parts = self._stream(lambda fi=fi, off=off, aid=asm.header.asset_id: self.stub.Fetch(
                    pb.FetchRequest(asset_id=aid, file_index=fi, offset=off),
                    timeout=self.timeout, metadata=self._metadata))
        if asm is None:
            raise VitrineError(grpc.StatusCode.DATA_LOSS, "the stream ended before a header")
        return asm.finish()

    def _stream(self, start: Callable[[], Iterator[pb.AssetPart]]) -> Iterator[pb.AssetPart]:
        try:
            yield from start()
        except grpc.RpcError as err:
            raise self._error(err) from None

    def _call(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except grpc.RpcError as err:
            raise self._error(err) from None

    def _error(self, err: grpc.RpcError) -> VitrineError:
        code = err.code()
        message = err.details() or code.name
        if code == grpc.StatusCode.UNAUTHENTICATED:
            message = (f"{message} (pass token=..., `vitrine --token`, or set VITRINE_TOKEN to "
                       "a token from the server's --auth-tokens file)")
        elif code == grpc.StatusCode.UNAVAILABLE:
            message = (f"cannot reach a vitrine server at {self.address} ({message}); start one "
                       f"with `make serve` in a clone of vitrine, or `vitrine serve --address "
                       f"{self.address}` where the server package (vitrine-server) is installed")
        return VitrineError(code, message, _field_of(err))


def _code(number: int) -> tuple:
    for code in grpc.StatusCode:
        if code.value[0] == number:
            return code.value
    return grpc.StatusCode.UNKNOWN.value


def _field_of(err: grpc.RpcError) -> str:
    """The field named by a google.rpc.BadRequest detail, if the server sent one."""
    try:
        from google.rpc import error_details_pb2
        from grpc_status import rpc_status
    except ImportError:
        return ""
    status = rpc_status.from_call(err) if hasattr(err, "trailing_metadata") else None
    for detail in status.details if status else ():
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            if bad.field_violations:
                return bad.field_violations[0].field
    return ""
