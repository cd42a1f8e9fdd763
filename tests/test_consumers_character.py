"""Characters through Blender's glTF importer and three.js in headless Chromium.

Every `humanoid` category x skeleton (unreal, mixamo, vrm) with every clip, at a small budget
(the skeleton only renames joints, the category changes the body), every `character-gan`
category (its bodies are the network's; the rig is re-fitted to them), plus one character at
the default options with its lod0 and coarsest level. All of them go through one Blender and one
Chromium run. Blender must build an armature holding every joint of the GLB's skin with the
GLB's parent chain and one action per clip; three.js must play every clip and the skinned mesh
must move, with no console error or warning.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass

import pytest
from support.consumers import blender_import, consumer_problems, doubled_faces, three_load

from generators.core import registry
from generators.pipeline import Built, Pipeline

SEED = 5
SMALL = {"max_triangles": 6000, "lod_count": 1, "texture_size": 64}
# The first joint under the root, as each naming scheme spells the hips (DESIGN.md, "Skins").
HIPS = {"unreal": "pelvis", "mixamo": "mixamorig:Hips", "vrm": "hips"}
MIN_MOVE_M = 0.03  # "the mesh moves": the largest skinned-vertex excursion of any clip
MIN_STRIDE_M = 0.2  # walk and run swing the feet by decimetres
IN_PLACE_M = 0.01  # walk and run are in place: the root bone stays put
BOUNDS_TOL_M = 1e-3
COARSE_TOL_M = 0.02  # the coarsest level is a decimation of lod0
MIN_RENDER_FRACTION = 0.01
MAX_RENDER_FRACTION = 0.95


@dataclass(frozen=True)
class Case:
    name: str  # "heroic/unreal/lod0.glb"
    skeleton: str
    clips: tuple[str, ...]
    data: bytes
    triangles: int
    bounds: tuple
    tol: float


def _three_name(name: str) -> str:
    """A node name as three.js keeps it (`PropertyBinding.sanitizeNodeName`: whitespace to
    '_', the track-path characters [ ] . : / dropped), so Mixamo's `mixamorig:Hips` is
    `mixamorigHips` in three, as it is for Mixamo's own files."""
    return re.sub(r"[\[\]\.:/]", "", re.sub(r"\s", "_", name))


def _gltf_json(glb: bytes) -> dict:
    (length,) = struct.unpack_from("<I", glb, 12)
    return json.loads(glb[20:20 + length])


def _skin(glb: bytes) -> tuple[list[str], dict[str, str | None]]:
    """The joint names of the GLB's (one) skin and each joint's parent joint (None: a root)."""
    gltf = _gltf_json(glb)
    (skin,) = gltf["skins"]
    nodes = gltf["nodes"]
    parent = {c: i for i, n in enumerate(nodes) for c in n.get("children", [])}
    joints = set(skin["joints"])
    names = [nodes[j]["name"] for j in skin["joints"]]
    parents = {nodes[j]["name"]: (nodes[parent[j]]["name"] if parent.get(j) in joints else None)
               for j in skin["joints"]}
    return names, parents


def _cases(built: list[Built]) -> list[Case]:
    cases = []
    for b in built:
        assert isinstance(b, Built), b
        opts = b.job.spec.options
        clips = tuple(opts["clips"].split(","))
        glbs = sorted((f for f in b.files if f.name.endswith(".glb")), key=lambda f: f.lod)
        for f in {glbs[0].name: glbs[0], glbs[-1].name: glbs[-1]}.values():
            tol = BOUNDS_TOL_M if f.lod == 0 else COARSE_TOL_M
            name = (f"{b.job.model.info.name}/{b.category}/{opts['skeleton']}/"
                    f"{opts['max_triangles']}/{f.name}")
            cases.append(Case(name, opts["skeleton"], clips, f.data, f.triangles, b.bounds, tol))
    return cases


