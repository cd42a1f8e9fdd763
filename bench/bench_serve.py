"""Serving benchmark: gRPC end to end vs in-process, cache hits, and a chunk-size sweep.

    .venv/bin/python bench/bench_serve.py            # or: make bench
    .venv/bin/python bench/bench_serve.py --quick    # fewer repetitions

Each server is a separate `vitrine serve` process on a loopback port with a fresh data dir;
the client is the Python client (it reassembles and sha256-checks every file). Prints
Markdown tables. Figures depend on the machine; quote them with the machine they came from.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import grpc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vitrine import Client

from generators.core.asset import KIND_PROP, Asset, Material
from generators.core.registry import create
from generators.export import export_asset
from generators.geometry.pipeline import prop_meshes
from generators.pipeline import Pipeline
from generators.procedural import families
from generators.texture.materials import CATEGORY_MATERIAL, PROP_MATERIALS

CATEGORIES = ("chair", "table", "vase", "column", "bench", "lamp")


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q / 100 * (len(xs) - 1)))]


class Server:
    """`vitrine serve` in a child process on an ephemeral port."""

    def __init__(self, data_dir: Path, chunk_kib: int = 256):
        port_file = data_dir / "port"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vitrine.cli", "--log-level", "WARNING", "serve",
             "--address", "127.0.0.1:0", "--data-dir", str(data_dir / "data"),
             "--chunk-kib", str(chunk_kib), "--port-file", str(port_file)],
            cwd=ROOT,
        )
        deadline = time.time() + 120
        while not (port_file.exists() and port_file.read_text()):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.05)
        self.address = f"127.0.0.1:{port_file.read_text()}"
        with Client(self.address) as c:  # wait until it answers
            c.list_models()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)


def timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def bench_end_to_end(tmp: Path, n: int) -> None:
    pipe = Pipeline({"procedural": create("procedural")})
    # In process: the very pipeline the server's worker runs (prepare, generate, export).
    seeds = iter(range(1000, 1000 + 10 * n))

    def local():
        s = next(seeds)
        pipe.build([pipe.prepare("procedural", CATEGORIES[s % 6], s, {})])

    local()  # warm up imports and caches
    in_proc = timed(local, n)

    server = Server(tmp / "e2e")
    try:
        with Client(server.address, timeout=120) as c:
            seeds = iter(range(1000, 1000 + 10 * n))  # the same props, all cache misses

            def remote():
                s = next(seeds)
                c.generate("procedural", CATEGORIES[s % 6], s)

            c.generate("procedural", "chair", 999)  # warm up the server process
            grpc_ms = timed(remote, n)
            c.generate("procedural", "vase", 7)
            hit_ms = timed(lambda: c.generate("procedural", "vase", 7), n * 5)
    finally:
        server.stop()

    print("\n### A default prop (procedural, resolution 96, 20k triangles, 3 LODs, textured "
          "512)\n")
    print("| path | n | p50 ms | p95 ms |")
    print("|---|---:|---:|---:|")
    print(f"| in-process generate + export | {n} | {pct(in_proc, 50):.1f} | "
          f"{pct(in_proc, 95):.1f} |")
    print(f"| gRPC end to end (cache miss) | {n} | {pct(grpc_ms, 50):.1f} | "
          f"{pct(grpc_ms, 95):.1f} |")
    print(f"| gRPC cache hit | {len(hit_ms)} | {pct(hit_ms, 50):.2f} | {pct(hit_ms, 95):.2f} |")
    print(f"\ngRPC / in-process, p50: **{pct(grpc_ms, 50) / pct(in_proc, 50):.3f}x**; "
          f"p95: {pct(grpc_ms, 95) / pct(in_proc, 95):.3f}x (target <= 1.15x); "
          f"cache hit p50 {pct(hit_ms, 50):.2f} ms (target < 5 ms)")


def bench_textures(n: int) -> None:
    """What textures cost a default prop in process: the same props with the geometry-only
    path (prop_meshes + a factor-only material, as props were before) and textured at
    several sizes. Rounds interleave the rows so machine noise hits them alike."""
    model = create("procedural")

    def untextured(cat: str, seed: int) -> list:
        spec = model.resolve(cat, seed, {})
        grid, origin, spacing = families.build(cat, seed).sdf_grid(spec.options["resolution"])
        pm = PROP_MATERIALS[CATEGORY_MATERIAL[cat]]
        asset = Asset(KIND_PROP, cat, seed, prop_meshes(grid, origin, spacing, spec.options),
                      Material(pm.name, pm.base_color, pm.metallic, pm.roughness))
        return export_asset(asset, "glb")

    pipe = Pipeline({"procedural": model})

    def textured(size: int):
        def run(cat: str, seed: int) -> list:
            job = pipe.prepare("procedural", cat, seed, {"texture_size": size})
            return pipe.build([job])[0].files
        return run

    rows = {"untextured (geometry + factor-only material)": untextured}
    for size in (256, 512, 1024):
        label = f"textured, texture_size {size}" + (" (default)" if size == 512 else "")
        rows[label] = textured(size)
    times: dict[str, list[float]] = {k: [] for k in rows}
    sizes: dict[str, list[int]] = {k: [] for k in rows}
    for fn in rows.values():
        fn("chair", 999)  # warm up imports and caches
    for i in range(n):
        seed = 2000 + i
        cat = CATEGORIES[i % len(CATEGORIES)]
        for label, fn in rows.items():
            t0 = time.perf_counter()
            files = fn(cat, seed)
            times[label].append((time.perf_counter() - t0) * 1000)
            sizes[label].append(sum(len(f.data) for f in files))
    base = pct(times["untextured (geometry + factor-only material)"], 50)
    print(f"\n### Textured vs untextured, in process (procedural, resolution 96, 20k "
          f"triangles, 3 LODs; {n} props, every category)\n")
    print("| path | n | p50 ms | p95 ms | p50 / untextured | MiB per asset, p50 |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, ts in times.items():
        print(f"| {label} | {n} | {pct(ts, 50):.1f} | {pct(ts, 95):.1f} | "
              f"{pct(ts, 50) / base:.2f}x | {pct(sizes[label], 50) / 2**20:.2f} |")


def bench_chunks(tmp: Path, n: int) -> None:
    sizes = (64, 128, 256, 512, 1024)
    rows = []
    for kib in sizes:
        server = Server(tmp / f"chunk{kib}", chunk_kib=kib)
        try:
            with Client(server.address, timeout=300) as c:
                # A large prop: ~400k triangles over 2 LODs, several MiB of GLB.
                big = c.generate("procedural", "column", 5, resolution=256,
                                 max_triangles=400_000, lod_count=2)
                size = sum(len(data) for data in big.files.values())
                hit_ms = timed(lambda aid=big.asset_id: c.fetch(aid), n)
        except grpc.RpcError as err:
            raise SystemExit(f"chunk {kib} KiB failed: {err}") from err
        finally:
            server.stop()
        p50 = pct(hit_ms, 50)
        rows.append((kib, size, p50, pct(hit_ms, 95), size / 2**20 / (p50 / 1000)))
    print(f"\n### Chunk-size sweep: Fetch of a {rows[0][1] / 2**20:.1f} MiB asset from the "
          "cache\n")
    print("| chunk KiB | n | p50 ms | p95 ms | MiB/s at p50 |")
    print("|---:|---:|---:|---:|---:|")
    for kib, _size, p50, p95, rate in rows:
        print(f"| {kib} | {n} | {p50:.1f} | {p95:.1f} | {rate:.0f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--only", choices=["e2e", "textures", "chunks"], help="run one part")
    args = ap.parse_args()
    n = 8 if args.quick else 30
    print(f"# vitrine serving benchmark\n\n{platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}, grpcio "
          f"{grpc.__version__}")
    with tempfile.TemporaryDirectory() as d:
        if args.only in (None, "e2e"):
            bench_end_to_end(Path(d), n)
        if args.only in (None, "textures"):
            bench_textures(n)
        if args.only in (None, "chunks"):
            bench_chunks(Path(d), max(5, n // 2))


if __name__ == "__main__":
    main()
