// Unity glue: a verified Asset from Runtime/Core -> GameObjects, through glTFast.
// NOT compiled or tested here (no Unity, no glTFast on the build machines): keep it thin.
// Everything below is glTFast's documented runtime API (GltfImport.Load(byte[]),
// InstantiateMainSceneAsync, ImportSettings.AnimationMethod) and Unity's AvatarBuilder.
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using GLTFast;
using UnityEngine;
using Vitrine.Client;

namespace Vitrine.Unity
{
    public static class VitrineLoader
    {
        /// <summary>Loads a GLB's bytes and instantiates its main scene under `parent`.
        /// Legacy animation: the character's clips land on an Animation component.</summary>
        public static async Task<GameObject> InstantiateGlbAsync(byte[] glb, Transform parent, string name,
                                                                 CancellationToken cancel = default(CancellationToken))
        {
            var settings = new ImportSettings { AnimationMethod = AnimationMethod.Legacy };
            var gltf = new GltfImport();
            if (!await gltf.Load(glb, null, settings, cancel))
                throw new VitrineException("DATA_LOSS", name + ": glTFast could not load the GLB");
            var root = new GameObject(name);
            root.transform.SetParent(parent, false);
            if (!await gltf.InstantiateMainSceneAsync(root.transform))
                throw new VitrineException("DATA_LOSS", name + ": glTFast could not instantiate the scene");
            return root;
        }

        /// <summary>Generates a prop and instantiates its finest LOD (lod0.glb).</summary>
        public static async Task<GameObject> SpawnPropAsync(VitrineClient client, GenerateRequest request,
                                                            Transform parent, CancellationToken cancel = default(CancellationToken))
        {
            Asset asset = await client.GenerateAsync(request, cancel);
            return await InstantiateGlbAsync(asset.FinestGlb().Data, parent, request.Category + " " + asset.AssetId, cancel);
        }

        /// <summary>Generates a character (request skeleton "SKELETON_VRM" or any other),
        /// instantiates it, plays `clip` (e.g. "idle") through the legacy Animation component
        /// and gives it a Humanoid avatar built from the bone table.</summary>
        public static async Task<GameObject> SpawnCharacterAsync(VitrineClient client, GenerateRequest request,
                                                                 Transform parent, string clip = "idle",
                                                                 CancellationToken cancel = default(CancellationToken))
        {
            Asset asset = await client.GenerateAsync(request, cancel);
            GameObject root = await InstantiateGlbAsync(asset.FinestGlb().Data, parent, request.Category + " " + asset.AssetId, cancel);
            var animation = root.GetComponentInChildren<Animation>();
            if (animation != null && animation.GetClip(clip) != null) animation.Play(clip);
            var avatar = BuildHumanAvatar(root);
            if (avatar != null && avatar.isValid && avatar.isHuman)
            {
                var animator = root.GetComponent<Animator>() ?? root.AddComponent<Animator>();
                animator.avatar = avatar;
            }
            return root;
        }

        /// <summary>A Humanoid avatar from the joints under `root`, mapped by
        /// HumanoidBones (any of the server's three namings).</summary>
        public static Avatar BuildHumanAvatar(GameObject root)
        {
            var map = HumanoidBones.HumanBoneMap();
            var human = new List<HumanBone>();
            var skeleton = new List<SkeletonBone>();
            foreach (var t in root.GetComponentsInChildren<Transform>())
            {
                skeleton.Add(new SkeletonBone { name = t.name, position = t.localPosition, rotation = t.localRotation, scale = t.localScale });
                string unity;
                if (map.TryGetValue(t.name, out unity))
                    human.Add(new HumanBone { boneName = t.name, humanName = HumanTraitName(unity), limit = new HumanLimit { useDefaultValues = true } });
            }
            var description = new HumanDescription { human = human.ToArray(), skeleton = skeleton.ToArray(),
                                                     upperArmTwist = 0.5f, lowerArmTwist = 0.5f, upperLegTwist = 0.5f,
                                                     lowerLegTwist = 0.5f, armStretch = 0.05f, legStretch = 0.05f,
                                                     feetSpacing = 0f, hasTranslationDoF = false };
            return AvatarBuilder.BuildHumanAvatar(root, description);
        }

        // HumanBodyBones "LeftUpperArm" -> HumanTrait.BoneName "Left UpperArm" (Unity's
        // human names for HumanDescription: the enum's names with a space after the side).
        static string HumanTraitName(string bodyBone)
        {
            foreach (var name in HumanTrait.BoneName)
                if (name.Replace(" ", "") == bodyBone) return name;
            return bodyBone;
        }
    }
}
