"""Signed distance field primitives, their composition, and fast evaluation on regular grids.

Conventions: metres, +Y up; an SDF is negative inside, positive outside and approximately
Euclidean near its surface (Lipschitz bound <= ~1.5 far from it).

Every node is called as ``node(x, y, z)`` with three arrays that *broadcast* together: ``[N]``
each for scattered points, or ``[nx, 1, 1]``, ``[1, ny, 1]``, ``[1, 1, nz]`` for a grid. Written
this way, separable primitives (axis-aligned boxes, vertical lathes and cylinders) do most of
their work on 1-D or 2-D arrays and only the final combination is 3-D.

Grid evaluation (`eval_grid`) culls by bounding box: every node knows the AABB of its solid,
evaluates only on the sub-grid inside that box grown by a margin, and elsewhere the field is
clamped to ``+margin``. Unions take minima over sub-boxes. The clamped field has the same sign
as the exact one everywhere, and the same value wherever ``|d| < margin - kmax`` (`SDF.kmax` is
the largest smooth-union radius in the tree), so a margin of a few voxels plus twice `kmax`
leaves marching cubes an exact field.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

# An index box on a grid: ((i0, i1), (j0, j1), (k0, k1)), half-open.
IndexBox = tuple[tuple[int, int], tuple[int, int], tuple[int, int]]
Axes = tuple[np.ndarray, np.ndarray, np.ndarray]


# ----------------------------------------------------------------------------- rotations


def rot_x(angle: float) -> np.ndarray:
    """Rotation by `angle` radians about +X (right-handed): maps +Y towards +Z."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rot_y(angle: float) -> np.ndarray:
    """Rotation by `angle` radians about +Y: maps +Z towards +X."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def rot_z(angle: float) -> np.ndarray:
    """Rotation by `angle` radians about +Z: maps +X towards +Y."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


# ----------------------------------------------------------------------------- helpers


def _vec(v: Sequence[float]) -> tuple[float, float, float]:
    # Python floats keep float32 grids in float32 (numpy scalars would upcast them).
    return (float(v[0]), float(v[1]), float(v[2]))


def _len2(a, b):
    return np.sqrt(a * a + b * b)


def _len3(a, b, c):
    return np.sqrt(a * a + b * b + c * c)


def _box2(dx, dy):
    """Distance combination of two signed slab distances (a 2-D rounded-corner box)."""
    return np.minimum(np.maximum(dx, dy), 0.0) + _len2(np.maximum(dx, 0.0), np.maximum(dy, 0.0))


def _interp(v, xp: np.ndarray, fp: np.ndarray):
    """np.interp that keeps the broadcast shape and dtype of `v`."""
    return np.interp(v, xp, fp).astype(np.result_type(v, np.float32), copy=False)


def _index_box(axes: Axes, lo: np.ndarray, hi: np.ndarray) -> IndexBox | None:
    box = []
    for ax, a, b in zip(axes, lo, hi):
        i0 = int(np.searchsorted(ax, a, side="left"))
        i1 = int(np.searchsorted(ax, b, side="right"))
        if i1 <= i0:
            return None
        box.append((i0, i1))
    return tuple(box)  # type: ignore[return-value]


def _box_union(boxes: Sequence[IndexBox]) -> IndexBox:
    return tuple(
        (min(b[i][0] for b in boxes), max(b[i][1] for b in boxes)) for i in range(3)
    )  # type: ignore[return-value]


def _box_inter(a: IndexBox, b: IndexBox) -> IndexBox | None:
    out = []
    for (a0, a1), (b0, b1) in zip(a, b):
        lo, hi = max(a0, b0), min(a1, b1)
        if hi <= lo:
            return None
        out.append((lo, hi))
    return tuple(out)  # type: ignore[return-value]


def _rel(inner: IndexBox, outer: IndexBox) -> tuple[slice, slice, slice]:
    """Slices of `inner` in an array that covers `outer`."""
    return tuple(slice(i0 - o0, i1 - o0) for (i0, i1), (o0, _) in zip(inner, outer))  # type: ignore


