"""Character benchmark: p50/p90 of one default character per category, as the server builds it.

    .venv/bin/python bench/bench_humanoid.py                  # 10 seeds per category
    .venv/bin/python bench/bench_humanoid.py --model character-gan
    .venv/bin/python bench/bench_humanoid.py --seeds 20 --options texture_size=512

Loads the model the way the server does (`load_models`, once, not timed: that parses or
loads the cached MakeHuman data and loads texture-gan), then times `Pipeline.build` of one
request per (category, seed): body, clothing, materials (skin map, texture-gan fabric), levels
of detail, clips and the GLB export of every level. Every seed is new, so nothing is warm but
the loaded models and the cloth maps: those come from FABRIC_BOLTS weaves per size, made
once per process, so the first rows (heroic) pay for the bolts their seeds use and later
categories reuse them, as a running server does. Prints a Markdown table with the stages' split (generate / export), the
files' size and triangles; the target (issue 16) is p50 <= 1.0 s on this 2-core machine.
Quote figures with the load average printed next to them: other jobs slow every row.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np
import torch

from generators.core.registry import load_models
from generators.pipeline import Pipeline


def _options(pairs: list[str]) -> dict:
    out = {}
    for p in pairs:
        k, _, v = p.partition("=")
        out[k] = int(v) if v.isdigit() else v
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="humanoid", help="a character model (default humanoid)")
    ap.add_argument("--seeds", type=int, default=10, help="seeds per category")
    ap.add_argument("--first-seed", type=int, default=5000)
    ap.add_argument("--options", nargs="*", default=[], help="NAME=VALUE request options")
    args = ap.parse_args()
    options = _options(args.options)
    t0 = time.perf_counter()
    pipe = Pipeline(load_models([args.model]))
    load_s = time.perf_counter() - t0
    model = pipe.models[args.model]
    print(f"# {args.model} benchmark ({platform.machine()}, {os.cpu_count()} cores, torch "
          f"{torch.__version__}, {torch.get_num_threads()} threads; model {model.info.version} "
          f"loaded in {load_s:.1f} s, not counted; options {options or 'defaults'})\n")
    print("| category | seeds | p50 ms | p90 ms | generate p50 ms | export p50 ms | files MB | "
          "lod0 triangles | load avg (1 min) |")
    print("|---|---|---|---|---|---|---|---|---|")
    every = []
    for category in model.info.categories:
        wall, gen, exp, size, tris = [], [], [], [], []
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            job = pipe.prepare(args.model, category, seed, options)
            t = time.perf_counter()
            built = pipe.build([job])[0]
            wall.append((time.perf_counter() - t) * 1e3)
            if isinstance(built, Exception):
                raise SystemExit(f"{category} seed {seed}: {built}")
            gen.append(built.generate_ms)
            exp.append(built.export_ms)
            size.append(sum(len(f.data) for f in built.files) / 2**20)
            tris.append(max(f.triangles for f in built.files))
        every += wall
        print(f"| {category} | {args.seeds} | {np.percentile(wall, 50):.0f} | "
              f"{np.percentile(wall, 90):.0f} | {np.median(gen):.0f} | {np.median(exp):.0f} | "
              f"{np.median(size):.2f} | {np.median(tris):.0f} | {os.getloadavg()[0]:.1f} |")
    print(f"| all | {len(every)} | {np.percentile(every, 50):.0f} | "
          f"{np.percentile(every, 90):.0f} | | | | | {os.getloadavg()[0]:.1f} |")


if __name__ == "__main__":
    main()
