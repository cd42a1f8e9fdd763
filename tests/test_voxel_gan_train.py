"""voxel-gan training: steps change the weights with finite losses; checkpoints resume; a
studio's own meshes train and export under their own category and size."""

import json

import numpy as np
import pytest
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


def test_the_shipped_architecture_is_the_config_default():
    from generators.voxel_gan.config import SHIPPED
    from generators.voxel_gan.generator import CONFIG

    shipped = json.loads(CONFIG.read_text())["generator"]
    assert VoxelGenerator(**{**shipped, "init_occupancy": 0.04}).config() == {
        **VoxelGenerator(n_classes=shipped["n_classes"]).config(), "init_occupancy": 0.04}
    assert tuple(shipped["channels"]) == SHIPPED.g_channels


def _run(out, steps, *extra):
    assert train.main(["--preset", "tiny", "--out", str(out), "--steps", str(steps),
                       "--threads", "1", "--no-progress", *extra]) == 0


@pytest.fixture
def tiny_procedural(monkeypatch, tmp_path):
    from generators.data import build_voxel_set

    monkeypatch.setattr(train, "load_or_build",
                        lambda split, n, res=32, **kw: build_voxel_set(split, n, res))


def test_training_steps_change_weights_and_resume(tmp_path, tiny_procedural):
    _run(tmp_path, 2)
    first = load_file(str(tmp_path / "checkpoint.safetensors"))
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["state"]["step"] == 2 and cfg["networks"]["g"]["channels"] == [16, 8, 4]
    assert cfg["config"]["g_channels"] == [16, 8, 4] and cfg["extent_m"]["chair"] > 0.5
    rows = (tmp_path / "losses.csv").read_text().splitlines()[1:]
    assert len(rows) == 2
    assert all(np.isfinite([float(v) for v in r.split(",") if v]).all() for r in rows)

    with (tmp_path / "losses.csv").open("a") as f:  # killed after logging a step it lost
        f.write("3,1,1,1,1,,,,,,0.1\n")
    _run(tmp_path, 4)  # resumes from step 2, not from scratch
    second = load_file(str(tmp_path / "checkpoint.safetensors"))
    assert json.loads((tmp_path / "config.json").read_text())["state"]["step"] == 4
    steps = [int(r.split(",")[0]) for r in (tmp_path / "losses.csv").read_text().splitlines()[1:]]
    assert steps == [1, 2, 3, 4]
    changed = [k for k in first if k.startswith("g.") and not torch.equal(first[k], second[k])]
    assert changed, "generator weights moved"
    assert any(not torch.equal(first[k], second[k]) for k in first if k.startswith("ema."))
    assert (tmp_path / "train.log").read_text().count("checkpoint written") == 2


def test_max_minutes_checkpoints_and_stops(tmp_path, tiny_procedural):
    _run(tmp_path, 1000, "--max-minutes", "0.00001", "--ckpt-every", "1000")
    step = json.loads((tmp_path / "config.json").read_text())["state"]["step"]
    assert 1 <= step < 1000


def _user_set(tmp_path):
    from generators.data import VoxelSet
    from generators.data.mesh_set import save_voxel_set

    vox = np.zeros((4, 32, 32, 32), bool)
    vox[:2, 8:24, 1:20, 8:24] = True  # two "crates"
    vox[2:, 12:20, 1:30, 12:20] = True  # two "posts"
    data = tmp_path / "set.npz"
    save_voxel_set(VoxelSet(vox, np.array([0, 0, 1, 1]), np.arange(4), ("crate", "post"),
                            {"crate": 0.5, "post": 2.0}), data)
    return data


def test_trains_on_a_user_set_with_previews_and_r1(tmp_path):
    out = tmp_path / "run"
    _run(out, 2, "--data", str(_user_set(tmp_path)), "--r1", "1", "--r1-every", "1",
         "--preview-every", "2")
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["categories"] == ["crate", "post"] and cfg["networks"]["g"]["n_classes"] == 2
    assert cfg["extent_m"] == {"crate": 0.5, "post": 2.0}
    from PIL import Image

    assert Image.open(out / "samples.png").size[0] > 0
    assert Image.open(out / "loss_curve.png").size[0] > 0
    rows = [r.split(",") for r in (out / "losses.csv").read_text().splitlines()[1:]]
    assert all(float(r[5]) > 0 for r in rows)  # the R1 penalty was applied and logged


def test_a_resume_file_carries_a_run_to_a_new_directory(tmp_path, tiny_procedural):
    _run(tmp_path / "a", 2)
    resume = tmp_path / "resume.safetensors"
    train.save_resume(tmp_path / "a", resume)
    t = load_file(str(resume))
    assert all(v.dtype == torch.float16 for v in t.values() if v.is_floating_point())
    _run(tmp_path / "b", 4, "--init-from", str(resume))
    cfg = json.loads((tmp_path / "b" / "config.json").read_text())
    assert cfg["state"]["step"] == 4  # counted on from the file's step 2, not from 0
    rows = (tmp_path / "b" / "losses.csv").read_text().splitlines()[1:]
    assert [int(r.split(",")[0]) for r in rows] == [3, 4]
    with pytest.raises(SystemExit, match="--g-channels"):
        _run(tmp_path / "c", 4, "--init-from", str(resume), "--g-channels", "8,8,4")


def test_a_studio_armchair_set_exports_under_its_own_category_and_size(tmp_path):
    """vitrine dataset build armchair/ -> train --data -> export to a model dir."""
    import trimesh

    from generators.data import mesh_set
    from generators.voxel_gan import export
    from generators.voxel_gan.generator import VoxelGanGenerator

    folder = tmp_path / "meshes" / "armchair"
    folder.mkdir(parents=True)
    for i, height in enumerate((0.8, 0.9, 1.0)):  # Z-up armchairs, longest side their height
        trimesh.creation.box((0.7, 0.6, height)).export(folder / f"chair{i}.stl")
    data = tmp_path / "armchairs.npz"
    assert mesh_set.main(["build", str(folder), "--up-axis", "z", "-o", str(data)]) == 0
    run = tmp_path / "runs" / "armchairs"
    _run(run, 2, "--data", str(data))
    assert export.main(["--run", str(run), "--out-dir", str(tmp_path / "models")]) == 0
    meta = json.loads((tmp_path / "models" / "armchairs" / "armchairs.json").read_text())
    assert meta["categories"] == ["armchair"] and meta["extent_m"] == {"armchair": 0.9}
    assert meta["family"] == "voxel-gan" and meta["model"] == "armchairs"
    assert meta["training"]["steps"] == 2 and meta["training"]["data"] == str(data)
    model = tmp_path / "models" / "armchairs"
    gen = VoxelGanGenerator(weights=model / "armchairs.safetensors",
                            config=model / "armchairs.json", name="armchairs")
    assert gen.categories == ("armchair",)
    with pytest.raises(SystemExit):  # a family's name is not a model directory's
        export.main(["--run", str(run), "--name", "voxel-gan", "--out-dir", str(tmp_path)])
