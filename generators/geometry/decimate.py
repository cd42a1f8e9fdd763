"""Quadric-error decimation to a triangle budget, and the level-of-detail chain.

Coarse levels must stay the object an engine places first: standing on the floor and in as
many pieces as the level they come from. The decimator is meshoptimizer's `simplify`
(zeux/meshoptimizer, the library glTF tools such as gltfpack use): edge collapses under a
quadric error that never change the mesh's topology, so thin parts (chair legs, lamp stems)
thin out but do not vanish, where fast_simplification's aggressive collapse removed them
(`procedural chair seed 7 max_triangles=2000`: its lod1 lost every leg and floated 0.124 m).
Against Open3D's quadric decimation, used before, it gives the same surface error on the
procedural props (mean two-sided distance within 2 % at 5 k and 1.25 k triangles) in a tenth
to a twentieth of the time (a 46 k-triangle table to 5 k: 12 ms against 404 ms), and it
releases nothing it should not: every level of 60 procedural props came out sound. A coarse
level that still loses its floor contact or splits is redone with more triangles.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import meshoptimizer
import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from generators.geometry.cleanup import drop_degenerate, drop_doubled, drop_slivers

MIN_TRIANGLES = 12  # below this a level of detail no longer reads as the object
# A coarse level's lowest point may move this far from lod0's: 4 mm, or 0.5 % of the longest
# side on larger props (facets of a coarse level cut across a curved foot; a 2 m sphere's
# 250-triangle level sits 9 mm above the pole).
FLOOR_TOLERANCE_M = 0.004
FLOOR_TOLERANCE_REL = 0.005
# lod0 is decimated here while the coarsest level is decimated in the caller's thread (both
# from the whole surface; meshoptimizer releases the GIL): on an idle 2-core machine a
# default 100 k-triangle vase's levels take ~130 ms instead of ~230 ms.
_LOD0 = ThreadPoolExecutor(max_workers=2, thread_name_prefix="vitrine-lod0")


def _simplify(vertices: np.ndarray, faces: np.ndarray,
              target: int) -> tuple[np.ndarray, np.ndarray]:
    """At most `target` triangles (fewer only where collapsing further would change the
    topology), unused vertices dropped; vertices keep their positions (float64 in, out)."""
    v = np.asarray(vertices, dtype=np.float64)
    index = np.ascontiguousarray(np.asarray(faces).reshape(-1), dtype=np.uint32)
    out = np.empty_like(index)
    # target_error 1.0: no error bound (relative to the mesh's extent); the budget decides.
    n = meshoptimizer.simplify(out, index, np.ascontiguousarray(v, dtype=np.float32),
                               target_index_count=3 * int(target), target_error=1.0)
    f = out[:n].reshape(-1, 3).astype(np.int64)
    mask = np.zeros(len(v), dtype=bool)
    mask[f.reshape(-1)] = True
    used = np.flatnonzero(mask)  # the vertices the decimated faces use, ascending
    remap = np.full(len(v), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return drop_doubled(*drop_slivers(*drop_degenerate(v[used], remap[f])))


def decimate(
    vertices: np.ndarray, faces: np.ndarray, max_triangles: int
) -> tuple[np.ndarray, np.ndarray]:
    """Reduce to at most `max_triangles` (a mesh already under budget is returned as is, less
    doubled faces). Where the budget's result is in more pieces than the source or no longer
    reaches its lowest point, other routes to the budget are tried and the first sound one
    is kept (else the budget's own): through an intermediate level of 1.5x-4x the budget,
    then budgets 3 % apart below it. (Thin parts can pinch to one shared vertex: at 2 k
    triangles a vase's wall pinched off a 4-face bubble at every budget from 1.4 k to 2 k,
    and at none when decimated through 3 k first.)"""
    if len(faces) <= max(int(max_triangles), MIN_TRIANGLES):
        return drop_doubled(vertices, faces)
    return _decimate(vertices, faces, max_triangles, float(np.asarray(vertices)[:, 1].min()),
                     floor_tolerance(vertices), _Pieces(vertices, faces))


def _decimate(vertices: np.ndarray, faces: np.ndarray, max_triangles: int, floor: float,
              tol: float, n_pieces: _Pieces) -> tuple[np.ndarray, np.ndarray]:
    """`decimate`, given the source's lowest point, floor tolerance and piece count."""
    target = max(int(max_triangles), MIN_TRIANGLES)
    if len(faces) <= target:
        return drop_doubled(vertices, faces)
    first = _simplify(vertices, faces, target)
    if _sound(*first, floor, tol, n_pieces):
        return first
    routes = [(k, target) for k in (1.5, 2.0, 3.0, 4.0) if k * target < len(faces)]
    routes += [(None, int(target * (1 - 0.03 * k))) for k in range(1, 8)]
    for via, t in routes:
        v, f = vertices, faces
        if via is not None:
            v, f = _simplify(v, f, int(via * t))
            if not _sound(v, f, floor, tol, n_pieces):
                continue
        v, f = _simplify(v, f, t)
        if _sound(v, f, floor, tol, n_pieces):
            return v, f
    return first


def pieces(vertices: np.ndarray, faces: np.ndarray) -> int:
    """Connected pieces of a mesh, faces joined by manifold edges (edges of exactly two
    faces): two parts that touch at one vertex or along an edge of four faces (a pinched
    neck) are two pieces, as trimesh's `split` counts them."""
    if len(faces) == 0:
        return 0
    f = np.asarray(faces)
    a, b = f.reshape(-1), f[:, [1, 2, 0]].reshape(-1)  # edge k is face k // 3's
    key = np.minimum(a, b).astype(np.int64) * len(vertices) + np.maximum(a, b)
    order = np.argsort(key)  # the two faces of an edge only need to be neighbours
    key = key[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    pair = starts[np.diff(np.r_[starts, len(key)]) == 2]  # the two faces at pair, pair + 1
    n = len(f)
    graph = sparse.csr_matrix((np.ones(len(pair), np.int8),
                               (order[pair] // 3, order[pair + 1] // 3)), shape=(n, n))
    return int(csgraph.connected_components(graph, directed=False)[0])


class _Pieces:
    """A source's piece count, counted only when a level in more than one piece asks (a level
    in one piece is never in more pieces than its source): on a 100 k-triangle surface the
    count takes 25 ms, and most props' levels are one piece."""

    __slots__ = ("_faces", "_n", "_vertices")

    def __init__(self, vertices: np.ndarray, faces: np.ndarray):
        self._vertices, self._faces, self._n = vertices, faces, None

    def at_least(self, n: int) -> bool:
        if n <= 1:
            return True
        if self._n is None:
            self._n = pieces(self._vertices, self._faces)
        return self._n >= n


def floor_tolerance(vertices: np.ndarray) -> float:
    """How far a coarse level's lowest point may be from lod0's (see FLOOR_TOLERANCE_M)."""
    extent = float(np.ptp(np.asarray(vertices), axis=0).max()) if len(vertices) else 0.0
    return max(FLOOR_TOLERANCE_M, FLOOR_TOLERANCE_REL * extent)


def _sound(v: np.ndarray, f: np.ndarray, floor: float, tol: float, n_pieces: _Pieces) -> bool:
    return (len(f) > 0 and abs(float(v[:, 1].min()) - floor) <= tol
            and n_pieces.at_least(pieces(v, f)))


def _first_sound(vertices: np.ndarray, faces: np.ndarray, target: int, limit: int, floor: float,
                 tol: float, n_pieces: _Pieces) -> tuple[np.ndarray, np.ndarray] | None:
    """The fewest of target, 1.5x, 2.25x, ... triangles (under `limit`) that is sound."""
    t = max(int(target), MIN_TRIANGLES)
    while t < limit:
        v, f = _simplify(vertices, faces, t)
        if _sound(v, f, floor, tol, n_pieces):
            return v, f
        t = int(t * 1.5) + 1
    return None


def coarser(vertices: np.ndarray, faces: np.ndarray, target: int,
            floor: float) -> tuple[np.ndarray, np.ndarray]:
    """A coarser level of (vertices, faces), about `target` triangles: the fewest of target,
    1.5x, 2.25x, ... whose lowest point is still at `floor` (within `floor_tolerance`, above or
    below) and that is in no more pieces than its source; the source itself if none is."""
    found = _first_sound(vertices, faces, target, len(faces), floor,
                         floor_tolerance(vertices), _Pieces(vertices, faces))
    return (vertices, faces) if found is None else found


def level_budgets(triangles: int, max_triangles: int, lod_count: int,
                  ratio: float = 0.25) -> list[int]:
    """Triangle budgets of the levels, finest first: lod0 gets `max_triangles` (or the
    surface's own count, when smaller); each coarser level `ratio` of the one before."""
    budgets = [max(min(int(triangles), int(max_triangles)), MIN_TRIANGLES)]
    for _ in range(1, lod_count):
        budgets.append(max(int(budgets[-1] * ratio), MIN_TRIANGLES))
    return budgets


def lod_levels(
    vertices: np.ndarray,
    faces: np.ndarray,
    max_triangles: int,  # budget of lod0
    lod_count: int,  # number of levels, >= 1
    ratio: float = 0.25,  # triangles of each level relative to the previous one
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(lod, vertices, faces) of every level, COARSEST FIRST, each made when asked for, so
    that an engine can be sent the coarsest level before the finer ones exist: the coarsest
    is decimated from the surface itself, lod0 next, and the levels between from lod0 (one
    decimation of the whole surface fewer than a level each). With more than one level, lod0
    is decimated in another thread (`_LOD0`) while the coarsest is, and is ready about when
    the coarsest has been sent; it is a pure function of the surface, so the bytes do not
    depend on the threads. (A consumer that stops early leaves that decimation to finish.)

    lod0 is `decimate` to the budget; a coarser level is the fewest of its budget, 1.5x,
    2.25x, ... (under the next finer level's budget) that reaches the surface's lowest point
    and is in no more pieces than it; if none is, it is the next finer level itself."""
    budgets = level_budgets(len(faces), max_triangles, lod_count, ratio)
    floor = float(np.asarray(vertices)[:, 1].min()) if len(faces) else 0.0
    tol, n_pieces = floor_tolerance(vertices), _Pieces(vertices, faces)
    made: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    lod0 = None
    if lod_count > 1:
        lod0 = _LOD0.submit(_decimate, vertices, faces, max_triangles, floor, tol, n_pieces)

    def level(lod: int) -> tuple[np.ndarray, np.ndarray]:
        if lod not in made:
            if lod == 0:
                made[0] = (lod0.result() if lod0 is not None else
                           _decimate(vertices, faces, max_triangles, floor, tol, n_pieces))
            else:
                source = (vertices, faces) if lod == lod_count - 1 else level(0)
                found = _first_sound(*source, budgets[lod], budgets[lod - 1], floor, tol,
                                     n_pieces)
                made[lod] = found if found is not None else level(lod - 1)
        return made[lod]

    for lod in range(lod_count - 1, -1, -1):
        yield (lod, *level(lod))

