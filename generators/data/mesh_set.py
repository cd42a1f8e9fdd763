"""Voxel data sets from a studio's own meshes (obj, ply, stl, glb, gltf).

The library and command line behind `vitrine dataset build PATH... [--res 32] [--up-axis y|z]
[--units m|cm|mm] -o FILE` (`main`): every mesh is voxelised with the convention of the
procedural sets (`Shape.occupancy`), so the GAN trains on either:

- axis order (x, y, z), +Y up (the glTF convention); `--up-axis z` turns Z-up meshes (most CAD
  and Blender exports) to +Y up first, instead of letting them train lying on their side;
- the longest bounding-box side spans res - 2 voxels, one empty voxel all round;
- the mesh stands on the second layer of y (index 1) and is centred in x and z.

A voxel is solid when its centre is inside the mesh, or when the surface passes through it.
Inside is decided by winding numbers counted along rays through the voxel centres in the six
axis directions (`_axis_votes`; non-zero rule, so overlapping parts unite and inverted normals
do no harm). A closed (watertight) mesh fills where most directions agree. An open mesh fills
where at most one direction escapes through an opening: a barrel or crate without a bottom face
or a sphere with a hole fills, while a plane or a tube without caps keeps just its shell. The
surface voxels come from points sampled on every triangle at under half a voxel apart, which
keeps parts too thin to hold a voxel centre (stems, legs, cards, single-sided walls). This is a
touch fuller than the procedural 0.5-voxel growth (a voxel the surface clips counts, where the
procedural sets need its centre within 0.5 voxel): a sphere comes out about 3 % larger.

Each mesh's real-world size is kept: its longest bounding-box side in metres (`sizes_m`;
`--units` says what the files' units are, metres by default), and per category the median
(`extent_m`). A size model learns the sizes with the shapes (`generators.voxel_gan.size`), so a
studio's stools and bar stools keep their own heights.

Sets are saved as .npz in the layout of the procedural cache (`voxels` packed with
`np.packbits(axis=-1)`, `labels`, `seeds`, `categories`) plus `res` and `extent_m` (metres per
category, in the order of `categories`) and `sizes_m` (metres per shape), written atomically.
"""

from __future__ import annotations

import logging
import os
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import trimesh

from generators.data.procedural_set import VoxelSet

log = logging.getLogger(__name__)

SUPPORTED_EXTENSIONS = (".glb", ".gltf", ".obj", ".ply", ".stl")
MIN_RES = 4
# Surface samples lie at most this far apart (in voxels) along each triangle.
_SAMPLE_STEP = 0.4
# Rays run through voxel centres shifted by these tiny, unrelated offsets (in voxels), so a ray
# never runs exactly along a mesh edge or through a vertex and counts a crossing twice.
_RAY_JITTER = (1.3719e-5, 2.7183e-5)
# Bounds on the temporary arrays of the vectorised loops (number of candidates per chunk).
_CHUNK = 1 << 20
UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001}  # metres per file unit
# Rotations to +Y up: "z" is -90 degrees about x, (x, y, z) -> (x, z, -y) (right-handed kept).
UP_AXES = {"y": np.eye(3), "z": np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])}