def _shape(box: IndexBox) -> tuple[int, int, int]:
    return tuple(i1 - i0 for i0, i1 in box)  # type: ignore[return-value]


GridPart = tuple[IndexBox, np.ndarray]  # (index box, float32 values over it, clamped <= margin)


# ----------------------------------------------------------------------------- base class


class SDF:
    """A solid. Subclasses set `lo`/`hi` (AABB of the solid) and implement `__call__`."""

    lo: np.ndarray  # [3] float64
    hi: np.ndarray  # [3] float64
    kmax: float = 0.0  # largest smooth-union radius inside this node

    def __call__(self, x, y, z):
        raise NotImplementedError

    def points(self, p: np.ndarray) -> np.ndarray:
        """Exact (unclamped) evaluation at points [N, 3] -> [N] float64."""
        p = np.asarray(p, dtype=np.float64).reshape(-1, 3)
        d = self(p[:, 0], p[:, 1], p[:, 2])
        return np.broadcast_to(np.asarray(d, dtype=np.float64), (p.shape[0],)).copy()

    def grid_part(self, axes: Axes, margin: float) -> GridPart | None:
        """Values on the sub-grid covering the AABB grown by `margin`; None if it misses."""
        box = _index_box(axes, self.lo - margin, self.hi + margin)
        if box is None:
            return None
        (i0, i1), (j0, j1), (k0, k1) = box
        x = axes[0][i0:i1, None, None]
        y = axes[1][None, j0:j1, None]
        z = axes[2][None, None, k0:k1]
        d = np.broadcast_to(self(x, y, z), _shape(box))
        return box, np.minimum(d, np.float32(margin)).astype(np.float32, copy=False)


def eval_grid(node: SDF, axes: Axes, margin: float) -> np.ndarray:
    """Clamped SDF of `node` at every grid point of `axes` -> [nx, ny, nz] float32.

    `axes` are three increasing 1-D float arrays (float32 recommended). Values further than
    `margin` outside the surface are clamped to `margin`.
    """
    axes = tuple(np.asarray(a) for a in axes)  # type: ignore[assignment]
    out = np.full(tuple(len(a) for a in axes), margin, dtype=np.float32)
    part = node.grid_part(axes, margin)
    if part is not None:
        box, values = part
        out[tuple(slice(a, b) for a, b in box)] = values
    return out


# ----------------------------------------------------------------------------- composition


class Union(SDF):
    """min of the children."""

    def __init__(self, children: Sequence[SDF]):
        if not children:
            raise ValueError("Union needs at least one child")
        self.children = list(children)
        self.lo = np.min([c.lo for c in children], axis=0)
        self.hi = np.max([c.hi for c in children], axis=0)
        self.kmax = max(c.kmax for c in children)

    def __call__(self, x, y, z):
        d = self.children[0](x, y, z)
        for c in self.children[1:]:
            d = np.minimum(d, c(x, y, z))
        return d

    def grid_part(self, axes, margin):
        parts = [p for p in (c.grid_part(axes, margin) for c in self.children) if p is not None]
        if not parts:
            return None
        if len(parts) == 1:
            return parts[0]
        box = _box_union([b for b, _ in parts])
        out = np.full(_shape(box), margin, dtype=np.float32)
        for b, v in parts:
            sub = out[_rel(b, box)]
            np.minimum(sub, v, out=sub)
        return box, out


def smin(a, b, k: float):
    """Polynomial smooth minimum with blend radius k (Quilez)."""
    h = np.maximum(k - np.abs(a - b), 0.0) / k
    return np.minimum(a, b) - h * h * (k * 0.25)


class SmoothUnion(SDF):
    """Smooth union (fillets of radius ~k where children meet)."""

    def __init__(self, children: Sequence[SDF], k: float):
        if not children:
            raise ValueError("SmoothUnion needs at least one child")
        self.children = list(children)
        self.k = float(k)
        self.lo = np.min([c.lo for c in children], axis=0) - self.k * 0.25
        self.hi = np.max([c.hi for c in children], axis=0) + self.k * 0.25
        self.kmax = max([self.k] + [c.kmax for c in children])

    def __call__(self, x, y, z):
        d = self.children[0](x, y, z)
        for c in self.children[1:]:
            d = smin(d, c(x, y, z), self.k)
        return d

    def grid_part(self, axes, margin):
        parts = [p for p in (c.grid_part(axes, margin) for c in self.children) if p is not None]
        if not parts:
            return None
        box = _box_union([b for b, _ in parts])
        out = np.full(_shape(box), margin, dtype=np.float32)
        for i, (b, v) in enumerate(parts):
            r = _rel(b, box)
            out[r] = v if i == 0 else smin(out[r], v, self.k)
        return box, out


