"""Soak: N clients x S concurrent streams against a `vitrine serve` subprocess for T seconds.

    .venv/bin/python bench/bench_soak.py [--clients 4] [--streams 16] [--seconds 60]
                                         [--workers 2] [--hit-fraction 0.25] [--env K=V ...]

Each client has its own token (so the server tells them apart) and its own connection; each
stream loops: Generate (a fresh seed, or with --hit-fraction an earlier one: a cache hit),
read to the end; a RESOURCE_EXHAUSTED refusal is timed and retried after a short pause.
Prints each client's share of the assets served (fair: none below half an equal share), the
refusal latency p50/p95 (issue 20: p95 < 50 ms), the status codes seen, and the server's RSS
over time with its growth after warm-up (issue 20: < 10 %).

On this 2-core machine the load clients share the cores with the server, so the refusal times
they see include their own wait for a core. A probe (`--probe-hz`, its own process and token,
limited to `rate=1/s`) sends a small call ten times a second for the whole run: most of them
are refused by its rate limit, and it times them as a client with a core of its own would
(the load clients run at `--client-nice`, below the server and the probe, as clients on other
machines would be). Both views are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import grpc
from vitrine.v1 import assets_pb2 as pb
from vitrine.v1 import assets_pb2_grpc as pb_grpc

ROOT = Path(__file__).resolve().parents[1]
PROBE_TOKEN = "soak-probe-token-" + "p" * 16


def _own_rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:  # gone meanwhile
        pass
    return 0.0


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def rss_mib(pid: int) -> float:
    """The server's RSS and its generation processes' (server/workers.py), summed."""
    todo, total = [pid], 0.0
    while todo:
        p = todo.pop()
        total += _own_rss_mib(p)
        todo += _children(p)
    return total


def start_server(tmp: Path, args, tokens: dict[str, str]) -> tuple[subprocess.Popen, str]:
    (tmp / "tokens").write_text("".join(f"{t} {name}\n" for name, t in tokens.items())
                                + f"{PROBE_TOKEN} probe rate=1/s burst=1\n")
    env = os.environ.copy()
    for item in args.env:
        key, _, value = item.partition("=")
        env[key] = value
    port_file = tmp / "port"
    with socket.socket() as sock:  # a free port for the metrics endpoint
        sock.bind(("127.0.0.1", 0))
        args.metrics_port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "vitrine.cli", "--log-level", "WARNING", "serve", "--address",
         "127.0.0.1:0", "--models", args.model, "--data-dir", str(tmp / "data"), "--port-file",
         str(port_file), "--workers", str(args.workers), "--auth-tokens", str(tmp / "tokens"),
         "--metrics-address", f"127.0.0.1:{args.metrics_port}", *args.serve_arg],
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
    details: dict[str, str] = {}  # the first message of each unexpected status
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
                async for _ in stub.Generate(req, metadata=auth, timeout=args.timeout):
                    pass
                served[name] += 1
                made.append(seed)
                codes["OK"] += 1
            except grpc.aio.AioRpcError as err:
                codes[err.code().name] += 1
                if err.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                    details.setdefault(err.code().name, err.details())
                if err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                    refusals.append(time.perf_counter() - t0)
                await asyncio.sleep(args.retry_pause)

    async def sample():
        while True:
            hot = await asyncio.to_thread(cache_memory_mib, args.metrics_port)
            rss.append((time.monotonic() - t_start, rss_mib(pid), hot, _own_rss_mib(pid)))
            if time.monotonic() >= stop_at:
                break
            await asyncio.sleep(min(args.sample_s, max(0.0, stop_at - time.monotonic())))

    channels = [grpc.aio.insecure_channel(address) for _ in tokens]
    try:
        await asyncio.gather(sample(), *(stream(pb_grpc.AssetServiceStub(ch), name)
                                         for ch, name in zip(channels, tokens)
                                         for _ in range(args.streams)))
    finally:
        for ch in channels:
            await ch.close()
    return {"served": served, "refusals": refusals, "codes": codes, "rss": rss,
            "details": details}


def _samples(port: int):
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    for family in text_string_to_metric_families(text):
        yield from family.samples


def refusal_reasons(port: int) -> dict[str, float]:
    """The server's own count of refusals by reason (vitrine_refusals_total)."""
    out: collections.Counter = collections.Counter()
    for sample in _samples(port):
        if sample.name == "vitrine_refusals_total":
            out[sample.labels["reason"]] += sample.value
    return dict(out)


