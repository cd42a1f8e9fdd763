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
from generators.texture.pbr import PBRSet, encode_normal, png_bytes


@pytest.fixture(scope="module")
def stone():
    return exemplar("stone", 512, 0).pbr()


def _texture_asset(pbr: PBRSet) -> Asset:
    return Asset(kind=KIND_TEXTURE, category="stone", seed=1,
                 material=Material("stone", (1.0, 1.0, 1.0, 1.0), 1.0, 1.0, textures=pbr))


def _glb_json(glb: bytes) -> dict:
    (n,) = struct.unpack_from("<I", glb, 12)
    return json.loads(glb[20:20 + n])


def _glb_bin(glb: bytes) -> bytes:
    (n,) = struct.unpack_from("<I", glb, 12)
    start = 20 + n + 8  # after the JSON chunk and the BIN chunk's header
    (m,) = struct.unpack_from("<I", glb, 20 + n)
    return glb[start:start + m]


def _view(glb: bytes, index: int) -> bytes:
    view = _glb_json(glb)["bufferViews"][index]
    return _glb_bin(glb)[view["byteOffset"]:view["byteOffset"] + view["byteLength"]]


def _images(glb: bytes) -> list[bytes]:
    """The embedded PNGs: base colour, normal, ORM."""
    return [_view(glb, img["bufferView"]) for img in _glb_json(glb)["images"]]


def _accessor(glb: bytes, index: int, width: int) -> np.ndarray:
    acc = _glb_json(glb)["accessors"][index]
    return np.frombuffer(_view(glb, acc["bufferView"]), "<f4").reshape(acc["count"], width)


def _tiled_maps(size: int) -> PBRSet:
    """Tileable maps of any size: the 64-px stone tiled (PNGs of it stay small)."""
    small = exemplar("stone", 64, 0).pbr()
    reps = (size // 64, size // 64, 1)
    return PBRSet(*(np.tile(getattr(small, m), reps) for m in ("base_color", "normal", "orm")))


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


def test_preview_embeds_the_assets_own_maps_at_full_size(stone):
    files = export_asset(_texture_asset(stone))
    preview = files[-1].data
    # The very PNGs streamed before it, so 512 px maps preview at 512 px.
    assert _images(preview) == [f.data for f in files[:3]]
    for png in _images(preview):
        assert Image.open(io.BytesIO(png)).size == (512, 512)
    assert tile_glb(_texture_asset(stone).material, "stone") == preview  # same PNGs, own encode


def test_preview_quad_stands_on_the_floor_facing_front(stone):
    glb = tile_glb(_texture_asset(stone).material)
    gltf = _glb_json(glb)
    pos = _accessor(glb, 0, 3)
    assert (pos[:, 1] >= 0).all()
    assert pos.min(0).tolist() == gltf["accessors"][0]["min"] == [-0.5, 0.0, 0.0]
    assert pos.max(0).tolist() == gltf["accessors"][0]["max"] == [0.5, 1.0, 0.0]
    assert (_accessor(glb, 1, 3) == [0, 0, 1]).all()  # faces +Z
    # Counter-clockwise seen from +Z, so the front face is the one the normals point out of.
    tri = pos[[0, 1, 2]]
    assert np.cross(tri[1] - tri[0], tri[2] - tri[0])[2] > 0
    uv = _accessor(glb, 3, 2)
    assert uv[pos[:, 1] == 0, 1].tolist() == [2, 2]  # v = 2 (image bottom) at the floor


def test_large_maps_preview_capped_and_still_tile():
    big = _tiled_maps(2 * PREVIEW_MAX_SIZE)
    glb = tile_glb(_texture_asset(big).material, "stone")
    assert_valid_glb(glb)
    small = downsample(big, PREVIEW_MAX_SIZE)
    assert small.size == PREVIEW_MAX_SIZE
    assert _images(glb) == [png_bytes(getattr(small, m)) for m in ("base_color", "normal", "orm")]
    # The export path gives the same preview (encoded while the pool encodes the big maps).
    files = export_asset(_texture_asset(big))
    assert files[-1].data == glb
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(files[0].data))), big.base_color)


def test_downsampled_maps_still_tile(stone):
    small = downsample(stone, 256)
    assert small.size == 256
    # A box filter over aligned blocks commutes with whole-block rolls: still tileable.
    rolled = PBRSet(*(np.roll(getattr(stone, m), (16, 8), axis=(0, 1))
                      for m in ("base_color", "normal", "orm")))
    again = downsample(rolled, 256)
    assert np.array_equal(again.base_color, np.roll(small.base_color, (8, 4), axis=(0, 1)))
    n = small.normal.astype(np.float32) / 127.5 - 1
    assert np.allclose(np.linalg.norm(n, axis=-1), 1, atol=0.02)
    flat = encode_normal(np.tile(np.array([0, 0, 1], np.float32), (64, 64, 1)))
    assert np.array_equal(downsample(PBRSet(flat, flat, flat), 32).normal, flat[:32, :32])
    assert downsample(stone, 512) is stone


def test_small_textures_preview_at_their_own_size():
    rng = np.random.default_rng(0)
    maps = [rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(3)]
    glb = tile_glb(Material("noise", (1, 1, 1, 1), 1.0, 1.0, PBRSet(*maps)))
    assert_valid_glb(glb)
    assert _images(glb) == [png_bytes(m) for m in maps]
    with pytest.raises(ValueError, match="needs 3 PNGs, got 2"):
        tile_glb(Material("noise", (1, 1, 1, 1), 1.0, 1.0, PBRSet(*maps)), pngs=[b"", b""])


def test_props_still_export_their_lod_chain():
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], np.float32)
    mesh = Mesh(v, np.array([[0, 1, 2]], np.uint32), np.tile([0, 0, 1], (3, 1)).astype(np.float32),
                lod=0)
    files = export_asset(Asset(kind=KIND_PROP, category="x", seed=1, meshes=[mesh]))
    assert [f.name for f in files] == ["lod0.glb"]


def test_unknown_format_names_the_known_ones(stone):
    with pytest.raises(ValueError, match="unknown format 'usd'; known: glb"):
        export_asset(_texture_asset(stone), "usd")
