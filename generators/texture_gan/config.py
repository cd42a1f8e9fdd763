"""The texture-gan recipe: architecture, data and losses, one dataclass (its defaults ship).

`vitrine train texture-gan` takes one flag per field (`generators.training.config`); the
networks' constructor defaults come from `SHIPPED`, so the architecture is written here only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from generators.texture.exemplars import MATERIALS
from generators.training.loop import RunOptions

UPSAMPLE = 16  # pixels per latent cell: G's 4 stages of x2

# Quarter turns (np.rot90) from G's frame to the exemplar's, per material. The shipped base run
# learnt brick from the photo as stored (courses running top to bottom); the exemplar now turns
# the photo so its courses run across (`exemplars.PHOTO_QUARTER_TURNS`), and G's brick is
# turned the same way when served (exact: a quarter turn of a torus is a torus). Training
# turns the exemplar back, so G keeps its frame. Exported into the weights' JSON.
G_QUARTER_TURNS: dict[str, int] = {"brick": 1}


@dataclass
class TextureGanConfig(RunOptions):
    out: str = "runs/texture-gan"  # run directory
    ckpt_every: int = 250  # checkpoint every N steps (a GPU step is ~0.1 s)
    preview_every: int = 1000  # loss_curve.png and samples.png every N steps (0: never)
    init_from: str | None = None  # start a new run's G and EMA from another run or snapshot
    # directory (its EMA generator; the discriminator starts fresh)
    steps: int = 100_000  # stop after this many steps (the shipped runs were stopped by
    # --max-minutes at 5661 and 3020)
    snapshot_every: int = 0  # also keep the EMA generator of every N-th step in
    # OUT/snapshots/STEP (a multiple of --ckpt-every; 0: never); export takes --run on one
    batch: int = 32  # crops per step (even: mode seeking pairs them)
    crop: int = 256  # training crop size, a multiple of 16: 16 latent cells, room for bricks
    materials: tuple[str, ...] = MATERIALS  # the materials, comma-separated (default: all)
    exemplar_size: int = 512  # exemplar edge in pixels (the photos' own size)
    exemplars_per_material: int = 8  # procedural seeds per material (photos have one)
    local_dim: int = 16  # G's i.i.d. noise channels per latent cell
    global_dim: int = 16  # G's material-embedding channels
    periodic_dim: int = 0  # G's sinusoid channels (0: none; the residual blocks drew the
    # regular structure better)
    g_channels: tuple[int, ...] = (128, 64, 32, 24)  # G widths at 1/16 .. 1/2 scale
    g_blocks: int = 2  # residual blocks at G's latent scale (each widens its view by 64 px)
    g_norm: str = field(default="pixel", metadata={"choices": ("pixel", "batch")})  # G's
    # norm: pixel (no batch statistics: a sample does not depend on its batch) or batch
    d_channels: tuple[int, ...] = (32, 64, 128, 256, 256)  # patch-D widths (stride 2 each)
    lr_g: float = 2e-4  # G's Adam learning rate, betas (0.0, 0.99)
    lr_d: float = 2e-4  # D's
    ema: float = 0.999  # EMA decay of the sampling G (ramped early)
    r1: float = 0.5  # R1 penalty weight on reals (0: off)
    r1_every: int = 8  # lazy R1: applied every N steps, scaled by N
    mode_seeking: float = 0.2  # weight of the mode-seeking term in G's loss (0: off); the first
    # long run collapsed on brick without it
    stationarity: float = 0.0  # weight of the cell-step stationarity penalty in G's loss
    # (0: off; the shipped fine-tune used 10)
    stationarity_allowance: bool = False  # per material, penalise only the cell-step profile
    # beyond what its own exemplars show at their worst grid alignment (`profile_allowance`:
    # frees fabric's 16-px weave); the shipped run did not use it
    d_warmup: int = 0  # first N steps of a new run train D only (for a fresh D beside an
    # --init-from generator; the shipped fine-tune used 300)
    shift: bool = True  # roll each batch of fakes by a random offset before D sees it
    spectral: float = 0.0  # weight of the spectrum constraint in G's loss (0: off): the log
    # of each material's mean power spectrum (albedo luma and height, binned on a polar grid)
    # pulled towards the training crops' (`train.SpectrumTarget`; Liu et al. 2016)
    structure: float = 0.0  # weight of the structure term in G's loss (0: off): each
    # material's radial and angular power shares (albedo luma and height) within the structure
    # metric's band, pulled towards the training crops' (`train.StructureTarget`)
    autocorr: float = 0.0  # weight of the autocorrelation term in G's loss (0: off): each
    # material's autocorrelation of albedo luma and height within +-64 px pulled towards the
    # training crops' (`train.AutocorrTarget`; sees G's latent-cell lattice)
    init_weights: str | None = None  # start G and EMA from exported weights (a .safetensors
    # with its .json beside it, e.g. the shipped ones) instead of a run; D starts fresh

    def __post_init__(self) -> None:
        super().__post_init__()
        self.materials = tuple(self.materials)
        if self.mode_seeking and self.batch % 2:
            raise ValueError(f"--mode-seeking pairs samples: --batch must be even, got "
                             f"{self.batch}")
        if self.crop % UPSAMPLE or self.crop < 4 * UPSAMPLE:
            raise ValueError(f"--crop must be a multiple of {UPSAMPLE} and >= {4 * UPSAMPLE}, "
                             f"got {self.crop}")
        if self.snapshot_every % self.ckpt_every:
            raise ValueError(f"--snapshot-every {self.snapshot_every} must be a multiple of "
                             f"--ckpt-every {self.ckpt_every}")
        unknown = [m for m in self.materials if m not in MATERIALS]
        if unknown or not self.materials:
            raise ValueError(f"unknown materials {unknown}; known: {', '.join(MATERIALS)}")


SHIPPED = TextureGanConfig()

# Named presets: overrides of the defaults. The shipped weights are two runs: "shipped", then
# "shipped-ft" with --init-from the first (see MODEL_CARD.md).
PRESETS: dict[str, dict] = {
    "shipped": {},
    "shipped-ft": {"d_warmup": 300, "stationarity": 10.0},
    # The CPU fine-tune of 2 Dec (issue 15): from the shipped weights, new marble exemplar,
    # spectrum constraint, batch 4 of 128-px crops on one thread (256-px crops ran at ~3 s a
    # step on the shared machine: too few steps in 40 minutes).
    "cpu-ft": {"batch": 4, "crop": 128, "d_warmup": 100, "stationarity": 10.0,
               "stationarity_allowance": True, "spectral": 1.0, "lr_g": 1e-4,
               "ckpt_every": 100, "preview_every": 500},
    # The CPU fine-tune of 2 Dec, second try (issue 15): 256-px crops (the evaluation's
    # size, room for bricks and veins) and the structure term within the metric's band
    # instead of the spectrum constraint to Nyquist; from the shipped weights, one thread.
    "cpu-structure": {"batch": 4, "crop": 256, "d_warmup": 200, "stationarity": 10.0,
                      "stationarity_allowance": True, "structure": 1.0, "lr_g": 1e-4,
                      "ckpt_every": 100, "preview_every": 500},
    # A CPU smoke test: tiny networks on 64-pixel crops of two materials.
    "tiny": {"materials": ("marble", "brick"), "crop": 64, "batch": 2, "exemplar_size": 128,
             "exemplars_per_material": 1, "g_channels": (8, 8, 8, 8), "d_channels": (8, 8, 8, 8),
             "local_dim": 2, "global_dim": 2, "periodic_dim": 2, "g_blocks": 0},
}
