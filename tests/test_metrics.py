"""Shape metrics on shapes whose answer is known: spheres, boxes, hand-sized clouds."""

import numpy as np
import pytest
import trimesh

from generators.metrics import (
    chamfer_matrix,
    mmd_cov_1nna,
    mmd_cov_1nna_from_matrices,
    nearest_distances,
    normalize_points,
    sample_surface_from_mesh,
    sample_surface_from_voxels,
)

N_POINTS = 256  # small clouds keep the set-metric tests fast; the definitions do not depend on n


def sphere_vox(res=32, radius=10.0, center=(15.5, 15.5, 15.5)):
    return ellipsoid_vox((radius, radius, radius), res, center)


def ellipsoid_vox(radii, res=32, center=(15.5, 15.5, 15.5)):
    idx = np.indices((res, res, res)).transpose(1, 2, 3, 0)
    return (((idx - np.asarray(center)) / np.asarray(radii)) ** 2).sum(-1) <= 1.0


def box_vox(size, res=32):
    vox = np.zeros((res, res, res), dtype=bool)
    lo = [(res - s) // 2 for s in size]
    vox[lo[0] : lo[0] + size[0], lo[1] : lo[1] + size[1], lo[2] : lo[2] + size[2]] = True
    return vox


def box_cloud(extents, seed, n=N_POINTS):
    mesh = trimesh.creation.box(extents=extents)
    return sample_surface_from_mesh(mesh.vertices, mesh.faces, n, seed)


def brute_chamfer(x, y):
    d = ((x[:, None, :].astype(np.float64) - y[None, :, :].astype(np.float64)) ** 2).sum(-1)
    return d.min(axis=1).mean() + d.min(axis=0).mean()


@pytest.fixture(scope="module")
def varied_shapes():
    """20 voxel props of different proportions: ellipsoids and boxes (different after
    normalisation, which removes size and position)."""
    radii = [(12, 12, 12), (14, 6, 6), (6, 14, 6), (6, 6, 14), (14, 14, 4)]
    grids = [ellipsoid_vox(r) for r in radii]
    sizes = [(6, 6, 6), (20, 8, 8), (8, 20, 8), (8, 8, 20), (24, 24, 4), (4, 24, 24),
             (24, 4, 24), (12, 20, 28), (28, 20, 12), (16, 28, 6), (6, 16, 28), (28, 28, 14),
             (10, 30, 18), (30, 10, 4), (14, 6, 30)]  # fmt: skip
    grids += [box_vox(s) for s in sizes]
    return grids


# --------------------------------------------------------------------------- Chamfer distance


def test_chamfer_hand_computed():
    x = np.array([[[0, 0, 0], [1, 0, 0]]], dtype=np.float32)
    y = np.array([[[0, 1, 0], [3, 0, 0]]], dtype=np.float32)
    # x -> y: min(1, 9) = 1 and min(2, 4) = 2, mean 1.5; y -> x: min(1, 2) = 1 and min(9, 4) = 4,
    # mean 2.5. Squared distances, the two means summed: 4.
    assert chamfer_matrix(x, y)[0, 0] == 4.0
    assert chamfer_matrix(y, x)[0, 0] == 4.0
    # Different point counts: one point against two.
    z = np.array([[[2, 0, 0]]], dtype=np.float32)
    # z -> x: 1; x -> z: (4 + 1) / 2 = 2.5
    assert chamfer_matrix(z, x)[0, 0] == 3.5


def test_chamfer_self_is_zero_and_symmetric():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(6, 300, 3)).astype(np.float32)
    b = rng.normal(size=(4, 200, 3)).astype(np.float32)
    d_aa = chamfer_matrix(a)
    assert d_aa.shape == (6, 6) and d_aa.dtype == np.float64
    assert (np.diag(d_aa) == 0).all()
    assert (d_aa == d_aa.T).all()
    assert (d_aa[~np.eye(6, dtype=bool)] > 0).all()
    # the full (non-symmetric) path gives the same numbers, zeros included
    d_full = chamfer_matrix(a, a.copy())
    assert (np.diag(d_full) == 0).all()
    np.testing.assert_allclose(d_full, d_aa, rtol=1e-6)
    np.testing.assert_allclose(chamfer_matrix(a, b), chamfer_matrix(b, a).T, rtol=1e-6)


