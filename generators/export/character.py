"""Skinned, animated characters as GLB: one self-contained file per level of detail.

Each file: the joint hierarchy as nodes (rest pose = translations only), one skin (joints,
inverse bind matrices, the root as its skeleton), one mesh node at the scene root without a
transform (the validator's rule for skinned meshes) with one primitive per material
(POSITION, NORMAL, TEXCOORD_0, TANGENT for normal-mapped ones, JOINTS_0, WEIGHTS_0), and one
animation per clip (LINEAR rotation channels, translation where a clip moves a joint). Images
are embedded. The container, the material JSON and the per-level texture mips are the prop
writer's (`generators.export.glb`).

A character `Asset` carries its rig in `asset.rig` (a `CharacterRig`); `asset.meshes` hold each
level merged into one mesh (for bounds and triangle counts).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from generators.core.asset import Asset, Material
from generators.export import FileBlob, register_format
from generators.export.glb import (
    ARRAY_BUFFER,
    ELEMENT_ARRAY_BUFFER,
    GENERATOR,
    LINEAR,
    LINEAR_MIPMAP_LINEAR,
    MIME,
    REPEAT,
    TEXTURE_ORDER,
    TRIANGLES,
    BufferBuilder,
    _lod_materials,
    _material_json,
    glb_container,
)
from generators.geometry.uv import tangents
from generators.texture.pbr import PNG_MIME, png_bytes

WEIGHT_SUM_TOLERANCE = 2e-3  # well inside the validator's check


@dataclass
class SkinnedPrimitive:
    """One material's part of a level of detail, skinned."""

    name: str  # "skin", "eyes", "tunic", ...
    vertices: np.ndarray  # [V, 3] float32, rest pose, metres
    normals: np.ndarray  # [V, 3] float32 unit
    uvs: np.ndarray  # [V, 2] float32 (glTF: v down)
    faces: np.ndarray  # [F, 3] uint32
    joints: np.ndarray  # [V, 4] uint16 joint indices
    weights: np.ndarray  # [V, 4] float32, sorted descending, rows sum to 1
    material: Material

    @property
    def triangles(self) -> int:
        return len(self.faces)


@dataclass
class ClipTracks:
    """One animation: per joint, rotation keys (x, y, z, w) and/or translation keys."""

    name: str
    times: np.ndarray  # [K] float32, increasing
    rotations: dict[int, np.ndarray]  # joint -> [K, 4] float32
    translations: dict[int, np.ndarray] = field(default_factory=dict)  # joint -> [K, 3]


@dataclass
class CharacterRig:
    joint_names: list[str]  # as written (the requested skeleton's names)
    parents: np.ndarray  # [J] int, parents before children, exactly one -1
    joint_positions: np.ndarray  # [J, 3] float32 world rest positions
    lods: list[list[SkinnedPrimitive]]  # finest first
    clips: list[ClipTracks]


def _check(prim: SkinnedPrimitive, n_joints: int) -> None:
    v = len(prim.vertices)
    if v == 0 or len(prim.faces) == 0:
        raise ValueError(f"primitive {prim.name!r} is empty")
    for attr, shape in (("normals", (v, 3)), ("uvs", (v, 2)), ("joints", (v, 4)),
                        ("weights", (v, 4))):
        a = getattr(prim, attr)
        if a.shape != shape:
            raise ValueError(f"primitive {prim.name!r}: {attr} is {a.shape}, expected {shape}")
    w = prim.weights
    if (np.abs(w.sum(axis=1) - 1) > WEIGHT_SUM_TOLERANCE).any() or (np.diff(w, axis=1) > 0).any():
        raise ValueError(f"primitive {prim.name!r}: weights must be sorted and sum to 1")
    if int(prim.joints.max()) >= n_joints:
        raise ValueError(f"primitive {prim.name!r} uses joint {int(prim.joints.max())} of "
                         f"{n_joints}")


