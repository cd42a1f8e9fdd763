"""Train the implicit GAN: a shape autoencoder, then a WGAN-GP on its latents (resumable, seeded).

    .venv/bin/vitrine train implicit-gan --out runs/implicit-gan --ae-steps 14000 --gan-steps 50000

Stage 1 (`--ae-steps`): the encoder reads the procedural training split's truncated SDF grids,
the decoder learns the exact SDF at fixed random points per shape (`data.SampleSet`, built once
and cached: trilinear lookups in the grids thinned every thin part). Each step draws `--batch`
shapes and, per shape, `--points` of its samples, half near the surface and half uniform in
the cube, and minimises the L1 error of the predicted truncated SDF of the shape grown by
half a 32^3 voxel (`data.TARGET_OFFSET`: the voxel data set's solids). `--freeze-encoder`
keeps the latents fixed and trains the decoder alone (a refinement stage).
Gaussian noise (`--latent-noise`) is added to the latents while training so that nearby
latents decode to nearby shapes (what variations and morphs walk through), and a small L2
penalty (`--latent-l2`) keeps the latents' scale.

Stage 2 (`--gan-steps`): the training set's latents are encoded once and stored in the
checkpoint; a class-conditional WGAN-GP (`--n-critic` critic steps per generator step) learns
their distribution. An EMA of the latent generator is what ships.

The options are the fields of `config.ImplicitGanConfig` (its defaults the shipped recipe).
The run directory, resume, `--max-minutes` and the bar are `generators.training`'s: every
`--ckpt-every` steps (the GAN stage: every ten times as many) `OUT/checkpoint.safetensors` (all
networks, the latents), `OUT/optim.pt` and `OUT/config.json` are written atomically;
rerunning the same command resumes. Losses go to `OUT/losses_ae.csv`, `OUT/losses_gan.csv` and
`OUT/train.log`; `loss_curve.png`, `loss_curve_gan.png` and `samples.png` (rendered meshes:
reconstructions in stage 1, generated shapes in stage 2) are refreshed every
`--preview-every` steps. Uses CUDA when present.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from generators.data.procedural_set import category_extents
from generators.implicit_gan.config import PRESETS, ImplicitGanConfig
from generators.implicit_gan.data import (
    QUANT,
    TARGET_OFFSET,
    load_or_build_samples,
    load_or_build_sdf,
)
from generators.implicit_gan.model import ImplicitDecoder, ShapeEncoder, networks
from generators.training import gan
from generators.training import run as rundir
from generators.training.loop import Session, Stage, loss_curves, n_params
from generators.training.loop import main as train_main

log = logging.getLogger(__name__)

FAMILY = "implicit-gan"
LOGS = {"losses_ae.csv": "ae_step", "losses_gan.csv": "gan_step"}
GAN_EVERY = 10  # the GAN stage checkpoints and previews 10x less often (its steps are short)


def lookup(grids: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """Trilinear SDF of grids [B, 1, R, R, R] (axes x, y, z) at points [B, N, 3] -> [B, N]."""
    # grid_sample's last coordinate indexes the last axis (W): our z. Nodes span [-0.5, 0.5].
    g = (2 * p).flip(-1).view(p.shape[0], -1, 1, 1, 3)
    return F.grid_sample(grids, g, mode="bilinear", align_corners=True).view(p.shape[0], -1)


def sample_batch(points: torch.Tensor, sdf: torch.Tensor, n: int,
                 gen: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """n of each shape's exact samples and the decoder's targets there, sdf - TARGET_OFFSET.

    `points` [B, K, 3] and `sdf` [B, K] are the shapes' rows of a `data.SampleSet` (the first
    K/2 near the surface, the rest uniform); half of the n come from each half, drawn afresh at
    every step. (A first trial drew uniform points weighted towards the surface: the band is
    ~3 % of the cube, so under 15 % of them were near it and the surface error stalled.)
    """
    b, k = sdf.shape
    half, n_near = k // 2, n // 2
    dev = points.device
    pick = torch.cat([torch.randint(0, half, (b, n_near), generator=gen, device=dev),
                      torch.randint(half, k, (b, n - n_near), generator=gen, device=dev)], 1)
    p = torch.gather(points, 1, pick[..., None].expand(-1, -1, 3)).float()
    return p, torch.gather(sdf, 1, pick).float() - TARGET_OFFSET


def decode_grid(dec: ImplicitDecoder, z: torch.Tensor, res: int, chunk: int = 32768) -> np.ndarray:
    """SDF [B, res, res, res] of latents [B, z_dim] at the nodes spanning the cube."""
    c = torch.linspace(-0.5, 0.5, res, device=z.device)
    pts = torch.stack(torch.meshgrid(c, c, c, indexing="ij"), -1).reshape(-1, 3)
    out = []
    with torch.no_grad():
        for zi in z:
            f = dec.bind(zi)
            out.append(torch.cat([f(pts[i:i + chunk]) for i in range(0, len(pts), chunk)]))
    return torch.stack(out).view(-1, res, res, res).cpu().numpy()


def _render(sdf: np.ndarray, size: int = 128) -> np.ndarray:
    from skimage.measure import marching_cubes

    from generators.viz import render_mesh

    grid = np.pad(sdf, 1, constant_values=1.0)
    if not (grid < 0).any():
        return np.full((size, size, 3), 255, np.uint8)
    v, f, _, _ = marching_cubes(grid, 0.0)
    return render_mesh(v, f, size=size)


def write_previews(out: Path, stage: str, nets: dict, data, categories, device,
                   per_category: int = 6) -> None:
    """Loss curves, and samples.png: a row per category of rendered meshes (reconstructions of
    training shapes in the autoencoder stage, generated shapes in the GAN stage)."""
    from generators.viz import contact_sheet

    loss_curves(out, {"losses_ae.csv": ("loss_curve.png", ("loss",)),
                      "losses_gan.csv": ("loss_curve_gan.png", ("loss_d", "loss_g", "wdist"))})
    n = len(categories)
    with torch.no_grad():
        if stage == "ae":
            idx = torch.cat([torch.nonzero(torch.from_numpy(data.labels) == c).flatten()
                             [:per_category] for c in range(n)])
            grids = torch.from_numpy(data.sdf[idx.numpy()]).float().div(QUANT)
            z = nets["enc"](grids[:, None].to(device))
        else:
            g = torch.Generator(device="cpu").manual_seed(1234)
            noise = torch.randn(n * per_category, nets["ema"].noise_dim, generator=g)
            lab = torch.arange(n).repeat_interleave(per_category)
            z = nets["ema"](noise.to(device), lab.to(device))
    sdf = decode_grid(nets["dec"], z, 48)
    images = [_render(s) for s in sdf]
    what = "recon" if stage == "ae" else "sample"
    labels = [f"{categories[i // per_category]} {what} {i % per_category}"
              for i in range(len(sdf))]
    contact_sheet(images, labels, columns=per_category, path=out / "samples.png")


def encode_all(enc: ShapeEncoder, data, device, batch: int = 64) -> torch.Tensor:
    out = []
    with torch.no_grad():
        for i in range(0, len(data), batch):
            g = torch.from_numpy(data.sdf[i:i + batch]).float().div(QUANT)[:, None]
            out.append(enc(g.to(device)).cpu())
    return torch.cat(out)


def _optimisers(cfg: ImplicitGanConfig, nets: dict) -> dict:
    ae = [*nets["enc"].parameters(), *nets["dec"].parameters()]
    return {"ae": torch.optim.Adam(ae, cfg.lr_ae),
            "g": torch.optim.Adam(nets["g"].parameters(), cfg.lr_gan, betas=(0.5, 0.9)),
            "d": torch.optim.Adam(nets["d"].parameters(), cfg.lr_gan, betas=(0.5, 0.9))}


def _ae_stepper(cfg: ImplicitGanConfig, session: Session, data, device, z_frozen):
    """One autoencoder step: L1 of the decoded SDF at each shape's exact samples."""
    enc, dec, opt = session.nets["enc"], session.nets["dec"], session.opts["ae"]
    bank = load_or_build_samples("train", cfg.n_per_category, cfg.samples, cfg.res,
                                 progress=cfg.progress)
    if not np.array_equal(bank.seeds, data.seeds):
        raise SystemExit("the SDF grids and the exact samples list different shapes; "
                         "delete ~/.cache/vitrine/datasets/sdf-* and rerun")
    bank_p, bank_d = torch.from_numpy(bank.points).to(device), torch.from_numpy(bank.sdf).to(device)
    # int8 on the training device (0.8 GB for 3000 shapes at 64^3): batches are converted
    # there, so a GPU step does not wait on the CPU's conversion and copy.
    sdf = None if z_frozen is not None else torch.from_numpy(data.sdf).to(device)

    def step(s: int) -> dict:
        for group in opt.param_groups:
            group["lr"] = cfg.lr_ae * (1.0 if s < 0.7 * cfg.ae_steps else 0.2)
        idx = torch.randint(0, len(data), (cfg.batch,)).to(device)
        p, target = sample_batch(bank_p[idx], bank_d[idx], cfg.points)
        z = enc(sdf[idx].float().div(QUANT)[:, None]) if z_frozen is None else z_frozen[idx]
        z_reg = z.pow(2).mean()
        z = z + cfg.latent_noise * torch.randn_like(z)
        err = (dec(p, z) - target).abs()
        loss = err.mean() + cfg.latent_l2 * z_reg
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.item(), "near_l1": err[target.abs() < 0.02].mean().item()}

    return step


