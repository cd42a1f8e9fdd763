"""Draw the gallery's model-card picture from a gallery GLB, as an engine reads it.

    .venv/bin/python -m generators.gallery.render_card --exhibits 24 --theme sculpture-hall \\
        --out generators/gallery/card/gallery.png

Two panels: the hall from an elevated corner (the ceiling and the two near walls left out so
the inside shows) and top-down (no ceiling). Painter's algorithm with faces coloured from
their material's base-colour map (sampled at each face's UV centre, or the map's mean for the
few big faces of walls, floor and plinths) under a soft key light: a look at the layout, not a
render of the scene's own lights.
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from generators.export.scene import accessor_array, read_glb

log = logging.getLogger(__name__)

SUPERSAMPLE = 2
KEY = np.array([0.35, 1.0, 0.55]) / np.linalg.norm([0.35, 1.0, 0.55])
SKY = (236, 238, 242)


def _quat(q) -> np.ndarray:
    x, y, z, w = q
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def _base_colour_maps(gltf: dict, binary: bytes) -> list[np.ndarray]:
    """Per material, its base-colour map as float [H, W, 3] in 0-1 (sRGB)."""
    out = []
    for mat in gltf.get("materials", []):
        tex = mat["pbrMetallicRoughness"].get("baseColorTexture")
        if tex is None:
            out.append(np.full((1, 1, 3), 0.7))
            continue
        view = gltf["bufferViews"][gltf["images"][gltf["textures"][tex["index"]]["source"]][
            "bufferView"]]
        png = binary[view["byteOffset"]:view["byteOffset"] + view["byteLength"]]
        out.append(np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), np.float64) / 255)
    return out


def faces(glb: bytes, skip: set[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(triangles [F, 3, 3] world, colours [F, 3] 0-1, draw group [F]: 0 floor, 1 walls,
    2 boxes, 3 the rest) of every mesh node not named in `skip` (nor under one)."""
    gltf, binary = read_glb(glb)
    maps = _base_colour_maps(gltf, binary)
    tris, cols, groups = [], [], []

    def visit(i: int, parent: np.ndarray) -> None:
        node = gltf["nodes"][i]
        if node["name"] in skip:
            return
        m = np.eye(4)
        m[:3, :3] = _quat(node.get("rotation", (0, 0, 0, 1)))
        m[:3, 3] = node.get("translation", (0, 0, 0))
        m = parent @ m
        if "mesh" in node:
            prim = gltf["meshes"][node["mesh"]]["primitives"][0]
            v = accessor_array(gltf, binary, prim["attributes"]["POSITION"]).astype(np.float64)
            f = accessor_array(gltf, binary, prim["indices"]).reshape(-1, 3).astype(np.int64)
            v = v @ m[:3, :3].T + m[:3, 3]
            tex = maps[prim["material"]]
            if len(f) < 200 or "TEXCOORD_0" not in prim["attributes"]:
                c = np.repeat(tex.reshape(-1, 3).mean(axis=0)[None], len(f), axis=0)
            else:
                uv = accessor_array(gltf, binary, prim["attributes"]["TEXCOORD_0"])
                centre = uv[f].mean(axis=1) % 1.0
                h, w, _ = tex.shape
                c = tex[(centre[:, 1] * h).astype(int) % h, (centre[:, 0] * w).astype(int) % w]
            tris.append(v[f])
            cols.append(c)
            name = node["name"]
            # Boxes (plinths, lecterns) sort by their farthest corner: a plinth's big top face
            # is drawn before the exhibit standing on it.
            groups.append(np.full(len(f), 0 if name == "floor" else
                                  1 if name.startswith("wall") else 2 if len(f) < 200 else 3))
        for c in node.get("children", []):
            visit(c, m)

    visit(gltf["scenes"][0]["nodes"][0], np.eye(4))
    return np.concatenate(tris), np.concatenate(cols), np.concatenate(groups)


def draw(tris: np.ndarray, cols: np.ndarray, groups: np.ndarray, eye, target, size,
         ortho: float | None = None, up=(0.0, 1.0, 0.0)) -> Image.Image:
    """One view: perspective from `eye` (or orthographic, `ortho` metres across)."""
    w, h = size[0] * SUPERSAMPLE, size[1] * SUPERSAMPLE
    eye, target = np.asarray(eye, float), np.asarray(target, float)
    fwd = (target - eye) / np.linalg.norm(target - eye)
    right = np.cross(fwd, up)
    right /= np.linalg.norm(right)
    upv = np.cross(right, fwd)
    d = tris - eye
    x, y, z = d @ right, d @ upv, d @ fwd  # [F, 3] each
    if ortho is None:
        focal = 0.9 * w
        sx, sy = w / 2 + focal * x / z, h / 2 - focal * y / z
    else:
        scale = w / ortho
        sx, sy = w / 2 + scale * x, h / 2 - scale * y
    n = np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0])
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    light = 0.5 + 0.5 * np.abs(n @ KEY)
    rgb = np.clip(np.rint(255 * cols * light[:, None]), 0, 255).astype(int)
    # Floor first, then the walls, then everything else far to near (boxes by their
    # farthest corner).
    depth = np.where(groups == 2, z.max(axis=1), z.mean(axis=1))
    order = np.lexsort((-depth, np.minimum(groups, 2)))
    img = Image.new("RGB", (w, h), SKY)
    pen = ImageDraw.Draw(img)
    poly = np.stack([sx, sy], axis=-1).reshape(-1, 6)
    for i in order:
        c = tuple(rgb[i])
        pen.polygon(poly[i].tolist(), fill=c, outline=c)
    return img.resize(size, Image.Resampling.LANCZOS)


def card(glb: bytes, out: Path) -> None:
    gltf, _ = read_glb(glb)
    room = gltf["nodes"][gltf["scenes"][0]["nodes"][0]]["extras"]["vitrine"]
    W, D, H = room["room_m"]
    near = {"ceiling", "wall-right", "wall-front-left", "wall-front-right", "wall-front-lintel"}
    tris, cols, groups = faces(glb, near | {"lights"})
    corner = draw(tris, cols, groups, eye=(0.95 * W, 1.6 * H + 0.35 * D, 1.05 * D),
                  target=(0.0, 0.6, -0.05 * D), size=(1200, 800))
    tris, cols, groups = faces(glb, {"ceiling", "lights"})
    top = draw(tris, cols, groups, eye=(0.0, 60.0, 0.0), target=(0.0, 0.0, 0.0),
               size=(800, 800), ortho=1.08 * max(W, D), up=(0.0, 0.0, -1.0))
    sheet = Image.new("RGB", (2000, 800), SKY)
    sheet.paste(corner, (0, 0))
    sheet.paste(top, (1200, 0))
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--theme", default="sculpture-hall")
    ap.add_argument("--exhibits", type=int, default=24)
    ap.add_argument("--seed", type=int, default=24)
    ap.add_argument("--glb", type=Path, help="draw this GLB instead of generating one")
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("card") / "gallery.png")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.glb:
        data = args.glb.read_bytes()
    else:
        from generators.core.registry import load_models
        from generators.pipeline import Pipeline

        pipe = Pipeline(load_models(["gallery"]))
        job = pipe.prepare("gallery", args.theme, args.seed, {"exhibits": args.exhibits})
        data = pipe.build([job])[0].files[0].data
    card(data, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
