"""Clothing and hair for the `humanoid` family: meshes our code makes on each body.

Two ways to make cloth, both fitted to THIS body in its rest pose:

- a *shell*: a region of the body surface (picked by each vertex's dominant joint and by
  heights measured from the fitted joints) pushed out along the body's normals, smoothed
  (toes, nose and ears melt into a boot, a hood, a helmet) and decimated. It has the body's
  topology, so it has no seam at an armpit or a crotch, and only its hems are open;
- a *skirt*: rings around a vertical axis whose radius per angle is the largest radius of
  the body there (so it spans the gap between the legs), hanging straight down from the
  hips and flaring by a per-seed amount; its top ring tucks under the shell above it. Boots
  are the same kind of rings lofted heel to toe and up the shin (a shell would fall into the
  gaps between the toes).

Then every garment is pushed out of the body and of the garments dressed before it (a
nearest-vertex signed distance), skinned from the nearest body vertices (a skirt blends
thigh weights toward the pelvis so it does not tear between the legs), and unwrapped
cylindrically per body part in metres (u = arc length around the part's axis, v = -height).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import fast_simplification
import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

if TYPE_CHECKING:  # the body module is imported only for its type
    from generators.humanoid.body import Body
else:
    Body = Any

log = logging.getLogger(__name__)

MATERIALS: tuple[str, ...] = ("fabric", "wool", "leather", "metal", "hair")
GARMENTS: tuple[str, ...] = ("trousers", "boots", "tunic", "robe", "hair", "hood", "helmet")
OUTFITS: dict[str, tuple[tuple[str, ...], ...]] = {
    "heroic": (("tunic", "trousers", "boots", "helmet"), ("tunic", "trousers", "boots", "hair")),
    "stocky": (("tunic", "trousers", "boots", "hood"), ("tunic", "trousers", "boots", "helmet")),
    "slender": (("robe", "hair"), ("tunic", "trousers", "boots", "hair"), ("robe", "hood")),
    "child": (("tunic", "trousers", "boots", "hair"), ("tunic", "trousers", "hair")),
    "elder": (("robe", "hood"), ("robe", "hair"), ("tunic", "trousers", "boots", "hood")),
}

# Dressing order, inner layer first: each garment is pushed out of those dressed before it.
# Long hair falls over a collar; hoods and helmets go on over everything.
_LAYER = {"trousers": 0, "boots": 1, "tunic": 2, "robe": 2, "hair": 3, "hood": 4, "helmet": 4}
SKIN_GAP_M = 0.005  # a garment vertex stays at least this far outside the skin
LAYER_GAP_M = 0.004  # ... and this far outside a garment dressed before it
# The push-out measures against the nearest vertex's tangent plane, which overstates the true
# distance to the surface by up to ~1.5 mm on this mesh (measured against open3d's exact
# signed distance): it aims this much further out.
PLANE_SLACK_M = 0.0015
_TORSO = ("pelvis", "spine_01", "spine_02", "spine_03", "clavicle_l", "clavicle_r")
_ARMS = ("upperarm_l", "lowerarm_l", "hand_l", "upperarm_r", "lowerarm_r", "hand_r")
_FINGERS = ("thumb", "index", "middle", "ring", "pinky")


@dataclass
class Garment:
    name: str  # one of GARMENTS
    vertices: np.ndarray  # [V, 3] float32, metres, the body's rest pose
    faces: np.ndarray  # [F, 3] uint32, counter-clockwise seen from outside
    uvs: np.ndarray  # [V, 2] float32, metres (tile a cloth map per metre), glTF v down
    material: str  # one of MATERIALS
    joints: np.ndarray  # [V, 4] uint16, indices into body.joint_names
    weights: np.ndarray  # [V, 4] float32, rows sum to 1, sorted descending, zero-padded
    hides: np.ndarray  # int64 indices of body vertices this garment covers completely


_WELDS: dict[bytes, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _welding(body: Body) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(original -> welded vertex or -1 off the skin [V], first original of each welded [W],
    skin faces in welded indices [F, 3]). Every body of one topology welds alike (UV-seam
    copies coincide whatever the shape), so this is kept per topology."""
    faces = np.asarray(body.faces, np.int64)
    skin = np.asarray(body.groups.get("body", np.arange(len(body.vertices))), np.int64)  # no eyeballs
    key = hashlib.sha1(faces.tobytes() + skin.tobytes() + str(len(body.vertices)).encode()).digest()
    if key not in _WELDS:
        q = np.round(np.asarray(body.vertices, np.float64)[skin] * 1e5).astype(np.int64)  # 10 um cells
        q -= q.min(axis=0)
        cell = (q[:, 0] * (q[:, 1].max() + 1) + q[:, 1]) * (q[:, 2].max() + 1) + q[:, 2]
        _, first, weld = np.unique(cell, return_index=True, return_inverse=True)
        full = np.full(len(body.vertices), -1, np.int64)
        full[skin] = weld.reshape(-1)
        f = full[faces]
        if len(_WELDS) > 8:  # a handful of topologies at most (template, learned variants)
            _WELDS.clear()
        _WELDS[key] = (full, skin[first], f[(f >= 0).all(axis=1)])
    return _WELDS[key]


