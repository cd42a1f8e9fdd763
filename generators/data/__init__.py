"""Training data for the learned shape models: voxel sets from the procedural families."""

from generators.data.procedural_set import (
    HELDOUT_SEED_START,
    TRAIN_SEED_START,
    VoxelSet,
    build_voxel_set,
    load_or_build,
)

__all__ = ["HELDOUT_SEED_START", "TRAIN_SEED_START", "VoxelSet", "build_voxel_set",
           "load_or_build"]
