"""AssetService end to end over a real loopback socket: streaming, errors, cache, Fetch,
batching, cancellation, deadlines, capacity, keepalive, health, reflection, shutdown."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time

import grpc
import pytest
import trimesh
from conftest import start_server
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from support.gltf_validator import assert_valid_glb
from vitrine.v1 import assets_pb2 as pb
from vitrine.v1 import assets_pb2_grpc as pb_grpc

from generators.procedural.families import CATEGORIES
from server.config import MAX_MESSAGE_BYTES

FAST = pb.Options(max_triangles=4000, resolution=48)
SLOW = pb.Options(resolution=256, max_triangles=200_000)  # a column ~0.3 s, a vase ~1.2 s


@pytest.fixture(scope="module")
def stub(live):
    channel = grpc.insecure_channel(live.address)
    yield pb_grpc.AssetServiceStub(channel)
    channel.close()


def collect(parts):
    """Reassemble a raw stream: {request_index: (header, [file bytes])}; checks ordering."""
    out, bufs = {}, {}
    for part in parts:
        assert part.ByteSize() < MAX_MESSAGE_BYTES
        i = part.request_index
        if part.HasField("header"):
            assert i not in out, "one header per asset"
            out[i] = part.header
            bufs[i] = [bytearray() for _ in part.header.files]
        elif part.HasField("chunk"):
            c = part.chunk
            assert i in out, "a chunk before its header"
            assert c.offset == len(bufs[i][c.file_index]), "chunks are contiguous and in order"
            bufs[i][c.file_index] += c.data
        else:
            out[i] = part.error
    return {i: (h, [bytes(b) for b in bufs.get(i, [])]) for i, h in out.items()}


def code_of(exc_info) -> grpc.StatusCode:
    return exc_info.value.code()


def test_health_and_reflection(live):
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    with grpc.insecure_channel(live.address) as ch:
        health = health_pb2_grpc.HealthStub(ch)
        for name in ("", "vitrine.v1.AssetService"):
            resp = health.Check(health_pb2.HealthCheckRequest(service=name))
            assert resp.status == health_pb2.HealthCheckResponse.SERVING
        refl = reflection_pb2_grpc.ServerReflectionStub(ch)
        reply = next(refl.ServerReflectionInfo(iter(
            [reflection_pb2.ServerReflectionRequest(list_services="")])))
        names = {s.name for s in reply.list_services_response.service}
        assert {"vitrine.v1.AssetService", "grpc.health.v1.Health"} <= names


def test_list_models(stub):
    models = {m.name: m for m in stub.ListModels(pb.ListModelsRequest()).models}
    proc = models["procedural"]
    assert proc.kind == pb.ASSET_KIND_PROP
    assert list(proc.categories) == list(CATEGORIES)
    opts = {o.name: o for o in proc.options}
    assert (opts["lod_count"].min, opts["lod_count"].max) == (1, 4)
    assert list(opts["pivot"].choices) == ["PIVOT_BOTTOM_CENTER", "PIVOT_CENTER"]
    assert opts["pivot"].default_value == "PIVOT_BOTTOM_CENTER"
    # material travels as a string: its choices are the names a request sends.
    assert "weathered_wood" in opts["material"].choices and opts["material"].type == "enum"
    assert opts["material"].default_value == ""  # unset: the category's own material
    assert (opts["texture_size"].min, opts["texture_size"].max) == (64, 2048)
    assert opts["texture_size"].default_value == "512"


def test_requested_material_and_texture_size_arrive_in_the_glbs(stub):
    options = pb.Options(max_triangles=2000, lod_count=2, texture_size=128, material="brass")
    got = collect(stub.Generate(pb.GenerateRequest(model="procedural", category="table",
                                                   seed=5, options=options)))
    header, files = got[0]
    assert [f.name for f in header.files] == ["lod1.glb", "lod0.glb"]
    for data in files:
        jlen = int.from_bytes(data[12:16], "little")
        doc = json.loads(data[20:20 + jlen])
        assert doc["materials"][0]["name"] == "brass"
        assert len(doc["images"]) == 3
    assert_valid_glb(files, allow_infos=False)


def test_every_category_streams_valid_engine_ready_glbs(stub):
    blobs = []
    for cat in CATEGORIES:
        got = collect(stub.Generate(pb.GenerateRequest(model="procedural", category=cat, seed=11,
                                                       options=pb.Options(max_triangles=6000))))
        header, files = got[0]
        assert header.seed == 11 and header.category == cat and header.kind == pb.ASSET_KIND_PROP
        assert [f.name for f in header.files] == ["lod2.glb", "lod1.glb", "lod0.glb"]
        assert header.files[0].triangles < header.files[1].triangles < header.files[2].triangles
        assert header.files[2].triangles <= 6000
        for meta, data in zip(header.files, files):
            assert meta.mime_type == "model/gltf-binary"
            assert len(data) == meta.size_bytes
            assert hashlib.sha256(data).hexdigest() == meta.sha256
            mesh = trimesh.load(io.BytesIO(data), file_type="glb", force="mesh")
            assert len(mesh.faces) == meta.triangles
        # Props stand on the floor, centred, at a real-world size.
        b = header.bounds
        assert abs(b.min.y) < 1e-4 and abs(b.min.x + b.max.x) < 1e-3
        assert 0.2 < max(b.max.x - b.min.x, b.max.y - b.min.y, b.max.z - b.min.z) < 4.0
        blobs += files
    assert_valid_glb(blobs)


def test_options_change_the_asset(stub):
    req = pb.GenerateRequest(model="procedural", category="vase", seed=5, options=pb.Options(
        max_triangles=2000, lod_count=1, size_m=3.0, pivot=pb.PIVOT_CENTER, resolution=64))
    header, files = collect(stub.Generate(req))[0]
    assert [f.name for f in header.files] == ["lod0.glb"]
    assert header.files[0].triangles <= 2000
    b = header.bounds
    sizes = (b.max.x - b.min.x, b.max.y - b.min.y, b.max.z - b.min.z)
    assert max(sizes) == pytest.approx(3.0, rel=1e-4)
    assert b.min.y == pytest.approx(-b.max.y, abs=1e-4)  # centre pivot
    assert_valid_glb(files)


@pytest.mark.parametrize("request_, code, needle, field", [
    (pb.GenerateRequest(model="nope", category="chair"), grpc.StatusCode.NOT_FOUND,
     "known models: procedural", "model"),
    (pb.GenerateRequest(model="procedural", category="spaceship"), grpc.StatusCode.NOT_FOUND,
     "categories: chair", "category"),
    (pb.GenerateRequest(model="procedural", category="chair", options=pb.Options(lod_count=9)),
     grpc.StatusCode.INVALID_ARGUMENT, "options.lod_count: got 9; allowed: 1 to 4",
     "options.lod_count"),
    (pb.GenerateRequest(model="procedural", category="chair",
                        options=pb.Options(max_triangles=5)),
     grpc.StatusCode.INVALID_ARGUMENT, "allowed: 100 to 500000", "options.max_triangles"),
    (pb.GenerateRequest(model="procedural", category="chair",
                        options=pb.Options(size_m=-1)),
     grpc.StatusCode.INVALID_ARGUMENT, "options.size_m", "options.size_m"),
    (pb.GenerateRequest(model="procedural", category="chair",
                        options=pb.Options(texture_size=500)),
     grpc.StatusCode.INVALID_ARGUMENT, "allowed: a power of two from 64 to 2048",
     "options.texture_size"),
    (pb.GenerateRequest(model="procedural", category="chair",
                        options=pb.Options(material="gold")),
     grpc.StatusCode.INVALID_ARGUMENT, "allowed: one of wood, weathered_wood, marble",
     "options.material"),
])
def test_bad_requests_get_meaningful_statuses(stub, request_, code, needle, field):
    with pytest.raises(grpc.RpcError) as e:
        list(stub.Generate(request_))
    assert code_of(e) == code
    assert needle in e.value.details()
    status = rpc_status.from_call(e.value)
    bad = error_details_pb2.BadRequest()
    status.details[0].Unpack(bad)
    assert bad.field_violations[0].field == field
    # ...and the server keeps serving.
    assert stub.ListModels(pb.ListModelsRequest()).models


def test_seed_zero_is_picked_and_reported(stub):
    header, _ = collect(stub.Generate(pb.GenerateRequest(
        model="procedural", category="bench", seed=0, options=FAST)))[0]
    assert header.seed > 0
    again, _ = collect(stub.Generate(pb.GenerateRequest(
        model="procedural", category="bench", seed=header.seed, options=FAST)))[0]
    assert again.asset_id == header.asset_id


def test_repeat_is_a_cache_hit_with_identical_bytes(live, stub):
    req = pb.GenerateRequest(model="procedural", category="lamp", seed=77, options=FAST)
    first, files1 = collect(stub.Generate(req))[0]
    generated = live.service.stats.generated
    second, files2 = collect(stub.Generate(req))[0]
    assert not first.timings.cache_hit and second.timings.cache_hit
    assert second.asset_id == first.asset_id and files2 == files1
    assert live.service.stats.generated == generated


def test_fetch_resumes_from_an_offset(stub):
    req = pb.GenerateRequest(model="procedural", category="table", seed=3, options=FAST)
    header, files = collect(stub.Generate(req))[0]
    parts = list(stub.Fetch(pb.FetchRequest(asset_id=header.asset_id, file_index=1, offset=100)))
    assert parts[0].header.asset_id == header.asset_id
    chunks = [p.chunk for p in parts[1:]]
    assert (chunks[0].file_index, chunks[0].offset) == (1, 100)
    got = {}
    for c in chunks:
        got.setdefault(c.file_index, bytearray()).extend(c.data)
    assert bytes(got[1]) == files[1][100:] and bytes(got[2]) == files[2]
    assert 0 not in got


def test_fetch_errors(stub):
    with pytest.raises(grpc.RpcError) as e:
        list(stub.Fetch(pb.FetchRequest(asset_id="0" * 32)))
    assert code_of(e) == grpc.StatusCode.NOT_FOUND and "asset_id" in e.value.details()
    header, _ = collect(stub.Generate(pb.GenerateRequest(
        model="procedural", category="table", seed=3, options=FAST)))[0]
    with pytest.raises(grpc.RpcError) as e:
        list(stub.Fetch(pb.FetchRequest(asset_id=header.asset_id, file_index=7)))
    assert code_of(e) == grpc.StatusCode.INVALID_ARGUMENT and "file_index" in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        list(stub.Fetch(pb.FetchRequest(asset_id=header.asset_id, offset=10**9)))
    assert code_of(e) == grpc.StatusCode.INVALID_ARGUMENT and "offset" in e.value.details()


def test_corrupt_blob_is_regenerated_never_served(live, stub):
    req = pb.GenerateRequest(model="procedural", category="column", seed=21, options=FAST)
    header, files = collect(stub.Generate(req))[0]
    blob_files = sorted(p for p in (live.running.service.config.data_dir / "blobs").rglob("*")
                        if p.is_file() and header.asset_id in str(p))
    assert blob_files, "the asset is stored as blob files"
    raw = bytearray(blob_files[-1].read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    blob_files[-1].write_bytes(bytes(raw))
    live.service.cache.drop_memory()  # the verified in-memory copy would be served otherwise
    again, files2 = collect(stub.Generate(req))[0]
    assert not again.timings.cache_hit  # regenerated...
    assert files2 == files  # ...to the very same bytes


def test_evicted_asset_is_regenerated_by_fetch(live, stub):
    req = pb.GenerateRequest(model="procedural", category="chair", seed=8, options=FAST)
    header, files = collect(stub.Generate(req))[0]
    live.service.cache.delete(header.asset_id)
    got = collect(stub.Fetch(pb.FetchRequest(asset_id=header.asset_id)))[0]
    assert got[1] == files


def test_batch_streams_in_order_with_per_request_errors(stub):
    reqs = [
        pb.GenerateRequest(model="procedural", category="vase", seed=1, options=FAST),
        pb.GenerateRequest(model="procedural", category="vase", seed=2,
                           options=pb.Options(lod_count=0)),
        pb.GenerateRequest(model="procedural", category="atlantis", seed=3),
        pb.GenerateRequest(model="procedural", category="bench", seed=4, options=FAST),
    ]
    parts = list(stub.GenerateBatch(pb.GenerateBatchRequest(requests=reqs)))
    order = [p.request_index for p in parts]
    assert order == sorted(order), "assets arrive contiguously, in request order"
    got = collect(parts)
    assert isinstance(got[1][0], pb.Error) and got[1][0].field == "requests[1].options.lod_count"
    assert got[1][0].code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert got[2][0].code == grpc.StatusCode.NOT_FOUND.value[0]
    for i in (0, 3):
        header, files = got[i]
        assert header.category == reqs[i].category
        assert all(hashlib.sha256(d).hexdigest() == f.sha256 for d, f in zip(files, header.files))
        assert_valid_glb(files)


def test_batch_size_limits(stub):
    with pytest.raises(grpc.RpcError) as e:
        list(stub.GenerateBatch(pb.GenerateBatchRequest()))
    assert code_of(e) == grpc.StatusCode.INVALID_ARGUMENT and "1 to 256" in e.value.details()


def wait_idle(service, timeout=30.0) -> float:
    t0 = time.monotonic()
    while service.scheduler.pending and time.monotonic() - t0 < timeout:
        time.sleep(0.05)
    assert service.scheduler.pending == 0, "work still running after the call ended"
    return time.monotonic() - t0


def test_cancel_mid_stream_stops_the_work(live, stub):
    n = 24
    reqs = [pb.GenerateRequest(model="procedural", category="column", seed=1000 + i,
                               options=SLOW) for i in range(n)]
    before = live.service.stats.generated
    call = stub.GenerateBatch(pb.GenerateBatchRequest(requests=reqs))
    next(call)  # the first asset's header: work is under way
    call.cancel()
    wait_idle(live.service)
    done = live.service.stats.generated - before
    time.sleep(1.0)
    assert live.service.stats.generated - before == done, "no work after the cancel"
    assert done < n


def test_deadline_is_honoured_and_work_stops(live, stub):
    # A vase: its 256-cell surface takes ~1.2 s to make into levels (a column, ~0.3 s since
    # meshoptimizer, could finish inside the deadline's grace).
    req = pb.GenerateRequest(model="procedural", category="vase", seed=555, options=SLOW)
    with pytest.raises(grpc.RpcError) as e:
        list(stub.Generate(req, timeout=0.2))
    assert code_of(e) == grpc.StatusCode.DEADLINE_EXCEEDED
    wait_idle(live.service)
    assert live.service.scheduler.cancelled >= 1


def test_over_capacity_is_resource_exhausted_with_retry_info(tmp_path):
    server = start_server(tmp_path, workers=1, max_queue=0)
    try:
        with grpc.insecure_channel(server.address) as ch:
            stub = pb_grpc.AssetServiceStub(ch)
            slow = stub.Generate(pb.GenerateRequest(model="procedural", category="column",
                                                    seed=9, options=SLOW))
            while not server.service.scheduler.pending:
                time.sleep(0.01)
            with pytest.raises(grpc.RpcError) as e:
                list(stub.Generate(pb.GenerateRequest(model="procedural", category="vase",
                                                      seed=9, options=FAST)))
            assert code_of(e) == grpc.StatusCode.RESOURCE_EXHAUSTED
            retry = error_details_pb2.RetryInfo()
            assert rpc_status.from_call(e.value).details[0].Unpack(retry)
            assert retry.retry_delay.ToMilliseconds() > 0
            assert collect(slow)[0][0].files  # the admitted call still completes
    finally:
        server.stop()


def test_graceful_shutdown_finishes_in_flight_and_refuses_new(tmp_path):
    server = start_server(tmp_path)
    ch = grpc.insecure_channel(server.address)
    stub = pb_grpc.AssetServiceStub(ch)
    result = {}

    def in_flight():
        try:
            result["got"] = collect(stub.Generate(pb.GenerateRequest(
                model="procedural", category="column", seed=31, options=SLOW)))
        except grpc.RpcError as err:
            result["err"] = err

    t = threading.Thread(target=in_flight)
    t.start()
    while not server.service.scheduler.pending:
        time.sleep(0.01)
    stopper = threading.Thread(target=server.stop, kwargs={"grace": 60})
    stopper.start()
    time.sleep(0.3)
    with pytest.raises(grpc.RpcError) as e:
        list(stub.Generate(pb.GenerateRequest(model="procedural", category="vase", seed=1,
                                              options=FAST)))
    assert code_of(e) == grpc.StatusCode.UNAVAILABLE
    t.join(120)
    stopper.join(120)
    assert "err" not in result, result.get("err")
    header, files = result["got"][0]
    assert hashlib.sha256(files[-1]).hexdigest() == header.files[-1].sha256
    ch.close()


def _idle_channel_survives(server_ping_ms: int, client_ping_ms: int, idle_s: float) -> bool:
    """Open a channel that pings while idle; True if it stays READY for `idle_s`."""
    import tempfile
    from pathlib import Path

    server = start_server(Path(tempfile.mkdtemp()), min_ping_interval_ms=server_ping_ms)
    states = []
    ch = grpc.insecure_channel(server.address, options=[
        ("grpc.keepalive_time_ms", client_ping_ms),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
    ])
    try:
        grpc.channel_ready_future(ch).result(timeout=10)
        ch.subscribe(states.append)
        time.sleep(idle_s)
        return all(s == grpc.ChannelConnectivity.READY for s in states)
    finally:
        ch.close()
        server.stop()


def test_keepalive_pings_without_calls_are_accepted():
    # The server's rule (config.min_ping_interval_ms, 10 s by default) scaled down to keep the
    # test short: a client pinging slower than the floor keeps its idle connection...
    assert _idle_channel_survives(server_ping_ms=500, client_ping_ms=1000, idle_s=5)
    # ...and one pinging faster is dropped with too_many_pings (so the check above can fail).
    assert not _idle_channel_survives(server_ping_ms=5000, client_ping_ms=500, idle_s=5)


def test_a_failing_request_fails_alone_in_its_batch_window(tmp_path, monkeypatch):
    """One spec whose generation fails (an empty shape, or a bug) gets its own INTERNAL error
    part naming it; the other requests of the same model call still arrive."""
    from generators.core import registry
    from generators.core.errors import EmptyShape

    models = registry.load_models(["procedural"])
    real = models["procedural"].generate_one

    def flaky(spec, cancel=None):
        if spec.seed == 2:
            raise EmptyShape("procedural produced an empty vase for seed 2; try another seed")
        if spec.seed == 3:
            raise KeyError("a bug")
        return real(spec, cancel)

    monkeypatch.setattr(models["procedural"], "generate_one", flaky)
    server = start_server(tmp_path, models)
    try:
        with grpc.insecure_channel(server.address) as channel:
            stub = pb_grpc.AssetServiceStub(channel)
            reqs = [pb.GenerateRequest(model="procedural", category="vase", seed=s, options=FAST)
                    for s in (1, 2, 3, 4)]
            got = collect(stub.GenerateBatch(pb.GenerateBatchRequest(requests=reqs)))
    finally:
        server.stop()
    assert isinstance(got[0][0], pb.AssetHeader) and isinstance(got[3][0], pb.AssetHeader)
    assert got[1][0].code == grpc.StatusCode.INTERNAL.value[0]
    assert "empty vase for seed 2" in got[1][0].message
    assert got[2][0].code == grpc.StatusCode.INTERNAL.value[0] and "KeyError" in got[2][0].message
    assert server.service.stats.generated == 2


def test_an_unknown_enum_number_is_invalid_argument_naming_the_field(stub):
    req = pb.GenerateRequest(model="procedural", category="vase", seed=1,
                             options=pb.Options(pivot=99))
    with pytest.raises(grpc.RpcError) as exc:
        list(stub.Generate(req))
    assert code_of(exc) == grpc.StatusCode.INVALID_ARGUMENT
    assert "options.pivot" in exc.value.details() and "bottom_center, center" in exc.value.details()


@pytest.mark.parametrize("meta", [b"\xff\xff\xff garbage", pb.AssetHeader(asset_id="f" * 32).SerializeToString()])
def test_corrupt_header_row_is_regenerated_not_unknown(live, stub, caplog, meta):
    """A header in the index that does not parse (or describes another asset) is a miss: the
    row is dropped with one log line and the asset regenerated, for Generate and for Fetch."""
    req = pb.GenerateRequest(model="procedural", category="lamp", seed=31, options=FAST)
    header, files = collect(stub.Generate(req))[0]
    cache = live.service.cache
    for rpc in (lambda: stub.Generate(req), lambda: stub.Fetch(pb.FetchRequest(
            asset_id=header.asset_id))):
        with cache._lock:
            cache._db.execute("UPDATE assets SET meta=? WHERE asset_id=?",
                              (meta, header.asset_id))
        cache.drop_memory()
        caplog.clear()
        with caplog.at_level("WARNING", logger="server.service"):
            again, files2 = collect(rpc())[0]
        assert not again.timings.cache_hit and again.asset_id == header.asset_id
        assert files2 == files
        assert sum("damaged header" in r.getMessage() for r in caplog.records) == 1
    hit, _ = collect(stub.Generate(req))[0]
    assert hit.timings.cache_hit


HUGE = "q" * 10_000


@pytest.mark.parametrize("call, code, field", [
    (lambda s: s.Generate(pb.GenerateRequest(model=HUGE, category="vase", seed=1)),
     grpc.StatusCode.NOT_FOUND, "model"),
    (lambda s: s.Generate(pb.GenerateRequest(model="procedural", category=HUGE, seed=1)),
     grpc.StatusCode.NOT_FOUND, "category"),
    (lambda s: s.Generate(pb.GenerateRequest(model="procedural", category="vase", seed=1,
                                             options=pb.Options(material=HUGE))),
     grpc.StatusCode.INVALID_ARGUMENT, "options.material"),
    (lambda s: s.Fetch(pb.FetchRequest(asset_id=HUGE)), grpc.StatusCode.NOT_FOUND, "asset_id"),
    (lambda s: s.Fetch(pb.FetchRequest(asset_id="0" * 32 + HUGE)),
     grpc.StatusCode.NOT_FOUND, "asset_id"),
])
def test_huge_inputs_get_their_status_with_a_short_message(stub, call, code, field):
    """An error echoes what was sent, cut short: a 10,000-character value must not push the
    trailers past the client's metadata limit (RESOURCE_EXHAUSTED "Stream removed")."""
    with pytest.raises(grpc.RpcError) as exc:
        list(call(stub))
    assert code_of(exc) == code, exc.value.details()
    details = exc.value.details()
    assert field in details and "characters" in details and len(details) < 1200
    if field == "options.material":  # the option's own message, cut in the middle
        assert "allowed: one of" in details
    else:  # the value itself is shown short
        assert len(details) < 400
    status = rpc_status.from_call(exc.value)
    if status is not None:
        bad = error_details_pb2.BadRequest()
        assert status.details[0].Unpack(bad) and bad.field_violations[0].field == field


