"""`vitrine eval implicit-gan`: the shape-metric table, and a side-by-side with `voxel-gan`.

    .venv/bin/python -m generators.implicit_gan.evaluate [--n 50] [--run runs/implicit-gan]
        [--side-by-side]

Scores the shipped weights (or, with `--run`, a training run's decoder and EMA latent
generator) exactly as `vitrine eval voxel-gan` scores the voxel GAN: `n` generated shapes per
category against `n` held-out shapes, by MMD-CD, COV-CD and 1-NNA-CD on surface points of 32^3
occupancy grids, the training split as the reference floor, and the memorisation check. The
implicit model's grids are its SDF below half a voxel at the voxel centres, which is how the
data set itself voxelises the procedural shapes.

`--side-by-side` also scores the shipped `voxel-gan` on the same held-out shapes with the same
seed, times one default asset of each model (median of `--time-seeds` seeds per category), and
prints both models in one table.

Then the served tables (`generators.metrics.served`, as for `vitrine eval voxel-gan`): lod0
props as served against `procedural`, in metres, their sizes, and the share that stand.
`--quick` looks at n = 8; `--no-served` skips the served tables.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path

import torch

from generators.implicit_gan.generator import sample_grids
from generators.implicit_gan.model import ImplicitGan
from generators.metrics import evaluate as metrics
from generators.training import run as rundir

log = logging.getLogger(__name__)


def sampler_from_run(run: Path):
    """(sample fn, categories, steps) for a run directory's decoder and EMA latent generator."""
    net, cfg = ImplicitGan.from_run(run)
    cats, state = cfg["categories"], cfg["state"]

    def sample(category: str, n: int, seed: int):
        return sample_grids(net.decoder, net.generator, cats.index(category), n, seed)

    return sample, cats, f"AE {state['ae_step']} + GAN {state['gan_step']} steps"


def reconstruction_sampler(source: str):
    """(sample fn, categories, title) scoring reconstructions of training shapes instead of
    generated ones: a ceiling for any latent GAN on that representation. `source` is "grid"
    (trilinear lookups in the 64^3 SDF grids: the representation the decoder trained on until
    exact samples) or a resume file (`export --resume`): its autoencoder's reconstructions."""
    import numpy as np
    from safetensors import safe_open
    from safetensors.torch import load_file

    from generators.implicit_gan.data import QUANT, TARGET_OFFSET, load_or_build_sdf, voxel_centres
    from generators.implicit_gan.model import ImplicitDecoder, ShapeEncoder
    from generators.implicit_gan.train import lookup
    from generators.training.run import load_prefixed

    data = load_or_build_sdf("train", 500, 64, progress=True)
    pts = torch.from_numpy(voxel_centres(32))
    if source == "grid":
        def field(grids):
            return lookup(grids, pts[None].expand(len(grids), -1, -1)) - TARGET_OFFSET
        title = "64^3 SDF grid lookups of training shapes"
    else:
        path = Path(source)
        if not path.is_file():
            raise SystemExit(f"--reconstructions: {path} does not exist (a file written by "
                             "`python -m generators.implicit_gan.export --resume FILE`, or 'grid')")
        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
        if "networks" not in meta:
            raise SystemExit(f"--reconstructions: {path} names no network sizes; rewrite it "
                             "with `python -m generators.implicit_gan.export --resume`")
        nets = json.loads(meta["networks"])
        t = load_file(str(path))
        enc, dec = ShapeEncoder(**nets["enc"]), ImplicitDecoder(**nets["dec"])
        load_prefixed(enc, t, "enc")
        load_prefixed(dec, t, "dec")
        enc.eval()

        def field(grids):
            return torch.stack([dec.bind(z)(pts) for z in enc(grids)])
        title = f"autoencoder reconstructions of training shapes ({path.name}, AE step " \
                f"{meta.get('ae_step', '?')})"

    def sample(category: str, n: int, seed: int):
        ci = data.categories.index(category)
        idx = np.random.default_rng([seed, ci]).choice(np.flatnonzero(data.labels == ci), n,
                                                       replace=False)
        grids = torch.from_numpy(data.sdf[np.sort(idx)]).float().div(QUANT)[:, None]
        return (field(grids) < 0).view(n, 32, 32, 32).numpy()

    return sample, list(data.categories), title


def ms_per_asset(model, categories, seeds: int) -> float:
    """Median wall time (ms) of one default asset (`generate` of a single spec)."""
    times = []
    for cat in categories:
        for k in range(seeds):
            spec = model.resolve(cat, 101 + k, {})
            t0 = time.perf_counter()
            model.generate([spec])
            times.append(1000 * (time.perf_counter() - t0))
    return statistics.median(times)


