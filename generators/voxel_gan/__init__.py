"""`voxel-gan`: a class-conditional 3D-GAN for props, trained on the procedural voxel set.

`model` holds the networks, `train` the resumable training loop (`vitrine train voxel-gan`),
`export` turns a run into the shipped fp16 weights, `evaluate` prints the metric table
(`vitrine eval voxel-gan`) and `generator` serves the weights through the registry.
"""

from generators.voxel_gan.generator import VoxelGanGenerator

__all__ = ["VoxelGanGenerator"]
