"""The served renderer: loads the shipped shader once and opens render sessions on scenes.

`neural-render` is a model of kind "render": it does not make assets (`generate` refuses with
a message pointing at RenderService), it renders scenes of assets other models made, through
`open_session` (`session.RenderSession`, `session.FrameLoop`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import torch

from generators.core.asset import KIND_RENDER, Asset, CancelToken, Spec
from generators.core.errors import InvalidOption
from generators.core.registry import Generator, GeneratorInfo, make_version
from generators.core.weights import load_network, shipped_paths
from generators.neural_render.model import NeuralShader
from generators.neural_render.scene import Placement
from generators.neural_render.session import RenderSession

log = logging.getLogger(__name__)

NAME = "neural-render"
VERSION = "1"  # bump when the G-buffer, shading or encoding change the frames
WEIGHTS, CONFIG, REBUILD = shipped_paths(__file__, NAME)


class NeuralRenderGenerator(Generator):
    def __init__(self, weights: Path | str = WEIGHTS, config: Path | str = CONFIG,
                 name: str = NAME):
        net, cfg = load_network(name, lambda **kw: NeuralShader(**kw), Path(weights),
                                Path(config), REBUILD, n_labels=lambda net: 0)
        self.shader: NeuralShader = net.eval()
        for p in self.shader.parameters():
            p.requires_grad_(False)
        self.config = cfg
        self.info = GeneratorInfo(
            name=name, kind=KIND_RENDER,
            version=make_version("nr-", VERSION, cfg["sha256"]),
            description="Real-time neural rendering of generated assets (RenderService): a "
                        "G-buffer from ray casts, shaded by a small CNN trained against an "
                        "offline reference with soft shadows, AO and one bounce",
            categories=("scene",), options=())

    def generate_one(self, spec: Spec, cancel: CancelToken | None = None) -> Asset:
        raise InvalidOption("model", f"{self.info.name} renders scenes of generated assets; "
                            "open a vitrine.v1.RenderService Render stream (or RenderFrame) "
                            "instead of AssetService.Generate")

    def open_session(self, objects: Sequence[tuple[Asset, Placement]], width: int = 256,
                     height: int = 256, fmt: str = "jpeg", quality: int = 85) -> RenderSession:
        """A session on these placed assets; InvalidOption naming a bad field."""
        return RenderSession(self.shader, objects, width, height, fmt, quality)

    @torch.inference_mode()
    def warm_up(self) -> None:
        """One tiny forward pass, so the first frame does not pay torch's lazy set-up."""
        full = torch.zeros(1, self.shader.full_channels, 64, 64)
        self.shader(full, torch.zeros(1, self.shader.half_channels, 32, 32))