class Subtract(SDF):
    """`a` minus `b`: max(a, -b)."""

    def __init__(self, a: SDF, b: SDF):
        self.a, self.b = a, b
        self.lo, self.hi = a.lo.copy(), a.hi.copy()
        self.kmax = max(a.kmax, b.kmax)

    def __call__(self, x, y, z):
        return np.maximum(self.a(x, y, z), -self.b(x, y, z))

    def grid_part(self, axes, margin):
        pa = self.a.grid_part(axes, margin)
        if pa is None:
            return None
        pb = self.b.grid_part(axes, margin)
        if pb is None:
            return pa
        box_a, va = pa
        box_b, vb = pb
        inter = _box_inter(box_a, box_b)
        if inter is None:
            return pa
        sub = va[_rel(inter, box_a)]
        np.maximum(sub, -vb[_rel(inter, box_b)], out=sub)
        return box_a, va


class Intersect(SDF):
    """max of the children (all must hold)."""

    def __init__(self, children: Sequence[SDF]):
        self.children = list(children)
        self.lo = np.max([c.lo for c in children], axis=0)
        self.hi = np.min([c.hi for c in children], axis=0)
        self.kmax = max(c.kmax for c in children)

    def __call__(self, x, y, z):
        d = self.children[0](x, y, z)
        for c in self.children[1:]:
            d = np.maximum(d, c(x, y, z))
        return d

    def grid_part(self, axes, margin):
        parts = [c.grid_part(axes, margin) for c in self.children]
        if any(p is None for p in parts):
            return None
        box = parts[0][0]
        for b, _ in parts[1:]:
            box = _box_inter(box, b)
            if box is None:
                return None
        out = parts[0][1][_rel(box, parts[0][0])].copy()
        for b, v in parts[1:]:
            np.maximum(out, v[_rel(box, b)], out=out)
        return box, out


class Translate(SDF):
    """The child moved by `offset`."""

    def __init__(self, child: SDF, offset: Sequence[float]):
        self.child = child
        self.t = _vec(offset)
        self.lo = child.lo + np.array(self.t)
        self.hi = child.hi + np.array(self.t)
        self.kmax = child.kmax

    def __call__(self, x, y, z):
        tx, ty, tz = self.t
        return self.child(x - tx, y - ty, z - tz)

    def grid_part(self, axes, margin):
        # Shifting the axes keeps the index boxes valid.
        shifted = tuple(a - a.dtype.type(t) for a, t in zip(axes, self.t))
        return self.child.grid_part(shifted, margin)


# ----------------------------------------------------------------------------- primitives

_INF = 1e9


class HalfSpaceY(SDF):
    """Everything above y0 (`above=True`) or below it."""

    def __init__(self, y0: float, above: bool = True):
        self.y0, self.above = float(y0), above
        self.lo = np.array([-_INF, self.y0 if above else -_INF, -_INF])
        self.hi = np.array([_INF, _INF if above else self.y0, _INF])

    def __call__(self, x, y, z):
        return (self.y0 - y) if self.above else (y - self.y0)


class Sphere(SDF):
    def __init__(self, center: Sequence[float], r: float):
        self.c, self.r = _vec(center), float(r)
        self.lo = np.array(self.c) - self.r
        self.hi = np.array(self.c) + self.r

    def __call__(self, x, y, z):
        cx, cy, cz = self.c
        return _len3(x - cx, y - cy, z - cz) - self.r


