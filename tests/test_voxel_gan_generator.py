"""voxel-gan serving: the shipped weights load (and refuse to when damaged), generation is
deterministic, and every category streams valid, engine-ready GLBs over the server."""

from __future__ import annotations

import hashlib
import io
import json
import shutil

import numpy as np
import pytest
import trimesh
from support.gltf_validator import assert_valid_glb

from generators.core.errors import ModelLoadError
from generators.export.glb import export_glb
from generators.voxel_gan.generator import CONFIG, WEIGHTS, VoxelGanGenerator


@pytest.fixture(scope="module")
def gen():
    return VoxelGanGenerator()


@pytest.fixture
def copies(tmp_path):
    w, c = tmp_path / "w.safetensors", tmp_path / "w.json"
    shutil.copy(WEIGHTS, w)
    shutil.copy(CONFIG, c)
    return w, c


def test_shipped_weights_are_fp16_and_match_their_config(gen):
    cfg = json.loads(CONFIG.read_text())
    assert cfg["dtype"] == "float16" and cfg["training"]["steps"] > 0
    assert hashlib.sha256(WEIGHTS.read_bytes()).hexdigest() == cfg["sha256"]
    assert gen.info.categories == tuple(cfg["categories"])
    assert WEIGHTS.stat().st_size < 16 * 2**20


def test_missing_weights_refuse_to_load(copies, tmp_path):
    w, c = copies
    w.unlink()
    with pytest.raises(ModelLoadError, match="missing.*vitrine export voxel-gan"):
        VoxelGanGenerator(weights=w, config=c)


