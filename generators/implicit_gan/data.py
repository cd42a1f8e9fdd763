"""Truncated signed-distance grids of the procedural props, in the voxel data set's frame.

The implicit model trains on the same shapes and splits as `voxel-gan` (the `procedural`
families, seeds from `generators.data.procedural_set.SPLITS`), but learns a continuous field,
so its targets are signed distances rather than voxels.

The frame. `Shape.occupancy(32)` puts a shape in a cube whose side is L = 32/30 of the shape's
longest side (one empty voxel all round), centred in x and z, standing on the second voxel
layer in y. Here a point p in [-0.5, 0.5]^3 is a position in that cube in units of L, so the
32^3 data set's voxel i has its centre at p = (i + 0.5) / 32 - 0.5, and a voxel is solid in the
data set exactly where the SDF (in units of L) is below `DILATE` (half a 32^3 voxel, see
`procedural_set.DILATE_VOXELS`).

A set stores the SDF at `res`^3 nodes spanning the cube corner to corner (node j at
p = j / (res - 1) - 0.5, the `align_corners=True` convention of `torch.nn.functional
.grid_sample`), truncated to +-`TRUNCATION` and quantised to int8 (steps of TRUNCATION / 127,
about 1/20 of a 64^3 cell). Cached as an .npz like the voxel sets.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from generators.data.procedural_set import (
    DEFAULT_CACHE,
    DILATE_VOXELS,
    SPLITS,
    _family_hash,
    cached_npz,
    shapes_of_split,
)
from generators.procedural import families
from generators.procedural import sdf as S

VOXEL_RES = 32  # the voxel data set's grid, which fixes the frame
CUBE_OVER_EXTENT = VOXEL_RES / (VOXEL_RES - 2)  # L / the shape's longest side
DILATE = DILATE_VOXELS / VOXEL_RES  # the voxel set's solid test: sdf < DILATE (units of L)
TRUNCATION = 0.1  # |sdf| is clamped here (units of L: 3.2 voxels of the 32^3 set)
# The decoder learns sdf - DILATE: the shapes grown by half a 32^3 voxel, which are exactly the
# solids of the voxel data set (and what voxel-gan learns). The true surfaces' thin parts (vase
# walls, chair legs, lamp shades: about one 64^3 cell) stayed broken and patchy after 1500
# autoencoder steps of the first full run; grown by 1/64 of the cube they are about 2 cells.
TARGET_OFFSET = DILATE
QUANT = 127.0 / TRUNCATION


@dataclass
class SdfSet:
    sdf: np.ndarray  # [N, R, R, R] int8: truncated SDF * QUANT, axis order (x, y, z)
    labels: np.ndarray  # [N] int64
    seeds: np.ndarray  # [N] int64
    categories: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def res(self) -> int:
        return self.sdf.shape[1]


def cube_side(shape: families.Shape) -> float:
    """L, the side of the shape's cube in metres."""
    return float((shape.bounds_max - shape.bounds_min).max()) * CUBE_OVER_EXTENT


def to_world(shape: families.Shape, p: np.ndarray) -> np.ndarray:
    """Cube points [..., 3] (units of L, in [-0.5, 0.5]) -> metres in the shape's own frame."""
    lo, hi = shape.bounds_min, shape.bounds_max
    side = cube_side(shape)
    # y: voxel centre i of the 32^3 set is at lo_y + (i - 0.5) * spacing, spacing = L / 32;
    # with p = (i + 0.5) / 32 - 0.5 that is lo_y - L / 32 + (p + 0.5) * L.
    origin = np.array([(lo[0] + hi[0]) / 2, lo[1] - side / VOXEL_RES + side / 2,
                       (lo[2] + hi[2]) / 2])
    return origin + np.asarray(p, dtype=np.float64) * side


