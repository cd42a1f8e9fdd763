"""The humanoid skeleton: its bone names per convention, its rest pose and inverse bind
matrices, and the bone -> Unity `HumanBodyBones` table a Unity client needs to build a
Humanoid avatar at runtime.

The skeleton is MPFB2's `game_engine` rig (53 bones, Unreal mannequin names, one root "Root"
on the floor under the pelvis); the `skeleton` option only renames it. Rest pose: every joint
at its bone head with identity rotation, so a joint's local axes are the world's (+X the
character's left, +Y up, +Z forward) and a clip's rotations read as plain anatomical angles.
"""

from __future__ import annotations

import numpy as np

SKELETONS = ("unreal", "mixamo", "vrm")
DEFAULT_SKELETON = "unreal"

_SIDES = {"l": ("Left", "left"), "r": ("Right", "right")}
_FINGERS = {"thumb": "Thumb", "index": "Index", "middle": "Middle", "ring": "Ring",
            "pinky": "Little"}
_CORE = {  # canonical -> (Mixamo without prefix, VRM 1.0, Unity HumanBodyBones)
    "Root": ("Root", "root", None),
    "pelvis": ("Hips", "hips", "Hips"),
    "spine_01": ("Spine", "spine", "Spine"),
    "spine_02": ("Spine1", "chest", "Chest"),
    "spine_03": ("Spine2", "upperChest", "UpperChest"),
    "neck_01": ("Neck", "neck", "Neck"),
    "head": ("Head", "head", "Head"),
}
_LIMBS = {  # canonical stem -> (Mixamo, VRM, Unity), each without its side
    "clavicle": ("Shoulder", "Shoulder", "Shoulder"),
    "upperarm": ("Arm", "UpperArm", "UpperArm"),
    "lowerarm": ("ForeArm", "LowerArm", "LowerArm"),
    "hand": ("Hand", "Hand", "Hand"),
    "thigh": ("UpLeg", "UpperLeg", "UpperLeg"),
    "calf": ("Leg", "LowerLeg", "LowerLeg"),
    "foot": ("Foot", "Foot", "Foot"),
    "ball": ("ToeBase", "Toes", "Toes"),
}
# Finger segment 1..3: VRM 1.0 names the thumb's Metacarpal/Proximal/Distal, the others
# Proximal/Intermediate/Distal; Unity names every finger Proximal/Intermediate/Distal.
_VRM_THUMB = ("Metacarpal", "Proximal", "Distal")
_SEGMENTS = ("Proximal", "Intermediate", "Distal")


def _names(canonical: str) -> tuple[str, str, str | None]:
    """(Mixamo, VRM, Unity HumanBodyBones or None) of one canonical bone name."""
    if canonical in _CORE:
        mixamo, vrm, unity = _CORE[canonical]
        return f"mixamorig:{mixamo}", vrm, unity
    stem, side = canonical.rsplit("_", 1)
    cap, low = _SIDES[side]
    if stem in _LIMBS:
        mixamo, vrm, unity = _LIMBS[stem]
        return f"mixamorig:{cap}{mixamo}", f"{low}{vrm}", f"{cap}{unity}"
    finger, seg = stem.split("_")
    k = int(seg)
    f = _FINGERS[finger]
    mixamo = f"mixamorig:{cap}Hand{'Pinky' if finger == 'pinky' else f}{k}"
    vrm_seg = (_VRM_THUMB if finger == "thumb" else _SEGMENTS)[k - 1]
    return mixamo, f"{low}{f}{vrm_seg}", f"{cap}{f}{_SEGMENTS[k - 1]}"


def joint_names(canonical: list[str] | tuple[str, ...], skeleton: str) -> list[str]:
    """The joints' names under a naming convention ("unreal" keeps the canonical names)."""
    if skeleton not in SKELETONS:
        raise ValueError(f"unknown skeleton {skeleton!r}; known: {', '.join(SKELETONS)}")
    if skeleton == "unreal":
        return list(canonical)
    col = 0 if skeleton == "mixamo" else 1
    return [_names(n)[col] for n in canonical]


def human_body_bones(canonical: list[str] | tuple[str, ...]) -> dict[str, str]:
    """canonical bone -> Unity `HumanBodyBones` name, for every bone Unity's Humanoid maps
    (Root has none)."""
    out = {}
    for n in canonical:
        unity = _names(n)[2]
        if unity is not None:
            out[n] = unity
    return out


def bone_table(canonical: list[str] | tuple[str, ...]) -> list[tuple[str, str, str, str]]:
    """(unreal, mixamo, vrm, unity HumanBodyBones or "") per bone: the published table."""
    return [(n, *_names(n)[:2], _names(n)[2] or "") for n in canonical]


def local_translations(positions: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """[J, 3] each joint's rest translation relative to its parent (the root's is absolute)."""
    p = np.asarray(positions, np.float32)
    out = p.copy()
    child = parents >= 0
    out[child] = p[child] - p[parents[child]]
    return out


def inverse_bind_matrices(positions: np.ndarray) -> np.ndarray:
    """[J, 4, 4] float32 (row-major): with identity rest rotations, the inverse of a joint's
    world matrix is a translation by minus its position."""
    p = np.asarray(positions, np.float32)
    m = np.tile(np.eye(4, dtype=np.float32), (len(p), 1, 1))
    m[:, :3, 3] = -p
    return m


def world_matrices(positions: np.ndarray, parents: np.ndarray, rotations: np.ndarray,
                   translations: np.ndarray | None = None) -> np.ndarray:
    """[J, 4, 4] world matrices of a pose: `rotations` [J, 4] local quaternions (x, y, z, w);
    `translations` [J, 3] local translations (default: the rest pose's)."""
    from scipy.spatial.transform import Rotation

    local_t = local_translations(positions, parents) if translations is None else translations
    local = np.tile(np.eye(4), (len(parents), 1, 1))
    local[:, :3, :3] = Rotation.from_quat(rotations).as_matrix()
    local[:, :3, 3] = local_t
    world = np.empty_like(local)
    for j, p in enumerate(parents):  # parents come before their children
        world[j] = local[j] if p < 0 else world[p] @ local[j]
    return world


def skin_vertices(vertices: np.ndarray, joints: np.ndarray, weights: np.ndarray,
                  world: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Linear blend skinning on the CPU (what an engine does): [V, 3] posed vertices."""
    skin = world @ inverse_bind_matrices(positions).astype(np.float64)  # [J, 4, 4]
    v = np.concatenate([vertices, np.ones((len(vertices), 1))], axis=1)
    out = np.zeros((len(vertices), 3))
    for k in range(joints.shape[1]):
        m = skin[joints[:, k]]  # [V, 4, 4]
        out += weights[:, k, None] * np.einsum("vij,vj->vi", m, v)[:, :3]
    return out.astype(np.float32)
