"""Serving benchmark: gRPC end to end vs in-process, cache hits, a chunk-size sweep, where a
default prop's time goes, progressive streaming, concurrent clients, dynamic batching and
single-flight.

    .venv/bin/python bench/bench_serve.py            # or: make bench
    .venv/bin/python bench/bench_serve.py --quick    # fewer repetitions
    .venv/bin/python bench/bench_serve.py --only stages,progressive,concurrent,batching,flight

Each server is a separate `vitrine serve` process on a loopback port with a fresh data dir;
the client is the Python client (it reassembles and sha256-checks every file). Prints
Markdown tables. Figures depend on the machine; quote them with the machine they came from.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vitrine import Client

from generators.core.asset import KIND_PROP, Asset, Material, Mesh
from generators.core.registry import create, load_models
from generators.export import export_asset
from generators.export.glb import iter_glb
from generators.geometry.cleanup import clean
from generators.geometry.decimate import lod_levels
from generators.geometry.extract import mesh_from_field
from generators.geometry.normals import vertex_normals
from generators.geometry.pipeline import prop_meshes
from generators.geometry.placement import placement
from generators.geometry.uv import planar_uv, tangents
from generators.pipeline import Pipeline
from generators.procedural import families
from generators.texture.materials import (
    CATEGORY_MATERIAL,
    MAP_VARIANTS,
    PROP_MATERIALS,
    half_size,
    material_for,
    tile_m,
)
from generators.texture.pbr import encoded_pngs

CATEGORIES = ("chair", "table", "vase", "column", "bench", "lamp")


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q / 100 * (len(xs) - 1)))]


class Server:
    """`vitrine serve` in a child process on an ephemeral port."""

    def __init__(self, data_dir: Path, chunk_kib: int = 256, extra: tuple[str, ...] = ()):
        port_file = data_dir / "port"
        data_dir.mkdir(parents=True, exist_ok=True)
        self.metrics_port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vitrine.cli", "--log-level", "WARNING", "serve",
             "--address", "127.0.0.1:0", "--data-dir", str(data_dir / "data"),
             "--chunk-kib", str(chunk_kib), "--port-file", str(port_file),
             "--metrics-address", f"127.0.0.1:{self.metrics_port}", *extra],
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

    def metric(self, name: str, labels: str = "") -> float:
        """One sample of the server's Prometheus metrics (0 when absent)."""
        text = urllib.request.urlopen(
            f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10).read().decode()
        m = re.search(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", text, re.MULTILINE)
        return float(m.group(1)) if m else 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def bench_stages(n: int) -> None:
    """Where a default textured procedural prop's time goes, in process, stage by stage (the
    same functions, in the same order, as the pipeline: generators/geometry/pipeline.py and
    generators/export/glb.py). "as served" is what a prop costs now (its map variant made
    once per process); the "per seed" rows are what making its maps afresh cost before."""
    models = load_models(["procedural"])
    gen = models["procedural"]
    lib = gen.materials
    stages: dict[str, list[float]] = defaultdict(list)  # stage -> ms per prop
    cur: dict[str, float] = defaultdict(float)  # this prop's ms per stage

    def tm(key: str, fn, *args, **kwargs):
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        cur[key] += (time.perf_counter() - t0) * 1000
        return out

    # A serving process has made every variant of the default materials after its first few
    # dozen props (bench_progressive's warm-up); make them here, untimed.
    for cat in CATEGORIES:
        for k in range(MAP_VARIANTS):
            maps = lib.variant_maps(material_for(cat).name, 512, k)
            for _ in range(3):  # lod0's maps and the two mips the coarser levels wear
                encoded_pngs(maps)
                maps = half_size(maps)
    for i in range(n + 1):
        cat, seed = CATEGORIES[i % len(CATEGORIES)], 5000 + i
        opts = gen.resolve(cat, seed, {}).options
        cur.clear()
        shape = tm("field (SDF on the grid)", families.build, cat, seed)
        grid, origin, spacing = tm("field (SDF on the grid)", shape.sdf_grid, opts["resolution"])
        v, f = tm("marching cubes", mesh_from_field, grid, origin, spacing)
        v, f = tm("cleanup", clean, v, f)
        scale, offset = placement(v, None, "bottom_center")
        v = v * scale + offset
        mat = material_for(cat)
        meshes = []
        levels = lod_levels(v, f, opts["max_triangles"], opts["lod_count"])  # coarsest first
        while True:
            # lod0 is decimated while the level after the coarsest is made: one row for all.
            got = tm("decimation (every level)", next, levels, None)
            if got is None:
                break
            lod, lv, lf = got
            nrm = tm("normals", vertex_normals, lv, lf)
            u = tm("UVs", planar_uv, lv.astype(np.float32), lf, nrm, tile_m(mat, 512),
                   grain_vertical=mat.grain_vertical)
            tm("tangents (inside export)", tangents, u.vertices, u.faces, u.normals, u.uvs)
            meshes.append(Mesh(u.vertices, u.faces, u.normals, lod, uvs=u.uvs))
        meshes.reverse()
        material = tm("maps: the seed's variant (as served)", lib.prop_variant, mat.name, 512,
                      seed)
        asset = Asset(KIND_PROP, cat, seed, meshes, material)
        tm("export: tangents, GLB, PNGs memoised (as served)", lambda a=asset: list(iter_glb(a)))
        fresh = tm("maps made per seed (before)", lib.maps, mat.name, 512, seed)
        mips = [fresh, tm("mips per seed (before)", half_size, fresh)]
        mips.append(tm("mips per seed (before)", half_size, mips[-1]))
        for m in mips:
            tm("nine PNG encodings per seed (before)", encoded_pngs, m)
        if i:  # the first prop warms up imports and caches
            for k, ms in cur.items():
                stages[k].append(ms)
    per = stages
    served = [k for k in per if "before" not in k and "inside" not in k]
    total = [sum(per[k][j] for k in served) for j in range(n)]
    print(f"\n### Where a default textured prop's time goes (procedural, in process, {n} props "
          "over every category; ms per prop)\n")
    print("| stage | p50 ms | mean ms |")
    print("|---|---:|---:|")
    for k, v in per.items():
        print(f"| {k} | {pct(v, 50):.1f} | {sum(v) / len(v):.1f} |")
    print(f"| **total as served** | {pct(total, 50):.1f} | {sum(total) / len(total):.1f} |")


def warm_variants(c: Client, base_seed: int, rounds: int = 3) -> None:
    """Serve props of every (category, map variant) `rounds` times over, so that each of the
    server's worker processes (each keeps its own variants) has most likely made every
    default map variant, as a serving process has after its first hundred or so props."""
    for r in range(rounds):
        for k in range(MAP_VARIANTS):
            for cat in CATEGORIES:
                c.generate("procedural", cat, base_seed + r * MAP_VARIANTS + k,
                           progressive=True)


def bench_progressive(tmp: Path, n: int) -> None:
    """Progressive Generate of default props on cache misses: when the coarsest level is on
    the client complete and verified (on_file), and when the whole prop is."""
    server = Server(tmp / "progressive", extra=("--models", "procedural"))
    try:
        with Client(server.address, timeout=300) as c:
            warm_variants(c, 8000)
            first, whole, plain = [], [], []
            for i in range(n):
                seed, cat = 9000 + i, CATEGORIES[i % len(CATEGORIES)]
                t0 = time.perf_counter()
                seen: list[float] = []
                c.generate("procedural", cat, seed, progressive=True,
                           on_file=lambda name, data, seen=seen: seen.append(
                               time.perf_counter()))
                whole.append((time.perf_counter() - t0) * 1000)
                first.append((seen[0] - t0) * 1000)
                t0 = time.perf_counter()
                c.generate("procedural", cat, seed + 100_000)  # a plain miss, for comparison
                plain.append((time.perf_counter() - t0) * 1000)
    finally:
        server.stop()
    print(f"\n### Progressive Generate, default textured procedural props, cache misses "
          f"({n}, every category; map variants warm)\n")
    print("| measure | p50 ms | p95 ms | target p50 |")
    print("|---|---:|---:|---:|")
    print(f"| first LOD (lod2) on the client, verified | {pct(first, 50):.1f} | "
          f"{pct(first, 95):.1f} | <= 50 |")
    print(f"| whole prop (3 LODs), progressive | {pct(whole, 50):.1f} | {pct(whole, 95):.1f} | "
          "<= 120 |")
    print(f"| whole prop, plain Generate | {pct(plain, 50):.1f} | {pct(plain, 95):.1f} | |")


def _concurrent(address: str, model: str, seeds: list[int], clients: int = 8,
                category: str | None = None) -> float:
    """`clients` threads, each with its own channel, asking distinct props; assets/s."""
    conns = [Client(address, timeout=600) for _ in range(clients)]
    lock, todo = threading.Lock(), list(seeds)

    def worker(c: Client) -> None:
        while True:
            with lock:
                if not todo:
                    return
                seed = todo.pop()
            c.generate(model, category or CATEGORIES[seed % len(CATEGORIES)], seed)

    try:
        t0 = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(worker, conns))
        return len(seeds) / (time.perf_counter() - t0)
    finally:
        for c in conns:
            c.close()


