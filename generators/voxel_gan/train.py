"""Train the class-conditional voxel GAN on the procedural voxel set (resumable, seeded).

    .venv/bin/python -m generators.voxel_gan.train --out runs/voxel-gan --steps 20000

The defaults are the recipe of the shipped weights (see MODEL_CARD.md): hinge loss, spectral
norm and a minibatch-std channel in D, lazy R1, a mode-seeking term, class-grouped batches,
Adam (0.0, 0.99), an EMA of G for sampling. Every
`--ckpt-every` steps `OUT/checkpoint.safetensors` (G, D, EMA), `OUT/optim.pt` (optimiser
states, step, RNG) and `OUT/config.json` are written atomically; rerunning the same command
resumes from them. Losses go to `OUT/losses.csv` and `OUT/train.log`. Uses CUDA when present.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from generators.core.weights import atomic_write
from generators.data import load_or_build
from generators.voxel_gan.model import VoxelDiscriminator, VoxelGenerator

log = logging.getLogger("voxel_gan.train")


def save_checkpoint(out: Path, G, D, ema, opt_g, opt_d, step: int, args,
                    categories: tuple[str, ...] = ()) -> None:
    tensors = {}
    for prefix, m in (("g.", G), ("d.", D), ("ema.", ema)):
        for k, v in m.state_dict().items():
            tensors[prefix + k] = v.detach().cpu().contiguous()
    atomic_write(out / "checkpoint.safetensors", lambda p: save_file(tensors, str(p)))
    state = {"opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(), "step": step,
             "rng": torch.get_rng_state()}
    atomic_write(out / "optim.pt", lambda p: torch.save(state, p))
    cfg = {"generator": G.config(), "discriminator": D.config(), "step": step,
           "categories": list(categories), "args": vars(args)}
    atomic_write(out / "config.json", lambda p: p.write_text(json.dumps(cfg, indent=2)))


def save_resume(run: Path, path: Path) -> None:
    """G, D and EMA of a run in fp16 (no optimiser state), small enough to commit, so a later
    machine can go on training with `--init-from` instead of starting over."""
    t = load_file(str(run / "checkpoint.safetensors"))
    step = json.loads((run / "config.json").read_text())["step"]
    half = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in t.items()}
    save_file(half, str(path), metadata={"step": str(step)})


def init_from(path: Path, G, D, ema) -> int:
    """Load G, D and EMA from a checkpoint or `save_resume` file; returns its step (0 if none)."""
    from safetensors import safe_open

    if not path.is_file():
        raise SystemExit(f"--init-from: {path} does not exist")
    t = load_file(str(path))
    for prefix, m in (("g.", G), ("d.", D), ("ema.", ema)):
        dtype = next(m.parameters()).dtype
        m.load_state_dict({k[len(prefix):]: v.to(dtype) for k, v in t.items()
                           if k.startswith(prefix)})
    with safe_open(str(path), "pt") as f:
        return int((f.metadata() or {}).get("step", 0))


GROUP = 4  # the discriminator's minibatch-std group; see _batch


def _batch(vox, by_class, n, device):
    """A real batch laid out so every minibatch-std group of GROUP holds one class.

    D's minibatch-std channel groups samples j, j + n/GROUP, j + 2n/GROUP, ... (a view of the
    batch as [GROUP, n/GROUP]). With mixed classes in a group, the spread between classes hides
    a generator that ignores z inside each class -- the first runs did exactly that: per-class
    diversity 5-10x below the data while the mixed-batch figure looked healthy. So labels are
    `base.repeat(GROUP)`: n/GROUP classes drawn uniformly, each repeated at the same offsets.
    """
    if n % GROUP:
        raise ValueError(f"batch must be a multiple of {GROUP}, got {n}")
    k = n // GROUP
    base = torch.randint(0, len(by_class), (k,))
    idx = torch.empty(GROUP, k, dtype=torch.long)
    for j, c in enumerate(base.tolist()):
        pool = by_class[c]
        idx[:, j] = pool[torch.randint(0, len(pool), (GROUP,))]
    idx = idx.flatten().to(device)
    return vox[idx].unsqueeze(1).float(), base.repeat(GROUP).to(device)


def _gradient_penalty(D, real, fake, lab):
    """WGAN-GP (Gulrajani et al. 2017): (||grad D(x_hat)|| - 1)^2 on real/fake interpolates."""
    a = torch.rand(real.shape[0], 1, 1, 1, 1, device=real.device)
    x = (a * real + (1 - a) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x, lab).sum(), x, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


def _stats(fake, real) -> tuple[str, str, str, str]:
    """Occupied fraction and within-class diversity of fakes and reals.

    Diversity is the per-voxel std over each same-class group of the batch (see `_batch`),
    averaged: a generator that ignores z scores near 0 however varied the classes are.
    """
    f, r = (fake > 0.5).float(), (real > 0.5).float()

    def div(x):
        return x.view(GROUP, -1, *x.shape[1:]).std(0).mean().item()

    return (f"{f.mean().item():.4f}", f"{r.mean().item():.4f}", f"{div(f):.4f}", f"{div(r):.4f}")


def write_previews(out: Path, ema, categories, device, per_category: int = 6) -> None:
    """loss_curve.png from losses.csv and samples.png: rendered EMA samples, a row per class."""
    from generators.viz import contact_sheet, loss_curve_png, render_voxels

    try:
        loss_curve_png(out / "losses.csv", out / "loss_curve.png",
                       columns=("loss_d", "loss_g", "d_real", "d_fake"))
    except ValueError as err:  # too early: no rows yet
        log.warning("no loss curve yet: %s", err)
    g = torch.Generator(device="cpu").manual_seed(1234)
    n = len(categories)
    z = torch.randn(n * per_category, ema.z_dim, generator=g).to(device)
    lab = torch.arange(n).repeat_interleave(per_category).to(device)
    with torch.no_grad():
        vox = torch.sigmoid(ema(z, lab)).cpu().numpy()[:, 0]
    images = [render_voxels(v, size=128) for v in vox]
    labels = [f"{categories[i // per_category]} {i % per_category}" for i in range(len(vox))]
    contact_sheet(images, labels, columns=per_category, path=out / "samples.png")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="vitrine train voxel-gan",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/voxel-gan")
    ap.add_argument("--steps", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--n-per-category", type=int, default=500)
    ap.add_argument("--g-channels", default="128,64,32")
    ap.add_argument("--d-channels", default="32,64,128")
    ap.add_argument("--z-dim", type=int, default=128)
    ap.add_argument("--lr-g", type=float, default=2e-4)
    ap.add_argument("--lr-d", type=float, default=2e-4)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--loss", choices=("hinge", "wgan-gp"), default="hinge")
    ap.add_argument("--gp", type=float, default=10.0, help="WGAN-GP gradient-penalty weight")
    ap.add_argument("--r1", type=float, default=1.0, help="R1 penalty weight on reals (0: off)")
    ap.add_argument("--r1-every", type=int, default=4, help="lazy R1: apply every N steps")
    ap.add_argument("--n-critic", type=int, default=1, help="D steps per G step")
    ap.add_argument("--no-sn", action="store_true", help="no spectral norm in D")
    ap.add_argument("--mode-seeking", type=float, default=0.2,
                    help="weight of the mode-seeking term in G's loss (0: off)")
    ap.add_argument("--no-mbstd", action="store_true", help="no minibatch-std channel in D")
    ap.add_argument("--data", help="train on a voxel set file from `vitrine dataset build` "
                    "instead of the procedural set")
    ap.add_argument("--preview-every", type=int, default=500,
                    help="write loss_curve.png and samples.png every N steps (0: never)")
    ap.add_argument("--log-every", type=int, default=25,
                    help="log occupancy and diversity of fakes vs reals every N steps")
    ap.add_argument("--init-from", help="start a new run from these G/D/EMA weights (a "
                    "checkpoint.safetensors or the committed weights/resume.safetensors); the "
                    "optimisers start fresh and --steps counts on from the file's step")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ckpt-every", type=int, default=50)
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch default)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s",
                        handlers=[logging.FileHandler(out / "train.log"), logging.StreamHandler()])
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(args.seed)

    if args.data:
        from generators.data.mesh_set import load_voxel_set

        data = load_voxel_set(args.data)
    else:
        data = load_or_build("train", args.n_per_category, 32, progress=True)
    vox = torch.from_numpy(data.voxels).to(device)
    labels = torch.from_numpy(data.labels).to(device)
    n_classes = len(data.categories)
    by_class = [torch.nonzero(labels.cpu() == c).flatten() for c in range(n_classes)]
    if any(len(p) == 0 for p in by_class):
        raise SystemExit("every category needs at least one training shape")
    G = VoxelGenerator(args.z_dim, n_classes, tuple(int(c) for c in args.g_channels.split(",")),
                       init_occupancy=float(data.voxels.mean()))
    D = VoxelDiscriminator(n_classes, tuple(int(c) for c in args.d_channels.split(",")),
                           sn=not args.no_sn, mbstd=not args.no_mbstd)
    G, D = G.to(device), D.to(device)
    ema = copy.deepcopy(G).eval()
    opt_g = torch.optim.Adam(G.parameters(), args.lr_g, betas=(0.0, 0.99))
    opt_d = torch.optim.Adam(D.parameters(), args.lr_d, betas=(0.0, 0.99))
    step = 0
    if (out / "checkpoint.safetensors").exists() and (out / "optim.pt").exists():
        t = load_file(str(out / "checkpoint.safetensors"), device=str(device))
        for prefix, m in (("g.", G), ("d.", D), ("ema.", ema)):
            m.load_state_dict({k[len(prefix):]: v for k, v in t.items() if k.startswith(prefix)})
        state = torch.load(out / "optim.pt", map_location=device, weights_only=True)
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        torch.set_rng_state(state["rng"])
        step = state["step"]
        log.info("resumed from step %d", step)
    elif args.init_from:
        step = init_from(Path(args.init_from), G, D, ema)
        log.info("initialised from %s (step %d); fresh optimisers", args.init_from, step)
    log.info("training on %s: %d shapes, G %.2fM params, D %.2fM params", device, len(vox),
             sum(p.numel() for p in G.parameters()) / 1e6,
             sum(p.numel() for p in D.parameters()) / 1e6)
    new_log = not (out / "losses.csv").exists() or (out / "losses.csv").stat().st_size == 0
    csv = open(out / "losses.csv", "a")  # noqa: SIM115 - open for the whole run
    if new_log:
        csv.write("step,loss_d,loss_g,d_real,d_fake,penalty,fake_occ,real_occ,fake_div,real_div,"
                  "sec_per_step\n")
    from tqdm import tqdm

    bar = tqdm(total=args.steps, initial=step, desc="voxel-gan", unit="step")
    t_last = time.time()
    penalty = torch.zeros(())
    while step < args.steps:
        for _ in range(args.n_critic):
            real, lab = _batch(vox, by_class, args.batch, device)
            z = torch.randn(args.batch, args.z_dim, device=device)
            with torch.no_grad():
                fake = torch.sigmoid(G(z, lab))
            lazy_r1 = args.r1 > 0 and step % args.r1_every == 0
            if lazy_r1:
                real.requires_grad_(True)
            d_real, d_fake = D(real, lab), D(fake, lab)
            if args.loss == "hinge":
                loss_d = F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
            else:
                loss_d = d_fake.mean() - d_real.mean()
                penalty = _gradient_penalty(D, real.detach(), fake, lab)
                loss_d = loss_d + args.gp * penalty
            if lazy_r1:
                (grad,) = torch.autograd.grad(d_real.sum(), real, create_graph=True)
                penalty = grad.pow(2).flatten(1).sum(1).mean()
                loss_d = loss_d + 0.5 * args.r1 * args.r1_every * penalty
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
        z = torch.randn(args.batch, args.z_dim, device=device)
        fake = torch.sigmoid(G(z, lab))
        loss_g = -D(fake, lab).mean()
        if args.mode_seeking:
            # Mode seeking (Mao et al. 2019), log form: the halves of the batch share labels
            # (see _batch), so pair i with i + n/2 and reward outputs that move with z.
            h = args.batch // 2
            ratio = ((fake[:h] - fake[h:]).abs().flatten(1).mean(1)
                     / (z[:h] - z[h:]).abs().mean(1))
            loss_g = loss_g - args.mode_seeking * torch.log(ratio + 1e-5).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        with torch.no_grad():
            beta = min(args.ema, (1 + step) / (10 + step))  # ramp: early EMA tracks G closely
            for pe, pg in zip(ema.parameters(), G.parameters()):
                pe.lerp_(pg, 1 - beta)
            for be, bg in zip(ema.buffers(), G.buffers()):
                be.copy_(bg)
        step += 1
        now = time.time()
        stats = _stats(fake.detach(), real.detach()) if step % args.log_every == 0 else ("",) * 4
        csv.write(f"{step},{loss_d.item():.4f},{loss_g.item():.4f},{d_real.mean().item():.4f},"
                  f"{d_fake.mean().item():.4f},{float(penalty.detach()):.4f},{','.join(stats)},"
                  f"{now - t_last:.3f}\n")
        t_last = now
        if step % args.log_every == 0:
            csv.flush()
        bar.update()
        bar.set_postfix(d=f"{loss_d.item():.3f}", g=f"{loss_g.item():.3f}")
        if step % args.ckpt_every == 0 or step == args.steps:
            csv.flush()
            save_checkpoint(out, G, D, ema, opt_g, opt_d, step, args, data.categories)
            if args.preview_every and (step % args.preview_every == 0 or step == args.steps):
                write_previews(out, ema, data.categories, device)
            log.info("step %d: loss_d %.4f loss_g %.4f (checkpoint written)", step,
                     loss_d.item(), loss_g.item())
    bar.close()
    csv.close()


if __name__ == "__main__":
    main()
