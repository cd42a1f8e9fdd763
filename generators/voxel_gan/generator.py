"""The `voxel-gan` model: trained class-conditional 3D-GAN -> occupancy -> shared prop pipeline.

Weights ship in `generators/voxel_gan/weights/`: `voxel-gan.safetensors` (fp16, the EMA
generator only) and `voxel-gan.json` (constructor arguments, category names, per-category
real-world sizes, the weights' sha256 and the training record). Both are written by
`python -m generators.voxel_gan.export`. A missing, truncated or altered file refuses to load
with a `ModelLoadError` that names the file and the command that rebuilds it.

Beside them, `voxel-gan-size.*` (`generators.voxel_gan.size`): the learned size head. A served
prop's longest side is drawn from p(size | its generated shape, class), so sizes vary with the
shapes as in the data (`size_m` still overrides); without the head each category gets its
median size.

Structure: a seed's shape is the first of up to `CANDIDATES` deterministic draws (latents of
(seed, category, attempt)) whose grid, as meshed, is one solid piece (6-connected, the
marching-cubes sure join) once floating debris -- pieces under 1 % of the solid -- is dropped;
when none is, the draw with the fewest pieces left is served. The asset's metadata says which
attempt was served, how many pieces it had and how many (and what share) were dropped
(`structure`), and `vitrine eval` counts them. Every draw is a pure function of the spec, so a
spec gives the same bytes alone or batched.
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
from generators.geometry.cleanup import debris
from generators.geometry.options import PROP_OPTIONS, resolution_option
from generators.geometry.pipeline import PropModel
from generators.training import size_head
from generators.voxel_gan.model import VoxelGenerator, for_inference
from generators.voxel_gan.size import features

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


CANDIDATES = 8  # draws per seed tried for one solid piece (tables: ~18 % of first draws)
CHECK_RES = 64  # the grid the draws are checked at (the default resolution)


def latent(seed: int, category_index: int, z_dim: int, attempt: int = 0) -> torch.Tensor:
    """The latent code [1, z_dim] of a (seed, category, attempt): a pure function of the three;
    attempt 0 is the seed's first draw (the latent of earlier versions)."""
    key = (int(seed) * 1_000_003 + category_index + attempt * 104_729_017) % 2**63
    g = torch.Generator().manual_seed(key)
    return torch.randn(1, z_dim, generator=g)


DESCRIPTION = (
    "Class-conditional 3D-GAN trained on the procedural props (32^3 occupancy); every "
    "seed is a new shape no parametric rule wrote."
)


class VoxelGanGenerator(PropModel):
    """Serves the EMA generator: one forward per seed, upsampled, meshed as a prop."""

    PREFIX, VERSION = "vgan-", "3"  # bump when the bytes change (see tests/test_golden.py)

    def __init__(self, weights: Path = WEIGHTS, config: Path = CONFIG,
                 name: str = "voxel-gan", deps: Mapping[str, Generator] | None = None) -> None:
        net = self.load_learned(name, load_weights, weights, config, DESCRIPTION,
                                PROP_OPTIONS + (RESOLUTION,), deps)
        self.net = for_inference(net)  # same function; batches run ~1.5x faster per asset
        self.size = size_head.attach(self, weights, "python -m generators.voxel_gan.size --ship")

    @torch.inference_mode()
    def occupancy(self, category: str, seeds: Sequence[int], attempt: int = 0) -> np.ndarray:
        """Occupancy probabilities [len(seeds), 32, 32, 32] (x, y, z), one forward per seed.

        One seed per forward keeps every asset bit-identical however requests are batched."""
        ci = self.categories.index(category)
        lab = torch.tensor([ci])
        out = [torch.sigmoid(self.net(latent(s, ci, self.net.z_dim, attempt), lab))[0, 0]
               for s in seeds]
        return torch.stack(out).numpy()

    def size_m(self, category: str, seed: int, prob: np.ndarray) -> tuple[float, dict]:
        """The learned longest side (metres) of a seed's shape, and how it was found."""
        if self.size is None:
            return float(self.cfg.get("extent_m", {}).get(category, 1.0)), {
                "size_from": "category median"}
        head, stats, _ = self.size
        ci = self.categories.index(category)
        u, eps = size_head.size_noise(seed, ci)
        t = head.sample(features(prob[None]), torch.tensor([ci]), u, eps)[0]
        size, clamped = stats.to_m(category, float(t))
        return size, {"size_from": "learned", "size_clamped": clamped}

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

    def sample_served(self, category: str, n: int, seed: int) -> np.ndarray:
        """n solid grids [n, 32, 32, 32] as served (what `vitrine eval --draws served`
        scores): the chosen draw of seeds seed * n + 1 ... seed * n + n, its 32^3 debris
        dropped by the same rule as the served grid's."""
        out = []
        for k in range(n):
            _, prob, _ = self._choose(Spec(category, seed * n + 1 + k, {}))
            solid = prob >= 0.5
            out.append(solid & ~debris(solid)[0])
        return np.stack(out)

    def _choose(self, spec: Spec, cancel: CancelToken | None = None):
        """(attempt, probabilities, pieces left) of the chosen draw; see `draw`."""
        best = None
        for attempt in range(CANDIDATES):
            if cancel:
                cancel.check()
            prob = self.occupancy(spec.category, [spec.seed], attempt)[0]
            if not (prob >= 0.5).any():
                continue
            kept = debris(self._field(prob, spec.category, CHECK_RES)[0] >= 0.5)[1]["kept"]
            if best is None or kept < best[2]:
                best = (attempt, prob, kept)
            if kept == 1:
                break
        if best is None:
            raise EmptyShape(f"{self.info.name} produced an empty {spec.category} for seed "
                             f"{spec.seed}; try another seed")
        return best

    def draw(self, spec: Spec, cancel: CancelToken | None = None):
        """(attempt, probabilities, field (grid, origin, spacing), structure) of a spec.

        The attempt is the first of CANDIDATES draws whose grid at CHECK_RES meshes as one
        piece once floating debris (pieces under `cleanup.DEBRIS_SHARE` of the solid) is
        dropped, else the draw with the fewest pieces left: a function of (category, seed)
        alone, so every `resolution` serves the same shape. The served grid loses its own
        debris, counted in `structure`."""
        attempt, prob, _ = self._choose(spec, cancel)
        grid, origin, spacing = self._field(prob, spec.category, spec.options["resolution"])
        mask, counts = debris(grid >= 0.5)
        return attempt, prob, (np.where(mask, 0.0, grid), origin, spacing), counts

    def generate_one(self, spec: Spec, cancel: CancelToken | None = None) -> Asset:
        attempt, prob, (grid, origin, spacing), counts = self.draw(spec, cancel)
        meta = {"occupied_voxels": int((prob >= 0.5).sum()),
                "structure": {"attempt": attempt + 1, "candidates": CANDIDATES, **counts}}
        options = dict(spec.options)
        if options.get("size_m") is None:
            options["size_m"], how = self.size_m(spec.category, spec.seed, prob)
            meta.update(how, learned_size_m=round(options["size_m"], 4))
        return self.prop(Spec(spec.category, spec.seed, options), grid, origin, spacing,
                         inside_below=False, level=0.5, cancel=cancel, metadata=meta)

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