@pytest.mark.parametrize("batch", [None, 1, 3, 100])
def test_chamfer_matches_brute_force(batch):
    rng = np.random.default_rng(1)
    a = rng.uniform(-0.5, 0.5, size=(5, 128, 3)).astype(np.float32) + 10.0  # far from origin
    b = rng.uniform(-0.5, 0.5, size=(4, 96, 3)).astype(np.float32) + 10.0
    want = np.array([[brute_chamfer(x, y) for y in b] for x in a])
    np.testing.assert_allclose(chamfer_matrix(a, b, batch=batch), want, rtol=1e-5)


def test_chamfer_rejects_bad_input():
    with pytest.raises(ValueError, match=r"\[N, n, 3\]"):
        chamfer_matrix(np.zeros((10, 3)))
    with pytest.raises(ValueError, match="NaN"):
        chamfer_matrix(np.full((1, 4, 3), np.nan))
    with pytest.raises(ValueError, match="batch"):
        chamfer_matrix(np.zeros((2, 4, 3)), np.zeros((2, 4, 3)), batch=0)


# --------------------------------------------------------------------------- sampling


def test_voxel_surface_points_lie_on_the_sphere():
    radius, center = 10.0, np.array([15.5, 15.5, 15.5])
    pts = sample_surface_from_voxels(sphere_vox(radius=radius, center=center), n=2048, seed=3)
    assert pts.shape == (2048, 3) and pts.dtype == np.float32
    r = np.linalg.norm(pts - center, axis=1)
    assert np.abs(r - radius).max() < 1.0  # within a voxel of the true radius
    assert abs(r.mean() - radius) < 0.5
    # spread over the whole sphere, not one patch
    np.testing.assert_allclose(pts.mean(axis=0), center, atol=0.5)


def test_voxel_sampling_is_deterministic_per_seed():
    vox = box_vox((10, 20, 6))
    a = sample_surface_from_voxels(vox, n=500, seed=7)
    b = sample_surface_from_voxels(vox, n=500, seed=7)
    c = sample_surface_from_voxels(vox, n=500, seed=8)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_voxel_probabilities_are_thresholded_at_one_half():
    vox = box_vox((10, 20, 6))
    soft = np.where(vox, 0.7, 0.3).astype(np.float32)
    assert np.array_equal(
        sample_surface_from_voxels(soft, n=300, seed=1),
        sample_surface_from_voxels(vox, n=300, seed=1),
    )


def test_shape_touching_the_border_gives_a_closed_surface():
    vox = np.ones((4, 4, 4), dtype=bool)  # full grid: the padding supplies the outside
    pts = sample_surface_from_voxels(vox, n=1000, seed=0)
    # the surface is the box around the voxel centres 0..3, half a voxel out
    assert pts.min() >= -0.5 - 1e-5 and pts.max() <= 3.5 + 1e-5
    for axis in range(3):  # points on all six faces (marching cubes bevels the edges)
        assert np.isclose(pts[:, axis], -0.5, atol=1e-4).any()
        assert np.isclose(pts[:, axis], 3.5, atol=1e-4).any()


@pytest.mark.parametrize("grid", [np.zeros((8, 8, 8), dtype=bool), np.full((8, 8, 8), 0.4)])
def test_empty_voxel_grid_raises(grid):
    with pytest.raises(ValueError, match="empty occupancy grid"):
        sample_surface_from_voxels(grid)


def test_voxel_grid_must_be_3d():
    with pytest.raises(ValueError, match="3-D"):
        sample_surface_from_voxels(np.ones((8, 8), dtype=bool))


def test_mesh_sampling_is_area_weighted():
    # two triangles far apart in z, of areas 0.5 and 1.5
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 5], [3, 0, 5], [0, 1, 5]], float)
    f = np.array([[0, 1, 2], [3, 4, 5]])
    pts = sample_surface_from_mesh(v, f, n=8000, seed=0)
    assert pts.shape == (8000, 3) and pts.dtype == np.float32
    assert (pts[:, 2] > 2.5).mean() == pytest.approx(0.75, abs=0.02)
    # inside the triangles
    low = pts[pts[:, 2] < 2.5]
    assert (low[:, :2] >= -1e-6).all() and (low[:, 0] + low[:, 1] <= 1 + 1e-6).all()
    assert np.array_equal(pts, sample_surface_from_mesh(v, f, n=8000, seed=0))


