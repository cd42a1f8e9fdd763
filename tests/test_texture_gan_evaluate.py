"""`vitrine eval texture-gan`: the table's rows and baselines, on a tiny untrained network."""

from __future__ import annotations

import numpy as np
import torch

from generators.texture_gan.evaluate import cell_edge_ratio, evaluate_material, format_table
from generators.texture_gan.model import TextureGenerator


def test_cell_edge_ratio_sees_a_grid_and_not_noise():
    rng = np.random.default_rng(0)
    noise = rng.random((128, 128))
    assert abs(cell_edge_ratio(noise) - 1) < 0.15
    grid = noise.copy()
    grid[:, 6::16] += 3.0  # a bright line on every cell edge (offset 6 as the served cut)
    assert cell_edge_ratio(grid) > 3


def test_table_has_every_baseline_and_the_naive_tile_fails_the_seam_test():
    torch.manual_seed(0)
    G = TextureGenerator(2, 4, 4, 0, (16, 12, 8, 8)).eval()
    rows = [evaluate_material(G, i, m, n=4, size=128, seam_sizes=(128,), seam_n=2)
            for i, m in enumerate(["brick", "stone"])]
    for r in rows:
        assert r.swd_floor > 0 and r.swd_naive > 0 and r.swd_generated > 0
        assert min(r.seam_naive.values()) > 1.5  # exemplar crops do not tile
        assert r.diversity_generated > 0
    assert rows[0].seam_tileable_exemplar is None  # photos have no tileable exemplar
    assert rows[1].seam_tileable_exemplar is not None
    table = format_table(rows, "tiny")
    # main, per axis, structure, issue 15's bars
    assert table.count("\n| brick |") == 4 and "SWD naive tile" in table
    for r in rows:  # the failure baselines are far from the crops; a naive tile's wrap ranks top
        assert r.structure_noise["total"] > 3 * r.structure_floor["total"] > 0
        assert max(r.wrap_rank_naive.values()) > 0.9
        assert set(r.seam_axes_by_size) == set(r.wrap_rank_by_size) == {"128"}
    # brick turned 90 degrees is further than other crops (4 crops of 128 px: a weak test;
    # tests/test_metrics_texture.py checks it at scale)
    assert rows[0].structure_rotated["total"] > rows[0].structure_floor["total"]
    assert "rotated fails" in table and "| colour noise |" in table
    assert "interior lines" in table and all(v > 0 for v in rows[0].seam_interior.values())
    for r in rows:  # per axis, means over textures: never above the mean of the per-texture max
        for m, (cols, rows_) in r.seam_generated_axes.items():
            assert 0 < max(cols, rows_) <= r.seam_generated[m] + 1e-9
    assert "per axis" in table
    assert "| lattice gen |" in table and all(-1 <= r.lattice_floor <= 1 for r in rows)



def test_interior_lines_of_a_seamless_texture_score_near_one():
    from generators.metrics.texture import seam_ratio
    from generators.texture.pbr import PBRSet
    from generators.texture_gan.evaluate import _interior_seams

    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, 256, dtype=np.float32)[None, :, None]  # a seam at its wrap
    img = (rng.random((256, 256, 3)) * 40 + ramp * 0.8).astype(np.uint8)
    maps = PBRSet(img, img, img)
    assert seam_ratio(img)["max"] > 3  # the wrap is a seam
    scores = _interior_seams([maps], np.random.default_rng(1), lines=8)
    assert all(0.9 < v < 1.2 for v in scores.values())  # lines inside are not


def test_eval_of_a_run_uses_the_cuts_its_export_would_choose(tmp_path, capsys, monkeypatch):
    from test_texture_gan_train import TINY

    from generators.texture_gan import evaluate, export, train

    run = tmp_path / "run"
    assert train.main(["--out", str(run), *TINY, "--steps", "1", "--ckpt-every", "1",
                       "--preview-every", "0"]) == 0
    seen = []
    real = evaluate.evaluate_material
    monkeypatch.setattr(evaluate, "evaluate_material",
                        lambda *a, **k: seen.append(a[7]) or real(*a, **k))
    assert evaluate.main(["--run", str(run), "--materials", "brick", "--n", "2", "--size", "128",
                          "--seam-sizes", "128", "--seam-n", "1"]) == 0
    assert "| brick |" in capsys.readouterr().out
    meta = export.export(run, tmp_path / "w.safetensors", tmp_path / "w.json")
    assert [list(c) for c in seen] == [meta["cut_offsets"]["brick"]]


def test_a_seam_size_the_naive_tiles_cannot_make_is_a_usage_error(capsys):
    import pytest

    from generators.texture_gan import evaluate

    with pytest.raises(SystemExit):
        evaluate.main(["--seam-sizes", "512,64"])
    assert "--seam-sizes must be a comma-separated list of 128" in capsys.readouterr().err
