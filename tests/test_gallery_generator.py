"""The gallery model: valid scenes, exhibits on their plinths and apart, asset-id nodes that
replay, determinism, and option errors. Read from the GLB bytes, as an engine would."""

import itertools

import numpy as np
import pytest
from support.gltf_validator import validate_glb

from generators.core.asset import Mesh
from generators.core.errors import InvalidOption
from generators.core.registry import load_models
from generators.export.scene import accessor_array, read_glb
from generators.gallery import layout as L
from generators.gallery.generator import PROP_MODELS, THEMES
from generators.gallery.support import floating_parts
from generators.pipeline import Pipeline

SMALL = {"texture_size": 64, "max_triangles": 600}


@pytest.fixture(scope="module")
def pipe():
    return Pipeline(load_models(["gallery"]))


def build(pipe, category="antiquities", seed=7, **options):
    job = pipe.prepare("gallery", category, seed, options)
    built = pipe.build([job])[0]
    assert not isinstance(built, Exception), built
    return built


def quat_matrix(q):
    x, y, z, w = q
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def world(gltf, binary):
    """Per node index: (world 4x4, world vertices [V, 3] or None, parent index)."""
    out, parent = {}, {}

    def visit(i, m_parent, p):
        node = gltf["nodes"][i]
        m = np.eye(4)
        m[:3, :3] = quat_matrix(node.get("rotation", (0, 0, 0, 1)))
        m[:3, 3] = node.get("translation", (0, 0, 0))
        m = m_parent @ m
        verts = None
        if "mesh" in node:
            acc = gltf["meshes"][node["mesh"]]["primitives"][0]["attributes"]["POSITION"]
            v = accessor_array(gltf, binary, acc).astype(np.float64)
            verts = v @ m[:3, :3].T + m[:3, 3]
        out[i] = (m, verts)
        parent[i] = p
        for c in node.get("children", []):
            visit(c, m, i)

    visit(gltf["scenes"][0]["nodes"][0], np.eye(4), None)
    return out, parent


def stands(gltf, binary):
    """Per stand: its exhibit node, and the world vertices of exhibit, plinth and placard."""
    nodes = gltf["nodes"]
    w, _ = world(gltf, binary)
    exhibits = next(n for n in nodes if n["name"] == "exhibits")
    out = []
    for s in exhibits["children"]:
        kids = {nodes[c]["name"]: c for c in nodes[s]["children"]}
        ex = next(c for name, c in kids.items() if "vitrine" in nodes[c].get("extras", {}))
        placard = [w[c][1] for c in nodes[kids["placard"]]["children"]]
        prim = gltf["meshes"][nodes[ex]["mesh"]]["primitives"][0]
        faces = accessor_array(gltf, binary, prim["indices"]).reshape(-1, 3)
        out.append({"node": nodes[ex], "exhibit": w[ex][1], "faces": faces,
                    "plinth": w[kids["plinth"]][1],
                    "placard": np.concatenate(placard),
                    "spot": w[kids["spot"]][0]})
    return out


def aabb(v):
    return v.min(axis=0), v.max(axis=0)


def overlaps(a, b):
    return bool(np.all(a[0] < b[1]) and np.all(b[0] < a[1]))


def test_every_theme_is_one_valid_glb(pipe):
    builts = [build(pipe, theme, seed=11, exhibits=3, **SMALL) for theme in THEMES]
    for b in builts:
        assert b.kind == "scene" and [f.name for f in b.files] == ["scene.glb"]
    reports = validate_glb([b.files[0].data for b in builts])
    for theme, r in zip(THEMES, reports):
        assert (r["numErrors"], r["numWarnings"]) == (0, 0), (theme, r["messages"])
    for b in builts:
        gltf, _ = read_glb(b.files[0].data)
        root = gltf["nodes"][gltf["scenes"][0]["nodes"][0]]
        assert root["name"] == "gallery"
        assert [gltf["nodes"][c]["name"] for c in root["children"]] == [
            "shell", "exhibits", "lights"]
        assert "KHR_lights_punctual" in gltf["extensionsUsed"]
        assert root["extras"]["vitrine"]["theme"] in THEMES


