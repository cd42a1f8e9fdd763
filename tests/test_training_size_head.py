"""The learned size head: it learns a size distribution that depends on the shape, samples it
deterministically, clamps to the data's range, and ships like every network (sha256-checked)."""

import json

import numpy as np
import pytest
import torch

from generators.core.errors import ModelLoadError
from generators.training import size_head as sh


@pytest.fixture(autouse=True)
def one_thread():
    # Tiny networks: a second intra-op thread only spins on a busy machine.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _bimodal(n=600, seed=0):
    """Lamps: a feature says floor (about 1.6 m) or table (about 0.5 m) lamp."""
    rng = np.random.default_rng(seed)
    floor = rng.random(n) < 0.5
    cond = np.stack([floor.astype(np.float32) * 2 - 1, rng.normal(size=n).astype(np.float32)], 1)
    sizes = np.where(floor, 1.6, 0.5) * np.exp(rng.normal(0, 0.05, n))
    return torch.from_numpy(cond), np.zeros(n, np.int64), sizes, floor


def test_the_head_learns_sizes_that_follow_the_shape():
    cond, labels, sizes, _ = _bimodal()
    stats = sh.SizeStats.of(("lamp",), labels, sizes)
    head = sh.SizeHead(2, 1, hidden=(32,), k=2)
    t = torch.from_numpy(stats.to_t(("lamp",), labels, sizes)).float()
    sh.fit(head, cond, torch.from_numpy(labels), t, steps=300, batch=64, lr=5e-3, log_every=0)
    test_cond, test_labels, test_sizes, test_floor = _bimodal(200, seed=1)
    out = sh.evaluate(head, stats, ("lamp",), test_cond, test_labels, test_sizes)["categories"]
    assert out["lamp"]["sampled_mean"] == pytest.approx(out["lamp"]["true_mean"], rel=0.1)
    assert out["lamp"]["sampled_sd"] == pytest.approx(out["lamp"]["true_sd"], rel=0.2)
    g = torch.Generator().manual_seed(0)
    drawn = head.sample(test_cond, torch.from_numpy(test_labels), torch.rand(200, generator=g),
                        torch.randn(200, generator=g)).numpy()
    metres = np.array([stats.to_m("lamp", x)[0] for x in drawn])
    # Floor-lamp shapes get floor-lamp sizes, table-lamp shapes table-lamp sizes.
    assert np.median(metres[test_floor]) == pytest.approx(1.6, rel=0.1)
    assert np.median(metres[~test_floor]) == pytest.approx(0.5, rel=0.1)


def test_sampling_is_a_pure_function_and_clamped_to_the_data():
    head = sh.SizeHead(3, 2).eval()
    c = torch.ones(1, 3)
    u, eps = sh.size_noise(7, 1)
    assert torch.equal(u, sh.size_noise(7, 1)[0]) and not torch.equal(u, sh.size_noise(8, 1)[0])
    a = head.sample(c, torch.tensor([1]), u, eps)
    assert torch.equal(a, head.sample(c, torch.tensor([1]), u, eps))
    stats = sh.SizeStats.of(("a", "b"), np.array([0, 0, 1, 1]), np.array([1.0, 2.0, 0.5, 0.6]))
    assert stats.to_m("a", 100.0) == (2.0, True)
    assert stats.to_m("b", -100.0) == (0.5, True)
    size, clamped = stats.to_m("a", 0.0)
    assert size == pytest.approx(np.sqrt(2.0)) and not clamped


def test_a_category_without_sizes_is_refused():
    with pytest.raises(ValueError, match="no training sizes for category 'b'"):
        sh.SizeStats.of(("a", "b"), np.array([0, 0]), np.array([1.0, 2.0]))


def test_saved_heads_load_and_damaged_ones_refuse(tmp_path):
    head = sh.SizeHead(4, 2).eval()
    stats = sh.SizeStats.of(("a", "b"), np.array([0, 1]), np.array([1.0, 2.0]))
    weights = tmp_path / "m.safetensors"
    sh.save(head, stats, ("a", "b"), {"model": "m size head"}, weights)
    w, c = sh.size_paths(weights)
    assert w.name == "m-size.safetensors" and c.name == "m-size.json"
    got, got_stats, cfg = sh.load("m", weights, "rebuild")
    assert got_stats == stats and cfg["categories"] == ["a", "b"]
    x = torch.randn(2, 4)
    assert torch.allclose(got(x, torch.tensor([0, 1]))[1], head(x, torch.tensor([0, 1]))[1],
                          atol=1e-2)  # fp16 shipped
    assert sh.load("m", tmp_path / "other.safetensors", "rebuild") is None
    blob = bytearray(w.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    w.write_bytes(bytes(blob))
    with pytest.raises(ModelLoadError, match="corrupt"):
        sh.load("m", weights, "rebuild")
    cfg["categories"] = ["a"]
    c.write_text(json.dumps(cfg))
    with pytest.raises(ModelLoadError):
        sh.load("m", weights, "rebuild")


def test_the_fit_scale_matches_a_grid_where_its_category_varies_least():
    """Tables: all 0.74 m high, 0.8-1.8 m long; their grids' heights are whole voxels (30 along
    the length), so the real longest side serves the height off by up to half a voxel in 18.
    The fit scale puts the error on the length, which varies 8x as much."""
    rng = np.random.default_rng(0)
    n = 400
    length = rng.uniform(0.8, 1.8, n)
    height = 0.74 * np.exp(rng.normal(0, 0.01, n))
    real = np.stack([length, height, 0.6 * length], 1)
    grid = np.stack([np.full(n, 30.0), np.round(30 * height / length), np.round(18 * np.ones(n))], 1)
    labels = np.zeros(n, np.int64)
    s = sh.fit_scale(real, grid, labels, 1)
    served_h = s * grid[:, 1] / grid.max(1)
    served_h_longest = length * grid[:, 1] / grid.max(1)
    assert np.abs(served_h / height - 1).max() < 0.01
    assert np.abs(served_h_longest / height - 1).max() > 0.015
    assert np.abs(s / length - 1).max() < 0.05  # the length pays, within half a voxel
    # A shape whose grid is exact gets exactly its longest side.
    exact = sh.fit_scale(real, real * 30 / length[:, None], labels, 1)
    assert np.allclose(exact, length)
