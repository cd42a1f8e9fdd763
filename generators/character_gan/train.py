"""Train the class-conditional body GAN on the humanoid family's bodies (resumable, seeded).

    .venv/bin/vitrine train character-gan --out runs/character-gan --steps 6000

The defaults (`config.CharacterGanConfig`) are the recipe of the shipped weights (see
MODEL_CARD.md): `n_per_category` humanoid bodies per category (training seeds, disjoint from
the held-out seeds of `vitrine eval character-gan`), a PCA shape space fitted on them, and a
GAN on whitened coefficients: hinge loss, spectral norm, minibatch-std and a projection head in
D, lazy R1, a mode-seeking term, class-grouped batches, Adam (0.0, 0.99), an EMA of G. The run
directory, resume, `--max-minutes` and previews are `generators.training`'s.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import numpy as np
import torch

from generators.character_gan import data
from generators.character_gan.config import GROUP, PRESETS, CharacterGanConfig
from generators.character_gan.model import networks
from generators.training import gan
from generators.training.loop import Session, Stage, loss_curves, n_params
from generators.training.loop import main as train_main

log = logging.getLogger(__name__)

FAMILY = "character-gan"
COLUMNS = ("loss_d", "loss_g", "d_real", "d_fake", "r1", "fake_div", "real_div")


def _diversity(x: torch.Tensor) -> float:
    """Mean within-group (same class) std of coefficients: 0 for a collapsed G."""
    return x.view(GROUP, -1, x.shape[1]).std(0).mean().item()


def _stepper(cfg: CharacterGanConfig, session: Session, coeffs, by_class):
    G, D, ema = (session.nets[k] for k in ("g", "d", "ema"))
    opt_g, opt_d = session.opts["g"], session.opts["d"]

    def step(s: int) -> dict:
        idx, lab = gan.class_grouped(by_class, cfg.batch, GROUP)
        real = coeffs[idx]
        z = torch.randn(cfg.batch, cfg.z_dim)
        with torch.no_grad():
            fake = G(z, lab)
        lazy = cfg.r1 > 0 and s % cfg.r1_every == 0
        real = real.clone().requires_grad_(lazy)
        d_real, d_fake = D(real, lab), D(fake, lab)
        loss_d = gan.hinge_d(d_real, d_fake)
        r1 = None
        if lazy:
            r1 = gan.r1_penalty(d_real, real)
            loss_d = loss_d + 0.5 * cfg.r1 * cfg.r1_every * r1
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()

        z = torch.randn(cfg.batch, cfg.z_dim)
        fake = G(z, lab)
        loss_g = -D(fake, lab).mean()
        if cfg.mode_seeking:
            loss_g = loss_g + cfg.mode_seeking * gan.mode_seeking(fake, z)
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        gan.ema_update(ema, G, s, cfg.ema)
        return {"loss_d": loss_d.item(), "loss_g": loss_g.item(),
                "d_real": d_real.mean().item(), "d_fake": d_fake.mean().item(),
                "r1": None if r1 is None else r1.item(),
                "fake_div": _diversity(fake.detach()), "real_div": _diversity(real.detach())}

    return step


def train(cfg: CharacterGanConfig, device: torch.device) -> None:
    out = Path(cfg.out)
    categories = data.categories()
    bodies, labels = data.bodies("train", cfg.n_per_category, categories,
                                 progress=cfg.progress)
    mean, basis, scale, kept = data.pca(bodies, cfg.components)
    log.info("PCA of %d training bodies: %d components keep %.4f %% of the variance",
             len(bodies), cfg.components, 100 * kept)
    G, D = networks(cfg, len(categories), bodies.shape[1])
    G.set_basis(*(torch.from_numpy(a) for a in (mean, basis, scale)))
    ema = copy.deepcopy(G).eval()
    with torch.no_grad():
        coeffs = G.encode(torch.from_numpy(np.array(bodies)))
    lab = torch.from_numpy(np.array(labels))
    by_class = [torch.nonzero(lab == c).flatten() for c in range(len(categories))]
    session = Session(out, cfg, {"g": G, "d": D, "ema": ema},
                      {"g": torch.optim.Adam(G.parameters(), cfg.lr_g, betas=(0.0, 0.99)),
                       "d": torch.optim.Adam(D.parameters(), cfg.lr_d, betas=(0.0, 0.99))},
                      {"step": 0}, meta={"family": FAMILY, "categories": list(categories),
                                         "pca_variance_kept": kept})
    session.resume({"losses.csv": "step"}, device)
    log.info("training on %s: %d bodies of %d vertices in %s; G, D %s parameters", device,
             len(bodies), bodies.shape[1], ", ".join(categories), n_params(G, D))
    session.train(Stage(
        FAMILY, "step", cfg.steps, _stepper(cfg, session, coeffs, by_class), "losses.csv",
        COLUMNS, cfg.ckpt_every, cfg.preview_every, postfix=("loss_d", "loss_g"),
        preview=lambda: loss_curves(out, {"losses.csv": ("loss_curve.png",
                                                         ("loss_d", "loss_g", "d_real",
                                                          "d_fake"))})))


def main(argv=None) -> int:
    return train_main(CharacterGanConfig, PRESETS, train, argv, "vitrine train character-gan",
                      __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
