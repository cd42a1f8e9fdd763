"""Texture metrics on inputs whose answer is known: ramps, constants, tiles, photo crops."""

from __future__ import annotations

import numpy as np
import pytest

from generators.metrics.texture import (
    diversity,
    laplacian_pyramid,
    lattice_correlation,
    power_spectrum,
    seam_ratio,
    shuffled_pixels,
    sliced_wasserstein,
    spectrum_profiles,
    structure_distance,
    wrap_rank,
)
from generators.texture import exemplar, periodic_noise, photo

# --------------------------------------------------------------------------- seam ratio


def test_seam_ratio_of_a_ramp_is_its_length():
    ramp = np.tile(np.arange(64, dtype=np.float64), (32, 1))  # [32, 64], +1 per column
    r = seam_ratio(ramp)
    assert r["cols"] == pytest.approx(63.0)  # |0 - 63| over steps of 1
    assert r["rows"] == 1.0  # 0 / 0: no step anywhere, none at the seam either
    assert r["max"] == pytest.approx(63.0)
    assert seam_ratio(np.full((16, 16), 3.0)) == {"cols": 1.0, "rows": 1.0, "max": 1.0}


def test_seam_ratio_of_one_edge():
    half = np.zeros((8, 8))
    half[:, 4:] = 1.0  # one interior edge, and the wrap joins 0 to 1: a second edge
    assert seam_ratio(half)["cols"] == pytest.approx(1.0 / (1.0 / 7.0))
    bar = np.zeros((8, 8))
    bar[:, 2:6] = 1.0  # two interior edges, none at the wrap
    assert seam_ratio(bar)["cols"] == 0.0


def test_seam_ratio_of_a_tileable_texture_is_about_one():
    n = periodic_noise(256, np.random.default_rng(0), 1.5)
    tex = np.stack([n, 0.5 * n + 1.0, -n], axis=-1)
    r = seam_ratio(tex)
    assert 0.7 <= r["cols"] <= 1.3 and 0.7 <= r["rows"] <= 1.3, r
    rolled = seam_ratio(np.roll(tex, (100, 31), axis=(0, 1)))  # moving the seam changes nothing
    assert 0.7 <= rolled["max"] <= 1.3, rolled
    # a crop that cuts the period in half is no longer tileable
    assert seam_ratio(tex[:128, :128])["max"] > 1.5
    # grey and 3 equal channels agree
    assert seam_ratio(np.repeat(n[..., None], 3, axis=-1)) == pytest.approx(seam_ratio(n))


@pytest.mark.parametrize("name", ["brick", "gravel"])
def test_seam_ratio_of_a_photo_crop_is_clearly_above_one(name):
    gray = photo(name)
    for r0, c0 in ((0, 0), (100, 37), (256, 256)):
        crop = gray[r0 : r0 + 256, c0 : c0 + 256]
        assert seam_ratio(crop)["max"] > 1.5


def test_seam_ratio_rejects_bad_shapes():
    with pytest.raises(ValueError):
        seam_ratio(np.zeros(10))
    with pytest.raises(ValueError):
        seam_ratio(np.zeros((2, 10)))


# --------------------------------------------------------------------------- pyramid


def test_laplacian_pyramid_collapses_back_to_the_image():
    from generators.metrics.texture import _pyr_up

    imgs = np.random.default_rng(0).random((2, 64, 64, 3)).astype(np.float32)
    pyr = laplacian_pyramid(imgs, 4)
    assert [p.shape[1] for p in pyr] == [64, 32, 16, 8]
    rec = pyr[-1]
    for level in reversed(pyr[:-1]):
        rec = level + _pyr_up(rec)
    np.testing.assert_allclose(rec, imgs, atol=1e-5)
    # band-pass levels of a constant image are zero, the low-pass keeps the constant
    flat = laplacian_pyramid(np.full((1, 32, 32, 1), 0.25, np.float32), 3)
    assert np.abs(flat[0]).max() < 1e-6 and np.abs(flat[1]).max() < 1e-6
    np.testing.assert_allclose(flat[2], 0.25, atol=1e-6)


# --------------------------------------------------------------------------- SWD


def crops(material: str, seeds: range, size: int = 128) -> list[np.ndarray]:
    return [exemplar(material, size, s).albedo for s in seeds]


