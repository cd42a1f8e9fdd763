"""The hall's own pieces: box meshes (walls, floor, plinths, lecterns), plaster maps and the
placard labels, as `SceneNode`s the scene exporter writes."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from generators.core.asset import Material, Mesh, PBRSet
from generators.export.scene import SceneNode
from generators.gallery import layout as L
from generators.texture.pbr import encode_normal, to_uint8

# (normal, right, up) of each box face seen from outside: right x up = normal, up is world +Y
# on the sides, -Z on the top and +Z underneath (as generators.geometry.uv frames them).
_FACES = (
    ((1, 0, 0), (0, 0, -1), (0, 1, 0)),
    ((-1, 0, 0), (0, 0, 1), (0, 1, 0)),
    ((0, 1, 0), (1, 0, 0), (0, 0, -1)),
    ((0, -1, 0), (1, 0, 0), (0, 0, 1)),
    ((0, 0, 1), (1, 0, 0), (0, 1, 0)),
    ((0, 0, -1), (-1, 0, 0), (0, 1, 0)),
)
PLACARD_SIZE = (0.30, 0.20, 0.02)  # label slab width, height, thickness (metres)
PLACARD_TILT = math.radians(35)  # the slab leans back, as on a lectern
PLACARD_PIXELS = (256, 128)  # label texture width, height


def box(lo, hi, tile_m: float | None) -> Mesh:
    """An axis-aligned box from `lo` to `hi` with flat faces. UVs: world metres / `tile_m` (a
    tileable material keeps its real size on every face), or with `tile_m` None each face
    shows the whole texture once (labels)."""
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    centre, half = (lo + hi) / 2, (hi - lo) / 2
    verts, norms, uvs, faces = [], [], [], []
    for n, r, u in _FACES:
        n, r, u = (np.asarray(a, np.float64) for a in (n, r, u))
        corners = [centre + half * (n + sr * r + su * u) for sr, su in
                   ((-1, -1), (1, -1), (1, 1), (-1, 1))]
        base = len(verts)
        for (sr, su), p in zip(((-1, -1), (1, -1), (1, 1), (-1, 1)), corners):
            verts.append(p)
            norms.append(n)
            if tile_m is None:
                uvs.append(((sr + 1) / 2, (1 - su) / 2))
            else:
                uvs.append((p @ r / tile_m, -(p @ u) / tile_m))
        faces += [(base, base + 1, base + 2), (base, base + 2, base + 3)]
    return Mesh(vertices=np.asarray(verts, np.float32), faces=np.asarray(faces, np.uint32),
                normals=np.asarray(norms, np.float32), lod=0,
                uvs=np.asarray(uvs, np.float32))


def plaster(maps: PBRSet, tint: tuple[float, float, float]) -> PBRSet:
    """Painted plaster made from stone maps: the stone's variation kept faint under a tint,
    its relief flattened, matt."""
    c = maps.base_color.astype(np.float32) / np.float32(255.0)
    grey = c @ np.asarray((0.30, 0.59, 0.11), np.float32)
    shade = 1.0 + 0.12 * (grey - grey.mean())
    colour = np.asarray(tint, np.float32) * shade[..., None]
    n = maps.normal.astype(np.float32) / np.float32(127.5) - np.float32(1.0)
    n[..., :2] *= np.float32(0.25)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    orm = maps.orm.copy()
    orm[..., 0] = 255
    orm[..., 1] = 235
    orm[..., 2] = 0
    return PBRSet(base_color=to_uint8(np.clip(colour, 0.0, 1.0)), normal=encode_normal(n),
                  orm=orm)


def flat_material(name: str, maps_colour: np.ndarray, roughness: float) -> Material:
    """A material whose look is its base colour map alone (flat normal, no occlusion)."""
    h, w, _ = maps_colour.shape
    normal = np.empty((h, w, 3), np.uint8)
    normal[...] = (128, 128, 255)
    orm = np.empty((h, w, 3), np.uint8)
    orm[...] = (255, round(255 * roughness), 0)
    return Material(name, (1.0, 1.0, 1.0, 1.0), metallic=1.0, roughness=1.0,
                    textures=PBRSet(base_color=maps_colour, normal=normal, orm=orm))


_FONTS: dict[int, ImageFont.FreeTypeFont] = {}


def _font(size: int) -> ImageFont.FreeTypeFont:
    if size not in _FONTS:
        _FONTS[size] = ImageFont.load_default(size=size)  # Pillow's bundled font: same bytes
    return _FONTS[size]


def label_pixels(title: str, lines: list[str]) -> np.ndarray:
    """A placard's label: a title and a few small lines, dark on cream. [H, W, 3] uint8."""
    w, h = PLACARD_PIXELS
    img = Image.new("RGB", (w, h), (238, 232, 216))
    draw = ImageDraw.Draw(img)
    draw.rectangle((3, 3, w - 4, h - 4), outline=(120, 104, 80), width=2)
    draw.text((12, 10), title, fill=(30, 26, 22), font=_font(26))
    for k, line in enumerate(lines):
        draw.text((12, 46 + 18 * k), line, fill=(70, 62, 52), font=_font(14))
    return np.asarray(img, np.uint8).copy()


