"""The shared prop pipeline: every prop model returns textured, UV-unwrapped, valid props."""

import io
import json
import struct

import numpy as np
import pytest
from PIL import Image
from support.gltf_validator import assert_valid_glb

from generators.core.errors import InvalidOption
from generators.export import export_asset
from generators.implicit_gan.generator import ImplicitGanGenerator
from generators.procedural.generator import ProceduralGenerator
from generators.texture.materials import CATEGORY_MATERIAL, MATERIAL_NAMES
from generators.voxel_gan.generator import VoxelGanGenerator

# Small props and maps keep this fast; the defaults are exercised over gRPC in test_service.
SMALL = {"max_triangles": 1500, "lod_count": 2, "texture_size": 64}


@pytest.fixture(scope="module", params=["procedural", "voxel-gan", "implicit-gan"])
def model(request):
    return {"procedural": ProceduralGenerator, "voxel-gan": VoxelGanGenerator,
            "implicit-gan": ImplicitGanGenerator}[request.param]()


def glb_json(glb: bytes) -> dict:
    (jlen,) = struct.unpack_from("<I", glb, 12)
    return json.loads(glb[20:20 + jlen])


def glb_images(glb: bytes) -> list[Image.Image]:
    doc = glb_json(glb)
    (jlen,) = struct.unpack_from("<I", glb, 12)
    binary = glb[28 + jlen:]
    out = []
    for img in doc["images"]:
        view = doc["bufferViews"][img["bufferView"]]
        out.append(Image.open(io.BytesIO(binary[view["byteOffset"]:][:view["byteLength"]])))
        out[-1].load()
    return out


def test_every_category_is_textured_and_validates_without_any_issue(model):
    blobs, names = [], []
    for cat in model.info.categories:
        (asset,) = model.generate([model.resolve(cat, 4, SMALL)])
        assert asset.material.name == CATEGORY_MATERIAL[cat]
        assert asset.material.textures is not None and asset.material.textures.size == 64
        for mesh in asset.meshes:
            assert mesh.uvs is not None and mesh.uvs.shape == (len(mesh.vertices), 2)
            assert np.isfinite(mesh.uvs).all()
            assert np.array_equal(np.unique(mesh.faces), np.arange(len(mesh.vertices)))
        for f in export_asset(asset):
            images = glb_images(f.data)
            assert [im.size for im in images] == [(64, 64)] * 3
            assert glb_json(f.data)["materials"][0]["name"] == CATEGORY_MATERIAL[cat]
            blobs.append(f.data)
            names.append(f"{model.info.name}/{cat}/{f.name}")
    # Zero errors, warnings and infos; assert_valid_glb lists every issue when it fails.
    reports = assert_valid_glb(blobs, allow_infos=False, names=names)
    assert sum(r["numHints"] for r in reports) == 0


def test_same_spec_same_bytes(model):
    spec = model.resolve("vase", 12, SMALL)
    a = [f.data for f in export_asset(model.generate([spec])[0])]
    b = [f.data for f in export_asset(model.generate([spec])[0])]
    assert a == b
    other = model.resolve("vase", 13, SMALL)
    maps_a = model.generate([spec])[0].material.textures.base_color
    maps_b = model.generate([other])[0].material.textures.base_color
    assert not np.array_equal(maps_a, maps_b)  # the maps follow the asset's seed


def test_material_and_texture_size_options(model):
    spec = model.resolve("chair", 3, {**SMALL, "material": "marble", "texture_size": 128})
    (asset,) = model.generate([spec])
    assert asset.material.name == "marble" and asset.material.textures.size == 128
    files = {f.name: f.data for f in export_asset(asset)}
    assert [im.size for im in glb_images(files["lod0.glb"])] == [(128, 128)] * 3
    assert [im.size for im in glb_images(files["lod1.glb"])] == [(64, 64)] * 3
    assert glb_json(files["lod0.glb"])["materials"][0]["name"] == "marble"


def test_bad_material_or_texture_size_names_the_field_and_the_allowed_values(model):
    with pytest.raises(InvalidOption) as e:
        model.resolve("chair", 1, {"material": "gold"})
    assert e.value.field == "options.material"
    assert "allowed: one of " + ", ".join(MATERIAL_NAMES) in str(e.value)
    with pytest.raises(InvalidOption) as e:
        model.resolve("chair", 1, {"texture_size": 1000})
    assert e.value.field == "options.texture_size"
    assert "a power of two from 64 to 2048" in str(e.value)
    options = {o.name: o for o in model.info.options}
    assert options["material"].choices == MATERIAL_NAMES
    assert options["texture_size"].default == 512


def test_levels_are_made_coarsest_first_as_the_export_asks_for_them():
    # A prop's levels of detail are made one at a time, coarsest first: the export (and so the
    # progressive stream) has the coarsest GLB before the finer levels exist.
    import pickle

    from generators.core.asset import Levels
    from generators.export.glb import iter_glb

    gen = ProceduralGenerator()
    asset = gen.generate([gen.resolve("chair", 3, {"texture_size": 64})])[0]
    levels = asset.meshes
    assert isinstance(levels, Levels) and len(levels) == 3 and "0 of 3" in repr(levels)
    lo, hi = asset.bounds  # known before any level is made: the surface's box
    files = iter_glb(asset)
    first = next(files)
    assert first.name == "lod2.glb" and "1 of 3" in repr(levels)
    assert [f.name for f in files] == ["lod1.glb", "lod0.glb"] and "3 of 3" in repr(levels)
    assert [m.lod for m in levels] == [0, 1, 2]  # as a sequence: finest first
    assert levels[0].triangles > levels[1].triangles > levels[2].triangles
    for m in levels:  # every level lies within the bounds
        assert (m.vertices.min(0) >= lo - 1e-6).all() and (m.vertices.max(0) <= hi + 1e-6).all()
    assert levels.ms > 0
    copy = pickle.loads(pickle.dumps(asset))  # a plain list of every level
    assert isinstance(copy.meshes, list) and [m.triangles for m in copy.meshes] == [
        m.triangles for m in levels]


def test_a_prop_made_whole_has_the_same_bytes_as_one_streamed_level_by_level():
    gen = ProceduralGenerator()
    spec = gen.resolve("lamp", 5, {"texture_size": 64})
    streamed = export_asset(gen.generate([spec])[0], "glb")
    whole = gen.generate([spec])[0]
    list(whole.meshes)  # every level made before the export starts
    assert [b.data for b in export_asset(whole, "glb")] == [b.data for b in streamed]
