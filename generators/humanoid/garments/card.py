"""The clothing card: bodies of every category dressed in each outfit, front and back.

    .venv/bin/python -m generators.humanoid.garments.card [out.png]
    .venv/bin/python -m generators.humanoid.garments.card --bench   # dress() times, triangles

Software-rendered like `generators/viz.py` (orthographic, painter's algorithm on Pillow), but
with a colour per face so skin and each material read apart.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from generators import viz

log = logging.getLogger(__name__)

COLOURS = {  # RGB per material; the body is "skin"
    "skin": (222, 180, 150),
    "fabric": (70, 110, 170),
    "wool": (80, 120, 80),
    "leather": (95, 60, 35),
    "metal": (175, 180, 190),
    "hair": (60, 40, 25),
}
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "card" / "clothing.png"
# Mid-stride, as world-space rotation vectors about each joint's rest position (radians).
STRIDE = {"thigh_l": [-0.48, 0, 0], "calf_l": [0.35, 0, 0], "thigh_r": [0.45, 0, 0], "calf_r": [0.2, 0, 0],
          "upperarm_l": [0.4, 0, 0], "upperarm_r": [-0.4, 0, 0], "lowerarm_l": [-0.5, 0, 0],
          "lowerarm_r": [-0.3, 0, 0]}


def posed(body, rotations: dict[str, list[float]]):
    """A function skinning (vertices, joints, weights) into the pose (linear blend skinning,
    as an engine does): shows that cloth moves with the limbs it is weighted to."""
    from scipy.spatial.transform import Rotation

    pos, parents = np.asarray(body.joint_positions, np.float64), np.asarray(body.parents)
    world: list[np.ndarray | None] = [None] * len(body.joint_names)

    def get(j: int) -> np.ndarray:
        if world[j] is None:
            local = np.eye(4)
            if body.joint_names[j] in rotations:
                r = Rotation.from_rotvec(rotations[body.joint_names[j]]).as_matrix()
                local[:3, :3], local[:3, 3] = r, pos[j] - r @ pos[j]
            world[j] = local if parents[j] < 0 else get(int(parents[j])) @ local
        return world[j]

    w = np.stack([get(j) for j in range(len(body.joint_names))])

    def skin(v, joints, weights):
        v4 = np.c_[np.asarray(v, np.float64), np.ones(len(v))]
        moved = np.einsum("nkij,nj->nki", w[np.asarray(joints, np.int64)], v4)[..., :3]
        return (np.asarray(weights, np.float64)[..., None] * moved).sum(axis=1)

    return skin


def render(meshes: list[tuple[np.ndarray, np.ndarray, tuple[int, int, int]]], size: int = 260,
           azimuth_deg: float = 0.0, elevation_deg: float = 8.0, supersample: int = 2) -> np.ndarray:
    """Render several (vertices, faces, rgb) meshes together into one [size, size, 3] image."""
    corners = np.concatenate([v[f] for v, f, _ in meshes])  # [F, 3, 3]
    colours = np.concatenate([np.tile(c, (len(f), 1)) for _, f, c in meshes])
    lo, hi = corners.reshape(-1, 3).min(0), corners.reshape(-1, 3).max(0)
    basis = viz._camera_basis(azimuth_deg, elevation_deg)
    cam = (corners - (lo + hi) / 2) @ basis.T
    normals = np.cross(cam[:, 1] - cam[:, 0], cam[:, 2] - cam[:, 0])
    length = np.linalg.norm(normals, axis=1)
    keep = length > 0
    normals = normals[keep] / length[keep, None]
    back = normals[:, 2] < 0  # seen from behind: an inside of a hem, or a wrong winding
    normals[back] *= -1
    light = np.asarray(viz.KEY_LIGHT_CAMERA) / np.linalg.norm(viz.KEY_LIGHT_CAMERA)
    shade = viz.AMBIENT + (1 - viz.AMBIENT) * np.clip(normals @ light, 0, 1)
    shade = np.where(back, shade * 0.55, shade)  # inner faces read darker
    rgb = np.clip(np.rint(shade[:, None] * colours[keep]), 0, 255).astype(int)
    full = size * supersample
    half = float(np.abs(cam[..., :2]).max())
    scale = 0.9 * full / 2 / half
    cam = cam[keep]
    screen = np.empty(cam.shape[:2] + (2,))
    screen[..., 0] = (full - 1) / 2 + cam[..., 0] * scale
    screen[..., 1] = (full - 1) / 2 - cam[..., 1] * scale
    order = np.argsort(cam[:, :, 2].mean(axis=1), kind="stable")
    image = Image.new("RGB", (full, full), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    for poly, fill in zip(screen[order].reshape(-1, 6).tolist(), rgb[order].tolist(), strict=True):
        draw.polygon(poly, fill=tuple(fill), outline=tuple(fill))
    return np.asarray(image.resize((size, size), Image.Resampling.BOX))


def dressed_meshes(body, garments) -> list[tuple[np.ndarray, np.ndarray, tuple[int, int, int]]]:
    """The body (less the faces the garments hide) and each garment, coloured."""
    hidden = np.zeros(len(body.vertices), bool)
    for g in garments:
        hidden[g.hides] = True
    faces = np.asarray(body.faces)
    faces = faces[~hidden[faces].all(axis=1)]
    meshes = [(np.asarray(body.vertices, np.float64), faces, COLOURS["skin"])]
    meshes += [(g.vertices.astype(np.float64), g.faces.astype(np.int64), COLOURS[g.material]) for g in garments]
    return meshes


def bench(seeds: int = 8) -> None:
    """Print dress() wall time (p50/p95/max, after one warm call per pair) and outfit
    triangles over every category x outfit x `seeds` bodies."""
    import time

    from generators.humanoid import body as bodies
    from generators.humanoid.clothing import OUTFITS, dress

    times, tris = [], []
    for category, outfits in OUTFITS.items():
        for seed in range(seeds):
            body = bodies.body_from_params(bodies.sample_params(category, seed))
            for outfit in outfits:
                dress(body, outfit, np.random.default_rng(seed))
                t = time.perf_counter()
                garments = dress(body, outfit, np.random.default_rng(seed))
                times.append(1000 * (time.perf_counter() - t))
                tris.append(sum(len(g.faces) for g in garments))
    ms = np.asarray(times)
    print(f"dress() over {len(ms)} (body, outfit) pairs: p50 {np.median(ms):.0f} ms, "
          f"p95 {np.percentile(ms, 95):.0f} ms, max {ms.max():.0f} ms; "
          f"outfit triangles median {int(np.median(tris))}, max {max(tris)}")


def main(argv: list[str]) -> int:
    from generators.humanoid import body as bodies
    from generators.humanoid.clothing import OUTFITS, dress

    if argv[:1] == ["--bench"]:
        bench()
        return 0

    out = Path(argv[0]) if argv else DEFAULT_OUT
    tiles, labels = [], []
    for category, outfits in OUTFITS.items():
        for k, outfit in enumerate(outfits):
            seed = 7 + k
            body = bodies.body_from_params(bodies.sample_params(category, seed))
            garments = dress(body, outfit, np.random.default_rng(seed))
            meshes = dressed_meshes(body, garments)
            for az in (0.0, 180.0):
                tiles.append(render(meshes, azimuth_deg=az))
                labels.append(f"{category} {'+'.join(outfit)}"[:40] if az == 0 else "back")
            skin = posed(body, STRIDE)
            moved = [skin(body.vertices, body.joints, body.weights)]
            moved += [skin(g.vertices, g.joints, g.weights) for g in garments]
            tiles.append(render([(m, f, c) for m, (_, f, c) in zip(moved, meshes, strict=True)], azimuth_deg=70.0))
            labels.append("skinned mid-stride")
    viz.contact_sheet(tiles, labels, columns=9, path=out)
    log.info("wrote %s (%d tiles)", out, len(tiles))
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    sys.exit(main(sys.argv[1:]))
