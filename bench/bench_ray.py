"""Scale-out benchmark: throughput of default procedural props, embedded vs Ray Serve replicas.

    .venv/bin/python bench/bench_ray.py            # 48 props per row, 8 concurrent clients
    .venv/bin/python bench/bench_ray.py --quick    # 16 props per row

Each row is a `vitrine serve` process of its own on a loopback port with a fresh data dir:
the embedded server (1 and 2 generation workers) and `vitrine serve --ray` (a local Ray
cluster; the procedural model as a Serve deployment with 1 and 2 replicas of 1 worker each,
our front the ingress). 8 client threads ask distinct default props (every one a cache miss;
the Python client reassembles and sha256-checks every file). Prints a Markdown table; the
figures depend on the machine and what else runs on it: quote them with both.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vitrine import Client

CATEGORIES = ("chair", "table", "vase", "column", "bench", "lamp")
CLIENTS = 8


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q / 100 * (len(xs) - 1)))]


class Server:
    """`vitrine serve [flags]` in a child process (its own process group) on a free port."""

    def __init__(self, data_dir: Path, flags: list[str], start_timeout_s: float = 300):
        port_file = data_dir / "port"
        data_dir.mkdir(parents=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vitrine.cli", "--log-level", "WARNING", "serve",
             "--address", "127.0.0.1:0", "--data-dir", str(data_dir / "data"),
             "--models", "procedural", "--torch-threads", "1", "--port-file", str(port_file),
             *flags],
            cwd=ROOT, start_new_session=True,
        )
        deadline = time.time() + start_timeout_s
        while not (port_file.exists() and port_file.read_text()):
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError(f"vitrine serve {' '.join(flags)} did not start")
            time.sleep(0.1)
        self.address = f"127.0.0.1:{port_file.read_text()}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


def load(address: str, seeds: list[int]) -> tuple[float, list[float]]:
    """(wall seconds, per-call ms) for CLIENTS threads asking the props of `seeds`."""
    todo = iter(seeds)
    times: list[float] = []

    def client() -> None:
        with Client(address, timeout=300) as c:
            for s in todo:  # shared iterator: each seed once, the next free client takes it
                t0 = time.perf_counter()
                asset = c.generate("procedural", CATEGORIES[s % 6], s)
                times.append((time.perf_counter() - t0) * 1000)
                assert len(asset.files) == 3

    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        for f in [pool.submit(client) for _ in range(CLIENTS)]:
            f.result()
    return time.perf_counter() - t0, times


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="16 props per row instead of 48")
    args = p.parse_args(argv)
    n = 16 if args.quick else 48
    rows = [
        ("embedded, 1 worker", ["--workers", "1"]),
        ("embedded, 2 workers", ["--workers", "2"]),
        ("Ray Serve, 1 replica x 1 worker", ["--ray", "--workers", "1", "--ray-replicas", "1",
                                             "--ray-replica-cpus", "0"]),
        ("Ray Serve, 2 replicas x 1 worker", ["--ray", "--workers", "1", "--ray-replicas", "2",
                                              "--ray-replica-cpus", "0"]),
    ]
    results = []
    with tempfile.TemporaryDirectory(prefix="vitrine-bench-ray-") as tmp:
        for k, (label, flags) in enumerate(rows):
            t0 = time.perf_counter()
            server = Server(Path(tmp) / f"row{k}", flags)
            start_s = time.perf_counter() - t0
            try:
                base = 10_000 * (k + 1)  # distinct props per row: all misses
                load(server.address, list(range(base, base + 2 * CLIENTS)))  # warm every worker
                wall, times = load(server.address, list(range(base + 100, base + 100 + n)))
            finally:
                server.stop()
            results.append((label, start_s, n / wall, pct(times, 50), pct(times, 95)))
            print(f"{label}: {n / wall:.2f} props/s", file=sys.stderr, flush=True)
    print(f"\n### Throughput: {n} distinct default procedural props, {CLIENTS} concurrent "
          f"clients ({platform.node()}, {os.cpu_count()} cores; load average at the end "
          f"{os.getloadavg()[0]:.1f})\n")
    print("| server | start s | props/s | p50 ms | p95 ms |")
    print("|---|---:|---:|---:|---:|")
    for label, start_s, rate, p50, p95 in results:
        print(f"| {label} | {start_s:.1f} | {rate:.2f} | {p50:.0f} | {p95:.0f} |")
    one, two = results[2][2], results[3][2]
    print(f"\nRay 2 replicas / 1 replica: **{two / one:.2f}x**; Ray 1 replica / embedded 1 "
          f"worker: {one / results[0][2]:.2f}x (the cost of the hop through Ray)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