def test_a_huge_message_is_cut_to_a_bounded_length():
    from server.status import MAX_MESSAGE_CHARS, CallError

    err = CallError(grpc.StatusCode.INVALID_ARGUMENT, "x" * 50_000, "f" * 5_000)
    assert len(err.message) < MAX_MESSAGE_CHARS + 64 and "48976 characters cut" in err.message
    assert len(err.field) < 200
    assert sum(len(v) for _, v in err.trailing_metadata()) < 4 * 1024


@pytest.mark.parametrize("rpc, streaming, message_type", [
    ("ListModels", False, "vitrine.v1.ListModelsRequest"),
    ("Generate", True, "vitrine.v1.GenerateRequest"),
    ("GenerateBatch", True, "vitrine.v1.GenerateBatchRequest"),
    ("Fetch", True, "vitrine.v1.FetchRequest"),
])
def test_bytes_that_do_not_parse_are_invalid_argument_without_a_traceback(
        live, caplog, rpc, streaming, message_type):
    method = f"/vitrine.v1.AssetService/{rpc}"
    garbage = [b"\xff" * 12, b"\x0a\x05ab", b"\x08\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01"]
    with grpc.insecure_channel(live.address) as channel, \
            caplog.at_level("DEBUG"):
        make = channel.unary_stream if streaming else channel.unary_unary
        call = make(method, request_serializer=None, response_deserializer=None)
        for data in garbage:
            with pytest.raises(grpc.RpcError) as exc:
                got = call(data, timeout=30)
                list(got) if streaming else got
            assert code_of(exc) == grpc.StatusCode.INVALID_ARGUMENT, exc.value.details()
            assert exc.value.details() == f"request: the bytes do not parse as {message_type}"
        # the server still answers well-formed calls on the same channel
        ok = channel.unary_unary("/vitrine.v1.AssetService/ListModels",
                                 request_serializer=pb.ListModelsRequest.SerializeToString,
                                 response_deserializer=pb.ListModelsResponse.FromString)
        assert ok(pb.ListModelsRequest(), timeout=30).models
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    lines = [r.getMessage() for r in caplog.records if "do not parse" in r.getMessage()]
    assert len(lines) == len(garbage) and all("\n" not in line for line in lines)


