"""(G-buffer, reference) pairs from random scenes of our procedural props, cached on disk.

A scene is 1 to `MAX_PROPS` props drawn from a pool, placed on the floor without overlapping,
seen by a random orbit camera. Training and evaluation draw from disjoint prop pools (other
procedural seeds: `TRAIN_SEEDS`, `EVAL_SEEDS`) and their own scene RNG streams, so the
evaluation's scenes and poses are held out. Pair i of a split is `DIR/SPLIT/NNNNN.npz`
(float16 G-buffer channels, the reference as displayed sRGB float16); generation is resumable
(existing pairs are kept) and deterministic (pair i depends only on the split and i).

    .venv/bin/python -m generators.neural_render.dataset --out runs/neural-render/data \\
        --split train --pairs 480
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from generators.core.asset import Asset
from generators.neural_render.gbuffer import GBuffer, render_gbuffer
from generators.neural_render.reference import render_reference
from generators.neural_render.scene import Camera, Placement, Scene, orbit_camera

log = logging.getLogger(__name__)

CATEGORIES = ("chair", "table", "vase", "column", "bench", "lamp")
TRAIN_SEEDS = tuple(range(100, 106))  # per category: 36 training props
EVAL_SEEDS = (1, 2)  # per category: 12 held-out props
MAX_PROPS = 4
SPLITS = {"train": 0, "eval": 1}


def prop_pool(seeds: Sequence[int], texture_size: int = 256) -> list[Asset]:
    """One procedural prop per (category, seed), as the pipeline serves them (lod0 used)."""
    from generators.core.registry import load_models

    gen = load_models(["procedural"])["procedural"]
    specs = [gen.resolve(c, s, {"texture_size": texture_size, "lod_count": 1})
             for c in CATEGORIES for s in seeds]
    out = gen.generate(specs)
    bad = [o for o in out if not isinstance(o, Asset)]
    if bad:
        raise RuntimeError(f"prop pool: {bad[0]}")
    return out  # type: ignore[return-value]


def random_layout(pool: Sequence[Asset], rng: np.random.Generator,
                  n: int | None = None) -> list[tuple[Asset, Placement]]:
    """1..MAX_PROPS props from `pool` on the floor around the origin, footprints apart."""
    n = int(rng.integers(1, MAX_PROPS + 1)) if n is None else n
    picks = rng.choice(len(pool), size=n, replace=False)
    placed: list[tuple[Asset, Placement, float]] = []
    for i in picks:
        a = pool[int(i)]
        lo, hi = a.bounds
        r = float(np.hypot(hi[0] - lo[0], hi[2] - lo[2]) / 2)
        for _ in range(50):
            spread = 0.25 + 0.45 * len(placed)
            x, z = rng.uniform(-spread, spread, 2)
            if all(math.hypot(x - p.x, z - p.z) > r + q + 0.05 for _, p, q in placed):
                break
        placed.append((a, Placement(float(x), float(z), float(rng.uniform(0, 360))), r))
    return [(a, p) for a, p, _ in placed]


def random_camera(scene: Scene, rng: np.random.Generator) -> Camera:
    """An orbit pose: any azimuth, 5-50 degrees up, 35-60 degree fov, close-ups to wide shots,
    the target jittered about the scene centre."""
    fov = float(rng.uniform(35, 60))
    target = scene.center + rng.normal(0, 0.15, 3) * scene.radius
    return orbit_camera(target, scene.radius, float(rng.uniform(0, 360)),
                        float(rng.uniform(5, 50)), fov, float(rng.uniform(0.45, 1.05)))


def make_pair(pool: Sequence[Asset], split: str, i: int, size: int, sun_samples: int,
              bounce_samples: int) -> tuple[GBuffer, np.ndarray, Scene, Camera]:
    rng = np.random.default_rng([SPLITS[split], i])
    scene = Scene(random_layout(pool, rng))
    cam = random_camera(scene, rng)
    gb = render_gbuffer(scene, cam, size, size, rng)
    ref, _ = render_reference(scene, cam, size, size, rng, sun_samples, bounce_samples)
    return gb, ref, scene, cam


def save_pair(path: Path, gb: GBuffer, ref: np.ndarray) -> None:
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, full=gb.full.astype(np.float16), half=gb.half.astype(np.float16),
             background=gb.background.astype(np.float16), reference=ref.astype(np.float16))
    tmp.replace(path)


def load_pair(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def build(out: Path, split: str, pairs: int, size: int = 256, sun_samples: int = 36,
          bounce_samples: int = 64, pool_seeds: int | None = None) -> list[Path]:
    """Make the missing pairs 0..pairs-1 of `split` under out/split; returns all their paths.
    `pool_seeds`: only the first that many seeds per category of the split's pool."""
    d = Path(out) / split
    d.mkdir(parents=True, exist_ok=True)
    seeds = (TRAIN_SEEDS if split == "train" else EVAL_SEEDS)[:pool_seeds]
    want = {"size": size, "sun_samples": sun_samples, "bounce_samples": bounce_samples,
            "pool_seeds": list(seeds)}
    meta_path = d / "meta.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if {k: meta.get(k) for k in want} != want:
            raise ValueError(f"{d} holds pairs made with {meta}, not {want}: pass another "
                             "--data directory (or delete that one)")
    else:
        meta_path.write_text(json.dumps(want, indent=1) + "\n")
    paths = [d / f"{i:05d}.npz" for i in range(pairs)]
    todo = [i for i, p in enumerate(paths) if not p.exists()]
    if not todo:
        return paths
    pool = prop_pool(seeds)
    t0 = time.perf_counter()
    for n, i in enumerate(todo):
        gb, ref, _, _ = make_pair(pool, split, i, size, sun_samples, bounce_samples)
        save_pair(paths[i], gb, ref)
        if (n + 1) % 20 == 0 or n + 1 == len(todo):
            log.info("%s pairs: %d / %d made (%.2f s each)", split, n + 1, len(todo),
                     (time.perf_counter() - t0) / (n + 1))
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("runs/neural-render/data"))
    p.add_argument("--split", choices=tuple(SPLITS), default="train")
    p.add_argument("--pairs", type=int, default=480)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--sun-samples", type=int, default=36)
    p.add_argument("--bounce-samples", type=int, default=64)
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    build(a.out, a.split, a.pairs, a.size, a.sun_samples, a.bounce_samples)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
