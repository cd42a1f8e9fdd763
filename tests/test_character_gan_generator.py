"""character-gan serving: the shipped weights load (and refuse to when damaged or trained in
another template), its bodies are not the humanoid family's own, generation is deterministic,
and every category yields a dressed, rigged, animated character that validates."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest
from support.gltf_validator import assert_valid_glb

from generators.character_gan import data
from generators.character_gan.generator import CONFIG, WEIGHTS, CharacterGanGenerator
from generators.core.errors import InvalidOption, ModelLoadError
from generators.core.registry import load_models
from generators.export import export_asset


@pytest.fixture(scope="module")
def models():
    return load_models(["character-gan"])


@pytest.fixture(scope="module")
def gen(models):
    return models["character-gan"]


@pytest.fixture
def copies(tmp_path):
    w, c = tmp_path / "w.safetensors", tmp_path / "w.json"
    shutil.copy(WEIGHTS, w)
    shutil.copy(CONFIG, c)
    return w, c


def test_shipped_weights_are_fp16_and_match_their_config(gen):
    cfg = json.loads(CONFIG.read_text())
    assert cfg["dtype"] == "float16" and cfg["training"]["steps"] > 0
    assert hashlib.sha256(WEIGHTS.read_bytes()).hexdigest() == cfg["sha256"]
    assert gen.info.categories == tuple(cfg["categories"])
    assert gen.info.kind == "character"
    assert WEIGHTS.stat().st_size < 8 * 2**20


def test_needs_the_humanoid_model(copies):
    with pytest.raises(ModelLoadError, match="humanoid"):
        CharacterGanGenerator(*copies)


def test_damaged_or_foreign_weights_refuse_to_load(copies, models):
    w, c = copies
    deps = {"humanoid": models["character-gan"].humanoid}
    blob = bytearray(w.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    w.write_bytes(bytes(blob))
    with pytest.raises(ModelLoadError, match="corrupt"):
        CharacterGanGenerator(w, c, deps=deps)
    shutil.copy(WEIGHTS, w)
    cfg = json.loads(c.read_text())
    cfg["generator"]["n_vertices"] += 1  # trained in another template
    c.write_text(json.dumps(cfg))
    with pytest.raises(ModelLoadError):
        CharacterGanGenerator(w, c, deps=deps)


def test_bodies_are_new_and_deterministic(gen):
    a = gen.body_vertices("heroic", 7)
    assert np.array_equal(a, gen.body_vertices("heroic", 7))
    assert not np.array_equal(a, gen.body_vertices("heroic", 8))
    # Not a training body: the nearest of the first 50 heroic training bodies is some
    # millimetres away on average per vertex.
    train, _ = data.bodies("train", 50, ["heroic"])
    rms = np.sqrt(((train - a) ** 2).sum(-1).mean(-1))
    assert rms.min() > 1e-3
    assert abs(a[:, 1].min()) < 1e-4 and 1.5 < a[:, 1].max() < 2.2


def test_every_category_validates_and_height_is_honoured(gen):
    glbs, assets = [], []
    for cat in gen.info.categories:
        spec = gen.resolve(cat, 3, {"lod_count": 1, "clips": "walk"})
        asset = gen.generate_one(spec)
        assert asset.rig is not None and len(asset.rig.joint_names) >= 50
        files = export_asset(asset)
        assert [f.name for f in files] == ["lod0.glb"]
        glbs.append(files[0].data)
        assets.append(asset)
    assert_valid_glb(glbs)
    tall = gen.generate_one(gen.resolve("child", 3, {"height_m": 2.0, "lod_count": 1}))
    assert abs(tall.metadata["height_m"] - 2.0) < 0.01
    with pytest.raises(InvalidOption, match="options.height_m"):
        gen.resolve("child", 3, {"height_m": 9.0})
