"""Floating parts: what holds a part of a generated mesh up."""

import numpy as np
import trimesh

from generators.core.asset import Mesh
from generators.gallery.parts import box
from generators.gallery.support import floating_parts


def merged(*boxes):
    """Boxes as one mesh, their faces cut to about 2 cm, as dense as a generated prop's."""
    v, f, off = [], [], 0
    for lo, hi in boxes:
        lo, hi = np.asarray(lo, float), np.asarray(hi, float)
        b = trimesh.creation.box(extents=hi - lo)
        b.apply_translation((lo + hi) / 2)
        bv, bf = trimesh.remesh.subdivide_to_size(b.vertices, b.faces, 0.02)
        v.append(bv.astype(np.float32))
        f.append(bf + off)
        off += len(bv)
    v = np.concatenate(v)
    return Mesh(v, np.concatenate(f).astype(np.uint32), np.zeros_like(v), 0)


LEGS = [((x, 0, z), (x + 0.05, 0.7, z + 0.05)) for x in (0, 0.95) for z in (0, 0.55)]


def test_a_table_stands_and_a_top_without_legs_floats():
    top = ((0, 0.7, 0), (1, 0.75, 0.6))
    assert floating_parts(merged(*LEGS, top)) == 0  # the top rests on its legs
    lifted = ((0, 0.8, 0), (1, 0.85, 0.6))
    assert floating_parts(merged(*LEGS, lifted)) == 1  # 10 cm above them
    assert floating_parts(merged(lifted)) == 0  # alone, it is the floor level itself


def test_held_by_touching_running_through_or_inside():
    stem = ((0, 0, 0), (0.04, 1.0, 0.04))
    shade = ((-0.2, 0.8, -0.2), (0.24, 1.1, 0.24))  # the stem runs up into it
    assert floating_parts(merged(stem, shade)) == 0
    beside = ((0.5, 0.8, 0.5), (0.9, 1.1, 0.9))
    assert floating_parts(merged(stem, beside)) == 1
    base = ((0, 0, 0), (1, 1, 1))
    inner = ((0.3, 0.3, 0.3), (0.6, 0.6, 0.6))  # an inner shell: inside the base's bounds
    assert floating_parts(merged(base, inner)) == 0
    # Holding spreads upwards: a box on the lifted top floats with it.
    lifted = ((0, 0.8, 0), (1, 0.85, 0.6))
    vase = ((0.4, 0.86, 0.2), (0.6, 1.1, 0.4))  # 1 cm above: it rests on the top
    assert floating_parts(merged(*LEGS, lifted, vase)) == 2


def test_uv_seams_do_not_split_a_part():
    m = box((0, 0, 0), (1, 1, 1), 1.0)  # 24 vertices: every corner split three ways
    assert floating_parts(m) == 0
