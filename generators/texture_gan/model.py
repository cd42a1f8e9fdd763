"""A material-conditioned periodic spatial GAN (PSGAN family) for tileable PBR textures.

Generator: a spatial latent grid [B, C_z, L, L] -> 4 sub-pixel upsampling stages -> a
[B, 5, 16 L, 16 L] image (albedo sRGB 3, height 1, roughness 1; tanh, so [-1, 1]). The latent
follows Bergmann et al. 2017 (PSGAN), one vector per latent cell:

* local dimensions: i.i.d. normal noise per cell (the texture's randomness);
* global dimensions: a learned material embedding, the same in every cell (what to draw);
* periodic dimensions: ``sin(k . (row, col) + phi)`` with wave vectors ``k`` produced from the
  material embedding by a small MLP, and a random phase per sample (regular structure).

A learned depthwise 3x3 (starting as a binomial blur) follows the last pixel shuffle. Each stage
also adds a fresh per-pixel noise image with a learned per-channel strength (as
StyleGAN's noise inputs), so fine stochastic detail does not have to come from the coarse grid.

Every convolution pads *circularly*, and each upsampling stage is a 3x3 convolution to 4x the
channels followed by a pixel shuffle, which commutes with a roll of two low-res pixels. So the
generator is equivariant to rolls of its latent grid, and a latent on the torus (local noise is
per cell; the global part is constant; wave vectors are rounded to a whole number of periods
per grid, with a straight-through gradient; the stage noise is per pixel) gives an output that
tiles exactly at any size.
Conditioning also enters each stage as a per-material scale and shift after a pixel norm
(Karras et al. 2018) -- no batch statistics, so a sample does not depend on its batch.

Discriminator: fully convolutional (a "patch" D): stride-2 4x4 convolutions with spectral norm,
a per-location score map, and a projection term (Miyato & Koyama 2018) for the material.
Widths are constructor arguments; their defaults are the shipped architecture,
`generators.texture_gan.config.SHIPPED`.
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from generators.texture_gan.config import SHIPPED, UPSAMPLE, TextureGanConfig

OUT_CHANNELS = 5  # albedo sRGB (3), height (1), roughness (1)
__all__ = ["UPSAMPLE", "TextureDiscriminator", "TextureGenerator", "for_inference", "networks"]


def _pad(x: torch.Tensor) -> torch.Tensor:
    return F.pad(x, (1, 1, 1, 1), mode="circular")


def _icnr(conv: nn.Conv2d) -> None:
    """Start a conv-then-pixel-shuffle as nearest upsampling (Aitken et al. 2017, ICNR): the
    four sub-pixel phases share one kernel, so no fixed 2x2 checkerboard is there to unlearn."""
    cout4, cin, kh, kw = conv.weight.shape
    base = torch.empty(cout4 // 4, cin, kh, kw)
    nn.init.kaiming_uniform_(base, a=math.sqrt(5))
    with torch.no_grad():
        conv.weight.copy_(base.repeat_interleave(4, dim=0))
        if conv.bias is not None:
            conv.bias.copy_(conv.bias[::4].repeat_interleave(4))


class PixelNorm(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class _Stage(nn.Module):
    """Circular 3x3 conv to 4 Cout channels, pixel shuffle (x2), per-pixel noise, norm,
    material FiLM, leaky ReLU."""

    def __init__(self, cin: int, cout: int, n_classes: int, norm: str):
        super().__init__()
        self.conv = nn.Conv2d(cin, 4 * cout, 3)
        _icnr(self.conv)
        # Per-channel strength of a fresh noise image at this resolution (StyleGAN's noise
        # inputs): fine stochastic detail need not be invented from the coarse latent grid,
        # which otherwise shows as a pattern repeating every latent cell.
        self.noise_strength = nn.Parameter(torch.full((1, cout, 1, 1), 0.1))
        self.norm = PixelNorm() if norm == "pixel" else nn.BatchNorm2d(cout, affine=False)
        self.film = nn.Embedding(n_classes, 2 * cout)
        nn.init.zeros_(self.film.weight)  # start as plain scale 1, shift 0

    def forward(self, x: torch.Tensor, labels: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        h = F.pixel_shuffle(self.conv(_pad(x)), 2)  # [B, Cout, 2H, 2W]
        gamma, beta = self.film(labels)[:, :, None, None].chunk(2, dim=1)
        if torch.is_inference_mode_enabled() and isinstance(self.norm, PixelNorm):
            # The same arithmetic in place: half the memory passes at 1024 px (serving).
            h = torch.addcmul(h, self.noise_strength, noise)
            h.mul_(torch.rsqrt(h.square().mean(dim=1, keepdim=True).add_(1e-8)))
            return F.leaky_relu_(h.mul_(1 + gamma).add_(beta), 0.2)
        h = h + self.noise_strength * noise  # noise [B, 1, 2H, 2W]
        return F.leaky_relu(self.norm(h) * (1 + gamma) + beta, 0.2)


class _ResBlock(nn.Module):
    """Two circular 3x3 convs with a leaky ReLU between, added to the input (at the latent
    scale, where a convolution is cheap: each block widens G's receptive field by 4 latent
    cells, 64 pixels, for structure larger than one cell's neighbourhood, such as bricks)."""

    def __init__(self, c: int):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(c, c, 3), nn.Conv2d(c, c, 3)
        nn.init.zeros_(self.conv2.weight)  # start as the identity
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x + self.conv2(_pad(F.leaky_relu(self.conv1(_pad(x)), 0.2))), 0.2)


