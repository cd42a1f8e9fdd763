"""Config dataclasses as command lines: one flag per field, help from comments, presets."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from generators.training import config as C


@dataclass
class Toy:
    steps: int = 10  # how many steps: ten is enough

    # a comment block after a blank line is nobody's help
    channels: tuple[int, ...] = (8, 4)  # widths, fine to
    # a continuation line
    sn: bool = True  # spectral norm
    shift: bool = False  # roll fakes
    loss: str = field(default="hinge", metadata={"choices": ("hinge", "wgan-gp"),
                                                 "help": "D's loss"})
    data: str | None = None  # a data file
    lr: float = 2e-4  # learning rate, x0.2 after 70 % of the steps

    def __post_init__(self):
        if self.steps < 0:
            raise ValueError(f"--steps must be >= 0, got {self.steps}")


PRESETS = {"shipped": {}, "tiny": {"steps": 2, "channels": (2, 2)}}


def test_each_field_is_a_flag_with_its_default_and_comment():
    cfg = C.parse(Toy, [], PRESETS, "toy")
    assert cfg == Toy()
    cfg = C.parse(Toy, ["--steps", "3", "--channels", "16,8,4", "--no-sn", "--shift", "--loss",
                        "wgan-gp", "--data", "x.npz", "--lr", "1e-3"], PRESETS, "toy")
    assert cfg == Toy(3, (16, 8, 4), False, True, "wgan-gp", "x.npz", 1e-3)
    comments = C.field_comments(Toy)
    assert comments["steps"] == "how many steps: ten is enough"
    assert comments["channels"] == "widths, fine to a continuation line"
    assert "blank line" not in " ".join(comments.values())


def test_help_shows_comments_and_defaults(capsys):
    with pytest.raises(SystemExit):
        C.parse(Toy, ["-h"], PRESETS, "toy")
    text = " ".join(capsys.readouterr().out.split())
    assert "how many steps: ten is enough (default 10)" in text
    assert "--no-sn" in text and "--shift" in text and "D's loss" in text
    assert "(default 8,4)" in text and "after 70 % of the steps" in text


def test_presets_set_defaults_that_flags_override():
    assert C.parse(Toy, ["--preset", "tiny"], PRESETS, "toy") == Toy(steps=2, channels=(2, 2))
    assert C.parse(Toy, ["--preset", "tiny", "--steps", "5"], PRESETS, "toy").steps == 5


def test_refused_values_are_usage_errors_naming_them(capsys):
    for argv in (["--steps", "-1"], ["--loss", "l2"], ["--channels", "8,x"],
                 ["--preset", "huge"]):
        with pytest.raises(SystemExit) as err:
            C.parse(Toy, argv, PRESETS, "toy")
        assert err.value.code == 2
    assert "--steps must be >= 0" in capsys.readouterr().err


def test_dict_round_trip_through_json():
    cfg = Toy(channels=(3, 2, 1), data="d")
    d = json.loads(json.dumps(C.as_dict(cfg)))
    assert d["channels"] == [3, 2, 1]
    assert C.from_dict(Toy, d) == cfg
    with pytest.raises(ValueError, match="no fields"):
        C.from_dict(Toy, {**d, "mystery": 1})


@pytest.mark.parametrize("family", ["voxel_gan", "implicit_gan", "texture_gan"])
def test_every_family_config_is_a_command_line_whose_presets_parse(family, capsys):
    import importlib

    mod = importlib.import_module(f"generators.{family}.config")
    cls = next(v for k, v in vars(mod).items() if k.endswith("Config") and k != "RunOptions")
    with pytest.raises(SystemExit) as err:
        C.parse(cls, ["-h"], mod.PRESETS, family)
    assert err.value.code == 0 and "--out" in capsys.readouterr().out
    assert C.parse(cls, [], mod.PRESETS, family) == mod.SHIPPED
    for name in mod.PRESETS:
        cfg = C.parse(cls, ["--preset", name], mod.PRESETS, family)
        assert C.from_dict(cls, C.as_dict(cfg)) == cfg
