"""Prop materials: which tileable PBR material a prop wears, and where its maps come from.

The one place that maps a prop category to its material (`CATEGORY_MATERIAL`) and a material
name (the `material` request option) to its look (`PROP_MATERIALS`). `material_maps` makes a
material's maps; `prop_material` wraps them in the `Material` an asset carries.

Where maps come from. A material names a *source* texture ("wood", "marble", ...) and an
optional *finish* applied to the source's maps (weathered wood is wood, greyed and roughened).
A source's maps come from a `TextureProvider`: the procedural one below (the tileable
exemplars of `generators.texture.exemplars`, plus terracotta and brushed brass made here),
unless the prop model's `MaterialLibrary` names another. The shipped prop models require the
texture GAN (`Family.requires`), and their library takes wood, marble, stone and fabric from it:

    MaterialLibrary((texture_gan.texture_provider(), texture_gan.prop_sources))

which `library_from(deps)` builds from a model's loaded dependencies (every model that wears
materials: props, characters, galleries).

`make(source, size, seed, convention) -> PBRSet` must return tileable maps and be a pure
function of its arguments (props are cached by request); a prop model's version includes its
library's `version`, so asset ids change when the maps do. Only tileable sources exist here: the photo exemplars (brick, grass, gravel) do
not tile and are never put on a prop.

Map variants. A prop does not get maps of its own: `prop_variant` gives it one of
`MAP_VARIANTS` variants per (material, size), chosen by its seed (`map_variant`), made once per
process and kept (read-only, with their mips and PNG encodings memoised, `VARIANT_CACHE_BYTES`
in all). Making and encoding a 512 px material cost a default prop ~60 % of its time (maps
~70 ms, mips ~7, nine PNG encodings ~65 on the 2-core machine), every time; a variant costs
that once. Still a pure function of (material, size, seed), and prop models' versions name
the scheme (`PROP_MAPS` in generators/geometry/pipeline.py).

Texel density. Procedural and SGAN-style textures have features of a fixed size in *pixels*
(a larger texture shows more surface, not finer detail), so each material has a fixed
`texels_per_m` (its features keep their real-world size) and `texture_size` sets how much
surface one repeat covers: a 512 wood texture repeats every 0.5 m, a 2048 one every 2 m.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from generators.core.asset import Material
from generators.texture.exemplars import PROCEDURAL_MATERIALS, exemplar, periodic_noise
from generators.texture.pbr import (
    PBRSet,
    check_size,
    encode_normal,
    freeze,
    frozen,
    linear_to_srgb,
    normal_from_height,
    pack_orm,
    pbr_from_albedo_height,
    srgb_to_linear,
    to_uint8,
)

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- providers


@dataclass(frozen=True)
class TextureProvider:
    """Who makes a source texture's maps."""

    name: str  # e.g. "procedural", "texture-gan"
    version: str  # changes whenever the maps it makes change (code or weights hash)
    make: Callable[[str, int, int, str], PBRSet]  # (source, size, seed, convention) -> maps


def _rng(source: str, seed: int) -> np.random.Generator:
    """Depends on (source, seed) only (crc32 of the name, not the salted hash())."""
    return np.random.default_rng([zlib.crc32(source.encode()), int(seed)])


def _terracotta(size: int, seed: int, convention: str) -> PBRSet:
    """Unglazed fired clay: cloudy orange-red body, fine grit, faint wheel-throwing rings.

    Tiles: every random field is `periodic_noise` and the rings have a whole number of
    periods per tile. The rings run along the texture's rows, i.e. round a vase's walls.
    """
    rng = _rng("terracotta", seed)
    rows = (np.arange(size, dtype=np.float32) + np.float32(0.5))[:, None]
    cloud = periodic_noise(size, rng, 40.0, octaves=3)
    blotch = periodic_noise(size, rng, 6.0, octaves=2)
    grit = periodic_noise(size, rng, 0.7)
    specks = np.clip(np.abs(grit) - 2.0, 0.0, None)  # sparse light and dark grains
    warp = periodic_noise(size, rng, (4.0, 64.0))
    n_rings = max(1, round(size / 14))
    rings = np.sin(2.0 * np.pi * (n_rings * rows / size + 0.15 * warp))
    t = np.clip(0.5 + 0.18 * cloud + 0.08 * blotch, 0.0, 1.0)[..., None]
    light = np.asarray((0.76, 0.44, 0.29), np.float32)
    dark = np.asarray((0.58, 0.28, 0.17), np.float32)
    albedo = dark + (light - dark) * t
    albedo *= (1.0 + 0.035 * rings + 0.25 * np.sign(grit) * specks)[..., None]
    height = 0.5 + 0.03 * rings + 0.04 * blotch + 0.06 * specks + 0.01 * grit
    rough = 0.78 + 0.05 * cloud - 0.04 * rings
    return pbr_from_albedo_height(np.clip(albedo, 0, 1), height, np.clip(rough, 0, 1), 0.0,
                                  normal_strength=2.0, convention=convention)


