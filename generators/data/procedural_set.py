"""Deterministic voxel data sets from the `procedural` families.

A set is `n_per_category` shapes of every category, voxelised at `res`^3 (32 by default, 64 as
an option) with `Shape.occupancy(res, DILATE_VOXELS)`: normalised into the cube, standing on
its floor, thin parts kept. The splits take seeds from ranges that never overlap:

    train     seeds TRAIN_SEED_START   + k   (k < 1,000,000)
    held-out  seeds HELDOUT_SEED_START + k

so a held-out shape is never a training shape. A built set is cached as an .npz next to the
other sets (key: split, res, size and a hash of the family source), so the first build pays
and later ones load in milliseconds.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from generators.procedural import families

T = TypeVar("T")

log = logging.getLogger(__name__)

TRAIN_SEED_START = 1
HELDOUT_SEED_START = 1_000_001
SPLITS = {"train": TRAIN_SEED_START, "heldout": HELDOUT_SEED_START}
MAX_PER_SPLIT = HELDOUT_SEED_START - TRAIN_SEED_START
DILATE_VOXELS = 0.5
DEFAULT_CACHE = Path.home() / ".cache" / "vitrine" / "datasets"


@dataclass
class VoxelSet:
    voxels: np.ndarray  # [N, R, R, R] bool, axis order (x, y, z)
    labels: np.ndarray  # [N] int64, index into `categories`
    seeds: np.ndarray  # [N] int64
    categories: tuple[str, ...]
    # Real-world longest side (metres) per category, measured on a studio's meshes
    # (`mesh_set`); None for the procedural sets, whose sizes come from `category_extents`.
    extent_m: dict[str, float] | None = None
    # Real-world longest side (metres) of every shape [N], what a size model learns with the
    # shape (a studio's meshes keep their own sizes); None where a set does not record them.
    sizes_m: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def of(self, category: str) -> np.ndarray:
        return self.voxels[self.labels == self.categories.index(category)]


def _family_hash() -> str:
    h = hashlib.sha256()
    src = Path(families.__file__).parent
    for name in ("families.py", "sdf.py"):
        h.update((src / name).read_bytes())
    h.update(f"dilate={DILATE_VOXELS}".encode())
    return h.hexdigest()[:12]


def shapes_of_split(split: str, n_per_category: int, categories: tuple[str, ...],
                    desc: str, progress: bool = False):
    """Yield (index, category index, seed, Shape) for every shape of a split, category by
    category, with a progress bar when asked: what every data set of the families iterates."""
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=n_per_category * len(categories), desc=desc, unit="shape")
    i = 0
    for ci, cat in enumerate(categories):
        for k in range(n_per_category):
            seed = SPLITS[split] + k
            yield i, ci, seed, families.build(cat, seed)
            i += 1
            if bar:
                bar.update()
    if bar:
        bar.close()


def build_voxel_set(split: str, n_per_category: int, res: int = 32,
                    categories: tuple[str, ...] = families.CATEGORIES,
                    progress: bool = False) -> VoxelSet:
    """Voxelise `n_per_category` shapes of each category for `split` ('train' or 'heldout')."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
    if not 1 <= n_per_category <= MAX_PER_SPLIT:
        raise ValueError(f"n_per_category must be 1 to {MAX_PER_SPLIT}, got {n_per_category}")
    if res not in (32, 64):
        raise ValueError(f"res must be 32 or 64, got {res}")
    unknown = [c for c in categories if c not in families.CATEGORIES]
    if unknown:
        raise ValueError(f"unknown categories {unknown}; known: {', '.join(families.CATEGORIES)}")
    total = n_per_category * len(categories)
    vox = np.zeros((total, res, res, res), dtype=bool)
    labels = np.zeros(total, dtype=np.int64)
    seeds = np.zeros(total, dtype=np.int64)
    for i, ci, seed, shape in shapes_of_split(split, n_per_category, categories,
                                              f"voxelising {split} @ {res}^3", progress):
        vox[i] = shape.occupancy(res, DILATE_VOXELS)
        labels[i], seeds[i] = ci, seed
    return VoxelSet(vox, labels, seeds, tuple(categories),
                    sizes_m=shape_sizes(tuple(categories), labels, seeds))


def cached_npz(path: Path, what: str, build: Callable[[], T], to_arrays: Callable[[T], dict],
               from_npz: Callable[[Any], T], compressed: bool = True) -> T:
    """A data set through an .npz cache at `path`: loaded if readable, else built and written
    atomically (a temporary file, then a rename). Shared by every cached data set."""
    if path.exists():
        try:
            with np.load(path) as z:
                return from_npz(z)
        except (OSError, ValueError, KeyError) as err:
            log.warning("%s cache %s is unreadable (%s); rebuilding it", what, path, err)
    data = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    (np.savez_compressed if compressed else np.savez)(tmp, **to_arrays(data))
    tmp.replace(path)
    log.info("cached %s at %s", what, path)
    return data


def load_or_build(split: str, n_per_category: int, res: int = 32,
                  cache_dir: Path | str | None = None, progress: bool = False) -> VoxelSet:
    """`build_voxel_set` through an on-disk cache (rebuilt when the families change)."""
    cache = Path(cache_dir) if cache_dir else DEFAULT_CACHE
    return cached_npz(
        cache / f"procedural-{split}-r{res}-n{n_per_category}-{_family_hash()}.npz",
        f"voxel set {split} {res}^3 x {n_per_category}",
        lambda: build_voxel_set(split, n_per_category, res, progress=progress),
        lambda d: {"voxels": np.packbits(d.voxels, axis=-1), "labels": d.labels,
                   "seeds": d.seeds, "categories": np.array(d.categories)},
        lambda z: _with_sizes(VoxelSet(np.unpackbits(z["voxels"], axis=-1)[..., :res]
                                       .astype(bool), z["labels"], z["seeds"],
                                       tuple(str(c) for c in z["categories"]))))


def _with_sizes(data: VoxelSet) -> VoxelSet:
    data.sizes_m = shape_sizes(data.categories, data.labels, data.seeds)
    return data


def longest_side(shape: families.Shape) -> float:
    """A procedural shape's longest bounding-box side in metres."""
    return float((shape.bounds_max - shape.bounds_min).max())


def shape_sizes(categories: tuple[str, ...], labels: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Longest side (metres) [N] of each procedural shape of a set, rebuilt from its
    (category, seed): cheap (3000 shapes in ~1.5 s here), so caches need not store it."""
    return np.array([longest_side(families.build(categories[int(c)], int(s)))
                     for c, s in zip(labels, seeds, strict=True)], dtype=np.float64)


def category_extents(categories, n: int = 64) -> dict[str, float]:
    """Median longest bounding-box side (metres) of the first n training shapes per category:
    the real-world size a shape model trained in a unit cube gives its props."""
    out = {}
    for cat in categories:
        sides = [longest_side(families.build(cat, TRAIN_SEED_START + k)) for k in range(n)]
        out[cat] = round(float(np.median(sides)), 4)
    return out