@pytest.fixture(scope="module")
def pipe() -> Pipeline:
    return Pipeline(registry.load_models(["humanoid", "character-gan"]))


@pytest.fixture(scope="module")
def cases(pipe) -> list[Case]:
    info = pipe.models["humanoid"].info
    skeletons = next(o for o in info.options if o.name == "skeleton").choices
    assert set(skeletons) == set(HIPS), skeletons
    jobs = [pipe.prepare("humanoid", c, SEED, {**SMALL, "skeleton": s})
            for c in info.categories for s in skeletons]
    jobs += [pipe.prepare("character-gan", c, SEED, SMALL)
             for c in pipe.models["character-gan"].info.categories]
    jobs.append(pipe.prepare("humanoid", info.categories[0], SEED, {}))  # defaults, all LODs
    return _cases(pipe.build(jobs))


@pytest.fixture(scope="module")
def blender(cases) -> dict[str, dict]:
    reports = blender_import([c.data for c in cases], names=[c.name for c in cases])
    return {r["path"]: r for r in reports}


@pytest.fixture(scope="module")
def three(cases) -> dict[str, dict]:
    reports = three_load([c.data for c in cases], names=[c.name for c in cases])
    return {r["path"]: r for r in reports}


def _box_problems(name: str, got: dict | None, want, tol: float) -> list[str]:
    if got is None:
        return [f"{name}: no bounds"]
    worst = max(abs(g - w) for g, w in zip([*got["min"], *got["max"]], [*want[0], *want[1]]))
    if worst > tol:
        return [(f"{name}: bounds {got['min']} .. {got['max']} differ from the header's "
                 f"{list(want[0])} .. {list(want[1])} by {worst:.4f} m (tolerance {tol})")]
    return []


def test_the_matrix_covers_every_category_and_skeleton(pipe, cases):
    info = pipe.models["humanoid"].info
    assert info.kind == "character"
    small = {(c.name.split("/")[1], c.skeleton) for c in cases
             if c.name.startswith("humanoid/") and "/6000/" in c.name}
    assert small == {(cat, s) for cat in info.categories for s in HIPS}
    learned = {c.name.split("/")[1] for c in cases if c.name.startswith("character-gan/")}
    assert learned == set(pipe.models["character-gan"].info.categories)
    clips = next(o for o in info.options if o.name == "clips").choices
    assert all(sorted(c.clips) == sorted(clips) for c in cases)


def test_blender_builds_the_whole_skeleton_and_one_action_per_clip(cases, blender):
    problems = []
    for c in cases:
        r = blender[c.name]
        problems += consumer_problems([r])
        if not r["ok"]:
            continue
        joints, parents = _skin(c.data)
        if len(r["armatures"]) != 1:
            problems.append(f"{c.name}: {len(r['armatures'])} armatures")
            continue
        (arm,) = r["armatures"]
        if arm["bone_count"] != len(joints) or set(arm["parents"]) != set(joints):
            missing = sorted(set(joints) - set(arm["parents"]))
            extra = sorted(set(arm["parents"]) - set(joints))
            problems.append(f"{c.name}: Blender's armature has {arm['bone_count']} bones, the "
                            f"skin {len(joints)} joints (missing {missing}, extra {extra})")
        elif arm["parents"] != parents:
            wrong = {b: (arm["parents"][b], p) for b, p in parents.items()
                     if arm["parents"][b] != p}
            problems.append(f"{c.name}: bone parents differ (Blender, GLB): {wrong}")
        if len(arm["roots"]) != 1:
            problems.append(f"{c.name}: {len(arm['roots'])} root bones {arm['roots']}")
        if HIPS[c.skeleton] not in arm["parents"]:
            problems.append(f"{c.name}: no {HIPS[c.skeleton]!r} bone in a {c.skeleton} skeleton")
        for mesh in r["meshes"]:
            if mesh["armature"] != arm["name"] or mesh["vertex_groups"] != len(joints):
                problems.append(f"{c.name}: mesh {mesh['name']} bound to {mesh['armature']} "
                                f"with {mesh['vertex_groups']} vertex groups (skin: "
                                f"{len(joints)} joints)")
        tris = sum(m["triangles"] for m in r["meshes"])
        doubled = doubled_faces(c.data)
        if not c.triangles - doubled <= tris <= c.triangles:
            problems.append(f"{c.name}: Blender has {tris} triangles, the header says "
                            f"{c.triangles} ({doubled} doubled faces)")
        actions = sorted(a["name"] for a in r["actions"])
        for clip in c.clips:
            if sum(a.startswith(f"{clip}_") or a == clip for a in actions) != 1:
                problems.append(f"{c.name}: clip {clip!r} is not one action in {actions}")
        if len(actions) != len(c.clips):
            problems.append(f"{c.name}: {len(actions)} actions {actions} for clips {c.clips}")
        problems += _box_problems(c.name, r.get("bounds"), c.bounds, c.tol)
    assert not problems, "Blender:\n" + "\n".join(problems)


