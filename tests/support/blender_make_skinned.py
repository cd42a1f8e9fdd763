"""Make a small skinned, animated GLB with Blender's own exporter (a known-good reference).

Run inside Blender (``consumers.make_skinned_glb()`` does this):

    blender -b --factory-startup --python-exit-code 2 \
        --python tests/support/blender_make_skinned.py -- OUT.glb

The GLB holds an armature of two bones ("Root" from the floor to 1 m, "Tip" from 1 m to 2 m,
Tip's parent Root), a 2 m cylinder of radius 0.1 m standing on the floor at glTF (0.3, 0, 0.5)
(glTF bounds x 0.2..0.4, y 0..2, z 0.4..0.6), skinned to them (weights blend linearly
over the middle 0.5 m) and one action, "Bend", that turns Tip 90 degrees about X over one
second (frames 1 to 25 at 24 fps), and a point light "Lamp" (KHR_lights_punctual). The
consumer harnesses are proven on it: a quarter into the clip the top of the tube has moved by
decimetres.
"""

from __future__ import annotations

import math
import sys

import numpy

if not hasattr(numpy, "bool"):  # Blender 3.4's glTF add-on uses the alias numpy removed
    numpy.bool = bool

import bmesh  # only inside Blender
import bpy

HEIGHT = 2.0  # metres; each bone is half of it
RADIUS = 0.1
RINGS = 16  # segments along the height
SEGMENTS = 12  # around
BLEND = 0.25  # half-width in metres of the zone where Root and Tip weights mix
# Off the origin and off every symmetry plane, so an axis conversion with a wrong sign shows:
# Blender (0.3, -0.5, 0) is glTF (0.3, 0, 0.5).
OFFSET = (0.3, -0.5, 0.0)


def build() -> None:
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    scene = bpy.context.scene
    scene.render.fps = 24
    scene.frame_start, scene.frame_end = 1, 25

    arm_data = bpy.data.armatures.new("Rig")
    rig = bpy.data.objects.new("Rig", arm_data)
    scene.collection.objects.link(rig)
    bpy.context.view_layer.objects.active = rig
    bpy.ops.object.mode_set(mode="EDIT")
    root = arm_data.edit_bones.new("Root")
    ox, oy, oz = OFFSET
    root.head, root.tail = (ox, oy, oz), (ox, oy, oz + HEIGHT / 2)
    tip = arm_data.edit_bones.new("Tip")
    tip.head, tip.tail = (ox, oy, oz + HEIGHT / 2), (ox, oy, oz + HEIGHT)
    tip.parent = root
    tip.use_connect = True
    bpy.ops.object.mode_set(mode="OBJECT")

    mesh = bpy.data.meshes.new("Tube")
    bm = bmesh.new()
    bmesh.ops.create_cone(bm, cap_ends=True, segments=SEGMENTS, radius1=RADIUS,
                          radius2=RADIUS, depth=HEIGHT)
    bmesh.ops.translate(bm, verts=bm.verts, vec=(0, 0, HEIGHT / 2))
    # cut rings so the bend has vertices to move
    edges = [e for e in bm.edges
             if abs(e.verts[0].co.z - e.verts[1].co.z) > HEIGHT / 2]
    bmesh.ops.subdivide_edges(bm, edges=edges, cuts=RINGS - 1, use_grid_fill=True)
    bmesh.ops.triangulate(bm, faces=bm.faces)
    bmesh.ops.translate(bm, verts=bm.verts, vec=OFFSET)
    bm.to_mesh(mesh)
    bm.free()
    tube = bpy.data.objects.new("Tube", mesh)
    scene.collection.objects.link(tube)
    # not parented to the rig: a skinned mesh node must be a root (validator warning otherwise)
    mod = tube.modifiers.new("Armature", "ARMATURE")
    mod.object = rig
    g_root = tube.vertex_groups.new(name="Root")
    g_tip = tube.vertex_groups.new(name="Tip")
    for v in mesh.vertices:
        w = min(1.0, max(0.0, (v.co.z - OFFSET[2] - (HEIGHT / 2 - BLEND)) / (2 * BLEND)))  # 0 below, 1 above
        if w < 1.0:
            g_root.add([v.index], 1.0 - w, "REPLACE")
        if w > 0.0:
            g_tip.add([v.index], w, "REPLACE")

    # one punctual light, so the harnesses' light reports are proven too (galleries have them)
    lamp = bpy.data.objects.new("Lamp", bpy.data.lights.new("Lamp", "POINT"))
    lamp.location = (1.0, -1.0, 2.5)
    scene.collection.objects.link(lamp)

    action = bpy.data.actions.new("Bend")
    rig.animation_data_create().action = action
    pose_tip = rig.pose.bones["Tip"]
    pose_tip.rotation_mode = "XYZ"
    for frame, angle in ((1, 0.0), (25, math.pi / 2)):
        pose_tip.rotation_euler = (angle, 0.0, 0.0)
        pose_tip.keyframe_insert("rotation_euler", frame=frame)


def main(argv: list[str]) -> None:
    args = argv[argv.index("--") + 1:] if "--" in argv else []
    if len(args) != 1:
        raise SystemExit("usage: blender -b --python blender_make_skinned.py -- OUT.glb")
    build()
    bpy.ops.export_scene.gltf(filepath=args[0], export_format="GLB", export_animations=True,
                              export_skins=True, export_apply=False, export_lights=True)


main(sys.argv)
