"""Export a training run as `implicit-gan` weights: shipped (`--ship`) or a model directory.

    vitrine export implicit-gan --run runs/implicit-gan --ship [--resume FILE]

Writes NAME.safetensors (fp16: the decoder and the EMA latent generator; no encoder, critic or
optimiser state) and NAME.json: constructor arguments, category names, each category's
real-world longest side (metres, as the run recorded them), the file's sha256 (checked at every
load) and the run's training record (steps, config, wall time of each stage). `--ship` writes
generators/implicit_gan/weights/implicit-gan.*; see `generators.training.export` for the rest.
"""

from __future__ import annotations

from pathlib import Path

from generators.core.weights import write_weights
from generators.implicit_gan.generator import CONFIG, WEIGHTS
from generators.implicit_gan.model import ImplicitGan
from generators.training import export as shared
from generators.training import run as rundir

FAMILY = "implicit-gan"
LOGS = {"losses_ae.csv": "ae_step", "losses_gan.csv": "gan_step"}


def export(run: Path, weights: Path = WEIGHTS, config: Path = CONFIG,
           model: str = FAMILY) -> dict:
    cfg = rundir.read_config(run)
    if not cfg["state"].get("gan_step"):
        raise SystemExit(f"{run} has no latent-GAN steps yet; finish training first")
    net, _ = ImplicitGan.from_run(run)
    meta = shared.shape_metadata(FAMILY, model, net.config(), cfg,
                                 training=rundir.training_record(run, LOGS))
    return write_weights(net, meta, weights, config)


def save_resume(run: Path, path: Path) -> None:
    """Every network of a run in fp16 (no optimiser state, no latents), small enough to commit,
    so a later machine can go on training the autoencoder with `--init-from`."""
    rundir.save_resume(run, path, skip=("latents.",))


def main(argv=None) -> int:
    return shared.main(argv, FAMILY, __doc__, export, (WEIGHTS, CONFIG),
                       resume_skip=("latents.",))


if __name__ == "__main__":
    raise SystemExit(main())
