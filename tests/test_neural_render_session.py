"""Render sessions and the latest-pose-wins frame loop (a tiny untrained shader: these tests
check the plumbing, not the picture; the shipped shader's quality is `vitrine eval`'s)."""

from __future__ import annotations

import copy
import io
import statistics
import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image

from generators.core.errors import InvalidOption
from generators.neural_render.model import NeuralShader
from generators.neural_render.scene import Placement
from generators.neural_render.session import (
    FrameLoop,
    OverlapChooser,
    Pose,
    RenderSession,
    bfloat16_shader,
    check_frame_options,
    shade_arrays,
)

SMALL = {"max_triangles": 600, "lod_count": 1, "texture_size": 64}


@pytest.fixture(scope="module")
def objects():
    from generators.core.registry import load_models

    gen = load_models(["procedural"])["procedural"]
    vase, lamp = gen.generate([gen.resolve("vase", 4, SMALL), gen.resolve("lamp", 5, SMALL)])
    return [(vase, Placement(0.3, 0.0)), (lamp, Placement(-0.3, 0.1, 90))]


@pytest.fixture(scope="module")
def shader():
    torch.manual_seed(0)
    return NeuralShader(widths=(4, 8, 8), mid_blocks=1).eval()


def _pose(i: int, n: int = 12) -> Pose:
    a = 2 * np.pi * i / n
    return Pose((1.6 * np.sin(a), 0.9, 1.6 * np.cos(a)), (0.0, 0.3, 0.0), index=i,
                client_time_us=1000 + i)


def test_a_frame_is_an_image_of_the_asked_size(objects, shader):
    for fmt, kind in (("jpeg", "JPEG"), ("png", "PNG")):
        s = RenderSession(shader, objects, 96, 64, fmt)
        f = s.render(_pose(1))
        img = Image.open(io.BytesIO(f.image))
        assert img.format == kind and img.size == (96, 64)
        assert f.pose_index == 1 and f.client_time_us == 1001
        assert set(f.timings) == {"queue_ms", "gbuffer_ms", "network_ms", "encode_ms",
                                  "total_ms"}
        assert f.timings["total_ms"] >= f.timings["gbuffer_ms"] + f.timings["network_ms"]


def test_stale_poses_are_dropped_counted_and_the_latest_is_rendered(objects, shader):
    loop = FrameLoop(RenderSession(shader, objects, 64, 64))
    try:
        for i in range(30):  # far faster than frames are made
            loop.submit(_pose(i))
        loop.finish()
        frames = []
        while (f := loop.next_frame(timeout=60)) is not None:
            frames.append(f)
    finally:
        loop.close()
    idx = [f.pose_index for f in frames]
    assert idx == sorted(idx) and idx[-1] == 29  # in order, and the newest pose is shown
    assert loop.dropped > 0 and loop.dropped + len(frames) == 30  # each pose: shown or counted
    assert frames[-1].dropped == loop.dropped
    assert len(frames) <= 3  # never a queue: at most one pose waiting per stage


def test_the_gbuffer_waits_for_the_network_so_frames_show_fresh_poses(objects, shader):
    """With a slow network, the G-buffer stage takes a pose only as late as lets its G-buffer
    be ready when the network frees: frames do not show poses that waited behind it."""
    session = RenderSession(shader, objects, 64, 64)
    shade = session.shade
    slow = 0.15

    def slow_shade(gb):
        time.sleep(slow)
        return shade(gb)

    session.shade = slow_shade
    loop = FrameLoop(session)
    stop = threading.Event()

    def feed():
        i = 0
        while not stop.is_set():
            loop.submit(_pose(i))
            i += 1
            time.sleep(0.01)

    t = threading.Thread(target=feed)
    t.start()
    try:
        frames = [loop.next_frame(timeout=60) for _ in range(10)]
    finally:
        stop.set()
        t.join()
        loop.close()
    later = frames[3:]  # once the running means have settled
    # A pose taken as soon as the stage is free would wait ~`slow` for the network. Medians:
    # a loaded machine can stall the feeding thread now and then.
    queue = statistics.median(f.timings["queue_ms"] for f in later)
    total = statistics.median(f.timings["total_ms"] - f.timings["gbuffer_ms"] for f in later)
    assert queue < 0.4 * slow * 1000 and total < 1.5 * slow * 1000, [f.timings for f in later]


