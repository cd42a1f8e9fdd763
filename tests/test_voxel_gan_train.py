"""voxel-gan training: steps change the weights with finite losses; checkpoints resume."""

import json

import torch
from safetensors.torch import load_file

from generators.voxel_gan import train
from generators.voxel_gan.model import VoxelDiscriminator, VoxelGenerator


def test_shapes_and_config():
    G = VoxelGenerator(z_dim=16, n_classes=6, channels=(16, 8, 4))
    D = VoxelDiscriminator(n_classes=6, channels=(4, 8, 16))
    z, lab = torch.randn(3, 16), torch.tensor([0, 3, 5])
    x = G(z, lab)
    assert x.shape == (3, 1, 32, 32, 32)
    assert D(torch.sigmoid(x), lab).shape == (3,)
    assert VoxelGenerator(**G.config()).config() == G.config()


def _run(tmp_path, steps, *extra):
    train.main(["--out", str(tmp_path), "--steps", str(steps), "--batch", "4",
                "--n-per-category", "1", "--g-channels", "16,8,4", "--d-channels", "4,8,16",
                "--z-dim", "16", "--ckpt-every", "2", "--preview-every", "0", *extra])


def test_training_steps_change_weights_and_resume(tmp_path, monkeypatch):
    monkeypatch.setattr(train, "load_or_build", _tiny_set)
    _run(tmp_path, 2)
    first = load_file(str(tmp_path / "checkpoint.safetensors"))
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["step"] == 2 and cfg["generator"]["channels"] == [16, 8, 4]
    rows = (tmp_path / "losses.csv").read_text().splitlines()[1:]
    assert len(rows) == 2
    assert all(torch.isfinite(torch.tensor([float(v) for v in r.split(",") if v])).all() for r in rows)

    _run(tmp_path, 4)  # resumes from step 2, not from scratch
    second = load_file(str(tmp_path / "checkpoint.safetensors"))
    assert json.loads((tmp_path / "config.json").read_text())["step"] == 4
    assert len((tmp_path / "losses.csv").read_text().splitlines()[1:]) == 4
    changed = [k for k in first if k.startswith("g.") and not torch.equal(first[k], second[k])]
    assert changed, "generator weights moved"
    assert any(not torch.equal(first[k], second[k]) for k in first if k.startswith("ema."))


def _tiny_set(split, n, res=32, cache_dir=None, progress=False):
    from generators.data import build_voxel_set

    return build_voxel_set(split, n, res)


def test_trains_on_a_user_set_with_previews_and_r1(tmp_path):
    import numpy as np

    from generators.data import VoxelSet
    from generators.data.mesh_set import save_voxel_set

    vox = np.zeros((4, 32, 32, 32), bool)
    vox[:2, 8:24, 1:20, 8:24] = True  # two "crates"
    vox[2:, 12:20, 1:30, 12:20] = True  # two "posts"
    data = tmp_path / "set.npz"
    save_voxel_set(VoxelSet(vox, np.array([0, 0, 1, 1]), np.arange(4), ("crate", "post")), data)
    out = tmp_path / "run"
    _run(out, 2, "--data", str(data), "--r1", "1", "--r1-every", "1", "--preview-every", "2")
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["categories"] == ["crate", "post"] and cfg["generator"]["n_classes"] == 2
    from PIL import Image

    assert Image.open(out / "samples.png").size[0] > 0
    assert Image.open(out / "loss_curve.png").size[0] > 0
    rows = [r.split(",") for r in (out / "losses.csv").read_text().splitlines()[1:]]
    assert all(float(r[5]) > 0 for r in rows)  # the R1 penalty was applied and logged


def test_a_resume_file_carries_a_run_to_a_new_directory(tmp_path, monkeypatch):
    monkeypatch.setattr(train, "load_or_build", _tiny_set)
    _run(tmp_path / "a", 2)
    resume = tmp_path / "resume.safetensors"
    train.save_resume(tmp_path / "a", resume)
    t = load_file(str(resume))
    assert all(v.dtype == torch.float16 for v in t.values() if v.is_floating_point())
    _run(tmp_path / "b", 4, "--init-from", str(resume))
    cfg = json.loads((tmp_path / "b" / "config.json").read_text())
    assert cfg["step"] == 4  # counted on from the file's step 2, not from 0
    rows = (tmp_path / "b" / "losses.csv").read_text().splitlines()[1:]
    assert [int(r.split(",")[0]) for r in rows] == [3, 4]
