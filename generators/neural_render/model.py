"""The neural shader (Deep Shading family) and its PatchGAN critic (pix2pix family).

`NeuralShader` maps a G-buffer to shading. It is built for a CPU frame budget:
- it works at HALF resolution: the full-resolution channels are pixel-unshuffled (2 x 2
  blocks become channels) and joined by the half-resolution ray-cast channels, a small U-Net
  (three scales, 1/2, 1/4, 1/8 of the frame) runs there, and a pixel shuffle brings the output
  back to full resolution, so each output pixel still has its own value;
- it predicts shading, not colour: a diffuse irradiance D and a specular factor S (both
  linear RGB, >= 0), composed at full resolution as diffuse albedo * D + F0 * S (`compose`),
  so texture detail comes straight from the G-buffer and never has to pass through the
  network;
- 1 x 1 convolutions fuse skips and widen/narrow at the costly scale, 3 x 3 ones do the
  spatial work (about 0.5 GFLOP per 256 x 256 frame at the shipped widths).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from generators.neural_render.gbuffer import FULL, HALF


def _conv(cin: int, cout: int, k: int = 3, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride, k // 2)


class NeuralShader(nn.Module):
    def __init__(self,
                 full_channels: int = len(FULL),  # full-resolution G-buffer channels
                 half_channels: int = len(HALF),  # half-resolution ray-cast channels
                 widths: tuple[int, ...] = (16, 32, 48),  # U-Net widths at 1/2, 1/4, 1/8
                 mid_blocks: int = 2,  # 3 x 3 convolutions at 1/8 scale
                 ):
        super().__init__()
        self.full_channels, self.half_channels = full_channels, half_channels
        self.widths, self.mid_blocks = tuple(widths), mid_blocks
        c0, c1, c2 = self.widths
        self.inp = _conv(4 * full_channels + half_channels, c0, 1)
        self.enc0 = _conv(c0, c0)
        self.down1 = _conv(c0, c1, stride=2)
        self.enc1 = _conv(c1, c1)
        self.down2 = _conv(c1, c2, stride=2)
        self.mid = nn.ModuleList(_conv(c2, c2) for _ in range(mid_blocks))
        self.fuse1 = _conv(c2 + c1, c1, 1)
        self.dec1 = _conv(c1, c1)
        self.fuse0 = _conv(c1 + c0, c0, 1)
        self.dec0 = _conv(c0, c0)
        self.head = _conv(c0, 4 * 6, 1)  # 6 outputs (D, S) per pixel of each 2 x 2 block

    def config(self) -> dict:
        return {"full_channels": self.full_channels, "half_channels": self.half_channels,
                "widths": list(self.widths), "mid_blocks": self.mid_blocks}

    def forward(self, full: torch.Tensor, half: torch.Tensor) -> tuple[torch.Tensor,
                                                                      torch.Tensor]:
        """full [B, Cf, H, W], half [B, Ch, H/2, W/2] (H, W multiples of 16) -> (D, S), each
        [B, 3, H, W] linear and >= 0."""
        act = F.leaky_relu
        x = torch.cat([F.pixel_unshuffle(full, 2), half], 1)  # [B, 4Cf + Ch, H/2, W/2]
        e0 = act(self.enc0(act(self.inp(x), 0.1)), 0.1)  # [B, c0, H/2, W/2]
        e1 = act(self.enc1(act(self.down1(e0), 0.1)), 0.1)  # [B, c1, H/4, W/4]
        m = act(self.down2(e1), 0.1)  # [B, c2, H/8, W/8]
        for conv in self.mid:
            m = m + act(conv(m), 0.1)
        u = F.interpolate(m, scale_factor=2, mode="bilinear", align_corners=False)
        d1 = act(self.dec1(act(self.fuse1(torch.cat([u, e1], 1)), 0.1)), 0.1)  # H/4
        u = F.interpolate(d1, scale_factor=2, mode="bilinear", align_corners=False)
        d0 = act(self.dec0(act(self.fuse0(torch.cat([u, e0], 1)), 0.1)), 0.1)  # H/2
        # softplus before the shuffle (it commutes with it): on the contiguous head output it
        # costs 1 ms a 256 x 256 frame in bfloat16, on the shuffled slices 8 ms.
        out = F.pixel_shuffle(F.softplus(self.head(d0)), 2)  # [B, 6, H, W]
        return out[:, :3], out[:, 3:]


def compose(full: torch.Tensor, background: torch.Tensor, d: torch.Tensor,
            s: torch.Tensor) -> torch.Tensor:
    """Linear radiance [B, 3, H, W] on surfaces: diffuse albedo * D + F0 * S, where the diffuse
    albedo (albedo * (1 - metal)) and F0 (4 % for dielectrics, the albedo for metals) come
    from the full-resolution G-buffer, so every texel's colour reaches the picture unblurred;
    the sky elsewhere. (A free additive term let the first run paint blurred colour.)"""
    albedo = full[:, 0:3]
    m = FULL.index("metal")
    metal = full[:, m:m + 1]
    mask = full[:, FULL.index("mask"):FULL.index("mask") + 1]
    f0 = 0.04 * (1 - metal) + albedo * metal
    return mask * (albedo * (1 - metal) * d + f0 * s) + (1 - mask) * background


class PatchCritic(nn.Module):
    """pix2pix's conditional PatchGAN: (G-buffer material/normal/mask channels, picture) ->
    a realism score per ~34-pixel patch. Spectral norm keeps it Lipschitz (hinge loss)."""

    def __init__(self,
                 cond_channels: int = 7,  # albedo, normal, mask
                 widths: tuple[int, ...] = (32, 64, 96),  # stride-2 stages
                 ):
        super().__init__()
        self.cond_channels, self.widths = cond_channels, tuple(widths)
        sn = nn.utils.parametrizations.spectral_norm
        layers: list[nn.Module] = []
        cin = cond_channels + 3
        for w in self.widths:
            layers += [sn(nn.Conv2d(cin, w, 4, 2, 1)), nn.LeakyReLU(0.2)]
            cin = w
        layers.append(sn(nn.Conv2d(cin, 1, 3, 1, 1)))
        self.net = nn.Sequential(*layers)

    def config(self) -> dict:
        return {"cond_channels": self.cond_channels, "widths": list(self.widths)}

    @staticmethod
    def condition(full: torch.Tensor) -> torch.Tensor:
        m = FULL.index("mask")
        return torch.cat([full[:, 0:6], full[:, m:m + 1]], 1)

    def forward(self, cond: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """cond [B, 7, H, W], image [B, 3, H, W] displayed sRGB in [0, 1] -> [B, 1, H/8, W/8]."""
        return self.net(torch.cat([cond, image * 2 - 1], 1))
