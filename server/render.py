"""The RenderService servicer: render.proto in, a render session of generators/ out. Transport
only: it validates, resolves asset ids to the assets the AssetService made, holds the session
slots, and moves poses and frames between the wire and `generators.neural_render.session`.

Asset ids resolve through the AssetService's remembered requests (`Cache.lookup_request`),
replayed by its pipeline at the same model version: the very asset the id names, in memory.
Resolved assets are kept in a small LRU, so reopening a scene costs nothing.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import AsyncIterator

import grpc
from vitrine.v1 import render_pb2 as pb
from vitrine.v1 import render_pb2_grpc as pb_grpc

from generators.core.asset import Asset, CancelToken
from generators.core.errors import Cancelled, GeneratorError, InvalidOption, short_repr
from generators.core.registry import Generator
from generators.neural_render.scene import Placement
from generators.neural_render.session import (
    FrameLoop,
    Pose,
    RenderSession,
    check_frame_options,
)
from server.service import AssetService, Malformed, _is_id, _lenient
from server.status import CallError, to_call_error

log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["RenderService"].full_name
DEFAULT_MODEL = "neural-render"
DEFAULT_SIZE = 256
DEFAULT_QUALITY = 85
DEFAULT_FOV = 45.0
MAX_SESSIONS = 4  # live sessions per server: each wants most of a core at 30 frames/s
ASSET_LRU = 64  # resolved assets kept in memory
RETRY_AFTER_S = 2.0
_FORMATS = {pb.IMAGE_FORMAT_UNSPECIFIED: "jpeg", pb.IMAGE_FORMAT_JPEG: "jpeg",
            pb.IMAGE_FORMAT_PNG: "png"}


def _vec(v) -> tuple[float, float, float]:
    return (float(v.x), float(v.y), float(v.z))


def pose_from_pb(p: pb.CameraPose) -> Pose:
    return Pose(eye=_vec(p.eye), target=_vec(p.target),
                up=_vec(p.up) if p.HasField("up") else (0.0, 0.0, 0.0),
                fov_y_deg=float(p.fov_y_deg) or DEFAULT_FOV, index=int(p.pose_index),
                client_time_us=int(p.client_time_us))


def frame_to_pb(frame, version: str) -> pb.RenderedFrame:
    t = frame.timings
    return pb.RenderedFrame(
        pose_index=frame.pose_index, client_time_us=frame.client_time_us, image=frame.image,
        mime_type=frame.mime_type, width=frame.width, height=frame.height,
        timings=pb.FrameTimings(queue_ms=t["queue_ms"], gbuffer_ms=t["gbuffer_ms"],
                                network_ms=t["network_ms"], encode_ms=t["encode_ms"],
                                total_ms=t["total_ms"]),
        dropped_poses=frame.dropped, model_version=version, reference=frame.reference)


class RenderService(pb_grpc.RenderServiceServicer):
    def __init__(self, assets: AssetService, models: dict[str, Generator],
                 max_sessions: int = MAX_SESSIONS):
        self.assets = assets
        self.renderers = {n: g for n, g in models.items() if g.info.kind == "render"}
        self.max_sessions = max_sessions
        self.sessions = 0  # open sessions (streams and unary frames); event-loop only
        self.opened = 0  # sessions ever opened (tests, logs)
        self._assets: collections.OrderedDict[str, Asset] = collections.OrderedDict()

    # ------------------------------------------------------------------ rpcs

    async def Render(self, request_iterator, context) -> AsyncIterator[pb.RenderedFrame]:
        requests = request_iterator.__aiter__()
        try:
            first = await requests.__anext__()
        except StopAsyncIteration:
            return  # the client closed without asking for anything
        try:
            if isinstance(first, Malformed):
                raise first.error()
            if first.WhichOneof("request") != "session":
                raise CallError(grpc.StatusCode.FAILED_PRECONDITION,
                                "session: the first RenderRequest of a Render stream must carry "
                                "`session` (the scene); send the poses after it", "session")
            model, session = await self._open(first.session)
        except Exception as exc:  # noqa: BLE001 - every failure becomes its status
            await self._abort(context, exc)
            return
        loop = FrameLoop(session, name=f"render-{self.opened}")
        failure: list[Exception] = []
        reader = asyncio.create_task(self._read(requests, loop, failure))
        try:
            while True:
                frame = await asyncio.to_thread(loop.next_frame)
                if frame is None:
                    break
                yield frame_to_pb(frame, model.info.version)
            await reader
            if failure:
                raise failure[0]
            log.info("render session closed: %d frames, %d poses dropped, stages %s",
                     loop.rendered, loop.dropped,
                     "overlapped" if loop.chooser.best else "taking turns")
        except (asyncio.CancelledError, GeneratorExit):
            log.info("render session cancelled after %d frames", loop.rendered)
            raise
        except Exception as exc:  # noqa: BLE001
            await self._abort(context, exc)
        finally:
            # The slot is free at once; the stages' threads notice and exit by themselves.
            reader.cancel()
            loop.close(join=False)
            self.sessions -= 1

    async def RenderFrame(self, request, context) -> pb.RenderedFrame:
        cancel = CancelToken()
        try:
            if isinstance(request, Malformed):
                raise request.error()
            if not request.HasField("pose"):
                raise CallError(grpc.StatusCode.INVALID_ARGUMENT,
                                "pose: a RenderFrameRequest needs a camera pose", "pose")
            pose = pose_from_pb(request.pose)
            pose.camera()  # a bad pose is refused before any asset is resolved
            model, session = await self._open(request.session)
            try:
                context.add_done_callback(lambda _ctx: cancel.cancel())
                work = ((lambda: session.reference(pose, cancel=cancel)) if request.reference
                        else (lambda: session.render(pose)))
                frame = await asyncio.to_thread(work)
            finally:
                self.sessions -= 1
            return frame_to_pb(frame, model.info.version)
        except (asyncio.CancelledError, Cancelled):
            cancel.cancel()
            raise asyncio.CancelledError from None
        except Exception as exc:  # noqa: BLE001
            await self._abort(context, exc)

    # ------------------------------------------------------------------ helpers

    async def _read(self, request_iterator, loop: FrameLoop, failure: list) -> None:
        """Poses into the loop; a bad message stops the loop and is reported by Render."""
        try:
            async for req in request_iterator:
                if isinstance(req, Malformed):
                    raise req.error()
                if req.WhichOneof("request") != "pose":
                    raise CallError(grpc.StatusCode.FAILED_PRECONDITION,
                                    "session: a Render stream takes one session message, "
                                    "first; every later message must be a pose", "session")
                pose = pose_from_pb(req.pose)
                pose = Pose(pose.eye, pose.target, pose.up, pose.fov_y_deg, pose.index,
                            pose.client_time_us, time.perf_counter())
                loop.submit(pose)
            loop.finish()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001
            failure.append(exc)
            loop.close(join=False)

    async def _open(self, s: pb.RenderSession) -> tuple[Generator, RenderSession]:
        """Validate a session message, take a session slot and build the session (the slot is
        released by the caller once it has the session; here on failure)."""
        name = s.model or DEFAULT_MODEL
        model = self.renderers.get(name)
        if model is None:
            raise CallError(grpc.StatusCode.NOT_FOUND,
                            f"session.model: no render model {short_repr(name)} on this server; "
                            f"render models: {', '.join(sorted(self.renderers)) or 'none'}",
                            "session.model")
        width, height = s.width or DEFAULT_SIZE, s.height or DEFAULT_SIZE
        fmt = _FORMATS.get(s.format)
        if fmt is None:
            raise CallError(grpc.StatusCode.INVALID_ARGUMENT,
                            f"session.format: unknown value {s.format}; allowed: "
                            "IMAGE_FORMAT_JPEG, IMAGE_FORMAT_PNG", "session.format")
        quality = s.quality or DEFAULT_QUALITY
        check_frame_options(width, height, fmt, quality, len(s.objects))
        if self.sessions >= self.max_sessions:
            raise CallError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                            f"this server holds {self.max_sessions} render sessions, all in use;"
                            f" retry in {RETRY_AFTER_S:g} s", retry_after_s=RETRY_AFTER_S)
        self.sessions += 1
        try:
            objects = []
            for i, obj in enumerate(s.objects):
                asset = await self._asset(obj.asset_id, f"session.objects[{i}].asset_id")
                p = obj.placement
                objects.append((asset, Placement(p.x, p.z, p.yaw_deg)))
            session = await asyncio.to_thread(model.open_session, objects, width, height,
                                              fmt, quality)
        except BaseException:
            self.sessions -= 1
            raise
        self.opened += 1
        return model, session

    async def _asset(self, aid: str, field: str) -> Asset:
        hit = self._assets.get(aid)
        if hit is not None:
            self._assets.move_to_end(aid)
            return hit
        remembered = (await asyncio.to_thread(self.assets.cache.lookup_request, aid)
                      if _is_id(aid) else None)
        job = self.assets.pipeline.replay(remembered[1]) if remembered is not None else None
        if job is None:
            raise CallError(grpc.StatusCode.NOT_FOUND,
                            f"{field}: no asset {short_repr(aid)} on this server (generate it "
                            "with AssetService first, or it was made by a model version no "
                            "longer loaded)", field)
        result = (await asyncio.to_thread(job.model.generate, [job.spec]))[0]
        if isinstance(result, GeneratorError):
            raise to_call_error(result)
        if not result.meshes:
            raise InvalidOption(field, f"asset {aid} is a {result.kind} without a mesh of its "
                                "own; allowed: props (chairs, vases, ...)")
        self._assets[aid] = result
        while len(self._assets) > ASSET_LRU:
            self._assets.popitem(last=False)
        return result

    async def _abort(self, context, exc: Exception) -> None:
        err = to_call_error(exc)
        if err.code == grpc.StatusCode.INTERNAL:
            log.error("render: internal error", exc_info=exc)
        await context.abort(err.code, err.message, trailing_metadata=err.trailing_metadata())


def add_to_server(service: RenderService, server: grpc.aio.Server) -> None:
    """Register like `add_RenderServiceServicer_to_server`, except that request bytes that do
    not parse reach the rpc as `Malformed` (INVALID_ARGUMENT) instead of UNKNOWN."""
    handlers = {
        "Render": grpc.stream_stream_rpc_method_handler(
            service.Render, request_deserializer=_lenient("Render", pb.RenderRequest),
            response_serializer=pb.RenderedFrame.SerializeToString),
        "RenderFrame": grpc.unary_unary_rpc_method_handler(
            service.RenderFrame,
            request_deserializer=_lenient("RenderFrame", pb.RenderFrameRequest),
            response_serializer=pb.RenderedFrame.SerializeToString),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME,
                                                                          handlers),))
    if hasattr(server, "add_registered_method_handlers"):
        server.add_registered_method_handlers(SERVICE_NAME, handlers)
