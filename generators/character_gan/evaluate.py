"""`vitrine eval character-gan`: the per-category shape-metric table against held-out bodies.

    .venv/bin/vitrine eval character-gan [--n 50] [--run runs/character-gan]

As the prop GANs' evaluation (`generators.metrics.evaluate`): MMD-CD, COV-CD and 1-NNA-CD of
`n` generated bodies against `n` held-out humanoid bodies per category (seeds never trained
on), the same for `n` training bodies as the reference floor, and the memorisation check
(each generated and held-out body's Chamfer distance to its nearest training body, searched
over every training body of the category: a shortlist by per-vertex distance in the shared
topology, then Chamfer on the shortlist). Bodies are compared in metres as an engine places
them (`--normalize` scales each cloud to a unit box instead, as the prop tables do, which
hides height).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch

from generators.character_gan import data
from generators.metrics.evaluate import CategoryResult, Report, format_table
from generators.metrics.pointcloud import (
    chamfer_matrix,
    mmd_cov_1nna_from_matrices,
    normalize_points,
    sample_surface_from_mesh,
)

log = logging.getLogger(__name__)


def clouds(bodies: np.ndarray, faces: np.ndarray, points: int, seed: int,
           normalize: bool) -> np.ndarray:
    out = np.stack([sample_surface_from_mesh(v, faces, points, seed + i)
                    for i, v in enumerate(bodies)])
    return normalize_points(out) if normalize else out


def nearest_train(query: np.ndarray, query_clouds: np.ndarray, train: np.ndarray,
                  faces: np.ndarray, points: int, seed: int, normalize: bool,
                  shortlist: int = 8) -> np.ndarray:
    """[n] Chamfer distance of each query body to its nearest training body."""
    q = query.reshape(len(query), -1)
    t = train.reshape(len(train), -1)
    d2 = (q * q).sum(1)[:, None] - 2 * q @ t.T + (t * t).sum(1)[None]  # per-vertex L2 sq
    near = np.argsort(d2, axis=1)[:, :shortlist]
    cache: dict[int, np.ndarray] = {}
    out = np.empty(len(query))
    for i, idx in enumerate(near):
        pool = []
        for j in idx:
            if j not in cache:
                cache[j] = clouds(train[j:j + 1], faces, points, seed + 100_000 + int(j),
                                  normalize)[0]
            pool.append(cache[j])
        out[i] = chamfer_matrix(query_clouds[i:i + 1], np.stack(pool)).min()
    return out


def evaluate(sample, categories, n: int = 50, points: int = 2048, train_per_category: int = 400,
             seed: int = 0, normalize: bool = False) -> Report:
    """`sample(category, n, seed) -> [n, V, 3]` vertices in metres, scored per category."""
    t0 = time.perf_counter()
    faces = data.faces()
    heldout, h_lab = data.bodies("heldout", n, categories)
    train, t_lab = data.bodies("train", train_per_category, categories)
    report = Report(n=n, points=points, seconds=0.0)
    for ci, cat in enumerate(categories):
        gen = np.asarray(sample(cat, n, seed), dtype=np.float32)
        ref, tr = heldout[h_lab == ci][:n], train[t_lab == ci]
        g = clouds(gen, faces, points, seed, normalize)
        r = clouds(ref, faces, points, seed + 50_000, normalize)
        t = clouds(tr[:n], faces, points, seed + 100_000, normalize)
        d_rr = chamfer_matrix(r)
        model = mmd_cov_1nna_from_matrices(chamfer_matrix(g, r), chamfer_matrix(g), d_rr)
        floor = mmd_cov_1nna_from_matrices(chamfer_matrix(t, r), chamfer_matrix(t), d_rr)
        g2t = nearest_train(gen, g, tr, faces, points, seed, normalize)
        h2t = nearest_train(ref, r, tr, faces, points, seed, normalize)
        res = CategoryResult(cat, model, floor, g2t, h2t)
        log.info("%s: 1-NNA %.3f COV %.3f MMD %.6f (floor 1-NNA %.3f), memorisation %.2f",
                 cat, model["nna_cd"], model["cov_cd"], model["mmd_cd"], floor["nna_cd"],
                 res.memorisation_ratio)
        report.results.append(res)
    report.seconds = time.perf_counter() - t0
    return report


def heights(sample, categories, n: int, seed: int = 0) -> list[tuple[str, float, float, float, float]]:
    """(category, generated mean, sd, held-out mean, sd) standing heights in metres."""
    heldout, lab = data.bodies("heldout", n, categories)
    rows = []
    for ci, cat in enumerate(categories):
        gen = np.asarray(sample(cat, n, seed))
        gh = gen[..., 1].max(1) - gen[..., 1].min(1)
        ref = heldout[lab == ci]
        rh = ref[..., 1].max(1) - ref[..., 1].min(1)
        rows.append((cat, float(gh.mean()), float(gh.std()), float(rh.mean()), float(rh.std())))
    return rows


def baselines(categories, n: int, train_per_category: int, seed: int = 0):
    """Failure baselines the table must tell apart from a good model: every sample the
    category's mean training body (collapse), and the next category's bodies (wrong class)."""
    train, lab = data.bodies("train", train_per_category, categories)

    def collapsed(cat, k, s):
        return np.repeat(train[lab == categories.index(cat)].mean(0, keepdims=True), k, 0)

    def wrong(cat, k, s):
        other = (categories.index(cat) + 1) % len(categories)
        return train[lab == other][-k:]

    return {name: evaluate(fn, categories, n, train_per_category=train_per_category,
                           seed=seed)
            for name, fn in (("collapsed to the mean body", collapsed),
                             ("the next category's bodies", wrong))}


def sampler(G, categories):
    """sample(category, n, seed) of an EMA generator (fresh latents; evaluation only)."""

    @torch.inference_mode()
    def sample(category: str, n: int, seed: int) -> np.ndarray:
        ci = categories.index(category)
        g = torch.Generator().manual_seed(seed * 7919 + ci)
        z = torch.randn(n, G.z_dim, generator=g)
        return G.decode(G(z, torch.full((n,), ci))).numpy()

    return sample


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="vitrine eval character-gan",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50, help="generated and held-out bodies per "
                    "category (default 50)")
    ap.add_argument("--points", type=int, default=2048, help="surface points per body")
    ap.add_argument("--train-per-category", type=int, default=400,
                    help="training bodies searched by the memorisation check (default 400)")
    ap.add_argument("--run", help="evaluate a training run directory instead of shipped weights")
    ap.add_argument("--normalize", action="store_true",
                    help="scale every cloud to a unit box (hides height) instead of metres")
    ap.add_argument("--baselines", action="store_true",
                    help="also score two failure baselines (collapse, wrong category)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="also write the numbers to this JSON file")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.n < 2:
        ap.error(f"--n must be at least 2, got {args.n}")
    from generators.character_gan.generator import CONFIG, WEIGHTS, load_weights
    from generators.character_gan.model import BodyGenerator
    from generators.training import run as rundir

    if args.run:
        if message := rundir.missing(Path(args.run), "character-gan"):
            print(f"vitrine eval: {message}", file=sys.stderr)
            return 2
        cfg = rundir.read_config(Path(args.run))
        G = rundir.load_network(Path(args.run), BodyGenerator)
        title = f"character-gan, run {args.run} at step {cfg['state']['step']}"
    else:
        G, cfg = load_weights(WEIGHTS, CONFIG)
        title = f"character-gan, shipped weights ({cfg['training']['steps']} steps)"
    cats = list(cfg["categories"])
    sample = sampler(G, cats)
    scale = "unit box" if args.normalize else "metres"
    report = evaluate(sample, cats, args.n, args.points, args.train_per_category, args.seed,
                      args.normalize)
    print(format_table(report, title=f"{title}; clouds in {scale}"))
    print(f"\n{'category':<10} {'height m (gen)':>16} {'height m (held-out)':>20}")
    for cat, gm, gs, rm, rs in heights(sample, cats, args.n, args.seed):
        print(f"{cat:<10} {gm:>9.3f} ± {gs:.3f} {rm:>13.3f} ± {rs:.3f}")
    if args.baselines:
        for name, rep in baselines(cats, args.n, args.train_per_category, args.seed).items():
            print("\n" + format_table(rep, title=f"baseline: {name}"))
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
