"""The G-buffer: what one frame's cheap ray casts know about each pixel, for the neural shader.

Two resolutions, because the network works at half resolution (`model`):
- full resolution, from one primary ray per pixel: material, normal, depth and the analytic
  (unshadowed) terms -- what makes the picture crisp (`FULL`);
- half resolution (one pixel of each 2 x 2 block, a different one each frame): ONE shadow ray
  towards a random point of the sun's disc and `AO_RAYS` short occlusion rays (`HALF`). The
  network's job is to turn these cheap, noisy signals into the converged reference, as neural
  denoisers do.
At 256 x 256 that is ~65 k primary casts and at most ~50 k occlusion tests per frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generators.neural_render.scene import (
    SUN_DIR,
    Camera,
    Scene,
    cosine_directions,
    sky_color,
    sun_directions,
)
from generators.neural_render.shading import specular_lobe

AO_RAYS = 2  # short occlusion rays per half-resolution pixel (the reference casts 64 bounces)
AO_RANGE_M = 0.4  # an occluder farther than this does not darken the AO channel
FULL = (
    "albedo_r", "albedo_g", "albedo_b",  # linear base colour
    "normal_x", "normal_y", "normal_z",  # world-space shading normal (the light is world-fixed)
    "n_dot_l",  # cosine to the sun's centre, unshadowed
    "specular",  # normalised Blinn-Phong lobe of the sun's centre, unshadowed
    "roughness", "metal",
    "depth",  # (distance - distance to the scene centre) / scene radius, clipped to [-2, 2]
    "height",  # world y / scene radius, clipped to [0, 2]
    "mask",  # 1 where a surface was hit, 0 on the sky
    "n_dot_v",  # cosine to the eye
)
HALF = (
    "shadow",  # 1 sun ray: 1 lit, 0 blocked (noisy: the network integrates the penumbra)
    "ao",  # fraction of AO_RAYS short rays that escaped
    "sampled",  # 1 where the block's sampled pixel hit a surface (else shadow/ao are 0)
)
MIN_SIZE, MAX_SIZE, SIZE_STEP = 64, 1024, 16  # frame sizes the network accepts


@dataclass
class GBuffer:
    full: np.ndarray  # [len(FULL), H, W] float32
    half: np.ndarray  # [len(HALF), H/2, W/2] float32
    background: np.ndarray  # [H, W, 3] linear sky radiance (where mask is 0)
    object_ids: np.ndarray  # [H, W] uint8: 0 floor, k the k-th prop, 255 sky

    @property
    def albedo(self) -> np.ndarray:
        return self.full[0:3].transpose(1, 2, 0)

    @property
    def mask(self) -> np.ndarray:
        return self.full[FULL.index("mask")]

    @property
    def n_dot_l(self) -> np.ndarray:
        return self.full[FULL.index("n_dot_l")]


@dataclass
class Hits:
    """The primary hits of a frame, shared by the G-buffer and the reference. Per-ray arrays
    are dense over all N rays (zeros where a ray missed), so the G-buffer fills its channels
    without scattering."""

    shape: tuple[int, int]
    rays: np.ndarray  # [N, 6]
    hit: np.ndarray  # [N] bool
    idx: np.ndarray  # [n] indices of rays that hit
    normals: np.ndarray  # [N, 3] shading normals, turned to face the eye
    albedo: np.ndarray  # [N, 3]
    rough_metal: np.ndarray  # [N, 2]
    t: np.ndarray  # [N] distance (inf on a miss)
    geometry: np.ndarray  # [N] geometry id (invalid on a miss)

    def points(self, which: np.ndarray | slice = slice(None)) -> np.ndarray:
        """[k, 3] float32 hit points of the rays `which` (all of which hit)."""
        r = self.rays[which]
        return (r[:, :3] + r[:, 3:] * self.t[which, None]).astype(np.float32)


def primary(scene: Scene, camera: Camera, width: int, height: int) -> Hits:
    rays = camera.rays(width, height).reshape(-1, 6)
    hit = scene.cast(rays)
    t = hit["t_hit"]
    ok = np.isfinite(t)
    normals, albedo, rm = scene.surface(hit)
    d = rays[:, 3:]
    flip = np.einsum("ij,ij->i", normals, d) > 0
    normals[flip] *= -1
    return Hits((height, width), rays, ok, np.nonzero(ok)[0], normals, albedo, rm, t,
                hit["geometry_ids"])


def check_size(width: int, height: int) -> None:
    for name, v in (("width", width), ("height", height)):
        if not (MIN_SIZE <= v <= MAX_SIZE and v % SIZE_STEP == 0):
            raise ValueError(f"{name} must be a multiple of {SIZE_STEP} from {MIN_SIZE} to "
                             f"{MAX_SIZE}, got {v}")


@dataclass
class PrimaryChannels:
    """A G-buffer but for its occlusion tests: the full-resolution channels from the primary
    rays, and the shadow and AO rays drawn for the half-resolution channels
    (`primary_channels`); `ray_channels` casts those and completes it. The frame loop runs
    the two on its two stages."""

    shape: tuple[int, int]  # (H, W)
    full: np.ndarray  # [len(FULL), H * W] float32
    background: np.ndarray  # [H * W, 3]
    object_ids: np.ndarray  # [H * W] uint8
    sel: np.ndarray  # [n] half-resolution pixels whose sample hit
    rays: np.ndarray  # [n * (1 + AO_RAYS), 6]: n shadow rays, then AO_RAYS per pixel
    facing: np.ndarray  # [n] bool: the shadow ray leaves the surface's front


def render_gbuffer(scene: Scene, camera: Camera, width: int, height: int,
                   rng: np.random.Generator) -> GBuffer:
    """The G-buffer of one frame; `rng` picks the half-resolution pixels and draws the rays."""
    return ray_channels(scene, primary_channels(scene, camera, width, height, rng))


def primary_channels(scene: Scene, camera: Camera, width: int, height: int,
                     rng: np.random.Generator) -> PrimaryChannels:
    """The full-resolution channels, from one primary ray per pixel, and the half-resolution
    pixels' shadow and AO rays (`rng` picks the pixels and draws the rays)."""
    check_size(width, height)
    h = primary(scene, camera, width, height)
    n_pix = width * height
    ok = h.hit
    full = np.empty((len(FULL), n_pix), np.float32)
    view = -h.rays[:, 3:]
    sun = SUN_DIR.astype(np.float32)
    full[0:3] = h.albedo.T
    full[3:6] = h.normals.T
    full[6] = np.clip(h.normals @ sun, 0, 1)  # 0 on a miss: its normal is 0
    full[7] = specular_lobe(h.normals, view, np.broadcast_to(sun, h.normals.shape),
                            h.rough_metal[:, 0])
    full[8:10] = h.rough_metal.T
    t_c = float(np.linalg.norm(np.asarray(camera.eye) - scene.center))
    r = max(scene.radius, 1e-3)
    t = np.where(ok, h.t, 0)
    full[10] = np.where(ok, np.clip((t - t_c) / r, -2, 2), 0)
    full[11] = np.clip((h.rays[:, 1] + h.rays[:, 4] * t) / r, 0, 2) * ok
    full[12] = ok
    full[13] = np.clip(np.einsum("ij,ij->i", h.normals, view), 0, 1)
    background = sky_color(h.rays[:, 3:])
    ids = np.where(ok, h.geometry, 255).astype(np.uint8)

    # Half resolution: one pixel per 2 x 2 block, the same offset for the whole frame.
    oy, ox = (int(v) for v in rng.integers(0, 2, 2))
    pix = np.arange(n_pix).reshape(height, width)[oy::2, ox::2].ravel()  # [H/2 * W/2]
    sel = np.nonzero(ok[pix])[0]  # half-res pixels whose sample hit
    k = pix[sel]
    n = len(sel)
    nrm = h.normals[k]
    origin = h.points(k) + nrm * 1e-3
    sdir = sun_directions(n, rng)
    ao_dir = cosine_directions(nrm, rng.random((n, AO_RAYS, 2), np.float32)).reshape(-1, 3)
    rays = np.empty((n * (1 + AO_RAYS), 6), np.float32)
    rays[:n, :3], rays[:n, 3:] = origin, sdir
    rays[n:, :3], rays[n:, 3:] = np.repeat(origin, AO_RAYS, 0), ao_dir
    facing = np.einsum("ij,ij->i", nrm, sdir) > 0
    return PrimaryChannels((height, width), full, background, ids, sel, rays, facing)


def ray_channels(scene: Scene, p: PrimaryChannels) -> GBuffer:
    """Casts `p`'s shadow and AO rays: the half-resolution channels, and the whole G-buffer."""
    height, width = p.shape
    hh, hw = height // 2, width // 2
    n = len(p.sel)
    blocked = scene.occluded(p.rays[:n])
    near = scene.occluded(p.rays[n:], AO_RANGE_M)
    half = np.zeros((len(HALF), hh * hw), np.float32)
    half[0, p.sel] = ~blocked & p.facing
    half[1, p.sel] = 1 - near.reshape(n, AO_RAYS).mean(1)
    half[2, p.sel] = 1
    return GBuffer(p.full.reshape(len(FULL), height, width), half.reshape(len(HALF), hh, hw),
                   p.background.reshape(height, width, 3), p.object_ids.reshape(height, width))
