"""RenderService from Python: live frames of generated assets, and the `vitrine render` verb.

    from vitrine.client import Client
    from vitrine.render import SceneObject, orbit, render

    with Client() as c:
        chair = c.generate("procedural", "chair", seed=3)
        for frame in render(c, [SceneObject(chair.asset_id)], orbit(frames=60)):
            frame.image  # JPEG bytes; frame.pose_index, frame.timings, frame.dropped_poses

`render` opens one bidirectional Render stream: the session message, then the poses (sent
as fast as the iterable yields them: the server renders the newest and counts the dropped
ones), yielding each `vitrine.v1.RenderedFrame` as it arrives. `render_frame` is the unary
RenderFrame (thumbnails; `reference=True` for the offline reference picture).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # grpc and the stubs load on first use: `vitrine -h` stays quick
    from vitrine.v1 import render_pb2 as pb
    from vitrine.v1 import render_pb2_grpc as pb_grpc

FORMATS = {"jpeg": "IMAGE_FORMAT_JPEG", "png": "IMAGE_FORMAT_PNG"}


def _pb():
    from vitrine.v1 import render_pb2

    return render_pb2


@dataclass(frozen=True)
class SceneObject:
    asset_id: str
    x: float = 0.0  # metres on the floor
    z: float = 0.0
    yaw_deg: float = 0.0


def session(objects: Sequence[SceneObject], width: int = 256, height: int = 256,
            fmt: str = "jpeg", quality: int = 85, model: str = "") -> pb.RenderSession:
    pb = _pb()
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    return pb.RenderSession(
        objects=[pb.SceneObject(asset_id=o.asset_id,
                                placement=pb.Placement(x=o.x, z=o.z, yaw_deg=o.yaw_deg))
                 for o in objects],
        width=width, height=height, format=pb.ImageFormat.Value(FORMATS[fmt]), quality=quality,
        model=model)


def pose(eye: Sequence[float], target: Sequence[float], fov_y_deg: float = 45.0,
         index: int = 0, up: Sequence[float] = (0.0, 1.0, 0.0)) -> pb.CameraPose:
    from vitrine.v1 import assets_pb2

    pb = _pb()
    v = assets_pb2.Vec3
    return pb.CameraPose(eye=v(x=eye[0], y=eye[1], z=eye[2]),
                         target=v(x=target[0], y=target[1], z=target[2]),
                         up=v(x=up[0], y=up[1], z=up[2]), fov_y_deg=fov_y_deg,
                         pose_index=index, client_time_us=int(time.time() * 1e6))


def orbit(frames: int = 60, radius: float = 2.2, height: float = 1.1,
          target: Sequence[float] = (0.0, 0.4, 0.0), fov_y_deg: float = 45.0,
          turns: float = 1.0) -> Iterator[pb.CameraPose]:
    """`frames` poses on a circle around `target` (one turn by default), indices 0, 1, ..."""
    for i in range(frames):
        a = 2 * math.pi * turns * i / frames
        eye = (target[0] + radius * math.sin(a), height, target[2] + radius * math.cos(a))
        yield pose(eye, target, fov_y_deg, i)


def _stub(client) -> pb_grpc.RenderServiceStub:
    from vitrine.v1 import render_pb2_grpc as pb_grpc

    stub = getattr(client, "_render_stub", None)
    if stub is None:
        stub = client._render_stub = pb_grpc.RenderServiceStub(client.channel)
    return stub


def render(client, objects: Sequence[SceneObject], poses: Iterable[pb.CameraPose], *,
           width: int = 256, height: int = 256, fmt: str = "jpeg", quality: int = 85,
           model: str = "", pace_s: float = 0.0) -> Iterator[pb.RenderedFrame]:
    """Frames of one Render stream over `client` (a `vitrine.client.Client`); `pace_s` waits
    between poses (0: as fast as the iterable yields). Raises VitrineError on a refusal."""
    import grpc

    pb = _pb()
    first = pb.RenderRequest(session=session(objects, width, height, fmt, quality, model))

    def requests():
        yield first
        for p in poses:
            yield pb.RenderRequest(pose=p)
            if pace_s:
                time.sleep(pace_s)

    call = _stub(client).Render(requests(), metadata=client._metadata)
    try:
        yield from call
    except grpc.RpcError as err:
        raise client._error(err) from None
    finally:
        call.cancel()  # a consumer that stops early frees its session at once


def render_frame(client, objects: Sequence[SceneObject], camera: pb.CameraPose, *,
                 width: int = 256, height: int = 256, fmt: str = "jpeg", quality: int = 85,
                 reference: bool = False, model: str = "") -> pb.RenderedFrame:
    pb = _pb()
    req = pb.RenderFrameRequest(session=session(objects, width, height, fmt, quality, model),
                                pose=camera, reference=reference)
    return client._call(lambda: _stub(client).RenderFrame(req, timeout=client.timeout,
                                                          metadata=client._metadata))


# --------------------------------------------------------------------------- the CLI verb


def _object(text: str) -> SceneObject:
    """ASSET_ID[@X,Z[,YAW]]"""
    aid, _, where = text.partition("@")
    if not where:
        return SceneObject(aid)
    try:
        nums = [float(v) for v in where.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: write ASSET_ID@X,Z[,YAW] (metres, "
                                         "degrees)") from None
    if len(nums) not in (2, 3):
        raise argparse.ArgumentTypeError(f"{text!r}: write ASSET_ID@X,Z[,YAW]")
    return SceneObject(aid, *nums)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("objects", nargs="+", type=_object, metavar="ASSET_ID[@X,Z[,YAW]]",
                   help="assets to place (ids from `vitrine generate`), each at X,Z metres "
                        "turned YAW degrees (default: the origin)")
    p.add_argument("--orbit", action="store_true",
                   help="circle the scene (the default and, for now, the only camera path)")
    p.add_argument("--frames", type=int, default=36, help="poses on the orbit (default 36)")
    p.add_argument("--radius", type=float, default=2.2, help="orbit radius, m (default 2.2)")
    p.add_argument("--height", type=float, default=1.1, help="eye height, m (default 1.1)")
    p.add_argument("--target-y", type=float, default=0.4, help="look-at height (default 0.4)")
    p.add_argument("--fov", type=float, default=45.0, help="vertical fov, degrees (10-120)")
    p.add_argument("--size", type=int, default=256,
                   help="frame width and height, a multiple of 16 from 64 to 1024")
    p.add_argument("--reference", action="store_true",
                   help="render each pose with the offline reference instead (RenderFrame; "
                        "seconds per frame)")
    p.add_argument("--output", "-o", default="frames", help="directory (default frames)")


def command(args: argparse.Namespace, client) -> int:
    """`vitrine render`: PNG frames DIR/frame_NNNN.png and an animated DIR/preview.gif."""
    if args.frames < 1:
        print("vitrine render: --frames must be >= 1", file=sys.stderr)
        return 2
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    poses = orbit(args.frames, args.radius, args.height, (0.0, args.target_y, 0.0), args.fov)
    if args.reference:
        frames = (render_frame(client, args.objects, p, width=args.size, height=args.size,
                               fmt="png", reference=True) for p in poses)
    else:
        # Paced at the server's pace: one pose per frame received keeps every pose.
        frames = _lockstep(client, args.objects, list(poses), args.size)
    paths, times = [], []
    for f in frames:
        path = out / f"frame_{f.pose_index:04d}.png"
        path.write_bytes(f.image)
        paths.append(path)
        times.append(f.timings.total_ms)
    print(f"{len(paths)} frames in {out}/ (median {sorted(times)[len(times) // 2]:.0f} ms a "
          "frame on the server)")
    try:
        from PIL import Image
    except ImportError:
        print("vitrine render: no animated preview (pip install pillow for preview.gif)",
              file=sys.stderr)
        return 0
    images = [Image.open(p).convert("RGB") for p in paths]
    images[0].save(out / "preview.gif", save_all=True, append_images=images[1:],
                   duration=80, loop=0)
    print(f"preview: {out / 'preview.gif'}")
    return 0


def _lockstep(client, objects, poses: list, size: int) -> Iterator[pb.RenderedFrame]:
    """Every pose rendered: the next pose is sent when the previous frame has arrived."""
    import queue

    import grpc

    pb = _pb()
    q: queue.Queue = queue.Queue()
    first = pb.RenderRequest(session=session(objects, size, size, "png"))

    def requests():
        yield first
        for p in poses:
            yield pb.RenderRequest(pose=p)
            q.get()

    call = _stub(client).Render(requests(), metadata=client._metadata)
    try:
        for frame in call:
            q.put(None)
            yield frame
    except grpc.RpcError as err:
        raise client._error(err) from None
    finally:
        call.cancel()
