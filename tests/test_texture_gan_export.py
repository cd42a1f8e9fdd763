"""texture-gan export: a run becomes fp16 weights + JSON that the served model loads."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from test_texture_gan_train import TINY

from generators.texture_gan import export, train
from generators.texture_gan.generator import TextureGanGenerator
from generators.texture_gan.model import UPSAMPLE


def test_export_writes_fp16_weights_that_serve(tmp_path):
    run = tmp_path / "run"
    assert train.main(["--out", str(run), *TINY, "--steps", "2", "--ckpt-every", "2",
                       "--preview-every", "0"]) == 0
    w, c = tmp_path / "w.safetensors", tmp_path / "w.json"
    meta = export.export(run, w, c)
    cfg = json.loads(c.read_text())
    assert cfg == meta
    assert cfg["dtype"] == "float16" and cfg["materials"] == ["marble", "brick"]
    assert cfg["sha256"] == hashlib.sha256(w.read_bytes()).hexdigest()
    assert cfg["training"]["steps"] == 2 and cfg["training"]["train_seconds"] >= 0
    assert cfg["family"] == "texture-gan" and cfg["model"] == "texture-gan"
    assert len(cfg["cut_offset"]) == 2 and all(0 <= r < UPSAMPLE for r in cfg["cut_offset"])
    tensors = load_file(str(w))
    assert all(t.dtype == torch.float16 for t in tensors.values() if t.is_floating_point())
    assert not any(k.startswith(("d.", "g.", "ema.")) for k in tensors)  # EMA G only, unprefixed
    gen = TextureGanGenerator(w, c)
    assert list(gen.cut_offset) == cfg["cut_offset"]
    assert set(cfg["cut_offsets"]) == {"marble", "brick"}
    assert all(list(gen.cut_for(m)) == c for m, c in cfg["cut_offsets"].items())
    assert gen.maps("brick", 1, 64).base_color.shape == (64, 64, 3)


def test_cut_offset_puts_the_wrap_on_an_average_step():
    profile = np.ones((3, 2, UPSAMPLE))
    profile[:, :, 0::2] = 0.8  # steps inside 2x2 blocks smoother, across blocks rougher
    profile[:, :, 1::2] = 1.2
    profile[:, 0, 9] = 1.0  # rows: one average position
    profile[:, 1, 4] = 1.0  # columns: another
    rows, cols = export.choose_cut_offset(profile)
    assert (UPSAMPLE - 1 - rows) % UPSAMPLE == 9 and (UPSAMPLE - 1 - cols) % UPSAMPLE == 4


def test_a_cut_rolls_rows_and_columns_by_their_own_offsets():
    from generators.texture_gan.generator import as_cut, synthesize
    from generators.texture_gan.model import TextureGenerator

    torch.manual_seed(0)
    G = TextureGenerator(2, 2, 2, 0, (8, 8, 8, 8)).eval()
    base = synthesize(G, 1, 3, 64, cut_offset=0)[0]
    cut = synthesize(G, 1, 3, 64, cut_offset=(2, 7))[0]
    assert np.array_equal(cut, np.roll(base, (2, 7), axis=(0, 1)))
    assert as_cut(5) == (5, 5) and as_cut([1, 2]) == (1, 2)
    with pytest.raises(ValueError, match="cut offset"):
        as_cut([0, UPSAMPLE])


def test_the_export_command_writes_a_model_dir_and_never_the_shipped_files(tmp_path):
    from generators.texture_gan.generator import CONFIG, WEIGHTS

    run = tmp_path / "runs" / "stone-walls"
    assert train.main(["--out", str(run), *TINY, "--steps", "1", "--ckpt-every", "1",
                       "--preview-every", "0"]) == 0
    shipped = WEIGHTS.read_bytes(), CONFIG.read_bytes()
    assert export.main(["--run", str(run), "--out-dir", str(tmp_path / "models"),
                        "--normal-strength", "2.5"]) == 0
    folder = tmp_path / "models" / "stone-walls"
    meta = json.loads((folder / "stone-walls.json").read_text())
    assert meta["model"] == "stone-walls" and meta["family"] == "texture-gan"
    assert meta["normal_strength"] == 2.5 and meta["materials"] == ["marble", "brick"]
    gen = TextureGanGenerator(weights=folder / "stone-walls.safetensors",
                              config=folder / "stone-walls.json", name="stone-walls")
    assert gen.maps("marble", 1, 64).base_color.shape == (64, 64, 3)
    with pytest.raises(SystemExit):
        export.main(["--run", str(run), "--ship", "--name", "x"])  # --ship takes no name
    with pytest.raises(SystemExit):
        export.main(["--run", str(tmp_path / "none"), "--name", "x", "--out-dir",
                     str(tmp_path)])  # not a run
    assert (WEIGHTS.read_bytes(), CONFIG.read_bytes()) == shipped
