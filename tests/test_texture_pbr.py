"""PBR maps from one generation: conventions, tileability, encodings and file bytes."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from generators.metrics.texture import seam_ratio
from generators.texture import (
    PBRSet,
    ambient_occlusion_from_height,
    check_size,
    encode_normal,
    exemplar,
    linear_to_srgb,
    normal_from_height,
    pack_orm,
    pbr_from_albedo_height,
    periodic_noise,
    png_bytes,
    srgb_to_linear,
)


def noise(size: int = 64, seed: int = 0, sigma: float = 2.0) -> np.ndarray:
    return periodic_noise(size, np.random.default_rng(seed), sigma)


def png_chunks(data: bytes) -> list[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, kinds = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body)
        kinds.append(kind)
        pos += 12 + length
    return kinds


# --------------------------------------------------------------------------- sizes


@pytest.mark.parametrize("n", [64, 128, 256, 512, 1024, 2048])
def test_check_size_accepts_powers_of_two_in_range(n):
    assert check_size(n) == n


@pytest.mark.parametrize("n", [0, -64, 32, 63, 96, 100, 4096, 64.0, True, "64"])
def test_check_size_rejects_with_the_allowed_range(n):
    with pytest.raises(ValueError, match="64 to 2048"):
        check_size(n)


def test_public_entry_validates_size_and_squareness():
    with pytest.raises(ValueError, match="64 to 2048"):
        pbr_from_albedo_height(np.zeros((96, 96, 3)), np.zeros((96, 96)), 0.5, 0.0)
    with pytest.raises(ValueError, match="square"):
        pbr_from_albedo_height(np.zeros((64, 128, 3)), np.zeros((64, 128)), 0.5, 0.0)
    with pytest.raises(ValueError, match="height must have shape"):
        pbr_from_albedo_height(np.zeros((64, 64, 3)), np.zeros((128, 128)), 0.5, 0.0)
    with pytest.raises(ValueError, match="roughness"):
        pbr_from_albedo_height(np.zeros((64, 64, 3)), np.zeros((64, 64)), np.zeros((32, 32)), 0.0)


# --------------------------------------------------------------------------- normals


def test_flat_height_gives_straight_up_normals():
    n = normal_from_height(np.full((64, 64), 0.3), strength=5.0)
    assert np.array_equal(n, np.broadcast_to(np.float32([0, 0, 1]), n.shape))
    assert np.array_equal(encode_normal(n)[0, 0], [128, 128, 255])


def test_normals_are_unit_and_face_out():
    n = normal_from_height(noise(), strength=8.0)
    assert n.shape == (64, 64, 3) and n.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(n, axis=-1), 1.0, atol=1e-6)
    assert (n[..., 2] > 0).all() and (n[..., :2] != 0).any()


def test_ramp_to_the_right_tilts_normals_left():
    """h rises along +column (to the right): the surface faces left, x = -s dh / |.|."""
    h = np.tile(np.arange(64, dtype=np.float32) * 0.01, (64, 1))
    n = normal_from_height(h, strength=10.0)[:, 1:-1]  # the wrap column pairs see the jump
    expected_x = -0.1 / np.sqrt(1.01)
    np.testing.assert_allclose(n[..., 0], expected_x, rtol=1e-5)
    np.testing.assert_allclose(n[..., 1], 0.0, atol=1e-7)
    enc = encode_normal(n)
    assert (enc[..., 0] < 128).all() and (enc[..., 1] == 128).all()


def test_ramp_downwards_faces_up_in_opengl_and_down_in_directx():
    """h rises along +row (down the image): OpenGL (+Y up) y > 0, DirectX y < 0."""
    h = np.tile(np.arange(64, dtype=np.float32)[:, None] * 0.01, (1, 64))
    gl = normal_from_height(h, 10.0, "opengl")[1:-1]
    dx = normal_from_height(h, 10.0, "directx")[1:-1]
    np.testing.assert_allclose(gl[..., 1], 0.1 / np.sqrt(1.01), rtol=1e-5)
    np.testing.assert_allclose(dx[..., 1], -0.1 / np.sqrt(1.01), rtol=1e-5)
    assert (encode_normal(gl)[..., 1] > 128).all() and (encode_normal(dx)[..., 1] < 128).all()


def test_bump_normals_point_away_from_its_centre():
    r, c = np.mgrid[0:64, 0:64]
    h = np.exp(-((r - 32.0) ** 2 + (c - 32.0) ** 2) / (2 * 6.0**2))
    n = normal_from_height(h, strength=20.0)
    assert n[32, 24, 0] < -0.1 and n[32, 40, 0] > 0.1  # left flank faces left, right faces right
    assert n[24, 32, 1] > 0.1 and n[40, 32, 1] < -0.1  # upper flank faces up (+Y, OpenGL)


def test_directx_flips_only_green():
    h = noise(seed=3)
    gl = encode_normal(normal_from_height(h, 6.0, "opengl")).astype(int)
    dx = encode_normal(normal_from_height(h, 6.0, "directx")).astype(int)
    assert np.abs(dx[..., 1] - (255 - gl[..., 1])).max() <= 1
    assert np.array_equal(gl[..., [0, 2]], dx[..., [0, 2]])


def test_unknown_convention_names_the_allowed_ones():
    with pytest.raises(ValueError, match="opengl, directx"):
        normal_from_height(noise(), convention="vulkan")
    with pytest.raises(ValueError, match="opengl, directx"):
        pbr_from_albedo_height(np.zeros((64, 64, 3)), noise(), 0.5, 0.0, convention="GL")


def test_encode_normal_formula():
    n = np.float32([[[-1, 0, 1], [0.5, -0.5, 0.25]]])
    assert encode_normal(n).tolist() == [[[0, 128, 255], [191, 64, 159]]]


# --------------------------------------------------------------------------- occlusion


def test_occlusion_darkens_pits_not_peaks():
    r, c = np.mgrid[0:64, 0:64]
    bump = np.exp(-((r - 32.0) ** 2 + (c - 32.0) ** 2) / (2 * 3.0**2))
    pit = ambient_occlusion_from_height(1.0 - bump, radius_px=4)
    peak = ambient_occlusion_from_height(bump, radius_px=4)
    assert pit.dtype == np.float32 and pit.min() >= 0 and pit.max() <= 1
    assert pit[32, 32] < 0.5 and pit[0, 0] == 1.0
    assert peak[32, 32] == 1.0
    assert np.array_equal(ambient_occlusion_from_height(np.full((64, 64), 0.7)), np.ones((64, 64)))
    with pytest.raises(ValueError, match="radius_px"):
        ambient_occlusion_from_height(bump, radius_px=0)


# --------------------------------------------------------------------------- tileability


def test_maps_commute_with_wrapping():
    ex = exemplar("stone", 128, seed=2)
    shift = (37, -101)

    def roll(a):
        return np.roll(a, shift, axis=(0, 1))

    maps = pbr_from_albedo_height(ex.albedo, ex.height, ex.roughness, 0.25, 4.0)
    rolled = pbr_from_albedo_height(roll(ex.albedo), roll(ex.height), roll(ex.roughness), 0.25, 4.0)
    for name in ("base_color", "normal", "orm"):
        assert np.array_equal(getattr(rolled, name), roll(getattr(maps, name))), name
    h = noise(seed=5)
    assert np.array_equal(
        normal_from_height(np.roll(h, 11, 1)), np.roll(normal_from_height(h), 11, 1)
    )
    ao = ambient_occlusion_from_height(h, 3)
    assert np.array_equal(ambient_occlusion_from_height(np.roll(h, -7, 0), 3), np.roll(ao, -7, 0))


@pytest.mark.parametrize("seed", range(4))
def test_maps_of_a_tileable_height_show_no_seam(seed):
    h = noise(256, seed=seed, sigma=1.5)
    maps = pbr_from_albedo_height(np.full((256, 256, 3), 0.5), h, 0.5, 0.0, normal_strength=8.0)
    for img in (maps.normal, maps.orm[..., 0]):
        ratio = seam_ratio(img.astype(np.float32))
        assert 0.7 <= ratio["cols"] <= 1.3 and 0.7 <= ratio["rows"] <= 1.3, ratio


# --------------------------------------------------------------------------- ORM, colour


def test_pack_orm_channel_order():
    rough = np.full((64, 64), 0.6)
    orm = pack_orm(0.2, rough, 1.0)
    assert orm.dtype == np.uint8 and orm.shape == (64, 64, 3)
    assert orm[0, 0].tolist() == [51, 153, 255]  # R occlusion, G roughness, B metallic
    ramp = np.linspace(0, 1, 64 * 64).reshape(64, 64)
    orm = pack_orm(ramp, 0.0, 0.0)
    assert np.array_equal(orm[..., 0], np.rint(ramp * 255).astype(np.uint8))
    assert (orm[..., 1:] == 0).all()
    with pytest.raises(ValueError):
        pack_orm(np.zeros((64, 64)), np.zeros((32, 32)), 0.0)


def test_srgb_transfer_functions():
    assert linear_to_srgb(0.5) == pytest.approx(0.7353569830524495, abs=1e-12)
    assert srgb_to_linear(0.5) == pytest.approx(0.21404114048223255, abs=1e-12)
    assert linear_to_srgb(0.002) == pytest.approx(0.002 * 12.92)
    assert srgb_to_linear(0.02) == pytest.approx(0.02 / 12.92)
    x = np.linspace(0, 1, 1001)
    np.testing.assert_allclose(srgb_to_linear(linear_to_srgb(x)), x, atol=1e-12)
    np.testing.assert_allclose(linear_to_srgb([0.0, 1.0]), [0.0, 1.0], atol=1e-12)
    assert (np.diff(linear_to_srgb(x)) > 0).all()
    # the two pieces meet at the threshold
    assert linear_to_srgb(0.0031308) == pytest.approx(1.055 * 0.0031308 ** (1 / 2.4) - 0.055, 1e-4)


# --------------------------------------------------------------------------- files


@pytest.mark.parametrize("shape", [(64, 64), (64, 64, 3), (32, 48, 3)])
def test_png_bytes_round_trip_and_determinism(shape):
    img = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    data = png_bytes(img)
    assert data == png_bytes(img.copy())
    assert png_chunks(data) == [b"IHDR"] + [b"IDAT"] * (len(png_chunks(data)) - 2) + [b"IEND"]
    back = np.asarray(Image.open(io.BytesIO(data)))
    assert back.dtype == np.uint8 and np.array_equal(back, img)


def test_png_bytes_rejects_bad_input():
    with pytest.raises(ValueError, match="uint8"):
        png_bytes(np.zeros((8, 8), np.float32))
    with pytest.raises(ValueError, match="H, W"):
        png_bytes(np.zeros((8, 8, 4), np.uint8))


def test_pbr_set_files():
    ex = exemplar("fabric", 64, seed=0)
    maps = pbr_from_albedo_height(ex.albedo, ex.height, ex.roughness, ex.metallic)
    assert maps.size == 64
    assert np.array_equal(maps.base_color, np.rint(ex.albedo * 255).astype(np.uint8))
    assert (maps.orm[..., 2] == 0).all()
    files = maps.files("rug_")
    assert [(name, mime) for name, mime, _ in files] == [
        ("rug_basecolor.png", "image/png"),
        ("rug_normal.png", "image/png"),
        ("rug_orm.png", "image/png"),
    ]
    for (_, _, data), arr in zip(files, (maps.base_color, maps.normal, maps.orm), strict=True):
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), arr)
    assert [f[2] for f in files] == [f[2] for f in maps.files("rug_")]
    assert [f[0] for f in maps.files()] == ["basecolor.png", "normal.png", "orm.png"]


def test_pbr_set_validates_maps():
    ok = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(ValueError, match="share"):
        PBRSet(ok, ok, np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        PBRSet(ok.astype(np.float32), ok, ok)
