"""Coarse-to-fine sampling of an expensive implicit field (IM-NET / OccNet style decoders).

`dense_field_coarse_to_fine` returns the same dense grid that `prop_meshes` / `mesh_from_field`
take, while calling the field only near its surface.

Conventions (those of `generators.geometry.extract`):

- Grids are sampled at voxel corners ("nodes"), axis order x, y, z; `origin` is the world
  position of `grid[0, 0, 0]` and every axis shares one `spacing`.
- `fn` maps float32 points [N, 3] (world units) to N values (any array-like). With
  `inside_below=True` the field is SDF-like, inside where it is below `level` (SDF: level 0,
  negative inside); with `inside_below=False` it is occupancy-like, inside above `level`
  (occupancy: level 0.5).
- The final spacing is `max(hi - lo) / resolution`: the longest side of [lo, hi] spans exactly
  `resolution` cells. The node box is centred on [lo, hi] and may reach slightly beyond it (see
  levels below), then one "outside" node (`pad`) is added all round so the surface is closed
  even where the shape touches the box.

Levels. The coarse level is the fine grid subsampled by 2**K, K = floor(log2(resolution /
coarse)), so it has between `coarse` and 2 * `coarse` cells along the longest side (never fewer
than asked for) and every level's nodes are exactly every other node of the next finer level:
values computed at a coarse node are reused, never recomputed. When resolution < 2 * coarse there
is a single level, evaluated densely. The per-axis cell counts are rounded up to multiples of
2**K, which is why the node box may reach a few fine cells beyond [lo, hi].

Refinement, from level k to the next finer one:

1. a "sign change" is a level-k grid edge whose end nodes are on opposite sides of `level`
   (sides are `value > level` and `value <= level`, the test skimage's marching cubes uses);
   a cell with a sign-change edge is a "crossing" cell;
2. every fine node within `band` level-k cells (Chebyshev distance, rounded up to whole fine
   cells) of a sign-change edge is evaluated with `fn`. That covers every node of every
   crossing cell once band >= 1. All other fine nodes get the trilinear upsampling of level k,
   clamped at least `eps` away from `level` on their side: they lie in non-crossing cells,
   whose 8 corners share one side, so the sign is right and no spurious surface appears;
3. repair: while some fine crossing cell has a corner that was interpolated (the true surface
   leaves the band: a bump, or a thin part first seen at this level), the corners of those
   cells and their neighbours are evaluated too. This follows a surface out of the band until
   every crossing cell has 8 evaluated corners, so on the finest level every cell marching
   cubes turns into triangles holds exact `fn` values: the mesh is the one a dense evaluation
   gives, wherever the surface was found at all.

Known limitation: a part that changes the sign of no coarse node and is not connected to a part
that does (a floating piece, or a bump, thinner than about one coarse cell and away from any
other surface) is never seen and is missing from the mesh. Thin parts attached to a surface that
was found (a rod between two spheres) are followed by the repair step and kept.

Cost: memory is that of the dense float32 grid plus a few byte masks of the same size (512**3
nodes is about 0.5 GiB per array). `cancel_check()` (for example `CancelToken.check`) is called
before every level and every repair round and is expected to raise to stop the work.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import trimesh
from scipy import ndimage

log = logging.getLogger(__name__)

Field = Callable[[np.ndarray], np.ndarray]  # float32 [N, 3] -> [N]

MIN_RESOLUTION = 8
MAX_RESOLUTION = 512
_CORNERS = [(i, j, k) for i in (0, 1) for j in (0, 1) for k in (0, 1)]


def dense_field_coarse_to_fine(
    fn: Field,
    lo: np.ndarray,  # [3] world-space box to sample
    hi: np.ndarray,  # [3]
    resolution: int,  # cells along the longest side of [lo, hi], 8..512
    *,
    level: float = 0.0,
    inside_below: bool = True,  # True: SDF-like (inside < level); False: occupancy-like
    coarse: int = 32,  # at least this many cells along the longest side on the first level
    band: float = 1.5,  # refine this many coarser-level cells around crossing cells
    batch: int = 65536,  # points per fn call
    cancel_check: Callable[[], None] | None = None,  # raises to stop; called between levels
    pad: int = 1,  # outside nodes added on every side
) -> tuple[np.ndarray, np.ndarray, float, dict[str, Any]]:
    """Sample `fn` on a dense grid, calling it only near the surface (see the module docstring).

    Returns (grid float32 [nx, ny, nz], origin float64 [3] of grid[0, 0, 0], spacing, stats).
    stats: points_evaluated, dense_points (nodes a dense evaluation of the same unpadded box
    would call fn on), fraction, seconds, fn_calls, levels (one dict per level: cells along the
    longest side, points evaluated, repair rounds).
    """
    t0 = time.perf_counter()
    lo, hi, resolution = _checked_args(lo, hi, resolution, coarse, band, batch, pad)
    check = cancel_check or (lambda: None)
    level = float(level)
    spacing, depth, cells, start = _node_box(lo, hi, resolution, coarse)
    counter = _Counter(fn, start, spacing, batch)

    # Level `depth` (the coarsest): dense.
    step = 2**depth
    shape = tuple(c // step + 1 for c in cells)
    values = counter.evaluate(np.indices(shape).reshape(3, -1).T * step).reshape(shape)
    exact = np.ones(shape, dtype=bool)
    level_stats = [{"cells": max(cells) // step, "evaluated": values.size, "repair_rounds": 0}]
    spread = float(np.abs(values - level).max())
    eps = max(1e-4 * spread, 1e-6 * max(1.0, abs(level)))
    log.debug("coarse level %s: %d points", shape, values.size)

    for k in range(depth - 1, -1, -1):
        check()
        before = counter.points
        values, exact, rounds = _refine(counter, values, exact, level, eps, band, 2**k, check)
        level_stats.append({"cells": max(cells) // 2**k, "evaluated": counter.points - before,
                            "repair_rounds": rounds})
        log.debug("level %s: %d points, %d repair rounds", values.shape,
                  counter.points - before, rounds)

    grid = _pad_outside(values, pad, level, eps, inside_below)
    origin = start - pad * spacing
    dense_points = int(np.prod([c + 1 for c in cells]))
    seconds = time.perf_counter() - t0
    stats = {
        "points_evaluated": counter.points,
        "dense_points": dense_points,
        "fraction": counter.points / dense_points,
        "seconds": seconds,
        "fn_calls": counter.calls,
        "levels": level_stats,
    }
    log.info(
        "coarse-to-fine field at %d cells: %d of %d points (%.1f %%) in %.2f s",
        resolution, counter.points, dense_points, 100 * stats["fraction"], seconds,
    )
    if not ((values < level).any() and (values > level).any()):
        log.warning("the field never crosses level %g where sampled: no surface", level)
    return grid, origin, spacing, stats


def _checked_args(
    lo, hi, resolution, coarse, band, batch, pad
) -> tuple[np.ndarray, np.ndarray, int]:
    """(lo, hi) as float64 [3] and resolution as an int; ValueError naming any bad argument."""
    lo = np.asarray(lo, dtype=np.float64).reshape(-1)
    hi = np.asarray(hi, dtype=np.float64).reshape(-1)
    if lo.shape != (3,) or hi.shape != (3,):
        raise ValueError(f"lo and hi must have 3 components, got {lo.shape} and {hi.shape}")
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
        raise ValueError(f"lo and hi must be finite, got {lo} and {hi}")
    if not (lo < hi).all():
        raise ValueError(f"need lo < hi on every axis, got lo={lo} hi={hi}")
    if isinstance(resolution, bool) or int(resolution) != resolution:
        raise ValueError(f"resolution must be an integer, got {resolution!r}")
    resolution = int(resolution)
    if not MIN_RESOLUTION <= resolution <= MAX_RESOLUTION:
        raise ValueError(
            f"resolution must be in {MIN_RESOLUTION}..{MAX_RESOLUTION}, got {resolution}"
        )
    if int(coarse) != coarse or coarse < 2:
        raise ValueError(f"coarse must be an integer >= 2, got {coarse!r}")
    if not (math.isfinite(band) and band >= 0):
        raise ValueError(f"band must be >= 0, got {band!r}")
    if int(batch) != batch or batch < 1:
        raise ValueError(f"batch must be a positive integer, got {batch!r}")
    if int(pad) != pad or pad < 1:
        raise ValueError(f"pad must be an integer >= 1, got {pad!r}")
    return lo, hi, resolution


def _node_box(
    lo: np.ndarray, hi: np.ndarray, resolution: int, coarse: int
) -> tuple[float, int, list[int], np.ndarray]:
    """The fine grid: (spacing, depth = levels above the finest, fine cells per axis, world
    position of fine node 0). Cells are multiples of 2**depth so every level's nodes nest."""
    spacing = float((hi - lo).max()) / resolution
    depth = max(0, math.floor(math.log2(resolution / coarse)))
    step = 2**depth
    cells = [
        max(step, _round_up(math.ceil((b - a) / spacing - 1e-9), step)) for a, b in zip(lo, hi)
    ]
    start = (lo + hi) / 2 - np.asarray(cells, dtype=np.float64) * spacing / 2
    return spacing, depth, cells, start


