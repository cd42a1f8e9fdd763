"""Class-conditional 3D-GAN (Wu et al. 2016 family) at 32^3, sized for CPU training and serving.

Generator: (z, class) -> a linear layer to a 4^3 feature volume -> three stride-2 transposed
3-D convolutions (4 -> 8 -> 16 -> 32) -> occupancy logits. The class enters as a learned
embedding concatenated to z. Discriminator: the mirror image, three stride-2 3-D convolutions
(32 -> 16 -> 8 -> 4) with spectral norm, and a projection head (Miyato & Koyama 2018) for the
class. Channel widths are constructor arguments so the model card can record what was run.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


class VoxelGenerator(nn.Module):
    def __init__(self, z_dim: int = 128, n_classes: int = 6, channels: tuple[int, ...] = (128, 64, 32),
                 embed_dim: int = 32, res: int = 32):
        super().__init__()
        if res != 4 * 2 ** len(channels):
            raise ValueError(f"res {res} needs {res.bit_length() - 3} channel stages, "
                             f"got {len(channels)}")
        self.z_dim, self.n_classes, self.res = z_dim, n_classes, res
        self.channels = tuple(channels)
        self.embed = nn.Embedding(n_classes, embed_dim)
        self.fc = nn.Linear(z_dim + embed_dim, channels[0] * 4 ** 3)
        self.bn0 = nn.BatchNorm3d(channels[0])
        ups = []
        for cin, cout in itertools.pairwise(channels):
            ups += [nn.ConvTranspose3d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm3d(cout),
                    nn.ReLU(inplace=True)]
        ups.append(nn.ConvTranspose3d(channels[-1], 1, 4, 2, 1))
        self.ups = nn.Sequential(*ups)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Occupancy logits [B, 1, R, R, R] (axis order x, y, z)."""
        h = self.fc(torch.cat([z, self.embed(labels)], dim=1))
        h = torch.relu(self.bn0(h.view(-1, self.channels[0], 4, 4, 4)))
        return self.ups(h)

    def config(self) -> dict:
        return {"z_dim": self.z_dim, "n_classes": self.n_classes, "channels": list(self.channels),
                "embed_dim": self.embed.embedding_dim, "res": self.res}


class VoxelDiscriminator(nn.Module):
    def __init__(self, n_classes: int = 6, channels: tuple[int, ...] = (32, 64, 128), res: int = 32):
        super().__init__()
        if res != 4 * 2 ** len(channels):
            raise ValueError(f"res {res} needs {res.bit_length() - 3} channel stages")
        self.n_classes, self.channels, self.res = n_classes, tuple(channels), res
        layers, cin = [], 1
        for cout in channels:
            layers += [spectral_norm(nn.Conv3d(cin, cout, 4, 2, 1)), nn.LeakyReLU(0.2, inplace=True)]
            cin = cout
        self.convs = nn.Sequential(*layers)
        feat = channels[-1] * 4 ** 3
        self.out = spectral_norm(nn.Linear(feat, 1))
        self.embed = spectral_norm(nn.Embedding(n_classes, feat))

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Realness score [B] (hinge loss; higher = real)."""
        h = self.convs(x).flatten(1)
        return self.out(h).squeeze(1) + (self.embed(labels) * h).sum(1)

    def config(self) -> dict:
        return {"n_classes": self.n_classes, "channels": list(self.channels), "res": self.res}
