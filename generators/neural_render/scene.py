"""A renderable scene: generated props placed on a floor, one area light, a sky; and cameras.

Both renderers (`gbuffer` for the neural shader, `reference` for the offline truth) cast rays
into the same Open3D `RaycastingScene` (Embree) built here, and read surfaces through
`Scene.surface`: the shading normal (vertex normals interpolated with the hit's barycentrics),
the texture coordinate (through `primitive_uvs`), and the material's maps at that point.

Lighting is fixed in world space (the network learns this scene setup, not arbitrary lights):
a "sun" that is an area light of `SUN_ANGLE_DEG` angular radius (soft shadows), and a sky of
constant radiance seen through the hemisphere (ambient occlusion, one bounce of indirect).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import open3d as o3d

from generators.core.asset import Asset
from generators.texture.pbr import srgb_to_linear

SUN_DIR = np.array([0.45, 0.8, 0.4]) / np.linalg.norm([0.45, 0.8, 0.4])  # towards the sun
SUN_ANGLE_DEG = 9.0  # angular radius of the sun disc: penumbrae a few cm wide at 1 m
SUN_RADIANCE = np.array([3.2, 3.0, 2.7], np.float32)  # irradiance / pi on a facing surface
SKY_RADIANCE = np.array([0.36, 0.42, 0.55], np.float32)  # the sky, uniform over the hemisphere
FLOOR_ALBEDO = np.array([0.26, 0.25, 0.23], np.float32)  # linear; a neutral stone floor
FLOOR_ROUGHNESS = 0.85
FLOOR_HALF_M = 12.0  # the floor is a 24 m square around the origin
TEXTURE_SIZE = 256  # material maps are box-filtered to this before lookup (a cheap mip level)
MAX_OBJECTS = 255  # object ids are a uint8 channel; 0 is the floor


@dataclass(frozen=True)
class Placement:
    """Where one asset stands: on the floor at (x, z), turned `yaw_deg` about +Y."""

    x: float = 0.0
    z: float = 0.0
    yaw_deg: float = 0.0

    def matrix(self) -> np.ndarray:
        c, s = math.cos(math.radians(self.yaw_deg)), math.sin(math.radians(self.yaw_deg))
        m = np.eye(4)
        m[:3, :3] = [[c, 0, s], [0, 1, 0], [-s, 0, c]]
        m[:3, 3] = [self.x, 0.0, self.z]
        return m


@dataclass(frozen=True)
class Camera:
    """A pinhole camera: `fov_y_deg` is the vertical field of view."""

    eye: tuple[float, float, float]
    target: tuple[float, float, float]
    up: tuple[float, float, float] = (0.0, 1.0, 0.0)
    fov_y_deg: float = 45.0

    def basis(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(right, up, forward) unit vectors; ValueError when eye == target or up is parallel."""
        f = np.asarray(self.target, np.float64) - np.asarray(self.eye, np.float64)
        if np.linalg.norm(f) < 1e-9:
            raise ValueError("eye and target coincide")
        f /= np.linalg.norm(f)
        r = np.cross(f, np.asarray(self.up, np.float64))
        if np.linalg.norm(r) < 1e-6:
            raise ValueError("up is parallel to the viewing direction")
        r /= np.linalg.norm(r)
        return r, np.cross(r, f), f

    def rays(self, width: int, height: int) -> np.ndarray:
        """[H, W, 6] float32 rays (origin, unit direction) through pixel centres, row 0 on top."""
        basis = np.stack(self.basis()).astype(np.float32)  # rows: right, up, forward
        out = np.empty((height, width, 6), np.float32)
        out[..., :3] = np.asarray(self.eye, np.float32)
        out[..., 3:] = _camera_directions(width, height, round(self.fov_y_deg, 6)) @ basis
        return out


@functools.lru_cache(maxsize=16)
def _camera_directions(width: int, height: int, fov_y_deg: float) -> np.ndarray:
    """[H, W, 3] unit directions in camera space (x right, y up, z forward)."""
    t = math.tan(math.radians(fov_y_deg) / 2)
    xs = ((np.arange(width) + 0.5) / width * 2 - 1) * t * width / height
    ys = (1 - (np.arange(height) + 0.5) / height * 2) * t
    d = np.stack(np.broadcast_arrays(xs[None, :], ys[:, None], np.ones((1, 1))), -1)
    d = (d / np.linalg.norm(d, axis=-1, keepdims=True)).astype(np.float32)
    d.setflags(write=False)
    return d


