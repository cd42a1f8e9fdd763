"""Texture assets -> files: the PBR maps as PNGs, and a preview GLB of a textured tile.

A texture asset (kind "texture": a `Material` with `textures`, no meshes) streams as
``base_color.png, normal.png, orm.png`` (the names of DESIGN.md's wire contract) followed by
``preview.glb``: a 1 m x 1 m quad facing +Z, centred on the origin, whose UVs run from 0 to 2
so the maps repeat 2 x 2 and a seam would show as a cross through the middle. The preview
embeds the maps at most `PREVIEW_MAX_SIZE` pixels (box-downsampled, which keeps them tiling)
with REPEAT samplers, a tangent per vertex for the normal map, and the ORM image as both the
occlusion and the metallic-roughness texture, as glTF allows.
"""

from __future__ import annotations

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
PREVIEW_MAX_SIZE = 256
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


def tile_glb(material: Material, name: str = "tile") -> bytes:
    """A GLB of one textured quad (see the module docstring) carrying `material`'s maps."""
    if material.textures is None:
        raise ValueError("tile_glb needs a material with textures")
    maps = downsample(material.textures, min(material.textures.size, PREVIEW_MAX_SIZE))
    pos = np.array([[-0.5, -0.5, 0], [0.5, -0.5, 0], [0.5, 0.5, 0], [-0.5, 0.5, 0]], "<f4")
    nrm = np.tile(np.array([0, 0, 1], "<f4"), (4, 1))
    # +X along +u; w = 1 makes the bitangent cross(N, T) = +Y, "up" in the image (v decreasing).
    tan = np.tile(np.array([1, 0, 0, 1], "<f4"), (4, 1))
    uv = np.array([[0, 1], [1, 1], [1, 0], [0, 0]], "<f4") * PREVIEW_REPEAT
    idx = np.array([0, 1, 2, 0, 2, 3], "<u2")
    pngs = [png_bytes(getattr(maps, attr)) for attr, _ in MAP_FILES]

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
    preview = tile_glb(asset.material, asset.category)
    files = [FileBlob(name, PNG_MIME, job.result()) for (_, name), job in zip(MAP_FILES, jobs,
                                                                              strict=True)]
    return files + [FileBlob(PREVIEW_FILE, MIME, preview)]
