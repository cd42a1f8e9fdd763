"""The HTTP face (server/http.py) over a real socket, with a plain HTTP client (http.client)
and with curl itself: catalog, generation, files by URL with Range/ETag, errors, CORS, the
OpenAPI document, eviction, capacity, drain, the viewer's files and the CLI flag."""

from __future__ import annotations

import hashlib
import http.client
import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import grpc
import pytest
from conftest import start_server
from google.protobuf import json_format
from support.gltf_validator import assert_valid_glb
from vitrine.v1 import assets_pb2 as pb
from vitrine.v1 import assets_pb2_grpc as pb_grpc

from server.http_openapi import OPENAPI

FAST = {"maxTriangles": 2000, "lodCount": 2}


@pytest.fixture(scope="module")
def procedural():
    """Only the procedural props (and what they need): quick to load, and independent of the
    other families."""
    from generators.core.registry import load_models

    return load_models(["procedural"])


@pytest.fixture(scope="module")
def web(tmp_path_factory, procedural):
    server = start_server(tmp_path_factory.mktemp("http"), procedural, http_address="127.0.0.1:0")
    yield server
    server.stop()


class Reply:
    def __init__(self, resp: http.client.HTTPResponse):
        self.status, self.headers, self.body = resp.status, resp.headers, resp.read()

    def json(self):
        assert self.headers["Content-Type"].startswith("application/json"), self.headers
        return json.loads(self.body)


def call(server, method: str, path: str, body=None, headers=None,
         conn: http.client.HTTPConnection | None = None) -> Reply:
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", server.running.http_port, timeout=120)
    if isinstance(body, dict):
        body = json.dumps(body)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        return Reply(conn.getresponse())
    finally:
        if own:
            conn.close()


def generate(server, category="chair", seed=1, **options) -> dict:
    r = call(server, "POST", "/v1/generate", {"model": "procedural", "category": category,
                                               "seed": seed, "options": {**FAST, **options}})
    assert r.status == 200, r.body
    return r.json()


def test_models_is_the_catalog_in_proto3_json(web):
    r = call(web, "GET", "/v1/models")
    assert r.status == 200
    doc = r.json()
    assert json_format.ParseDict(doc, pb.ListModelsResponse()) == web.service.catalog()
    proc = next(m for m in doc["models"] if m["name"] == "procedural")
    assert proc["kind"] == "ASSET_KIND_PROP" and "chair" in proc["categories"]
    limits = next(o for o in proc["options"] if o["name"] == "max_triangles")
    assert {"defaultValue", "min", "max"} <= set(limits)  # lowerCamelCase, defaults printed


def test_generate_answers_the_header_and_urls_that_serve_each_file(web):
    asset = generate(web, seed=11)
    header = json_format.ParseDict(asset["header"], pb.AssetHeader())
    assert len(header.asset_id) == 32 and header.seed == 11
    assert [f["name"] for f in asset["files"]] == [f.name for f in header.files] == [
        "lod1.glb", "lod0.glb"]
    for entry, meta in zip(asset["files"], header.files):
        assert entry["url"] == f"/v1/assets/{header.asset_id}/{meta.name}"
        r = call(web, "GET", entry["url"])
        assert r.status == 200
        assert len(r.body) == meta.size_bytes == int(r.headers["Content-Length"])
        assert hashlib.sha256(r.body).hexdigest() == meta.sha256
        assert r.headers["ETag"] == f'"{meta.sha256}"'
        assert r.headers["Content-Type"] == "model/gltf-binary" == meta.mime_type
        assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert r.headers["Accept-Ranges"] == "bytes"
    assert_valid_glb(r.body)
    again = generate(web, seed=11)
    assert again["header"]["assetId"] == header.asset_id and again["header"]["timings"]["cacheHit"]
    r = call(web, "GET", f"/v1/assets/{header.asset_id}")
    assert r.status == 200 and r.json()["files"] == asset["files"]
    assert r.json()["header"]["files"] == asset["header"]["files"]


