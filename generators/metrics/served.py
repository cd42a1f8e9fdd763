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


def served(pipe, model: str, category: str, seeds: Sequence[int],
           options: Mapping[str, Any] = SERVED_OPTIONS) -> list[Mesh]:
    """lod0 meshes of `model`'s props at `seeds`, made and exported as the server makes them."""
    jobs = [pipe.prepare(model, category, int(s), dict(options)) for s in seeds]
    out = []
    for built in pipe.build(jobs):
        if isinstance(built, Exception):
            raise built
        lod0 = next(f for f in built.files if f.lod == 0 and f.name.endswith(".glb"))
        out.append(lod0_mesh(lod0.data))
    return out


@dataclass
class ServedCategory:
    category: str
    n: int
    height: tuple[float, float]  # mean, sd (m)
    width: tuple[float, float]
    one_piece: float  # shares in [0, 1]
    stands: float
    metric: dict[str, float] | None  # vs the reference; None for the reference itself


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
                             "one_piece": r.one_piece, "stands": r.stands, "metric": r.metric}
                for r in rows}
            out["models"][name]["mean"] = {
                "one_piece": float(np.mean([r.one_piece for r in rows])),
                "stands": float(np.mean([r.stands for r in rows])),
                **({k: float(np.mean([r.metric[k] for r in rows]))
                    for k in ("mmd_cd", "cov_cd", "nna_cd")} if rows[0].metric else {})}
        return out


def summarise(category: str, meshes: Sequence[Mesh], metric: dict[str, float] | None
              ) -> ServedCategory:
    sizes = np.array([size(v) for v, _ in meshes])
    st = [structure(v, f) for v, f in meshes]
    return ServedCategory(
        category, len(meshes),
        (float(sizes[:, 0].mean()), float(sizes[:, 0].std(ddof=1)) if len(sizes) > 1 else 0.0),
        (float(sizes[:, 1].mean()), float(sizes[:, 1].std(ddof=1)) if len(sizes) > 1 else 0.0),
        float(np.mean([s.one_piece for s in st])), float(np.mean([s.stands for s in st])),
        metric)


def evaluate_served(models: Sequence[str], categories: Sequence[str], n: int,
                    points: int = DEFAULT_POINTS, seed: int = 0,
                    options: Mapping[str, Any] = SERVED_OPTIONS, loaded=None,
                    progress: Callable[[str], None] | None = None) -> ServedReport:
    """Serve `n` props per category of each model and of the procedural reference; measure."""
    from generators.core.registry import load_models
    from generators.data.procedural_set import HELDOUT_SEED_START
    from generators.pipeline import Pipeline

    t0 = time.perf_counter()
    names = [REFERENCE] + [m for m in models if m != REFERENCE]
    pipe = Pipeline(loaded if loaded is not None else load_models(names))
    report = ServedReport(dict(options), points)
    ref_seeds = [HELDOUT_SEED_START + seed * n + k for k in range(n)]
    gen_seeds = [1 + seed * n + k for k in range(n)]
    for cat in categories:
        if progress:
            progress(cat)
        ref = served(pipe, REFERENCE, cat, ref_seeds, options)
        report.models.setdefault(REFERENCE, []).append(summarise(cat, ref, None))
        for m in names[1:]:
            got = served(pipe, m, cat, gen_seeds, options)
            row = summarise(cat, got, metric_scale(got, ref, points, seed))
            log.info("%s %s: metric 1-NNA %.3f, stands %.0f%%, height %.3f +- %.3f m", m, cat,
                     row.metric["nna_cd"], 100 * row.stands, *row.height)
            report.models.setdefault(m, []).append(row)
    report.seconds = time.perf_counter() - t0
    return report


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
    lines.append(f"n = {n} served props per category and model (lod0, options "
                 f"{report.options}), {report.points} surface points each, "
                 f"{report.seconds:.0f} s.")
    return "\n".join(lines)
