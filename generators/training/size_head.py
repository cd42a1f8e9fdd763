"""Real-world size learned with the shape: p(log longest side | shape, class), a small mixture
density network (Bishop 1994) that shape models trained in a unit cube sample their size from.

A shape model learns its shapes normalised into a cube, which throws each shape's size away;
served at one size per category, forty columns came out at one height and a floor lamp could not
be made at all. The head puts it back: conditioned on what the shape model generates (a pooled
occupancy grid for `voxel-gan`, the decoder latent for `implicit-gan`) and the class, it gives a
mixture of `k` Gaussians over the standardised log longest side, t = (log L - mean_c) / sd_c
(per-category statistics of the training shapes). It is fitted by maximum likelihood on the
training shapes' own (shape, size) pairs -- the procedural props' sizes, or a studio's meshes'
(`data.mesh_set` keeps each mesh's size) -- so p(shape) p(size | shape) is the joint
distribution of the data: a lamp shaped like a floor lamp gets a floor lamp's height.

What "size" is. A shape model serves the solid it learned (grown by half a voxel, so thin parts
survive), scaled uniformly by `size_m`, its longest side. Matching the real longest side alone
serves a grown column 11 % too wide and a table's height with the grid's quantised aspect (1
voxel in 18: +-3 %, the spread of real table heights). So for the procedural sets the head
learns `fit_scale`: the longest side at which the training grid's extents best match the
real shape's extents, in log least squares with each axis weighted by the inverse of its
category's log-extent variance (a table's height varies 3 %, its length 24 %: the height
decides). A studio's set records only the longest side, which is then the target.

Sampling is deterministic: a served prop's size comes from (seed, category) through `sample`'s
uniform `u` (which component) and normal `eps`. Samples are clamped to the training sizes'
range per category (a generated shape far from the data must not get a 20 m chair); the clamp
is reported by the caller.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

log = logging.getLogger(__name__)

MIN_SD = 0.01  # floor of a category's log-size sd (a category of one size: t stays finite)
MIN_LOG_SIGMA = -5.0  # a component's sd in t units stays above e^-5 (no collapse onto a point)


class SizeHead(nn.Module):
    def __init__(
        self,
        cond_dim: int,  # size of the shape features the head is conditioned on
        n_classes: int,  # categories; labels index the model's category list
        hidden: Sequence[int] = (128, 128),  # MLP widths
        k: int = 3,  # mixture components (bimodal sizes within a category: floor/table lamps)
        embed_dim: int = 16,  # class-embedding size, concatenated to the features
    ):
        super().__init__()
        self.cond_dim, self.n_classes, self.k = cond_dim, n_classes, k
        self.hidden, self.embed_dim = tuple(hidden), embed_dim
        self.embed = nn.Embedding(n_classes, embed_dim)
        dims = (cond_dim + embed_dim, *self.hidden)
        layers: list[nn.Module] = []
        for a, b in itertools.pairwise(dims):
            layers += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers)
        self.out = nn.Linear(dims[-1], 3 * k)  # logits, means, log sds

    def forward(self, cond: torch.Tensor, labels: torch.Tensor):
        """Features [B, cond_dim], labels [B] -> (logits, means, log sds), each [B, k]."""
        h = self.net(torch.cat([cond, self.embed(labels)], dim=1))
        logits, mu, log_sigma = self.out(h).chunk(3, dim=1)
        return logits, mu, log_sigma.clamp(min=MIN_LOG_SIGMA)

    def nll(self, cond: torch.Tensor, labels: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood of standardised log sizes t [B]."""
        logits, mu, log_sigma = self(cond, labels)
        z = (t[:, None] - mu) / log_sigma.exp()
        log_p = -0.5 * z * z - log_sigma - 0.5 * math.log(2 * math.pi)
        return -torch.logsumexp(torch.log_softmax(logits, 1) + log_p, 1).mean()

    @torch.inference_mode()
    def sample(self, cond: torch.Tensor, labels: torch.Tensor, u: torch.Tensor,
               eps: torch.Tensor) -> torch.Tensor:
        """Standardised log sizes [B]: component by the uniform u [B] against the mixture's
        cumulative weights, then its mean + sd * eps [B]. A pure function of its inputs."""
        logits, mu, log_sigma = self(cond, labels)
        cdf = torch.softmax(logits.double(), 1).cumsum(1)
        pick = (u.double()[:, None] > cdf).sum(1).clamp(max=self.k - 1)[:, None]
        return (mu.gather(1, pick) + log_sigma.gather(1, pick).exp() * eps[:, None])[:, 0]

    def config(self) -> dict:
        return {"cond_dim": self.cond_dim, "n_classes": self.n_classes,
                "hidden": list(self.hidden), "k": self.k, "embed_dim": self.embed_dim}


