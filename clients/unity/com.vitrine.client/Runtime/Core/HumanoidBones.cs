// The humanoid skeleton's bone names under each naming (protos Skeleton: UNREAL, MIXAMO,
// VRM) and the Unity HumanBodyBones name of each, as generators/humanoid/MODEL_CARD.md
// publishes them (generators/humanoid/rig.py human_body_bones). Runtime/Unity builds a
// Humanoid avatar from it (AvatarBuilder.BuildHumanAvatar); the NUnit tests check it against
// the card. Plain strings: the core does not reference UnityEngine.
using System.Collections.Generic;

namespace Vitrine.Client
{
    public static class HumanoidBones
    {
        /// <summary>(unreal, mixamo, vrm, Unity HumanBodyBones or "") per bone, root first.</summary>
        public static readonly string[][] Table =
        {
            new[] { "Root", "mixamorig:Root", "root", "" },
            new[] { "pelvis", "mixamorig:Hips", "hips", "Hips" },
            new[] { "thigh_l", "mixamorig:LeftUpLeg", "leftUpperLeg", "LeftUpperLeg" },
            new[] { "calf_l", "mixamorig:LeftLeg", "leftLowerLeg", "LeftLowerLeg" },
            new[] { "foot_l", "mixamorig:LeftFoot", "leftFoot", "LeftFoot" },
            new[] { "ball_l", "mixamorig:LeftToeBase", "leftToes", "LeftToes" },
            new[] { "thigh_r", "mixamorig:RightUpLeg", "rightUpperLeg", "RightUpperLeg" },
            new[] { "calf_r", "mixamorig:RightLeg", "rightLowerLeg", "RightLowerLeg" },
            new[] { "foot_r", "mixamorig:RightFoot", "rightFoot", "RightFoot" },
            new[] { "ball_r", "mixamorig:RightToeBase", "rightToes", "RightToes" },
            new[] { "spine_01", "mixamorig:Spine", "spine", "Spine" },
            new[] { "spine_02", "mixamorig:Spine1", "chest", "Chest" },
            new[] { "spine_03", "mixamorig:Spine2", "upperChest", "UpperChest" },
            new[] { "clavicle_l", "mixamorig:LeftShoulder", "leftShoulder", "LeftShoulder" },
            new[] { "clavicle_r", "mixamorig:RightShoulder", "rightShoulder", "RightShoulder" },
            new[] { "upperarm_l", "mixamorig:LeftArm", "leftUpperArm", "LeftUpperArm" },
            new[] { "lowerarm_l", "mixamorig:LeftForeArm", "leftLowerArm", "LeftLowerArm" },
            new[] { "hand_l", "mixamorig:LeftHand", "leftHand", "LeftHand" },
            new[] { "upperarm_r", "mixamorig:RightArm", "rightUpperArm", "RightUpperArm" },
            new[] { "lowerarm_r", "mixamorig:RightForeArm", "rightLowerArm", "RightLowerArm" },
            new[] { "hand_r", "mixamorig:RightHand", "rightHand", "RightHand" },
            new[] { "neck_01", "mixamorig:Neck", "neck", "Neck" },
            new[] { "head", "mixamorig:Head", "head", "Head" },
            new[] { "index_01_l", "mixamorig:LeftHandIndex1", "leftIndexProximal", "LeftIndexProximal" },
            new[] { "index_01_r", "mixamorig:RightHandIndex1", "rightIndexProximal", "RightIndexProximal" },
            new[] { "index_02_l", "mixamorig:LeftHandIndex2", "leftIndexIntermediate", "LeftIndexIntermediate" },
            new[] { "index_02_r", "mixamorig:RightHandIndex2", "rightIndexIntermediate", "RightIndexIntermediate" },
            new[] { "index_03_l", "mixamorig:LeftHandIndex3", "leftIndexDistal", "LeftIndexDistal" },
            new[] { "index_03_r", "mixamorig:RightHandIndex3", "rightIndexDistal", "RightIndexDistal" },
            new[] { "middle_01_l", "mixamorig:LeftHandMiddle1", "leftMiddleProximal", "LeftMiddleProximal" },
            new[] { "middle_01_r", "mixamorig:RightHandMiddle1", "rightMiddleProximal", "RightMiddleProximal" },
            new[] { "middle_02_l", "mixamorig:LeftHandMiddle2", "leftMiddleIntermediate", "LeftMiddleIntermediate" },
            new[] { "middle_02_r", "mixamorig:RightHandMiddle2", "rightMiddleIntermediate", "RightMiddleIntermediate" },
            new[] { "middle_03_l", "mixamorig:LeftHandMiddle3", "leftMiddleDistal", "LeftMiddleDistal" },
            new[] { "middle_03_r", "mixamorig:RightHandMiddle3", "rightMiddleDistal", "RightMiddleDistal" },
            new[] { "pinky_01_l", "mixamorig:LeftHandPinky1", "leftLittleProximal", "LeftLittleProximal" },
            new[] { "pinky_01_r", "mixamorig:RightHandPinky1", "rightLittleProximal", "RightLittleProximal" },
            new[] { "pinky_02_l", "mixamorig:LeftHandPinky2", "leftLittleIntermediate", "LeftLittleIntermediate" },
            new[] { "pinky_02_r", "mixamorig:RightHandPinky2", "rightLittleIntermediate", "RightLittleIntermediate" },
            new[] { "pinky_03_l", "mixamorig:LeftHandPinky3", "leftLittleDistal", "LeftLittleDistal" },
            new[] { "pinky_03_r", "mixamorig:RightHandPinky3", "rightLittleDistal", "RightLittleDistal" },
            new[] { "ring_01_l", "mixamorig:LeftHandRing1", "leftRingProximal", "LeftRingProximal" },
            new[] { "ring_01_r", "mixamorig:RightHandRing1", "rightRingProximal", "RightRingProximal" },
            new[] { "ring_02_l", "mixamorig:LeftHandRing2", "leftRingIntermediate", "LeftRingIntermediate" },
            new[] { "ring_02_r", "mixamorig:RightHandRing2", "rightRingIntermediate", "RightRingIntermediate" },
            new[] { "ring_03_l", "mixamorig:LeftHandRing3", "leftRingDistal", "LeftRingDistal" },
            new[] { "ring_03_r", "mixamorig:RightHandRing3", "rightRingDistal", "RightRingDistal" },
            new[] { "thumb_01_l", "mixamorig:LeftHandThumb1", "leftThumbMetacarpal", "LeftThumbProximal" },
            new[] { "thumb_01_r", "mixamorig:RightHandThumb1", "rightThumbMetacarpal", "RightThumbProximal" },
            new[] { "thumb_02_l", "mixamorig:LeftHandThumb2", "leftThumbProximal", "LeftThumbIntermediate" },
            new[] { "thumb_02_r", "mixamorig:RightHandThumb2", "rightThumbProximal", "RightThumbIntermediate" },
            new[] { "thumb_03_l", "mixamorig:LeftHandThumb3", "leftThumbDistal", "LeftThumbDistal" },
            new[] { "thumb_03_r", "mixamorig:RightHandThumb3", "rightThumbDistal", "RightThumbDistal" },
        };

        /// <summary>Joint name (under any of the three namings) -> HumanBodyBones name, for
        /// every bone Unity's Humanoid maps (the root has none).</summary>
        public static Dictionary<string, string> HumanBoneMap()
        {
            var map = new Dictionary<string, string>();
            foreach (var row in Table)
                if (row[3].Length > 0)
                    for (int i = 0; i < 3; i++) map[row[i]] = row[3];
            return map;
        }
    }
}
