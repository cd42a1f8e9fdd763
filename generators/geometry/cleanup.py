"""Mesh cleanup: drop degenerate and doubled faces, unreferenced vertices and small
floating pieces."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

from generators.geometry.arrays import face_normals, row_norm


def clean(
    vertices: np.ndarray,  # [V, 3], welded (marching cubes makes one vertex per crossed edge)
    faces: np.ndarray,  # [F, 3]
    min_component_area: float = 0.005,  # drop pieces under this fraction of the total area
) -> tuple[np.ndarray, np.ndarray]:
    """Return the mesh without degenerate faces, unreferenced vertices and tiny disconnected
    pieces (faces joined by shared vertices). Plain numpy and scipy: trimesh's processing
    (a weld, face adjacency) cost 16 of a default prop's 75 ms and found nothing to weld in
    marching cubes' output."""
    v, f = drop_degenerate(np.asarray(vertices, dtype=np.float64),
                           np.asarray(faces, dtype=np.int64))
    if min_component_area > 0 and len(f):
        n = len(v)
        graph = sp.coo_matrix((np.ones(2 * len(f), dtype=np.int8),
                               (np.repeat(f[:, 0], 2), f[:, 1:].reshape(-1))), shape=(n, n))
        count, label = csgraph.connected_components(graph, directed=False)
        if count > 1:
            piece = label[f[:, 0]]
            area = row_norm(face_normals(v, f))
            total = np.bincount(piece, weights=area, minlength=count)
            keep = total >= min_component_area * total.sum()
            if not keep.all():
                v, f = drop_degenerate(v, f[keep[piece]])
    return v, f


