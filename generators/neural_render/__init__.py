"""`neural-render`: real-time neural rendering of generated assets (Deep Shading + pix2pix).

`scene` places props on a floor under a soft sun and a sky, for Open3D ray casting; `gbuffer`
casts one frame's cheap rays (primary, one shadow ray, two AO rays); `reference` is the
offline truth (soft shadows, AO, one bounce, many samples); `model` the shader CNN and its
PatchGAN critic; `dataset` the (G-buffer, reference) pairs; `train` the step (`vitrine train
neural-render`), `export` the weights, `evaluate` the SSIM/PSNR/time table; `session` the
served frame loop behind RenderService, `generator` the registered model (kind "render").
"""

from generators.core.family import Family

FAMILY = Family.learned(
    "neural-render", __name__, "NeuralRenderGenerator", order=950,
    requires=("procedural",),  # thumbnails (Generate) render procedural props
    recipe=(
        ("train", "neural-render", "--out", "runs/neural-render", "--threads", "1"),
        ("export", "neural-render", "--run", "runs/neural-render", "--ship"),
        ("eval", "neural-render"),
    ),
)