def _brass(size: int, seed: int, convention: str) -> PBRSet:
    """Brushed brass: metallic 1, fine streaks along the columns, soft tarnish blotches.

    The height only carries the brushing (a faint relief); occlusion stays 1 because a
    brushed sheet has no cavities.
    """
    rng = _rng("brass", seed)
    streak = periodic_noise(size, rng, (0.5, 48.0))  # long thin scratches along the columns
    fine = periodic_noise(size, rng, (0.4, 6.0))
    tarnish = np.clip(periodic_noise(size, rng, 28.0, octaves=3) - 0.6, 0.0, None)
    tarnish = np.clip(tarnish / 1.5, 0.0, 1.0)
    bright = np.asarray((0.91, 0.78, 0.50), np.float32)  # sRGB; metal F0 of polished brass
    dull = np.asarray((0.62, 0.50, 0.31), np.float32)
    albedo = bright + (dull - bright) * tarnish[..., None]
    albedo *= (1.0 + 0.03 * streak + 0.015 * fine)[..., None]
    rough = np.clip(0.30 + 0.06 * streak + 0.25 * tarnish, 0.0, 1.0)
    height = 0.02 * streak + 0.01 * fine
    normal = encode_normal(normal_from_height(height, 1.0, convention))
    return PBRSet(base_color=to_uint8(np.clip(albedo, 0.0, 1.0)), normal=normal,
                  orm=pack_orm(1.0, rough, 1.0))


def _procedural(source: str, size: int, seed: int, convention: str) -> PBRSet:
    if source in _MADE_HERE:
        return _MADE_HERE[source](size, seed, convention)
    return exemplar(source, size, seed).pbr(convention=convention)


_MADE_HERE = {"terracotta": _terracotta, "brass": _brass}
# Every source a prop material may use: all of them tile by construction.
SOURCES: tuple[str, ...] = PROCEDURAL_MATERIALS + tuple(_MADE_HERE)
# Version 2: the marble exemplar draws veins and brick runs across (c487f61): the maps of
# props that take marble from here changed, so their ids must too.
PROCEDURAL = TextureProvider("procedural", "2", _procedural)

# Variants per (material, texture size) that props choose from by seed: enough that a
# gallery's neighbouring props rarely match, few enough that a serving process has made them
# all after a few dozen props per material.
MAP_VARIANTS = 8
# Memory the variants of one library may hold (maps, mips, PNGs): a 512 px variant is ~4.5
# MiB, so the default materials' 40 default-size variants fit with room for other sizes.
VARIANT_CACHE_BYTES = 256 * 2**20


def map_variant(seed: int) -> int:
    """Which of the MAP_VARIANTS variants a prop of this seed wears."""
    return int(seed) % MAP_VARIANTS


def _nbytes(maps: PBRSet) -> int:
    return sum(getattr(maps, n).nbytes for n in ("base_color", "normal", "orm"))


