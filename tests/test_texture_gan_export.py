"""texture-gan export: a run becomes fp16 weights + JSON that the served model loads."""

from __future__ import annotations

import hashlib
import json

import numpy as np
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
    assert 0 <= cfg["cut_offset"] < UPSAMPLE
    tensors = load_file(str(w))
    assert all(t.dtype == torch.float16 for t in tensors.values() if t.is_floating_point())
    assert not any(k.startswith(("d.", "g.", "ema.")) for k in tensors)  # EMA G only, unprefixed
    gen = TextureGanGenerator(w, c)
    assert gen.cut_offset == cfg["cut_offset"]
    assert gen.maps("brick", 1, 64).base_color.shape == (64, 64, 3)


def test_cut_offset_puts_the_wrap_on_an_average_step():
    profile = np.ones((3, 2, UPSAMPLE))
    profile[:, :, 0::2] = 0.8  # steps inside 2x2 blocks smoother, across blocks rougher
    profile[:, :, 1::2] = 1.2
    profile[:, :, 9] = 1.0
    r = export.choose_cut_offset(profile)
    assert (UPSAMPLE - 1 - r) % UPSAMPLE == 9
