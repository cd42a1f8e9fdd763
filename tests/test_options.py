import pytest

from generators.core.errors import InvalidOption
from generators.core.options import OptionSpec, resolve_options
from generators.geometry.options import LOD_COUNT, PROP_OPTIONS


def test_defaults_fill_unset_options():
    out = resolve_options(PROP_OPTIONS, {"lod_count": 2})
    assert out == {"max_triangles": 20_000, "lod_count": 2, "size_m": None,
                   "pivot": "bottom_center", "format": "glb", "texture_size": 512,
                   "material": None}


@pytest.mark.parametrize("name, value, needle", [
    ("lod_count", 0, "options.lod_count: got 0; allowed: 1 to 4"),
    ("lod_count", 5, "allowed: 1 to 4"),
    ("max_triangles", 10, "options.max_triangles: got 10; allowed: 100 to 500000"),
    ("size_m", float("nan"), "options.size_m"),
    ("size_m", 0.0, "allowed: 0.01 to 100"),
    ("pivot", "top", "allowed: one of bottom_center, center"),
    ("texture_size", 500, "options.texture_size: got 500; allowed: a power of two from 64"),
    ("texture_size", 4096, "allowed: a power of two from 64 to 2048"),
    ("material", "gold", ("options.material: got 'gold'; allowed: one of wood, weathered_wood, "
                          "marble, terracotta, brass, stone, fabric")),
    ("material", "brick", "allowed: one of"),  # a photo exemplar: it does not tile
    ("colour", "red", "not accepted by this model"),
])
def test_bad_values_name_field_and_range(name, value, needle):
    with pytest.raises(InvalidOption) as e:
        resolve_options(PROP_OPTIONS, {name: value})
    assert needle in str(e.value)
    assert e.value.field == f"options.{name}"


def test_power_of_two():
    spec = OptionSpec("texture_size", "int", 1024, "", min=64, max=2048, power_of_two=True)
    assert spec.check(512, "t") == 512
    with pytest.raises(InvalidOption, match="a power of two from 64 to 2048"):
        spec.check(500, "t")


def test_int_option_rejects_fractions():
    with pytest.raises(InvalidOption):
        LOD_COUNT.check(2.5, "lod_count")


SET = OptionSpec("clips", "set", "idle,walk,run", "clips", choices=("idle", "walk", "run"),
                 empty="none")


@pytest.mark.parametrize("value, canonical", [
    ("walk,idle", "idle,walk"),
    (" run , idle,run", "idle,run"),
    (("run", "walk"), "walk,run"),
    ("none", "none"),
])
def test_set_options_have_one_spelling(value, canonical):
    assert resolve_options((SET,), {"clips": value}) == {"clips": canonical}


@pytest.mark.parametrize("value", ["", "dance", "idle,dance", "none,idle", 3])
def test_bad_set_values_name_field_and_members(value):
    with pytest.raises(InvalidOption) as e:
        resolve_options((SET,), {"clips": value})
    assert str(e.value).startswith("options.clips: got ")
    assert "allowed: comma-separated names from idle, walk, run, or none alone" in str(e.value)


def test_a_set_without_an_empty_spelling_refuses_it():
    spec = OptionSpec("parts", "set", "a", "", choices=("a", "b"))
    with pytest.raises(InvalidOption, match="names from a, b$"):
        spec.check("none", "options.parts")
