"""Train the neural shader on (G-buffer, reference) pairs: L1 + SSIM + a PatchGAN (resumable).

The shipped weights (one CPU thread; the pairs are made first when missing):

    .venv/bin/vitrine train neural-render --out runs/neural-render --threads 1

Data: `--pairs` random scenes of the training prop pool with random orbit poses
(`dataset`), rendered at `--size` by the G-buffer and by the offline reference
(`--sun-samples` x `--bounce-samples` per pixel), cached under `--data`. A step takes
`--batch` random `--crop` crops (even offsets, so the half-resolution channels stay aligned).
Loss on the displayed picture (both tone-mapped the same way): L1 + `--ssim-weight` (1 - SSIM)
+, from step `--gan-start`, `--gan-weight` times the hinge loss of pix2pix's conditional
PatchGAN (`model.PatchCritic`, spectral norm). Adam with a cosine learning-rate decay; an EMA
of the shader is what export ships. Run directory, resume and `--max-minutes` are
`generators.training`'s; losses go to OUT/losses.csv, previews (reference | EMA shader on
training pairs) to OUT/samples.png.
"""

from __future__ import annotations

import copy
import logging
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from generators.neural_render import dataset
from generators.neural_render.config import PRESETS, NeuralRenderConfig
from generators.neural_render.model import NeuralShader, PatchCritic, compose
from generators.neural_render.shading import tonemap_torch
from generators.training import gan
from generators.training.loop import Session, Stage, loss_curves, n_params
from generators.training.loop import main as train_main

log = logging.getLogger(__name__)

FAMILY = "neural-render"
COLUMNS = ("loss", "l1", "ssim", "loss_g_adv", "loss_d", "lr")


