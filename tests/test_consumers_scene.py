"""A `gallery` scene through Blender's glTF importer and three.js in headless Chromium: the
whole hall (shell, plinths, placards, every exhibit, the lights) arrives in both, at the
header's bounds, with no error."""

from __future__ import annotations

import json
import struct

import pytest
from support.consumers import blender_import, consumer_problems, three_load

from generators.core import registry
from generators.pipeline import Pipeline

BOUNDS_TOL_M = 1e-3


@pytest.fixture(scope="module")
def scene():
    pipe = Pipeline(registry.load_models(["gallery"]))
    built = pipe.build([pipe.prepare("gallery", "antiquities", 4,
                                     {"exhibits": 3, "texture_size": 64})])[0]
    (f,) = [f for f in built.files if f.name.endswith(".glb")]
    (length,) = struct.unpack_from("<I", f.data, 12)
    return built, f.data, json.loads(f.data[20:20 + length])


def _box(name, got, want):
    worst = max(abs(g - w) for g, w in zip([*got["min"], *got["max"]], [*want[0], *want[1]]))
    return [] if worst <= BOUNDS_TOL_M else [f"{name}: bounds {got} vs header {want}"]


def test_blender_imports_the_whole_hall(scene):
    built, glb, gltf = scene
    (r,) = blender_import([glb], names=["gallery.glb"])
    assert consumer_problems([r]) == []
    meshes_in_glb = sum(1 for n in gltf["nodes"] if "mesh" in n)
    assert len(r["meshes"]) == meshes_in_glb
    lights = gltf["extensions"]["KHR_lights_punctual"]["lights"]
    assert len(r["lights"]) == sum(1 for n in gltf["nodes"] if "extensions" in n) > 0
    assert len(lights) >= 1
    exhibit_ids = {n["name"] for n in gltf["nodes"]
                   if "asset_id" in n.get("extras", {}).get("vitrine", {})}
    assert len(exhibit_ids) == 3 and exhibit_ids <= set(r["object_names"])
    assert _box("blender", r["bounds"], built.bounds) == []


def test_three_loads_and_renders_the_whole_hall(scene):
    built, glb, gltf = scene
    (r,) = three_load([glb], names=["gallery.glb"], play=False)
    assert consumer_problems([r]) == []
    assert r["meshes"] == sum(1 for n in gltf["nodes"] if "mesh" in n)
    assert r["lights"] >= 1
    assert _box("three", r["bounds"], built.bounds) == []
    assert (r.get("render") or {}).get("non_background_fraction", 0.0) > 0.05
