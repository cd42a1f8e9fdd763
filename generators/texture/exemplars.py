"""Training exemplars for the texture GAN: bundled photos and tileable procedural materials.

Nothing is downloaded. Two kinds of exemplar, listed in `MATERIALS`:

* ``"photo"``: greyscale texture photographs that ship inside scikit-image
  (``skimage.data.brick``, ``grass``, ``gravel``; each 512 x 512 uint8; the
  ``rough_wall`` image is not part of scikit-image 0.26). `photo` gives the whole picture as
  float32 [512, 512] in [0, 1]. As an `Exemplar`, the albedo is that grey tinted with a
  per-material sRGB colour (``gray / mean(gray) * tint``, a multiply in sRGB space, clipped),
  the height is the grey itself, the roughness a per-material constant nudged by the grey, and
  the picture is cropped to ``size`` at a seed-chosen place, then turned by
  `PHOTO_QUARTER_TURNS` (brick: a quarter turn, so its courses run across as on a wall). Photos do **not** tile; they are
  exemplars for a GAN whose output does, and random crops of them are the training data.
* ``"procedural"``: materials made here, each a deterministic function of (seed, size) that
  tiles by construction: every random field is periodic noise (white noise filtered in the
  Fourier domain, hence periodic on the size x size torus), every regular structure has an
  integer number of periods per tile, and cell structures are Voronoi diagrams on the torus.
  ``marble`` (meandering diagonal veins), ``wood`` (warped growth rings and grain, planks along x),
  ``stone`` (Voronoi cobbles with mortar) and ``fabric`` (plain-weave threads).

Conventions: arrays are ``[row, column(, channel)]`` with row 0 at the top; albedo is
float32 [H, W, 3] sRGB-encoded in [0, 1]; height and roughness are float32 [H, W] in [0, 1]
(height unitless, see `generators.texture.pbr` for how it becomes normals); metallic is a
float (every material here is a dielectric, 0). Feature sizes are fixed in *pixels* (a larger
exemplar shows more surface, like a larger photo crop), clamped so that at least one period
fits a 64-pixel tile. Sizes are powers of two from 64 to 2048 (photos: at most 512).
"""

from __future__ import annotations

import functools
import logging
import zlib
from dataclasses import dataclass
from typing import Literal

import numpy as np

from generators.texture.pbr import PBRSet, check_size, pbr_from_albedo_height

log = logging.getLogger(__name__)

# material -> (skimage.data function, sRGB tint, base roughness)
_PHOTOS: dict[str, tuple[str, tuple[float, float, float], float]] = {
    "brick": ("brick", (0.62, 0.34, 0.25), 0.85),
    "grass": ("grass", (0.33, 0.50, 0.19), 0.80),
    "gravel": ("gravel", (0.55, 0.53, 0.50), 0.90),
}
# Quarter turns (np.rot90, counter-clockwise) from the photo as stored to the exemplar:
# skimage's brick wall is stored with its courses running top to bottom (bricks taller than
# wide); a wall's courses run across.
PHOTO_QUARTER_TURNS: dict[str, int] = {"brick": 1, "grass": 0, "gravel": 0}
PHOTO_MATERIALS: tuple[str, ...] = tuple(_PHOTOS)
PROCEDURAL_MATERIALS: tuple[str, ...] = ("marble", "wood", "stone", "fabric")
MATERIALS: tuple[str, ...] = PHOTO_MATERIALS + PROCEDURAL_MATERIALS
PHOTO_SIZE = 512

Source = Literal["photo", "procedural"]


