"""Train the material-conditioned tileable texture GAN on random exemplar crops (resumable).

The shipped weights, in two runs (defaults = the shipped architecture and losses; a GPU is
strongly advised: the shipped runs took 8.5 + 3 minutes on an H200):

    .venv/bin/python -m generators.texture_gan.train --out runs/texture-gan --steps 5661
    .venv/bin/python -m generators.texture_gan.train --out runs/texture-gan-ft --steps 3020 \
        --init-from runs/texture-gan --d-warmup 300 --stationarity 10

Data: per material, exemplars at `--exemplar-size` (photos: the whole 512-pixel picture;
procedural materials: seeds 0 .. `--exemplars-per-material` - 1; evaluation uses other seeds),
cut into random `--crop`-pixel crops with random flips; the channels are albedo sRGB, height
and roughness, scaled to [-1, 1]. Hinge loss, spectral-norm patch D with material projection,
Adam (0.0, 0.99), an EMA of G for sampling, lazy R1, mode seeking; fakes are rolled by a random
offset on their torus before D sees them; optionally a stationarity penalty on G's in-cell step
profile (`stationarity_penalty`). `--init-from` starts G from another run (D fresh, held to
`--d-warmup` D-only steps first) and records that run in config.json.

Every `--ckpt-every` steps `OUT/checkpoint.safetensors` (G, D, EMA), `OUT/optim.pt`
(optimiser states, step, RNG) and `OUT/config.json` (constructor arguments, materials, step,
wall time) are written atomically; rerunning the same command resumes from them. `--max-minutes`
bounds this invocation: when it is spent the loop checkpoints and exits cleanly. Losses go to
`OUT/losses.csv`; `OUT/loss_curve.png` and `OUT/samples.png` (EMA samples, a row per material,
the last column a 64-pixel sample tiled 2x2) are refreshed every `--preview-every` steps.
Uses CUDA when present.
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
from generators.texture.exemplars import MATERIALS, PHOTO_MATERIALS, exemplar
from generators.texture_gan.model import UPSAMPLE, TextureDiscriminator, TextureGenerator

log = logging.getLogger("texture_gan.train")


def exemplar_bank(materials: tuple[str, ...], size: int, per_material: int) -> list[torch.Tensor]:
    """Per material a tensor [K, 5, size, size] in [-1, 1] (albedo, height, roughness).

    Photos contribute their one picture (K = 1; the crop at 512 is the whole photo);
    procedural materials seeds 0 .. per_material - 1.
    """
    bank = []
    for m in materials:
        seeds = [0] if m in PHOTO_MATERIALS else range(per_material)
        imgs = []
        for s in seeds:
            e = exemplar(m, size, s)
            x = np.concatenate([e.albedo, e.height[..., None], e.roughness[..., None]], axis=2)
            imgs.append(torch.from_numpy(x).permute(2, 0, 1) * 2 - 1)  # [5, S, S]
        bank.append(torch.stack(imgs))
    return bank


def random_crops(bank: list[torch.Tensor], n: int, crop: int,
                 gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """n random crops [n, 5, crop, crop] with random h/v flips, and their material labels [n]."""
    labels = torch.randint(0, len(bank), (n,), generator=gen)
    out = []
    for lab in labels.tolist():
        imgs = bank[lab]
        k = int(torch.randint(0, imgs.shape[0], (1,), generator=gen))
        r, c = (int(v) for v in torch.randint(0, imgs.shape[-1] - crop + 1, (2,), generator=gen))
        x = imgs[k, :, r:r + crop, c:c + crop]
        flips = torch.rand(2, generator=gen)
        if flips[0] < 0.5:
            x = x.flip(-1)
        if flips[1] < 0.5:
            x = x.flip(-2)
        out.append(x)
    return torch.stack(out), labels


def cell_step_profile(x: torch.Tensor) -> torch.Tensor:
    """[2, C, 16]: mean |step to the next pixel| (circular) by position inside G's 16-pixel
    latent cell, along rows then columns, per channel, over the mean step: 1 everywhere when
    the cell grid is invisible. x is G's un-rolled output [B, C, H, W] (cells start at 0)."""
    out = []
    for axis in (-2, -1):
        step = (torch.roll(x, -1, dims=axis) - x).abs()
        per_pos = step.mean(dim=(0, -1 if axis == -2 else -2))  # [C, H or W]
        prof = per_pos.unflatten(-1, (-1, UPSAMPLE)).mean(-2)  # [C, 16]
        out.append(prof / prof.mean(-1, keepdim=True).clamp_min(1e-8))
    return torch.stack(out)