def test_both_faces_share_one_cache(web):
    asset = generate(web, seed=12)
    with grpc.insecure_channel(web.address) as channel:
        stub = pb_grpc.AssetServiceStub(channel)
        req = pb.GenerateRequest(model="procedural", category="chair", seed=12,
                                 options=pb.Options(max_triangles=2000, lod_count=2))
        header = next(iter(stub.Generate(req))).header
    assert header.asset_id == asset["header"]["assetId"] and header.timings.cache_hit


def test_range_resumes_and_the_pieces_make_the_file(web):
    asset = generate(web, seed=13)
    meta = asset["header"]["files"][-1]
    url, size = asset["files"][-1]["url"], int(meta["sizeBytes"])
    head = call(web, "GET", url, headers={"Range": "bytes=0-99"})
    assert head.status == 206 and len(head.body) == 100
    assert head.headers["Content-Range"] == f"bytes 0-99/{size}"
    tail = call(web, "GET", url, headers={"Range": "bytes=100-"})
    assert tail.status == 206 and len(tail.body) == size - 100
    assert tail.headers["Content-Range"] == f"bytes 100-{size - 1}/{size}"
    assert int(tail.headers["Content-Length"]) == size - 100
    assert hashlib.sha256(head.body + tail.body).hexdigest() == meta["sha256"]
    whole = call(web, "GET", url).body
    suffix = call(web, "GET", url, headers={"Range": "bytes=-10"})
    assert suffix.status == 206 and suffix.body == whole[-10:]
    past = call(web, "GET", url, headers={"Range": f"bytes=10-{size + 50}"})  # end clamped
    assert past.status == 206 and past.body == whole[10:]
    # If-Range naming another version: the whole file, not a piece of a different one.
    stale = call(web, "GET", url, headers={"Range": "bytes=100-", "If-Range": '"0000"'})
    assert stale.status == 200 and stale.body == whole
    for ignored in ("bytes=0-1,5-9", "items=0-5", "bytes=9-2"):  # RFC 9110: may be ignored
        r = call(web, "GET", url, headers={"Range": ignored})
        assert r.status == 200 and r.body == whole, ignored


def test_a_range_past_the_end_is_416_with_the_size(web):
    asset = generate(web, seed=13)
    url, size = asset["files"][0]["url"], int(asset["header"]["files"][0]["sizeBytes"])
    for value in (f"bytes={size}-", f"bytes={size + 1000}-{size + 2000}", "bytes=-0"):
        r = call(web, "GET", url, headers={"Range": value})
        assert r.status == 416, value
        assert r.headers["Content-Range"] == f"bytes */{size}"
        err = r.json()
        assert err["code"] == "OUT_OF_RANGE" and err["field"] == "Range"
        assert str(size) in err["message"]


def test_etag_and_if_none_match_give_304(web):
    asset = generate(web, seed=14)
    url = asset["files"][0]["url"]
    etag = call(web, "GET", url).headers["ETag"]
    for value in (etag, f'"other", {etag}', f"W/{etag}", "*"):
        r = call(web, "GET", url, headers={"If-None-Match": value})
        assert r.status == 304 and r.body == b"" and r.headers["ETag"] == etag, value
    r = call(web, "GET", url, headers={"If-None-Match": '"not-it"'})
    assert r.status == 200 and r.body


def test_head_gives_size_and_etag_without_the_body(web):
    asset = generate(web, seed=14)
    r = call(web, "HEAD", asset["files"][0]["url"])
    assert r.status == 200 and r.body == b""
    meta = asset["header"]["files"][0]
    assert r.headers["Content-Length"] == meta["sizeBytes"]
    assert r.headers["ETag"] == f'"{meta["sha256"]}"'