class MeshError(ValueError):
    """A mesh file that cannot be used: unreadable, unsupported, empty or degenerate."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


# --------------------------------------------------------------------------------------------
# loading


def load_mesh(path: str | Path) -> trimesh.Trimesh:
    """One triangle mesh from an obj, ply, stl, glb or gltf file.

    Scenes are flattened: every mesh instance is moved by its node transform and all are
    concatenated (points, lines and other non-mesh geometry are dropped). The result carries
    geometry only, with vertices merged by position. Raises `MeshError` for a missing,
    unreadable or unsupported file and for one without faces or with a zero or NaN extent."""
    path = Path(path)
    if not path.is_file():
        raise MeshError(path, "not a file" if path.exists() else "no such file or directory")
    ext = path.suffix.lower()
    if ext not in SUPPORTED_EXTENSIONS:
        raise MeshError(path, f"unsupported extension {path.suffix or '(none)'!r}; "
                              f"supported: {', '.join(SUPPORTED_EXTENSIONS)}")
    if path.stat().st_size == 0:
        raise MeshError(path, "empty file")
    try:
        loaded = trimesh.load(str(path), file_type=ext[1:], process=False)
    except Exception as err:  # the format parsers raise anything on bad input
        raise MeshError(path, f"unreadable {ext[1:]} file ({type(err).__name__}: {err})") from err
    try:
        vertices, faces = _geometry_of(loaded)
    except (ValueError, IndexError, TypeError) as err:
        raise MeshError(path, f"unreadable geometry ({type(err).__name__}: {err})") from err
    if len(faces) == 0:
        raise MeshError(path, "no faces (not a mesh, or an empty one)")
    if not np.isfinite(vertices).all():
        raise MeshError(path, "vertices with NaN or infinite coordinates")
    used = vertices[np.unique(faces)]
    if float(np.ptp(used, axis=0).max()) <= 0.0:
        raise MeshError(path, "zero extent (all vertices at one point)")
    return trimesh.Trimesh(vertices=vertices, faces=faces, process=True)


def _geometry_of(loaded: object) -> tuple[np.ndarray, np.ndarray]:
    """(vertices [V, 3] float64, faces [F, 3] int64) of a loaded Trimesh or Scene."""
    if isinstance(loaded, trimesh.Trimesh):
        parts = [(np.asarray(loaded.vertices, dtype=np.float64), np.asarray(loaded.faces))]
    elif isinstance(loaded, trimesh.Scene):
        parts = []
        for node in loaded.graph.nodes_geometry:
            transform, name = loaded.graph[node]
            geom = loaded.geometry.get(name)
            if isinstance(geom, trimesh.Trimesh) and len(geom.faces):
                verts = trimesh.transformations.transform_points(
                    np.asarray(geom.vertices, dtype=np.float64), transform)
                parts.append((verts, np.asarray(geom.faces)))
    else:
        parts = []
    if not parts:
        return np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)
    offsets = np.cumsum([0] + [len(v) for v, _ in parts[:-1]])
    vertices = np.concatenate([v for v, _ in parts])
    faces = np.concatenate([f.astype(np.int64) + o for (_, f), o in zip(parts, offsets)])
    return vertices, faces


def orient(mesh: trimesh.Trimesh, up_axis: str = "y") -> trimesh.Trimesh:
    """`mesh` turned so that its `up_axis` ("y" or "z") points along +Y."""
    if up_axis not in UP_AXES:
        raise ValueError(f"up axis must be one of {sorted(UP_AXES)}, got {up_axis!r}")
    if up_axis == "y":
        return mesh
    vertices = np.asarray(mesh.vertices, dtype=np.float64) @ UP_AXES[up_axis].T
    return trimesh.Trimesh(vertices=vertices, faces=np.asarray(mesh.faces), process=False)


def longest_side(mesh: trimesh.Trimesh) -> float:
    """The longest side of the mesh's axis-aligned bounding box, in the file's units."""
    return float(np.ptp(np.asarray(mesh.vertices)[np.unique(mesh.faces)], axis=0).max())


# --------------------------------------------------------------------------------------------
# voxelising


def voxelize_mesh(mesh: trimesh.Trimesh, res: int = 32) -> np.ndarray:
    """Solid voxels [res, res, res] bool of `mesh`, in the convention of `Shape.occupancy`.

    Normalised so the longest bounding-box side spans res - 2 voxels, centred in x and z,
    standing on y layer 1, axis order (x, y, z). Solid = voxel centre inside the mesh (see the
    module docstring for open meshes) or the surface passing through the voxel. Raises
    ValueError for a mesh without faces or with a zero or NaN extent."""
    if not isinstance(res, int | np.integer) or res < MIN_RES:
        raise ValueError(f"res must be an integer >= {MIN_RES}, got {res!r}")
    res = int(res)
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    faces = np.asarray(mesh.faces, dtype=np.int64)
    if len(faces) == 0:
        raise ValueError("mesh has no faces")
    tris = vertices[faces]  # [F, 3, 3]
    if not np.isfinite(tris).all():
        raise ValueError("mesh has NaN or infinite vertex coordinates")
    lo, hi = tris.reshape(-1, 3).min(axis=0), tris.reshape(-1, 3).max(axis=0)
    ext = float((hi - lo).max())
    if not ext > 0.0:
        raise ValueError("mesh has zero extent")

    # Voxel index space: the centre of voxel i lies at coordinate i along every axis.
    spacing = ext / (res - 2)
    origin = np.array([(lo[0] + hi[0]) / 2 - (res - 1) / 2 * spacing,
                       lo[1] - 0.5 * spacing,
                       (lo[2] + hi[2]) / 2 - (res - 1) / 2 * spacing])
    tris = (tris - origin) / spacing

    solid = _surface_voxels(tris, res)
    closed = trimesh.Trimesh(vertices=vertices, faces=faces, process=True).is_watertight
    votes = sum(_axis_votes(tris, res, axis) for axis in range(3))
    solid |= votes >= (4 if closed else 5)
    return solid


def _surface_voxels(tris: np.ndarray, res: int) -> np.ndarray:
    """Voxels [res]^3 that points sampled on the triangles (index space) fall into."""
    out = np.zeros((res, res, res), dtype=bool)
    edges = np.stack([tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 1],
                      tris[:, 0] - tris[:, 2]], axis=1)
    longest = np.sqrt((edges ** 2).sum(axis=-1)).max(axis=1)
    steps = np.maximum(np.ceil(longest / _SAMPLE_STEP), 1).astype(np.int64)
    for n in np.unique(steps):
        group = tris[steps == n]
        i, j = np.triu_indices(n + 1)  # i <= j: barycentric grid (1 - j/n, (j - i)/n, i/n)
        bary = np.stack([n - j, j - i, i], axis=1).astype(np.float64) / n  # [K, 3]
        per_chunk = max(1, _CHUNK // len(bary))
        for start in range(0, len(group), per_chunk):
            points = bary[None] @ group[start:start + per_chunk]  # [f, K, 3]
            # The bounding box spans [0.5, res - 1.5]: clipping only moves points lying on its
            # faces (and rounding noise) into the voxel on the inside, as the convention wants.
            idx = np.clip(np.floor(points.reshape(-1, 3) + 0.5), 1, res - 2).astype(np.intp)
            out[idx[:, 0], idx[:, 1], idx[:, 2]] = True
    return out


def _axis_votes(tris: np.ndarray, res: int, axis: int) -> np.ndarray:
    """Inside votes [res]^3 (0, 1 or 2; x, y, z order) from rays along `axis`.

    Rays run along `axis` through the voxel centres of every column. Each crossing of a
    triangle adds +1 to the winding number of the points past it when the ray enters the
    surface (normal against the ray), -1 when it leaves. One vote when the winding number
    counted from the low end is non-zero, one when that counted from the high end is."""
    u, v = (axis + 1) % 3, (axis + 2) % 3  # cyclic, so the 2D cross product is normal[axis]
    d1, d2 = tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0]
    normal_axis = d1[:, u] * d2[:, v] - d1[:, v] * d2[:, u]
    keep = np.abs(normal_axis) > 1e-12  # triangles seen edge-on are never crossed
    tris, normal_axis = tris[keep], normal_axis[keep]
    a, b, c = tris[:, 0], tris[:, 1], tris[:, 2]
    ju, jv = _RAY_JITTER
    tu, tv = tris[:, :, u], tris[:, :, v]
    u0 = np.clip(np.ceil(tu.min(axis=1) - ju), 0, res).astype(np.int64)
    u1 = np.clip(np.floor(tu.max(axis=1) - ju), -1, res - 1).astype(np.int64)
    v0 = np.clip(np.ceil(tv.min(axis=1) - jv), 0, res).astype(np.int64)
    v1 = np.clip(np.floor(tv.max(axis=1) - jv), -1, res - 1).astype(np.int64)
    nu, nv = np.maximum(u1 - u0 + 1, 0), np.maximum(v1 - v0 + 1, 0)
    counts = nu * nv

    delta = np.zeros(res * res * (res + 1), dtype=np.float64)
    for faces in _chunks(counts):
        cnt = counts[faces]
        f = np.repeat(faces, cnt)
        local = np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        iu = u0[f] + local // nv[f]
        iv = v0[f] + local % nv[f]
        qu, qv = iu + ju, iv + jv
        au, av, bu, bv, cu, cv = a[f, u], a[f, v], b[f, u], b[f, v], c[f, u], c[f, v]
        inv = 1.0 / normal_axis[f]
        la = ((bu - qu) * (cv - qv) - (bv - qv) * (cu - qu)) * inv
        lb = ((cu - qu) * (av - qv) - (cv - qv) * (au - qu)) * inv
        lc = 1.0 - la - lb
        hit = (la >= 0) & (lb >= 0) & (lc >= 0)
        f, iu, iv = f[hit], iu[hit], iv[hit]
        t = la[hit] * a[f, axis] + lb[hit] * b[f, axis] + lc[hit] * c[f, axis]
        # A crossing at t counts for the centres k > t, i.e. from bucket floor(t) + 1 on.
        k = np.clip(np.floor(t).astype(np.int64) + 1, 0, res)
        sign = -np.sign(normal_axis[f])
        np.add.at(delta, (iu * res + iv) * (res + 1) + k, sign)
    delta = delta.reshape(res, res, res + 1)
    from_low = np.cumsum(delta[..., :res], axis=-1)
    from_high = from_low - delta.sum(axis=-1, keepdims=True)
    votes = (np.abs(from_low) > 0.5).astype(np.int8) + (np.abs(from_high) > 0.5)
    return np.transpose(votes, np.argsort([u, v, axis]))


def _chunks(counts: np.ndarray) -> Iterable[np.ndarray]:
    """Face indices with counts > 0, in runs whose counts add up to about `_CHUNK` or less."""
    faces = np.flatnonzero(counts)
    if len(faces) == 0:
        return
    ends = np.cumsum(counts[faces])
    start = 0
    while start < len(faces):
        base = ends[start - 1] if start else 0
        stop = max(int(np.searchsorted(ends, base + _CHUNK, side="right")), start + 1)
        yield faces[start:stop]
        start = stop


# --------------------------------------------------------------------------------------------
# building a set


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files to voxelise: directories expanded recursively to supported mesh files.

    A directory's files come sorted by path, skipping hidden names (starting with '.'); files
    named explicitly are kept whatever their extension (so `build_mesh_set` can report them).
    Duplicates are dropped, the first occurrence kept."""
    out: list[Path] = []
    seen: set[Path] = set()
    for item in paths:
        item = Path(item)
        if item.is_dir():
            found = sorted(
                p for p in item.rglob("*")
                if p.suffix.lower() in SUPPORTED_EXTENSIONS and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(item).parts))
        else:
            found = [item]
        for p in found:
            key = p.absolute()
            if key not in seen:
                seen.add(key)
                out.append(p)
    return out