def test_swd_same_exemplar_is_much_closer_than_another_material():
    brick_a, brick_b = crops("brick", range(8)), crops("brick", range(8, 16))
    marble_a, marble_b = crops("marble", range(8)), crops("marble", range(8, 16))
    same_brick = sliced_wasserstein(brick_a, brick_b)
    same_marble = sliced_wasserstein(marble_a, marble_b)
    cross = sliced_wasserstein(brick_a, marble_b)
    assert len(same_brick) == 5  # 4 levels (finest first) + their mean
    assert same_brick[-1] == pytest.approx(np.mean(same_brick[:4]))
    assert 2.5 * max(same_brick[-1], same_marble[-1]) < cross[-1], (same_brick, same_marble, cross)
    assert all(c > s for s, c in zip(same_brick[:4], cross[:4], strict=True))
    # photo vs photo of a different structure too (gravel: no mortar lines)
    assert 2.5 * same_brick[-1] < sliced_wasserstein(brick_a, crops("gravel", range(8)))[-1]


def test_swd_is_deterministic_and_scale_free():
    a = crops("wood", range(4))
    b = crops("stone", range(4))
    d = sliced_wasserstein(a, b, n_proj=256, seed=3)
    assert d == sliced_wasserstein(a, b, n_proj=256, seed=3)
    assert d != sliced_wasserstein(a, b, n_proj=256, seed=4)
    # uint8 in [0, 255] vs float in [0, 1]: the per-set normalisation removes the scale
    a8 = [np.rint(x * 255).astype(np.uint8) for x in a]
    b8 = [np.rint(x * 255).astype(np.uint8) for x in b]
    af = [x / 255.0 for x in a8]
    bf = [x / 255.0 for x in b8]
    np.testing.assert_allclose(
        sliced_wasserstein(a8, b8, n_proj=256), sliced_wasserstein(af, bf, n_proj=256), rtol=1e-4
    )


def test_swd_accepts_arrays_grey_and_unequal_set_sizes():
    a = np.stack([exemplar("marble", 64, s).height for s in range(3)])  # [3, 64, 64] grey
    b = [exemplar("marble", 64, s).height for s in range(3, 8)]
    d = sliced_wasserstein(a, b, patches_per_image=32, levels=3, n_proj=64)
    assert len(d) == 4 and all(np.isfinite(d)) and all(x > 0 for x in d)


def test_swd_argument_errors():
    a = [np.zeros((64, 64, 3))] * 2
    with pytest.raises(ValueError, match="fewer levels"):
        sliced_wasserstein(a, a, levels=5)  # 64 / 16 = 4 < 7
    with pytest.raises(ValueError, match="channel"):
        sliced_wasserstein(a, [np.zeros((64, 64))] * 2)
    with pytest.raises(ValueError, match="share one shape"):
        sliced_wasserstein([np.zeros((64, 64)), np.zeros((32, 32))], [np.zeros((64, 64))])
    with pytest.raises(ValueError, match="odd"):
        sliced_wasserstein(a, a, patch=6)


# --------------------------------------------------------------------------- diversity


def test_diversity_definition():
    zero, half, one = (np.full((8, 8, 3), v, np.float32) for v in (0.0, 0.5, 1.0))
    assert diversity([zero, zero]) == 0.0
    assert diversity([zero, one]) == pytest.approx(1.0)
    assert diversity([zero, half, one]) == pytest.approx((0.5 + 1.0 + 0.5) / 3)
    as_u8 = [np.full((8, 8), v, np.uint8) for v in (0, 255)]
    assert diversity(as_u8) == pytest.approx(1.0)
    assert diversity(np.stack([zero, one])) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="two"):
        diversity([zero])


def test_diversity_separates_seeds_from_collapse():
    seeds = crops("stone", range(4), size=64)
    collapsed = [seeds[0]] * 4
    assert diversity(collapsed) == 0.0
    assert diversity(seeds) > 0.05


# --------------------------------------------------------------------------- wrap rank


