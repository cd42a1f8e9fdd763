"""RenderService frame rate and latency over one Render stream, at 256 and 512 pixels.

    .venv/bin/python bench/bench_render.py [--seconds 10] [--sizes 256,512] [--rate 60]

A real server (in this process, on its own event loop) makes a scene of 3 default procedural
props (chair, vase, lamp: the pipeline's defaults, textured) and one client opens a Render
stream, sending orbit poses at `--rate` per second (faster than the frames come: latest pose
wins, the rest are dropped and counted) for `--seconds`. Printed per size: frames per second
received, frame latency p50 / p95 (pose sent -> its frame received, from the echoed client
timestamp), poses dropped, and the server's per-stage medians (G-buffer, network, encode,
queue) and of its whole time per frame ("server": pose received -> frame made; the rest of the
latency is transport and the event loop). Then, in process on the same scene at 256, frames/s
of `RenderSession.render` one stage after another against the two-thread `FrameLoop` (whose
`OverlapChooser` picks overlapping or alternating stages by latency), alternately 3 x 4 s
each, and the mode the loop kept. One torch thread (the server's default here). Timings
depend on the machine and its load: say which, and whether it was shared, when quoting them.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, math.ceil(q * len(xs)) - 1))]


def start_server(data_dir: Path):
    from generators.core.registry import load_models
    from server.app import create_server
    from server.config import ServerConfig

    models = load_models(["procedural", "neural-render"])
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    cfg = ServerConfig(address="127.0.0.1:0", data_dir=data_dir)
    running = asyncio.run_coroutine_threadsafe(create_server(cfg, models), loop).result(300)
    return loop, running


def bench_stream(client, objects, size: int, seconds: float, rate: float) -> dict:
    from vitrine.render import pose, render

    sent = {"n": 0}

    def poses():
        t0 = time.perf_counter()
        i = 0
        while time.perf_counter() - t0 < seconds:
            a = 2 * math.pi * i / 240
            yield pose((2.4 * math.sin(a), 1.2, 2.4 * math.cos(a)), (0.0, 0.45, 0.0), 45.0, i)
            sent["n"] = i + 1
            i += 1
            time.sleep(max(0.0, t0 + i / rate - time.perf_counter()))

    lat, stages, frames, dropped = [], {}, 0, 0
    t_first = t_last = None
    for f in render(client, objects, poses(), width=size, height=size, fmt="jpeg"):
        now = time.time() * 1e6
        t_last = time.perf_counter()
        if t_first is None:
            t_first = t_last  # the first frame pays the scene's set-up; rate from there
        else:
            frames += 1
        lat.append((now - f.client_time_us) / 1000)
        for k in ("gbuffer_ms", "network_ms", "encode_ms", "queue_ms", "total_ms"):
            stages.setdefault(k, []).append(getattr(f.timings, k))
        dropped = f.dropped_poses
    fps = frames / (t_last - t_first) if frames else 0.0
    return {"size": size, "fps": fps, "p50": _percentile(lat, 0.5), "p95": _percentile(lat, 0.95),
            "frames": frames + 1, "poses": sent["n"], "dropped": dropped,
            **{k: statistics.median(v) for k, v in stages.items()}}


def bench_pipelining(objects_ids, seconds: float = 4.0, reps: int = 3) -> dict:
    """frames/s of sequential `RenderSession.render` vs the pipelined `FrameLoop`, in
    process (no gRPC), alternately; medians over `reps`."""
    import numpy as np

    from generators.core.registry import load_models
    from generators.neural_render.scene import Placement
    from generators.neural_render.session import FrameLoop, Pose

    gen = load_models(["neural-render"])["neural-render"]
    props = gen.props
    objs = [(props.generate([props.resolve(c, s, {})])[0], Placement(*where))
            for (c, s), where in objects_ids]

    def pose(i):
        a = 2 * math.pi * i / 240
        return Pose((2.4 * math.sin(a), 1.2, 2.4 * math.cos(a)), (0.0, 0.45, 0.0), index=i)

    seq, pipe, modes = [], [], []
    for _ in range(reps):
        s = gen.open_session(objs, 256, 256)
        s.render(pose(0))
        t0, n = time.perf_counter(), 0
        while time.perf_counter() - t0 < seconds:
            s.render(pose(n))
            n += 1
        seq.append(n / (time.perf_counter() - t0))
        loop = FrameLoop(gen.open_session(objs, 256, 256))
        stop = threading.Event()

        def feed(loop=loop, stop=stop):
            i = 0
            while not stop.is_set():
                loop.submit(pose(i))
                i += 1
                time.sleep(1 / 120)

        th = threading.Thread(target=feed)
        th.start()
        loop.next_frame(60)
        t0, n = time.perf_counter(), 0
        while time.perf_counter() - t0 < seconds:
            loop.next_frame(60)
            n += 1
        pipe.append(n / (time.perf_counter() - t0))
        modes.append("overlapped" if loop.chooser.best else "taking turns")
        stop.set()
        th.join()
        loop.close()
    return {"sequential": float(np.median(seq)), "pipelined": float(np.median(pipe)),
            "modes": modes}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--sizes", default="256,512")
    ap.add_argument("--rate", type=float, default=60.0, help="poses per second sent")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--no-pipelining", action="store_true",
                    help="skip the in-process sequential vs pipelined comparison")
    ap.add_argument("--dtype", choices=("float32", "bfloat16"),
                    help="the shader's precision (default: the serving default, "
                         "`session.serving_dtype`)")
    args = ap.parse_args(argv)
    import os

    if args.dtype:
        os.environ["VITRINE_RENDER_DTYPE"] = args.dtype
    import logging

    import torch

    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    from vitrine import Client
    from vitrine.render import SceneObject

    with tempfile.TemporaryDirectory() as d:
        loop, running = start_server(Path(d))
        try:
            with Client(f"127.0.0.1:{running.port}", timeout=300) as client:
                ids = [client.generate("procedural", c, seed=s).asset_id
                       for c, s in (("chair", 3), ("vase", 5), ("lamp", 7))]
                objects = [SceneObject(ids[0], 0.0, 0.0, 20), SceneObject(ids[1], 0.7, 0.3),
                           SceneObject(ids[2], -0.6, 0.4, 60)]
                rows = [bench_stream(client, objects, int(s), args.seconds, args.rate)
                        for s in args.sizes.split(",")]
                version = running.render.renderers["neural-render"].info.version
        finally:
            asyncio.run_coroutine_threadsafe(running.stop(0), loop).result(60)
            loop.call_soon_threadsafe(loop.stop)
    print(f"RenderService, one Render stream, 3 default props, poses sent at {args.rate:g}/s "
          f"for {args.seconds:g} s, {args.threads} torch thread(s), model {version}")
    print("| size | frames/s | latency p50 ms | p95 ms | frames | poses sent | dropped | "
          "G-buffer ms | network ms | encode ms | queue ms | server ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['size']} | {r['fps']:.1f} | {r['p50']:.1f} | {r['p95']:.1f} | {r['frames']} "
              f"| {r['poses']} | {r['dropped']} | {r['gbuffer_ms']:.1f} | {r['network_ms']:.1f} "
              f"| {r['encode_ms']:.1f} | {r['queue_ms']:.1f} | {r['total_ms']:.1f} |")
    if not args.no_pipelining:
        p = bench_pipelining([(("chair", 3), (0.0, 0.0, 20)), (("vase", 5), (0.7, 0.3)),
                              (("lamp", 7), (-0.6, 0.4, 60))])
        print(f"\nin process, 256 px: sequential {p['sequential']:.1f} frames/s, pipelined "
              f"(FrameLoop, 2 threads) {p['pipelined']:.1f} frames/s: "
              f"{p['pipelined'] / p['sequential']:.2f}x; the loop kept: {', '.join(p['modes'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
