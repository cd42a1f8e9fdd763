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

Every `--ckpt-every` steps `OUT/checkpoint.safetensors` (all networks, the latents),
`OUT/optim.pt` (optimiser states, steps, RNG) and `OUT/config.json` are written atomically;
rerunning the same command resumes. Losses go to `OUT/losses_ae.csv`, `OUT/losses_gan.csv` and
`OUT/train.log`; `loss_curve.png`, `loss_curve_gan.png` and `samples.png` (rendered meshes:
reconstructions in stage 1, generated shapes in stage 2) are refreshed every
`--preview-every` steps. Uses CUDA when present.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from generators.core.weights import atomic_write
from generators.implicit_gan.data import (
    QUANT,
    SAMPLES,
    TARGET_OFFSET,
    load_or_build_samples,
    load_or_build_sdf,
)
from generators.implicit_gan.model import (
    ImplicitDecoder,
    LatentCritic,
    LatentGenerator,
    ShapeEncoder,
    load_prefixed,
)

log = logging.getLogger("implicit_gan.train")

NETS = ("enc", "dec", "g", "ema", "d")


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
    from generators.viz import contact_sheet, loss_curve_png

    for name, png, cols in (("losses_ae.csv", "loss_curve.png", ("loss",)),
                            ("losses_gan.csv", "loss_curve_gan.png",
                             ("loss_d", "loss_g", "wdist"))):
        if (out / name).exists():
            try:
                loss_curve_png(out / name, out / png, columns=cols)
            except ValueError as err:
                log.warning("no loss curve yet: %s", err)
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


def save_checkpoint(out: Path, nets: dict, opts: dict, state: dict, latents, args,
                    categories) -> None:
    tensors = {}
    for prefix, m in nets.items():
        for k, v in m.state_dict().items():
            tensors[f"{prefix}.{k}"] = v.detach().cpu().contiguous()
    if latents is not None:
        tensors["latents.z"] = latents[0].cpu().contiguous()
        tensors["latents.labels"] = latents[1].cpu().contiguous()
    atomic_write(out / "checkpoint.safetensors", lambda p: save_file(tensors, str(p)))
    blob = {**{k: o.state_dict() for k, o in opts.items()}, **state,
            "rng": torch.get_rng_state()}
    atomic_write(out / "optim.pt", lambda p: torch.save(blob, p))
    cfg = {**{k: m.config() for k, m in nets.items() if k != "ema"}, **state,
           "categories": list(categories), "args": vars(args)}
    atomic_write(out / "config.json", lambda p: p.write_text(json.dumps(cfg, indent=2)))


def init_from(path: Path, nets: dict) -> int:
    """Load every network from a `export.save_resume` file; returns its autoencoder step."""
    from safetensors import safe_open

    if not path.is_file():
        raise SystemExit(f"--init-from: {path} does not exist")
    with safe_open(str(path), "pt") as f:
        meta = f.metadata() or {}
    saved = json.loads(meta.get("networks", "{}"))
    for prefix in ("enc", "dec"):
        if prefix in saved and saved[prefix] != nets[prefix].config():
            raise SystemExit(f"--init-from: {path} holds a {prefix} of {saved[prefix]}, this run "
                             f"builds {nets[prefix].config()}; pass the matching "
                             "--enc-channels / --dec-hidden / --n-freq / --z-dim")
    t = load_file(str(path))
    for prefix, m in nets.items():
        load_prefixed(m, t, prefix)
    return int(meta.get("ae_step", 0))


def _gradient_penalty(D, real, fake, lab):
    a = torch.rand(real.shape[0], 1, device=real.device)
    x = (a * real + (1 - a) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x, lab).sum(), x, create_graph=True)
    return (grad.norm(dim=1) - 1).pow(2).mean()


def _csv(path: Path, header: str, step: int):
    """The stage's loss log, open for appending; rows after `step` (written after the last
    checkpoint by a run that was then killed) are dropped, so a resumed log has each step once."""
    if path.exists():
        lines = path.read_text().splitlines(keepends=True)
        kept = lines[:1] + [ln for ln in lines[1:] if int(ln.split(",", 1)[0]) <= step]
        if len(kept) != len(lines):
            path.write_text("".join(kept))
    new = not path.exists() or path.stat().st_size == 0
    f = open(path, "a")  # noqa: SIM115 - open for the whole stage
    if new:
        f.write(header + "\n")
    return f


