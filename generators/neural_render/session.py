"""A render session (one scene, one frame size) and its pipelined, latest-pose-wins frame loop.

`RenderSession.render(pose)` makes one frame in three stages: the G-buffer (Open3D ray casts,
numpy), the network (torch) and the encoding (tone mapping, compositing, JPEG/PNG). `FrameLoop`
runs them on two threads: the first casts the primary rays, fills the full-resolution
channels and draws the shadow and AO rays (`gbuffer.primary_channels`), the second casts those
(`gbuffer.ray_channels`), runs the network and encodes, so the two stages cost about the same
(16.5 and 18 ms of CPU a 256 px frame of the bench scene here). Frame n + 1's primary rays are cast while frame n's
network runs (Open3D and torch both release the GIL): on two cores a frame then costs the
slower stage instead of their sum, and with both under the interval between poses, a pose
is taken as soon as it arrives.

Latest pose wins: `submit` keeps at most one pose waiting; a newer one replaces it and the older
is counted in `dropped`. Nothing queues without bound: a slow client (or a slow server) makes
poses drop, not memory grow. For latency the G-buffer stage takes a pose only when the
network stage has taken the previous G-buffer, and, while the network is busy, only as late as
lets its G-buffer be ready when the network frees (from running means of both stages' times):
a pose taken earlier would wait, finished, behind the network, and a later one is fresher.
Nothing here knows gRPC; `server/render.py` adapts it.
"""

from __future__ import annotations

import io
import logging
import math
import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from generators.core import precision
from generators.core.asset import Asset
from generators.core.errors import Cancelled, InvalidOption
from generators.neural_render.gbuffer import (
    MAX_SIZE,
    MIN_SIZE,
    SIZE_STEP,
    GBuffer,
    PrimaryChannels,
    primary_channels,
    ray_channels,
)
from generators.neural_render.model import NeuralShader, compose
from generators.neural_render.reference import render_reference
from generators.neural_render.scene import Camera, Placement, Scene
from generators.neural_render.shading import to_uint8, tonemap_torch

log = logging.getLogger(__name__)

FORMATS = {"jpeg": "image/jpeg", "png": "image/png"}
MAX_OBJECTS = 64
FOV_RANGE = (10.0, 120.0)
MAX_COORD = 1e4  # metres: a pose farther out than this is a client bug, not a camera
REFERENCE_SAMPLES = (64, 144)  # (sun, bounce) per pixel for RenderFrame(reference=True)
JIT_MARGIN_S = 0.001  # a G-buffer is started this much before the network is expected free


def serving_dtype() -> torch.dtype:
    """The shader's serving precision: bfloat16 (autocast, channels-last) where the CPU
    multiplies it natively (AMX or AVX512-BF16), float32 elsewhere (emulated bfloat16 is
    slower than float32); `VITRINE_RENDER_DTYPE=float32` (or `bfloat16`) overrides. On this
    machine's AVX512-BF16 CPU it cut the 256 x 256 network from 51 to 27 ms (best of 15, shared
    machine) and moved held-out SSIM from 0.9606 to 0.9604 (pixels by at most 0.009)."""
    return precision.serving_dtype("VITRINE_RENDER_DTYPE")


@dataclass(frozen=True)
class Pose:
    """A client's camera pose (`CameraPose` on the wire)."""

    eye: tuple[float, float, float]
    target: tuple[float, float, float]
    up: tuple[float, float, float] = (0.0, 1.0, 0.0)
    fov_y_deg: float = 45.0
    index: int = 0
    client_time_us: int = 0
    arrived: float = field(default_factory=time.perf_counter, compare=False)

    def camera(self, prefix: str = "pose.") -> Camera:
        """The Camera, or InvalidOption naming the bad field."""
        for name in ("eye", "target", "up"):
            v = getattr(self, name)
            if not all(math.isfinite(c) and abs(c) <= MAX_COORD for c in v):
                raise InvalidOption(f"{prefix}{name}", f"got {tuple(v)}; each coordinate must "
                                    f"be finite and within +-{MAX_COORD:g} m")
        lo, hi = FOV_RANGE
        if not (math.isfinite(self.fov_y_deg) and lo <= self.fov_y_deg <= hi):
            raise InvalidOption(f"{prefix}fov_y_deg", f"got {self.fov_y_deg}; allowed: {lo:g} "
                                f"to {hi:g} degrees (0 = 45)")
        up = self.up if any(self.up) else (0.0, 1.0, 0.0)
        cam = Camera(self.eye, self.target, up, self.fov_y_deg)
        try:
            cam.basis()
        except ValueError as err:
            field_name = "target" if "coincide" in str(err) else "up"
            raise InvalidOption(f"{prefix}{field_name}", f"{err}; allowed: a target away from "
                                "the eye and an up not parallel to target - eye") from None
        return cam


