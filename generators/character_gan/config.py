"""The character-gan recipe: architecture and training, one dataclass (its defaults ship).

`vitrine train character-gan` takes one flag per field (`generators.training.config`); the
networks' constructor defaults come from `SHIPPED`, so the architecture is written here only.
"""

from __future__ import annotations

from dataclasses import dataclass

from generators.training.loop import RunOptions

GROUP = 4  # D's minibatch-std group; a batch is laid out in groups of one class (as voxel-gan)


@dataclass
class CharacterGanConfig(RunOptions):
    out: str = "runs/character-gan"  # run directory
    ckpt_every: int = 250  # checkpoint every N steps (a CPU step is a few ms)
    preview_every: int = 1000  # loss_curve.png every N steps (0: never)
    steps: int = 20000  # stop at this step (the shipped weights: 20000 steps, ~4 min on a CPU)
    batch: int = 64  # bodies per step, a multiple of 4 (one class per minibatch-std group)
    n_per_category: int = 1000  # humanoid training bodies per category (seeds 1..N); 400 and
    # 600 left elder at 67-69 % 1-NNA
    components: int = 32  # PCA components of the body shape space (fitted on the training
    # bodies only); 32 keep 99.9995 % of their variance (train.log says how much)
    z_dim: int = 32  # latent size
    embed_dim: int = 16  # class-embedding size concatenated to z
    g_hidden: tuple[int, ...] = (256, 256, 256)  # G's MLP widths
    d_hidden: tuple[int, ...] = (256, 256)  # D's MLP widths
    r1: float = 1.0  # R1 penalty weight on reals (0: off)
    r1_every: int = 4  # lazy R1: applied every N steps, scaled by N
    lr_g: float = 2e-4  # G's Adam learning rate, betas (0.0, 0.99)
    lr_d: float = 2e-4  # D's
    ema: float = 0.999  # EMA decay of the sampling G
    mode_seeking: float = 0.2  # weight of the mode-seeking term in G's loss (0: off)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.batch < GROUP or self.batch % GROUP:
            raise ValueError(f"--batch must be a multiple of {GROUP}, got {self.batch}")
        if self.steps < 0 or self.n_per_category < 2 or self.components < 1 or self.r1_every < 1:
            raise ValueError("--steps must be >= 0, --n-per-category >= 2, --components and "
                             "--r1-every >= 1")


SHIPPED = CharacterGanConfig()

PRESETS: dict[str, dict] = {
    "shipped": {},
    # A CPU smoke test: a few bodies per category, tiny networks, seconds in all.
    "tiny": {"batch": 8, "n_per_category": 6, "components": 4, "z_dim": 4, "embed_dim": 2,
             "g_hidden": (16,), "d_hidden": (16,), "ckpt_every": 2, "preview_every": 0},
}
