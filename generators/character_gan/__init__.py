"""`character-gan`: a class-conditional GAN over body shapes, trained on the humanoid family.

Its samples are bodies no rule wrote: `model` generates the body in the MakeHuman template's
topology (whitened PCA coefficients decoded by the basis it carries), so the humanoid
family's skeleton fitting, skin weights, clothing, materials and clips dress and animate every
generated body. `config` holds the recipe, `data` the training bodies, `train` the step
(`vitrine train character-gan`), `export` the shipped weights, `evaluate` the table
(`vitrine eval character-gan`), `generator` serves them.
"""

from generators.core.family import Family

FAMILY = Family.learned(
    "character-gan", __name__, "CharacterGanGenerator", order=32,
    recipe=(
        ("train", "character-gan", "--out", "runs/character-gan"),
        ("export", "character-gan", "--run", "runs/character-gan", "--ship"),
        ("eval", "character-gan"),
    ),
    requires=("humanoid",),  # dresses, rigs and animates the generated bodies
)
