"""Procedural clips: loops, durations, unit quaternions, and poses that look like the clip."""

from __future__ import annotations

import numpy as np
import pytest

from generators.humanoid import body as B
from generators.humanoid import clips as C
from generators.humanoid import rig as R


@pytest.fixture(scope="module")
def body():
    return B.body_from_params(B.sample_params("heroic", 5))


@pytest.fixture(scope="module")
def clips(body):
    made = C.make_clips(C.CLIP_NAMES, body)
    return {c.name: c for c in made}


def _posed(body, clip, t):
    rot, trans = clip.pose(t, len(body.joint_names))
    local = R.local_translations(body.joint_positions, body.parents).astype(np.float64)
    for j, v in trans.items():
        local[j] = v
    world = R.world_matrices(body.joint_positions, body.parents, rot, local)
    v = R.skin_vertices(body.vertices, body.joints, body.weights, world, body.joint_positions)
    return v, world[:, :3, 3]


def test_every_clip_loops_with_unit_quaternions(clips):
    assert list(clips) == list(C.CLIP_NAMES)
    for name, c in clips.items():
        assert c.duration == pytest.approx(C.DURATIONS_S[name], abs=1 / C.FPS)
        assert (np.diff(c.times) > 0).all() and c.times[0] == 0
        assert c.rotations, name
        for q in c.rotations.values():
            assert q.dtype == np.float32 and q.shape == (len(c.times), 4)
            np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-6)
            assert (q[0] == q[-1]).all()  # first key == last key
        for t in c.translations.values():
            assert (t[0] == t[-1]).all()


def test_walk_swings_the_legs_in_antiphase_in_place(body, clips):
    walk = clips["walk"]
    names = body.joint_names
    feet = [names.index("foot_l"), names.index("foot_r")]
    z = []
    for t in np.linspace(0, walk.duration, 12, endpoint=False):
        v, joints = _posed(body, walk, t)
        assert abs(v[:, 1].min()) < 0.01  # the lower foot on the floor: no sinking, no floating
        assert np.abs(v - body.vertices).max() < 0.9  # no exploding vertices
        z.append(joints[feet, 2])
    z = np.asarray(z)
    assert np.corrcoef(z[:, 0], z[:, 1])[0, 1] < -0.8  # one foot forward while the other back
    assert np.ptp(z[:, 0]) > 0.25  # a real stride
    assert abs(z.mean()) < 0.15  # in place: no root motion


def test_run_strides_further_than_walk(body, clips):
    def stride(c):
        i = body.joint_names.index("foot_l")
        return np.ptp([_posed(body, c, t)[1][i, 2] for t in np.linspace(0, c.duration, 10)])

    assert stride(clips["run"]) > stride(clips["walk"]) * 1.2


def test_wave_raises_the_right_hand_above_the_head(body, clips):
    _, joints = _posed(body, clips["wave"], 0.5)
    names = body.joint_names
    assert joints[names.index("hand_r"), 1] > joints[names.index("head"), 1]
    assert joints[names.index("hand_l"), 1] < joints[names.index("pelvis"), 1] + 0.1


def test_idle_lowers_the_arms_from_the_a_pose(body, clips):
    _, joints = _posed(body, clips["idle"], 0.0)
    names = body.joint_names
    for side, sign in (("l", 1), ("r", -1)):
        shoulder = joints[names.index(f"upperarm_{side}")]
        hand = joints[names.index(f"hand_{side}")]
        out = np.degrees(np.arctan2(sign * (hand[0] - shoulder[0]), shoulder[1] - hand[1]))
        assert 0 < out < 20


def test_unknown_clip_is_refused(body):
    with pytest.raises(ValueError, match="idle, walk, run, wave"):
        C.make_clips(("dance",), body)