def test_full_disk_still_streams_the_bytes_and_health_follows_the_disk(tmp_path, monkeypatch,
                                                                       caplog):
    import errno

    from grpc_health.v1 import health_pb2, health_pb2_grpc

    server = start_server(tmp_path)
    cache = server.service.cache
    real_put = cache.put

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    try:
        with grpc.insecure_channel(server.address) as channel:
            stub = pb_grpc.AssetServiceStub(channel)
            health = health_pb2_grpc.HealthStub(channel)

            def status():
                return health.Check(health_pb2.HealthCheckRequest(service="")).status

            monkeypatch.setattr(cache, "put", full)
            with caplog.at_level("WARNING", logger="server.service"):
                for seed in (1, 2):
                    req = pb.GenerateRequest(model="procedural", category="bench", seed=seed,
                                             options=FAST)
                    header, files = collect(stub.Generate(req))[0]
                    assert not header.timings.cache_hit and files
                    assert [hashlib.sha256(f).hexdigest() for f in files] == \
                        [f.sha256 for f in header.files]
            assert not cache.contains(header.asset_id)
            assert status() == health_pb2.HealthCheckResponse.NOT_SERVING
            lines = [r.getMessage() for r in caplog.records if "cannot write" in r.getMessage()]
            assert len(lines) == 1 and "No space left" in lines[0], lines
            monkeypatch.setattr(cache, "put", real_put)
            collect(stub.Generate(pb.GenerateRequest(model="procedural", category="bench",
                                                     seed=3, options=FAST)))
            assert status() == health_pb2.HealthCheckResponse.SERVING
            again, _ = collect(stub.Generate(pb.GenerateRequest(
                model="procedural", category="bench", seed=3, options=FAST)))[0]
            assert again.timings.cache_hit
    finally:
        server.stop()


