"""`vitrine export MODEL`: one command line for every family's export.

    vitrine export voxel-gan --run runs/voxel-gan --ship
    vitrine export voxel-gan --run runs/armchairs [--name armchairs] [--out-dir models]

With `--ship` the run becomes the family's shipped weights (generators/FAMILY/weights/); without
it, a model directory DIR/NAME/ holding NAME.safetensors and NAME.json (`"family"` and `"model"`
added), which `vitrine serve --model-dir DIR` serves beside the shipped models and which never
overwrites them. NAME defaults to the run folder's name; it may not be a family's name.
`--resume FILE` (families that can go on training) also writes the run's networks in fp16.
"""

from __future__ import annotations

import argparse
import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from generators.training import run as rundir

log = logging.getLogger(__name__)

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_COMMON = ("run", "ship", "name", "out_dir", "resume")


def parser(family: str, doc: str | None, resume: bool) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=f"vitrine export {family}",
                                 description=(doc or "").strip().splitlines()[0])
    ap.add_argument("--run", default=f"runs/{family}", help="training run directory "
                    f"(default runs/{family})")
    ap.add_argument("--ship", action="store_true",
                    help=f"write the shipped {family} weights (generators/.../weights/)")
    ap.add_argument("--name", help="model name of the model directory (default: the run "
                    "folder's name)")
    ap.add_argument("--out-dir", default="models", help="where the model directory goes "
                    "(default models): OUT_DIR/NAME/NAME.safetensors + NAME.json")
    if resume:
        ap.add_argument("--resume", metavar="FILE", help="also write the run's networks in "
                        f"fp16 here, for `vitrine train {family} --init-from FILE` elsewhere")
    return ap


def destination(ap: argparse.ArgumentParser, args: argparse.Namespace, family: str,
                shipped: tuple[Path, Path]) -> tuple[Path, Path, str]:
    """(weights, config, model name) the export writes; a usage error for a bad name or a
    model directory that would land on the shipped files."""
    if args.ship:
        if args.name:
            ap.error("--ship writes the shipped weights under the family's name; drop --name")
        return shipped[0], shipped[1], family
    from generators.core.registry import families

    name = args.name or Path(args.run).resolve().name
    if not NAME.fullmatch(name):
        ap.error(f"model name {name!r}: use letters, digits, '.', '_' and '-' (pass --name)")
    if name in families():
        ap.error(f"model name {name!r} is a model family's; pass --name NAME for a model "
                 "directory, or --ship to write the shipped weights")
    folder = Path(args.out_dir) / name
    weights, config = folder / f"{name}.safetensors", folder / f"{name}.json"
    if weights.resolve() == shipped[0].resolve() or config.resolve() == shipped[1].resolve():
        ap.error(f"{folder} holds the shipped weights; pass --ship to replace them")
    return weights, config, name


def main(argv: Sequence[str] | None, family: str, doc: str | None,
         export: Callable[..., dict], shipped: tuple[Path, Path],
         resume_skip: tuple[str, ...] | None = None,
         options: Callable[[argparse.ArgumentParser], None] | None = None) -> int:
    """A family's export main(argv): `export(run, weights, config, model, **options)` with the
    destination chosen above; `resume_skip` (tensor prefixes left out of a resume file) given
    means the family takes `--resume FILE`; `options` adds the family's own flags."""
    ap = parser(family, doc, resume_skip is not None)
    if options:
        options(ap)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    weights, config, model = destination(ap, args, family, shipped)
    run = Path(args.run)
    rundir.read_config(run)  # a clear message when RUN is not a run
    extra = {k: v for k, v in vars(args).items() if k not in _COMMON}
    with torch.no_grad():
        export(run, weights, config, model, **extra)
    if getattr(args, "resume", None):
        rundir.save_resume(run, Path(args.resume), resume_skip or ())
        log.info("wrote %s", args.resume)
    return 0


def metadata(family: str, model: str, **keys) -> dict:
    """The JSON keys every exported model starts with."""
    return {"model": model, "family": family, **keys}


def shape_metadata(family: str, model: str, generator: dict, run_config: dict,
                   **keys) -> dict:
    """`metadata` of a shape model: its categories and their real-world longest sides as the
    run recorded them from its data (a run from before sizes were recorded trained on the
    procedural set, whose sizes are measured again)."""
    from generators.data.procedural_set import category_extents

    categories = run_config["categories"]
    extent_m = run_config.get("extent_m") or category_extents(categories)
    return metadata(family, model, generator=generator, categories=categories,
                    extent_m=extent_m, **keys)
