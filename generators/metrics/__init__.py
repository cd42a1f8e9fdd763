"""Shape-quality metrics for generated props: surface point clouds, Chamfer distance and the
PointFlow set metrics (MMD-CD, COV-CD, 1-NNA-CD), plus a nearest-neighbour memorisation check.

Clouds are compared after `normalize_points` (bounding box centred, largest side 1); see
`generators.metrics.pointcloud` for the exact definitions. `generators.metrics.served` measures
props as served instead: clouds in metres, sizes, and whether every piece stands.
"""

from generators.metrics.pointcloud import (
    chamfer_matrix,
    mmd_cov_1nna,
    mmd_cov_1nna_from_matrices,
    nearest_distances,
    normalize_points,
    sample_surface_from_mesh,
    sample_surface_from_voxels,
)

__all__ = [
    "chamfer_matrix",
    "mmd_cov_1nna",
    "mmd_cov_1nna_from_matrices",
    "nearest_distances",
    "normalize_points",
    "sample_surface_from_mesh",
    "sample_surface_from_voxels",
]
