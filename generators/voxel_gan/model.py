"""Class-conditional 3D-GAN (Wu et al. 2016 family) at 32^3, sized for CPU training and serving.

Generator: (z, class) -> a linear layer to a 4^3 feature volume -> three stride-2 transposed
3-D convolutions (4 -> 8 -> 16 -> 32) -> occupancy logits. The class enters as a learned
embedding concatenated to z. The last bias starts at the logit of the data's mean occupancy
(props fill ~4 % of their cube), so the first samples are sparse instead of half full.

Discriminator: the mirror image, three stride-2 3-D convolutions (32 -> 16 -> 8 -> 4), optional
spectral norm, an optional minibatch-standard-deviation channel (Karras et al. 2018: lets D see
a batch of identical fakes, the usual cure for mode collapse), and a projection head (Miyato &
Koyama 2018) for the class. Widths are constructor arguments; their defaults are the shipped
architecture, `generators.voxel_gan.config.SHIPPED`.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from generators.voxel_gan.config import SHIPPED, VoxelGanConfig


class VoxelGenerator(nn.Module):
    def __init__(
        self,
        z_dim: int = SHIPPED.z_dim,  # latent size
        n_classes: int = 6,  # categories; labels index the model's category list
        channels: tuple[int, ...] = SHIPPED.g_channels,  # widths at 4^3, 8^3, ... (one per x2)
        embed_dim: int = SHIPPED.embed_dim,  # class-embedding size, concatenated to z
        res: int = 32,  # output grid edge: 4 * 2^len(channels)
        init_occupancy: float = 0.04,  # the last bias starts at this occupancy's logit
    ):
        super().__init__()
        if res != 4 * 2 ** len(channels):
            raise ValueError(f"res {res} needs {res.bit_length() - 3} channel stages, "
                             f"got {len(channels)}")
        self.z_dim, self.n_classes, self.res = z_dim, n_classes, res
        self.channels = tuple(channels)
        self.init_occupancy = init_occupancy
        self.embed = nn.Embedding(n_classes, embed_dim)
        self.fc = nn.Linear(z_dim + embed_dim, channels[0] * 4 ** 3)
        self.bn0 = nn.BatchNorm3d(channels[0])
        ups = []
        for cin, cout in itertools.pairwise(channels):
            ups += [nn.ConvTranspose3d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm3d(cout),
                    nn.ReLU(inplace=True)]
        last = nn.ConvTranspose3d(channels[-1], 1, 4, 2, 1)
        with torch.no_grad():
            last.bias.fill_(math.log(init_occupancy / (1 - init_occupancy)))
        ups.append(last)
        self.ups = nn.Sequential(*ups)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Occupancy logits [B, 1, R, R, R] (axis order x, y, z)."""
        h = self.fc(torch.cat([z, self.embed(labels)], dim=1))
        h = torch.relu(self.bn0(h.view(-1, self.channels[0], 4, 4, 4)))
        return self.ups(h)

    def config(self) -> dict:
        return {"z_dim": self.z_dim, "n_classes": self.n_classes, "channels": list(self.channels),
                "embed_dim": self.embed.embedding_dim, "res": self.res,
                "init_occupancy": self.init_occupancy}


