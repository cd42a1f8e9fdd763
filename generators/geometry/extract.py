"""Surfaces from sampled fields: marching cubes on a signed-distance or occupancy grid."""

from __future__ import annotations

import numpy as np
from skimage import measure

LEVEL_EPS = 1e-6  # field units; our fields are SDFs in metres or cube sides, and occupancies


def mesh_from_field(
    grid: np.ndarray,  # [nx, ny, nz] field sampled at voxel corners, axis order x, y, z
    origin: np.ndarray,  # [3] world position of grid[0, 0, 0]
    spacing: float,  # voxel edge length in world units
    level: float = 0.0,  # iso-value of the surface
    inside_below: bool = True,  # True for SDFs (negative inside); False for occupancy (1 inside)
) -> tuple[np.ndarray, np.ndarray]:
    """Extract the iso-surface; faces wind counter-clockwise seen from outside.

    Returns (vertices [V, 3] float64 in world units, faces [F, 3] int64). Raises ValueError
    when the level is not crossed (an empty or full grid has no surface).
    """
    grid = np.asarray(grid, dtype=np.float32)
    if grid.ndim != 3 or min(grid.shape) < 2:
        raise ValueError(f"need a 3-D grid of at least 2 cells per axis, got {grid.shape}")
    lo, hi = float(grid.min()), float(grid.max())
    if not lo < level < hi:
        raise ValueError(f"the field never crosses level {level} (range {lo:.3g}..{hi:.3g})")
    # A node within a hair of the level puts marching cubes' vertices on the node itself, one
    # per crossing edge; welded, they pinch the surface into non-manifold edges (one 256^3
    # implicit-gan column: a node at 3e-9 of the level). Such nodes move just off the level by
    # LEVEL_EPS, in field units: a fixed step, so that two grids holding the same values near
    # the surface (coarse-to-fine and dense) give the same mesh.
    eps = np.float32(LEVEL_EPS)
    near = np.abs(grid - level) < eps
    if near.any():
        grid = np.where(near, np.float32(level) + eps, grid)
    # skimage winds faces by the gradient direction it is told; measured in
    # tests/test_geometry.py: "descent" gives outward (counter-clockwise) faces for an SDF.
    verts, faces, _, _ = measure.marching_cubes(
        grid,
        level=level,
        spacing=(spacing, spacing, spacing),
        gradient_direction="descent" if inside_below else "ascent",
        allow_degenerate=False,
    )
    return verts.astype(np.float64) + np.asarray(origin, dtype=np.float64), faces.astype(np.int64)