class TextureGenerator(nn.Module):
    def __init__(
        self,
        n_classes: int = len(SHIPPED.materials),  # materials; labels index the material list
        local_dim: int = SHIPPED.local_dim,  # i.i.d. noise channels per latent cell
        global_dim: int = SHIPPED.global_dim,  # material-embedding channels (constant)
        periodic_dim: int = SHIPPED.periodic_dim,  # sinusoid channels with material-learned
        # wave vectors, 0 = none
        channels: tuple[int, ...] = SHIPPED.g_channels,  # widths at 1/16, 1/8, 1/4, 1/2 scale
        norm: str = SHIPPED.g_norm,  # "pixel" (no batch statistics) or "batch" (BatchNorm)
        blocks: int = SHIPPED.g_blocks,  # residual blocks at the latent scale after the head
    ):
        super().__init__()
        if len(channels) != 4:
            raise ValueError(f"channels needs 4 widths (1/16 .. 1/2 scale), got {channels}")
        self.n_classes, self.local_dim = n_classes, local_dim
        self.global_dim, self.periodic_dim = global_dim, periodic_dim
        self.channels = tuple(int(c) for c in channels)
        if norm not in ("pixel", "batch"):
            raise ValueError(f"norm must be 'pixel' or 'batch', got {norm!r}")
        self.norm = norm
        self.embed = nn.Embedding(n_classes, global_dim)
        if periodic_dim:
            self.wave = nn.Sequential(nn.Linear(global_dim, 64), nn.ReLU(),
                                      nn.Linear(64, 2 * periodic_dim))
        cz = local_dim + global_dim + periodic_dim
        self.head = nn.Conv2d(cz, self.channels[0], 3)
        if blocks < 0:
            raise ValueError(f"blocks must be >= 0, got {blocks}")
        self.blocks = nn.Sequential(*(_ResBlock(self.channels[0]) for _ in range(blocks)))
        c = self.channels
        self.stages = nn.ModuleList(_Stage(a, b, n_classes, norm) for a, b in itertools.pairwise(c))
        self.out = nn.Conv2d(c[-1], 4 * OUT_CHANNELS, 3)
        _icnr(self.out)
        # A learned depthwise 3x3 at full resolution, starting as a binomial blur: without it
        # the last pixel shuffle leaves a 2-pixel alternation (steps inside a 2x2 block ~0.8x
        # the mean, across blocks ~1.2x, measured), visible and rough on any wrap cut.
        self.smooth = nn.Conv2d(OUT_CHANNELS, OUT_CHANNELS, 3, groups=OUT_CHANNELS, bias=False)
        with torch.no_grad():
            b = torch.tensor([1.0, 2.0, 1.0])
            self.smooth.weight.copy_((b[:, None] * b[None, :] / 16).expand(OUT_CHANNELS, 1, 3, 3))

    @property
    def latent_channels(self) -> int:
        return self.local_dim + self.global_dim + self.periodic_dim

    def wave_vectors(self, labels: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        """[B, P, 2] radians per latent cell (rows, cols), whole periods per grid (STE)."""
        k = math.pi * torch.tanh(self.wave(self.embed(labels))).view(-1, self.periodic_dim, 2)
        step = torch.tensor([2 * math.pi / grid[0], 2 * math.pi / grid[1]], device=k.device)
        return k + (torch.round(k / step) * step - k).detach()

    def latent(self, labels: torch.Tensor, noise: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
        """Full latent [B, C_z, L, L'] from labels [B], noise [B, local, L, L'], phase [B, P]."""
        b, _, gh, gw = noise.shape
        parts = [noise, self.embed(labels)[:, :, None, None].expand(b, -1, gh, gw)]
        if self.periodic_dim:
            k = self.wave_vectors(labels, (gh, gw))  # [B, P, 2]
            rows = torch.arange(gh, device=noise.device, dtype=noise.dtype)
            cols = torch.arange(gw, device=noise.device, dtype=noise.dtype)
            arg = (k[:, :, 0, None, None] * rows[:, None] + k[:, :, 1, None, None] * cols
                   + phase[:, :, None, None])
            parts.append(torch.sin(arg))  # [B, P, L, L']
        return torch.cat(parts, dim=1)

    def sample_noise(self, b: int, grid: int, generator: torch.Generator | None = None,
                     device: torch.device | str = "cpu") -> tuple[torch.Tensor, ...]:
        """The random inputs of b samples on a grid x grid latent, drawn from `generator`:
        (local noise [b, local, grid, grid], phase [b, P], then one noise image
        [b, 1, 2^i grid, 2^i grid] per stage i = 1 .. 3). Pass them to forward as `*z`."""
        noise = torch.randn(b, self.local_dim, grid, grid, generator=generator)
        phase = torch.rand(b, self.periodic_dim, generator=generator) * (2 * math.pi)
        stages = [torch.randn(b, 1, grid << i, grid << i, generator=generator)
                  for i in range(1, len(self.stages) + 1)]
        return tuple(t.to(device) for t in (noise, phase, *stages))

    def forward(self, labels: torch.Tensor, noise: torch.Tensor, phase: torch.Tensor,
                *stage_noise: torch.Tensor) -> torch.Tensor:
        """Image [B, 5, 16 L, 16 L'] in [-1, 1]: albedo sRGB, height, roughness."""
        h = F.leaky_relu(self.head(_pad(self.latent(labels, noise, phase))), 0.2)  # [B, C0, L, L']
        h = self.blocks(h)
        for stage, n in zip(self.stages, stage_noise, strict=True):
            h = stage(h, labels, n)  # x2 each
        x = F.pixel_shuffle(self.out(_pad(h)), 2)  # [B, 5, 16 L, 16 L']
        return torch.tanh(self.smooth(_pad(x)))

    def config(self) -> dict:
        return {"n_classes": self.n_classes, "local_dim": self.local_dim,
                "global_dim": self.global_dim, "periodic_dim": self.periodic_dim,
                "channels": list(self.channels), "norm": self.norm,
                "blocks": len(self.blocks)}


def for_inference(G: TextureGenerator) -> TextureGenerator:
    """G in eval mode with channels-last weights (same function). Why: PyTorch's CPU depthwise
    convolution and the thin full-resolution layers run ~1.5x faster channels-last (measured
    at 1024 px, one thread: 376 -> 257 ms); inputs follow the weights' layout."""
    return G.eval().to(memory_format=torch.channels_last)


class TextureDiscriminator(nn.Module):
    def __init__(
        self,
        n_classes: int = len(SHIPPED.materials),  # materials (projection conditioning)
        channels: tuple[int, ...] = SHIPPED.d_channels,  # widths of the stride-2 stages
        sn: bool = True,  # spectral norm on every layer
    ):
        super().__init__()
        self.n_classes, self.channels, self.sn = n_classes, tuple(int(c) for c in channels), sn
        norm = spectral_norm if sn else (lambda m: m)
        layers, cin = [], OUT_CHANNELS
        for cout in self.channels:
            layers += [norm(nn.Conv2d(cin, cout, 4, 2, 1)), nn.LeakyReLU(0.2, inplace=True)]
            cin = cout
        self.convs = nn.Sequential(*layers)
        self.out = norm(nn.Conv2d(cin, 1, 3, padding=1))
        self.embed = norm(nn.Embedding(n_classes, cin))

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Realness score map [B, H/16, W/16] (higher = real), one score per patch."""
        h = self.convs(x)  # [B, C, H/16, W/16]
        proj = (self.embed(labels)[:, :, None, None] * h).sum(1)
        return self.out(h)[:, 0] + proj

    def config(self) -> dict:
        return {"n_classes": self.n_classes, "channels": list(self.channels), "sn": self.sn}


def networks(cfg: TextureGanConfig) -> tuple[TextureGenerator, TextureDiscriminator]:
    """(G, D) of a config, for its materials."""
    n = len(cfg.materials)
    G = TextureGenerator(n, cfg.local_dim, cfg.global_dim, cfg.periodic_dim, cfg.g_channels,
                         cfg.g_norm, cfg.g_blocks)
    return G, TextureDiscriminator(n, cfg.d_channels)
