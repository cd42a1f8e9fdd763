import pytest

from generators.core import registry
from generators.core.errors import InvalidOption, UnknownCategory, UnknownModel
from generators.geometry.options import PROP_OPTIONS


def test_procedural_is_registered_and_loads():
    assert "procedural" in registry.names()
    gen = registry.create("procedural")
    assert gen.info.kind == "prop"
    assert set(gen.info.categories) >= {"chair", "table", "vase", "column", "bench", "lamp"}
    assert gen.info.version.startswith("proc-")


def test_registering_a_name_twice_is_an_error():
    registry.names()
    with pytest.raises(ValueError, match="already registered"):
        registry.register("procedural")(type("Again", (registry.Generator,), {}))


def test_unknown_model_lists_known():
    with pytest.raises(UnknownModel, match="known models: .*procedural"):
        registry.create("nope")


def test_resolve_checks_category_seed_and_options():
    gen = registry.create("procedural")
    with pytest.raises(UnknownCategory, match="categories: chair"):
        gen.resolve("spaceship", 1, {})
    with pytest.raises(InvalidOption, match="seed"):
        gen.resolve("chair", -1, {})
    spec = gen.resolve("chair", 0, {})
    assert spec.seed >= 1  # 0 = server picks
    assert gen.resolve("chair", 5, {}).options["max_triangles"] == 20_000


def test_info_refuses_bad_declarations():
    with pytest.raises(ValueError, match="no categories"):
        registry.GeneratorInfo("x", "prop", "v", "", (), PROP_OPTIONS)
    with pytest.raises(ValueError, match="kind"):
        registry.GeneratorInfo("x", "spaceship", "v", "", ("a",), PROP_OPTIONS)


def test_families_are_discovered_in_catalog_order():
    fams = registry.families()
    assert list(fams)[:4] == ["procedural", "voxel-gan", "implicit-gan", "texture-gan"]
    assert fams["voxel-gan"].entry("train") is not None
    assert fams["procedural"].entry("train") is None  # nothing to train
    assert fams["voxel-gan"].requires == ("texture-gan",)


