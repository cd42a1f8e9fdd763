"""The voxel-gan recipe: architecture and training, one dataclass (its defaults ship).

`vitrine train voxel-gan` takes one flag per field (`generators.training.config`); the
networks' constructor defaults come from `SHIPPED`, so the architecture is written here only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from generators.training.loop import RunOptions

GROUP = 4  # D's minibatch-std group; a batch is laid out in groups of one class (train._batch)


@dataclass
class VoxelGanConfig(RunOptions):
    out: str = "runs/voxel-gan"  # run directory
    ckpt_every: int = 50  # checkpoint every N steps: a CPU step is ~1 s, so <= a minute lost
    preview_every: int = 500  # loss_curve.png and samples.png every N steps (0: never)
    init_from: str | None = None  # start a new run from these G/D/EMA weights (a
    # checkpoint.safetensors or the committed weights/resume.safetensors); the optimisers start
    # fresh and --steps counts on from the file's step
    steps: int = 20000  # stop at this step (the shipped weights are its step-6000 checkpoint)
    batch: int = 32  # shapes per step, a multiple of 4 (one class per minibatch-std group)
    n_per_category: int = 500  # procedural training shapes per category (3000 in all)
    data: str | None = None  # train on a voxel set from `vitrine dataset build` instead of the
    # procedural set (its categories and real-world sizes go into the run and its export)
    z_dim: int = 128  # latent size: 128 was enough for 6 classes at 32^3
    embed_dim: int = 32  # class-embedding size concatenated to z
    g_channels: tuple[int, ...] = (128, 64, 32)  # G widths at 4^3, 8^3, 16^3 (one stage each)
    d_channels: tuple[int, ...] = (32, 64, 128)  # D widths at 16^3, 8^3, 4^3: mirrors G
    sn: bool = True  # spectral norm in D (stable with hinge loss and equal learning rates)
    mbstd: bool = True  # minibatch-std channel in D: lets it see a batch of identical fakes
    loss: str = field(default="hinge", metadata={"choices": ("hinge", "wgan-gp")})  # D's
    # loss: hinge (shipped) or WGAN-GP
    gp: float = 10.0  # WGAN-GP gradient-penalty weight (Gulrajani et al.'s 10)
    r1: float = 1.0  # R1 penalty weight on reals (0: off); 1 kept D from overfitting 3000 shapes
    r1_every: int = 4  # lazy R1: applied every N steps, scaled by N (StyleGAN2's trick)
    n_critic: int = 1  # D steps per G step (1 with hinge loss; WGAN-GP wants 5)
    lr_g: float = 2e-4  # G's Adam learning rate, betas (0.0, 0.99)
    lr_d: float = 2e-4  # D's; equal rates were stable with spectral norm
    ema: float = 0.999  # EMA decay of the sampling G (~1000-step average; ramped early)
    mode_seeking: float = 0.2  # weight of the mode-seeking term in G's loss (0: off); the
    # first runs without it lost within-class diversity
    log_every: int = 25  # log occupancy and diversity of fakes vs reals every N steps

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.batch < GROUP or self.batch % GROUP:
            raise ValueError(f"--batch must be a multiple of {GROUP}, got {self.batch}")
        if min(self.steps, self.n_per_category - 1, self.r1_every - 1, self.n_critic - 1) < 0:
            raise ValueError("--steps must be >= 0, --n-per-category, --r1-every and "
                             "--n-critic >= 1")


SHIPPED = VoxelGanConfig()

# Named presets: overrides of the defaults ("shipped" is the recipe of the shipped weights).
PRESETS: dict[str, dict] = {
    "shipped": {},
    # A CPU smoke test: tiny networks on one shape per category, seconds per step.
    "tiny": {"batch": 4, "n_per_category": 1, "z_dim": 16, "g_channels": (16, 8, 4),
             "d_channels": (4, 8, 16), "ckpt_every": 2, "preview_every": 0},
}
