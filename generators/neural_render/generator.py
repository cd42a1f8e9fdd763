"""The served renderer: loads the shipped shader once and opens render sessions on scenes.

`neural-render` is a model of kind "render". RenderService renders scenes of assets other
models made through `open_session` (`session.RenderSession`, `session.FrameLoop`). Through
AssetService it makes thumbnails: Generate(neural-render, CATEGORY, SEED) is the procedural
prop of that category and seed (default options) rendered by the shader from a fixed
three-quarter view, one `thumbnail.png` (256 x 256) -- for a level designer's browser.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import torch

from generators.core.asset import KIND_RENDER, Asset, CancelToken, Spec
from generators.core.errors import GeneratorError, ModelLoadError
from generators.core.registry import Generator, GeneratorInfo, make_version
from generators.core.weights import load_network, shipped_paths
from generators.export import FileBlob, register_format
from generators.neural_render.gbuffer import FULL, HALF
from generators.neural_render.model import NeuralShader
from generators.neural_render.scene import Placement, orbit_camera
from generators.neural_render.session import (
    Pose,
    RenderSession,
    bfloat16_shader,
    serving_dtype,
)

log = logging.getLogger(__name__)

NAME = "neural-render"
VERSION = "1"  # bump when the G-buffer, shading or encoding change the frames
WEIGHTS, CONFIG, REBUILD = shipped_paths(__file__, NAME)
THUMBNAIL = "thumbnail.png"
THUMBNAIL_SIZE = 256


class NeuralRenderGenerator(Generator):
    def __init__(self, weights: Path | str = WEIGHTS, config: Path | str = CONFIG,
                 name: str = NAME, deps: dict[str, Generator] | None = None):
        net, cfg = load_network(name, lambda **kw: NeuralShader(**kw), Path(weights),
                                Path(config), REBUILD, n_labels=lambda net: 0)
        want = {"full": list(FULL), "half": list(HALF)}
        if cfg.get("channels") != want:
            raise ModelLoadError(f"{name}: {config} was trained on G-buffer channels "
                                 f"{cfg.get('channels')}, this code makes {want}; retrain, or "
                                 f"rebuild the weights with `{REBUILD}`")
        self.dtype = serving_dtype()
        self.shader: NeuralShader = net.eval().to(memory_format=torch.channels_last)
        if self.dtype == torch.bfloat16:
            self.shader = bfloat16_shader(self.shader)
        for p in self.shader.parameters():
            p.requires_grad_(False)
        self.config = cfg
        self.props = (deps or {}).get("procedural")  # thumbnails' props; None: no thumbnails
        self.info = GeneratorInfo(
            name=name, kind=KIND_RENDER,
            # The precision changes the frames' bits: it is part of the version.
            version=make_version("nr-", VERSION, cfg["sha256"], deps)
            + ("-bf16" if self.dtype == torch.bfloat16 else ""),
            description="Real-time neural rendering of generated assets (RenderService): a "
                        "G-buffer from ray casts, shaded by a small CNN trained against an "
                        "offline reference with soft shadows, AO and one bounce. Generate: a "
                        "procedural prop's thumbnail (thumbnail.png)",
            categories=self.props.info.categories if self.props else ("scene",), options=())

    def generate_one(self, spec: Spec, cancel: CancelToken | None = None) -> Asset:
        """The thumbnail of procedural `spec.category` seed `spec.seed`."""
        if self.props is None:
            raise GeneratorError(f"{self.info.name} was loaded without the procedural model, "
                                 "so it makes no thumbnails; use RenderService")
        prop = self.props.generate([self.props.resolve(spec.category, spec.seed, {})],
                                   cancel)[0]
        if isinstance(prop, GeneratorError):
            raise prop
        if cancel:
            cancel.check()
        session = RenderSession(self.shader, [(prop, Placement())], THUMBNAIL_SIZE,
                                THUMBNAIL_SIZE, "png", seed=spec.seed, dtype=self.dtype)
        cam = orbit_camera(session.scene.center, session.scene.radius, 35.0, 22.0, 40.0, 0.9)
        frame = session.render(Pose(cam.eye, cam.target, cam.up, cam.fov_y_deg))
        return Asset(kind=KIND_RENDER, category=spec.category, seed=spec.seed,
                     metadata={"thumbnail_png": frame.image})

    def open_session(self, objects: Sequence[tuple[Asset, Placement]], width: int = 256,
                     height: int = 256, fmt: str = "jpeg", quality: int = 85) -> RenderSession:
        """A session on these placed assets; InvalidOption naming a bad field."""
        return RenderSession(self.shader, objects, width, height, fmt, quality,
                             dtype=self.dtype)

    @torch.inference_mode()
    def warm_up(self) -> None:
        """One tiny forward pass, so the first frame does not pay torch's lazy set-up."""
        dt = next(self.shader.parameters()).dtype
        full = torch.zeros(1, self.shader.full_channels, 64, 64, dtype=dt)
        self.shader(full, torch.zeros(1, self.shader.half_channels, 32, 32, dtype=dt))


@register_format("glb", kind=KIND_RENDER)
def export_thumbnail(asset: Asset) -> list[FileBlob]:
    """A render asset's one file (its "glb" format, as a texture's is its PNG maps)."""
    return [FileBlob(THUMBNAIL, "image/png", asset.metadata["thumbnail_png"])]