def drop_degenerate(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Remove faces with repeated indices or ~zero area, then unreferenced vertices."""
    f = faces
    distinct = (f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])
    area2 = row_norm(face_normals(vertices, f))
    scale = max(float((vertices.max(axis=0) - vertices.min(axis=0)).max()), 1e-12)
    f = f[distinct & (area2 > 1e-12 * scale * scale)]
    mask = np.zeros(len(vertices), dtype=bool)
    mask[f.reshape(-1)] = True
    used = np.flatnonzero(mask)  # the referenced vertices, ascending
    remap = np.full(len(vertices), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return np.take(vertices, used, axis=0), np.take(remap, f)


def drop_slivers(
    vertices: np.ndarray,  # [V, 3]
    faces: np.ndarray,  # [F, 3]
    min_volume: float = 1e-5,  # fraction of the whole mesh's enclosed volume
) -> tuple[np.ndarray, np.ndarray]:
    """Remove the pieces that enclose (almost) nothing: fewer than four faces, or a volume under
    `min_volume` of the whole mesh's -- where quadric decimation collapsed a thin part into a
    two-sided sliver or a lone triangle lying on the surface (measured on 240 procedural
    props: 43 pieces of 1-2 faces at 20 k triangles, up to 12 mm long; 151 at 1.25 k).
    Pieces are the connected components of faces joined by manifold edges (edges of exactly
    two faces), so a sliver folded onto the surface's own edges counts as its own piece; a
    piece whose removal would open an edge of the rest (a hole) is kept. A mesh of one piece
    is returned as is."""
    n_faces = len(faces)
    if n_faces == 0:
        return vertices, faces
    f = np.asarray(faces, dtype=np.int64)
    e = np.sort(f[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    key = e[:, 0] * len(vertices) + e[:, 1]
    order = np.argsort(key, kind="stable")
    key, owner = key[order], order // 3
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    sizes = np.diff(np.r_[starts, len(key)])
    pair = starts[sizes == 2]  # manifold edges: the two faces at pair and pair + 1
    graph = sp.coo_matrix((np.ones(len(pair), dtype=np.int8), (owner[pair], owner[pair + 1])),
                          shape=(n_faces, n_faces))
    count, piece = csgraph.connected_components(graph, directed=False)
    if count == 1:
        return vertices, faces
    tri = np.asarray(vertices, dtype=np.float64)[f]
    signed = np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])) / 6.0
    volume = np.abs(np.bincount(piece, weights=signed, minlength=count))
    faces_per_piece = np.bincount(piece, minlength=count)
    keep = (faces_per_piece >= 4) & (volume >= min_volume * volume.sum())
    if keep.all():
        return vertices, faces
    # A piece whose removal would leave some edge with one face (a hole) stays.
    dropped = ~keep[piece][owner]  # per sorted edge occurrence
    gone = np.add.reduceat(dropped.astype(np.int64), starts)
    opens = np.repeat((sizes - gone == 1) & (gone > 0), sizes) & dropped
    keep[piece[owner[opens]]] = True
    return drop_degenerate(vertices, f[keep[piece]])


def drop_doubled(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Remove doubled faces (faces on the same three vertices), which Blender drops on import
    and the glTF validator does not see: copies facing the same way keep one face; a pair
    facing opposite ways (a zero-volume fold quadric decimation leaves) goes entirely."""
    f = np.asarray(faces, dtype=np.int64)
    if len(f) < 2:
        return vertices, f
    srt = np.sort(f, axis=1)
    n = int(f.max()) + 1
    if n >= 2_000_000:  # n**3 would overflow int64: key the triples by row instead
        key = np.unique(srt, axis=0, return_inverse=True)[1].reshape(-1)
    else:
        key = (srt[:, 0] * n + srt[:, 1]) * n + srt[:, 2]  # one int64 per vertex triple
    ordered = np.sort(key)
    if (ordered[1:] != ordered[:-1]).all():  # the usual case: nothing doubled
        return vertices, f
    _, first, inverse, counts = np.unique(key, return_index=True, return_inverse=True,
                                          return_counts=True)
    inverse = inverse.reshape(-1)
    if (counts == 1).all():
        return vertices, f
    # Orientation: an even or odd permutation of the sorted triple.
    r = np.argmin(f, axis=1)
    rolled = f[np.arange(len(f))[:, None], (r[:, None] + np.arange(3)) % 3]
    even = rolled[:, 1] < rolled[:, 2]
    n_even = np.bincount(inverse, weights=even, minlength=len(counts))
    mixed = (n_even > 0) & (n_even < counts)
    keep = np.zeros(len(f), dtype=bool)
    keep[first[~mixed]] = True
    return drop_degenerate(vertices, f[keep])



DEBRIS_SHARE = 0.01  # a piece under this share of a grid's solid voxels is floating debris


def solid_pieces(solid: np.ndarray) -> int:
    """Connected pieces of a boolean grid [X, Y, Z], voxels joined across faces (6-connected):
    where marching cubes is sure to join them, so one piece here is one surface there."""
    from scipy import ndimage

    return int(ndimage.label(np.asarray(solid, dtype=bool))[1])


def debris(solid: np.ndarray, max_share: float = DEBRIS_SHARE) -> tuple[np.ndarray, dict]:
    """(mask of the debris voxels, counts) of a boolean grid: the 6-connected pieces under
    `max_share` of the solid voxels. A caller that removes them reports the counts (`pieces`
    before, `kept` pieces, `dropped` pieces and `dropped_share` of the solid): a dropped part is
    a repair, never hidden."""
    from scipy import ndimage

    labels, n = ndimage.label(np.asarray(solid, dtype=bool))
    if n == 0:
        return np.zeros(labels.shape, dtype=bool), {"pieces": 0, "kept": 0, "dropped": 0,
                                                     "dropped_share": 0.0}
    size = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    small = size < max_share * size.sum()
    mask = small[labels - 1] & (labels > 0)
    return mask, {"pieces": n, "kept": int((~small).sum()), "dropped": int(small.sum()),
                  "dropped_share": round(float(size[small].sum() / size.sum()), 5)}
