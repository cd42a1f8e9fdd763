"""`implicit-gan`: an IM-GAN style latent GAN over an implicit SDF decoder (see MODEL_CARD.md).

`config` holds the architecture and training recipe, `model` the networks, `train` the two
stages' steps, `export` and `evaluate` the run -> weights and metric-table entry points,
`generator` serves the weights.
"""

from generators.core.family import Family

FAMILY = Family.learned(
    "implicit-gan", __name__, "ImplicitGanGenerator", order=20,
    recipe=(
        ("train", "implicit-gan", "--out", "runs/implicit-gan", "--ae-steps", "14000",
         "--gan-steps", "50000"),
        ("export", "implicit-gan", "--run", "runs/implicit-gan", "--ship"),
        ("eval", "implicit-gan", "--side-by-side"),
    ),
    requires=("texture-gan",),
)