def orbit_camera(center: np.ndarray, radius: float, azimuth_deg: float, elevation_deg: float,
                 fov_y_deg: float = 45.0, distance_scale: float = 1.0) -> Camera:
    """A camera on a sphere around `center` that frames a bounding sphere of `radius`."""
    dist = distance_scale * radius / math.sin(math.radians(fov_y_deg) / 2)
    az, el = math.radians(azimuth_deg), math.radians(elevation_deg)
    eye = center + dist * np.array([math.cos(el) * math.sin(az), math.sin(el),
                                    math.cos(el) * math.cos(az)])
    return Camera(tuple(map(float, eye)), tuple(map(float, center)), (0.0, 1.0, 0.0), fov_y_deg)


def _box_filter(img: np.ndarray, size: int) -> np.ndarray:
    """[S, S, C] -> [size, size, C] by averaging S/size blocks (S a multiple of size)."""
    s = img.shape[0]
    if s <= size or s % size:
        return img
    k = s // size
    return img.reshape(size, k, size, k, -1).mean(axis=(1, 3))


@dataclass
class _Object:
    vertices: np.ndarray  # [V, 3] world
    faces: np.ndarray  # [F, 3]
    normals: np.ndarray  # [V, 3] world
    uvs: np.ndarray | None  # [V, 2]
    albedo: np.ndarray  # [T, T, 3] linear, or [1, 1, 3] constant
    rough_metal: np.ndarray  # [T, T, 2] (roughness, metal), or [1, 1, 2]


def _material_maps(asset: Asset) -> tuple[np.ndarray, np.ndarray]:
    mat = asset.material
    if mat is None:
        return np.full((1, 1, 3), 0.6, np.float32), np.array([[[0.8, 0.0]]], np.float32)
    factor = np.asarray(mat.base_color[:3], np.float32)
    if mat.textures is None:
        return (factor.reshape(1, 1, 3),
                np.array([[[mat.roughness, mat.metallic]]], np.float32))
    tex = mat.textures
    albedo = srgb_to_linear(tex.base_color.astype(np.float32) / 255) * factor
    orm = tex.orm.astype(np.float32) / 255  # R occlusion, G roughness, B metal (glTF)
    rm = np.stack([orm[..., 1] * mat.roughness, orm[..., 2] * mat.metallic], axis=-1)
    return (_box_filter(albedo, TEXTURE_SIZE).astype(np.float32),
            _box_filter(rm, TEXTURE_SIZE).astype(np.float32))


