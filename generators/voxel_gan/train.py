"""Train the class-conditional voxel GAN on the procedural voxel set (resumable, seeded).

    .venv/bin/vitrine train voxel-gan --out runs/voxel-gan --steps 20000

The defaults (`config.VoxelGanConfig`) are the recipe of the shipped weights (see
MODEL_CARD.md): hinge loss, spectral norm and a minibatch-std channel in D, lazy R1, a
mode-seeking term, class-grouped batches, Adam (0.0, 0.99), an EMA of G for sampling.
`--data FILE` trains on a studio's own voxel set (`vitrine dataset build`) instead; its
categories and real-world sizes are recorded in the run and exported with it. The run
directory, resume, `--max-minutes` and previews are `generators.training`'s: every
`--ckpt-every` steps OUT/checkpoint.safetensors (g, d, ema), optim.pt and config.json are
written atomically and rerunning the same command resumes. Losses go to OUT/losses.csv and
OUT/train.log. Uses CUDA when present.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import torch

from generators.data import load_or_build
from generators.training import gan
from generators.training import run as rundir
from generators.training.loop import Session, Stage, loss_curves, n_params
from generators.training.loop import main as train_main
from generators.voxel_gan.config import GROUP, PRESETS, VoxelGanConfig
from generators.voxel_gan.model import networks

log = logging.getLogger(__name__)

FAMILY = "voxel-gan"
COLUMNS = ("loss_d", "loss_g", "d_real", "d_fake", "penalty", "fake_occ", "real_occ",
           "fake_div", "real_div")


def save_resume(run: Path, path: Path) -> None:
    """G, D and EMA of a run in fp16 (no optimiser state), small enough to commit, so a later
    machine can go on training with `--init-from` instead of starting over."""
    rundir.save_resume(run, path)


def _batch(vox, by_class, n, device):
    """A real batch laid out so every minibatch-std group of GROUP holds one class
    (`gan.class_grouped`): the first runs, with mixed classes per group, showed per-class
    diversity 5-10x below the data while the mixed-batch figure looked healthy."""
    idx, labels = gan.class_grouped(by_class, n, GROUP)
    return vox[idx.to(device)].unsqueeze(1).float(), labels.to(device)


def _stats(fake, real) -> dict[str, float]:
    """Occupied fraction and within-class diversity of fakes and reals.

    Diversity is the per-voxel std over each same-class group of the batch (see `_batch`),
    averaged: a generator that ignores z scores near 0 however varied the classes are.
    """
    f, r = (fake > 0.5).float(), (real > 0.5).float()

    def div(x):
        return x.view(GROUP, -1, *x.shape[1:]).std(0).mean().item()

    return {"fake_occ": f.mean().item(), "real_occ": r.mean().item(), "fake_div": div(f),
            "real_div": div(r)}


def write_previews(out: Path, ema, categories, device, per_category: int = 6) -> None:
    """loss_curve.png from losses.csv and samples.png: rendered EMA samples, a row per class."""
    from generators.viz import contact_sheet, render_voxels

    loss_curves(out, {"losses.csv": ("loss_curve.png", ("loss_d", "loss_g", "d_real",
                                                        "d_fake"))})
    g = torch.Generator(device="cpu").manual_seed(1234)
    n = len(categories)
    z = torch.randn(n * per_category, ema.z_dim, generator=g).to(device)
    lab = torch.arange(n).repeat_interleave(per_category).to(device)
    with torch.no_grad():
        vox = torch.sigmoid(ema(z, lab)).cpu().numpy()[:, 0]
    images = [render_voxels(v, size=128) for v in vox]
    labels = [f"{categories[i // per_category]} {i % per_category}" for i in range(len(vox))]
    contact_sheet(images, labels, columns=per_category, path=out / "samples.png")


def load_data(cfg: VoxelGanConfig):
    """(voxel set, {category: longest side in metres}) of the run's data."""
    from generators.data.procedural_set import category_extents

    if cfg.data is None:
        data = load_or_build("train", cfg.n_per_category, 32, progress=cfg.progress)
        return data, category_extents(data.categories)
    from generators.data.mesh_set import load_voxel_set

    data = load_voxel_set(cfg.data)
    if data.extent_m is None:
        log.warning("%s records no real-world sizes (built before they were measured): "
                    "exports give every category 1 m; rebuild it with `vitrine dataset build`",
                    cfg.data)
        return data, {c: 1.0 for c in data.categories}
    return data, dict(data.extent_m)


