"""GLB export: structure, exact round trip through trimesh, and the Khronos validator."""

import io
import json
import struct

import numpy as np
import trimesh
from support.gltf_validator import assert_valid_glb

from generators.asset import Asset, Material, Mesh
from generators.export import export_asset
from generators.export.glb import mesh_to_glb
from generators.geometry.normals import vertex_normals


def sphere_mesh(subdiv=3, lod=0):
    s = trimesh.creation.icosphere(subdiv)
    v = s.vertices.astype(np.float32)
    return Mesh(v, s.faces.astype(np.uint32), vertex_normals(v, s.faces), lod)


def parse(glb: bytes):
    magic, version, total = struct.unpack_from("<III", glb)
    assert (magic, version, total) == (0x46546C67, 2, len(glb))
    jlen, jtype = struct.unpack_from("<II", glb, 12)
    assert jtype == 0x4E4F534A and jlen % 4 == 0
    return json.loads(glb[20:20 + jlen])


def test_glb_structure_and_round_trip():
    m = sphere_mesh()
    glb = mesh_to_glb(m, Material("stone", (0.5, 0.5, 0.5, 1)))
    doc = parse(glb)
    pos = doc["accessors"][0]
    assert pos["min"] == [float(x) for x in m.vertices.min(0)]
    assert doc["accessors"][2]["componentType"] == 5123  # small mesh -> uint16 indices
    loaded = trimesh.load(io.BytesIO(glb), file_type="glb", force="mesh", process=False)
    assert np.array_equal(np.asarray(loaded.vertices, dtype=np.float32), m.vertices)
    assert np.array_equal(loaded.faces, m.faces)
    assert_valid_glb(glb)


def test_large_mesh_uses_uint32_indices():
    m = sphere_mesh(subdiv=7)  # 163842 vertices
    doc = parse(mesh_to_glb(m, None))
    assert doc["accessors"][2]["componentType"] == 5125
    assert "materials" not in doc


def test_asset_files_coarsest_first_and_all_valid():
    asset = Asset("prop", "vase", 1, [sphere_mesh(4, 0), sphere_mesh(3, 1), sphere_mesh(2, 2)],
                  Material("clay", (0.6, 0.3, 0.1, 1.0)))
    files = export_asset(asset, "glb")
    assert [f.name for f in files] == ["lod2.glb", "lod1.glb", "lod0.glb"]
    assert [f.lod for f in files] == [2, 1, 0]
    assert files[0].triangles < files[2].triangles
    assert_valid_glb([f.data for f in files])


def test_unknown_format():
    import pytest

    with pytest.raises(ValueError, match="known: glb"):
        export_asset(Asset("prop", "vase", 1, [sphere_mesh()]), "usd")