@dataclass
class Exemplar:
    """One training exemplar; see the module docstring for units and ranges."""

    material: str
    albedo: np.ndarray  # float32 [H, W, 3] sRGB in [0, 1]
    height: np.ndarray  # float32 [H, W] in [0, 1]
    roughness: np.ndarray  # float32 [H, W] in [0, 1]
    metallic: float
    source: Source

    @property
    def size(self) -> int:
        return int(self.height.shape[0])

    @property
    def tileable(self) -> bool:
        """Procedural exemplars tile by construction; photos do not."""
        return self.source == "procedural"

    def pbr(self, normal_strength: float = 1.0, convention: str = "opengl") -> PBRSet:
        """The exemplar's own PBR maps (`pbr_from_albedo_height`)."""
        return pbr_from_albedo_height(
            self.albedo, self.height, self.roughness, self.metallic, normal_strength, convention
        )


def _unknown(material: str) -> ValueError:
    return ValueError(f"unknown material {material!r}; known: {', '.join(MATERIALS)}")


# --------------------------------------------------------------------------- photos


@functools.cache
def _photo_cached(name: str) -> np.ndarray:
    import skimage.data

    img = np.asarray(getattr(skimage.data, _PHOTOS[name][0])())
    if img.ndim == 3:  # not the case in skimage 0.26; kept for other versions
        img = img[..., :3].mean(axis=2)
    out = (img.astype(np.float32) / np.float32(255.0)).clip(0.0, 1.0)
    out.setflags(write=False)
    log.debug("loaded skimage.data.%s %s", _PHOTOS[name][0], out.shape)
    return out


def photo(name: str) -> np.ndarray:
    """The whole greyscale photo for a photo material: read-only float32 [H, W] in [0, 1]."""
    if name not in _PHOTOS:
        raise ValueError(f"unknown photo {name!r}; known: {', '.join(PHOTO_MATERIALS)}")
    return _photo_cached(name)


def _photo_exemplar(name: str, size: int, seed: int) -> Exemplar:
    full = photo(name)
    side = min(full.shape)
    if size > side:
        raise ValueError(f"photo exemplar {name!r} is {side}x{side}; size must be <= {side}")
    rng = _rng(name, seed)
    r0, c0 = (int(v) for v in rng.integers(0, np.array(full.shape) - size + 1))
    gray = np.array(full[r0 : r0 + size, c0 : c0 + size], dtype=np.float32)
    gray = np.ascontiguousarray(np.rot90(gray, PHOTO_QUARTER_TURNS[name]))
    _, tint, rough = _PHOTOS[name]
    mean = max(float(gray.mean()), 1e-3)
    albedo = np.clip(gray[..., None] * (np.asarray(tint, np.float32) / np.float32(mean)), 0, 1)
    roughness = np.clip(rough + 0.2 * (mean - gray), 0.0, 1.0).astype(np.float32)
    return Exemplar(name, albedo.astype(np.float32), gray, roughness, 0.0, "photo")


# --------------------------------------------------------------------------- periodic noise


def _rng(material: str, seed: int) -> np.random.Generator:
    """A generator that depends on (material, seed) only (crc32 of the name, not hash())."""
    if int(seed) < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    return np.random.default_rng([zlib.crc32(material.encode()), int(seed)])


