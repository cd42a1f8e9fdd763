"""The implicit GAN's networks: shapes, ranges, and the folded decoder the server runs."""

from __future__ import annotations

import pytest
import torch

from generators.implicit_gan.model import (
    OUT_SCALE,
    ImplicitDecoder,
    ImplicitGan,
    LatentCritic,
    LatentGenerator,
    ShapeEncoder,
    serving_dtype,
)


def test_encoder_maps_different_grids_to_different_latents():
    enc = ShapeEncoder(z_dim=16, channels=(4, 8, 8, 8), res=64)
    z = enc(torch.randn(3, 1, 64, 64, 64) * 0.05)
    assert z.shape == (3, 16) and torch.isfinite(z).all()
    assert (z[0] - z[1]).abs().max() > 1e-3


def test_encoder_rejects_a_mismatched_resolution():
    with pytest.raises(ValueError, match="stages"):
        ShapeEncoder(res=48)


def test_bound_decoder_is_the_decoder_for_that_latent():
    torch.manual_seed(0)
    dec = ImplicitDecoder(z_dim=8, hidden=(16, 16, 8), n_freq=2)
    z = torch.randn(2, 8)
    p = torch.rand(2, 50, 3) - 0.5
    full = dec(p, z)
    assert full.shape == (2, 50) and full.abs().max() <= OUT_SCALE
    for i in range(2):
        assert torch.allclose(dec.bind(z[i], torch.float32)(p[i]), full[i], atol=1e-6)
        # bfloat16 products (the serving default on CPUs with native bfloat16) stay close
        assert torch.allclose(dec.bind(z[i], torch.bfloat16)(p[i]), full[i], atol=2e-3)
    assert not torch.allclose(full[0], dec(p[:1], z[1:]))  # the latent changes the field


def test_bound_decoder_in_chunks_is_the_whole_pass(monkeypatch):
    torch.manual_seed(0)
    dec = ImplicitDecoder(z_dim=8, hidden=(16, 16), n_freq=2)
    f = dec.bind(torch.randn(8), torch.float32)
    p = torch.rand(1000, 3) - 0.5
    whole = f(p)
    monkeypatch.setattr("generators.implicit_gan.model.CHUNK", 64)
    chunked = f(p)
    assert chunked.shape == (1000,) and torch.allclose(chunked, whole, atol=1e-6)


def test_latent_gan_shapes_and_conditioning():
    G = LatentGenerator(noise_dim=8, z_dim=16, n_classes=3, hidden=(32,))
    D = LatentCritic(z_dim=16, n_classes=3, hidden=(32,))
    z = G(torch.randn(4, 8), torch.tensor([0, 1, 2, 0]))
    assert z.shape == (4, 16) and torch.isfinite(z).all()
    assert D(z, torch.tensor([0, 1, 2, 0])).shape == (4,)


def test_shipped_bundle_round_trips_its_config():
    net = ImplicitGan({"z_dim": 8, "hidden": [16, 8], "n_freq": 1},
                      {"noise_dim": 4, "z_dim": 8, "n_classes": 2, "hidden": [16],
                       "embed_dim": 4})
    again = ImplicitGan(**net.config())
    again.load_state_dict(net.state_dict())
    assert again.config() == net.config()


def test_serving_precision_can_be_chosen(monkeypatch):
    monkeypatch.setenv("VITRINE_DECODER_DTYPE", "float32")
    assert serving_dtype() is torch.float32
    assert ImplicitDecoder(z_dim=4, hidden=(8,), n_freq=1).bind(torch.zeros(4)).dtype is torch.float32
    monkeypatch.setenv("VITRINE_DECODER_DTYPE", "bfloat16")
    assert serving_dtype() is torch.bfloat16
    monkeypatch.setenv("VITRINE_DECODER_DTYPE", "half")
    with pytest.raises(ValueError, match="float32 or bfloat16"):
        serving_dtype()
