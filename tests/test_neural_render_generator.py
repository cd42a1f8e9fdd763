"""The registered neural-render model: it loads the shipped shader, and through the pipeline
(AssetService.Generate) it makes a procedural prop's thumbnail, the same bytes every time."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def test_generate_makes_a_deterministic_thumbnail_through_the_pipeline():
    from generators.core.registry import load_models
    from generators.pipeline import Pipeline

    models = load_models(["neural-render"])
    gen = models["neural-render"]
    assert gen.info.kind == "render" and "chair" in gen.info.categories
    pipe = Pipeline(models)
    a, b = pipe.build([pipe.prepare("neural-render", "vase", 6, {})] * 2)
    assert [f.name for f in a.files] == ["thumbnail.png"] and a.kind == "render"
    assert a.files[0].sha256 == b.files[0].sha256
    img = Image.open(io.BytesIO(a.files[0].data))
    assert img.format == "PNG" and img.size == (256, 256)
    px = np.asarray(img.convert("RGB")).reshape(-1, 3)
    assert len(np.unique(px, axis=0)) > 500  # a textured, lit prop on a floor, not a flat fill
