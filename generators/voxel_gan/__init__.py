"""`voxel-gan`: a class-conditional 3D-GAN for props, trained on the procedural voxel set.

`config` holds the architecture and training recipe, `model` the networks, `train` the step
(`vitrine train voxel-gan`), `export` turns a run into weights (`vitrine export voxel-gan`),
`evaluate` prints the metric table (`vitrine eval voxel-gan`) and `generator` serves them.
"""

from generators.core.family import Family

FAMILY = Family.learned(
    "voxel-gan", __name__, "VoxelGanGenerator", order=10,
    recipe=(
        ("train", "voxel-gan", "--out", "runs/voxel-gan", "--steps", "6000"),
        ("export", "voxel-gan", "--run", "runs/voxel-gan", "--ship"),
        ("eval", "voxel-gan"),
    ),
    requires=("texture-gan",),
)