def _gan_stepper(cfg: ImplicitGanConfig, session: Session, zs, labs):
    """One latent-GAN step: `n_critic` WGAN-GP critic steps, one generator step, the EMA."""
    G, D, ema = (session.nets[k] for k in ("g", "d", "ema"))
    opt_g, opt_d = session.opts["g"], session.opts["d"]

    def step(s: int) -> dict:
        for _ in range(cfg.n_critic):
            i = torch.randint(0, len(zs), (cfg.gan_batch,), device=zs.device)
            real, lab = zs[i], labs[i]
            noise = torch.randn(cfg.gan_batch, G.noise_dim, device=zs.device)
            with torch.no_grad():
                fake = G(noise, lab)
            wdist = D(real, lab).mean() - D(fake, lab).mean()
            gp = gan.gradient_penalty(D, real, fake, lab)
            loss_d = -wdist + cfg.gp * gp
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
        noise = torch.randn(cfg.gan_batch, G.noise_dim, device=zs.device)
        loss_g = -D(G(noise, lab), lab).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        gan.ema_update(ema, G, s, cfg.ema)
        return {"loss_d": loss_d.item(), "loss_g": loss_g.item(), "wdist": wdist.item(),
                "gp": gp.item()}

    return step


def _restart_gan(cfg: ImplicitGanConfig, session: Session, n_classes: int, device) -> None:
    """The autoencoder goes on after a latent GAN was trained: its latents change, so the
    stored ones and the GAN trained on them are stale; stage 2 starts over afterwards."""
    log.info("autoencoder training resumes: the latent GAN (%d steps) will be retrained",
             session.state["gan_step"])
    session.state["gan_step"] = 0
    torch.manual_seed(cfg.seed + session.state["ae_step"])
    fresh = networks(cfg, n_classes)
    session.nets.update(g=fresh["g"].to(device), d=fresh["d"].to(device))
    session.nets["ema"] = copy.deepcopy(session.nets["g"]).eval()
    opts = _optimisers(cfg, session.nets)
    session.opts.update(g=opts["g"], d=opts["d"])
    gan_log = session.out / "losses_gan.csv"
    if gan_log.exists():
        gan_log.replace(session.out / f"losses_gan.before-ae-{session.state['ae_step']}.csv")