def test_24_exhibits_on_their_plinths_apart_and_clear_of_the_doors(pipe):
    """The issue's scene at the default options: 0/0 validator, within the 40 MB budget, each
    exhibit standing on its plinth, no two stands touching, none in a doorway."""
    built = build(pipe, "sculpture-hall", seed=24, exhibits=24)
    data = built.files[0].data
    assert len(data) <= 40e6
    report = validate_glb([data])[0]
    assert (report["numErrors"], report["numWarnings"]) == (0, 0), report["messages"]
    gltf, binary = read_glb(data)
    got = stands(gltf, binary)
    assert len(got) == 24
    root = gltf["nodes"][gltf["scenes"][0]["nodes"][0]]
    width, depth, height = root["extras"]["vitrine"]["room_m"]
    boxes = []
    for s in got:
        ex_lo, ex_hi = aabb(s["exhibit"])
        pl_lo, pl_hi = aabb(s["plinth"])
        # No part of it floats (a table top without legs), ...
        v = s["exhibit"].astype(np.float32)
        assert floating_parts(Mesh(v, s["faces"], np.zeros_like(v), 0)) == 0
        # ... its lowest point is on the plinth top within 1 cm, and inside its footprint.
        assert abs(ex_lo[1] - pl_hi[1]) <= 0.01, s["node"]["name"]
        assert pl_lo[1] == pytest.approx(0.0, abs=1e-6)
        assert np.all(ex_lo[[0, 2]] >= pl_lo[[0, 2]] - 1e-4)
        assert np.all(ex_hi[[0, 2]] <= pl_hi[[0, 2]] + 1e-4)
        whole = aabb(np.concatenate([s["exhibit"], s["plinth"], s["placard"]]))
        boxes.append(whole)
        # Inside the room, under the ceiling.
        assert whole[0][0] >= -width / 2 and whole[1][0] <= width / 2
        assert whole[0][2] >= -depth / 2 and whole[1][2] <= depth / 2
        assert whole[1][1] < height
        # Clear of each doorway and the floor in front of it.
        for z_wall in (depth / 2, -depth / 2):
            door = (np.array([-L.DOOR_WIDTH_M / 2 - 0.3, 0, min(z_wall, z_wall - 2 * np.sign(
                z_wall))]), np.array([L.DOOR_WIDTH_M / 2 + 0.3, L.DOOR_HEIGHT_M, max(
                    z_wall, z_wall - 2 * np.sign(z_wall))]))
            assert not overlaps(whole, door)
        # The spot above points down at it.
        spot = s["spot"]
        assert spot[1, 3] < height and np.allclose(spot[:3, :3] @ [0, 0, -1], [0, -1, 0])
        assert np.allclose(spot[[0, 2], 3], (pl_lo[[0, 2]] + pl_hi[[0, 2]]) / 2, atol=1e-6)
    for a, b in itertools.combinations(boxes, 2):
        assert not overlaps(a, b)


def test_exhibit_nodes_are_named_by_the_asset_ids_that_replay(pipe):
    built = build(pipe, "design", seed=3, exhibits=3, **SMALL)
    gltf, binary = read_glb(built.files[0].data)
    got = stands(gltf, binary)
    props = Pipeline({m: pipe.models["gallery"].props.models[m] for m in PROP_MODELS})
    for s in got:
        node = s["node"]
        meta = node["extras"]["vitrine"]
        assert node["name"] == meta["asset_id"]
        req = meta["request"]
        assert set(req) == {"model", "category", "seed", "options"}
        job = props.prepare(req["model"], req["category"], req["seed"], req["options"])
        assert job.asset_id == node["name"]
    # The recorded request gives the very same mesh as a standalone asset.
    req = got[0]["node"]["extras"]["vitrine"]["request"]
    alone = props.build([props.prepare(req["model"], req["category"], req["seed"],
                                       req["options"])])[0]
    lod0 = next(f for f in alone.files if f.lod == 0)
    g2, b2 = read_glb(lod0.data)
    v_alone = accessor_array(g2, b2, g2["meshes"][0]["primitives"][0]["attributes"]["POSITION"])
    mesh = gltf["meshes"][got[0]["node"]["mesh"]]
    v_scene = accessor_array(gltf, binary, mesh["primitives"][0]["attributes"]["POSITION"])
    np.testing.assert_array_equal(v_scene, v_alone)