def test_identical_concurrent_misses_run_one_generation(tmp_path):
    """16 identical concurrent Generates and a batch of 8 identical requests: one generation
    each, every caller gets the same verified bytes."""
    from concurrent.futures import ThreadPoolExecutor

    server = start_server(tmp_path)
    try:
        req = pb.GenerateRequest(model="procedural", category="lamp", seed=77, options=FAST)
        with grpc.insecure_channel(server.address) as channel:
            stub = pb_grpc.AssetServiceStub(channel)
            with ThreadPoolExecutor(16) as pool:
                got = list(pool.map(lambda _: collect(stub.Generate(req))[0], range(16)))
            assert server.service.stats.generated == 1
            registry = server.service.metrics.registry
            assert registry.get_sample_value("vitrine_generations_total",
                                             {"model": "procedural"}) == 1
            assert registry.get_sample_value("vitrine_coalesced_total",
                                             {"model": "procedural"}) == 15
            assert len({h.asset_id for h, _ in got}) == 1
            assert len({tuple(files) for _, files in got}) == 1
            for h, files in got:
                assert [hashlib.sha256(f).hexdigest() for f in files] == \
                    [f.sha256 for f in h.files]
            other = pb.GenerateRequest(model="procedural", category="lamp", seed=78, options=FAST)
            parts = collect(stub.GenerateBatch(pb.GenerateBatchRequest(requests=[other] * 8)))
            assert server.service.stats.generated == 2
            assert len(parts) == 8 and len({h.asset_id for h, _ in parts.values()}) == 1
            assert server.service._inflight == {}
    finally:
        server.stop()


