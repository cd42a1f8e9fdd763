"""Texture coordinates for tileable materials: per-face planar projection, seams split.

A prop wears a *tileable* texture (sampler wrap REPEAT), so what a UV layout must give is a
uniform texel density in world units and few, short seams; charts may overlap in UV space and
need no packing. Each face is projected onto the plane of the projection direction closest
to its normal (`DIRECTIONS`: the 6 axes of a box, or 26 directions adding the box's edges
and corners), and 1 UV unit is `tile_m` metres of surface. Vertices shared by faces of
different charts are split (their normals are copied, so shading stays smooth across a seam).

Why not xatlas: it builds a near-isometric atlas, but on this machine it took 0.9-1.6 s per
default 20k-triangle prop (chair, vase, lamp; `ChartOptions.max_iterations` 0 or 1 alike) when
generating the whole prop takes ~130 ms, and it cut a vase into ~430 charts (as many seams),
each in an arbitrary orientation, so wood grain would point every which way. The projection
here runs in milliseconds, keeps the grain aligned with the world, cuts a surface of revolution
into a handful of charts, and gives every level of detail the very same texture placement
(UVs come from world positions), so LOD swaps do not shift the texture. Its cost is stretch:
a face tilted by theta from its chart's direction shows the texture stretched by 1/cos(theta)
along the tilt: at most sqrt(3) for box charts, 1.13 (27.6 degrees) for 26 directions, and up
to 1.41 on the few border faces that smoothing moves (`SMOOTH_MAX_TILT_DEG`). On default props
the area-weighted mean is 1.01-1.05 and the 99th percentile 1.08-1.13 (`uv_stats`).

UV conventions (glTF): u grows to the right of the surface seen from outside, v grows
*downwards* (texture row 0 at the top), so world up is image up and no chart is mirrored.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import numpy as np

from generators.geometry.arrays import corners, cross, face_normals, row_norm

log = logging.getLogger(__name__)


@functools.cache
def _directions(kind: str) -> np.ndarray:
    """Unit projection directions [D, 3] in a fixed order (one read-only array per kind)."""
    d = _make_directions(kind)
    d.flags.writeable = False
    return d


def _make_directions(kind: str) -> np.ndarray:
    axes = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], float)
    if kind == "box":
        return axes
    if kind == "box26":
        grid = np.stack(np.meshgrid([-1, 0, 1], [-1, 0, 1], [-1, 0, 1], indexing="ij"), -1)
        grid = grid.reshape(-1, 3).astype(float)
        grid = grid[np.abs(grid).sum(1) >= 2]  # edges and corners; the axes come first
        d = np.concatenate([axes, grid])
        return d / np.linalg.norm(d, axis=1, keepdims=True)
    raise ValueError(f"unknown projection {kind!r}; known: box, box26")


@functools.cache
def _projection(kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(directions, right, up) of a projection, made once per process (read-only)."""
    d = _directions(kind)
    right, up = _frames(d)
    right.flags.writeable = up.flags.writeable = False
    return d, right, up


