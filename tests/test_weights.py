"""Shipped-weights files: fp16 round trip, and refusal of every kind of damage."""

import json

import pytest
import torch
from torch import nn

from generators.core.errors import ModelLoadError
from generators.core.weights import load_network, write_weights


class Tiny(nn.Module):
    def __init__(self, width: int = 3):
        super().__init__()
        self.lin = nn.Linear(width, 2)


@pytest.fixture
def files(tmp_path):
    torch.manual_seed(0)
    net = Tiny(3)
    w, c = tmp_path / "tiny.safetensors", tmp_path / "tiny.json"
    meta = write_weights(net, {"generator": {"width": 3}, "labels": ["a", "b"]}, w, c)
    return net, w, c, meta


def test_round_trip_is_fp16_and_records_the_digest(files):
    net, w, c, meta = files
    assert meta["dtype"] == "float16" and json.loads(c.read_text())["sha256"] == meta["sha256"]
    loaded, cfg = load_network("tiny", Tiny, w, c, "make tiny", required=("labels",))
    assert not loaded.training and cfg["labels"] == ["a", "b"]
    assert torch.allclose(loaded.lin.weight, net.lin.weight, atol=1e-3)  # fp16 rounding only


def test_missing_file_names_the_rebuild_command(files):
    _, w, c, _ = files
    w.unlink()
    with pytest.raises(ModelLoadError, match=r"tiny: .*missing; rebuild it with `make tiny`"):
        load_network("tiny", Tiny, w, c, "make tiny")


def test_altered_bytes_are_refused(files):
    _, w, c, _ = files
    blob = bytearray(w.read_bytes())
    blob[-3] ^= 0x01
    w.write_bytes(bytes(blob))
    with pytest.raises(ModelLoadError, match="corrupt"):
        load_network("tiny", Tiny, w, c, "make tiny")


def test_a_config_without_a_required_key_is_refused(files):
    _, w, c, _ = files
    with pytest.raises(ModelLoadError, match="not a valid config.*'categories'"):
        load_network("tiny", Tiny, w, c, "make tiny", required=("categories",))


def test_weights_of_another_shape_are_refused(files):
    _, w, c, _ = files
    cfg = json.loads(c.read_text())
    cfg["generator"]["width"] = 5  # the digest still matches; the tensors do not fit
    c.write_text(json.dumps(cfg))
    with pytest.raises(ModelLoadError, match=r"does not load into Tiny\(\{'width': 5\}\)"):
        load_network("tiny", Tiny, w, c, "make tiny")
