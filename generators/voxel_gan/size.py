"""voxel-gan's size head: the real longest side of a prop given its 32^3 shape (and class).

    .venv/bin/python -m generators.voxel_gan.size --ship          # the procedural training set
    .venv/bin/python -m generators.voxel_gan.size --data FILE --weights models/NAME/NAME.safetensors

The shape GAN learns occupancy normalised into the cube; this head (`training.size_head`, a
mixture density network) learns p(log longest side | shape, class) by maximum likelihood on the
training shapes' (occupancy, size) pairs: the procedural training split (500 per category) or a
studio's set from `vitrine dataset build` (each mesh's own size). Its features are what the
generator's output carries about size: the occupancy average-pooled to 8^3 and the solid's
bounding box in the cube (its aspect: a floor lamp is tall and narrow, a table lamp squat).
Served, a seed's generated grid (thresholded at 0.5, like the data) goes in, and the size is
drawn from (seed, category). The held-out split (50 per category, never trained on) checks the
sampled sizes' mean and sd against the true ones; both are written into the JSON.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from generators.training import size_head as sh

log = logging.getLogger(__name__)

POOL = 4  # 32^3 -> 8^3 features


def features(vox: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Occupancy [B, R, R, R] (bool or probabilities >= 0.5 solid) -> features [B, (R/4)^3 + 3]:
    the average-pooled solid and its bounding box's extents in x, y, z over the longest."""
    v = torch.as_tensor(np.asarray(vox) >= 0.5 if not isinstance(vox, torch.Tensor)
                        else vox >= 0.5).float()
    pooled = F.avg_pool3d(v[:, None], POOL).flatten(1)
    ext = []
    for axis in (1, 2, 3):
        other = tuple(a for a in (1, 2, 3) if a != axis)
        occ = v.amax(dim=other) > 0  # [B, R]
        idx = torch.arange(v.shape[axis], dtype=torch.float32)
        lo = torch.where(occ, idx, torch.inf).amin(1)
        hi = torch.where(occ, idx, -torch.inf).amax(1)
        ext.append((hi - lo + 1).clamp(min=0))
    e = torch.stack(ext, 1)
    return torch.cat([pooled, e / e.amax(1, keepdim=True).clamp(min=1)], 1)


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


def train(data_path: str | None, weights: Path, steps: int, seed: int) -> dict:
    train_set, test_set = _sets(data_path)
    cats = train_set.categories
    stats = sh.SizeStats.of(cats, train_set.labels, train_set.sizes_m)
    cond = features(train_set.voxels)
    head = sh.SizeHead(cond.shape[1], len(cats))
    t = torch.from_numpy(stats.to_t(cats, train_set.labels, train_set.sizes_m)).float()
    record = sh.fit(head, cond, torch.from_numpy(train_set.labels).long(), t, steps=steps,
                    cond_noise=0.5, seed=seed)
    held = sh.evaluate(head, stats, cats, features(test_set.voxels), test_set.labels,
                       test_set.sizes_m, seed=seed)
    log.info("held-out nll %.4f; %s", held["nll"], held["categories"])
    meta = {"model": "voxel-gan size head", "data": data_path or "procedural train 500/category",
            "training": record, "heldout": held, "n_train": len(train_set)}
    return sh.save(head, stats, cats, meta, weights)


def main(argv=None) -> int:
    from generators.voxel_gan.generator import WEIGHTS

    return sh.cli("python -m generators.voxel_gan.size", WEIGHTS,
                  lambda w, steps, seed, data: train(data, w, steps, seed), argv,
                  data=True)


if __name__ == "__main__":
    raise SystemExit(main())
