"""`vitrine eval voxel-gan`: the per-category shape-metric table against the held-out split.

    .venv/bin/python -m generators.voxel_gan.evaluate [--n 50] [--run runs/voxel-gan]

Scores the shipped weights (or, with `--run`, a training run's current EMA generator) with
`generators.metrics.evaluate`: MMD-CD, COV-CD and 1-NNA-CD of `n` generated shapes against `n`
held-out shapes per category, the same for `n` training shapes as the reference floor, and the
memorisation check against every training shape of the category.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from generators.data import load_or_build
from generators.metrics.evaluate import evaluate, format_table
from generators.voxel_gan.generator import CONFIG, WEIGHTS, load_weights
from generators.voxel_gan.model import VoxelGenerator, for_inference

log = logging.getLogger(__name__)


def sampler_from_run(run: Path):
    """(sample fn, categories) for a run directory's EMA generator (no export needed)."""
    cfg = json.loads((run / "config.json").read_text())
    G = VoxelGenerator(**cfg["generator"])
    t = load_file(str(run / "checkpoint.safetensors"))
    G.load_state_dict({k[4:]: v for k, v in t.items() if k.startswith("ema.")})
    return _sampler(G.eval(), cfg.get("categories")), cfg.get("categories"), cfg["step"]


def _sampler(G: VoxelGenerator, categories):
    G = for_inference(G)
    @torch.inference_mode()
    def sample(category: str, n: int, seed: int):
        ci = categories.index(category)
        g = torch.Generator().manual_seed(seed * 7919 + ci)
        z = torch.randn(n, G.z_dim, generator=g)
        return torch.sigmoid(G(z, torch.full((n,), ci))).numpy()[:, 0]

    return sample


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="vitrine eval voxel-gan", description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50,
                    help="generated and held-out shapes per category (default 50)")
    ap.add_argument("--points", type=int, default=2048, help="surface points per shape")
    ap.add_argument("--train-per-category", type=int, default=500,
                    help="training shapes searched by the memorisation check (default 500)")
    ap.add_argument("--run", help="evaluate a training run directory instead of shipped weights")
    ap.add_argument("--categories", help="comma-separated subset (default: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="also write the numbers to this JSON file")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.n < 2:
        ap.error(f"--n must be at least 2, got {args.n}")
    if args.run:
        run = Path(args.run)
        if not (run / "checkpoint.safetensors").exists():
            print(f"vitrine eval: {run} has no checkpoint.safetensors; train first with "
                  f"`vitrine train voxel-gan --out {run}`", file=sys.stderr)
            return 2
        sample, categories, step = sampler_from_run(run)
        title = f"voxel-gan, run {run} at step {step}"
    else:
        G, cfg = load_weights(WEIGHTS, CONFIG)
        categories = cfg["categories"]
        sample = _sampler(G, categories)
        title = f"voxel-gan, shipped weights ({cfg['training']['steps']} steps)"
    if args.categories:
        wanted = args.categories.split(",")
        unknown = [c for c in wanted if c not in categories]
        if unknown:
            ap.error(f"unknown categories {unknown}; the model has {', '.join(categories)}")
        categories = wanted
    heldout = load_or_build("heldout", args.n, 32, progress=True)
    train = load_or_build("train", args.train_per_category, 32, progress=True)
    report = evaluate(sample, categories, heldout, train, n=args.n, points=args.points,
                      seed=args.seed)
    print(format_table(report, title=title))
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