def test_corrupt_weights_refuse_to_load(copies):
    w, c = copies
    blob = bytearray(w.read_bytes())
    blob[len(blob) // 2] ^= 0xFF  # one flipped byte deep inside a tensor
    w.write_bytes(bytes(blob))
    with pytest.raises(ModelLoadError, match="corrupt"):
        VoxelGanGenerator(weights=w, config=c)


def test_truncated_weights_with_a_matching_digest_still_refuse(copies):
    w, c = copies
    w.write_bytes(w.read_bytes()[:1000])
    cfg = json.loads(c.read_text())
    cfg["sha256"] = hashlib.sha256(w.read_bytes()).hexdigest()
    c.write_text(json.dumps(cfg))
    with pytest.raises(ModelLoadError, match="does not load"):
        VoxelGanGenerator(weights=w, config=c)


def test_bad_config_refuses_to_load(copies):
    w, c = copies
    c.write_text("{not json")
    with pytest.raises(ModelLoadError, match="not a valid config"):
        VoxelGanGenerator(weights=w, config=c)


def test_same_seed_same_shape_different_seed_different_shape(gen):
    a = gen.occupancy("vase", [5, 5, 6])
    assert np.array_equal(a[0], a[1])
    assert not np.array_equal(a[0] >= 0.5, a[2] >= 0.5)
    # A seed's shape does not depend on what it is batched with.
    assert np.array_equal(gen.occupancy("vase", [5])[0], a[0])


def test_every_category_exports_valid_glbs_at_real_world_size(gen):
    blobs = []
    for cat in gen.info.categories:
        spec = gen.resolve(cat, 3, {"max_triangles": 3000, "lod_count": 2})
        (asset,) = gen.generate([spec])
        assert asset.meshes[0].triangles <= 3000
        lo, hi = asset.bounds
        assert abs(lo[1]) < 1e-4  # stands on the floor
        assert 0.1 < float((hi - lo).max()) < 4.0
        files = export_glb(asset)
        for f in files:
            mesh = trimesh.load(io.BytesIO(f.data), file_type="glb", force="mesh")
            assert len(mesh.faces) == f.triangles
        blobs += [f.data for f in files]
    assert_valid_glb(blobs)


def test_resolution_option_smooths_the_surface(gen):
    coarse = gen.generate([gen.resolve("chair", 9, {"resolution": 32, "lod_count": 1,
                                                    "max_triangles": 500_000})])[0]
    fine = gen.generate([gen.resolve("chair", 9, {"resolution": 96, "lod_count": 1,
                                                  "max_triangles": 500_000})])[0]
    assert fine.meshes[0].triangles > coarse.meshes[0].triangles
    lo_c, hi_c = coarse.bounds
    lo_f, hi_f = fine.bounds
    assert np.allclose(hi_c - lo_c, hi_f - lo_f, rtol=0.1)  # same shape, same size


def test_served_over_grpc(client):
    asset = client.generate("voxel-gan", "lamp", 21, max_triangles=4000)
    assert asset.header.category == "lamp" and asset.seed == 21
    assert [f.name for f in asset.header.files] == ["lod2.glb", "lod1.glb", "lod0.glb"]
    assert_valid_glb(list(asset.files.values()))
    models = {m.name: m for m in client.list_models()}
    assert list(models["voxel-gan"].categories) == list(models["procedural"].categories)


# ------------------------------------------------------------------ size and structure (issue 14)


def test_a_spec_gives_the_same_bytes_alone_or_batched(gen):
    specs = [gen.resolve(c, s, {"lod_count": 1, "texture_size": 64})
             for c, s in (("table", 2), ("lamp", 4), ("table", 3))]
    together = gen.generate(specs)
    alone = gen.generate([specs[1]])
    assert export_glb(together[1])[0].data == export_glb(alone[0])[0].data
    assert together[1].metadata == alone[0].metadata


def test_sizes_are_learned_per_shape_and_size_m_overrides(gen):
    from generators.voxel_gan.generator import CANDIDATES

    sizes = []
    for seed in range(1, 7):
        asset = gen.generate([gen.resolve("column", seed, {"lod_count": 1, "texture_size": 64})])[0]
        lo, hi = asset.bounds
        assert asset.metadata["size_from"] == "learned"
        assert float((hi - lo).max()) == pytest.approx(asset.metadata["learned_size_m"], rel=1e-4)
        st = asset.metadata["structure"]
        assert 1 <= st["attempt"] <= CANDIDATES and st["kept"] >= 1
        assert st["pieces"] == st["kept"] + st["dropped"]
        sizes.append(float((hi - lo).max()))
    assert np.std(sizes) > 0.05  # columns of many heights, not one (procedural sd ~0.4 m)
    fixed = gen.generate([gen.resolve("column", 1, {"lod_count": 1, "size_m": 1.5})])[0]
    lo, hi = fixed.bounds
    assert float((hi - lo).max()) == pytest.approx(1.5, rel=1e-5)
    assert "learned_size_m" not in fixed.metadata


def test_the_drawn_shape_does_not_depend_on_resolution(gen):
    a = gen.draw(gen.resolve("table", 2, {"resolution": 32}))
    b = gen.draw(gen.resolve("table", 2, {"resolution": 96}))
    assert a[0] == b[0] and np.array_equal(a[1], b[1])


def test_without_a_size_head_each_category_gets_its_median(copies):
    w, c = copies  # copied without the -size files beside them
    g = VoxelGanGenerator(weights=w, config=c)
    asset = g.generate([g.resolve("vase", 3, {"lod_count": 1, "texture_size": 64})])[0]
    assert asset.metadata["size_from"] == "category median"
    lo, hi = asset.bounds
    assert float((hi - lo).max()) == pytest.approx(g.cfg["extent_m"]["vase"], rel=1e-4)


def test_the_evaluation_scores_the_served_draws(gen):
    grids = gen.sample_served("lamp", 2, 0)  # seeds 1 and 2
    for k, seed in enumerate((1, 2)):
        _, prob, _, _ = gen.draw(gen.resolve("lamp", seed, {}))
        solid = prob >= 0.5
        assert grids[k].dtype == bool and (grids[k] <= solid).all()  # debris dropped, no more
        assert grids[k].sum() >= 0.99 * solid.sum()