def bench_concurrent(tmp: Path, n: int) -> None:
    server = Server(tmp / "concurrent", extra=("--models", "procedural"))
    try:
        with Client(server.address, timeout=300) as c:
            warm_variants(c, 8000)
        rate = _concurrent(server.address, "procedural", list(range(20_000, 20_000 + n)))
    finally:
        server.stop()
    print(f"\n### 8 concurrent clients, distinct default procedural props ({n} cache misses, "
          "2 workers, map variants warm)\n")
    print(f"**{rate:.1f} props/s** (target >= 10)")


def bench_batching(tmp: Path, n: int, delay_ms: float) -> None:
    """voxel-gan under 8 concurrent clients asking distinct props, with and without dynamic
    batching, servers run one after the other in this one run."""
    rows = []
    for label, delay in (("without batching", 0.0), (f"batching, {delay_ms:g} ms delay",
                                                     delay_ms)):
        server = Server(tmp / f"batch{delay}", extra=("--models", "voxel-gan",
                                                      "--batch-delay-ms", str(delay)))
        try:
            with Client(server.address, timeout=300) as c:
                for cat in ("chair", "table", "vase", "lamp"):  # warm up, and the variants
                    for k in range(MAP_VARIANTS):
                        c.generate("voxel-gan", cat, 100 + k)
            before = server.metric("vitrine_batch_size_count", '{model="voxel-gan"}')
            rate = _concurrent(server.address, "voxel-gan", list(range(30_000, 30_000 + n)),
                               category="chair")
            calls = server.metric("vitrine_batch_size_count", '{model="voxel-gan"}') - before
        finally:
            server.stop()
        rows.append((label, rate, n / max(calls, 1)))
    print(f"\n### voxel-gan, 8 concurrent clients, {n} distinct chairs (cache misses)\n")
    print("| server | assets/s | assets per model call | vs without |")
    print("|---|---:|---:|---:|")
    for label, rate, per_call in rows:
        print(f"| {label} | {rate:.2f} | {per_call:.2f} | {rate / rows[0][1]:.2f}x |")


