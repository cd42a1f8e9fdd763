"""What a user sees: served props measured in metres, their sizes, and whether they stand.

The normalised table (`generators.metrics.evaluate`) rescales every cloud to a unit box, which
hides a model whose props all have one size, and it scores occupancy grids, not the meshes a
client gets. This module measures the props as served: each model's lod0 GLB, made through the
serving path (`generators.pipeline.Pipeline` over `registry.load_models`), read back, welded.

- **metric-scale table**: MMD-CD, COV-CD and 1-NNA-CD (PointFlow's definitions) on surface
  clouds in metres, standing on the floor as served (not centred, not rescaled); Chamfer
  distances are in square metres (squared distances, both directed means summed);
- **sizes**: per category, height (y extent) and width (the larger horizontal extent) mean and
  standard deviation in metres, against the procedural reference;
- **structure**: the share of props that are one piece, and the share that *stand*: every
  connected piece reaches the floor or touches (within `TOUCH_M`) a piece that does, so nothing
  hovers. A piece enclosed by another (an inner cavity wall) counts as touching it.

- **redraws and repairs**: a learned model that redraws a seed's shape for one solid piece, or
  drops floating debris, says so in the asset's metadata (`structure`: attempt, pieces,
  dropped); the table counts the share redrawn, the share with debris dropped (and the mean
  share of the solid dropped) and the share still in pieces after every draw;
- **a contact sheet** (`contact_sheet`): 16 served props per model beside 16 procedural ones,
  each labelled with its height.

The reference is the `procedural` model served at the held-out split's seeds; a learned model
is served at seeds 1..n.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import open3d as o3d
import trimesh

from generators.metrics.pointcloud import (
    DEFAULT_POINTS,
    chamfer_matrix,
    mmd_cov_1nna_from_matrices,
    sample_surface_from_mesh,
)

log = logging.getLogger(__name__)

FLOOR_M = 0.005  # a piece whose lowest point is within this of y = 0 rests on the floor
TOUCH_M = 0.01  # pieces closer than this touch (they read as resting on each other)
# Modest serving options: lod0 only and small maps (the metrics never look at textures); the
# triangle budget and each model's meshing resolution stay the defaults a user gets (at a
# coarser grid thin parts -- lamp rods, chair legs -- break up: that is what a user would see
# only if they asked for it). implicit-gan takes ~4 s a prop at its default 128 on 2 cores.
SERVED_OPTIONS: dict[str, Any] = {"lod_count": 1, "texture_size": 64}
REFERENCE = "procedural"

Mesh = tuple[np.ndarray, np.ndarray]  # (vertices [V, 3] float64, faces [F, 3] int64)


@dataclass(frozen=True)
class Structure:
    pieces: int  # connected pieces (faces joined by shared welded vertices)
    standing: int  # pieces on the floor or touching, transitively, one that is
    lowest_m: float  # the lowest point's height

    @property
    def one_piece(self) -> bool:
        return self.pieces == 1

    @property
    def stands(self) -> bool:
        return self.pieces > 0 and self.standing == self.pieces


def weld(vertices: np.ndarray, faces: np.ndarray, decimals: int = 6) -> Mesh:
    """Merge vertices at the same position (to `decimals` metres): a GLB splits them at UV
    seams and normal creases, which would cut one surface into many pieces."""
    v = np.asarray(vertices, dtype=np.float64)
    _, first, inverse = np.unique(np.round(v, decimals), axis=0, return_index=True,
                                  return_inverse=True)
    return v[first], inverse.reshape(-1)[np.asarray(faces, dtype=np.int64)]


def _piece_labels(n_vertices: int, faces: np.ndarray) -> tuple[int, np.ndarray]:
    """(count, label per vertex) of the pieces; vertices in no face get label -1."""
    from scipy import sparse
    from scipy.sparse import csgraph

    f = np.asarray(faces, dtype=np.int64)
    rows, cols = np.repeat(f[:, 0], 2), f[:, 1:].reshape(-1)
    graph = sparse.coo_matrix((np.ones(len(rows), np.int8), (rows, cols)),
                              shape=(n_vertices, n_vertices))
    _, label = csgraph.connected_components(graph, directed=False)
    used = np.zeros(n_vertices, bool)
    used[f.reshape(-1)] = True
    keep, label = np.unique(label[used], return_inverse=True)
    out = np.full(n_vertices, -1, dtype=np.int64)
    out[used] = label
    return len(keep), out


def structure(vertices: np.ndarray, faces: np.ndarray, floor_m: float = FLOOR_M,
              touch_m: float = TOUCH_M) -> Structure:
    """How a welded mesh (metres, +Y up, floor at y = 0) stands: see the module docstring."""
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    if len(f) == 0:
        return Structure(0, 0, float("nan"))
    n, label = _piece_labels(len(v), f)
    lowest = float(v[f.reshape(-1), 1].min())
    if n == 1:
        return Structure(1, int(v[f.reshape(-1), 1].min() <= floor_m), lowest)
    face_piece = label[f[:, 0]]
    # Points of each piece: its vertices and face centroids; distances are to the triangles.
    cent = v[f].mean(axis=1)
    pts = [np.concatenate([v[label == k], cent[face_piece == k]]) for k in range(n)]
    scenes = []
    for k in range(n):
        scene = o3d.t.geometry.RaycastingScene()
        scene.add_triangles(o3d.core.Tensor(v.astype(np.float32)),
                            o3d.core.Tensor(f[face_piece == k].astype(np.uint32)))
        scenes.append(scene)
    closed = [trimesh.Trimesh(v, f[face_piece == k], process=False).is_watertight
              for k in range(n)]
    lo = np.array([p.min(axis=0) for p in pts])
    hi = np.array([p.max(axis=0) for p in pts])
    touching = np.zeros((n, n), bool)
    for a in range(n):
        for b in range(n):
            if a == b or touching[a, b] or (lo[a] > hi[b] + touch_m).any() or \
                    (lo[b] > hi[a] + touch_m).any():
                continue
            q = o3d.core.Tensor(pts[a].astype(np.float32))
            near = float(scenes[b].compute_distance(q).numpy().min()) <= touch_m
            # A piece enclosed by another (a cavity's wall) is part of that solid.
            inside = closed[b] and bool(scenes[b].compute_occupancy(q[:1]).numpy()[0] > 0.5)
            touching[a, b] = touching[b, a] = near or inside
    standing = np.array([p[:, 1].min() <= floor_m for p in pts])
    frontier = list(np.flatnonzero(standing))
    while frontier:
        a = frontier.pop()
        for b in np.flatnonzero(touching[a] & ~standing):
            standing[b] = True
            frontier.append(b)
    return Structure(n, int(standing.sum()), lowest)


def size(vertices: np.ndarray) -> tuple[float, float]:
    """(height, width) in metres: the y extent and the larger of the x and z extents."""
    ext = np.ptp(np.asarray(vertices, dtype=np.float64), axis=0)
    return float(ext[1]), float(max(ext[0], ext[2]))


def metric_scale(gen: Sequence[Mesh], ref: Sequence[Mesh], points: int = DEFAULT_POINTS,
                 seed: int = 0) -> dict[str, float]:
    """MMD-CD (m^2), COV-CD and 1-NNA-CD of meshes against reference meshes, on clouds in
    metres as served: nothing centred or rescaled, so size and placement count."""
    g = np.stack([sample_surface_from_mesh(v, f, points, seed=seed + i)
                  for i, (v, f) in enumerate(gen)])
    r = np.stack([sample_surface_from_mesh(v, f, points, seed=seed + 100_003 + i)
                  for i, (v, f) in enumerate(ref)])
    return mmd_cov_1nna_from_matrices(chamfer_matrix(g, r), chamfer_matrix(g), chamfer_matrix(r))


def lod0_mesh(glb: bytes) -> Mesh:
    """The welded triangles of a served lod0 GLB, in the file's (metre, +Y up) frame."""
    scene = trimesh.load(io.BytesIO(glb), file_type="glb", force="scene", process=False)
    mesh = scene.to_geometry() if len(scene.geometry) else trimesh.Trimesh()
    return weld(mesh.vertices, mesh.faces)


