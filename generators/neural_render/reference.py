"""The offline reference renderer: what "correct" means for the neural shader.

Per pixel, by ray casting on the same scene as the G-buffer:
- soft shadows from the sun, an area light of `SUN_ANGLE_DEG` radius: `sun_samples`
  stratified shadow rays over its disc;
- the sky and one bounce of indirect light: `bounce_samples` stratified cosine-weighted rays;
  a ray that escapes sees the sky (so the sky term is ambient occlusion), a ray that hits a
  surface sees that surface's diffuse radiance under the sun (one shadow ray of its own) and a
  constant fraction `BOUNCE_AMBIENT` of the sky (the second bounce, not traced);
- specular: the sun's Blinn-Phong lobe times its visible fraction, plus the sky mirrored in
  proportion to the escaped rays;
then tone-mapped (`shading.tonemap`). Work goes in chunks of pixels to bound memory.
At the defaults (36 sun + 64 bounce samples) a 256 x 256 frame takes about a second here.
"""

from __future__ import annotations

import math

import numpy as np

from generators.neural_render.gbuffer import primary
from generators.neural_render.scene import (
    SKY_RADIANCE,
    SUN_DIR,
    SUN_RADIANCE,
    Camera,
    Scene,
    cosine_directions,
    sky_color,
    sun_directions,
)
from generators.neural_render.shading import specular_color, specular_lobe, tonemap

BOUNCE_AMBIENT = 0.6  # the sky seen from a bounce point, as a fraction of the open sky
CHUNK = 4096  # pixels per batch of rays (memory: CHUNK x bounce_samples rays)


def _grid(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """[n, k, 2] stratified jittered uniforms (k a square: a sqrt(k) grid per pixel)."""
    g = math.isqrt(k)
    if g * g != k:
        raise ValueError(f"sample counts must be squares, got {k}")
    i, j = np.meshgrid(np.arange(g), np.arange(g), indexing="ij")
    base = np.stack([i.ravel(), j.ravel()], -1)[None]
    return ((base + rng.random((n, k, 2))) / g).astype(np.float32)


def render_reference(scene: Scene, camera: Camera, width: int, height: int,
                     rng: np.random.Generator, sun_samples: int = 36,
                     bounce_samples: int = 64, cancel=None) -> tuple[np.ndarray, np.ndarray]:
    """(displayed sRGB [H, W, 3] float32 in [0, 1], linear radiance [H, W, 3]). A `cancel`
    token (`CancelToken`) is checked between chunks: a cancelled call stops its work."""
    h = primary(scene, camera, width, height)
    out = sky_color(h.rays[:, 3:])
    for s in range(0, len(h.idx), CHUNK):
        if cancel is not None:
            cancel.check()
        i = h.idx[s:s + CHUNK]
        out[i] = _shade(scene, h.points(i), h.normals[i], h.albedo[i], h.rough_metal[i],
                        -h.rays[i, 3:], rng, sun_samples, bounce_samples)
    lin = out.reshape(height, width, 3)
    return tonemap(lin), lin


def _shade(scene: Scene, p: np.ndarray, n: np.ndarray, albedo: np.ndarray, rm: np.ndarray,
           view: np.ndarray, rng: np.random.Generator, ns: int, nb: int) -> np.ndarray:
    m = len(p)
    origin = p + n * 1e-3
    # Soft shadow: stratified directions over the sun's disc.
    sdir = sun_directions(m, rng, stratified=ns)  # [m, ns, 3]
    rays = np.concatenate([np.repeat(origin[:, None], ns, 1), sdir], -1).reshape(-1, 6)
    vis = ~scene.occluded(rays).reshape(m, ns)
    cos = np.clip((sdir * n[:, None]).sum(-1), 0, None)
    direct = (vis * cos).mean(1)  # [m]
    sun_vis = vis.mean(1)
    # Sky and one bounce.
    bdir = cosine_directions(n, _grid(m, nb, rng))  # [m, nb, 3]
    brays = np.concatenate([np.repeat(origin[:, None], nb, 1), bdir], -1).reshape(-1, 6)
    hit = scene.cast(brays)
    t = hit["t_hit"]
    hidx = np.nonzero(np.isfinite(t))[0]
    incoming = np.broadcast_to(SKY_RADIANCE, (m * nb, 3)).copy()
    if len(hidx):
        hn, ha, hrm = scene.surface(hit, hidx)
        d = brays[hidx, 3:]
        back = (hn * d).sum(1) > 0
        hn[back] *= -1
        hp = brays[hidx, :3] + d * t[hidx, None] + hn * 1e-3
        l2 = sun_directions(len(hidx), rng)
        lit = ~scene.occluded(np.concatenate([hp, l2], 1))
        c2 = np.clip((hn * l2).sum(1), 0, None) * lit
        diff2 = ha * (1 - hrm[:, 1:2])
        incoming[hidx] = diff2 * (SUN_RADIANCE * c2[:, None] + BOUNCE_AMBIENT * SKY_RADIANCE)
    escaped = np.ones(m * nb, bool)
    escaped[hidx] = False
    indirect = incoming.reshape(m, nb, 3).mean(1)
    sky_open = escaped.reshape(m, nb).mean(1)
    diffuse = albedo * (1 - rm[:, 1:2])
    spec = specular_lobe(n, view, np.broadcast_to(SUN_DIR.astype(np.float32), n.shape), rm[:, 0])
    f0 = specular_color(albedo, rm[:, 1])
    return (diffuse * (SUN_RADIANCE * direct[:, None] + indirect)
            + f0 * (SUN_RADIANCE * (spec * sun_vis)[:, None] + SKY_RADIANCE * sky_open[:, None])
            ).astype(np.float32)
