"""Scale-out benchmark: throughput of default procedural props, embedded vs Ray Serve replicas.

    .venv/bin/python bench/bench_ray.py            # 4 rounds of 16 props per server
    .venv/bin/python bench/bench_ray.py --quick    # 2 rounds

Four servers run at once, each on a loopback port with a fresh data dir: the embedded server
with 1 and 2 generation workers (`vitrine serve` processes), and two Ray Serve applications on
one local Ray cluster in a child process (the procedural model as a deployment of 1 and of 2
replicas, 1 worker each, our front the ingress; what `vitrine serve --ray` deploys). Each runs
in a session of its own (one CPU scheduling group each on Linux). Rounds take turns over the
servers, so what else runs on a shared machine weighs on every row alike; in each round 8
client threads ask 16 distinct default props (every one a cache miss; the Python client
reassembles and sha256-checks every file). Prints a Markdown table and the ratios.
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
PER_ROUND = 16


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q / 100 * (len(xs) - 1)))]


class Child:
    """A child process in a session (and process group) of its own."""

    proc: subprocess.Popen

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


class Server(Child):
    """`vitrine serve [flags]` in a child process on a free port."""

    def __init__(self, data_dir: Path, flags: list[str], start_timeout_s: float = 300):
        port_file = data_dir / "port"
        data_dir.mkdir(parents=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vitrine.cli", "--log-level", "WARNING", "serve",
             "--address", "127.0.0.1:0", "--data-dir", str(data_dir / "data"),
             "--models", "procedural", "--torch-threads", "1", "--port-file", str(port_file),
             *flags],
            # One OpenMP thread, as Ray sets in its replicas (one per CPU a replica reserves,
            # at least 1), so that is not a difference between the rows.
            cwd=ROOT, start_new_session=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        deadline = time.time() + start_timeout_s
        while not (port_file.exists() and port_file.read_text()):
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError(f"vitrine serve {' '.join(flags)} did not start")
            time.sleep(0.1)
        self.address = f"127.0.0.1:{port_file.read_text()}"



def load(address: str, seeds: list[int],
         work: list[float] | None = None) -> tuple[float, list[float]]:
    """(wall seconds, per-call ms) for CLIENTS threads asking the props of `seeds`; each
    call's generate + export ms (the header's timings) is added to `work`."""
    todo = iter(seeds)
    times: list[float] = []
    work = [] if work is None else work

    def client() -> None:
        with Client(address, timeout=300) as c:
            for s in todo:  # shared iterator: each seed once, the next free client takes it
                t0 = time.perf_counter()
                asset = c.generate("procedural", CATEGORIES[s % 6], s)
                times.append((time.perf_counter() - t0) * 1000)
                work.append(asset.header.timings.generate_ms + asset.header.timings.export_ms)
                assert len(asset.files) == 3

    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        for f in [pool.submit(client) for _ in range(CLIENTS)]:
            f.result()
    return time.perf_counter() - t0, times


def host_ray(tmp: Path, port_file: Path) -> None:
    """(The child process `--host-ray` runs.) Two applications on one local Ray cluster:
    procedural with 1 and with 2 replicas; their front ports go to `port_file` as JSON;
    then wait for SIGTERM."""
    import json
    import threading

    import ray
    from ray import serve

    from server.config import ServerConfig
    from server.ray_serve import RayOptions, build

    ray.init(address="local", include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # after Ray's own handler
    serve.start(proxy_location="Disabled")
    ports = {}
    for n in (1, 2):
        config = ServerConfig(address="127.0.0.1:0", data_dir=tmp / f"ray{n}", workers=1)
        options = RayOptions(models=("procedural",), replicas=n, replica_cpus=0)
        handle = serve.run(build(config, options), name=f"bench-{n}", route_prefix=None)
        ports[n] = handle.ports.remote().result()["grpc"]
    port_file.write_text(json.dumps(ports))
    stop.wait()
    serve.shutdown()
    ray.shutdown()


class RayHost(Child):
    """`bench_ray.py --host-ray` in a session of its own, as each embedded server is: on a
    shared Linux machine each session is a scheduling group (autogroup), so every server
    under test gets the same share of the CPU whatever else runs."""

    def __init__(self, tmp: Path, start_timeout_s: float = 600):
        import json

        port_file = tmp / "ray-ports.json"
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--host-ray", str(port_file), "--tmp", str(tmp)],
            cwd=ROOT, start_new_session=True)
        deadline = time.time() + start_timeout_s
        while not (port_file.exists() and port_file.read_text()):
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError("the Ray applications did not start")
            time.sleep(0.2)
        ports = json.loads(port_file.read_text())
        self.addresses = {
            f"Ray Serve, {n} replica{'s' if n > 1 else ''} x 1 worker":
                f"127.0.0.1:{ports[str(n)]}" for n in (1, 2)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="2 rounds instead of 4")
    p.add_argument("--rounds", type=int, default=4, help="rounds per server (default 4)")
    p.add_argument("--host-ray", metavar="PORT_FILE", help=argparse.SUPPRESS)
    p.add_argument("--tmp", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.host_ray:
        host_ray(Path(args.tmp), Path(args.host_ray))
        return 0
    rounds = 2 if args.quick else args.rounds
    servers: list[Child] = []
    spent: dict[str, float] = {}
    times: dict[str, list[float]] = {}
    work: dict[str, list[float]] = {}  # generate + export ms of each prop, as the server saw
    with tempfile.TemporaryDirectory(prefix="vitrine-bench-ray-") as tmp:
        try:
            addresses = {}
            for w in (1, 2):
                server = Server(Path(tmp) / f"embedded{w}", ["--workers", str(w)])
                servers.append(server)
                addresses[f"embedded, {w} worker{'s' if w > 1 else ''}"] = server.address
            t0 = time.perf_counter()
            host = RayHost(Path(tmp))
            servers.append(host)
            addresses.update(host.addresses)
            print(f"Ray applications up in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
            labels = list(addresses)
            for k, label in enumerate(labels):  # warm every worker and replica
                load(addresses[label], list(range(1000 * k, 1000 * k + CLIENTS)))
                spent[label], times[label], work[label] = 0.0, [], []
            seed = 100_000
            for r in range(rounds):
                for label in labels[r % len(labels):] + labels[:r % len(labels)]:
                    wall, ms = load(addresses[label], list(range(seed, seed + PER_ROUND)),
                                    work[label])
                    seed += PER_ROUND
                    spent[label] += wall
                    times[label] += ms
                print(f"round {r + 1}/{rounds}: " + ", ".join(
                    f"{lb}: {len(times[lb]) / spent[lb]:.2f}/s" for lb in labels),
                    file=sys.stderr, flush=True)
        finally:
            for server in servers:
                server.stop()
    n = rounds * PER_ROUND
    print(f"\n### Throughput: {n} distinct default procedural props per server, {CLIENTS} "
          f"concurrent clients, {rounds} interleaved rounds ({platform.node()}, "
          f"{os.cpu_count()} cores; load average at the end {os.getloadavg()[0]:.1f})\n")
    print("| server | props/s | call p50 ms | call p95 ms | generate + export p50 ms |")
    print("|---|---:|---:|---:|---:|")
    rate = {lb: len(times[lb]) / spent[lb] for lb in labels}
    for lb in labels:
        print(f"| {lb} | {rate[lb]:.2f} | {pct(times[lb], 50):.0f} | {pct(times[lb], 95):.0f} "
              f"| {pct(work[lb], 50):.0f} |")
    one, two = rate[labels[2]], rate[labels[3]]
    print(f"\nRay 2 replicas / 1 replica: **{two / one:.2f}x**; embedded 2 workers / 1 worker: "
          f"{rate[labels[1]] / rate[labels[0]]:.2f}x; Ray 1 replica / embedded 1 worker: "
          f"{one / rate[labels[0]]:.2f}x (what the hop through Ray costs or not)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
