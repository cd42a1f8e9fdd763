"""GLB export: structure, exact round trip through trimesh, embedded textures, and the
Khronos validator."""

import io
import json
import struct

import numpy as np
import pytest
import trimesh
from PIL import Image
from support.gltf_validator import assert_valid_glb

from generators.core.asset import Asset, Material, Mesh
from generators.export import export_asset
from generators.export.glb import mesh_to_glb
from generators.geometry.normals import vertex_normals
from generators.geometry.uv import planar_uv
from generators.texture.materials import prop_material


def sphere_mesh(subdiv=3, lod=0):
    s = trimesh.creation.icosphere(subdiv)
    v = s.vertices.astype(np.float32)
    return Mesh(v, s.faces.astype(np.uint32), vertex_normals(v, s.faces), lod)


def textured_sphere(subdiv=3, lod=0, tile_m=0.5):
    m = sphere_mesh(subdiv, lod)
    u = planar_uv(m.vertices, m.faces, m.normals, tile_m)
    return Mesh(u.vertices, u.faces, u.normals, lod, uvs=u.uvs)


def parse(glb: bytes):
    magic, version, total = struct.unpack_from("<III", glb)
    assert (magic, version, total) == (0x46546C67, 2, len(glb))
    jlen, jtype = struct.unpack_from("<II", glb, 12)
    assert jtype == 0x4E4F534A and jlen % 4 == 0
    return json.loads(glb[20:20 + jlen])


def images(glb: bytes) -> dict[str, Image.Image]:
    """The embedded images by name, decoded from their bufferViews in the BIN chunk."""
    doc = parse(glb)
    jlen = struct.unpack_from("<I", glb, 12)[0]
    blen, btype = struct.unpack_from("<II", glb, 20 + jlen)
    assert btype == 0x004E4942
    binary = glb[28 + jlen:28 + jlen + blen]
    out = {}
    for img in doc["images"]:
        view = doc["bufferViews"][img["bufferView"]]
        data = binary[view["byteOffset"]:view["byteOffset"] + view["byteLength"]]
        out[img["name"]] = Image.open(io.BytesIO(data))
        out[img["name"]].load()
    return out


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


def test_textured_glb_embeds_the_maps_and_validates_without_any_issue():
    m = textured_sphere()
    glb = mesh_to_glb(m, prop_material("marble", 64, seed=3))
    doc = parse(glb)
    prim = doc["meshes"][0]["primitives"][0]
    assert set(prim["attributes"]) == {"POSITION", "NORMAL", "TANGENT", "TEXCOORD_0"}
    uv = doc["accessors"][prim["attributes"]["TEXCOORD_0"]]
    assert (uv["type"], uv["count"]) == ("VEC2", len(m.vertices))
    assert [i["mimeType"] for i in doc["images"]] == ["image/png"] * 3
    assert all("uri" not in i for i in doc["images"])  # embedded, self-contained
    assert doc["samplers"] == [{"magFilter": 9729, "minFilter": 9987, "wrapS": 10497,
                                "wrapT": 10497}]
    mat = doc["materials"][0]
    pbr = mat["pbrMetallicRoughness"]
    assert mat["name"] == "marble"
    assert (pbr["baseColorFactor"], pbr["metallicFactor"], pbr["roughnessFactor"]) == (
        [1.0, 1.0, 1.0, 1.0], 1.0, 1.0)
    # base colour, normal, and one ORM image for both occlusion and metallic-roughness
    src = [doc["textures"][i]["source"] for i in (pbr["baseColorTexture"]["index"],
                                                  mat["normalTexture"]["index"],
                                                  pbr["metallicRoughnessTexture"]["index"],
                                                  mat["occlusionTexture"]["index"])]
    assert [doc["images"][i]["name"] for i in src] == ["base_color", "normal", "orm", "orm"]
    decoded = images(glb)
    assert {k: (im.size, im.mode) for k, im in decoded.items()} == {
        k: ((64, 64), "RGB") for k in ("base_color", "normal", "orm")}
    assert_valid_glb(glb, allow_infos=False)
    reports = assert_valid_glb(glb)
    assert reports[0]["numHints"] == 0


def test_textured_material_needs_uvs():
    with pytest.raises(ValueError, match="has no UVs"):
        mesh_to_glb(sphere_mesh(), prop_material("wood", 64, seed=1))


def test_coarser_lods_wear_the_next_mips_and_every_file_stands_alone():
    asset = Asset("prop", "vase", 1, [textured_sphere(4, 0), textured_sphere(3, 1),
                                      textured_sphere(2, 2)],
                  prop_material("terracotta", 256, seed=1))
    files = export_asset(asset, "glb")
    sizes = {f.name: images(f.data)["base_color"].size for f in files}
    assert sizes == {"lod0.glb": (256, 256), "lod1.glb": (128, 128), "lod2.glb": (64, 64)}
    assert_valid_glb([f.data for f in files], allow_infos=False)


def test_untextured_material_writes_no_texture_objects():
    doc = parse(mesh_to_glb(textured_sphere(), Material("clay", (0.6, 0.3, 0.1, 1.0))))
    assert not {"images", "samplers", "textures"} & set(doc)
    assert set(doc["meshes"][0]["primitives"][0]["attributes"]) == {"POSITION", "NORMAL"}