def test_a_waiter_generates_for_itself_when_the_owner_is_cancelled(live, monkeypatch):
    """The call that owns a generation is cancelled: the identical call waiting on it is not
    failed with the owner's cancellation, it generates the asset itself."""
    import asyncio

    service = live.service
    job = service.pipeline.prepare("procedural", "vase", 4242, {"max_triangles": 500,
                                                                "lod_count": 1})
    calls = []
    real = service._generate

    async def generate(jobs, on_file=None):
        calls.append([j.asset_id for j in jobs])
        if len(calls) == 1:
            await asyncio.sleep(0.2)
            raise asyncio.CancelledError
        return await real(jobs, on_file)

    monkeypatch.setattr(service, "_generate", generate)

    async def both():
        owner = asyncio.ensure_future(service._coalesced([job]))
        await asyncio.sleep(0.05)
        waiter = asyncio.ensure_future(service._coalesced([job]))
        results = await asyncio.gather(owner, waiter, return_exceptions=True)
        return results

    owner, waiter = live.call(both())
    assert isinstance(owner, asyncio.CancelledError)
    assert waiter[0].header.asset_id == job.asset_id
    assert calls == [[job.asset_id], [job.asset_id]] and service._inflight == {}


def collect_progressive(parts):
    """Reassemble a progressive Generate: (header, [AssetFile announced], [file bytes])."""
    header, files, bufs = None, [], []
    for part in parts:
        assert part.ByteSize() < MAX_MESSAGE_BYTES
        if part.HasField("header"):
            assert header is None, "one header per asset"
            header = part.header
            files = list(header.files)
            bufs = [bytearray() for _ in files]
        elif part.HasField("file"):
            assert header is not None, "a file part before the header"
            assert all(len(b) == f.size_bytes for b, f in zip(bufs, files)), \
                "a file is announced after the one before it is complete"
            files.append(part.file)
            bufs.append(bytearray())
        else:
            c = part.chunk
            assert header is not None and c.file_index < len(files), "a chunk before its file"
            assert c.offset == len(bufs[c.file_index]), "chunks are contiguous and in order"
            bufs[c.file_index] += c.data
    assert len(files) == header.file_count
    return header, files, [bytes(b) for b in bufs]


