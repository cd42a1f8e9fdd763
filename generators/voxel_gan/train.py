"""Train the class-conditional voxel GAN on the procedural voxel set (resumable, seeded).

    .venv/bin/python -m generators.voxel_gan.train --out runs/voxel-gan --steps 20000

Hinge loss, spectral norm in D, Adam (0.0, 0.99), an EMA of G for sampling. Every
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

from generators.data import load_or_build
from generators.voxel_gan.model import VoxelDiscriminator, VoxelGenerator

log = logging.getLogger("voxel_gan.train")


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    tmp.replace(path)


def save_checkpoint(out: Path, G, D, ema, opt_g, opt_d, step: int, args) -> None:
    tensors = {}
    for prefix, m in (("g.", G), ("d.", D), ("ema.", ema)):
        for k, v in m.state_dict().items():
            tensors[prefix + k] = v.detach().cpu().contiguous()
    _atomic(out / "checkpoint.safetensors", lambda p: save_file(tensors, str(p)))
    state = {"opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(), "step": step,
             "rng": torch.get_rng_state()}
    _atomic(out / "optim.pt", lambda p: torch.save(state, p))
    cfg = {"generator": G.config(), "discriminator": D.config(), "step": step,
           "args": vars(args)}
    _atomic(out / "config.json", lambda p: p.write_text(json.dumps(cfg, indent=2)))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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

    data = load_or_build("train", args.n_per_category, 32, progress=True)
    vox = torch.from_numpy(data.voxels).to(device)
    labels = torch.from_numpy(data.labels).to(device)
    n_classes = len(data.categories)
    G = VoxelGenerator(args.z_dim, n_classes, tuple(int(c) for c in args.g_channels.split(",")))
    D = VoxelDiscriminator(n_classes, tuple(int(c) for c in args.d_channels.split(",")))
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
    log.info("training on %s: %d shapes, G %.2fM params, D %.2fM params", device, len(vox),
             sum(p.numel() for p in G.parameters()) / 1e6,
             sum(p.numel() for p in D.parameters()) / 1e6)
    csv = open(out / "losses.csv", "a")  # noqa: SIM115 - open for the whole run
    if step == 0:
        csv.write("step,loss_d,loss_g,d_real,d_fake,sec_per_step\n")
    from tqdm import tqdm

    bar = tqdm(total=args.steps, initial=step, desc="voxel-gan", unit="step")
    t_last = time.time()
    while step < args.steps:
        idx = torch.randint(0, len(vox), (args.batch,), device=device)
        real = vox[idx].unsqueeze(1).float()
        lab = labels[idx]
        z = torch.randn(args.batch, args.z_dim, device=device)
        fake = torch.sigmoid(G(z, lab))
        d_real, d_fake = D(real, lab), D(fake.detach(), lab)
        loss_d = F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        loss_g = -D(fake, lab).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        with torch.no_grad():
            for pe, pg in zip(ema.parameters(), G.parameters()):
                pe.lerp_(pg, 1 - args.ema)
            for be, bg in zip(ema.buffers(), G.buffers()):
                be.copy_(bg)
        step += 1
        now = time.time()
        csv.write(f"{step},{loss_d.item():.4f},{loss_g.item():.4f},{d_real.mean().item():.4f},"
                  f"{d_fake.mean().item():.4f},{now - t_last:.3f}\n")
        t_last = now
        bar.update()
        bar.set_postfix(d=f"{loss_d.item():.3f}", g=f"{loss_g.item():.3f}")
        if step % args.ckpt_every == 0 or step == args.steps:
            csv.flush()
            save_checkpoint(out, G, D, ema, opt_g, opt_d, step, args)
            log.info("step %d: loss_d %.4f loss_g %.4f (checkpoint written)", step,
                     loss_d.item(), loss_g.item())
    bar.close()
    csv.close()


if __name__ == "__main__":
    main()
