"""The `implicit-gan` model: latent GAN -> implicit SDF decoder -> mesh at any resolution.

A request's latent is a pure function of (category, seed, variation, spread, morph_seed,
morph_t), see `latent_for`:

- the seed picks a noise vector, the latent generator turns it into a shape latent;
- `variation` k >= 1 mixes in a second noise vector drawn from (seed, k), `spread` of the way
  (noise' = (noise + spread * other) / sqrt(1 + spread^2), which keeps the noise's scale):
  spread 0 is the seed's own shape, about 1 as different as another seed;
- `morph_seed` and `morph_t` interpolate the shape latents linearly, (1 - t) z_seed +
  t z_morph_seed: t = 0 is exactly the seed's latent, t = 1 exactly morph_seed's. The material
  follows the nearer end, so both ends are the very assets of the two seeds.

The surface is extracted from the decoder's field at `resolution` cells along the cube's side by
coarse-to-fine evaluation (`geometry.adaptive`, only cells near the surface are refined), then
goes through the shared prop pipeline (cleanup, LODs, size, pivot, UVs, material).

Structure: the seed's noise (and a variation's second noise) is the first of up to `CANDIDATES`
(a variation's: `VARIATION_CANDIDATES`) deterministic draws of (seed, category, attempt) whose
field at CHECK_RES is one solid piece once floating debris (pieces under 1 % of the solid,
`geometry.cleanup.debris`) is dropped, else the draw with the fewest pieces left; a function
of the spec alone, not of `resolution`. The served field loses its own debris; the metadata's
`structure` says which attempt was served, how many pieces there were and what was dropped,
and `vitrine eval` counts them. A morph interpolates the two seeds' chosen latents and is
not redrawn.

Size: the longest side is drawn from the learned size head (`implicit-gan-size.*`,
`generators.implicit_gan.size`) given the chosen latent, so sizes vary with shapes as in the
data; `size_m` overrides; without the head each category gets its median size.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from generators.core.asset import Asset, CancelToken, Spec
from generators.core.errors import EmptyShape, InvalidOption
from generators.core.options import OptionSpec
from generators.core.registry import MAX_SEED, Generator
from generators.core.weights import load_network, shipped_paths
from generators.geometry.adaptive import dense_field_coarse_to_fine
from generators.geometry.cleanup import debris
from generators.geometry.options import PROP_OPTIONS, resolution_option
from generators.geometry.pipeline import PropModel
from generators.implicit_gan.data import CUBE_OVER_EXTENT, voxel_centres
from generators.implicit_gan.model import ImplicitGan, serving_dtype
from generators.training import size_head

log = logging.getLogger(__name__)

WEIGHTS, CONFIG, REBUILD = shipped_paths(__file__, "implicit-gan")
RESOLUTION = resolution_option(
    128, 32, 256,
    "cells along the longest side of the shape's cube for surface extraction (coarse to fine)")
VARIATION = OptionSpec(
    "variation", "int", 0, "0: the seed's own shape; k >= 1: the k-th variation near it",
    min=0, max=1_000_000,
)
SPREAD = OptionSpec(
    "spread", "float", 0.3, "how far variations stray (0: none, ~1: as far as another seed)",
    min=0.0, max=4.0,
)
MORPH_SEED = OptionSpec(
    "morph_seed", "int", None, "morph towards this seed's shape (with morph_t)",
    min=1, max=MAX_SEED,
)
MORPH_T = OptionSpec(
    "morph_t", "float", None, "how far along the morph (0: this seed, 1: morph_seed)",
    min=0.0, max=1.0,
)
IMPLICIT_OPTIONS = PROP_OPTIONS + (RESOLUTION, VARIATION, SPREAD, MORPH_SEED, MORPH_T)
COARSE = 32  # first level of the coarse-to-fine extraction (cells along the cube's side)
CANDIDATES = 6  # noise draws tried per seed for one solid piece
VARIATION_CANDIDATES = 3  # second-noise draws tried per variation (each costs a CHECK_RES field)
CHECK_RES = 64  # the field the draws are checked at (a cheap level of the coarse to fine)
ATTEMPT_STREAM = 1_000_003  # noise streams of redraws: -attempt (seed), variation + k * this


def load_weights(weights: Path = WEIGHTS, config: Path = CONFIG,
                 name: str = "implicit-gan") -> tuple[ImplicitGan, dict]:
    return load_network(name, ImplicitGan, weights, config, REBUILD,
                        required=("categories", "extent_m"), labels="categories",
                        n_labels=lambda net: net.generator.n_classes)


def noise(seed: int, category_index: int, dim: int, stream: int = 0) -> torch.Tensor:
    """The noise vector [1, dim] of (seed, category, stream): a pure function of the three."""
    key = (int(seed) * 1_000_003 + category_index * 7_919 + stream * 104_729) % 2**63
    return torch.randn(1, dim, generator=torch.Generator().manual_seed(key))


def extract_field(sdf, resolution: int, cancel: CancelToken | None = None):
    """Sample a field over the unit cube [-0.5, 0.5]^3 coarse to fine, as served.

    `sdf` maps float32 points [N, 3] (a torch tensor) to signed distances [N] (negative inside).
    The first level has COARSE cells along the side; finer levels evaluate only within one
    coarser cell of the surface (`geometry.adaptive`). Returns (grid, origin, spacing, stats);
    the grid is padded with outside nodes, so marching cubes closes every surface.
    """
    def fn(p: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return sdf(torch.from_numpy(p)).numpy()

    return dense_field_coarse_to_fine(
        fn, np.full(3, -0.5), np.full(3, 0.5), resolution, level=0.0, inside_below=True,
        coarse=min(COARSE, resolution), band=1.0,
        cancel_check=cancel.check if cancel else None)


@torch.inference_mode()
def sample_grids(decoder, latent_gen, category_index: int, n: int, seed: int,
                 res: int = 32) -> np.ndarray:
    """n bool grids [n, res, res, res]: the decoder's field below 0 at the voxel centres of the
    data set's frame. The decoder learns sdf - DILATE, so this is the voxel data set's own
    solid test and both models meet the held-out data in the same representation. The noise
    comes from (seed, category)."""
    g = torch.Generator().manual_seed(seed * 7919 + category_index)
    z = latent_gen(torch.randn(n, latent_gen.noise_dim, generator=g),
                   torch.full((n,), category_index))
    pts = torch.from_numpy(voxel_centres(res))
    return np.stack([(decoder.bind(zi)(pts) < 0).view(res, res, res).numpy() for zi in z])


def check_morph(options) -> tuple[int | None, float]:
    """(morph_seed or None, t); InvalidOption when only one of the pair is set."""
    seed_b, t = options.get("morph_seed"), options.get("morph_t")
    if (seed_b is None) != (t is None):
        missing = "options.morph_t" if t is None else "options.morph_seed"
        raise InvalidOption(missing, "morph_seed and morph_t go together: set both (morph_t "
                            "0 to 1) or neither")
    return seed_b, (0.0 if t is None else float(t))


DESCRIPTION = (
    "IM-GAN style implicit model: a latent GAN and an SDF decoder trained on the procedural "
    "props; smooth watertight meshes at any resolution, variations and morphs."
)


class ImplicitGanGenerator(PropModel):
    """Serves the decoder and the EMA latent generator: a request's latent (`latent_for`) is
    decoded coarse to fine (`field`) and meshed by the shared prop pipeline."""

    PREFIX, VERSION = "igan-", "3"  # bump when the bytes change (see tests/test_golden.py)

    def __init__(self, weights: Path = WEIGHTS, config: Path = CONFIG,
                 name: str = "implicit-gan", deps: Mapping[str, Generator] | None = None) -> None:
        net = self.load_learned(name, load_weights, weights, config, DESCRIPTION,
                                IMPLICIT_OPTIONS, deps)
        self.decoder, self.latent_gen = net.decoder, net.generator
        # The serving precision shapes the bytes (bfloat16 where the CPU has it), so the
        # version says which one ran.
        self.info = replace(self.info, version=f"{self.info.version}-{serving_dtype()}"
                            .replace("torch.", ""))
        self.size = size_head.attach(self, weights, "python -m generators.implicit_gan.size --ship")

    def resolve(self, category: str, seed: int, options) -> Spec:
        spec = super().resolve(category, seed, options)
        check_morph(spec.options)  # the pair is checked before any work starts
        return spec

    def canonical(self, spec: Spec) -> Spec:
        """One spelling per shape: a morph at t = 0 is the seed itself and at t = 1 the
        morph seed's own asset (reported under that seed); variation 0 ignores `spread`."""
        o = dict(spec.options)
        seed_b, t = check_morph(o)
        seed = spec.seed
        if seed_b is not None and t in (0.0, 1.0):
            if t == 1.0:
                seed, o["variation"] = seed_b, 0
            o["morph_seed"] = o["morph_t"] = None
        if not o.get("variation"):
            o["spread"] = SPREAD.default
        return Spec(spec.category, seed, o)

    # ------------------------------------------------------------------ latents
    @torch.inference_mode()
    def _latent(self, category_index: int, n: torch.Tensor) -> torch.Tensor:
        return self.latent_gen(n, torch.tensor([category_index]))[0]

    def _pieces_left(self, z: torch.Tensor) -> int:
        """Pieces of the field of z at CHECK_RES once debris is dropped."""
        grid = self.field(z, CHECK_RES)[0]
        return debris(grid < 0)[1]["kept"] if (grid < 0).any() else 1_000_000

    def _choose(self, category_index: int, draw,
                candidates: int = CANDIDATES) -> tuple[int, torch.Tensor]:
        """(attempt, latent) of the first of `candidates` draws (`draw(attempt)` -> latent)
        that is one piece once debris is dropped, else the one with the fewest pieces left."""
        best = None
        for attempt in range(candidates):
            z = draw(attempt)
            kept = self._pieces_left(z)
            if best is None or kept < best[2]:
                best = (attempt, z, kept)
            if kept == 1:
                break
        return best[0], best[1]

    @functools.lru_cache(maxsize=256)  # noqa: B019 (one generator per process; a morph's ends)
    def _shape_latent(self, category_index: int, seed: int, variation: int = 0,
                      spread: float = 0.0) -> tuple[int, torch.Tensor]:
        """(attempt, latent) of a seed's own shape or of its k-th variation (see the module
        docstring): the seed's noise is chosen first, then the variation's second noise."""
        dim = self.latent_gen.noise_dim

        def base(attempt: int) -> torch.Tensor:
            return noise(seed, category_index, dim, stream=-attempt)

        a, z = self._choose(category_index, lambda k: self._latent(category_index, base(k)))
        if not variation:
            return a, z
        n = base(a)

        def varied(attempt: int) -> torch.Tensor:
            other = noise(seed, category_index, dim, stream=variation + attempt * ATTEMPT_STREAM)
            return self._latent(category_index, (n + spread * other) / math.sqrt(1 + spread ** 2))

        return self._choose(category_index, varied, VARIATION_CANDIDATES)

    def latent_for(self, spec: Spec) -> torch.Tensor:
        """The decoder latent [z_dim] of a spec (see the module docstring)."""
        return self.chosen(spec)[1]

    def chosen(self, spec: Spec) -> tuple[int, torch.Tensor]:
        """(attempt, decoder latent) of a spec; a morph's attempt is its start's."""
        o = spec.options
        ci = self.categories.index(spec.category)
        attempt, z = self._shape_latent(ci, spec.seed, o.get("variation") or 0,
                                        float(o.get("spread") or 0.0))
        seed_b, t = check_morph(o)
        if seed_b is not None and t > 0:
            z_b = self._shape_latent(ci, seed_b)[1]
            z = z_b if t == 1 else (1 - t) * z + t * z_b
        return attempt, z

    def size_m(self, category: str, seed: int, z: torch.Tensor) -> tuple[float, dict]:
        """The learned longest side (metres) of a latent's shape, and how it was found."""
        if self.size is None:
            return float(self.cfg["extent_m"][category]), {"size_from": "category median"}
        head, stats, _ = self.size
        ci = self.categories.index(category)
        u, eps = size_head.size_noise(seed, ci)
        t = head.sample(z.float()[None], torch.tensor([ci]), u, eps)[0]
        size, clamped = stats.to_m(category, float(t))
        return size, {"size_from": "learned", "size_clamped": clamped}

    def sample(self, category: str, n: int, seed: int, res: int = 32) -> np.ndarray:
        """n occupancy grids from fresh noise (what `vitrine eval` scores); see sample_grids."""
        return sample_grids(self.decoder, self.latent_gen, self.categories.index(category), n,
                            seed, res)

    def sample_served(self, category: str, n: int, seed: int, res: int = 32) -> np.ndarray:
        """n grids as served (what `vitrine eval --draws served` scores): the chosen latent of
        seeds seed * n + 1 ... seed * n + n, its field below 0 at the voxel centres (as
        `sample_grids`), the debris dropped by the same rule as the served field's."""
        pts = torch.from_numpy(voxel_centres(res))
        ci = self.categories.index(category)
        out = []
        for k in range(n):
            z = self._shape_latent(ci, seed * n + 1 + k)[1]
            with torch.inference_mode():
                solid = (self.decoder.bind(z)(pts) < 0).view(res, res, res).numpy()
            out.append(solid & ~debris(solid)[0])
        return np.stack(out)

    # ------------------------------------------------------------------ fields and assets
    def field(self, z: torch.Tensor, resolution: int, cancel: CancelToken | None = None):
        """(grid, origin, spacing, stats) of latent z in cube units, coarse to fine."""
        return extract_field(self.decoder.bind(z), resolution, cancel)

    def generate_one(self, spec: Spec, cancel: CancelToken | None = None) -> Asset:
        seed_b, t = check_morph(spec.options)
        attempt, z = self.chosen(spec)
        grid, origin, spacing, stats = self.field(z, spec.options["resolution"], cancel)
        if not (grid < 0).any():
            raise EmptyShape(f"{self.info.name} produced an empty {spec.category} for seed "
                             f"{spec.seed}; try another seed")
        mask, counts = debris(grid < 0)
        grid = np.where(mask, np.float32(spacing), grid)  # outside: the debris is dropped
        # The material follows the nearer end of a morph, so both ends are the seeds' assets.
        material_seed = seed_b if seed_b is not None and t >= 0.5 else spec.seed
        meta = {"field_points": stats["points_evaluated"],
                "field_ms": round(1000 * stats["seconds"], 1),
                "structure": {"attempt": attempt + 1, "candidates": CANDIDATES, **counts}}
        options = dict(spec.options)
        if options.get("size_m") is None:
            options["size_m"], how = self.size_m(spec.category, material_seed, z)
            meta.update(how, learned_size_m=round(options["size_m"], 4))
        # The cube's side only scales the field: `size_m` (learned or requested) sets the size.
        side_m = float(self.cfg["extent_m"][spec.category]) * CUBE_OVER_EXTENT
        asset = self.prop(
            Spec(spec.category, material_seed, options), grid, origin * side_m,
            spacing * side_m, inside_below=True, level=0.0, cancel=cancel, metadata=meta)
        asset.seed = spec.seed
        return asset
