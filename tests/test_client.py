"""The Python client library against a real server: verified assets, batches, resume, errors."""

import grpc
import pytest
from support.gltf_validator import assert_valid_glb
from vitrine import Client, VitrineError
from vitrine.client import _Assembly, request

FAST = {"max_triangles": 3000, "resolution": 48}


def test_generate_and_save(client, tmp_path):
    seen = []
    asset = client.generate("procedural", "chair", seed=4, progress=lambda d, t: seen.append(d),
                            **FAST)
    assert list(asset.files) == ["lod2.glb", "lod1.glb", "lod0.glb"]
    assert seen and seen[-1] == sum(len(b) for b in asset.files.values())
    paths = asset.save(tmp_path / "out")
    assert [p.name for p in paths] == list(asset.files)
    assert_valid_glb([p.read_bytes() for p in paths])


def test_fetch_by_id(client):
    asset = client.generate("procedural", "vase", seed=4, **FAST)
    assert client.fetch(asset.asset_id).files == asset.files


def test_batch_mixes_assets_and_errors(client):
    out = client.generate_batch([
        request("procedural", "bench", 1, **FAST),
        request("procedural", "bench", 2, lod_count=7),
        request("procedural", "lamp", 3, pivot="center", **FAST),
    ])
    assert out[0].header.category == "bench" and out[2].header.category == "lamp"
    assert isinstance(out[1], VitrineError) and out[1].field == "requests[1].options.lod_count"


def test_refusal_carries_code_and_field(client):
    with pytest.raises(VitrineError) as e:
        client.generate("procedural", "chair", lod_count=0)
    assert e.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert e.value.field == "options.lod_count" and "1 to 4" in e.value.message


def test_unknown_option_name_is_a_type_error():
    with pytest.raises(TypeError, match="unknown option"):
        request("procedural", "chair", colour="red")


def test_request_reads_names_and_enum_values_from_the_proto():
    from vitrine.client import OPTION_FIELDS
    from vitrine.v1 import assets_pb2 as pb

    assert list(OPTION_FIELDS) == [f.name for f in pb.Options.DESCRIPTOR.fields]
    assert OPTION_FIELDS["normal_convention"].choices == ("opengl", "directx")
    req = request("texture-gan", "brick", 3, normal_convention="directx", pivot="PIVOT_CENTER",
                  texture_size=64, material=None)
    assert req.options.normal_convention == pb.NORMAL_CONVENTION_DIRECTX
    assert req.options.pivot == pb.PIVOT_CENTER and req.options.texture_size == 64
    assert not req.options.HasField("material")  # None: the model's default
    with pytest.raises(ValueError, match="pivot must be one of bottom_center, center"):
        request("procedural", "chair", pivot="top")


def test_unreachable_server_says_how_to_start_one():
    with Client("127.0.0.1:1", timeout=5) as c, pytest.raises(VitrineError) as e:
        c.list_models()
    assert e.value.code == grpc.StatusCode.UNAVAILABLE
    assert "make serve" in e.value.message


def test_broken_stream_is_resumed_with_fetch(client, monkeypatch):
    """Cut the stream after the first chunk; the client resumes via Fetch and verifies."""
    full = client.generate("procedural", "table", seed=12, **FAST)
    real_generate = client.stub.Generate

    def flaky(req, timeout=None, metadata=None):
        for i, part in enumerate(real_generate(req, timeout=timeout, metadata=metadata)):
            if i == 2:  # header, one chunk, then the connection "drops"
                raise _Unavailable()
            yield part

    class _Unavailable(grpc.RpcError):
        def code(self):
            return grpc.StatusCode.UNAVAILABLE

        def details(self):
            return "connection reset"

    fetches = []
    real_fetch = client.stub.Fetch
    monkeypatch.setattr(client.stub, "Generate", flaky)
    monkeypatch.setattr(client.stub, "Fetch",
                        lambda req, timeout=None, metadata=None: fetches.append(req) or real_fetch(req))
    again = client.generate("procedural", "table", seed=12, **FAST)
    assert again.files == full.files
    assert len(fetches) == 1 and (fetches[0].file_index, fetches[0].offset) != (0, 0)


def test_assembly_rejects_tampered_bytes(client):
    asset = client.generate("procedural", "lamp", seed=2, **FAST)
    asm = _Assembly(asset.header)
    from vitrine.v1 import assets_pb2 as pb

    data = next(iter(asset.files.values()))
    bad = bytearray(data)
    bad[-1] ^= 1
    with pytest.raises(VitrineError, match="sha256 mismatch"):  # as soon as the file is whole
        asm.add(pb.Chunk(file_index=0, offset=0, data=bytes(bad)))


def test_progressive_generate_hands_over_each_file_as_it_arrives(client, monkeypatch):
    """A progressive miss: `on_file` gets the coarsest level before the finer levels are even
    announced; the asset equals the plain one, and a hit (header listing every file) works
    through the same path."""
    events = []
    real_generate = client.stub.Generate

    def recording(req, timeout=None, metadata=None):
        for part in real_generate(req, timeout=timeout, metadata=metadata):
            events.append(part.WhichOneof("part"))
            yield part

    monkeypatch.setattr(client.stub, "Generate", recording)
    got = []
    asset = client.generate("procedural", "bench", seed=31, progressive=True,
                            on_file=lambda name, data: (got.append((name, data)),
                                                        events.append(name)), **FAST)
    assert [n for n, _ in got] == ["lod2.glb", "lod1.glb", "lod0.glb"]
    assert events[0] == "header" and events.index("lod2.glb") < events.index("file")
    assert dict(got) == asset.files and asset.header.file_count == 3
    assert len(asset.header.files) == 3
    plain = client.generate("procedural", "bench", seed=31, **FAST)
    assert plain.header.timings.cache_hit and plain.files == asset.files
    names = []
    hit = client.generate("procedural", "bench", seed=31, progressive=True,
                          on_file=lambda name, data: names.append(name), **FAST)
    assert hit.files == asset.files and names == list(asset.files)


def test_progressive_stream_broken_after_the_first_file_is_resumed(client, monkeypatch):
    real_generate = client.stub.Generate

    calls = []

    def flaky(req, timeout=None, metadata=None):
        calls.append(req)
        for part in real_generate(req, timeout=timeout, metadata=metadata):
            if part.HasField("file") and len(calls) == 1:  # lod2 arrived; the link drops
                raise _Unavailable()
            yield part

    class _Unavailable(grpc.RpcError):
        def code(self):
            return grpc.StatusCode.UNAVAILABLE

        def details(self):
            return "connection reset"

    monkeypatch.setattr(client.stub, "Generate", flaky)
    names = []
    asset = client.generate("procedural", "lamp", seed=32, progressive=True,
                            on_file=lambda name, data: names.append(name), **FAST)
    # The cut stopped the generation (nothing stored for Fetch), so the client asked again.
    assert names == ["lod2.glb", "lod1.glb", "lod0.glb"] == list(asset.files)
    assert len(calls) == 2 and client.fetch(asset.asset_id).files == asset.files
