"""`vitrine eval texture-gan`: per material, SWD, wrap seams and diversity, with baselines.

    .venv/bin/python -m generators.texture_gan.evaluate [--n 32] [--size 256] [--run DIR]
        [--seam-sizes 512,1024] [--seam-n 32]

Per material, four sets of `n` textures of `size` pixels, each as full PBR maps:

* reference: random crops of the exemplar's maps (procedural materials: held-out seeds 1000+,
  never trained on; photos: the one picture there is, so photo rows measure fit, not
  generalisation);
* generated: the model at seeds 1 .. n;
* floor: other random crops of the exemplar (other held-out seeds) -- as close as any model
  can get;
* naive tile: an exemplar crop of half the size used as a tile -- its maps made with wrap
  filters, repeated 2 x 2 -- so the crop's seam runs through the middle and sits at the wrap.

Columns: SWD x 1e3 (mean over 4 Laplacian levels, `generators.metrics.texture`) of each set's
base colour against the reference, and the same on the normal maps; the seam ratio (per
texture max(columns, rows); mean and max over `--seam-n` textures of the largest of
`--seam-sizes` px) of the generated base colour, normal and ORM maps, at random interior lines
of the same maps, of the naive tiles, and, as the metric's noise floor, of procedural
exemplars that tile by construction; diversity (mean pairwise L1 of base colours) of generated
textures and of exemplar crops; and the "cell edge" ratio of the generated base colours
(`cell_edge_ratio`: does G's 16-pixel latent grid show?).
Then: each axis's seam ratio (columns, rows) as a mean over the generated textures; the
structure distance (`structure_distance`, which sees brick courses and marble veins) of the
generated base colours, of the floor crops and of two failure baselines (the floor crops with
their pixels shuffled: colour noise; turned 90 degrees) and the lattice correlation of the
generated base colours and of the floor crops (`lattice_correlation`: a motif repeating on G's
16-px latent grid; informative, not one of the bars); and issue 15's bars, PASS / FAIL per
material (structure within 1.5x of the floor, baselines outside, SWD within 2x, per-axis seams
<= 1.1 at every seam size, the wrap line's mean rank among interior lines in 0.25-0.75).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from generators.metrics.evaluate import parse_eval_args
from generators.metrics.texture import (
    diversity,
    lattice_correlation,
    seam_ratio,
    shuffled_pixels,
    sliced_wasserstein,
    structure_distance,
    wrap_rank,
)
from generators.texture.exemplars import PHOTO_MATERIALS, PHOTO_SIZE, exemplar
from generators.texture.pbr import PBRSet, pbr_from_albedo_height
from generators.texture_gan.generator import (
    CONFIG,
    CUT_OFFSET,
    DEFAULT_NORMAL_STRENGTH,
    WEIGHTS,
    TextureGanGenerator,
    as_cut,
    synthesize,
)
from generators.texture_gan.model import UPSAMPLE, TextureGenerator
from generators.training import run as rundir

log = logging.getLogger(__name__)

MAPS = ("base_color", "normal", "orm")
HELDOUT_SEED = 1000  # procedural exemplar seeds from here on are never trained on


@dataclass
class MaterialRow:
    material: str
    swd_generated: float
    swd_floor: float
    swd_naive: float
    swd_normal_generated: float
    swd_normal_floor: float
    swd_normal_naive: float
    seam_generated: dict[str, float]  # map -> mean seam ratio over the generated textures
    seam_generated_max: dict[str, float]  # map -> max seam ratio over the generated textures
    seam_generated_axes: dict[str, list[float]]  # map -> [columns, rows]: each axis's ratio,
    # mean over the generated textures (the two ratios, without the per-texture max)
    seam_naive: dict[str, float]  # map -> mean seam ratio over the naive tiles
    seam_interior: dict[str, float]  # map -> the same statistic at random interior lines of
    # the generated textures (rolled to the wrap): what a line with no seam scores
    seam_tileable_exemplar: float | None  # procedural exemplars (tile by construction), base
    # colour, mean: the metric's own noise floor at this size; None for photos
    diversity_generated: float
    diversity_exemplar: float
    cell_edge_generated: float  # mean over textures of `cell_edge_ratio` of the base colour
    structure_generated: dict[str, float]  # `structure_distance` of the generated base
    # colours to the reference ({"radial", "angular", "total"})
    structure_floor: dict[str, float]  # other exemplar crops: as close as a model can get
    structure_noise: dict[str, float]  # floor crops with their pixels shuffled: the colour
    # histogram, no structure
    structure_rotated: dict[str, float]  # floor crops turned 90 degrees
    seam_axes_by_size: dict[str, dict[str, list[float]]]  # size -> map -> [columns, rows],
    # each a mean over `seam_n` generated textures of that size
    wrap_rank_by_size: dict[str, dict[str, float]]  # size -> map -> the wrap line's rank
    # among interior lines (`wrap_rank`), mean over textures and both axes (0.5: ordinary)
    wrap_rank_naive: dict[str, float]  # map -> the same for the naive tiles (largest size)
    lattice_generated: float = 0.0  # `lattice_correlation` of the generated base colours (in
    # G's frame, where its latent cells lie): does a motif repeat on the latent-cell lattice?
    lattice_floor: float = 0.0  # the same of the floor crops (the exemplar's own value)


def _crops(material: str, n: int, size: int, first_seed: int, rng: np.random.Generator,
           strength: float, full: int = 512) -> tuple[list[PBRSet], list[PBRSet]]:
    """n crops of the exemplar's maps (computed on the whole exemplar, so no seam inside), and
    n naive tiles: a size/2 crop whose maps are made as for a tile (wrap filters), repeated
    2 x 2 -- a size-pixel texture with the crop's seam through its middle and at its wrap."""
    photo = material in PHOTO_MATERIALS
    n_src = 1 if photo else max(1, n // 4)
    sources = [exemplar(material, full, 0 if photo else first_seed + k) for k in range(n_src)]
    maps = [e.pbr(strength) for e in sources]
    crops, naive = [], []
    for i in range(n):
        k = i % n_src
        r, c = (int(v) for v in rng.integers(0, full - size + 1, size=2))
        win = np.s_[r:r + size, c:c + size]
        m = maps[k]
        crops.append(PBRSet(m.base_color[win].copy(), m.normal[win].copy(), m.orm[win].copy()))
        e, half = sources[k], np.s_[r:r + size // 2, c:c + size // 2]
        tile = pbr_from_albedo_height(e.albedo[half], e.height[half], e.roughness[half],
                                      e.metallic, strength)
        naive.append(PBRSet(*(np.tile(getattr(tile, a), (2, 2, 1)) for a in MAPS)))
    return crops, naive


def cell_edge_ratio(img: np.ndarray, period: int = UPSAMPLE,
                    offset: int | tuple[int, int] = CUT_OFFSET) -> float:
    """Mean step across G's latent-cell edges over the mean step anywhere (max of columns and
    rows; `offset` is the cut, per axis or one for both): 1 when the 16-pixel cell grid is
    invisible, above 1 when it shows everywhere."""
    a = np.asarray(img, dtype=np.float64)
    out = []
    for axis, off in enumerate(as_cut(offset)):
        steps = np.abs(np.diff(a, axis=axis)).mean(axis=tuple(i for i in range(a.ndim)
                                                              if i != axis))
        edges = np.arange(len(steps))[(np.arange(1, len(steps) + 1) - off) % period == 0]
        out.append(steps[edges].mean() / max(steps.mean(), 1e-12))
    return float(max(out))


def _naive_tiles(material: str, n: int, size: int, rng: np.random.Generator,
                 strength: float) -> list[PBRSet]:
    """n naive tiles of `size` pixels (a size/2 crop repeated 2 x 2, see `_crops`), cut from
    photos (512 px) or from 1024-pixel procedural exemplars, which a crop does not tile."""
    photo = material in PHOTO_MATERIALS
    full = PHOTO_SIZE if photo else 1024
    half = size // 2
    if half > full:
        raise ValueError(f"naive tiles of {size} px need {half}-px crops; {material} has {full}")
    out = []
    for k in range(n):
        e = exemplar(material, full, 0 if photo else HELDOUT_SEED + k)
        r, c = (int(v) for v in rng.integers(0, full - half + 1, size=2))
        win = np.s_[r:r + half, c:c + half]
        tile = pbr_from_albedo_height(e.albedo[win], e.height[win], e.roughness[win],
                                      e.metallic, strength)
        out.append(PBRSet(*(np.tile(getattr(tile, a), (2, 2, 1)) for a in MAPS)))
    return out


def _seams(sets: list[PBRSet]) -> dict[str, dict[str, np.ndarray]]:
    """Per map, `seam_ratio`'s "cols", "rows" and "max" over the textures, each measured once."""
    out = {}
    for m in MAPS:
        ratios = [seam_ratio(getattr(p, m)) for p in sets]
        out[m] = {k: np.array([r[k] for r in ratios]) for k in ("cols", "rows", "max")}
    return out


def _wrap_ranks(sets: list[PBRSet]) -> dict[str, float]:
    """Per map, `wrap_rank` averaged over the textures and both axes."""
    out = {}
    for m in MAPS:
        ranks = [wrap_rank(getattr(p, m)) for p in sets]
        out[m] = float(np.mean([[r["cols"], r["rows"]] for r in ranks]))
    return out


def _interior_seams(sets: list[PBRSet], rng: np.random.Generator,
                    lines: int = 4) -> dict[str, float]:
    """Per map, the seam statistic of `lines` random interior (row, column) lines of each
    texture, each rolled to the wrap: the score of lines that are no seam at all. Per texture
    max(columns, rows) as for the wrap, so it carries the same upward bias of a max of two
    noisy ratios (large for anisotropic or regular materials such as brick and fabric)."""
    out = {m: [] for m in MAPS}
    for p in sets:
        size = p.base_color.shape[0]
        for r, c in rng.integers(1, size - 1, size=(lines, 2)):
            for m in MAPS:
                img = np.roll(getattr(p, m), (-int(r), -int(c)), axis=(0, 1))
                out[m].append(seam_ratio(img)["max"])
    return {m: float(np.mean(v)) for m, v in out.items()}


def evaluate_material(G: TextureGenerator, material_index: int, material: str, n: int = 32,
                      size: int = 256, strength: float = DEFAULT_NORMAL_STRENGTH,
                      seed: int = 0, cut_offset: int | tuple[int, int] = CUT_OFFSET,
                      seam_sizes: tuple[int, ...] = (512, 1024), seam_n: int = 32,
                      quarter_turns: int = 0) -> MaterialRow:
    """One row of the table: SWD, structure and diversity on `n` textures of `size` px; seams
    on `seam_n` textures of each of `seam_sizes` px (the main table's columns at the largest;
    larger textures: less noise in a one-line statistic). `quarter_turns` as served."""
    rng = np.random.default_rng([seed, zlib.crc32(material.encode())])
    ref, _ = _crops(material, n, size, HELDOUT_SEED, rng, strength)
    floor, naive = _crops(material, n, size, HELDOUT_SEED + 500, rng, strength)

    def generate(count: int, px: int) -> list[PBRSet]:
        return [pbr_from_albedo_height(*synthesize(G, material_index, s, px, cut_offset,
                                                   quarter_turns), 0.0, strength)
                for s in range(1, count + 1)]

    ref_bc = np.stack([p.base_color for p in ref])

    def structure(sets) -> dict[str, float]:
        imgs = sets if isinstance(sets, np.ndarray) else np.stack([p.base_color for p in sets])
        return structure_distance(ref_bc, imgs)

    def swd(sets, attr):
        return sliced_wasserstein([getattr(p, attr) for p in ref],
                                  [getattr(p, attr) for p in sets], seed=seed)[-1]

    gen = generate(n, size)
    seam_size = max(seam_sizes)
    axes_by_size, rank_by_size = {}, {}
    for px in sorted(seam_sizes):
        sets = generate(seam_n, px)
        s_px = _seams(sets)
        axes_by_size[str(px)] = {m: [float(v["cols"].mean()), float(v["rows"].mean())]
                                 for m, v in s_px.items()}
        rank_by_size[str(px)] = _wrap_ranks(sets)
        if px == seam_size:
            seam_sets, seams = sets, s_px
    interior = _interior_seams(seam_sets, rng)
    naive_sets = _naive_tiles(material, seam_n, seam_size, rng, strength)
    naive_seams = _seams(naive_sets)
    bc = np.stack([p.base_color for p in floor])
    tileable = None
    if material not in PHOTO_MATERIALS:
        tileable = float(np.mean([
            seam_ratio(exemplar(material, seam_size, HELDOUT_SEED + k).pbr(strength)
                       .base_color)["max"] for k in range(seam_n)]))
    return MaterialRow(
        material=material,
        swd_generated=swd(gen, "base_color"),
        swd_floor=swd(floor, "base_color"),
        swd_naive=swd(naive, "base_color"),
        swd_normal_generated=swd(gen, "normal"),
        swd_normal_floor=swd(floor, "normal"),
        swd_normal_naive=swd(naive, "normal"),
        seam_generated={m: float(v["max"].mean()) for m, v in seams.items()},
        seam_generated_max={m: float(v["max"].max()) for m, v in seams.items()},
        seam_generated_axes={m: [float(v["cols"].mean()), float(v["rows"].mean())]
                             for m, v in seams.items()},
        seam_tileable_exemplar=tileable,
        seam_naive={m: float(v["max"].mean()) for m, v in naive_seams.items()},
        seam_interior=interior,
        diversity_generated=diversity([p.base_color for p in gen]),
        diversity_exemplar=diversity([p.base_color for p in floor]),
        # in G's frame (turned back), where its cell grid lies
        cell_edge_generated=float(np.mean([
            cell_edge_ratio(np.rot90(p.base_color, -quarter_turns), offset=cut_offset)
            for p in gen])),
        structure_generated=structure(gen),
        structure_floor=structure(floor),
        structure_noise=structure(shuffled_pixels(bc, seed)),
        structure_rotated=structure(np.rot90(bc, 1, axes=(1, 2))),
        seam_axes_by_size=axes_by_size,
        wrap_rank_by_size=rank_by_size,
        wrap_rank_naive=_wrap_ranks(naive_sets),
        lattice_generated=lattice_correlation(np.stack(
            [np.rot90(p.base_color, -quarter_turns) for p in gen])),
        lattice_floor=lattice_correlation(bc),
    )


def format_table(rows: list[MaterialRow], title: str) -> str:
    head = ("| material | SWD gen | SWD floor | SWD naive tile | gen / floor | SWD-normal gen "
            "| floor | naive | seam gen mean (bc / n / orm) | seam gen max "
            "| seam gen interior lines | seam naive mean | seam tileable exemplar | diversity gen | diversity crops | cell edge gen |")
    lines = [f"### {title}", "", head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        sg, sx, si, sn = (" / ".join(f"{d[m]:.2f}" for m in MAPS)
                          for d in (r.seam_generated, r.seam_generated_max, r.seam_interior,
                                    r.seam_naive))
        tile = "-" if r.seam_tileable_exemplar is None else f"{r.seam_tileable_exemplar:.2f}"
        lines.append(
            f"| {r.material} | {r.swd_generated:.1f} | {r.swd_floor:.1f} | {r.swd_naive:.1f} "
            f"| {r.swd_generated / max(r.swd_floor, 1e-9):.2f} | {r.swd_normal_generated:.1f} "
            f"| {r.swd_normal_floor:.1f} | {r.swd_normal_naive:.1f} | {sg} | {sx} | {si} | {sn} | {tile} "
            f"| {r.diversity_generated:.3f} | {r.diversity_exemplar:.3f} "
            f"| {r.cell_edge_generated:.2f} |")
    worst = max(max(r.seam_generated.values()) for r in rows)
    worst_axis = max(max(max(v) for v in r.seam_generated_axes.values()) for r in rows)
    axes = ["", ("Seam ratio per axis, each a mean over the generated textures (columns / "
                 f"rows; worst {worst_axis:.3f}, <= 1.1 passes):"),
            "", "| material | base colour | normal | ORM |", "|---|---|---|---|"]
    axes += [f"| {r.material} | " + " | ".join(
        f"{r.seam_generated_axes[m][0]:.2f} / {r.seam_generated_axes[m][1]:.2f}" for m in MAPS)
        + " |" for r in rows]
    lines += ["", (f"Worst mean generated seam ratio over every map of every material: {worst:.3f} "
                   "(<= 1.1 passes). Seam ratios are per texture max(columns, rows); "
                   "'seam tileable exemplar' is the same statistic on procedural exemplars, "
                   "which tile by construction: the metric's noise floor at this size; "
                   "'interior lines' is the statistic at random interior lines of the same "
                   "generated maps, which are no seam: a wrap scoring like them is invisible.")]
    return "\n".join(lines + axes + ["", structure_table(rows), "", criteria_table(rows)])


STRUCTURE_BAR = 1.5  # issue 15: structure distance within 1.5x of the exemplar-crop floor
SWD_BAR = 2.0  # SWD within 2x of the floor
SEAM_BAR = 1.1  # per-axis seam ratio
RANK_RANGE = (0.25, 0.75)  # the wrap line's mean rank among interior lines


def structure_table(rows: list[MaterialRow]) -> str:
    """Structure distance (`structure_distance` of base colours to the reference crops):
    generated, floor and the two failure baselines, each as total (radial + angular)."""
    lines = [("Structure distance of base colours to the reference crops (radial + angular "
              "= total; `generators.metrics.texture.structure_distance`), and the largest "
              "autocorrelation at a whole latent-cell offset (`lattice_correlation`, 16-px "
              "cells up to 4 cells away: a motif repeating on G's latent grid, which the "
              "binned spectrum does not see), generated and floor crops:"), "",
             ("| material | gen | floor | colour noise | rotated 90 | gen / floor "
              "| noise / floor | rotated / floor | lattice gen | lattice crops |"),
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        f = max(r.structure_floor["total"], 1e-9)
        cells = [f"{d['radial']:.3f} + {d['angular']:.3f} = {d['total']:.3f}"
                 for d in (r.structure_generated, r.structure_floor, r.structure_noise,
                           r.structure_rotated)]
        lines.append(f"| {r.material} | " + " | ".join(cells) +
                     f" | {r.structure_generated['total'] / f:.2f} "
                     f"| {r.structure_noise['total'] / f:.2f} "
                     f"| {r.structure_rotated['total'] / f:.2f} "
                     f"| {r.lattice_generated:.2f} | {r.lattice_floor:.2f} |")
    return "\n".join(lines)


def criteria(r: MaterialRow) -> dict[str, tuple[str, bool]]:
    """Issue 15's bars for one material: name -> (the measured value as text, passes)."""
    f = max(r.structure_floor["total"], 1e-9)
    gen = r.structure_generated["total"] / f
    noise = r.structure_noise["total"] / f
    out = {"structure": (f"{gen:.2f}", gen <= STRUCTURE_BAR),
           "colour noise fails": (f"{noise:.2f}", noise > 2 * STRUCTURE_BAR)}
    if r.material == "brick":
        rot = r.structure_rotated["total"] / f
        out["rotated fails"] = (f"{rot:.2f}", rot > 2 * STRUCTURE_BAR)
    swd = r.swd_generated / max(r.swd_floor, 1e-9)
    out["SWD"] = (f"{swd:.2f}", swd <= SWD_BAR)
    for px, by_map in r.seam_axes_by_size.items():
        worst = max(max(v) for v in by_map.values())
        out[f"seam {px}"] = (f"{worst:.2f}", worst <= SEAM_BAR)
    ranks = [v for by_map in r.wrap_rank_by_size.values() for v in by_map.values()]
    out["wrap rank"] = (f"{min(ranks):.2f}-{max(ranks):.2f}",
                        RANK_RANGE[0] <= min(ranks) and max(ranks) <= RANK_RANGE[1])
    return out


def criteria_table(rows: list[MaterialRow]) -> str:
    """Issue 15's "done means", per material: the value and PASS / FAIL per bar."""
    names = list(dict.fromkeys(k for r in rows for k in criteria(r)))
    lines = [f"Issue 15 bars: structure gen / floor <= {STRUCTURE_BAR}; failure baselines "
             f"(colour noise; brick turned 90 degrees) > {2 * STRUCTURE_BAR} x floor; SWD gen "
             f"/ floor <= {SWD_BAR}; worst per-axis seam ratio over the three maps <= "
             f"{SEAM_BAR} at each size; the wrap line's mean rank among interior lines in "
             f"{RANK_RANGE[0]}-{RANK_RANGE[1]} on every map and size (naive tiles: "
             + ", ".join(f"{r.material} {max(r.wrap_rank_naive.values()):.2f}" for r in rows)
             + "):", "", "| material | " + " | ".join(names) + " |",
             "|---|" + "---|" * len(names)]
    for r in rows:
        c = criteria(r)
        lines.append(f"| {r.material} | " + " | ".join(
            f"{c[k][0]} {'PASS' if c[k][1] else 'FAIL'}" if k in c else "-" for k in names)
            + " |")
    return "\n".join(lines)


def generator_from_run(run: Path) -> tuple[TextureGenerator, dict]:
    """A training run's (or snapshot's) current EMA generator, no export needed, and its
    config.json."""
    return rundir.load_network(run, TextureGenerator), rundir.read_config(run)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="vitrine eval texture-gan",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=32, help="textures per set and material")
    ap.add_argument("--size", type=int, default=256, help="texture edge in pixels")
    ap.add_argument("--run", help="evaluate a training run directory instead of shipped weights")
    ap.add_argument("--weights", default=str(WEIGHTS),
                    help="exported weights to evaluate (default: the shipped ones)")
    ap.add_argument("--config", help="their JSON config (default: beside --weights, .json)")
    ap.add_argument("--materials", help="comma-separated subset (default: all)")
    ap.add_argument("--seam-sizes", default="512,1024",
                    help="comma-separated texture edges for the seam columns (default "
                         "512,1024; the main table's at the largest)")
    ap.add_argument("--seam-n", type=int, default=32,
                    help="textures per seam column (default 32: a one-line ratio is noisy; "
                         "with 8, brick's ORM rows read 1.11, with 32, 1.06)")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="also write the numbers to this JSON file")
    return ap


def main(argv=None) -> int:
    ap = _parser()
    args = parse_eval_args(ap, argv)
    if args.size not in (128, 256, 512):
        ap.error(f"--size must be 128, 256 or 512 (crops of a 512 exemplar; naive tiles are "
                 f"made of half-size crops), got {args.size}")
    try:
        seam_sizes = tuple(int(v) for v in args.seam_sizes.split(","))
    except ValueError:
        seam_sizes = ()
    if (not seam_sizes or any(v not in (128, 256, 512, 1024) for v in seam_sizes)
            or args.seam_n < 1):
        ap.error("--seam-sizes must be a comma-separated list of 128, 256, 512 or 1024 (naive "
                 "tiles repeat half-size crops of 512-px photos; a texture is at least 64 px) "
                 "and --seam-n >= 1")
    torch.set_num_threads(args.threads)
    if args.run:
        run = Path(args.run)
        if message := rundir.missing(run, "texture-gan"):
            print(f"vitrine eval: {message}", file=sys.stderr)
            return 2
        from generators.texture_gan.export import choose_cuts

        G, cfg = generator_from_run(run)
        title = f"texture-gan, run {run} at step {cfg['state']['step']}"
        # The cuts its export would choose (the same measurement), so seams read as served.
        strength = DEFAULT_NORMAL_STRENGTH
        _, cut, cuts = choose_cuts(G, cfg["materials"], strength)
        from generators.texture_gan.config import G_QUARTER_TURNS

        turns = dict(G_QUARTER_TURNS)
    else:
        weights = Path(args.weights)
        config = Path(args.config) if args.config else (
            CONFIG if weights == WEIGHTS else weights.with_suffix(".json"))
        served = TextureGanGenerator(weights, config)  # the served model's own cuts
        G, cfg, strength = served.net, served.cfg, served.normal_strength
        which = "shipped weights" if weights == WEIGHTS else str(weights)
        title = f"texture-gan, {which} ({cfg['training']['steps']} steps)"
        cut, cuts, turns = served.cut_offset, served.cut_offsets, served.quarter_turns
    materials = cfg["materials"]
    wanted = args.materials.split(",") if args.materials else materials
    unknown = [m for m in wanted if m not in materials]
    if unknown:
        ap.error(f"unknown materials {unknown}; the model has {', '.join(materials)}")
    rows = []
    for m in wanted:
        rows.append(evaluate_material(G, materials.index(m), m, args.n, args.size, strength,
                                      args.seed, cuts.get(m, cut), seam_sizes,
                                      args.seam_n, turns.get(m, 0)))
        log.info("%s done", m)
    print(format_table(rows, f"{title}; SWD and diversity: {args.n} textures of {args.size} "
                             f"px per set; seams: {args.seam_n} textures of "
                             f"{' and '.join(map(str, seam_sizes))} px"))
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
