"""The implicit-gan recipe: autoencoder, latent GAN and training, one dataclass (it ships).

`vitrine train implicit-gan` takes one flag per field (`generators.training.config`); the
networks' constructor defaults come from `SHIPPED`, so the architecture is written here only.
"""

from __future__ import annotations

from dataclasses import dataclass

from generators.implicit_gan.data import SAMPLES
from generators.training.loop import RunOptions


@dataclass
class ImplicitGanConfig(RunOptions):
    out: str = "runs/implicit-gan"  # run directory
    ckpt_every: int = 100  # autoencoder checkpoint every N steps; the GAN's every 10 N
    preview_every: int = 500  # autoencoder previews every N steps; the GAN's every 10 N
    init_from: str | None = None  # start a new run from these networks (the committed
    # weights/resume.safetensors); --ae-steps counts on from its step
    ae_steps: int = 14000  # autoencoder steps (stage 1)
    gan_steps: int = 50000  # latent-GAN generator steps (stage 2)
    batch: int = 64  # shapes per autoencoder step
    points: int = 4096  # query points per shape and step, half near the surface
    n_per_category: int = 500  # procedural training shapes per category
    res: int = 64  # SDF grid of the encoder's input (64^3 keeps thin parts)
    samples: int = SAMPLES  # exact SDF samples per training shape (the decoder's targets)
    freeze_encoder: bool = False  # train the decoder alone on fixed latents (a refinement
    # stage that keeps the latent GAN valid)
    z_dim: int = 128  # latent size shared by encoder, decoder and latent GAN
    enc_channels: tuple[int, ...] = (32, 64, 128, 256)  # encoder widths, one stride-2 stage
    # each (64 -> 4)
    dec_hidden: tuple[int, ...] = (192, 192, 192, 192)  # decoder MLP widths: 4 x 192 served
    # fast enough on 2 cores
    n_freq: int = 6  # Fourier feature octaves of the points (fine detail)
    lr_ae: float = 5e-4  # autoencoder Adam learning rate (1e-3 was unstable), x0.2 after 70 %
    latent_noise: float = 0.02  # std of the noise added to latents while training the
    # autoencoder: nearby latents decode to nearby shapes (variations, morphs)
    latent_l2: float = 1e-4  # L2 penalty on the (unbounded) latents, keeps their scale
    noise_dim: int = 64  # the latent GAN's input noise size
    g_hidden: tuple[int, ...] = (256, 256, 256)  # latent generator MLP widths
    d_hidden: tuple[int, ...] = (512, 256)  # latent critic MLP widths
    gan_batch: int = 64  # latents per GAN step
    lr_gan: float = 1e-4  # GAN Adam learning rate, betas (0.5, 0.9) as in WGAN-GP
    n_critic: int = 5  # critic steps per generator step (WGAN-GP's 5)
    gp: float = 10.0  # WGAN-GP gradient-penalty weight
    ema: float = 0.999  # EMA decay of the latent generator that ships

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("ae_steps", "gan_steps", "batch", "points", "n_per_category", "samples"):
            if getattr(self, name) < (0 if name.endswith("steps") else 1):
                raise ValueError(f"--{name.replace('_', '-')} must be positive, got "
                                 f"{getattr(self, name)}")


SHIPPED = ImplicitGanConfig()

# Named presets: overrides of the defaults ("shipped" is the recipe of the last stage of the
# shipped run; the model card lists the stages before it).
PRESETS: dict[str, dict] = {
    "shipped": {},
    # A CPU smoke test: tiny networks on two shapes per category at 32^3.
    "tiny": {"n_per_category": 2, "res": 32, "enc_channels": (4, 8, 8), "z_dim": 8,
             "dec_hidden": (16, 16), "n_freq": 1, "batch": 4, "points": 64, "noise_dim": 4,
             "g_hidden": (16,), "d_hidden": (16,), "gan_batch": 8, "n_critic": 1,
             "ckpt_every": 2, "preview_every": 0},
}
