"""voxel-gan's size head: the longest side of a prop given its 32^3 shape (and class).

    .venv/bin/python -m generators.voxel_gan.size --ship          # the procedural training set
    .venv/bin/python -m generators.voxel_gan.size --data FILE --weights models/NAME/NAME.safetensors

The shape GAN learns occupancy normalised into the cube; this head (`training.size_head`, a
mixture density network) learns p(log size | shape, class) by maximum likelihood on the training
shapes' (occupancy, size) pairs: the procedural training split (500 per category), where the
size is `size_head.fit_scale` of the shape's real extents (the longest side at which its grown
grid matches them best), or a studio's set from `vitrine dataset build` (each mesh's own
longest side). Its features are the solid's bounding-box extents in x, y, z over the longest,
measured exactly (no training noise) on the grid with its floating debris dropped, as the
served grid drops it: the shape's aspect, which ties its size to its real extents (a table's
height is its longest side times it). The first head of version 3 also saw the occupancy
pooled to 8^3 (512 values), and all its features were noised in training (0.5 of their
spread), which blurred the aspect. Pooled occupancy (8^3 or 2^3) beside exact extents fitted
the held-out shapes better (NLL 0.74-0.78 against 0.83-0.89) but read the GAN's lamps as table
lamps (seeds 51-150: mean height 0.84-0.87x the training split's, against 0.93-0.99x from the
extents alone), so the extents alone ship; see the model card. Served, a seed's generated grid
(thresholded at 0.5, like the data) goes in, and the size is drawn from (seed, category). The
held-out split (50 per category, never trained on) checks the sampled sizes' mean and sd
against the targets; both are written into the JSON.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from generators.training import size_head as sh

log = logging.getLogger(__name__)

STEPS = 2000  # fitting steps (`--steps` default)


def _solid(vox: np.ndarray | torch.Tensor) -> np.ndarray:
    """Bool grids [B, R, R, R] of occupancy (bool or probabilities, >= 0.5 solid) with floating
    debris dropped (`geometry.cleanup.debris`, as the served grid drops it)."""
    from generators.geometry.cleanup import debris

    v = (vox.numpy() if isinstance(vox, torch.Tensor) else np.asarray(vox)) >= 0.5
    return np.stack([g & ~debris(g)[0] if g.any() else g for g in v])


def extents(solid: np.ndarray) -> np.ndarray:
    """Bounding-box extents [B, 3] (voxels, x y z) of bool grids [B, R, R, R]; 0 when empty."""
    out = np.zeros((len(solid), 3))
    for axis in (1, 2, 3):
        occ = solid.any(axis=tuple(a for a in (1, 2, 3) if a != axis))  # [B, R]
        idx = np.arange(occ.shape[1])
        lo = np.where(occ, idx, occ.shape[1]).min(1)
        hi = np.where(occ, idx, -1).max(1)
        out[:, axis - 1] = np.maximum(hi - lo + 1, 0)
    return out


def features(vox: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Occupancy [B, R, R, R] (bool or probabilities >= 0.5 solid) -> features [B, 3]: the
    debris-free solid's bounding-box extents in x, y, z over the longest (its aspect)."""
    e = torch.from_numpy(extents(_solid(vox))).float()
    return e / e.amax(1, keepdim=True).clamp(min=1)


def targets(data, procedural: bool) -> tuple[np.ndarray, str]:
    """(size targets in metres [N], what they are) of a voxel set: for the procedural sets
    `fit_scale` of each shape's real extents (rebuilt from its (category, seed)); a studio's
    set records only each mesh's longest side, which is then the target."""
    if not procedural:
        return np.asarray(data.sizes_m, dtype=np.float64), "longest side"
    from generators.procedural import families

    shapes = (families.build(data.categories[int(c)], int(seed))
              for c, seed in zip(data.labels, data.seeds, strict=True))
    real = np.array([s.bounds_max - s.bounds_min for s in shapes])
    return (sh.fit_scale(real, extents(_solid(data.voxels)), data.labels,
                         len(data.categories)), "fit scale of the real extents")


def _sets(data_path: str | None):
    from generators.data.mesh_set import load_voxel_set
    from generators.data.procedural_set import load_or_build

    if data_path is None:
        return load_or_build("train", 500, 32), load_or_build("heldout", 50, 32)
    data = load_voxel_set(data_path)
    if data.sizes_m is None:
        raise SystemExit(f"{data_path} records no per-mesh sizes (built before they were kept): "
                         "rebuild it with `vitrine dataset build`")
    # A studio's set has no held-out split of its own: every 10th mesh checks the fit.
    test = np.arange(len(data)) % 10 == 9
    from generators.data.procedural_set import VoxelSet

    def part(m):
        return VoxelSet(data.voxels[m], data.labels[m], data.seeds[m], data.categories,
                        data.extent_m, data.sizes_m[m])

    return part(~test), part(test)


def fit_on(train_set, procedural: bool, steps: int = STEPS, seed: int = 0):
    """(head, stats, training record, what the target is) fitted on a voxel set: the shipped
    head's recipe."""
    cats = train_set.categories
    size, what = targets(train_set, procedural)
    stats = sh.SizeStats.of(cats, train_set.labels, size)
    cond = features(train_set.voxels)
    torch.manual_seed(seed)  # the initial weights too: a rerun ships the same head
    head = sh.SizeHead(cond.shape[1], len(cats))
    t = torch.from_numpy(stats.to_t(cats, train_set.labels, size)).float()
    record = sh.fit(head, cond, torch.from_numpy(train_set.labels).long(), t, steps=steps,
                    seed=seed)
    return head, stats, record, what


def train(data_path: str | None, weights: Path, steps: int, seed: int) -> dict:
    train_set, test_set = _sets(data_path)
    head, stats, record, what = fit_on(train_set, data_path is None, steps, seed)
    held = sh.evaluate(head, stats, train_set.categories, features(test_set.voxels),
                       test_set.labels, targets(test_set, data_path is None)[0], seed=seed)
    log.info("held-out nll %.4f; %s", held["nll"], held["categories"])
    meta = {"model": "voxel-gan size head", "data": data_path or "procedural train 500/category",
            "target": what, "features": "bounding-box extents over the longest (exact)",
            "training": record, "heldout": held, "n_train": len(train_set)}
    return sh.save(head, stats, train_set.categories, meta, weights)


def main(argv=None) -> int:
    from generators.voxel_gan.generator import WEIGHTS

    return sh.cli("python -m generators.voxel_gan.size", WEIGHTS,
                  lambda w, steps, seed, data: train(data, w, steps, seed), argv,
                  data=True, steps=STEPS)


if __name__ == "__main__":
    raise SystemExit(main())
