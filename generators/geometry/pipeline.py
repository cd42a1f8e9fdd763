"""The prop pipeline every shape model shares: field -> clean, sized surface -> LOD meshes,
made coarsest first as the export asks for them -> a textured prop (UVs for the category's tileable material, and its PBR maps), and `PropModel`,
the base of every prop model (shared options, its material library, its version)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from generators.core.asset import KIND_PROP, Asset, CancelToken, Levels, Material, Mesh, Spec
from generators.core.options import OptionSpec
from generators.core.registry import Generator, GeneratorInfo, make_version
from generators.geometry.cleanup import clean
from generators.geometry.decimate import lod_levels
from generators.geometry.extract import mesh_from_field
from generators.geometry.normals import vertex_normals
from generators.geometry.placement import placement
from generators.geometry.smooth import taubin
from generators.geometry.uv import planar_uv
from generators.texture.materials import (
    MAP_VARIANTS,
    PROCEDURAL_LIBRARY,
    MaterialLibrary,
    library_from,
    material_for,
    tile_m,
)


def prop_surface(
    grid: np.ndarray,  # [nx, ny, nz] SDF (negative inside) or occupancy
    origin: np.ndarray,  # [3] world position of grid[0, 0, 0], metres
    spacing: float,  # voxel edge, metres
    options: Mapping[str, Any],  # resolved prop options (size_m, pivot)
    *,
    inside_below: bool = True,  # True for SDFs, False for occupancy probabilities
    level: float = 0.0,
    smooth_iterations: int | None = None,  # None: none for SDFs, 6 for occupancy (terracing)
    cancel: CancelToken | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Marching cubes, cleanup, smoothing, then size and pivot: the prop's full surface, in
    metres, that every level of detail is decimated from."""
    check = cancel.check if cancel else (lambda: None)
    v, f = mesh_from_field(grid, origin, spacing, level=level, inside_below=inside_below)
    check()
    v, f = clean(v, f)
    if smooth_iterations is None:
        smooth_iterations = 0 if inside_below else 6
    v = taubin(v, f, iterations=smooth_iterations)
    check()
    # Size and pivot are measured on the full surface and the same transform holds for every
    # level (decimation only drops vertices), so the levels line up when an engine swaps them.
    scale, offset = placement(v, options.get("size_m"), options.get("pivot", "bottom_center"))
    return v * scale + offset, f


def _levels(v: np.ndarray, f: np.ndarray, options: Mapping[str, Any],
            cancel: CancelToken | None,
            finish: Callable[[Mesh], Mesh] = lambda m: m) -> Levels:
    """The surface's levels of detail (`lod_levels`), made coarsest first on demand, each
    passed through `finish` (the UV unwrap of a textured prop)."""
    def make():
        for lod, lv, lf in lod_levels(v, f, options["max_triangles"], options["lod_count"]):
            if cancel:
                cancel.check()
            yield finish(Mesh(vertices=lv.astype(np.float32), faces=lf.astype(np.uint32),
                              normals=vertex_normals(lv, lf), lod=lod))

    return Levels(options["lod_count"], (v.min(axis=0), v.max(axis=0)), make())


def prop_meshes(
    grid: np.ndarray,  # [nx, ny, nz] SDF (negative inside) or occupancy
    origin: np.ndarray,  # [3] world position of grid[0, 0, 0], metres
    spacing: float,  # voxel edge, metres
    options: Mapping[str, Any],  # resolved prop options (max_triangles, lod_count, size_m, pivot)
    **field_kwargs: Any,  # inside_below, level, smooth_iterations, cancel: as prop_surface
) -> list[Mesh]:
    """`prop_surface`, its LOD chain and normals, all made now; finest first."""
    v, f = prop_surface(grid, origin, spacing, options, **field_kwargs)
    return list(_levels(v, f, options, field_kwargs.get("cancel")))


def textured(
    meshes: Sequence[Mesh],  # finest first, as prop_meshes returns them
    category: str,
    seed: int,  # the asset's seed: it chooses the material's map variant (deterministic bytes)
    options: Mapping[str, Any],  # resolved prop options (texture_size, material)
    cancel: CancelToken | None = None,
    materials: MaterialLibrary = PROCEDURAL_LIBRARY,  # who makes each material's maps
) -> tuple[list[Mesh], Material]:
    """UV-unwrap every level for the requested (or the category's) material; give it the
    seed's map variant (`MaterialLibrary.prop_variant`: made once per process, not per prop).

    Every level gets the same world-space projection, so the texture does not shift when an
    engine swaps levels. Returns the meshes (seams split) and the textured `Material`.
    """
    unwrap, material = _texturing(category, seed, options, materials)
    out = []
    for m in meshes:
        if cancel:
            cancel.check()
        out.append(unwrap(m))
    return out, material


