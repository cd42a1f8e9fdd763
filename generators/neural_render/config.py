"""The neural-render recipe: data, architecture and losses, one dataclass (its defaults ship).

`vitrine train neural-render` takes one flag per field (`generators.training.config`).
"""

from __future__ import annotations

from dataclasses import dataclass

from generators.training.loop import RunOptions


@dataclass
class NeuralRenderConfig(RunOptions):
    out: str = "runs/neural-render"  # run directory
    data: str = "runs/neural-render/data"  # the (G-buffer, reference) pair cache
    pool_seeds: int = 6  # procedural seeds per category in the training prop pool (6 x 6 props)
    pairs: int = 168  # training pairs (made first when missing: 1.5-12 s each on one shared core)
    size: int = 256  # pair resolution (the served default)
    sun_samples: int = 36  # reference samples per pixel for training targets (a square)
    bounce_samples: int = 64  # (the evaluation's references use 4x as many: less noise)
    steps: int = 2000  # optimiser steps (0.2 CPU-s each; 1-2 s on a core shared 8 ways)
    ckpt_every: int = 100
    preview_every: int = 1000
    batch: int = 6  # crops per step
    crop: int = 96  # crop edge in pixels (a multiple of 16)
    widths: tuple[int, ...] = (16, 32, 48)  # shader U-Net widths at 1/2, 1/4, 1/8 scale
    mid_blocks: int = 2  # 3 x 3 convolutions at 1/8 scale
    d_widths: tuple[int, ...] = (32, 64, 96)  # PatchGAN stages (stride 2 each)
    lr: float = 1e-3  # shader's Adam learning rate (cosine decay to 5 % at the end)
    lr_d: float = 2e-4  # critic's
    ssim_weight: float = 1.0  # weight of 1 - SSIM beside the L1 term (displayed sRGB)
    gan_weight: float = 0.02  # weight of the PatchGAN hinge term (0: no critic)
    gan_start: int = 1000  # the critic joins after this many steps (L1/SSIM find the shape
    # first; the adversarial term then sharpens penumbrae and contact shadows)
    ema: float = 0.995  # EMA decay of the exported shader

    def __post_init__(self) -> None:
        super().__post_init__()
        self.widths, self.d_widths = tuple(self.widths), tuple(self.d_widths)
        if self.crop % 16 or not 32 <= self.crop <= self.size:
            raise ValueError(f"--crop must be a multiple of 16 from 32 to --size {self.size}, "
                             f"got {self.crop}")
        if len(self.widths) != 3:
            raise ValueError(f"--widths takes 3 widths (1/2, 1/4, 1/8 scale), got "
                             f"{self.widths}")


SHIPPED = NeuralRenderConfig()

PRESETS: dict[str, dict] = {
    "shipped": {},
    # A smoke test: a few tiny pairs, tiny networks, a few steps.
    "tiny": {"pool_seeds": 1, "pairs": 4, "size": 64, "sun_samples": 4, "bounce_samples": 4,
             "steps": 4,
             "batch": 2, "crop": 32, "widths": (4, 8, 8), "mid_blocks": 1, "d_widths": (4, 8),
             "gan_start": 2, "ckpt_every": 2, "preview_every": 0},
}