def _refine(
    counter: _Counter,
    values: np.ndarray,  # [nx, ny, nz] float32 nodes of the coarser level
    exact: np.ndarray,  # [nx, ny, nz] bool: nodes whose value fn computed
    level: float,
    eps: float,
    band: float,
    scale: int,  # fine-grid nodes per node of the new level
    check: Callable[[], None],
) -> tuple[np.ndarray, np.ndarray, int]:
    """One level finer (2n - 1 nodes per axis): upsample, evaluate the band around the coarse
    sign changes, repair (steps 1-3 of the module docstring). Returns (values, exact, repair
    rounds)."""
    near = _sign_change_edges(values > level)  # fine nodes on coarse sign-change edges
    values = _upsample(values)
    fine_exact = np.zeros(values.shape, dtype=bool)
    fine_exact[::2, ::2, ::2] = exact
    exact = fine_exact
    reach = math.ceil(2 * band - 1e-9)  # band in fine cells
    if reach > 0:
        near = ndimage.maximum_filter(near, size=2 * reach + 1, mode="constant", cval=False)
    _clamp_interpolated(values, ~exact, level, eps)
    todo = near & ~exact
    _evaluate_into(counter, values, exact, todo, scale)
    rounds = _repair(counter, values, exact, level, scale, check)
    return values, exact, rounds


