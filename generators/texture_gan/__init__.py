"""`texture-gan`: a material-conditioned spatial GAN for tileable PBR textures (PSGAN family).

`config` holds the architecture and training recipe, `model` the networks, `train` the step
(`vitrine train texture-gan`), `export` turns a run into weights, `evaluate` prints the metric
table and `generator` serves them (as texture assets, and as the prop models' material source).
"""

from generators.core.family import Family

FAMILY = Family.learned(
    "texture-gan", __name__, "TextureGanGenerator", order=30,
    recipe=(
        ("train", "texture-gan", "--out", "runs/texture-gan", "--steps", "5661"),
        ("train", "texture-gan", "--out", "runs/texture-gan-ft", "--steps", "3020",
         "--init-from", "runs/texture-gan", "--d-warmup", "300", "--stationarity", "10"),
        ("export", "texture-gan", "--run", "runs/texture-gan-ft", "--ship"),
        ("eval", "texture-gan"),
    ),
)