@dataclass(frozen=True)
class SizeStats:
    """Per-category statistics of the training sizes: log mean and sd (the standardisation) and
    the range the samples are clamped to (metres)."""

    mean: dict[str, float]
    sd: dict[str, float]
    lo_m: dict[str, float]
    hi_m: dict[str, float]

    @classmethod
    def of(cls, categories: Sequence[str], labels: np.ndarray, sizes_m: np.ndarray) -> SizeStats:
        out: dict[str, dict[str, float]] = {"mean": {}, "sd": {}, "lo_m": {}, "hi_m": {}}
        for ci, cat in enumerate(categories):
            s = np.asarray(sizes_m, dtype=np.float64)[np.asarray(labels) == ci]
            if len(s) == 0:
                raise ValueError(f"no training sizes for category {cat!r}")
            out["mean"][cat] = float(np.log(s).mean())
            out["sd"][cat] = max(float(np.log(s).std()), MIN_SD)
            out["lo_m"][cat], out["hi_m"][cat] = float(s.min()), float(s.max())
        return cls(**out)

    def to_t(self, categories: Sequence[str], labels: np.ndarray, sizes_m: np.ndarray):
        cats = [categories[int(i)] for i in labels]
        mean = np.array([self.mean[c] for c in cats])
        sd = np.array([self.sd[c] for c in cats])
        return (np.log(np.asarray(sizes_m, dtype=np.float64)) - mean) / sd

    def to_m(self, category: str, t: float) -> tuple[float, bool]:
        """(metres, whether the clamp to the training range acted) of a standardised size."""
        raw = math.exp(self.mean[category] + self.sd[category] * float(t))
        size = min(max(raw, self.lo_m[category]), self.hi_m[category])
        return size, size != raw

    def as_dict(self) -> dict:
        return {"mean": self.mean, "sd": self.sd, "lo_m": self.lo_m, "hi_m": self.hi_m}


