"""The `procedural` model: family SDF -> shared prop pipeline -> LOD meshes."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from generators.asset import KIND_PROP, Asset, CancelToken, Material, Spec
from generators.geometry.pipeline import prop_meshes
from generators.options import PROP_OPTIONS, OptionSpec
from generators.procedural import families
from generators.registry import Generator, GeneratorInfo, register, source_hash

log = logging.getLogger(__name__)

_GENERATORS_DIR = Path(__file__).resolve().parents[1]

RESOLUTION = OptionSpec(
    "resolution", "int", 96, "grid cells along the longest side before meshing",
    min=32, max=256,
)

# One PBR material per category (linear RGB) until the texture model paints them.
MATERIALS = {
    "chair": Material("walnut", (0.22, 0.11, 0.05, 1.0), 0.0, 0.6),
    "table": Material("oak", (0.42, 0.27, 0.13, 1.0), 0.0, 0.55),
    "vase": Material("terracotta", (0.55, 0.21, 0.09, 1.0), 0.0, 0.75),
    "column": Material("marble", (0.83, 0.81, 0.77, 1.0), 0.0, 0.35),
    "bench": Material("weathered_wood", (0.33, 0.24, 0.15, 1.0), 0.0, 0.8),
    "lamp": Material("brass", (0.78, 0.57, 0.24, 1.0), 1.0, 0.35),
}


@register("procedural")
class ProceduralGenerator(Generator):
    def __init__(self) -> None:
        # The bytes depend on the families and on the shared pipeline, so both shape the version.
        version = source_hash(
            _GENERATORS_DIR / "procedural", _GENERATORS_DIR / "geometry",
            _GENERATORS_DIR / "export", _GENERATORS_DIR / "options.py",
            _GENERATORS_DIR / "asset.py",
        )
        self.info = GeneratorInfo(
            name="procedural",
            kind=KIND_PROP,
            version=f"proc-{version}",
            description="Parametric museum and game props; seeds fully determine a shape.",
            categories=tuple(families.CATEGORIES),
            options=PROP_OPTIONS + (RESOLUTION,),
        )

    def generate(self, specs: Sequence[Spec], cancel: CancelToken | None = None) -> list[Asset]:
        assets = []
        for spec in specs:
            if cancel:
                cancel.check()
            shape = families.build(spec.category, spec.seed)
            grid, origin, spacing = shape.sdf_grid(spec.options["resolution"])
            meshes = prop_meshes(grid, origin, spacing, spec.options, cancel=cancel)
            assets.append(Asset(
                kind=KIND_PROP, category=spec.category, seed=spec.seed, meshes=meshes,
                material=MATERIALS[spec.category], metadata={"params": shape.params},
            ))
        return assets
