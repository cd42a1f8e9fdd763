"""Export a training run's EMA generator as `voxel-gan` weights: shipped, or a model directory.

    vitrine export voxel-gan --run runs/voxel-gan --ship
    vitrine export voxel-gan --run runs/armchairs [--name armchairs] [--out-dir models]

Writes NAME.safetensors (fp16; the EMA generator only, no discriminator or optimiser state)
and NAME.json: the constructor arguments, the category names and the real-world longest side
of each (both as the run recorded them from its data: the procedural families, or the studio's
meshes of `vitrine dataset build`), the file's sha256 (checked at every load) and the run's
training record (steps, config, wall time from its losses.csv). `--ship` writes
generators/voxel_gan/weights/voxel-gan.*; see `generators.training.export` for the rest.
"""

from __future__ import annotations

from pathlib import Path

from generators.core.weights import write_weights
from generators.training import export as shared
from generators.training import run as rundir
from generators.voxel_gan.generator import CONFIG, WEIGHTS
from generators.voxel_gan.model import VoxelGenerator

FAMILY = "voxel-gan"


def export(run: Path, weights: Path = WEIGHTS, config: Path = CONFIG,
           model: str = FAMILY) -> dict:
    cfg = rundir.read_config(run)
    G = rundir.load_network(run, VoxelGenerator)  # fails loudly if shapes and config differ
    meta = shared.shape_metadata(FAMILY, model, G.config(), cfg,
                                 training=rundir.training_record(run, keep=("data",)))
    return write_weights(G, meta, weights, config)


def main(argv=None) -> int:
    return shared.main(argv, FAMILY, __doc__, export, (WEIGHTS, CONFIG), resume_skip=())


if __name__ == "__main__":
    raise SystemExit(main())
