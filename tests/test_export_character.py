"""Skinned, animated character GLBs: Khronos-valid, self-contained, engine-shaped."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from support.gltf_validator import assert_valid_glb

from generators.core.registry import load_models
from generators.humanoid import body as B
from generators.humanoid import rig as R
from generators.pipeline import Pipeline

QUICK = {"lod_count": 1, "texture_size": 64, "max_triangles": 8000}


@pytest.fixture(scope="module")
def pipe():
    return Pipeline(load_models(["humanoid"]))


def _build(pipe, category, seed, options):
    return pipe.build([pipe.prepare("humanoid", category, seed, options)])[0]


def _gltf(data: bytes) -> tuple[dict, bytes]:
    magic, version, total = struct.unpack_from("<III", data)
    assert (magic, version, total) == (0x46546C67, 2, len(data))
    jlen, _ = struct.unpack_from("<II", data, 12)
    gltf = json.loads(data[20:20 + jlen])
    blen, _ = struct.unpack_from("<II", data, 20 + jlen)
    return gltf, data[28 + jlen:28 + jlen + blen]


def _accessor(gltf, binary, i, dtype, width):
    acc = gltf["accessors"][i]
    view = gltf["bufferViews"][acc["bufferView"]]
    a = np.frombuffer(binary, dtype, acc["count"] * width, view["byteOffset"])
    return a.reshape(acc["count"], width)


def test_every_category_and_skeleton_validates(pipe):
    blobs, names = [], []
    for category in B.CATEGORIES:
        for skeleton in R.SKELETONS:
            built = _build(pipe, category, 7, {**QUICK, "skeleton": skeleton})
            for f in built.files:
                blobs.append(f.data)
                names.append(f"{category}-{skeleton}-{f.name}")
    assert_valid_glb(blobs, names=names)  # one node process for all of them


def test_default_character_has_three_valid_lods_coarsest_first(pipe):
    built = _build(pipe, "heroic", 1, {"texture_size": 64})
    assert [f.name for f in built.files] == ["lod2.glb", "lod1.glb", "lod0.glb"]
    assert built.files[0].triangles < built.files[1].triangles < built.files[2].triangles
    assert built.kind == "character"
    assert_valid_glb([f.data for f in built.files])


@pytest.mark.parametrize("skeleton, pelvis", [("unreal", "pelvis"), ("mixamo", "mixamorig:Hips"),
                                              ("vrm", "hips")])
def test_glb_structure(pipe, skeleton, pelvis):
    built = _build(pipe, "slender", 3, {**QUICK, "skeleton": skeleton, "clips": "walk,wave"})
    gltf, binary = _gltf(built.files[0].data)
    skin = gltf["skins"][0]
    nodes = gltf["nodes"]
    joints = skin["joints"]
    assert len(joints) >= 50 and skin["skeleton"] == joints[0]
    names = [nodes[j]["name"] for j in joints]
    assert pelvis in names and len(set(names)) == len(names)
    # The skinned mesh node: at the scene root, no transform, not a joint's child.
    mesh_node = next(i for i, n in enumerate(nodes) if "mesh" in n)
    assert mesh_node in gltf["scenes"][0]["nodes"]
    assert not {"translation", "rotation", "scale", "matrix"} & set(nodes[mesh_node])
    assert all(mesh_node not in n.get("children", []) for n in nodes)
    # One common root: every joint but the first is some joint's child.
    children = {c for j in joints for c in nodes[j].get("children", [])}
    assert children == set(joints[1:])
    prims = gltf["meshes"][0]["primitives"]
    assert len(prims) == len(gltf["materials"]) >= 3  # skin, eyes, garments
    for p in prims:
        a = p["attributes"]
        assert gltf["accessors"][a["JOINTS_0"]]["componentType"] in (5121, 5123)
        w = _accessor(gltf, binary, a["WEIGHTS_0"], "<f4", 4)
        np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-5)
        assert (np.diff(w, axis=1) <= 0).all()
        pos = _accessor(gltf, binary, a["POSITION"], "<f4", 3)
        assert gltf["accessors"][a["POSITION"]]["min"] == [float(x) for x in pos.min(axis=0)]
    ibm = _accessor(gltf, binary, skin["inverseBindMatrices"], "<f4", 16).reshape(-1, 4, 4)
    np.testing.assert_allclose(ibm[:, :, 3], np.tile([0, 0, 0, 1], (len(joints), 1)), atol=0)
    # Animations: one per requested clip, LINEAR, looping, on joint nodes.
    anims = gltf["animations"]
    assert [a["name"] for a in anims] == ["walk", "wave"]
    for a in anims:
        for s in a["samplers"]:
            assert s["interpolation"] == "LINEAR"
            t = gltf["accessors"][s["input"]]
            assert t["min"] == [0.0] and t["max"][0] > 0.5
        for c in a["channels"]:
            assert c["target"]["node"] in joints
            assert c["target"]["path"] in ("rotation", "translation")
        rot = next(s for s, c in zip(a["samplers"], a["channels"], strict=True)
                   if c["target"]["path"] == "rotation")
        q = _accessor(gltf, binary, rot["output"], "<f4", 4)
        assert (q[0] == q[-1]).all()
    assert "textures" in gltf and gltf["images"][0]["mimeType"] == "image/png"


def test_no_clips_writes_no_animations(pipe):
    built = _build(pipe, "child", 2, {**QUICK, "clips": "none"})
    gltf, _ = _gltf(built.files[0].data)
    assert "animations" not in gltf
    assert_valid_glb(built.files[0].data)


def test_a_character_without_a_rig_is_refused():
    from generators.core.asset import Asset
    from generators.export import export_asset

    with pytest.raises(ValueError, match="rig"):
        export_asset(Asset(kind="character", category="heroic", seed=1))