def test_wrap_rank_of_a_ramp_is_the_top_and_of_a_torus_is_ordinary():
    ramp = np.tile(np.arange(64, dtype=np.float64), (32, 1)) + np.random.default_rng(0).random(
        (32, 64))
    assert wrap_rank(ramp)["cols"] == 1.0  # the wrap step (63) beats every interior step
    ranks = [wrap_rank(periodic_noise(128, np.random.default_rng(s), 2.0)) for s in range(24)]
    mean = np.mean([[r["cols"], r["rows"]] for r in ranks])
    assert 0.35 < mean < 0.65  # a line of a stationary torus is an ordinary line
    tile = photo("gravel")[:64, :64]
    naive = np.tile(tile, (2, 2))  # the crop's seam through the middle and at the wrap
    assert min(wrap_rank(naive).values()) > 0.95
    with pytest.raises(ValueError, match="3x3"):
        wrap_rank(np.zeros((2, 8)))


# --------------------------------------------------------------------------- structure


def _stripes(period: float, angle_deg: float, n: int = 4, size: int = 128) -> np.ndarray:
    y, x = np.mgrid[:size, :size].astype(np.float64)
    a = np.radians(angle_deg)
    rng = np.random.default_rng(int(period * 10 + angle_deg))
    return np.stack([np.sin(2 * np.pi * (x * np.cos(a) + y * np.sin(a)) / period
                            + rng.uniform(0, 2 * np.pi)) for _ in range(n)])


def test_power_spectrum_is_normalised_and_checks_its_input():
    p = power_spectrum(_stripes(8, 0))
    assert p.shape == (128, 128) and p.sum() == pytest.approx(1.0) and p[0, 0] == 0
    radial, angular = spectrum_profiles(p)
    assert radial.sum() == pytest.approx(1.0) and angular.sum() == pytest.approx(1.0)
    assert angular.argmax() in (0, len(angular) - 1)  # frequency along x: 0 degrees
    assert power_spectrum(np.full((2, 32, 32), 0.5)).sum() == 0  # constant: no power
    with pytest.raises(ValueError, match="1 or 3 channels"):
        power_spectrum(np.zeros((2, 32, 32, 2)))
    with pytest.raises(ValueError, match="16x16"):
        power_spectrum(np.zeros((2, 8, 8)))


def test_structure_distance_sees_period_and_orientation():
    base = _stripes(16, 0)
    assert structure_distance(base, base) == {"radial": 0.0, "angular": 0.0, "total": 0.0}
    other_period = structure_distance(base, _stripes(6, 0))
    turned = structure_distance(base, _stripes(16, 90))
    assert other_period["radial"] > 5 and other_period["angular"] < 0.1
    assert turned["angular"] > 0.9 and turned["radial"] < 0.2
    d = structure_distance(base, _stripes(6, 45))
    assert d == structure_distance(_stripes(6, 45), base)  # symmetric


def test_structure_failure_baselines_fail_and_crops_pass():
    """The issue's baselines on the exemplar itself: crops of brick are close, the same crops
    turned 90 degrees or with their pixels shuffled (the colour histogram, no structure) are
    not (the evaluation's table uses 32 crops of 256 px; 16 here)."""
    rng = np.random.default_rng(0)
    full = exemplar("brick", 512, 0).albedo

    def cut(k):
        return np.stack([full[r:r + 256, c:c + 256] for r, c in rng.integers(0, 257, (k, 2))])

    a, b = cut(16), cut(16)
    floor = structure_distance(a, b)["total"]
    assert structure_distance(a, np.rot90(b, 1, axes=(1, 2)))["total"] > 3 * floor
    shuffled = shuffled_pixels(b, seed=1)
    assert structure_distance(a, shuffled)["total"] > 10 * floor
    # shuffling keeps each image's colours exactly
    np.testing.assert_array_equal(np.sort(shuffled[0].reshape(-1, 3), axis=0),
                                  np.sort(b[0].reshape(-1, 3), axis=0))


def test_lattice_correlation_sees_a_repeated_stamp_and_not_a_photo():
    rng = np.random.default_rng(0)
    noise = rng.random((4, 128, 128))
    assert abs(lattice_correlation(noise)) < 0.05
    stamp = np.tile(rng.random((4, 32, 32)), (1, 4, 4))  # one motif every two 16-px cells
    assert lattice_correlation(0.5 * noise + stamp) > 0.7
    gravel = exemplar("gravel", 512, 0).albedo
    crops = np.stack([gravel[r:r + 256, c:c + 256] for r, c in ((0, 0), (0, 256), (256, 0))])
    assert lattice_correlation(crops) < 0.2
    with pytest.raises(ValueError, match="twice"):
        lattice_correlation(np.zeros((2, 64, 64)))