def server_refusal_quantiles(port: int) -> str:
    """p50/p95 of the server's own refusal histogram (vitrine_refusal_seconds): upper bucket
    bounds, so 'p95 <= 5 ms' means the 95th percentile lies in a bucket ending at 5 ms."""
    buckets = sorted((float(s.labels["le"]), s.value) for s in _samples(port)
                     if s.name == "vitrine_refusal_seconds_bucket")
    total = buckets[-1][1] if buckets else 0
    if not total:
        return "no scheduler refusals"
    out = []
    for q in (0.5, 0.95):
        bound = next(le for le, n in buckets if n >= q * total)
        out.append(f"p{int(q * 100)} <= {bound * 1000:g} ms")
    return f"{int(total)} scheduler refusals, {', '.join(out)}"


def cache_memory_mib(port: int) -> float:
    """What the cache keeps in memory (bounded by --cache-memory-mib), in MiB."""
    return next((s.value for s in _samples(port) if s.name == "vitrine_cache_memory_bytes"),
                0.0) / 2**20


def probe(address: str, seconds: float, hz: float, out: str) -> int:
    """The probe process: a Generate every 1/hz s for `seconds`, each call's time to its
    status written to `out` as `<code> <seconds>` lines."""
    channel = grpc.insecure_channel(address)
    stub = pb_grpc.AssetServiceStub(channel)
    req = pb.GenerateRequest(model="procedural", category="vase", seed=1,
                             options=pb.Options(max_triangles=500, lod_count=1))
    auth = (("authorization", f"Bearer {PROBE_TOKEN}"),)
    lines = []
    stop_at = time.monotonic() + seconds
    while time.monotonic() < stop_at:
        t0 = time.perf_counter()
        try:
            for _ in stub.Generate(req, metadata=auth, timeout=30):
                pass
            code = "OK"
        except grpc.RpcError as err:
            code = err.code().name
        lines.append(f"{code} {time.perf_counter() - t0:.6f}\n")
        time.sleep(max(0.0, 1 / hz - (time.perf_counter() - t0)))
    channel.close()
    Path(out).write_text("".join(lines))
    return 0


def start_probe(address: str, args, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, "--probe", address, "--seconds",
                             str(args.seconds), "--probe-hz", str(args.probe_hz), str(out)])