def _texturing(category: str, seed: int, options: Mapping[str, Any],
               materials: MaterialLibrary) -> tuple[Callable[[Mesh], Mesh], Material]:
    """(the UV unwrap of one level, the textured Material) for a prop's material."""
    mat = material_for(category, options.get("material"))
    size = options["texture_size"]
    repeat_m = tile_m(mat, size)

    def unwrap(m: Mesh) -> Mesh:
        u = planar_uv(m.vertices, m.faces, m.normals, repeat_m, grain_vertical=mat.grain_vertical)
        return replace(m, vertices=u.vertices, faces=u.faces, normals=u.normals, uvs=u.uvs)

    return unwrap, materials.prop_variant(mat.name, size, seed)


def prop_asset(
    spec: Spec,
    grid: np.ndarray,  # [nx, ny, nz] SDF (negative inside) or occupancy
    origin: np.ndarray,  # [3] world position of grid[0, 0, 0], metres
    spacing: float,  # voxel edge, metres
    *,
    metadata: dict[str, Any] | None = None,  # JSON-serialisable extras for the Asset
    cancel: CancelToken | None = None,
    materials: MaterialLibrary = PROCEDURAL_LIBRARY,  # who makes each material's maps
    **field_kwargs: Any,  # inside_below, level, smooth_iterations: as prop_surface takes them
) -> Asset:
    """A whole textured prop from a field: what every shape model's `generate` returns. The
    surface is made now; its levels of detail (decimation, normals, UVs) as the export asks
    for them, coarsest first (`Levels`)."""
    v, f = prop_surface(grid, origin, spacing, spec.options, cancel=cancel, **field_kwargs)
    unwrap, material = _texturing(spec.category, spec.seed, spec.options, materials)
    return Asset(kind=KIND_PROP, category=spec.category, seed=spec.seed,
                 meshes=_levels(v, f, spec.options, cancel, unwrap), material=material,
                 metadata=metadata or {})


# How a prop's maps are chosen, part of every prop model's version: "variants8" = one of
# MAP_VARIANTS (8) variants per material and size, by seed (before: maps made per seed).
PROP_MAPS = f"variants{MAP_VARIANTS}"
# How a prop's surface becomes its levels, part of every prop model's version: "meshopt1" =
# meshoptimizer's decimation, coarsest first: the coarsest level from the surface, lod0 from
# it, the levels between from lod0 (before: Open3D's, each level from the one before).
PROP_MESHING = "meshopt1"


class PropModel(Generator):
    """Base of the prop models: the prop options, a material library built from the models
    the family requires (texture-gan makes wood, marble, stone and fabric), and a version that
    covers the code (`VERSION`, bumped by hand), the weights, the maps' makers and the shared
    meshing (PROP_MESHING)."""

    PREFIX = "prop-"  # version prefix, e.g. "proc-"
    VERSION = "1"  # bump whenever this model's bytes change for the same weights and request

    def setup(self, name: str, description: str, categories: tuple[str, ...],
              options: tuple[OptionSpec, ...], deps: Mapping[str, Generator] | None,
              weights_sha256: str | None = None) -> None:
        self.materials = library_from(deps)
        # The material library's version (who makes each source's maps, at which version)
        # stands for the dependencies: a texture asset's own export (its preview) does not
        # change a prop's bytes, so it must not change a prop's id.
        self.info = GeneratorInfo(
            name=name, kind=KIND_PROP,
            version=f"{make_version(self.PREFIX, self.VERSION, weights_sha256)}-"
                    f"{_maps_version(self.materials)}",
            description=description, categories=tuple(categories), options=tuple(options))

    def load_learned(self, name: str, loader: Callable[..., tuple[Any, dict]], weights: Path,
                     config: Path, description: str, options: tuple[OptionSpec, ...],
                     deps: Mapping[str, Generator] | None) -> Any:
        """Load a learned prop model's weights (`loader(weights, config, name) -> (net, cfg)`),
        keep its config and categories, and set it up; returns the network."""
        net, self.cfg = loader(Path(weights), Path(config), name)
        self.categories = tuple(self.cfg["categories"])
        self.setup(name, self.describe(description, self.cfg), self.categories, options, deps,
                   self.cfg["sha256"])
        return net

    @staticmethod
    def describe(default: str, cfg: Mapping[str, Any]) -> str:
        """The shipped model's description, or what an exported model says about itself: the
        family it is an instance of and the data it learned from."""
        family, model = cfg.get("family"), cfg.get("model")
        if not family or model == family:
            return default
        data = (cfg.get("training", {}).get("config") or {}).get("data")
        return (f"{model}: a {family} model trained on {data or 'the procedural props'} "
                f"(categories {', '.join(cfg.get('categories', []))})")

    def prop(self, spec: Spec, grid: np.ndarray, origin: np.ndarray, spacing: float,
             **kwargs: Any) -> Asset:
        """`prop_asset` with this model's material library."""
        return prop_asset(spec, grid, origin, spacing, materials=self.materials, **kwargs)


def _maps_version(materials: MaterialLibrary) -> str:
    """Who makes the maps (the library's version), how props choose them (PROP_MAPS) and how
    the surface becomes levels of detail (PROP_MESHING)."""
    return hashlib.sha256(f"{materials.version};{PROP_MAPS};{PROP_MESHING}".encode()
                          ).hexdigest()[:6]
