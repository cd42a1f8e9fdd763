"""Real-world size and pivot: the transform that makes a mesh stand where an engine expects."""

from __future__ import annotations

import numpy as np

from generators.geometry.options import PIVOTS


def placement(
    vertices: np.ndarray,
    size_m: float | None,  # longest side in metres; None keeps the current size
    pivot: str,  # "bottom_center": stands on y = 0, centred in x/z; "center": box centre at 0
) -> tuple[float, np.ndarray]:
    """(scale, offset) such that `vertices * scale + offset` has that size and pivot."""
    if pivot not in PIVOTS:
        raise ValueError(f"pivot {pivot!r} is not one of {PIVOTS}")
    v = np.asarray(vertices, dtype=np.float64)
    lo, hi = v.min(axis=0), v.max(axis=0)
    scale = 1.0 if size_m is None else float(size_m) / float((hi - lo).max())
    anchor = (lo + hi) / 2 * scale
    if pivot == "bottom_center":
        anchor[1] = lo[1] * scale
    return scale, -anchor


def place(vertices: np.ndarray, size_m: float | None, pivot: str) -> np.ndarray:
    """The vertices moved (and scaled) to the requested size and pivot."""
    scale, offset = placement(vertices, size_m, pivot)
    return np.asarray(vertices, dtype=np.float64) * scale + offset