def periodic_noise(
    size: int,
    rng: np.random.Generator,
    sigma_px: float | tuple[float, float],
    octaves: int = 1,
    persistence: float = 0.5,
) -> np.ndarray:
    """Zero-mean, unit-std noise on the size x size torus: float32 [size, size].

    White noise low-passed in the Fourier domain by a Gaussian of spatial sigma ``sigma_px``
    (a float, or ``(sigma_rows, sigma_cols)`` for anisotropic streaks); with ``octaves > 1``
    the envelopes of sigma / 2^k, weighted persistence^k, are summed (fractal noise). A
    product in the Fourier domain is a circular convolution, so the result tiles exactly.
    """
    sy, sx = (sigma_px, sigma_px) if np.ndim(sigma_px) == 0 else sigma_px  # type: ignore[misc]
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    env = np.zeros((size, size // 2 + 1))
    for k in range(octaves):
        s = 0.5**k
        env += persistence**k * np.exp(-2.0 * np.pi**2 * ((fy * sy * s) ** 2 + (fx * sx * s) ** 2))
    spec = np.fft.rfft2(rng.standard_normal((size, size))) * env
    out = np.fft.irfft2(spec, s=(size, size))
    out -= out.mean()
    std = out.std()
    return (out / std if std > 0 else out).astype(np.float32)


def _unit(x: np.ndarray) -> np.ndarray:
    """Rescale to [0, 1] by min/max (float32)."""
    lo, hi = float(x.min()), float(x.max())
    return ((x - lo) / (hi - lo if hi > lo else 1.0)).astype(np.float32)


def _lerp(a: tuple[float, ...], b: tuple[float, ...], t: np.ndarray) -> np.ndarray:
    a_ = np.asarray(a, np.float32)
    b_ = np.asarray(b, np.float32)
    return a_ + (b_ - a_) * t[..., None].astype(np.float32)


def _periods(size: int, period_px: int) -> int:
    """Whole number of periods of about period_px across the tile (at least 1)."""
    return max(1, round(size / period_px))


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (rows, cols) as float32 [size, size]."""
    ax = np.arange(size, dtype=np.float32) + np.float32(0.5)
    return np.meshgrid(ax, ax, indexing="ij")


# --------------------------------------------------------------------------- procedural


def _vein_distance(phase: np.ndarray, period_px: float) -> np.ndarray:
    """Distance in pixels to the nearest zero of sin(phase), for a wave of that period."""
    return np.abs(np.arcsin(np.clip(np.sin(phase), -1.0, 1.0))) / np.pi * period_px


def _marble(size: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    # Veins are the zero lines of a diagonal wave (whole periods per tile, ~230 px apart)
    # bent by fractal noise at 96 px and below: they meander but keep a direction, as
    # Carrara's do. Each vein is a dark core 3-7 px wide (its width varies along it) in a
    # soft grey halo; fainter thin veins cross them. (The first marble drew its veins as
    # contour lines of |noise| turbulence, 1-3 px wide and in every direction: at the size
    # a prop wears it, topographic lines, not veins.)
    y, x = _grid(size)
    warp = sum(0.55**k * periodic_noise(size, rng, 96.0 / 2**k) for k in range(6))
    warp2 = sum(0.5**k * periodic_noise(size, rng, 24.0 / 2**k) for k in range(4))
    kx, ky = _periods(size, 512), _periods(size, 256)
    d = _vein_distance(2.0 * np.pi * (kx * x + ky * y) / size + 1.1 * warp,
                       size / np.hypot(kx, ky))
    width = 2.5 + 4.5 * _unit(periodic_noise(size, rng, 40.0))
    core = np.exp(-((d / width) ** 2))
    halo = np.exp(-((d / (4.0 * width + 6.0)) ** 2)) * _unit(periodic_noise(size, rng, 64.0))
    d2 = _vein_distance(2.0 * np.pi * (ky * x - 2 * kx * y) / size + 2.5 * warp2,
                        size / np.hypot(ky, 2 * kx))
    thin = np.exp(-((d2 / 1.5) ** 2)) * _unit(periodic_noise(size, rng, 32.0)) ** 2
    cloud = _unit(periodic_noise(size, rng, 48.0, octaves=4))
    fine = periodic_noise(size, rng, 1.0)
    dark = np.clip(0.7 * core + 0.35 * halo + 0.45 * thin, 0.0, 1.0)[..., None]
    base = _lerp((0.82, 0.82, 0.80), (0.96, 0.95, 0.92), cloud)
    albedo = base * (1.0 - dark) + np.asarray((0.30, 0.31, 0.35), np.float32) * dark
    albedo += 0.008 * fine[..., None]
    height = 0.8 - 0.2 * dark[..., 0] + 0.05 * cloud + 0.01 * fine
    rough = 0.15 + 0.3 * dark[..., 0] + 0.05 * cloud
    return albedo, height, rough


def _wood(size: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    y, _ = _grid(size)
    rings = _periods(size, 24)
    warp = periodic_noise(size, rng, (16.0, 96.0), octaves=2)
    phase = rings * y / size + 0.9 * warp
    ring = (0.5 + 0.5 * np.sin(2.0 * np.pi * phase)) ** 3  # sharp dark late-wood bands
    grain = periodic_noise(size, rng, (0.7, 24.0))  # long thin streaks along the columns
    pores = np.clip(periodic_noise(size, rng, (0.6, 3.0)) - 1.6, 0.0, None)
    t = np.clip(0.65 * ring + 0.12 * grain + 0.3 * pores + 0.15, 0.0, 1.0)
    albedo = _lerp((0.76, 0.55, 0.34), (0.42, 0.25, 0.13), t)
    height = 0.6 + 0.08 * grain - 0.15 * ring - 0.2 * pores
    rough = 0.55 + 0.2 * ring + 0.05 * grain
    return albedo, height, rough


def _torus_voronoi(
    y: np.ndarray, x: np.ndarray, size: int, cell_px: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Jittered-grid Voronoi on the torus: (distance to the nearest cell edge, cell id).

    The grid is shifted by a random fraction of a cell so that no column or row of the tile
    (the wrap seam included) is statistically special.
    """
    n = size // cell_px
    jitter = rng.uniform(0.1, 0.9, size=(n, n, 2)).astype(np.float32)
    phase = rng.uniform(0.0, cell_px, size=2).astype(np.float32)
    y, x = y + phase[0], x + phase[1]
    ci = np.floor(y / cell_px).astype(np.int64)
    cj = np.floor(x / cell_px).astype(np.int64)
    d2, py, px, ids = [], [], [], []
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            ri, rj = ci + di, cj + dj
            wi, wj = ri % n, rj % n
            pyy = (ri + jitter[wi, wj, 0]) * cell_px
            pxx = (rj + jitter[wi, wj, 1]) * cell_px
            d2.append((y - pyy) ** 2 + (x - pxx) ** 2)
            py.append(pyy)
            px.append(pxx)
            ids.append(wi * n + wj)
    d2_ = np.stack(d2)
    order = np.argsort(d2_, axis=0)[:2]
    take = functools.partial(np.take_along_axis, axis=0)
    f1, f2 = take(d2_, order[:1])[0], take(d2_, order[1:2])[0]
    p1 = np.stack([take(np.stack(py), order[:1])[0], take(np.stack(px), order[:1])[0]])
    p2 = np.stack([take(np.stack(py), order[1:2])[0], take(np.stack(px), order[1:2])[0]])
    sep = np.sqrt(((p1 - p2) ** 2).sum(axis=0))
    edge = (f2 - f1) / (2.0 * np.maximum(sep, 1e-6))  # exact distance to the bisector
    cell = take(np.stack(ids), order[:1])[0]
    return edge.astype(np.float32), cell


def _stone(size: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    cell_px = min(32, size // 2)
    y, x = _grid(size)
    wy = y + 2.5 * periodic_noise(size, rng, 6.0)
    wx = x + 2.5 * periodic_noise(size, rng, 6.0)
    edge, cell = _torus_voronoi(wy, wx, size, cell_px, rng)
    n_cells = (size // cell_px) ** 2
    tone = rng.uniform(0.0, 1.0, n_cells).astype(np.float32)[cell]
    lift = rng.uniform(-0.08, 0.08, n_cells).astype(np.float32)[cell]
    mortar_px = 2.0
    t = np.clip((edge - mortar_px) / (0.3 * cell_px), 0.0, 1.0)
    dome = np.sqrt(t * (2.0 - t))  # quarter-circle shoulder, flat top
    mortar = (edge < mortar_px).astype(np.float32)
    speck = periodic_noise(size, rng, 0.8)
    blotch = periodic_noise(size, rng, 5.0, octaves=2)
    height = 0.12 + (0.7 + lift) * dome + 0.03 * blotch + 0.015 * speck
    stone_rgb = _lerp((0.42, 0.40, 0.37), (0.62, 0.56, 0.48), tone) * (
        1.0 + 0.06 * blotch[..., None] + 0.04 * speck[..., None]
    )
    mortar_rgb = np.asarray((0.66, 0.63, 0.57), np.float32) * (1.0 + 0.05 * speck[..., None])
    shade = (0.8 + 0.2 * dome)[..., None]
    albedo = (mortar_rgb * mortar[..., None] + stone_rgb * (1.0 - mortar[..., None])) * shade
    rough = 0.95 * mortar + (0.72 + 0.1 * tone + 0.03 * blotch) * (1.0 - mortar)
    return albedo, height, rough


def _fabric(size: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    w = 8  # thread pitch in pixels; the plain weave repeats every 2 w
    y, x = _grid(size)
    shift = rng.integers(0, 2 * w, size=2)  # seed-chosen phase of the weave
    u = (x + shift[1]) / w
    v = (y + shift[0]) / w
    i, j = np.floor(u), np.floor(v)
    across_warp = np.sqrt(np.sin(np.pi * (u - i)))  # rounded thread cross-sections
    across_weft = np.sqrt(np.sin(np.pi * (v - j)))
    over_warp = np.cos(np.pi * (v - 0.5 - i))  # +1 where the warp thread is on top
    over_weft = -np.cos(np.pi * (u - 0.5 - j))
    slub_warp = periodic_noise(size, rng, (24.0, 1.5))
    slub_weft = periodic_noise(size, rng, (1.5, 24.0))
    h_warp = 0.45 * across_warp + 0.3 * (0.5 + 0.5 * over_warp) + 0.03 * slub_warp
    h_weft = 0.45 * across_weft + 0.3 * (0.5 + 0.5 * over_weft) + 0.03 * slub_weft
    fib_warp = periodic_noise(size, rng, (5.0, 0.6))  # fibres run along each thread
    fib_weft = periodic_noise(size, rng, (0.6, 5.0))
    n_threads = size // w
    ti = ((i.astype(np.int64)) % n_threads).astype(np.int64)
    tj = ((j.astype(np.int64)) % n_threads).astype(np.int64)
    tone_warp = rng.normal(0.0, 0.04, n_threads).astype(np.float32)[ti]
    tone_weft = rng.normal(0.0, 0.04, n_threads).astype(np.float32)[tj]
    warp_rgb = (
        np.asarray((0.16, 0.24, 0.45), np.float32) * (1.0 + tone_warp + 0.08 * fib_warp)[..., None]
    )
    weft_rgb = (
        np.asarray((0.80, 0.77, 0.70), np.float32) * (1.0 + tone_weft + 0.05 * fib_weft)[..., None]
    )
    top = (h_warp >= h_weft)[..., None]
    height = np.maximum(h_warp + 0.02 * fib_warp, h_weft + 0.02 * fib_weft)
    albedo = np.where(top, warp_rgb, weft_rgb) * (0.6 + 0.4 * _unit(height))[..., None]
    rough = 0.88 + 0.04 * np.where(top[..., 0], fib_warp, fib_weft)
    return albedo, height, rough


_PROCEDURAL = {"marble": _marble, "wood": _wood, "stone": _stone, "fabric": _fabric}


def exemplar(material: str, size: int = 256, seed: int = 0) -> Exemplar:
    """The exemplar of ``material`` at ``size`` x ``size``, a deterministic function of seed.

    Procedural materials tile; photo materials are a seed-chosen crop of the photo.
    """
    if material not in MATERIALS:
        raise _unknown(material)
    size = check_size(size)
    if material in _PHOTOS:
        return _photo_exemplar(material, size, seed)
    albedo, height, rough = _PROCEDURAL[material](size, _rng(material, seed))
    return Exemplar(
        material=material,
        albedo=np.clip(albedo, 0.0, 1.0).astype(np.float32),
        height=np.clip(height, 0.0, 1.0).astype(np.float32),
        roughness=np.clip(rough, 0.0, 1.0).astype(np.float32),
        metallic=0.0,
        source="procedural",
    )