def _shift_textures(obj, offset: int):
    """A material JSON whose texture indices (0, 1, 2) are moved to this material's slots."""
    if isinstance(obj, dict):
        return {k: (v + offset if k == "index" else _shift_textures(v, offset))
                for k, v in obj.items()}
    return obj


def _primitive(buf: BufferBuilder, prim: SkinnedPrimitive, jdtype: str, materials: list,
               images: list, textures: list) -> dict:
    """One skinned primitive's accessors, its material (and maps, embedded as PNG) -> JSON."""
    v = np.ascontiguousarray(prim.vertices, "<f4")
    nrm = np.ascontiguousarray(prim.normals, "<f4")
    attrs = {"POSITION": buf.accessor(v, "VEC3", ARRAY_BUFFER, bounds=True),
             "NORMAL": buf.accessor(nrm, "VEC3", ARRAY_BUFFER)}
    mat = prim.material
    textured = mat.textures is not None
    uv = np.ascontiguousarray(prim.uvs, "<f4")
    if textured:
        tan = np.ascontiguousarray(tangents(v, prim.faces, nrm, uv), "<f4")
        attrs["TANGENT"] = buf.accessor(tan, "VEC4", ARRAY_BUFFER)
    attrs["TEXCOORD_0"] = buf.accessor(uv, "VEC2", ARRAY_BUFFER)
    attrs["JOINTS_0"] = buf.accessor(np.ascontiguousarray(prim.joints, jdtype), "VEC4",
                                     ARRAY_BUFFER)
    attrs["WEIGHTS_0"] = buf.accessor(np.ascontiguousarray(prim.weights, "<f4"), "VEC4",
                                      ARRAY_BUFFER)
    idtype = "<u2" if len(v) < 65535 else "<u4"
    idx = buf.accessor(np.ascontiguousarray(prim.faces, idtype).ravel(), "SCALAR",
                       ELEMENT_ARRAY_BUFFER)
    m = _material_json(mat, textured)
    if textured:
        m = _shift_textures(m, len(textures))
        for t in TEXTURE_ORDER:
            view = buf.view(png_bytes(getattr(mat.textures, t)))
            images.append({"bufferView": view, "mimeType": PNG_MIME, "name": f"{mat.name}_{t}"})
            textures.append({"sampler": 0, "source": len(images) - 1})
    materials.append(m)
    return {"attributes": attrs, "indices": idx, "mode": TRIANGLES,
            "material": len(materials) - 1}


def _joint_nodes(rig: CharacterRig, parents: np.ndarray) -> list[dict]:
    """Joint nodes 0..J-1: the rest pose as translations from each joint's parent."""
    local = np.asarray(rig.joint_positions, np.float64).copy()
    child = parents >= 0
    local[child] -= np.asarray(rig.joint_positions, np.float64)[parents[child]]
    local = local.astype(np.float32)
    nodes = []
    for j in range(len(rig.joint_names)):
        node = {"name": rig.joint_names[j]}
        if np.any(local[j] != 0):
            node["translation"] = [float(x) for x in local[j]]
        kids = [int(c) for c in np.flatnonzero(parents == j)]
        if kids:
            node["children"] = kids
        nodes.append(node)
    return nodes


def _inverse_binds(buf: BufferBuilder, rig: CharacterRig) -> int:
    n = len(rig.joint_names)
    ibm = np.tile(np.eye(4, dtype=np.float32), (n, 1, 1))
    ibm[:, :3, 3] = -np.asarray(rig.joint_positions, np.float32)
    # glTF matrices are column-major: write each matrix transposed.
    return buf.accessor(np.ascontiguousarray(ibm.transpose(0, 2, 1), "<f4").reshape(n, 16),
                        "MAT4")


