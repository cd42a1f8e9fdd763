"""The humanoid model: options, determinism, heights, levels of detail, skinned primitives."""

from __future__ import annotations

import numpy as np
import pytest

from generators.core.errors import InvalidOption
from generators.core.registry import load_models
from generators.humanoid import body as B
from generators.humanoid.generator import build_character, decimate_skinned, draw_outfit
from generators.pipeline import Pipeline

SMALL = {"lod_count": 1, "texture_size": 64}


@pytest.fixture(scope="module")
def model():
    return load_models(["humanoid"])["humanoid"]


def _one(model, category, seed, options):
    out = model.generate([model.resolve(category, seed, options)])[0]
    assert not isinstance(out, Exception), out
    return out


def test_info_declares_the_character_options(model):
    info = model.info
    assert info.kind == "character" and info.categories == tuple(B.CATEGORIES)
    opts = {o.name: o for o in info.options}
    assert {"skeleton", "clips", "height_m", "max_triangles", "lod_count", "texture_size"} <= set(opts)
    assert opts["skeleton"].choices == ("unreal", "mixamo", "vrm")
    assert "HumanBodyBones" in opts["skeleton"].description
    assert opts["clips"].type == "set" and opts["clips"].default == "idle,walk,run,wave"
    assert info.version.startswith("hum-")


@pytest.mark.parametrize("options, field, needle", [
    ({"skeleton": "bvh"}, "options.skeleton", "one of unreal, mixamo, vrm"),
    ({"clips": "idle,dance"}, "options.clips", "idle, walk, run, wave, or none alone"),
    ({"clips": ""}, "options.clips", "comma-separated"),
    ({"clips": "none,walk"}, "options.clips", "none alone"),
    ({"height_m": 3.0}, "options.height_m", "allowed: 0.8 to 2.5"),
    ({"height_m": 0.2}, "options.height_m", "allowed: 0.8 to 2.5"),
    ({"lod_count": 9}, "options.lod_count", "1 to 4"),
])
def test_bad_options_name_the_field_and_range(model, options, field, needle):
    with pytest.raises(InvalidOption) as e:
        model.resolve("heroic", 1, options)
    assert e.value.field == field and needle in str(e.value)


def test_clips_are_canonicalised(model):
    a = model.resolve("heroic", 1, {"clips": "walk,idle"})
    b = model.resolve("heroic", 1, {"clips": " idle, walk,walk"})
    assert a == b and a.options["clips"] == "idle,walk"
    pipe = Pipeline({"humanoid": model})
    assert (pipe.prepare("humanoid", "heroic", 1, {"clips": "walk,idle"}).asset_id
            == pipe.prepare("humanoid", "heroic", 1, {"clips": "idle,walk"}).asset_id)


def test_same_seed_same_bytes(model):
    pipe = Pipeline({"humanoid": model})

    def files():
        built = pipe.build([pipe.prepare("humanoid", "stocky", 9, SMALL)])[0]
        return [(f.name, f.sha256) for f in built.files]

    assert files() == files()
    other = pipe.build([pipe.prepare("humanoid", "stocky", 10, SMALL)])[0]
    assert [f.sha256 for f in other.files] != [h for _, h in files()]


def test_height_option_scales_the_body(model):
    short = _one(model, "heroic", 3, {**SMALL, "height_m": 1.5, "clips": "none"})
    tall = _one(model, "heroic", 3, {**SMALL, "height_m": 2.1, "clips": "none"})
    assert short.metadata["height_m"] == pytest.approx(1.5, abs=1e-3)
    assert tall.metadata["height_m"] == pytest.approx(2.1, abs=1e-3)
    head = lambda a: a.rig.joint_positions[a.rig.joint_names.index("head")][1]
    assert head(tall) > head(short) + 0.4
    assert short.rig.clips == []
    lo, _ = tall.bounds
    assert abs(lo[1]) < 0.02  # feet (or boots) on the floor


def test_levels_of_detail_stay_in_budget_and_skin_valid(model):
    asset = _one(model, "elder", 2, {"lod_count": 3, "texture_size": 64, "max_triangles": 12000})
    tris = [sum(p.triangles for p in lod) for lod in asset.rig.lods]
    assert tris[0] <= 12000 and tris[0] > tris[1] > tris[2] > 0
    assert [m.triangles for m in asset.meshes] == tris
    for lod in asset.rig.lods:
        names = [p.name for p in lod]
        assert names[:2] == ["skin", "eyes"] and len({p.material.name for p in lod}) == len(lod)
        for p in lod:
            np.testing.assert_allclose(p.weights.sum(axis=1), 1.0, atol=1e-5)
            assert (np.diff(p.weights, axis=1) <= 0).all()
            assert p.joints.max() < len(asset.rig.joint_names)
            np.testing.assert_allclose(np.linalg.norm(p.normals, axis=1), 1.0, atol=1e-5)
            assert p.faces.max() < len(p.vertices)


def test_decimation_keeps_weights_of_the_nearest_vertex():
    body = B.body_from_params(B.sample_params("slender", 2))
    from generators.core.asset import Material
    from generators.export.character import SkinnedPrimitive
    from generators.geometry.normals import vertex_normals

    faces = body.faces[~body.eye_faces]
    prim = SkinnedPrimitive("skin", body.vertices, vertex_normals(body.vertices, faces), body.uvs,
                            faces, body.joints, body.weights, Material("skin", (1, 1, 1, 1)))
    small = decimate_skinned(prim, 3000)
    assert 1500 < small.triangles <= 3000
    np.testing.assert_allclose(small.weights.sum(axis=1), 1.0, atol=1e-5)
    # A vertex of the decimated left hand is still driven by the left hand's bones.
    i = int(np.argmax(small.vertices[:, 0]))
    hand = [j for j, n in enumerate(body.joint_names) if n.endswith("_l")]
    assert small.joints[i, 0] in hand


def test_outfits_are_drawn_per_seed():
    outfits = {draw_outfit("elder", s) for s in range(1, 30)}
    assert len(outfits) > 1
    assert draw_outfit("elder", 4) == draw_outfit("elder", 4)


def test_build_character_takes_any_body(model):
    body = B.body_from_params(B.sample_params("child", 1))
    v = body.vertices * np.float32(1.1)  # e.g. a learned model's vertices
    asset = build_character(B.body_from_vertices(v), "child", 1,
                            model.resolve("child", 1, SMALL).options, model.materials)
    assert asset.kind == "character" and asset.rig.lods and len(asset.rig.clips) == 4
    assert asset.metadata["height_m"] == pytest.approx(body.height_m * 1.1, abs=1e-3)