def _start(cfg: ImplicitGanConfig, device, data):
    """The session of the run (resumed, initialised from --init-from, or new) and the stored
    latents as a one-entry dict (None until stage 2 encodes them)."""
    nets = {k: m.to(device) for k, m in networks(cfg, len(data.categories)).items()}
    nets["ema"] = copy.deepcopy(nets["g"]).eval()
    latents: dict = {"z": None}
    session = Session(
        Path(cfg.out), cfg, nets, _optimisers(cfg, nets), {"ae_step": 0, "gan_step": 0},
        meta={"family": FAMILY, "categories": list(data.categories),
              "extent_m": category_extents(data.categories)},
        tensors=lambda: {} if latents["z"] is None else {"latents.z": latents["z"][0],
                                                         "latents.labels": latents["z"][1]})
    extra = session.resume(LOGS, device)
    if extra is not None and "latents.z" in extra:
        latents["z"] = (extra["latents.z"], extra["latents.labels"])
    elif extra is None and cfg.init_from:
        state = rundir.init_from(Path(cfg.init_from), nets, "pass the matching --enc-channels "
                                 "/ --dec-hidden / --n-freq / --z-dim")
        session.state["ae_step"] = state.get("ae_step", 0)
        log.info("initialised from %s (autoencoder step %d); fresh optimisers; the latent GAN "
                 "is trained after the autoencoder", cfg.init_from, session.state["ae_step"])
    return session, latents


