"""texture-gan networks: shapes, exact tiling from circular padding, periodic latent."""

from __future__ import annotations

import math

import pytest
import torch

from generators.texture_gan.model import (
    OUT_CHANNELS,
    UPSAMPLE,
    TextureDiscriminator,
    TextureGenerator,
)

TINY = {"n_classes": 3, "local_dim": 4, "global_dim": 4, "periodic_dim": 2,
        "channels": (16, 12, 8, 8)}


def _g() -> TextureGenerator:
    torch.manual_seed(0)
    return TextureGenerator(**TINY).eval()


def test_any_grid_gives_16x_the_pixels_in_range():
    G = _g()
    for grid in (4, 5, 8):
        z = G.sample_noise(2, grid)
        assert [t.shape[-1] for t in z[2:]] == [2 * grid, 4 * grid, 8 * grid]
        with torch.no_grad():
            x = G(torch.tensor([0, 2]), *z)
        assert x.shape == (2, OUT_CHANNELS, UPSAMPLE * grid, UPSAMPLE * grid)
        assert x.abs().max() <= 1


@pytest.mark.parametrize("blocks", [0, 2])
def test_rolling_the_latent_rolls_the_image_so_it_tiles(blocks):
    torch.manual_seed(0)
    G = TextureGenerator(**TINY, blocks=blocks).eval()
    for block in G.blocks:  # trained blocks are not the identity they start as
        torch.nn.init.normal_(block.conv2.weight, std=0.1)
    noise, phase, *stage = G.sample_noise(1, 6, torch.Generator().manual_seed(3))
    lab = torch.tensor([1])
    with torch.no_grad():
        x = G(lab, noise, phase, *stage)
        # A roll of the local noise by whole cells (and of each stage's noise by as many of its
        # pixels) is a roll of the image by 16 pixels per cell, and the periodic part moves
        # with it as a phase shift of k . (2, 1).
        k = G.wave_vectors(lab, (6, 6))[0]  # [P, 2]
        shifted = phase - (k[:, 0] * 2 + k[:, 1] * 1)[None]
        rolled = [torch.roll(n, (2 << i, 1 << i), dims=(2, 3)) for i, n in enumerate(stage, 1)]
        y = G(lab, torch.roll(noise, (2, 1), dims=(2, 3)), shifted, *rolled)
    assert torch.allclose(y, torch.roll(x, (32, 16), dims=(2, 3)), atol=1e-5)


def test_wave_vectors_are_whole_periods_per_grid():
    G = _g()
    k = G.wave_vectors(torch.tensor([0, 1, 2]), (8, 4))
    periods = k * torch.tensor([8, 4]) / (2 * math.pi)
    assert torch.allclose(periods, periods.round(), atol=1e-4)


def test_samples_do_not_depend_on_their_batch():
    G = _g()
    z = G.sample_noise(3, 4)
    lab = torch.tensor([0, 1, 2])
    with torch.no_grad():
        both = G(lab, *z)
        one = G(lab[1:2], *(t[1:2] for t in z))
    assert torch.allclose(both[1:2], one, atol=1e-6)


def test_discriminator_scores_each_patch():
    D = TextureDiscriminator(3, (8, 8, 16, 16))
    s = D(torch.randn(2, OUT_CHANNELS, 64, 96), torch.tensor([0, 2]))
    assert s.shape == (2, 4, 6)
    assert D.config() == {"n_classes": 3, "channels": [8, 8, 16, 16], "sn": True}
    assert TextureGenerator(**TINY).config()["channels"] == [16, 12, 8, 8]


def test_latent_blocks_start_as_a_pass_through_and_are_part_of_the_config():
    torch.manual_seed(0)
    G = TextureGenerator(**TINY, blocks=3)
    assert G.config()["blocks"] == 3 and len(G.blocks) == 3
    assert TextureGenerator(**G.config()).config() == G.config()
    h = torch.randn(1, 16, 4, 4).abs()  # the head's output after its leaky ReLU, positive part
    assert torch.allclose(G.blocks(h), h)
    with pytest.raises(ValueError, match="blocks"):
        TextureGenerator(**TINY, blocks=-1)
