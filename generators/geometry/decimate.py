"""Quadric-error decimation to a triangle budget, and the level-of-detail chain."""

from __future__ import annotations

import fast_simplification
import numpy as np

from generators.geometry.cleanup import drop_degenerate, drop_slivers

MIN_TRIANGLES = 12  # below this a level of detail no longer reads as the object


def decimate(
    vertices: np.ndarray, faces: np.ndarray, max_triangles: int
) -> tuple[np.ndarray, np.ndarray]:
    """Reduce to at most `max_triangles` (a mesh already under budget is returned as is)."""
    target = max(int(max_triangles), MIN_TRIANGLES)
    f = len(faces)
    if f <= target:
        return vertices, faces
    for _ in range(4):  # quadric decimation can land slightly over its target; tighten and retry
        v2, f2 = fast_simplification.simplify(
            np.ascontiguousarray(vertices, dtype=np.float32),
            np.ascontiguousarray(faces, dtype=np.int32),
            target_reduction=1.0 - target / f,
        )
        v2, f2 = drop_slivers(*drop_degenerate(v2.astype(np.float64), f2.astype(np.int64)))
        if len(f2) <= max_triangles:
            break
        target = int(target * 0.95)
    return v2, f2


def lod_chain(
    vertices: np.ndarray,
    faces: np.ndarray,
    max_triangles: int,  # budget of lod0
    lod_count: int,  # number of levels, >= 1
    ratio: float = 0.25,  # triangles of each level relative to the previous one
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Levels of detail, finest first; each decimated from the previous one."""
    levels = [decimate(vertices, faces, max_triangles)]
    for _ in range(1, lod_count):
        v, f = levels[-1]
        levels.append(decimate(v, f, max(int(len(f) * ratio), MIN_TRIANGLES)))
    return levels
