"""The G-buffer and the offline reference on a real generated prop (small, so quick)."""

from __future__ import annotations

import numpy as np
import pytest

from generators.neural_render.gbuffer import FULL, HALF, check_size, render_gbuffer
from generators.neural_render.reference import render_reference
from generators.neural_render.scene import Camera, Placement, Scene, orbit_camera

SMALL = {"max_triangles": 800, "lod_count": 1, "texture_size": 64}


@pytest.fixture(scope="module")
def chair():
    from generators.core.registry import load_models

    gen = load_models(["procedural"])["procedural"]
    return gen.generate([gen.resolve("chair", 3, SMALL)])[0]


@pytest.fixture(scope="module")
def scene(chair):
    return Scene([(chair, Placement(0.0, 0.0, 30.0))])


def _camera(scene):
    return orbit_camera(scene.center, scene.radius, 20, 30, 45, 1.2)


def test_channels_cover_the_prop_floor_and_sky(scene):
    gb = render_gbuffer(scene, _camera(scene), 96, 64, np.random.default_rng(0))
    assert gb.full.shape == (len(FULL), 64, 96) and gb.half.shape == (len(HALF), 32, 48)
    mask = gb.mask > 0.5
    ids = gb.object_ids
    assert (ids[mask] <= 1).all() and (ids[~mask] == 255).all()
    assert (ids == 1).sum() > 200 and (ids == 0).sum() > 200  # the chair and the floor
    n = gb.full[3:6][:, mask]
    assert np.allclose(np.linalg.norm(n, axis=0), 1, atol=1e-3)
    albedo = gb.albedo[ids == 1]
    assert albedo.std(0).max() > 0.005  # the chair's wood texture, not a constant
    rm = gb.full[FULL.index("roughness")][mask]
    assert ((rm > 0) & (rm <= 1)).all()
    assert set(np.unique(gb.half[0])) <= {0.0, 1.0}
    assert 0 < gb.half[0][gb.half[2] > 0].mean() < 1  # some sampled pixels in shadow


def test_surface_reads_each_objects_normals_and_texels(scene):
    """The flat tables give what each object's own arrays say, at hits and (zeros) misses."""
    rays = _camera(scene).rays(64, 64).reshape(-1, 6)
    hit = scene.cast(rays)
    idx = np.nonzero(np.isfinite(hit["t_hit"]))[0]
    normal, albedo, rm = scene.surface(hit, idx)
    dense = scene.surface(hit)
    miss = np.setdiff1d(np.arange(len(rays)), idx)
    for got, want in zip(dense, (normal, albedo, rm), strict=True):
        assert np.array_equal(got[idx], want) and not got[miss].any()
    ids = hit["geometry_ids"][idx]
    assert {0, 1} <= set(ids.tolist())  # the floor and the chair
    for k in range(0, len(idx), 7):
        j = idx[k]
        obj = scene.objects[int(ids[k])]
        tri = obj.faces[hit["primitive_ids"][j]]
        b1, b2 = hit["primitive_uvs"][j]
        w = np.array([1 - b1 - b2, b1, b2], np.float32)
        n = w @ obj.normals[tri]
        assert np.allclose(normal[k], n / np.linalg.norm(n), atol=1e-5)
        size, rsize = obj.albedo.shape[0], obj.rough_metal.shape[0]
        row = col = 0
        if obj.uvs is not None and size > 1:
            u, v = (w @ obj.uvs[tri]).astype(np.float32)
            col, row = int(u * size) % size, int(v * size) % size
        assert np.array_equal(albedo[k], obj.albedo[row, col])
        assert np.array_equal(rm[k], obj.rough_metal[row * rsize // size, col * rsize // size])


def test_sizes_outside_the_network_range_are_refused():
    with pytest.raises(ValueError, match="width must be a multiple of 16 from 64 to 1024"):
        check_size(100, 64)
    with pytest.raises(ValueError, match="height"):
        check_size(64, 2048)


def test_the_reference_is_darker_in_shadow_and_reproducible(scene):
    cam = _camera(scene)
    gb = render_gbuffer(scene, cam, 64, 64, np.random.default_rng(1))
    a, lin = render_reference(scene, cam, 64, 64, np.random.default_rng(5), 9, 16)
    b, _ = render_reference(scene, cam, 64, 64, np.random.default_rng(5), 9, 16)
    assert np.array_equal(a, b) and a.shape == (64, 64, 3) and 0 <= a.min() and a.max() <= 1
    floor = gb.object_ids == 0
    shadow = np.repeat(np.repeat(gb.half[0], 2, 0), 2, 1)
    sampled = np.repeat(np.repeat(gb.half[2], 2, 0), 2, 1) > 0
    lit = lin[floor & sampled & (shadow == 1)].mean()
    dark = lin[floor & sampled & (shadow == 0)].mean()
    assert dark < 0.6 * lit


def test_a_camera_needs_a_direction():
    with pytest.raises(ValueError, match="coincide"):
        Camera((1, 1, 1), (1, 1, 1)).basis()
    with pytest.raises(ValueError, match="parallel"):
        Camera((0, 2, 0), (0, 0, 0), (0, 1, 0)).basis()
