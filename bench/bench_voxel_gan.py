"""voxel-gan benchmark: network forward at batch 1 and 8, and a whole asset (mesh + GLB).

    .venv/bin/python bench/bench_voxel_gan.py            # or: make bench
    .venv/bin/python bench/bench_voxel_gan.py --quick

Loads the shipped weights the way the server does. "forward" is the generator network alone
(latent -> 32^3 occupancy probabilities, inference mode, CPU). "asset" is what a cache miss
costs in-process: forward, upsampling, marching cubes, cleanup, smoothing, LODs and GLB export.
Prints Markdown tables; quote the figures with the machine they came from.
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
from generators.voxel_gan.generator import VoxelGanGenerator


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q / 100 * (len(xs) - 1)))]


@torch.inference_mode()
def bench_forward(gen: VoxelGanGenerator, batch: int, reps: int) -> list[float]:
    net = gen.net
    z = torch.randn(batch, net.z_dim)
    lab = torch.arange(batch) % net.n_classes
    for _ in range(5):
        net(z, lab)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        torch.sigmoid(net(z, lab))
        times.append((time.perf_counter() - t) * 1000)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = ap.parse_args()
    reps = 30 if args.quick else 200
    gen = VoxelGanGenerator()
    print(f"# voxel-gan benchmark ({platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"weights {gen.cfg['sha256'][:12]})\n")
    print("| forward | p50 ms | p95 ms | ms per asset | assets/s | vs batch 1 |")
    print("|---|---|---|---|---|---|")
    base = None
    for batch in (1, 8, 32):
        t = bench_forward(gen, batch, reps if batch < 32 else reps // 4)
        p50 = pct(t, 50)
        rate = batch / p50 * 1000
        base = base or rate
        print(f"| batch {batch} | {p50:.2f} | {pct(t, 95):.2f} | {p50 / batch:.2f} | "
              f"{rate:.0f} | {rate / base:.2f}x |")

    print("\n| asset (default options: 20k tris, 3 LODs, resolution 64) | p50 ms | p95 ms |")
    print("|---|---|---|")
    n = 5 if args.quick else 20
    all_t = []
    for cat in gen.info.categories:
        ts = []
        for seed in range(1, n + 1):
            spec = gen.resolve(cat, seed, {})
            t = time.perf_counter()
            export_asset(gen.generate([spec])[0], "glb")
            ts.append((time.perf_counter() - t) * 1000)
        all_t += ts
        print(f"| {cat} | {statistics.median(ts):.0f} | {pct(ts, 95):.0f} |")
    print(f"| all | {statistics.median(all_t):.0f} | {pct(all_t, 95):.0f} |")


if __name__ == "__main__":
    main()
