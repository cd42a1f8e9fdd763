"""Voxel data sets from the procedural families: deterministic, disjoint splits, cached."""

import numpy as np
import pytest

from generators.data import HELDOUT_SEED_START, build_voxel_set, load_or_build
from generators.procedural import families


def test_splits_are_deterministic_and_disjoint():
    a = build_voxel_set("train", 2)
    b = build_voxel_set("train", 2)
    held = build_voxel_set("heldout", 2)
    assert a.voxels.shape == (12, 32, 32, 32) and a.voxels.dtype == bool
    assert np.array_equal(a.voxels, b.voxels)
    assert set(a.seeds).isdisjoint(held.seeds) and held.seeds.min() == HELDOUT_SEED_START
    assert list(a.categories) == list(families.CATEGORIES)
    assert all(len(a.of(c)) == 2 for c in families.CATEGORIES)
    assert all(v.any() for v in a.voxels)  # no empty shape


def test_thin_parts_survive_voxelisation():
    # Lamp stems and chair legs are thinner than a 32^3 voxel; the dilated occupancy keeps
    # them, so shapes stay one connected solid instead of floating pieces.
    from scipy import ndimage

    data = build_voxel_set("train", 15, categories=("lamp", "chair"))
    connected = [ndimage.label(v)[1] == 1 for v in data.voxels]
    assert np.mean(connected) >= 0.9
    undilated = [ndimage.label(families.build(c, int(s)).occupancy(32))[1] == 1
                 for c, s in zip(np.array(data.categories)[data.labels], data.seeds)]
    assert np.mean(undilated) < np.mean(connected)


def test_cache_round_trip(tmp_path):
    built = load_or_build("heldout", 1, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    loaded = load_or_build("heldout", 1, cache_dir=tmp_path)
    assert np.array_equal(built.voxels, loaded.voxels)
    assert np.array_equal(built.seeds, loaded.seeds) and built.categories == loaded.categories


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="split"):
        build_voxel_set("test", 1)
    with pytest.raises(ValueError, match="res"):
        build_voxel_set("train", 1, res=48)
    with pytest.raises(ValueError, match="unknown categories"):
        build_voxel_set("train", 1, categories=("sofa",))


def test_every_shape_records_its_real_size(tmp_path):
    from generators.data.procedural_set import longest_side

    built = load_or_build("train", 2, cache_dir=tmp_path)
    loaded = load_or_build("train", 2, cache_dir=tmp_path)  # the cache keeps no sizes: rebuilt
    want = [longest_side(families.build(built.categories[c], int(s)))
            for c, s in zip(built.labels, built.seeds)]
    assert built.sizes_m == pytest.approx(want) and loaded.sizes_m == pytest.approx(want)
    lamps = built.sizes_m[built.labels == built.categories.index("lamp")]
    assert (lamps > 0.2).all() and (lamps < 2.5).all()
