"""What both renderers and the network share: the specular lobe, tone mapping, the baseline.

Radiance is linear RGB; `tonemap` (exposure, ACES filmic fit, sRGB encoding) turns it into the
displayed picture, in numpy for the renderers and in torch for the training loss, with the
same constants so reference, baseline and network are compared in the same space.
"""

from __future__ import annotations

import numpy as np
import torch

from generators.neural_render.scene import SKY_RADIANCE, SUN_RADIANCE

EXPOSURE = 0.6
# Krzysztof Narkowicz's fit of the ACES filmic curve: x (a x + b) / (x (c x + d) + e).
_A, _B, _C, _D, _E = 2.51, 0.03, 2.43, 0.59, 0.14


def shininess(roughness: np.ndarray) -> np.ndarray:
    """Blinn-Phong exponent of a roughness (the usual 2 / r^4 - 2 mapping, kept in 1..1000)."""
    r = np.clip(roughness, 0.05, 1.0)
    return np.clip(2.0 / r**4 - 2.0, 1.0, 1000.0)


def specular_lobe(normals: np.ndarray, view: np.ndarray, light: np.ndarray,
                  roughness: np.ndarray) -> np.ndarray:
    """Normalised Blinn-Phong times the cosine, [n]: (k + 8) / (8 pi) (n.h)^k (n.l), where
    `view` points from the surface to the eye and `light` to the light. Per component (fast
    on transposed channel-major views too); the power, the costly part, only where both
    cosines are positive (elsewhere the lobe is 0)."""
    n = [normals[..., i] for i in range(3)]
    h = [view[..., i] + light[..., i] for i in range(3)]
    length = np.maximum(np.sqrt(h[0] * h[0] + h[1] * h[1] + h[2] * h[2]), 1e-8)
    h = [c / length for c in h]
    ndh = np.clip(n[0] * h[0] + n[1] * h[1] + n[2] * h[2], 0, 1)
    ndl = np.clip(n[0] * light[..., 0] + n[1] * light[..., 1] + n[2] * light[..., 2], 0, 1)
    out = np.zeros(ndh.shape, np.float32)
    on = np.nonzero((ndh > 0) & (ndl > 0))
    k = shininess(roughness[on])
    out[on] = (k + 8) / (8 * np.pi) * ndh[on] ** k * ndl[on]
    return out


def specular_color(albedo: np.ndarray, metal: np.ndarray) -> np.ndarray:
    """F0: 4 % for dielectrics, the albedo for metals."""
    m = metal[..., None]
    return (0.04 * (1 - m) + albedo * m).astype(np.float32)


def tonemap(linear: np.ndarray) -> np.ndarray:
    """Linear radiance -> displayed sRGB in [0, 1] (float32)."""
    x = np.maximum(linear * EXPOSURE, 0)
    y = np.clip(x * (_A * x + _B) / (x * (_C * x + _D) + _E), 0, 1)
    return np.where(y <= 0.0031308, 12.92 * y, 1.055 * np.power(y, 1 / 2.4) - 0.055).astype(
        np.float32)


def tonemap_torch(linear: torch.Tensor) -> torch.Tensor:
    """`tonemap` in torch (differentiable; the sRGB power is guarded near 0)."""
    x = (linear * EXPOSURE).clamp_min(0)
    y = (x * (_A * x + _B) / (x * (_C * x + _D) + _E)).clamp(0, 1)
    return torch.where(y <= 0.0031308, 12.92 * y, 1.055 * y.clamp_min(0.0031308) ** (1 / 2.4)
                       - 0.055)


def to_uint8(img: np.ndarray) -> np.ndarray:
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def lambert_ambient(albedo: np.ndarray, ndl: np.ndarray, mask: np.ndarray,
                    background: np.ndarray) -> np.ndarray:
    """The baseline: plain Lambert under the sun's centre plus the sky as a constant ambient
    term (no shadows, no occlusion, no bounce, no specular), [H, W, 3] linear."""
    lit = albedo * (SUN_RADIANCE * ndl[..., None] + SKY_RADIANCE)
    return np.where(mask[..., None] > 0.5, lit, background).astype(np.float32)
