"""The shader's shapes, its composition, the critic, and the differentiable SSIM."""

from __future__ import annotations

import torch

from generators.neural_render.gbuffer import FULL, HALF
from generators.neural_render.model import NeuralShader, PatchCritic, compose
from generators.neural_render.shading import tonemap, tonemap_torch
from generators.neural_render.train import ssim


def test_the_shader_maps_a_gbuffer_to_nonnegative_shading_at_full_size():
    net = NeuralShader(widths=(4, 8, 8), mid_blocks=1)
    full, half = torch.randn(2, len(FULL), 64, 96), torch.randn(2, len(HALF), 32, 48)
    d, s = net(full, half)
    assert d.shape == s.shape == (2, 3, 64, 96)
    assert (d >= 0).all() and (s >= 0).all()
    again = NeuralShader(**net.config())
    again.load_state_dict(net.state_dict())
    assert torch.equal(again(full, half)[0], d)


def test_compose_is_diffuse_albedo_times_d_plus_f0_times_s_and_sky_elsewhere():
    full = torch.zeros(1, len(FULL), 16, 16)
    full[:, 0:3] = 0.5
    full[:, FULL.index("mask"), :8] = 1
    full[:, FULL.index("metal"), :, 8:] = 1  # the right half is metal
    bg = torch.full((1, 3, 16, 16), 0.7)
    out = compose(full, bg, torch.full((1, 3, 16, 16), 2.0), torch.full((1, 3, 16, 16), 0.1))
    assert torch.allclose(out[:, :, :8, :8], torch.tensor(0.5 * 2.0 + 0.04 * 0.1))
    assert torch.allclose(out[:, :, :8, 8:], torch.tensor(0.5 * 0.1))  # metal: no diffuse
    assert torch.allclose(out[:, :, 8:], torch.tensor(0.7))


def test_the_critic_scores_patches():
    D = PatchCritic(widths=(4, 8))
    full = torch.rand(2, len(FULL), 32, 32)
    assert D(PatchCritic.condition(full), torch.rand(2, 3, 32, 32)).shape == (2, 1, 8, 8)


def test_ssim_is_one_for_equal_images_and_drops_with_noise():
    torch.manual_seed(0)
    a = torch.rand(1, 3, 48, 48)
    assert abs(float(ssim(a, a)) - 1) < 1e-5
    assert float(ssim(a, (a + 0.2 * torch.randn_like(a)).clamp(0, 1))) < 0.9


def test_the_torch_tone_map_is_the_numpy_one():
    x = torch.linspace(0, 8, 200).reshape(1, 200)
    assert torch.allclose(tonemap_torch(x), torch.from_numpy(tonemap(x.numpy())), atol=1e-5)
