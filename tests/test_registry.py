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
