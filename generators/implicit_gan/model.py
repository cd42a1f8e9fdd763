"""IM-NET / IM-GAN family (Chen & Zhang 2019), sized for 2 CPU cores.

Stage 1, a shape autoencoder:
- `ShapeEncoder`: a truncated-SDF grid [B, 1, 64, 64, 64] -> four stride-2 3-D convolutions ->
  a latent code (linear output; see `ShapeEncoder.forward`).
- `ImplicitDecoder`: (point p in [-0.5, 0.5]^3, latent z) -> signed distance in units of the
  cube side, as `OUT_SCALE * tanh`: a little wider than the targets' +-`TRUNCATION`, so the
  truncated value far from the surface is reached at a finite logit (with exactly
  `TRUNCATION * tanh` the far points, most of the volume, drove the output into saturation
  and the near-surface error stopped falling in the first trial run). The point enters through
  a few Fourier features and the latent is concatenated to them (IM-NET's conditioning). Once z
  is fixed its share of the first layer is a constant: `bind(z)` folds it into the bias, so
  extracting a mesh runs a plain MLP of `hidden` widths per point. (A trial with FiLM
  modulation of every layer as well was unstable at lr 1e-3 and no faster at 5e-4.)

Stage 2, a GAN on the latents: `LatentGenerator` (noise, category) -> latent, and
`LatentCritic` (latent, category) -> score with a projection head, trained with WGAN-GP on the
autoencoder's training-set latents.

What ships (`ImplicitGan`) is the decoder plus the latent generator; the encoder and the critic
only matter for training.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn

from generators.core import precision
from generators.implicit_gan.config import SHIPPED, ImplicitGanConfig
from generators.implicit_gan.data import TRUNCATION
from generators.training.run import load_prefixed

OUT_SCALE = 1.25 * TRUNCATION
CHUNK = 4096  # points per MLP pass when serving (see BoundDecoder.__call__)


class FourierFeatures(nn.Module):
    """p -> [p, sin(2^k pi p), cos(2^k pi p)] for k < n_freq (fixed, not learned)."""

    def __init__(self, n_freq: int = 4):
        super().__init__()
        self.n_freq = n_freq
        self.register_buffer("freqs", math.pi * 2.0 ** torch.arange(n_freq), persistent=False)

    @property
    def dim(self) -> int:
        return 3 + 6 * self.n_freq

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        x = p.unsqueeze(-1) * self.freqs  # [..., 3, F]
        return torch.cat([p, x.sin().flatten(-2), x.cos().flatten(-2)], dim=-1)


class ShapeEncoder(nn.Module):
    def __init__(
        self,
        z_dim: int = SHIPPED.z_dim,  # latent size
        channels: tuple[int, ...] = SHIPPED.enc_channels,  # widths of the stride-2 stages
        res: int = SHIPPED.res,  # input grid edge: 4 * 2^len(channels)
    ):
        super().__init__()
        if res != 4 * 2 ** len(channels):
            raise ValueError(f"res {res} needs {int(math.log2(res)) - 2} stages, got "
                             f"{len(channels)}")
        self.z_dim, self.channels, self.res = z_dim, tuple(channels), res
        layers, cin = [], 1
        for c in channels:
            layers += [nn.Conv3d(cin, c, 4, 2, 1), nn.GroupNorm(min(8, c), c),
                       nn.LeakyReLU(0.2, inplace=True)]
            cin = c
        self.convs = nn.Sequential(*layers)
        self.fc = nn.Linear(cin * 4 ** 3, z_dim)

    def forward(self, sdf: torch.Tensor) -> torch.Tensor:
        """sdf [B, 1, R, R, R] in units of the cube side -> latents [B, z_dim] (unbounded: a
        tanh here saturated within 300 steps in a trial, every shape got the same latent and
        the encoder stopped learning; training keeps the scale with a small L2 penalty)."""
        h = self.convs(sdf / TRUNCATION)
        return self.fc(h.flatten(1))

    def config(self) -> dict:
        return {"z_dim": self.z_dim, "channels": list(self.channels), "res": self.res}


class ImplicitDecoder(nn.Module):
    def __init__(
        self,
        z_dim: int = SHIPPED.z_dim,  # latent size
        hidden: tuple[int, ...] = SHIPPED.dec_hidden,  # MLP widths
        n_freq: int = SHIPPED.n_freq,  # Fourier feature octaves of the point
    ):
        super().__init__()
        self.z_dim, self.hidden = z_dim, tuple(hidden)
        self.features = FourierFeatures(n_freq)
        dims = (self.features.dim + z_dim, *hidden)  # layer 0 sees [features(p), z]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(dims))
        self.out = nn.Linear(hidden[-1], 1)
        self.act = nn.LeakyReLU(0.02)

    def forward(self, p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Points [B, N, 3], latents [B, z_dim] -> SDF [B, N] (units of the cube side)."""
        f = self.features(p)
        h = torch.cat([f, z.unsqueeze(1).expand(-1, f.shape[1], -1)], dim=-1)
        for layer in self.layers:
            h = self.act(layer(h))
        return OUT_SCALE * torch.tanh(self.out(h).squeeze(-1))

    @torch.no_grad()
    def bind(self, z: torch.Tensor, dtype: torch.dtype | None = None) -> BoundDecoder:
        """The field of one latent [z_dim] as a point -> SDF function (see BoundDecoder)."""
        return BoundDecoder(self, z.reshape(1, -1), dtype)

    def config(self) -> dict:
        return {"z_dim": self.z_dim, "hidden": list(self.hidden),
                "n_freq": self.features.n_freq}