def test_progressive_generate_streams_the_coarsest_lod_first_with_the_same_bytes(live, stub):
    """A progressive miss: the header carries only the coarsest level and the count, the
    finer levels follow as file parts; the asset (id, files, bytes) is the one a plain
    Generate gets, and a progressive hit lists every file in its header."""
    req = pb.GenerateRequest(model="procedural", category="chair", seed=4711, options=FAST,
                             progressive=True)
    header, files, data = collect_progressive(stub.Generate(req))
    assert not header.timings.cache_hit
    assert header.file_count == 3 and [f.name for f in header.files] == ["lod2.glb"]
    assert [f.name for f in files] == ["lod2.glb", "lod1.glb", "lod0.glb"]
    assert [hashlib.sha256(d).hexdigest() for d in data] == [f.sha256 for f in files]
    assert [len(d) for d in data] == [f.size_bytes for f in files]
    assert_valid_glb(data[0])
    plain = pb.GenerateRequest(model="procedural", category="chair", seed=4711, options=FAST)
    hit, hit_files = collect(stub.Generate(plain))[0]
    assert hit.timings.cache_hit and hit.asset_id == header.asset_id
    assert list(hit.files) == files and hit_files == data and hit.file_count == 3
    assert (hit.bounds.min.y, hit.bounds.max.y) == (header.bounds.min.y, header.bounds.max.y)
    again, _again_files, again_data = collect_progressive(stub.Generate(req))
    assert again.timings.cache_hit and list(again.files) == files and again_data == data


