"""Scenes (a gallery hall) as ONE self-contained GLB: a node tree, shared textures, lights.

A scene asset is a `SceneAsset`: an `Asset` of kind "scene" whose `root` is a tree of
`SceneNode`s (translation, rotation, an optional mesh with its material, an optional
KHR_lights_punctual light, JSON extras). The exporter walks the tree once and writes every
mesh, material and image once: meshes used by several nodes share one glTF mesh, materials
are shared by identity, and images by content (two materials with the very same maps embed
them once). Container, material JSON and PNG encoding are the prop writer's
(`generators.export.glb`), so both make the same validator-clean bytes.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from generators.core.asset import KIND_SCENE, Asset, Material, Mesh
from generators.export import FileBlob, register_format
from generators.export.glb import (
    ARRAY_BUFFER,
    CHUNK_BIN,
    CHUNK_JSON,
    ELEMENT_ARRAY_BUFFER,
    FLOAT,
    GENERATOR,
    GLB_MAGIC,
    LINEAR,
    LINEAR_MIPMAP_LINEAR,
    MIME,
    REPEAT,
    TEXTURE_ORDER,
    TRIANGLES,
    UNSIGNED_INT,
    UNSIGNED_SHORT,
    BufferBuilder,
    _material_json,
    glb_container,
)
from generators.geometry.uv import tangents
from generators.texture.pbr import PNG_MIME, png_bytes

LIGHTS_EXT = "KHR_lights_punctual"
SCENE_FILE = "scene.glb"


@dataclass(frozen=True)
class Light:
    """A KHR_lights_punctual light, in the extension's units. A spot shines along its node's
    -Z axis; a point light shines everywhere."""

    type: str  # "spot" or "point"
    intensity: float  # candela (luminous intensity)
    color: tuple[float, float, float] = (1.0, 1.0, 1.0)  # linear RGB
    range: float | None = None  # metres beyond which the light is cut off; None = infinite
    inner_cone: float = 0.0  # spot only: radians from the axis where the falloff starts
    outer_cone: float = math.pi / 4  # spot only: radians from the axis where it reaches 0

    def __post_init__(self) -> None:
        if self.type not in ("spot", "point"):
            raise ValueError(f"light type {self.type!r} is not spot or point")
        if self.type == "spot" and not 0.0 <= self.inner_cone < self.outer_cone <= math.pi / 2:
            raise ValueError("a spot needs 0 <= inner_cone < outer_cone <= pi/2")


@dataclass
class SceneNode:
    name: str
    translation: tuple[float, float, float] = (0.0, 0.0, 0.0)  # metres, in the parent's frame
    rotation: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 1.0)  # unit quaternion xyzw
    mesh: Mesh | None = None  # in this node's frame
    material: Material | None = None  # the mesh's material (textured ones need mesh.uvs)
    light: Light | None = None
    extras: dict[str, Any] | None = None  # JSON-serialisable, written as the node's extras
    children: list[SceneNode] = field(default_factory=list)

    def walk(self, parent: np.ndarray | None = None):
        """(node, world matrix [4, 4]) for this node and every descendant, depth first."""
        world = (np.eye(4) if parent is None else parent) @ node_matrix(self)
        yield self, world
        for child in self.children:
            yield from child.walk(world)


@dataclass
class SceneAsset(Asset):
    """An asset of kind "scene": `root` is the whole node tree (meshes stays empty)."""

    root: SceneNode | None = None

    def __post_init__(self) -> None:
        if self.kind != KIND_SCENE or self.root is None:
            raise ValueError("a SceneAsset has kind 'scene' and a root node")

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray] | None:
        """World AABB of every mesh in the tree (what the header's bounds report)."""
        boxes = [(w.min(axis=0), w.max(axis=0)) for w in
                 (world_vertices(n, m) for n, m in self.root.walk() if n.mesh is not None)
                 if len(w)]
        if not boxes:
            return None
        return (np.min([b[0] for b in boxes], axis=0).astype(np.float32),
                np.max([b[1] for b in boxes], axis=0).astype(np.float32))


def node_matrix(node: SceneNode) -> np.ndarray:
    """The node's local transform [4, 4] (rotation then translation, as glTF composes TRS)."""
    x, y, z, w = node.rotation
    m = np.eye(4)
    m[:3, :3] = [[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                 [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                 [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]]
    m[:3, 3] = node.translation
    return m


def world_vertices(node: SceneNode, world: np.ndarray) -> np.ndarray:
    """A mesh node's vertices [V, 3] in world space (`SceneNode.walk` gives `world`)."""
    v = np.asarray(node.mesh.vertices, np.float64)
    return v @ world[:3, :3].T + world[:3, 3]


class _Writer(BufferBuilder):
    """Accumulates buffer views, accessors, meshes, materials and images; each written once."""

    def __init__(self) -> None:
        super().__init__()
        self.meshes: list[dict] = []
        self.materials: list[dict] = []
        self.images: list[dict] = []
        self.textures: list[dict] = []
        self.lights: list[dict] = []
        self._mesh_of: dict[int, int] = {}  # (id(mesh), id(material)) -> glTF mesh
        self._material_of: dict[int, int] = {}  # id(material) -> glTF material
        self._image_of: dict[str, int] = {}  # sha256 of the map's pixels -> glTF image
        self._texture_of: dict[int, int] = {}  # glTF image -> glTF texture
        self._light_of: dict[Light, int] = {}
        self._keep: list[Any] = []  # keeps id() keys alive while writing

    def texture(self, pixels: np.ndarray, name: str) -> int:
        key = hashlib.sha256(pixels.tobytes() + str(pixels.shape).encode()).hexdigest()
        if key not in self._image_of:
            self._image_of[key] = len(self.images)
            self.images.append({"bufferView": self.view(png_bytes(pixels), None),
                                "mimeType": PNG_MIME, "name": name})
        image = self._image_of[key]
        if image not in self._texture_of:
            self._texture_of[image] = len(self.textures)
            self.textures.append({"sampler": 0, "source": image})
        return self._texture_of[image]

    def material(self, material: Material) -> int:
        if id(material) in self._material_of:
            return self._material_of[id(material)]
        self._keep.append(material)
        textured = material.textures is not None
        out = _material_json(material, textured)
        if textured:
            # _material_json numbers the maps 0, 1, 2 (TEXTURE_ORDER); here they are shared.
            index = {i: self.texture(getattr(material.textures, t), f"{material.name}_{t}")
                     for i, t in enumerate(TEXTURE_ORDER)}
            pbr = out["pbrMetallicRoughness"]
            for holder, key in ((pbr, "baseColorTexture"), (pbr, "metallicRoughnessTexture"),
                                (out, "normalTexture"), (out, "occlusionTexture")):
                holder[key]["index"] = index[holder[key]["index"]]
        self._material_of[id(material)] = len(self.materials)
        self.materials.append(out)
        return self._material_of[id(material)]

    def mesh(self, mesh: Mesh, material: Material | None, name: str) -> int:
        key = (id(mesh), id(material))
        if key in self._mesh_of:
            return self._mesh_of[key]
        self._keep += [mesh, material]
        v = np.ascontiguousarray(mesh.vertices, dtype="<f4")
        n = np.ascontiguousarray(mesh.normals, dtype="<f4")
        if len(v) == 0 or len(mesh.faces) == 0:
            raise ValueError(f"node {name!r}: cannot export an empty mesh")
        textured = material is not None and material.textures is not None
        attributes = {"POSITION": self.accessor(v, "VEC3", ARRAY_BUFFER, bounds=True),
                      "NORMAL": self.accessor(n, "VEC3", ARRAY_BUFFER)}
        if textured:
            if mesh.uvs is None:
                raise ValueError(f"node {name!r}: material {material.name!r} has textures but "
                                 "the mesh has no UVs")
            uv = np.ascontiguousarray(mesh.uvs, dtype="<f4")
            tan = np.ascontiguousarray(tangents(v, mesh.faces, n, uv), dtype="<f4")
            attributes["TANGENT"] = self.accessor(tan, "VEC4", ARRAY_BUFFER)
            attributes["TEXCOORD_0"] = self.accessor(uv, "VEC2", ARRAY_BUFFER)
        idx = np.ascontiguousarray(mesh.faces, dtype="<u2" if len(v) < 65535 else "<u4")
        prim = {"attributes": attributes,
                "indices": self.accessor(idx.ravel(), "SCALAR", ELEMENT_ARRAY_BUFFER),
                "mode": TRIANGLES}
        if material is not None:
            prim["material"] = self.material(material)
        self._mesh_of[key] = len(self.meshes)
        self.meshes.append({"name": name, "primitives": [prim]})
        return self._mesh_of[key]

    def light(self, light: Light) -> int:
        if light not in self._light_of:
            out: dict[str, Any] = {"type": light.type, "intensity": float(light.intensity),
                                   "color": [float(c) for c in light.color]}
            if light.range is not None:
                out["range"] = float(light.range)
            if light.type == "spot":
                out["spot"] = {"innerConeAngle": float(light.inner_cone),
                               "outerConeAngle": float(light.outer_cone)}
            self._light_of[light] = len(self.lights)
            self.lights.append(out)
        return self._light_of[light]


def scene_to_glb(root: SceneNode) -> tuple[bytes, int]:
    """(GLB bytes, triangle count) of the tree under `root`: one scene, `root` its only node."""
    w = _Writer()
    nodes: list[dict] = []
    triangles = 0

    def add(node: SceneNode) -> int:
        nonlocal triangles
        i = len(nodes)
        out: dict[str, Any] = {"name": node.name}
        nodes.append(out)
        if any(node.translation):
            out["translation"] = [float(t) for t in node.translation]
        if tuple(node.rotation) != (0.0, 0.0, 0.0, 1.0):
            q = np.asarray(node.rotation, np.float64)
            out["rotation"] = [float(c) for c in q / np.linalg.norm(q)]
        if node.mesh is not None:
            out["mesh"] = w.mesh(node.mesh, node.material, node.name)
            triangles += node.mesh.triangles
        if node.light is not None:
            out["extensions"] = {LIGHTS_EXT: {"light": w.light(node.light)}}
        if node.extras:
            out["extras"] = node.extras
        kids = [add(c) for c in node.children]
        if kids:
            out["children"] = kids
        return i

    add(root)
    binary = b"".join(w.blobs)
    gltf: dict[str, Any] = {
        "asset": {"version": "2.0", "generator": GENERATOR},
        "scene": 0,
        "scenes": [{"name": root.name, "nodes": [0]}],
        "nodes": nodes,
        "meshes": w.meshes,
        "accessors": w.accessors,
        "bufferViews": w.views,
        "buffers": [{"byteLength": len(binary)}],
    }
    if w.materials:
        gltf["materials"] = w.materials
    if w.images:
        gltf["images"] = w.images
        gltf["textures"] = w.textures
        gltf["samplers"] = [{"magFilter": LINEAR, "minFilter": LINEAR_MIPMAP_LINEAR,
                             "wrapS": REPEAT, "wrapT": REPEAT}]
    if w.lights:
        gltf["extensionsUsed"] = [LIGHTS_EXT]
        gltf["extensions"] = {LIGHTS_EXT: {"lights": w.lights}}
    return glb_container(gltf, binary), triangles


@register_format("glb", kind=KIND_SCENE)
def export_scene(asset: Asset) -> list[FileBlob]:
    """A scene asset as one self-contained GLB (`scene.glb`)."""
    root = getattr(asset, "root", None)
    if root is None:
        raise ValueError("a scene asset needs a root node (generators.export.scene.SceneAsset)")
    data, triangles = scene_to_glb(root)
    return [FileBlob(SCENE_FILE, MIME, data, lod=0, triangles=triangles)]


def read_glb(data: bytes) -> tuple[dict, bytes]:
    """(glTF JSON, BIN chunk) of a GLB, for readers and tests; ValueError when it is not one."""
    magic, _, total = struct.unpack_from("<III", data)
    jlen, jtype = struct.unpack_from("<II", data, 12)
    if magic != GLB_MAGIC or total != len(data) or jtype != CHUNK_JSON:
        raise ValueError("not a GLB")
    gltf = json.loads(data[20:20 + jlen])
    if 20 + jlen == len(data):
        return gltf, b""
    blen, btype = struct.unpack_from("<II", data, 20 + jlen)
    if btype != CHUNK_BIN:
        raise ValueError("the GLB's second chunk is not BIN")
    return gltf, data[28 + jlen:28 + jlen + blen]


def accessor_array(gltf: dict, binary: bytes, index: int) -> np.ndarray:
    """An accessor's data as a numpy array [count, components] (tightly packed views only,
    as this writer makes them)."""
    acc = gltf["accessors"][index]
    view = gltf["bufferViews"][acc["bufferView"]]
    dtype = {FLOAT: "<f4", UNSIGNED_SHORT: "<u2", UNSIGNED_INT: "<u4"}[acc["componentType"]]
    width = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}[acc["type"]]
    start = view["byteOffset"] + acc.get("byteOffset", 0)
    return np.frombuffer(binary, dtype, acc["count"] * width, start).reshape(-1, width)
