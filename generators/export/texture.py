"""Texture assets -> files: the PBR maps as PNGs, and a preview GLB of a textured tile.

A texture asset (kind "texture": a `Material` with `textures`, no meshes) streams as
``base_color.png, normal.png, orm.png`` (the names of DESIGN.md's wire contract) followed by
``preview.glb``: a 1 m x 1 m quad standing on the floor (y from 0 to 1, x from -0.5 to 0.5,
z = 0) and facing +Z, the house convention for a prop's front and what glTF viewers' default
camera looks at, so the swatch opens face-on rather than edge-on as a floor tile would. Its UVs
run from 0 to 2 so the maps repeat 2 x 2 and a seam would show as a cross through the middle.
The preview embeds the asset's own maps (the very PNGs streamed before it) up to
`PREVIEW_MAX_SIZE` pixels; larger maps are box-downsampled to it, which keeps them tiling. It
has REPEAT samplers, a tangent per vertex for the normal map, and the ORM image as both the
occlusion and the metallic-roughness texture, as glTF allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from generators.core.asset import KIND_TEXTURE, Asset, Material
from generators.export import FileBlob, register_format
from generators.export.glb import (
    ARRAY_BUFFER,
    ELEMENT_ARRAY_BUFFER,
    FLOAT,
    GENERATOR,
    MIME,
    TRIANGLES,
    UNSIGNED_SHORT,
    glb_container,
)
from generators.texture.pbr import PNG_MIME, PBRSet, encode_normal, png_bytes

MAP_FILES = (("base_color", "base_color.png"), ("normal", "normal.png"), ("orm", "orm.png"))
PREVIEW_FILE = "preview.glb"
# Each of the 2 x 2 repeats spans half the quad, so 1024-px maps put 2048 texels across it: more
# than a preview viewport shows. Embedding 2048-px maps whole would add ~20-25 MB (the size of
# the maps themselves) to a 2048-px asset for no visible detail.
PREVIEW_MAX_SIZE = 1024
PREVIEW_REPEAT = 2  # UVs run 0 .. 2: the texture shows 2 x 2 times on the tile

# glTF sampler constants
LINEAR = 9729
LINEAR_MIPMAP_LINEAR = 9987
REPEAT = 10497

# Both PNG encoders (zlib) release the GIL, so the maps encode in parallel.
_POOL = ThreadPoolExecutor(max_workers=3, thread_name_prefix="png")


def downsample(pbr: PBRSet, size: int) -> PBRSet:
    """Box-filter the maps down to `size` (a power of two <= pbr.size); normals renormalised."""
    f = pbr.size // size
    if f <= 1:
        return pbr

    def box(a: np.ndarray) -> np.ndarray:
        return a.reshape(size, f, size, f, a.shape[-1]).mean(axis=(1, 3), dtype=np.float32)

    n = box(pbr.normal) / np.float32(127.5) - np.float32(1.0)
    n /= np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), np.float32(1e-6))

    def u8(a: np.ndarray) -> np.ndarray:
        return np.clip(np.rint(a), 0, 255).astype(np.uint8)

    return PBRSet(u8(box(pbr.base_color)), encode_normal(n), u8(box(pbr.orm)))


def _pad4(b: bytes, fill: bytes = b"\x00") -> bytes:
    return b + fill * (-len(b) % 4)


def tile_glb(material: Material, name: str = "tile",
             pngs: Sequence[bytes] | None = None) -> bytes:
    """A GLB of one textured quad (see the module docstring) carrying `material`'s maps.

    `pngs`: the maps already encoded (`png_bytes`, in `MAP_FILES` order), embedded as they are
    when the maps are at most `PREVIEW_MAX_SIZE`; otherwise they are encoded here."""
    if material.textures is None:
        raise ValueError("tile_glb needs a material with textures")
    if pngs is not None and len(pngs) != len(MAP_FILES):
        raise ValueError(f"tile_glb needs {len(MAP_FILES)} PNGs, got {len(pngs)}")
    if material.textures.size > PREVIEW_MAX_SIZE or pngs is None:
        maps = downsample(material.textures, min(material.textures.size, PREVIEW_MAX_SIZE))
        pngs = [png_bytes(getattr(maps, attr)) for attr, _ in MAP_FILES]
    pos = np.array([[-0.5, 0, 0], [0.5, 0, 0], [0.5, 1, 0], [-0.5, 1, 0]], "<f4")  # on y = 0
    nrm = np.tile(np.array([0, 0, 1], "<f4"), (4, 1))
    # +X along +u; w = 1 makes the bitangent cross(N, T) = +Y, "up" in the image (v decreasing).
    tan = np.tile(np.array([1, 0, 0, 1], "<f4"), (4, 1))
    uv = np.array([[0, 1], [1, 1], [1, 0], [0, 0]], "<f4") * PREVIEW_REPEAT
    idx = np.array([0, 1, 2, 0, 2, 3], "<u2")

    chunks, views, offset = [], [], 0
    for data, target in ((pos.tobytes(), ARRAY_BUFFER), (nrm.tobytes(), ARRAY_BUFFER),
                         (tan.tobytes(), ARRAY_BUFFER), (uv.tobytes(), ARRAY_BUFFER),
                         (idx.tobytes(), ELEMENT_ARRAY_BUFFER), *((p, None) for p in pngs)):
        view = {"buffer": 0, "byteOffset": offset, "byteLength": len(data)}
        if target is not None:
            view["target"] = target
        views.append(view)
        padded = _pad4(data)
        chunks.append(padded)
        offset += len(padded)
    binary = b"".join(chunks)

    def acc(view, count, typ, **extra):
        return {"bufferView": view, "componentType": FLOAT, "count": count, "type": typ, **extra}

    gltf = {
        "asset": {"version": "2.0", "generator": GENERATOR},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": name}],
        "meshes": [{"name": name, "primitives": [{
            "attributes": {"POSITION": 0, "NORMAL": 1, "TANGENT": 2, "TEXCOORD_0": 3},
            "indices": 4, "mode": TRIANGLES, "material": 0}]}],
        "accessors": [
            acc(0, 4, "VEC3", min=[float(x) for x in pos.min(0)],
                max=[float(x) for x in pos.max(0)]),
            acc(1, 4, "VEC3"),
            acc(2, 4, "VEC4"),
            acc(3, 4, "VEC2"),
            {"bufferView": 4, "componentType": UNSIGNED_SHORT, "count": 6, "type": "SCALAR"},
        ],
        "bufferViews": views,
        "buffers": [{"byteLength": len(binary)}],
        "images": [{"bufferView": 5 + i, "mimeType": PNG_MIME} for i in range(3)],
        "samplers": [{"magFilter": LINEAR, "minFilter": LINEAR_MIPMAP_LINEAR, "wrapS": REPEAT,
                      "wrapT": REPEAT}],
        "textures": [{"source": i, "sampler": 0} for i in range(3)],
        "materials": [{
            "name": material.name,
            "pbrMetallicRoughness": {
                "baseColorFactor": [float(c) for c in material.base_color],
                "baseColorTexture": {"index": 0},
                "metallicFactor": float(material.metallic),
                "roughnessFactor": float(material.roughness),
                "metallicRoughnessTexture": {"index": 2},
            },
            "normalTexture": {"index": 1},
            "occlusionTexture": {"index": 2},
        }],
    }
    return glb_container(gltf, binary)


@register_format("glb", kind=KIND_TEXTURE)
def export_texture(asset: Asset) -> list[FileBlob]:
    """A texture asset's maps as PNGs (encoded in parallel), then the preview GLB."""
    if asset.material is None or asset.material.textures is None:
        raise ValueError("a texture asset needs a material with textures")
    pbr = asset.material.textures
    jobs = [_POOL.submit(png_bytes, getattr(pbr, attr)) for attr, _ in MAP_FILES]
    if pbr.size > PREVIEW_MAX_SIZE:  # its smaller maps encode here while the pool works
        preview = tile_glb(asset.material, asset.category)
        pngs = [job.result() for job in jobs]
    else:  # the preview embeds the streamed PNGs themselves
        pngs = [job.result() for job in jobs]
        preview = tile_glb(asset.material, asset.category, pngs)
    files = [FileBlob(name, PNG_MIME, png) for (_, name), png in zip(MAP_FILES, pngs,
                                                                     strict=True)]
    return files + [FileBlob(PREVIEW_FILE, MIME, preview)]