class _Fit:
    """What every garment needs to know about one body, computed once per dress() call.

    Vertices are welded by position first: a body split at UV seams would otherwise open
    cracks wherever a shell follows per-copy normals.
    """

    def __init__(self, body: Body):
        verts = np.asarray(body.vertices, np.float64)  # [V, 3]
        self.weld, first, self.f = _welding(body)
        self.v = verts[first]  # [W, 3]
        self.n = _vertex_normals(self.v, self.f)  # [W, 3]
        self.bj = np.asarray(body.joints, np.int64)[first]  # [W, 4]
        self.bw = np.asarray(body.weights, np.float64)[first]  # [W, 4]
        self.names = list(body.joint_names)
        self.n_joints = len(self.names)
        self.jp = np.asarray(body.joint_positions, np.float64)  # [J, 3]
        self.dom = self.bj[:, 0]  # [W] dominant joint of each vertex
        self.tree = cKDTree(self.v)
        self.height = float(self.v[:, 1].max() - self.v[:, 1].min())
        head = self.v[self.of("head")]
        self.head_top = float(head[:, 1].max())
        self.chin = float(head[:, 1].min())
        self.head_front = float(head[:, 2].max())
        self.head_back = float(head[:, 2].min())
        self.head_half_width = float(np.abs(head[:, 0] - self.p("head")[0]).max())

    def j(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise ValueError(f"body has no joint {name!r}; clothing needs {name!r} in joint_names") from None

    def p(self, name: str) -> np.ndarray:
        return self.jp[self.j(name)]

    def of(self, *names: str) -> np.ndarray:
        """Mask [W] of welded vertices whose dominant joint is one of `names`."""
        ids = [self.j(n) for n in names]
        if "hand_l" in names or "hand_r" in names:  # a hand includes its fingers
            side = [s for s in ("_l", "_r") if f"hand{s}" in names]
            ids += [i for i, n in enumerate(self.names) if n.startswith(_FINGERS) and n.endswith(tuple(side))]
        return np.isin(self.dom, ids)

    def along(self, a: str, b: str) -> np.ndarray:
        """[W] parameter of each vertex along the bone from joint a (0) to joint b (1)."""
        pa, pb = self.p(a), self.p(b)
        d = pb - pa
        return (self.v - pa) @ d / float(d @ d)


# ----------------------------------------------------------------------------- mesh helpers


def _vertex_normals(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])  # [F, 3], area-weighted
    idx = f.reshape(-1)
    n = np.stack([np.bincount(idx, np.repeat(fn[:, c], 3), minlength=len(v)) for c in range(3)], axis=1)
    length = np.linalg.norm(n, axis=1, keepdims=True)
    return n / np.where(length > 0, length, 1.0)


def _compact(v: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vertices used by f, faces renumbered, original index of each kept vertex)."""
    used, inv = np.unique(f, return_inverse=True)
    return v[used], inv.reshape(f.shape), used


def _adjacency(n_verts: int, f: np.ndarray) -> sp.csr_matrix:
    """Row-normalised vertex adjacency (the umbrella operator) of a triangle mesh."""
    e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    e = np.concatenate([e, e[:, ::-1]])
    a = sp.csr_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n_verts, n_verts))
    a.data[:] = 1.0
    deg = np.asarray(a.sum(axis=1)).reshape(-1)
    return sp.diags(1.0 / np.maximum(deg, 1)) @ a


def _boundary_vertices(f: np.ndarray) -> np.ndarray:
    e = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    n = int(f.max()) + 1
    key, count = np.unique(e[:, 0] * n + e[:, 1], return_counts=True)
    once = key[count == 1]
    return np.unique(np.concatenate([once // n, once % n]))


def _region_faces(fit: _Fit, mask: np.ndarray) -> np.ndarray:
    """Body faces (welded indices) whose three corners are all in `mask`."""
    return fit.f[mask[fit.f].all(axis=1)]


def _interior(fit: _Fit, faces: np.ndarray, rings: int = 2) -> np.ndarray:
    """Welded vertices of `faces` at least `rings` edges away from the region's boundary."""
    inside = np.zeros(len(fit.v), bool)
    inside[faces.reshape(-1)] = True
    edge = np.zeros(len(fit.v), bool)
    edge[_boundary_vertices(faces)] = True
    for _ in range(rings):  # grow the boundary band over the whole body's faces
        edge[fit.f[edge[fit.f].any(axis=1)].reshape(-1)] = True
    return np.flatnonzero(inside & ~edge)


# ----------------------------------------------------------------------------- shapes


Hem = tuple[np.ndarray, np.ndarray, float]  # a point on the hem's plane, its normal into the garment, reach


def _shell(fit: _Fit, mask: np.ndarray, offset: np.ndarray, smooth: int, max_faces: int, normal_smooth: int = 0,
           melt: bool = False, hems: Sequence[Hem] = (), fill: np.ndarray | None = None):
    """Offset shell of the body region `mask` -> (vertices, faces, covered welded vertices).

    `offset` [W] is the distance along the normal per body vertex (metres); `smooth` rounds of
    Taubin smoothing melt small features (toes, ears); `normal_smooth` rounds average the
    normals first, so a thick offset does not shoot sideways out of a crease. `melt` smooths
    the region first and offsets along the smoothed surface's own normals (feet: an offset
    from the toes' sides would run into the next toe). `hems` are the planes the region was
    cut by: boundary vertices within reach of a hem's point and up to 4 cm inside it are put
    on its plane, so a hem is straight rather than the zigzag of the body's edges it crossed.
    `fill` [W] marks vertices whose shape the cloth should not follow (ears under a hood):
    their shell positions are interpolated from the rest (harmonic fill). The push-out
    happens later.
    """
    faces = _region_faces(fit, mask)
    if len(faces) == 0:
        raise ValueError("garment region is empty on this body")
    covered = _interior(fit, faces)
    v, f, used = _compact(fit.v, faces)
    lap = _adjacency(len(v), f)
    n = fit.n[used]
    for _ in range(normal_smooth):
        n = lap @ n
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-9)
    if not melt:
        v = v + n * offset[used, None]
    if fill is not None and fill[used].any():
        free = fill[used]
        for _ in range(60):  # Jacobi iterations of the Laplace equation over the filled part
            v[free] = (lap @ v)[free]
    for _ in range(smooth):  # Taubin's lambda|mu pair: smooths without shrinking the region away
        v = v + 0.5 * (lap @ v - v)
        v = v - 0.53 * (lap @ v - v)
    if melt:
        v = v + _vertex_normals(v, f) * offset[used, None]
    if hems:
        edge = _boundary_vertices(f)
        for point, inward, reach in hems:
            depth = (v[edge] - point) @ inward
            snap = (depth > -0.01) & (depth < 0.04) & (np.linalg.norm(v[edge] - point, axis=1) < reach)
            v[edge[snap]] -= depth[snap, None] * inward
    if len(f) > max_faces:
        v, f = fast_simplification.simplify(
            v.astype(np.float32), f.astype(np.int32), target_reduction=1.0 - max_faces / len(f)
        )
        v, f = np.asarray(v, np.float64), np.asarray(f, np.int64)
    return v, f, covered