@pytest.fixture
def damaged_texture_gan(tmp_path, monkeypatch):
    """texture-gan pointed at a copy of its weights with one byte changed (readable JSON)."""
    from dataclasses import replace

    from generators.texture_gan.generator import CONFIG, WEIGHTS

    w, c = tmp_path / "tg.safetensors", tmp_path / "tg.json"
    blob = bytearray(WEIGHTS.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    w.write_bytes(bytes(blob))
    c.write_bytes(CONFIG.read_bytes())
    fam = registry.families()["texture-gan"]
    monkeypatch.setitem(registry._FAMILIES, "texture-gan",
                        replace(fam, kwargs={"weights": w, "config": c}))
    return w


def test_a_prop_model_whose_material_source_cannot_serve_refuses_to_load(damaged_texture_gan):
    from generators.core.errors import ModelLoadError

    with pytest.raises(ModelLoadError, match=f"procedural requires texture-gan.*{damaged_texture_gan}"
                                             ".*corrupt"):
        registry.load_models(["procedural"])


def test_a_server_with_damaged_texture_gan_weights_does_not_start(damaged_texture_gan, tmp_path):
    import asyncio

    from generators.core.errors import ModelLoadError
    from server.app import create_server
    from server.config import ServerConfig

    config = ServerConfig(address="127.0.0.1:0", data_dir=tmp_path / "data",
                          models=("procedural",))
    with pytest.raises(ModelLoadError, match=str(damaged_texture_gan)):
        asyncio.run(create_server(config))


class _Flaky(registry.Generator):
    """Fails seeds divisible by 3 with a GeneratorError and seed 7 with a bug."""

    def __init__(self):
        self.info = registry.GeneratorInfo("flaky", "prop", "1", "", ("a",), ())

    def generate_one(self, spec, cancel=None):
        from generators.core.asset import Asset
        from generators.core.errors import EmptyShape

        if spec.seed % 3 == 0:
            raise EmptyShape(f"empty for seed {spec.seed}")
        if spec.seed == 7:
            raise ZeroDivisionError("a bug")
        return Asset("prop", spec.category, spec.seed)


def test_one_bad_spec_fails_only_itself(caplog):
    from generators.core.asset import CancelToken
    from generators.core.errors import Cancelled, EmptyShape, GenerationFailed

    gen = _Flaky()
    specs = [gen.resolve("a", s, {}) for s in (1, 3, 7, 8)]
    out = gen.generate(specs)
    assert [type(r).__name__ for r in out] == ["Asset", "EmptyShape", "GenerationFailed",
                                               "Asset"]
    assert isinstance(out[1], EmptyShape) and isinstance(out[2], GenerationFailed)
    assert "ZeroDivisionError" in str(out[2]) and "Traceback" in caplog.text
    assert all(r.generate_ms is not None for r in (out[0], out[3]))
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        gen.generate(specs, cancel)


def test_seed_must_be_an_integer_in_range():
    gen = registry.create("procedural")
    for bad in (-3, 2**63, 1.5, True):
        with pytest.raises(InvalidOption, match="seed: got .*allowed: 0 to 9223372036854775807"):
            gen.resolve("chair", bad, {})


def test_versions_are_explicit_and_follow_weights_and_dependencies():
    from generators.geometry.pipeline import _maps_version

    models = registry.load_models(["procedural", "voxel-gan", "texture-gan"])
    tg = models["texture-gan"]
    assert tg.info.version == registry.make_version("tgan-", tg.VERSION, tg.cfg["sha256"])
    v = models["voxel-gan"]
    # the network's weights, the materials it wears, and its size head's weights
    assert v.info.version == (registry.make_version("vgan-", v.VERSION, v.cfg["sha256"]) + "-"
                              + _maps_version(v.materials)
                              + ("-s" + v.size[2]["sha256"][:8] if v.size else ""))
    assert v.size is not None  # the shipped size head is found beside the weights
    assert v.materials.provider_for("wood").version.endswith(tg.cfg["sha256"][:8])
    assert models["procedural"].info.version.startswith("proc-")
    assert registry.make_version("x-", "1", "ab" * 32) != registry.make_version("x-", "1",
                                                                               "cd" * 32)


@pytest.fixture
def model_dir(tmp_path):
    """A model directory as `vitrine export` writes it: the shipped voxel-gan under a studio's
    own name (the same network, so the test needs no training)."""
    import json
    import shutil

    from generators.voxel_gan.generator import CONFIG, WEIGHTS

    d = tmp_path / "models" / "studio-props"
    d.mkdir(parents=True)
    shutil.copy(WEIGHTS, d / "studio-props.safetensors")
    for ext in ("safetensors", "json"):  # its size head, beside it under the same name
        shutil.copy(WEIGHTS.with_name(f"voxel-gan-size.{ext}"), d / f"studio-props-size.{ext}")
    cfg = json.loads(CONFIG.read_text())
    cfg.update(family="voxel-gan", model="studio-props")
    (d / "studio-props.json").write_text(json.dumps(cfg))
    yield d.parent
    registry._FAMILIES.pop("studio-props", None)


def test_a_model_dir_is_served_beside_the_shipped_models(model_dir):
    assert registry.add_model_dir(model_dir) == ["studio-props"]
    assert registry.add_model_dir(model_dir) == ["studio-props"]  # again: a no-op
    fam = registry.family("studio-props")
    assert fam.base == "voxel-gan" and fam.recipe == ()
    models = registry.load_models(["studio-props", "voxel-gan"])
    assert models["studio-props"].info.name == "studio-props"
    assert models["studio-props"].info.version == models["voxel-gan"].info.version
    assert list(registry.families()).index("studio-props") == \
        list(registry.families()).index("voxel-gan") + 1


def test_a_bad_model_dir_names_the_file(tmp_path):
    from generators.core.errors import ModelLoadError

    with pytest.raises(ModelLoadError, match="no such directory"):
        registry.add_model_dir(tmp_path / "nope")
    with pytest.raises(ModelLoadError, match="no exported models"):
        registry.add_model_dir(tmp_path)
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "x.json").write_text('{"model": "x"}')
    with pytest.raises(ModelLoadError, match=r"x\.json is not an exported model.*'family'"):
        registry.add_model_dir(tmp_path)
