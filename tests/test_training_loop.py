"""The training loop: logging under a configured root logger, checkpoints, resume after a
kill, the minute budget, previews. A toy family: one linear layer fitted to a target."""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from generators.training import loop
from generators.training import run as R


class Lin(nn.Linear):
    def __init__(self):
        super().__init__(2, 1)

    def config(self) -> dict:
        return {}


@dataclass
class ToyConfig(loop.RunOptions):
    steps: int = 6  # steps to train
    ckpt_every: int = 2  # checkpoint every two steps


def _session(out: Path, cfg: ToyConfig) -> loop.Session:
    net = Lin()
    return loop.Session(out, cfg, {"net": net}, {"net": torch.optim.SGD(net.parameters(), 0.1)},
                        {"step": 0}, meta={"family": "toy"})


def _stage(session: loop.Session, calls: list[int], previews: list[int], total: int):
    net, opt = session.nets["net"], session.opts["net"]

    def step(s: int) -> dict:
        calls.append(s)
        x = torch.randn(8, 2)
        loss = (net(x) - x.sum(1, keepdim=True)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss, "extra": None}

    return loop.Stage("toy", "step", total, step, "losses.csv", ("loss", "extra"),
                      session.config.ckpt_every, preview_every=4,
                      preview=lambda: previews.append(session.state["step"]))


def _rows(out: Path) -> list[dict]:
    with (out / "losses.csv").open() as f:
        return list(csv.DictReader(f))


def _train(out: Path, cfg: ToyConfig, calls=None, previews=None) -> tuple[loop.Session, bool]:
    session = _session(out, cfg)
    session.resume({"losses.csv": "step"})
    done = session.train(_stage(session, [] if calls is None else calls,
                                [] if previews is None else previews, cfg.steps))
    return session, done


def test_runs_checkpoints_previews_and_logs_each_step(tmp_path):
    previews: list[int] = []
    session, done = _train(tmp_path, ToyConfig(steps=6, progress=False), previews=previews)
    assert done and session.state == {"step": 6}
    rows = _rows(tmp_path)
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    assert all(r["extra"] == "" and float(r["loss"]) >= 0 for r in rows)
    assert previews == [4, 6]  # every preview_every, and at the end
    cfg = R.read_config(tmp_path)
    assert cfg["family"] == "toy" and cfg["config"]["steps"] == 6 and cfg["state"]["step"] == 6


def test_a_killed_run_resumes_from_its_checkpoint_with_each_step_logged_once(tmp_path):
    _train(tmp_path, ToyConfig(steps=4, progress=False))
    with (tmp_path / "losses.csv").open("a") as f:  # killed after logging step 5, before step 6
        f.write("5,0.1,,0.01\n")
    calls: list[int] = []
    _train(tmp_path, ToyConfig(steps=6, progress=False), calls)
    assert calls == [4, 5]  # went on from the checkpoint at 4, not from 5 or 0
    assert [int(r["step"]) for r in _rows(tmp_path)] == [1, 2, 3, 4, 5, 6]


def test_resume_gives_the_weights_one_long_run_gives(tmp_path):
    torch.manual_seed(0)
    whole, _ = _train(tmp_path / "whole", ToyConfig(steps=4, progress=False))
    torch.manual_seed(0)
    _train(tmp_path / "split", ToyConfig(steps=2, progress=False))
    torch.manual_seed(123)  # the resumed run restores the RNG state of its checkpoint
    split, _ = _train(tmp_path / "split", ToyConfig(steps=4, progress=False))
    assert torch.allclose(whole.nets["net"].weight, split.nets["net"].weight)


def test_max_minutes_checkpoints_and_stops_cleanly(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    previews: list[int] = []
    session, done = _train(tmp_path, ToyConfig(steps=1000, ckpt_every=1000, max_minutes=1e-6,
                                               progress=False), previews=previews)
    assert not done and 1 <= session.state["step"] < 1000
    assert R.read_config(tmp_path)["state"]["step"] == session.state["step"]  # checkpointed
    assert previews == [session.state["step"]]
    assert "--max-minutes 1e-06 spent" in caplog.text


def test_train_log_is_written_when_the_root_logger_was_configured_first(tmp_path):
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        root.handlers.clear()
        logging.basicConfig(level=logging.WARNING)  # what the vitrine CLI did first
        with loop.setup_run(tmp_path / "run") as device:
            assert device.type in ("cpu", "cuda")
            logging.getLogger("generators.some.trainer").info("step 1 done")
        assert "step 1 done" in (tmp_path / "run" / "train.log").read_text()
        assert root.level == logging.WARNING  # put back
        assert len(root.handlers) == 1  # the file handler went away with the run
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def test_main_parses_the_config_and_trains_inside_the_run(tmp_path):
    seen = []

    def train(cfg, device):
        seen.append(cfg)
        logging.getLogger("toy").info("training %d steps", cfg.steps)

    assert loop.main(ToyConfig, {"shipped": {}}, train, ["--out", str(tmp_path), "--steps",
                                                        "3"], "toy", "Toy.\n") == 0
    assert seen == [ToyConfig(out=str(tmp_path), steps=3)]
    assert "training 3 steps" in (tmp_path / "train.log").read_text()
