"""Per-vertex normals."""

from __future__ import annotations

import numpy as np

from generators.geometry.arrays import face_normals, row_norm


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals, unit length, float32 [V, 3]."""
    f = np.asarray(faces, dtype=np.int64)
    fn = face_normals(np.asarray(vertices), f)  # [F, 3] length = 2 * area, vertices' precision
    # Each face's normal goes to its three corners: one bincount per axis over the corners,
    # first corners of every face, then second, then third: the very order (so the very
    # floats) of np.add.at per corner, which was ~25 % slower on a 43k-triangle vase.
    corners = f.T.ravel()  # [3F], corner-major
    n = len(vertices)
    vn = np.stack([np.bincount(corners, np.tile(fn[:, c], 3), minlength=n) for c in range(3)], 1)
    length = row_norm(vn)[:, None]
    vn = np.where(length > 1e-20, vn / np.maximum(length, 1e-20), [0.0, 1.0, 0.0])
    vn = vn.astype(np.float32)
    # Re-normalise in float32 so glTF validators see unit length to within float precision.
    return vn / row_norm(vn)[:, None]