def encode_all(enc: ShapeEncoder, data, device, batch: int = 64) -> torch.Tensor:
    out = []
    with torch.no_grad():
        for i in range(0, len(data), batch):
            g = torch.from_numpy(data.sdf[i:i + batch]).float().div(QUANT)[:, None]
            out.append(enc(g.to(device)).cpu())
    return torch.cat(out)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="vitrine train implicit-gan",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/implicit-gan")
    ap.add_argument("--ae-steps", type=int, default=14000, help="autoencoder steps (stage 1)")
    ap.add_argument("--gan-steps", type=int, default=50000, help="latent-GAN generator steps")
    ap.add_argument("--batch", type=int, default=64, help="shapes per autoencoder step")
    ap.add_argument("--points", type=int, default=4096, help="query points per shape")
    ap.add_argument("--n-per-category", type=int, default=500)
    ap.add_argument("--res", type=int, default=64, help="SDF grid of the encoder's input")
    ap.add_argument("--samples", type=int, default=SAMPLES,
                    help="exact SDF samples per training shape (the decoder's targets)")
    ap.add_argument("--freeze-encoder", action="store_true",
                    help="train the decoder alone on fixed latents (a refinement stage)")
    ap.add_argument("--z-dim", type=int, default=128)
    ap.add_argument("--enc-channels", default="32,64,128,256")
    ap.add_argument("--dec-hidden", default="192,192,192,192")
    ap.add_argument("--n-freq", type=int, default=6, help="Fourier feature octaves of points")
    ap.add_argument("--lr-ae", type=float, default=5e-4)
    ap.add_argument("--latent-noise", type=float, default=0.02,
                    help="std of the noise added to latents while training the autoencoder")
    ap.add_argument("--latent-l2", type=float, default=1e-4,
                    help="L2 penalty on the (unbounded) latents, keeps their scale")
    ap.add_argument("--noise-dim", type=int, default=64)
    ap.add_argument("--g-hidden", default="256,256,256")
    ap.add_argument("--d-hidden", default="512,256")
    ap.add_argument("--gan-batch", type=int, default=64)
    ap.add_argument("--lr-gan", type=float, default=1e-4)
    ap.add_argument("--n-critic", type=int, default=5)
    ap.add_argument("--gp", type=float, default=10.0)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--preview-every", type=int, default=500)
    ap.add_argument("--ckpt-every", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch default)")
    ap.add_argument("--init-from", help="start a new run from these networks (the committed "
                    "weights/resume.safetensors); --ae-steps counts on from its step")
    args = ap.parse_args(argv)
    for name in ("ae_steps", "gan_steps", "batch", "points", "n_per_category", "samples"):
        if getattr(args, name) < (0 if name.endswith("steps") else 1):
            ap.error(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s",
                        handlers=[logging.FileHandler(out / "train.log"), logging.StreamHandler()])
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(args.seed)

    data = load_or_build_sdf("train", args.n_per_category, args.res, progress=True)
    categories = data.categories
    n_classes = len(categories)
    ints = lambda s: tuple(int(c) for c in s.split(","))
    enc = ShapeEncoder(args.z_dim, ints(args.enc_channels), args.res).to(device)
    dec = ImplicitDecoder(args.z_dim, ints(args.dec_hidden), args.n_freq).to(device)
    G = LatentGenerator(args.noise_dim, args.z_dim, n_classes, ints(args.g_hidden)).to(device)
    D = LatentCritic(args.z_dim, n_classes, ints(args.d_hidden)).to(device)
    ema = copy.deepcopy(G).eval()
    nets = {"enc": enc, "dec": dec, "g": G, "ema": ema, "d": D}
    opts = {
        "opt_ae": torch.optim.Adam([*enc.parameters(), *dec.parameters()], args.lr_ae),
        "opt_g": torch.optim.Adam(G.parameters(), args.lr_gan, betas=(0.5, 0.9)),
        "opt_d": torch.optim.Adam(D.parameters(), args.lr_gan, betas=(0.5, 0.9)),
    }
    state = {"ae_step": 0, "gan_step": 0}
    latents = None
    if (out / "checkpoint.safetensors").exists() and (out / "optim.pt").exists():
        t = load_file(str(out / "checkpoint.safetensors"), device=str(device))
        for prefix, m in nets.items():
            load_prefixed(m, t, prefix)
        if "latents.z" in t:
            latents = (t["latents.z"], t["latents.labels"])
        blob = torch.load(out / "optim.pt", map_location=device, weights_only=True)
        for k, o in opts.items():
            o.load_state_dict(blob[k])
        state = {"ae_step": blob["ae_step"], "gan_step": blob["gan_step"]}
        torch.set_rng_state(blob["rng"].cpu())  # map_location moved it to the device
        log.info("resumed at autoencoder step %d, GAN step %d", state["ae_step"],
                 state["gan_step"])
    elif args.init_from:
        state["ae_step"] = init_from(Path(args.init_from), nets)
        log.info("initialised from %s (autoencoder step %d); fresh optimisers; the latent GAN "
                 "is trained after the autoencoder", args.init_from, state["ae_step"])
    log.info("training on %s: %d shapes at %d^3; encoder %.2fM, decoder %.3fM, latent G %.2fM, "
             "critic %.2fM parameters", device, len(data), args.res,
             *(sum(p.numel() for p in m.parameters()) / 1e6 for m in (enc, dec, G, D)))
    from tqdm import tqdm

    def checkpoint(stage: str, preview: bool) -> None:
        save_checkpoint(out, nets, opts, state, latents, args, categories)
        if preview:
            write_previews(out, stage, nets, data, categories, device)

    # ---------------------------------------------------------------- stage 1: autoencoder
    if state["ae_step"] < args.ae_steps:
        if latents is not None and args.freeze_encoder:
            log.info("decoder refinement with the encoder frozen: the stored latents and the "
                     "latent GAN (%d steps) stay valid", state["gan_step"])
        elif latents is not None:
            # The autoencoder goes on after a latent GAN was trained: its latents change, so the
            # stored ones and the GAN trained on them are stale. Stage 2 starts over afterwards.
            log.info("autoencoder training resumes: the latent GAN (%d steps) will be retrained",
                     state["gan_step"])
            latents = None
            state["gan_step"] = 0
            torch.manual_seed(args.seed + state["ae_step"])
            G = LatentGenerator(args.noise_dim, args.z_dim, n_classes,
                                ints(args.g_hidden)).to(device)
            D = LatentCritic(args.z_dim, n_classes, ints(args.d_hidden)).to(device)
            ema = copy.deepcopy(G).eval()
            nets.update(g=G, d=D, ema=ema)
            opts["opt_g"] = torch.optim.Adam(G.parameters(), args.lr_gan, betas=(0.5, 0.9))
            opts["opt_d"] = torch.optim.Adam(D.parameters(), args.lr_gan, betas=(0.5, 0.9))
            gan_log = out / "losses_gan.csv"
            if gan_log.exists():
                gan_log.replace(out / f"losses_gan.before-ae-{state['ae_step']}.csv")
        bank = load_or_build_samples("train", args.n_per_category, args.samples, args.res,
                                     progress=True)
        if not np.array_equal(bank.seeds, data.seeds):
            raise SystemExit("the SDF grids and the exact samples list different shapes; "
                             "delete ~/.cache/vitrine/datasets/sdf-* and rerun")
        bank_p = torch.from_numpy(bank.points).to(device)
        bank_d = torch.from_numpy(bank.sdf).to(device)
        sdf = z_frozen = None
        if args.freeze_encoder:  # the latents are fixed: encode once, train the decoder alone
            log.info("encoder frozen: encoding the %d training shapes once", len(data))
            z_frozen = (latents[0] if latents is not None
                        else encode_all(enc, data, device)).to(device)
        else:
            # int8 on the training device (0.8 GB for 3000 shapes at 64^3): batches are
            # converted there, so a GPU step does not wait on the CPU's conversion and copy.
            sdf = torch.from_numpy(data.sdf).to(device)
        csv = _csv(out / "losses_ae.csv", "step,loss,near_l1,sec_per_step", state["ae_step"])
        bar = tqdm(total=args.ae_steps, initial=state["ae_step"], desc="implicit-gan AE",
                   unit="step")
        sched = lambda s: 1.0 if s < 0.7 * args.ae_steps else 0.2
        t_last = time.time()
        while state["ae_step"] < args.ae_steps:
            for group in opts["opt_ae"].param_groups:
                group["lr"] = args.lr_ae * sched(state["ae_step"])
            idx = torch.randint(0, len(data), (args.batch,)).to(device)
            p, target = sample_batch(bank_p[idx], bank_d[idx], args.points)
            z = enc(sdf[idx].float().div(QUANT)[:, None]) if z_frozen is None else z_frozen[idx]
            z_reg = z.pow(2).mean()
            z = z + args.latent_noise * torch.randn_like(z)
            pred = dec(p, z)
            err = (pred - target).abs()
            loss = err.mean() + args.latent_l2 * z_reg
            opts["opt_ae"].zero_grad(set_to_none=True)
            loss.backward()
            opts["opt_ae"].step()
            state["ae_step"] += 1
            near = err[target.abs() < 0.02].mean().item()
            now = time.time()
            csv.write(f"{state['ae_step']},{loss.item():.6f},{near:.6f},{now - t_last:.3f}\n")
            t_last = now
            bar.update()
            bar.set_postfix(l1=f"{loss.item():.5f}", near=f"{near:.5f}")
            s = state["ae_step"]
            if s % args.ckpt_every == 0 or s == args.ae_steps:
                csv.flush()
                checkpoint("ae", bool(args.preview_every) and
                           (s % args.preview_every == 0 or s == args.ae_steps))
                log.info("AE step %d: L1 %.5f, near-surface L1 %.5f (checkpoint written)", s,
                         loss.item(), near)
        bar.close()
        csv.close()

    # ---------------------------------------------------------------- stage 2: latent GAN
    if args.gan_steps and latents is None:
        log.info("encoding the %d training shapes", len(data))
        latents = (encode_all(enc, data, device), torch.from_numpy(data.labels))
        checkpoint("ae", False)
    if state["gan_step"] < args.gan_steps:
        zs, labs = latents[0].to(device), latents[1].to(device)
        csv = _csv(out / "losses_gan.csv", "step,loss_d,loss_g,wdist,gp,sec_per_step",
                   state["gan_step"])
        bar = tqdm(total=args.gan_steps, initial=state["gan_step"], desc="implicit-gan GAN",
                   unit="step")
        t_last = time.time()
        while state["gan_step"] < args.gan_steps:
            for _ in range(args.n_critic):
                i = torch.randint(0, len(zs), (args.gan_batch,), device=device)
                real, lab = zs[i], labs[i]
                noise = torch.randn(args.gan_batch, G.noise_dim, device=device)
                with torch.no_grad():
                    fake = G(noise, lab)
                wdist = D(real, lab).mean() - D(fake, lab).mean()
                gp = _gradient_penalty(D, real, fake, lab)
                loss_d = -wdist + args.gp * gp
                opts["opt_d"].zero_grad(set_to_none=True)
                loss_d.backward()
                opts["opt_d"].step()
            noise = torch.randn(args.gan_batch, G.noise_dim, device=device)
            loss_g = -D(G(noise, lab), lab).mean()
            opts["opt_g"].zero_grad(set_to_none=True)
            loss_g.backward()
            opts["opt_g"].step()
            with torch.no_grad():
                step = state["gan_step"]
                beta = min(args.ema, (1 + step) / (10 + step))
                for pe, pg in zip(ema.parameters(), G.parameters()):
                    pe.lerp_(pg, 1 - beta)
            state["gan_step"] += 1
            now = time.time()
            csv.write(f"{state['gan_step']},{loss_d.item():.5f},{loss_g.item():.5f},"
                      f"{wdist.item():.5f},{gp.item():.5f},{now - t_last:.4f}\n")
            t_last = now
            bar.update()
            s = state["gan_step"]
            if s % 50 == 0:
                bar.set_postfix(w=f"{wdist.item():.4f}")
            if s % (args.ckpt_every * 10) == 0 or s == args.gan_steps:
                csv.flush()
                checkpoint("gan", bool(args.preview_every) and
                           (s % (args.preview_every * 10) == 0 or s == args.gan_steps))
                log.info("GAN step %d: W-distance %.5f (checkpoint written)", s, wdist.item())
        bar.close()
        csv.close()


if __name__ == "__main__":
    main()