@pytest.mark.parametrize("body,status,code,field,words", [
    ({"model": "no-such-model", "category": "chair"}, 404, "NOT_FOUND", "model",
     "known models: procedural"),
    ({"model": "procedural", "category": "atlantis"}, 404, "NOT_FOUND", "category", "chair"),
    ({"model": "procedural", "category": "chair", "options": {"maxTriangles": 5}}, 400,
     "INVALID_ARGUMENT", "options.max_triangles", "allowed: 100 to 500000"),
    ({"model": "procedural", "category": "chair", "options": {"lod_count": 9}}, 400,
     "INVALID_ARGUMENT", "options.lod_count", "allowed: 1 to 4"),
    ('{"model": "procedural", ', 400, "INVALID_ARGUMENT", "body", "not JSON"),
    ("[1, 2]", 400, "INVALID_ARGUMENT", "body", "not an object"),
    ({"modle": "procedural"}, 400, "INVALID_ARGUMENT", "body", 'no field named "modle"'),
    ({"model": "procedural", "seed": -1}, 400, "INVALID_ARGUMENT", "body", "seed"),
    (b"\xff\xfe", 400, "INVALID_ARGUMENT", "body", "not JSON"),
])
def test_generate_errors_are_json_naming_the_field(web, body, status, code, field, words):
    r = call(web, "POST", "/v1/generate", body, {"Content-Type": "application/json"})
    assert r.status == status, r.body
    err = r.json()
    assert (err["code"], err["field"]) == (code, field)
    assert words in err["message"]


def test_asset_and_route_errors_are_json(web):
    asset = generate(web, seed=15)
    aid = asset["header"]["assetId"]
    for path, field in ((f"/v1/assets/{'0' * 32}", "asset_id"),
                        (f"/v1/assets/{'0' * 32}/lod0.glb", "asset_id"),
                        ("/v1/assets/not-an-id/lod0.glb", "asset_id"),
                        (f"/v1/assets/{aid}/lod9.glb", "file_name"),
                        ("/v1/nothing-here", "")):
        r = call(web, "GET", path)
        assert r.status == 404, path
        assert r.json()["code"] == "NOT_FOUND" and r.json()["field"] == field, path
    assert "lod1.glb, lod0.glb" in call(web, "GET", f"/v1/assets/{aid}/lod9.glb").json()["message"]
    r = call(web, "DELETE", "/v1/models")
    assert r.status == 405 and r.json()["code"] == "UNIMPLEMENTED" and "GET" in r.headers["Allow"]


