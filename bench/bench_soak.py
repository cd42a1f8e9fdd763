"""Soak: N clients x S concurrent streams against a `vitrine serve` subprocess for T seconds.

    .venv/bin/python bench/bench_soak.py [--clients 4] [--streams 16] [--seconds 60]
                                         [--workers 2] [--hit-fraction 0.25] [--env K=V ...]

Each client has its own token (so the server tells them apart) and its own connection; each
stream loops: Generate (a fresh seed, or with --hit-fraction an earlier one: a cache hit),
read to the end; a RESOURCE_EXHAUSTED refusal is timed and retried after a short pause.
Prints each client's share of the assets served (fair: none below half an equal share), the
refusal latency p50/p95 (issue 20: p95 < 50 ms), the status codes seen, and the server's RSS
over time with its growth after warm-up (issue 20: < 10 %).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
from vitrine.v1 import assets_pb2 as pb
from vitrine.v1 import assets_pb2_grpc as pb_grpc

ROOT = Path(__file__).resolve().parents[1]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_server(tmp: Path, args, tokens: dict[str, str]) -> tuple[subprocess.Popen, str]:
    (tmp / "tokens").write_text("".join(f"{t} {name}\n" for name, t in tokens.items()))
    env = os.environ.copy()
    for item in args.env:
        key, _, value = item.partition("=")
        env[key] = value
    port_file = tmp / "port"
    proc = subprocess.Popen(
        [sys.executable, "-m", "vitrine.cli", "--log-level", "WARNING", "serve", "--address",
         "127.0.0.1:0", "--models", args.model, "--data-dir", str(tmp / "data"), "--port-file",
         str(port_file), "--workers", str(args.workers), "--auth-tokens", str(tmp / "tokens")],
        env=env, stdout=open(tmp / "serve.log", "w"), stderr=subprocess.STDOUT)  # noqa: SIM115
    deadline = time.monotonic() + 120
    while not (port_file.exists() and port_file.read_text().strip().isdigit()):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"server did not start:\n{(tmp / 'serve.log').read_text()[-3000:]}")
        time.sleep(0.1)
    return proc, f"127.0.0.1:{port_file.read_text().strip()}"


async def soak(address: str, tokens: dict[str, str], args, pid: int) -> dict:
    served = dict.fromkeys(tokens, 0)
    refusals: list[float] = []
    codes: collections.Counter = collections.Counter()
    rss: list[tuple[float, float]] = []
    rng = random.Random(4)
    made: list[int] = []
    next_seed = [1]
    options = pb.Options(max_triangles=args.max_triangles, resolution=args.resolution,
                         lod_count=1, texture_size=64)
    t_start = time.monotonic()
    stop_at = t_start + args.seconds

    async def stream(stub, name: str):
        auth = (("authorization", f"Bearer {tokens[name]}"),)
        while time.monotonic() < stop_at:
            if made and rng.random() < args.hit_fraction:
                seed = rng.choice(made)
            else:
                seed = next_seed[0]
                next_seed[0] += 1
            req = pb.GenerateRequest(model=args.model, category=args.category, seed=seed,
                                     options=options)
            t0 = time.perf_counter()
            try:
                async for _ in stub.Generate(req, metadata=auth, timeout=60):
                    pass
                served[name] += 1
                made.append(seed)
                codes["OK"] += 1
            except grpc.aio.AioRpcError as err:
                codes[err.code().name] += 1
                if err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                    refusals.append(time.perf_counter() - t0)
                await asyncio.sleep(args.retry_pause)

    async def sample():
        while time.monotonic() < stop_at:
            rss.append((time.monotonic() - t_start, rss_mib(pid)))
            await asyncio.sleep(args.sample_s)
        rss.append((time.monotonic() - t_start, rss_mib(pid)))

    channels = [grpc.aio.insecure_channel(address) for _ in tokens]
    try:
        await asyncio.gather(sample(), *(stream(pb_grpc.AssetServiceStub(ch), name)
                                         for ch, name in zip(channels, tokens)
                                         for _ in range(args.streams)))
    finally:
        for ch in channels:
            await ch.close()
    return {"served": served, "refusals": refusals, "codes": codes, "rss": rss}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--streams", type=int, default=16, help="concurrent streams per client")
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--warmup", type=float, default=None,
                   help="seconds before RSS growth is measured (default: a quarter of the run)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--model", default="procedural")
    p.add_argument("--category", default="vase")
    p.add_argument("--max-triangles", type=int, default=2000)
    p.add_argument("--resolution", type=int, default=48)
    p.add_argument("--hit-fraction", type=float, default=0.25)
    p.add_argument("--retry-pause", type=float, default=0.05, help="seconds after a refusal")
    p.add_argument("--sample-s", type=float, default=5.0, help="RSS sampling period")
    p.add_argument("--env", action="append", default=[], metavar="K=V",
                   help="environment for the server, e.g. MALLOC_ARENA_MAX=2")
    args = p.parse_args(argv)
    tokens = {f"client-{i}": f"soak-token-{i:02d}-{'x' * 16}" for i in range(args.clients)}
    with tempfile.TemporaryDirectory() as tmp:
        proc, address = start_server(Path(tmp), args, tokens)
        try:
            result = asyncio.run(soak(address, tokens, args, proc.pid))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    served, refusals, rss = result["served"], sorted(result["refusals"]), result["rss"]
    total = sum(served.values())
    equal = total / len(served) if served else 0
    print(f"soak: {args.clients} clients x {args.streams} streams, {args.seconds:.0f} s, "
          f"{args.workers} workers, model {args.model} ({args.max_triangles} triangles, "
          f"resolution {args.resolution}), hit fraction {args.hit_fraction}"
          + (f", server env {' '.join(args.env)}" if args.env else ""))
    print(f"assets served: {total} ({total / args.seconds:.1f}/s); statuses: "
          f"{dict(result['codes'])}")
    for name, n in served.items():
        print(f"  {name}: {n} ({n / equal:.2f} of an equal share)" if equal else f"  {name}: 0")
    fair = bool(equal) and min(served.values()) >= 0.5 * equal
    print(f"fair (no client below half an equal share): {'yes' if fair else 'NO'}")
    if refusals:
        p50 = statistics.median(refusals) * 1000
        p95 = refusals[int(0.95 * (len(refusals) - 1))] * 1000
        print(f"refusals: {len(refusals)}, latency p50 {p50:.1f} ms, p95 {p95:.1f} ms "
              f"(max {refusals[-1] * 1000:.1f} ms)")
    else:
        print("refusals: none")
    warmup = args.warmup if args.warmup is not None else args.seconds / 4
    print("server RSS (MiB) over time: " + ", ".join(f"{t:.0f}s {m:.0f}" for t, m in rss))
    after = [m for t, m in rss if t >= warmup]
    if len(after) >= 2:
        growth = (after[-1] / after[0] - 1) * 100
        print(f"RSS after warm-up ({warmup:.0f} s): {after[0]:.0f} -> {after[-1]:.0f} MiB "
              f"({growth:+.1f} %), peak {max(m for _, m in rss):.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