def test_three_plays_every_clip_and_the_skinned_mesh_moves(cases, three):
    problems = []
    for c in cases:
        r = three[c.name]
        problems += consumer_problems([r])
        if not r["ok"]:
            continue
        joints, _ = _skin(c.data)
        if not r["skinned_meshes"] or r["skinned_meshes"] != r["meshes"]:
            problems.append(f"{c.name}: {r['skinned_meshes']} of {r['meshes']} meshes skinned")
        if sorted(r["bone_names"]) != sorted(map(_three_name, joints)):
            problems.append(f"{c.name}: three's skeleton has {r['bones']} bones, the skin "
                            f"{len(joints)} joints")
        if r["triangles"] != c.triangles:
            problems.append(f"{c.name}: three has {r['triangles']} triangles, the header "
                            f"says {c.triangles}")
        if sorted(clip["name"] for clip in r["clips"]) != sorted(c.clips):
            problems.append(f"{c.name}: clips {[x['name'] for x in r['clips']]}, asked {c.clips}")
        for played in r["animation"]:
            moved = played["max_vertex_displacement_any_m"]
            need = MIN_STRIDE_M if played["clip"] in ("walk", "run") else MIN_MOVE_M
            if not played["duration"] > 0 or moved < need:
                problems.append(f"{c.name}: clip {played['clip']} ({played['duration']} s) "
                                f"moves the mesh by {moved:.3f} m (needs {need} m)")
            if played["clip"] in ("walk", "run") and played["max_root_displacement_m"] > IN_PLACE_M:
                problems.append(f"{c.name}: {played['clip']} is not in place: root bone "
                                f"{played['root_bone']} moves {played['max_root_displacement_m']:.3f} m")
        problems += _box_problems(c.name, r.get("bounds"), c.bounds, c.tol)
        frac = (r.get("render") or {}).get("non_background_fraction", 0.0)
        if not MIN_RENDER_FRACTION < frac < MAX_RENDER_FRACTION:
            problems.append(f"{c.name}: the rendered frame is {frac:.1%} character")
    assert not problems, "three.js:\n" + "\n".join(problems)


def test_blender_and_three_agree_on_clip_lengths(cases, blender, three):
    problems = []
    for c in cases:
        b, t = blender[c.name], three[c.name]
        if not (b["ok"] and t["ok"]):
            continue  # reported by the tests above
        durations = {clip["name"]: clip["duration"] for clip in t["clips"]}
        for action in b["actions"]:
            clip = next((n for n in durations if action["name"].startswith(f"{n}_")), None)
            if clip is None:
                continue
            start, end = action["frame_range"]
            seconds = (end - start) / b["fps"]
            if abs(seconds - durations[clip]) > 1.5 / b["fps"]:
                problems.append(f"{c.name}: {clip} lasts {seconds:.3f} s in Blender, "
                                f"{durations[clip]:.3f} s in three")
    assert not problems, "\n".join(problems)
