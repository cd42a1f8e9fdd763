"""vitrine on Ray Serve (server/ray_serve.py): a local Ray cluster on loopback, a deployment
per registered model (procedural with 2 replicas, the others autoscaling from 1), our gRPC and
HTTP front as the ingress.

Every model is generated through it, its bytes checked against the header's sha256 and its
GLBs by the Khronos validator, with the asset id (and, for the cheap models, the bytes) of the
embedded server; statuses, batches, Fetch and a progressive Generate are compared with an
embedded server call for call; the two procedural replicas share one cache.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import pytest
import ray
import yaml
from ray import serve
from support.gltf_validator import validate_glb
from vitrine.v1 import assets_pb2 as pb
from vitrine.v1 import assets_pb2_grpc as pb_grpc

from generators.core.registry import load_models
from generators.pipeline import Pipeline
from server import convert
from server.config import ServerConfig
from server.ray_serve import RayOptions, build, build_app

APP = "vitrine-test"
# A cheap request per model (the gallery's default 12 exhibits take seconds on 2 cores).
SMALL = {"gallery": pb.Options(exhibits=3)}


@pytest.fixture(scope="module")
def models():
    return load_models()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """The Serve application on a fresh local Ray cluster; torn down after the module."""
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    try:
        serve.start(proxy_location="Disabled")
        config = ServerConfig(address="127.0.0.1:0", http_address="127.0.0.1:0",
                              data_dir=tmp_path_factory.mktemp("ray-cache"), workers=1,
                              max_queue=8, cache_memory_bytes=16 * 2**20, shutdown_grace_s=1)
        # replica_cpus 0: nine replicas share this machine's 2 cores. The other models
        # autoscale from 1 replica (Serve waits 30 s of load before adding one).
        options = RayOptions(model_replicas={"procedural": 2}, autoscale=(1, 2),
                             replica_cpus=0, start_timeout_s=240)
        handle = serve.run(build(config, options), name=APP, route_prefix=None)
        ports = handle.ports.remote().result(timeout_s=60)
        channel = grpc.insecure_channel(f"127.0.0.1:{ports['grpc']}")
        yield pb_grpc.AssetServiceStub(channel), ports, config
        channel.close()
    finally:
        serve.shutdown()
        ray.shutdown()


@pytest.fixture(scope="module")
def embedded(tmp_path_factory, models):
    """The embedded server over the same models, for call-by-call comparison."""
    from conftest import start_server

    server = start_server(tmp_path_factory.mktemp("embedded"), models=models, workers=1)
    channel = grpc.insecure_channel(server.address)
    yield pb_grpc.AssetServiceStub(channel)
    channel.close()
    server.stop()


def _collect(parts) -> tuple[pb.AssetHeader, list[bytes], list[str]]:
    """(header, files, the kinds of parts in order) of a one-asset stream."""
    header, files, kinds = None, {}, []
    for part in parts:
        kind = part.WhichOneof("part")
        kinds.append(kind)
        if kind == "header":
            header = part.header
        elif kind == "chunk":
            buf = files.setdefault(part.chunk.file_index, bytearray())
            assert part.chunk.offset == len(buf)
            buf.extend(part.chunk.data)
    return header, [bytes(files[i]) for i in sorted(files)], kinds


def _request(model, info) -> pb.GenerateRequest:
    return pb.GenerateRequest(model=model, category=info.categories[0], seed=7,
                              options=SMALL.get(model))


def _status(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as err:
        list(call())
    return err.value.code(), err.value.details()


def test_catalog_is_every_registered_model_as_embedded(cluster, models):
    stub, _, _ = cluster
    got = stub.ListModels(pb.ListModelsRequest(), timeout=30)
    assert list(got.models) == [convert.model_info_to_proto(m.info) for m in models.values()]
    deployments = serve.status().applications[APP].deployments
    assert set(deployments) == {"front", *models}
    for name, d in deployments.items():
        assert d.status == "HEALTHY", (name, d.message)
        assert d.replica_states == {"RUNNING": 2 if name == "procedural" else 1}, name


def test_every_model_generates_through_ray_with_the_embedded_ids(cluster, models):
    stub, _, _ = cluster
    pipe = Pipeline(models)
    requests = {name: _request(name, m.info) for name, m in models.items()}
    with concurrent.futures.ThreadPoolExecutor(len(requests)) as pool:
        streams = {name: pool.submit(lambda r: list(stub.Generate(r, timeout=180)), req)
                   for name, req in requests.items()}
        got = {name: _collect(f.result()) for name, f in streams.items()}
    glbs, names = [], []
    for name, (header, files, _) in got.items():
        req = requests[name]
        job = pipe.prepare(name, req.category, req.seed, convert.options_from_proto(req.options))
        assert header.asset_id == job.asset_id, name
        assert len(files) == len(header.files) > 0, name
        for meta, data in zip(header.files, files):
            assert meta.size_bytes == len(data) and meta.sha256 == \
                hashlib.sha256(data).hexdigest(), (name, meta.name)
            if meta.name.endswith(".glb"):
                glbs.append(data)
                names.append(f"{name}/{meta.name}")
    for name in ("procedural", "texture-gan"):  # the very bytes the embedded pipeline makes
        req = requests[name]
        built = pipe.build([pipe.prepare(name, req.category, req.seed, {})])[0]
        assert [f.sha256 for f in built.files] == [f.sha256 for f in got[name][0].files]
    reports = validate_glb(glbs, names)
    bad = [(r["path"], r["numErrors"], r["numWarnings"]) for r in reports
           if r["numErrors"] or r["numWarnings"]]
    assert not bad, bad


def test_statuses_batches_fetch_and_progressive_match_the_embedded_server(cluster, embedded):
    stub, _, _ = cluster
    bad = [
        lambda s: s.Generate(pb.GenerateRequest(model="nope", category="chair"), timeout=60),
        lambda s: s.Generate(pb.GenerateRequest(model="procedural", category="sofa"), timeout=60),
        lambda s: s.Generate(pb.GenerateRequest(model="procedural", category="chair",
                                                options=pb.Options(max_triangles=1)), timeout=60),
        lambda s: s.GenerateBatch(pb.GenerateBatchRequest(), timeout=60),
        lambda s: s.Fetch(pb.FetchRequest(asset_id="0" * 32), timeout=60),
        lambda s: s.Fetch(pb.FetchRequest(asset_id="not an id"), timeout=60),
    ]
    for call in bad:
        ours, theirs = _status(lambda c=call: c(stub)), _status(lambda c=call: c(embedded))
        assert ours == theirs and ours[0] != grpc.StatusCode.UNKNOWN, (ours, theirs)

    # A batch over two models and a bad request: same parts, same order, same headers.
    batch = pb.GenerateBatchRequest(requests=[
        pb.GenerateRequest(model="texture-gan", category="brick", seed=3),
        pb.GenerateRequest(model="procedural", category="vase", seed=3,
                           options=pb.Options(lod_count=1)),
        pb.GenerateRequest(model="nope"),
        pb.GenerateRequest(model="texture-gan", category="wood", seed=4,
                           options=pb.Options(texture_size=128)),
    ])

    def shape(parts):
        out = []
        for p in parts:
            kind = p.WhichOneof("part")
            if kind == "header":
                out.append((p.request_index, kind, p.header.asset_id,
                            [f.sha256 for f in p.header.files]))
            elif kind == "error":
                out.append((p.request_index, kind, p.error.code, p.error.message))
            else:
                out.append((p.request_index, kind))
        return out

    ours = shape(stub.GenerateBatch(batch, timeout=120))
    assert ours == shape(embedded.GenerateBatch(batch, timeout=120))
    assert [i for i, *_ in ours if _[0] != "chunk"] == [0, 1, 2, 3]

    # Fetch by id from an offset, served by the model that made it.
    header = next(p.header for p in stub.GenerateBatch(batch, timeout=60)
                  if p.request_index == 1 and p.WhichOneof("part") == "header")
    assert header.timings.cache_hit
    fetch = pb.FetchRequest(asset_id=header.asset_id, file_index=0, offset=100)
    assert shape(stub.Fetch(fetch, timeout=60)) == shape(embedded.Fetch(fetch, timeout=60))

    # A progressive Generate keeps its part sequence (header, chunks, file, chunks, ...).
    prog = pb.GenerateRequest(model="procedural", category="table", seed=11, progressive=True,
                              options=pb.Options(lod_count=2, max_triangles=4000))
    ours = [p.WhichOneof("part") for p in stub.Generate(prog, timeout=120)]
    theirs = [p.WhichOneof("part") for p in embedded.Generate(prog, timeout=120)]
    assert ours == theirs and "file" in ours, (ours, theirs)


def _replica_stats() -> dict[str, dict]:
    """Both procedural replicas' counts (a handle call goes to either: ask until both answer)."""
    handle = serve.get_deployment_handle("procedural", app_name=APP)
    replicas = {}
    for _ in range(60):
        s = handle.stats.remote().result(timeout_s=30)
        replicas[s["replica"]] = s
        if len(replicas) == 2:
            return replicas
    raise AssertionError(f"60 calls reached only the replicas {list(replicas)}")


