"""Mesh cleanup: weld, drop degenerate faces, unreferenced vertices and small floating pieces."""

from __future__ import annotations

import numpy as np
import trimesh


def clean(
    vertices: np.ndarray,  # [V, 3]
    faces: np.ndarray,  # [F, 3]
    min_component_area: float = 0.005,  # drop pieces under this fraction of the total area
) -> tuple[np.ndarray, np.ndarray]:
    """Return a welded mesh without degenerate faces and without tiny disconnected pieces."""
    mesh = trimesh.Trimesh(vertices, faces, process=True, validate=False)
    mesh.update_faces(mesh.nondegenerate_faces())
    mesh.remove_unreferenced_vertices()
    if min_component_area > 0 and len(mesh.faces):
        labels = trimesh.graph.connected_component_labels(
            mesh.face_adjacency, node_count=len(mesh.faces)
        )
        area = np.bincount(labels, weights=mesh.area_faces)
        keep = area >= min_component_area * area.sum()
        if not keep.all():
            mesh.update_faces(keep[labels])
            mesh.remove_unreferenced_vertices()
    return np.asarray(mesh.vertices), np.asarray(mesh.faces, dtype=np.int64)


def drop_degenerate(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Remove faces with repeated indices or ~zero area, then unreferenced vertices."""
    f = faces
    distinct = (f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])
    tri = vertices[f]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    area2 = np.linalg.norm(cross, axis=1)
    scale = max(float(np.ptp(vertices, axis=0).max()), 1e-12)
    f = f[distinct & (area2 > 1e-12 * scale * scale)]
    used = np.unique(f)
    remap = np.full(len(vertices), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return vertices[used], remap[f]
