"""Export a training run's EMA generator as the shipped `voxel-gan` weights.

    .venv/bin/python -m generators.voxel_gan.export --run runs/voxel-gan

Writes `generators/voxel_gan/weights/voxel-gan.safetensors` (fp16; the EMA generator only, no
discriminator or optimiser state) and `voxel-gan.json`: the constructor arguments, the category
names, the real-world longest side of each category (median over 64 procedural shapes, so a
served prop has a plausible size in metres), the file's sha256 (checked at every load) and the
run's training record (steps, arguments, wall time from its losses.csv).
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
from generators.procedural import families
from generators.voxel_gan.generator import CONFIG, WEIGHTS
from generators.voxel_gan.model import VoxelGenerator

log = logging.getLogger(__name__)


def training_record(run: Path) -> dict:
    cfg = json.loads((run / "config.json").read_text())
    rec = {"steps": cfg["step"], "args": cfg["args"], "discriminator": cfg["discriminator"]}
    losses = run / "losses.csv"
    if losses.exists():
        with losses.open() as f:
            rows = list(csv.DictReader(f))
        rows = [r for r in rows if int(r["step"]) <= cfg["step"]]
        rec["train_seconds"] = round(sum(float(r["sec_per_step"]) for r in rows), 1)
    return rec


def export(run: Path, weights: Path = WEIGHTS, config: Path = CONFIG) -> dict:
    ckpt = load_file(str(run / "checkpoint.safetensors"))
    run_cfg = json.loads((run / "config.json").read_text())
    G = VoxelGenerator(**run_cfg["generator"])
    state = {k[len("ema."):]: v for k, v in ckpt.items() if k.startswith("ema.")}
    G.load_state_dict(state)  # fails loudly if the run's shapes do not match its config
    categories = run_cfg.get("categories", list(families.CATEGORIES))
    meta = {
        "model": "voxel-gan",
        "generator": G.config(),
        "categories": categories,
        "extent_m": category_extents(categories),
        "training": training_record(run),
    }
    return write_weights(G, meta, weights, config)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default="runs/voxel-gan", help="training run directory")
    ap.add_argument("--weights", default=str(WEIGHTS))
    ap.add_argument("--config", default=str(CONFIG))
    ap.add_argument("--resume", metavar="FILE", help="also write the run's G, D and EMA in fp16 "
                    "here, for `vitrine train voxel-gan --init-from FILE` on another machine")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_grad_enabled(False)
    export(Path(args.run), Path(args.weights), Path(args.config))
    if args.resume:
        from generators.voxel_gan.train import save_resume

        save_resume(Path(args.run), Path(args.resume))
        log.info("wrote %s", args.resume)


if __name__ == "__main__":
    main()
