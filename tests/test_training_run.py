"""The run directory: save and resume, log trimming, records, fp16 resume files."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from generators.training import run as R


class Toy(nn.Linear):
    def __init__(self, n_in: int = 3, n_out: int = 2):
        super().__init__(n_in, n_out)
        self.kw = {"n_in": n_in, "n_out": n_out}

    def config(self) -> dict:
        return dict(self.kw)


def _nets(width=2):
    torch.manual_seed(0)
    g, d = Toy(3, width), Toy(width, 1)
    return {"g": g, "d": d}, {"g": torch.optim.Adam(g.parameters(), 1e-2)}


def _train(nets, opts):
    loss = nets["d"](nets["g"](torch.randn(4, 3))).pow(2).mean()
    loss.backward()
    opts["g"].step()


def test_save_then_resume_puts_everything_back(tmp_path):
    nets, opts = _nets()
    _train(nets, opts)
    data_rng = torch.Generator().manual_seed(5)
    R.save(tmp_path, nets, opts, {"step": 7}, {"family": "toy", "categories": ["a"]},
           tensors={"latents.z": torch.ones(3)}, generators={"data": data_rng})
    cfg = json.loads((tmp_path / R.CONFIG).read_text())
    assert cfg["state"] == {"step": 7} and cfg["categories"] == ["a"]
    assert cfg["networks"] == {"g": {"n_in": 3, "n_out": 2}, "d": {"n_in": 2, "n_out": 1}}
    assert set(load_file(str(tmp_path / R.CHECKPOINT))) >= {"g.weight", "d.bias", "latents.z"}
    expected = torch.rand(1), torch.rand(1, generator=data_rng)
    fresh, fresh_opts = _nets()
    with torch.no_grad():
        fresh["g"].weight.zero_()
    other_rng = torch.Generator().manual_seed(99)
    state, extra = R.resume(tmp_path, fresh, fresh_opts, generators={"data": other_rng})
    assert state == {"step": 7} and torch.equal(extra["latents.z"], torch.ones(3))
    assert torch.equal(fresh["g"].weight, nets["g"].weight)
    assert fresh_opts["g"].state_dict()["state"][0]["step"] == 1
    assert (torch.rand(1), torch.rand(1, generator=other_rng)) == expected  # RNGs restored
    assert not list(tmp_path.glob("*.tmp"))  # atomic writes leave no temporaries


def test_resume_trims_rows_a_killed_run_logged_after_its_checkpoint(tmp_path):
    nets, opts = _nets()
    R.save(tmp_path, nets, opts, {"step": 2}, {})
    (tmp_path / "losses.csv").write_text("step,loss,sec_per_step\n1,0.5,0.1\n2,0.4,0.1\n"
                                         "3,0.3,0.1\n4,0.2")  # step 4 cut off mid-line
    R.resume(tmp_path, *_nets(), logs={"losses.csv": "step"})
    assert (tmp_path / "losses.csv").read_text() == "step,loss,sec_per_step\n1,0.5,0.1\n2,0.4,0.1\n"


def test_another_configuration_in_the_directory_is_refused(tmp_path):
    R.save(tmp_path, *_nets(), {"step": 1}, {})
    with pytest.raises(R.RunError, match="another configuration"):
        R.resume(tmp_path, *_nets(width=4))


def test_training_record_sums_the_log_up_to_the_checkpoint(tmp_path):
    nets, opts = _nets()
    R.save(tmp_path, nets, opts, {"ae_step": 2, "step": 3},
           {"config": {"lr": 1}, "data": "x.npz", "seconds": {"step": 9.0}})
    (tmp_path / "losses_ae.csv").write_text("step,sec_per_step\n1,1.5\n2,2.0\n3,9\n")
    rec = R.training_record(tmp_path, {"losses_ae.csv": "ae_step", "losses.csv": "step"},
                            keep=("data",))
    assert rec["ae_steps"] == 2 and rec["ae_seconds"] == 3.5
    assert rec["steps"] == 3 and rec["train_seconds"] == 9.0  # no log: the run's own record
    assert rec["config"] == {"lr": 1} and rec["data"] == "x.npz"
    assert rec["networks"]["g"] == {"n_in": 3, "n_out": 2}


def test_load_network_builds_from_the_recorded_arguments(tmp_path):
    nets, opts = _nets(width=5)
    R.save(tmp_path, {**nets, "ema": copy.deepcopy(nets["g"])}, opts, {"step": 1}, {})
    g = R.load_network(tmp_path, Toy)
    assert g.config() == {"n_in": 3, "n_out": 5} and not g.training
    assert torch.equal(g.weight, nets["g"].weight)
    with pytest.raises(R.RunError, match="not a training run"):
        R.read_config(tmp_path / "nowhere")
    assert "vitrine train toy --out" in R.missing(tmp_path / "nowhere", "toy")
    assert R.missing(tmp_path, "toy") is None


def test_a_fp16_resume_file_starts_a_new_run(tmp_path):
    nets, opts = _nets()
    R.save(tmp_path / "a", nets, opts, {"step": 4}, {}, tensors={"latents.z": torch.ones(2)})
    R.save_resume(tmp_path / "a", tmp_path / "r.safetensors", skip=("latents.",))
    t = load_file(str(tmp_path / "r.safetensors"))
    assert "latents.z" not in t and t["g.weight"].dtype == torch.float16
    fresh, _ = _nets()
    with torch.no_grad():
        fresh["g"].weight.zero_()
    assert R.init_from(tmp_path / "r.safetensors", fresh, "pass --width") == {"step": 4}
    assert torch.allclose(fresh["g"].weight, nets["g"].weight, atol=1e-3)
    with pytest.raises(R.RunError, match="pass --width"):
        R.init_from(tmp_path / "r.safetensors", _nets(width=3)[0], "pass --width")
    with pytest.raises(R.RunError, match="does not exist"):
        R.init_from(tmp_path / "missing.safetensors", fresh, "")


def test_resume_files_of_the_older_format_still_load(tmp_path):
    nets, _ = _nets()
    tensors = {f"{p}.{k}": v.half() for p, m in nets.items() for k, v in m.state_dict().items()}
    save_file(tensors, str(tmp_path / "old.safetensors"), metadata={"step": "6000"})
    assert R.init_from(tmp_path / "old.safetensors", _nets()[0], "") == {"step": 6000}


def test_runs_of_the_older_trainers_still_read_and_resume(tmp_path):
    nets, opts = _nets()
    R.save(tmp_path, nets, opts, {"step": 3}, {})
    (tmp_path / R.CONFIG).write_text(json.dumps({  # what the trainers wrote before
        "generator": nets["g"].config(), "discriminator": nets["d"].config(), "step": 3,
        "categories": ["a"], "args": {"lr": 1}, "train_seconds": 4.5}))
    blob = torch.load(tmp_path / R.OPTIM, weights_only=True)
    torch.save({"opt_g": blob["opt.g"], "step": 3, "rng": blob["rng"]}, tmp_path / R.OPTIM)
    cfg = R.read_config(tmp_path)
    assert cfg["state"] == {"step": 3} and cfg["config"] == {"lr": 1}
    assert cfg["networks"]["ema"] == cfg["networks"]["g"] == {"n_in": 3, "n_out": 2}
    assert R.training_record(tmp_path)["train_seconds"] == 4.5
    state, _ = R.resume(tmp_path, *_nets())
    assert state == {"step": 3}
