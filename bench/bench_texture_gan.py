"""texture-gan benchmark: a full PBR set (forward + maps + PNG encode) per texture size.

    .venv/bin/python bench/bench_texture_gan.py [--quick] [--threads N] [--sizes 256,1024]

Loads the shipped weights the way the server does (a random network of the default shape when
there are none yet: same arithmetic, same time). Stages: "forward" is the generator network
(latent grid -> albedo, height, roughness); "maps" is `pbr_from_albedo_height` (normal, AO,
ORM packing); "png" encodes the three maps (in parallel, as export does); "total" is all
three, i.e. what the served texture costs before the preview GLB. Each set is a fresh seed.
Prints a Markdown table of medians (p50) and p95; quote figures with the machine they came
from -- these machines are shared and noisy.
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

from generators.export.texture import _POOL, MAP_FILES
from generators.texture.pbr import png_bytes
from generators.texture_gan.generator import WEIGHTS, TextureGanGenerator


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q / 100 * (len(xs) - 1)))]


def one_set(gen, material: str, seed: int, size: int) -> tuple[float, float, float]:
    from generators.texture.pbr import pbr_from_albedo_height
    from generators.texture_gan.generator import synthesize

    t0 = time.perf_counter()
    albedo, height, rough = synthesize(gen.net, gen.materials.index(material), seed, size,
                                       gen.cut_for(material),
                                       getattr(gen, "quarter_turns", {}).get(material, 0))
    t1 = time.perf_counter()
    pbr = pbr_from_albedo_height(albedo, height, rough, 0.0, gen.normal_strength)
    t2 = time.perf_counter()
    for job in [_POOL.submit(png_bytes, getattr(pbr, attr)) for attr, _ in MAP_FILES]:
        job.result()
    t3 = time.perf_counter()
    return (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3


def _random_generator():
    """The default network shape with random weights, served through the real code path."""
    import tempfile

    from generators.texture.exemplars import MATERIALS
    from generators.texture_gan.export import write_weights
    from generators.texture_gan.model import TextureGenerator

    d = Path(tempfile.mkdtemp(prefix="tgan-bench-"))
    write_weights(TextureGenerator(len(MATERIALS)), list(MATERIALS), d / "w.safetensors",
                  d / "w.json")
    return TextureGanGenerator(d / "w.safetensors", d / "w.json"), "random weights"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    ap.add_argument("--sizes", default="256,512,1024,2048")
    ap.add_argument("--material", default=None, help="default: the model's first")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if WEIGHTS.exists():
        gen = TextureGanGenerator()
        which = f"weights {gen.cfg['sha256'][:12]}"
    else:
        gen, which = _random_generator()
    material = args.material or gen.materials[0]
    print(f"# texture-gan benchmark ({platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {which}, "
          f"material {material})\n")
    print("| size | reps | forward p50 ms | maps p50 ms | png p50 ms | total p50 ms "
          "| total p95 ms |")
    print("|---|---|---|---|---|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        reps = (5 if args.quick else 21) if size <= 1024 else (3 if args.quick else 7)
        one_set(gen, material, 0, size)  # warm-up
        runs = [one_set(gen, material, 1 + i, size) for i in range(reps)]
        fwd, maps, png = (list(col) for col in zip(*runs, strict=True))
        total = [sum(r) for r in runs]
        print(f"| {size} | {reps} | {statistics.median(fwd):.0f} | {statistics.median(maps):.0f} "
              f"| {statistics.median(png):.0f} | {statistics.median(total):.0f} "
              f"| {pct(total, 95):.0f} |")


if __name__ == "__main__":
    main()