def _train_autoencoder(cfg, session: Session, data, device, latents: dict) -> bool:
    if session.state["ae_step"] >= cfg.ae_steps:
        return True
    if latents["z"] is not None and cfg.freeze_encoder:
        log.info("decoder refinement with the encoder frozen: the stored latents and the "
                 "latent GAN (%d steps) stay valid", session.state["gan_step"])
    elif latents["z"] is not None:
        latents["z"] = None
        _restart_gan(cfg, session, len(data.categories), device)
    z_frozen = None
    if cfg.freeze_encoder:  # the latents are fixed: encode once, train the decoder alone
        log.info("encoder frozen: encoding the %d training shapes once", len(data))
        z_frozen = (latents["z"][0] if latents["z"] is not None
                    else encode_all(session.nets["enc"], data, device)).to(device)
    return session.train(Stage(
        f"{FAMILY} AE", "ae_step", cfg.ae_steps, _ae_stepper(cfg, session, data, device, z_frozen),
        "losses_ae.csv", ("loss", "near_l1"), cfg.ckpt_every, cfg.preview_every,
        preview=lambda: write_previews(session.out, "ae", session.nets, data, data.categories,
                                       device), postfix=("loss", "near_l1")))


def train(cfg: ImplicitGanConfig, device: torch.device) -> None:
    data = load_or_build_sdf("train", cfg.n_per_category, cfg.res, progress=cfg.progress)
    session, latents = _start(cfg, device, data)
    log.info("training on %s: %d shapes at %d^3; encoder, decoder, latent G, critic %s "
             "parameters", device, len(data), cfg.res,
             n_params(*(session.nets[k] for k in ("enc", "dec", "g", "d"))))
    if not _train_autoencoder(cfg, session, data, device, latents):
        return
    if cfg.gan_steps and latents["z"] is None:
        log.info("encoding the %d training shapes", len(data))
        latents["z"] = (encode_all(session.nets["enc"], data, device),
                        torch.from_numpy(data.labels))
        session.checkpoint()
    if session.state["gan_step"] < cfg.gan_steps:
        zs, labs = latents["z"][0].to(device), latents["z"][1].to(device)
        session.train(Stage(
            f"{FAMILY} GAN", "gan_step", cfg.gan_steps, _gan_stepper(cfg, session, zs, labs),
            "losses_gan.csv", ("loss_d", "loss_g", "wdist", "gp"), cfg.ckpt_every * GAN_EVERY,
            cfg.preview_every * GAN_EVERY, postfix=("wdist",),
            preview=lambda: write_previews(session.out, "gan", session.nets, data,
                                           data.categories, device)))


def main(argv=None) -> int:
    return train_main(ImplicitGanConfig, PRESETS, train, argv, "vitrine train implicit-gan",
                      __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
