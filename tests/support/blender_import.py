"""Import GLBs with Blender's own glTF importer and describe what Blender made of them.

Run inside Blender (``tests/support/consumers.py`` does this; one Blender for a whole list):

    blender -b --factory-startup --python-exit-code 2 \
        --python tests/support/blender_import.py -- MANIFEST.json OUT.json

``MANIFEST.json`` is ``{"files": [path, ...]}``. ``OUT.json`` gets one report per file, in
order (see ``consumers.blender_import`` for the fields). Each file is imported into an empty
scene. An import that raises is reported as ``ok: false`` with Blender's error text; the
script itself failing (a bad manifest, an exception here) exits with code 2, so the caller sees
it. Bounds are reported both in Blender's Z-up frame and converted back to glTF's Y-up frame
(glTF (x, y, z) = Blender (x, z, -y)); Blender's importer keeps metres.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import sys
import traceback

import numpy

# Blender 3.4's glTF importer still uses the alias numpy removed in 1.24.
if not hasattr(numpy, "bool"):
    numpy.bool = bool

import bpy  # only inside Blender

# Reports get at most this many bone / node names per list, so a report stays readable.
MAX_NAMES = 256


def _empty_scene() -> None:
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    # An empty home file still keeps orphan data blocks of earlier imports until purged.
    for coll in (bpy.data.meshes, bpy.data.materials, bpy.data.images, bpy.data.actions,
                 bpy.data.armatures, bpy.data.lights, bpy.data.cameras, bpy.data.objects):
        for block in list(coll):
            coll.remove(block)


def _gltf_bounds(lo: numpy.ndarray, hi: numpy.ndarray) -> dict:
    """Blender Z-up box -> glTF Y-up box: glTF (x, y, z) = Blender (x, z, -y)."""
    return {"min": [float(lo[0]), float(lo[2]), float(-hi[1])],
            "max": [float(hi[0]), float(hi[2]), float(-lo[1])]}


def _world_coords(obj) -> numpy.ndarray:
    mesh = obj.data
    co = numpy.empty(len(mesh.vertices) * 3, dtype=numpy.float64)
    mesh.vertices.foreach_get("co", co)
    co = co.reshape(-1, 3)  # [V, 3] object space
    mw = numpy.array(obj.matrix_world, dtype=numpy.float64)  # [4, 4]
    return co @ mw[:3, :3].T + mw[:3, 3]


def _material(mat) -> dict:
    images = []
    if mat.use_nodes and mat.node_tree is not None:
        for node in mat.node_tree.nodes:
            if node.type == "TEX_IMAGE" and node.image is not None:
                img = node.image
                images.append({"name": img.name, "size": [int(img.size[0]), int(img.size[1])],
                               "linked_to": sorted({link.to_socket.name for out in node.outputs
                                                    for link in out.links})})
    return {"name": mat.name, "image_textures": len(images), "images": images}


def _mesh(obj) -> dict:
    mesh = obj.data
    mesh.calc_loop_triangles()
    out = {
        "name": obj.name,
        "vertices": len(mesh.vertices),
        "triangles": len(mesh.loop_triangles),
        "materials": [m.name for m in mesh.materials if m is not None],
        "vertex_groups": len(obj.vertex_groups),
        "armature": next((m.object.name for m in obj.modifiers
                          if m.type == "ARMATURE" and m.object is not None), None),
        "uv_layers": len(mesh.uv_layers),
    }
    if len(mesh.vertices):
        co = _world_coords(obj)
        lo, hi = co.min(axis=0), co.max(axis=0)
        out["bounds_blender"] = {"min": lo.tolist(), "max": hi.tolist()}
        out["bounds"] = _gltf_bounds(lo, hi)
    return out


def _armature(obj) -> dict:
    bones = obj.data.bones
    return {
        "name": obj.name,
        "bones": [b.name for b in bones][:MAX_NAMES],
        "bone_count": len(bones),
        "parents": {b.name: (b.parent.name if b.parent else None) for b in bones},
        "roots": [b.name for b in bones if b.parent is None],
    }


def _action(act) -> dict:
    start, end = act.frame_range
    bones = sorted({fc.data_path.split('"')[1] for fc in act.fcurves
                    if fc.data_path.startswith("pose.bones[")})
    return {"name": act.name, "frame_range": [float(start), float(end)],
            "fcurves": len(act.fcurves), "bones": bones[:MAX_NAMES],
            "users": act.users}


def _describe() -> dict:
    scene = bpy.context.scene
    objects = list(scene.objects)
    meshes = [_mesh(o) for o in objects if o.type == "MESH"]
    report = {
        "objects": len(objects),
        "object_names": [o.name for o in objects][:MAX_NAMES],
        "meshes": meshes,
        "materials": [_material(m) for m in bpy.data.materials],
        "armatures": [_armature(o) for o in objects if o.type == "ARMATURE"],
        "actions": [_action(a) for a in bpy.data.actions],
        "lights": [{"name": o.name, "type": o.data.type, "energy": float(o.data.energy)}
                   for o in objects if o.type == "LIGHT"],
        "fps": scene.render.fps / scene.render.fps_base,
    }
    boxes = [m["bounds_blender"] for m in meshes if "bounds_blender" in m]
    if boxes:
        lo = numpy.min([b["min"] for b in boxes], axis=0)
        hi = numpy.max([b["max"] for b in boxes], axis=0)
        report["bounds"] = _gltf_bounds(lo, hi)
    return report


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.levelname, record.getMessage()))


def _imported(path: str) -> tuple[dict, list[str], list[str]]:
    """Run the importer on `path`; its result, and the errors and warnings it logged (the
    add-on logs through the 'glTFImporter' logger and prints `HH:MM:SS | LEVEL: text`)."""
    records = _Records()
    logger = logging.getLogger("glTFImporter")
    logger.addHandler(records)
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            try:
                result = bpy.ops.import_scene.gltf(filepath=path)
                outcome = ({"ok": True, "error": None} if "FINISHED" in result else
                           {"ok": False, "error": f"import_scene.gltf returned {set(result)}"})
            except RuntimeError as err:  # bpy.ops raises it with the importer's text
                outcome = {"ok": False, "error": f"{type(err).__name__}: {err}",
                           "traceback": traceback.format_exc()}
    finally:
        logger.removeHandler(records)
    sys.stdout.write(printed.getvalue())  # still in Blender's own output, for a human
    errors = [m for lvl, m in records.lines if lvl in ("ERROR", "CRITICAL")]
    warnings = [m for lvl, m in records.lines if lvl == "WARNING"]
    for line in printed.getvalue().splitlines():
        if "| ERROR: " in line:
            errors.append(line.split("| ERROR: ", 1)[1])
        elif "| WARNING: " in line:
            warnings.append(line.split("| WARNING: ", 1)[1])
    return outcome, errors, warnings


def import_one(path: str) -> dict:
    _empty_scene()
    outcome, errors, warnings = _imported(path)
    report = {"path": path, **outcome, "import_errors": errors, "import_warnings": warnings}
    if outcome["ok"]:
        report.update(_describe())
    return report


def main(argv: list[str]) -> None:
    args = argv[argv.index("--") + 1:] if "--" in argv else []
    if len(args) != 2:
        raise SystemExit("usage: blender -b --python blender_import.py -- MANIFEST.json OUT.json")
    with open(args[0]) as f:
        files = json.load(f)["files"]
    reports = [import_one(p) for p in files]
    with open(args[1], "w") as f:
        json.dump({"blender": bpy.app.version_string, "reports": reports}, f)


main(sys.argv)
