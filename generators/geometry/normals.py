"""Per-vertex normals."""

from __future__ import annotations

import numpy as np


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals, unit length, float32 [V, 3]."""
    tri = vertices[faces]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # length = 2 * area
    vn = np.zeros_like(vertices, dtype=np.float64)
    for k in range(3):
        np.add.at(vn, faces[:, k], fn)
    length = np.linalg.norm(vn, axis=1, keepdims=True)
    vn = np.where(length > 1e-20, vn / np.maximum(length, 1e-20), [0.0, 1.0, 0.0])
    vn = vn.astype(np.float32)
    # Re-normalise in float32 so glTF validators see unit length to within float precision.
    return vn / np.linalg.norm(vn, axis=1, keepdims=True)