class Box(SDF):
    """Box with half extents `half` (rounded edges of radius `round`), turned by `yaw` about Y."""

    def __init__(self, center: Sequence[float], half: Sequence[float], round: float = 0.0,
                 yaw: float = 0.0):
        self.c, self.h = _vec(center), _vec(half)
        self.round = float(min(round, *self.h))
        self.yaw = float(yaw)
        cs, sn = abs(math.cos(yaw)), abs(math.sin(yaw))
        ext = np.array([cs * self.h[0] + sn * self.h[2], self.h[1], sn * self.h[0] + cs * self.h[2]])
        self.lo = np.array(self.c) - ext
        self.hi = np.array(self.c) + ext

    def __call__(self, x, y, z):
        cx, cy, cz = self.c
        hx, hy, hz = (h - self.round for h in self.h)
        px, py, pz = x - cx, y - cy, z - cz
        if self.yaw:
            c, s = math.cos(self.yaw), math.sin(self.yaw)
            px, pz = c * px - s * pz, s * px + c * pz  # into the box frame
        qx, qy, qz = np.abs(px) - hx, np.abs(py) - hy, np.abs(pz) - hz
        outside = _len3(np.maximum(qx, 0.0), np.maximum(qy, 0.0), np.maximum(qz, 0.0))
        inside = np.minimum(np.maximum(np.maximum(qx, qy), qz), 0.0)
        return outside + inside - self.round


class OrientedBox(SDF):
    """Box with half extents `half` in its local frame, rotated by matrix `rot` (local->world)."""

    def __init__(self, center: Sequence[float], half: Sequence[float], rot: np.ndarray,
                 round: float = 0.0):
        self.c, self.h = _vec(center), _vec(half)
        self.round = float(min(round, *self.h))
        self.rot = [[float(v) for v in row] for row in np.asarray(rot, dtype=np.float64)]
        ext = np.abs(np.asarray(rot)) @ np.array(self.h)
        self.lo = np.array(self.c) - ext
        self.hi = np.array(self.c) + ext

    def __call__(self, x, y, z):
        cx, cy, cz = self.c
        px, py, pz = x - cx, y - cy, z - cz
        r = self.rot
        # local = R^T p
        lx = r[0][0] * px + r[1][0] * py + r[2][0] * pz
        ly = r[0][1] * px + r[1][1] * py + r[2][1] * pz
        lz = r[0][2] * px + r[1][2] * py + r[2][2] * pz
        hx, hy, hz = (h - self.round for h in self.h)
        qx, qy, qz = np.abs(lx) - hx, np.abs(ly) - hy, np.abs(lz) - hz
        outside = _len3(np.maximum(qx, 0.0), np.maximum(qy, 0.0), np.maximum(qz, 0.0))
        inside = np.minimum(np.maximum(np.maximum(qx, qy), qz), 0.0)
        return outside + inside - self.round


