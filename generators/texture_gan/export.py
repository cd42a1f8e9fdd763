"""Export a training run's EMA generator as `texture-gan` weights: shipped, or a model dir.

    vitrine export texture-gan --run runs/texture-gan-ft --ship

Writes NAME.safetensors (fp16; the EMA generator only, no discriminator or optimiser state)
and NAME.json (`--ship`: generators/texture_gan/weights/texture-gan.*; otherwise a model
directory, see `generators.training.export`): the constructor arguments, the
material names, the normal strength, the quarter turns from G's frame to the exemplars'
(`config.G_QUARTER_TURNS`), the cut offsets (`choose_cut_offset`: one for configs
without a per-material entry, and one per material), the file's sha256
(checked at every load) and the run's training record (steps, config, wall time, the run it
started from, the measured cell step profile).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from generators.core.weights import write_weights as shared_write_weights
from generators.texture.pbr import pbr_from_albedo_height
from generators.texture_gan.config import G_QUARTER_TURNS
from generators.texture_gan.generator import (
    CONFIG,
    CUT_OFFSET,
    DEFAULT_NORMAL_STRENGTH,
    WEIGHTS,
    as_cut,
    synthesize,
)
from generators.texture_gan.model import UPSAMPLE, TextureGenerator
from generators.training import export as shared
from generators.training import run as rundir

log = logging.getLogger(__name__)


FAMILY = "texture-gan"


PROFILE_SEED = 100_001  # profile seeds start here: disjoint from the evaluation's 1 .. n


def step_profile(G: TextureGenerator, n_materials: int, size: int = 256,
                 seeds: int = 16, strength: float = DEFAULT_NORMAL_STRENGTH) -> np.ndarray:
    """[material, map, axis, 16]: mean |neighbour step| of un-cut maps by position in the
    latent cell.

    Entry [i, m, a, j] averages the steps from in-cell position j to j + 1 (the last one
    wraps) along axis a (0 rows, 1 columns) of map m (base colour, normal, ORM) of material i,
    over `seeds` seeds (from `PROFILE_SEED`, which the evaluation does not draw), divided by
    the mean step of that map and axis: 1 everywhere when the cell grid is invisible.
    """
    acc = np.zeros((n_materials, 3, 2, UPSAMPLE))
    for mi in range(n_materials):
        for seed in range(PROFILE_SEED, PROFILE_SEED + seeds):
            pbr = pbr_from_albedo_height(*synthesize(G, mi, seed, size, cut_offset=0), 0.0,
                                         strength)
            for m, img in enumerate((pbr.base_color, pbr.normal, pbr.orm)):
                x = img.astype(np.float32)
                for axis in (0, 1):
                    step = np.abs(np.roll(x, -1, axis=axis) - x)
                    per_pos = step.mean(axis=tuple(i for i in range(3) if i != axis))  # [S]
                    acc[mi, m, axis] += per_pos.reshape(-1, UPSAMPLE).mean(axis=0)
    return acc / acc.mean(axis=-1, keepdims=True)


def choose_cut_offset(profile: np.ndarray) -> list[int]:
    """[rows, columns]: per axis the roll r whose wrap step (in-cell position 15 - r) is
    closest to an average step, worst case over the maps (see `generator.CUT_OFFSET`)."""
    out = []
    for axis in (0, 1):
        cost = [float(np.abs(profile[:, axis, (UPSAMPLE - 1 - r) % UPSAMPLE] - 1).max())
                for r in range(UPSAMPLE)]
        out.append(int(np.argmin(cost)))
    return out


def choose_cuts(G: TextureGenerator, materials: list[str],
                strength: float = DEFAULT_NORMAL_STRENGTH
                ) -> tuple[np.ndarray, list[int], dict[str, list[int]]]:
    """(model-wide step profile [map, axis, 16], the model-wide cut, a cut per material)."""
    per_material = step_profile(G, len(materials), strength=strength)
    profile = per_material.mean(axis=0)
    cuts = {m: choose_cut_offset(per_material[i]) for i, m in enumerate(materials)}
    return profile, choose_cut_offset(profile), cuts


def write_weights(G: TextureGenerator, materials: list[str], weights: Path = WEIGHTS,
                  config: Path = CONFIG, training: dict | None = None,
                  normal_strength: float = DEFAULT_NORMAL_STRENGTH,
                  cut_offset: int | list[int] = CUT_OFFSET,
                  cut_offsets: dict[str, list[int]] | None = None,
                  model: str = FAMILY) -> dict:
    """Write G as fp16 safetensors plus its JSON config (atomically); return the config."""
    meta = {
        **shared.metadata(FAMILY, model),
        "generator": G.config(),
        "materials": list(materials),
        "normal_strength": normal_strength,
        "cut_offset": list(as_cut(cut_offset)),
        "cut_offsets": {m: list(as_cut(c)) for m, c in (cut_offsets or {}).items()},
        "quarter_turns": {m: k for m, k in G_QUARTER_TURNS.items() if m in materials},
        "training": training or {},
    }
    return shared_write_weights(G, meta, weights, config)


def export(run: Path, weights: Path = WEIGHTS, config: Path = CONFIG, model: str = FAMILY,
           normal_strength: float = DEFAULT_NORMAL_STRENGTH) -> dict:
    """The run's EMA generator as weights (see the module docstring)."""
    G = rundir.load_network(run, TextureGenerator)  # fails loudly if shapes and config differ
    # Measured on the fp16-rounded network that will ship.
    G.load_state_dict({k: v.half().float() for k, v in G.state_dict().items()})
    materials = rundir.read_config(run)["materials"]
    profile, cut, cuts = choose_cuts(G, materials, normal_strength)
    log.info("cell step profile (base colour, columns): %s; cut offset (rows, columns) %s, "
             "per material %s", np.round(profile[0, 1], 2).tolist(), cut, cuts)
    training = rundir.training_record(run, keep=("init_from",))
    training["cell_step_profile"] = np.round(profile, 3).tolist()
    return write_weights(G, materials, weights, config, training, normal_strength, cut, cuts,
                         model)


def _options(ap) -> None:
    ap.add_argument("--normal-strength", type=float, default=DEFAULT_NORMAL_STRENGTH,
                    help="normal-map strength recorded for serving")


def main(argv=None) -> int:
    return shared.main(argv, FAMILY, __doc__, export, (WEIGHTS, CONFIG), options=_options)


if __name__ == "__main__":
    raise SystemExit(main())
