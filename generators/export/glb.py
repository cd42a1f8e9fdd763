"""glTF 2.0 binary (GLB) writer for prop meshes.

Written by hand rather than through a general library so that every byte is ours to control:
tight accessor bounds, 4-byte alignment, unit normals, the smallest index type — the things
the Khronos glTF-Validator checks. One GLB per level of detail, each complete on its own.
"""

from __future__ import annotations

import json
import struct

import numpy as np

from generators.asset import Asset, Material, Mesh
from generators.export import FileBlob, register_format

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
MIME = "model/gltf-binary"
GENERATOR = "vitrine"


def _pad4(b: bytes, fill: bytes = b"\x00") -> bytes:
    return b + fill * (-len(b) % 4)


def mesh_to_glb(mesh: Mesh, material: Material | None, name: str = "prop") -> bytes:
    """One mesh as a self-contained GLB: one scene, one node, one primitive."""
    v = np.ascontiguousarray(mesh.vertices, dtype="<f4")
    n = np.ascontiguousarray(mesh.normals, dtype="<f4")
    if len(v) == 0 or len(mesh.faces) == 0:
        raise ValueError("cannot export an empty mesh")
    idx_dtype, idx_type = ("<u2", UNSIGNED_SHORT) if len(v) < 65535 else ("<u4", UNSIGNED_INT)
    idx = np.ascontiguousarray(mesh.faces, dtype=idx_dtype).ravel()

    blobs, views = [], []
    offset = 0
    for arr, target in ((v, ARRAY_BUFFER), (n, ARRAY_BUFFER), (idx, ELEMENT_ARRAY_BUFFER)):
        raw = _pad4(arr.tobytes())
        views.append({"buffer": 0, "byteOffset": offset, "byteLength": arr.nbytes,
                      "target": target})
        blobs.append(raw)
        offset += len(raw)
    binary = b"".join(blobs)

    gltf = {
        "asset": {"version": "2.0", "generator": GENERATOR},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": name}],
        "meshes": [{
            "name": name,
            "primitives": [{
                "attributes": {"POSITION": 0, "NORMAL": 1},
                "indices": 2,
                "mode": TRIANGLES,
                **({"material": 0} if material else {}),
            }],
        }],
        "accessors": [
            {"bufferView": 0, "componentType": FLOAT, "count": len(v), "type": "VEC3",
             # float32 values printed through Python floats round-trip exactly, so the
             # validator's min/max check sees the very same numbers.
             "min": [float(x) for x in v.min(axis=0)], "max": [float(x) for x in v.max(axis=0)]},
            {"bufferView": 1, "componentType": FLOAT, "count": len(n), "type": "VEC3"},
            {"bufferView": 2, "componentType": idx_type, "count": len(idx), "type": "SCALAR"},
        ],
        "bufferViews": views,
        "buffers": [{"byteLength": len(binary)}],
    }
    if material:
        gltf["materials"] = [{
            "name": material.name,
            "pbrMetallicRoughness": {
                "baseColorFactor": [float(c) for c in material.base_color],
                "metallicFactor": float(material.metallic),
                "roughnessFactor": float(material.roughness),
            },
        }]
    js = _pad4(json.dumps(gltf, separators=(",", ":")).encode(), b" ")
    total = 12 + 8 + len(js) + 8 + len(binary)
    return b"".join([
        struct.pack("<III", GLB_MAGIC, GLB_VERSION, total),
        struct.pack("<II", len(js), CHUNK_JSON), js,
        struct.pack("<II", len(binary), CHUNK_BIN), binary,
    ])


@register_format("glb")
def export_glb(asset: Asset) -> list[FileBlob]:
    """A prop's LOD chain as GLB files, coarsest first (an engine can show something at once)."""
    files = [
        FileBlob(f"lod{m.lod}.glb", MIME, mesh_to_glb(m, asset.material, asset.category),
                 lod=m.lod, triangles=m.triangles)
        for m in asset.meshes
    ]
    return sorted(files, key=lambda f: -f.lod)