class Recording:
    """A generator seen through the pipeline, keeping each asset's metadata (redraws, repairs):
    the pipeline's files do not carry it. Everything else is the wrapped generator's."""

    def __init__(self, gen) -> None:
        self._gen, self.metadata = gen, []

    def __getattr__(self, name: str):
        return getattr(self._gen, name)

    def generate(self, specs, cancel=None):
        out = self._gen.generate(specs, cancel)
        self.metadata += [getattr(a, "metadata", {}) or {} for a in out]
        return out


def served(pipe, model: str, category: str, seeds: Sequence[int],
           options: Mapping[str, Any] = SERVED_OPTIONS,
           metadata: list | None = None) -> list[Mesh]:
    """lod0 meshes of `model`'s props at `seeds`, made and exported as the server makes them;
    each asset's metadata is appended to `metadata` when the model is a `Recording`."""
    jobs = [pipe.prepare(model, category, int(s), dict(options)) for s in seeds]
    rec = pipe.models[model]
    if isinstance(rec, Recording):
        rec.metadata = []
    out = []
    for built in pipe.build(jobs):
        if isinstance(built, Exception):
            raise built
        lod0 = next(f for f in built.files if f.lod == 0 and f.name.endswith(".glb"))
        out.append(lod0_mesh(lod0.data))
    if metadata is not None and isinstance(rec, Recording):
        metadata += rec.metadata
    return out


