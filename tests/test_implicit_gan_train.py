"""Training the implicit GAN: both stages move the weights, losses are finite, runs resume."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from generators.implicit_gan import train
from generators.implicit_gan.data import TARGET_OFFSET

TINY = ["--preset", "tiny", "--threads", "1", "--no-progress"]


def _csv(path):
    rows = path.read_text().splitlines()
    return rows[0].split(","), [r.split(",") for r in rows[1:]]


def test_both_stages_train_checkpoint_and_resume(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # the data-set cache goes under ~/.cache
    monkeypatch.setattr("generators.data.procedural_set.DEFAULT_CACHE", tmp_path / "cache")
    monkeypatch.setattr("generators.implicit_gan.data.DEFAULT_CACHE", tmp_path / "cache")
    out = tmp_path / "run"
    train.main(["--out", str(out), "--ae-steps", "4", "--gan-steps", "0", *TINY])
    first = load_file(str(out / "checkpoint.safetensors"))
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["state"] == {"ae_step": 4, "gan_step": 0}
    head, rows = _csv(out / "losses_ae.csv")
    assert head[:2] == ["step", "loss"] and len(rows) == 4
    assert all(float(r[1]) == float(r[1]) and float(r[1]) < 1 for r in rows)  # finite

    # A killed run leaves log rows after its last checkpoint; the resumed log keeps each once.
    with open(out / "losses_ae.csv", "a") as f:
        f.write("5,0.5,0.5,0.1\n")
    # Resume: the autoencoder goes on from step 4, then the GAN stage runs on stored latents.
    train.main(["--out", str(out), "--ae-steps", "6", "--gan-steps", "3", *TINY])
    second = load_file(str(out / "checkpoint.safetensors"))
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["state"] == {"ae_step": 6, "gan_step": 3}
    assert [int(r[0]) for r in _csv(out / "losses_ae.csv")[1]] == [1, 2, 3, 4, 5, 6]
    assert second["latents.z"].shape == (12, 8)
    for prefix in ("dec.", "enc.", "g.", "d."):
        keys = [k for k in first if k.startswith(prefix) and first[k].is_floating_point()]
        assert any(not torch.equal(first[k], second[k]) for k in keys), prefix
    _, gan_rows = _csv(out / "losses_gan.csv")
    assert len(gan_rows) == 3 and all(abs(float(r[1])) < 1e6 for r in gan_rows)

    # Refining the decoder with the encoder frozen keeps the latents, and so the latent GAN.
    train.main(["--out", str(out), "--ae-steps", "8", "--gan-steps", "3", "--freeze-encoder",
                *TINY])
    third = load_file(str(out / "checkpoint.safetensors"))
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["state"] == {"ae_step": 8, "gan_step": 3}
    assert torch.equal(third["latents.z"], second["latents.z"])
    for k in third:
        if k.startswith(("enc.", "g.", "d.")):
            assert torch.equal(third[k], second[k]), k
    assert any(not torch.equal(third[k], second[k]) for k in third if k.startswith("dec."))


def test_batches_draw_half_their_points_near_the_surface():
    k = 64
    points = torch.rand(2, k, 3) - 0.5
    sdf = torch.cat([torch.full((2, k // 2), TARGET_OFFSET), torch.full((2, k // 2), 0.1)], 1)
    gen = torch.Generator().manual_seed(0)
    p, d = train.sample_batch(points, sdf, 10, gen)
    assert p.shape == (2, 10, 3) and d.shape == (2, 10) and p.dtype == torch.float32
    # the targets are the grown shape's (sdf - TARGET_OFFSET) at exactly the drawn points
    assert (d[:, :5] == 0).all() and torch.allclose(d[:, 5:], torch.tensor(0.1 - TARGET_OFFSET))
    for b in range(2):
        for j in range(10):
            assert (p[b, j] == points[b]).all(-1).any()


def test_a_resume_file_starts_a_new_run_where_the_old_one_was(tmp_path, monkeypatch):
    from generators.implicit_gan.export import save_resume

    monkeypatch.setattr("generators.implicit_gan.data.DEFAULT_CACHE", tmp_path / "cache")
    old, new = tmp_path / "old", tmp_path / "new"
    train.main(["--out", str(old), "--ae-steps", "2", "--gan-steps", "2", *TINY])
    save_resume(old, tmp_path / "resume.safetensors")
    assert "latents.z" not in load_file(str(tmp_path / "resume.safetensors"))
    train.main(["--out", str(new), "--ae-steps", "4", "--gan-steps", "1",
                "--init-from", str(tmp_path / "resume.safetensors"), *TINY])
    cfg = json.loads((new / "config.json").read_text())
    assert cfg["state"] == {"ae_step": 4, "gan_step": 1}
    assert [r[0] for r in _csv(new / "losses_ae.csv")[1]] == ["3", "4"]
    # a resume file names its networks' sizes: another architecture is refused by name
    with pytest.raises(SystemExit, match="--dec-hidden"):
        train.main(["--out", str(tmp_path / "other"), "--ae-steps", "4", "--gan-steps", "0",
                    "--init-from", str(tmp_path / "resume.safetensors"), *TINY,
                    "--dec-hidden", "24,24"])


def test_export_writes_a_model_dir_or_the_shipped_weights_only_when_asked(tmp_path,
                                                                          monkeypatch):
    from generators.implicit_gan import export
    from generators.implicit_gan.generator import ImplicitGanGenerator

    monkeypatch.setattr("generators.implicit_gan.data.DEFAULT_CACHE", tmp_path / "cache")
    run = tmp_path / "runs" / "blobs"
    train.main(["--out", str(run), "--ae-steps", "2", "--gan-steps", "0", *TINY])
    with pytest.raises(SystemExit, match="no latent-GAN steps"):
        export.main(["--run", str(run), "--out-dir", str(tmp_path / "models")])
    train.main(["--out", str(run), "--ae-steps", "2", "--gan-steps", "2", "--max-minutes",
                "1e-6", *TINY])  # the minute budget stops the GAN stage after one step
    assert json.loads((run / "config.json").read_text())["state"]["gan_step"] == 1
    assert export.main(["--run", str(run), "--out-dir", str(tmp_path / "models")]) == 0
    folder = tmp_path / "models" / "blobs"
    meta = json.loads((folder / "blobs.json").read_text())
    assert meta["family"] == "implicit-gan" and meta["model"] == "blobs"
    assert meta["training"]["ae_steps"] == 2 and meta["training"]["gan_steps"] == 1
    assert meta["training"]["gan_seconds"] >= 0 and meta["extent_m"]["chair"] > 0.5
    gen = ImplicitGanGenerator(weights=folder / "blobs.safetensors", config=folder / "blobs.json",
                               name="blobs")
    assert gen.categories == tuple(meta["categories"])
