"""Texture metrics: wrap-seam visibility, sliced Wasserstein distance, spectral structure,
pixel diversity.

Conventions (shared by every function here):

* An image is a numpy array [H, W] (grey) or [H, W, C], uint8 or float; a set of images is a
  sequence of such arrays, or one array [N, H, W(, C)]. Images of one set share a shape.
* `seam_ratio` works on the values as given (it is scale-free). `diversity` scales uint8 by
  1/255 so that it is in the units of float images in [0, 1]. `sliced_wasserstein` normalises
  its patch descriptors, so it is invariant to a per-channel affine change of each set.
* `seam_ratio`: for columns, ``mean|img[:, 0] - img[:, -1]|`` (the step a viewer sees where
  the texture wraps) over ``mean|img[:, c+1] - img[:, c]|`` (the typical step between
  neighbouring columns inside), and the same for rows. A tileable texture is a stationary
  field on the torus, so its wrap step is an ordinary neighbour step: ratio ~ 1. A crop of a
  non-periodic picture joins two unrelated columns: ratio well above 1. A constant image
  (0/0) counts as 1.
* `sliced_wasserstein` follows Progressive GAN (Karras et al. 2018, ``sliced_wasserstein.py``
  and ``metrics/sliced_wasserstein.py``): per image a Laplacian pyramid (5x5 binomial kernel,
  mirror boundaries, as ``cv2.pyrDown``/``pyrUp``), finest level first; per level
  ``patches_per_image`` random 7x7 neighbourhoods per image (uniform positions where the patch
  fits); each set's descriptors normalised per channel by *that set's* mean and std over all of
  its patches and pixels (as ProGAN's ``finalize_descriptors``); then the sliced Wasserstein
  distance with ``n_proj`` random unit directions (drawn in repeats of 128 as ProGAN's
  4 x 128; the mean over repeats equals the mean over all directions): both sets projected,
  sorted, mean absolute difference. The result is reported **x 1e3**, as in the paper's
  ``SWDx1e3`` columns: ``[level_0 (finest), ..., level_{L-1}, mean over levels]``. When the
  sets differ in size, both draw ``patches_per_image * max(N_a, N_b)`` patches, spread over
  their images round-robin (for equal sizes this is exactly ProGAN's sampling).
* `wrap_rank`: where the wrap line's step ranks among the image's own interior line steps
  (per axis, the fraction of interior steps below the wrap's): a seamless texture's wrap is
  an ordinary line (~0.5 on average over textures); a naive tile's is the largest (~1).
* `structure_distance` sees what 7x7-patch SWD cannot: structure at the scale of a brick, a
  cobble or a vein. Per set, the mean power spectrum of the images' luma (Rec. 709 weights on
  the channels as given; one channel is used as is), each image mean-removed, Hann-windowed
  (exemplar crops do not wrap: without a window their edges add a cross of power) and
  normalised to unit power, then, within the band of periods from a third of the image down
  to 4 px (`MIN_CYCLES_PER_IMAGE`, `MAX_CYCLES_PER_PIXEL`; finer detail is left to SWD),
  binned two ways: *radially* into `radial_bins` log-spaced bands (the share of power per
  scale: a course period, a cobble size) and *angularly* into `angular_bins` orientation
  bins over 180 degrees (the share of power per orientation: brick's courses, marble's
  veins). Distances: ``radial`` = mean over bands of
  ``|log2(share_a / share_b)|`` (0: the same scale content; 1: a factor 2 per band),
  ``angular`` = total variation ``0.5 sum|share_a - share_b|`` (0 .. 1), ``total`` = their
  sum. Rotating an anisotropic texture by 90 degrees moves its angular share; noise with
  a texture's colour histogram but no structure moves its radial share towards white.
* `lattice_correlation` sees what the binned spectrum cannot: a pattern repeating on a
  generator's latent-cell lattice (a narrow spectral peak, which shares one radial band and one
  orientation bin with broad-band content). It is the largest normalised autocorrelation of
  the luma at a nonzero whole-cell offset ``(i * period, j * period)``, ``|i|, |j| <=
  cells``, of the set's mean autocorrelation; each image mean-removed and *not* wrapped (the
  mean product over the overlap, so exemplar crops and tileable textures are measured alike).
  A photo of gravel scores ~0.07 at period 16; a generator stamping one motif per two cells
  ~0.45. Materials with structure at those offsets (brick courses, a weave) score high in
  their crops too: compare a generator with its exemplar crops, not with 0.
* `diversity`: mean over unordered pairs (i < j) of the per-pixel mean absolute difference
  ``mean|x_i - x_j|``; feed it images made from different seeds. 0 means identical outputs
  (mode collapse). It is pixel-aligned, so two unrelated samples of one stationary texture
  already differ by about the texture's own mean absolute deviation x sqrt(2); compare values
  across models on the same material, not against 0.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from scipy import ndimage

log = logging.getLogger(__name__)

ImageSet = Sequence[np.ndarray] | np.ndarray

SWD_SCALE = 1e3
_DIRS_PER_REPEAT = 128
_BINOMIAL = np.array([1.0, 4.0, 6.0, 4.0, 1.0], dtype=np.float32) / 16.0


# --------------------------------------------------------------------------- seams


def _ratio(num: float, den: float) -> float:
    # den == 0 means every line equals its neighbour, so the wrap step is 0 as well.
    return num / den if den > 0 else 1.0


def seam_ratio(img: np.ndarray) -> dict[str, float]:
    """Wrap-seam step over the typical neighbour step: ``{"cols", "rows", "max"}``."""
    a = np.asarray(img, dtype=np.float64)
    if a.ndim not in (2, 3) or a.shape[0] < 3 or a.shape[1] < 3:
        raise ValueError(f"seam_ratio needs [H, W] or [H, W, C] at least 3x3, got {a.shape}")
    cols = _ratio(
        float(np.abs(a[:, 0] - a[:, -1]).mean()), float(np.abs(np.diff(a, axis=1)).mean())
    )
    rows = _ratio(float(np.abs(a[0] - a[-1]).mean()), float(np.abs(np.diff(a, axis=0)).mean()))
    return {"cols": cols, "rows": rows, "max": max(cols, rows)}


def wrap_rank(img: np.ndarray) -> dict[str, float]:
    """Per axis, the share of interior line steps smaller than the wrap's: ``{"cols",
    "rows"}`` in [0, 1] (ties count half). Steps are ``mean|line_{i+1} - line_i|`` as in
    `seam_ratio`; a texture with no seam ranks its wrap like any interior line."""
    a = np.asarray(img, dtype=np.float64)
    if a.ndim not in (2, 3) or a.shape[0] < 3 or a.shape[1] < 3:
        raise ValueError(f"wrap_rank needs [H, W] or [H, W, C] at least 3x3, got {a.shape}")
    out = {}
    for key, axis in (("cols", 1), ("rows", 0)):
        steps = np.abs(np.diff(a, axis=axis))
        inner = steps.mean(axis=tuple(i for i in range(a.ndim) if i != axis))  # [L - 1]
        wrap = float(np.abs(np.take(a, 0, axis=axis) - np.take(a, -1, axis=axis)).mean())
        out[key] = float(((inner < wrap).sum() + 0.5 * (inner == wrap).sum()) / inner.size)
    return out


# --------------------------------------------------------------------------- image sets


def _as_set(images: ImageSet, what: str) -> np.ndarray:
    """A set as float32 [N, H, W, C]."""
    if isinstance(images, np.ndarray):
        arr = images
        if arr.ndim == 2:
            raise ValueError(f"{what}: a set needs [N, H, W(, C)], got one image {arr.shape}")
        arr = arr[..., None] if arr.ndim == 3 else arr
    else:
        imgs = [np.asarray(im) for im in images]
        if not imgs:
            raise ValueError(f"{what}: empty image set")
        shapes = {im.shape for im in imgs}
        if len(shapes) != 1:
            raise ValueError(f"{what}: images must share one shape, got {sorted(shapes)}")
        arr = np.stack(imgs)
        arr = arr[..., None] if arr.ndim == 3 else arr
    if arr.ndim != 4 or arr.shape[0] < 1:
        raise ValueError(f"{what}: expected images [H, W] or [H, W, C], got set {arr.shape}")
    return arr.astype(np.float32)


# --------------------------------------------------------------------------- SWD


def _pyr_down(x: np.ndarray) -> np.ndarray:
    """[N, H, W, C] -> [N, H/2, W/2, C]: binomial blur (mirror), keep even pixels."""
    for ax in (1, 2):
        x = ndimage.correlate1d(x, _BINOMIAL, axis=ax, mode="mirror")
    return x[:, ::2, ::2]


def _pyr_up(x: np.ndarray) -> np.ndarray:
    """[N, H, W, C] -> [N, 2H, 2W, C]: zero insertion, binomial blur x 4 (mirror)."""
    n, h, w, c = x.shape
    up = np.zeros((n, 2 * h, 2 * w, c), dtype=x.dtype)
    up[:, ::2, ::2] = x
    for ax in (1, 2):
        up = ndimage.correlate1d(up, _BINOMIAL * 2.0, axis=ax, mode="mirror")
    return up


def laplacian_pyramid(images: np.ndarray, levels: int) -> list[np.ndarray]:
    """ProGAN's Laplacian pyramid of [N, H, W, C], finest first; the last level is low-pass."""
    pyramid = [np.asarray(images, dtype=np.float32)]
    for _ in range(1, levels):
        pyramid.append(_pyr_down(pyramid[-1]))
        pyramid[-2] = pyramid[-2] - _pyr_up(pyramid[-1])
    return pyramid


