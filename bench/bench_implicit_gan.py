"""implicit-gan benchmark: surface extraction at 64/128/256 and a whole asset, per category.

    .venv/bin/python bench/bench_implicit_gan.py            # or: make bench
    .venv/bin/python bench/bench_implicit_gan.py --quick

Loads the shipped weights the way the server does. "extraction" is the decoder's field sampled
coarse to fine over the cube (`generators.implicit_gan.generator.extract_field`) plus marching
cubes: latent in, watertight triangle mesh out, the part of a request that grows with
`resolution`. "asset" is a whole default request in-process (latent GAN, extraction, cleanup,
LODs, UVs, material maps) followed by GLB export. Prints Markdown tables; quote the figures
with the machine they came from.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from generators.export import export_asset
from generators.geometry.adaptive import mesh_stats
from generators.geometry.extract import mesh_from_field
from generators.implicit_gan.generator import ImplicitGanGenerator
from generators.implicit_gan.model import serving_dtype


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer seeds")
    ap.add_argument("--resolutions", default="64,128,256")
    args = ap.parse_args()
    seeds = range(1, 4) if args.quick else range(1, 11)
    gen = ImplicitGanGenerator()
    print(f"# implicit-gan benchmark ({platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"weights {gen.cfg['sha256'][:12]}, decoder products in "
          f"{str(serving_dtype()).removeprefix('torch.')})\n")
    print("| resolution | extraction p50 ms | p90 ms | field points (median) | "
          "% of dense | watertight |")
    print("|---|---|---|---|---|---|")
    for res in (int(r) for r in args.resolutions.split(",")):
        times, points, fraction, tight = [], [], [], 0
        for cat in gen.info.categories:
            for s in seeds:
                z = gen.latent_for(gen.resolve(cat, s, {}))
                t = time.perf_counter()
                grid, origin, spacing, stats = gen.field(z, res)
                v, f = mesh_from_field(grid, origin, spacing)
                times.append(1000 * (time.perf_counter() - t))
                points.append(stats["points_evaluated"])
                fraction.append(stats["fraction"])
                tight += mesh_stats(v, f)["watertight"]
        times.sort()
        print(f"| {res} | {statistics.median(times):.0f} | {times[int(0.9 * len(times))]:.0f} "
              f"| {statistics.median(points):.0f} | {100 * statistics.median(fraction):.1f} | "
              f"{tight}/{len(times)} |")
    print("\n| category | asset p50 ms (default options, resolution 128) | lod0 triangles |")
    print("|---|---|---|")
    for cat in gen.info.categories:
        times, tris = [], []
        for s in seeds:
            spec = gen.resolve(cat, s, {})
            t = time.perf_counter()
            (asset,) = gen.generate([spec])
            export_asset(asset, "glb")
            times.append(1000 * (time.perf_counter() - t))
            tris.append(asset.meshes[0].triangles)
        print(f"| {cat} | {statistics.median(times):.0f} | {statistics.median(tris):.0f} |")


if __name__ == "__main__":
    main()
