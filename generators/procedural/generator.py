"""The `procedural` model: family SDF -> shared prop pipeline -> LOD meshes."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from generators.core.asset import Asset, CancelToken, Spec
from generators.core.registry import Generator
from generators.geometry.options import PROP_OPTIONS, resolution_option
from generators.geometry.pipeline import PropModel
from generators.procedural import families

log = logging.getLogger(__name__)

RESOLUTION = resolution_option(96, 32, 256, "grid cells along the longest side before meshing")


class ProceduralGenerator(PropModel):
    PREFIX, VERSION = "proc-", "2"  # bump when the bytes change (see tests/test_golden.py)

    def __init__(self, *, name: str = "procedural",
                 deps: Mapping[str, Generator] | None = None) -> None:
        self.setup(name, "Parametric museum and game props; seeds fully determine a shape.",
                   tuple(families.CATEGORIES), PROP_OPTIONS + (RESOLUTION,), deps)

    def generate_one(self, spec: Spec, cancel: CancelToken | None = None) -> Asset:
        shape = families.build(spec.category, spec.seed)
        grid, origin, spacing = shape.sdf_grid(spec.options["resolution"])
        return self.prop(spec, grid, origin, spacing, cancel=cancel,
                         metadata={"params": shape.params})