def _parent_category(path: Path) -> str:
    return path.absolute().parent.name


def _voxelize_file(path: Path, category: object, res: int,
                   up_axis: str) -> tuple[np.ndarray, float] | str:
    """(solid voxels, longest side in file units) of one file, or why it cannot be used."""
    if not isinstance(category, str) or not category:
        return f"no category (category_of gave {category!r})"
    try:
        mesh = orient(load_mesh(path), up_axis)
        vox = voxelize_mesh(mesh, res)
    except MeshError as err:
        return err.reason
    except ValueError as err:
        return str(err)
    return (vox, longest_side(mesh)) if vox.any() else "no solid voxels"


def build_mesh_set(paths: list[str | Path], res: int = 32,
                   category_of: Callable[[Path], str] | None = None,
                   progress: bool = False, up_axis: str = "y",
                   units: str = "m") -> tuple[VoxelSet, list[tuple[Path, str]]]:
    """Voxelise every mesh under `paths` into a `VoxelSet`, with each category's size.

    Directories are expanded with `expand_paths`. A mesh's category is `category_of(path)`,
    by default the name of its parent directory; categories are sorted by name and `labels`
    index them. Meshes are turned so `up_axis` ("y" or "z") is +Y; `extent_m` is per category
    the median longest bounding-box side times the metres per `units` ("m", "cm", "mm").
    `seeds` is the running index of the meshes kept (in file order). A file that cannot be
    used (unsupported, unreadable, empty, degenerate, or voxelising to nothing) is skipped and
    reported in the returned list of (path, reason); raises ValueError only when no mesh is
    left (or for a bad res, up axis or unit)."""
    if not isinstance(res, int | np.integer) or res < MIN_RES:
        raise ValueError(f"res must be an integer >= {MIN_RES}, got {res!r}")
    if units not in UNITS or up_axis not in UP_AXES:
        raise ValueError(f"units must be one of {list(UNITS)} and up axis one of "
                         f"{list(UP_AXES)}, got {units!r}, {up_axis!r}")
    category_of = category_of or _parent_category
    files = expand_paths(paths)
    kept: list[tuple[np.ndarray, float, str]] = []
    skipped: list[tuple[Path, str]] = []
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(files), desc=f"voxelising meshes @ {res}^3", unit="mesh")
    for path in files:
        category = category_of(path)
        got = _voxelize_file(path, category, res, up_axis)
        if isinstance(got, str):
            log.warning("skipping %s: %s", path, got)
            skipped.append((path, got))
        else:
            kept.append((*got, category))
        if bar:
            bar.update()
            bar.set_postfix(kept=len(kept), skipped=len(skipped))
    if bar:
        bar.close()
    if not kept:
        listed = "; ".join(f"{p}: {r}" for p, r in skipped) or "no mesh files found"
        raise ValueError(f"no usable mesh in {[str(p) for p in paths]}: {listed}")
    categories = tuple(sorted({cat for _, _, cat in kept}))
    data = VoxelSet(
        voxels=np.stack([vox for vox, _, _ in kept]),
        labels=np.array([categories.index(cat) for _, _, cat in kept], dtype=np.int64),
        seeds=np.arange(len(kept), dtype=np.int64),
        categories=categories,
        extent_m={c: round(float(np.median([side for _, side, cat in kept if cat == c]))
                           * UNITS[units], 4) for c in categories},
        sizes_m=np.array([side for _, side, _ in kept], dtype=np.float64) * UNITS[units],
    )
    log.info("voxelised %d meshes in %d categories at %d^3 (%d skipped)",
             len(data), len(categories), res, len(skipped))
    return data, skipped


