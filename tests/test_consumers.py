"""Today's assets through two real consumers: Blender's glTF importer and three.js in Chromium.

The validator checks the spec; these check what an artist's tool and a web client actually make
of our files. One prop per category from `procedural` (lod0 and the coarsest level), one from
`voxel-gan`, one from `implicit-gan` and one texture preview GLB are built in-process through
the pipeline, then ALL of them go through one Blender and one Chromium run (module fixtures).
Two references prove the harnesses themselves: a skinned, animated GLB exported by Blender
(its clip must move the mesh in three.js, its armature must come back in Blender) and a
truncated GLB, which both consumers must report as broken.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass

import pytest
from support.consumers import (
    blender_import,
    consumer_problems,
    doubled_faces,
    make_skinned_glb,
    three_load,
)
from support.gltf_validator import assert_valid_glb

from generators.core import registry
from generators.pipeline import Built, Pipeline

SEED = 11
LOD0_TOL_M = 1e-4  # float32 positions; the header's bounds are lod0's own
COARSE_TOL_M = 0.01  # the coarsest level is a decimation: its box may move by a few mm ...
COARSE_TOL_REL = 0.02  # ... or by this share of the box's longest side, whichever is larger
# The texture preview is a 1 m quad standing on the floor, facing +Z (generators/export/texture.py);
# a texture asset's header has no bounds of its own.
PREVIEW_BOUNDS = ((-0.5, 0.0, 0.0), (0.5, 1.0, 0.0))
# The Blender-made reference (tests/support/blender_make_skinned.py), in glTF's Y-up frame.
SKINNED_BOUNDS = ((0.2, 0.0, 0.4), (0.4, 2.0, 0.6))
MIN_RENDER_FRACTION = 0.01  # of the 320x240 frame; the camera frames the asset's box
MAX_RENDER_FRACTION = 0.95  # a frame that is all "object" is as wrong as an empty one


@dataclass(frozen=True)
class Case:
    name: str  # "procedural/chair/lod0.glb"
    data: bytes
    triangles: int  # the header's figure for this file
    bounds: tuple  # expected ((min), (max)) in metres, glTF Y-up
    tol: float


def _gltf_json(glb: bytes) -> dict:
    (length,) = struct.unpack_from("<I", glb, 12)
    return json.loads(glb[20:20 + length])


def _extent(bounds) -> float:
    return max(hi - lo for lo, hi in zip(*bounds))


def _cases(built: list[Built]) -> list[Case]:
    cases = []
    for b in built:
        assert isinstance(b, Built), b
        model = b.job.model.info.name
        if b.kind == "texture":
            f = next(f for f in b.files if f.name == "preview.glb")
            cases.append(Case(f"{model}/{b.category}/{f.name}", f.data, 2, PREVIEW_BOUNDS,
                              LOD0_TOL_M))
            continue
        glbs = [f for f in b.files if f.name.endswith(".glb")]
        lod0 = next(f for f in glbs if f.lod == 0)
        coarsest = max(glbs, key=lambda f: f.lod)
        assert coarsest.lod > 0, f"{model} {b.category}: one level of detail only"
        for f, tol in ((lod0, LOD0_TOL_M),
                       (coarsest, max(COARSE_TOL_M, COARSE_TOL_REL * _extent(b.bounds)))):
            cases.append(Case(f"{model}/{b.category}/{f.name}", f.data, f.triangles, b.bounds,
                              tol))
    return cases


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    models = registry.load_models(["procedural", "voxel-gan", "implicit-gan", "texture-gan"])
    pipe = Pipeline(models)
    # Default geometry (small budgets lose thin parts in the coarsest level); 256-px maps keep
    # the export quick and still give every material its three images.
    opts = {"texture_size": 256}
    jobs = [pipe.prepare("procedural", c, SEED, opts)
            for c in models["procedural"].info.categories]
    jobs += [pipe.prepare("voxel-gan", "chair", SEED, opts),
             pipe.prepare("implicit-gan", "vase", SEED, opts),
             pipe.prepare("texture-gan", "brick", SEED, opts)]
    return _cases(pipe.build(jobs))


@pytest.fixture(scope="module")
def skinned() -> bytes:
    return make_skinned_glb()


@pytest.fixture(scope="module")
def broken(cases) -> bytes:
    data = cases[0].data
    return data[: len(data) // 2]  # a download cut in half


@pytest.fixture(scope="module")
def batch(cases, skinned, broken) -> tuple[list[str], list[bytes]]:
    names = [c.name for c in cases] + ["reference/skinned.glb", "reference/truncated.glb"]
    return names, [c.data for c in cases] + [skinned, broken]


@pytest.fixture(scope="module")
def blender(batch) -> dict[str, dict]:
    names, blobs = batch
    return {r["path"]: r for r in blender_import(blobs, names=names)}


@pytest.fixture(scope="module")
def three(batch) -> dict[str, dict]:
    names, blobs = batch
    return {r["path"]: r for r in three_load(blobs, names=names)}


def _box_problems(name: str, got: dict | None, want, tol: float) -> list[str]:
    if got is None:
        return [f"{name}: no bounds (no geometry?)"]
    worst = max(abs(g - w) for g, w in zip([*got["min"], *got["max"]], [*want[0], *want[1]]))
    if worst > tol:
        return [(f"{name}: bounds {got['min']} .. {got['max']} differ from the expected "
                 f"{list(want[0])} .. {list(want[1])} by {worst:.4f} m (tolerance {tol:.4f})")]
    return []


def test_the_skinned_reference_is_a_valid_glb(skinned):
    assert_valid_glb(skinned)


def test_blender_imports_every_asset_with_its_mesh_materials_and_bounds(cases, blender):
    problems = []
    for c in cases:
        r = blender[c.name]
        problems += consumer_problems([r])
        if not r["ok"]:
            continue
        if r["objects"] != 1 or len(r["meshes"]) != 1:
            problems.append(f"{c.name}: {r['objects']} objects ({r['object_names']}), "
                            f"{len(r['meshes'])} meshes; expected one mesh object")
            continue
        mesh = r["meshes"][0]
        # Blender may drop a face that doubles another one (it does when they share vertices,
        # not only positions); nothing else may go missing.
        doubled = doubled_faces(c.data)
        if not c.triangles - doubled <= mesh["triangles"] <= c.triangles:
            problems.append(f"{c.name}: Blender has {mesh['triangles']} triangles, the header "
                            f"says {c.triangles} ({doubled} of them doubled faces)")
        gltf = _gltf_json(c.data)
        images = {img["name"] for m in r["materials"] for img in m["images"]}
        if len(images) != len(gltf.get("images", [])):
            problems.append(f"{c.name}: Blender's materials use {len(images)} images "
                            f"({sorted(images)}), the GLB embeds {len(gltf.get('images', []))}")
        for mat in gltf.get("materials", []):
            textured = "baseColorTexture" in mat.get("pbrMetallicRoughness", {})
            got = next((m for m in r["materials"] if m["name"] == mat.get("name")), None)
            if got is None:
                problems.append(f"{c.name}: material {mat.get('name')!r} missing in Blender")
            elif textured and not any("Base Color" in i["linked_to"] for i in got["images"]):
                problems.append(f"{c.name}: material {got['name']!r} lost its base colour "
                                f"texture in Blender: {got['images']}")
        problems += _box_problems(c.name, r.get("bounds"), c.bounds, c.tol)
    assert not problems, "Blender:\n" + "\n".join(problems)


def test_three_loads_every_asset_cleanly_and_renders_it(cases, three):
    problems = []
    for c in cases:
        r = three[c.name]
        problems += consumer_problems([r])
        if not r["ok"]:
            continue
        if r["meshes"] != 1 or r["triangles"] != c.triangles:
            problems.append(f"{c.name}: three has {r['meshes']} meshes and {r['triangles']} "
                            f"triangles; the header says 1 and {c.triangles}")
        for mat in _gltf_json(c.data).get("materials", []):
            pbr = mat.get("pbrMetallicRoughness", {})
            want = {slot for slot, key in (("map", "baseColorTexture"),
                                           ("roughnessMap", "metallicRoughnessTexture"))
                    if key in pbr} | ({"normalMap"} if "normalTexture" in mat else set())
            got = next((m for m in r["materials"] if m["name"] == mat.get("name")), None)
            have = {m["slot"] for m in got["maps"]} if got else set()
            if want - have:
                problems.append(f"{c.name}: three's material {mat.get('name')!r} lacks "
                                f"{sorted(want - have)}")
        problems += _box_problems(c.name, r.get("bounds"), c.bounds, c.tol)
        frac = (r.get("render") or {}).get("non_background_fraction", 0.0)
        if not MIN_RENDER_FRACTION < frac < MAX_RENDER_FRACTION:
            problems.append(f"{c.name}: the rendered frame is {frac:.1%} object (expected "
                            f"{MIN_RENDER_FRACTION:.0%} to {MAX_RENDER_FRACTION:.0%})")
    assert not problems, "three.js:\n" + "\n".join(problems)


def test_blender_and_three_agree_on_every_box(cases, blender, three):
    # three reads glTF's frame directly; Blender's box is converted back from Z-up, so a sign
    # or axis slip in either harness shows here (the skinned reference is off every symmetry
    # plane).
    names = [c.name for c in cases] + ["reference/skinned.glb"]
    problems = []
    for name in names:
        b, t = blender[name].get("bounds"), three[name].get("bounds")
        if b is None or t is None:
            problems.append(f"{name}: Blender bounds {b}, three bounds {t}")
            continue
        problems += _box_problems(name, b, (t["min"], t["max"]), LOD0_TOL_M)
    assert not problems, "\n".join(problems)


def test_blender_imports_the_skinned_reference_as_an_armature_and_action(blender):
    r = blender["reference/skinned.glb"]
    assert consumer_problems([r]) == []
    assert _box_problems("skinned", r["bounds"], SKINNED_BOUNDS, 1e-4) == []
    (arm,) = r["armatures"]
    assert sorted(arm["bones"]) == ["Root", "Tip"]
    assert arm["roots"] == ["Root"] and arm["parents"]["Tip"] == "Root"
    (mesh,) = r["meshes"]
    assert mesh["armature"] == arm["name"] and mesh["vertex_groups"] == 2
    (action,) = r["actions"]
    assert action["name"].startswith("Bend") and action["fcurves"] > 0
    assert "Tip" in action["bones"]
    assert action["frame_range"] == [1.0, 25.0]
    assert [(li["name"], li["type"]) for li in r["lights"]] == [("Lamp", "POINT")]


def test_three_plays_the_skinned_reference_and_the_mesh_moves(three):
    r = three["reference/skinned.glb"]
    assert consumer_problems([r]) == []
    assert r["skinned_meshes"] == 1 and sorted(r["bone_names"]) == ["Root", "Tip"]
    assert r["lights"] == 1
    (clip,) = r["clips"]
    assert clip["name"] == "Bend" and clip["duration"] == pytest.approx(25 / 24, abs=0.05)
    (played,) = r["animation"]
    # Tip turns 90 degrees over the clip (Bezier easing): a quarter in, the top of the 2 m tube
    # has swung by decimetres; it cannot move by more than the 1.4 m of the full turn.
    assert 0.1 < played["max_vertex_displacement_m"] < 1.5, played
    assert played["vertices_sampled"] > 100


def test_both_consumers_report_a_truncated_glb(blender, three):
    b = blender["reference/truncated.glb"]
    assert not b["ok"] and "Bad GLB" in b["error"]
    # three's GLTFLoader parses what it can of a cut file: the lost images are console errors.
    assert consumer_problems([three["reference/truncated.glb"]])


def test_a_consumer_past_its_timeout_is_killed_with_a_clear_error(skinned):
    with pytest.raises(RuntimeError, match="Blender's glTF import .* ran past its 0.2 s timeout"):
        blender_import([skinned], timeout_s=0.2)
    with pytest.raises(RuntimeError, match="three.js in headless Chromium .* ran past its 0.2 s"):
        three_load([skinned], timeout_s=0.2)
