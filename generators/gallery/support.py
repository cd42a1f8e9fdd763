"""Does an exhibit stand? Parts of a generated mesh that rest on nothing.

Learned shape models sometimes leave a part detached: a table top whose legs thinned away, a
lamp shade beside its stem. Standing on a plinth, such a part floats in mid-air. The gallery
redraws an exhibit that has one (`floating_parts`), as a curator would not show it.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from generators.core.asset import Mesh

REST_GAP_M = 0.03  # a part whose lowest point is this close to another part rests on it
WELD_DECIMALS = 5  # vertices split at UV seams are the same point to 10 micrometres


def floating_parts(mesh: Mesh, gap: float = REST_GAP_M) -> int:
    """How many connected parts of `mesh` are held by nothing: a part is held when it reaches
    the mesh's lowest level (the floor it stands on), comes within `gap` of a held part
    (resting on it, or run through by it, as a shade by its stem), or lies inside a held
    part's bounds (an inner shell nobody sees)."""
    v = np.asarray(mesh.vertices, np.float64)
    # Weld the copies UV seams made, so a part is one component.
    _, inv = np.unique(np.round(v, WELD_DECIMALS), axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    f = inv[np.asarray(mesh.faces, np.int64)]
    n = int(inv.max()) + 1
    pts = np.zeros((n, 3))
    pts[inv] = v
    e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]]])
    k, label = connected_components(coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])),
                                               shape=(n, n)), directed=False)
    if k == 1:
        return 0
    parts = [pts[label == c] for c in range(k)]
    lo = np.array([p.min(axis=0) for p in parts])
    hi = np.array([p.max(axis=0) for p in parts])
    held = lo[:, 1] <= pts[:, 1].min() + gap
    trees = [cKDTree(p) for p in parts]
    changed = True
    while changed:  # holding spreads: a part held by a held part is held
        changed = False
        for c in np.flatnonzero(~held):
            for o in np.flatnonzero(held):
                inside = bool(np.all(lo[c] >= lo[o] - gap) and np.all(hi[c] <= hi[o] + gap))
                if inside or np.isfinite(trees[o].query(parts[c], distance_upper_bound=gap)[0]
                                         ).any():
                    held[c] = changed = True
                    break
    return int((~held).sum())
