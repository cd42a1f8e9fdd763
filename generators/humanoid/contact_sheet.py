"""The model card's contact sheet: characters posed mid-walk, all at one scale.

    .venv/bin/python -m generators.humanoid.contact_sheet [--out generators/humanoid/card/contact_sheet.png]
    .venv/bin/python -m generators.humanoid.contact_sheet --model character-gan \
        --out generators/character_gan/card/contact_sheet.png

Each character is generated through the model, posed by linear blend skinning on the CPU at
half the walk clip's duration, and drawn (orthographic, flat Lambert, painter's algorithm)
in its materials' colours on a floor line, every tile at the same metres per pixel, so
heights and builds compare across the sheet.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from generators.viz import contact_sheet

OUT = Path(__file__).with_name("card") / "contact_sheet.png"
CATEGORIES = ("heroic", "stocky", "slender", "child")
TILE = 256
METRES = 2.2  # tile height in metres


def posed(asset, t: float | None = None, lod: int = 0, clip: str = "walk"):
    """[(vertices, faces, base colour)] of a character's primitives posed at time t of a clip
    (default: half its duration)."""
    from generators.humanoid.rig import skin_vertices, world_matrices

    rig = asset.rig
    c = next(c for c in rig.clips if c.name == clip)
    t = c.times[-1] / 2 if t is None else t
    k = int(np.argmin(np.abs(c.times - t)))
    n = len(rig.joint_names)
    rot = np.tile(np.asarray([0, 0, 0, 1.0]), (n, 1))
    for j, q in c.rotations.items():
        rot[j] = q[k]
    parents = np.asarray(rig.parents)
    pos = np.asarray(rig.joint_positions, np.float64)
    local = pos.copy()
    local[parents >= 0] -= pos[parents[parents >= 0]]
    for j, tr in c.translations.items():
        local[j] = tr[k]
    world = world_matrices(pos, parents, rot, local)
    out = []
    for p in rig.lods[lod]:
        v = skin_vertices(p.vertices.astype(np.float64), p.joints.astype(np.int64),
                          p.weights.astype(np.float64), world, pos)
        col = np.asarray(p.material.base_color[:3])
        if p.material.textures is not None:  # the maps carry the colour: their mean
            col = col * (p.material.textures.base_color.reshape(-1, 3).mean(0) / 255.0) ** 2.2
        out.append((v, p.faces, col))
    return out


def draw(parts, size: int = TILE, metres: float = METRES, azimuth_deg: float = 25.0) -> np.ndarray:
    """Orthographic view from the front-right, floor at the tile's bottom margin."""
    a = np.radians(azimuth_deg)
    right = np.asarray([np.cos(a), 0.0, -np.sin(a)])
    fwd = np.asarray([np.sin(a), 0.0, np.cos(a)])  # towards the camera
    up = np.asarray([0.0, 1.0, 0.0])
    scale = size / metres
    polys, depth, fills = [], [], []
    light = np.asarray([0.4, 0.7, 0.6])
    light /= np.linalg.norm(light)
    for v, f, col in parts:
        tri = v[f.astype(np.int64)]  # [F, 3, 3]
        n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        ln = np.linalg.norm(n, axis=1)
        keep = ln > 0
        tri, n = tri[keep], n[keep] / ln[keep, None]
        facing = n @ fwd > 0  # back faces hidden (closed surfaces)
        tri, n = tri[facing], n[facing]
        shade = 0.35 + 0.65 * np.clip(n @ light, 0, 1)
        srgb = np.clip(col, 0, 1) ** (1 / 2.2)
        rgb = np.clip(shade[:, None] * srgb[None] * 255, 0, 255).astype(int)
        x = size / 2 + (tri @ right) * scale
        y = size * 0.95 - (tri @ up) * scale
        polys.append(np.stack([x, y], axis=-1).reshape(-1, 6))
        depth.append((tri @ fwd).mean(axis=1))
        fills.append(rgb)
    polys, depth, fills = np.concatenate(polys), np.concatenate(depth), np.concatenate(fills)
    image = Image.new("RGB", (size * 2, size * 2), (245, 245, 240))
    d = ImageDraw.Draw(image)
    d.line([(0, size * 0.95 * 2), (size * 2, size * 0.95 * 2)], fill=(150, 150, 150), width=2)
    for i in np.argsort(depth, kind="stable"):
        fill = tuple(int(c) for c in fills[i])
        d.polygon((polys[i] * 2).tolist(), fill=fill, outline=fill)
    return np.asarray(image.resize((size, size), Image.Resampling.BOX))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="humanoid", help="a character model (default humanoid)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--per-category", type=int, default=4)
    ap.add_argument("--categories", default=",".join(CATEGORIES))
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    from generators.core.registry import load_models

    model = load_models([args.model])[args.model]
    images, labels = [], []
    for cat in args.categories.split(","):
        for seed in range(1, args.per_category + 1):
            spec = model.resolve(cat, seed, {"lod_count": 1, "clips": "walk"})
            asset = model.generate([spec])[0]
            images.append(draw(posed(asset)))
            labels.append(f"{cat} {seed}: {asset.metadata['height_m']:.2f} m")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    contact_sheet(images, labels, columns=args.per_category, path=args.out)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