def frame_axes(shape: families.Shape, res: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """World (metre) coordinates of the `res` nodes along x, y, z of the shape's unit cube."""
    p = np.linspace(-0.5, 0.5, res)
    w = to_world(shape, np.stack([p, p, p], axis=1))
    return tuple(w[:, i].astype(np.float32) for i in range(3))  # type: ignore[return-value]


def shape_sdf(shape: families.Shape, res: int) -> np.ndarray:
    """Truncated SDF in units of the cube side at `res`^3 nodes -> float32 [res, res, res]."""
    side = cube_side(shape)
    grid = S.eval_grid(shape.node, frame_axes(shape, res), TRUNCATION * side) / side
    return np.clip(grid, -TRUNCATION, TRUNCATION)


def build_sdf_set(split: str, n_per_category: int, res: int = 64,
                  categories: tuple[str, ...] = families.CATEGORIES,
                  progress: bool = False) -> SdfSet:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
    if not 1 <= n_per_category <= 100_000:
        raise ValueError(f"n_per_category must be 1 to 100000, got {n_per_category}")
    if not 8 <= res <= 128:
        raise ValueError(f"res must be 8 to 128, got {res}")
    total = n_per_category * len(categories)
    out = np.zeros((total, res, res, res), dtype=np.int8)
    labels = np.zeros(total, dtype=np.int64)
    seeds = np.zeros(total, dtype=np.int64)
    for i, ci, seed, shape in shapes_of_split(split, n_per_category, categories,
                                              f"SDF grids {split} @ {res}^3", progress):
        out[i] = np.round(shape_sdf(shape, res) * QUANT).astype(np.int8)
        labels[i], seeds[i] = ci, seed
    return SdfSet(out, labels, seeds, tuple(categories))


def load_or_build_sdf(split: str, n_per_category: int, res: int = 64,
                      cache_dir: Path | str | None = None, progress: bool = False) -> SdfSet:
    """`build_sdf_set` through the data-set cache (rebuilt when the families change)."""
    cache = Path(cache_dir) if cache_dir else DEFAULT_CACHE
    key = hashlib.sha256(f"{_family_hash()}-{TRUNCATION}-{VOXEL_RES}".encode()).hexdigest()[:12]
    return cached_npz(
        cache / f"sdf-{split}-r{res}-n{n_per_category}-{key}.npz",
        f"SDF grids {split} {res}^3 x {n_per_category}",
        lambda: build_sdf_set(split, n_per_category, res, progress=progress),
        lambda d: {"sdf": d.sdf, "labels": d.labels, "seeds": d.seeds,
                   "categories": np.array(d.categories)},
        lambda z: SdfSet(z["sdf"], z["labels"], z["seeds"],
                         tuple(str(c) for c in z["categories"])))


# ----------------------------------------------------------------------- exact samples
# The decoder's targets. Trilinear lookups in the 64^3 grid thin every part about one cell
# thick: at the 32^3 voxel centres they missed 47 of a column's 666 solid voxels (IoU 0.92 with
# the data set itself) and 38 of a lamp's 800, and an autoencoder trained on them learned that
# thinning (its reconstructions were told from held-out columns 82 % of the time). So the
# decoder trains on the procedural SDF evaluated exactly at fixed random points per shape.
SAMPLES = 16384  # exact samples per shape: the first half near the learned surface
NEAR = 0.03  # |sdf - TARGET_OFFSET| (units of L) of the grid nodes the near half is drawn around


@dataclass
class SampleSet:
    points: np.ndarray  # [N, K, 3] float16 cube points: K/2 near the surface, then K/2 uniform
    sdf: np.ndarray  # [N, K] float16: the exact SDF (units of L, truncated) at those points
    labels: np.ndarray  # [N] int64
    seeds: np.ndarray  # [N] int64

    def __len__(self) -> int:
        return len(self.labels)


def shape_samples(shape: families.Shape, k: int = SAMPLES, res: int = 64,
                  rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """k points of the shape's cube and its exact truncated SDF there, float16.

    The first k // 2 are `res`^3 grid nodes within NEAR of the learned surface (sdf =
    TARGET_OFFSET), jittered uniformly within a cell; the rest are uniform in the cube. The
    points are rounded to float16 before the SDF is evaluated, so the pairs are exact as stored.
    """
    rng = rng or np.random.default_rng(0)
    grid = shape_sdf(shape, res)
    idx = np.argwhere(np.abs(grid - TARGET_OFFSET) < NEAR)
    if len(idx) == 0:  # no surface at all: the near half is uniform too
        idx = np.argwhere(np.ones_like(grid, dtype=bool))
    n_near = k // 2
    pick = rng.choice(len(idx), n_near, replace=len(idx) < n_near)
    near = idx[pick] / (res - 1) - 0.5 + (rng.random((n_near, 3)) - 0.5) / (res - 1)
    p = np.concatenate([near, rng.random((k - n_near, 3)) - 0.5]).clip(-0.5, 0.5)
    p = p.astype(np.float16)
    d = shape.node.points(to_world(shape, p.astype(np.float64))) / cube_side(shape)
    return p, np.clip(d, -TRUNCATION, TRUNCATION).astype(np.float16)


def build_sample_set(split: str, n_per_category: int, k: int = SAMPLES, res: int = 64,
                     categories: tuple[str, ...] = families.CATEGORIES,
                     progress: bool = False) -> SampleSet:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
    if not 2 <= k <= 1_000_000:
        raise ValueError(f"k must be 2 to 1000000 samples per shape, got {k}")
    total = n_per_category * len(categories)
    points = np.zeros((total, k, 3), dtype=np.float16)
    sdf = np.zeros((total, k), dtype=np.float16)
    labels = np.zeros(total, dtype=np.int64)
    seeds = np.zeros(total, dtype=np.int64)
    for i, ci, seed, shape in shapes_of_split(split, n_per_category, categories,
                                              f"exact SDF samples {split}", progress):
        points[i], sdf[i] = shape_samples(shape, k, res, np.random.default_rng([seed, ci]))
        labels[i], seeds[i] = ci, seed
    return SampleSet(points, sdf, labels, seeds)


def load_or_build_samples(split: str, n_per_category: int, k: int = SAMPLES, res: int = 64,
                          cache_dir: Path | str | None = None,
                          progress: bool = False) -> SampleSet:
    """`build_sample_set` through the data-set cache (rebuilt when the families change);
    stored uncompressed: random points do not compress."""
    cache = Path(cache_dir) if cache_dir else DEFAULT_CACHE
    key = hashlib.sha256(f"{_family_hash()}-{TRUNCATION}-{VOXEL_RES}-{NEAR}".encode()
                         ).hexdigest()[:12]
    return cached_npz(
        cache / f"sdf-samples-{split}-k{k}-r{res}-n{n_per_category}-{key}.npz",
        f"exact SDF samples {split} {k} x {n_per_category}",
        lambda: build_sample_set(split, n_per_category, k, res, progress=progress),
        lambda d: {"points": d.points, "sdf": d.sdf, "labels": d.labels, "seeds": d.seeds},
        lambda z: SampleSet(z["points"], z["sdf"], z["labels"], z["seeds"]),
        compressed=False)


def voxel_centres(res: int = VOXEL_RES) -> np.ndarray:
    """Points [res^3, 3] at the centres of the voxel set's grid, in (x, y, z) C order."""
    c = (np.arange(res) + 0.5) / res - 0.5
    return np.stack(np.meshgrid(c, c, c, indexing="ij"), -1).reshape(-1, 3).astype(np.float32)
