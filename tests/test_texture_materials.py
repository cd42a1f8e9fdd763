"""Prop materials: the category -> material map, tileable maps, finishes, mips, providers."""

import numpy as np
import pytest

from generators.procedural.families import CATEGORIES
from generators.texture import PHOTO_MATERIALS, PBRSet, exemplar
from generators.texture import materials as M


def wrap_is_an_ordinary_cut(img: np.ndarray) -> bool:
    """The step across the wrap (last -> first column, and row) is not the largest of the
    tile's neighbour steps, as in test_texture_exemplars: tiling shows no seam. A
    deterministic check for a given seed; a real seam is far larger than every interior step."""
    a = img.astype(np.float64)
    for axis in (0, 1):
        steps = np.abs(a - np.roll(a, 1, axis=axis)).mean(axis=(1 - axis, 2))  # [0] = wrap
        if steps[0] >= steps[1:].max():
            return False
    return True


def test_every_category_has_a_tileable_material():
    assert set(M.CATEGORY_MATERIAL) == set(CATEGORIES)
    assert M.CATEGORY_MATERIAL["column"] == "marble"
    assert {M.CATEGORY_MATERIAL[c] for c in ("chair", "table")} == {"wood"}
    for name in M.MATERIAL_NAMES:
        assert M.PROP_MATERIALS[name].source in M.SOURCES
    # Photo exemplars do not tile: no prop may wear them.
    assert not set(PHOTO_MATERIALS) & (set(M.SOURCES) | set(M.MATERIAL_NAMES))


@pytest.mark.parametrize("name", M.MATERIAL_NAMES)
def test_maps_are_deterministic_sized_and_tile(name):
    a = M.material_maps(name, 256, seed=5)
    b = M.material_maps(name, 256, seed=5)
    c = M.material_maps(name, 64, seed=6)
    assert isinstance(a, PBRSet) and a.size == 256 and c.size == 64
    for field in ("base_color", "normal", "orm"):
        assert np.array_equal(getattr(a, field), getattr(b, field))
        assert wrap_is_an_ordinary_cut(getattr(a, field)), field
    assert not np.array_equal(M.material_maps(name, 64, seed=5).base_color, c.base_color)


def test_naive_tile_fails_the_tiling_check():
    for material in PHOTO_MATERIALS:  # photo crops: their edges do not meet
        crop = exemplar(material, 256, seed=1)
        assert not wrap_is_an_ordinary_cut((crop.albedo * 255).astype(np.uint8)), material


def test_brass_is_metal_and_the_rest_are_not():
    for name in M.MATERIAL_NAMES:
        orm = M.material_maps(name, 64, seed=1).orm
        assert (orm[..., 2] == (255 if name == "brass" else 0)).all(), name
    assert (M.material_maps("brass", 64, seed=1).orm[..., 0] == 255).all()  # no cavities


def test_weathered_wood_is_greyer_and_rougher_than_wood():
    wood = M.material_maps("wood", 64, seed=2)
    old = M.material_maps("weathered_wood", 64, seed=2)

    def saturation(c):
        c = c.astype(float)
        return (c.max(-1) - c.min(-1)).mean()

    assert saturation(old.base_color) < 0.8 * saturation(wood.base_color)
    assert old.orm[..., 1].mean() > wood.orm[..., 1].mean() + 20
    assert np.array_equal(old.normal, wood.normal)  # same grain, different finish


def test_material_for_and_tile_size():
    assert M.material_for("vase").name == "terracotta"
    assert M.material_for("vase", "marble").name == "marble"
    with pytest.raises(ValueError, match="known: wood, weathered_wood"):
        M.material_for("vase", "gold")
    assert M.tile_m("wood", 512) == pytest.approx(0.5)
    assert M.tile_m("wood", 2048) == pytest.approx(2.0)  # same grain size, fewer repeats
    with pytest.raises(ValueError, match="power of two"):
        M.material_maps("wood", 100, seed=0)


def test_prop_material_lets_the_maps_carry_the_look():
    mat = M.prop_material("marble", 64, seed=1)
    assert mat.name == "marble" and mat.textures is not None
    assert (mat.base_color, mat.metallic, mat.roughness) == ((1.0, 1.0, 1.0, 1.0), 1.0, 1.0)