def serving_dtype() -> torch.dtype:
    """The precision of `BoundDecoder`'s matrix products: bfloat16 where the CPU multiplies it
    natively (AMX or AVX512-BF16), float32 elsewhere; `VITRINE_DECODER_DTYPE=float32` (or
    `bfloat16`) overrides. On this machine's AMX CPU bfloat16 runs the shipped 4 x 192 MLP 2.8x
    faster (65536 points: 25 ms against 70 ms) and stays within 1.2e-4 of float32 near the
    surface on average (7e-4 at most: a tenth of a 128^3 cell), 20x below the decoder's own
    error; CPUs without it would emulate bfloat16, slower than float32."""
    return precision.serving_dtype("VITRINE_DECODER_DTYPE")


class BoundDecoder:
    """`ImplicitDecoder` for one fixed latent: the latent's share of the first layer is folded
    into that layer's bias, so a point costs one MLP pass on its Fourier features alone. The
    products run in `dtype` (default `serving_dtype()`); the output is float32."""

    def __init__(self, dec: ImplicitDecoder, z: torch.Tensor, dtype: torch.dtype | None = None):
        self.features, self.slope = dec.features, dec.act.negative_slope
        self.dtype = dtype or serving_dtype()
        self.weights = []
        n_feat = dec.features.dim
        for i, layer in enumerate(dec.layers):
            w, b = layer.weight, layer.bias
            if i == 0:  # the latent's part of the first layer is a constant: fold it in
                b = b + w[:, n_feat:] @ z.reshape(-1)
                w = w[:, :n_feat]
            self.weights.append((w.t().contiguous().to(self.dtype), b.to(self.dtype)))
        self.w_out = dec.out.weight.t().contiguous().to(self.dtype)
        self.b_out = dec.out.bias.to(self.dtype)

    @torch.inference_mode()
    def __call__(self, p: torch.Tensor) -> torch.Tensor:
        """Points [N, 3] -> SDF [N] float32, CHUNK points at a time: a chunk's activations stay
        in cache, where tens of thousands of points at once went through memory at every layer
        (4 x 128 float32, 250k points: 367 ms at once, 132 ms in chunks of 4096)."""
        if len(p) > CHUNK:
            return torch.cat([self(p[i:i + CHUNK]) for i in range(0, len(p), CHUNK)])
        h = self.features(p).to(self.dtype)
        for w, b in self.weights:
            h = torch.nn.functional.leaky_relu_(torch.addmm(b, h, w), self.slope)
        out = torch.addmm(self.b_out, h, self.w_out).float().squeeze(-1)
        return OUT_SCALE * torch.tanh(out)


