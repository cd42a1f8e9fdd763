"""`texture-gan`: a material-conditioned spatial GAN for tileable PBR textures (PSGAN family).

`config` holds the architecture and training recipe, `model` the networks, `train` the step
(`vitrine train texture-gan`), `export` turns a run into weights, `evaluate` prints the metric
table and `generator` serves them (as texture assets, and as the prop models' material source).
"""

from generators.core.family import Family

FAMILY = Family(
    name="texture-gan",
    generator="generators.texture_gan.generator:TextureGanGenerator",
    order=30,
    train="generators.texture_gan.train:main",
    export="generators.texture_gan.export:main",
    evaluate="generators.texture_gan.evaluate:main",
    recipe=(
        ("train", "texture-gan", "--out", "runs/texture-gan", "--steps", "5661"),
        ("train", "texture-gan", "--out", "runs/texture-gan-ft", "--steps", "3020",
         "--init-from", "runs/texture-gan", "--d-warmup", "300", "--stationarity", "10"),
        ("export", "texture-gan", "--run", "runs/texture-gan-ft", "--ship"),
        ("eval", "texture-gan"),
    ),
)
