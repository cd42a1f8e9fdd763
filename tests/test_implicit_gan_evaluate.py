"""`vitrine eval implicit-gan --reconstructions`: scoring reconstructions of training shapes."""

from __future__ import annotations

import pytest

from generators.data.procedural_set import load_or_build
from generators.implicit_gan import data as D
from generators.implicit_gan import train  # before tiny_sdf patches what it imports
from generators.implicit_gan.evaluate import main, reconstruction_sampler


@pytest.fixture
def tiny_sdf(monkeypatch, tmp_path):
    real = D.load_or_build_sdf
    monkeypatch.setattr(D, "load_or_build_sdf",
                        lambda split, n, res=64, **kw: real(split, 3, res, cache_dir=tmp_path))


def test_grid_lookups_reproduce_the_voxel_data_set_closely(tiny_sdf, tmp_path):
    sample, cats, title = reconstruction_sampler("grid")
    assert "grid" in title and cats[0] == "chair"
    got = sample("chair", 2, seed=0)
    assert got.shape == (2, 32, 32, 32) and got.dtype == bool
    vox = load_or_build("train", 3, 32, cache_dir=tmp_path)
    truth = vox.of("chair")
    # each reconstruction is one of the three training chairs, nearly voxel for voxel
    for g in got:
        iou = [(g & t).sum() / (g | t).sum() for t in truth]
        assert max(iou) > 0.9


def test_a_missing_or_bare_file_is_refused(tiny_sdf, tmp_path, capsys):
    with pytest.raises(SystemExit, match="does not exist"):
        reconstruction_sampler(str(tmp_path / "nope.safetensors"))
    with pytest.raises(SystemExit):
        main(["--reconstructions", "grid", "--side-by-side"])
    assert "goes alone" in capsys.readouterr().err


def test_a_run_is_scored_and_a_missing_one_says_how_to_make_it(tmp_path, monkeypatch, capsys):
    import json

    monkeypatch.setattr(D, "DEFAULT_CACHE", tmp_path / "cache")
    assert main(["--run", str(tmp_path / "none")]) == 2
    assert "vitrine train implicit-gan --out" in capsys.readouterr().err
    run = tmp_path / "run"
    train.main(["--preset", "tiny", "--out", str(run), "--ae-steps", "2", "--gan-steps", "0",
                "--no-progress"])
    assert main(["--run", str(run)]) == 2
    assert "no latent-GAN steps" in capsys.readouterr().err
    train.main(["--preset", "tiny", "--out", str(run), "--ae-steps", "2", "--gan-steps", "1",
                "--no-progress"])
    assert main(["--run", str(run), "--n", "2", "--train-per-category", "2", "--points", "64",
                 "--json", str(tmp_path / "r.json")]) == 0
    assert "AE 2 + GAN 1 steps" in capsys.readouterr().out
    assert "chair" in json.loads((tmp_path / "r.json").read_text())["implicit-gan"]["categories"]
