"""PBR texture maps (base colour, normal, occlusion/roughness/metallic) from one generation.

Conventions (shared by every function here):

* Images are numpy arrays indexed ``[row, column(, channel)]``; row 0 is the *top* of the
  picture, as in PNG files and glTF texture space (UV origin at the upper-left corner).
  Float maps are float32 in [0, 1] unless stated; 8-bit maps are uint8 [H, W] or [H, W, 3].
* Every map is *tileable*: every spatial filter uses circular (wrap) boundaries, so a texture
  whose inputs tile produces maps that tile, and ``f(np.roll(x)) == np.roll(f(x))`` holds for
  every map built here (exactly: each output pixel is computed by the same arithmetic on the
  same neighbours wherever it sits).
* Height is unitless. Gradients are taken per *pixel* (the SGAN/PSGAN view: a larger texture
  shows more surface at the same pixel scale), so ``normal_from_height(h, strength)`` uses the
  slope ``strength * dh/dpixel``; strength 1 means "a height step of 1.0 rises one pixel".
* Tangent-space normals, +X right and +Z out of the surface. ``"opengl"`` is +Y *up* (towards
  row 0): glTF's convention, also Blender's and Unity's. ``"directx"`` is +Y down (Unreal), i.e.
  the green channel flipped. Concretely, for ``"opengl"``: height rising to the right (along
  +column) tilts normals to the left (x < 0, red < 128); height rising downwards (along +row)
  makes the surface face up the image (y > 0, green > 128).
* Encoded normals are ``round((n * 0.5 + 0.5) * 255)`` per channel, n in [-1, 1].
* The ORM texture is glTF-style: R = ambient occlusion, G = roughness, B = metallic, all
  linear (not sRGB) values in [0, 1]; glTF's ``metallicRoughnessTexture`` reads G and B and its
  ``occlusionTexture`` may point at the same image (it reads R). Base colour is sRGB-encoded.
* Public texture sizes (`check_size`) are square powers of two from 64 to 2048.
* `png_bytes` is deterministic: no timestamp, text or gamma chunks, fixed zlib level, so the
  same array always gives the same bytes (with the same Pillow/zlib build).
"""

from __future__ import annotations

import io
import logging
import time

import numpy as np
from PIL import Image
from scipy import ndimage

from generators.core.asset import PBRSet

log = logging.getLogger(__name__)

CONVENTIONS: tuple[str, ...] = ("opengl", "directx")
MIN_SIZE = 64
MAX_SIZE = 2048
PNG_MIME = "image/png"
# zlib level for PNG maps: level 1 is about twice as fast as the default 6 on 1024^2 maps and
# within a few percent of its size on noisy texture content.
PNG_COMPRESS_LEVEL = 1


# --------------------------------------------------------------------------- validation


def check_size(n: int) -> int:
    """Return n if it is a power of two in [MIN_SIZE, MAX_SIZE], else raise ValueError."""
    if (
        isinstance(n, bool)
        or not isinstance(n, (int, np.integer))
        or not MIN_SIZE <= n <= MAX_SIZE
        or int(n) & (int(n) - 1)
    ):
        raise ValueError(
            f"texture size must be an int power of two from {MIN_SIZE} to {MAX_SIZE}, got {n!r}"
        )
    return int(n)


def _check_square(shape: tuple[int, ...], what: str) -> int:
    if len(shape) < 2 or shape[0] != shape[1]:
        raise ValueError(f"{what} must be square (H == W), got shape {tuple(shape)}")
    return check_size(shape[0])


def _as_height(height: np.ndarray) -> np.ndarray:
    h = np.asarray(height, dtype=np.float32)
    if h.ndim != 2 or min(h.shape) < 3:
        raise ValueError(f"height must be a 2-D array at least 3x3, got shape {h.shape}")
    return h


def _check_convention(convention: str) -> str:
    if convention not in CONVENTIONS:
        raise ValueError(
            f"unknown normal-map convention {convention!r}; allowed: {', '.join(CONVENTIONS)}"
        )
    return convention


# --------------------------------------------------------------------------- maps


