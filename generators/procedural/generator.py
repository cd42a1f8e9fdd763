"""The `procedural` model: family SDF -> shared prop pipeline -> LOD meshes."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from generators.core.asset import KIND_PROP, Asset, CancelToken, Spec
from generators.core.options import OptionSpec
from generators.core.registry import Generator, GeneratorInfo, register, source_hash
from generators.geometry.options import PROP_OPTIONS
from generators.geometry.pipeline import prop_asset
from generators.procedural import families
from generators.texture.materials import providers_version

log = logging.getLogger(__name__)

_GENERATORS_DIR = Path(__file__).resolve().parents[1]

RESOLUTION = OptionSpec(
    "resolution", "int", 96, "grid cells along the longest side before meshing",
    min=32, max=256,
)

@register("procedural")
class ProceduralGenerator(Generator):
    def __init__(self) -> None:
        # The bytes depend on the families, the shared pipeline and the material maps (code, and
        # whichever provider makes them), so all of them shape the version.
        version = source_hash(
            _GENERATORS_DIR / "procedural", _GENERATORS_DIR / "geometry",
            _GENERATORS_DIR / "export", _GENERATORS_DIR / "texture",
            _GENERATORS_DIR / "options.py", _GENERATORS_DIR / "asset.py",
            extra=providers_version().encode(),
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
            assets.append(prop_asset(spec, grid, origin, spacing, cancel=cancel,
                                     metadata={"params": shape.params}))
        return assets