def size_noise(seed: int, category_index: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(u [1], eps [1]) of a (seed, category): the draw behind a served prop's size."""
    key = (int(seed) * 2_000_029 + category_index * 15_485_863 + 7) % 2**63
    g = torch.Generator().manual_seed(key)
    return torch.rand(1, generator=g), torch.randn(1, generator=g)


def fit_scale(extents_m: np.ndarray, grid_extents: np.ndarray, labels: np.ndarray,
              n_classes: int) -> np.ndarray:
    """The served longest side [N] at which each training grid best matches its real shape:
    exp of the weighted mean over the axes of log(real extent / grid extent over its longest),
    each axis weighted by 1 / the variance of its category's log real extent (floored at
    1e-4): a grid so scaled matches its real shape best along the axes its category varies
    least along."""
    e = np.log(np.asarray(extents_m, dtype=np.float64))
    g = np.asarray(grid_extents, dtype=np.float64)
    a = np.log(g / g.max(1, keepdims=True))
    labels = np.asarray(labels)
    out = np.zeros(len(e))
    for ci in range(n_classes):
        m = labels == ci
        if not m.any():
            continue
        w = 1.0 / np.maximum(e[m].var(0), 1e-4)
        out[m] = np.exp(((e[m] - a[m]) * w).sum(1) / w.sum())
    return out


def fit(head: SizeHead, cond: torch.Tensor, labels: torch.Tensor, t: torch.Tensor, *,
        steps: int = 3000, batch: int = 256, lr: float = 1e-3, weight_decay: float = 1e-4,
        cond_noise: float = 0.0, seed: int = 0, log_every: int = 500) -> dict:
    """Maximum-likelihood fit on (features, label, t) rows; Adam, the rate x0.1 for the last
    30 %. `cond_noise` adds Gaussian noise of that sd (relative to each feature's spread) to
    the features, so the head does not lean on any one training shape's exact features (the
    features it serves on are generated). Returns the training record."""
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(head.parameters(), lr, weight_decay=weight_decay)
    spread = cond.std(0, keepdim=True).clamp(min=1e-6)
    start, losses = time.perf_counter(), []
    head.train()
    for s in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr * (1.0 if s < 0.7 * steps else 0.1)
        i = torch.randint(0, len(t), (min(batch, len(t)),))
        c = cond[i] + cond_noise * spread * torch.randn_like(cond[i])
        loss = head.nll(c, labels[i], t[i])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if log_every and (s + 1) % log_every == 0:
            log.info("size head step %d: nll %.4f", s + 1, float(np.mean(losses[-log_every:])))
    head.eval()
    return {"steps": steps, "batch": batch, "lr": lr, "weight_decay": weight_decay,
            "cond_noise": cond_noise, "seed": seed,
            "wall_s": round(time.perf_counter() - start, 1),
            "final_nll": round(float(np.mean(losses[-min(200, steps):])), 4)}


@torch.inference_mode()
def evaluate(head: SizeHead, stats: SizeStats, categories: Sequence[str], cond: torch.Tensor,
             labels: np.ndarray, sizes_m: np.ndarray, seed: int = 0) -> dict:
    """Held-out check: the nll of the true sizes, and per category the mean and sd (metres) of
    sizes sampled for those shapes against the true ones."""
    t = torch.from_numpy(stats.to_t(categories, labels, sizes_m)).float()
    lab = torch.from_numpy(np.asarray(labels)).long()
    g = torch.Generator().manual_seed(seed)
    u, eps = torch.rand(len(t), generator=g), torch.randn(len(t), generator=g)
    drawn = head.sample(cond, lab, u, eps).numpy()
    out: dict = {"nll": round(float(head.nll(cond, lab, t)), 4), "categories": {}}
    for ci, cat in enumerate(categories):
        m = np.asarray(labels) == ci
        got = np.array([stats.to_m(cat, x)[0] for x in drawn[m]])
        true = np.asarray(sizes_m)[m]
        out["categories"][cat] = {"true_mean": round(float(true.mean()), 4),
                                  "true_sd": round(float(true.std()), 4),
                                  "sampled_mean": round(float(got.mean()), 4),
                                  "sampled_sd": round(float(got.std()), 4)}
    return out


# ------------------------------------------------------------------ shipping
def size_paths(weights) -> tuple:
    """(weights, config) of the size head that ships beside a shape model's weights file:
    NAME-size.safetensors and NAME-size.json in the same folder."""
    from pathlib import Path

    w = Path(weights)
    stem = w.name.removesuffix(".safetensors")
    return w.with_name(f"{stem}-size.safetensors"), w.with_name(f"{stem}-size.json")


def save(head: SizeHead, stats: SizeStats, categories: Sequence[str], meta: dict,
         weights) -> dict:
    """Write the head (fp16) and its JSON (constructor arguments, categories, statistics, the
    training and held-out records, sha256) beside a shape model's `weights`."""
    from generators.core.weights import write_weights

    w, c = size_paths(weights)
    return write_weights(head, {**meta, "generator": head.config(),
                                "categories": list(categories), "stats": stats.as_dict()}, w, c)


def attach(gen, weights, rebuild: str):
    """Load `gen`'s size head (`load`) and name it in `gen.info.version`, since the head's
    weights shape the bytes too; without one, log that each category gets its median size."""
    from dataclasses import replace

    size = load(gen.info.name, weights, rebuild)
    if size is None:
        log.warning("%s: no size head beside %s: every prop of a category gets its median "
                    "size", gen.info.name, weights)
    else:
        gen.info = replace(gen.info, version=f"{gen.info.version}-s{size[2]['sha256'][:8]}")
    return size


def load(model: str, weights, rebuild: str) -> tuple[SizeHead, SizeStats, dict] | None:
    """The size head shipped beside `weights` (None when there is none: the model then serves
    each category's median size), checked like every shipped network (ModelLoadError)."""
    from generators.core.weights import load_network

    w, c = size_paths(weights)
    if not w.exists() and not c.exists():
        return None
    head, cfg = load_network(f"{model} size head", SizeHead, w, c, rebuild,
                             required=("categories", "stats"), labels="categories")
    return head, SizeStats(**cfg["stats"]), cfg


def cli(prog: str, weights, fit_head, argv=None, data: bool = False, steps: int = 1000) -> int:
    """`python -m generators.FAMILY.size`: fit a family's size head and print its held-out
    check. `fit_head(weights_path, steps, seed, data=...)` returns the head's meta (train)."""
    import argparse
    from pathlib import Path

    ap = argparse.ArgumentParser(prog=prog, description="Fit the size head of a shape model "
                                 "(p(log size | shape, class)) and write it beside its weights.")
    if data:
        ap.add_argument("--data", help="a voxel set from `vitrine dataset build` (default: "
                        "the procedural training split)")
    ap.add_argument("--ship", action="store_true", help=f"write beside {weights}")
    ap.add_argument("--weights", help="the shape model's weights file the head goes beside")
    ap.add_argument("--steps", type=int, default=steps)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    if not args.ship and not args.weights:
        ap.error("say where the head goes: --ship or --weights FILE")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    extra = {"data": args.data} if data else {}
    meta = fit_head(Path(args.weights) if args.weights else weights, args.steps, args.seed,
                    **extra)
    print(f"size head: train nll {meta['training']['final_nll']}, held-out nll "
          f"{meta['heldout']['nll']}, {meta['training']['wall_s']} s")
    for cat, r in meta["heldout"]["categories"].items():
        print(f"  {cat:8s} true {r['true_mean']:.3f} +- {r['true_sd']:.3f} m   sampled "
              f"{r['sampled_mean']:.3f} +- {r['sampled_sd']:.3f} m")
    return 0