# --------------------------------------------------------------------------------------------
# saving and loading


def _check_set(data: VoxelSet) -> int:
    """The resolution of a consistent `data`; ValueError naming what is wrong otherwise."""
    vox = np.asarray(data.voxels)
    if vox.ndim != 4 or not vox.shape[1] == vox.shape[2] == vox.shape[3]:
        raise ValueError(f"voxels must be [N, R, R, R], got shape {vox.shape}")
    if vox.dtype != np.bool_:
        raise ValueError(f"voxels must be bool, got {vox.dtype}")
    n = vox.shape[0]
    labels, seeds = np.asarray(data.labels), np.asarray(data.seeds)
    if labels.shape != (n,) or seeds.shape != (n,):
        raise ValueError(f"labels {labels.shape} and seeds {seeds.shape} must be ({n},)")
    if not (np.issubdtype(labels.dtype, np.integer) and np.issubdtype(seeds.dtype, np.integer)):
        raise ValueError(f"labels and seeds must be integers, got {labels.dtype}, {seeds.dtype}")
    cats = data.categories
    if not cats or not all(isinstance(c, str) and c for c in cats):
        raise ValueError(f"categories must be non-empty strings, got {cats!r}")
    if n and (labels.min() < 0 or labels.max() >= len(cats)):
        raise ValueError(f"labels must index the {len(cats)} categories")
    return vox.shape[1]