class MaterialLibrary:
    """Who makes each source texture's maps: `PROCEDURAL`, unless a provider takes it over.

    A prop model holds one, built from the models it requires (`Family.requires`): the shipped
    prop models take wood, marble, stone and fabric from the loaded texture-gan
    (`TextureGanGenerator.texture_provider`). Nothing here is global, so which maps a prop
    wears depends on the models loaded, never on import order.
    """

    def __init__(self, *providers: tuple[TextureProvider, Iterable[str]]):
        self._providers: dict[str, TextureProvider] = {}
        for provider, sources in providers:
            for source in sources:
                if source not in SOURCES:
                    raise ValueError(f"unknown source texture {source!r}; known: "
                                     f"{', '.join(SOURCES)}")
                if source in self._providers:
                    raise ValueError(f"source texture {source!r} is already provided by "
                                     f"{self._providers[source].name!r}")
                self._providers[source] = provider
        # (material, size, variant) -> its frozen maps, least recently used first.
        self._variants: OrderedDict[tuple[str, int, int], PBRSet] = OrderedDict()
        self._variant_bytes = 0
        self._lock = threading.Lock()
        self.variant_stats = {"made": 0, "reused": 0}

    def provider_for(self, source: str) -> TextureProvider:
        return self._providers.get(source, PROCEDURAL)

    @property
    def version(self) -> str:
        """A short hash of who provides every source; part of each prop model's version."""
        ident = ";".join(f"{s}={self.provider_for(s).name}@{self.provider_for(s).version}"
                         for s in SOURCES)
        return hashlib.sha256(ident.encode()).hexdigest()[:12]

    def maps(self, material: str, size: int, seed: int, convention: str = "opengl") -> PBRSet:
        """A prop material's tileable maps at size x size: a pure function of the arguments."""
        m = material_for("", material)
        t0 = time.perf_counter()
        provider = self.provider_for(m.source)
        maps = provider.make(m.source, check_size(size), int(seed), convention)
        if m.finish is not None:
            maps = m.finish(maps)
        log.debug("%s maps %dx%d (%s) in %.1f ms", material, size, size, provider.name,
                  (time.perf_counter() - t0) * 1e3)
        return maps

    def prop_material(self, material: str, size: int, seed: int) -> Material:
        """The textured `Material` of a prop: factors at 1 so the maps carry the look."""
        m = material_for("", material)
        maps = self.maps(m.name, size, seed)
        return Material(m.name, (1.0, 1.0, 1.0, 1.0), metallic=1.0, roughness=1.0,
                        textures=maps)

    def variant_maps(self, material: str, size: int, seed: int) -> PBRSet:
        """The frozen maps of the variant a prop of `seed` wears (module docstring): the maps
        of seed `map_variant(seed) + 1`, made on first use and kept."""
        m = material_for("", material)
        key = (m.name, check_size(size), map_variant(seed))
        with self._lock:
            maps = self._variants.get(key)
            if maps is not None:
                self._variants.move_to_end(key)
                self.variant_stats["reused"] += 1
                return maps
        maps = freeze(self.maps(m.name, size, key[2] + 1))  # two threads may both make it
        with self._lock:
            if key not in self._variants:
                self._variants[key] = maps
                self._variant_bytes += 2 * _nbytes(maps)  # with its mips and PNGs, about
                self.variant_stats["made"] += 1
            while self._variant_bytes > VARIANT_CACHE_BYTES and len(self._variants) > 1:
                _, old = self._variants.popitem(last=False)
                self._variant_bytes -= 2 * _nbytes(old)
            return self._variants.get(key, maps)

    def prop_variant(self, material: str, size: int, seed: int) -> Material:
        """`prop_material` wearing the seed's map variant (`variant_maps`)."""
        m = material_for("", material)
        return Material(m.name, (1.0, 1.0, 1.0, 1.0), metallic=1.0, roughness=1.0,
                        textures=self.variant_maps(m.name, size, seed))


PROCEDURAL_LIBRARY = MaterialLibrary()  # every source from the procedural exemplars


def library_from(deps) -> MaterialLibrary:
    """The material library of a model whose loaded dependencies are `deps`: texture-gan's
    sources where it is among them, the procedural exemplars otherwise."""
    textures = dict(deps or {}).get("texture-gan")
    if textures is None:
        return PROCEDURAL_LIBRARY
    return MaterialLibrary((textures.texture_provider(), textures.prop_sources))


# --------------------------------------------------------------------------- prop materials


def _weathered(maps: PBRSet) -> PBRSet:
    """Outdoor wood: greyed towards silver, lighter, rougher."""
    c = maps.base_color.astype(np.float32) / np.float32(255.0)
    grey = c @ np.asarray((0.30, 0.59, 0.11), np.float32)
    c = 0.55 * c + 0.45 * grey[..., None] * np.asarray((1.0, 0.97, 0.92), np.float32)
    orm = maps.orm.copy()
    orm[..., 1] = np.clip(orm[..., 1].astype(np.int16) + 35, 0, 255).astype(np.uint8)
    return PBRSet(base_color=to_uint8(np.clip(c * 0.9 + 0.08, 0.0, 1.0)), normal=maps.normal,
                  orm=orm)


@dataclass(frozen=True)
class PropMaterial:
    name: str  # the value of the `material` option, and the glTF material's name
    source: str  # the source texture its maps come from (one of SOURCES)
    texels_per_m: float  # texture pixels per metre of surface (fixes the features' real size)
    base_color: tuple[float, float, float, float]  # linear RGBA, for a caller without maps
    metallic: float = 0.0  # factors for a caller without maps (with maps the maps carry them)
    roughness: float = 0.8
    grain_vertical: bool = False  # the texture's columns (grain, brushing) run up the walls
    finish: Callable[[PBRSet], PBRSet] | None = None  # applied to the source's maps


