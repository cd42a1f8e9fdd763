"""Export a training run as the shipped `implicit-gan` weights.

    .venv/bin/python -m generators.implicit_gan.export --run runs/implicit-gan

Writes `generators/implicit_gan/weights/implicit-gan.safetensors` (fp16: the decoder and the EMA
latent generator; no encoder, critic or optimiser state) and `implicit-gan.json`: constructor
arguments, category names, each category's real-world longest side (metres), the file's sha256
(checked at every load) and the run's training record (steps, arguments, wall time).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
from pathlib import Path

import torch
from safetensors.torch import load_file

from generators.core.weights import write_weights
from generators.data.procedural_set import category_extents
from generators.implicit_gan.generator import CONFIG, WEIGHTS
from generators.implicit_gan.model import ImplicitGan

log = logging.getLogger(__name__)


def _seconds(path: Path, last_step: int) -> float:
    if not path.exists():
        return 0.0
    with path.open() as f:
        return sum(float(r["sec_per_step"]) for r in csv.DictReader(f)
                   if int(r["step"]) <= last_step)


def training_record(run: Path) -> dict:
    cfg = json.loads((run / "config.json").read_text())
    return {
        "ae_steps": cfg["ae_step"], "gan_steps": cfg["gan_step"], "args": cfg["args"],
        "encoder": cfg["enc"], "critic": cfg["d"],
        "ae_seconds": round(_seconds(run / "losses_ae.csv", cfg["ae_step"]), 1),
        "gan_seconds": round(_seconds(run / "losses_gan.csv", cfg["gan_step"]), 1),
    }


def export(run: Path, weights: Path = WEIGHTS, config: Path = CONFIG) -> dict:
    cfg = json.loads((run / "config.json").read_text())
    if not cfg.get("gan_step"):
        raise SystemExit(f"{run} has no latent-GAN steps yet; finish training first")
    net, _ = ImplicitGan.from_run(run)
    meta = {
        "model": "implicit-gan",
        "generator": net.config(),
        "categories": cfg["categories"],
        "extent_m": category_extents(cfg["categories"]),
        "training": training_record(run),
    }
    return write_weights(net, meta, weights, config)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default="runs/implicit-gan", help="training run directory")
    ap.add_argument("--weights", default=str(WEIGHTS))
    ap.add_argument("--config", default=str(CONFIG))
    ap.add_argument("--resume", metavar="FILE", help="also write the run's networks in fp16 "
                    "here, for `vitrine train implicit-gan --init-from FILE` on another machine")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_grad_enabled(False)
    export(Path(args.run), Path(args.weights), Path(args.config))
    if args.resume:
        save_resume(Path(args.run), Path(args.resume))
        log.info("wrote %s", args.resume)


def save_resume(run: Path, path: Path) -> None:
    """Every network of a run in fp16 (no optimiser state, no latents), small enough to commit,
    so a later machine can go on training the autoencoder with `--init-from`."""
    from safetensors.torch import save_file

    t = load_file(str(run / "checkpoint.safetensors"))
    cfg = json.loads((run / "config.json").read_text())
    half = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in t.items()
            if not k.startswith("latents.")}
    nets = {k: cfg[k] for k in ("enc", "dec", "g", "d")}  # constructor arguments of each
    save_file(half, str(path), metadata={"ae_step": str(cfg["ae_step"]),
                                         "networks": json.dumps(nets)})


if __name__ == "__main__":
    main()