def _skirt(fit: _Fit, source: np.ndarray, y_top: float, y_hem: float, tuck: float, offset: float,
           flare: float, ring_m: float = 0.03, n_around: int = 40):
    """Rings from y_top down to y_hem around the vertical axis through the pelvis.

    source [W]: body vertices the skirt must clear. The top ring sits `tuck` metres outside
    the body (under the shell above it); lower rings `offset` outside the widest body radius
    at or above their height (a skirt hangs, it does not follow the thighs in), plus
    `flare` metres per metre below the top.
    """
    centre = fit.p("pelvis")
    rings = max(3, int(np.ceil((y_top - y_hem) / ring_m)) + 1)
    ys = np.linspace(y_top, y_hem, rings)  # [R]
    theta = np.linspace(-np.pi, np.pi, n_around, endpoint=False) + np.pi / n_around  # [A]
    pts = fit.v[source & (fit.v[:, 1] <= y_top + ring_m) & (fit.v[:, 1] >= y_hem - ring_m)]
    rel = pts - centre
    ang = np.arctan2(rel[:, 0], rel[:, 2])  # 0 = front (+Z), +pi/2 = left (+X)
    rad = np.hypot(rel[:, 0], rel[:, 2])
    ri = np.clip(np.rint((y_top - pts[:, 1]) / (ys[0] - ys[1])), 0, rings - 1).astype(int)
    ai = np.floor((ang + np.pi) / (2 * np.pi) * n_around).astype(int) % n_around
    grid = np.zeros((rings, n_around))
    np.maximum.at(grid, (ri, ai), rad)
    for r in range(rings):  # an angle no vertex fell in takes its ring's neighbours' radius
        row = grid[r]
        if (row > 0).any() and (row == 0).any():
            ok = np.flatnonzero(row > 0)
            row[row == 0] = np.interp(np.flatnonzero(row == 0), ok, row[ok], period=n_around)
    # Dilate by one bin each way (covers vertices between bin centres), then hang.
    local = np.maximum.reduce([np.roll(grid[0], s) for s in (-1, 0, 1)])  # the top ring's own
    grid = np.maximum.reduce([np.roll(grid, s, axis=1) for s in (-1, 0, 1)])
    grid = np.maximum(grid, np.vstack([grid[:1], grid[:-1]]))
    grid = np.maximum(grid, np.vstack([grid[1:], grid[-1:]]))
    grid = np.maximum.accumulate(grid, axis=0)
    # Smooth (no terraces between rings), then lift each column back over what it must clear.
    smooth = grid.copy()
    for _ in range(6):
        smooth = 0.5 * smooth + 0.25 * (np.roll(smooth, 1, axis=1) + np.roll(smooth, -1, axis=1))
        smooth[1:-1] = 0.5 * smooth[1:-1] + 0.25 * (smooth[:-2] + smooth[2:])
    grid = smooth + (grid - smooth).max(axis=0, keepdims=True).clip(min=0.0)
    drop = y_top - ys  # [R]
    radius = grid + offset + flare * drop[:, None]
    radius[0] = local + tuck  # tucked close under the shell, whatever hangs below
    x = centre[0] + radius * np.sin(theta)[None]
    z = centre[2] + radius * np.cos(theta)[None]
    v = np.stack([x, np.broadcast_to(ys[:, None], x.shape), z], axis=-1).reshape(-1, 3)
    i = np.arange(rings - 1)[:, None] * n_around
    a0 = np.arange(n_around)[None]
    a1 = (a0 + 1) % n_around
    q00, q01, q10, q11 = i + a0, i + a1, i + n_around + a0, i + n_around + a1
    # Angle grows from front towards +X (counter-clockwise seen from below), rows go down.
    f = np.concatenate([np.stack([q00, q10, q01], -1).reshape(-1, 3), np.stack([q01, q10, q11], -1).reshape(-1, 3)])
    return v, f


