"""Class-conditional GAN over body shapes in the template's topology, sized for a CPU.

A body is the MakeHuman template's vertex array (V x 3, metres). Across the humanoid family's
bodies those arrays span a low-dimensional space: PCA fitted on the training bodies keeps
`components` directions (> 99.9 % of the variance). The networks work on whitened PCA
coefficients; `BodyGenerator.decode` turns coefficients back into vertices with the basis it
carries as buffers, so the shipped safetensors file holds the whole model, basis included.

Generator: (z, class embedding) -> an MLP -> whitened coefficients. Discriminator: an MLP
with spectral norm, a minibatch-standard-deviation feature (Karras et al. 2018) and a
projection head for the class (Miyato & Koyama 2018), as voxel-gan's.

Because every output is a vertex array of the template, the skeleton, skin weights, UVs,
clothing and clips of the humanoid family carry over to every generated body unchanged.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from generators.character_gan.config import GROUP, SHIPPED


def _mlp(widths: list[int], sn: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(widths) - 1):
        lin = nn.Linear(widths[i], widths[i + 1])
        layers += [spectral_norm(lin) if sn else lin, nn.LeakyReLU(0.2)]
    return nn.Sequential(*layers)


class BodyGenerator(nn.Module):
    def __init__(self, z_dim: int = SHIPPED.z_dim, n_classes: int = 5,
                 components: int = SHIPPED.components, n_vertices: int = 1,
                 hidden: tuple[int, ...] = SHIPPED.g_hidden,
                 embed_dim: int = SHIPPED.embed_dim):
        super().__init__()
        self.z_dim, self.n_classes, self.components = z_dim, n_classes, components
        self.n_vertices, self.hidden, self.embed_dim = n_vertices, tuple(hidden), embed_dim
        self.embed = nn.Embedding(n_classes, embed_dim)
        self.body = _mlp([z_dim + embed_dim, *hidden])
        self.head = nn.Linear(hidden[-1], components)
        # The shape space (set by `set_basis` from the training bodies; saved with the weights).
        self.register_buffer("mean", torch.zeros(n_vertices * 3))
        self.register_buffer("basis", torch.zeros(components, n_vertices * 3))
        self.register_buffer("scale", torch.ones(components))

    def config(self) -> dict:
        return {"z_dim": self.z_dim, "n_classes": self.n_classes,
                "components": self.components, "n_vertices": self.n_vertices,
                "hidden": list(self.hidden), "embed_dim": self.embed_dim}

    @torch.no_grad()
    def set_basis(self, mean: torch.Tensor, basis: torch.Tensor, scale: torch.Tensor) -> None:
        self.mean.copy_(mean.reshape(-1))
        self.basis.copy_(basis)
        self.scale.copy_(scale)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Whitened PCA coefficients [B, components]."""
        return self.head(self.body(torch.cat([z, self.embed(labels)], dim=1)))

    def decode(self, coeffs: torch.Tensor) -> torch.Tensor:
        """Vertices [B, V, 3] in metres of whitened coefficients [B, components]."""
        flat = self.mean + (coeffs * self.scale) @ self.basis
        return flat.view(-1, self.n_vertices, 3)

    def encode(self, vertices: torch.Tensor) -> torch.Tensor:
        """Whitened coefficients of bodies [B, V, 3] (projection onto the basis)."""
        return ((vertices.reshape(len(vertices), -1) - self.mean) @ self.basis.T) / self.scale


class BodyDiscriminator(nn.Module):
    def __init__(self, components: int = SHIPPED.components, n_classes: int = 5,
                 hidden: tuple[int, ...] = SHIPPED.d_hidden, mbstd: bool = True):
        super().__init__()
        self.components, self.n_classes, self.hidden, self.mbstd = (
            components, n_classes, tuple(hidden), mbstd)
        self.body = _mlp([components + int(mbstd), *hidden], sn=True)
        self.out = spectral_norm(nn.Linear(hidden[-1], 1))
        self.proj = spectral_norm(nn.Embedding(n_classes, hidden[-1]))

    def config(self) -> dict:
        return {"components": self.components, "n_classes": self.n_classes,
                "hidden": list(self.hidden), "mbstd": self.mbstd}

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """A score per sample [B] (higher = more real)."""
        if self.mbstd:
            g = GROUP if len(x) % GROUP == 0 else 1
            var = x.view(g, -1, x.shape[1]).var(0, unbiased=False)
            std = (var + 1e-8).sqrt().mean(1)  # [B/g]; eps: R1's double backward
            x = torch.cat([x, std.repeat(g)[:, None]], dim=1)
        h = self.body(x)
        return self.out(h)[:, 0] + (self.proj(labels) * h).sum(1)


def networks(cfg, n_classes: int, n_vertices: int) -> tuple[BodyGenerator, BodyDiscriminator]:
    G = BodyGenerator(cfg.z_dim, n_classes, cfg.components, n_vertices, cfg.g_hidden,
                      cfg.embed_dim)
    D = BodyDiscriminator(cfg.components, n_classes, cfg.d_hidden)
    return G, D
