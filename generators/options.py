"""Request options: their declared ranges, and resolution of a request's options into a Spec.

A model declares its options as `OptionSpec`s in its `GeneratorInfo`; a request's options are
checked against those declarations before any work starts, so a bad value fails fast with the
field name and the allowed range.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from generators.errors import InvalidOption
from generators.texture.materials import MATERIAL_NAMES


@dataclass(frozen=True)
class OptionSpec:
    name: str  # field name, as in the wire contract's Options message
    type: str  # "int", "float" or "enum"
    default: Any  # value used when the request leaves the option unset; None = model decides
    description: str
    min: float | None = None  # inclusive bounds for int/float
    max: float | None = None
    choices: tuple[str, ...] = ()  # allowed values for enum
    power_of_two: bool = False  # int options that must be powers of two (texture sizes)

    def allowed(self) -> str:
        """The allowed values, as error messages state them."""
        if self.type == "enum":
            return "one of " + ", ".join(self.choices)
        rng = f"{_fmt(self.min)} to {_fmt(self.max)}"
        return f"a power of two from {rng}" if self.power_of_two else rng

    def check(self, value: Any, field: str) -> Any:
        """Return the value normalised to the option's type, or raise InvalidOption."""
        if self.type == "enum":
            if value not in self.choices:
                raise InvalidOption(field, f"got {value!r}; allowed: {self.allowed()}")
            return value
        if self.type == "int":
            if isinstance(value, float) and not value.is_integer():
                raise InvalidOption(field, f"got {value}; allowed: integers {self.allowed()}")
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise InvalidOption(field, f"got {value}; allowed: {self.allowed()}")
        if (self.min is not None and value < self.min) or (
            self.max is not None and value > self.max
        ):
            raise InvalidOption(field, f"got {_fmt(value)}; allowed: {self.allowed()}")
        if self.power_of_two and value & (value - 1):
            raise InvalidOption(field, f"got {value}; allowed: {self.allowed()}")
        return value


def _fmt(x: float | None) -> str:
    if x is None:
        return "?"
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


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


def resolve_options(
    declared: Sequence[OptionSpec], given: Mapping[str, Any], prefix: str = "options."
) -> dict[str, Any]:
    """Check `given` (only the options the request set) against `declared`; fill defaults.

    Raises InvalidOption naming `prefix + name` for an undeclared option or a bad value.
    """
    by_name = {o.name: o for o in declared}
    out: dict[str, Any] = {}
    for name, value in given.items():
        spec = by_name.get(name)
        if spec is None:
            accepted = ", ".join(sorted(by_name)) or "none"
            raise InvalidOption(
                prefix + name, f"not accepted by this model; it accepts: {accepted}"
            )
        out[name] = spec.check(value, prefix + name)
    for spec in declared:
        out.setdefault(spec.name, spec.default)
    return out