def _animations(buf: BufferBuilder, rig: CharacterRig) -> list[dict]:
    """One animation per clip: LINEAR samplers on joint rotations (unit quaternions) and
    translations, sharing the clip's time accessor."""
    animations = []
    for clip in rig.clips:
        times = np.ascontiguousarray(clip.times, "<f4")
        t_acc = buf.accessor(times, "SCALAR", bounds=True)
        samplers, channels = [], []
        for path, tracks, kind in (("rotation", clip.rotations, "VEC4"),
                                   ("translation", clip.translations, "VEC3")):
            for j, keys in sorted(tracks.items()):
                keys = np.ascontiguousarray(keys, "<f4")
                if len(keys) != len(times):
                    raise ValueError(f"clip {clip.name!r}: joint {j} has {len(keys)} keys for "
                                     f"{len(times)} times")
                if path == "rotation":
                    keys = keys / np.linalg.norm(keys, axis=1, keepdims=True)
                out = buf.accessor(keys, kind)
                samplers.append({"input": t_acc, "output": out, "interpolation": "LINEAR"})
                channels.append({"sampler": len(samplers) - 1,
                                 "target": {"node": int(j), "path": path}})
        if channels:
            animations.append({"name": clip.name, "samplers": samplers, "channels": channels})
    return animations


def character_to_glb(rig: CharacterRig, prims: list[SkinnedPrimitive], name: str) -> bytes:
    """One level of detail of a character as a self-contained GLB: joint nodes, then the
    skinned mesh node at the root (no transform), one primitive per material, a skin, one
    animation per clip."""
    n = len(rig.joint_names)
    parents = np.asarray(rig.parents)
    if (parents < 0).sum() != 1 or parents[0] != -1:
        raise ValueError("a skeleton needs exactly one root, listed first")
    buf = BufferBuilder()
    jdtype = "u1" if n <= 256 else "<u2"  # JOINTS_0: unsigned byte or short
    materials, images, textures = [], [], []
    primitives = []
    for prim in prims:
        _check(prim, n)
        primitives.append(_primitive(buf, prim, jdtype, materials, images, textures))
    nodes = _joint_nodes(rig, parents)
    mesh_node = len(nodes)
    nodes.append({"name": name, "mesh": 0, "skin": 0})
    ibm_acc = _inverse_binds(buf, rig)
    animations = _animations(buf, rig)

    binary = buf.binary()
    gltf = {
        "asset": {"version": "2.0", "generator": GENERATOR},
        "scene": 0,
        "scenes": [{"nodes": [0, mesh_node]}],
        "nodes": nodes,
        "meshes": [{"name": name, "primitives": primitives}],
        "skins": [{"name": f"{name}_skeleton", "joints": list(range(n)),
                   "inverseBindMatrices": ibm_acc, "skeleton": 0}],
        "materials": materials,
        "accessors": buf.accessors,
        "bufferViews": buf.views,
        "buffers": [{"byteLength": len(binary)}],
    }
    if animations:
        gltf["animations"] = animations
    if images:
        gltf["images"] = images
        gltf["samplers"] = [{"magFilter": LINEAR, "minFilter": LINEAR_MIPMAP_LINEAR,
                             "wrapS": REPEAT, "wrapT": REPEAT}]
        gltf["textures"] = textures
    return glb_container(gltf, binary)


@register_format("glb", kind="character")
def export_character(asset: Asset) -> list[FileBlob]:
    """A character's levels of detail as GLB files, coarsest first; coarser levels wear the
    next mips of each material's maps, as props do."""
    rig: CharacterRig = asset.rig
    if rig is None:
        raise ValueError("a character asset needs its rig (asset.rig)")
    lods = list(range(len(rig.lods)))
    per_material: dict[str, dict[int, Material | None]] = {}
    files = []
    for lod, prims in enumerate(rig.lods):
        worn = []
        for p in prims:
            key = p.material.name
            if key not in per_material:
                per_material[key] = _lod_materials(p.material, lods)
            worn.append(SkinnedPrimitive(p.name, p.vertices, p.normals, p.uvs, p.faces,
                                         p.joints, p.weights, per_material[key][lod]))
        data = character_to_glb(rig, worn, asset.category)
        files.append(FileBlob(f"lod{lod}.glb", MIME, data, lod=lod,
                              triangles=sum(p.triangles for p in prims)))
    return sorted(files, key=lambda f: -f.lod)