def _pad_outside(values: np.ndarray, pad: int, level: float, eps: float,
                 inside_below: bool) -> np.ndarray:
    """`values` with `pad` nodes all round, at least eps outside level, as float32."""
    outside = float(values.max()) if inside_below else float(values.min())
    outside = max(outside, level + eps) if inside_below else min(outside, level - eps)
    return np.pad(values, pad, mode="constant", constant_values=outside).astype(np.float32)


def mesh_stats(vertices: np.ndarray, faces: np.ndarray) -> dict[str, Any]:
    """Watertightness, volume, area and piece count of a triangle mesh (welded by trimesh)."""
    mesh = trimesh.Trimesh(np.asarray(vertices, dtype=np.float64), np.asarray(faces),
                           process=True)
    return {
        "vertices": len(mesh.vertices),
        "faces": len(mesh.faces),
        "watertight": bool(mesh.is_watertight),
        "winding_consistent": bool(mesh.is_winding_consistent),
        "volume": float(mesh.volume),
        "area": float(mesh.area),
        "components": len(mesh.split(only_watertight=False)),
        "euler_number": int(mesh.euler_number),
    }


class _Counter:
    """Calls fn in batches on fine-grid node indices and counts what it costs."""

    def __init__(self, fn: Field, start: np.ndarray, spacing: float, batch: int) -> None:
        self.fn, self.start, self.spacing, self.batch = fn, start, spacing, batch
        self.points = 0
        self.calls = 0

    def evaluate(self, fine_index: np.ndarray) -> np.ndarray:  # [N, 3] int -> [N] float32
        out = np.empty(len(fine_index), dtype=np.float32)
        for i in range(0, len(fine_index), self.batch):
            idx = fine_index[i:i + self.batch]
            pts = (self.start + idx * self.spacing).astype(np.float32)
            val = np.asarray(self.fn(pts), dtype=np.float32)
            if val.size != len(pts):
                raise ValueError(f"fn returned {val.shape} values for {len(pts)} points")
            val = val.reshape(-1)
            if not np.isfinite(val).all():
                raise ValueError("fn returned non-finite values")
            out[i:i + len(idx)] = val
            self.calls += 1
            self.points += len(idx)
        return out