def side_by_side(reports: dict, ms: dict) -> str:
    """Both models' mean figures, and per category 1-NNA / COV, in one table."""
    names = list(reports)
    head = f"{'':<24}" + "".join(f"{n:>14}" for n in names)
    lines = [head, "-" * len(head)]

    def row(label, values, fmt):
        lines.append(f"{label:<24}" + "".join(f"{fmt(v):>14}" for v in values))

    d = {n: r.to_dict() for n, r in reports.items()}
    row("1-NNA-CD (mean)", [d[n]["mean"]["model"]["nna_cd"] for n in names],
        lambda v: f"{100 * v:.1f}%")
    row("COV-CD (mean)", [d[n]["mean"]["model"]["cov_cd"] for n in names],
        lambda v: f"{100 * v:.1f}%")
    row("MMD-CD (mean)", [d[n]["mean"]["model"]["mmd_cd"] for n in names], lambda v: f"{v:.5f}")
    row("memorisation (mean)", [d[n]["mean"]["memorisation_ratio"] for n in names],
        lambda v: f"{v:.2f}")
    row("ms per asset (median)", [ms.get(n, float("nan")) for n in names], lambda v: f"{v:.0f}")
    for cat in d[names[0]]["categories"]:
        row(f"{cat} 1-NNA / COV", [(d[n]["categories"][cat]["model"]["nna_cd"],
                                    d[n]["categories"][cat]["model"]["cov_cd"]) for n in names],
            lambda v: f"{100 * v[0]:.0f}% / {100 * v[1]:.0f}%")
        row(f"{cat} memorisation", [d[n]["categories"][cat]["memorisation_ratio"]
                                    for n in names], lambda v: f"{v:.2f}")
    floor = d[names[0]]["mean"]["floor"]
    lines.append(f"floor (training shapes vs held-out): 1-NNA {100 * floor['nna_cd']:.1f}%, "
                 f"COV {100 * floor['cov_cd']:.1f}%, MMD {floor['mmd_cd']:.5f}. ms per asset: "
                 "one default asset (generate() of one spec), this machine.")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="vitrine eval implicit-gan",
                                 description=__doc__.splitlines()[0])
    metrics.add_arguments(ap)
    ap.add_argument("--side-by-side", action="store_true",
                    help="also score the shipped voxel-gan and print both models together")
    ap.add_argument("--time-seeds", type=int, default=3,
                    help="seeds per category timed for ms per asset (--side-by-side)")
    ap.add_argument("--reconstructions", metavar="FILE|grid",
                    help="score reconstructions of training shapes instead of samples: a resume "
                    "file's autoencoder, or 'grid' for the SDF grids' own lookups (a ceiling "
                    "for the latent GAN; the memorisation columns then compare shapes with "
                    "their own sources)")
    return ap


def _run_sampler(run: Path):
    """(sample, categories, title) of a run, or the message saying why it cannot be scored."""
    if message := rundir.missing(run, "implicit-gan"):
        return message
    if not rundir.read_config(run)["state"].get("gan_step"):
        return f"{run} has no latent-GAN steps yet; let training reach its GAN stage"
    sample, categories, steps = sampler_from_run(run)
    return sample, categories, f"implicit-gan, run {run} ({steps})"


def _side_by_side(args, report, categories, data, model) -> dict:
    """Score the shipped voxel-gan on the same shapes, time both, print both; the numbers."""
    from generators.implicit_gan.generator import ImplicitGanGenerator
    from generators.voxel_gan.generator import VoxelGanGenerator

    voxel = VoxelGanGenerator()
    vreport = metrics.evaluate_args(voxel.sample, categories, args, data)
    print()
    print(metrics.format_table(vreport, title="voxel-gan, shipped weights (same held-out shapes)"))
    model = model or ImplicitGanGenerator()
    ms = {"implicit-gan": ms_per_asset(model, categories, args.time_seeds),
          "voxel-gan": ms_per_asset(voxel, categories, args.time_seeds)}
    print()
    print(side_by_side({"implicit-gan": report, "voxel-gan": vreport}, ms))
    return {"voxel-gan": vreport.to_dict(), "ms_per_asset": ms}


def main(argv=None) -> int:
    ap = _parser()
    args = metrics.parse_eval_args(ap, argv)
    if args.reconstructions and (args.run or args.side_by_side):
        ap.error("--reconstructions goes alone (not with --run or --side-by-side)")
    model = None
    with torch.no_grad():
        if args.reconstructions:
            sample, categories, title = reconstruction_sampler(args.reconstructions)
        elif args.run:
            got = _run_sampler(Path(args.run))
            if isinstance(got, str):
                print(f"vitrine eval: {got}", file=sys.stderr)
                return 2
            sample, categories, title = got
        else:
            from generators.implicit_gan.generator import ImplicitGanGenerator

            model = ImplicitGanGenerator()
            categories, sample = list(model.categories), model.sample
            tr = model.cfg["training"]
            title = (f"implicit-gan, shipped weights (AE {tr['ae_steps']} + GAN "
                     f"{tr['gan_steps']} steps)")
            if args.draws == "served":
                from generators.implicit_gan.generator import CANDIDATES

                sample = model.sample_served
                title += (f", served draws (the first one-piece draw of up to {CANDIDATES} "
                          "per seed)")
        data = metrics.splits(args.n, args.train_per_category)
        report = metrics.evaluate_args(sample, categories, args, data)
        print(metrics.format_table(report, title=title))
        out = {"implicit-gan": report.to_dict()}
        if args.side_by_side:
            out.update(_side_by_side(args, report, categories, data, model))
        if not args.reconstructions:
            served = metrics.served_tables("implicit-gan", categories, args)
            if served is not None:
                out["served"] = served
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
