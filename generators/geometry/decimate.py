"""Quadric-error decimation to a triangle budget, and the level-of-detail chain.

Coarse levels must stay the object an engine places first: standing on the floor and in as
many pieces as the level they come from. Open3D's quadric decimation keeps thin parts (chair
legs, lamp stems) at budgets where fast_simplification's aggressive collapse removed them
(`procedural chair seed 7 max_triangles=2000`: its lod1 lost every leg and floated 0.124 m);
a coarse level that still loses its floor contact or splits is redone with more triangles.
"""

from __future__ import annotations

import numpy as np
import open3d as o3d
from scipy import sparse
from scipy.sparse import csgraph

from generators.geometry.cleanup import drop_degenerate, drop_doubled, drop_slivers

MIN_TRIANGLES = 12  # below this a level of detail no longer reads as the object
# A coarse level's lowest point may move this far from lod0's: 4 mm, or 0.5 % of the longest
# side on larger props (facets of a coarse level cut across a curved foot; a 2 m sphere's
# 250-triangle level sits 9 mm above the pole).
FLOOR_TOLERANCE_M = 0.004
FLOOR_TOLERANCE_REL = 0.005


def _simplify(vertices: np.ndarray, faces: np.ndarray,
              target: int) -> tuple[np.ndarray, np.ndarray]:
    mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(np.asarray(vertices, float)),
                                     o3d.utility.Vector3iVector(np.asarray(faces, np.int32)))
    out = mesh.simplify_quadric_decimation(int(target))
    v = np.asarray(out.vertices, dtype=np.float64)
    f = np.asarray(out.triangles, dtype=np.int64)
    return drop_doubled(*drop_slivers(*drop_degenerate(v, f)))


def decimate(
    vertices: np.ndarray, faces: np.ndarray, max_triangles: int
) -> tuple[np.ndarray, np.ndarray]:
    """Reduce to at most `max_triangles` (a mesh already under budget is returned as is, less
    doubled faces)."""
    target = max(int(max_triangles), MIN_TRIANGLES)
    f = len(faces)
    if f <= target:
        return drop_doubled(vertices, faces)
    for _ in range(4):  # quadric decimation can land slightly over its target; tighten and retry
        v2, f2 = _simplify(vertices, faces, target)
        if len(f2) <= max_triangles:
            break
        target = int(target * 0.95)
    return v2, f2


def pieces(vertices: np.ndarray, faces: np.ndarray) -> int:
    """Connected pieces of a mesh (faces joined by shared vertices)."""
    if len(faces) == 0:
        return 0
    f = np.asarray(faces, dtype=np.int64)
    n = len(vertices)
    rows = np.repeat(f[:, 0], 2)
    cols = f[:, 1:].reshape(-1)
    graph = sparse.coo_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(n, n))
    _, label = csgraph.connected_components(graph, directed=False)
    return len(np.unique(label[f[:, 0]]))


def floor_tolerance(vertices: np.ndarray) -> float:
    """How far a coarse level's lowest point may be from lod0's (see FLOOR_TOLERANCE_M)."""
    extent = float(np.ptp(np.asarray(vertices), axis=0).max()) if len(vertices) else 0.0
    return max(FLOOR_TOLERANCE_M, FLOOR_TOLERANCE_REL * extent)


def _sound(v: np.ndarray, f: np.ndarray, floor: float, tol: float, n_pieces: int) -> bool:
    return (len(f) > 0 and abs(float(v[:, 1].min()) - floor) <= tol
            and pieces(v, f) <= n_pieces)


def coarser(vertices: np.ndarray, faces: np.ndarray, target: int,
            floor: float) -> tuple[np.ndarray, np.ndarray]:
    """A coarser level of (vertices, faces), about `target` triangles: the fewest of target,
    1.5x, 2.25x, ... whose lowest point is still at `floor` (within `floor_tolerance`, above or
    below) and that is in no more pieces than its source; the source itself if none is."""
    n_pieces = pieces(vertices, faces)
    tol = floor_tolerance(vertices)
    t = max(int(target), MIN_TRIANGLES)
    while t < len(faces):
        v, f = _simplify(vertices, faces, t)
        if _sound(v, f, floor, tol, n_pieces):
            return v, f
        t = int(t * 1.5) + 1
    return vertices, faces


def lod_chain(
    vertices: np.ndarray,
    faces: np.ndarray,
    max_triangles: int,  # budget of lod0
    lod_count: int,  # number of levels, >= 1
    ratio: float = 0.25,  # triangles of each level relative to the previous one
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Levels of detail, finest first; each decimated from the previous one. Every coarse level
    reaches lod0's lowest point and has no more pieces than the level before it."""
    levels = [decimate(vertices, faces, max_triangles)]
    floor = float(levels[0][0][:, 1].min()) if len(levels[0][1]) else 0.0
    for _ in range(1, lod_count):
        v, f = levels[-1]
        levels.append(coarser(v, f, max(int(len(f) * ratio), MIN_TRIANGLES), floor))
    return levels