def _round_up(n: int, m: int) -> int:
    return -(-n // m) * m


def _crossing_cells(side: np.ndarray) -> np.ndarray:
    """Cells [n-1 per axis] whose 8 corners (bool side per node) are not all equal."""
    a = side[:-1, :-1, :-1]
    any_ = a.copy()
    all_ = a.copy()
    nx, ny, nz = a.shape
    for i, j, k in _CORNERS[1:]:
        s = side[i:i + nx, j:j + ny, k:k + nz]
        any_ |= s
        all_ &= s
    return any_ & ~all_


def _sign_change_edges(side: np.ndarray) -> np.ndarray:
    """Fine nodes (2n - 1 per axis) on the coarse edges whose two ends are on opposite sides."""
    fine = np.zeros(tuple(2 * n - 1 for n in side.shape), dtype=bool)
    for axis in range(3):
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[axis] = slice(0, -1)
        hi[axis] = slice(1, None)
        change = side[tuple(lo)] != side[tuple(hi)]
        for offset in (0, 1, 2):  # both ends and the midpoint, in fine nodes
            target = [slice(0, None, 2)] * 3
            target[axis] = slice(offset, offset + 2 * change.shape[axis], 2)
            fine[tuple(target)] |= change
    return fine


def _cell_corners_into(cells: np.ndarray, nodes: np.ndarray) -> None:
    """OR every corner node of the marked cells into `nodes` (one more node per axis)."""
    nx, ny, nz = cells.shape
    for i, j, k in _CORNERS:
        nodes[i:i + nx, j:j + ny, k:k + nz] |= cells


def _upsample(v: np.ndarray) -> np.ndarray:
    """Trilinear 2x upsampling of a node grid: n nodes -> 2n - 1 nodes per axis."""
    for axis in range(3):
        n = v.shape[axis]
        shape = list(v.shape)
        shape[axis] = 2 * n - 1
        out = np.empty(shape, dtype=np.float32)
        even = [slice(None)] * 3
        odd = [slice(None)] * 3
        even[axis] = slice(0, None, 2)
        odd[axis] = slice(1, None, 2)
        out[tuple(even)] = v
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[axis] = slice(0, n - 1)
        hi[axis] = slice(1, n)
        out[tuple(odd)] = 0.5 * (v[tuple(lo)] + v[tuple(hi)])
        v = out
    return v


def _clamp_interpolated(values: np.ndarray, mask: np.ndarray, level: float, eps: float) -> None:
    """Push interpolated values at least eps away from level, keeping their side."""
    v = values[mask]
    above = v > level
    v = np.where(above, np.maximum(v, level + eps), np.minimum(v, level - eps))
    values[mask] = v


def _evaluate_into(
    counter: _Counter, values: np.ndarray, exact: np.ndarray, todo: np.ndarray, scale: int
) -> int:
    idx = np.argwhere(todo)
    if len(idx):
        values[tuple(idx.T)] = counter.evaluate(idx * scale)
        exact[tuple(idx.T)] = True
    return len(idx)


def _repair(
    counter: _Counter,
    values: np.ndarray,
    exact: np.ndarray,
    level: float,
    scale: int,
    check: Callable[[], None],
) -> int:
    """Evaluate around crossing cells that still have an interpolated corner, until none has.

    Each round only re-examines the bounding box of what the previous round evaluated (plus a
    margin): elsewhere nothing changed. Terminates because every round evaluates at least one
    new node. Returns the number of rounds that evaluated something."""
    box = tuple(slice(0, n) for n in values.shape)
    rounds = 0
    while True:
        sub_v, sub_e = values[box], exact[box]
        crossing = _crossing_cells(sub_v > level)
        bad = crossing & ~_all_corners(sub_e)
        if not bad.any():
            return rounds
        check()
        nodes = np.zeros(sub_v.shape, dtype=bool)
        _cell_corners_into(bad, nodes)
        nodes = ndimage.binary_dilation(nodes, structure=np.ones((3, 3, 3), dtype=bool))
        nodes &= ~sub_e
        idx = np.argwhere(nodes)
        if not len(idx):  # cannot happen: a bad cell has an inexact corner
            return rounds
        offset = np.array([s.start for s in box])
        idx += offset
        values[tuple(idx.T)] = counter.evaluate(idx * scale)
        exact[tuple(idx.T)] = True
        rounds += 1
        lo_i = np.maximum(idx.min(0) - 2, 0)
        hi_i = np.minimum(idx.max(0) + 3, values.shape)
        box = tuple(slice(int(a), int(b)) for a, b in zip(lo_i, hi_i))


def _all_corners(mask: np.ndarray) -> np.ndarray:
    """Cells whose 8 corner nodes are all True."""
    a = mask[:-1, :-1, :-1]
    out = a.copy()
    nx, ny, nz = a.shape
    for i, j, k in _CORNERS[1:]:
        out &= mask[i:i + nx, j:j + ny, k:k + nz]
    return out