def _extent_array(data: VoxelSet) -> dict[str, np.ndarray]:
    out = {}
    if data.sizes_m is not None:
        sizes = np.asarray(data.sizes_m, dtype=np.float64)
        if sizes.shape != (len(data.labels),) or not (np.isfinite(sizes) & (sizes > 0)).all():
            raise ValueError(f"sizes_m must be {len(data.labels)} positive lengths, got "
                             f"shape {sizes.shape}")
        out["sizes_m"] = sizes
    if data.extent_m is None:
        return out
    missing = [c for c in data.categories if c not in data.extent_m]
    if missing:
        raise ValueError(f"extent_m lacks categories {missing}")
    out["extent_m"] = np.array([data.extent_m[c] for c in data.categories], dtype=np.float64)
    return out


def save_voxel_set(data: VoxelSet, path: str | Path) -> None:
    """Write `data` to the .npz at `path` (exactly that name), atomically."""
    res = _check_set(data)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(fh, voxels=np.packbits(data.voxels, axis=-1),
                                labels=np.asarray(data.labels, dtype=np.int64),
                                seeds=np.asarray(data.seeds, dtype=np.int64),
                                categories=np.array(data.categories, dtype=str),
                                res=np.int64(res), **_extent_array(data))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    log.info("saved %d shapes at %d^3 to %s", len(data), res, path)


