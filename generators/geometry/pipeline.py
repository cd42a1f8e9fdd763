"""The prop pipeline every shape model shares: field -> clean, sized LOD meshes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from generators.asset import CancelToken, Mesh
from generators.geometry.cleanup import clean
from generators.geometry.decimate import lod_chain
from generators.geometry.extract import mesh_from_field
from generators.geometry.normals import vertex_normals
from generators.geometry.placement import placement
from generators.geometry.smooth import taubin


def prop_meshes(
    grid: np.ndarray,  # [nx, ny, nz] SDF (negative inside) or occupancy
    origin: np.ndarray,  # [3] world position of grid[0, 0, 0], metres
    spacing: float,  # voxel edge, metres
    options: Mapping[str, Any],  # resolved prop options (max_triangles, lod_count, size_m, pivot)
    *,
    inside_below: bool = True,  # True for SDFs, False for occupancy probabilities
    level: float = 0.0,
    smooth_iterations: int | None = None,  # None: none for SDFs, 6 for occupancy (terracing)
    cancel: CancelToken | None = None,
) -> list[Mesh]:
    """Marching cubes, cleanup, smoothing, size and pivot, LOD chain and normals; finest first."""
    check = cancel.check if cancel else (lambda: None)
    v, f = mesh_from_field(grid, origin, spacing, level=level, inside_below=inside_below)
    check()
    v, f = clean(v, f)
    if smooth_iterations is None:
        smooth_iterations = 0 if inside_below else 6
    v = taubin(v, f, iterations=smooth_iterations)
    check()
    levels = lod_chain(v, f, options["max_triangles"], options["lod_count"])
    # Size and pivot are measured on lod0 (decimation moves the hull slightly) and the same
    # transform applies to every level, so the levels line up when an engine swaps them.
    scale, offset = placement(levels[0][0], options.get("size_m"), options.get("pivot",
                                                                            "bottom_center"))
    meshes = []
    for lod, (lv, lf) in enumerate(levels):
        check()
        lv = lv * scale + offset
        meshes.append(
            Mesh(
                vertices=lv.astype(np.float32),
                faces=lf.astype(np.uint32),
                normals=vertex_normals(lv, lf),
                lod=lod,
            )
        )
    return meshes