def test_cors_preflight_and_exposed_headers(web):
    r = call(web, "OPTIONS", "/v1/generate", headers={
        "Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert r.status == 204
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in r.headers["Access-Control-Allow-Methods"]
    assert "content-type" in r.headers["Access-Control-Allow-Headers"]
    asset = generate(web, seed=16)
    r = call(web, "OPTIONS", asset["files"][0]["url"], headers={
        "Origin": "http://x", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "range"})
    assert r.status == 204 and "range" in r.headers["Access-Control-Allow-Headers"]
    r = call(web, "GET", asset["files"][0]["url"], headers={"Origin": "http://x",
                                                            "Range": "bytes=0-9"})
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    exposed = {h.strip() for h in r.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"ETag", "Content-Range", "Content-Length", "Accept-Ranges"} <= exposed
    err = call(web, "GET", "/v1/assets/" + "0" * 32, headers={"Origin": "http://x"})
    assert err.status == 404 and err.headers["Access-Control-Allow-Origin"] == "*"


def test_openapi_documents_every_route_and_nothing_else(web):
    r = call(web, "GET", "/v1/openapi.json")
    assert r.status == 200 and r.json() == json.loads(json.dumps(OPENAPI))
    doc = r.json()
    assert doc["openapi"].startswith("3.1")
    routes = {(route.resource.canonical, route.method) for route in
              web.running.http.app.router.routes()}
    documented = {(path, method.upper()) for path, ops in doc["paths"].items()
                  for method in ops if method in ("get", "head", "post", "options")}
    assert routes == documented
    refs = set()

    def walk(node):
        if isinstance(node, dict):
            refs.update(v for k, v in node.items() if k == "$ref")
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(doc)
    assert refs and all(ref.rsplit("/", 1)[1] in doc["components"]["schemas"] for ref in refs)
    assert "maxTriangles" in doc["components"]["schemas"]["Options"]["properties"]


def test_responses_match_their_documented_schemas(web):
    """The bodies the server sends validate against the OpenAPI document's JSON Schemas
    (jsonschema, the 2020-12 dialect OpenAPI 3.1 uses)."""
    from jsonschema import Draft202012Validator

    def check(name: str, doc) -> None:
        schema = {"$ref": f"#/components/schemas/{name}", "components": OPENAPI["components"]}
        Draft202012Validator(schema).validate(doc)

    check("ListModelsResponse", call(web, "GET", "/v1/models").json())
    asset = generate(web, seed=19)
    check("Asset", asset)
    check("Asset", call(web, "GET", f"/v1/assets/{asset['header']['assetId']}").json())
    check("Error", call(web, "GET", "/v1/assets/" + "0" * 32).json())
    check("GenerateRequest", {"model": "procedural", "seed": "7", "options": FAST})
    with pytest.raises(Exception, match="is not of type"):
        check("Asset", {**asset, "files": "lod0.glb"})


def test_an_evicted_asset_is_regenerated_to_the_same_bytes(web):
    asset = generate(web, seed=17)
    aid, meta = asset["header"]["assetId"], asset["header"]["files"][-1]
    before = web.service.stats.generated
    assert web.service.cache.delete(aid)
    r = call(web, "GET", asset["files"][-1]["url"], headers={"Range": "bytes=100-"})
    assert r.status == 206
    assert web.service.stats.generated == before + 1  # regenerated, not found
    whole = call(web, "GET", asset["files"][-1]["url"])  # from the cache again
    assert hashlib.sha256(whole.body).hexdigest() == meta["sha256"]
    assert r.body == whole.body[100:]
    assert web.service.stats.generated == before + 1


def test_http_requests_are_counted_by_route_and_code(web):
    reg = web.service.metrics.registry

    def count(route, code):
        return reg.get_sample_value("vitrine_http_requests_total",
                                    {"route": route, "code": code}) or 0

    ok, missing = count("/v1/models", "200"), count("/v1/assets/{asset_id}", "404")
    call(web, "GET", "/v1/models")
    call(web, "GET", "/v1/assets/" + "0" * 32)
    call(web, "GET", "/no/such/route")
    assert count("/v1/models", "200") == ok + 1
    assert count("/v1/assets/{asset_id}", "404") == missing + 1
    assert count("unmatched", "404") >= 1
    assert reg.get_sample_value("vitrine_http_request_seconds_count",
                                {"route": "/v1/models"}) >= 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_curl_alone_lists_generates_and_downloads_with_a_resumed_range(web, tmp_path):
    curl = shutil.which("curl")
    assert curl, "curl is needed (Debian: apt-get install curl)"
    base = f"http://127.0.0.1:{web.running.http_port}"

    def run(*args) -> bytes:
        return subprocess.run([curl, "-sSf", *args], capture_output=True, check=True,
                              timeout=120).stdout

    assert "procedural" in [m["name"] for m in json.loads(run(f"{base}/v1/models"))["models"]]
    body = json.dumps({"model": "procedural", "category": "vase", "seed": 18, "options": FAST})
    asset = json.loads(run("-X", "POST", "-H", "Content-Type: application/json", "-d", body,
                           f"{base}/v1/generate"))
    meta, url = asset["header"]["files"][-1], base + asset["files"][-1]["url"]
    out = tmp_path / meta["name"]
    run("-r", "0-999", "-o", str(out), url)  # a download broken off after 1000 bytes
    assert out.stat().st_size == 1000
    run("-C", "-", "-o", str(out), url)  # curl resumes: Range: bytes=1000-
    assert hashlib.sha256(out.read_bytes()).hexdigest() == meta["sha256"]
    assert_valid_glb(out.read_bytes())


# ---------------------------------------------------------------- capacity and drain

def _block_worker(server) -> threading.Event:
    """Occupy the server's one generation worker until the returned event is set."""
    release = threading.Event()
    server.loop.call_soon_threadsafe(
        lambda: server.loop.create_task(server.service.scheduler.run(lambda c: release.wait(60))))
    deadline = time.monotonic() + 10
    while server.service.scheduler.depth()[0] == 0:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return release


def test_a_full_queue_is_429_with_retry_after(tmp_path, procedural):
    server = start_server(tmp_path, procedural, http_address="127.0.0.1:0", workers=1,
                          max_queue=0)
    try:
        release = _block_worker(server)
        r = call(server, "POST", "/v1/generate", {"model": "procedural", "category": "lamp",
                                                   "seed": 1, "options": FAST})
        assert r.status == 429
        assert r.json()["code"] == "RESOURCE_EXHAUSTED"
        assert int(r.headers["Retry-After"]) >= 1
        release.set()
    finally:
        server.stop()


def test_identical_requests_in_flight_share_one_generation(tmp_path, procedural):
    server = start_server(tmp_path, procedural, http_address="127.0.0.1:0", workers=1)
    try:
        release = _block_worker(server)
        body = {"model": "procedural", "category": "table", "seed": 2, "options": FAST}
        replies: list[Reply] = []
        threads = [threading.Thread(target=lambda: replies.append(
            call(server, "POST", "/v1/generate", body))) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.5)  # all four are waiting on the blocked worker
        release.set()
        for t in threads:
            t.join(120)
        assert [r.status for r in replies] == [200] * 4
        assert len({r.json()["header"]["assetId"] for r in replies}) == 1
        assert server.service.stats.generated == 1
    finally:
        server.stop()


def test_a_client_that_goes_away_cancels_its_generation(tmp_path, procedural):
    server = start_server(tmp_path, procedural, http_address="127.0.0.1:0", workers=1)
    try:
        release = _block_worker(server)
        body = json.dumps({"model": "procedural", "category": "vase", "seed": 4,
                           "options": FAST}).encode()
        with socket.create_connection(("127.0.0.1", server.running.http_port)) as sock:
            sock.sendall(b"POST /v1/generate HTTP/1.1\r\nHost: x\r\nContent-Type: "
                         b"application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            deadline = time.monotonic() + 10
            while server.service.scheduler.depth()[1] == 0:  # queued behind the blocked job
                assert time.monotonic() < deadline
                time.sleep(0.01)
        deadline = time.monotonic() + 10
        while server.service.scheduler.cancelled == 0:  # the queued job is dropped, not run
            assert time.monotonic() < deadline, "the generation was not cancelled"
            time.sleep(0.01)
        release.set()
        assert server.service.stats.generated == 0
    finally:
        server.stop()


@pytest.mark.parametrize("value", ["soon", "0", "-1", "3601", "nan"])
def test_a_bad_request_timeout_is_400_naming_the_header(web, value):
    r = call(web, "POST", "/v1/generate", {"model": "procedural", "category": "vase"},
             headers={"X-Request-Timeout": value})
    assert r.status == 400
    assert r.json()["code"] == "INVALID_ARGUMENT"
    assert r.json()["field"] == "X-Request-Timeout" and "(0, 3600]" in r.json()["message"]


def test_a_request_timeout_that_passes_is_504_and_stops_the_work(tmp_path, procedural):
    server = start_server(tmp_path, procedural, http_address="127.0.0.1:0", workers=1)
    try:
        heavy = {"model": "procedural", "category": "chair", "seed": 3,
                 "options": {"max_triangles": 20000, "lod_count": 3}}
        t0 = time.monotonic()
        r = call(server, "POST", "/v1/generate", heavy, headers={"X-Request-Timeout": "0.05"})
        assert r.status == 504, r.body
        assert r.json()["code"] == "DEADLINE_EXCEEDED"
        assert r.json()["field"] == "X-Request-Timeout"
        assert time.monotonic() - t0 < 5
        deadline = time.monotonic() + 30
        while server.service.scheduler.cancelled == 0:  # the job was told to stop
            assert time.monotonic() < deadline, "the generation was not cancelled"
            time.sleep(0.01)
        assert server.service.stats.generated == 0
        ok = call(server, "POST", "/v1/generate",
                  {"model": "procedural", "category": "vase", "seed": 1, "options": FAST},
                  headers={"X-Request-Timeout": "120"})
        assert ok.status == 200, ok.body
    finally:
        server.stop()


def test_stop_drains_requests_in_flight_and_refuses_new_ones(tmp_path, procedural):
    server = start_server(tmp_path, procedural, http_address="127.0.0.1:0", workers=1)
    port = server.running.http_port
    release = _block_worker(server)
    idle = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    assert call(server, "GET", "/v1/models", conn=idle).status == 200  # kept alive
    replies: list[Reply] = []
    body = {"model": "procedural", "category": "bench", "seed": 3, "options": FAST}
    inflight = threading.Thread(target=lambda: replies.append(
        call(server, "POST", "/v1/generate", body)))
    inflight.start()
    time.sleep(0.3)
    stopping = threading.Thread(target=server.stop, kwargs={"grace": 30})
    stopping.start()
    deadline = time.monotonic() + 10
    while not server.running.http.draining:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    r = call(server, "GET", "/v1/models", conn=idle)  # an open connection: 503
    assert r.status == 503 and r.json()["code"] == "UNAVAILABLE"
    with pytest.raises(OSError):  # a new connection: refused
        call(server, "GET", "/v1/models")
    release.set()
    inflight.join(60)
    stopping.join(60)
    assert not stopping.is_alive()
    assert replies and replies[0].status == 200  # the request in flight finished


# ---------------------------------------------------------------- the viewer's files

def test_viewer_files_are_served_from_the_viewer_dir(tmp_path, procedural):
    site = tmp_path / "web"
    (site / "vendor").mkdir(parents=True)
    (site / "index.html").write_text("<!doctype html><title>viewer</title>")
    (site / "vendor" / "three.module.js").write_text("export const REVISION = '187';")
    (tmp_path / "secret.txt").write_text("not for the web")
    server = start_server(tmp_path, procedural, http_address="127.0.0.1:0", viewer_dir=site)
    try:
        r = call(server, "GET", "/viewer?asset=abc")
        assert r.status == 302 and r.headers["Location"] == "/viewer/?asset=abc"
        r = call(server, "GET", "/viewer/")
        assert r.status == 200 and b"<title>viewer</title>" in r.body
        assert r.headers["Content-Type"].startswith("text/html")
        r = call(server, "GET", "/viewer/vendor/three.module.js")
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/javascript")
        for path in ("/viewer/missing.js", "/viewer/../secret.txt", "/viewer/%2e%2e/secret.txt"):
            r = call(server, "GET", path)
            assert r.status == 404 and b"not for the web" not in r.body, path
    finally:
        server.stop()
    server = start_server(tmp_path / "b", procedural, http_address="127.0.0.1:0",
                          viewer_dir=tmp_path / "nowhere")
    try:
        r = call(server, "GET", "/viewer/")
        assert r.status == 404 and "not installed" in r.json()["message"]
    finally:
        server.stop()


def test_the_default_viewer_dir_is_clients_web(web):
    assert web.running.http.viewer_dir.parts[-2:] == ("clients", "web")
    r = call(web, "GET", "/viewer/")
    if (web.running.http.viewer_dir / "index.html").exists():
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/html")


# ---------------------------------------------------------------- vitrine serve

VITRINE = [sys.executable, "-m", "vitrine.cli"]


def test_serve_on_a_busy_http_port_names_the_http_flag(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = f"127.0.0.1:{s.getsockname()[1]}"
        r = subprocess.run([*VITRINE, "serve", "--address", "127.0.0.1:0", "--data-dir",
                            str(tmp_path), "--models", "procedural", "--http-address", busy],
                           capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 2, r.stderr
    assert "HTTP address" in r.stderr and "pass --http-address HOST:PORT" in r.stderr
    assert "Traceback" not in r.stderr
    r = subprocess.run([*VITRINE, "serve", "--http-address", "nonsense"], capture_output=True,
                       text=True, timeout=60, check=False)
    assert r.returncode == 2 and "HTTP address must be HOST:PORT" in r.stderr


def test_sigterm_stops_both_faces(tmp_path):
    port = _free_port()
    proc = subprocess.Popen([*VITRINE, "serve", "--address", "127.0.0.1:0", "--data-dir",
                             str(tmp_path), "--models", "procedural", "--http-address",
                             f"127.0.0.1:{port}", "--port-file", str(tmp_path / "port")],
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stderr.read()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/v1/models")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the HTTP face never answered"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
        err = proc.stderr.read()
        assert f"HTTP on http://127.0.0.1:{port}/" in err and "stopped" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with pytest.raises(OSError):
        http.client.HTTPConnection("127.0.0.1", port, timeout=5).request("GET", "/v1/models")