class LatentGenerator(nn.Module):
    def __init__(
        self,
        noise_dim: int = SHIPPED.noise_dim,  # input noise size
        z_dim: int = SHIPPED.z_dim,  # output latent size (the autoencoder's)
        n_classes: int = 6,  # categories; labels index the model's category list
        hidden: tuple[int, ...] = SHIPPED.g_hidden,  # MLP widths
        embed_dim: int = 32,  # class-embedding size, concatenated to the noise
    ):
        super().__init__()
        self.noise_dim, self.z_dim, self.n_classes = noise_dim, z_dim, n_classes
        self.hidden, self.embed_dim = tuple(hidden), embed_dim
        self.embed = nn.Embedding(n_classes, embed_dim)
        dims = (noise_dim + embed_dim, *hidden)
        layers = []
        for a, b in itertools.pairwise(dims):
            layers += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
        layers.append(nn.Linear(dims[-1], z_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, noise: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Noise [B, noise_dim], labels [B] -> latents [B, z_dim]."""
        return self.net(torch.cat([noise, self.embed(labels)], dim=1))

    def config(self) -> dict:
        return {"noise_dim": self.noise_dim, "z_dim": self.z_dim, "n_classes": self.n_classes,
                "hidden": list(self.hidden), "embed_dim": self.embed_dim}


class LatentCritic(nn.Module):
    def __init__(
        self,
        z_dim: int = SHIPPED.z_dim,  # latent size
        n_classes: int = 6,  # categories (projection head)
        hidden: tuple[int, ...] = SHIPPED.d_hidden,  # MLP widths
    ):
        super().__init__()
        self.z_dim, self.n_classes, self.hidden = z_dim, n_classes, tuple(hidden)
        dims = (z_dim, *hidden)
        layers = []
        for a, b in itertools.pairwise(dims):
            layers += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers)
        self.head = nn.Linear(dims[-1], 1)
        self.proj = nn.Embedding(n_classes, dims[-1])  # projection discriminator (Miyato 2018)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        h = self.net(z)
        return self.head(h).squeeze(1) + (self.proj(labels) * h).sum(1)

    def config(self) -> dict:
        return {"z_dim": self.z_dim, "n_classes": self.n_classes, "hidden": list(self.hidden)}


def networks(cfg: ImplicitGanConfig, n_classes: int) -> dict[str, nn.Module]:
    """The trained networks of a config by checkpoint prefix: enc, dec, g, d (no EMA)."""
    return {"enc": ShapeEncoder(cfg.z_dim, cfg.enc_channels, cfg.res),
            "dec": ImplicitDecoder(cfg.z_dim, cfg.dec_hidden, cfg.n_freq),
            "g": LatentGenerator(cfg.noise_dim, cfg.z_dim, n_classes, cfg.g_hidden),
            "d": LatentCritic(cfg.z_dim, n_classes, cfg.d_hidden)}


class ImplicitGan(nn.Module):
    """What ships: the decoder and the latent generator (EMA), one state dict."""

    def __init__(self, decoder: dict, generator: dict):
        super().__init__()
        self.decoder = ImplicitDecoder(**decoder)
        self.generator = LatentGenerator(**generator)

    def config(self) -> dict:
        return {"decoder": self.decoder.config(), "generator": self.generator.config()}

    @classmethod
    def from_run(cls, run) -> tuple[ImplicitGan, dict]:
        """The decoder and EMA latent generator of a training run directory, and its config."""
        from pathlib import Path

        from safetensors.torch import load_file

        from generators.training import run as rundir

        cfg = rundir.read_config(run)
        net = cls(cfg["networks"]["dec"], cfg["networks"]["ema"])
        t = load_file(str(Path(run) / rundir.CHECKPOINT))
        load_prefixed(net.decoder, t, "dec")
        load_prefixed(net.generator, t, "ema")
        return net.eval(), cfg