def box_between(a: Sequence[float], b: Sequence[float], half_w: float, half_t: float,
                round: float = 0.0, up: Sequence[float] = (0.0, 1.0, 0.0)) -> OrientedBox:
    """A beam with its long axis from a to b, cross-section 2*half_w x 2*half_t.

    The half_t side is perpendicular to both the axis and `up` (if the axis is along `up`,
    +Z is used instead)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    axis = b - a
    length = float(np.linalg.norm(axis))
    u = axis / length
    ref = np.asarray(up, float)
    if abs(float(u @ ref)) > 0.99:
        ref = np.array([0.0, 0.0, 1.0]) if abs(u[2]) < 0.99 else np.array([1.0, 0.0, 0.0])
    t = np.cross(u, ref)
    t /= np.linalg.norm(t)
    w = np.cross(t, u)
    # local x = w (width), local y = u (length), local z = t (thickness)
    rot = np.stack([w, u, t], axis=1)
    return OrientedBox((a + b) / 2, (half_w, length / 2, half_t), rot, round)


class Capsule(SDF):
    """Segment a-b with radius r."""

    def __init__(self, a: Sequence[float], b: Sequence[float], r: float):
        self.a, self.b, self.r = _vec(a), _vec(b), float(r)
        ab = np.array(self.b) - np.array(self.a)
        self.ba = _vec(ab)
        self.inv_l2 = 1.0 / max(float(ab @ ab), 1e-12)
        self.lo = np.minimum(self.a, self.b) - self.r
        self.hi = np.maximum(self.a, self.b) + self.r

    def __call__(self, x, y, z):
        ax, ay, az = self.a
        bx, by, bz = self.ba
        px, py, pz = x - ax, y - ay, z - az
        h = np.clip((px * bx + py * by + pz * bz) * self.inv_l2, 0.0, 1.0)
        return _len3(px - bx * h, py - by * h, pz - bz * h) - self.r


class RoundCone(SDF):
    """Tapered capsule: sphere of radius ra at a swept to radius rb at b (exact, Quilez)."""

    def __init__(self, a: Sequence[float], b: Sequence[float], ra: float, rb: float):
        self.a, self.b, self.ra, self.rb = _vec(a), _vec(b), float(ra), float(rb)
        ba = np.array(self.b) - np.array(self.a)
        self.ba = _vec(ba)
        self.l2 = float(ba @ ba)
        self.rr = self.ra - self.rb
        self.a2 = self.l2 - self.rr * self.rr
        if self.a2 <= 0:
            raise ValueError("RoundCone: one sphere contains the other")
        self.lo = np.minimum(np.array(self.a) - self.ra, np.array(self.b) - self.rb)
        self.hi = np.maximum(np.array(self.a) + self.ra, np.array(self.b) + self.rb)

    def __call__(self, x, y, z):
        ax, ay, az = self.a
        bx, by, bz = self.ba
        l2, rr, a2 = self.l2, self.rr, self.a2
        px, py, pz = x - ax, y - ay, z - az
        yy = px * bx + py * by + pz * bz
        zz = yy - l2
        x2 = (px * l2 - bx * yy) ** 2 + (py * l2 - by * yy) ** 2 + (pz * l2 - bz * yy) ** 2
        y2 = yy * yy * l2
        z2 = zz * zz * l2
        k = math.copysign(1.0, rr) * rr * rr * x2
        il2 = 1.0 / l2
        d_b = np.sqrt(x2 + z2) * il2 - self.rb
        d_a = np.sqrt(x2 + y2) * il2 - self.ra
        d_s = (np.sqrt(x2 * a2 * il2) + yy * rr) * il2 - self.ra
        return np.where(np.sign(zz) * a2 * z2 > k, d_b, np.where(np.sign(yy) * a2 * y2 < k, d_a, d_s))


class Cone(SDF):
    """Capped (flat-ended) cone frustum from a (radius ra) to b (radius rb); cylinder if equal.

    Near-exact: side distance is corrected for the slope; the rim is a sharp edge unless
    `round` > 0 rounds it."""

    def __init__(self, a: Sequence[float], b: Sequence[float], ra: float, rb: float | None = None,
                 round: float = 0.0):
        rb = ra if rb is None else rb
        self.a, self.b = _vec(a), _vec(b)
        self.round = float(min(round, ra, rb))
        self.ra, self.rb = float(ra) - self.round, float(rb) - self.round
        ab = np.array(self.b) - np.array(self.a)
        self.length = float(np.linalg.norm(ab))
        self.u = _vec(ab / self.length)
        self.hl = self.length / 2 - self.round  # half length of the shrunk core
        self.slope = (self.rb - self.ra) / self.length
        self.inv_lip = 1.0 / math.sqrt(1.0 + self.slope * self.slope)
        self.vertical = abs(ab[0]) < 1e-12 and abs(ab[2]) < 1e-12
        u = np.array(self.u)
        rmax = max(ra, rb)
        ext = rmax * np.sqrt(np.clip(1.0 - u * u, 0.0, 1.0))
        self.lo = np.minimum(self.a, self.b) - ext
        self.hi = np.maximum(self.a, self.b) + ext

    def __call__(self, x, y, z):
        ax, ay, az = self.a
        mid = self.length / 2
        if self.vertical:
            sgn = 1.0 if self.u[1] > 0 else -1.0
            t = (y - ay) * sgn  # along the axis
            radial = _len2(x - ax, z - az)
        else:
            ux, uy, uz = self.u
            px, py, pz = x - ax, y - ay, z - az
            t = px * ux + py * uy + pz * uz
            radial = _len3(px - ux * t, py - uy * t, pz - uz * t)
        r_t = self.ra + self.slope * np.clip(t, 0.0, self.length)
        side = (radial - r_t) * self.inv_lip
        cap = np.abs(t - mid) - self.hl
        return _box2(side, cap) - self.round


class Torus(SDF):
    """Ring of major radius R and tube radius r around an axis ('x', 'y' or 'z') through center."""

    def __init__(self, center: Sequence[float], R: float, r: float, axis: str = "y"):
        self.c, self.R, self.r, self.axis = _vec(center), float(R), float(r), axis
        ext = np.full(3, self.R + self.r)
        ext["xyz".index(axis)] = self.r
        self.lo = np.array(self.c) - ext
        self.hi = np.array(self.c) + ext

    def __call__(self, x, y, z):
        cx, cy, cz = self.c
        px, py, pz = x - cx, y - cy, z - cz
        if self.axis == "y":
            ring, ax = _len2(px, pz), py
        elif self.axis == "x":
            ring, ax = _len2(py, pz), px
        else:
            ring, ax = _len2(px, py), pz
        return _len2(ring - self.R, ax) - self.r


_PRISM_KINDS = ("rect", "circle", "stadium", "ellipse")


class Prism(SDF):
    """Vertical extrusion of a 2-D outline in the xz plane, with rounded vertical edges.

    kind: 'rect' (half sizes ax, az, corner radius `corner`), 'circle' (radius ax),
    'stadium' (racetrack: half length ax along x, half width az), 'ellipse' (semi-axes ax, az;
    the field is a Lipschitz-1 underestimate away from the outline). `edge` rounds the top and
    bottom rims."""

    def __init__(self, kind: str, center: Sequence[float], ax: float, az: float, half_h: float,
                 corner: float = 0.0, edge: float = 0.0):
        if kind not in _PRISM_KINDS:
            raise ValueError(f"unknown prism kind {kind!r}; known: {_PRISM_KINDS}")
        self.kind, self.c = kind, _vec(center)
        self.ax, self.az = float(ax), float(ax if kind == "circle" else az)
        self.half_h = float(half_h)
        self.corner = float(min(corner, self.ax, self.az))
        self.edge = float(min(edge, self.half_h, self.ax, self.az))
        ext = np.array([self.ax, self.half_h, self.az])
        self.lo = np.array(self.c) - ext
        self.hi = np.array(self.c) + ext

    def _d2(self, px, pz):
        e = self.edge  # the outline is shrunk by e, then the rim rounded by e
        if self.kind == "rect":
            rc = self.corner
            qx = np.abs(px) - (self.ax - max(rc, e))
            qz = np.abs(pz) - (self.az - max(rc, e))
            return _box2(qx, qz) - max(rc, e) + e
        if self.kind == "circle":
            return _len2(px, pz) - self.ax + e
        if self.kind == "stadium":
            a, b = max(self.ax, self.az), min(self.ax, self.az)
            long_, short = (px, pz) if self.ax >= self.az else (pz, px)
            q = np.maximum(np.abs(long_) - (a - b), 0.0)
            return _len2(q, short) - b + e
        a, b = self.ax - e, self.az - e
        m = min(a, b)
        return (_len2(px / a, pz / b) - 1.0) * m

    def __call__(self, x, y, z):
        cx, cy, cz = self.c
        d2 = self._d2(x - cx, z - cz)
        dy = np.abs(y - cy) - (self.half_h - self.edge)
        return _box2(d2, dy) - self.edge


class Lathe(SDF):
    """Solid of revolution about a vertical axis through (cx, cz): radius profile r(y).

    `ys` (increasing) and `rs` sample the profile; between them it is linear. The solid is
    capped flat at ys[0] and ys[-1]. Optional flutes carve `flutes` concave channels of relative
    depth `flute_depth` between heights `flute_y` (with short run-outs)."""

    def __init__(self, ys: Sequence[float], rs: Sequence[float], center: Sequence[float] = (0, 0),
                 flutes: int = 0, flute_depth: float = 0.0,
                 flute_y: tuple[float, float] | None = None):
        self.ys = np.asarray(ys, dtype=np.float64)
        self.rs = np.asarray(rs, dtype=np.float64)
        if self.ys.ndim != 1 or self.ys.shape != self.rs.shape or len(self.ys) < 2:
            raise ValueError("Lathe needs matching 1-D ys, rs with at least 2 samples")
        if np.any(np.diff(self.ys) <= 0):
            raise ValueError("Lathe ys must increase")
        self.cx, self.cz = float(center[0]), float(center[1])
        self.y0, self.y1 = float(self.ys[0]), float(self.ys[-1])
        slope = np.gradient(self.rs, self.ys)
        self.inv_lip = 1.0 / np.sqrt(1.0 + slope * slope)  # per-sample slope correction
        self.flutes = int(flutes)
        self.flute_depth = float(flute_depth)
        self.flute_y = flute_y or (self.y0, self.y1)
        if self.flutes:
            # |d r_eff / (r d theta)| <= depth * n * 0.65 for the (0.5 + 0.5 cos)^2 channel shape.
            g = self.flute_depth * self.flutes * 0.65
            self.flute_lip = 1.0 / math.sqrt(1.0 + g * g)
        rmax = float(self.rs.max())
        self.lo = np.array([self.cx - rmax, self.y0, self.cz - rmax])
        self.hi = np.array([self.cx + rmax, self.y1, self.cz + rmax])

    def _radius(self, px, y, pz):
        r = _interp(y, self.ys, self.rs)
        if not self.flutes:
            return r, _interp(y, self.ys, self.inv_lip)
        f0, f1 = self.flute_y
        run = 0.04 * (f1 - f0)
        w = np.clip(np.minimum(y - f0, f1 - y) / max(run, 1e-9), 0.0, 1.0)  # fade at the ends
        g = 0.5 + 0.5 * np.cos(self.flutes * np.arctan2(pz, px))
        r = r * (1.0 - self.flute_depth * w * g * g)
        return r, _interp(y, self.ys, self.inv_lip) * self.flute_lip

    def __call__(self, x, y, z):
        px, pz = x - self.cx, z - self.cz
        r, lip = self._radius(px, y, pz)
        side = (_len2(px, pz) - r) * lip
        cap = np.maximum(self.y0 - y, y - self.y1)
        return _box2(side, cap)


class LatheShell(Lathe):
    """Open-ended shell of wall `thickness` centred on a lathe profile (lamp shades, rings)."""

    def __init__(self, ys, rs, thickness: float, center=(0, 0)):
        super().__init__(ys, rs, center)
        self.t = float(thickness)
        self.lo[[0, 2]] -= self.t / 2
        self.hi[[0, 2]] += self.t / 2

    def __call__(self, x, y, z):
        px, pz = x - self.cx, z - self.cz
        r, lip = self._radius(px, y, pz)
        side = np.abs(_len2(px, pz) - r) * lip - self.t / 2
        cap = np.maximum(self.y0 - y, y - self.y1)
        return _box2(side, cap)


# ----------------------------------------------------------------------------- compounds


def capsule_chain(points: Sequence[Sequence[float]], r: float | Sequence[float]) -> SDF:
    """Tube through `points` as capsules (tapered if `r` gives one radius per point)."""
    pts = [np.asarray(p, float) for p in points]
    radii = [float(r)] * len(pts) if np.isscalar(r) else [float(v) for v in r]  # type: ignore
    parts: list[SDF] = []
    for (a, ra), (b, rb) in zip(zip(pts, radii), zip(pts[1:], radii[1:])):
        if abs(ra - rb) < 1e-9:
            parts.append(Capsule(a, b, ra))
        else:
            parts.append(RoundCone(a, b, ra, rb))
    return parts[0] if len(parts) == 1 else Union(parts)


def bezier(p0, p1, p2, n: int) -> np.ndarray:
    """n points on the quadratic Bezier curve p0-p1-p2 -> [n, 3]."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    p0, p1, p2 = (np.asarray(p, float) for p in (p0, p1, p2))
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t * t * p2