def _envelope(pts: np.ndarray, origin: np.ndarray, axis: np.ndarray, ref: np.ndarray, ts: np.ndarray,
              n_around: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Largest radius of `pts` around the axis, per ring (at axis parameters ts) and angle.

    -> (radius [R, A], frame b1 [3], b2 [3]); angle 0 is along `ref`. Every bin is at least its
    neighbours' value (a point between two bin centres stays inside), empty bins borrow their
    ring's neighbours."""
    b1 = ref - (ref @ axis) * axis
    b1 /= np.linalg.norm(b1)
    b2 = np.cross(axis, b1)
    rel = pts - origin
    t = rel @ axis
    radial = rel - t[:, None] * axis
    ang = np.arctan2(radial @ b2, radial @ b1)
    rad = np.linalg.norm(radial, axis=1)
    step = (ts[-1] - ts[0]) / max(len(ts) - 1, 1)
    ri = np.rint((t - ts[0]) / step).astype(int)
    keep = (ri >= 0) & (ri < len(ts))
    ai = np.floor((ang + np.pi) / (2 * np.pi) * n_around).astype(int) % n_around
    grid = np.zeros((len(ts), n_around))
    np.maximum.at(grid, (ri[keep], ai[keep]), rad[keep])
    for r in range(len(ts)):
        row = grid[r]
        if (row > 0).any() and (row == 0).any():
            ok = np.flatnonzero(row > 0)
            row[row == 0] = np.interp(np.flatnonzero(row == 0), ok, row[ok], period=n_around)
    filled = grid.max(axis=1) > 0
    if filled.any() and not filled.all():  # a ring no point reached takes the nearest ring's
        idx = np.flatnonzero(filled)
        grid = grid[idx[np.abs(np.arange(len(ts))[:, None] - idx[None]).argmin(axis=1)]]
    grid = np.maximum.reduce([np.roll(grid, k, axis=1) for k in (-1, 0, 1)])
    grid = np.maximum.reduce([grid, np.vstack([grid[:1], grid[:-1]]), np.vstack([grid[1:], grid[-1:]])])
    return grid, b1, b2


def _tube(origin: np.ndarray, axis: np.ndarray, b1: np.ndarray, b2: np.ndarray, ts: np.ndarray,
          radius: np.ndarray, caps: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rings of `radius` [R, A] around the axis, faces outward; caps = (overhang at the start,
    at the end) closes both ends with a fan to a point that far beyond the end ring."""
    n_rings, n_around = radius.shape
    theta = (np.arange(n_around) + 0.5) / n_around * 2 * np.pi - np.pi  # [A]
    direction = np.cos(theta)[:, None] * b1 + np.sin(theta)[:, None] * b2  # [A, 3]
    v = origin + ts[:, None, None] * axis + radius[..., None] * direction[None]  # [R, A, 3]
    v = v.reshape(-1, 3)
    i = np.arange(n_rings - 1)[:, None] * n_around
    a0 = np.arange(n_around)[None]
    a1 = (a0 + 1) % n_around
    q00, q01, q10, q11 = i + a0, i + a1, i + n_around + a0, i + n_around + a1
    # theta grows from b1 towards b2 = axis x b1: counter-clockwise seen from the axis' tip.
    f = [np.stack([q00, q01, q10], -1).reshape(-1, 3), np.stack([q01, q11, q10], -1).reshape(-1, 3)]
    if caps is not None:
        ring = np.arange(n_around)
        for end, over, flip in ((0, -caps[0], True), (n_rings - 1, caps[1], False)):
            tip = v[end * n_around + ring].mean(axis=0) + over * axis
            k = len(v)
            v = np.vstack([v, tip])
            fan = np.stack([end * n_around + ring, end * n_around + (ring + 1) % n_around,
                            np.full(n_around, k)], -1)
            f.append(fan[:, ::-1] if flip else fan)
    return v, np.concatenate(f)


def _grow(mask: np.ndarray, f: np.ndarray, rings: int) -> np.ndarray:
    """`mask` [V] grown by `rings` edges over the faces f."""
    mask = mask.copy()
    for _ in range(rings):
        mask[f[mask[f].any(axis=1)].reshape(-1)] = True
    return mask


def _taubin(v: np.ndarray, f: np.ndarray, rounds: int) -> np.ndarray:
    """Taubin's lambda|mu smoothing (lambda 0.5, mu -0.53): smooths without shrinking."""
    lap = _adjacency(len(v), f)
    for _ in range(rounds):
        v = v + 0.5 * (lap @ v - v)
        v = v - 0.53 * (lap @ v - v)
    return v


def _bump(v: np.ndarray, centre: np.ndarray, radius: float, height: float, direction: np.ndarray) -> np.ndarray:
    """Push vertices near `centre` along `direction` by a Gaussian of the given height."""
    d2 = ((v - centre) ** 2).sum(axis=1)
    return v + height * np.exp(-d2 / (2 * radius**2))[:, None] * direction


# ----------------------------------------------------------------------------- garments


def _upper(fit: _Fit, rng: np.random.Generator, sleeve: float, hem_y: float, base: float, cuff_flare: float,
           max_faces: int):
    """Torso and sleeves down to `hem_y` with sleeves to `sleeve` (0 = shoulder, 2 = wrist)."""
    # Everything at or above the hem but the head and the arms (hip vertices the thighs weigh
    # most on included: a mask by bone alone leaves holes there).
    torso = ~fit.of("head", "neck_01", *_ARMS) & (fit.v[:, 1] >= hem_y)
    offset = np.full(len(fit.v), base)
    up = np.array([0.0, 1.0, 0.0])
    hems: list[Hem] = [(np.array([0.0, hem_y, 0.0]), up, np.inf)]
    for s in ("l", "r"):
        a, b = (f"upperarm_{s}", f"lowerarm_{s}") if sleeve <= 1.0 else (f"lowerarm_{s}", f"hand_{s}")
        bone = fit.p(b) - fit.p(a)
        cuff = fit.p(a) + (sleeve if sleeve <= 1.0 else sleeve - 1.0) * bone
        hems.append((cuff, -bone / np.linalg.norm(bone), 0.12))
        arm_t = np.where(fit.along(f"upperarm_{s}", f"lowerarm_{s}") <= 1.0,
                         fit.along(f"upperarm_{s}", f"lowerarm_{s}"),
                         1.0 + fit.along(f"lowerarm_{s}", f"hand_{s}"))
        arm = fit.of(f"upperarm_{s}", f"lowerarm_{s}") & (arm_t <= sleeve)
        torso |= arm
        # A sleeve loosens towards its cuff: bell sleeves on a robe.
        ramp = np.clip((arm_t - max(sleeve - 0.8, 0.0)) / 0.8, 0.0, 1.0)
        offset = np.where(arm, base + cuff_flare * ramp**2, offset)
    # Smooth enough that cloth hides muscle definition and the navel, not the figure.
    return _shell(fit, torso, offset, smooth=10, max_faces=max_faces, normal_smooth=3, hems=hems)


def _tunic(fit: _Fit, rng: np.random.Generator, outfit: Sequence[str]):
    sleeve = float(rng.choice([0.35, 1.0, 1.85]))  # short, to the elbow, long
    long_hem = bool(rng.random() < 0.5)
    base = float(rng.uniform(0.009, 0.014))
    hip = fit.p("thigh_l")[1]
    if not long_hem:
        hem_y = hip - rng.uniform(0.0, 0.04)
        v, f, covered = _upper(fit, rng, sleeve, hem_y, base, 0.0, 3600)
        return [(v, f)], covered, None
    top = hip + 0.04
    v, f, covered = _upper(fit, rng, sleeve, top - 0.05, base, 0.0, 3200)
    knee = fit.p("calf_l")[1]
    hem = knee + rng.uniform(0.35, 0.6) * (hip - knee)
    legs = fit.of("pelvis", "spine_01", "thigh_l", "thigh_r", "calf_l", "calf_r")
    sv, sf = _skirt(fit, legs, top, hem, base - 0.003, base + 0.008, rng.uniform(0.05, 0.2))
    return [(v, f), (sv, sf)], covered, ("skirt", len(v), top, hem)


def _robe(fit: _Fit, rng: np.random.Generator, outfit: Sequence[str]):
    base = float(rng.uniform(0.010, 0.016))
    waist = fit.p("spine_01")[1] + rng.uniform(-0.02, 0.04)
    v, f, covered = _upper(fit, rng, float(rng.uniform(1.8, 1.95)), waist - 0.05, base, rng.uniform(0.0, 0.05), 3400)
    hem = fit.p("foot_l")[1] + rng.uniform(-0.04, 0.08)
    legs = fit.of("pelvis", "spine_01", "thigh_l", "thigh_r", "calf_l", "calf_r", "foot_l", "foot_r")
    sv, sf = _skirt(fit, legs, waist, max(hem, 0.02), base - 0.003, base + 0.01, rng.uniform(0.03, 0.15),
                    ring_m=0.04, n_around=48)
    return [(v, f), (sv, sf)], covered, ("skirt", len(v), waist, hem)


def _trousers(fit: _Fit, rng: np.random.Generator, outfit: Sequence[str]):
    waist = fit.p("spine_01")[1] + rng.uniform(-0.02, 0.03)
    ankle, knee = fit.p("foot_l")[1], fit.p("calf_l")[1]
    cuff = ankle + rng.uniform(0.03, 0.12) if rng.random() < 0.8 else knee - rng.uniform(0.02, 0.08)
    mask = ~fit.of(*_ARMS) & (fit.v[:, 1] <= waist) & (fit.v[:, 1] >= cuff)
    base = float(rng.uniform(0.006, 0.009))
    bag = float(rng.uniform(0.0, 0.02))  # baggy legs widen below the knee
    ramp = np.clip((knee - fit.v[:, 1]) / max(knee - ankle, 1e-3), 0.0, 1.0)
    up = np.array([0.0, 1.0, 0.0])
    hems = [(np.array([0.0, waist, 0.0]), -up, np.inf), (np.array([0.0, cuff, 0.0]), up, np.inf)]
    v, f, covered = _shell(fit, mask, base + bag * ramp, smooth=3, max_faces=2400, hems=hems)
    return [(v, f)], covered, None


def _boots(fit: _Fit, rng: np.random.Generator, outfit: Sequence[str]):
    """Per foot: a lofted tube from heel to toe (capped both ends: it spans the gaps between
    the toes, which a shell falls into) and a shaft around the shin from the ankle to `top`."""
    ankle_y, knee_y = fit.p("foot_l")[1], fit.p("calf_l")[1]
    top = ankle_y + rng.uniform(0.06, 0.85) * (knee_y - ankle_y)
    thick = float(rng.uniform(0.010, 0.016))
    sole = float(rng.uniform(0.007, 0.012))
    up = np.array([0.0, 1.0, 0.0])
    parts = []
    for s in ("l", "r"):
        ankle, ball = fit.p(f"foot_{s}"), fit.p(f"ball_{s}")
        foot = fit.of(f"foot_{s}", f"ball_{s}") & (fit.v[:, 1] < ankle[1] + 0.03)
        d = (ball - ankle) * [1.0, 0.0, 1.0]
        d /= np.linalg.norm(d)
        origin = ankle * [1.0, 0.0, 1.0] + [0.0, 0.45 * ankle[1], 0.0]
        t = (fit.v[foot] - origin) @ d
        ts = np.linspace(t.min(), t.max(), 14)
        radius, b1, b2 = _envelope(fit.v[foot], origin, d, up, ts, 20)
        v, f = _tube(origin, d, b1, b2, ts, radius + thick, caps=(thick, thick))
        v[:, 1] = np.maximum(v[:, 1], -sole)  # a flat sole (each ring is convex below the axis)
        parts.append((v, f))
        shin = fit.of(f"calf_{s}", f"foot_{s}") & (fit.v[:, 1] > ankle[1] - 0.03) & (fit.v[:, 1] < top + 0.03)
        centre = ankle * [1.0, 0.0, 1.0]
        ys = np.linspace(top, ankle[1] - 0.005, max(3, int(np.ceil((top - ankle[1]) / 0.03)) + 1))
        radius, b1, b2 = _envelope(fit.v[shin], centre, -up, np.array([0.0, 0.0, 1.0]), -ys, 20)
        parts.append(_tube(centre, -up, b1, b2, -ys, radius + thick + 0.004))
    region = fit.of("foot_l", "foot_r", "ball_l", "ball_r", "calf_l", "calf_r") & (fit.v[:, 1] <= top)
    covered = _interior(fit, _region_faces(fit, region), rings=3)
    return parts, covered, None


def _head_level(fit: _Fit, t: float) -> float:
    """Height a fraction t of the way from the chin (0) to the crown (1)."""
    return fit.chin + t * (fit.head_top - fit.chin)


def _face_hole(fit: _Fit, width: float, bottom: float, top: float) -> np.ndarray:
    """Mask [W] of the face: front vertices inside an ellipse seen from the front, `width` a
    fraction of the head's half width, `bottom`/`top` head levels (see _head_level)."""
    x = (fit.v[:, 0] - fit.p("head")[0]) / (width * fit.head_half_width)
    y0, y1 = _head_level(fit, bottom), _head_level(fit, top)
    y = (fit.v[:, 1] - (y0 + y1) / 2) / ((y1 - y0) / 2)
    front = fit.v[:, 2] > fit.p("head")[2] + 0.25 * (fit.head_front - fit.p("head")[2])
    return front & (x**2 + y**2 < 1.0)


def _ears(fit: _Fit) -> np.ndarray:
    """Mask [W] of the ears: the sides of the head between cheekbone and temple heights."""
    y = fit.v[:, 1]
    side = np.abs(fit.v[:, 0] - fit.p("head")[0]) > 0.8 * fit.head_half_width
    return fit.of("head") & side & (y > _head_level(fit, 0.25)) & (y < _head_level(fit, 0.62))


def _hood(fit: _Fit, rng: np.random.Generator, outfit: Sequence[str]):
    head = fit.p("head")
    neck = fit.p("neck_01")
    cowl = fit.of("spine_03", "clavicle_l", "clavicle_r", "upperarm_l", "upperarm_r")
    cowl &= fit.v[:, 1] > neck[1] - rng.uniform(0.06, 0.12)
    face = _face_hole(fit, rng.uniform(0.75, 0.95), -0.3, rng.uniform(0.8, 0.9))
    mask = (fit.of("head", "neck_01") | cowl) & ~face
    loose = float(rng.uniform(0.022, 0.04))
    # Room for the ears, a soft swell over each (a hard-edged one would print a disc).
    offset = np.full(len(fit.v), loose)
    ears = _ears(fit)
    for side in (fit.v[:, 0] > fit.p("head")[0], fit.v[:, 0] <= fit.p("head")[0]):
        if (ears & side).any():
            d2 = ((fit.v - fit.v[ears & side].mean(axis=0)) ** 2).sum(axis=1)
            offset += 0.015 * np.exp(-d2 / (2 * 0.04**2))
    v, f, covered = _shell(fit, mask, offset, smooth=30, max_faces=2200, normal_smooth=10, fill=ears)
    if rng.random() < 0.5:  # a pointed hood: a peak behind the crown
        tip = np.array([head[0], fit.head_top + 0.01, fit.head_back - 0.01])
        v = _bump(v, tip, 0.05, rng.uniform(0.03, 0.07), np.array([0.0, 0.5, -0.87]))
    return [(v, f)], covered, None


def _helmet(fit: _Fit, rng: np.random.Generator, outfit: Sequence[str]):
    head = fit.p("head")
    full = bool(rng.random() < 0.4)
    # The rim runs from the brow (or the jaw, for a full helmet) down to the nape behind.
    s = np.clip((fit.v[:, 2] - fit.head_back) / (fit.head_front - fit.head_back), 0.0, 1.0)
    front, back = (0.25, 0.1) if full else (rng.uniform(0.6, 0.66), rng.uniform(0.3, 0.4))
    rim = _head_level(fit, back + (front - back) * s)
    mask = fit.of("head", "neck_01") & (fit.v[:, 1] > rim)
    if full:
        mask &= ~_face_hole(fit, 0.7, 0.05, 0.75)
    v, f, covered = _shell(fit, mask, np.full(len(fit.v), rng.uniform(0.012, 0.02)), smooth=30, max_faces=1800,
                           normal_smooth=10, fill=_ears(fit))
    if rng.random() < 0.5:  # a crest along the midline
        for t in np.linspace(-0.08, 0.08, 9):
            v = _bump(v, np.array([head[0], fit.head_top, head[2] + t]), 0.012, 0.012, np.array([0.0, 1.0, 0.0]))
    return [(v, f)], covered, None


def _hair(fit: _Fit, rng: np.random.Generator, outfit: Sequence[str]):
    head = fit.p("head")
    style = str(rng.choice(["short", "long", "bun"]))
    if "hood" in outfit or "helmet" in outfit:
        style = "short"  # a bun or a mane under a helmet would only crumple it
    z_front, z_back = fit.head_front, fit.head_back
    s = np.clip((fit.v[:, 2] - z_back) / (z_front - z_back), 0.0, 1.0)
    # The hairline: low at the nape, high over the forehead.
    line = _head_level(fit, 0.1 + rng.uniform(0.65, 0.75) * s**1.5)
    mask = fit.of("head", "neck_01") & (fit.v[:, 1] > line) & ~_face_hole(fit, 0.8, 0.0, 0.85)
    mask &= ~_ears(fit)  # ears stick out of the hair
    offset = np.full(len(fit.v), rng.uniform(0.006, 0.014))
    if style == "long":  # down the back of the neck to the shoulder blades
        neck = fit.p("neck_01")
        length = neck[1] - rng.uniform(0.05, 0.2)
        half = rng.uniform(0.8, 1.3) * fit.head_half_width  # as wide as the head, or a little more
        # Its lower end is rounded: half an ellipse below the nape.
        depth = np.clip((neck[1] - fit.v[:, 1]) / (neck[1] - length), 0.0, 1.0)
        back = fit.of("neck_01", "spine_03", "head") & (fit.v[:, 2] < neck[2] - 0.01)
        back &= (fit.v[:, 1] > length) & (np.abs(fit.v[:, 0] - head[0]) < half * np.sqrt(1.0 - depth**2))
        mask |= back
        offset = offset + 0.03 * np.clip((head[1] - fit.v[:, 1]) / 0.2, 0.0, 1.0)
    v, f, covered = _shell(fit, mask, offset, smooth=12, max_faces=1600, normal_smooth=6)
    parts = [(v, f)]
    if style == "bun":
        import trimesh  # only for its icosphere

        r = float(rng.uniform(0.035, 0.05))
        ball = trimesh.creation.icosphere(subdivisions=2, radius=r)
        # Sits on the back of the head: its centre half a radius out from the skin there.
        y = _head_level(fit, rng.uniform(0.7, 0.9))
        near = fit.of("head") & (np.abs(fit.v[:, 1] - y) < 0.01) & (np.abs(fit.v[:, 0] - head[0]) < 0.02)
        back = fit.v[near][np.argmin(fit.v[near, 2])] if near.any() else np.array([head[0], y, z_back])
        centre = back + [0.0, 0.0, -0.5 * r]
        parts.append((np.asarray(ball.vertices) + centre, np.asarray(ball.faces, np.int64)))
    return parts, covered, None


_BUILDERS = {
    "trousers": (_trousers, ("fabric", "wool", "leather")),
    "boots": (_boots, ("leather",)),
    "tunic": (_tunic, ("fabric", "wool")),
    "robe": (_robe, ("wool", "fabric")),
    "hair": (_hair, ("hair",)),
    "hood": (_hood, ("wool", "fabric")),
    "helmet": (_helmet, ("metal",)),
}
assert set(_BUILDERS) == set(GARMENTS) == set(_LAYER)
assert all(m in MATERIALS for _, ms in _BUILDERS.values() for m in ms)


# ----------------------------------------------------------------------------- finishing


def _push_out(v: np.ndarray, colliders: list[tuple[cKDTree, np.ndarray, np.ndarray, float]],
              rounds: int = 8, k: int = 6, reach: float = 0.05,
              only: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Move each vertex out until it is each collider's gap outside the tangent planes of its k
    nearest vertices, on the body (colliders[0]) and on every other collider within `reach`
    (k > 1 matters in creases, where one plane is not enough); colliders are (tree, points,
    normals, gap). Each round pushes along the plane that is short by most. `only`: the
    vertex indices to check (default all). -> (v, mask of the vertices moved)."""
    boxes = [(-np.inf, np.inf)] + [(c[1].min(axis=0) - reach, c[1].max(axis=0) + reach) for c in colliders[1:]]
    reaches = [np.inf] + [reach] * (len(colliders) - 1)  # the body always counts
    active = np.arange(len(v)) if only is None else np.asarray(only, np.int64)
    moved = np.zeros(len(v), bool)
    for _ in range(rounds):  # only the vertices moved last round can still be short
        a = v[active]
        short = np.zeros(len(a))
        normal = np.zeros_like(a)
        for (tree, pts, nrm, g), within, (lo, hi) in zip(colliders, reaches, boxes, strict=True):
            near = np.flatnonzero(((a >= lo) & (a <= hi)).all(axis=1))  # a boot is far from a helmet
            if len(near) == 0:
                continue
            b = a[near]
            dist, i = tree.query(b, k=k)
            dist, i = dist.reshape(len(b), k), i.reshape(len(b), k)  # [B, k]
            need = g - ((b[:, None] - pts[i]) * nrm[i]).sum(axis=2)  # [B, k]
            # Planes facing away from the nearest one are the far side of a thin part (a toe),
            # and far vertices say nothing about this surface here.
            same_side = (nrm[i] * nrm[i[:, :1]]).sum(axis=2) > 0.0
            need = np.where(same_side & (dist < within), need, -np.inf)
            worst = need.argmax(axis=1)
            need = need[np.arange(len(b)), worst]
            more = need > short[near]
            short[near[more]] = need[more]
            normal[near[more]] = nrm[i[more, worst[more]]]
        move = short > 0
        if not move.any():
            break
        v[active[move]] += short[move, None] * normal[move]
        active = active[move]
        moved[active] = True
    return v, moved


def _skin(fit: _Fit, v: np.ndarray, k: int = 4) -> np.ndarray:
    """Dense weights [N, J] from the k nearest body vertices, inverse-distance blended."""
    dist, idx = fit.tree.query(v, k=k)
    idw = 1.0 / np.maximum(dist, 1e-4) ** 2  # [N, k]
    idw /= idw.sum(axis=1, keepdims=True)
    dense = np.zeros((len(v), fit.n_joints))
    rows = np.repeat(np.arange(len(v)), k * 4)
    np.add.at(dense, (rows, fit.bj[idx].reshape(-1)), (fit.bw[idx] * idw[..., None]).reshape(-1))
    return dense


def _skirt_weights(fit: _Fit, dense: np.ndarray, v: np.ndarray, top: float, hem: float) -> np.ndarray:
    """Where a skirt lies on a leg it follows that thigh (not the calf: it does not bend at the
    knee); where it spans the gap between the legs or flares away from them it follows the
    pelvis and both thighs by side, the thighs more towards the hem, so a stride neither
    tears it between the legs nor pushes a knee through it."""
    pel, tl, tr = fit.j("pelvis"), fit.j("thigh_l"), fit.j("thigh_r")
    near = dense.copy()
    for s, thigh in (("l", tl), ("r", tr)):
        for below in (f"calf_{s}", f"foot_{s}", f"ball_{s}"):
            near[:, thigh] += 0.5 * near[:, fit.j(below)]
            near[:, fit.j(below)] *= 0.5
    half = max(abs(fit.p("thigh_l")[0] - fit.p("thigh_r")[0]), 0.05)
    side = np.clip((v[:, 0] - fit.p("pelvis")[0]) / half, -1.0, 1.0)  # +1 = left leg
    # 0 at the waist to 0.85 from the knees down: a thigh swings the skirt over it soon below
    # the hip, or its front pokes through.
    knee = fit.p("calf_l")[1]
    follow = 0.85 * np.clip((top - v[:, 1]) / max(top - max(knee, hem), 1e-3), 0.0, 1.0) ** 0.7
    span = np.zeros_like(dense)
    span[:, pel] = 1.0 - follow
    span[:, tl] = follow * 0.5 * (1.0 + side)
    span[:, tr] = follow * 0.5 * (1.0 - side)
    gap, _ = fit.tree.query(v)
    away = np.clip((gap - 0.02) / 0.06, 0.0, 1.0)[:, None]  # 0 on the leg .. 1 six cm off it
    return (1.0 - away) * near + away * span


def _top4(dense: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-dense, axis=1, kind="stable")[:, :4]  # [N, 4]
    w = np.take_along_axis(dense, order, axis=1)
    w = np.where(w > 1e-3, w, 0.0)
    w /= w.sum(axis=1, keepdims=True)
    w = w.astype(np.float32)
    w[:, 0] += 1.0 - w.sum(axis=1)  # float32 rounding goes to the largest weight
    return order.astype(np.uint16), w


def _part_axes(fit: _Fit) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, tuple[str, ...]]]:
    """(origin, axis, forward reference, joints) of each body part a cylinder unwraps."""
    fwd = np.array([0.0, 0.0, 1.0])
    up = np.array([0.0, 1.0, 0.0])
    axes = [(fit.p("pelvis"), up, fwd, ("Root", "pelvis", "spine_01", "spine_02", "spine_03", "clavicle_l",
                                          "clavicle_r")),
            (fit.p("head"), up, fwd, ("neck_01", "head"))]
    for s in ("l", "r"):
        a = fit.p(f"hand_{s}") - fit.p(f"upperarm_{s}")
        axes.append((fit.p(f"upperarm_{s}"), a / np.linalg.norm(a), fwd, (f"upperarm_{s}", f"lowerarm_{s}",
                                                                          f"hand_{s}")))
        axes.append((fit.p(f"thigh_{s}"), up, fwd, (f"thigh_{s}", f"calf_{s}", f"foot_{s}", f"ball_{s}")))
    return axes


def _unwrap(fit: _Fit, v: np.ndarray, f: np.ndarray, joints: np.ndarray):
    """Cylindrical UVs in metres per body part; vertices are split where parts meet and at
    each cylinder's back seam -> (vertices, faces, uvs, index of the source vertex)."""
    axes = _part_axes(fit)
    part_of_joint = np.zeros(fit.n_joints, np.int64)
    for p, (*_, names) in enumerate(axes):
        for n in names:
            if n in fit.names:
                part_of_joint[fit.names.index(n)] = p
    face_part = part_of_joint[joints[f, 0].astype(np.int64)]  # [F, 3]
    # A face belongs to the part most of its corners follow (ties: the first corner's).
    same01, same12 = face_part[:, 0] == face_part[:, 1], face_part[:, 1] == face_part[:, 2]
    face_part = np.where(same01 | ~same12, face_part[:, 0], face_part[:, 1])
    out_v, out_f, out_uv, out_src = [], [], [], []
    count = 0
    for p, (origin, axis, ref, _) in enumerate(axes):
        fp = f[face_part == p]
        if len(fp) == 0:
            continue
        used, local = np.unique(fp, return_inverse=True)
        local = local.reshape(fp.shape)
        rel = v[used] - origin
        s = rel @ axis
        radial = rel - s[:, None] * axis
        b1 = ref - (ref @ axis) * axis
        b1 /= np.linalg.norm(b1)
        b2 = np.cross(axis, b1)
        theta = np.arctan2(radial @ b2, radial @ b1)  # 0 in front, the seam at the back
        r = float(np.median(np.linalg.norm(radial, axis=1)))
        src = used
        wrap = np.ptp(theta[local], axis=1) > np.pi  # faces across the back seam
        if wrap.any():
            lw = local[wrap]
            neg = np.unique(lw[theta[lw] < 0])
            dup = np.full(len(used), -1)
            dup[neg] = len(used) + np.arange(len(neg))
            theta = np.concatenate([theta, theta[neg] + 2 * np.pi])
            s = np.concatenate([s, s[neg]])
            src = np.concatenate([used, used[neg]])
            local[wrap] = np.where(theta[lw] < 0, dup[lw], lw)
        out_v.append(v[src])
        out_uv.append(np.stack([theta * r, -s], axis=1))
        out_src.append(src)
        out_f.append(local + count)
        count += len(src)
    v_all, f_all, uv_all, src_all = (np.concatenate(x) for x in (out_v, out_f, out_uv, out_src))
    used, f_all = np.unique(f_all, return_inverse=True)  # a seam can leave an original unused
    return v_all[used], f_all.reshape(-1, 3), uv_all[used], src_all[used]


def dress(body: Body, outfit: Sequence[str], rng: np.random.Generator) -> list[Garment]:
    """Make each garment of `outfit` on `body` (rest pose), inner layers first.

    Deterministic for a given body and rng state. Raises ValueError for a garment name not
    in GARMENTS or a body without the joints clothing needs.
    """
    unknown = [g for g in outfit if g not in _BUILDERS]
    if unknown:
        raise ValueError(f"unknown garment(s) {', '.join(map(repr, unknown))}; garments: {', '.join(GARMENTS)}")
    if len(set(outfit)) != len(outfit):
        raise ValueError(f"outfit names a garment twice: {list(outfit)}")
    fit = _Fit(body)
    colliders = [(fit.tree, fit.v, fit.n, SKIN_GAP_M + PLANE_SLACK_M)]
    out = []
    for name in sorted(outfit, key=lambda g: _LAYER[g]):
        build, materials = _BUILDERS[name]
        material = str(rng.choice(materials))
        parts, covered, skirt = build(fit, rng, outfit)
        v = np.concatenate([p[0] for p in parts]).astype(np.float64)
        offsets = np.cumsum([0] + [len(p[0]) for p in parts])
        f = np.concatenate([p[1] + o for p, o in zip(parts, offsets[:-1], strict=True)]).astype(np.int64)
        v, moved = _push_out(v, colliders)
        if moved.any():  # the push moves vertices one by one: even out around them, check again
            near = _grow(moved, f, 2)
            v[near] = _taubin(v, f, 2)[near]
            v, _ = _push_out(v, colliders, only=np.flatnonzero(near))
        dense = _skin(fit, v)
        if skirt is not None:
            _, first, top, hem = skirt
            dense[first:] = _skirt_weights(fit, dense[first:], v[first:], top, hem)
        joints, weights = _top4(dense)
        colliders.append((cKDTree(v), v, _vertex_normals(v, f), LAYER_GAP_M + PLANE_SLACK_M))
        uv_v, uv_f, uvs, src = _unwrap(fit, v, f, joints)
        hides = np.flatnonzero(np.isin(fit.weld, covered) & (fit.weld >= 0)).astype(np.int64)
        out.append(Garment(name=name, vertices=uv_v.astype(np.float32), faces=uv_f.astype(np.uint32),
                           uvs=uvs.astype(np.float32), material=material, joints=joints[src],
                           weights=weights[src], hides=hides))
        log.debug("dressed %s: %d vertices, %d faces, hides %d", name, len(uv_v), len(uv_f), len(hides))
    return out