def _descriptors(
    level: np.ndarray, n_patches: int, patch: int, rng: np.random.Generator
) -> np.ndarray:
    """n_patches random patch x patch neighbourhoods, normalised, as [n_patches, C*patch^2]."""
    n, h, w, _ = level.shape
    r = patch // 2
    img = np.arange(n_patches) % n
    ys = rng.integers(r, h - r, size=n_patches)
    xs = rng.integers(r, w - r, size=n_patches)
    off = np.arange(-r, r + 1)
    rows = (ys[:, None] + off[None, :])[:, :, None]  # [P, patch, 1]
    cols = (xs[:, None] + off[None, :])[:, None, :]  # [P, 1, patch]
    desc = level[img[:, None, None], rows, cols].astype(np.float64)  # [P, patch, patch, C]
    desc -= desc.mean(axis=(0, 1, 2), keepdims=True)
    std = desc.std(axis=(0, 1, 2), keepdims=True)
    desc /= np.where(std > 0, std, 1.0)
    return desc.transpose(0, 3, 1, 2).reshape(n_patches, -1)


def _swd(a: np.ndarray, b: np.ndarray, n_proj: int, rng: np.random.Generator) -> float:
    results = []
    done = 0
    while done < n_proj:
        k = min(_DIRS_PER_REPEAT, n_proj - done)
        dirs = rng.standard_normal((a.shape[1], k))
        dirs /= np.sqrt((dirs**2).sum(axis=0, keepdims=True))
        pa = np.sort(a @ dirs, axis=0)
        pb = np.sort(b @ dirs, axis=0)
        results.append(np.abs(pa - pb).mean() * k)
        done += k
    return float(sum(results) / n_proj)


