"""The shape-model evaluation every prop GAN shares: a per-category table against held-out data.

For each category, `n` generated shapes are compared with `n` held-out shapes (never trained
on) by MMD-CD, COV-CD and 1-NNA-CD on `points` surface points (PointFlow's definitions, see
`generators.metrics.pointcloud`). The same numbers for `n` *training* shapes against the same
held-out shapes are the reference floor: what a perfect sampler of the data distribution
would score with sets of this size.

Memorisation check: for every generated shape and every held-out shape, the Chamfer distance
to its nearest training shape. Searching all training shapes by Chamfer is slow here, so the
search is two-stage: the `shortlist` training shapes with the highest voxel IoU (computed on
every training shape of the category, exact and cheap), then the Chamfer distance to each of
those. A generator that copies training shapes shows generated-to-train distances well below
the held-out-to-train ones; `ratio` = median(gen->train) / median(held-out->train) should be
near 1 or above.

Every shape model samples through one function, `sample(category, n, seed) -> [n, R, R, R]`
occupancy (bool or probabilities, thresholded at 0.5), so voxel and implicit models meet the
data in the same representation.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from generators.metrics.pointcloud import (
    DEFAULT_POINTS,
    chamfer_matrix,
    mmd_cov_1nna_from_matrices,
    normalize_points,
    sample_surface_from_voxels,
)

log = logging.getLogger(__name__)

Sampler = Callable[[str, int, int], np.ndarray]
QUICK_N = 8  # shapes per category with --quick


@dataclass
class CategoryResult:
    category: str
    model: dict[str, float]  # mmd_cd, cov_cd, nna_cd: generated vs held-out
    floor: dict[str, float]  # the same for training shapes vs held-out
    gen_to_train: np.ndarray  # [n] CD of each generated shape to its nearest training shape
    heldout_to_train: np.ndarray  # [n] the same for held-out shapes
    empty: int = 0  # generated shapes with no occupied voxel (scored as failures)

    @property
    def memorisation_ratio(self) -> float:
        return float(np.median(self.gen_to_train) / max(np.median(self.heldout_to_train), 1e-12))

    def ratio_interval(self, level: float = 0.95, n_boot: int = 2000,
                       seed: int = 0) -> tuple[float, float]:
        """Percentile-bootstrap interval of `memorisation_ratio` (both sets resampled)."""
        return bootstrap_ratio_interval(self.gen_to_train, self.heldout_to_train, level,
                                        n_boot, seed)


@dataclass
class Report:
    n: int
    points: int
    seconds: float
    results: list[CategoryResult] = field(default_factory=list)

    def mean(self, which: str, key: str) -> float:
        return float(np.mean([getattr(r, which)[key] for r in self.results]))

    def to_dict(self) -> dict:
        return {
            "n_per_category": self.n, "points": self.points, "seconds": round(self.seconds, 1),
            "categories": {
                r.category: {
                    "model": r.model, "floor": r.floor, "empty": r.empty,
                    "gen_to_train_median": float(np.median(r.gen_to_train)),
                    "heldout_to_train_median": float(np.median(r.heldout_to_train)),
                    "memorisation_ratio": r.memorisation_ratio,
                    "memorisation_ratio_95ci": list(r.ratio_interval()),
                } for r in self.results
            },
            "mean": {
                "model": {k: self.mean("model", k) for k in ("mmd_cd", "cov_cd", "nna_cd")},
                "floor": {k: self.mean("floor", k) for k in ("mmd_cd", "cov_cd", "nna_cd")},
                "memorisation_ratio": float(np.mean([r.memorisation_ratio
                                                     for r in self.results])),
            },
        }


def bootstrap_ratio_interval(gen_to_train: np.ndarray, heldout_to_train: np.ndarray,
                             level: float = 0.95, n_boot: int = 2000,
                             seed: int = 0) -> tuple[float, float]:
    """(lo, hi) percentile-bootstrap interval of median(gen) / median(held-out).

    With n = 50 shapes a side, the ratio of two medians moves by several per cent from one
    draw to the next; the interval says whether a ratio below 1 is a finding or noise.
    """
    g = np.asarray(gen_to_train, dtype=np.float64)
    h = np.asarray(heldout_to_train, dtype=np.float64)
    rng = np.random.default_rng(seed)
    gi = rng.integers(0, len(g), (n_boot, len(g)))
    hi = rng.integers(0, len(h), (n_boot, len(h)))
    ratios = np.median(g[gi], axis=1) / np.maximum(np.median(h[hi], axis=1), 1e-12)
    a = (1 - level) / 2
    return float(np.quantile(ratios, a)), float(np.quantile(ratios, 1 - a))


def clouds_from_voxels(vox: np.ndarray, points: int, seed: int) -> tuple[np.ndarray, int]:
    """Normalised surface clouds [N, points, 3] of occupancy grids; empty grids become a point.

    Each grid is thresholded at 0.5 and sampled with a seed derived from its content.

    An empty grid (a generator failure) is scored, not skipped: it becomes a cloud of identical
    points at the origin, far from every real shape in Chamfer distance. Returns (clouds, empty).
    """
    clouds, empty = [], 0
    for v in vox:
        occ = np.asarray(v) >= 0.5
        if occ.any():
            # The sampling seed is a hash of the grid: the same shape always gives the same
            # cloud, so an exact copy of a training shape scores exactly 0, not sampling noise.
            key = zlib.crc32(np.packbits(occ).tobytes()) ^ seed
            clouds.append(sample_surface_from_voxels(occ, points, seed=key))
        else:
            clouds.append(np.zeros((points, 3), np.float32))
            empty += 1
    out = np.stack(clouds)
    nonzero = np.ptp(out, axis=1).max(axis=1) > 0
    out[nonzero] = normalize_points(out[nonzero])
    return out, empty


def _iou_shortlist(query: np.ndarray, pool: np.ndarray, k: int) -> np.ndarray:
    """Indices [N, k] of the k pool grids with the highest voxel IoU to each query grid."""
    q = query.reshape(len(query), -1).astype(np.float32)
    p = pool.reshape(len(pool), -1).astype(np.float32)
    inter = q @ p.T
    union = q.sum(1)[:, None] + p.sum(1)[None, :] - inter
    iou = inter / np.maximum(union, 1.0)
    return np.argsort(-iou, axis=1)[:, :k]


def nearest_train_distance(query_vox: np.ndarray, query_clouds: np.ndarray,
                           train_vox: np.ndarray, points: int, shortlist: int,
                           cloud_cache: dict[int, np.ndarray], seed: int) -> np.ndarray:
    """CD from each query shape to its nearest training shape (IoU shortlist, then Chamfer)."""
    idx = _iou_shortlist(query_vox >= 0.5, train_vox, min(shortlist, len(train_vox)))
    out = np.empty(len(query_vox))
    for i, cand in enumerate(idx):
        for j in cand:
            if int(j) not in cloud_cache:
                cloud_cache[int(j)] = clouds_from_voxels(train_vox[j:j + 1], points, seed)[0][0]
        pool = np.stack([cloud_cache[int(j)] for j in cand])
        out[i] = chamfer_matrix(query_clouds[i:i + 1], pool).min()
    return out


def evaluate(sample: Sampler, categories: Sequence[str], heldout, train, n: int = 50,
             points: int = DEFAULT_POINTS, seed: int = 0, shortlist: int = 8,
             progress: Callable[[str], None] | None = None) -> Report:
    """Score a shape model per category; `heldout`/`train` are `VoxelSet`s of the same res."""
    t0 = time.perf_counter()
    report = Report(n=n, points=points, seconds=0.0)
    for cat in categories:
        if progress:
            progress(cat)
        ref_vox, tr_vox = heldout.of(cat), train.of(cat)
        if len(ref_vox) < n or len(tr_vox) < n:
            raise ValueError(f"{cat}: need {n} held-out and {n} training shapes, have "
                             f"{len(ref_vox)} and {len(tr_vox)}; lower n or build larger sets")
        gen_vox = np.asarray(sample(cat, n, seed))
        if gen_vox.shape[1:] != ref_vox.shape[1:]:
            raise ValueError(f"sampler returned grids {gen_vox.shape[1:]}, data is "
                             f"{ref_vox.shape[1:]}")
        g, empty = clouds_from_voxels(gen_vox, points, seed)
        r, _ = clouds_from_voxels(ref_vox[:n], points, seed)
        t, _ = clouds_from_voxels(tr_vox[:n], points, seed)
        d_rr = chamfer_matrix(r)
        model = mmd_cov_1nna_from_matrices(chamfer_matrix(g, r), chamfer_matrix(g), d_rr)
        floor = mmd_cov_1nna_from_matrices(chamfer_matrix(t, r), chamfer_matrix(t), d_rr)
        cache: dict[int, np.ndarray] = {}
        g2t = nearest_train_distance(gen_vox, g, tr_vox, points, shortlist, cache, seed)
        h2t = nearest_train_distance(ref_vox[:n], r, tr_vox, points, shortlist, cache, seed)
        res = CategoryResult(cat, model, floor, g2t, h2t, empty)
        log.info("%s: 1-NNA %.3f COV %.3f MMD %.5f (floor 1-NNA %.3f), memorisation %.2f",
                 cat, model["nna_cd"], model["cov_cd"], model["mmd_cd"], floor["nna_cd"],
                 res.memorisation_ratio)
        report.results.append(res)
    report.seconds = time.perf_counter() - t0
    return report


def format_table(report: Report, title: str = "") -> str:
    """The per-category table `vitrine eval` prints (percentages for COV and 1-NNA)."""
    head = (f"{'category':<10} {'1-NNA-CD':>9} {'COV-CD':>7} {'MMD-CD':>9} | "
            f"{'floor 1-NNA':>11} {'COV':>6} {'MMD':>9} | {'gen->train':>10} "
            f"{'held->train':>11} {'ratio':>6} {'95% CI':>11} {'empty':>5}")
    lines = [title] if title else []
    lines += [head, "-" * len(head)]

    def row(name, m, f, g2t, h2t, ratio, ci, empty):
        ci = f"{ci[0]:.2f}-{ci[1]:.2f}" if ci else ""
        return (f"{name:<10} {100 * m['nna_cd']:>8.1f}% {100 * m['cov_cd']:>6.1f}% "
                f"{m['mmd_cd']:>9.5f} | {100 * f['nna_cd']:>10.1f}% {100 * f['cov_cd']:>5.1f}% "
                f"{f['mmd_cd']:>9.5f} | {g2t:>10.5f} {h2t:>11.5f} {ratio:>6.2f} {ci:>11} "
                f"{empty:>5}")

    for r in report.results:
        lines.append(row(r.category, r.model, r.floor, float(np.median(r.gen_to_train)),
                         float(np.median(r.heldout_to_train)), r.memorisation_ratio,
                         r.ratio_interval(), r.empty))
    d = report.to_dict()["mean"]
    lines.append("-" * len(head))
    lines.append(row("mean", d["model"], d["floor"],
                     float(np.mean([np.median(r.gen_to_train) for r in report.results])),
                     float(np.mean([np.median(r.heldout_to_train) for r in report.results])),
                     d["memorisation_ratio"], None, sum(r.empty for r in report.results)))
    lines.append(f"n = {report.n} generated and {report.n} held-out shapes per category, "
                 f"{report.points} surface points each, {report.seconds:.0f} s. gen->train and "
                 "held->train are median Chamfer distances to the nearest training shape; "
                 "ratio = their quotient (< 1: closer to the training set than unseen data is); "
                 "95% CI: percentile bootstrap of the ratio, 2000 resamples.")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# what the shape models' `vitrine eval` commands share


def add_arguments(ap, n: int = 50, train_per_category: int = 500) -> None:
    """The flags of every shape model's evaluation command."""
    ap.set_defaults(default_n=n, default_train=train_per_category)
    ap.add_argument("--n", type=int,
                    help=f"generated and held-out shapes per category (default {n}; "
                         f"{QUICK_N} with --quick)")
    ap.add_argument("--points", type=int, default=DEFAULT_POINTS, help="surface points per shape")
    ap.add_argument("--train-per-category", type=int,
                    help="training shapes searched by the memorisation check "
                         f"(default {train_per_category}; 100 with --quick)")
    ap.add_argument("--run", help="evaluate a training run directory instead of shipped weights")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="also write the numbers to this JSON file")
    ap.add_argument("--quick", action="store_true",
                    help=f"a quick look: n = {QUICK_N} and 100 training shapes per category, "
                         "unless --n / --train-per-category say otherwise")
    ap.add_argument("--served-n", type=int,
                    help="served props per category and model for the served tables "
                         "(default: --n)")
    ap.add_argument("--no-served", action="store_true",
                    help="skip the served tables (metric scale, sizes, structure)")
    ap.add_argument("--draws", choices=("served", "first"), default="served",
                    help="shapes the normalised table scores: served (each seed's chosen draw, "
                         "debris dropped, as served; default) or first (fresh latents, no "
                         "redraw: the raw generator)")
    ap.add_argument("--sheet", help="also write a contact sheet of 16 served props of the "
                    "model beside 16 procedural ones to this PNG")


