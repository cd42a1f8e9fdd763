"""texture-gan training: steps move the weights with finite losses; checkpoints resume; the
minute budget stops cleanly; previews are written. Tiny networks on 64-pixel crops."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from generators.texture_gan import train

TINY = ["--preset", "tiny", "--threads", "1", "--no-progress"]


def _run(out, *extra):
    assert train.main(["--out", str(out), *TINY, *extra]) == 0
    return load_file(str(out / "checkpoint.safetensors")), json.loads(
        (out / "config.json").read_text())


def _losses(out):
    with (out / "losses.csv").open() as f:
        return list(csv.DictReader(f))


def test_steps_change_weights_and_losses_are_finite(tmp_path):
    a, _ = _run(tmp_path / "a", "--steps", "1", "--ckpt-every", "1", "--preview-every", "0")
    b, cfg = _run(tmp_path / "b", "--steps", "4", "--ckpt-every", "4", "--preview-every", "4",
                  "--r1", "1", "--r1-every", "2", "--mode-seeking", "0.2")
    assert cfg["state"]["step"] == 4 and cfg["materials"] == ["marble", "brick"]
    moved = [k for k in a if k.startswith("g.") and not torch.equal(a[k], b[k])]
    assert moved, "four steps left every generator weight where one step put it"
    rows = _losses(tmp_path / "b")
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    assert all(np.isfinite(float(r[c])) for r in rows for c in ("loss_d", "loss_g"))
    assert [r["r1"] != "" for r in rows] == [True, False, True, False]  # lazy R1, every 2nd
    assert all(np.isfinite(float(r["r1"])) for r in rows if r["r1"])
    for name in ("samples.png", "loss_curve.png", "train.log", "optim.pt"):
        assert (tmp_path / "b" / name).is_file()


def test_resume_continues_where_one_long_run_would_be(tmp_path):
    whole, _ = _run(tmp_path / "whole", "--steps", "4", "--ckpt-every", "2", "--preview-every",
                    "0")
    _run(tmp_path / "split", "--steps", "2", "--ckpt-every", "2", "--preview-every", "0")
    split, cfg = _run(tmp_path / "split", "--steps", "4", "--ckpt-every", "2", "--preview-every",
                      "0")
    assert cfg["state"]["step"] == 4
    assert all(torch.allclose(whole[k], split[k], atol=1e-5) for k in whole)
    assert [int(r["step"]) for r in _losses(tmp_path / "split")] == [1, 2, 3, 4]


def test_losses_logged_after_the_last_checkpoint_are_dropped_on_resume(tmp_path):
    out = tmp_path / "run"
    _run(out, "--steps", "2", "--ckpt-every", "2", "--preview-every", "0")
    with (out / "losses.csv").open("a") as f:  # a killed run logged step 3 but never saved it
        f.write("3,1,1,1,1,0,0.1\n")
    _run(out, "--steps", "3", "--ckpt-every", "2", "--preview-every", "0")
    assert [int(r["step"]) for r in _losses(out)] == [1, 2, 3]


def test_minute_budget_checkpoints_and_exits(tmp_path):
    _, cfg = _run(tmp_path / "b", "--steps", "1000", "--ckpt-every", "1000", "--max-minutes",
                  "0.0001", "--preview-every", "0")
    assert 1 <= cfg["state"]["step"] < 1000
    assert cfg["seconds"]["step"] >= 0


def test_another_configuration_in_the_same_directory_is_refused(tmp_path):
    _run(tmp_path / "r", "--steps", "1", "--ckpt-every", "1", "--preview-every", "0")
    with pytest.raises(SystemExit, match="another configuration"):
        train.main(["--out", str(tmp_path / "r"), *TINY, "--steps", "2", "--g-channels",
                    "8,8,8,4"])


def test_random_roll_moves_the_texture_on_its_torus():
    x = torch.arange(2 * 5 * 16 * 16, dtype=torch.float32).view(2, 5, 16, 16)
    torch.manual_seed(1)
    y = train.random_roll(x)
    assert not torch.equal(x, y)
    hits = [(dy, dx) for dy in range(16) for dx in range(16)
            if torch.equal(torch.roll(x, (dy, dx), dims=(2, 3)), y)]
    assert len(hits) == 1  # one whole-batch roll, nothing else changed


def test_snapshots_keep_the_ema_of_every_nth_step_and_evaluate(tmp_path):
    from generators.texture_gan.evaluate import generator_from_run

    _, cfg = _run(tmp_path / "r", "--steps", "4", "--ckpt-every", "1", "--snapshot-every", "2",
                  "--preview-every", "0")
    snaps = sorted(int(p.name) for p in (tmp_path / "r" / "snapshots").iterdir())
    assert snaps == [2, 4]
    _, snap_cfg = generator_from_run(tmp_path / "r" / "snapshots" / "2")
    assert snap_cfg["state"]["step"] == 2 and snap_cfg["networks"] == cfg["networks"]
    final = load_file(str(tmp_path / "r" / "checkpoint.safetensors"))
    four = load_file(str(tmp_path / "r" / "snapshots" / "4" / "checkpoint.safetensors"))
    assert set(four) == {k for k in final if k.startswith("ema.")}
    assert all(torch.equal(four[k], final[k]) for k in four)
    with pytest.raises(SystemExit):
        train.parse_args(["--ckpt-every", "3", "--snapshot-every", "4"])


def test_stationarity_penalty_sees_a_cell_grid_and_not_noise():
    torch.manual_seed(0)
    noise = torch.rand(2, 5, 64, 64)
    grid = noise.clone()
    grid[..., ::16] += 1.0  # a line every 16 pixels: steps at two cell positions much larger
    assert train.stationarity_penalty(noise) < 0.01
    assert train.stationarity_penalty(grid) > 10 * train.stationarity_penalty(noise)
    prof = train.cell_step_profile(grid)
    assert prof.shape == (2, 5, 16) and torch.allclose(prof.mean(-1), torch.ones(2, 5))
    assert int(prof[1, 0].argmax()) in (0, 15)  # columns: the steps into and out of the line


def test_allowance_frees_a_material_whose_real_texture_repeats_every_16_pixels():
    torch.manual_seed(0)
    noise = torch.rand(1, 5, 128, 128) * 0.1
    weave = noise.clone()
    weave[..., 3::16, :] += 1.0  # a 16-px period, at some offset from the grid
    weave[..., :, 9::16] += 1.0
    allowance = train.profile_allowance([noise, weave])
    assert allowance[0] < 0.01 and allowance[1] > 0.3
    # G's fakes: the noise material drew a weave too, the weave material drew its weave.
    fakes = torch.cat([weave, weave])
    labels = torch.tensor([0, 1])
    penalty = train.stationarity_penalty(fakes, labels, allowance)
    alone = train.stationarity_penalty(weave)
    assert torch.isclose(penalty, (alone - allowance[0]) / 2)  # material 1's term is 0
    assert train.stationarity_penalty(weave, torch.tensor([1]), allowance) == 0
    assert train.stationarity_penalty(weave, torch.tensor([0]), allowance) > 0.3
    # Without an allowance the weave pays as any grid would.
    assert train.stationarity_penalty(fakes) > 0.3


def test_stationarity_allowance_runs_and_is_recorded(tmp_path):
    _, cfg = _run(tmp_path / "r", "--steps", "1", "--ckpt-every", "1", "--preview-every", "0",
                  "--stationarity", "1", "--stationarity-allowance")
    assert cfg["config"]["stationarity_allowance"] is True
    assert "stationarity allowance per material" in (tmp_path / "r" / "train.log").read_text()


def test_init_from_starts_g_from_another_run_and_d_warmup_holds_it(tmp_path):
    src, src_cfg = _run(tmp_path / "src", "--steps", "2", "--ckpt-every", "2",
                        "--preview-every", "0")
    ft, cfg = _run(tmp_path / "ft", "--steps", "2", "--ckpt-every", "2", "--preview-every", "0",
                   "--init-from", str(tmp_path / "src"), "--d-warmup", "2",
                   "--stationarity", "1")
    # Two warm-up steps trained D only: G and its EMA are still the source's EMA.
    assert all(torch.equal(ft["g." + k[4:]], v) and torch.equal(ft[k], v)
               for k, v in src.items() if k.startswith("ema."))
    assert cfg["init_from"]["steps"] == 2 and cfg["init_from"]["config"] == src_cfg["config"]
    assert [r["loss_g"] for r in _losses(tmp_path / "ft")] == ["", ""]  # G did not train
    _, cfg = _run(tmp_path / "ft", "--steps", "3", "--ckpt-every", "1", "--preview-every", "0",
                  "--init-from", str(tmp_path / "src"), "--d-warmup", "2",
                  "--stationarity", "1")
    assert cfg["state"]["step"] == 3 and float(_losses(tmp_path / "ft")[-1]["loss_g"]) != 0.0
    assert cfg["init_from"]["steps"] == 2  # kept when the fine-tune resumed
    with pytest.raises(SystemExit, match="init-from"):
        train.main(["--out", str(tmp_path / "other"), *TINY, "--steps", "1", "--g-channels",
                    "8,8,8,4", "--init-from", str(tmp_path / "src")])


def test_bad_crop_is_a_usage_error():
    with pytest.raises(SystemExit):
        train.parse_args(["--crop", "100"])


def test_the_bank_holds_brick_in_gs_frame():
    from generators.texture.exemplars import photo

    bank = train.exemplar_bank(("brick",), 512, 1)
    np.testing.assert_allclose(bank[0][0, 3].numpy(), photo("brick") * 2 - 1, atol=1e-6)


def test_spectrum_target_prefers_real_crops_and_has_a_gradient():
    bank = train.exemplar_bank(("brick", "fabric"), 128, 1)
    gen = torch.Generator().manual_seed(0)
    target = train.SpectrumTarget(bank, 64, gen, n=16)
    brick, _ = train.random_crops(bank[:1], 4, 64, gen)
    fabric, _ = train.random_crops(bank[1:], 4, 64, gen)
    lab = torch.zeros(4, dtype=torch.long)
    own, other = target.loss(brick, lab), target.loss(fabric, lab)
    noise = torch.rand(4, 5, 64, 64, requires_grad=True)
    wrong = target.loss(noise * 2 - 1, lab)
    assert own < 0.5 * other and own < 0.5 * wrong
    wrong.backward()
    assert noise.grad is not None and noise.grad.abs().sum() > 0


def test_structure_target_is_the_metrics_profile_and_prefers_real_crops():
    from generators.metrics.texture import power_spectrum, spectrum_profiles

    bank = train.exemplar_bank(("brick", "fabric"), 128, 1)
    gen = torch.Generator().manual_seed(0)
    target = train.StructureTarget(bank, 64, gen, n=16)
    brick, _ = train.random_crops(bank[:1], 4, 64, gen)
    radial, angular = target.profiles(brick)
    # the same shares as the evaluation's metric computes on the base colour's luma
    want = spectrum_profiles(power_spectrum(((brick[:, :3] + 1) / 2).permute(0, 2, 3, 1).numpy()))
    np.testing.assert_allclose(radial[0].numpy(), want[0], atol=1e-4)
    # (frequencies exactly on a 15-degree bin edge may fall either side: float rounding)
    np.testing.assert_allclose(angular[0].numpy(), want[1], atol=2e-3)
    fabric, _ = train.random_crops(bank[1:], 4, 64, gen)
    lab = torch.zeros(4, dtype=torch.long)
    own, other = target.loss(brick, lab), target.loss(fabric, lab)
    turned = target.loss(brick.transpose(-2, -1), lab)  # courses the other way
    noise = torch.rand(4, 5, 64, 64, requires_grad=True)
    wrong = target.loss(noise * 2 - 1, lab)
    assert own < 0.5 * other and own < 0.5 * wrong and own < 0.5 * turned
    wrong.backward()
    assert noise.grad is not None and noise.grad.abs().sum() > 0


def test_autocorr_target_sees_a_cell_lattice():
    bank = train.exemplar_bank(("gravel",), 128, 1)
    gen = torch.Generator().manual_seed(0)
    target = train.AutocorrTarget(bank, 64, gen, n=16, radius=16)
    real, _ = train.random_crops(bank, 4, 64, gen)
    lab = torch.zeros(4, dtype=torch.long)
    # the same crops with a 16-px stamp repeated over them: the lattice the shipped G drew
    stamp = real[:, :, :16, :16].repeat(1, 1, 4, 4)
    lattice = (0.5 * real + 0.5 * stamp).requires_grad_(True)
    own, bad = target.loss(real, lab), target.loss(lattice, lab)
    assert bad > 5 * own
    bad.backward()
    assert lattice.grad is not None and lattice.grad.abs().sum() > 0
    # a periodic image's circular autocorrelation is its non-wrapping one
    tile = real[:1, :1, :32, :32].repeat(1, 1, 2, 2)
    circ = target._window(target._circular(tile))
    np.testing.assert_allclose(circ[..., 16, 16].numpy(), 1.0, atol=1e-5)


def test_structure_term_runs_and_is_logged(tmp_path):
    _run(tmp_path / "s", "--steps", "2", "--ckpt-every", "1", "--preview-every", "0",
         "--d-warmup", "1", "--structure", "1", "--autocorr", "10")
    rows = _losses(tmp_path / "s")
    assert rows[0]["structure"] == "" and float(rows[1]["structure"]) > 0  # G's step only
    assert rows[0]["autocorr"] == "" and float(rows[1]["autocorr"]) > 0


def test_spectral_and_init_weights_run_and_are_recorded(tmp_path):
    from generators.texture_gan import export

    _run(tmp_path / "src", "--steps", "1", "--ckpt-every", "1", "--preview-every", "0")
    w, c = tmp_path / "w.safetensors", tmp_path / "w.json"
    meta = export.export(tmp_path / "src", w, c)
    args = ["--ckpt-every", "1", "--preview-every", "0", "--init-weights", str(w),
            "--d-warmup", "1", "--spectral", "1"]
    ft, cfg = _run(tmp_path / "ft", "--steps", "1", *args)
    assert cfg["init_from"]["sha256"] == meta["sha256"]
    exported = load_file(str(w))  # G after the D-only step: the exported (fp16) weights
    assert exported and all(torch.equal(ft["g." + k], v.float()) for k, v in exported.items())
    _, cfg = _run(tmp_path / "ft", "--steps", "2", *args)
    rows = _losses(tmp_path / "ft")
    assert rows[0]["spectral"] == "" and float(rows[1]["spectral"]) > 0  # G's step only
    assert cfg["init_from"]["sha256"] == meta["sha256"]  # kept when it resumed