def probe_summary(out: Path) -> str:
    times = collections.defaultdict(list)
    for line in out.read_text().splitlines():
        code, t = line.split()
        times[code].append(float(t))
    refused = sorted(times.get("RESOURCE_EXHAUSTED", []))
    if not refused:
        return f"probe: no refusals ({ {k: len(v) for k, v in times.items()} })"
    p50 = statistics.median(refused) * 1000
    p95 = refused[int(0.95 * (len(refused) - 1))] * 1000
    return (f"probe (own process, not niced, rate=1/s): {len(refused)} refusals, latency p50 "
            f"{p50:.1f} ms, p95 {p95:.1f} ms (max {refused[-1] * 1000:.1f} ms); "
            f"{len(times.get('OK', []))} calls served")


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
    p.add_argument("--timeout", type=float, default=60, help="each call's deadline, seconds")
    p.add_argument("--retry-pause", type=float, default=0.05, help="seconds after a refusal")
    p.add_argument("--sample-s", type=float, default=5.0, help="RSS sampling period")
    p.add_argument("--probe-hz", type=float, default=10.0,
                   help="probe calls per second (0 = no probe)")
    p.add_argument("--client-nice", type=int, default=10,
                   help="niceness of the load clients (the server and probe keep 0)")
    p.add_argument("--probe", metavar="ADDRESS", help=argparse.SUPPRESS)
    p.add_argument("probe_out", nargs="?", help=argparse.SUPPRESS)
    p.add_argument("--env", action="append", default=[], metavar="K=V",
                   help="environment for the server, e.g. MALLOC_ARENA_MAX=2")
    p.add_argument("--serve-arg", action="append", default=[], metavar="ARG",
                   help="pass ARG to `vitrine serve`, e.g. --serve-arg=--cache-memory-mib=32")
    args = p.parse_args(argv)
    if args.probe:
        return probe(args.probe, args.seconds, args.probe_hz, args.probe_out)
    tokens = {f"client-{i}": f"soak-token-{i:02d}-{'x' * 16}" for i in range(args.clients)}
    with tempfile.TemporaryDirectory() as tmp:
        proc, address = start_server(Path(tmp), args, tokens)
        probe_out = Path(tmp) / "probe.txt"
        prober = start_probe(address, args, probe_out) if args.probe_hz > 0 else None
        os.nice(args.client_nice)  # after the server and the probe started: they keep 0
        try:
            result = asyncio.run(soak(address, tokens, args, proc.pid))
            if prober is not None:
                prober.wait(120)
                result["probe"] = probe_summary(probe_out)
            result["reasons"] = refusal_reasons(args.metrics_port)
            result["server_refusals"] = server_refusal_quantiles(args.metrics_port)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    served, refusals, rss = result["served"], sorted(result["refusals"]), result["rss"]
    total = sum(served.values())
    equal = total / len(served) if served else 0
    print(f"soak: {args.clients} clients x {args.streams} streams, {args.seconds:.0f} s, "
          f"{args.workers} workers, model {args.model} ({args.max_triangles} triangles, "
          f"resolution {args.resolution}), hit fraction {args.hit_fraction}"
          + (f", server env {' '.join(args.env)}" if args.env else "")
          + (f", serve {' '.join(args.serve_arg)}" if args.serve_arg else ""))
    print(f"assets served: {total} ({total / args.seconds:.1f}/s); statuses: "
          f"{dict(result['codes'])}")
    for code, text in result["details"].items():
        print(f"  first {code}: {text}")
    for name, n in served.items():
        print(f"  {name}: {n} ({n / equal:.2f} of an equal share)" if equal else f"  {name}: 0")
    fair = bool(equal) and min(served.values()) >= 0.5 * equal
    print(f"fair (no client below half an equal share): {'yes' if fair else 'NO'}")
    if refusals:
        p50 = statistics.median(refusals) * 1000
        p95 = refusals[int(0.95 * (len(refusals) - 1))] * 1000
        print(f"refusals: {len(refusals)}, latency p50 {p50:.1f} ms, p95 {p95:.1f} ms "
              f"(max {refusals[-1] * 1000:.1f} ms); by reason (server's count): "
              f"{result['reasons']}")
        print(f"  inside the server (arrival to refusal): {result['server_refusals']}")
        print(f"  (as the load clients at nice {args.client_nice} saw them)")
    else:
        print("refusals: none")
    if "probe" in result:
        print(result["probe"])
    warmup = args.warmup if args.warmup is not None else args.seconds / 4
    print("server RSS, its generation processes' included (MiB), over time [of it, the "
          "cache's in-memory copies]: " + ", ".join(
        f"{t:.0f}s {m:.0f} [{h:.0f}]" for t, m, h, _ in rss))
    after = [(m, h) for t, m, h, _ in rss if t >= warmup]
    own = [o for t, _, _, o in rss if t >= warmup]
    workers = [m - o for t, m, _, o in rss if t >= warmup]
    if len(after) >= 3:
        # RSS swings by tens of MiB as batches of meshes come and go: compare the medians of
        # the first and the last third after warm-up, not two single samples.
        third = max(1, len(after) // 3)
        m0, m1 = (statistics.median(m for m, _ in part) for part in (after[:third],
                                                                     after[-third:]))
        r0, r1 = (statistics.median(m - h for m, h in part) for part in (after[:third],
                                                                         after[-third:]))
        print(f"RSS after warm-up ({warmup:.0f} s), median of the first vs the last third: "
              f"{m0:.0f} -> {m1:.0f} MiB ({(m1 / m0 - 1) * 100:+.1f} %), peak "
              f"{max(r[1] for r in rss):.0f} MiB; without the cache's in-memory copies "
              f"(capped by --cache-memory-mib): {r0:.0f} -> {r1:.0f} MiB "
              f"({(r1 / r0 - 1) * 100:+.1f} %)")
        o0, o1 = statistics.median(own[:third]), statistics.median(own[-third:])
        print(f"  the server process alone: {o0:.0f} -> {o1:.0f} MiB "
              f"({(o1 / o0 - 1) * 100:+.1f} %); its generation processes together (each is "
              f"replaced above --worker-max-rss-mib after a call): median "
              f"{statistics.median(workers[:third]):.0f} -> "
              f"{statistics.median(workers[-third:]):.0f} MiB, range {min(workers):.0f}-"
              f"{max(workers):.0f} MiB (they hold a call's arrays while it runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
