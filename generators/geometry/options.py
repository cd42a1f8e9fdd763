"""The options every prop model accepts (DESIGN.md): their ranges, defaults and reasons."""

from __future__ import annotations

from generators.core.options import OptionSpec
from generators.texture.materials import MATERIAL_NAMES

PIVOTS = ("bottom_center", "center")
FORMATS = ("glb",)

# The options every prop model accepts (DESIGN.md, issue 2). Defaults are chosen for a runtime
# game prop: 20k triangles is a typical hero-prop budget on current consoles and standalone VR.
MAX_TRIANGLES = OptionSpec(
    "max_triangles", "int", 20_000, "triangle budget of the finest level of detail",
    min=100, max=500_000,
)
LOD_COUNT = OptionSpec(
    "lod_count", "int", 3, "levels of detail; each has ~1/4 the triangles of the one before",
    min=1, max=4,
)
SIZE_M = OptionSpec(
    "size_m", "float", None, "length of the longest side in metres (unset: real-world size)",
    min=0.01, max=100.0,
)
PIVOT = OptionSpec(
    "pivot", "enum", "bottom_center", "where the origin sits", choices=PIVOTS,
)
FORMAT = OptionSpec("format", "enum", "glb", "file format", choices=FORMATS)
# 512: a 0.5 m repeat of wood at its fixed texel density, and the maps of a default prop cost
# ~0.1-0.3 s here (README "Textured props" has the measured table); 1024+ mostly buys fewer
# visible repeats on large props.
TEXTURE_SIZE = OptionSpec(
    "texture_size", "int", 512,
    "edge in pixels of lod0's material maps (coarser levels halve it); features keep their "
    "real-world size, so a larger texture repeats less often", min=64, max=2048,
    power_of_two=True,
)
MATERIAL = OptionSpec(
    "material", "enum", None, "surface material (unset: the category's own)",
    choices=MATERIAL_NAMES,
)

PROP_OPTIONS: tuple[OptionSpec, ...] = (
    MAX_TRIANGLES, LOD_COUNT, SIZE_M, PIVOT, FORMAT, TEXTURE_SIZE, MATERIAL,
)


def resolution_option(default: int, low: int, high: int, description: str) -> OptionSpec:
    """The `resolution` option of a model that meshes a field (each model its own range)."""
    return OptionSpec("resolution", "int", default, description, min=low, max=high)
