"""The character-gan's data: humanoid bodies in the template's topology, and their PCA space.

A body is what `generators.humanoid.body` makes for a (category, seed): the MakeHuman base
mesh with the category's macro targets blended in, scaled to its drawn height and placed
(feet on y = 0, pelvis over the origin), as a [V, 3] vertex array in metres. Training seeds
are 1..n; held-out seeds start at HELDOUT_SEED, so the two splits never share a body.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from generators.humanoid import body as hb

log = logging.getLogger(__name__)

HELDOUT_SEED = 1_000_001
SPLITS = {"train": 1, "heldout": HELDOUT_SEED}


def categories() -> list[str]:
    return list(hb.CATEGORIES)


def faces() -> np.ndarray:
    return hb.template().faces


def body_vertices(category: str, seed: int) -> np.ndarray:
    """[V, 3] float32 placed vertices of the humanoid body of (category, seed)."""
    p = hb.sample_params(category, seed)
    return hb.place(hb.shaped_vertices(p), p.height_m)


@lru_cache(maxsize=4)
def _bodies(split: str, n: int, cats: tuple[str, ...], progress: bool):
    from tqdm import tqdm

    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")
    first = SPLITS[split]
    jobs = [(ci, c, first + i) for ci, c in enumerate(cats) for i in range(n)]
    out = np.empty((len(jobs), hb.template().n_vertices, 3), np.float32)
    for k, (_, c, s) in enumerate(tqdm(jobs, desc=f"humanoid {split} bodies", unit="body",
                                       disable=not progress)):
        out[k] = body_vertices(c, s)
    labels = np.array([ci for ci, _, _ in jobs], np.int64)
    out.flags.writeable = False
    labels.flags.writeable = False
    return out, labels


def bodies(split: str, n: int, cats: Sequence[str],
           progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(vertices [len(cats) * n, V, 3], labels) of the first n bodies of each category."""
    return _bodies(split, int(n), tuple(cats), bool(progress))


def pca(bodies: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(mean [V*3], basis [k, V*3] orthonormal rows, scale [k] per-component std, fraction of
    the variance kept) of a body set."""
    x = bodies.reshape(len(bodies), -1).astype(np.float64)
    if k > min(x.shape) - 1:
        raise ValueError(f"{k} components need more than {k} training bodies; "
                         f"have {len(x)}")
    mean = x.mean(0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    var = s ** 2 / (len(x) - 1)
    kept = float(var[:k].sum() / var.sum())
    scale = np.sqrt(var[:k])
    return (mean.astype(np.float32), vt[:k].astype(np.float32), scale.astype(np.float32),
            kept)
