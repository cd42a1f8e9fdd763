"""RenderService over a real socket: a session's lifecycle, latest pose wins, every bad input's
status, session limits, and a cancelled stream freeing its session at once."""

from __future__ import annotations

import io
import threading
import time

import grpc
import pytest
from conftest import start_server
from PIL import Image
from vitrine.client import VitrineError
from vitrine.render import SceneObject, orbit, pose, render, render_frame
from vitrine.v1 import render_pb2 as pb
from vitrine.v1 import render_pb2_grpc as pb_grpc

SMALL = {"max_triangles": 1500, "lod_count": 1, "texture_size": 64}


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    from generators.core.registry import load_models

    models = load_models(["procedural", "neural-render"])  # the shipped shader
    server = start_server(tmp_path_factory.mktemp("render"), models)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(live):
    from vitrine import Client

    with Client(live.address, timeout=120) as c:
        yield c


@pytest.fixture(scope="module")
def scene(client):
    chair = client.generate("procedural", "chair", seed=3, **SMALL)
    vase = client.generate("procedural", "vase", seed=4, **SMALL)
    return [SceneObject(chair.asset_id), SceneObject(vase.asset_id, 0.6, 0.2, 45)]


def _wait_sessions(live, n: int, timeout: float = 10.0) -> None:
    t0 = time.monotonic()
    while live.running.render.sessions != n:
        assert time.monotonic() - t0 < timeout, f"{live.running.render.sessions} sessions open"
        time.sleep(0.02)


def test_a_session_renders_its_poses_in_order_then_closes(live, client, scene):
    frames = list(render(client, scene, orbit(frames=4), width=96, height=64, pace_s=0.3))
    assert frames, "no frame"
    idx = [f.pose_index for f in frames]
    assert idx == sorted(idx) and idx[-1] == 3
    f = frames[-1]
    assert f.dropped_poses + len(frames) == 4
    assert Image.open(io.BytesIO(f.image)).size == (96, 64) and f.mime_type == "image/jpeg"
    assert f.model_version.startswith("nr-") and not f.reference
    assert f.timings.total_ms >= f.timings.gbuffer_ms > 0 and f.timings.network_ms > 0
    _wait_sessions(live, 0)


def test_poses_sent_faster_than_frames_are_dropped_and_counted(client, scene):
    frames = list(render(client, scene, orbit(frames=40), width=64, height=64))
    assert frames[-1].pose_index == 39  # the newest pose is always rendered
    assert frames[-1].dropped_poses > 0
    assert frames[-1].dropped_poses + len(frames) == 40


def test_render_frame_neural_and_reference(client, scene):
    cam = pose((1.8, 1.0, 1.8), (0.0, 0.4, 0.0), index=7)
    f = render_frame(client, scene, cam, width=64, height=64, fmt="png")
    assert f.pose_index == 7 and f.mime_type == "image/png" and not f.reference
    r = render_frame(client, scene, cam, width=64, height=64, reference=True)
    assert r.reference and r.timings.network_ms == 0
    assert Image.open(io.BytesIO(r.image)).size == (64, 64)


@pytest.mark.parametrize("change,code,field", [
    (lambda s: s.objects[0].__setattr__("asset_id", "0" * 32), grpc.StatusCode.NOT_FOUND,
     "session.objects[0].asset_id"),
    (lambda s: s.__setattr__("width", 100), grpc.StatusCode.INVALID_ARGUMENT, "session.width"),
    (lambda s: s.__setattr__("height", 4096), grpc.StatusCode.INVALID_ARGUMENT,
     "session.height"),
    (lambda s: s.__setattr__("quality", 101), grpc.StatusCode.INVALID_ARGUMENT,
     "session.quality"),
    (lambda s: s.__setattr__("model", "mystery"), grpc.StatusCode.NOT_FOUND, "session.model"),
    (lambda s: s.ClearField("objects"), grpc.StatusCode.INVALID_ARGUMENT, "session.objects"),
])
def test_bad_sessions_are_refused_naming_the_field(client, scene, change, code, field):
    from vitrine.render import session

    s = session(scene, 64, 64)
    change(s)
    stub = pb_grpc.RenderServiceStub(client.channel)
    with pytest.raises(grpc.RpcError) as err:
        list(stub.Render(iter([pb.RenderRequest(session=s)]), timeout=60))
    assert err.value.code() == code
    assert field in err.value.details()
    with pytest.raises(VitrineError) as verr:
        client._call(lambda: stub.RenderFrame(pb.RenderFrameRequest(
            session=s, pose=pose((2, 1, 2), (0, 0, 0))), timeout=60))
    assert verr.value.code == code and verr.value.field == field


def test_bad_poses_are_invalid_argument_naming_the_field(client, scene):
    for bad, field in ((pose((2, 1, 2), (0, 0, 0), fov_y_deg=150), "pose.fov_y_deg"),
                       (pose((1, 1, 1), (1, 1, 1)), "pose.target")):
        with pytest.raises(VitrineError) as err:
            list(render(client, scene, [bad], width=64, height=64))
        assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert err.value.field == field and "allowed" in err.value.message


def test_a_pose_before_the_session_is_failed_precondition(client):
    stub = pb_grpc.RenderServiceStub(client.channel)
    with pytest.raises(grpc.RpcError) as err:
        list(stub.Render(iter([pb.RenderRequest(pose=pose((2, 1, 2), (0, 0, 0)))]),
                         timeout=60))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "first RenderRequest" in err.value.details()


def test_more_sessions_than_the_server_holds_is_resource_exhausted(live, client, scene):
    live.running.render.max_sessions = 1
    try:
        gate = threading.Event()

        def poses():
            yield pose((2, 1, 2), (0, 0.4, 0))
            gate.wait(30)

        first = render(client, scene, poses(), width=64, height=64)
        next(first)  # the session is open and holds the only slot
        with pytest.raises(VitrineError) as err:
            list(render(client, scene, orbit(frames=1), width=64, height=64))
        assert err.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "retry" in err.value.message
        gate.set()
        first.close()
    finally:
        live.running.render.max_sessions = 4
    _wait_sessions(live, 0)


def test_a_client_that_goes_away_frees_its_session_at_once(live, client, scene):
    stub = pb_grpc.RenderServiceStub(client.channel)
    stop = threading.Event()

    def requests():
        yield pb.RenderRequest(session=__import__("vitrine.render").render.session(scene, 64,
                                                                                    64))
        i = 0
        while not stop.is_set():
            yield pb.RenderRequest(pose=pose((2, 1, 2), (0, 0.4, 0), index=i))
            i += 1
            time.sleep(0.01)

    call = stub.Render(requests())
    assert next(call).pose_index >= 0
    assert live.running.render.sessions == 1
    call.cancel()
    stop.set()
    _wait_sessions(live, 0, timeout=5)


def test_the_render_verb_writes_png_frames_and_a_preview(live, scene, tmp_path, capsys):
    from vitrine.cli import main

    ids = [f"{scene[0].asset_id}", f"{scene[1].asset_id}@0.6,0.2,45"]
    out = tmp_path / "frames"
    assert main(["render", *ids, "--orbit", "--frames", "3", "--size", "64", "-o", str(out),
                 "--address", live.address]) == 0
    frames = sorted(out.glob("frame_*.png"))
    assert [f.name for f in frames] == ["frame_0000.png", "frame_0001.png", "frame_0002.png"]
    assert Image.open(out / "preview.gif").n_frames == 3
    assert "3 frames in" in capsys.readouterr().out
    assert main(["render", "0" * 32, "--frames", "1", "--size", "64", "-o", str(out),
                 "--address", live.address]) == 1
