"""Scene GLB export: node tree, shared meshes/materials/images, lights, and the validator."""

import math

import numpy as np
import pytest
from support.gltf_validator import validate_glb

from generators.core.asset import KIND_SCENE, Asset, Material, Mesh, PBRSet
from generators.export import export_asset
from generators.export.scene import (
    Light,
    SceneAsset,
    SceneNode,
    accessor_array,
    node_matrix,
    read_glb,
    scene_to_glb,
)
from generators.gallery.parts import box


def maps(seed: int, size: int = 16) -> PBRSet:
    rng = np.random.default_rng(seed)
    colour = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    normal = np.empty((size, size, 3), np.uint8)
    normal[...] = (128, 128, 255)
    orm = np.full((size, size, 3), 200, np.uint8)
    return PBRSet(colour, normal, orm)


def tiny_scene():
    stone = Material("stone", (1, 1, 1, 1), 1.0, 1.0, maps(1))
    # Another material with the very same maps: its images must not be embedded twice.
    stone2 = Material("stone-again", (1, 1, 1, 1), 1.0, 1.0, maps(1))
    brick = Material("brick", (1, 1, 1, 1), 1.0, 1.0, maps(2))
    cube = box((-0.5, 0, -0.5), (0.5, 1, 0.5), 1.0)
    q = (0.0, math.sin(math.pi / 8), 0.0, math.cos(math.pi / 8))  # 45 degrees about +Y
    return SceneNode("root", children=[
        SceneNode("a", translation=(1.0, 0.0, 0.0), mesh=cube, material=stone,
                  extras={"vitrine": {"asset_id": "abc"}}),
        SceneNode("b", translation=(-1.0, 0.0, 0.0), rotation=q, mesh=cube, material=stone),
        SceneNode("c", children=[SceneNode("c1", mesh=box((0, 0, 0), (1, 2, 1), 0.5),
                                           material=stone2)]),
        SceneNode("d", mesh=box((3, 0, 3), (4, 1, 4), 0.5), material=brick),
        SceneNode("spot", translation=(0, 3, 0), rotation=(-math.sqrt(0.5), 0, 0, math.sqrt(0.5)),
                  light=Light("spot", 800.0, inner_cone=0.2, outer_cone=0.5)),
        SceneNode("fill", translation=(0, 3, 2), light=Light("point", 300.0)),
    ])


def test_scene_glb_is_valid_and_shares_what_it_can():
    data, triangles = scene_to_glb(tiny_scene())
    report = validate_glb([data])[0]
    assert (report["numErrors"], report["numWarnings"]) == (0, 0), report["messages"]
    gltf, _ = read_glb(data)
    names = [n["name"] for n in gltf["nodes"]]
    assert names == ["root", "a", "b", "c", "c1", "d", "spot", "fill"]
    assert gltf["scenes"] == [{"name": "root", "nodes": [0]}]
    assert gltf["nodes"][0]["children"] == [1, 2, 3, 5, 6, 7]
    # Nodes a and b wear one mesh with one material: one glTF mesh.
    assert gltf["nodes"][1]["mesh"] == gltf["nodes"][2]["mesh"]
    assert len(gltf["meshes"]) == 3 and triangles == 4 * 12
    # Three materials, but images are shared by content: stone and stone-again have equal
    # maps, and brick differs from them only in its base colour: 4 images, not 9.
    assert len(gltf["materials"]) == 3 and len(gltf["images"]) == 4
    assert len(gltf["textures"]) == 4
    assert gltf["nodes"][1]["extras"] == {"vitrine": {"asset_id": "abc"}}
    assert gltf["nodes"][1]["translation"] == [1.0, 0.0, 0.0]
    assert "translation" not in gltf["nodes"][4] and "rotation" not in gltf["nodes"][1]
    lights = gltf["extensions"]["KHR_lights_punctual"]["lights"]
    assert gltf["extensionsUsed"] == ["KHR_lights_punctual"]
    assert [lt["type"] for lt in lights] == ["spot", "point"]
    assert lights[0]["intensity"] == 800.0 and lights[0]["spot"] == {
        "innerConeAngle": 0.2, "outerConeAngle": 0.5}
    assert gltf["nodes"][6]["extensions"]["KHR_lights_punctual"]["light"] == 0


def test_vertices_round_trip_and_transforms_compose():
    root = tiny_scene()
    data, _ = scene_to_glb(root)
    gltf, binary = read_glb(data)
    pos = accessor_array(gltf, binary, gltf["meshes"][0]["primitives"][0]["attributes"][
        "POSITION"])
    np.testing.assert_array_equal(pos, root.children[0].mesh.vertices)
    # 45 degrees about +Y takes +X to (cos 45, 0, -sin 45).
    m = node_matrix(root.children[1])
    np.testing.assert_allclose(m[:3, :3] @ [1, 0, 0], [math.sqrt(0.5), 0, -math.sqrt(0.5)],
                               atol=1e-12)
    worlds = {n.name: w for n, w in root.walk()}
    np.testing.assert_allclose(worlds["a"][:3, 3], [1, 0, 0])
    # The spot's -Z axis points straight down.
    np.testing.assert_allclose(worlds["spot"][:3, :3] @ [0, 0, -1], [0, -1, 0], atol=1e-12)


def test_same_tree_same_bytes():
    assert scene_to_glb(tiny_scene())[0] == scene_to_glb(tiny_scene())[0]


def test_export_asset_dispatches_scene_assets():
    asset = SceneAsset(kind=KIND_SCENE, category="hall", seed=1, root=tiny_scene())
    files = export_asset(asset)
    assert [(f.name, f.mime_type, f.lod) for f in files] == [
        ("scene.glb", "model/gltf-binary", 0)]
    assert files[0].triangles == 48
    with pytest.raises(ValueError, match="root"):
        export_asset(Asset(kind=KIND_SCENE, category="hall", seed=1))
    with pytest.raises(ValueError, match="root"):
        SceneAsset(kind=KIND_SCENE, category="hall", seed=1)


def test_bad_nodes_are_refused():
    empty = Mesh(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.uint32),
                 np.zeros((0, 3), np.float32), 0)
    with pytest.raises(ValueError, match="empty"):
        scene_to_glb(SceneNode("r", mesh=empty))
    cube = box((0, 0, 0), (1, 1, 1), 1.0)
    bare = Mesh(cube.vertices, cube.faces, cube.normals, 0)
    with pytest.raises(ValueError, match="no UVs"):
        scene_to_glb(SceneNode("r", mesh=bare, material=Material("m", (1, 1, 1, 1), 1, 1,
                                                                   maps(3))))
    with pytest.raises(ValueError, match="spot"):
        Light("spot", 1.0, inner_cone=0.6, outer_cone=0.5)