def test_progressive_errors_are_statuses(stub):
    req = pb.GenerateRequest(model="procedural", category="sofa", seed=1, progressive=True)
    with pytest.raises(grpc.RpcError) as err:
        collect_progressive(stub.Generate(req))
    assert code_of(err) == grpc.StatusCode.NOT_FOUND
    req = pb.GenerateRequest(model="procedural", category="chair", seed=1, progressive=True,
                             options=pb.Options(lod_count=9))
    with pytest.raises(grpc.RpcError) as err:
        collect_progressive(stub.Generate(req))
    assert code_of(err) == grpc.StatusCode.INVALID_ARGUMENT and "lod_count" in err.value.details()


def test_cancelled_progressive_call_stops_its_generation(live, stub):
    req = pb.GenerateRequest(model="procedural", category="column", seed=99, options=SLOW,
                             progressive=True)
    call = stub.Generate(req)
    time.sleep(0.3)
    call.cancel()
    assert wait_idle(live.service) < 10
    assert live.service._inflight == {}


def test_fetch_of_an_asset_being_made_waits_for_it(live):
    """A progressive client knows the id from the header before the asset is stored: a
    Fetch of it then waits for the generation in flight instead of NOT_FOUND."""
    import asyncio

    from server.service import Ready

    service = live.service
    aid = "f" * 32
    header = pb.AssetHeader(asset_id=aid, files=[pb.AssetFile(name="lod0.glb", size_bytes=3)])

    async def scenario():
        fut = asyncio.get_running_loop().create_future()
        service._inflight[aid] = fut
        try:
            fetch = asyncio.ensure_future(service.fetch(aid))
            await asyncio.sleep(0.05)
            assert not fetch.done()
            fut.set_result(Ready(header, [b"abc"]))
            return await fetch
        finally:
            service._inflight.pop(aid, None)

    ready = live.call(scenario())
    assert ready.header.asset_id == aid and ready.files == [b"abc"]