def repairs(metadata: Sequence[Mapping[str, Any]]) -> dict[str, float] | None:
    """Shares of props redrawn, with debris dropped, and still in pieces after every draw, and
    the mean share of the solid dropped, from the assets' `structure` metadata (None when the
    model reports none: it neither redraws nor drops)."""
    st = [m["structure"] for m in metadata if "structure" in m]
    if not st:
        return None
    return {"redrawn": float(np.mean([s["attempt"] > 1 for s in st])),
            "mean_attempts": float(np.mean([s["attempt"] for s in st])),
            "debris_dropped": float(np.mean([s.get("dropped", 0) > 0 for s in st])),
            "dropped_share": float(np.mean([s.get("dropped_share", 0.0) for s in st])),
            "in_pieces": float(np.mean([s.get("kept", s.get("pieces", 1)) > 1 for s in st]))}


SHEET_PROPS = 16  # props per model on the contact sheet


def contact_sheet(sheet: Mapping[str, Sequence[tuple[str, Mesh]]], path, size: int = 128):
    """One PNG: for each model, a block of its props (two rows of 8), the reference first;
    every prop labelled with its category and height."""
    from generators.viz import contact_sheet as tile
    from generators.viz import render_mesh

    images, labels = [], []
    for name, props in sheet.items():
        for cat, (v, f) in props[:SHEET_PROPS]:
            images.append(render_mesh(v, f, size=size))
            labels.append(f"{name[:9]} {cat} {np.ptp(v[:, 1]):.2f} m")
        for _ in range(SHEET_PROPS - len(props[:SHEET_PROPS])):
            images.append(np.full((size, size, 3), 255, np.uint8))
            labels.append("")
    return tile(images, labels, columns=8, path=path)


@dataclass
class ServedCategory:
    category: str
    n: int
    height: tuple[float, float]  # mean, sd (m)
    width: tuple[float, float]
    one_piece: float  # shares in [0, 1]
    stands: float
    metric: dict[str, float] | None  # vs the reference; None for the reference itself
    repairs: dict[str, float] | None = None  # `repairs` of the assets' metadata


@dataclass
class ServedReport:
    options: dict[str, Any]
    points: int
    seconds: float = 0.0
    models: dict[str, list[ServedCategory]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"options": self.options, "points": self.points,
                               "seconds": round(self.seconds, 1), "models": {}}
        for name, rows in self.models.items():
            out["models"][name] = {
                r.category: {"n": r.n, "height_m": list(r.height), "width_m": list(r.width),
                             "one_piece": r.one_piece, "stands": r.stands, "metric": r.metric,
                             "repairs": r.repairs}
                for r in rows}
            out["models"][name]["mean"] = {
                "one_piece": float(np.mean([r.one_piece for r in rows])),
                "stands": float(np.mean([r.stands for r in rows])),
                **({k: float(np.mean([r.metric[k] for r in rows]))
                    for k in ("mmd_cd", "cov_cd", "nna_cd")} if rows[0].metric else {})}
        return out


def summarise(category: str, meshes: Sequence[Mesh], metric: dict[str, float] | None,
              metadata: Sequence[Mapping[str, Any]] = ()) -> ServedCategory:
    sizes = np.array([size(v) for v, _ in meshes])
    st = [structure(v, f) for v, f in meshes]
    return ServedCategory(
        category, len(meshes),
        (float(sizes[:, 0].mean()), float(sizes[:, 0].std(ddof=1)) if len(sizes) > 1 else 0.0),
        (float(sizes[:, 1].mean()), float(sizes[:, 1].std(ddof=1)) if len(sizes) > 1 else 0.0),
        float(np.mean([s.one_piece for s in st])), float(np.mean([s.stands for s in st])),
        metric, repairs(metadata))