def _d_step(cfg, s, G, D, opt_d, real, lab):
    """One D update on (real, lab) and fresh fakes; returns (scores, loss, penalty or None)."""
    z = torch.randn(cfg.batch, cfg.z_dim, device=real.device)
    with torch.no_grad():
        fake = torch.sigmoid(G(z, lab))
    lazy_r1 = cfg.r1 > 0 and s % cfg.r1_every == 0
    if lazy_r1:
        real.requires_grad_(True)
    d_real, d_fake = D(real, lab), D(fake, lab)
    penalty = None
    if cfg.loss == "hinge":
        loss_d = gan.hinge_d(d_real, d_fake)
    else:
        penalty = gan.gradient_penalty(D, real.detach(), fake, lab)
        loss_d = d_fake.mean() - d_real.mean() + cfg.gp * penalty
    if lazy_r1:
        penalty = gan.r1_penalty(d_real, real)
        loss_d = loss_d + 0.5 * cfg.r1 * cfg.r1_every * penalty
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    return d_real, d_fake, loss_d, penalty


def _g_step(cfg, G, D, opt_g, lab):
    """One G update; the halves of the batch share labels (see `_batch`), so mode seeking
    pairs sample i with i + n/2. Returns (fakes, loss)."""
    z = torch.randn(cfg.batch, cfg.z_dim, device=lab.device)
    fake = torch.sigmoid(G(z, lab))
    loss_g = -D(fake, lab).mean()
    if cfg.mode_seeking:
        loss_g = loss_g + cfg.mode_seeking * gan.mode_seeking(fake, z)
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    return fake, loss_g


def _stepper(cfg: VoxelGanConfig, session: Session, vox, by_class):
    G, D, ema = (session.nets[k] for k in ("g", "d", "ema"))
    opt_g, opt_d = session.opts["g"], session.opts["d"]

    def step(s: int) -> dict:
        for _ in range(cfg.n_critic):
            real, lab = _batch(vox, by_class, cfg.batch, vox.device)
            d_real, d_fake, loss_d, penalty = _d_step(cfg, s, G, D, opt_d, real, lab)
        fake, loss_g = _g_step(cfg, G, D, opt_g, lab)
        gan.ema_update(ema, G, s, cfg.ema)
        row = {"loss_d": loss_d.item(), "loss_g": loss_g.item(), "d_real": d_real.mean().item(),
               "d_fake": d_fake.mean().item(),
               "penalty": None if penalty is None else penalty.item()}
        if (s + 1) % cfg.log_every == 0:
            row.update(_stats(fake.detach(), real.detach()))
        return row

    return step


def train(cfg: VoxelGanConfig, device: torch.device) -> None:
    out = Path(cfg.out)
    data, extent_m = load_data(cfg)
    vox = torch.from_numpy(data.voxels).to(device)
    labels = torch.from_numpy(data.labels)
    by_class = [torch.nonzero(labels == c).flatten() for c in range(len(data.categories))]
    if any(len(p) == 0 for p in by_class):
        raise SystemExit("every category needs at least one training shape")
    G, D = networks(cfg, len(data.categories), vox.shape[-1], float(data.voxels.mean()))
    G, D = G.to(device), D.to(device)
    ema = copy.deepcopy(G).eval()
    session = Session(out, cfg, {"g": G, "d": D, "ema": ema},
                      {"g": torch.optim.Adam(G.parameters(), cfg.lr_g, betas=(0.0, 0.99)),
                       "d": torch.optim.Adam(D.parameters(), cfg.lr_d, betas=(0.0, 0.99))},
                      {"step": 0}, meta={"family": FAMILY, "categories": list(data.categories),
                                         "extent_m": extent_m, "data": cfg.data})
    if session.resume({"losses.csv": "step"}, device) is None and cfg.init_from:
        state = rundir.init_from(Path(cfg.init_from), session.nets,
                                 "pass the matching --g-channels / --d-channels / --z-dim")
        session.state["step"] = state.get("step", 0)
        log.info("initialised from %s (step %d); fresh optimisers", cfg.init_from,
                 session.state["step"])
    log.info("training on %s: %d shapes in %s; G, D %s parameters", device, len(vox),
             ", ".join(data.categories), n_params(G, D))
    session.train(Stage(
        FAMILY, "step", cfg.steps, _stepper(cfg, session, vox, by_class), "losses.csv",
        COLUMNS, cfg.ckpt_every, cfg.preview_every, postfix=("loss_d", "loss_g"),
        preview=lambda: write_previews(out, ema, data.categories, device)))


def main(argv=None) -> int:
    return train_main(VoxelGanConfig, PRESETS, train, argv, "vitrine train voxel-gan", __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
