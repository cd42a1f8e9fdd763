"""`texture-gan`: a material-conditioned spatial GAN for tileable PBR textures (PSGAN family).

`model` holds the networks, `train` the resumable training loop (`vitrine train texture-gan`),
`export` turns a run into the shipped fp16 weights, `evaluate` prints the metric table
(`vitrine eval texture-gan`) and `generator` serves the weights through the registry.
"""

from generators.texture_gan.generator import TextureGanGenerator

__all__ = ["TextureGanGenerator"]