def normal_from_height(
    height: np.ndarray, strength: float = 1.0, convention: str = "opengl"
) -> np.ndarray:
    """Tangent-space unit normals [H, W, 3] float32 in [-1, 1] from a height map [H, W].

    Wrap-padded central differences: ``dh/dx = (h[:, c+1] - h[:, c-1]) / 2`` (columns) and
    ``dh/drow`` likewise, neighbours taken modulo the size. The normal is
    ``normalize(-s dh/dx, +s dh/drow, 1)`` for "opengl" (+Y up, towards row 0) and
    ``normalize(-s dh/dx, -s dh/drow, 1)`` for "directx".
    """
    _check_convention(convention)
    h = _as_height(height)
    s = np.float32(0.5 * float(strength))
    nx = (np.roll(h, 1, axis=1) - np.roll(h, -1, axis=1)) * s  # -s * (h[c+1] - h[c-1]) / 2
    ny = (np.roll(h, -1, axis=0) - np.roll(h, 1, axis=0)) * s  # +s * (h[r+1] - h[r-1]) / 2
    if convention == "directx":
        ny = -ny
    inv = 1.0 / np.sqrt(nx * nx + ny * ny + np.float32(1.0))
    out = np.empty(h.shape + (3,), dtype=np.float32)
    np.multiply(nx, inv, out=out[..., 0])
    np.multiply(ny, inv, out=out[..., 1])
    out[..., 2] = inv
    return out


def encode_normal(n: np.ndarray) -> np.ndarray:
    """Unit normals in [-1, 1] -> uint8 ``round((n * 0.5 + 0.5) * 255)``."""
    n = np.asarray(n, dtype=np.float32)
    if n.ndim != 3 or n.shape[-1] != 3:
        raise ValueError(f"normals must be [H, W, 3], got shape {n.shape}")
    return _quantize(n, 127.5, 127.5)  # (n * 0.5 + 0.5) * 255


def ambient_occlusion_from_height(
    height: np.ndarray, radius_px: int = 4, strength: float = 1.0
) -> np.ndarray:
    """Cheap, tileable cavity occlusion [H, W] float32 in [0, 1] (1 = unoccluded).

    The height is rescaled to [0, 1] by its own min/max, blurred with a wrap-mode Gaussian of
    sigma ``radius_px / 2``, and a pixel lying below its neighbourhood is darkened by
    ``ao = 1 - clip(2 * strength * (blur(h) - h), 0, 1)``. Peaks and flats stay at 1. This is a
    plausible look, not a ray-traced occlusion. A constant height gives all ones.
    """
    h = _as_height(height)
    radius_px = int(radius_px)
    if radius_px < 1:
        raise ValueError(f"radius_px must be >= 1, got {radius_px}")
    lo, hi = float(h.min()), float(h.max())
    if hi - lo <= 1e-12:
        return np.ones_like(h)
    hn = (h - np.float32(lo)) * np.float32(1.0 / (hi - lo))
    blur = ndimage.gaussian_filter(hn, sigma=radius_px / 2.0, mode="wrap", truncate=2.0)
    cavity = (blur - hn) * np.float32(2.0 * strength)
    np.clip(cavity, 0.0, 1.0, out=cavity)
    return np.float32(1.0) - cavity


def _as_map(value: np.ndarray | float, shape: tuple[int, int], what: str) -> np.ndarray:
    """A scalar or an [H, W] array in [0, 1] as an [H, W] float32 array (clipped)."""
    a = np.asarray(value, dtype=np.float32)
    if a.ndim == 0:
        return np.full(shape, np.clip(a, 0.0, 1.0), dtype=np.float32)
    if a.shape != shape:
        raise ValueError(f"{what} must be a float or an array of shape {shape}, got {a.shape}")
    return np.clip(a, 0.0, 1.0)


def _quantize(x: np.ndarray, scale: float, offset: float) -> np.ndarray:
    """uint8 ``round(clip(x * scale + offset, 0, 255))``, one float32 temporary."""
    y = np.multiply(np.asarray(x, dtype=np.float32), np.float32(scale))
    if offset:
        y += np.float32(offset)
    np.clip(y, 0.0, 255.0, out=y)
    np.rint(y, out=y)
    return y.astype(np.uint8)


def to_uint8(x: np.ndarray) -> np.ndarray:
    """Floats in [0, 1] -> uint8 ``round(clip(x, 0, 1) * 255)``."""
    return _quantize(x, 255.0, 0.0)


def pack_orm(
    occlusion: np.ndarray | float, roughness: np.ndarray | float, metallic: np.ndarray | float
) -> np.ndarray:
    """uint8 [H, W, 3]: R = occlusion, G = roughness, B = metallic (glTF channel layout).

    Each input is an [H, W] array or a float (broadcast); at least one must be an array.
    Values are linear, clipped to [0, 1].
    """
    named = (("occlusion", occlusion), ("roughness", roughness), ("metallic", metallic))
    shapes = [np.shape(v) for _, v in named if np.ndim(v) > 0]
    if not shapes or len(shapes[0]) != 2:
        raise ValueError(f"pack_orm needs at least one [H, W] map, got shapes {shapes}")
    shape = shapes[0]
    out = np.empty(shape + (3,), dtype=np.uint8)
    for i, (what, v) in enumerate(named):
        out[..., i] = to_uint8(_as_map(v, shape, what))
    return out