def placard(name: str, x: float, z: float, post: Material, label: Material) -> SceneNode:
    """A lectern at floor position (x, z): a square post and a label slab leaning back at its
    top, facing +Z (the entrance)."""
    pw, ph, pt = PLACARD_SIZE
    top = L.PLACARD_HEIGHT_M
    stem = SceneNode("post", mesh=box((-0.02, 0.0, -0.02), (0.02, top - 0.05, 0.02), 0.5),
                     material=post)
    # Rotation about X by -tilt: the slab's front (+Z) turns up towards the reader.
    q = (-math.sin(PLACARD_TILT / 2), 0.0, 0.0, math.cos(PLACARD_TILT / 2))
    slab = SceneNode("label", translation=(0.0, top - 0.05, 0.0), rotation=q,
                     mesh=box((-pw / 2, -ph / 2, -pt / 2), (pw / 2, ph / 2, pt / 2), None),
                     material=label)
    return SceneNode(name, translation=(x, 0.0, z), children=[stem, slab])


def shell(plan: L.Plan, floor: Material, walls: Material, floor_tile: float,
          wall_tile: float) -> SceneNode:
    """Floor, ceiling and four walls (the front and back ones with their doorways)."""
    W, D, H = plan.width, plan.depth, plan.height
    t = L.WALL_THICKNESS_M
    x0, x1, z0, z1 = -W / 2, W / 2, -D / 2, D / 2
    parts = [
        ("floor", (x0 - t, -0.1, z0 - t), (x1 + t, 0.0, z1 + t), floor, floor_tile),
        ("ceiling", (x0 - t, H, z0 - t), (x1 + t, H + 0.1, z1 + t), walls, wall_tile),
        ("wall-left", (x0 - t, 0.0, z0 - t), (x0, H, z1 + t), walls, wall_tile),
        ("wall-right", (x1, 0.0, z0 - t), (x1 + t, H, z1 + t), walls, wall_tile),
    ]
    for name, (zi, zo) in (("front", (z1, z1 + t)), ("back", (z0 - t, z0))):
        d0, d1 = -L.DOOR_WIDTH_M / 2, L.DOOR_WIDTH_M / 2
        parts += [
            (f"wall-{name}-left", (x0, 0.0, zi), (d0, H, zo), walls, wall_tile),
            (f"wall-{name}-right", (d1, 0.0, zi), (x1, H, zo), walls, wall_tile),
            (f"wall-{name}-lintel", (d0, L.DOOR_HEIGHT_M, zi), (d1, H, zo), walls, wall_tile),
        ]
    return SceneNode("shell", children=[SceneNode(n, mesh=box(lo, hi, tile), material=m)
                                        for n, lo, hi, m, tile in parts])
