"""`vitrine eval voxel-gan`: the per-category shape-metric table against the held-out split.

    .venv/bin/vitrine eval voxel-gan [--n 50] [--run runs/voxel-gan]

Scores the shipped weights (or, with `--run`, a training run's current EMA generator) with
`generators.metrics.evaluate`: MMD-CD, COV-CD and 1-NNA-CD of `n` generated shapes against `n`
held-out shapes per category, the same for `n` training shapes as the reference floor, and the
memorisation check against every training shape of the category. Then the served tables
(`generators.metrics.served`): the shipped model's lod0 props as the server makes them,
against `procedural` -- metric-scale 1-NNA/COV/MMD (metres, not rescaled), height and width
mean and sd per category, and the share of props in one piece and standing. `--quick` looks at
n = 8; `--no-served` skips the served tables.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import torch

from generators.metrics.evaluate import (
    add_arguments,
    evaluate_args,
    format_table,
    parse_eval_args,
    served_tables,
)
from generators.training import run as rundir
from generators.voxel_gan.generator import CONFIG, WEIGHTS, load_weights
from generators.voxel_gan.model import VoxelGenerator, for_inference

log = logging.getLogger(__name__)


def sampler_from_run(run: Path):
    """(sample fn, categories, step) for a run directory's EMA generator (no export needed)."""
    cfg = rundir.read_config(run)
    G = rundir.load_network(run, VoxelGenerator)
    return _sampler(G, cfg["categories"]), cfg["categories"], cfg["state"]["step"]


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
    add_arguments(ap)
    ap.add_argument("--categories", help="comma-separated subset (default: all)")
    args = parse_eval_args(ap, argv)
    if args.run:
        if message := rundir.missing(Path(args.run), "voxel-gan"):
            print(f"vitrine eval: {message}", file=sys.stderr)
            return 2
        sample, categories, step = sampler_from_run(Path(args.run))
        title = f"voxel-gan, run {args.run} at step {step}"
    else:
        G, cfg = load_weights(WEIGHTS, CONFIG)
        categories = cfg["categories"]
        sample = _sampler(G, categories)
        title = f"voxel-gan, shipped weights ({cfg['training']['steps']} steps)"
        if args.draws == "served":
            from generators.voxel_gan.generator import CANDIDATES, VoxelGanGenerator

            sample = VoxelGanGenerator().sample_served
            title += f", served draws (the first one-piece draw of up to {CANDIDATES} per seed)"
    if args.categories:
        wanted = args.categories.split(",")
        unknown = [c for c in wanted if c not in categories]
        if unknown:
            ap.error(f"unknown categories {unknown}; the model has {', '.join(categories)}")
        categories = wanted
    report = evaluate_args(sample, categories, args)
    print(format_table(report, title=title))
    out = report.to_dict()
    if (served := served_tables("voxel-gan", categories, args)) is not None:
        out["served"] = served
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
