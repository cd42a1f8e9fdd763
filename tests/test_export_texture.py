"""Texture-asset export: the wire contract's file names, decodable PNGs, a valid preview GLB."""

from __future__ import annotations

import io
import json
import struct

import numpy as np
import pytest
from PIL import Image
from support.gltf_validator import assert_valid_glb

from generators.core.asset import KIND_PROP, KIND_TEXTURE, Asset, Material, Mesh
from generators.export import export_asset
from generators.export.texture import PREVIEW_MAX_SIZE, downsample, tile_glb
from generators.texture.exemplars import exemplar
from generators.texture.pbr import PBRSet, encode_normal


@pytest.fixture(scope="module")
def stone():
    return exemplar("stone", 512, 0).pbr()


def _texture_asset(pbr: PBRSet) -> Asset:
    return Asset(kind=KIND_TEXTURE, category="stone", seed=1,
                 material=Material("stone", (1.0, 1.0, 1.0, 1.0), 1.0, 1.0, textures=pbr))


def _glb_json(glb: bytes) -> dict:
    (n,) = struct.unpack_from("<I", glb, 12)
    return json.loads(glb[20:20 + n])


def test_texture_asset_streams_its_maps_then_a_valid_preview(stone):
    files = export_asset(_texture_asset(stone))
    assert [f.name for f in files] == ["base_color.png", "normal.png", "orm.png", "preview.glb"]
    for f, expected in zip(files, (stone.base_color, stone.normal, stone.orm), strict=False):
        assert f.mime_type == "image/png"
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(f.data))), expected)
    assert files[-1].mime_type == "model/gltf-binary"
    assert_valid_glb(files[-1].data)
    gltf = _glb_json(files[-1].data)
    mat = gltf["materials"][0]
    assert mat["normalTexture"] == {"index": 1}
    assert mat["occlusionTexture"] == mat["pbrMetallicRoughness"]["metallicRoughnessTexture"]
    assert gltf["samplers"][0]["wrapS"] == gltf["samplers"][0]["wrapT"] == 10497  # REPEAT


def test_preview_maps_are_capped_and_still_tile(stone):
    small = downsample(stone, PREVIEW_MAX_SIZE)
    assert small.size == PREVIEW_MAX_SIZE
    # A box filter over aligned blocks commutes with whole-block rolls: still tileable.
    rolled = PBRSet(*(np.roll(getattr(stone, m), (16, 8), axis=(0, 1))
                      for m in ("base_color", "normal", "orm")))
    again = downsample(rolled, PREVIEW_MAX_SIZE)
    assert np.array_equal(again.base_color, np.roll(small.base_color, (8, 4), axis=(0, 1)))
    n = small.normal.astype(np.float32) / 127.5 - 1
    assert np.allclose(np.linalg.norm(n, axis=-1), 1, atol=0.02)
    flat = encode_normal(np.tile(np.array([0, 0, 1], np.float32), (64, 64, 1)))
    assert np.array_equal(downsample(PBRSet(flat, flat, flat), 32).normal, flat[:32, :32])


def test_small_textures_preview_at_their_own_size():
    rng = np.random.default_rng(0)
    maps = [rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(3)]
    glb = tile_glb(Material("noise", (1, 1, 1, 1), 1.0, 1.0, PBRSet(*maps)))
    assert_valid_glb(glb)


def test_props_still_export_their_lod_chain():
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], np.float32)
    mesh = Mesh(v, np.array([[0, 1, 2]], np.uint32), np.tile([0, 0, 1], (3, 1)).astype(np.float32),
                lod=0)
    files = export_asset(Asset(kind=KIND_PROP, category="x", seed=1, meshes=[mesh]))
    assert [f.name for f in files] == ["lod0.glb"]


def test_unknown_format_names_the_known_ones(stone):
    with pytest.raises(ValueError, match="unknown format 'usd'; known: glb"):
        export_asset(_texture_asset(stone), "usd")
