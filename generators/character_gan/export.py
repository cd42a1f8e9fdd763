"""Export a training run's EMA generator as `character-gan` weights: shipped, or a model dir.

    vitrine export character-gan --run runs/character-gan --ship
    vitrine export character-gan --run runs/character-gan [--name NAME] [--out-dir models]

Writes NAME.safetensors (fp16: the EMA generator with its PCA basis; no discriminator or
optimiser state) and NAME.json: the constructor arguments, the category names, the humanoid
template version it was trained in, the file's sha256 and the run's training record.
"""

from __future__ import annotations

from pathlib import Path

from generators.character_gan.generator import CONFIG, WEIGHTS
from generators.character_gan.model import BodyGenerator
from generators.core.weights import write_weights
from generators.humanoid import body as hb
from generators.training import export as shared
from generators.training import run as rundir

FAMILY = "character-gan"


def export(run: Path, weights: Path = WEIGHTS, config: Path = CONFIG,
           model: str = FAMILY) -> dict:
    cfg = rundir.read_config(run)
    G = rundir.load_network(run, BodyGenerator)  # fails loudly if shapes and config differ
    meta = shared.metadata(FAMILY, model, generator=G.config(), categories=cfg["categories"],
                           template=hb.template().version,
                           pca_variance_kept=cfg.get("pca_variance_kept"),
                           training=rundir.training_record(run))
    return write_weights(G, meta, weights, config)


def main(argv=None) -> int:
    return shared.main(argv, FAMILY, __doc__, export, (WEIGHTS, CONFIG))


if __name__ == "__main__":
    raise SystemExit(main())