def _gauss(window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(window, dtype=torch.float32) - window // 2
    g = torch.exp(-x**2 / (2 * sigma**2))
    return g / g.sum()


def ssim(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Mean SSIM of [B, C, H, W] images (Wang et al. 2004: Gaussian window 11, sigma 1.5,
    K1 0.01, K2 0.03, per channel, valid region), differentiable."""
    g = _gauss().to(a)
    c = a.shape[1]
    wx = g.view(1, 1, 1, -1).repeat(c, 1, 1, 1)
    wy = g.view(1, 1, -1, 1).repeat(c, 1, 1, 1)

    def blur(x):
        return F.conv2d(F.conv2d(x, wx, groups=c), wy, groups=c)

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_a, mu_b = blur(a), blur(b)
    saa = blur(a * a) - mu_a**2
    sbb = blur(b * b) - mu_b**2
    sab = blur(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * sab + c2)) / ((mu_a**2 + mu_b**2 + c1) * (saa + sbb + c2))
    return s.mean()


def load_pairs(paths: list[Path]) -> dict[str, torch.Tensor]:
    """Every pair in memory, float16: full, half, background [N, 3, H, W], reference."""
    arrays: dict[str, list[np.ndarray]] = {"full": [], "half": [], "background": [],
                                           "reference": []}
    for p in paths:
        z = dataset.load_pair(p)
        for k, items in arrays.items():
            a = z[k]
            items.append(a.transpose(2, 0, 1) if k in ("background", "reference") else a)
    return {k: torch.from_numpy(np.stack(v)) for k, v in arrays.items()}


def random_crops(data: dict[str, torch.Tensor], n: int, crop: int, gen: torch.Generator,
                 device: torch.device) -> dict[str, torch.Tensor]:
    size = data["full"].shape[-1]
    idx = torch.randint(0, data["full"].shape[0], (n,), generator=gen)
    offs = torch.randint(0, (size - crop) // 2 + 1, (n, 2), generator=gen) * 2
    out: dict[str, list[torch.Tensor]] = {k: [] for k in data}
    for i, (r, c) in zip(idx.tolist(), offs.tolist()):
        for k, v in data.items():
            if k == "half":
                out[k].append(v[i, :, r // 2:(r + crop) // 2, c // 2:(c + crop) // 2])
            else:
                out[k].append(v[i, :, r:r + crop, c:c + crop])
    return {k: torch.stack(v).to(device, torch.float32) for k, v in out.items()}


def shade(net: NeuralShader, full: torch.Tensor, half: torch.Tensor,
          background: torch.Tensor) -> torch.Tensor:
    """The displayed picture [B, 3, H, W] in [0, 1] the shader makes of a G-buffer."""
    d, s = net(full, half)
    return tonemap_torch(compose(full, background, d, s))


def _stepper(cfg: NeuralRenderConfig, session: Session, data: dict[str, torch.Tensor],
             device: torch.device):
    G, D, ema = (session.nets.get(k) for k in ("g", "d", "ema"))
    gen = session.generators["data"]

    def step(s: int) -> dict:
        lr = cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * s / max(cfg.steps, 1))))
        for group in session.opts["g"].param_groups:
            group["lr"] = lr
        b = random_crops(data, cfg.batch, cfg.crop, gen, device)
        fake = shade(G, b["full"], b["half"], b["background"])
        real = b["reference"]
        l1 = (fake - real).abs().mean()
        ss = ssim(fake, real)
        loss = l1 + cfg.ssim_weight * (1 - ss)
        adv = loss_d = None
        use_gan = D is not None and cfg.gan_weight > 0 and s >= cfg.gan_start
        if use_gan:
            cond = PatchCritic.condition(b["full"])
            d_real, d_fake = D(cond, real), D(cond, fake.detach())
            loss_d = gan.hinge_d(d_real, d_fake)
            session.opts["d"].zero_grad(set_to_none=True)
            loss_d.backward()
            session.opts["d"].step()
            adv = -D(cond, fake).mean()
            loss = loss + cfg.gan_weight * adv
        session.opts["g"].zero_grad(set_to_none=True)
        loss.backward()
        session.opts["g"].step()
        gan.ema_update(ema, G, s, cfg.ema)
        return {"loss": loss.item(), "l1": l1.item(), "ssim": ss.item(),
                "loss_g_adv": None if adv is None else adv.item(),
                "loss_d": None if loss_d is None else loss_d.item(), "lr": lr}

    return step


@torch.no_grad()
def write_previews(out: Path, ema: NeuralShader, data: dict[str, torch.Tensor],
                   device: torch.device, n: int = 4) -> None:
    """samples.png: per row a training pair's reference and the EMA shader's picture."""
    from generators.viz import contact_sheet

    loss_curves(out, {"losses.csv": ("loss_curve.png", ("l1", "ssim", "loss_g_adv",
                                                        "loss_d"))})
    images, labels = [], []
    for i in range(min(n, data["full"].shape[0])):
        b = {k: v[i:i + 1].to(device, torch.float32) for k, v in data.items()}
        pic = shade(ema, b["full"], b["half"], b["background"])[0]
        for name, img in (("reference", b["reference"][0]), ("neural", pic)):
            images.append((img.clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255 + 0.5)
                          .astype(np.uint8))
            labels.append(f"pair {i} {name}")
    contact_sheet(images, labels, columns=2, path=out / "samples.png")


def train(cfg: NeuralRenderConfig, device: torch.device) -> None:
    out = Path(cfg.out)
    paths = dataset.build(Path(cfg.data), "train", cfg.pairs, cfg.size, cfg.sun_samples,
                          cfg.bounce_samples, cfg.pool_seeds)
    data = load_pairs(paths)
    log.info("%d training pairs at %d px from %s", len(paths), cfg.size, cfg.data)
    G = NeuralShader(widths=cfg.widths, mid_blocks=cfg.mid_blocks).to(device)
    ema = copy.deepcopy(G).eval()
    nets = {"g": G, "ema": ema}
    opts = {"g": torch.optim.Adam(G.parameters(), cfg.lr, betas=(0.9, 0.99))}
    if cfg.gan_weight > 0:
        D = PatchCritic(widths=cfg.d_widths).to(device)
        nets["d"] = D
        opts["d"] = torch.optim.Adam(D.parameters(), cfg.lr_d, betas=(0.5, 0.99))
    session = Session(out, cfg, nets, opts, {"step": 0},
                      meta={"family": FAMILY, "data": cfg.data, "pairs": len(paths)},
                      generators={"data": torch.Generator().manual_seed(cfg.seed + 1)})
    session.resume({"losses.csv": "step"}, device)
    log.info("training on %s: shader, critic %s parameters", device,
             n_params(*(nets[k] for k in nets if k != "ema")))
    session.train(Stage(
        FAMILY, "step", cfg.steps, _stepper(cfg, session, data, device), "losses.csv",
        COLUMNS, cfg.ckpt_every, cfg.preview_every, postfix=("l1", "ssim"),
        preview=lambda: write_previews(out, ema, data, device)))


def main(argv=None) -> int:
    return train_main(NeuralRenderConfig, PRESETS, train, argv, "vitrine train neural-render",
                      __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