def load_voxel_set(path: str | Path) -> VoxelSet:
    """The set saved at `path` by `save_voxel_set` (or a procedural cache, which lacks `res`).

    Raises FileNotFoundError when there is no file, ValueError naming the path and the reason
    when it is not a valid set."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such voxel set file")
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise TypeError(f"a bare {type(loaded).__name__}, not an .npz archive")
        with loaded as z:
            missing = [k for k in ("voxels", "labels", "seeds", "categories") if k not in z]
            if missing:
                raise ValueError(f"missing arrays {missing}")
            packed = z["voxels"]
            if packed.ndim != 4 or packed.dtype != np.uint8:
                raise ValueError(f"voxels must be packed uint8 [N, R, R, R/8], got "
                                 f"{packed.dtype} {packed.shape}")
            res = int(z["res"]) if "res" in z else packed.shape[1]
            if packed.shape[1:] != (res, res, (res + 7) // 8):
                raise ValueError(f"packed voxels {packed.shape} do not match res {res}")
            categories = z["categories"]
            if categories.ndim != 1 or categories.dtype.kind != "U":
                raise ValueError(f"categories must be a 1-D string array, got "
                                 f"{categories.dtype} {categories.shape}")
            names = tuple(str(c) for c in categories)
            extent = None
            if "extent_m" in z:
                if z["extent_m"].shape != (len(names),):
                    raise ValueError(f"extent_m {z['extent_m'].shape} does not match the "
                                     f"{len(names)} categories")
                extent = {c: float(v) for c, v in zip(names, z["extent_m"], strict=True)}
            sizes = None
            if "sizes_m" in z:
                sizes = z["sizes_m"].astype(np.float64, casting="same_kind")
                if sizes.shape != (packed.shape[0],) or not (sizes > 0).all():
                    raise ValueError(f"sizes_m {sizes.shape} must hold one positive length "
                                     f"per shape ({packed.shape[0]})")
            data = VoxelSet(np.unpackbits(packed, axis=-1)[..., :res].astype(bool),
                            z["labels"].astype(np.int64, casting="same_kind"),
                            z["seeds"].astype(np.int64, casting="same_kind"), names, extent,
                            sizes)
        _check_set(data)
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile,
            zlib.error) as err:
        raise ValueError(f"{path}: not a valid voxel set ({err})") from err
    return data


# --------------------------------------------------------------------------------------------
# the command line


def _parser():
    import argparse

    ap = argparse.ArgumentParser(prog="vitrine dataset", description="training data from a "
                                 "studio's own meshes")
    sub = ap.add_subparsers(dest="action", required=True, metavar="build")
    b = sub.add_parser("build", help="voxelise meshes (obj, ply, stl, glb, gltf) into a voxel "
                       "set; each file's category is its folder's name",
                       description="Voxelise meshes into a training set for `vitrine train "
                       "voxel-gan --data FILE`; each file's category is its folder's name and "
                       "each category's real-world size is measured on its meshes.")
    b.add_argument("paths", nargs="+", metavar="PATH", help="mesh files or folders")
    b.add_argument("--res", type=int, choices=(32, 64), default=32, help="grid resolution")
    b.add_argument("--up-axis", choices=sorted(UP_AXES), default="y",
                   help="the meshes' up axis: z turns Z-up files (CAD, Blender) to +Y up "
                        "(default y)")
    b.add_argument("--units", choices=list(UNITS), default="m",
                   help="the files' length unit, for the measured sizes (default m)")
    b.add_argument("--output", "-o", required=True, help="the .npz file to write")
    return ap


def main(argv: list[str] | None = None) -> int:
    """`vitrine dataset build PATH... [--res 32] [--up-axis y|z] [--units m] -o FILE`."""
    import sys

    args = _parser().parse_args(argv)
    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        print(f"vitrine dataset build: no such file or directory: {', '.join(missing)}",
              file=sys.stderr)
        return 2
    try:
        data, skipped = build_mesh_set(args.paths, res=args.res, progress=True,
                                       up_axis=args.up_axis, units=args.units)
    except ValueError as err:
        print(f"vitrine dataset build: {err}", file=sys.stderr)
        return 1
    for path, reason in skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    save_voxel_set(data, args.output)
    counts = ", ".join(f"{c} {int((data.labels == i).sum())} ({data.extent_m[c]:.2f} m)"
                       for i, c in enumerate(data.categories))
    print(f"wrote {args.output}: {len(data)} shapes at {args.res}^3 ({counts}); "
          f"{len(skipped)} skipped")
    print(f"train on it with: vitrine train voxel-gan --data {args.output} --out runs/my-props")
    return 0