@dataclass
class Frame:
    pose_index: int
    client_time_us: int
    image: bytes
    mime_type: str
    width: int
    height: int
    timings: dict[str, float]  # queue_ms, gbuffer_ms, network_ms, encode_ms, total_ms
    dropped: int = 0
    reference: bool = False


def check_frame_options(width: int, height: int, fmt: str, quality: int,
                        n_objects: int, prefix: str = "session.") -> None:
    """InvalidOption naming the first bad session field."""
    for name, v in (("width", width), ("height", height)):
        if not (MIN_SIZE <= v <= MAX_SIZE and v % SIZE_STEP == 0):
            raise InvalidOption(f"{prefix}{name}", f"got {v}; allowed: a multiple of "
                                f"{SIZE_STEP} from {MIN_SIZE} to {MAX_SIZE} (0 = 256)")
    if fmt not in FORMATS:
        raise InvalidOption(f"{prefix}format", f"got {fmt!r}; allowed: {', '.join(FORMATS)}")
    if not 1 <= quality <= 100:
        raise InvalidOption(f"{prefix}quality", f"got {quality}; allowed: 1 to 100 (0 = 85)")
    if not 1 <= n_objects <= MAX_OBJECTS:
        raise InvalidOption(f"{prefix}objects", f"got {n_objects} objects; allowed: 1 to "
                            f"{MAX_OBJECTS}")