def bench_single_flight(tmp: Path) -> None:
    server = Server(tmp / "flight", extra=("--models", "procedural"))
    try:
        req_seed = 424242
        with ThreadPoolExecutor(8) as pool:
            conns = [Client(server.address, timeout=300) for _ in range(8)]
            ids = list(pool.map(lambda c: c.generate("procedural", "vase", req_seed).asset_id,
                                conns))
            for c in conns:
                c.close()
        gens = server.metric("vitrine_generations_total", '{model="procedural"}')
        joined = server.metric("vitrine_coalesced_total", '{model="procedural"}')
    finally:
        server.stop()
    print("\n### 8 concurrent identical cache misses\n")
    print(f"{len(set(ids))} asset id, **{gens:.0f} generation** "
          f"(vitrine_generations_total), {joined:.0f} calls joined it (vitrine_coalesced_total)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    parts = ("e2e", "textures", "chunks", "stages", "progressive", "concurrent", "batching",
             "flight")
    ap.add_argument("--only", help=f"comma-separated parts to run: {', '.join(parts)}")
    ap.add_argument("--batch-delay-ms", type=float, default=20.0,
                    help="the dynamic batching delay the batching part measures")
    args = ap.parse_args()
    only = set(args.only.split(",")) if args.only else set(parts)
    if only - set(parts):
        ap.error(f"--only: unknown part(s) {', '.join(sorted(only - set(parts)))}; "
                 f"known: {', '.join(parts)}")
    n = 8 if args.quick else 30
    print(f"# vitrine serving benchmark\n\n{platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}, grpcio "
          f"{grpc.__version__}")
    with tempfile.TemporaryDirectory() as d:
        if "e2e" in only:
            bench_end_to_end(Path(d), n)
        if "textures" in only:
            bench_textures(n)
        if "chunks" in only:
            bench_chunks(Path(d), max(5, n // 2))
        if "stages" in only:
            bench_stages(max(12, n))
        if "progressive" in only:
            bench_progressive(Path(d), max(12, n))
        if "concurrent" in only:
            bench_concurrent(Path(d), 48 if args.quick else 96)
        if "batching" in only:
            bench_batching(Path(d), 32 if args.quick else 64, args.batch_delay_ms)
        if "flight" in only:
            bench_single_flight(Path(d))


if __name__ == "__main__":
    main()