def sliced_wasserstein(
    a_images: ImageSet,
    b_images: ImageSet,
    patches_per_image: int = 128,
    patch: int = 7,
    levels: int = 4,
    n_proj: int = 512,
    seed: int = 0,
) -> list[float]:
    """ProGAN SWD x 1e3 between two image sets: per pyramid level (finest first), then mean.

    Both sets need the same channel count; the coarsest level (size / 2^(levels-1)) must be at
    least ``patch`` pixels. Deterministic for a given seed.
    """
    a = _as_set(a_images, "a_images")
    b = _as_set(b_images, "b_images")
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"channel counts differ: {a.shape[-1]} vs {b.shape[-1]}")
    if patch < 1 or patch % 2 == 0:
        raise ValueError(f"patch must be an odd positive size, got {patch}")
    if levels < 1 or n_proj < 1 or patches_per_image < 1:
        raise ValueError("levels, n_proj and patches_per_image must be >= 1")
    for name, s in (("a_images", a), ("b_images", b)):
        coarsest = min(s.shape[1], s.shape[2]) >> (levels - 1)
        if coarsest < patch:
            raise ValueError(
                f"{name}: {s.shape[1]}x{s.shape[2]} images give {coarsest}-pixel pyramid level "
                f"{levels - 1}, smaller than the {patch}-pixel patch; use fewer levels"
            )
    n_patches = patches_per_image * max(a.shape[0], b.shape[0])
    rng = np.random.default_rng(seed)
    pyr_a = laplacian_pyramid(a, levels)
    pyr_b = laplacian_pyramid(b, levels)
    dists = []
    for la, lb in zip(pyr_a, pyr_b, strict=True):
        da = _descriptors(la, n_patches, patch, rng)
        db = _descriptors(lb, n_patches, patch, rng)
        dists.append(_swd(da, db, n_proj, rng) * SWD_SCALE)
    out = dists + [float(np.mean(dists))]
    log.debug("SWDx1e3 per level %s", ", ".join(f"{d:.2f}" for d in out))
    return out


