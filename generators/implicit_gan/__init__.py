"""`implicit-gan`: an IM-GAN style latent GAN over an implicit SDF decoder (see MODEL_CARD.md).

Importing this package registers the served model; training, export and evaluation live in
`train`, `export` and `evaluate`.
"""

from generators.implicit_gan import generator  # noqa: F401  (registers "implicit-gan")