def test_two_replicas_share_one_cache(cluster):
    stub, _, _ = cluster
    before = _replica_stats()
    reqs = [pb.GenerateRequest(model="procedural", category="chair", seed=100 + i,
                               options=pb.Options(lod_count=1, max_triangles=2000))
            for i in range(4)]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        first = list(pool.map(lambda r: _collect(stub.Generate(r, timeout=120))[0], reqs))
    assert not any(h.timings.cache_hit for h in first)
    for _ in range(3):  # repeats land on either replica: a hit on both
        for req, made in zip(reqs, first):
            again = _collect(stub.Generate(req, timeout=60))[0]
            assert again.asset_id == made.asset_id and again.timings.cache_hit
    after = _replica_stats()
    assert set(after) == set(before)
    calls = {r: after[r]["calls"] - before[r]["calls"] for r in after}
    made = {r: after[r]["generated"] - before[r]["generated"] for r in after}
    # 16 calls on both replicas, 4 assets made once: the 12 repeats were hits wherever they
    # landed (with a cache per replica, about half would have generated again).
    assert sum(calls.values()) == 16 and all(n > 0 for n in calls.values()), calls
    assert sum(made.values()) == 4, made


def test_a_cancelled_call_stops_its_generation_in_the_replica(cluster, models):
    import threading
    import time

    from server.cache import DirectoryStore, ObjectCache

    stub, _, config = cluster
    handle = serve.get_deployment_handle("gallery", app_name=APP)
    before = handle.stats.remote().result(timeout_s=30)  # one replica: always this one
    req = pb.GenerateRequest(model="gallery", category="design", seed=5,
                             options=pb.Options(exhibits=12))  # seconds of work
    aid = Pipeline(models).prepare("gallery", "design", 5, {"exhibits": 12}).asset_id
    call = stub.Generate(req, timeout=300)
    got: list = []
    reader = threading.Thread(target=lambda: got.append(_status(lambda: call)))
    reader.start()
    deadline = time.monotonic() + 120
    while handle.stats.remote().result(timeout_s=30)["running"] == 0:
        assert time.monotonic() < deadline and reader.is_alive(), got  # it must start
        time.sleep(0.05)
    call.cancel()
    reader.join(30)
    assert got and got[0][0] == grpc.StatusCode.CANCELLED, got
    while handle.stats.remote().result(timeout_s=30)["running"]:
        assert time.monotonic() < deadline, "the replica's generation did not stop"
        time.sleep(0.05)
    after = handle.stats.remote().result(timeout_s=30)
    assert after["replica"] == before["replica"]
    assert after["generated"] == before["generated"]  # stopped, not finished and stored
    assert not ObjectCache(DirectoryStore(config.data_dir), 2**30).contains(aid)


