"""Export a training run's EMA shader as the `neural-render` weights: shipped, or a model dir.

    vitrine export neural-render --run runs/neural-render --ship

Writes NAME.safetensors (fp16; the EMA shader only, no critic or optimiser state) and NAME.json
(`--ship`: generators/neural_render/weights/neural-render.*): the shader's constructor
arguments, the G-buffer channel names it reads, the file's sha256 (checked at every load) and
the run's training record (steps, config, wall time).
"""

from __future__ import annotations

from pathlib import Path

from generators.core.weights import write_weights
from generators.neural_render.gbuffer import FULL, HALF
from generators.neural_render.generator import CONFIG, WEIGHTS
from generators.neural_render.model import NeuralShader
from generators.training import export as shared
from generators.training import run as rundir

FAMILY = "neural-render"


def export(run: Path, weights: Path = WEIGHTS, config: Path = CONFIG,
           model: str = FAMILY) -> dict:
    net = rundir.load_network(run, NeuralShader)
    meta = {**shared.metadata(FAMILY, model), "generator": net.config(),
            "channels": {"full": list(FULL), "half": list(HALF)},
            "training": rundir.training_record(run, keep=("pairs", "data"))}
    return write_weights(net, meta, weights, config)


def main(argv=None) -> int:
    return shared.main(argv, FAMILY, __doc__, export, (WEIGHTS, CONFIG))


if __name__ == "__main__":
    raise SystemExit(main())
