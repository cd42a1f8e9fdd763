"""SDF primitives are (near) exact, and culled grid evaluation matches point evaluation."""

import numpy as np
import pytest

from generators.procedural import sdf as S


def _grid_axes(lo, hi, n):
    return tuple(np.linspace(a, b, n, dtype=np.float32) for a, b in zip(lo, hi))


def test_sphere_and_box_distances_are_exact():
    s = S.Sphere((0.1, 0.2, 0.3), 0.5)
    assert s.points(np.array([[0.1, 0.2, 0.3], [1.1, 0.2, 0.3]])) == pytest.approx([-0.5, 0.5])
    b = S.Box((0, 0, 0), (1, 2, 3))
    pts = np.array([[0, 0, 0], [2, 0, 0], [0, 3, 0], [2, 3, 0]], float)
    assert b.points(pts) == pytest.approx([-1.0, 1.0, 1.0, np.sqrt(2.0)])


def test_cone_lathe_capsule_signs():
    c = S.Cone((0, 0, 0), (0, 1, 0), 0.5, 0.2)
    assert c.points(np.array([[0, 0.5, 0]]))[0] < 0 < c.points(np.array([[0.6, 0.5, 0]]))[0]
    lathe = S.Lathe([0, 1], [0.3, 0.3])
    assert lathe.points(np.array([[0.5, 0.5, 0]]))[0] == pytest.approx(0.2, abs=1e-6)
    cap = S.Capsule((0, 0, 0), (1, 0, 0), 0.1)
    assert cap.points(np.array([[0.5, 0.3, 0]]))[0] == pytest.approx(0.2)


@pytest.mark.parametrize("make", [
    lambda: S.Union([S.Sphere((0, 0, 0), 0.3), S.Box((0.4, 0, 0), (0.2, 0.1, 0.1))]),
    lambda: S.SmoothUnion([S.Sphere((0, 0, 0), 0.3), S.Capsule((0, 0, 0), (0.6, 0.2, 0), 0.08)],
                          k=0.05),
    lambda: S.Subtract(S.Box((0, 0, 0), (0.4, 0.4, 0.4)), S.Sphere((0, 0.4, 0), 0.3)),
    lambda: S.Translate(S.Torus((0, 0, 0), 0.3, 0.05, axis="z"), (0.1, 0.05, -0.1)),
    lambda: S.Lathe([0, 0.2, 0.5], [0.2, 0.3, 0.1], flutes=8, flute_depth=0.1),
])
def test_culled_grid_matches_points_near_the_surface(make):
    node = make()
    axes = _grid_axes((-0.8, -0.8, -0.8), (0.8, 0.8, 0.8), 41)
    margin = 0.12
    grid = S.eval_grid(node, axes, margin)
    X, Y, Z = np.meshgrid(*axes, indexing="ij")
    exact = node.points(np.stack([X, Y, Z], -1).reshape(-1, 3)).reshape(grid.shape)
    clear = np.abs(exact) > 1e-5  # float32 grid vs float64 points on the surface itself
    assert np.array_equal(np.sign(grid[clear]), np.sign(exact[clear]))
    near = np.abs(exact) < margin - node.kmax - 1e-3  # the documented exact band
    assert np.allclose(grid[near], exact[near], atol=1e-5)


def test_lathe_rejects_bad_profiles():
    with pytest.raises(ValueError, match="increase"):
        S.Lathe([0, 0], [1, 1])
    with pytest.raises(ValueError, match="matching"):
        S.Lathe([0, 1, 2], [1, 1])