def stationarity_penalty(x: torch.Tensor, labels: torch.Tensor | None = None,
                         allowance: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared deviation of `cell_step_profile` from 1. Real textures' step statistics do
    not depend on the position modulo 16; a G whose pixel shuffles leave 2-, 4-, .. 16-pixel
    periodic steps (a faint grid, and a wrap cut that is rougher or smoother than the
    interior) pays for it directly instead of waiting for D to notice.

    With an `allowance` ([n_materials], `profile_allowance`) and `labels`: per material in the
    batch, only the deviation beyond that material's allowance counts (a hinge), averaged over
    the materials present. A material whose real texture repeats every 16 pixels (fabric's
    weave) may then keep its period on G's cell grid; without the allowance the penalty pushes
    G to unlock the weave from the grid, and the weave's phase wanders inside each texture."""
    if allowance is None:
        return (cell_step_profile(x) - 1).square().mean()
    terms = [F.relu((cell_step_profile(x[labels == m]) - 1).square().mean() - allowance[m])
             for m in labels.unique()]
    return torch.stack(terms).mean()


def profile_allowance(bank: list[torch.Tensor]) -> torch.Tensor:
    """Per material, the largest `stationarity_penalty` its own exemplars reach when the 16-pixel
    grid is laid on them at the worst alignment (per axis, over all 16 offsets): what a real
    texture of that material may show (measured: fabric's 8-pixel-pitch weave ~0.47, every
    other material < 0.01)."""
    out = []
    for imgs in bank:
        worst = 0.0
        for img in imgs:
            per_axis = [max(float((cell_step_profile(torch.roll(img[None], k, dims=dim))[axis]
                                   - 1).square().mean()) for k in range(UPSAMPLE))
                        for axis, dim in ((0, -2), (1, -1))]
            worst = max(worst, sum(per_axis) / 2)
        out.append(worst)
    return torch.tensor(out)


def random_roll(x: torch.Tensor) -> torch.Tensor:
    """x rolled by one random offset (rows, columns) on its torus. G's output is exactly
    periodic, so this is the same texture seen from elsewhere: D then sees every position
    relative to G's 16-pixel latent cells and the wrap, as it does in random real crops,
    instead of patches always aligned with the cell grid (where a cell-periodic pattern or a
    weave locked to the grid costs G nothing)."""
    dy, dx = (int(v) for v in torch.randint(0, x.shape[-1], (2,)))
    return torch.roll(x, (dy, dx), dims=(-2, -1))


def save_snapshot(out: Path, ema, step: int) -> Path:
    """OUT/snapshots/STEP: the EMA generator and config.json, a run directory for export."""
    snap = out / "snapshots" / str(step)
    snap.mkdir(parents=True, exist_ok=True)
    tensors = {"ema." + k: v.detach().cpu().contiguous() for k, v in ema.state_dict().items()}
    atomic_write(snap / "checkpoint.safetensors", lambda p: save_file(tensors, str(p)))
    (snap / "config.json").write_text((out / "config.json").read_text())
    return snap


def save_checkpoint(out: Path, G, D, ema, opt_g, opt_d, step: int, args, materials,
                    train_seconds: float, data_gen: torch.Generator) -> None:
    tensors = {}
    for prefix, m in (("g.", G), ("d.", D), ("ema.", ema)):
        for k, v in m.state_dict().items():
            tensors[prefix + k] = v.detach().cpu().contiguous()
    atomic_write(out / "checkpoint.safetensors", lambda p: save_file(tensors, str(p)))
    state = {"opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(), "step": step,
             "rng": torch.get_rng_state(), "data_rng": data_gen.get_state()}
    atomic_write(out / "optim.pt", lambda p: torch.save(state, p))
    cfg = {"generator": G.config(), "discriminator": D.config(), "step": step,
           "materials": list(materials), "train_seconds": round(train_seconds, 1),
           "args": vars(args)}
    if (out / "init_from.json").exists():  # the training the generator started from
        cfg["init_from"] = json.loads((out / "init_from.json").read_text())
    atomic_write(out / "config.json", lambda p: p.write_text(json.dumps(cfg, indent=2)))


def _trim_losses(path: Path, step: int) -> None:
    """Drop rows after the checkpoint being resumed (a killed run logged steps it lost)."""
    if step == 0 or not path.exists():
        path.unlink(missing_ok=True)
        return
    lines = path.read_text().splitlines(keepends=True)
    keep = lines[:1] + [ln for ln in lines[1:] if ln.split(",", 1)[0].isdigit()
                        and int(ln.split(",", 1)[0]) <= step]
    atomic_write(path, lambda p: p.write_text("".join(keep)))


def to_images(x: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """[B, 5, H, W] in [-1, 1] -> (albedo [B, H, W, 3], height [B, H, W], roughness) in [0, 1]."""
    y = (x.detach().float().cpu().clamp(-1, 1) * 0.5 + 0.5).permute(0, 2, 3, 1).numpy()
    return y[..., :3], y[..., 3], y[..., 4]


@torch.no_grad()
def write_previews(out: Path, ema, materials, device, per_material: int = 4) -> None:
    """loss_curve.png from losses.csv; samples.png: per material `per_material` 128-pixel EMA
    albedos, two heights, and a 64-pixel sample tiled 2x2 (a seam would show as a cross)."""
    from generators.viz import contact_sheet, loss_curve_png

    try:
        loss_curve_png(out / "losses.csv", out / "loss_curve.png",
                       columns=("loss_d", "loss_g", "d_real", "d_fake"))
    except ValueError as err:  # too early: no rows yet
        log.warning("no loss curve yet: %s", err)
    g = torch.Generator().manual_seed(1234)
    images, labels = [], []
    for i, m in enumerate(materials):
        lab = torch.full((per_material,), i, device=device)
        alb, hgt, _ = to_images(ema(lab, *ema.sample_noise(per_material, 128 // UPSAMPLE, g,
                                                             device)))
        tile, _, _ = to_images(ema(lab[:1], *ema.sample_noise(1, 64 // UPSAMPLE, g, device)))
        tile = np.tile(tile[0], (2, 2, 1))
        row = [*alb, hgt[0], hgt[1], tile]
        images += [(np.clip(r, 0, 1) * 255).round().astype(np.uint8) for r in row]
        labels += [f"{m} {j}" for j in range(per_material)] + [f"{m} h0", f"{m} h1",
                                                               f"{m} 64px 2x2"]
    contact_sheet(images, labels, columns=per_material + 3, path=out / "samples.png")


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="vitrine train texture-gan",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/texture-gan")
    ap.add_argument("--steps", type=int, default=100_000, help="stop after this many steps")
    ap.add_argument("--max-minutes", type=float, default=0.0,
                    help="wall-clock budget of this invocation; checkpoint and exit when spent "
                         "(0: none)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--crop", type=int, default=256, help="training crop size (multiple of 16)")
    ap.add_argument("--materials", default=",".join(MATERIALS),
                    help="comma-separated materials (default: all)")
    ap.add_argument("--exemplar-size", type=int, default=512)
    ap.add_argument("--exemplars-per-material", type=int, default=8,
                    help="procedural seeds per material (photos have one picture)")
    ap.add_argument("--g-channels", default="128,64,32,24")
    ap.add_argument("--g-blocks", type=int, default=2,
                    help="residual blocks at G's latent scale (each widens its view by 64 px)")
    ap.add_argument("--d-channels", default="32,64,128,256,256")
    ap.add_argument("--local-dim", type=int, default=16)
    ap.add_argument("--global-dim", type=int, default=16)
    ap.add_argument("--periodic-dim", type=int, default=0)
    ap.add_argument("--g-norm", choices=("pixel", "batch"), default="pixel")
    ap.add_argument("--lr-g", type=float, default=2e-4)
    ap.add_argument("--lr-d", type=float, default=2e-4)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--r1", type=float, default=0.5, help="R1 penalty weight on reals (0: off)")
    ap.add_argument("--r1-every", type=int, default=8, help="lazy R1: apply every N steps")
    ap.add_argument("--mode-seeking", type=float, default=0.2,
                    help="weight of the mode-seeking term in G's loss (0: off)")
    ap.add_argument("--stationarity", type=float, default=0.0,
                    help="weight of the cell-step stationarity penalty in G's loss (0: off)")
    ap.add_argument("--stationarity-allowance", action="store_true",
                    help="per material, penalise only the cell-step profile beyond what its "
                         "own exemplars show at their worst grid alignment "
                         "(`profile_allowance`: frees fabric's 16-px weave); the shipped run "
                         "did not use it")
    ap.add_argument("--init-from",
                    help="start a new run's G and EMA from another run or snapshot directory "
                         "(its EMA generator; the discriminator starts fresh)")
    ap.add_argument("--d-warmup", type=int, default=0,
                    help="first N steps of a new run train D only (for a fresh D beside an "
                         "--init-from generator)")
    ap.add_argument("--no-shift", dest="shift", action="store_false",
                    help="do not roll each batch of fakes by a random offset before D sees it")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ckpt-every", type=int, default=250)
    ap.add_argument("--snapshot-every", type=int, default=0,
                    help="also keep the EMA generator of every N-th step in OUT/snapshots/STEP "
                         "(a multiple of --ckpt-every; 0: never); export takes --run on one")
    ap.add_argument("--preview-every", type=int, default=1000,
                    help="write loss_curve.png and samples.png every N steps (0: never)")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch default)")
    ap.add_argument("--no-progress", action="store_true", help="no tqdm bar")
    args = ap.parse_args(argv)
    if args.mode_seeking and args.batch % 2:
        ap.error(f"--mode-seeking pairs samples: --batch must be even, got {args.batch}")
    if args.crop % UPSAMPLE or args.crop < 4 * UPSAMPLE:
        ap.error(f"--crop must be a multiple of {UPSAMPLE} and >= {4 * UPSAMPLE}, got {args.crop}")
    if args.snapshot_every and args.snapshot_every % args.ckpt_every:
        ap.error(f"--snapshot-every {args.snapshot_every} must be a multiple of --ckpt-every "
                 f"{args.ckpt_every}")
    unknown = [m for m in args.materials.split(",") if m not in MATERIALS]
    if unknown:
        ap.error(f"unknown materials {unknown}; known: {', '.join(MATERIALS)}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    file_log = logging.FileHandler(out / "train.log")
    file_log.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log.addHandler(file_log)
    log.setLevel(logging.INFO)
    try:
        return _train(args, out)
    finally:
        log.removeHandler(file_log)
        file_log.close()


def _generator_step(args, G, D, opt_g, lab, grid, device,
                    allowance: torch.Tensor | None = None) -> torch.Tensor:
    """One G update: hinge loss on D's scores of fresh (rolled) fakes, plus the optional
    mode-seeking and stationarity terms. Returns the loss."""
    z = G.sample_noise(args.batch, grid, device=device)
    if args.mode_seeking:
        lab = torch.cat([lab[:args.batch // 2]] * 2)  # pair i with i + B/2: same material
    fake = G(lab, *z)
    loss_g = -D(random_roll(fake) if args.shift else fake, lab).mean()
    if args.mode_seeking:
        # Mode seeking (Mao et al. 2019), log form: outputs must move with the noise. The
        # first long run collapsed on brick (one photo): per-pixel std over seeds 0.005
        # against 0.15 in the data, while D told them apart (+2.8 vs -1.6).
        h = args.batch // 2
        ratio = ((fake[:h] - fake[h:]).abs().flatten(1).mean(1)
                 / (z[0][:h] - z[0][h:]).abs().flatten(1).mean(1))
        loss_g = loss_g - args.mode_seeking * torch.log(ratio + 1e-5).mean()
    if args.stationarity:
        loss_g = loss_g + args.stationarity * stationarity_penalty(fake, lab, allowance)
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    return loss_g


def _train(args: argparse.Namespace, out: Path) -> int:
    t_start = time.time()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(args.seed)
    data_gen = torch.Generator().manual_seed(args.seed + 1)
    materials = tuple(args.materials.split(","))
    bank = [b.to(device) for b in exemplar_bank(materials, args.exemplar_size,
                                                args.exemplars_per_material)]
    G = TextureGenerator(len(materials), args.local_dim, args.global_dim, args.periodic_dim,
                         tuple(int(c) for c in args.g_channels.split(",")),
                         args.g_norm, args.g_blocks).to(device)
    D = TextureDiscriminator(len(materials),
                             tuple(int(c) for c in args.d_channels.split(","))).to(device)
    ema = copy.deepcopy(G).eval()
    opt_g = torch.optim.Adam(G.parameters(), args.lr_g, betas=(0.0, 0.99))
    opt_d = torch.optim.Adam(D.parameters(), args.lr_d, betas=(0.0, 0.99))
    step, train_seconds = 0, 0.0
    resuming = (out / "checkpoint.safetensors").exists() and (out / "optim.pt").exists()
    if args.init_from and not resuming:
        src = Path(args.init_from)
        src_cfg = json.loads((src / "config.json").read_text())
        if src_cfg["generator"] != G.config() or src_cfg["materials"] != list(materials):
            raise SystemExit(f"--init-from {src}: its generator {src_cfg['generator']} and "
                             f"materials {src_cfg['materials']} differ from this run's; pass "
                             "the same --g-* and --materials flags")
        t = load_file(str(src / "checkpoint.safetensors"), device=str(device))
        state = {k[4:]: v.float() for k, v in t.items() if k.startswith("ema.")}
        G.load_state_dict(state)
        ema.load_state_dict(state)
        parent = {k: src_cfg.get(k) for k in ("step", "train_seconds", "args", "init_from")}
        atomic_write(out / "init_from.json", lambda p: p.write_text(json.dumps(parent, indent=2)))
        log.info("generator initialised from %s (step %d)", src, src_cfg["step"])
    if resuming:
        cfg = json.loads((out / "config.json").read_text())
        if cfg["generator"] != G.config() or cfg["materials"] != list(materials):
            raise SystemExit(f"{out} holds a run with another configuration "
                             f"({cfg['generator']}, {cfg['materials']}); use another --out")
        t = load_file(str(out / "checkpoint.safetensors"), device=str(device))
        for prefix, m in (("g.", G), ("d.", D), ("ema.", ema)):
            m.load_state_dict({k[len(prefix):]: v for k, v in t.items() if k.startswith(prefix)})
        state = torch.load(out / "optim.pt", map_location="cpu", weights_only=True)
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        torch.set_rng_state(state["rng"])
        data_gen.set_state(state["data_rng"])
        step, train_seconds = state["step"], float(cfg.get("train_seconds", 0.0))
        log.info("resumed from step %d (%.0f s trained)", step, train_seconds)
    allowance = None
    if args.stationarity and args.stationarity_allowance:
        allowance = profile_allowance(bank).to(device)
        log.info("stationarity allowance per material: %s", ", ".join(
            f"{m} {a:.4f}" for m, a in zip(materials, allowance.tolist(), strict=True)))
    log.info("training on %s: %s, G %.3fM params, D %.3fM params", device, ",".join(materials),
             sum(p.numel() for p in G.parameters()) / 1e6,
             sum(p.numel() for p in D.parameters()) / 1e6)
    _trim_losses(out / "losses.csv", step)
    csv = open(out / "losses.csv", "a")  # noqa: SIM115 - open for the whole run
    if step == 0:
        csv.write("step,loss_d,loss_g,d_real,d_fake,r1,sec_per_step\n")
    from tqdm import tqdm

    bar = tqdm(total=args.steps, initial=step, desc="texture-gan", unit="step",
               disable=args.no_progress)
    grid = args.crop // UPSAMPLE
    deadline = t_start + 60 * args.max_minutes if args.max_minutes > 0 else float("inf")
    t_last = time.time()
    r1 = torch.zeros(())
    while step < args.steps:
        real, lab = random_crops(bank, args.batch, args.crop, data_gen)
        real, lab = real.to(device), lab.to(device)
        z = G.sample_noise(args.batch, grid, device=device)
        with torch.no_grad():
            fake = G(lab, *z)
        if args.shift:
            fake = random_roll(fake)
        lazy_r1 = args.r1 > 0 and step % args.r1_every == 0
        if lazy_r1:
            real.requires_grad_(True)
        d_real, d_fake = D(real, lab), D(fake, lab)
        loss_d = F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
        if lazy_r1:
            # Per-image score = mean over patches, so gamma means what it does for a
            # one-score D (StyleGAN's convention) whatever the crop size.
            (grad,) = torch.autograd.grad(d_real.mean(dim=(1, 2)).sum(), real,
                                          create_graph=True)
            r1 = grad.pow(2).flatten(1).sum(1).mean()
            loss_d = loss_d + 0.5 * args.r1 * args.r1_every * r1
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()

        if step >= args.d_warmup:
            loss_g = _generator_step(args, G, D, opt_g, lab, grid, device, allowance)
        else:
            loss_g = torch.zeros(())
        with torch.no_grad():
            beta = min(args.ema, (1 + step) / (10 + step))  # ramp: early EMA tracks G closely
            for pe, pg in zip(ema.parameters(), G.parameters(), strict=True):
                pe.lerp_(pg, 1 - beta)
            for be, bg in zip(ema.buffers(), G.buffers(), strict=True):
                be.copy_(bg)  # BatchNorm running statistics, when G has them
        step += 1
        now = time.time()
        train_seconds += now - t_last
        csv.write(f"{step},{loss_d.item():.4f},{loss_g.item():.4f},{d_real.mean().item():.4f},"
                  f"{d_fake.mean().item():.4f},{float(r1.detach()):.4f},{now - t_last:.3f}\n")
        t_last = now
        bar.update()
        bar.set_postfix(d=f"{loss_d.item():.3f}", g=f"{loss_g.item():.3f}")
        out_of_time = now >= deadline
        if step % args.ckpt_every == 0 or step == args.steps or out_of_time:
            csv.flush()
            save_checkpoint(out, G, D, ema, opt_g, opt_d, step, args, materials, train_seconds,
                            data_gen)
            if args.snapshot_every and step % args.snapshot_every == 0:
                save_snapshot(out, ema, step)
            if args.preview_every and (step % args.preview_every == 0 or step == args.steps
                                       or out_of_time):
                write_previews(out, ema, materials, device)
            log.info("step %d: loss_d %.4f loss_g %.4f (checkpoint written)", step,
                     loss_d.item(), loss_g.item())
            t_last = time.time()  # checkpoint and preview time is not training time
        if out_of_time:
            log.info("--max-minutes %.1f spent at step %d; rerun the same command to go on",
                     args.max_minutes, step)
            break
    bar.close()
    csv.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