class Scene:
    """Props on a floor, ready for ray casting. `objects` are (asset, placement) pairs; each
    asset's finest level of detail is used. Object id k + 1 is the k-th prop, 0 the floor."""

    def __init__(self, objects: Sequence[tuple[Asset, Placement]]):
        if not 1 <= len(objects) <= MAX_OBJECTS:
            raise ValueError(f"a scene holds 1 to {MAX_OBJECTS} objects, got {len(objects)}")
        self.rt = o3d.t.geometry.RaycastingScene()
        self.objects: list[_Object] = []
        h = FLOOR_HALF_M
        floor = _Object(
            vertices=np.array([[-h, 0, -h], [h, 0, -h], [h, 0, h], [-h, 0, h]], np.float32),
            faces=np.array([[0, 2, 1], [0, 3, 2]], np.uint32),
            normals=np.tile(np.array([0, 1, 0], np.float32), (4, 1)), uvs=None,
            albedo=FLOOR_ALBEDO.reshape(1, 1, 3),
            rough_metal=np.array([[[FLOOR_ROUGHNESS, 0.0]]], np.float32))
        self._add(floor)
        lo, hi = np.full(3, np.inf), np.full(3, -np.inf)
        for asset, place in objects:
            if not asset.meshes:
                raise ValueError(f"asset {asset.category} seed {asset.seed} has no mesh")
            mesh = asset.meshes[0]
            m = place.matrix()
            v = (mesh.vertices.astype(np.float64) @ m[:3, :3].T + m[:3, 3]).astype(np.float32)
            n = (mesh.normals.astype(np.float64) @ m[:3, :3].T).astype(np.float32)
            albedo, rm = _material_maps(asset)
            self._add(_Object(v, mesh.faces.astype(np.uint32), n, mesh.uvs, albedo, rm))
            lo, hi = np.minimum(lo, v.min(0)), np.maximum(hi, v.max(0))
        self.bounds = (lo, hi)
        self.center = (lo + hi) / 2
        self.radius = float(np.linalg.norm(hi - lo) / 2)
        self._build_tables()

    def _build_tables(self) -> None:
        """Every object's faces and maps in flat channel-major tables, so `surface` reads all
        hits with a few gathers instead of a pass per object. The roughness/metal map is
        resampled (nearest, as looked up) to the albedo map's size, so one texel index reads
        both. The last face and the last texel are zeros: a miss reads them."""
        faces, texels, base, off, size = [], [], [], [], []
        n_faces = n_texels = 0
        for obj in self.objects:
            s = obj.albedo.shape[0]  # 1: a constant, texel 0 whatever the uv
            uvs = obj.uvs if obj.uvs is not None and s > 1 else np.zeros(
                (len(obj.vertices), 2), np.float32)
            f = obj.faces.astype(np.int64)
            faces.append(np.concatenate([obj.normals[f].reshape(-1, 9),
                                         uvs[f].astype(np.float32).reshape(-1, 6)], 1))
            r = obj.rough_metal.shape[0]
            pick = np.arange(s) * r // s
            rm = obj.rough_metal[pick[:, None], pick[None, :]]  # [s, s, 2]
            texels.append(np.concatenate([obj.albedo, rm], -1).reshape(-1, 5))
            base.append(n_faces), off.append(n_texels), size.append(s)
            n_faces += len(f)
            n_texels += s * s
        # [15, F + 1]: 3 vertex normals (xyz each), then 3 vertex uvs, per face
        self._face_table = np.ascontiguousarray(
            np.concatenate(faces + [np.zeros((1, 15), np.float32)]).T, np.float32)
        # [5, T + 1]: linear albedo r, g, b, roughness, metal, per texel
        self._texel_table = np.ascontiguousarray(
            np.concatenate(texels + [np.zeros((1, 5), np.float32)]).T, np.float32)
        # Per geometry id, and one more entry for a miss.
        self._face_base = np.array(base + [n_faces], np.int64)
        self._texel_base = np.array(off + [n_texels], np.int64)
        self._tex_size = np.array(size + [1], np.int64)

    def _add(self, obj: _Object) -> None:
        gid = self.rt.add_triangles(o3d.core.Tensor(obj.vertices),
                                    o3d.core.Tensor(obj.faces.astype(np.uint32)))
        if gid != len(self.objects):
            raise RuntimeError("Open3D geometry ids are not sequential")
        self.objects.append(obj)

    def cast(self, rays: np.ndarray) -> dict[str, np.ndarray]:
        """Closest hits of [N, 6] rays: t_hit (inf on a miss), geometry_ids, primitive_ids,
        primitive_uvs, as numpy."""
        r = self.rt.cast_rays(o3d.core.Tensor(np.ascontiguousarray(rays, np.float32)))
        return {k: r[k].numpy() for k in ("t_hit", "geometry_ids", "primitive_ids",
                                          "primitive_uvs")}

    def occluded(self, rays: np.ndarray, tfar: float = np.inf) -> np.ndarray:
        """[N] bool: does anything block each ray within (1e-3, tfar)?"""
        r = self.rt.test_occlusions(o3d.core.Tensor(np.ascontiguousarray(rays, np.float32)),
                                    tnear=1e-3, tfar=float(tfar))
        return r.numpy().astype(bool)

    def surface(self, hit: dict[str, np.ndarray], idx: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Shading normals [n, 3] (unit; facing where the ray came from is the caller's
        business), linear albedo [n, 3] and (roughness, metal) [n, 2] at the hits `idx`
        (indices into `hit`'s arrays, all of which hit something); with `idx` None, at every
        ray of `hit`, zeros where it missed. The arrays are transposed views of channel-major
        [3, n] / [2, n] ones (`.T` gives those back without a copy)."""
        gids = hit["geometry_ids"]
        prims = hit["primitive_ids"]
        bary = hit["primitive_uvs"]
        if idx is not None:
            gids, prims, bary = gids[idx], prims[idx], bary[idx]
            obj = gids.astype(np.int64)
            face = self._face_base[obj] + prims
        else:
            miss = ~np.isfinite(hit["t_hit"])
            obj = np.where(miss, len(self.objects), gids).astype(np.int64)
            face = self._face_base[obj] + np.where(miss, 0, prims)
        f = [np.take(row, face) for row in self._face_table]  # 15 x [n]
        b1, b2 = np.ascontiguousarray(bary[:, 0]), np.ascontiguousarray(bary[:, 1])
        b0 = 1 - b1 - b2

        def lerp(k: int) -> np.ndarray:  # the barycentric mix of vertex attribute k
            return b0 * f[k] + b1 * f[k + 3] + b2 * f[k + 6]

        normal = np.stack([lerp(0), lerp(1), lerp(2)])  # [3, n]
        u = b0 * f[9] + b1 * f[11] + b2 * f[13]
        v = b0 * f[10] + b1 * f[12] + b2 * f[14]
        # Nearest texel, wrapped: the maps are tileable; glTF's v grows downwards (rows).
        size = self._tex_size[obj]
        fsize = size.astype(np.float32)
        col = (u * fsize).astype(np.int64) % size
        row = (v * fsize).astype(np.int64) % size
        texel = self._texel_base[obj] + row * size + col
        mat = np.stack([np.take(t, texel) for t in self._texel_table])  # [5, n]
        nx, ny, nz = normal
        normal /= np.maximum(np.sqrt(nx * nx + ny * ny + nz * nz), 1e-8)
        return normal.T, mat[0:3].T, mat[3:5].T


def sky_color(directions: np.ndarray) -> np.ndarray:
    """Linear radiance of the background seen along [n, 3] unit directions (a gradient that the
    lighting treats as the uniform SKY_RADIANCE), [n, 3]: the transposed view of a [3, n]
    array (per channel is 3x quicker than broadcasting over the last axis)."""
    s = np.sqrt(np.clip(np.clip(directions[:, 1], -1, 1), 0, 1))
    horizon = np.array([0.62, 0.64, 0.66], np.float32)
    top = SKY_RADIANCE * 1.1 - horizon
    return np.stack([(horizon[c] + top[c] * s).astype(np.float32) for c in range(3)]).T


def sun_directions(n: int, rng: np.random.Generator, stratified: int = 0) -> np.ndarray:
    """[n, 3] directions uniform over the sun's cone. With `stratified` = k, [n, k, 3]: k
    stratified directions per row (a sqrt(k) x sqrt(k) grid over the disc, jittered)."""
    cos_max = math.cos(math.radians(SUN_ANGLE_DEG))
    if stratified:
        g = math.isqrt(stratified)
        i, j = np.meshgrid(np.arange(g), np.arange(g), indexing="ij")
        base = np.stack([i.ravel(), j.ravel()], -1)[None]  # [1, k, 2]
        u = (base + rng.random((n, g * g, 2))) / g
    else:
        u = rng.random((n, 2))
    cos_t = 1 - u[..., 0] * (1 - cos_max)
    sin_t = np.sqrt(np.clip(1 - cos_t**2, 0, 1))
    phi = 2 * math.pi * u[..., 1]
    local = np.stack([sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t], -1)
    return (local @ _frame(SUN_DIR)).astype(np.float32)


def _frame(n: np.ndarray) -> np.ndarray:
    """[3, 3] rows (t, b, n): an orthonormal frame around one unit vector n."""
    a = np.array([1.0, 0, 0]) if abs(n[0]) < 0.9 else np.array([0, 1.0, 0])
    t = np.cross(n, a)
    t /= np.linalg.norm(t)
    return np.stack([t, np.cross(n, t), n])


def cosine_directions(normals: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Cosine-weighted hemisphere directions around [n, 3] normals from [n, k, 2] uniforms
    -> [n, k, 3] (the tangent frame is Duff et al. 2017's branchless one)."""
    nx, ny, nz = normals[:, 0:1], normals[:, 1:2], normals[:, 2:3]
    sign = np.where(nz >= 0, 1.0, -1.0).astype(np.float32)
    a = -1.0 / (sign + nz)
    b = nx * ny * a
    t = np.concatenate([1 + sign * nx * nx * a, sign * b, -sign * nx], 1)  # [n, 3]
    bt = np.concatenate([b, sign + ny * ny * a, -ny], 1)
    r = np.sqrt(u[..., 0:1])
    phi = (2 * math.pi) * u[..., 1:2]
    z = np.sqrt(np.clip(1 - u[..., 0:1], 0, 1))
    return ((r * np.cos(phi)) * t[:, None] + (r * np.sin(phi)) * bt[:, None]
            + z * normals[:, None]).astype(np.float32)
