"""`procedural`: deterministic parametric props (chairs, tables, vases, columns, benches, lamps).

Each category is a family of signed-distance shapes whose structure (leg styles, backs, arms,
lathe profiles, capitals, ...) is drawn from the seed. They are served directly, and they are
the training data of the learned shape models.
"""

from generators.procedural.generator import ProceduralGenerator

__all__ = ["ProceduralGenerator"]