def _frames(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(right, up) unit vectors [D, 3] of a viewer looking at a surface whose normal is d.

    Up is world +Y made orthogonal to d; for d along +-Y (no such up) it is -Z seen from above
    and +Z seen from below, so the top reads like a map with north (-Z) up.
    """
    y = np.array([0.0, 1.0, 0.0])
    up = y - d * (d @ y)[:, None]
    flat = np.linalg.norm(up, axis=1) < 1e-6
    up[flat] = np.where(d[flat, 1:2] > 0, [0.0, 0.0, -1.0], [0.0, 0.0, 1.0])
    up /= np.linalg.norm(up, axis=1, keepdims=True)
    right = np.cross(up, d)
    return right, up


PROJECTIONS = ("box", "box26")


@dataclass
class Unwrapped:
    """A mesh re-indexed for UVs: vertices on chart seams are split."""

    vertices: np.ndarray  # [V', 3] float32
    faces: np.ndarray  # [F, 3] uint32, the same triangles in the same order
    normals: np.ndarray  # [V', 3] float32, copied from the input vertex each one came from
    uvs: np.ndarray  # [V', 2] float32, TEXCOORD_0 (1 unit = tile_m metres)
    vmapping: np.ndarray  # [V'] int64, the input vertex each output vertex came from
    charts: np.ndarray  # [F] int64, index into the projection directions per face


# A face joins a neighbouring chart only if that chart's direction is within this angle of its
# normal: the texture stretches by at most 1/cos(45 deg) = 1.41 there.
SMOOTH_MAX_TILT_DEG = 45.0


def _face_pairs(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (a, b) [E] of faces that share an edge."""
    a = np.concatenate([f[:, 0], f[:, 1], f[:, 2]])
    b = np.concatenate([f[:, 1], f[:, 2], f[:, 0]])
    key = np.minimum(a, b) * (int(f.max()) + 1) + np.maximum(a, b)  # [3F] one id per edge
    n = len(key)
    if int(key.max()) < np.iinfo(np.int64).max // max(n, 1):
        # The stable order, as one plain sort of (edge id, position): 5x quicker than a
        # stable argsort here (numpy's integer sort is vectorised; the stable one is not).
        packed = np.sort(key * n + np.arange(n))
        key, order = packed // n, packed % n
    else:
        order = np.argsort(key, kind="stable")
        key = key[order]
    fid = order % len(f)  # position p in a, b is face p mod F
    same = np.flatnonzero(key[1:] == key[:-1])
    return fid[same], fid[same + 1]


def _smooth_charts(f: np.ndarray, cos: np.ndarray, charts: np.ndarray, passes: int) -> np.ndarray:
    """Majority vote over edge neighbours, so chart borders on curved surfaces are not
    staircases of single faces (on a default vase this cuts the seam length by a third).

    A face moves to another chart when more of its neighbours lie in that chart than in its
    own (its own counts 1.5 extra, so two neighbours must agree) and that chart's direction is
    within SMOOTH_MAX_TILT_DEG of its normal. Only faces on a border are visited.
    """
    if passes <= 0:
        return charts
    a, b = _face_pairs(f)
    n_f, n_d = cos.shape
    allowed = cos >= np.cos(np.radians(SMOOTH_MAX_TILT_DEG))  # [F, D]
    degree = np.bincount(np.concatenate([a, b]), minlength=n_f)
    charts = charts.copy()
    for _ in range(passes):
        border = charts[a] != charts[b]
        fa, fb = a[border], b[border]
        faces = np.concatenate([fa, fb])
        if len(faces) == 0:
            break
        other = np.concatenate([charts[fb], charts[fa]])
        keys, votes = np.unique(faces * n_d + other, return_counts=True)
        kf, kc = keys // n_d, keys % n_d
        own = degree - np.bincount(faces, minlength=n_f) + 1.5  # [F]
        move = allowed[kf, kc] & (votes > own[kf])
        kf, kc, votes = kf[move], kc[move], votes[move]
        order = np.lexsort((kc, -votes, kf))  # per face: most votes, then lowest chart
        kf, kc = kf[order], kc[order]
        first = np.ones(len(kf), bool)
        first[1:] = kf[1:] != kf[:-1]
        if not first.any():
            break
        charts[kf[first]] = kc[first]
    return charts


def planar_uv(
    vertices: np.ndarray,  # [V, 3] metres
    faces: np.ndarray,  # [F, 3]
    normals: np.ndarray,  # [V, 3] unit
    tile_m: float,  # metres of surface per UV unit (one repeat of the texture)
    *,
    projection: str = "box26",  # "box" (6 charts) or "box26" (26: less stretch, more seams)
    grain_vertical: bool = False,  # turn the texture 90 degrees on walls: columns run along +Y
    smooth_passes: int = 3,  # majority-vote passes that straighten chart borders; 0 = none
) -> Unwrapped:
    """Project each face onto its closest direction's plane; split the vertices on seams.

    With grain_vertical, a texture whose features run along its columns (wood grain, brushed
    metal) runs up and down the walls of a prop (legs, posts), and along X on its tops.
    """
    if not tile_m > 0:
        raise ValueError(f"tile_m must be > 0, got {tile_m}")
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    if len(f) == 0:
        raise ValueError("cannot unwrap an empty mesh")
    if projection not in PROJECTIONS:
        raise ValueError(f"unknown projection {projection!r}; known: {', '.join(PROJECTIONS)}")
    d, right, up = _projection(projection)  # [D, 3] each
    fn = face_normals(v, f)  # [F, 3] area-weighted
    # A degenerate face has no direction of its own: its corners' normals decide.
    zero = row_norm(fn) <= 1e-20
    if zero.any():
        fn[zero] = np.asarray(normals, np.float64)[f[zero]].sum(axis=1)
    fn /= np.maximum(row_norm(fn), 1e-30)[:, None]
    # [F, D]; spelled out rather than fn @ d.T: a BLAS product with an inner size of 3 took
    # 21 ms on a 20k-triangle lod0 on this 2-core machine under load (its threads wait for
    # cores), the three products 1.2 ms.
    cos = fn[:, 0:1] * d[:, 0] + fn[:, 1:2] * d[:, 1] + fn[:, 2:3] * d[:, 2]
    charts = _smooth_charts(f, cos, np.argmax(cos, axis=1), smooth_passes)  # [F]

    n_dir = len(d)
    keys = (f * n_dir + charts[:, None]).ravel()  # [3F] one key per (vertex, chart) corner
    # np.unique(keys, return_inverse=True), through a dense table of every (vertex, chart):
    # the same ascending ids, without sorting 3F keys.
    seen = np.zeros(len(v) * n_dir, dtype=bool)
    seen[keys] = True
    uniq = np.flatnonzero(seen)
    rank = np.empty(len(seen), dtype=np.int64)
    rank[uniq] = np.arange(len(uniq))
    inverse = rank[keys]
    vmap = uniq // n_dir  # [V']
    vchart = uniq % n_dir
    p = np.take(v, vmap, axis=0)  # [V', 3]
    r_coord = np.einsum("ij,ij->i", p, right[vchart])
    u_coord = np.einsum("ij,ij->i", p, up[vchart])
    if grain_vertical:
        walls = np.abs(d[vchart, 1]) < 0.9  # charts whose up is world +Y (not tops/bottoms)
        uv = np.where(walls[:, None], np.stack([u_coord, r_coord], 1),
                      np.stack([r_coord, -u_coord], 1))
    else:
        uv = np.stack([r_coord, -u_coord], 1)
    return Unwrapped(
        vertices=np.take(np.asarray(vertices, np.float32), vmap, axis=0),
        faces=inverse.reshape(-1, 3).astype(np.uint32),
        normals=np.take(np.asarray(normals, np.float32), vmap, axis=0),
        uvs=(uv / tile_m).astype(np.float32),
        vmapping=vmap,
        charts=charts,
    )


def uv_stats(vertices: np.ndarray, faces: np.ndarray, uvs: np.ndarray, tile_m: float) -> dict:
    """Texel-density figures of a UV layout (for benchmarks and tests).

    Per face, the singular values of the map from surface metres to texture tiles, times
    tile_m (1 = the intended density): `stretch` is max/min singular value (1 = no
    distortion), `scale` the geometric mean (area density). Area-weighted means and the 99th
    percentile, plus the fraction of faces mirrored in UV space.
    """
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces, np.int64)
    t = np.asarray(uvs, np.float64)
    e1, e2 = v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]
    t1, t2 = t[f[:, 1]] - t[f[:, 0]], t[f[:, 2]] - t[f[:, 0]]
    n = np.cross(e1, e2)
    area = 0.5 * np.linalg.norm(n, axis=1)
    ok = area > 1e-14
    e1, e2, t1, t2, n, area = e1[ok], e2[ok], t1[ok], t2[ok], n[ok], area[ok]
    # Local 2-D frame on each face: x along e1, y in the face plane.
    x = e1 / np.linalg.norm(e1, axis=1, keepdims=True)
    y = np.cross(n / np.linalg.norm(n, axis=1, keepdims=True), x)
    P = np.stack([np.stack([(e1 * x).sum(1), (e1 * y).sum(1)], 1),
                  np.stack([(e2 * x).sum(1), (e2 * y).sum(1)], 1)], 1)  # [F, 2(edge), 2]
    T = np.stack([t1, t2], 1)  # [F, 2(edge), 2]
    J = np.linalg.solve(P, T) * tile_m  # [F, 2, 2]: surface metres -> tiles (row vectors)
    sv = np.linalg.svd(J, compute_uv=False)  # [F, 2]
    stretch = sv[:, 0] / np.maximum(sv[:, 1], 1e-12)
    scale = np.sqrt(sv[:, 0] * sv[:, 1])
    w = area / area.sum()
    order = np.argsort(stretch)
    cum = np.cumsum(w[order])
    return {
        "stretch_mean": float((stretch * w).sum()),
        "stretch_p99": float(stretch[order][min(len(cum) - 1, np.searchsorted(cum, 0.99))]),
        "scale_mean": float((scale * w).sum()),
        "mirrored": float(w[np.linalg.det(J) > 0].sum()),  # v grows downwards: det < 0 is unmirrored
    }