def test_http_face_through_ray(cluster, models):
    _, ports, _ = cluster
    base = f"http://127.0.0.1:{ports['http']}"
    with urllib.request.urlopen(f"{base}/v1/models", timeout=30) as r:
        assert [m["name"] for m in json.load(r)["models"]] == list(models)
    body = json.dumps({"model": "texture-gan", "category": "gravel", "seed": "5"}).encode()
    req = urllib.request.Request(f"{base}/v1/generate", body,
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        asset = json.load(r)
    first = asset["header"]["files"][0]
    with urllib.request.urlopen(base + asset["files"][0]["url"], timeout=60) as r:
        data = r.read()
        assert hashlib.sha256(data).hexdigest() == first["sha256"]
        assert r.headers["ETag"].strip('"') == first["sha256"]
    bad = urllib.request.Request(f"{base}/v1/generate",
                                 json.dumps({"model": "nope"}).encode())
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(bad, timeout=30)
    assert err.value.code == 404 and "known models" in json.load(err.value)["message"]


def test_serve_config_file_builds_the_application(tmp_path):
    """deploy/ray/serve.yaml's args are what build_app takes, its deployments are ours."""
    from generators.core.registry import names
    from server.ray_serve import FRONT

    path = Path(__file__).parents[1] / "deploy" / "ray" / "serve.yaml"
    app = yaml.safe_load(path.read_text())["applications"][0]
    assert app["import_path"] == "server.ray_serve:build_app"
    assert isinstance(build_app(dict(app["args"], data_dir=str(tmp_path))), serve.Application)
    assert {d["name"] for d in app["deployments"]} <= {FRONT, *names()}
    with pytest.raises(ValueError, match="unknown args: colour"):
        build_app({"colour": "red"})
    with pytest.raises(ValueError, match="autoscale"):
        RayOptions(autoscale=(3, 1))
    with pytest.raises(ValueError, match="replicas given for models not deployed: nope"):
        build(ServerConfig(data_dir=tmp_path), RayOptions(model_replicas={"nope": 2}))


def test_ray_flags_are_checked_and_named():
    from server.ray_serve import options_from_flags

    opts = options_from_flags(["2", "procedural=3"], "1:4", 0.5, 1, ("procedural", "gallery"))
    assert opts.replicas == 2 and opts.model_replicas == {"procedural": 3}
    config = ServerConfig(workers=2, max_queue=8)
    fixed, scaled = (opts.deployment_options(m, config) for m in ("procedural", "gallery"))
    assert fixed["num_replicas"] == 3 and "autoscaling_config" not in fixed
    assert scaled["autoscaling_config"] == {"min_replicas": 1, "max_replicas": 4,
                                            "initial_replicas": 1, "target_ongoing_requests": 2}
    assert scaled["max_queued_requests"] == 8 and scaled["ray_actor_options"] == {"num_cpus": 0.5}
    for replicas, autoscale, match in ((["0"], None, "--ray-replicas must be N or MODEL=N"),
                                       (["=2"], None, "--ray-replicas"),
                                       ([], "4", "--ray-autoscale must be MIN:MAX"),
                                       ([], "3:1", "--ray-autoscale")):
        with pytest.raises(ValueError, match=match):
            options_from_flags(replicas, autoscale, 1.0, 1)
