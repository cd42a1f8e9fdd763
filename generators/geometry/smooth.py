"""Volume-preserving smoothing (Taubin's lambda|mu filter) to remove marching-cubes terracing."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def taubin(
    vertices: np.ndarray,  # [V, 3]
    faces: np.ndarray,  # [F, 3]
    iterations: int = 6,  # lambda|mu pairs; 0 = no smoothing
    lamb: float = 0.5,  # shrinking step
    mu: float = -0.53,  # inflating step, |mu| > lamb keeps the volume (Taubin 1995)
) -> np.ndarray:
    """Return smoothed vertex positions; topology is unchanged."""
    if iterations <= 0:
        return vertices
    n = len(vertices)
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    e = np.concatenate([e, e[:, ::-1]])
    adj = sp.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n)).tocsr()
    adj.data[:] = 1.0  # duplicate edges were summed; a neighbour counts once
    deg = np.asarray(adj.sum(axis=1)).ravel()
    walk = sp.diags(1.0 / np.maximum(deg, 1)) @ adj  # mean of the neighbours
    v = np.asarray(vertices, dtype=np.float64)
    for _ in range(iterations):
        v = v + lamb * (walk @ v - v)
        v = v + mu * (walk @ v - v)
    return v