def test_half_size_is_the_next_mip_and_keeps_tiling():
    maps = M.material_maps("stone", 128, seed=3)
    half = M.half_size(maps)
    assert half.size == 64
    rolled = PBRSet(*(np.roll(getattr(maps, f), (2, 4), axis=(0, 1))
                      for f in ("base_color", "normal", "orm")))
    for f in ("base_color", "normal", "orm"):
        assert np.array_equal(np.roll(getattr(half, f), (1, 2), axis=(0, 1)),
                              getattr(M.half_size(rolled), f))
    n = half.normal.astype(float) / 127.5 - 1.0
    assert np.allclose(np.linalg.norm(n, axis=-1), 1.0, atol=0.02)
    flat = PBRSet(*(np.full((64, 64, 3), v, np.uint8) for v in ((200, 90, 40), (128, 128, 255),
                                                               (255, 77, 0))))
    flat_half = M.half_size(flat)
    for f in ("base_color", "normal", "orm"):
        assert np.array_equal(getattr(flat_half, f), getattr(flat, f)[:32, :32]), f


def fake_provider(calls):
    def make(source, size, seed, convention):
        calls.append((source, size, seed, convention))
        return PBRSet(*(np.full((size, size, 3), 100, np.uint8) for _ in range(3)))

    return M.TextureProvider("texture-gan", "abc123", make)


def test_a_trained_model_can_take_a_source_over():
    calls = []
    provider = fake_provider(calls)
    lib = M.MaterialLibrary((provider, ["wood"]))
    assert lib.provider_for("wood") is provider
    assert lib.provider_for("terracotta") is M.PROCEDURAL
    assert lib.version != M.PROCEDURAL_LIBRARY.version  # prop versions follow the maps
    maps = lib.maps("weathered_wood", 64, seed=9)  # the finish applies on top
    assert calls == [("wood", 64, 9, "opengl")]
    assert (lib.maps("wood", 64, seed=9).base_color == 100).all()
    assert not (maps.base_color == 100).all()
    # The module-level helpers use the procedural library: nothing global changed.
    assert not (M.material_maps("wood", 64, seed=9).base_color == 100).all()
    with pytest.raises(ValueError, match="already provided by 'texture-gan'"):
        M.MaterialLibrary((provider, ["wood"]), (provider, ["wood"]))
    with pytest.raises(ValueError, match="unknown source texture 'brick'"):
        M.MaterialLibrary((provider, ["brick"]))


def test_the_shipped_prop_models_take_texture_gan_maps():
    from generators.core import registry

    models = registry.load_models(["procedural", "texture-gan"])
    lib, gan = models["procedural"].materials, models["texture-gan"]
    for source in ("wood", "marble", "stone", "fabric"):
        assert lib.provider_for(source).name == "texture-gan"
        assert lib.provider_for(source).version.startswith("tgan-maps1-")
    for source in ("terracotta", "brass"):
        assert lib.provider_for(source) is M.PROCEDURAL
    maps = lib.maps("wood", 64, seed=4)
    direct = gan.maps("wood", 4, 64)
    assert all(np.array_equal(getattr(maps, f), getattr(direct, f))
               for f in ("base_color", "normal", "orm"))
    assert not np.array_equal(maps.base_color, lib.maps("wood", 64, seed=5).base_color)


def test_prop_map_variants_are_made_once_chosen_by_seed_and_read_only():
    """A prop wears one of MAP_VARIANTS variants per (material, size): the maps of seed
    variant + 1, made on first use, then the very same (read-only) arrays for every seed that
    chooses that variant; their mips and PNGs are memoised with them."""
    from generators.texture.pbr import encoded_pngs, png_bytes

    lib = M.MaterialLibrary()
    a = lib.variant_maps("marble", 64, 3)
    assert lib.variant_stats == {"made": 1, "reused": 0}
    assert lib.variant_maps("marble", 64, 3 + M.MAP_VARIANTS) is a
    assert lib.variant_stats == {"made": 1, "reused": 1}
    fresh = lib.maps("marble", 64, M.map_variant(3) + 1)
    assert all(np.array_equal(getattr(a, n), getattr(fresh, n))
               for n in ("base_color", "normal", "orm"))
    other = lib.variant_maps("marble", 64, 4)
    assert not np.array_equal(other.base_color, a.base_color)
    with pytest.raises(ValueError):
        a.base_color[0, 0, 0] = 1  # shared between props: nobody may change them
    half = M.half_size(a)
    assert M.half_size(a) is half and not half.orm.flags.writeable
    plain = M.half_size(fresh)  # writable maps: computed afresh, the same values
    assert M.half_size(fresh) is not plain and np.array_equal(plain.normal, half.normal)
    pngs = encoded_pngs(a)
    assert encoded_pngs(a) is pngs and pngs[1] == png_bytes(fresh.normal)
    assert encoded_pngs(fresh) is not encoded_pngs(fresh)
    mat = lib.prop_variant("marble", 64, 3)
    assert mat.textures is a and mat.name == "marble"