# --------------------------------------------------------------------------- colour


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """Linear [0, 1] -> sRGB-encoded [0, 1] (IEC 61966-2-1; input clipped to [0, 1])."""
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1.0 / 2.4) - 0.055)


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """sRGB-encoded [0, 1] -> linear [0, 1] (IEC 61966-2-1; input clipped to [0, 1])."""
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
    return np.where(x <= 0.04045, x / 12.92, np.power((x + 0.055) / 1.055, 2.4))


# --------------------------------------------------------------------------- files


def png_bytes(img: np.ndarray, compress_level: int = PNG_COMPRESS_LEVEL) -> bytes:
    """Encode uint8 [H, W] (grey) or [H, W, 3] (RGB) as PNG, deterministically.

    Only IHDR/IDAT/IEND chunks are written (no time, text, gamma or ICC chunks), so equal
    arrays give equal bytes.
    """
    a = np.asarray(img)
    if a.dtype != np.uint8:
        raise ValueError(f"png_bytes needs uint8, got {a.dtype}")
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] == 3)):
        raise ValueError(f"png_bytes needs [H, W] or [H, W, 3], got shape {a.shape}")
    buf = io.BytesIO()
    # uint8 [H, W] becomes mode "L", uint8 [H, W, 3] mode "RGB".
    Image.fromarray(np.ascontiguousarray(a)).save(
        buf, format="PNG", compress_level=int(compress_level), optimize=False
    )
    return buf.getvalue()


MAP_NAMES = ("base_color", "normal", "orm")  # PBRSet's maps, in glTF texture order


def freeze(maps: PBRSet) -> PBRSet:
    """Make the maps read-only (in place) and return them: maps shared between assets (the
    prop map variants of `generators.texture.materials`) can then be memoised safely."""
    for name in MAP_NAMES:
        getattr(maps, name).setflags(write=False)
    return maps


def frozen(maps: PBRSet) -> bool:
    return not any(getattr(maps, name).flags.writeable for name in MAP_NAMES)


def encoded_pngs(maps: PBRSet) -> tuple[bytes, bytes, bytes]:
    """`png_bytes` of base colour, normal and ORM. Memoised on frozen maps (`freeze`), so a
    map variant worn by many props is encoded once per process, not once per GLB."""
    cached = maps.__dict__.get("_pngs")
    if cached is not None:
        return cached
    pngs = tuple(png_bytes(getattr(maps, name)) for name in MAP_NAMES)
    if frozen(maps):
        maps.__dict__["_pngs"] = pngs
    return pngs  # type: ignore[return-value]


def pbr_from_albedo_height(
    albedo_srgb: np.ndarray,
    height: np.ndarray,
    roughness: np.ndarray | float,
    metallic: np.ndarray | float,
    normal_strength: float = 1.0,
    convention: str = "opengl",
    ao_radius_px: int = 4,
) -> PBRSet:
    """Build a tileable PBRSet from one generation.

    albedo_srgb: float [H, W, 3] sRGB-encoded in [0, 1] (quantised as is, no colour change);
    height: float [H, W] (any range, see `normal_from_height` for the slope scale);
    roughness, metallic: linear [H, W] arrays or floats in [0, 1].
    H == W must be a power of two from 64 to 2048 (`check_size`).
    """
    t0 = time.perf_counter()
    _check_convention(convention)
    albedo = np.asarray(albedo_srgb, dtype=np.float32)
    if albedo.ndim != 3 or albedo.shape[2] != 3:
        raise ValueError(f"albedo_srgb must be [H, W, 3], got shape {albedo.shape}")
    size = _check_square(albedo.shape, "albedo_srgb")
    h = _as_height(height)
    if h.shape != (size, size):
        raise ValueError(f"height must have shape {(size, size)}, got {h.shape}")
    normal = encode_normal(normal_from_height(h, normal_strength, convention))
    ao = ambient_occlusion_from_height(h, ao_radius_px)
    out = PBRSet(base_color=to_uint8(albedo), normal=normal, orm=pack_orm(ao, roughness, metallic))
    log.debug("PBR maps %dx%d in %.1f ms", size, size, (time.perf_counter() - t0) * 1e3)
    return out