def evaluate_served(models: Sequence[str], categories: Sequence[str], n: int,
                    points: int = DEFAULT_POINTS, seed: int = 0,
                    options: Mapping[str, Any] = SERVED_OPTIONS, loaded=None,
                    progress: Callable[[str], None] | None = None,
                    sheet_path=None) -> ServedReport:
    """Serve `n` props per category of each model and of the procedural reference; measure.
    With `sheet_path`, also write the contact sheet there (`contact_sheet`)."""
    from generators.core.registry import load_models
    from generators.data.procedural_set import HELDOUT_SEED_START
    from generators.pipeline import Pipeline

    t0 = time.perf_counter()
    names = [REFERENCE] + [m for m in models if m != REFERENCE]
    models = loaded if loaded is not None else load_models(names)
    pipe = Pipeline({k: Recording(g) for k, g in models.items()})
    report = ServedReport(dict(options), points)
    ref_seeds = [HELDOUT_SEED_START + seed * n + k for k in range(n)]
    gen_seeds = [1 + seed * n + k for k in range(n)]
    per_sheet = -(-SHEET_PROPS // max(len(categories), 1))
    sheet: dict[str, list[tuple[str, Mesh]]] = {m: [] for m in names}
    for cat in categories:
        if progress:
            progress(cat)
        ref = served(pipe, REFERENCE, cat, ref_seeds, options)
        report.models.setdefault(REFERENCE, []).append(summarise(cat, ref, None))
        sheet[REFERENCE] += [(cat, m) for m in ref[:per_sheet]]
        for m in names[1:]:
            meta: list = []
            got = served(pipe, m, cat, gen_seeds, options, meta)
            sheet[m] += [(cat, g) for g in got[:per_sheet]]
            row = summarise(cat, got, metric_scale(got, ref, points, seed), meta)
            log.info("%s %s: metric 1-NNA %.3f, stands %.0f%%, height %.3f +- %.3f m", m, cat,
                     row.metric["nna_cd"], 100 * row.stands, *row.height)
            report.models.setdefault(m, []).append(row)
    report.seconds = time.perf_counter() - t0
    if sheet_path is not None:
        contact_sheet(sheet, sheet_path)
    return report


SIZE_SD_RANGE = (0.6, 1.6)  # issue 14: a learned model's size spread against the reference's
SIZE_MEAN_TOL = 0.10  # and its mean within 10 %


def size_check(report: ServedReport) -> dict[str, dict[str, dict[str, float | bool]]]:
    """Per learned model and category: height and width mean and sd over the reference's, and
    whether both sit in issue 14's bounds (sd ratio in SIZE_SD_RANGE, mean within 10 %)."""
    ref = {r.category: r for r in report.models[REFERENCE]}
    out: dict = {}
    for m, rows in report.models.items():
        if m == REFERENCE:
            continue
        out[m] = {}
        for r in rows:
            cell: dict[str, float | bool] = {}
            ok = True
            for what in ("height", "width"):
                got, want = getattr(r, what), getattr(ref[r.category], what)
                mean_ratio = got[0] / want[0]
                sd_ratio = got[1] / want[1] if want[1] > 0 else float("inf")
                cell[f"{what}_mean_ratio"], cell[f"{what}_sd_ratio"] = mean_ratio, sd_ratio
                ok &= (abs(mean_ratio - 1) <= SIZE_MEAN_TOL
                       and SIZE_SD_RANGE[0] <= sd_ratio <= SIZE_SD_RANGE[1])
            cell["ok"] = bool(ok)
            out[m][r.category] = cell
    return out


def format_served(report: ServedReport) -> str:
    """The three served tables `vitrine eval` prints after the normalised one."""
    names = list(report.models)
    learned = [m for m in names if m != REFERENCE]
    cats = [r.category for r in report.models[names[0]]]
    rows = {m: {r.category: r for r in report.models[m]} for m in names}
    n = report.models[names[0]][0].n
    lines = [("metric-scale (clouds in metres as served, not rescaled; vs procedural "
              "held-out props; MMD-CD in m^2)")]
    head = f"{'model':<14} {'category':<10} {'1-NNA-CD':>9} {'COV-CD':>7} {'MMD-CD':>9}"
    lines += [head, "-" * len(head)]
    d = report.to_dict()["models"]
    for m in learned:
        for c in cats:
            x = rows[m][c].metric
            lines.append(f"{m:<14} {c:<10} {100 * x['nna_cd']:>8.1f}% {100 * x['cov_cd']:>6.1f}% "
                         f"{x['mmd_cd']:>9.5f}")
        x = d[m]["mean"]
        lines.append(f"{m:<14} {'mean':<10} {100 * x['nna_cd']:>8.1f}% {100 * x['cov_cd']:>6.1f}% "
                     f"{x['mmd_cd']:>9.5f}")
    lines += ["", "sizes of served props, m (mean +- sd)"]
    head = f"{'category':<10} " + " ".join(f"{m + ' height':>22} {m + ' width':>22}"
                                            for m in names)
    lines += [head, "-" * len(head)]
    for c in cats:
        cells = []
        for m in names:
            r = rows[m][c]
            cells.append(f"{r.height[0]:>14.3f} +- {r.height[1]:.3f} "
                         f"{r.width[0]:>14.3f} +- {r.width[1]:.3f}")
        lines.append(f"{c:<10} " + " ".join(cells))
    checks = size_check(report)
    lines += ["", (f"sizes against the reference: mean ratio and sd ratio, height / width "
                   f"(issue 14: mean within {100 * SIZE_MEAN_TOL:.0f} %, sd ratio "
                   f"{SIZE_SD_RANGE[0]}-{SIZE_SD_RANGE[1]})")]
    head = f"{'model':<14} {'category':<10} {'height mean':>12} {'sd':>6} {'width mean':>11} " \
           f"{'sd':>6}  ok"
    lines += [head, "-" * len(head)]
    for m, cells in checks.items():
        for c in cats:
            x = cells[c]
            lines.append(f"{m:<14} {c:<10} {x['height_mean_ratio']:>12.2f} "
                         f"{x['height_sd_ratio']:>6.2f} {x['width_mean_ratio']:>11.2f} "
                         f"{x['width_sd_ratio']:>6.2f}  {'yes' if x['ok'] else 'no'}")
        lines.append(f"{m:<14} {'in bounds':<10} {sum(x['ok'] for x in cells.values())} of "
                     f"{len(cells)} categories")
    lines += ["", (f"structure: share of served props in one piece / standing (every piece "
                   f"on the floor within {1000 * FLOOR_M:.0f} mm or touching, within "
                   f"{1000 * TOUCH_M:.0f} mm, one that is)")]
    head = f"{'category':<10} " + " ".join(f"{m:>20}" for m in names)
    lines += [head, "-" * len(head)]
    for c in cats:
        lines.append(f"{c:<10} " + " ".join(
            f"{100 * rows[m][c].one_piece:>8.0f}% / {100 * rows[m][c].stands:>4.0f}%     "
            for m in names))
    lines.append(f"{'mean':<10} " + " ".join(
        f"{100 * d[m]['mean']['one_piece']:>8.1f}% / {100 * d[m]['mean']['stands']:>4.1f}%   "
        for m in names))
    rep = [m for m in names if any(r.repairs for r in report.models[m])]
    if rep:
        lines += ["", ("redraws and repairs (from each asset's metadata): share redrawn (mean "
                  "draws), share with floating debris dropped (mean share of the solid "
                  "dropped), share still in pieces after every draw")]
        head = f"{'model':<14} {'category':<10} {'redrawn':>14} {'debris dropped':>20} " \
               f"{'in pieces':>10}"
        lines += [head, "-" * len(head)]
        for m in rep:
            for c in cats:
                x = rows[m][c].repairs or {}
                if not x:
                    continue
                redrawn = f"{100 * x['redrawn']:>6.0f}% ({x['mean_attempts']:.2f})"
                dropped = f"{100 * x['debris_dropped']:>10.0f}% ({100 * x['dropped_share']:.2f}%)"
                lines.append(f"{m:<14} {c:<10} {redrawn} {dropped} {100 * x['in_pieces']:>9.0f}%")
    lines.append(f"n = {n} served props per category and model (lod0, options "
                 f"{report.options}), {report.points} surface points each, "
                 f"{report.seconds:.0f} s.")
    return "\n".join(lines)