def tangents(
    vertices: np.ndarray,  # [V, 3]
    faces: np.ndarray,  # [F, 3]
    normals: np.ndarray,  # [V, 3] unit
    uvs: np.ndarray,  # [V, 2] glTF UVs (v grows downwards)
) -> np.ndarray:
    """glTF TANGENT [V, 4] float32: xyz unit and orthogonal to the normal, w = +-1.

    Per face, dP/du and dP/dv from the UV gradients, area-weighted onto the corners, then
    Gram-Schmidt against the vertex normal. glTF's bitangent is cross(normal, tangent) * w and
    points to image *up* (decreasing v, the +Y of an OpenGL normal map), so w is the sign of
    that cross product against -dP/dv. A vertex with no usable UV gradient gets any unit
    tangent orthogonal to its normal (w = 1).
    """
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces, np.int64)
    n = np.asarray(normals, np.float64)
    t = np.asarray(uvs, np.float64)
    p0, p1, p2 = corners(v, f)
    e1, e2 = p1 - p0, p2 - p0  # [F, 3]
    t0, t1, t2 = corners(t, f)
    d1, d2 = t1 - t0, t2 - t0  # [F, 2]
    det = d1[:, 0] * d2[:, 1] - d2[:, 0] * d1[:, 1]
    ok = np.abs(det) > 1e-20
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)[:, None]
    dpdu = (e1 * d2[:, 1:2] - e2 * d1[:, 1:2]) * inv  # [F, 3]
    dpdv = (e2 * d1[:, 0:1] - e1 * d2[:, 0:1]) * inv
    area = 0.5 * row_norm(cross(e1, e2))[:, None]

    def unit(a: np.ndarray) -> np.ndarray:
        return a / np.maximum(row_norm(a), 1e-30)[:, None]

    corner = f.ravel()  # each face's weight goes to its three corners

    def gather(per_face: np.ndarray) -> np.ndarray:  # [F, 3] -> [V, 3]
        return np.stack([np.bincount(corner, np.repeat(per_face[:, c], 3), minlength=len(v))
                         for c in range(3)], 1)

    su, sv = gather(unit(dpdu) * area), gather(unit(dpdv) * area)
    tan = su - n * (n * su).sum(axis=1, keepdims=True)
    length = row_norm(tan)
    bad = length < 1e-12
    if bad.any():  # any direction orthogonal to the normal
        helper = np.where(np.abs(n[bad, 0:1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
        tan[bad] = np.cross(n[bad], helper)
        length = row_norm(tan)
    tan /= length[:, None]
    w = np.where((cross(n, tan) * -sv).sum(axis=1) < 0.0, -1.0, 1.0)
    return np.concatenate([tan, w[:, None]], axis=1).astype(np.float32)