# --------------------------------------------------------------------------- structure

_LUMA = np.array([0.2126, 0.7152, 0.0722])


def _luma(images, caller: str) -> np.ndarray:
    """[N, H, W] float64 luma of a set of RGB or single-channel images."""
    x = _as_set(images, "images").astype(np.float64)
    if x.shape[-1] == 3:
        return x @ _LUMA
    if x.shape[-1] == 1:
        return x[..., 0]
    raise ValueError(f"{caller} needs 1 or 3 channels, got {x.shape[-1]}")


def power_spectrum(images: ImageSet) -> np.ndarray:
    """Mean normalised power spectrum of a set's luma: [H, W] (unshifted, DC = 0), summing
    to 1. Each image is mean-removed, Hann-windowed and scaled to unit power first."""
    y = _luma(images, "power_spectrum")
    _, h, w = y.shape
    if min(h, w) < 16:
        raise ValueError(f"power_spectrum needs images of at least 16x16, got {h}x{w}")
    win = np.outer(np.hanning(h), np.hanning(w))
    y = (y - y.mean(axis=(1, 2), keepdims=True)) * win
    p = np.abs(np.fft.fft2(y)) ** 2
    p[:, 0, 0] = 0.0
    tot = p.sum(axis=(1, 2), keepdims=True)
    p = np.where(tot > 0, p / np.where(tot > 0, tot, 1.0), 0.0)  # a constant image adds 0
    mean = p.mean(axis=0)
    s = mean.sum()
    return mean / s if s > 0 else mean


# The band both profiles look at, in cycles per pixel: periods from 4 px (finer detail is
# SWD's finest levels' business) to a third of the image (3 cycles per image; fewer are too
# few per image to estimate, as measured: the band of 2-3 cycles moved by a factor of 2-3
# between sets of 32 crops of one exemplar).
MIN_CYCLES_PER_IMAGE = 3.0
MAX_CYCLES_PER_PIXEL = 0.25