def test_bfloat16_weights_give_the_autocast_pixels(objects, shader):
    gb = RenderSession(shader, objects, 64, 64).gbuffer(_pose(2).camera())
    args = (gb.full, gb.half, gb.background, torch.bfloat16)
    autocast = shade_arrays(shader, *args)
    assert next(shader.parameters()).dtype == torch.float32
    assert torch.equal(shade_arrays(bfloat16_shader(copy.deepcopy(shader)), *args), autocast)


def test_close_stops_the_threads_at_once(objects, shader):
    loop = FrameLoop(RenderSession(shader, objects, 64, 64))
    loop.submit(_pose(0))
    assert loop.next_frame(timeout=60).pose_index == 0
    stop = threading.Event()

    def feed():
        i = 1
        while not stop.is_set():
            loop.submit(_pose(i))
            i += 1
            time.sleep(0.005)

    t = threading.Thread(target=feed)
    t.start()
    time.sleep(0.2)
    t0 = time.perf_counter()
    loop.close()
    stop.set()
    t.join()
    assert time.perf_counter() - t0 < 5
    assert not any(th.is_alive() for th in loop._threads)
    assert loop.next_frame(timeout=1) is None


def test_bad_poses_and_sessions_name_the_field():
    with pytest.raises(InvalidOption, match="pose.fov_y_deg: got 170.0; allowed: 10 to 120"):
        Pose((0, 1, 2), (0, 0, 0), fov_y_deg=170.0).camera()
    with pytest.raises(InvalidOption) as err:
        Pose((0, 1, 2), (0, 1, 2)).camera()
    assert err.value.field == "pose.target"
    with pytest.raises(InvalidOption) as err:
        Pose((0, 1, 0), (0, 0, 0), up=(0, 1, 0)).camera()
    assert err.value.field == "pose.up"
    with pytest.raises(InvalidOption) as err:
        Pose((float("nan"), 1, 0), (0, 0, 0)).camera()
    assert err.value.field == "pose.eye"
    for args, field in (((100, 64, "jpeg", 85, 1), "session.width"),
                        ((64, 2048, "jpeg", 85, 1), "session.height"),
                        ((64, 64, "gif", 85, 1), "session.format"),
                        ((64, 64, "jpeg", 101, 1), "session.quality"),
                        ((64, 64, "jpeg", 85, 0), "session.objects")):
        with pytest.raises(InvalidOption) as err:
            check_frame_options(*args)
        assert err.value.field == field


def _feed(chooser: OverlapChooser, n: int, latency: float, fps: float, t: list[float]) -> None:
    for _ in range(n):
        t[0] += 1 / fps
        chooser.record(latency, t[0])


def test_the_stages_take_turns_when_that_is_quicker_and_overlap_again_when_not():
    c, t = OverlapChooser(), [0.0]
    assert c.overlap
    _feed(c, c.SKIP + c.RUN, 0.080, 26, t)  # overlapped on a shared machine: slow frames
    assert not c.overlap  # now probing: taking turns
    _feed(c, c.SKIP + c.PROBE, 0.046, 30, t)
    assert not c.overlap and not c.best and c.switches == 1  # kept: quicker, as many frames
    _feed(c, c.SKIP + c.RUN, 0.046, 30, t)
    assert c.overlap  # probing overlap again
    _feed(c, c.SKIP + c.PROBE, 0.032, 60, t)  # the machine got quiet: overlap wins
    assert c.overlap and c.best and c.switches == 2


def test_a_quicker_mode_that_makes_far_fewer_frames_is_not_kept():
    c, t = OverlapChooser(), [0.0]
    _feed(c, c.SKIP + c.RUN, 0.040, 55, t)
    _feed(c, c.SKIP + c.PROBE, 0.035, 25, t)  # 10 % quicker, under half the frames
    assert c.overlap and c.best and c.switches == 0