def parse_eval_args(ap, argv):
    """Every `vitrine eval` command's start: parse, log to the console, refuse --n < 2."""
    import logging as _logging

    args = ap.parse_args(argv)
    _logging.basicConfig(level=_logging.INFO, format="%(message)s")
    if hasattr(args, "quick"):  # the shape models' flags (add_arguments)
        if args.n is None:
            args.n = QUICK_N if args.quick else args.default_n
        if args.train_per_category is None:
            args.train_per_category = 100 if args.quick else args.default_train
        if args.served_n is None:
            args.served_n = args.n
        if args.served_n < 2:
            ap.error(f"--served-n must be at least 2, got {args.served_n}")
    if args.n < 2:
        ap.error(f"--n must be at least 2, got {args.n}")
    return args



def served_tables(model: str, categories: Sequence[str], args) -> dict | None:
    """Print the served tables (`generators.metrics.served`) of the shipped `model` against
    the procedural reference; their numbers, or None with --no-served or --run (a training
    run is not served; the tables measure what the registry loads)."""
    from generators.metrics.served import evaluate_served, format_served

    if args.no_served:
        return None
    if getattr(args, "run", None):
        log.info("served tables skipped: --run scores a training run, which is not served")
        return None
    report = evaluate_served([model], categories, args.served_n, points=args.points,
                             seed=args.seed, progress=lambda c: log.info("served %s", c),
                             sheet_path=getattr(args, "sheet", None))
    print()
    print(format_served(report))
    return report.to_dict()


def splits(n: int, train_per_category: int):
    """(held-out, training) procedural voxel sets at 32^3 the evaluation compares against."""
    from generators.data import load_or_build

    return (load_or_build("heldout", n, 32, progress=True),
            load_or_build("train", train_per_category, 32, progress=True))


def evaluate_args(sample: Sampler, categories: Sequence[str], args, data=None) -> Report:
    """`evaluate` with the numbers of `add_arguments`' flags (data: `splits`, built if None)."""
    heldout, train = data or splits(args.n, args.train_per_category)
    return evaluate(sample, categories, heldout, train, n=args.n, points=args.points,
                    seed=args.seed)
