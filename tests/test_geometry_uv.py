"""UVs for tileable materials: density in world units, split seams, tangent frames."""

import numpy as np
import pytest
import trimesh

from generators.geometry.extract import mesh_from_field
from generators.geometry.normals import vertex_normals
from generators.geometry.uv import _directions, planar_uv, tangents, uv_stats
from generators.procedural import families


def mesh(shape):
    v = shape.vertices.astype(np.float32)
    f = shape.faces.astype(np.uint32)
    return v, f, vertex_normals(v, f)


def test_box_faces_get_exact_density_and_the_corners_split():
    v, f, n = mesh(trimesh.creation.box((2.0, 1.0, 0.5)))
    u = planar_uv(v, f, n, tile_m=0.25)
    assert len(u.vertices) == 24  # each corner sits on three charts
    assert np.array_equal(u.faces.shape, f.shape)
    assert np.array_equal(u.vertices, v[u.vmapping])  # positions are copied, not moved
    assert np.array_equal(u.normals, n[u.vmapping])
    stats = uv_stats(u.vertices, u.faces, u.uvs, 0.25)
    assert stats["stretch_mean"] == pytest.approx(1.0)
    assert stats["scale_mean"] == pytest.approx(1.0)  # 1 UV unit = 0.25 m everywhere
    assert stats["mirrored"] == 0.0
    # The 2 m side spans 8 repeats of the texture.
    front = u.charts == 4  # the +Z chart
    span = np.ptp(u.uvs[u.faces[front].ravel()], axis=0)
    assert span == pytest.approx([8.0, 4.0])


@pytest.mark.parametrize("projection, worst", [("box", 1.75), ("box26", 1.25)])
def test_curved_surfaces_stay_near_uniform_density(projection, worst):
    v, f, n = mesh(trimesh.creation.icosphere(4, radius=0.3))
    u = planar_uv(v, f, n, tile_m=0.5, projection=projection)
    assert np.isfinite(u.uvs).all() and u.uvs.dtype == np.float32
    stats = uv_stats(u.vertices, u.faces, u.uvs, 0.5)
    assert stats["stretch_p99"] < worst
    assert 0.8 < stats["scale_mean"] <= 1.0 + 1e-9
    assert stats["mirrored"] == 0.0


def test_smoothing_shortens_seams_within_the_tilt_cap():
    # A marching-cubes vase: chart borders on its curved, ribbed walls are staircases.
    grid, origin, spacing = families.build("vase", 7).sdf_grid(48)
    v, f = mesh_from_field(grid, origin, spacing)
    n = vertex_normals(v, f)
    raw = planar_uv(v, f, n, 1.0, smooth_passes=0)
    smooth = planar_uv(v, f, n, 1.0)
    assert len(smooth.vertices) < len(raw.vertices)  # fewer split vertices: shorter seams
    fn = trimesh.Trimesh(v, f, process=False).face_normals
    cos = (fn * _directions("box26")[smooth.charts]).sum(axis=1)
    assert cos.min() >= np.cos(np.radians(45.0)) - 1e-9


def test_uvs_follow_world_position_so_every_lod_agrees():
    fine = trimesh.creation.icosphere(4)
    coarse = trimesh.creation.icosphere(2)
    uv_fine = planar_uv(*mesh(fine), 0.5)
    uv_coarse = planar_uv(*mesh(coarse), 0.5)
    # The icosphere's 12 original vertices are shared by both levels; on the same chart
    # they get the same UVs.
    for i in range(12):
        a = np.flatnonzero(uv_fine.vmapping == i)
        b = np.flatnonzero(uv_coarse.vmapping == i)
        common = {tuple(np.round(x, 6)) for x in uv_fine.uvs[a]} & {
            tuple(np.round(x, 6)) for x in uv_coarse.uvs[b]}
        assert common


def test_vertical_grain_runs_u_up_the_walls():
    v, f, n = mesh(trimesh.creation.box((0.1, 1.0, 0.1)))  # a leg
    u = planar_uv(v, f, n, 1.0, grain_vertical=True)
    wall = u.faces[u.charts == 4].ravel()  # +Z wall
    assert np.ptp(u.uvs[wall, 0]) == pytest.approx(1.0)  # u spans the 1 m height
    assert np.ptp(u.uvs[wall, 1]) == pytest.approx(0.1)
    assert uv_stats(u.vertices, u.faces, u.uvs, 1.0)["mirrored"] == 0.0


def test_tangents_are_unit_orthogonal_and_right_handed():
    v, f, n = mesh(trimesh.creation.icosphere(3))
    u = planar_uv(v, f, n, 0.5)
    t = tangents(u.vertices, u.faces, u.normals, u.uvs)
    assert t.shape == (len(u.vertices), 4) and t.dtype == np.float32
    assert np.allclose(np.linalg.norm(t[:, :3], axis=1), 1.0, atol=1e-5)
    assert np.abs((t[:, :3] * u.normals).sum(axis=1)).max() < 1e-4
    assert set(np.unique(t[:, 3])) == {1.0}  # no chart is mirrored


def test_tangent_of_a_flat_quad_points_along_u():
    # A quad facing +Z, u to the right (+X), v down (-Y): glTF's tangent is +X, w = +1,
    # so the bitangent cross(n, t) * w = +Y is the normal map's +Y (image up).
    v = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], np.float32)
    f = np.array([[0, 1, 2], [0, 2, 3]], np.uint32)
    n = np.tile([0, 0, 1], (4, 1)).astype(np.float32)
    uv = np.array([[0, 1], [1, 1], [1, 0], [0, 0]], np.float32)
    assert np.allclose(tangents(v, f, n, uv), [[1, 0, 0, 1]] * 4)
    flipped = uv.copy()
    flipped[:, 1] = 1 - flipped[:, 1]  # mirrored in v: the handedness flips
    assert np.allclose(tangents(v, f, n, flipped)[:, 3], -1)


def test_bad_arguments():
    v, f, n = mesh(trimesh.creation.box())
    with pytest.raises(ValueError, match="tile_m"):
        planar_uv(v, f, n, 0.0)
    with pytest.raises(ValueError, match="known: box, box26"):
        planar_uv(v, f, n, 1.0, projection="sphere")
    with pytest.raises(ValueError, match="empty"):
        planar_uv(v, f[:0], n, 1.0)