def test_mesh_without_area_raises():
    v = np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0]], float)  # collinear
    with pytest.raises(ValueError, match="no surface area"):
        sample_surface_from_mesh(v, np.array([[0, 1, 2]]))


# --------------------------------------------------------------------------- normalisation


def test_normalize_centres_the_bounding_box_and_scales_the_largest_side_to_one():
    rng = np.random.default_rng(2)
    clouds = rng.uniform(size=(3, 100, 3)) * [[[4.0, 1.0, 0.5]]] + [[[10.0, -3.0, 2.0]]]
    out = normalize_points(clouds)
    assert out.shape == clouds.shape and out.dtype == np.float32
    lo, hi = out.min(axis=1), out.max(axis=1)
    np.testing.assert_allclose((lo + hi) / 2, 0.0, atol=1e-6)
    np.testing.assert_allclose((hi - lo).max(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(normalize_points(clouds[1]), out[1])  # per cloud
    # invariant to translation and uniform scale
    np.testing.assert_allclose(normalize_points(3.0 * clouds[0] - 7.0), out[0], atol=1e-6)


# --------------------------------------------------------------------------- set metrics


def test_matrices_hand_computed_and_tie_rule():
    d_gr = np.array([[1.0, 5.0, 9.0], [2.0, 1.0, 9.0]])  # 2 generated x 3 reference
    d_gg = np.array([[0.0, 3.0], [3.0, 0.0]])
    d_rr = np.array([[0.0, 4.0, 8.0], [4.0, 0.0, 8.0], [8.0, 8.0, 0.0]])
    m = mmd_cov_1nna_from_matrices(d_gr, d_gg, d_rr)
    assert set(m) == {"mmd_cd", "cov_cd", "nna_cd"}
    assert m["mmd_cd"] == pytest.approx((1.0 + 1.0 + 9.0) / 3)
    assert m["cov_cd"] == pytest.approx(2 / 3)  # g0 -> r0, g1 -> r1; r2 never matched
    # nearest in the union: g0 -> r0 (1), g1 -> r1 (1), r0 -> g0 (1), r1 -> g1 (1),
    # r2 -> r0 / r1 (8) but g0 ... 9: r2 -> r0, right. 1 of 5 right.
    assert m["nna_cd"] == pytest.approx(1 / 5)
    # exact tie between a generated and a reference neighbour goes to the generated one
    tie = mmd_cov_1nna_from_matrices(np.array([[2.0]]), np.zeros((1, 1)), np.zeros((1, 1)))
    assert tie["nna_cd"] == 0.0
    d_gr3 = np.array([[2.0, 2.0]])  # g0 ties between r0 and r1: matched to r0
    d_rr3 = np.array([[0.0, 2.0], [2.0, 0.0]])  # r0 ties between g0 and r1: -> g0 (wrong)
    m3 = mmd_cov_1nna_from_matrices(d_gr3, np.zeros((1, 1)), d_rr3)
    assert m3["cov_cd"] == 0.5
    assert m3["nna_cd"] == 0.0  # g0 -> r0 wrong, r0 -> g0 wrong, r1 -> g0 wrong


def test_matrices_shape_mismatch_raises():
    with pytest.raises(ValueError, match="d_gg"):
        mmd_cov_1nna_from_matrices(np.ones((2, 3)), np.ones((3, 3)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="d_rr"):
        mmd_cov_1nna_from_matrices(np.ones((2, 3)), np.ones((2, 2)), np.ones((2, 2)))


@pytest.fixture(scope="module")
def sampled(varied_shapes):
    """Two independent surface samplings (seeds 0 and 1) of the same 20 shapes."""
    first = np.stack([sample_surface_from_voxels(v, N_POINTS, seed=0) for v in varied_shapes])
    second = np.stack([sample_surface_from_voxels(v, N_POINTS, seed=1) for v in varied_shapes])
    return first, second


def test_identical_sets(sampled):
    clouds, _ = sampled
    m = mmd_cov_1nna(clouds, clouds.copy())
    assert m["mmd_cd"] == 0.0
    assert m["cov_cd"] == 1.0
    # Leave-one-out with exact duplicates: every shape's nearest other shape is its own copy in
    # the other set, at distance 0, so every shape is misclassified. 1-NNA = 0, not 0.5.
    assert m["nna_cd"] == 0.0


def test_resampled_copies_of_the_reference_read_as_memorisation(sampled):
    # The same shapes sampled twice: each shape's nearest neighbour is still its twin in the
    # other set (sampling noise << the difference between shapes), so 1-NNA stays far below
    # 0.5. This is what a generator that copies its reference set looks like.
    gen, ref = sampled
    m = mmd_cov_1nna(gen, ref)
    assert m["nna_cd"] <= 0.1
    assert m["cov_cd"] >= 0.9
    assert 0.0 < m["mmd_cd"] < 0.01  # sampling noise of 256-point clouds


def test_two_draws_from_one_distribution_give_one_half():
    # Independent draws (different sizes, different samplings) from one continuous family of
    # boxes: the sets cannot be told apart, and 1-NNA comes out near 0.5. With 30 + 30 shapes
    # one draw scatters by about +-0.1 around 0.5, so the mean of four draws is tested.
    nna, cov = [], []
    for draw in range(4):
        rng = np.random.default_rng(draw)
        gen = np.stack([box_cloud(rng.uniform(0.3, 1.0, 3), seed=i) for i in range(30)])
        ref = np.stack([box_cloud(rng.uniform(0.3, 1.0, 3), seed=100 + i) for i in range(30)])
        m = mmd_cov_1nna(gen, ref)
        nna.append(m["nna_cd"])
        cov.append(m["cov_cd"])
    assert all(0.3 <= v <= 0.7 for v in nna), nna
    assert 0.4 <= np.mean(nna) <= 0.6, nna
    assert np.mean(cov) >= 0.45, cov  # ~1 - 1/e for two random sets of equal size


def test_disjoint_sets():
    spheres = np.stack(
        [sample_surface_from_voxels(sphere_vox(radius=r), N_POINTS, seed=i)
         for i, r in enumerate(np.linspace(4.0, 8.0, 12))]
    )  # fmt: skip
    rods = np.stack(
        [sample_surface_from_voxels(box_vox((w, 30, h)), N_POINTS, seed=i)
         for i, (w, h) in enumerate([(2, 2), (2, 3), (3, 3), (3, 2), (4, 2), (2, 4),
                                     (4, 4), (3, 4), (4, 3), (5, 2), (2, 5), (5, 5)])]
    )  # fmt: skip
    m = mmd_cov_1nna(spheres, rods)
    assert m["nna_cd"] >= 0.95
    assert m["cov_cd"] <= 0.25
    same = mmd_cov_1nna(rods[::2], rods[1::2])
    assert m["mmd_cd"] > 10 * same["mmd_cd"]


def test_mode_collapse_covers_one_reference(sampled):
    gen_good, ref = sampled
    collapsed = np.repeat(gen_good[7:8], len(ref), axis=0)  # every sample the same shape
    m = mmd_cov_1nna(collapsed, ref)
    assert m["cov_cd"] == pytest.approx(1 / len(ref))
    assert m["nna_cd"] > 0.5  # the copies find each other
    assert m["mmd_cd"] > 5 * mmd_cov_1nna(gen_good, ref)["mmd_cd"]


def test_nearest_distances(sampled):
    pool, other = sampled
    d = nearest_distances(pool[[3, 11, 0]], pool)
    assert d.shape == (3,) and d.dtype == np.float64
    assert (d == 0.0).all()
    d_other = nearest_distances(other[[3, 11, 0]], pool)
    assert (d_other > 0).all()
    # a rescaled, moved copy is the same shape after normalisation ...
    moved = pool[[5]] * 2.5 + 4.0
    assert nearest_distances(moved, pool)[0] == pytest.approx(0.0, abs=1e-9)
    # ... and not without it
    assert nearest_distances(moved, pool, normalize=False)[0] > 1.0