# Densities: wood rings are 24 px apart (2.3 cm at 1024 px/m), marble veins ~200 px (0.4 m at
# 512 px/m), stone cells 32 px (6 cm), fabric threads 8 px (4 mm at 2048 px/m).
PROP_MATERIALS: dict[str, PropMaterial] = {m.name: m for m in (
    PropMaterial("wood", "wood", 1024, (0.32, 0.17, 0.07, 1.0), 0.0, 0.6, grain_vertical=True),
    PropMaterial("weathered_wood", "wood", 1024, (0.33, 0.26, 0.19, 1.0), 0.0, 0.8,
         grain_vertical=True, finish=_weathered),
    PropMaterial("marble", "marble", 512, (0.70, 0.69, 0.66, 1.0), 0.0, 0.3),
    PropMaterial("terracotta", "terracotta", 1024, (0.39, 0.13, 0.06, 1.0), 0.0, 0.8),
    PropMaterial("brass", "brass", 1024, (0.72, 0.52, 0.21, 1.0), 1.0, 0.35, grain_vertical=True),
    PropMaterial("stone", "stone", 512, (0.20, 0.18, 0.15, 1.0), 0.0, 0.8),
    PropMaterial("fabric", "fabric", 2048, (0.10, 0.12, 0.20, 1.0), 0.0, 0.9),
)}
MATERIAL_NAMES: tuple[str, ...] = tuple(PROP_MATERIALS)

# The material a category wears unless the request names another.
CATEGORY_MATERIAL: dict[str, str] = {
    "chair": "wood",
    "table": "wood",
    "bench": "weathered_wood",
    "column": "marble",
    "vase": "terracotta",
    "lamp": "brass",
}


def material_for(category: str, requested: str | None = None) -> PropMaterial:
    """The requested material, else the category's (stone for a category not listed)."""
    name = requested or CATEGORY_MATERIAL.get(category, "stone")
    try:
        return PROP_MATERIALS[name]
    except KeyError:
        raise ValueError(f"unknown material {name!r}; known: {', '.join(MATERIAL_NAMES)}") from None


def tile_m(material: PropMaterial | str, size: int) -> float:
    """Metres of surface one repeat of a size x size texture covers."""
    m = PROP_MATERIALS[material] if isinstance(material, str) else material
    return check_size(size) / m.texels_per_m


def material_maps(material: str, size: int, seed: int, convention: str = "opengl",
                  library: MaterialLibrary = PROCEDURAL_LIBRARY) -> PBRSet:
    """`library.maps(...)`: a material's maps (procedural sources unless a library is given)."""
    return library.maps(material, size, seed, convention)


def prop_material(material: str, size: int, seed: int,
                  library: MaterialLibrary = PROCEDURAL_LIBRARY) -> Material:
    """`library.prop_material(...)` (procedural sources unless a library is given)."""
    return library.prop_material(material, size, seed)


# sRGB-encoded byte -> linear light, exact for every 8-bit value; and back from linear light
# quantised to 16 bits (steps of 1.5e-5, under 0.05 of an 8-bit sRGB level even near black).
_SRGB_TO_LINEAR = srgb_to_linear(np.arange(256) / 255.0).astype(np.float32)
_LINEAR16_TO_SRGB8 = to_uint8(linear_to_srgb(np.arange(65536) / 65535.0))


def half_size(maps: PBRSet) -> PBRSet:
    """The next mip level: 2 x 2 box filter (tileable in, tileable out).

    Base colour is averaged in linear light, normals are decoded, averaged and renormalised,
    ORM is averaged as stored (linear). Coarser levels of detail wear these: they are seen
    from farther away, where the GPU would sample this mip anyway, and they cost a quarter of
    the bytes.
    """
    n = maps.size
    if n < 2 or n % 2:
        raise ValueError(f"cannot halve a {n} x {n} texture")
    cached = maps.__dict__.get("_half")
    if cached is not None:
        return cached
    out = _half_size(maps)
    if frozen(maps):  # shared maps (a prop map variant): their mips are shared too
        maps.__dict__["_half"] = out = freeze(out)
    return out


def _half_size(maps: PBRSet) -> PBRSet:
    def box(a: np.ndarray) -> np.ndarray:  # [H, W, C] float32 -> [H/2, W/2, C]
        return (a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2]) * np.float32(0.25)

    linear = box(_SRGB_TO_LINEAR[maps.base_color])
    color = _LINEAR16_TO_SRGB8[np.rint(linear * np.float32(65535.0)).astype(np.uint16)]
    normal = box(maps.normal.astype(np.float32) * np.float32(1 / 127.5) - np.float32(1.0))
    normal /= np.maximum(np.linalg.norm(normal, axis=-1, keepdims=True), np.float32(1e-6))
    orm = box(maps.orm.astype(np.float32)) * np.float32(1 / 255.0)
    return PBRSet(base_color=color, normal=encode_normal(normal), orm=to_uint8(orm))