@torch.inference_mode()
def shade_arrays(shader: NeuralShader, full: np.ndarray, half: np.ndarray,
                 background: np.ndarray, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The displayed picture [H, W, 3] float in [0, 1] the shader makes of G-buffer arrays
    (full [Cf, H, W], half [Ch, H/2, W/2], background [H, W, 3]), in `dtype`. In bfloat16
    the inputs go in channels-last; a shader whose weights are bfloat16 (`bfloat16_shader`,
    as served) runs as it is, a float32 one under autocast: the same pixels, bit for bit,
    autocast only re-casts the weights every frame."""
    f = torch.from_numpy(np.ascontiguousarray(full, np.float32))[None]
    h = torch.from_numpy(np.ascontiguousarray(half, np.float32))[None]
    bg = torch.from_numpy(np.asarray(background, np.float32)).permute(2, 0, 1)[None]
    if dtype == torch.bfloat16:
        cl = torch.channels_last
        fb = f.to(torch.bfloat16).contiguous(memory_format=cl)
        hb = h.to(torch.bfloat16).contiguous(memory_format=cl)
        if next(shader.parameters()).dtype == torch.bfloat16:
            d, s = shader(fb, hb)
        else:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                d, s = shader(fb, hb)
        d, s = d.float(), s.float()
    else:
        d, s = shader(f, h)
    return tonemap_torch(compose(f, bg, d, s))[0].permute(1, 2, 0)


def bfloat16_shader(shader: NeuralShader) -> NeuralShader:
    """The shader with bfloat16 weights, channels-last, for `shade_arrays` in bfloat16: 0.7 ms
    a 256 x 256 frame less than autocast, which casts the weights again on every call."""
    return shader.to(torch.bfloat16).to(memory_format=torch.channels_last)


class RenderSession:
    """One scene at one frame size, rendered by one shader."""

    def __init__(self, shader: NeuralShader, objects: Sequence[tuple[Asset, Placement]],
                 width: int = 256, height: int = 256, fmt: str = "jpeg", quality: int = 85,
                 seed: int = 0, dtype: torch.dtype = torch.float32):
        check_frame_options(width, height, fmt, quality, len(objects))
        self.shader = shader
        self.dtype = dtype  # bfloat16: autocast, channels-last inputs (`serving_dtype`)
        self.scene = Scene(objects)
        self.width, self.height, self.fmt, self.quality = width, height, fmt, quality
        self.rng = np.random.default_rng(seed)
        self._lock = threading.Lock()  # the rng is drawn by one frame's first part at a time

    def gbuffer(self, camera: Camera) -> GBuffer:
        return self.ray_channels(self.primary_channels(camera))

    def primary_channels(self, camera: Camera) -> PrimaryChannels:
        """The G-buffer's first part (`gbuffer.primary_channels`): its rays are drawn here."""
        with self._lock:
            return primary_channels(self.scene, camera, self.width, self.height, self.rng)

    def ray_channels(self, p: PrimaryChannels) -> GBuffer:
        """The rest: the shadow and AO rays' occlusion tests (`gbuffer.ray_channels`)."""
        return ray_channels(self.scene, p)

    def shade(self, gb: GBuffer) -> np.ndarray:
        """[H, W, 3] uint8 displayed picture."""
        img = shade_arrays(self.shader, gb.full, gb.half, gb.background, self.dtype)
        return (img * 255 + 0.5).clamp(0, 255).to(torch.uint8).numpy()

    def encode(self, pixels: np.ndarray) -> bytes:
        buf = io.BytesIO()
        if self.fmt == "png":
            Image.fromarray(pixels).save(buf, format="PNG", compress_level=1)
        else:
            Image.fromarray(pixels).save(buf, format="JPEG", quality=self.quality)
        return buf.getvalue()

    def render(self, pose: Pose) -> Frame:
        """One neural frame, stage after stage (the unary path)."""
        cam = pose.camera()
        t0 = time.perf_counter()
        gb = self.gbuffer(cam)
        t1 = time.perf_counter()
        pixels = self.shade(gb)
        t2 = time.perf_counter()
        data = self.encode(pixels)
        t3 = time.perf_counter()
        return self._frame(pose, data, t0, t1 - t0, t2 - t1, t3 - t2)

    def reference(self, pose: Pose, samples: tuple[int, int] = REFERENCE_SAMPLES,
                  cancel=None) -> Frame:
        """The same pose by the offline reference renderer (seconds)."""
        cam = pose.camera()
        t0 = time.perf_counter()
        disp, _ = render_reference(self.scene, cam, self.width, self.height,
                                   np.random.default_rng(pose.index), *samples, cancel=cancel)
        t1 = time.perf_counter()
        data = self.encode(to_uint8(disp))
        t2 = time.perf_counter()
        frame = self._frame(pose, data, t0, t1 - t0, 0.0, t2 - t1)
        frame.reference = True
        return frame

    def _frame(self, pose: Pose, data: bytes, started: float, g: float, n: float,
               e: float) -> Frame:
        now = time.perf_counter()
        return Frame(pose.index, pose.client_time_us, data, FORMATS[self.fmt], self.width,
                     self.height, {"queue_ms": (started - pose.arrived) * 1000,
                                   "gbuffer_ms": g * 1000, "network_ms": n * 1000,
                                   "encode_ms": e * 1000,
                                   "total_ms": (now - pose.arrived) * 1000})


class FrameLoop:
    """A session's live frames: poses in (`submit`), frames out (`next_frame`), two threads.

    `finish()` says no more poses will come: the pending one is still rendered, then
    `next_frame` returns None. `close()` stops at once (a cancelled call) and joins the threads.
    A bad pose (InvalidOption) is raised by `submit` before it replaces anything.
    """

    def __init__(self, session: RenderSession, name: str = "render"):
        self.session = session
        self.dropped = 0
        self.rendered = 0
        self._cv = threading.Condition()
        self._pose: tuple[Pose, Camera] | None = None
        self._gbuf: tuple[Pose, PrimaryChannels, float, float] | None = None
        self._out: Frame | None = None
        self._finishing = False
        self._closed = False
        self._a_done = False
        self._b_done = False
        self._error: BaseException | None = None
        # Running means (seconds) of the stages, and when the network stage began its frame
        # (None while it waits): when to start the next G-buffer (`_lead`).
        self._g_mean: float | None = None
        self._b_mean: float | None = None
        self._b_started: float | None = None
        self.chooser = OverlapChooser()  # whether the stages overlap; under the lock
        self._threads = [threading.Thread(target=self._run, args=(f,), daemon=True,
                                          name=f"{name}-{f.__name__.strip('_')}")
                         for f in (self._gbuffer_stage, self._shade_stage)]
        for t in self._threads:
            t.start()

    def submit(self, pose: Pose) -> None:
        cam = pose.camera()
        with self._cv:
            if self._closed or self._finishing:
                return
            if self._pose is not None:
                self.dropped += 1
            self._pose = (pose, cam)
            self._cv.notify_all()

    def finish(self) -> None:
        with self._cv:
            self._finishing = True
            self._cv.notify_all()

    def close(self, join: bool = True) -> None:
        """Stop now; with `join`, wait for the threads (a stage mid-frame finishes that frame
        first). Without, the threads exit on their own right after (the event loop's way)."""
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        if join:
            for t in self._threads:
                if t is not threading.current_thread():
                    t.join(timeout=5)

    def next_frame(self, timeout: float | None = None) -> Frame | None:
        """The next frame; None when the loop has ended (finished or closed). Raises an error a
        stage hit, and TimeoutError after `timeout` seconds without a frame."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cv:
            while self._out is None or self._closed:
                if self._error is not None:
                    raise self._error
                if self._closed or self._b_done:
                    return None
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError("no frame yet")
                self._cv.wait(left)
            frame, self._out = self._out, None
            self._cv.notify_all()
            return frame

    # ------------------------------------------------------------------ threads

    def _run(self, stage) -> None:
        try:
            stage()
        except Cancelled:
            pass
        except BaseException as err:  # handed to the consumer, which reports it
            log.exception("render stage %s failed", stage.__name__)
            with self._cv:
                self._error = err
                self._cv.notify_all()
        finally:
            with self._cv:
                if stage == self._gbuffer_stage:
                    self._a_done = True
                else:
                    self._b_done = True
                self._cv.notify_all()

    def _wait(self, ready) -> bool:
        """Wait until ready() (True) or the loop is closed (False); holds the lock."""
        while not ready():
            if self._closed or self._error is not None:
                return False
            self._cv.wait()
        return not self._closed and self._error is None

    def _lead(self) -> float:
        """Seconds the G-buffer stage should still wait before taking a pose: until the
        network stage's frame is expected to end in one G-buffer's time (minus a margin of
        `JIT_MARGIN_S`, so that the network does not wait for it). Holds the lock."""
        if self._b_started is None or self._g_mean is None or self._b_mean is None:
            return 0.0
        ends = self._b_started + self._b_mean
        return ends - self._g_mean - JIT_MARGIN_S - time.perf_counter()

    def _gbuffer_stage(self) -> None:
        while True:
            with self._cv:
                if not self._wait(lambda: self._gbuf is None
                                  and (self.chooser.overlap or self._b_started is None)
                                  and (self._pose is not None or self._finishing)):
                    return
                while (lead := self._lead()) > 0 and self._pose is not None:
                    self._cv.wait(lead)  # a newer pose may replace the waiting one meanwhile
                    if self._closed or self._error is not None:
                        return
                if self._pose is None:  # finishing and nothing left
                    return
                (pose, cam), self._pose = self._pose, None
            t0 = time.perf_counter()
            prim = self.session.primary_channels(cam)
            g_s = time.perf_counter() - t0
            with self._cv:
                self._g_mean = _mean(self._g_mean, g_s)
                if not self._wait(lambda: self._gbuf is None):
                    return
                self._gbuf = (pose, prim, t0, g_s)
                self._cv.notify_all()

    def _shade_stage(self) -> None:
        while True:
            with self._cv:
                if not self._wait(lambda: self._gbuf is not None or self._a_done):
                    return
                if self._gbuf is None:  # the G-buffer stage ended and left nothing
                    return
                (pose, prim, started, g_s), self._gbuf = self._gbuf, None
                t1 = self._b_started = time.perf_counter()
                self._cv.notify_all()
            gb = self.session.ray_channels(prim)
            t2 = time.perf_counter()
            pixels = self.session.shade(gb)
            t3 = time.perf_counter()
            data = self.session.encode(pixels)
            t4 = time.perf_counter()
            frame = self.session._frame(pose, data, started, g_s + t2 - t1, t3 - t2, t4 - t3)
            with self._cv:
                self._b_mean = _mean(self._b_mean, t4 - t1)
                self._b_started = None
                self.chooser.record(frame.timings["total_ms"] / 1000, t4)
                self._cv.notify_all()
                if not self._wait(lambda: self._out is None):
                    return
                frame.dropped = self.dropped
                self._out = frame
                self.rendered += 1
                self._cv.notify_all()


class OverlapChooser:
    """Whether the frame loop's two stages overlap (a pipeline) or take turns, by measurement.

    Overlapping pays when the process gets both cores. On a machine shared with other work it
    may get about one: the two stages then share it, each takes twice as long, and a frame's
    latency doubles for no more frames (bench_render at load 9 here: overlapped 26 frames/s,
    latency p50 82 ms; taking turns 30 frames/s, 46 ms). So the loop runs `RUN` frames in the
    better mode, then `PROBE` in the other, and keeps the one with the lower median latency
    (pose received -> frame made), unless that one also makes clearly fewer frames (under
    0.9x the other's rate, and under `MIN_FPS`). The first `SKIP` frames after a switch are
    not counted: they straddle it."""

    RUN = 60
    PROBE = 16
    SKIP = 3
    MIN_FPS = 30.0

    def __init__(self):
        self.overlap = True  # the mode now
        self.best = True  # the mode the last comparison chose
        self.switches = 0
        self._left = self.SKIP + self.RUN  # frames left in this phase
        self._run: list[tuple[float, float]] = []  # (latency s, done at) in this phase
        self._kept: list[tuple[float, float]] = []  # the best mode's last PROBE of its run

    def record(self, latency: float, done: float) -> None:
        """One frame made in the mode `overlap` was in when the frame began."""
        self._left -= 1
        if self._left < (self.RUN if self.overlap == self.best else self.PROBE):
            self._run.append((latency, done))
        if self._left > 0:
            return
        if self.overlap == self.best:  # the run ended: probe the other mode
            self._kept = self._run[-self.PROBE:]
            self.overlap = not self.best
            self._left = self.SKIP + self.PROBE
        else:  # the probe ended: keep the better
            if self._better(self._run, self._kept):
                self.best = self.overlap
                self.switches += 1
                log.debug("frame loop: stages %s from now", "overlap" if self.best
                          else "take turns")
            self.overlap = self.best
            self._left = self.SKIP + self.RUN
        self._run = []

    def _better(self, probe: list[tuple[float, float]], kept: list[tuple[float, float]]
                ) -> bool:
        """Whether the probed mode beat the kept one."""
        if len(probe) < 2 or len(kept) < 2:
            return False

        def fps(xs):
            span = xs[-1][1] - xs[0][1]
            return (len(xs) - 1) / span if span > 0 else math.inf

        lat_p = statistics.median(x[0] for x in probe)
        lat_k = statistics.median(x[0] for x in kept)
        if lat_p >= lat_k:
            return False
        return not (fps(probe) < 0.9 * fps(kept) and fps(probe) < self.MIN_FPS)


def _mean(mean: float | None, x: float, weight: float = 0.2) -> float:
    """An exponential running mean (the first value starts it)."""
    return x if mean is None else mean + weight * (x - mean)
