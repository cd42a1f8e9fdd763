"""The `voxel-gan` model: trained class-conditional 3D-GAN -> occupancy -> shared prop pipeline.

Weights ship in `generators/voxel_gan/weights/`: `voxel-gan.safetensors` (fp16, the EMA
generator only) and `voxel-gan.json` (constructor arguments, category names, per-category
real-world sizes, the weights' sha256 and the training record). Both are written by
`python -m generators.voxel_gan.export`. A missing, truncated or altered file refuses to load
with a `ModelLoadError` that names the file and the command that rebuilds it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from generators.core.asset import Asset, CancelToken, Spec
from generators.core.errors import EmptyShape
from generators.core.registry import Generator
from generators.core.weights import load_network, shipped_paths
from generators.geometry.options import PROP_OPTIONS, resolution_option
from generators.geometry.pipeline import PropModel
from generators.voxel_gan.model import VoxelGenerator, for_inference

log = logging.getLogger(__name__)

WEIGHTS, CONFIG, REBUILD = shipped_paths(__file__, "voxel-gan")
RESOLUTION = resolution_option(
    64, 32, 128,
    "grid the 32^3 occupancy is upsampled to (trilinear) before meshing; higher = smoother")

def load_weights(weights: Path = WEIGHTS, config: Path = CONFIG,
                 name: str = "voxel-gan") -> tuple[VoxelGenerator, dict]:
    """The EMA generator in eval mode, and its JSON config; ModelLoadError on any defect."""
    return load_network(name, VoxelGenerator, weights, config, REBUILD,
                        required=("categories",), labels="categories")


def latent(seed: int, category_index: int, z_dim: int) -> torch.Tensor:
    """The latent code [1, z_dim] of a (seed, category): a pure function of both."""
    g = torch.Generator().manual_seed((int(seed) * 1_000_003 + category_index) % 2**63)
    return torch.randn(1, z_dim, generator=g)


DESCRIPTION = (
    "Class-conditional 3D-GAN trained on the procedural props (32^3 occupancy); every "
    "seed is a new shape no parametric rule wrote."
)


class VoxelGanGenerator(PropModel):
    """Serves the EMA generator: one forward per seed, upsampled, meshed as a prop."""

    PREFIX, VERSION = "vgan-", "2"  # bump when the bytes change (see tests/test_golden.py)

    def __init__(self, weights: Path = WEIGHTS, config: Path = CONFIG,
                 name: str = "voxel-gan", deps: Mapping[str, Generator] | None = None) -> None:
        net = self.load_learned(name, load_weights, weights, config, DESCRIPTION,
                                PROP_OPTIONS + (RESOLUTION,), deps)
        self.net = for_inference(net)  # same function; batches run ~1.5x faster per asset

    @torch.inference_mode()
    def occupancy(self, category: str, seeds: Sequence[int]) -> np.ndarray:
        """Occupancy probabilities [len(seeds), 32, 32, 32] (x, y, z), one forward per seed.

        One seed per forward keeps every asset bit-identical however requests are batched."""
        ci = self.categories.index(category)
        lab = torch.tensor([ci])
        out = [torch.sigmoid(self.net(latent(s, ci, self.net.z_dim), lab))[0, 0] for s in seeds]
        return torch.stack(out).numpy()

    @torch.inference_mode()
    def sample(self, category: str, n: int, seed: int, batch: int = 64) -> np.ndarray:
        """n probability grids from fresh latents (evaluation; batched, not bit-stable)."""
        ci = self.categories.index(category)
        g = torch.Generator().manual_seed(seed * 7919 + ci)
        out = []
        for i in range(0, n, batch):
            b = min(batch, n - i)
            z = torch.randn(b, self.net.z_dim, generator=g)
            out.append(torch.sigmoid(self.net(z, torch.full((b,), ci))).numpy()[:, 0])
        return np.concatenate(out)

    def generate_one(self, spec: Spec, cancel: CancelToken | None = None) -> Asset:
        prob = self.occupancy(spec.category, [spec.seed])[0]
        if not (prob >= 0.5).any():
            raise EmptyShape(f"{self.info.name} produced an empty {spec.category} for seed "
                             f"{spec.seed}; try another seed")
        grid, origin, spacing = self._field(prob, spec.category, spec.options["resolution"])
        return self.prop(spec, grid, origin, spacing, inside_below=False, level=0.5,
                         cancel=cancel, metadata={"occupied_voxels": int((prob >= 0.5).sum())})

    def _field(self, prob: np.ndarray, category: str, resolution: int):
        """Pad, upsample to `resolution`, and place the grid in metres (real-world size)."""
        res = prob.shape[0]
        t = torch.from_numpy(np.pad(prob, 1))[None, None]
        if resolution != res:
            size = round((res + 2) * resolution / res)
            t = F.interpolate(t, size=(size,) * 3, mode="trilinear", align_corners=True)
        grid = t[0, 0].numpy()
        # The data fill res - 2 voxels along their longest side with that side's real length.
        extent_m = float(self.cfg.get("extent_m", {}).get(category, 1.0))
        spacing = extent_m / (res - 2) * (res + 1) / (grid.shape[0] - 1)
        return grid, np.zeros(3), spacing
