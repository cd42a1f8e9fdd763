"""The prop pipeline every shape model shares: field -> clean, sized LOD meshes -> a
textured prop (UVs for the category's tileable material, and its PBR maps), and `PropModel`,
the base of every prop model (shared options, its material library, its version)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from generators.core.asset import KIND_PROP, Asset, CancelToken, Material, Mesh, Spec
from generators.core.options import OptionSpec
from generators.core.registry import Generator, GeneratorInfo, make_version
from generators.geometry.cleanup import clean
from generators.geometry.decimate import lod_chain
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


def prop_meshes(
    grid: np.ndarray,  # [nx, ny, nz] SDF (negative inside) or occupancy
    origin: np.ndarray,  # [3] world position of grid[0, 0, 0], metres
    spacing: float,  # voxel edge, metres
    options: Mapping[str, Any],  # resolved prop options (max_triangles, lod_count, size_m, pivot)
    *,
    inside_below: bool = True,  # True for SDFs, False for occupancy probabilities
    level: float = 0.0,
    smooth_iterations: int | None = None,  # None: none for SDFs, 6 for occupancy (terracing)
    cancel: CancelToken | None = None,
) -> list[Mesh]:
    """Marching cubes, cleanup, smoothing, size and pivot, LOD chain and normals; finest first."""
    check = cancel.check if cancel else (lambda: None)
    v, f = mesh_from_field(grid, origin, spacing, level=level, inside_below=inside_below)
    check()
    v, f = clean(v, f)
    if smooth_iterations is None:
        smooth_iterations = 0 if inside_below else 6
    v = taubin(v, f, iterations=smooth_iterations)
    check()
    levels = lod_chain(v, f, options["max_triangles"], options["lod_count"])
    # Size and pivot are measured on lod0 (decimation moves the hull slightly) and the same
    # transform applies to every level, so the levels line up when an engine swaps them.
    scale, offset = placement(levels[0][0], options.get("size_m"), options.get("pivot",
                                                                            "bottom_center"))
    meshes = []
    for lod, (lv, lf) in enumerate(levels):
        check()
        lv = lv * scale + offset
        meshes.append(
            Mesh(
                vertices=lv.astype(np.float32),
                faces=lf.astype(np.uint32),
                normals=vertex_normals(lv, lf),
                lod=lod,
            )
        )
    return meshes


def textured(
    meshes: list[Mesh],  # finest first, as prop_meshes returns them
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
    check = cancel.check if cancel else (lambda: None)
    mat = material_for(category, options.get("material"))
    size = options["texture_size"]
    repeat_m = tile_m(mat, size)
    out = []
    for m in meshes:
        check()
        u = planar_uv(m.vertices, m.faces, m.normals, repeat_m, grain_vertical=mat.grain_vertical)
        out.append(replace(m, vertices=u.vertices, faces=u.faces, normals=u.normals, uvs=u.uvs))
    check()
    return out, materials.prop_variant(mat.name, size, seed)


def prop_asset(
    spec: Spec,
    grid: np.ndarray,  # [nx, ny, nz] SDF (negative inside) or occupancy
    origin: np.ndarray,  # [3] world position of grid[0, 0, 0], metres
    spacing: float,  # voxel edge, metres
    *,
    metadata: dict[str, Any] | None = None,  # JSON-serialisable extras for the Asset
    cancel: CancelToken | None = None,
    materials: MaterialLibrary = PROCEDURAL_LIBRARY,  # who makes each material's maps
    **field_kwargs: Any,  # inside_below, level, smooth_iterations: as prop_meshes takes them
) -> Asset:
    """A whole textured prop from a field: what every shape model's `generate` returns."""
    meshes = prop_meshes(grid, origin, spacing, spec.options, cancel=cancel, **field_kwargs)
    meshes, material = textured(meshes, spec.category, spec.seed, spec.options, cancel,
                                materials)
    return Asset(kind=KIND_PROP, category=spec.category, seed=spec.seed, meshes=meshes,
                 material=material, metadata=metadata or {})


# How a prop's maps are chosen, part of every prop model's version: "variants8" = one of
# MAP_VARIANTS (8) variants per material and size, by seed (before: maps made per seed).
PROP_MAPS = f"variants{MAP_VARIANTS}"


class PropModel(Generator):
    """Base of the prop models: the prop options, a material library built from the models
    the family requires (texture-gan makes wood, marble, stone and fabric), and a version that
    covers the code (`VERSION`, bumped by hand), the weights and the maps' makers."""

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
    """Who makes the maps (the library's version) and how props choose them (PROP_MAPS)."""
    return hashlib.sha256(f"{materials.version};{PROP_MAPS}".encode()).hexdigest()[:6]
