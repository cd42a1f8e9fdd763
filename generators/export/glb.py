"""glTF 2.0 binary (GLB) writer for prop meshes.

Written by hand rather than through a general library so that every byte is ours to control:
tight accessor bounds, 4-byte alignment, unit normals, the smallest index type — the things
the Khronos glTF-Validator checks. One GLB per level of detail, each complete on its own: a
textured material's maps are embedded as PNG images in every level's binary chunk.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable, Iterator
from dataclasses import replace

import numpy as np

from generators.core.asset import Asset, Levels, Material, Mesh
from generators.export import FileBlob, register_format
from generators.geometry.uv import tangents
from generators.texture.materials import half_size
from generators.texture.pbr import MAP_NAMES, PNG_MIME, encoded_pngs

GLB_MAGIC = 0x46546C67  # "glTF"
GLB_VERSION = 2
CHUNK_JSON = 0x4E4F534A  # "JSON"
CHUNK_BIN = 0x004E4942  # "BIN\0"
ARRAY_BUFFER = 34962
ELEMENT_ARRAY_BUFFER = 34963
FLOAT = 5126
UNSIGNED_SHORT = 5123
UNSIGNED_INT = 5125
TRIANGLES = 4
LINEAR = 9729  # sampler filter and wrap enums, as glTF 2.0 numbers them
LINEAR_MIPMAP_LINEAR = 9987
REPEAT = 10497
TEXTURE_ORDER = MAP_NAMES  # PBRSet fields, as textures 0, 1, 2
MIN_LOD_TEXTURE = 64  # coarser levels of detail stop halving their maps here
MIME = "model/gltf-binary"
GENERATOR = "vitrine"


def _pad4(b: bytes, fill: bytes = b"\x00") -> bytes:
    return b + fill * (-len(b) % 4)


UNSIGNED_BYTE = 5121
COMPONENT_TYPES = {np.dtype("<f4"): FLOAT, np.dtype("u1"): UNSIGNED_BYTE,
                   np.dtype("<u2"): UNSIGNED_SHORT, np.dtype("<u4"): UNSIGNED_INT}


class BufferBuilder:
    """The binary chunk of a GLB being written: 4-byte aligned buffer views, and accessors
    whose component type follows the array's dtype (the character and scene writers' one
    bookkeeping)."""

    def __init__(self) -> None:
        self.blobs: list[bytes] = []
        self.views: list[dict] = []
        self.accessors: list[dict] = []
        self.offset = 0

    def view(self, raw: bytes, target: int | None = None) -> int:
        v = {"buffer": 0, "byteOffset": self.offset, "byteLength": len(raw)}
        if target is not None:
            v["target"] = target
        self.views.append(v)
        self.blobs.append(_pad4(raw))
        self.offset += len(self.blobs[-1])
        return len(self.views) - 1

    def accessor(self, data: np.ndarray, kind: str, target: int | None = None,
                 bounds: bool = False) -> int:
        """An accessor of `data` ([count] for SCALAR, [count, n] otherwise); with `bounds`,
        exact min/max (float32 values printed through Python floats round-trip, so the
        validator's check sees the very same numbers)."""
        acc = {"bufferView": self.view(data.tobytes(), target),
               "componentType": COMPONENT_TYPES[data.dtype], "count": int(data.shape[0]),
               "type": kind}
        if bounds:
            flat = data.reshape(len(data), -1)
            acc["min"] = [float(x) for x in flat.min(axis=0)]
            acc["max"] = [float(x) for x in flat.max(axis=0)]
        self.accessors.append(acc)
        return len(self.accessors) - 1

    def binary(self) -> bytes:
        return b"".join(self.blobs)


def glb_container(gltf: dict, binary: bytes) -> bytes:
    """The GLB file: 12-byte header, the JSON chunk (space-padded), the BIN chunk (4-aligned)."""
    js = _pad4(json.dumps(gltf, separators=(",", ":")).encode(), b" ")
    total = 12 + 8 + len(js) + 8 + len(binary)
    return b"".join([
        struct.pack("<III", GLB_MAGIC, GLB_VERSION, total),
        struct.pack("<II", len(js), CHUNK_JSON), js,
        struct.pack("<II", len(binary), CHUNK_BIN), binary,
    ])


def _material_json(material: Material, textured: bool) -> dict:
    pbr = {
        "baseColorFactor": [float(c) for c in material.base_color],
        "metallicFactor": float(material.metallic),
        "roughnessFactor": float(material.roughness),
    }
    out: dict = {"name": material.name, "pbrMetallicRoughness": pbr}
    if textured:
        # Texture indices follow TEXTURE_ORDER; the ORM image serves both occlusion (R) and
        # metallic-roughness (G, B), as glTF intends.
        pbr["baseColorTexture"] = {"index": 0}
        pbr["metallicRoughnessTexture"] = {"index": 2}
        out["normalTexture"] = {"index": 1}
        out["occlusionTexture"] = {"index": 2}
    return out


def mesh_to_glb(mesh: Mesh, material: Material | None, name: str = "prop") -> bytes:
    """One mesh as a self-contained GLB: one scene, one node, one primitive.

    A material with `textures` needs `mesh.uvs`; its maps are embedded as PNG images in the
    binary chunk (TEXCOORD_0, sampler wrap REPEAT with trilinear mipmapping).
    """
    v = np.ascontiguousarray(mesh.vertices, dtype="<f4")
    n = np.ascontiguousarray(mesh.normals, dtype="<f4")
    if len(v) == 0 or len(mesh.faces) == 0:
        raise ValueError("cannot export an empty mesh")
    textured = material is not None and material.textures is not None
    if textured and mesh.uvs is None:
        raise ValueError(f"material {material.name!r} has textures but lod{mesh.lod} has no UVs")
    idx_dtype, idx_type = ("<u2", UNSIGNED_SHORT) if len(v) < 65535 else ("<u4", UNSIGNED_INT)
    idx = np.ascontiguousarray(mesh.faces, dtype=idx_dtype).ravel()

    accessors = [
        {"componentType": FLOAT, "count": len(v), "type": "VEC3",
         # float32 values printed through Python floats round-trip exactly, so the
         # validator's min/max check sees the very same numbers.
         "min": [float(x) for x in v.min(axis=0)], "max": [float(x) for x in v.max(axis=0)]},
        {"componentType": FLOAT, "count": len(n), "type": "VEC3"},
    ]
    arrays: list[tuple[bytes, int | None]] = [(v.tobytes(), ARRAY_BUFFER),
                                              (n.tobytes(), ARRAY_BUFFER)]
    attributes = {"POSITION": 0, "NORMAL": 1}
    if textured:
        uv = np.ascontiguousarray(mesh.uvs, dtype="<f4")
        if uv.shape != (len(v), 2) or not np.isfinite(uv).all():
            raise ValueError(f"lod{mesh.lod} UVs must be finite [{len(v)}, 2], got {uv.shape}")
        # A normal map needs a tangent frame; given explicitly, every engine uses the same one.
        tan = np.ascontiguousarray(tangents(v, mesh.faces, n, uv), dtype="<f4")
        attributes["TANGENT"] = len(accessors)
        accessors.append({"componentType": FLOAT, "count": len(tan), "type": "VEC4"})
        arrays.append((tan.tobytes(), ARRAY_BUFFER))
        attributes["TEXCOORD_0"] = len(accessors)
        accessors.append({"componentType": FLOAT, "count": len(uv), "type": "VEC2"})
        arrays.append((uv.tobytes(), ARRAY_BUFFER))
    indices = len(accessors)
    accessors.append({"componentType": idx_type, "count": len(idx), "type": "SCALAR"})
    arrays.append((idx.tobytes(), ELEMENT_ARRAY_BUFFER))
    for i, acc in enumerate(accessors):
        acc["bufferView"] = i
    if textured:
        # Images follow the accessors' views; a view holding an image has no target.
        arrays += [(png, None) for png in encoded_pngs(material.textures)]

    blobs, views = [], []
    offset = 0
    for raw, target in arrays:
        view = {"buffer": 0, "byteOffset": offset, "byteLength": len(raw)}
        if target is not None:
            view["target"] = target
        views.append(view)
        blobs.append(_pad4(raw))
        offset += len(blobs[-1])
    binary = b"".join(blobs)

    gltf = {
        "asset": {"version": "2.0", "generator": GENERATOR},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": name}],
        "meshes": [{
            "name": name,
            "primitives": [{
                "attributes": attributes,
                "indices": indices,
                "mode": TRIANGLES,
                **({"material": 0} if material else {}),
            }],
        }],
        "accessors": accessors,
        "bufferViews": views,
        "buffers": [{"byteLength": len(binary)}],
    }
    if material:
        gltf["materials"] = [_material_json(material, textured)]
    if textured:
        first = len(views) - len(TEXTURE_ORDER)
        gltf["images"] = [{"bufferView": first + i, "mimeType": PNG_MIME, "name": t}
                          for i, t in enumerate(TEXTURE_ORDER)]
        gltf["samplers"] = [{"magFilter": LINEAR, "minFilter": LINEAR_MIPMAP_LINEAR,
                             "wrapS": REPEAT, "wrapT": REPEAT}]
        gltf["textures"] = [{"sampler": 0, "source": i} for i in range(len(TEXTURE_ORDER))]
    return glb_container(gltf, binary)


def _lod_materials(material: Material | None, lods: list[int]) -> dict[int, Material | None]:
    """Per level of detail, the material it wears: coarser levels wear the next mips of the
    maps (half the edge per level, not below MIN_LOD_TEXTURE); they are seen from farther
    away, where the GPU would sample that mip anyway, and cost a quarter of the bytes."""
    if material is None or material.textures is None:
        return {lod: material for lod in lods}
    out, maps = {}, material.textures
    for lod in range(max(lods) + 1):
        if lod and maps.size // 2 >= MIN_LOD_TEXTURE:
            maps = half_size(maps)
        out[lod] = replace(material, textures=maps)
    return out


def iter_glb(asset: Asset) -> Iterator[FileBlob]:
    """A prop's LOD chain as GLB files, coarsest first, each built only when asked for: the
    pipeline streams the coarsest level while the finer ones are still being written (and,
    for `Levels`, still being made)."""
    if isinstance(asset.meshes, Levels):
        levels: Iterable[Mesh] = asset.meshes.made()
        lods = list(range(len(asset.meshes)))
    else:
        levels = sorted(asset.meshes, key=lambda m: -m.lod)
        lods = [m.lod for m in asset.meshes]
    materials = _lod_materials(asset.material, lods)
    for m in levels:
        yield FileBlob(f"lod{m.lod}.glb", MIME, mesh_to_glb(m, materials[m.lod], asset.category),
                       lod=m.lod, triangles=m.triangles)


@register_format("glb")
def export_glb(asset: Asset) -> list[FileBlob]:
    """A prop's LOD chain as GLB files, coarsest first (an engine can show something at once)."""
    return list(iter_glb(asset))