class VoxelDiscriminator(nn.Module):
    def __init__(
        self,
        n_classes: int = 6,  # categories (projection head)
        channels: tuple[int, ...] = SHIPPED.d_channels,  # widths of the stride-2 stages
        res: int = 32,  # input grid edge: 4 * 2^len(channels)
        sn: bool = SHIPPED.sn,  # spectral norm on every layer
        mbstd: bool = SHIPPED.mbstd,  # minibatch-std channel before the head
    ):
        super().__init__()
        if res != 4 * 2 ** len(channels):
            raise ValueError(f"res {res} needs {res.bit_length() - 3} channel stages")
        self.n_classes, self.channels, self.res = n_classes, tuple(channels), res
        self.sn, self.mbstd = sn, mbstd
        norm = spectral_norm if sn else (lambda m: m)
        layers, cin = [], 1
        for cout in channels:
            layers += [norm(nn.Conv3d(cin, cout, 4, 2, 1)), nn.LeakyReLU(0.2, inplace=True)]
            cin = cout
        self.convs = nn.Sequential(*layers)
        feat = (channels[-1] + int(mbstd)) * 4 ** 3
        self.out = norm(nn.Linear(feat, 1))
        self.embed = norm(nn.Embedding(n_classes, feat))

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Realness score [B] (higher = real)."""
        h = self.convs(x)
        if self.mbstd:
            # One extra channel: the batch's mean per-feature standard deviation (group of <= 4).
            b = h.shape[0]
            g = math.gcd(b, 4)
            s = (h.view(g, -1, *h.shape[1:]).var(0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3, 4))
            s = s.view(-1, 1, 1, 1, 1).repeat(g, 1, *h.shape[2:])
            h = torch.cat([h, s], dim=1)
        h = h.flatten(1)
        return self.out(h).squeeze(1) + (self.embed(labels) * h).sum(1)

    def config(self) -> dict:
        return {"n_classes": self.n_classes, "channels": list(self.channels), "res": self.res,
                "sn": self.sn, "mbstd": self.mbstd}


def networks(cfg: VoxelGanConfig, n_classes: int, res: int = 32,
             init_occupancy: float = 0.04) -> tuple[VoxelGenerator, VoxelDiscriminator]:
    """(G, D) of a config, for `n_classes` categories at `res`^3."""
    G = VoxelGenerator(cfg.z_dim, n_classes, cfg.g_channels, cfg.embed_dim, res, init_occupancy)
    D = VoxelDiscriminator(n_classes, cfg.d_channels, res, cfg.sn, cfg.mbstd)
    return G, D


# Transposed conv (kernel 4, stride 2, padding 1) along one axis: output 2m + a reads inputs
# m - 1 + j for the stride-1 taps j below, with the transposed kernel's tap k.
_TAPS = {0: {0: 3, 1: 1}, 1: {1: 2, 2: 0}}  # parity a -> {conv tap j: transposed tap k}


class SubPixelUp(nn.Module):
    """Inference form of a trained ConvTranspose3d(kernel 4, stride 2, padding 1).

    The same map written as one stride-1 3^3 convolution to 8 * Cout channels (one per output
    parity) followed by a 3-D pixel shuffle -- an exact re-parameterisation (float rounding
    aside). Why: PyTorch's CPU transposed 3-D conv with a single output channel runs at a few
    GFLOP/s and gains nothing from batching, while the stride-1 conv runs on oneDNN for batch
    >= 2 (4x faster per asset on the generator's last layer). For batch 1 PyTorch picks its slow
    reference 3-D conv, so batch 1 keeps the transposed conv: a seed served alone always takes
    the same path and stays bit-stable.
    """

    def __init__(self, ct: nn.ConvTranspose3d):
        super().__init__()
        if ct.kernel_size != (4, 4, 4) or ct.stride != (2, 2, 2) or ct.padding != (1, 1, 1):
            raise ValueError("SubPixelUp needs ConvTranspose3d(kernel 4, stride 2, padding 1)")
        w = ct.weight.detach()  # [Cin, Cout, 4, 4, 4]
        cin, cout = w.shape[:2]
        sub = torch.zeros(cout, 2, 2, 2, cin, 3, 3, 3, dtype=w.dtype)
        for a, b, c in itertools.product((0, 1), repeat=3):
            for (ja, ka), (jb, kb), (jc, kc) in itertools.product(
                    _TAPS[a].items(), _TAPS[b].items(), _TAPS[c].items()):
                sub[:, a, b, c, :, ja, jb, jc] = w[:, :, ka, kb, kc].T
        self.register_buffer("weight", w.clone())
        self.register_buffer("bias", None if ct.bias is None else ct.bias.detach().clone())
        self.register_buffer("sub_weight", sub.reshape(cout * 8, cin, 3, 3, 3))
        self.register_buffer("sub_bias", None if ct.bias is None
                             else ct.bias.detach().repeat_interleave(8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] == 1:
            return nn.functional.conv_transpose3d(x, self.weight, self.bias, 2, 1)
        y = nn.functional.conv3d(x, self.sub_weight, self.sub_bias, padding=1)
        b, _, n, m, k = y.shape
        y = y.view(b, -1, 2, 2, 2, n, m, k).permute(0, 1, 5, 2, 6, 3, 7, 4)
        return y.reshape(b, -1, 2 * n, 2 * m, 2 * k)


def for_inference(G: VoxelGenerator) -> VoxelGenerator:
    """An eval-mode copy of G whose output layer is a `SubPixelUp` (same function, faster
    batches). Training keeps the plain transposed conv; only serving and evaluation use this."""
    import copy

    fast = copy.deepcopy(G).eval()
    fast.ups[-1] = SubPixelUp(fast.ups[-1])
    return fast
