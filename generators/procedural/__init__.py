"""`procedural`: deterministic parametric props (chairs, tables, vases, columns, benches, lamps).

Each category is a family of signed-distance shapes whose structure (leg styles, backs, arms,
lathe profiles, capitals, ...) is drawn from the seed. They are served directly, and they are
the training data of the learned shape models.
"""

from generators.core.family import Family

FAMILY = Family(
    name="procedural",
    generator="generators.procedural.generator:ProceduralGenerator",
    order=0,
    requires=("texture-gan",),  # the wood, marble, stone and fabric maps of its materials
)