def spectrum_profiles(spectrum: np.ndarray, radial_bins: int = 10,
                      angular_bins: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """(radial shares [radial_bins], angular shares [angular_bins]) of a `power_spectrum`
    (see the module docstring); each sums to 1 (or is all 0 for a constant set)."""
    h, w = spectrum.shape
    fy, fx = np.meshgrid(np.fft.fftfreq(h), np.fft.fftfreq(w), indexing="ij")  # cycles/px
    f = np.hypot(fy, fx)
    lo = MIN_CYCLES_PER_IMAGE / min(h, w)
    edges = np.geomspace(lo, MAX_CYCLES_PER_PIXEL, radial_bins + 1)
    radial = np.histogram(f, edges, weights=spectrum)[0]
    band = (f >= lo) & (f <= MAX_CYCLES_PER_PIXEL)
    theta = np.mod(np.arctan2(fy, fx), np.pi)[band]
    angular = np.histogram(theta, angular_bins, (0.0, np.pi), weights=spectrum[band])[0]
    return tuple(v / v.sum() if v.sum() > 0 else v for v in (radial, angular))  # type: ignore[return-value]


def structure_distance(a_images: ImageSet, b_images: ImageSet, radial_bins: int = 10,
                       angular_bins: int = 12) -> dict[str, float]:
    """Spectral structure distance between two image sets: ``{"radial", "angular",
    "total"}`` (module docstring). Symmetric; 0 for identical sets."""
    ra, aa = spectrum_profiles(power_spectrum(a_images), radial_bins, angular_bins)
    rb, ab = spectrum_profiles(power_spectrum(b_images), radial_bins, angular_bins)
    eps = 1e-9  # a band with no power in both sets counts as equal
    radial = float(np.abs(np.log2((ra + eps) / (rb + eps))).mean())
    angular = float(0.5 * np.abs(aa - ab).sum())
    return {"radial": radial, "angular": angular, "total": radial + angular}


def shuffled_pixels(images: ImageSet, seed: int = 0) -> np.ndarray:
    """Each image's pixels in random order: the same colour histogram, no structure (noise)."""
    x = _as_set(images, "images")
    rng = np.random.default_rng(seed)
    n, h, w, c = x.shape
    flat = x.reshape(n, h * w, c)
    return np.stack([f[rng.permutation(h * w)] for f in flat]).reshape(n, h, w, c)


def lattice_correlation(images: ImageSet, period: int = 16, cells: int = 4) -> float:
    """Largest mean autocorrelation of the luma at a nonzero whole-cell offset (module
    docstring); in [-1, 1]."""
    y = _luma(images, "lattice_correlation")
    _, h, w = y.shape
    if period < 1 or cells < 1 or cells * period > min(h, w) // 2:
        raise ValueError(f"offsets up to {cells} x {period} px need images at least twice that, "
                         f"got {h}x{w}")
    y = y - y.mean(axis=(1, 2), keepdims=True)
    shape = (2 * h, 2 * w)
    ac = np.fft.irfft2(np.abs(np.fft.rfft2(y, shape)) ** 2, shape)  # [N, 2H, 2W], 0 first
    count = np.fft.irfft2(np.abs(np.fft.rfft2(np.ones((h, w)), shape)) ** 2, shape)
    ac = ac / np.maximum(np.round(count), 1.0)
    var = ac[:, :1, :1]
    ac = np.where(var > 0, ac / np.where(var > 0, var, 1.0), 0.0).mean(axis=0)
    offs = [(i * period, j * period) for i in range(cells + 1) for j in range(-cells, cells + 1)
            if (i, j) != (0, 0) and not (i == 0 and j < 0)]
    return float(max(ac[dy % (2 * h), dx % (2 * w)] for dy, dx in offs))


# --------------------------------------------------------------------------- diversity


def diversity(images: ImageSet) -> float:
    """Mean pairwise per-pixel L1 between images (uint8 scaled to [0, 1]); needs >= 2."""
    if isinstance(images, np.ndarray):
        is_u8 = images.dtype == np.uint8
    else:
        is_u8 = bool(images) and all(np.asarray(im).dtype == np.uint8 for im in images)
    x = _as_set(images, "images")
    if is_u8:
        x /= np.float32(255.0)
    n = x.shape[0]
    if n < 2:
        raise ValueError(f"diversity needs at least two images, got {n}")
    flat = x.reshape(n, -1)
    total = 0.0
    for i in range(n - 1):
        total += float(np.abs(flat[i + 1 :] - flat[i]).mean(axis=1).sum())
    return total / (n * (n - 1) / 2)
