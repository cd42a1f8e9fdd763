"""The humanoid skeleton: names per convention, one root, bind matrices, Unity bone table."""

from __future__ import annotations

import numpy as np
import pytest

from generators.humanoid import body as B
from generators.humanoid import rig as R

# Unity's required Humanoid bones (an Avatar cannot be built without them).
UNITY_REQUIRED = {"Hips", "Spine", "Head", "LeftUpperArm", "LeftLowerArm", "LeftHand",
                  "RightUpperArm", "RightLowerArm", "RightHand", "LeftUpperLeg", "LeftLowerLeg",
                  "LeftFoot", "RightUpperLeg", "RightLowerLeg", "RightFoot"}
VRM_REQUIRED = {"hips", "spine", "head", "leftUpperArm", "leftLowerArm", "leftHand",
                "rightUpperArm", "rightLowerArm", "rightHand", "leftUpperLeg", "leftLowerLeg",
                "leftFoot", "rightUpperLeg", "rightLowerLeg", "rightFoot"}


@pytest.fixture(scope="module")
def tpl():
    return B.template()


@pytest.mark.parametrize("skeleton", R.SKELETONS)
def test_every_skeleton_names_53_unique_bones(tpl, skeleton):
    names = R.joint_names(tpl.joint_names, skeleton)
    assert len(names) >= 50 and len(set(names)) == len(names)
    assert (tpl.parents < 0).sum() == 1  # one common root


def test_names_follow_each_convention(tpl):
    unreal = R.joint_names(tpl.joint_names, "unreal")
    mixamo = dict(zip(unreal, R.joint_names(tpl.joint_names, "mixamo"), strict=True))
    vrm = dict(zip(unreal, R.joint_names(tpl.joint_names, "vrm"), strict=True))
    assert {"pelvis", "spine_01", "upperarm_l", "thigh_r", "index_03_l"} <= set(unreal)
    assert mixamo["pelvis"] == "mixamorig:Hips" and mixamo["upperarm_l"] == "mixamorig:LeftArm"
    assert mixamo["pinky_02_r"] == "mixamorig:RightHandPinky2"
    assert all(n.startswith("mixamorig:") for n in mixamo.values())
    assert VRM_REQUIRED <= set(vrm.values())
    assert vrm["spine_03"] == "upperChest" and vrm["thumb_01_l"] == "leftThumbMetacarpal"
    assert vrm["pinky_03_r"] == "rightLittleDistal"
    with pytest.raises(ValueError, match="unreal, mixamo, vrm"):
        R.joint_names(tpl.joint_names, "bvh")


def test_unity_human_body_bones_cover_the_required_set(tpl):
    table = R.human_body_bones(tpl.joint_names)
    assert UNITY_REQUIRED <= set(table.values())
    assert len(set(table.values())) == len(table)  # each Unity bone once
    assert "Root" not in table and table["ball_l"] == "LeftToes"
    assert table["thumb_01_r"] == "RightThumbProximal"
    assert len(R.bone_table(tpl.joint_names)) == len(tpl.joint_names)


def test_bind_matrices_invert_the_rest_pose(tpl):
    body = B.body_from_params(B.sample_params("heroic", 1))
    n = len(body.joint_names)
    world = R.world_matrices(body.joint_positions, body.parents, np.tile([0, 0, 0, 1.0], (n, 1)))
    ibm = R.inverse_bind_matrices(body.joint_positions)
    np.testing.assert_allclose(world @ ibm, np.tile(np.eye(4), (n, 1, 1)), atol=1e-5)
    # Skinning at the rest pose gives the rest vertices back.
    rest = R.skin_vertices(body.vertices, body.joints, body.weights, world,
                           body.joint_positions)
    np.testing.assert_allclose(rest, body.vertices, atol=1e-5)
    local = R.local_translations(body.joint_positions, body.parents)
    assert np.allclose(local[0], body.joint_positions[0])