def test_same_seed_same_bytes(pipe):
    a = build(pipe, "antiquities", seed=5, exhibits=2, **SMALL).files[0]
    b = build(pipe, "antiquities", seed=5, exhibits=2, **SMALL).files[0]
    c = build(pipe, "antiquities", seed=6, exhibits=2, **SMALL).files[0]
    assert a.sha256 == b.sha256 and a.data == b.data
    assert c.sha256 != a.sha256


@pytest.mark.parametrize("options, field, allowed", [
    ({"exhibits": 0}, "options.exhibits", "1 to 48"),
    ({"exhibits": 49}, "options.exhibits", "1 to 48"),
    ({"room_width_m": 2.0}, "options.room_width_m", "4 to 100"),
    ({"room_depth_m": 500.0}, "options.room_depth_m", "4 to 100"),
    ({"texture_size": 100}, "options.texture_size", "power of two"),
    ({"exhibit_models": "procedural,foo"}, "options.exhibit_models", "voxel-gan"),
    ({"exhibit_models": " , "}, "options.exhibit_models", "comma-separated names from"),
    ({"exhibit_models": ""}, "options.exhibit_models", "comma-separated names from"),
    ({"exhibit_models": 3}, "options.exhibit_models", "comma-separated names from"),
    ({"lod_count": 2}, "options.lod_count", "not accepted"),
])
def test_bad_options_name_the_field_and_range(pipe, options, field, allowed):
    with pytest.raises(InvalidOption) as err:
        pipe.prepare("gallery", "design", 1, options)
    assert err.value.field == field and allowed in str(err.value)


def test_exhibit_models_have_one_spelling(pipe):
    spelled = lambda v: pipe.prepare("gallery", "design", 1, {"exhibit_models": v}).spec.options[
        "exhibit_models"]
    assert spelled("implicit-gan, procedural") == "procedural,implicit-gan"
    assert spelled("voxel-gan,procedural,implicit-gan,voxel-gan") is None  # all = unset
    every = pipe.prepare("gallery", "design", 1, {"exhibit_models": ",".join(PROP_MODELS)})
    unset = pipe.prepare("gallery", "design", 1, {})
    assert every.asset_id == unset.asset_id
    only = pipe.models["gallery"].draw(pipe.prepare(
        "gallery", "design", 1, {"exhibit_models": "voxel-gan", "exhibits": 20}).spec)
    assert {r["model"] for r in only} == {"voxel-gan"}
    mixed = pipe.models["gallery"].draw(pipe.prepare("gallery", "design", 1,
                                                     {"exhibits": 30}).spec)
    assert {r["model"] for r in mixed} == set(PROP_MODELS)
    assert {r["category"] for r in mixed} <= set(THEMES["design"].exhibits)


def test_a_room_too_small_is_refused_with_its_minimum(pipe):
    job = pipe.prepare("gallery", "antiquities", 2, {"exhibits": 4, "room_width_m": 5,
                                                     "room_depth_m": 5, **SMALL})
    err = pipe.build([job])[0]
    assert isinstance(err, InvalidOption)
    assert err.field == "options.room_width_m" and "at least" in str(err)


def test_catalog_entry(pipe):
    from server.convert import model_info_to_proto

    info = pipe.models["gallery"].info
    assert info.kind == "scene" and info.categories == tuple(THEMES)
    assert len(THEMES) >= 3
    pb = model_info_to_proto(info)
    opt = {o.name: o for o in pb.options}
    assert opt["exhibit_models"].type == "set"
    assert list(opt["exhibit_models"].choices) == list(PROP_MODELS)
    assert (opt["exhibits"].min, opt["exhibits"].max, opt["exhibits"].default_value) == (
        1, 48, "12")
