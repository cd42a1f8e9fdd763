"""The one asset pipeline: canonical requests and ids, per-job results and errors."""

import hashlib

import numpy as np
import pytest

from generators.core import registry
from generators.core.errors import EmptyShape, UnknownModel
from generators.pipeline import Built, Pipeline

SMALL = {"max_triangles": 600, "lod_count": 1, "texture_size": 64, "resolution": 32}


@pytest.fixture(scope="module")
def pipe():
    return Pipeline(registry.load_models(["procedural", "implicit-gan"]))


def test_explicit_defaults_and_float32_spellings_give_the_same_id(pipe):
    base = pipe.prepare("implicit-gan", "vase", 7, {})
    # What the wire delivers for 0.3 (a float32) and what a caller types are one request.
    for opts in ({"spread": 0.3}, {"spread": float(np.float32(0.3))}, {"variation": 0},
                 {"pivot": "bottom_center", "lod_count": 3, "max_triangles": 20000}):
        assert pipe.prepare("implicit-gan", "vase", 7, opts).asset_id == base.asset_id, opts
    assert pipe.prepare("implicit-gan", "vase", 7, {"variation": 1}).asset_id != base.asset_id
    # spread only matters with a variation; a morph at t = 0 is the seed itself
    assert pipe.prepare("implicit-gan", "vase", 7, {"spread": 2.0}).asset_id == base.asset_id
    t0 = pipe.prepare("implicit-gan", "vase", 7, {"morph_seed": 9, "morph_t": 0.0})
    assert t0.asset_id == base.asset_id
    t1 = pipe.prepare("implicit-gan", "vase", 7, {"morph_seed": 9, "morph_t": 1.0})
    assert t1.asset_id == pipe.prepare("implicit-gan", "vase", 9, {}).asset_id
    assert t1.spec.seed == 9
    # the float32 minimum of size_m arrives as 0.00999999977 and is still accepted
    job = pipe.prepare("procedural", "vase", 7, {"size_m": float(np.float32(0.01))})
    assert job.spec.options["size_m"] == 0.01


def test_unknown_model_lists_the_loaded_ones(pipe):
    with pytest.raises(UnknownModel, match="known models: implicit-gan, procedural"):
        pipe.prepare("nope", "chair", 1, {})


def test_build_gives_files_with_digests_and_replays_the_same_bytes(pipe):
    job = pipe.prepare("procedural", "vase", 5, SMALL)
    built = pipe.build([job])[0]
    assert isinstance(built, Built) and built.seed == 5 and built.kind == "prop"
    assert [f.name for f in built.files] == ["lod0.glb"]
    assert all(f.sha256 == hashlib.sha256(f.data).hexdigest() for f in built.files)
    assert built.bounds[0][1] == pytest.approx(0.0, abs=1e-6)  # stands on the floor
    again = pipe.build([pipe.replay(job.canonical)])[0]
    assert [f.data for f in again.files] == [f.data for f in built.files]


def test_one_failing_job_fails_only_itself(pipe, monkeypatch):
    model = pipe.models["procedural"]
    real = model.generate_one

    def flaky(spec, cancel=None):
        if spec.seed == 2:
            raise EmptyShape("no surface for seed 2")
        return real(spec, cancel)

    monkeypatch.setattr(model, "generate_one", flaky)
    jobs = [pipe.prepare("procedural", "vase", s, SMALL) for s in (1, 2, 3)]
    out = pipe.build(jobs)
    assert isinstance(out[0], Built) and isinstance(out[2], Built)
    assert isinstance(out[1], EmptyShape)


def test_a_scene_reports_the_bounds_of_its_whole_tree():
    from generators.core.registry import load_models

    pipe = Pipeline(load_models(["gallery"]))
    built = pipe.build([pipe.prepare("gallery", "design", 3, {"exhibits": 2,
                                                              "texture_size": 64})])[0]
    lo, hi = built.bounds
    # The hall: wider and deeper than a few metres, a ceiling above head height.
    assert hi[0] - lo[0] > 3 and hi[2] - lo[2] > 3 and hi[1] > 2.5 and lo[1] <= 0.0
