"""The `character-gan` model: a trained body GAN -> the humanoid family's dressing and rig.

Weights ship in `generators/character_gan/weights/`: `character-gan.safetensors` (fp16, the
EMA generator with its PCA basis) and `character-gan.json` (constructor arguments, category
names, the humanoid template version they were trained in, sha256, training record), written
by `vitrine export character-gan`. A missing, truncated or altered file, or weights trained in
another template than the installed one, refuse to load with a `ModelLoadError` naming the file
and the command that rebuilds it.

A seed's latent gives whitened shape coefficients; decoded, they are a body in the template's
topology, placed (feet on y = 0, scaled to `height_m` when given), and handed to
`generators.humanoid.generator.build_character`: the skeleton is fitted to it, the clothing
drawn for (category, seed) is fitted over it, and the clips are made on its joints.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from generators.character_gan.model import BodyGenerator
from generators.core.asset import KIND_CHARACTER, Asset, CancelToken, Spec
from generators.core.errors import InvalidOption, ModelLoadError
from generators.core.registry import Generator, GeneratorInfo, make_version
from generators.core.weights import load_network, shipped_paths
from generators.humanoid import body as hb
from generators.humanoid.generator import build_character

log = logging.getLogger(__name__)

WEIGHTS, CONFIG, REBUILD = shipped_paths(__file__, "character-gan")

DESCRIPTION = (
    "Class-conditional GAN over body shape trained on the humanoid family's bodies; every seed "
    "is a body no rule wrote, dressed, rigged (53-bone game skeleton) and animated (idle, walk, "
    "run, wave) by the humanoid pipeline.")


def load_weights(weights: Path = WEIGHTS, config: Path = CONFIG,
                 name: str = "character-gan") -> tuple[BodyGenerator, dict]:
    """The EMA generator in eval mode, and its JSON config; ModelLoadError on any defect."""
    G, cfg = load_network(name, BodyGenerator, weights, config, REBUILD,
                          required=("categories", "template"), labels="categories")
    tpl = hb.template()
    if G.n_vertices != tpl.n_vertices:
        raise ModelLoadError(f"{name}: {weights} makes bodies of {G.n_vertices} vertices, the "
                             f"installed humanoid template has {tpl.n_vertices} (template "
                             f"{cfg['template']} vs {tpl.version}); retrain: "
                             f"`vitrine reproduce character-gan`")
    return G, cfg


def latent(seed: int, category_index: int, z_dim: int) -> torch.Tensor:
    """The latent code [1, z_dim] of a (seed, category): a pure function of both."""
    g = torch.Generator().manual_seed((int(seed) * 1_000_003 + category_index) % 2**63)
    return torch.randn(1, z_dim, generator=g)


class CharacterGanGenerator(Generator):
    PREFIX, VERSION = "cgan-", "1"  # bump when the bytes change (see tests/test_golden.py)

    def __init__(self, weights: Path = WEIGHTS, config: Path = CONFIG,
                 name: str = "character-gan",
                 deps: Mapping[str, Generator] | None = None) -> None:
        humanoid = dict(deps or {}).get("humanoid")
        if humanoid is None:
            raise ModelLoadError(f"{name} needs the humanoid model (its dressing, rig and "
                                 "clips); load it with `load_models` or pass deps")
        self.humanoid = humanoid
        self.net, self.cfg = load_weights(weights, config, name)
        self.categories = list(self.cfg["categories"])
        self.info = GeneratorInfo(
            name=name, kind=KIND_CHARACTER,
            version=make_version(self.PREFIX, self.VERSION, self.cfg["sha256"],
                                 {"humanoid": humanoid}),
            description=DESCRIPTION, categories=tuple(self.categories),
            options=humanoid.info.options)

    @torch.inference_mode()
    def body_vertices(self, category: str, seed: int) -> np.ndarray:
        """[V, 3] float32 placed vertices of the generated body of (category, seed)."""
        ci = self.categories.index(category)
        z = latent(seed, ci, self.net.z_dim)
        v = self.net.decode(self.net(z, torch.tensor([ci])))[0].numpy()
        return hb.place(v)

    def generate_one(self, spec: Spec, cancel: CancelToken | None = None) -> Asset:
        height = spec.options.get("height_m")
        if height is not None and not hb.MIN_HEIGHT_M <= height <= hb.MAX_HEIGHT_M:
            raise InvalidOption("options.height_m", f"got {height}; allowed: "
                                f"{hb.MIN_HEIGHT_M} to {hb.MAX_HEIGHT_M}")
        v = self.body_vertices(spec.category, spec.seed)
        if height is not None:
            v = hb.place(v, height)
        body = hb.body_from_vertices(v)
        if cancel:
            cancel.check()
        return build_character(body, spec.category, spec.seed, spec.options,
                               self.humanoid.materials, cancel)
