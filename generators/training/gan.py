"""GAN training helpers the families share: EMA of G, hinge loss, R1, WGAN-GP, mode seeking,
class-grouped batches."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


@torch.no_grad()
def ema_update(ema: nn.Module, net: nn.Module, step: int, decay: float) -> None:
    """ema <- beta ema + (1 - beta) net, beta = min(decay, (1 + step) / (10 + step)): the ramp
    lets the early EMA track G closely instead of averaging in its random start. Buffers
    (BatchNorm running statistics) are copied."""
    beta = min(decay, (1 + step) / (10 + step))
    for pe, pg in zip(ema.parameters(), net.parameters(), strict=True):
        pe.lerp_(pg, 1 - beta)
    for be, bg in zip(ema.buffers(), net.buffers(), strict=True):
        be.copy_(bg)


def hinge_d(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """D's hinge loss (Lim & Ye 2017; BigGAN): mean relu(1 - D(real)) + mean relu(1 + D(fake))."""
    return F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()


def r1_penalty(scores: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): mean over the batch of |grad_x D(x)|^2 at the reals.
    `scores` [B] are D's per-sample scores of `real`, which must require grad; the graph is
    kept so the penalty can be backpropagated."""
    (grad,) = torch.autograd.grad(scores.sum(), real, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()


def gradient_penalty(D: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                     *cond: torch.Tensor) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017): (|grad D(x_hat)| - 1)^2 at random interpolates of
    real and fake samples of any rank [B, ...]; `cond` (labels) is passed on to D."""
    a = torch.rand(real.shape[0], *(1,) * (real.dim() - 1), device=real.device)
    x = (a * real + (1 - a) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x, *cond).sum(), x, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


def mode_seeking(fake: torch.Tensor, z: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Mode-seeking term (Mao et al. 2019), log form, to add to G's loss times its weight:
    pairs sample i with i + B/2 (the caller gives the halves the same labels) and rewards
    outputs that move with their latents: -mean log(|dfake| / |dz|)."""
    h = fake.shape[0] // 2
    ratio = ((fake[:h] - fake[h:2 * h]).abs().flatten(1).mean(1)
             / (z[:h] - z[h:2 * h]).abs().flatten(1).mean(1))
    return -torch.log(ratio + eps).mean()


def class_grouped(by_class: list[torch.Tensor], n: int, group: int) -> tuple[torch.Tensor,
                                                                           torch.Tensor]:
    """(indices [n], labels [n]) of a real batch laid out so every minibatch-std group of
    `group` holds one class.

    D's minibatch-std feature groups samples j, j + n/group, j + 2n/group, ... (a view of the
    batch as [group, n/group]). With mixed classes in a group, the spread between classes hides
    a generator that ignores z inside each class. So n/group classes are drawn uniformly and
    each is repeated at the same offsets (labels = base.repeat(group)). `by_class[c]` holds
    the dataset indices of class c."""
    if n % group:
        raise ValueError(f"batch must be a multiple of {group}, got {n}")
    k = n // group
    base = torch.randint(0, len(by_class), (k,))
    idx = torch.empty(group, k, dtype=torch.long)
    for j, c in enumerate(base.tolist()):
        pool = by_class[c]
        idx[:, j] = pool[torch.randint(0, len(pool), (group,))]
    return idx.flatten(), base.repeat(group)
