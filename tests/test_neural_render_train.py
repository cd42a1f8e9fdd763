"""`vitrine train neural-render` end to end at a toy size: pairs made and cached, a few steps,
resume, export, and the served model loading (and refusing altered weights)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from generators.core.errors import ModelLoadError


def test_tiny_run_trains_resumes_exports_and_serves(tmp_path):
    from generators.neural_render import dataset
    from generators.neural_render.export import export
    from generators.neural_render.generator import NeuralRenderGenerator
    from generators.neural_render.train import main

    out, data = tmp_path / "run", tmp_path / "data"
    argv = ["--preset", "tiny", "--out", str(out), "--data", str(data), "--no-progress",
            "--threads", "1"]
    assert main(argv) == 0
    rows = (out / "losses.csv").read_text().splitlines()
    assert len(rows) == 5 and rows[0].startswith("step,loss,l1,ssim,loss_g_adv,loss_d")
    assert rows[-1].split(",")[4] != ""  # the critic joined at --gan-start 2
    pair = dataset.load_pair(data / "train" / "00000.npz")
    assert pair["full"].shape == (14, 64, 64) and pair["reference"].dtype == np.float16
    assert main([*argv, "--steps", "6"]) == 0  # resumes at 4, goes on to 6
    assert (out / "losses.csv").read_text().splitlines()[-1].startswith("6,")
    with pytest.raises(ValueError, match="holds pairs made with"):
        dataset.build(data, "train", 4, size=64, sun_samples=9, bounce_samples=4,
                      pool_seeds=1)

    weights, config = tmp_path / "nr.safetensors", tmp_path / "nr.json"
    meta = export(out, weights, config, "nr-test")
    assert meta["training"]["steps"] == 6 and meta["channels"]["half"] == ["shadow", "ao",
                                                                           "sampled"]
    gen = NeuralRenderGenerator(weights=weights, config=config, name="nr-test")
    assert gen.info.kind == "render" and gen.info.version.startswith("nr-1-")
    cfg = json.loads(config.read_text())
    cfg["sha256"] = "0" * 64
    config.write_text(json.dumps(cfg))
    with pytest.raises(ModelLoadError, match="corrupt"):
        NeuralRenderGenerator(weights=weights, config=config)
